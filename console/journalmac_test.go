package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/internal/events"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// This file pins the journal's authentication against an attacker with
// the station's disk (issue 10, hole 2): reveal, quit, erase the reveals
// and the vault's marks, recompute the chain, resume.

// toCloseOut runs a live session through every step (revealing every
// secret) to the close-out, then quits it without locking, as a killed or
// quit console leaves it.
func toCloseOut(t *testing.T, f *journeyFixture) string {
	t.Helper()
	eng := f.engine(t, false)
	toSteps(t, f, eng)
	runSteps(t, eng, map[string][]byte{})
	if len(eng.MustRotate()) == 0 {
		t.Fatal("nothing revealed")
	}
	path := eng.JournalPath()
	must(t, eng.Close())
	return path
}

// resumeService resumes the fixture's only unfinished session.
func resumeService(t *testing.T, f *journeyFixture) (*Service, error) {
	t.Helper()
	us, err := FindUnfinished(f.dir)
	must(t, err)
	if len(us) != 1 {
		t.Fatalf("%d unfinished sessions, want 1", len(us))
	}
	cfg := f.config(t)
	cfg.Resume = &us[0]
	svc, err := New(cfg)
	if err == nil {
		t.Cleanup(func() { svc.Close() })
	}
	return svc, err
}

// rewrite is the attacker's edit: it drops the entries drop selects,
// renumbers and re-chains what is left (recomputing every hash, as anyone
// can), keeps or strips the MACs, and writes the file back.
func rewrite(t *testing.T, path string, drop func(audit.Entry) bool, stripMACs bool) {
	t.Helper()
	entries, err := audit.ReadFile(path)
	must(t, err)
	var out bytes.Buffer
	prev := audit.ZeroHash
	seq := uint64(0)
	for _, e := range entries {
		if drop(e) {
			continue
		}
		seq++
		e.Seq, e.Prev = seq, prev
		if stripMACs {
			e.MAC = ""
		}
		e.Hash, err = e.ComputeHash()
		must(t, err)
		prev = e.Hash
		b, err := json.Marshal(e)
		must(t, err)
		out.Write(append(b, '\n'))
	}
	if _, err := audit.Parse(bytes.NewReader(out.Bytes())); err != nil {
		t.Fatalf("the attacker's journal does not even chain: %v", err)
	}
	must(t, os.WriteFile(path, out.Bytes(), 0o600))
}

func isReveal(e audit.Entry) bool {
	switch e.Type {
	case events.SecretRevealed, events.SecretCheckResult, events.VaultMarkRevealedFailed:
		return true
	}
	return false
}

// unburn removes the vault's "revealed" marks, as an attacker editing the
// vault file can.
func unburn(t *testing.T, f *journeyFixture) {
	t.Helper()
	v, err := vault.Load(f.vaultPath)
	must(t, err)
	for name := range f.secrets {
		s, _ := v.Secret(name)
		s.LastRevealed = nil
	}
	must(t, v.Save(f.vaultPath))
}

func quorumAgain(t *testing.T, f *journeyFixture, eng *Service) error {
	t.Helper()
	if _, err := eng.AddCustodian(context.Background(), f.serials[0], hardware.DefaultPIN); err != nil {
		t.Fatalf("first custodian of the re-authorisation: %v", err)
	}
	_, err := eng.AddCustodian(context.Background(), f.serials[1], hardware.DefaultPIN)
	return err
}

func lastOnDisk(t *testing.T, path string) audit.Entry {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var e audit.Entry
	must(t, json.Unmarshal([]byte(lines[len(lines)-1]), &e))
	return e
}

// TestResumeRefusesErasedReveals is the exact attack of hole 2: the reveal
// events and the vault's marks are erased and the chain recomputed. The
// resumed session asks for the custodians (it stopped in the close-out),
// their quorum recovers the journal key, the first re-chained entry's MAC
// fails, and the session is refused with a tamper event — nothing can be
// answered or signed.
func TestResumeRefusesErasedReveals(t *testing.T) {
	f := newJourneyFixture(t)
	path := toCloseOut(t, f)
	before, err := audit.ReadFile(path)
	must(t, err)
	firstReveal := uint64(0)
	for _, e := range before {
		if isReveal(e) {
			firstReveal = e.Seq
			break
		}
	}
	rewrite(t, path, isReveal, false)
	unburn(t, f)

	eng, err := resumeService(t, f)
	must(t, err)
	if eng.Start() != ui.StartReauthoriseCloseOut {
		t.Fatalf("resumed close-out starts on %v, want the custodians (re-authorisation)", eng.Start())
	}
	if err := eng.AnswerCloseOut(session.Questions[0].ID, "no"); err == nil {
		t.Fatal("a close-out answer was recorded before the custodians re-authorised")
	}
	err = quorumAgain(t, f, eng)
	var te *TamperError
	if !errors.As(err, &te) || te.Seq != firstReveal || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("quorum on the doctored journal: %v, want a *TamperError at entry %d", err, firstReveal)
	}
	if last := lastOnDisk(t, path); last.Type != events.JournalTamperDetected {
		t.Errorf("last entry on disk is %s, want %s", last.Type, events.JournalTamperDetected)
	}
	if err := eng.Sign(context.Background(), f.serials[0], hardware.DefaultPIN); err == nil {
		t.Fatal("the doctored session was signed")
	}
	if err := eng.AnswerCloseOut(session.Questions[0].ID, "no"); err == nil {
		t.Fatal("the doctored session took a close-out answer")
	}
	if err := quorumAgain(t, f, eng); !errors.As(err, &te) {
		t.Fatalf("a second quorum on the doctored journal: %v, want it refused again", err)
	}
}

// TestResumeRefusesStrippedMACs: the same erasure with every MAC removed
// (so no entry claims authentication) is refused at resume already, without
// the key: reveals, steps and close-out cannot lack a MAC.
func TestResumeRefusesStrippedMACs(t *testing.T) {
	f := newJourneyFixture(t)
	path := toCloseOut(t, f)
	rewrite(t, path, isReveal, true)
	unburn(t, f)
	_, err := resumeService(t, f)
	var te *TamperError
	if !errors.As(err, &te) || te.Seq == 0 {
		t.Fatalf("resume of a journal stripped of its MACs: %v, want a *TamperError naming the entry", err)
	}
	if last := lastOnDisk(t, path); last.Type != events.JournalTamperDetected {
		t.Errorf("last entry on disk is %s, want %s", last.Type, events.JournalTamperDetected)
	}
}

// TestResumeRefusesForeignEntry: an unauthenticated keyed entry appended
// after authentication started (a forged close-out answer) is refused.
func TestResumeRefusesForeignEntry(t *testing.T) {
	f := newJourneyFixture(t)
	path := toCloseOut(t, f)
	entries, err := audit.ReadFile(path)
	must(t, err)
	last := entries[len(entries)-1]
	q := session.Questions[len(session.Questions)-1]
	data, err := json.Marshal(events.CloseOutAnswer{Question: q.ID, Text: "nothing to see", YesNo: map[bool]string{true: "no"}[q.YesNo]})
	must(t, err)
	e := audit.Entry{Seq: last.Seq + 1, Time: last.Time, Mono: last.Mono, Actor: "operator",
		Type: events.CloseOutAnswered, Data: data, Prev: last.Hash}
	e.Hash, err = e.ComputeHash()
	must(t, err)
	b, _ := json.Marshal(e)
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	fh.Write(append(b, '\n'))
	fh.Close()
	_, err = resumeService(t, f)
	var te *TamperError
	if !errors.As(err, &te) || te.Seq != e.Seq {
		t.Fatalf("resume with an unauthenticated close-out answer: %v, want a *TamperError at entry %d", err, e.Seq)
	}
}

// TestSignRefusesJournalEditedOnDisk: while the console runs, the journal
// on disk is rewritten without the reveals; the first signature is refused
// with a tamper event, and so is every later one.
func TestSignRefusesJournalEditedOnDisk(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, path string)
	}{
		{"reveals erased, chain recomputed", func(t *testing.T, path string) { rewrite(t, path, isReveal, false) }},
		{"truncated", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			must(t, err)
			must(t, os.WriteFile(path, b[:bytes.Index(b, []byte(`"type":"secret.revealed"`))-60], 0o600))
			b, _ = os.ReadFile(path)
			must(t, os.WriteFile(path, b[:bytes.LastIndexByte(b, '\n')+1], 0o600))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newJourneyFixture(t)
			eng := f.engine(t, false)
			toSteps(t, f, eng)
			runSteps(t, eng, map[string][]byte{})
			for _, q := range eng.CloseOutQuestions() {
				must(t, eng.AnswerCloseOut(q.ID, "no"))
			}
			tc.edit(t, eng.JournalPath())
			err := eng.Sign(context.Background(), f.serials[0], hardware.DefaultPIN)
			var te *TamperError
			if !errors.As(err, &te) || te.When != "before signing" || te.Seq == 0 {
				t.Fatalf("signing after the journal was edited on disk: %v, want a *TamperError before signing", err)
			}
			if last := lastEntry(eng); last.Type != events.JournalTamperDetected {
				t.Errorf("last entry %s, want %s", last.Type, events.JournalTamperDetected)
			}
			if err := eng.Sign(context.Background(), f.serials[1], hardware.DefaultPIN); !errors.As(err, &te) {
				t.Fatalf("second signature: %v, want it refused", err)
			}
			if len(eng.signers) != 0 {
				t.Errorf("%d signatures made", len(eng.signers))
			}
		})
	}
}

// TestHonestResumeInCloseOut: a session quit in its close-out resumes with
// the custodians, whose quorum recovers the key; every entry, old and new,
// carries a verifying MAC, and the report signs and verifies.
func TestHonestResumeInCloseOut(t *testing.T) {
	f := newJourneyFixture(t)
	path := toCloseOut(t, f)
	eng, err := resumeService(t, f)
	must(t, err)
	if eng.Start() != ui.StartReauthoriseCloseOut {
		t.Fatalf("resumed close-out starts on %v, want re-authorisation", eng.Start())
	}
	must(t, quorumAgain(t, f, eng))
	if eng.opened != nil {
		t.Error("the vault stays open in the close-out after re-authorisation")
	}
	for _, q := range eng.CloseOutQuestions() {
		must(t, eng.AnswerCloseOut(q.ID, "no"))
	}
	ctx := context.Background()
	must(t, eng.Sign(ctx, f.serials[0], hardware.DefaultPIN))
	must(t, eng.Sign(ctx, f.serials[1], hardware.DefaultPIN))
	entries, err := audit.ReadFile(path)
	must(t, err)
	must(t, audit.VerifyMACs(entries, eng.jkey.Bytes()))
	var resumed, auths int
	for _, e := range entries {
		switch e.Type {
		case events.SessionResumed:
			resumed++
			if e.MAC != "" {
				t.Error("session.resumed carries a MAC: it is written before the key is recovered")
			}
		case events.JournalAuthenticated:
			auths++
		}
	}
	if resumed != 1 || auths != 2 {
		t.Errorf("%d session.resumed, %d journal.authenticated; want 1 and 2", resumed, auths)
	}
	files, err := eng.Export(ctx, eng.cfg.ExportDir)
	must(t, err)
	if sum, err := eng.Finish(); err != nil || !sum.Wiped {
		t.Fatalf("finish: %+v %v", sum, err)
	}
	if eng.jkey != nil {
		t.Error("journal key kept after lock")
	}
	if _, err := audit.VerifyReportFile(files[0].Path, f.auditorOptions(t)); err != nil {
		t.Fatalf("report of the resumed session: %v", err)
	}
}

// TestHonestResumeInSteps: a session quit in its runbook resumes with the
// custodians and goes on revealing.
func TestHonestResumeInSteps(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, false)
	toSteps(t, f, eng)
	must(t, eng.Close())
	eng, err := resumeService(t, f)
	must(t, err)
	if eng.Start() != ui.StartReauthorise {
		t.Fatalf("resumed steps start on %v", eng.Start())
	}
	if err := eng.Tick(0, 0); err == nil {
		t.Fatal("a step was ticked before the custodians re-authorised")
	}
	must(t, quorumAgain(t, f, eng))
	runSteps(t, eng, map[string][]byte{})
	if len(eng.MustRotate()) == 0 {
		t.Error("nothing revealed after the resume")
	}
}

// TestResumeRefusesTruncationTheVaultContradicts: the journal cut right
// after the quorum (no MAC can see that) while the vault still marks the
// secrets revealed in this session: the resume is refused.
func TestResumeRefusesTruncationTheVaultContradicts(t *testing.T) {
	f := newJourneyFixture(t)
	path := toCloseOut(t, f)
	entries, err := audit.ReadFile(path)
	must(t, err)
	b, err := os.ReadFile(path)
	must(t, err)
	cut := 0
	for i, e := range entries {
		if isReveal(e) {
			cut = i
			break
		}
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	must(t, os.WriteFile(path, bytes.Join(lines[:cut], nil), 0o600))
	_, err = resumeService(t, f)
	var te *TamperError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "no reveal") {
		t.Fatalf("resume of a journal cut after the quorum, vault marks intact: %v, want a *TamperError", err)
	}
	// With the marks erased too, the cut is not detectable here: the
	// documented residual risk (announce code, ledger, custodians).
	if _, err := resumeService(t, f); !errors.As(err, &te) {
		t.Fatalf("resume of a journal holding a tamper event: %v, want it refused", err)
	}
	unburn(t, f)
	must(t, os.WriteFile(path, bytes.Join(lines[:cut], nil), 0o600))
	eng, err := resumeService(t, f)
	if err != nil {
		t.Fatalf("truncated journal with unburned vault: %v (if this is now caught, update the documented residual risk)", err)
	}
	eng.Close()
}
