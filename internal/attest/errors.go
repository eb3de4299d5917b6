package attest

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// Errors callers branch on, with errors.Is. Every error Verify returns
// wraps exactly one of ErrIncomplete, ErrUntrusted or ErrMalformed; Check
// returns errors wrapping ErrMismatch.
var (
	// ErrIncomplete: the slot or device certificate is missing.
	ErrIncomplete = errors.New("attestation incomplete: slot or device certificate missing")
	// ErrUntrusted: the chain does not verify, or not to this Trust's roots
	// (a genuine chain checked against another root fails with it too).
	ErrUntrusted = errors.New("attestation does not chain to a trusted root")
	// ErrMalformed: a certificate does not parse, a Yubico extension is
	// malformed, or the device and slot certificates name different serials.
	ErrMalformed = errors.New("attestation is malformed")
	// ErrMismatch: a verified attestation is for another key, slot or
	// YubiKey than expected (see MismatchError).
	ErrMismatch = errors.New("attestation is for another key")
)

// ExtensionError is a malformed Yubico extension. It wraps ErrMalformed.
type ExtensionError struct {
	OID asn1.ObjectIdentifier
	Err error
}

func (e *ExtensionError) Error() string {
	return fmt.Sprintf("attestation extension %s: %v", e.OID, e.Err)
}

// Unwrap returns ErrMalformed and the cause.
func (e *ExtensionError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// MismatchError says which attested fact differs from what was expected.
// It wraps ErrMismatch.
type MismatchError struct {
	What      string // "serial", "slot" or "public key"
	Want, Got string // printable values ("" for keys)
}

func (e *MismatchError) Error() string {
	if e.Want == "" && e.Got == "" {
		return fmt.Sprintf("attested %s differs from the expected one", e.What)
	}
	return fmt.Sprintf("attestation is for %s %s, not %s", e.What, e.Got, e.Want)
}

// Unwrap returns ErrMismatch.
func (e *MismatchError) Unwrap() error { return ErrMismatch }
