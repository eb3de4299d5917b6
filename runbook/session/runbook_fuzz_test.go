package session

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"breakglass/runbook"
)

// FuzzRunbookSession is the round trip between the runbook parser and the
// session: every runbook runbook.Parse accepts can be run to close-out by a
// session (each check ticked, each evidence answered, each credential
// revealed at its step, each double confirmation given, each step
// completed, in order), and resuming from the events the session recorded
// gives the same state.
func FuzzRunbookSession(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "runbooks", "*.md"))
	invalid, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "runbooks", "invalid", "*.md"))
	n := 0
	for _, p := range append(seeds, invalid...) {
		if strings.HasSuffix(p, "large-500.md") {
			continue // too big to be a useful fuzz seed
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	if n == 0 {
		f.Fatal("no seed runbooks in testdata/runbooks")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, err := runbook.Parse("f.md", data)
		if err != nil {
			return
		}
		fx := &fixture{j: &journal{}, clk: &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}}
		s, err := New(Config{Runbook: rb, Recorder: fx.j, Now: fx.clk.Now, Threshold: 2, Window: window})
		if err != nil {
			t.Fatalf("parsed runbook refused by the session: %v", err)
		}
		fx.s = s
		all := func(string) bool { return true }
		if err := s.Preflight([]PreflightCheck{{Name: "network", OK: true}}, all); err != nil {
			t.Fatalf("preflight: %v", err)
		}
		if err := s.Declare("olivia", "INC-42", "SSO down"); err != nil {
			t.Fatalf("declare: %v", err)
		}
		if _, err := s.AddCustodian(alice); err != nil {
			t.Fatalf("custodian 1: %v", err)
		}
		if ok, err := s.AddCustodian(bob); err != nil || !ok {
			t.Fatalf("custodian 2: %v %v", ok, err)
		}
		for i, st := range rb.Steps {
			if cur, ok := s.Progress().Current(); !ok || cur != i {
				t.Fatalf("before step %d (%s) the current step is %d %v", i, st.ID, cur, ok)
			}
			for c := range st.Checks {
				if err := s.Tick(st.ID, c, true); err != nil {
					t.Fatalf("step %s: tick %d: %v", st.ID, c, err)
				}
			}
			for e := range st.Evidence {
				if err := s.Answer(st.ID, e, "answer"); err != nil {
					t.Fatalf("step %s: evidence %d: %v", st.ID, e, err)
				}
			}
			for _, name := range st.Reveals {
				if _, err := s.Reveal(st.ID, name); err != nil {
					t.Fatalf("step %s: reveal %s: %v", st.ID, name, err)
				}
			}
			if st.BothConfirm {
				if err := s.Confirm(st.ID, alice.ID); err != nil {
					t.Fatalf("step %s: confirm 1: %v", st.ID, err)
				}
				if err := s.Confirm(st.ID, bob.ID); err != nil {
					t.Fatalf("step %s: confirm 2: %v", st.ID, err)
				}
			}
			if err := s.Complete(st.ID); err != nil {
				t.Fatalf("step %s: complete: %v", st.ID, err)
			}
		}
		if s.Phase() != PhaseCloseOut {
			t.Fatalf("after every step the session is in phase %v, want close-out", s.Phase())
		}
		r, err := Resume(Config{Recorder: &journal{}, Now: fx.clk.Now}, fx.j.events)
		if err != nil {
			t.Fatalf("resuming the session's own events: %v", err)
		}
		if got, want := r.State(), s.State(); !reflect.DeepEqual(got, want) {
			t.Fatalf("resumed state differs:\n got %+v\nwant %+v", got, want)
		}
	})
}
