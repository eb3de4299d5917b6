package console

import (
	"context"
	"errors"
	"fmt"

	"breakglass/hardware"
	"breakglass/internal/events"
	"breakglass/ui"
)

// This file is the one PIN path: every PIN the console sends to a key (the
// quorum's share, a step confirmation, the report signature) goes through
// withPIN, which reads the key's retry counter first, refuses the last try
// unless its custodian confirmed it on screen (ConfirmLastPINTry), and
// journals every refused PIN, the blocking attempt included.

// PIN operations, as journaled with a refused PIN.
const (
	pinOpUnlock  = "unlock"
	pinOpConfirm = "confirm"
	pinOpSign    = "sign"
)

// ConfirmLastPINTry journals that the custodian of the key with this serial
// confirmed spending its last PIN try, and allows exactly the next PIN
// operation on that key, whatever its outcome. The retries journaled are
// those the last key listing (ConnectedKeys) read; no card is opened, so it
// returns quickly.
func (s *Service) ConfirmLastPINTry(serial uint32) error {
	cu, _, ok := s.vault.KeyBySerial(serial)
	if !ok {
		return fmt.Errorf("serial %d is not enrolled in this vault: %w", serial, ui.ErrNotOnRoster)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	retries, seen := s.retries[serial]
	if !seen {
		retries = hardware.RetriesUnknown
	}
	if err := s.record(cu.ID, events.QuorumLastPINTryConfirmed, fmt.Sprintf("%s's confirmation of the last PIN try of key %d", cu.Name, serial),
		events.LastPINTryConfirmedData{Custodian: cu.ID, Serial: serial, Retries: retries}); err != nil {
		return err
	}
	s.lastTry[serial] = true
	return nil
}

// withPIN runs op, which sends a PIN to tok on behalf of custodian, under
// the last-try rule: the retry counter is read first; a blocked key is
// refused (and the refusal journaled) and a key with one try left is refused
// with ui.ErrLastPINTry unless its custodian confirmed it, in both cases
// before any PIN is sent. A confirmation is used by the first operation that
// reads the counter, whatever its outcome. A wrong PIN (the one that blocks
// the key included) is journaled before the error is returned; if it cannot
// be, the error is a *RecordError. Errors are mapped with uiError.
func (s *Service) withPIN(ctx context.Context, tok hardware.Token, custodian, what string, op func() error) error {
	serial := tok.Serial()
	info, err := tok.Info(ctx)
	if err != nil {
		return uiError(fmt.Errorf("reading the PIN retries of YubiKey %d: %w", serial, err))
	}
	s.mu.Lock()
	confirmed := s.lastTry[serial]
	delete(s.lastTry, serial)
	s.retries[serial] = info.PINRetries
	s.mu.Unlock()
	switch {
	case info.PINRetries == 0:
		err := fmt.Errorf("YubiKey %d: %w; unblock it with the PUK (ykman piv access unblock-pin)", serial, hardware.ErrPINBlocked)
		if rerr := s.recordRefusal(custodian, serial, what, err); rerr != nil {
			return rerr
		}
		return uiError(err)
	case info.PINRetries == 1 && !confirmed:
		return fmt.Errorf("YubiKey %d: %w", serial, ui.ErrLastPINTry)
	}
	if err := op(); err != nil {
		if rerr := s.recordRefusal(custodian, serial, what, err); rerr != nil {
			return rerr
		}
		return uiError(err)
	}
	return nil
}

// recordRefusal journals a wrong PIN or a blocked key (never the PIN):
// an auditor sees every failed attempt, not only the successes. Other
// errors are not journaled here. It returns a *RecordError if the refusal
// could not be journaled.
func (s *Service) recordRefusal(custodian string, serial uint32, what string, err error) error {
	var pe *hardware.PINError
	d := events.PINRejectedData{Custodian: custodian, Serial: serial, Operation: what}
	switch {
	case errors.As(err, &pe):
		retries := pe.Retries
		d.Reason, d.RetriesLeft = "wrong PIN", &retries
	case errors.Is(err, hardware.ErrPINBlocked):
		d.Reason = "PIN blocked"
	default:
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.record(custodian, eventPINRejected, fmt.Sprintf("the refused PIN of key %d (%s)", serial, d.Reason), d)
}
