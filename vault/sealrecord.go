package vault

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"breakglass/hardware"
)

// sealDomain separates seal-record signatures from roster and report
// signatures made with the same 9c keys.
const sealDomain = "breakglass-seal-record-v1\n"

// MaxSealHistory bounds how many previous seal records one secret keeps.
const MaxSealHistory = 1000

// maxSealRecord bounds a canonical seal record (a record is a few hundred bytes).
const maxSealRecord = 4 << 10

// Errors of seal attribution (errors.Is). Every *SealError wraps one.
var (
	// ErrUnattributed: the secret has no signed seal record (a vault written
	// before seals were signed, or a seal whose signature was never made).
	ErrUnattributed = errors.New("secret is unattributed (no signed seal record)")
	// ErrSealBroken: the seal record does not verify: wrong signature,
	// sealer, ciphertext, vault, version or history link.
	ErrSealBroken = errors.New("seal record does not verify")
)

// SealRecord is what a sealer signs for one sealed value. Its canonical form
// (CanonicalSealRecord) is a domain line followed by the compact JSON of the
// record with fields in this order; the sealer's 9c key signs SHA-256 of it.
type SealRecord struct {
	Roster     string    `json:"roster"` // hex RosterDigest of the vault sealed into
	Name       string    `json:"name"`
	Kind       Kind      `json:"kind"`
	Version    int       `json:"version"`           // 1, 2, … per secret
	Ciphertext string    `json:"ciphertext_sha256"` // hex SHA-256 of Secret.Age
	SealedAt   time.Time `json:"sealed_at"`         // UTC, whole seconds
	SealedBy   string    `json:"sealed_by"`         // roster custodian id
	Serial     uint32    `json:"serial"`            // YubiKey that signed
	Prev       string    `json:"prev"`              // hex SealDigest of version-1, "" for version 1
}

// SignedSeal is a seal record and its ES256 signature (ASN.1 DER) by the
// signing key of the sealer's YubiKey Record.Serial.
type SignedSeal struct {
	Record    SealRecord `json:"record"`
	Signature []byte     `json:"signature"`
}

// CanonicalSealRecord is the exact byte string whose SHA-256 a sealer signs.
func CanonicalSealRecord(r SealRecord) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding seal record of %q: %w", r.Name, err)
	}
	return append([]byte(sealDomain), b...), nil
}

// ParseSealRecord strictly parses a canonical seal record: the domain line,
// then one JSON object with exactly the SealRecord fields, which must
// re-encode to the same bytes. Errors wrap ErrSealBroken.
func ParseSealRecord(b []byte) (SealRecord, error) {
	if len(b) > maxSealRecord {
		return SealRecord{}, fmt.Errorf("%w: the record is %d bytes, more than %d", ErrSealBroken, len(b), maxSealRecord)
	}
	body, ok := bytes.CutPrefix(b, []byte(sealDomain))
	if !ok {
		return SealRecord{}, fmt.Errorf("%w: not a breakglass seal record (no %q line)", ErrSealBroken, sealDomain[:len(sealDomain)-1])
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r SealRecord
	if err := dec.Decode(&r); err != nil {
		return SealRecord{}, fmt.Errorf("%w: the record is not valid JSON: %v", ErrSealBroken, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return SealRecord{}, fmt.Errorf("%w: unexpected data after the record", ErrSealBroken)
	}
	again, err := CanonicalSealRecord(r)
	if err != nil || !bytes.Equal(again, b) {
		return SealRecord{}, fmt.Errorf("%w: the record is not in canonical form", ErrSealBroken)
	}
	return r, nil
}

// SealDigest is the hex SHA-256 of the canonical record: what a later
// version's Prev names, and what a reveal journals.
func SealDigest(r SealRecord) string {
	b, err := CanonicalSealRecord(r)
	if err != nil {
		return ""
	}
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// Attribution is a verified seal: who sealed the current value, when, and
// which version it is.
type Attribution struct {
	Version  int
	SealedAt time.Time
	Sealer   Custodian
	Serial   uint32
	Digest   string // hex SealDigest of the current record
	// SealedUnder is the earlier roster version the value was sealed under
	// and a rekey carried; 0 when sealed under the roster in use.
	SealedUnder int
}

// String is "sealed by NAME on DATE, version N".
func (a Attribution) String() string {
	s := fmt.Sprintf("sealed by %s on %s, version %d", a.Sealer.Name, a.SealedAt.UTC().Format("2006-01-02 15:04 UTC"), a.Version)
	if a.SealedUnder > 0 {
		s += fmt.Sprintf(" (under roster version %d, carried by rekey)", a.SealedUnder)
	}
	return s
}

// SealError says which secret's seal does not verify, why, and what to do.
// It wraps ErrUnattributed or ErrSealBroken.
type SealError struct {
	Name   string
	Reason string
	Err    error
}

func (e *SealError) Error() string {
	return fmt.Sprintf("secret %q: %v: %s; it is never revealed as current: re-seal it (breakglass seal --name %s --serial YOUR-YUBIKEY)", e.Name, e.Err, e.Reason, e.Name)
}

// Unwrap returns ErrUnattributed or ErrSealBroken.
func (e *SealError) Unwrap() error { return e.Err }

func sealBroken(name, format string, a ...any) error {
	return &SealError{Name: name, Reason: fmt.Sprintf(format, a...), Err: ErrSealBroken}
}

// VerifySeal checks the seal of the secret name against this vault: the
// current record is signed by the roster signing key of its sealer (a
// custodian, on the enrolled YubiKey it names), names this secret, kind and
// vault (RosterDigest), commits to the stored ciphertext and sealed time,
// has version len(History)+1, and links (Prev) to the last kept record,
// whose own versions and links run back to version 1. It does not verify
// the roster itself: call VerifyRoster first. Errors are *SealError.
func (v *Vault) VerifySeal(name string) (Attribution, error) {
	s, ok := v.Secret(name)
	if !ok {
		return Attribution{}, fmt.Errorf("verifying the seal of %q: %w", name, ErrNoSecret)
	}
	if s.Seal == nil {
		why := "the vault has no signed seal record for it (sealed before seals were signed, or never signed)"
		return Attribution{}, &SealError{Name: name, Reason: why, Err: ErrUnattributed}
	}
	r := s.Seal.Record
	roster := v.RosterDigest()
	// signers is the roster the record was sealed under: this one, or an
	// earlier version of the chain whose seal a rekey carried (the roster
	// in use, signed by all its custodians and endorsed by a quorum of the
	// one before, vouches that the stored ciphertext is that sealed value).
	signers, ciphertext, carriedFrom := v, r.Ciphertext, 0
	if r.Roster != hex.EncodeToString(roster[:]) {
		c, ok := v.Roster.carried(s.Name)
		old, found := v.versionRoster(r.Roster)
		switch {
		case !ok || !found:
			return Attribution{}, sealBroken(name, "the record was sealed into another vault (roster digest differs)")
		case c.Seal != SealDigest(r):
			return Attribution{}, sealBroken(name, "the rekey carried another seal record than the vault holds")
		}
		signers, ciphertext, carriedFrom = old, c.Ciphertext, old.Roster.Number()
	}
	switch {
	case r.Name != s.Name:
		return Attribution{}, sealBroken(name, "the record is for secret %q", r.Name)
	case r.Kind != s.Kind:
		return Attribution{}, sealBroken(name, "the record says kind %q but the vault says %q", r.Kind, s.Kind)
	case ciphertext != ciphertextDigest(s.Age):
		return Attribution{}, sealBroken(name, "the stored ciphertext is not the one that was sealed (replaced or rolled back)")
	case !r.SealedAt.Equal(s.SealedAt):
		return Attribution{}, sealBroken(name, "the vault's sealed time differs from the signed record's")
	case r.Version != len(s.History)+1:
		return Attribution{}, sealBroken(name, "the record is version %d but the vault keeps %d earlier versions", r.Version, len(s.History))
	}
	c, k, ok := signers.KeyBySerial(r.Serial)
	if !ok || c.ID != r.SealedBy {
		return Attribution{}, sealBroken(name, "the sealer %q with YubiKey %d is not on the roster", r.SealedBy, r.Serial)
	}
	pub, err := signingKey(k.Sign.PublicKey)
	if err != nil {
		return Attribution{}, sealBroken(name, "the sealer's roster signing key: %v", err)
	}
	canon, err := CanonicalSealRecord(r)
	if err != nil {
		return Attribution{}, sealBroken(name, "%v", err)
	}
	d := sha256.Sum256(canon)
	if !ecdsa.VerifyASN1(pub, d[:], s.Seal.Signature) {
		return Attribution{}, sealBroken(name, "the signature does not verify with %s's YubiKey %d (the record was edited or not signed by them)", c.ID, r.Serial)
	}
	prev := ""
	for i, h := range s.History {
		hr := h.Record
		if hr.Name != s.Name || hr.Version != i+1 || hr.Prev != prev {
			return Attribution{}, sealBroken(name, "the kept history is broken at version %d", i+1)
		}
		prev = SealDigest(hr)
	}
	if r.Prev != prev {
		return Attribution{}, sealBroken(name, "the record does not link to the previous version the vault keeps (rolled back or history edited)")
	}
	return Attribution{Version: r.Version, SealedAt: r.SealedAt, Sealer: c, Serial: r.Serial, Digest: hex.EncodeToString(d[:]), SealedUnder: carriedFrom}, nil
}

func ciphertextDigest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// SignSeal has the custodian holding tok sign the seal record of the secret
// name as it is now sealed (after Seal): version len(History)+1, linked to
// the last kept record. pin is the key's PIN; the key may also want a touch
// (the context's touch prompt is shown). It needs no quorum: one
// custodian's enrolled YubiKey. On error the secret stays unattributed.
func (v *Vault) SignSeal(ctx context.Context, tok hardware.Token, pin, name string) (Attribution, error) {
	s, ok := v.Secret(name)
	if !ok {
		return Attribution{}, fmt.Errorf("signing the seal of %q: %w", name, ErrNoSecret)
	}
	c, k, want, err := v.rosterSigner(ctx, tok)
	if err != nil {
		return Attribution{}, err
	}
	prev := ""
	if n := len(s.History); n > 0 {
		prev = SealDigest(s.History[n-1].Record)
	}
	roster := v.RosterDigest()
	r := SealRecord{
		Roster: hex.EncodeToString(roster[:]), Name: s.Name, Kind: s.Kind, Version: len(s.History) + 1,
		Ciphertext: ciphertextDigest(s.Age), SealedAt: s.SealedAt.UTC(), SealedBy: c.ID, Serial: k.Serial, Prev: prev,
	}
	canon, err := CanonicalSealRecord(r)
	if err != nil {
		return Attribution{}, err
	}
	d := sha256.Sum256(canon)
	sig, err := tok.Sign(ctx, k.Sign.Slot.PIV(), d[:], pin)
	if err != nil {
		return Attribution{}, fmt.Errorf("signing the seal of %q on YubiKey %d: %w", name, k.Serial, err)
	}
	if !ecdsa.VerifyASN1(want, d[:], sig) {
		return Attribution{}, fmt.Errorf("signing the seal of %q on YubiKey %d: %w: the key returned a signature that does not verify", name, k.Serial, ErrSealBroken)
	}
	s.Seal = &SignedSeal{Record: r, Signature: sig}
	return v.VerifySeal(name)
}

// validateSeal checks the shape of a secret's seal records (Parse): sizes
// and counts only. Whether they verify is VerifySeal's job, so a vault with
// a broken seal still loads and is flagged rather than unreadable.
func validateSeal(f string, s Secret) error {
	if len(s.History) > MaxSealHistory {
		return fieldErr(f+".history", "keeps %d records, more than %d", len(s.History), MaxSealHistory)
	}
	if s.Seal != nil && len(s.Seal.Signature) > 256 {
		return fieldErr(f+".seal.signature", "is %d bytes, not an ES256 signature", len(s.Seal.Signature))
	}
	return nil
}
