package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"filippo.io/age"
)

// RosterRecord is the roster a report was signed under, carried inside the
// report so an auditor can check it against a pinned fingerprint without
// the vault file: the exact canonical bytes the custodians signed
// (CanonicalRoster: domain line, roster, policy, recipient), their roster
// signatures, and the full digest (hex SHA-256 of Canonical; the card
// fingerprint is its first 10 bytes).
type RosterRecord struct {
	Canonical  []byte      `json:"canonical"` // CanonicalRoster, base64 in JSON
	Digest     string      `json:"digest"`    // lower-case hex SHA-256 of Canonical
	Signatures []Signature `json:"signatures"`
	// Endorsements are the previous version's signatures over Digest (see
	// Vault.Endorsements); absent for a first roster.
	Endorsements []Signature `json:"endorsements,omitempty"`
}

// ErrRosterRecord: a roster record is malformed, its digest does not match
// its bytes, or its bytes are not a canonical roster.
var ErrRosterRecord = errors.New("roster record is not valid")

// maxRosterRecord bounds the canonical bytes VerifyRosterRecord decodes.
const maxRosterRecord = 4 << 20

// RosterRecord returns v's roster record: what a report embeds.
func (v *Vault) RosterRecord() RosterRecord {
	c := v.CanonicalRoster()
	sigs := slices.Clone(v.Signatures)
	if sigs == nil {
		sigs = []Signature{}
	}
	return RosterRecord{Canonical: c, Digest: DigestHex(c), Signatures: sigs, Endorsements: slices.Clone(v.Endorsements)}
}

// RosterDigestHex is RosterDigest as lower-case hex: the full value an
// auditor pins (the fingerprint is its 10-byte prefix).
func (v *Vault) RosterDigestHex() string {
	d := v.RosterDigest()
	return hex.EncodeToString(d[:])
}

// DigestHex is the lower-case hex SHA-256 of canonical roster bytes.
func DigestHex(canonical []byte) string {
	d := sha256.Sum256(canonical)
	return hex.EncodeToString(d[:])
}

// FingerprintOfDigest is the card form ("ABCD-EF12-3456-7890-ABCD") of a
// hex roster digest, "" if digest is not 64 hex digits.
func FingerprintOfDigest(digest string) string {
	if len(digest) != 64 {
		return ""
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return ""
	}
	h := strings.ToUpper(digest[:20])
	return strings.Join([]string{h[0:4], h[4:8], h[8:12], h[12:16], h[16:20]}, "-")
}

// ParsePin normalises an auditor's pin: the card fingerprint
// ("ABCD-EF12-3456-7890-ABCD", dashes and case optional) or the full
// 64-hex roster digest. It returns the pin as lower-case hex (20 or 64
// digits); see PinMatches.
func ParsePin(s string) (string, error) {
	h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "-", ""))
	if len(h) != 20 && len(h) != 64 {
		return "", fmt.Errorf("vault fingerprint %q is neither the card form (ABCD-EF12-3456-7890-ABCD) nor the 64-hex roster digest", s)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("vault fingerprint %q is not hexadecimal", s)
	}
	return h, nil
}

// PinMatches reports whether the hex roster digest equals the parsed pin
// (the full digest, or its 10-byte prefix for a card fingerprint).
func PinMatches(digest, pin string) bool {
	if len(digest) != 64 || (len(pin) != 20 && len(pin) != 64) {
		return false
	}
	return strings.HasPrefix(strings.ToLower(digest), pin)
}

// VerifyRosterRecord checks a roster record on its own: the digest is the
// SHA-256 of the canonical bytes, the bytes are exactly a canonical roster
// (strictly decoded and re-encoded to the same bytes), the roster is well
// formed, and then the same verification as (*Vault).VerifyRoster — every
// custodian's roster signature, every key's attestation and attested
// policy. It does not compare the record with any pin: the caller does that
// with Digest. It returns the verified roster.
func VerifyRosterRecord(rec RosterRecord, opts VerifyOptions) (*Roster, error) {
	v, err := parseRosterRecord(rec)
	if err != nil {
		return nil, err
	}
	if err := v.verifyOwnRoster(opts); err != nil {
		return nil, err
	}
	return &v.Roster, nil
}

// parseRosterRecord is VerifyRosterRecord without the cryptography: the
// record decoded into a vault holding only its roster, recipient and
// signatures, every structural check made.
func parseRosterRecord(rec RosterRecord) (*Vault, error) {
	if len(rec.Canonical) == 0 || len(rec.Canonical) > maxRosterRecord {
		return nil, fmt.Errorf("%w: canonical roster is empty or larger than %d bytes", ErrRosterRecord, maxRosterRecord)
	}
	if got := DigestHex(rec.Canonical); rec.Digest != got {
		return nil, fmt.Errorf("%w: digest %q is not the SHA-256 of the canonical roster (%s)", ErrRosterRecord, rec.Digest, got)
	}
	body, ok := bytes.CutPrefix(rec.Canonical, []byte(rosterDomain))
	if !ok {
		return nil, fmt.Errorf("%w: canonical roster does not start with %q", ErrRosterRecord, strings.TrimSpace(rosterDomain))
	}
	var c struct {
		Roster    Roster `json:"roster"`
		Recipient string `json:"recipient"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: canonical roster: %v", ErrRosterRecord, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: canonical roster: trailing data", ErrRosterRecord)
	}
	v := &Vault{Format: FormatName, Version: FormatVersion, Roster: c.Roster, Recipient: c.Recipient,
		Signatures: rec.Signatures, Endorsements: rec.Endorsements}
	if !bytes.Equal(v.CanonicalRoster(), rec.Canonical) {
		return nil, fmt.Errorf("%w: canonical roster is not in canonical encoding", ErrRosterRecord)
	}
	if err := v.validateRoster(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRosterRecord, err)
	}
	if _, err := age.ParseX25519Recipient(v.Recipient); err != nil {
		return nil, fmt.Errorf("%w: recipient: %v", ErrRosterRecord, err)
	}
	if err := v.validateSignatures(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRosterRecord, err)
	}
	if len(rec.Endorsements) > maxEndorsements {
		return nil, fmt.Errorf("%w: %d endorsements, more than %d", ErrRosterRecord, len(rec.Endorsements), maxEndorsements)
	}
	return v, nil
}
