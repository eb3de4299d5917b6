package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"breakglass/hardware"
	"breakglass/runbook/session"
	"breakglass/ui"
)

// This file holds the quorum: counting custodians towards it (and towards
// a re-authorisation after the window expired), and every call into
// vault.Unlock.

// Quorum reports the progress towards the quorum (or the re-authorisation).
func (s *Service) Quorum() ui.QuorumState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quorumLocked()
}

func (s *Service) quorumLocked() ui.QuorumState {
	q := ui.QuorumState{Need: s.vault.Roster.Policy.Threshold}
	seen := map[string]bool{}
	for _, cu := range s.countedLocked() {
		q.Counted = append(q.Counted, ui.Custodian{Name: cu.Name, Serial: cu.Serial})
		seen[cu.ID] = true
	}
	q.Have = len(q.Counted)
	for _, cu := range s.vault.Roster.Custodians {
		if !seen[cu.ID] {
			q.Remaining = append(q.Remaining, cu.Name)
		}
	}
	return q
}

// countedLocked is the custodians counted in the current quorum.
func (s *Service) countedLocked() []session.Custodian {
	if s.reauthOn {
		return s.reauth
	}
	return s.sess.Quorum()
}

// ConnectedKeys lists inserted keys with their roster names and, where the
// key can already be refused, why.
func (s *Service) ConnectedKeys(ctx context.Context) ([]ui.KeySeen, error) {
	listed, err := s.cfg.Station.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing YubiKeys: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	counted := map[string]bool{}
	for _, cu := range s.countedLocked() {
		counted[cu.ID] = true
	}
	var out []ui.KeySeen
	for _, l := range listed {
		if l.Err != nil {
			continue
		}
		k := ui.KeySeen{Serial: l.Info.Serial, Reader: l.Info.Reader, PINRetries: l.Info.PINRetries}
		cu, _, ok := s.vault.KeyBySerial(l.Info.Serial)
		switch {
		case !ok:
			k.Refusal = fmt.Errorf("serial %d is not enrolled in this vault: %w", l.Info.Serial, ui.ErrNotOnRoster)
		case counted[cu.ID]:
			k.Custodian = cu.Name
			k.Refusal = fmt.Errorf("%s is already counted: %w", cu.Name, ui.ErrAlreadyCounted)
		default:
			k.Custodian = cu.Name
		}
		out = append(out, k)
	}
	return out, nil
}

// AddCustodian identifies the key against the roster (slot key, attestation),
// decrypts its share with the PIN (the custodian touches the key) and counts
// the custodian. The quorum's last custodian opens the vault. A wrong PIN is
// journaled; if it cannot be, the error is a *RecordError.
func (s *Service) AddCustodian(ctx context.Context, serial uint32, pin string) (ui.QuorumState, error) {
	s.hw.Lock()
	defer s.hw.Unlock()
	if err := s.recordPendingExpiry(); err != nil {
		return s.Quorum(), err
	}
	ctx = hardware.WithTouchPrompt(ctx, ui.TouchNotice(ctx))
	tok, err := s.cfg.Station.Open(ctx, serial)
	if err != nil {
		return s.Quorum(), uiError(err)
	}
	s.mu.Lock()
	u := s.unlock
	s.mu.Unlock()
	cu, err := u.Identify(ctx, tok)
	if err != nil {
		return s.Quorum(), uiError(err)
	}
	// The console asked the custodian to confirm a last PIN try before calling us.
	u.ConfirmLastPINRetry(serial)
	if err := u.AddShare(ctx, tok, pin); err != nil {
		if rerr := s.recordRefusal(cu.ID, serial, err); rerr != nil {
			return s.Quorum(), rerr
		}
		return s.Quorum(), uiError(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := session.Custodian{ID: cu.ID, Name: cu.Name, Serial: serial}
	if s.reauthOn {
		return s.countReauthLocked(sc)
	}
	unlocked, err := s.sess.AddCustodian(sc)
	if err != nil {
		return s.quorumLocked(), err
	}
	if unlocked {
		if err := s.openLocked(); err != nil {
			return s.quorumLocked(), err
		}
	}
	return s.quorumLocked(), nil
}

// countReauthLocked counts sc towards the re-authorisation; the last one
// records it and opens the vault again.
func (s *Service) countReauthLocked(sc session.Custodian) (ui.QuorumState, error) {
	s.reauth = append(s.reauth, sc)
	if len(s.reauth) < s.vault.Roster.Policy.Threshold {
		return s.quorumLocked(), nil
	}
	if err := s.sess.Reauthorise(s.reauth); err != nil {
		return s.quorumLocked(), err
	}
	if err := s.openLocked(); err != nil {
		return s.quorumLocked(), err
	}
	q := s.quorumLocked()
	s.reauthOn, s.reauth = false, nil
	return q, nil
}

// recordRefusal journals a wrong PIN or a blocked key (never the PIN):
// an auditor sees every failed attempt, not only the successes. It returns
// a *RecordError if the refusal could not be journaled.
func (s *Service) recordRefusal(custodian string, serial uint32, err error) error {
	var pe *hardware.PINError
	data := map[string]any{"custodian": custodian, "serial": serial}
	switch {
	case errors.As(err, &pe):
		data["reason"], data["retries_left"] = "wrong PIN", pe.Retries
	case errors.Is(err, hardware.ErrPINBlocked):
		data["reason"] = "PIN blocked"
	default:
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.record(custodian, eventPINRejected, fmt.Sprintf("the refused PIN of key %d (%s)", serial, data["reason"]), data)
}

// openLocked combines the collected shares into an opened vault.
func (s *Service) openLocked() error {
	o, err := s.unlock.Open()
	if err != nil {
		return fmt.Errorf("opening the vault with the custodians' shares: %w", err)
	}
	s.opened = o
	return nil
}

// Reauthorise locks and wipes after the window expired and starts counting
// a fresh quorum. If the expiry cannot be journaled the vault is locked all
// the same, and AddCustodian retries recording it and counts nobody until
// it is recorded.
func (s *Service) Reauthorise() ui.QuorumState {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, s.expiryErr = s.sess.ExpireWindow()
	s.wipeLocked()
	s.unlock.Abort() // shares of a re-authorisation cut short are wiped too
	s.unlock = s.vault.Unlocker(s.cfg.Trust)
	s.reauthOn, s.reauth = true, nil
	return s.quorumLocked()
}

// recordPendingExpiry retries journaling an expiry Reauthorise could not record.
func (s *Service) recordPendingExpiry() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiryErr == nil {
		return nil
	}
	if _, err := s.sess.ExpireWindow(); err != nil {
		s.expiryErr = err
		return err
	}
	s.expiryErr = nil
	return nil
}

// WindowExpires is when the current unlock window ends.
func (s *Service) WindowExpires() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess.Phase() != session.PhaseSteps {
		return time.Time{} // nothing is unlocked outside the runbook steps
	}
	return s.sess.WindowExpires()
}
