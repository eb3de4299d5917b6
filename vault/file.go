package vault

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"

	"breakglass/internal/atomicfile"
	"breakglass/internal/inert"
	"breakglass/vault/pivp256"
)

// rosterDomain separates roster signatures from every other use of the keys.
const rosterDomain = "breakglass-vault-roster-v1\n"

// CanonicalRoster is the exact byte string the custodians sign: a domain
// line followed by the compact JSON of the roster and the vault recipient,
// with fields in their declared order. Parsing and re-encoding a vault gives
// the same bytes, so any change to the roster, the policy or the recipient
// invalidates every signature.
func (v *Vault) CanonicalRoster() []byte {
	b, err := json.Marshal(struct {
		Roster    Roster `json:"roster"`
		Recipient string `json:"recipient"`
	}{v.Roster, v.Recipient})
	if err != nil {
		// Only a time outside years 0-9999 fails; validate refuses those, and
		// this marker can never carry a valid signature.
		return []byte(rosterDomain + "unencodable roster")
	}
	return append([]byte(rosterDomain), b...)
}

// RosterDigest is SHA-256 of CanonicalRoster: what each custodian's signing
// key signs (ES256).
func (v *Vault) RosterDigest() [32]byte { return sha256.Sum256(v.CanonicalRoster()) }

// ComputeFingerprint derives the human-comparable fingerprint from the
// canonical roster, policy and recipient: the first 10 bytes of RosterDigest
// as five groups of four upper-case hex digits ("ABCD-EF12-3456-7890-ABCD").
// Custodians compare it with the one printed on their card at unlock.
func (v *Vault) ComputeFingerprint() string {
	d := v.RosterDigest()
	h := strings.ToUpper(hex.EncodeToString(d[:10]))
	var groups []string
	for i := 0; i < len(h); i += 4 {
		groups = append(groups, h[i:i+4])
	}
	return strings.Join(groups, "-")
}

// Fingerprint returns the recorded fingerprint; Parse checks that it equals
// ComputeFingerprint, so it identifies this exact roster, policy and recipient.
func (v *Vault) Fingerprint() string { return v.RecordedFingerprint }

// Load reads and strictly parses the vault file at path. Errors name the
// file and the field, and wrap ErrFormat for a malformed file.
func Load(path string) (*Vault, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading vault %q: %w", path, err)
	}
	v, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading vault %q: %w", path, err)
	}
	return v, nil
}

// Parse strictly parses a vault file: unknown fields, trailing data, an
// unknown version, inconsistent policy, unparsable keys or certificates,
// missing or extra shares, duplicate names or serials, and a fingerprint
// that does not match the roster are all errors (*FieldError, ErrFormat).
// It does not verify signatures or attestations: see VerifyRoster.
func Parse(data []byte) (*Vault, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var v Vault
	if err := dec.Decode(&v); err != nil {
		return nil, &FieldError{Field: "file", Err: fmt.Errorf("not valid vault JSON: %w", err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fieldErr("file", "unexpected data after the vault object")
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	// encoding/json matches field names case-insensitively and lets a
	// repeated key win over the first: a file could then show a reader (or
	// another tool) a decoy fingerprint, recipient or chain beside the one
	// verified. A vault is read only in the form breakglass writes it.
	if err := sameAsWritten(&v, data); err != nil {
		return nil, err
	}
	return &v, nil
}

// sameAsWritten refuses a vault file whose JSON, whitespace aside, is not
// exactly what Marshal writes for the vault it decodes to: repeated keys,
// keys in another case or order, other string escapes.
func sameAsWritten(v *Vault, data []byte) error {
	want, err := json.Marshal(v)
	if err != nil {
		return fieldErr("file", "cannot be re-encoded: %v", err)
	}
	var got bytes.Buffer
	if err := json.Compact(&got, data); err != nil {
		return fieldErr("file", "not valid vault JSON: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		return fieldErr("file", "is not in the form breakglass writes (a key repeated, in another case or order, or text escaped differently): it was edited by hand or by another tool; restore it from its backup")
	}
	return nil
}

// Marshal encodes the vault as indented JSON (what Save writes).
func (v *Vault) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding vault: %w", err)
	}
	return append(b, '\n'), nil
}

func (v *Vault) validate() error {
	if v.Format != FormatName {
		return fieldErr("format", "is %q, want %q: this is not a breakglass vault file", v.Format, FormatName)
	}
	if v.Version != FormatVersion {
		return fieldErr("version", "is %d; this breakglass reads version %d — use the breakglass release that wrote it", v.Version, FormatVersion)
	}
	if err := v.validateRoster(); err != nil {
		return err
	}
	if _, err := age.ParseX25519Recipient(v.Recipient); err != nil {
		return fieldErr("recipient", "not an age X25519 recipient: %v", err)
	}
	if want := v.ComputeFingerprint(); v.RecordedFingerprint != want {
		return fieldErr("fingerprint", "is %q but the roster and recipient give %q: the roster was changed after it was signed", v.RecordedFingerprint, want)
	}
	if err := v.validateSignatures(); err != nil {
		return err
	}
	if err := v.validateChain(); err != nil {
		return err
	}
	if err := v.validateShares(); err != nil {
		return err
	}
	return v.validateSecrets()
}

func (v *Vault) validateRoster() error {
	r := &v.Roster
	if r.Created.Year() < 2000 || r.Created.Year() > 9999 {
		return fieldErr("roster.created", "missing or not a plausible time")
	}
	n := len(r.Custodians)
	if r.Policy.Custodians != n {
		return fieldErr("roster.policy.custodians", "is %d but the roster lists %d custodians", r.Policy.Custodians, n)
	}
	if r.Policy.Threshold < 2 || r.Policy.Threshold > n {
		return fieldErr("roster.policy.threshold", "is %d; it must be at least 2 and at most the %d custodians", r.Policy.Threshold, n)
	}
	if err := r.validateRekeyFields(); err != nil {
		return err
	}
	if d := r.Policy.DrillIntervalDays; d < 0 || d > MaxDrillIntervalDays {
		return fieldErr("roster.policy.drill_interval_days", "is %d; it must be 1 to %d days (or absent: %d)", d, MaxDrillIntervalDays, DefaultDrillIntervalDays)
	}
	ids := map[string]bool{}
	names := map[string]string{}
	serials := map[uint32]string{}
	for i, c := range r.Custodians {
		f := fmt.Sprintf("roster.custodians[%d]", i)
		if err := validateCustodian(f, c); err != nil {
			return err
		}
		if ids[c.ID] {
			return fieldErr(f+".id", "%q appears twice", c.ID)
		}
		ids[c.ID] = true
		if other, dup := names[nameSkeleton(c.Name)]; dup {
			return fieldErr(f+".name", "%s is the same name as custodian %q: one person holds one share (a backup key is added to the same custodian, not as a second one)", inert.Line(c.Name), other)
		}
		names[nameSkeleton(c.Name)] = c.ID
		for j, k := range c.Keys {
			if other, dup := serials[k.Serial]; dup {
				return fieldErr(fmt.Sprintf("%s.keys[%d].serial", f, j), "YubiKey %d is also enrolled for %q: one key cannot belong to two entries", k.Serial, other)
			}
			serials[k.Serial] = c.ID
		}
	}
	return nil
}

// validateCustodian checks one custodian entry; f is its JSON path.
func validateCustodian(f string, c Custodian) error {
	if !validID(c.ID) {
		return fieldErr(f+".id", "%q must be 1-64 characters of a-z 0-9 . _ -", c.ID)
	}
	if strings.TrimSpace(c.Name) == "" {
		return fieldErr(f+".name", "missing")
	}
	if !inert.Safe(c.Name) {
		return fieldErr(f+".name", "%s contains control, bidirectional or invisible characters; a name is shown to custodians and printed on the vault card, so it must be plain text", inert.Line(c.Name))
	}
	if mixedScripts(c.Name) {
		return fieldErr(f+".name", "%s mixes scripts (%s) the way a lookalike of another name does; write the name in one script", inert.Line(c.Name), strings.Join(nameScripts(c.Name), ", "))
	}
	if len(c.Keys) == 0 {
		return fieldErr(f+".keys", "custodian has no YubiKey")
	}
	for j, k := range c.Keys {
		kf := fmt.Sprintf("%s.keys[%d]", f, j)
		if k.Role != "primary" && k.Role != "backup" {
			return fieldErr(kf+".role", "is %q, want \"primary\" or \"backup\"", k.Role)
		}
		if !k.Decrypt.Slot.PIV().Retired() {
			return fieldErr(kf+".decrypt.slot", "is %s; the decryption key must be in a retired slot 82..95", k.Decrypt.Slot.PIV())
		}
		if _, err := pivp256.ParseRecipient(k.Decrypt.Recipient); err != nil {
			return fieldErr(kf+".decrypt.recipient", "%v", err)
		}
		if err := validateAttestation(kf+".decrypt.attestation", k.Decrypt.Attestation); err != nil {
			return err
		}
		if _, err := signingKey(k.Sign.PublicKey); err != nil {
			return fieldErr(kf+".sign.public_key", "%v", err)
		}
		if err := validateAttestation(kf+".sign.attestation", k.Sign.Attestation); err != nil {
			return err
		}
	}
	return nil
}

func validateAttestation(f string, a Attestation) error {
	if _, err := x509.ParseCertificate(a.Device); err != nil {
		return fieldErr(f+".device", "not a DER certificate: %v", err)
	}
	if _, err := x509.ParseCertificate(a.Slot); err != nil {
		return fieldErr(f+".slot", "not a DER certificate: %v", err)
	}
	return nil
}

func (v *Vault) validateSignatures() error {
	seen := map[string]bool{}
	for i, s := range v.Signatures {
		f := fmt.Sprintf("signatures[%d]", i)
		c, ok := v.Custodian(s.Custodian)
		if !ok {
			return fieldErr(f+".custodian", "%q is not on the roster", s.Custodian)
		}
		if seen[s.Custodian] {
			return fieldErr(f+".custodian", "%q signed twice", s.Custodian)
		}
		seen[s.Custodian] = true
		if !hasSerial(c, s.Serial) {
			return fieldErr(f+".serial", "YubiKey %d is not a key of %q", s.Serial, s.Custodian)
		}
	}
	return nil
}

func hasSerial(c Custodian, serial uint32) bool {
	for _, k := range c.Keys {
		if k.Serial == serial {
			return true
		}
	}
	return false
}

func (v *Vault) validateShares() error {
	want := map[uint32]string{}
	for _, c := range v.Roster.Custodians {
		for _, k := range c.Keys {
			want[k.Serial] = c.ID
		}
	}
	for i, s := range v.Shares {
		f := fmt.Sprintf("shares[%d]", i)
		id, ok := want[s.Serial]
		if !ok {
			return fieldErr(f+".serial", "YubiKey %d has no roster entry or has two shares", s.Serial)
		}
		if id != s.Custodian {
			return fieldErr(f+".custodian", "is %q but YubiKey %d belongs to %q", s.Custodian, s.Serial, id)
		}
		delete(want, s.Serial)
		if c, err := hex.DecodeString(s.SHA256); err != nil || len(c) != sha256.Size {
			return fieldErr(f+".sha256", "not a hex SHA-256")
		}
		if !strings.HasPrefix(s.Age, "-----BEGIN AGE ENCRYPTED FILE-----") {
			return fieldErr(f+".age", "not an armored age file")
		}
		// Unlock decrypts it: its armor and header must read (FuzzVaultUnlock).
		if _, err := age.ExtractHeader(armor.NewReader(strings.NewReader(s.Age))); err != nil {
			return fieldErr(f+".age", "the armored age file is corrupted (its header does not read): restore the vault file from its backup")
		}
	}
	for serial, id := range want {
		return fieldErr("shares", "no share for YubiKey %d of %q: that key could not open the vault", serial, id)
	}
	return nil
}

func (v *Vault) validateSecrets() error {
	seen := map[string]bool{}
	for i, s := range v.Secrets {
		f := fmt.Sprintf("secrets[%d]", i)
		if !validID(s.Name) {
			return fieldErr(f+".name", "%q must be 1-64 characters of a-z 0-9 . _ -", s.Name)
		}
		if seen[s.Name] {
			return fieldErr(f+".name", "%q appears twice", s.Name)
		}
		seen[s.Name] = true
		if !s.Kind.Valid() {
			return fieldErr(f+".kind", "is %q, want password, totp, recovery-codes or text", s.Kind)
		}
		if s.SealedAt.IsZero() {
			return fieldErr(f+".sealed_at", "missing")
		}
		if s.Rotations < 0 {
			return fieldErr(f+".rotations", "is negative")
		}
		if (s.Rotations > 0) != (s.PreviousSealedAt != nil) {
			return fieldErr(f+".previous_sealed_at", "must be set exactly when rotations > 0")
		}
		if s.LastRevealed != nil && (s.LastRevealed.Session == "" || s.LastRevealed.At.IsZero()) {
			return fieldErr(f+".last_revealed", "needs both session and at")
		}
		if _, err := age.ExtractHeader(bytes.NewReader(s.Age)); err != nil || !bytes.HasPrefix(s.Age, []byte("age-encryption.org/v1\n")) {
			return fieldErr(f+".age", "not a binary age file")
		}
		if err := validateSeal(f, s); err != nil {
			return err
		}
	}
	return nil
}

// Save writes the vault to path atomically: a temporary file in the same
// directory is written and fsynced, the existing file (if any) is kept as
// path+".prev", the temporary file is renamed over path and the directory is
// fsynced. On error the previous file is untouched.
func (v *Vault) Save(path string) error {
	if err := v.validate(); err != nil {
		return fmt.Errorf("saving vault %q: refusing to write an invalid vault: %w", path, err)
	}
	data, err := v.Marshal()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("saving vault %q: %w", path, err)
	}
	return nil
}

// writeFileAtomic replaces path with data atomically, keeping the previous
// content as path+".prev" (see internal/atomicfile). On error path is
// untouched and no temporary file remains.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteKeepPrevious(path, data, 0o600)
}
