package piv

import (
	"crypto"
	"fmt"

	"breakglass/hardware"
	"breakglass/internal/attest"
)

// AttestationVerifier checks that a slot's key was generated on a genuine
// YubiKey, by breakglass's one attestation checker (internal/attest: slot
// certificate → device (f9) certificate → intermediates → root, checked at
// the attestation's own time, device certificates without basicConstraints
// accepted as Yubico issues them). piv-go reads the certificates from the
// card; it does not judge them.
type AttestationVerifier struct {
	// Trust holds the roots; nil means the Yubico roots and intermediates
	// built into breakglass. A test trust (attest.LoadTestTrust) makes
	// every Attested say TestRoot, so every screen can say so.
	Trust *attest.Trust
}

// Attested is what a verified attestation proves about a key.
type Attested struct {
	Serial     uint32
	Firmware   string // "5.4.3"
	PIN        hardware.PINPolicy
	Touch      hardware.TouchPolicy
	FormFactor string // "" when the certificate does not say
	Slot       hardware.Slot
	TestRoot   bool // verified against a test root, not Yubico's
}

// Verify checks a's chain and returns the facts its slot certificate
// carries. It fails if either certificate is missing or the chain does not
// reach v's roots; the error wraps the internal/attest sentinel
// (attest.ErrIncomplete, attest.ErrUntrusted, attest.ErrMalformed). It does
// not modify a's certificates.
func (v AttestationVerifier) Verify(a hardware.Attestation) (*Attested, error) {
	at, _, err := v.verify(a)
	return at, err
}

func (v AttestationVerifier) verify(a hardware.Attestation) (*Attested, *attest.Result, error) {
	r, err := v.Trust.Verify(a.Slot, a.Device)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying attestation: %w", err)
	}
	return &Attested{
		Serial: r.Serial, Firmware: r.Firmware.String(), PIN: r.PIN, Touch: r.Touch,
		FormFactor: formFactorNameByte(byte(r.FormFactor)), Slot: r.Slot, TestRoot: r.TestRoot,
	}, r, nil
}

// VerifyKey is Verify plus the checks a caller needs before trusting a slot
// key: the attestation is for serial and slot, and attests pub (the key the
// slot reports or the roster records). A difference is an
// *attest.MismatchError (attest.ErrMismatch).
func (v AttestationVerifier) VerifyKey(a hardware.Attestation, serial uint32, slot hardware.Slot, pub crypto.PublicKey) (*Attested, error) {
	at, r, err := v.verify(a)
	if err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, fmt.Errorf("attestation of slot %s: %w", slot, &attest.MismatchError{What: "public key"})
	}
	if err := r.Check(attest.Expect{Serial: serial, Slot: slot, PublicKey: pub}); err != nil {
		return nil, fmt.Errorf("attestation of slot %s: %w", slot, err)
	}
	return at, nil
}
