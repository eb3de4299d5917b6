package console

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/runbook/session"
	"breakglass/ui"
)

// errDiskFull is the failure faultyJournal injects.
var errDiskFull = errors.New("no space left on device (injected)")

// faultyJournal fails the appends of the event types in fail, as a full
// disk would, and passes every other append to the real journal.
type faultyJournal struct {
	journal
	fail map[string]bool
}

func (j *faultyJournal) Append(actor, typ string, data any) (audit.Entry, error) {
	if j.fail[typ] {
		return audit.Entry{}, fmt.Errorf("appending %q: %w; the event was not recorded", typ, errDiskFull)
	}
	return j.journal.Append(actor, typ, data)
}

// failAppends makes s's journal refuse events of the given types until
// the returned function is called.
func failAppends(s *Service, types ...string) (heal func()) {
	fj := &faultyJournal{journal: s.journal, fail: map[string]bool{}}
	for _, t := range types {
		fj.fail[t] = true
	}
	s.journal = fj
	return func() { s.journal = fj.journal }
}

func countType(s *Service, typ string) int {
	n := 0
	for _, e := range s.journal.Entries() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// toQuorum passes preflight and declares, as the operator does.
func toQuorum(t *testing.T, eng *Service) {
	t.Helper()
	for _, c := range eng.Preflight(context.Background()) {
		if c.Status == ui.Fail {
			t.Fatalf("preflight %s failed: %s", c.Name, c.Detail)
		}
		if c.Status == ui.Warn {
			must(t, eng.AcknowledgeWarning(c.Name, "test station"))
		}
	}
	must(t, eng.ConfirmClock(time.Now(), true))
	must(t, eng.Declare(ui.Declaration{Operator: "Olive", Ticket: "INC-1", WhatBroke: "SSO down"}))
}

// toSteps also counts the first two custodians, opening the vault.
func toSteps(t *testing.T, f *journeyFixture, eng *Service) {
	t.Helper()
	toQuorum(t, eng)
	for _, sn := range f.serials[:2] {
		_, err := eng.AddCustodian(context.Background(), sn, hardware.DefaultPIN)
		must(t, err)
	}
}

// finishStep ticks every check and answers every evidence prompt of step i
// and completes it (it must need no confirmation).
func finishStep(t *testing.T, eng *Service, i int) {
	t.Helper()
	st := eng.Steps()[i]
	for j := range st.Checks {
		must(t, eng.Tick(i, j))
	}
	for j := range st.Evidence {
		must(t, eng.Answer(i, j, "evidence"))
	}
	must(t, eng.Complete(i))
}

func wantRecordError(t *testing.T, what string, err error) {
	t.Helper()
	var re *RecordError
	if !errors.As(err, &re) || !errors.Is(err, errDiskFull) {
		t.Fatalf("%s with the journal failing: %v, want a *RecordError wrapping the disk error", what, err)
	}
}

// TestWrongPINRefusalMustBeRecorded: a wrong PIN that cannot be journaled
// is not reported as a mere wrong PIN; once the journal works, it is.
func TestWrongPINRefusalMustBeRecorded(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, false)
	toQuorum(t, eng)
	ctx := context.Background()

	heal := failAppends(eng, eventPINRejected)
	q, err := eng.AddCustodian(ctx, f.serials[0], "999999")
	wantRecordError(t, "a wrong PIN", err)
	var wp *ui.WrongPINError
	if errors.As(err, &wp) || q.Have != 0 {
		t.Errorf("unrecorded wrong PIN: %v, quorum %+v", err, q)
	}
	heal()
	if _, err := eng.AddCustodian(ctx, f.serials[0], "999999"); !errors.As(err, &wp) {
		t.Fatalf("wrong PIN with a working journal: %v", err)
	}
	if n := countType(eng, eventPINRejected); n != 1 {
		t.Errorf("%d refusals journaled, want 1", n)
	}
}

// TestWindowExpiryMustBeRecorded: when the expiry cannot be journaled the
// vault is still locked, and nobody is counted towards the re-authorisation
// until the expiry is in the journal.
func TestWindowExpiryMustBeRecorded(t *testing.T) {
	f := newJourneyFixture(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	eng := f.engineWith(t, func(c *Config) { c.Now = clock })
	toSteps(t, f, eng)
	finishStep(t, eng, 0)
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()

	heal := failAppends(eng, session.EventWindowExpired)
	if q := eng.Reauthorise(); q.Have != 0 {
		t.Fatalf("after the window expired: %+v", q)
	}
	if _, err := eng.Reveal(context.Background(), 1, "aws-root-password"); err == nil {
		t.Fatal("a secret was revealed after the window expired")
	}
	q, err := eng.AddCustodian(context.Background(), f.serials[0], hardware.DefaultPIN)
	if !errors.Is(err, errDiskFull) || q.Have != 0 {
		t.Fatalf("counting with the expiry unrecorded: %v, quorum %+v", err, q)
	}
	heal()
	q, err = eng.AddCustodian(context.Background(), f.serials[0], hardware.DefaultPIN)
	if err != nil || q.Have != 1 {
		t.Fatalf("counting once the journal works: %v, quorum %+v", err, q)
	}
	if n := countType(eng, session.EventWindowExpired); n != 1 {
		t.Errorf("%d window.expired events, want 1", n)
	}
}

// TestMarkFailureMustBeRecorded: a secret whose vault mark failed is shown
// only once that failure is journaled.
func TestMarkFailureMustBeRecorded(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engineWith(t, func(c *Config) { c.VaultPath = filepath.Join(f.dir, "no-such-dir", "vault.json") })
	toSteps(t, f, eng)
	finishStep(t, eng, 0)

	heal := failAppends(eng, eventVaultMarkFailed)
	sec, err := eng.Reveal(context.Background(), 1, "aws-root-password")
	wantRecordError(t, "a failed vault mark", err)
	if sec.Value != nil {
		t.Error("the secret was returned although the failed mark was not recorded")
	}
	heal()
	sec, err = eng.Reveal(context.Background(), 1, "aws-root-password")
	must(t, err)
	if string(sec.Value()) != f.secrets["aws-root-password"] {
		t.Errorf("revealed %q", sec.Value())
	}
	if n := countType(eng, eventVaultMarkFailed); n != 1 {
		t.Errorf("%d %s events, want 1", n, eventVaultMarkFailed)
	}
}

// TestConfirmValidatedBeforeRecorded: a confirmation the session refuses
// (the same custodian twice) is refused before the PIN is tried, and no
// signed confirmation is journaled for it; one that cannot be journaled
// confirms nothing.
func TestConfirmValidatedBeforeRecorded(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, false)
	toSteps(t, f, eng)
	ctx := context.Background()
	finishStep(t, eng, 0)
	for _, name := range eng.Steps()[1].Secrets {
		_, err := eng.Reveal(ctx, 1, name)
		must(t, err)
	}
	finishStep(t, eng, 1)
	st := eng.Steps()[2]
	if len(st.Confirmers) != 2 {
		t.Fatalf("step %s: confirmers %v", st.ID, st.Confirmers)
	}
	alice := st.Confirmers[0]

	heal := failAppends(eng, audit.TypeConfirmationSigned)
	wantRecordError(t, "a confirmation", eng.Confirm(ctx, 2, alice, hardware.DefaultPIN))
	heal()
	if got := eng.Steps()[2].Confirmed; len(got) != 0 {
		t.Fatalf("confirmed %v although the confirmation was not recorded", got)
	}
	must(t, eng.Confirm(ctx, 2, alice, hardware.DefaultPIN))
	// A wrong PIN here would be spent if the card were asked: it must not be.
	if err := eng.Confirm(ctx, 2, alice, "999999"); err == nil {
		t.Fatal("the same custodian confirmed twice")
	}
	if n := countType(eng, audit.TypeConfirmationSigned); n != 1 {
		t.Errorf("%d signed confirmations journaled, want 1", n)
	}
	if n := countType(eng, eventPINRejected); n != 0 {
		t.Errorf("the refused confirmation tried the PIN (%d refusals journaled)", n)
	}
}

// TestLockMustBeRecorded: when the session's end cannot be journaled,
// Finish says so and the session stays resumable; a later Finish records it.
func TestLockMustBeRecorded(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, true)
	toQuorum(t, eng)
	ctx := context.Background()
	for _, sn := range f.serials[:2] {
		_, err := eng.AddCustodian(ctx, sn, hardware.DefaultPIN)
		must(t, err)
	}
	runSteps(t, eng, map[string][]byte{})
	for _, q := range eng.CloseOutQuestions() {
		must(t, eng.AnswerCloseOut(q.ID, "no"))
	}
	for _, sn := range f.serials[:2] {
		must(t, eng.Sign(ctx, sn, hardware.DefaultPIN))
	}
	_, err := eng.Export(ctx, eng.cfg.ExportDir)
	must(t, err)

	heal := failAppends(eng, session.EventLocked)
	if _, err := eng.Finish(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Finish with the journal failing: %v", err)
	}
	if p := eng.sess.Phase(); p != session.PhaseSign {
		t.Fatalf("phase %s after an unrecorded lock, want %s", p, session.PhaseSign)
	}
	heal()
	sum, err := eng.Finish()
	must(t, err)
	if !sum.Wiped || eng.sess.Phase() != session.PhaseLocked || countType(eng, session.EventLocked) != 1 {
		t.Errorf("after Finish: %+v, phase %s", sum, eng.sess.Phase())
	}
}

// TestTouchNoticeReachesTheKey: the screen's touch notice is what the key
// calls while it waits for a touch, in AddCustodian, Confirm and Sign.
func TestTouchNoticeReachesTheKey(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, true)
	toQuorum(t, eng)
	touched := 0
	// withNotice arms the keys' touch wait; the key returns only once the
	// notice fired (or after a minute, and then the count is short).
	withNotice := func() context.Context {
		ch := make(chan struct{})
		f.touchWait = ch
		var once sync.Once
		return ui.WithTouchNotice(context.Background(), func() { once.Do(func() { touched++; close(ch) }) })
	}
	want := 0
	for _, sn := range f.serials[:2] {
		_, err := eng.AddCustodian(withNotice(), sn, hardware.DefaultPIN)
		must(t, err)
		want++
	}
	f.touchWait = nil
	if touched != want {
		t.Fatalf("AddCustodian: touch notice called %d times, want %d", touched, want)
	}
	ctx := context.Background()
	for i, st := range eng.Steps() {
		for j := range st.Checks {
			must(t, eng.Tick(i, j))
		}
		for j := range st.Evidence {
			must(t, eng.Answer(i, j, "evidence"))
		}
		for _, name := range st.Secrets {
			_, err := eng.Reveal(ctx, i, name)
			must(t, err)
		}
		for _, c := range st.Confirmers {
			must(t, eng.Confirm(withNotice(), i, c, hardware.DefaultPIN))
			f.touchWait = nil
			want++
		}
		must(t, eng.Complete(i))
	}
	if touched != want {
		t.Fatalf("Confirm: touch notice called %d times, want %d", touched, want)
	}
	for _, q := range eng.CloseOutQuestions() {
		must(t, eng.AnswerCloseOut(q.ID, "no"))
	}
	for _, sn := range f.serials[:2] {
		must(t, eng.Sign(withNotice(), sn, hardware.DefaultPIN))
		f.touchWait = nil
		want++
	}
	if touched != want {
		t.Fatalf("Sign: touch notice called %d times, want %d", touched, want)
	}
}
