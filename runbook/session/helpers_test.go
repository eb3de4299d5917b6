package session

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"breakglass/runbook"
)

// journal is an in-memory Recorder that stores events the way the audit
// journal would (data as JSON) and can be told to fail.
type journal struct {
	events []RecordedEvent
	fail   error
}

func (j *journal) Append(actor, typ string, data any) error {
	if j.fail != nil {
		return j.fail
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	j.events = append(j.events, RecordedEvent{Actor: actor, Type: typ, Data: b})
	return nil
}

func (j *journal) types() []string {
	var out []string
	for _, e := range j.events {
		out = append(out, e.Type)
	}
	return out
}

// clock is an injected clock advanced by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

var errDiskFull = errors.New("disk full")

var (
	alice = Custodian{ID: "alice", Name: "Alice", Serial: 1001}
	bob   = Custodian{ID: "bob", Name: "Bob", Serial: 1002}
	carol = Custodian{ID: "carol", Name: "Carol", Serial: 1003}
)

var demoVault = map[string]bool{"aws-root-password": true, "aws-root-totp": true, "aws-root-recovery-codes": true}

func have(n string) bool { return demoVault[n] }

func loadRunbook(t testing.TB, name string) *runbook.Runbook {
	t.Helper()
	rb, err := runbook.ParseFile(filepath.Join("..", "..", "testdata", "runbooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

type fixture struct {
	s   *Session
	j   *journal
	clk *clock
}

const window = 15 * time.Minute

func newFixture(t testing.TB, rbName string, drill bool) *fixture {
	t.Helper()
	f := &fixture{j: &journal{}, clk: &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.FixedZone("CET", 3600))}}
	s, err := New(Config{Runbook: loadRunbook(t, rbName), Recorder: f.j, Now: f.clk.Now, Threshold: 2, Window: window, Drill: drill})
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// toSteps takes a fresh fixture through preflight, declaration and quorum.
func (f *fixture) toSteps(t testing.TB) {
	t.Helper()
	must(t, f.s.Preflight([]PreflightCheck{{Name: "network", OK: true}}, have))
	must(t, f.s.Declare("olivia", "INC-42", "SSO down"))
	if _, err := f.s.AddCustodian(alice); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.s.AddCustodian(bob); err != nil || !ok {
		t.Fatalf("AddCustodian(bob) = %v, %v; want unlocked", ok, err)
	}
}

// doStep ticks every check, answers every prompt, confirms if needed and
// completes the current step.
func (f *fixture) doStep(t testing.TB) {
	t.Helper()
	i, ok := f.s.Progress().Current()
	if !ok {
		t.Fatal("no current step")
	}
	st := f.s.Runbook().Steps[i]
	for c := range st.Checks {
		must(t, f.s.Tick(st.ID, c, true))
	}
	for e := range st.Evidence {
		must(t, f.s.Answer(st.ID, e, "answer"))
	}
	if st.BothConfirm {
		must(t, f.s.Confirm(st.ID, alice.ID))
		must(t, f.s.Confirm(st.ID, bob.ID))
	}
	must(t, f.s.Complete(st.ID))
}

// toCloseOut takes a session in PhaseSteps through every step.
func (f *fixture) toCloseOut(t testing.TB) {
	t.Helper()
	for f.s.Phase() == PhaseSteps {
		f.doStep(t)
	}
}

func (f *fixture) answerAll(t testing.TB) {
	t.Helper()
	for _, q := range Questions {
		yn := ""
		if q.YesNo {
			yn = "no"
		}
		must(t, f.s.AnswerCloseOut(q.ID, yn, "text for "+q.ID))
	}
}
