package vault

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"breakglass/vault/pivp256"
)

// VerifyOptions are the trust inputs for roster and key verification. They
// are always explicit: nothing is fetched.
type VerifyOptions struct {
	// Roots are the attestation roots (the Yubico PIV root in production;
	// a test root only when the operator passed an explicit flag).
	Roots []*x509.Certificate
	// Intermediates are optional CA certificates between a root and a
	// device (f9) certificate, for YubiKeys whose chain has one.
	Intermediates []*x509.Certificate
	// VerifyAttestation, if set, replaces the built-in chain check. It must
	// verify that slot is issued by device which chains to a trusted root, and
	// return the YubiKey serial the attestation states.
	VerifyAttestation func(device, slot *x509.Certificate) (serial uint32, err error)
}

// Yubico attestation extensions.
var (
	oidYubicoSerial = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidYubicoPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
)

// VerifyAttestationChain is the built-in attestation check: the device
// certificate is issued (possibly via intermediates) by one of roots, the slot
// certificate is signed by the device certificate's key (a device certificate
// has no basicConstraints, so x509.Verify cannot be used for that step), and
// the slot certificate's serial extension is returned. Validity periods are
// not checked: attestation is a statement about when the key was generated,
// and the vault is verified years later on an offline machine.
func VerifyAttestationChain(roots, intermediates []*x509.Certificate, device, slot *x509.Certificate) (uint32, error) {
	if len(roots) == 0 {
		return 0, errors.New("no attestation root given")
	}
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rp.AddCert(r)
	}
	for _, c := range intermediates {
		ip.AddCert(c)
	}
	if _, err := device.Verify(x509.VerifyOptions{
		Roots: rp, Intermediates: ip, CurrentTime: device.NotBefore,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return 0, fmt.Errorf("device attestation certificate does not chain to a trusted root: %w", err)
	}
	if !bytes.Equal(slot.RawIssuer, device.RawSubject) {
		return 0, errors.New("slot attestation certificate was not issued by the device certificate")
	}
	if err := device.CheckSignature(slot.SignatureAlgorithm, slot.RawTBSCertificate, slot.Signature); err != nil {
		return 0, fmt.Errorf("slot attestation signature does not verify: %w", err)
	}
	serial, ok := certSerial(slot)
	if !ok {
		return 0, errors.New("slot attestation certificate has no YubiKey serial extension")
	}
	if ds, ok := certSerial(device); ok && ds != serial {
		return 0, fmt.Errorf("device certificate is for serial %d but slot certificate for %d", ds, serial)
	}
	return serial, nil
}

func certSerial(c *x509.Certificate) (uint32, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidYubicoSerial) {
			var n int64
			if rest, err := asn1.Unmarshal(e.Value, &n); err != nil || len(rest) != 0 || n < 0 || n > 1<<32-1 {
				return 0, false
			}
			return uint32(n), true
		}
	}
	return 0, false
}

// attestedPolicy returns the [pin, touch] policy bytes of a slot attestation.
func attestedPolicy(c *x509.Certificate) (pin, touch byte, ok bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidYubicoPolicy) && len(e.Value) == 2 {
			return e.Value[0], e.Value[1], true
		}
	}
	return 0, 0, false
}

// verifyAttestation checks that a proves the key pub was generated on the
// YubiKey with serial.
func (o VerifyOptions) verifyAttestation(a Attestation, serial uint32, pub any) error {
	device, err := x509.ParseCertificate(a.Device)
	if err != nil {
		return fmt.Errorf("%w: device certificate: %v", ErrAttestation, err)
	}
	slot, err := x509.ParseCertificate(a.Slot)
	if err != nil {
		return fmt.Errorf("%w: slot certificate: %v", ErrAttestation, err)
	}
	var got uint32
	if o.VerifyAttestation != nil {
		got, err = o.VerifyAttestation(device, slot)
	} else {
		got, err = VerifyAttestationChain(o.Roots, o.Intermediates, device, slot)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAttestation, err)
	}
	if got != serial {
		return fmt.Errorf("%w: attestation is for YubiKey %d, not %d", ErrAttestation, got, serial)
	}
	if !samePublicKey(slot.PublicKey, pub) {
		return fmt.Errorf("%w: attested key differs from the enrolled key", ErrAttestation)
	}
	return nil
}

// samePublicKey compares P-256 public keys given as *ecdsa.PublicKey,
// *ecdh.PublicKey or a piv-p256 recipient.
func samePublicKey(a, b any) bool {
	pa, ok1 := pointOf(a)
	pb, ok2 := pointOf(b)
	return ok1 && ok2 && bytes.Equal(pa, pb)
}

func pointOf(k any) ([]byte, bool) {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, false
		}
		return e.Bytes(), true
	case interface{ Bytes() []byte }: // *ecdh.PublicKey
		return k.Bytes(), true
	case *pivp256.Recipient:
		return k.PublicKey().Bytes(), true
	}
	return nil, false
}

// signingKey parses a DER SubjectPublicKeyInfo holding a P-256 key.
func signingKey(spki []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("not a DER public key: %v", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("signing key is not a P-256 ECDSA key")
	}
	return ek, nil
}

// VerifyRoster checks that every custodian signed this exact roster, policy
// and recipient, and that every enrolled key (decryption and signing, primary
// and backup) is attested by a genuine device with the enrolled serial.
// The first failure is returned as a *RosterError naming the part, wrapping
// ErrRosterSignature or ErrAttestation.
func (v *Vault) VerifyRoster(opts VerifyOptions) error {
	digest := v.RosterDigest()
	for i, c := range v.Roster.Custodians {
		sig, ok := v.signatureOf(c.ID)
		if !ok {
			return &RosterError{Part: "signature of " + c.ID, Err: fmt.Errorf("%w: custodian %s has not signed the roster", ErrRosterSignature, c)}
		}
		_, k, _ := v.KeyBySerial(sig.Serial)
		pub, err := signingKey(k.Sign.PublicKey)
		if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig.Signature) {
			return &RosterError{Part: "signature of " + c.ID, Err: fmt.Errorf("%w: the roster, policy or recipient differ from what %s signed", ErrRosterSignature, c)}
		}
		for j, k := range c.Keys {
			f := fmt.Sprintf("roster.custodians[%d].keys[%d]", i, j)
			r, err := pivp256.ParseRecipient(k.Decrypt.Recipient)
			if err != nil {
				return &RosterError{Part: f + ".decrypt.recipient", Err: err}
			}
			if err := opts.verifyAttestation(k.Decrypt.Attestation, k.Serial, r); err != nil {
				return &RosterError{Part: f + ".decrypt.attestation", Err: err}
			}
			sk, err := signingKey(k.Sign.PublicKey)
			if err != nil {
				return &RosterError{Part: f + ".sign.public_key", Err: err}
			}
			if err := opts.verifyAttestation(k.Sign.Attestation, k.Serial, sk); err != nil {
				return &RosterError{Part: f + ".sign.attestation", Err: err}
			}
		}
	}
	return nil
}

func (v *Vault) signatureOf(id string) (Signature, bool) {
	for _, s := range v.Signatures {
		if s.Custodian == id {
			return s, true
		}
	}
	return Signature{}, false
}

// Unsigned lists the custodians who have not yet signed the roster.
func (v *Vault) Unsigned() []Custodian {
	var out []Custodian
	for _, c := range v.Roster.Custodians {
		if _, ok := v.signatureOf(c.ID); !ok {
			out = append(out, c)
		}
	}
	return out
}
