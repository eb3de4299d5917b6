// Package vault is the breakglass vault: one human-inspectable JSON file
// holding the custodian roster and M-of-N policy (signed by every custodian's
// YubiKey), the vault's age X25519 recipient, one Shamir share of the vault
// identity per custodian key (each an age file to that key's piv-p256
// recipient, so the stock age CLI with age-plugin-yubikey can open it), and
// the sealed secrets (each an age file to the vault recipient).
//
// Sealing needs no quorum. Revealing needs Threshold distinct custodians: an
// Unlock collects shares one YubiKey at a time, checking each key against the
// roster and its attestation, and Open combines them into an Opened vault
// whose identity lives in locked memory until Lock.
//
// Nothing in this package writes a plaintext secret or a share to disk, puts
// one in an error, or logs it.
package vault

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/hardware"
)

// FormatName and FormatVersion identify a vault file.
const (
	FormatName    = "breakglass-vault"
	FormatVersion = 1
)

// Vault is a parsed vault file. Methods that change it (Seal, MarkRevealed,
// SignRoster) change only memory; Save writes it.
type Vault struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	Roster    Roster `json:"roster"`
	Recipient string `json:"recipient"` // age X25519 "age1…" of the vault key
	// RecordedFingerprint is ComputeFingerprint at creation; see Fingerprint.
	RecordedFingerprint string      `json:"fingerprint"`
	Signatures          []Signature `json:"signatures"`
	// Endorsements are the signatures of a threshold of the previous roster
	// version's custodians over this roster (RosterDigest), made at the
	// rekey that replaced it; none for a first roster. See VerifyChain.
	Endorsements []Signature `json:"endorsements,omitempty"`
	// Chain is every earlier version of the roster, oldest first, as the
	// custodians signed it (each with its own endorsements): the signed
	// history an auditor walks from the fingerprint they pinned.
	Chain   []RosterRecord `json:"chain,omitempty"`
	Shares  []Share        `json:"shares"`
	Secrets []Secret       `json:"secrets"`
	// Drills are the most recent drills (vault check), newest last. They
	// are a record for inspect, not a proof: the signed drill reports are.
	Drills []Drill `json:"drills,omitempty"`
}

// Drill records one "vault check": when, which kind, who took part, result.
type Drill struct {
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"` // DrillQuorum or DrillEach
	Custodians []string  `json:"custodians"`
	Passed     bool      `json:"passed"`
}

// Drill kinds.
const (
	DrillQuorum = "quorum" // a quorum opened the vault and every secret decrypted
	DrillEach   = "each"   // every custodian proved their own share
)

// MaxDrills is how many drill records a vault keeps.
const MaxDrills = 20

// RecordDrill appends d, keeping the MaxDrills most recent.
func (v *Vault) RecordDrill(d Drill) {
	v.Drills = append(v.Drills, d)
	if n := len(v.Drills); n > MaxDrills {
		v.Drills = slices.Clone(v.Drills[n-MaxDrills:])
	}
}

// LastDrill returns the newest passed drill of kind, if any.
func (v *Vault) LastDrill(kind string) (Drill, bool) {
	for i := len(v.Drills) - 1; i >= 0; i-- {
		if d := v.Drills[i]; d.Kind == kind && d.Passed {
			return d, true
		}
	}
	return Drill{}, false
}

// Roster is what the custodians sign: who they are, their keys, the policy.
type Roster struct {
	Created    time.Time   `json:"created"`
	Policy     Policy      `json:"policy"`
	Custodians []Custodian `json:"custodians"`
	// Version is 2, 3, … for a roster made by a rekey; absent (0) for the
	// first roster, whose canonical bytes are then what they always were.
	// See Number.
	Version int `json:"version,omitempty"`
	// Previous is the hex RosterDigest of the version this one replaced.
	Previous string `json:"previous,omitempty"`
	// Change says what the rekey that made this version changed.
	Change *RosterChange `json:"change,omitempty"`
	// Carried vouches, for each secret whose signed seal was made under an
	// earlier version, that the vault's current ciphertext is that sealed
	// value re-encrypted (or kept) by the rekey. See VerifySeal.
	Carried []CarriedSeal `json:"carried,omitempty"`
}

// Number is the roster's version number: 1 for a first roster.
func (r Roster) Number() int { return max(r.Version, 1) }

// RosterChange is what a rekey changed, signed with the new roster.
type RosterChange struct {
	Reason        string   `json:"reason,omitempty"`  // why, as the custodians gave it
	Added         []string `json:"added,omitempty"`   // custodian ids
	Removed       []string `json:"removed,omitempty"` // custodian ids
	KeysAdded     []uint32 `json:"keys_added,omitempty"`
	KeysRemoved   []uint32 `json:"keys_removed,omitempty"`
	ThresholdFrom int      `json:"threshold_from"`
	ThresholdTo   int      `json:"threshold_to"`
	// Identity is IdentityNew (a new vault key; every secret re-encrypted,
	// so old shares open nothing in this version) or IdentityReshared
	// (the same vault key split into fresh shares).
	Identity string `json:"identity"`
}

// Rekey identities (RosterChange.Identity).
const (
	IdentityNew      = "new"
	IdentityReshared = "reshared"
)

// CarriedSeal is one secret carried across a rekey: the signed seal record
// (by its hex SealDigest) still attributes the value now stored as the
// ciphertext with hex SHA-256 Ciphertext.
type CarriedSeal struct {
	Name       string `json:"name"`
	Seal       string `json:"seal"`
	Ciphertext string `json:"ciphertext_sha256"`
}

// Policy is the quorum rule: Threshold of Custodians (N) must present a
// key; and the minimum attested PIN and touch policy of every custodian
// key, per use (see policy.go).
type Policy struct {
	Threshold  int `json:"threshold"`
	Custodians int `json:"custodians"`
	// MinimumKeyPolicy is signed with the rest of the roster. A vault
	// written before the field existed has none (nil, omitted from the file
	// and from the canonical roster, so its signatures and fingerprint stay
	// valid) and gets DefaultKeyPolicies; use KeyMinimum. "never" is never
	// a valid minimum.
	MinimumKeyPolicy *KeyPolicies `json:"minimum_key_policy,omitempty"`
	// DrillIntervalDays is how often the vault must be drilled (vault
	// check), signed with the roster: auditors flag a vault not drilled
	// within it. 0 (a vault written before the field existed, omitted from
	// the canonical roster) means DefaultDrillIntervalDays; see DrillInterval.
	DrillIntervalDays int `json:"drill_interval_days,omitempty"`
}

// DefaultDrillIntervalDays is the drill interval of a roster that states none.
const DefaultDrillIntervalDays = 90

// MaxDrillIntervalDays bounds the drill interval (ten years).
const MaxDrillIntervalDays = 3650

// DrillInterval is the signed drill interval, or the default when the
// roster states none; stated reports whether the roster states it.
func (p Policy) DrillInterval() (d time.Duration, stated bool) {
	if p.DrillIntervalDays == 0 {
		return DefaultDrillIntervalDays * 24 * time.Hour, false
	}
	return time.Duration(p.DrillIntervalDays) * 24 * time.Hour, true
}

// SetDrillInterval sets the signed drill interval of a vault nobody has
// signed yet (after Create, before SignRoster) and updates its fingerprint.
func (v *Vault) SetDrillInterval(days int) error {
	if len(v.Signatures) > 0 {
		return errors.New("setting the drill interval: the roster is already signed")
	}
	if days < 1 || days > MaxDrillIntervalDays {
		return fmt.Errorf("drill interval %d days: give 1 to %d days", days, MaxDrillIntervalDays)
	}
	v.Roster.Policy.DrillIntervalDays = days
	v.RecordedFingerprint = v.ComputeFingerprint()
	return nil
}

// Custodian is one person. All their keys (a primary and optional backups)
// open the same share and count once towards the quorum.
type Custodian struct {
	ID   string `json:"id"`   // short stable identifier, [a-z0-9._-]
	Name string `json:"name"` // display name
	Keys []Key  `json:"keys"`
}

// Key is one YubiKey of a custodian: a decryption key (age piv-p256) and a
// signing key (ES256), both generated on the device and attested.
type Key struct {
	Serial  uint32     `json:"serial"`
	Role    string     `json:"role"` // "primary" or "backup"
	Decrypt DecryptKey `json:"decrypt"`
	Sign    SignKey    `json:"sign"`
}

// DecryptKey is the P-256 key in a retired slot that shares are encrypted to.
type DecryptKey struct {
	Slot        Slot        `json:"slot"`
	Recipient   string      `json:"recipient"` // age1yubikey1…
	PIN         string      `json:"pin_policy"`
	Touch       string      `json:"touch_policy"`
	Attestation Attestation `json:"attestation"`
}

// SignKey is the P-256 key (slot 9c by default) that signs the roster and reports.
type SignKey struct {
	Slot        Slot        `json:"slot"`
	PublicKey   []byte      `json:"public_key"` // DER SubjectPublicKeyInfo (base64 in JSON)
	Attestation Attestation `json:"attestation"`
}

// Attestation holds the DER device (f9) and slot attestation certificates.
type Attestation struct {
	Device []byte `json:"device"`
	Slot   []byte `json:"slot"`
}

// Signature is one custodian's ES256 signature (ASN.1 DER) over RosterDigest,
// made with the signing key of the key with Serial.
type Signature struct {
	Custodian string `json:"custodian"`
	Serial    uint32 `json:"serial"`
	Signature []byte `json:"signature"`
}

// Share is custodian Custodian's Shamir share, encrypted to the decryption key
// of the key with Serial, as an ASCII-armored age file. SHA256 commits to the
// share plaintext (domain-separated, see shareCommitment) so a swapped or
// corrupted share is named before combining.
type Share struct {
	Custodian string `json:"custodian"`
	Serial    uint32 `json:"serial"`
	SHA256    string `json:"sha256"`
	Age       string `json:"age"`
}

// Kind is what a secret is; it decides how it is validated and shown.
type Kind string

// Secret kinds.
const (
	KindPassword      Kind = "password"
	KindTOTP          Kind = "totp"
	KindRecoveryCodes Kind = "recovery-codes"
	KindText          Kind = "text"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case KindPassword, KindTOTP, KindRecoveryCodes, KindText:
		return true
	}
	return false
}

// Secret is one sealed credential. Age is a binary age file (base64 in JSON)
// to the vault recipient. Seal is the sealer's signed record of the current
// value (nil: unattributed, never revealed as current) and History the
// records of the earlier versions, oldest first; see VerifySeal.
type Secret struct {
	Name             string       `json:"name"`
	Kind             Kind         `json:"kind"`
	SealedAt         time.Time    `json:"sealed_at"`
	PreviousSealedAt *time.Time   `json:"previous_sealed_at,omitempty"`
	Rotations        int          `json:"rotations"`
	LastRevealed     *Revealed    `json:"last_revealed,omitempty"`
	Age              []byte       `json:"age"`
	Seal             *SignedSeal  `json:"seal,omitempty"`
	History          []SignedSeal `json:"history,omitempty"`
}

// Revealed records that a secret was shown in a session: it is burned until
// it is sealed again (rotated).
type Revealed struct {
	Session string    `json:"session"`
	At      time.Time `json:"at"`
}

// Burned reports whether the secret was revealed since it was last sealed.
func (s *Secret) Burned() bool { return s.LastRevealed != nil }

// Slot is a PIV slot written in JSON as two hex digits ("82", "9c").
type Slot hardware.Slot

// MarshalText implements encoding.TextMarshaler.
func (s Slot) MarshalText() ([]byte, error) { return []byte(hardware.Slot(s).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Slot) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil || len(v) != 1 || !hardware.Slot(v[0]).Valid() {
		return fmt.Errorf("slot %q is not a PIV key slot (two hex digits: 82..95, 9a, 9c, 9d, 9e)", b)
	}
	*s = Slot(v[0])
	return nil
}

// PIV returns the slot as a hardware.Slot.
func (s Slot) PIV() hardware.Slot { return hardware.Slot(s) }

// Custodian returns the roster entry with id.
func (v *Vault) Custodian(id string) (Custodian, bool) {
	for _, c := range v.Roster.Custodians {
		if c.ID == id {
			return c, true
		}
	}
	return Custodian{}, false
}

// KeyBySerial finds the custodian and key with a YubiKey serial.
func (v *Vault) KeyBySerial(serial uint32) (Custodian, Key, bool) {
	for _, c := range v.Roster.Custodians {
		for _, k := range c.Keys {
			if k.Serial == serial {
				return c, k, true
			}
		}
	}
	return Custodian{}, Key{}, false
}

// Secret returns the secret named name.
func (v *Vault) Secret(name string) (*Secret, bool) {
	for i := range v.Secrets {
		if v.Secrets[i].Name == name {
			return &v.Secrets[i], true
		}
	}
	return nil, false
}

// Serials lists the custodian's key serials, primary first.
func (c Custodian) Serials() []uint32 {
	out := make([]uint32, len(c.Keys))
	for i, k := range c.Keys {
		out[i] = k.Serial
	}
	return out
}

// String is "Name (id)".
func (c Custodian) String() string { return fmt.Sprintf("%s (%s)", c.Name, c.ID) }

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == ""
}
