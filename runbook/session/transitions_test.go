package session

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"breakglass/runbook"
)

// TestTransitions sets a session up to a point, then tries one action that
// must be refused (or accepted when want is nil). A refused action must
// leave the state and the journal unchanged.
func TestTransitions(t *testing.T) {
	type setup func(t *testing.T, f *fixture)
	none := func(*testing.T, *fixture) {}
	preflighted := func(t *testing.T, f *fixture) {
		must(t, f.s.Preflight(nil, have))
	}
	declared := func(t *testing.T, f *fixture) {
		preflighted(t, f)
		must(t, f.s.Declare("olivia", "INC-1", "SSO down"))
	}
	oneCustodian := func(t *testing.T, f *fixture) {
		declared(t, f)
		if _, err := f.s.AddCustodian(alice); err != nil {
			t.Fatal(err)
		}
	}
	steps := func(t *testing.T, f *fixture) { f.toSteps(t) }
	atSignin := func(t *testing.T, f *fixture) { f.toSteps(t); f.doStep(t) }
	atCodes := func(t *testing.T, f *fixture) { atSignin(t, f); f.doStep(t) }
	expired := func(t *testing.T, f *fixture) { atSignin(t, f); f.clk.Advance(window) }
	closeout := func(t *testing.T, f *fixture) { f.toSteps(t); f.toCloseOut(t) }
	sign := func(t *testing.T, f *fixture) { closeout(t, f); f.answerAll(t); must(t, f.s.FinishCloseOut()) }
	signedOnce := func(t *testing.T, f *fixture) { sign(t, f); must(t, f.s.RecordSignature("alice", 1001, "")) }

	cases := []struct {
		name  string
		setup setup
		act   func(s *Session) error
		want  error
	}{
		{"declare before preflight", none, func(s *Session) error { return s.Declare("o", "t", "w") }, ErrWrongPhase},
		{"preflight with missing secret", none, func(s *Session) error { return s.Preflight(nil, func(string) bool { return false }) }, ErrPreflightFailed},
		{"preflight with blocking failure", none, func(s *Session) error {
			return s.Preflight([]PreflightCheck{{Name: "report destination writable", OK: false}}, have)
		}, ErrPreflightFailed},
		{"declare without operator", preflighted, func(s *Session) error { return s.Declare(" ", "t", "w") }, ErrRequired},
		{"declare without ticket", preflighted, func(s *Session) error { return s.Declare("o", "", "w") }, ErrRequired},
		{"declare without what broke", preflighted, func(s *Session) error { return s.Declare("o", "t", "") }, ErrRequired},
		{"custodian before declare", preflighted, func(s *Session) error { _, err := s.AddCustodian(alice); return err }, ErrWrongPhase},
		{"same custodian twice", oneCustodian, func(s *Session) error {
			_, err := s.AddCustodian(Custodian{ID: "alice", Serial: 9})
			return err
		}, ErrDuplicateKey},
		{"same key twice", oneCustodian, func(s *Session) error {
			_, err := s.AddCustodian(Custodian{ID: "mallory", Serial: alice.Serial})
			return err
		}, ErrDuplicateKey},
		{"second custodian unlocks", oneCustodian, func(s *Session) error {
			ok, err := s.AddCustodian(bob)
			if err == nil && (!ok || s.Phase() != PhaseSteps) {
				return errors.New("quorum of two did not unlock")
			}
			return err
		}, nil},
		{"tick before quorum", declared, func(s *Session) error { return s.Tick("declare", 0, true) }, ErrWrongPhase},
		{"complete out of order", steps, func(s *Session) error { return s.Complete("root-signin") }, runbook.ErrNotCurrent},
		{"complete with unticked checks", steps, func(s *Session) error { return s.Complete("declare") }, runbook.ErrIncomplete},
		{"skip without reason", steps, func(s *Session) error { return s.Skip("declare", "  ") }, runbook.ErrEmptyText},
		{"skip with reason", steps, func(s *Session) error { return s.Skip("declare", "already declared by phone") }, nil},
		{"reveal at wrong step", steps, func(s *Session) error { _, err := s.Reveal("declare", "aws-root-password"); return err }, ErrNotInStep},
		{"reveal for a later step", steps, func(s *Session) error { _, err := s.Reveal("root-signin", "aws-root-password"); return err }, runbook.ErrNotCurrent},
		{"reveal at its step", atSignin, func(s *Session) error { _, err := s.Reveal("root-signin", "aws-root-totp"); return err }, nil},
		{"check result for unrevealed", atSignin, func(s *Session) error { return s.CheckResult("aws-root-totp", true, "") }, ErrNotInStep},
		{"confirm by stranger", atCodes, func(s *Session) error { return s.Confirm("recovery-codes", "mallory") }, ErrNotCustodian},
		{"confirm by custodian", atCodes, func(s *Session) error { return s.Confirm("recovery-codes", "bob") }, nil},
		{"reauthorise with one custodian", expired, func(s *Session) error { return s.Reauthorise([]Custodian{alice}) }, ErrRequired},
		{"reauthorise with one key twice", expired, func(s *Session) error {
			return s.Reauthorise([]Custodian{alice, {ID: "bob", Serial: alice.Serial}})
		}, ErrDuplicateKey},
		{"expire before the window ends", atSignin, func(s *Session) error {
			if ok, err := s.ExpireWindow(); ok || err != nil {
				return errors.New("expired early")
			}
			return nil
		}, nil},
		{"answer unknown question", closeout, func(s *Session) error { return s.AnswerCloseOut("why", "", "x") }, ErrUnknownQuestion},
		{"text answer empty", closeout, func(s *Session) error { return s.AnswerCloseOut(QWhatWasDone, "", " ") }, ErrRequired},
		{"yes without detail", closeout, func(s *Session) error { return s.AnswerCloseOut(QLoggingChanged, "yes", "") }, ErrRequired},
		{"yes/no missing", closeout, func(s *Session) error { return s.AnswerCloseOut(QLoggingChanged, "", "detail") }, ErrRequired},
		{"no without detail", closeout, func(s *Session) error { return s.AnswerCloseOut(QIdentityCreated, "No", "") }, nil},
		{"finish with unanswered", closeout, func(s *Session) error { return s.FinishCloseOut() }, ErrUnanswered},
		{"reveal after steps", closeout, func(s *Session) error { _, err := s.Reveal("check-logging", "aws-root-password"); return err }, ErrWrongPhase},
		{"sign by stranger", sign, func(s *Session) error { return s.RecordSignature("mallory", 7, "") }, ErrNotCustodian},
		{"sign twice", signedOnce, func(s *Session) error { return s.RecordSignature("alice", 1001, "") }, ErrDuplicateKey},
		{"lock with one signature", signedOnce, func(s *Session) error { return s.Lock() }, ErrNotEnoughSigners},
		{"abort without reason", steps, func(s *Session) error { return s.Abort("olivia", "") }, ErrRequired},
		{"abort", steps, func(s *Session) error { return s.Abort("olivia", "wrong account") }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "cloud-root-recovery.md", false)
			tc.setup(t, f)
			before, nev := f.s.State(), len(f.j.events)
			err := tc.act(f.s)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil && !errors.Is(err, ErrPreflightFailed) {
				if !reflect.DeepEqual(before, f.s.State()) || len(f.j.events) != nev {
					t.Errorf("refused action changed state or journal")
				}
			}
		})
	}
}

// TestRevealAfterExpiry checks an expired window refuses reveals, records
// the expiry once, and a re-authorisation reopens it.
func TestRevealAfterExpiry(t *testing.T) {
	f := newFixture(t, "cloud-root-recovery.md", false)
	f.toSteps(t)
	f.doStep(t)
	if f.s.Expired(f.clk.Now()) {
		t.Fatal("window expired at unlock")
	}
	f.clk.Advance(window)
	if !f.s.Expired(f.clk.Now()) {
		t.Fatal("window open after its length")
	}
	for range 2 {
		if _, err := f.s.Reveal("root-signin", "aws-root-password"); !errors.Is(err, ErrWindowExpired) {
			t.Fatalf("Reveal after expiry = %v", err)
		}
	}
	n := 0
	for _, ty := range f.j.types() {
		if ty == EventWindowExpired {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d window.expired events, want 1", n)
	}
	must(t, f.s.Reauthorise([]Custodian{alice, carol}))
	if _, err := f.s.Reveal("root-signin", "aws-root-password"); err != nil {
		t.Errorf("Reveal after re-authorisation = %v", err)
	}
	if got, want := f.s.WindowExpires(), f.clk.Now().UTC().Add(window); !got.Equal(want) {
		t.Errorf("window expires %v, want %v", got, want)
	}
	// carol joined by re-authorisation, so she may confirm and sign.
	f.doStep(t)
	must(t, f.s.Confirm("recovery-codes", "carol"))
}

// TestRecorderFailureLosesNothing makes the journal fail on each kind of
// action: the action must return the journal's error and change nothing;
// once the journal works again the same action succeeds.
func TestRecorderFailureLosesNothing(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		act   func(s *Session) error
	}{
		{"preflight", func(*testing.T, *fixture) {}, func(s *Session) error { return s.Preflight(nil, have) }},
		{"declare", func(t *testing.T, f *fixture) { must(t, f.s.Preflight(nil, have)) }, func(s *Session) error { return s.Declare("o", "t", "w") }},
		{"custodian completing quorum", func(t *testing.T, f *fixture) {
			must(t, f.s.Preflight(nil, have))
			must(t, f.s.Declare("o", "t", "w"))
			_, err := f.s.AddCustodian(alice)
			must(t, err)
		}, func(s *Session) error { _, err := s.AddCustodian(bob); return err }},
		{"tick", func(t *testing.T, f *fixture) { f.toSteps(t) }, func(s *Session) error { return s.Tick("declare", 0, true) }},
		{"evidence", func(t *testing.T, f *fixture) { f.toSteps(t) }, func(s *Session) error { return s.Answer("declare", 0, "INC-1") }},
		{"skip", func(t *testing.T, f *fixture) { f.toSteps(t) }, func(s *Session) error { return s.Skip("declare", "r") }},
		{"complete last step", func(t *testing.T, f *fixture) {
			f.toSteps(t)
			for len(f.s.State().Steps)-1 > f.s.State().Current {
				f.doStep(t)
			}
			st := f.s.Runbook().Steps[f.s.State().Current]
			for c := range st.Checks {
				must(t, f.s.Tick(st.ID, c, true))
			}
			for e := range st.Evidence {
				must(t, f.s.Answer(st.ID, e, "x"))
			}
		}, func(s *Session) error { return s.Complete("check-logging") }},
		{"reveal", func(t *testing.T, f *fixture) { f.toSteps(t); f.doStep(t) }, func(s *Session) error { _, err := s.Reveal("root-signin", "aws-root-password"); return err }},
		{"window expiry", func(t *testing.T, f *fixture) { f.toSteps(t); f.clk.Advance(time.Hour) }, func(s *Session) error { _, err := s.ExpireWindow(); return err }},
		{"close-out answer", func(t *testing.T, f *fixture) { f.toSteps(t); f.toCloseOut(t) }, func(s *Session) error { return s.AnswerCloseOut(QWhatBroke, "", "SSO") }},
		{"abort", func(t *testing.T, f *fixture) { f.toSteps(t) }, func(s *Session) error { return s.Abort("o", "r") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "cloud-root-recovery.md", false)
			tc.setup(t, f)
			before, nev := f.s.State(), len(f.j.events)
			f.j.fail = errDiskFull
			if err := tc.act(f.s); !errors.Is(err, errDiskFull) {
				t.Fatalf("with failing journal: %v, want disk full", err)
			}
			if !reflect.DeepEqual(before, f.s.State()) || len(f.j.events) != nev {
				t.Fatalf("failed append changed the session")
			}
			f.j.fail = nil
			if err := tc.act(f.s); err != nil {
				t.Fatalf("retry after journal recovered: %v", err)
			}
			if len(f.j.events) == nev || reflect.DeepEqual(before, f.s.State()) {
				t.Errorf("retry recorded nothing")
			}
		})
	}
}
