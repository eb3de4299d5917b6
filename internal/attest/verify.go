package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"time"

	"breakglass/hardware"
)

// Result is what a verified attestation proves about one slot's key.
type Result struct {
	Serial     uint32
	HasSerial  bool // false for keys whose firmware predates the serial extension (YubiKey 4.3)
	Firmware   Version
	PIN        hardware.PINPolicy   // 0 when HasPolicy is false
	Touch      hardware.TouchPolicy // 0 when HasPolicy is false
	HasPolicy  bool                 // the slot certificate carries the policy extension
	FormFactor FormFactor
	FIPS, CSPN bool
	// Slot is the slot named by the slot certificate's common name, 0 if it
	// names none.
	Slot hardware.Slot
	// PublicKey is the attested slot key (the slot certificate's key).
	PublicKey crypto.PublicKey
	// Chain is the verified chain: slot, device, intermediates, root. The
	// certificates are the caller's and the Trust's, unmodified.
	Chain []*x509.Certificate
	// TestRoot is set when the Trust is a test Trust (non-production).
	TestRoot bool
	// CheckedAt is the instant the chain was checked at (package doc).
	CheckedAt time.Time
}

// Root is the root certificate the chain ends in.
func (r *Result) Root() *x509.Certificate { return r.Chain[len(r.Chain)-1] }

// Verify checks an attestation under t (nil: Yubico) by the package's chain
// and time rules and returns what it proves. extra are intermediates that
// travel with the attestation (x5c entries after the device certificate);
// they are used only to build the chain, never as roots. The arguments are
// not modified. Errors wrap ErrIncomplete, ErrUntrusted or ErrMalformed. A slot
// certificate without a serial verifies (HasSerial false); Check refuses it
// when a serial is expected.
func (t *Trust) Verify(slot, device *x509.Certificate, extra ...*x509.Certificate) (*Result, error) {
	t = t.orDefault()
	if slot == nil || device == nil {
		return nil, ErrIncomplete
	}
	if t.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, t.err)
	}
	at := slot.NotBefore
	if device.NotBefore.After(at) {
		at = device.NotBefore
	}
	dev := *device
	if !dev.BasicConstraintsValid {
		dev.BasicConstraintsValid, dev.IsCA = true, true
	}
	if !bytes.Equal(slot.RawIssuer, dev.RawSubject) {
		return nil, fmt.Errorf("%w: the slot certificate is not issued by the device certificate", ErrUntrusted)
	}
	if err := slot.CheckSignatureFrom(&dev); err != nil {
		return nil, fmt.Errorf("%w: the slot certificate is not signed by the device certificate: %v", ErrUntrusted, err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	inter.AddCert(&dev) // first: the pool keeps the first of equal certificates
	for _, c := range t.roots {
		roots.AddCert(c)
	}
	for _, c := range t.intermediates {
		inter.AddCert(c)
	}
	for _, c := range extra {
		if c != nil {
			inter.AddCert(c)
		}
	}
	chains, err := slot.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w (checked at %s): %v", ErrUntrusted, at.UTC().Format(time.RFC3339), err)
	}
	var chain []*x509.Certificate
	for _, c := range chains {
		if len(c) >= 3 && bytes.Equal(c[1].Raw, device.Raw) {
			chain = append([]*x509.Certificate{slot, device}, c[2:]...)
			break
		}
	}
	if chain == nil {
		return nil, fmt.Errorf("%w: no chain runs through the device certificate", ErrUntrusted)
	}
	sx, err := ParseExtensions(slot)
	if err != nil {
		return nil, fmt.Errorf("slot certificate: %w", err)
	}
	dx, err := ParseExtensions(device)
	if err != nil {
		return nil, fmt.Errorf("device certificate: %w", err)
	}
	if dx.HasSerial && dx.Serial != sx.Serial {
		return nil, fmt.Errorf("%w: the device certificate is for YubiKey %d, the slot certificate for %d", ErrMalformed, dx.Serial, sx.Serial)
	}
	s, _ := slotOf(slot)
	return &Result{
		Serial: sx.Serial, HasSerial: sx.HasSerial, Firmware: sx.Firmware, PIN: sx.PIN, Touch: sx.Touch, HasPolicy: sx.HasPolicy,
		FormFactor: sx.FormFactor, FIPS: sx.FIPS, CSPN: sx.CSPN, Slot: s, PublicKey: slot.PublicKey,
		Chain: chain, TestRoot: t.test, CheckedAt: at,
	}, nil
}

// VerifyDER is Verify for DER certificates as stored in a vault or a
// report's x5c. A certificate that does not parse fails with ErrMalformed.
func (t *Trust) VerifyDER(slot, device []byte, extra ...[]byte) (*Result, error) {
	if len(slot) == 0 || len(device) == 0 {
		return nil, ErrIncomplete
	}
	parse := func(what string, der []byte) (*x509.Certificate, error) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %s certificate: %v", ErrMalformed, what, err)
		}
		return c, nil
	}
	sc, err := parse("slot", slot)
	if err != nil {
		return nil, err
	}
	dc, err := parse("device", device)
	if err != nil {
		return nil, err
	}
	var ex []*x509.Certificate
	for _, der := range extra {
		c, err := parse("intermediate", der)
		if err != nil {
			return nil, err
		}
		ex = append(ex, c)
	}
	return t.Verify(sc, dc, ex...)
}

// Expect is what a caller requires of a verified attestation. Zero fields
// are not checked.
type Expect struct {
	Serial    uint32
	Slot      hardware.Slot
	PublicKey crypto.PublicKey // *ecdsa.PublicKey, *ecdh.PublicKey, *rsa.PublicKey, …
}

// Check reports whether r attests what e requires; the first difference is
// returned as a *MismatchError (wrapping ErrMismatch).
func (r *Result) Check(e Expect) error {
	if e.Serial != 0 && !r.HasSerial {
		return &MismatchError{What: "YubiKey", Want: fmt.Sprint(e.Serial), Got: "without a serial"}
	}
	if e.Serial != 0 && r.Serial != e.Serial {
		return &MismatchError{What: "YubiKey", Want: fmt.Sprint(e.Serial), Got: fmt.Sprint(r.Serial)}
	}
	if e.Slot != 0 && r.Slot != e.Slot {
		return &MismatchError{What: "slot", Want: e.Slot.String(), Got: r.Slot.String()}
	}
	if e.PublicKey != nil && !SamePublicKey(r.PublicKey, e.PublicKey) {
		return &MismatchError{What: "public key"}
	}
	return nil
}

// SamePublicKey reports whether a and b are the same public key. ECDSA
// and ECDH forms of one P-256 point are the same key.
func SamePublicKey(a, b crypto.PublicKey) bool {
	if pa, ok := ecdhBytes(a); ok {
		pb, ok := ecdhBytes(b)
		return ok && bytes.Equal(pa, pb)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	k, ok := a.(equaler)
	return ok && b != nil && k.Equal(b)
}

func ecdhBytes(k crypto.PublicKey) ([]byte, bool) {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, false
		}
		return e.Bytes(), true
	case *ecdh.PublicKey:
		return k.Bytes(), true
	}
	return nil, false
}
