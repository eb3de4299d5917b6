package session

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"breakglass/runbook"
)

// TestFullSessionAndResume walks the sample runbook end to end and checks,
// after every recorded event, that Resume of the journal so far equals the
// live state.
func TestFullSessionAndResume(t *testing.T) {
	f := newFixture(t, "cloud-root-recovery.md", false)
	var checkpoints []int
	var states []State
	snap := func() {
		checkpoints = append(checkpoints, len(f.j.events))
		states = append(states, f.s.State())
	}
	steps := []func(){
		func() {
			must(t, f.s.Preflight([]PreflightCheck{{Name: "network", OK: false, Advisory: true, Detail: "wlan0 up"}}, have))
		},
		func() { must(t, f.s.Declare("olivia", "INC-42", "SSO down")) },
		func() { _, err := f.s.AddCustodian(alice); must(t, err) },
		func() { f.clk.Advance(time.Minute); _, err := f.s.AddCustodian(bob); must(t, err) },
		func() { f.doStep(t) }, // declare
		func() {
			for _, n := range []string{"aws-root-password", "aws-root-totp"} {
				r, err := f.s.Reveal("root-signin", n)
				must(t, err)
				if r.Mode != ModeShow {
					t.Errorf("live reveal mode %q", r.Mode)
				}
				must(t, f.s.CheckResult(n, true, ""))
			}
		},
		func() { f.doStep(t) }, // root-signin
		func() { must(t, f.s.Skip("recovery-codes", "TOTP worked")) },
		func() {
			f.clk.Advance(20 * time.Minute)
			if _, err := f.s.ExpireWindow(); err != nil {
				t.Fatal(err)
			}
		},
		func() { must(t, f.s.Reauthorise([]Custodian{bob, carol})) },
		func() { f.toCloseOut(t) },
		func() {
			f.answerAll(t)
			must(t, f.s.AnswerCloseOut(QIdentityCreated, "yes", "temporary role, deleted"))
		},
		func() { must(t, f.s.FinishCloseOut()) },
		func() { must(t, f.s.RecordSignature("alice", 1001, "abcd")) },
		func() { must(t, f.s.RecordSignature("carol", 1003, "abcd")); must(t, f.s.Lock()) },
	}
	for _, step := range steps {
		step()
		snap()
	}
	if f.s.Phase() != PhaseLocked {
		t.Fatalf("phase %v, want locked", f.s.Phase())
	}
	st := f.s.State()
	if got := st.Steps[2]; got.Status != runbook.Skipped || got.SkipReason != "TOTP worked" {
		t.Errorf("recovery-codes state %+v", got)
	}
	var names []string
	for _, r := range f.s.MustRotate() {
		names = append(names, r.Name)
		if r.Step != "root-signin" || r.At.IsZero() {
			t.Errorf("must-rotate entry %+v", r)
		}
	}
	if want := []string{"aws-root-password", "aws-root-totp"}; !reflect.DeepEqual(names, want) {
		t.Errorf("MustRotate = %q, want %q", names, want)
	}
	if !slices.Contains(f.j.types(), EventWindowExpired) || !slices.Contains(f.j.types(), EventReauthorised) {
		t.Errorf("journal lacks window events: %q", f.j.types())
	}
	if len(st.CloseOut) != len(Questions) || st.CloseOut[4].YesNo != "yes" {
		t.Errorf("close-out answers %+v", st.CloseOut)
	}
	for i, n := range checkpoints {
		for _, rb := range []*runbook.Runbook{f.s.Runbook(), nil} {
			r, err := Resume(Config{Runbook: rb, Recorder: &journal{}, Now: f.clk.Now}, f.j.events[:n])
			if err != nil {
				t.Fatalf("Resume(%d events, runbook given %v): %v", n, rb != nil, err)
			}
			if got := r.State(); !reflect.DeepEqual(got, states[i]) {
				t.Errorf("Resume(%d events, runbook given %v) differs:\ngot  %+v\nwant %+v", n, rb != nil, got, states[i])
			}
		}
	}
}

// TestResumeThenContinue resumes a session killed mid-step and carries on.
func TestResumeThenContinue(t *testing.T) {
	f := newFixture(t, "cloud-root-recovery.md", false)
	f.toSteps(t)
	must(t, f.s.Tick("declare", 0, true))
	j2 := &journal{events: append([]RecordedEvent(nil), f.j.events...)}
	r, err := Resume(Config{Recorder: j2, Now: f.clk.Now}, j2.events)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Complete("declare"); !errors.Is(err, runbook.ErrIncomplete) {
		t.Errorf("Complete after resume = %v, want ErrIncomplete (ticks were kept)", err)
	}
	must(t, r.Tick("declare", 1, true))
	if !r.State().Steps[0].Ticked[0] || !r.State().Steps[0].Ticked[1] {
		t.Errorf("ticks lost: %+v", r.State().Steps[0])
	}
	must(t, r.Abort("olivia", "laptop battery died; session closed as aborted"))
	if got := j2.events[len(j2.events)-1].Type; got != EventAborted || r.Phase() != PhaseAborted {
		t.Errorf("last event %s, phase %v", got, r.Phase())
	}
}

func TestResumeErrors(t *testing.T) {
	f := newFixture(t, "cloud-root-recovery.md", false)
	f.toSteps(t)
	evs := f.j.events
	other := loadRunbook(t, "minimal.md")
	corrupt := append([]RecordedEvent(nil), evs...)
	corrupt[2] = RecordedEvent{Type: EventDeclared, Data: []byte(`{"operator": 7}`)}
	reordered := append([]RecordedEvent{evs[0], evs[3]}, evs[1:3]...)
	foreign := append([]RecordedEvent{{Type: "vault.unlocked", Data: []byte(`{"x":1}`)}}, evs...)
	cases := []struct {
		name   string
		rb     *runbook.Runbook
		events []RecordedEvent
		want   error
	}{
		{"empty journal", nil, nil, ErrBadJournal},
		{"changed runbook", other, evs, ErrBadJournal},
		{"no start", nil, evs[1:], ErrBadJournal},
		{"corrupt data", nil, corrupt, ErrBadJournal},
		{"out of order", nil, reordered, ErrBadJournal},
		{"foreign events skipped", nil, foreign, nil},
		{"two starts", nil, append(append([]RecordedEvent(nil), evs...), evs[0]), ErrBadJournal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Resume(Config{Runbook: tc.rb, Recorder: &journal{}, Now: f.clk.Now}, tc.events)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Resume = %v, want %v", err, tc.want)
			}
			if err == nil && !reflect.DeepEqual(s.State(), f.s.State()) {
				t.Errorf("state differs")
			}
		})
	}
	if _, err := Resume(Config{}, evs); !errors.Is(err, ErrConfig) {
		t.Errorf("Resume without recorder = %v", err)
	}
}

// TestDrillNeverShows checks that a drill asks to check secrets, never to
// show them, and leaves nothing to rotate.
func TestDrillNeverShows(t *testing.T) {
	f := newFixture(t, "cloud-root-recovery.md", true)
	f.toSteps(t)
	f.doStep(t)
	for _, n := range []string{"aws-root-password", "aws-root-totp"} {
		r, err := f.s.Reveal("root-signin", n)
		if err != nil {
			t.Fatal(err)
		}
		if r.Mode != ModeCheck {
			t.Errorf("drill Reveal(%s) mode %q, want check", n, r.Mode)
		}
		must(t, f.s.CheckResult(n, true, "decrypted and parsed"))
	}
	if slices.Contains(f.j.types(), EventRevealed) || !slices.Contains(f.j.types(), EventChecked) {
		t.Errorf("drill journal types %q", f.j.types())
	}
	if mr := f.s.MustRotate(); len(mr) != 0 {
		t.Errorf("drill MustRotate = %+v, want none", mr)
	}
	if !f.s.Drill() || !f.s.State().Drill {
		t.Errorf("drill flag lost")
	}
	r, err := Resume(Config{Recorder: &journal{}, Now: f.clk.Now}, f.j.events)
	if err != nil || !r.Drill() {
		t.Fatalf("resumed drill: %v, drill %v", err, r != nil && r.Drill())
	}
}

func TestNewConfig(t *testing.T) {
	rb := loadRunbook(t, "minimal.md")
	now := time.Now
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no runbook", Config{Recorder: &journal{}, Now: now, Threshold: 2, Window: time.Minute}},
		{"no recorder", Config{Runbook: rb, Now: now, Threshold: 2, Window: time.Minute}},
		{"no clock", Config{Runbook: rb, Recorder: &journal{}, Threshold: 2, Window: time.Minute}},
		{"threshold one", Config{Runbook: rb, Recorder: &journal{}, Now: now, Threshold: 1, Window: time.Minute}},
		{"no window", Config{Runbook: rb, Recorder: &journal{}, Now: now, Threshold: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("New = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(Config{Runbook: rb, Recorder: &journal{fail: errDiskFull}, Now: now, Threshold: 2, Window: time.Minute}); !errors.Is(err, errDiskFull) {
		t.Errorf("New with failing recorder = %v", err)
	}
}
