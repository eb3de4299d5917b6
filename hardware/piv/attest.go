package piv

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
)

// AttestationVerifier checks that a slot's key was generated on a genuine
// YubiKey: the slot attestation certificate must chain through the device
// (f9) certificate to a trusted root. It uses piv-go's Verifier, which
// accepts Yubico device certificates without basicConstraints (openssl
// verify rejects those).
type AttestationVerifier struct {
	// Roots are the trusted roots; nil means the Yubico PIV roots (and the
	// 2024 attestation CA with its intermediates) built into piv-go.
	Roots *x509.CertPool
	// TestRoot marks Roots as a non-production root (the virtual YubiKey's
	// test CA); it is copied into Attested so every screen can say so.
	TestRoot bool
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
// reach v's roots. It does not modify a's certificates.
func (v AttestationVerifier) Verify(a hardware.Attestation) (*Attested, error) {
	if a.Device == nil || a.Slot == nil {
		return nil, errors.New("verifying attestation: device or slot certificate missing")
	}
	// piv-go marks a device certificate without basicConstraints as a CA
	// in place; work on a copy so the caller's certificate is untouched.
	dev := *a.Device
	pv := gopiv.Verifier{Roots: v.Roots}
	at, err := pv.Verify(&dev, a.Slot)
	if err != nil {
		return nil, fmt.Errorf("verifying attestation: %w", err)
	}
	out := &Attested{
		Serial:   at.Serial,
		Firmware: fmt.Sprintf("%d.%d.%d", at.Version.Major, at.Version.Minor, at.Version.Patch),
		PIN:      hardware.PINPolicy(at.PINPolicy),
		Touch:    hardware.TouchPolicy(at.TouchPolicy),
		Slot:     hardware.Slot(at.Slot.Key),
		TestRoot: v.TestRoot,
	}
	out.FormFactor = formFactorName(at.Formfactor)
	return out, nil
}

// VerifyKey is Verify plus the checks a caller needs before trusting a slot
// key: the attestation is for serial and slot, and attests pub (the key the
// slot reports or the roster records).
func (v AttestationVerifier) VerifyKey(a hardware.Attestation, serial uint32, slot hardware.Slot, pub crypto.PublicKey) (*Attested, error) {
	at, err := v.Verify(a)
	if err != nil {
		return nil, err
	}
	if at.Serial != serial {
		return nil, fmt.Errorf("attestation is for YubiKey %d, not %d", at.Serial, serial)
	}
	if at.Slot != slot {
		return nil, fmt.Errorf("attestation is for slot %s, not %s", at.Slot, slot)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	k, ok := a.Slot.PublicKey.(equaler)
	if !ok || pub == nil || !k.Equal(pub) {
		return nil, fmt.Errorf("attested key of slot %s differs from the slot's key", slot)
	}
	return at, nil
}

// LoadRoots reads the PEM certificates in pemFile as a root pool. It fails
// on a file without any certificate, so a typo cannot silently trust nothing.
func LoadRoots(pemFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(pemFile)
	if err != nil {
		return nil, fmt.Errorf("reading attestation root %q: %w", pemFile, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing attestation root %q: %w", pemFile, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("reading attestation root %q: no PEM certificate in the file", pemFile)
	}
	return pool, nil
}
