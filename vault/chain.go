package vault

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"breakglass/internal/inert"
)

// The roster chain. A vault's roster changes only by a rekey, which makes
// version n+1 from version n, in the manner of The Update Framework's root
// rotation: version n+1 names the digest of version n (Previous), is signed
// by every one of its own custodians (Signatures) and by a threshold of
// version n's custodians (Endorsements), each with a key version n enrolled.
// The vault keeps every earlier version (Chain), so an auditor who pinned
// any version's fingerprint walks the links to the version in use, and a
// report signed under any version is checked against that version.

// ErrChain: a link of the roster chain is missing, out of order, or not
// endorsed by a threshold of the version before it. Every *ChainError wraps it.
var ErrChain = errors.New("roster chain does not verify")

// maxEndorsements bounds a record's endorsements (one per custodian key).
const maxEndorsements = 256

// maxChain bounds how many roster versions a vault or report carries.
const maxChain = 1000

// ChainError names the roster version (its number and fingerprint) whose
// link does not verify, and why.
type ChainError struct {
	Version     int
	Fingerprint string
	Err         error
}

func (e *ChainError) Error() string {
	fp := e.Fingerprint
	if fp == "" {
		fp = "(unknown fingerprint)"
	}
	return fmt.Sprintf("roster version %d (%s): %v", e.Version, fp, e.Err)
}

// Unwrap returns the cause (wrapping ErrChain, ErrRosterSignature, …).
func (e *ChainError) Unwrap() []error { return []error{ErrChain, e.Err} }

// Versions lists every roster version of v, oldest first; the last is the
// roster in use (RosterRecord).
func (v *Vault) Versions() []RosterRecord {
	return append(slices.Clone(v.Chain), v.RosterRecord())
}

// VersionIndex returns the index in versions of the version whose digest
// matches pin (ParsePin's form), or -1.
func VersionIndex(versions []RosterRecord, pin string) int {
	return slices.IndexFunc(versions, func(r RosterRecord) bool { return PinMatches(r.Digest, pin) })
}

// ChainVersion is one verified roster version.
type ChainVersion struct {
	Record    RosterRecord
	Roster    *Roster
	recipient string
}

// VerifyChain verifies the roster versions, oldest first: each on its own
// (VerifyRosterRecord: every custodian signed it, every key attested, every
// attested policy at least its minimum), numbered 1, 2, … in order, each
// naming the digest of the one before (Previous), and each after the first
// endorsed by a threshold of the previous version's custodians: distinct
// custodians of that version, each signing this version's digest with a
// signing key that version enrolled. The first failure is a *ChainError
// naming the version.
func VerifyChain(versions []RosterRecord, opts VerifyOptions) ([]ChainVersion, error) {
	if len(versions) == 0 || len(versions) > maxChain {
		return nil, &ChainError{Version: 0, Err: fmt.Errorf("%w: %d roster versions, want 1 to %d", ErrChain, len(versions), maxChain)}
	}
	out := make([]ChainVersion, 0, len(versions))
	for i, rec := range versions {
		n := i + 1
		fail := func(err error) ([]ChainVersion, error) {
			return nil, &ChainError{Version: n, Fingerprint: FingerprintOfDigest(rec.Digest), Err: err}
		}
		pv, err := parseRosterRecord(rec)
		if err == nil {
			err = pv.verifyOwnRoster(opts)
		}
		if err != nil {
			return fail(err)
		}
		r := &pv.Roster
		if r.Number() != n {
			return fail(fmt.Errorf("%w: it says it is version %d but is number %d in the chain (a version is missing or out of order)", ErrChain, r.Number(), n))
		}
		if i == 0 {
			if len(rec.Endorsements) > 0 {
				return fail(fmt.Errorf("%w: a first roster has no previous version to endorse it", ErrChain))
			}
			out = append(out, ChainVersion{Record: rec, Roster: r, recipient: pv.Recipient})
			continue
		}
		prev := out[i-1]
		if r.Previous != prev.Record.Digest {
			return fail(fmt.Errorf("%w: it names previous roster %s, not version %d (%s): there is a gap in the chain",
				ErrChain, orDigest(r.Previous), n-1, FingerprintOfDigest(prev.Record.Digest)))
		}
		if err := checkEndorsements(rec, prev.Roster, n-1); err != nil {
			return fail(err)
		}
		if err := checkContinuity(prev, r, pv.Recipient, n-1); err != nil {
			return fail(err)
		}
		out = append(out, ChainVersion{Record: rec, Roster: r, recipient: pv.Recipient})
	}
	return out, nil
}

func orDigest(d string) string {
	if fp := FingerprintOfDigest(d); fp != "" {
		return fp
	}
	return fmt.Sprintf("%q", d)
}

// checkEndorsements counts the distinct custodians of prev (version
// prevN) whose endorsement of rec verifies with a signing key prev
// enrolled for them, and requires prev's threshold. An endorsement that
// does not verify, or names a key prev did not enroll, is an error, not
// merely uncounted: nothing unverifiable is kept in a chain.
func checkEndorsements(rec RosterRecord, prev *Roster, prevN int) error {
	digest, err := hex.DecodeString(rec.Digest)
	if err != nil || len(digest) != 32 {
		return fmt.Errorf("%w: digest is not hex SHA-256", ErrChain)
	}
	counted := map[string]bool{}
	for j, e := range rec.Endorsements {
		k, ok := prev.keyOf(e.Custodian, e.Serial)
		if !ok {
			return fmt.Errorf("%w: endorsement %d is by %q with YubiKey %d, which version %d did not enroll", ErrChain, j+1, e.Custodian, e.Serial, prevN)
		}
		pub, err := signingKey(k.Sign.PublicKey)
		if err != nil || !ecdsa.VerifyASN1(pub, digest, e.Signature) {
			return fmt.Errorf("%w: %w: the endorsement by %q (YubiKey %d) does not verify", ErrChain, ErrRosterSignature, e.Custodian, e.Serial)
		}
		if counted[e.Custodian] {
			return fmt.Errorf("%w: %q endorsed twice", ErrChain, e.Custodian)
		}
		counted[e.Custodian] = true
	}
	if need := prev.Policy.Threshold; len(counted) < need {
		return fmt.Errorf("%w: endorsed by %d custodians of version %d, %d needed: a roster change needs a quorum of the roster it replaces", ErrChain, len(counted), prevN, need)
	}
	return nil
}

// checkContinuity checks that version cur says truly what changed from
// prev (version prevN), so the change every signer was shown and every
// auditor reads is the change made: a key kept is the same key of the same
// custodian (no key moves between people, no custodian is renamed or
// re-keyed under the same serial), the signed change lists exactly the
// custodians and keys added and removed and the threshold before and
// after, and the vault identity is new — a new recipient — whenever anyone
// or any key left or the threshold rose (else old shares would still open
// it), and the same recipient exactly when it says reshared.
func checkContinuity(prev ChainVersion, cur *Roster, recipient string, prevN int) error {
	for _, c := range cur.Custodians {
		for _, k := range c.Keys {
			for _, pc := range prev.Roster.Custodians {
				for _, pk := range pc.Keys {
					if pk.Serial != k.Serial {
						continue
					}
					if pc.ID != c.ID {
						return fmt.Errorf("%w: YubiKey %d is enrolled for %q in version %d and for %q here: a key cannot move between custodians", ErrChain, k.Serial, pc.ID, prevN, c.ID)
					}
					if !bytes.Equal(pk.Sign.PublicKey, k.Sign.PublicKey) || pk.Decrypt.Recipient != k.Decrypt.Recipient ||
						pk.Sign.Slot != k.Sign.Slot || pk.Decrypt.Slot != k.Decrypt.Slot {
						return fmt.Errorf("%w: YubiKey %d of %q has other keys than in version %d: a replaced key is removed and enrolled anew", ErrChain, k.Serial, c.ID, prevN)
					}
				}
			}
		}
		for _, pc := range prev.Roster.Custodians {
			if pc.ID == c.ID && pc.Name != c.Name {
				return fmt.Errorf("%w: custodian %q is named %s here but %s in version %d", ErrChain, c.ID, inert.Line(c.Name), inert.Line(pc.Name), prevN)
			}
		}
	}
	ch := cur.Change
	added, removed := custodianDiff(prev.Roster.Custodians, cur.Custodians)
	kAdded, kRemoved := keyDiff(prev.Roster.Custodians, cur.Custodians)
	switch {
	case ch == nil:
		return fmt.Errorf("%w: a rekeyed roster says what changed", ErrChain)
	case !slices.Equal(ch.Added, added) || !slices.Equal(ch.Removed, removed):
		return fmt.Errorf("%w: its signed change lists custodians added %v and removed %v, but the rosters differ by added %v and removed %v", ErrChain, ch.Added, ch.Removed, added, removed)
	case !slices.Equal(ch.KeysAdded, kAdded) || !slices.Equal(ch.KeysRemoved, kRemoved):
		return fmt.Errorf("%w: its signed change lists keys added %v and removed %v, but the rosters differ by added %v and removed %v", ErrChain, ch.KeysAdded, ch.KeysRemoved, kAdded, kRemoved)
	case ch.ThresholdFrom != prev.Roster.Policy.Threshold || ch.ThresholdTo != cur.Policy.Threshold:
		return fmt.Errorf("%w: its signed change says threshold %d → %d, but the rosters say %d → %d", ErrChain, ch.ThresholdFrom, ch.ThresholdTo, prev.Roster.Policy.Threshold, cur.Policy.Threshold)
	}
	mustBeNew := len(removed) > 0 || len(kRemoved) > 0 || cur.Policy.Threshold > prev.Roster.Policy.Threshold
	switch {
	case ch.Identity == IdentityReshared && mustBeNew:
		return fmt.Errorf("%w: someone or some key left or the threshold rose, but the vault identity was only reshared: old shares would still open it", ErrChain)
	case ch.Identity == IdentityReshared && recipient != prev.recipient:
		return fmt.Errorf("%w: it says the identity was reshared but the vault recipient changed", ErrChain)
	case ch.Identity == IdentityNew && recipient == prev.recipient:
		return fmt.Errorf("%w: it says a new vault identity was made but the vault recipient is the old one: old shares still open it", ErrChain)
	}
	return nil
}

// keyOf finds custodian id's key with serial.
func (r *Roster) keyOf(id string, serial uint32) (Key, bool) {
	for _, c := range r.Custodians {
		if c.ID != id {
			continue
		}
		for _, k := range c.Keys {
			if k.Serial == serial {
				return k, true
			}
		}
	}
	return Key{}, false
}

// validateChain checks the shape of the chain (Parse): as many earlier
// versions as the roster's number says, each a well-formed record of the
// next number, linked by digest to the one before, the last linked from the
// roster in use. Signatures and endorsements are VerifyChain's job.
func (v *Vault) validateChain() error {
	n := v.Roster.Number()
	if len(v.Chain) != n-1 {
		return fieldErr("chain", "holds %d earlier roster versions but the roster is version %d: restore the vault file from its backup", len(v.Chain), n)
	}
	if len(v.Endorsements) > maxEndorsements {
		return fieldErr("endorsements", "holds %d signatures, more than %d", len(v.Endorsements), maxEndorsements)
	}
	if n == 1 && len(v.Endorsements) > 0 {
		return fieldErr("endorsements", "a first roster has no previous version to endorse it")
	}
	prev := ""
	for i, rec := range v.Chain {
		f := fmt.Sprintf("chain[%d]", i)
		old, err := parseRosterRecord(rec)
		if err != nil {
			return fieldErr(f, "%v", err)
		}
		if old.Roster.Number() != i+1 {
			return fieldErr(f, "is roster version %d, want %d", old.Roster.Number(), i+1)
		}
		if old.Roster.Previous != prev {
			return fieldErr(f+".previous", "does not name the version before it")
		}
		prev = rec.Digest
	}
	if v.Roster.Previous != prev {
		return fieldErr("roster.previous", "does not name the last version of the chain")
	}
	return nil
}

// validateRekeyFields checks the rekey fields of a roster (validateRoster).
func (r *Roster) validateRekeyFields() error {
	if r.Version == 1 || r.Version < 0 {
		return fieldErr("roster.version", "is %d: a first roster has no version field, a rekeyed one 2 or more", r.Version)
	}
	if r.Version == 0 {
		if r.Previous != "" || r.Change != nil || len(r.Carried) > 0 {
			return fieldErr("roster", "a first roster has no previous version, change or carried seals")
		}
		return nil
	}
	if b, err := hex.DecodeString(r.Previous); err != nil || len(b) != 32 {
		return fieldErr("roster.previous", "is not the hex digest of the previous roster")
	}
	if r.Change == nil {
		return fieldErr("roster.change", "missing: a rekeyed roster says what changed")
	}
	if id := r.Change.Identity; id != IdentityNew && id != IdentityReshared {
		return fieldErr("roster.change.identity", "is %q, want %q or %q", id, IdentityNew, IdentityReshared)
	}
	seen := map[string]bool{}
	for i, c := range r.Carried {
		f := fmt.Sprintf("roster.carried[%d]", i)
		if !validID(c.Name) || seen[c.Name] {
			return fieldErr(f+".name", "%q is not a secret name or appears twice", c.Name)
		}
		seen[c.Name] = true
		for _, h := range []string{c.Seal, c.Ciphertext} {
			if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
				return fieldErr(f, "digests must be hex SHA-256")
			}
		}
	}
	return nil
}

// carried returns the roster's carried seal of the secret name.
func (r *Roster) carried(name string) (CarriedSeal, bool) {
	i := slices.IndexFunc(r.Carried, func(c CarriedSeal) bool { return c.Name == name })
	if i < 0 {
		return CarriedSeal{}, false
	}
	return r.Carried[i], true
}

// versionRoster returns the roster of the chain version with hex digest d
// (structurally parsed; VerifyRoster verifies the chain), and its number.
func (v *Vault) versionRoster(d string) (*Vault, bool) {
	for _, rec := range v.Chain {
		if rec.Digest == d {
			old, err := parseRosterRecord(rec)
			return old, err == nil
		}
	}
	return nil, false
}
