package console

import (
	"errors"
	"fmt"

	"breakglass/audit"
	"breakglass/internal/events"
	"breakglass/vault"
)

// This file holds the journal's authentication in the service: taking up
// the journal key when a quorum opens the vault (and checking every entry
// with it), and checking the journal on disk before custodians sign. See
// package audit for the MAC and the unauthenticated-entry rule.

// TamperError says the journal failed a check: the session is not
// continued (at resume) or not signed (before signing).
type TamperError struct {
	Path string
	When string // "resume" or "before signing"
	Seq  uint64 // first bad entry, 0 if not one entry's
	Err  error
}

func (e *TamperError) Error() string {
	where := ""
	if e.Seq > 0 {
		where = fmt.Sprintf(" at entry %d", e.Seq)
	}
	what := "the session cannot go on"
	switch e.When {
	case "resume":
		what = "the session cannot be resumed"
	case "before signing":
		what = "the report is not signed"
	}
	return fmt.Sprintf("journal %s was altered%s: %v — %s. Keep the journal file and the station as they are for investigation, tell the security on-call, and rotate every credential this vault holds that may have been revealed", e.Path, where, e.Err, what)
}

func (e *TamperError) Unwrap() error { return e.Err }

// tamperLocked journals that the journal failed a check (never silently
// continued) and returns the *TamperError. If even that cannot be
// journaled, the error says so too.
func (s *Service) tamperLocked(when string, err error) error {
	te := &TamperError{Path: s.journal.Path(), When: when, Err: err}
	var me *audit.MACError
	if errors.As(err, &me) {
		te.Seq = me.Seq
	}
	s.tampered = te
	if _, rerr := s.journal.Append("breakglass", events.JournalTamperDetected,
		events.JournalTamperData{When: when, Seq: te.Seq, Detail: err.Error()}); rerr != nil {
		te.Err = fmt.Errorf("%w (and the tamper could not be journaled: %v)", err, rerr)
	}
	return te
}

// takeJournalKeyLocked derives the session's journal key from the opened
// vault, verifies every entry so far with it and hands it to the journal.
// It is a no-op while the key is held. A journal that fails is a
// *TamperError, journaled; the key is then wiped.
func (s *Service) takeJournalKeyLocked(o *vault.Opened, reason string) error {
	if s.jkey != nil && s.jkey.IsAlive() {
		return nil
	}
	if s.tampered != nil {
		return s.tampered
	}
	key, err := o.JournalKey(s.sessionID)
	if err != nil {
		return fmt.Errorf("deriving the journal key: %w", err)
	}
	var ids []string
	for _, c := range o.Custodians() {
		ids = append(ids, c.ID)
	}
	if _, err := s.auth.Authenticate(key, audit.JournalAuthenticatedData{Reason: reason, Custodians: ids}); err != nil {
		key.Destroy()
		var me *audit.MACError
		if errors.As(err, &me) {
			when := "quorum"
			if reason == "resume" {
				when = "resume"
			}
			return s.tamperLocked(when, err)
		}
		return &RecordError{What: "the journal's authentication", Err: err}
	}
	s.jkey = key
	return nil
}

// dropJournalKeyLocked wipes the journal key (at lock and close).
func (s *Service) dropJournalKeyLocked() {
	if s.auth != nil {
		s.auth.Deauthenticate()
	}
	if s.jkey != nil {
		s.jkey.Destroy()
		s.jkey = nil
	}
}

// checkJournalBeforeSigning re-reads the journal from disk and checks it
// against what the service recorded, MACs included. Any difference refuses
// the signature, journaled as a tamper.
func (s *Service) checkJournalBeforeSigning() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tampered != nil {
		return s.tampered
	}
	if s.jkey == nil || !s.jkey.IsAlive() {
		return errors.New("the journal key is not held, so the journal cannot be checked before signing: the custodians must re-authorise first")
	}
	if err := s.auth.CheckDisk(); err != nil {
		return s.tamperLocked("before signing", err)
	}
	return nil
}
