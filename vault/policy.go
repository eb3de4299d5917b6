package vault

// This file is the one home of the attested key policy rule: the ordering of
// PIN and touch policies, the vault's signed minimum per key use, and the
// check of a key's attestation against it. Enrolment, vault init, roster
// verification (inspect, seal, preflight, verify), unlock and the console's
// signing all call it; none reads a policy from anything but the slot's
// attestation certificate.

import (
	"errors"
	"fmt"

	"breakglass/hardware"
	attestation "breakglass/internal/attest"
	"breakglass/vault/pivp256"
)

// ErrKeyPolicy: a key's attested PIN or touch policy is weaker than the
// vault's signed minimum, the attestation states no policy, or the roster's
// claimed policy differs from the attested one (see *PolicyError).
var ErrKeyPolicy = errors.New("key policy is weaker than the vault requires")

// KeyUse names what a custodian key is for.
type KeyUse string

// Key uses.
const (
	UseDecrypt KeyUse = "decryption" // the retired-slot key that opens the share
	UseSign    KeyUse = "signing"    // the 9c key that signs the roster, confirmations and reports
)

// KeyPolicy is a PIN and a touch policy by their ykman names: PIN "never",
// "once" or "always"; touch "never", "cached" or "always".
type KeyPolicy struct {
	PIN   string `json:"pin"`
	Touch string `json:"touch"`
}

// String is "PIN once, touch always".
func (p KeyPolicy) String() string { return fmt.Sprintf("PIN %s, touch %s", p.PIN, p.Touch) }

// KeyPolicies is the minimum attested policy of each key use. It is part of
// the signed roster (Policy.MinimumKeyPolicy).
type KeyPolicies struct {
	Decrypt KeyPolicy `json:"decrypt"`
	Sign    KeyPolicy `json:"sign"`
}

// For returns the policy of use.
func (p KeyPolicies) For(use KeyUse) KeyPolicy {
	if use == UseSign {
		return p.Sign
	}
	return p.Decrypt
}

// DefaultKeyPolicies is the minimum of a vault whose roster states none
// (every vault written before the field existed): decryption PIN once and
// touch always, signing PIN always and touch always. Enrolment generates
// keys with exactly these policies.
func DefaultKeyPolicies() KeyPolicies {
	return KeyPolicies{
		Decrypt: KeyPolicy{PIN: "once", Touch: "always"},
		Sign:    KeyPolicy{PIN: "always", Touch: "always"},
	}
}

// KeyMinimum returns the roster's signed minimum key policies, or
// DefaultKeyPolicies when the roster states none.
func (p Policy) KeyMinimum() KeyPolicies {
	if p.MinimumKeyPolicy == nil {
		return DefaultKeyPolicies()
	}
	return *p.MinimumKeyPolicy
}

// The order of the policies, weakest first, in one place. A policy that is
// not listed (hardware's "default", an unknown byte) ranks below "never".
var (
	pinOrder   = []hardware.PINPolicy{hardware.PINPolicyNever, hardware.PINPolicyOnce, hardware.PINPolicyAlways}
	touchOrder = []hardware.TouchPolicy{hardware.TouchPolicyNever, hardware.TouchPolicyCached, hardware.TouchPolicyAlways}
)

func rank[T comparable](order []T, p T) int {
	for i, q := range order {
		if q == p {
			return i + 1
		}
	}
	return 0
}

// PINAtLeast reports whether PIN policy have is at least want
// (never < once < always).
func PINAtLeast(have, want hardware.PINPolicy) bool {
	return rank(pinOrder, have) >= rank(pinOrder, want) && rank(pinOrder, have) > 0
}

// TouchAtLeast reports whether touch policy have is at least want
// (never < cached < always).
func TouchAtLeast(have, want hardware.TouchPolicy) bool {
	return rank(touchOrder, have) >= rank(touchOrder, want) && rank(touchOrder, have) > 0
}

// ParsePINPolicy parses "never", "once" or "always".
func ParsePINPolicy(s string) (hardware.PINPolicy, error) {
	for _, p := range pinOrder {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("PIN policy %q is not never, once or always", s)
}

// ParseTouchPolicy parses "never", "cached" or "always".
func ParseTouchPolicy(s string) (hardware.TouchPolicy, error) {
	for _, p := range touchOrder {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("touch policy %q is not never, cached or always", s)
}

// parse returns p as hardware policies.
func (p KeyPolicy) parse() (hardware.PINPolicy, hardware.TouchPolicy, error) {
	pin, err := ParsePINPolicy(p.PIN)
	if err != nil {
		return 0, 0, err
	}
	touch, err := ParseTouchPolicy(p.Touch)
	if err != nil {
		return 0, 0, err
	}
	return pin, touch, nil
}

// validateMinimum refuses a minimum that names an unknown policy or allows
// "never": a vault can require more than the default, never less than a
// PIN and a touch.
func validateMinimum(f string, m *KeyPolicies) error {
	if m == nil {
		return nil
	}
	for _, u := range []KeyUse{UseDecrypt, UseSign} {
		uf := f + "." + map[KeyUse]string{UseDecrypt: "decrypt", UseSign: "sign"}[u]
		pin, touch, err := m.For(u).parse()
		if err != nil {
			return fieldErr(uf, "%v", err)
		}
		if pin == hardware.PINPolicyNever || touch == hardware.TouchPolicyNever {
			return fieldErr(uf, "allows %s for %s keys; a vault never accepts \"never\"", m.For(u), u)
		}
	}
	return nil
}

// PolicyError says which custodian's key (serial), which slot, what its
// attestation states and what the vault requires. It matches ErrKeyPolicy.
type PolicyError struct {
	Custodian string // "Name (id)"
	Serial    uint32
	Slot      hardware.Slot
	Use       KeyUse
	Have      KeyPolicy // attested; empty strings when the attestation states no policy
	Want      KeyPolicy // the vault's minimum
	// Claimed is set when the roster's claimed policy differs from the
	// attested one (the roster was edited or forged).
	Claimed *KeyPolicy
	// Weak: the attested policy is below Want (or states none).
	Weak bool
}

func (e *PolicyError) Error() string {
	who := fmt.Sprintf("custodian %s, YubiKey %d, slot %s (%s key)", e.Custodian, e.Serial, e.Slot, e.Use)
	claim := ""
	if e.Claimed != nil {
		claim = fmt.Sprintf(" (the roster claims %s)", e.Claimed)
	}
	switch {
	case e.Have.PIN == "":
		return fmt.Sprintf("%s: its attestation states no PIN or touch policy, and this vault requires at least %s; re-enrol the custodian on a YubiKey with firmware 4.3 or later (breakglass enrol)", who, e.Want)
	case e.Weak:
		return fmt.Sprintf("%s: attested %s%s, but this vault requires at least %s; generate new keys with breakglass enrol (decryption PIN once/touch always, signing PIN always/touch always) and re-enrol the custodian", who, e.Have, claim, e.Want)
	}
	return fmt.Sprintf("%s: the roster claims %s but the key's attestation says %s: the roster does not describe this key; restore the vault file from the security team's signed copy", who, e.Claimed, e.Have)
}

// Is makes PolicyError match ErrKeyPolicy.
func (e *PolicyError) Is(target error) bool { return target == ErrKeyPolicy }

// checkPolicy checks an attestation result of c's key k (use) against
// want, and the roster's claimed policy (if claimed is non-nil) against
// the attestation.
func checkPolicy(c Custodian, k Key, use KeyUse, r *attestation.Result, want KeyPolicy, claimed *KeyPolicy) error {
	e := &PolicyError{Custodian: c.String(), Serial: k.Serial, Slot: keySlot(k, use), Use: use, Want: want, Weak: true}
	if !r.HasPolicy {
		return e
	}
	e.Have = KeyPolicy{PIN: r.PIN.String(), Touch: r.Touch.String()}
	if claimed != nil && *claimed != e.Have {
		e.Claimed = claimed
	}
	wpin, wtouch, err := want.parse()
	if err != nil {
		return fmt.Errorf("vault minimum for %s keys: %w", use, err)
	}
	e.Weak = !PINAtLeast(r.PIN, wpin) || !TouchAtLeast(r.Touch, wtouch) ||
		r.PIN == hardware.PINPolicyNever || r.Touch == hardware.TouchPolicyNever
	if e.Weak || e.Claimed != nil {
		return e
	}
	return nil
}

func keySlot(k Key, use KeyUse) hardware.Slot {
	if use == UseSign {
		return k.Sign.Slot.PIV()
	}
	return k.Decrypt.Slot.PIV()
}

// attestedUse verifies the attestation of k's key for use (chain, serial,
// public key) and returns what it states, and the roster's claimed policy
// (decryption keys only; the roster states none for signing keys).
func (o VerifyOptions) attestedUse(k Key, use KeyUse) (*attestation.Result, *KeyPolicy, error) {
	if use == UseSign {
		sk, err := signingKey(k.Sign.PublicKey)
		if err != nil {
			return nil, nil, err
		}
		r, err := o.attested(k.Sign.Attestation, k.Serial, sk)
		return r, nil, err
	}
	rc, err := pivp256.ParseRecipient(k.Decrypt.Recipient)
	if err != nil {
		return nil, nil, err
	}
	r, err := o.attested(k.Decrypt.Attestation, k.Serial, rc)
	return r, &KeyPolicy{PIN: k.Decrypt.PIN, Touch: k.Decrypt.Touch}, err
}

// verifyKeyUse is attestedUse followed by checkPolicy against min: the one
// check every path runs on a custodian key.
func (o VerifyOptions) verifyKeyUse(c Custodian, k Key, use KeyUse, min KeyPolicies) error {
	r, claimed, err := o.attestedUse(k, use)
	if err != nil {
		return err
	}
	return checkPolicy(c, k, use, r, min.For(use), claimed)
}

// VerifyKeys checks every enrolled key of the roster (decryption and
// signing, primary and backup): its attestation chains to opts' trust and
// names the enrolled serial and public key, its attested PIN and touch
// policies are at least the roster's signed minimum (KeyMinimum), and the
// roster's claimed decryption policy is the attested one. It does not
// check signatures (VerifyRoster does both). The first failure is a
// *RosterError naming the part, wrapping ErrAttestation or ErrKeyPolicy
// (*PolicyError).
func (r *Roster) VerifyKeys(opts VerifyOptions) error {
	min := r.Policy.KeyMinimum()
	if err := validateMinimum("roster.policy.minimum_key_policy", r.Policy.MinimumKeyPolicy); err != nil {
		return &RosterError{Part: "roster.policy.minimum_key_policy", Err: err}
	}
	for i, c := range r.Custodians {
		for j, k := range c.Keys {
			f := fmt.Sprintf("roster.custodians[%d].keys[%d]", i, j)
			if err := opts.verifyKeyUse(c, k, UseDecrypt, min); err != nil {
				return &RosterError{Part: f + ".decrypt.attestation", Err: err}
			}
			if err := opts.verifyKeyUse(c, k, UseSign, min); err != nil {
				return &RosterError{Part: f + ".sign.attestation", Err: err}
			}
		}
	}
	return nil
}

// CheckKey verifies, from the roster's stored attestation, that the key
// with serial is enrolled and that its key for use is attested with at
// least the vault's minimum policy (*PolicyError, ErrAttestation,
// *NotOnRosterError). The console calls it before a signing key is asked
// to sign a confirmation or the report; it never uses the card.
func (v *Vault) CheckKey(opts VerifyOptions, serial uint32, use KeyUse) error {
	c, k, ok := v.KeyBySerial(serial)
	if !ok {
		return &NotOnRosterError{Serial: serial}
	}
	if err := opts.verifyKeyUse(c, k, use, v.Roster.Policy.KeyMinimum()); err != nil {
		return fmt.Errorf("%s key of YubiKey %d of %s: %w", use, serial, c, err)
	}
	return nil
}

// AttestedPolicies returns what the attestations of k's decryption and
// signing keys state (for display); a key whose attestation does not verify
// or states no policy is an error.
func (o VerifyOptions) AttestedPolicies(k Key) (KeyPolicies, error) {
	var out KeyPolicies
	for _, u := range []KeyUse{UseDecrypt, UseSign} {
		r, _, err := o.attestedUse(k, u)
		if err != nil {
			return out, err
		}
		if !r.HasPolicy {
			return out, fmt.Errorf("the %s key's attestation of YubiKey %d states no policy", u, k.Serial)
		}
		p := KeyPolicy{PIN: r.PIN.String(), Touch: r.Touch.String()}
		if u == UseSign {
			out.Sign = p
		} else {
			out.Decrypt = p
		}
	}
	return out, nil
}
