package console

import (
	"errors"
	"fmt"
	"time"

	"breakglass/internal/announce"
)

// This file holds the announcement: the code the operator reads to the
// security on-call right after the declaration, and how it went.

// AnnounceCode is this session's announce code in canonical form (10
// characters, no separator): internal/announce over the session id, the
// vault fingerprint and the declaration as journaled, which is exactly
// what ledger.CodeOf derives from the signed report.
func (s *Service) AnnounceCode() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.announceCodeLocked()
	return string(c), err
}

func (s *Service) announceCodeLocked() (announce.Code, error) {
	d := s.sess.State().Declaration
	if d.Operator == "" {
		return "", errors.New("the incident is not declared yet: the code is derived from the declaration")
	}
	return announce.Derive(announce.Declaration{
		Session: s.sessionID, VaultFingerprint: s.vault.Fingerprint(),
		Operator: d.Operator, Ticket: d.Ticket, WhatBroke: d.WhatBroke,
	}), nil
}

// RecordAnnouncement journals how the announcement went (session.announced)
// before returning nil: who acknowledged the code and when they were told,
// or, when no one was reached, why. A time after the station clock is
// refused.
func (s *Service) RecordAnnouncement(by string, at time.Time, reached bool, note string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	code, err := s.announceCodeLocked()
	if err != nil {
		return err
	}
	if now := s.cfg.Now(); at.After(now) {
		return fmt.Errorf("%s is after the station clock (%s)", at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !reached {
		by = ""
	} else {
		note = ""
	}
	return s.sess.Announce(string(code), reached, by, at, note)
}
