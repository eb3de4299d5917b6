package console

import (
	"errors"
	"fmt"

	"breakglass/hardware"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// RecordError is returned when an event the service records itself could
// not be appended to the journal. The operation it records did not take
// effect: the screen must not move on as if it had (the session's own
// events fail the same way, with the session's wording).
type RecordError struct {
	What string // what was not recorded, e.g. "the acknowledgement"
	Err  error  // the journal's error (it says the event was not recorded and what to do)
}

// Error says what was not recorded and why.
func (e *RecordError) Error() string { return fmt.Sprintf("recording %s: %v", e.What, e.Err) }

// Unwrap returns the journal's error.
func (e *RecordError) Unwrap() error { return e.Err }

// uiError maps domain errors onto the sentinels the screens branch on,
// keeping the domain message.
func uiError(err error) error {
	var pe *hardware.PINError
	var nr *vault.NotOnRosterError
	var ac *vault.AlreadyCountedError
	var km *vault.KeyMismatchError
	switch {
	case errors.As(err, &pe) && pe.Retries > 0:
		return fmt.Errorf("%w", &ui.WrongPINError{Retries: pe.Retries})
	case errors.Is(err, hardware.ErrPINBlocked):
		return fmt.Errorf("%v: %w", err, ui.ErrPINBlocked)
	case errors.Is(err, hardware.ErrRemoved), errors.Is(err, hardware.ErrNotFound):
		return fmt.Errorf("%v: %w", err, ui.ErrKeyRemoved)
	case errors.As(err, &nr):
		return fmt.Errorf("%v: %w", err, ui.ErrNotOnRoster)
	case errors.As(err, &ac), errors.Is(err, session.ErrDuplicateKey):
		return fmt.Errorf("%v: %w", err, ui.ErrAlreadyCounted)
	case errors.As(err, &km):
		return fmt.Errorf("%v: %w", err, ui.ErrWrongSlotKey)
	case errors.Is(err, vault.ErrAttestation):
		return fmt.Errorf("%v: %w", err, ui.ErrAttestationFailed)
	}
	return err
}
