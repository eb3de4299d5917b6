package vault

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"

	attestation "breakglass/internal/attest"
	"breakglass/vault/pivp256"
)

// VerifyOptions are the trust inputs for roster and key verification. They
// are always explicit: nothing is fetched.
type VerifyOptions struct {
	// Trust is the attestation trust every enrolled key is checked against
	// (internal/attest's one chain and time rule). Nil means the Yubico
	// roots built into the binary; a test trust (attestation.NewTestTrust,
	// attestation.LoadTestTrust) only when the operator passed an explicit flag.
	Trust *attestation.Trust
}

// verifyAttestation checks that a proves the key pub was generated on the
// YubiKey with serial. Every failure wraps ErrAttestation and the
// internal/attest error (errors.Is(err, attest.ErrUntrusted) and so on).
func (o VerifyOptions) verifyAttestation(a Attestation, serial uint32, pub any) error {
	_, err := o.attested(a, serial, pub)
	return err
}

// attested is verifyAttestation returning what the attestation says
// (serial, firmware, attested PIN and touch policies).
func (o VerifyOptions) attested(a Attestation, serial uint32, pub any) (*attestation.Result, error) {
	r, err := o.Trust.VerifyDER(a.Slot, a.Device)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAttestation, err)
	}
	if err := r.Check(attestation.Expect{Serial: serial, PublicKey: publicKeyOf(pub)}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAttestation, err)
	}
	return r, nil
}

// samePublicKey compares P-256 public keys given as *ecdsa.PublicKey,
// *ecdh.PublicKey or a piv-p256 recipient.
func samePublicKey(a, b any) bool {
	ka, kb := publicKeyOf(a), publicKeyOf(b)
	return ka != nil && kb != nil && attestation.SamePublicKey(ka, kb)
}

// publicKeyOf returns k as a crypto.PublicKey (a piv-p256 recipient as its
// *ecdh.PublicKey), nil for nil.
func publicKeyOf(k any) crypto.PublicKey {
	if r, ok := k.(*pivp256.Recipient); ok {
		return r.PublicKey()
	}
	if k == nil {
		return nil
	}
	return k
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
// and backup) is attested by a genuine device with the enrolled serial,
// with attested PIN and touch policies at least the roster's signed minimum
// (Roster.VerifyKeys). The first failure is returned as a *RosterError
// naming the part, wrapping ErrRosterSignature, ErrAttestation or
// ErrKeyPolicy.
//
// A rekeyed vault's whole roster chain is verified too (VerifyChain): every
// earlier version, each link endorsed by a threshold of the version before;
// a failure is then a *ChainError naming the version.
func (v *Vault) VerifyRoster(opts VerifyOptions) error {
	if len(v.Chain) == 0 && v.Roster.Number() == 1 {
		return v.verifyOwnRoster(opts)
	}
	_, err := VerifyChain(v.Versions(), opts) // the last version is this one
	return err
}

// verifyOwnRoster is VerifyRoster for this version alone.
func (v *Vault) verifyOwnRoster(opts VerifyOptions) error {
	digest := v.RosterDigest()
	for _, c := range v.Roster.Custodians {
		sig, ok := v.signatureOf(c.ID)
		if !ok {
			return &RosterError{Part: "signature of " + c.ID, Err: fmt.Errorf("%w: custodian %s has not signed the roster", ErrRosterSignature, c)}
		}
		_, k, _ := v.KeyBySerial(sig.Serial)
		pub, err := signingKey(k.Sign.PublicKey)
		if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig.Signature) {
			return &RosterError{Part: "signature of " + c.ID, Err: fmt.Errorf("%w: the roster, policy or recipient differ from what %s signed", ErrRosterSignature, c)}
		}
	}
	return v.Roster.VerifyKeys(opts)
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
