package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"breakglass/audit"
	"breakglass/internal/events"
	"breakglass/runbook"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// Unfinished is a session whose journal neither locked nor aborted.
type Unfinished struct {
	ID    string        // session id
	Path  string        // its journal
	Phase session.Phase // the phase it stopped in
	State session.State // what it recorded (declaration, quorum, steps, …)
	Last  string        // time of its last event (RFC 3339), "" if none

	entries []audit.Entry
}

// FindUnfinished scans dir for session journals that did not end, in file
// name (and so start time) order. A journal that cannot be read is an
// error: it is never skipped silently.
func FindUnfinished(dir string) ([]Unfinished, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	if err != nil {
		return nil, fmt.Errorf("listing journals in %s: %w", dir, err)
	}
	sort.Strings(paths)
	var out []Unfinished
	for _, p := range paths {
		entries, err := audit.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w — it is kept as is; inspect it with 'breakglass journal verify %s'", p, err, p)
		}
		s, err := session.Resume(session.Config{Recorder: readOnly{}, Now: time.Now}, recordedEvents(entries))
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", p, err)
		}
		if ph := s.Phase(); ph == session.PhaseLocked || ph == session.PhaseAborted {
			continue
		}
		u := Unfinished{ID: strings.TrimSuffix(filepath.Base(p), ".journal"), Path: p, Phase: s.Phase(), State: s.State(), entries: entries}
		if len(entries) > 0 {
			u.Last = entries[len(entries)-1].Time
		}
		out = append(out, u)
	}
	return out, nil
}

// readOnly is the recorder of a session read only to learn its state.
type readOnly struct{}

func (readOnly) Append(string, string, any) error {
	return errors.New("read-only session view")
}

func recordedEvents(entries []audit.Entry) []session.RecordedEvent {
	ev := make([]session.RecordedEvent, len(entries))
	for i, en := range entries {
		ev[i] = session.RecordedEvent{Actor: en.Actor, Type: en.Type, Data: en.Data}
	}
	return ev
}

// Abort closes out the unfinished session u as aborted by "operator" for
// reason, following runbook rb (the one it was started with). Its journal
// keeps every recorded event.
func Abort(u Unfinished, rb *runbook.Runbook, reason string, now func() time.Time) error {
	j, _, err := audit.Open(u.Path, audit.Config{})
	if err != nil {
		return err
	}
	defer j.Close()
	s, err := session.Resume(session.Config{Runbook: rb, Recorder: audit.EventRecorder{Journal: j}, Now: now}, recordedEvents(u.entries))
	if err != nil {
		return fmt.Errorf("resuming %s with runbook %s: %w", u.ID, rb.Name, err)
	}
	return s.Abort("operator", reason)
}

// resume continues the unfinished session u. The journal is re-read (not
// the copy FindUnfinished read), checked against the unauthenticated-entry
// rule (audit.CheckUnkeyed) and the preflight checks are re-run and
// journaled (session.resumed). A session resumed after its vault was opened
// (steps, close-out, signing) starts with the custodians' re-authorisation:
// their quorum recovers the journal key, and every entry is checked with it
// before anything else is recorded (openLocked). A journal that fails is
// refused with a journaled *TamperError.
func (s *Service) resume(u Unfinished) error {
	j, entries, err := audit.Open(u.Path, audit.Config{})
	if err != nil {
		return err
	}
	s.journal, s.auth, s.sessionID = j, j, u.ID
	sess, err := session.Resume(session.Config{Runbook: s.cfg.Runbook, Recorder: recorder{s}, Now: s.cfg.Now}, recordedEvents(entries))
	if err != nil {
		j.Close()
		return fmt.Errorf("resuming %s with runbook %s: %w", u.ID, s.cfg.Runbook.Name, err)
	}
	s.sess = sess
	keyed := needsJournalKey(sess.Phase())
	if err := audit.CheckUnkeyed(entries); err != nil {
		return s.refuseResume(err)
	}
	if !keyed {
		for _, e := range entries {
			if e.MAC != "" {
				return s.refuseResume(&audit.MACError{Seq: e.Seq, Type: e.Type,
					Reason: "carries a MAC, but the journal records no quorum before it (the quorum's entries were removed)"})
			}
		}
	}
	for _, e := range entries {
		if e.Type == events.JournalTamperDetected {
			return s.refuseResume(&audit.MACError{Seq: e.Seq, Type: e.Type,
				Reason: "this session was already found altered; it cannot go on — abort it (breakglass console --abort ID --reason TEXT) and start a new session"})
		}
	}
	if err := checkVaultMarks(s.vault, u.ID, entries); err != nil {
		return s.refuseResume(err)
	}
	if err := s.resumePreflight(sess.Phase()); err != nil {
		j.Close()
		return err
	}
	if keyed {
		j.RequireAuthentication()
		s.resumed = true
	}
	s.start = resumeStart(sess)
	return nil
}

// refuseResume journals a tamper found at resume and closes the journal.
func (s *Service) refuseResume(err error) error {
	s.mu.Lock()
	te := s.tamperLocked("resume", err)
	s.mu.Unlock()
	s.journal.Close()
	return te
}

// resumePreflight re-runs the preflight checks for a resumed session and
// journals them (session.resumed). A failed blocking check refuses the
// resume; warnings are recorded (they were acknowledged at the start).
func (s *Service) resumePreflight(ph session.Phase) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	checks := s.Preflight(ctx)
	d := events.SessionResumedData{Phase: ph.String(), Passed: true}
	var failed []string
	for _, c := range checks {
		d.Preflight = append(d.Preflight, events.PreflightCheck{Name: c.Name, OK: c.Status == ui.Pass,
			Advisory: c.Status == ui.Warn, Detail: c.Detail})
		if c.Status == ui.Fail {
			d.Passed = false
			failed = append(failed, c.Name+": "+c.Detail)
		}
	}
	if err := s.record("breakglass", events.SessionResumed, "the resume and its preflight checks", d); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("resuming %s: preflight failed — %s; fix it and resume again (nothing was lost)", s.sessionID, strings.Join(failed, "; "))
	}
	return nil
}

// checkVaultMarks cross-checks the vault's "revealed" marks with the
// journal: a secret the vault says this session revealed must have its
// secret.revealed entry. This catches a journal cut short after a reveal
// (which no MAC can see) when the vault file was left alone; an attacker who
// also edits the vault's unsigned marks is not caught here (see package
// audit on truncation).
func checkVaultMarks(v *vault.Vault, session string, entries []audit.Entry) error {
	shown := map[string]bool{}
	for _, e := range entries {
		if e.Type != events.SecretRevealed {
			continue
		}
		var r events.Reveal
		if json.Unmarshal(e.Data, &r) == nil {
			shown[r.Name] = true
		}
	}
	for _, sec := range v.Secrets {
		if sec.LastRevealed != nil && sec.LastRevealed.Session == session && !shown[sec.Name] {
			return fmt.Errorf("the vault marks %s revealed in this session at %s, but the journal has no reveal of it (the journal was cut short or edited)",
				sec.Name, sec.LastRevealed.At.Format(time.RFC3339))
		}
	}
	return nil
}

// needsJournalKey reports whether a session in phase p has opened its vault,
// so that its journal is authenticated and resuming it needs a quorum.
func needsJournalKey(p session.Phase) bool {
	return p == session.PhaseSteps || p == session.PhaseCloseOut || p == session.PhaseSign
}

// begin creates a new session's journal, records the station and the
// process guards in it and starts the session.
func (s *Service) begin() error {
	id := NewSessionID(s.cfg.Now())
	station := audit.StationData{BinaryVersion: s.cfg.Binary.Version, BinarySHA256: s.cfg.Binary.SHA256,
		VaultFingerprint: s.vault.Fingerprint(), AttestationRoot: s.cfg.AttestationRoot}
	j, err := audit.Create(filepath.Join(s.cfg.StateDir, id+".journal"), id, station, audit.Config{})
	if err != nil {
		return fmt.Errorf("creating the session journal: %w", err)
	}
	s.journal, s.auth = j, j
	sess, err := s.startSession(station)
	if err != nil {
		j.Close()
		return err
	}
	s.sess, s.sessionID = sess, id
	return nil
}

func (s *Service) startSession(station audit.StationData) (*session.Session, error) {
	if _, err := s.journal.Append("breakglass", audit.TypeStation, station); err != nil {
		return nil, err
	}
	if _, err := s.journal.Append("breakglass", eventProcessGuards, map[string]any{"guards": s.cfg.Guards.Summary}); err != nil {
		return nil, err
	}
	return session.New(session.Config{Runbook: s.cfg.Runbook, Recorder: recorder{s}, Now: s.cfg.Now,
		Threshold: s.vault.Roster.Policy.Threshold, Window: s.cfg.Window, Drill: s.cfg.Drill})
}

// resumeStart is the screen a resumed session opens on. Nothing of the
// unlocked vault nor the journal key survives a restart, so a session
// resumed after its vault was opened (steps, close-out, signing) needs the
// custodians again: their quorum recovers the journal key, with which every
// entry is checked before the session goes on. A session declared but not
// yet announced (and no custodian counted) opens on the announcement.
func resumeStart(sess *session.Session) ui.Start {
	switch p := sess.Phase(); {
	case p == session.PhaseQuorum:
		if !sess.Announced() && len(sess.Quorum()) == 0 {
			return ui.StartAnnounce
		}
		return ui.StartQuorum
	case p == session.PhaseCloseOut:
		return ui.StartReauthoriseCloseOut
	case p == session.PhaseSign:
		return ui.StartReauthoriseSign
	case needsJournalKey(p):
		return ui.StartReauthorise
	}
	return ui.StartPreflight
}

// NewSessionID names a session started at now: UTC time and 6 random hex
// digits (a console session, or a "vault rekey" one).
func NewSessionID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
