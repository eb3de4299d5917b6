package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"breakglass/audit"
	"breakglass/runbook"
	"breakglass/runbook/session"
	"breakglass/ui"
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

// resume continues the unfinished session u.
func (s *Service) resume(u Unfinished) error {
	j, _, err := audit.Open(u.Path, audit.Config{})
	if err != nil {
		return err
	}
	s.journal = j
	sess, err := session.Resume(session.Config{Runbook: s.cfg.Runbook, Recorder: recorder{s}, Now: s.cfg.Now}, recordedEvents(u.entries))
	if err != nil {
		j.Close()
		return fmt.Errorf("resuming %s with runbook %s: %w", u.ID, s.cfg.Runbook.Name, err)
	}
	s.sess, s.sessionID, s.start = sess, u.ID, resumeStart(sess.Phase())
	return nil
}

// begin creates a new session's journal, records the station and the
// process guards in it and starts the session.
func (s *Service) begin() error {
	id := newSessionID(s.cfg.Now())
	station := audit.StationData{BinaryVersion: s.cfg.Binary.Version, BinarySHA256: s.cfg.Binary.SHA256,
		VaultFingerprint: s.vault.Fingerprint(), AttestationRoot: s.cfg.AttestationRoot}
	j, err := audit.Create(filepath.Join(s.cfg.StateDir, id+".journal"), id, station, audit.Config{})
	if err != nil {
		return fmt.Errorf("creating the session journal: %w", err)
	}
	s.journal = j
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
// unlocked vault survives a restart, so a session resumed in its steps
// needs the custodians again.
func resumeStart(p session.Phase) ui.Start {
	switch p {
	case session.PhaseQuorum:
		return ui.StartQuorum
	case session.PhaseSteps:
		return ui.StartReauthorise
	case session.PhaseCloseOut:
		return ui.StartCloseOut
	case session.PhaseSign:
		return ui.StartSign
	}
	return ui.StartPreflight
}

// newSessionID names a session started at now: UTC time and 6 random hex digits.
func newSessionID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
