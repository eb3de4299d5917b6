package vault

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/awnumar/memguard"
	"github.com/hashicorp/vault/shamir"

	"breakglass/hardware"
	"breakglass/internal/inert"
)

// A rekey makes the next roster version (see chain.go) with a quorum of the
// current one, in the manner of HashiCorp Vault's rekey/rotate split: when
// anyone or any key leaves, or the threshold rises, the vault gets a NEW
// identity and every secret is re-encrypted to it inside locked memory, so
// an old share — alone, or with old copies of the vault file — opens
// nothing sealed or re-encrypted after the rekey; when custodians or keys
// are only added, the same identity is split into fresh shares (reshared).
// Either way every custodian gets a fresh share, the new roster is signed
// by all of its custodians and endorsed by a threshold of the old one, and
// every signed seal is carried: the new roster vouches that each stored
// ciphertext is the value its sealer signed.

// ErrRekey: a rekey request is not possible as given. Every *RekeyError wraps it.
var ErrRekey = errors.New("the roster change is not possible")

// RekeyError says what in a rekey request is wrong and what to do instead.
type RekeyError struct{ Reason string }

func (e *RekeyError) Error() string { return e.Reason }

// Unwrap returns ErrRekey.
func (e *RekeyError) Unwrap() error { return ErrRekey }

func rekeyErr(format string, a ...any) error {
	return &RekeyError{Reason: fmt.Sprintf(format, a...)}
}

// RekeyRequest is a roster change.
type RekeyRequest struct {
	// Add are enrolment records of new custodians (two records with one ID
	// are one person's primary and backup keys, as MergeCustodians).
	Add []Custodian
	// AddKeys are enrolment records of new keys (backups) of custodians
	// already on the roster.
	AddKeys []Custodian
	// Remove are the ids of custodians who leave.
	Remove []string
	// RemoveKeys are the serials of keys that leave (lost, stolen, retired).
	RemoveKeys []uint32
	// Threshold is the new threshold; 0 keeps the current one.
	Threshold int
	// Reason is why, in the custodians' words (plain text, signed).
	Reason string
	Now    time.Time
}

// RekeyPlan is a checked roster change, ready for a quorum to carry out
// (Opened.Rekey). It holds only public data.
type RekeyPlan struct {
	from   *Vault
	roster Roster // the new roster, without Carried (set by Rekey)
}

// Change is what the plan changes.
func (p *RekeyPlan) Change() RosterChange { return *p.roster.Change }

// Roster is the new roster as planned (its keys can be verified before
// anyone is asked for a PIN: Roster.VerifyKeys).
func (p *RekeyPlan) Roster() *Roster { return &p.roster }

// NewIdentity reports whether the rekey makes a new vault identity.
func (p *RekeyPlan) NewIdentity() bool { return p.roster.Change.Identity == IdentityNew }

// maxReason bounds a rekey reason.
const maxReason = 500

// PlanRekey checks a roster change against v and builds the new roster:
// the result must keep M ≥ 2 and M ≤ N, name no person twice (by id, by
// name or by YubiKey), leave every custodian at least one key, and change
// something. Errors are *RekeyError saying what to do instead.
func (v *Vault) PlanRekey(req RekeyRequest) (*RekeyPlan, error) {
	if strings.TrimSpace(req.Reason) != req.Reason || len(req.Reason) > maxReason || !inert.Safe(req.Reason) {
		return nil, rekeyErr("the reason must be plain text of at most %d characters, without control or invisible characters or surrounding spaces", maxReason)
	}
	old := v.Roster
	byID := map[string]int{}
	custodians := make([]Custodian, 0, len(old.Custodians))
	for _, c := range old.Custodians {
		c.Keys = slices.Clone(c.Keys)
		byID[c.ID] = len(custodians)
		custodians = append(custodians, c)
	}
	removed := map[string]bool{}
	for _, id := range req.Remove {
		if _, ok := byID[id]; !ok {
			return nil, rekeyErr("--remove %s: no custodian with that id is on the roster (vault inspect lists them)", id)
		}
		if removed[id] {
			return nil, rekeyErr("--remove %s is given twice", id)
		}
		removed[id] = true
	}
	change := RosterChange{Reason: req.Reason, ThresholdFrom: old.Policy.Threshold}
	oldSerials := map[uint32]string{}
	for _, c := range old.Custodians {
		for _, k := range c.Keys {
			oldSerials[k.Serial] = c.ID
		}
	}
	for _, s := range req.RemoveKeys {
		id, ok := oldSerials[s]
		switch {
		case !ok:
			return nil, rekeyErr("--remove-key %d: no key with that serial is on the roster (vault inspect lists them)", s)
		case removed[id]:
			return nil, rekeyErr("--remove-key %d: it is a key of %s, who is removed with all their keys already", s, id)
		}
		i := byID[id]
		j := slices.IndexFunc(custodians[i].Keys, func(k Key) bool { return k.Serial == s })
		if j < 0 {
			return nil, rekeyErr("--remove-key %d is given twice", s)
		}
		custodians[i].Keys = slices.Delete(custodians[i].Keys, j, j+1)
	}
	serialOwner := map[uint32]string{}
	for _, c := range custodians {
		for _, k := range c.Keys {
			serialOwner[k.Serial] = c.ID
		}
	}
	for _, r := range req.AddKeys {
		i, ok := byID[r.ID]
		switch {
		case !ok:
			return nil, rekeyErr("--add-key: the record is for %q, who is not on the roster: add a new custodian with --add", r.ID)
		case removed[r.ID]:
			return nil, rekeyErr("--add-key: the record is for %q, who is removed by this rekey", r.ID)
		case custodians[i].Name != r.Name:
			return nil, rekeyErr("--add-key: the record for %q names %q but the roster says %q: enrol the key with the same name", r.ID, r.Name, custodians[i].Name)
		}
		for _, k := range r.Keys {
			if owner, was := oldSerials[k.Serial]; was {
				return nil, rekeyErr("--add-key: YubiKey %d is enrolled for %s on the current roster: a key cannot be removed and added again in one rekey, nor move to another custodian", k.Serial, owner)
			}
			if owner, dup := serialOwner[k.Serial]; dup {
				return nil, rekeyErr("--add-key: YubiKey %d is already enrolled for %s", k.Serial, owner)
			}
			serialOwner[k.Serial] = r.ID
			k.Role = "backup"
			custodians[i].Keys = append(custodians[i].Keys, k)
		}
	}
	added := MergeCustodians(req.Add)
	for _, a := range added {
		if _, ok := byID[a.ID]; ok {
			return nil, rekeyErr("--add: %s is already on the roster; one person holds one share (to give them another key use --add-key)", a)
		}
		for _, c := range custodians {
			if !removed[c.ID] && nameSkeleton(c.Name) == nameSkeleton(a.Name) {
				return nil, rekeyErr("--add: %q is already on the roster as %s; one person holds one share", a.Name, c.ID)
			}
		}
		for _, k := range a.Keys {
			if owner, was := oldSerials[k.Serial]; was {
				return nil, rekeyErr("--add: YubiKey %d of %s is enrolled for %s on the current roster: a key cannot be removed and added again in one rekey, nor move to another custodian", k.Serial, a.ID, owner)
			}
			if owner, dup := serialOwner[k.Serial]; dup {
				return nil, rekeyErr("--add: YubiKey %d of %s is already enrolled for %s", k.Serial, a.ID, owner)
			}
			serialOwner[k.Serial] = a.ID
		}
		change.Added = append(change.Added, a.ID)
	}
	var next []Custodian
	for _, c := range custodians {
		if removed[c.ID] {
			change.Removed = append(change.Removed, c.ID)
			continue
		}
		if len(c.Keys) == 0 {
			return nil, rekeyErr("--remove-key leaves %s with no key: add their new key in the same rekey (--add-key) or remove them (--remove %s)", c, c.ID)
		}
		for j := range c.Keys {
			c.Keys[j].Role = "backup"
		}
		c.Keys[0].Role = "primary"
		next = append(next, c)
	}
	next = append(next, added...)
	change.KeysAdded, change.KeysRemoved = keyDiff(old.Custodians, next)
	m := old.Policy.Threshold
	if req.Threshold != 0 {
		m = req.Threshold
	}
	change.ThresholdTo = m
	n := len(next)
	switch {
	case m < 2:
		return nil, rekeyErr("--threshold %d: at least 2 custodians must be needed to open a vault", m)
	case m > n && n < 2:
		return nil, rekeyErr("the new roster would have %d custodians but the threshold is %d: a vault needs at least 2 custodians; remove fewer or add one (--add)", n, m)
	case m > n:
		return nil, rekeyErr("the new roster would have %d custodians but the threshold is %d: give --threshold %d or less, or remove fewer custodians", n, m, n)
	case len(change.Added) == 0 && len(change.Removed) == 0 && len(change.KeysAdded) == 0 && len(change.KeysRemoved) == 0 && m == old.Policy.Threshold:
		return nil, rekeyErr("nothing to change: give --add, --remove, --add-key, --remove-key or a new --threshold")
	}
	change.Identity = IdentityReshared
	if len(change.Removed) > 0 || len(change.KeysRemoved) > 0 || m > old.Policy.Threshold {
		change.Identity = IdentityNew
	}
	policy := old.Policy
	policy.Threshold, policy.Custodians = m, n
	if policy.MinimumKeyPolicy == nil {
		// State the minimum the old roster implied, so the new one signs it.
		mk := old.Policy.KeyMinimum()
		policy.MinimumKeyPolicy = &mk
	}
	created := req.Now.UTC().Truncate(time.Second)
	if created.Before(old.Created) {
		return nil, rekeyErr("the station clock (%s) is before the current roster's creation (%s): set the clock", created.Format(time.RFC3339), old.Created.UTC().Format(time.RFC3339))
	}
	p := &RekeyPlan{from: v, roster: Roster{
		Created: created, Policy: policy, Custodians: next,
		Version: old.Number() + 1, Previous: v.RosterDigestHex(), Change: &change,
	}}
	probe := &Vault{Roster: p.roster}
	if err := probe.validateRoster(); err != nil {
		return nil, rekeyErr("the new roster is not valid: %v", err)
	}
	return p, nil
}

// keyDiff lists the serials in next but not in old, and in old but not in
// next, each in roster order.
func keyDiff(old, next []Custodian) (added, removed []uint32) {
	in := func(list []Custodian) map[uint32]bool {
		m := map[uint32]bool{}
		for _, c := range list {
			for _, k := range c.Keys {
				m[k.Serial] = true
			}
		}
		return m
	}
	o, n := in(old), in(next)
	for _, c := range next {
		for _, k := range c.Keys {
			if !o[k.Serial] {
				added = append(added, k.Serial)
			}
		}
	}
	for _, c := range old {
		for _, k := range c.Keys {
			if !n[k.Serial] {
				removed = append(removed, k.Serial)
			}
		}
	}
	return added, removed
}

// custodianDiff lists the ids in next but not in old, and in old but not
// in next, each in roster order.
func custodianDiff(old, next []Custodian) (added, removed []string) {
	has := func(list []Custodian, id string) bool {
		return slices.ContainsFunc(list, func(c Custodian) bool { return c.ID == id })
	}
	for _, c := range next {
		if !has(old, c.ID) {
			added = append(added, c.ID)
		}
	}
	for _, c := range old {
		if !has(next, c.ID) {
			removed = append(removed, c.ID)
		}
	}
	return added, removed
}

// RekeyResult is a rekeyed vault, unsigned, and what became of each secret.
type RekeyResult struct {
	Vault *Vault
	// Unattributed lists secrets with no signed seal: carried as they
	// were (still unattributed; re-seal them).
	Unattributed []string
}

// Rekey carries out plan with o, the vault opened by a quorum of the
// roster the plan was made from. It returns the new vault, not yet signed
// (SignRekey), with fresh shares for every custodian; a new identity and
// every secret re-encrypted to it in locked memory when the plan says so;
// every signed seal carried; the old roster appended to the chain; no
// drills (the new shares are unproven). o's vault is not changed. A secret
// whose seal does not verify stops the rekey: the vault may have been
// tampered with — find out, re-seal it, then rekey.
func (o *Opened) Rekey(plan *RekeyPlan) (*RekeyResult, error) {
	if plan.from != o.v {
		return nil, rekeyErr("the plan was made for another vault than the one opened")
	}
	if !o.key.IsAlive() {
		return nil, fmt.Errorf("rekeying: %w", ErrLocked)
	}
	res := &RekeyResult{}
	var carried []CarriedSeal
	type kept struct {
		name   string
		digest string
	}
	var seals []kept
	for _, s := range o.v.Secrets {
		a, err := o.v.VerifySeal(s.Name)
		switch {
		case errors.Is(err, ErrUnattributed):
			res.Unattributed = append(res.Unattributed, s.Name)
		case err != nil:
			return nil, fmt.Errorf("rekeying: %w", err)
		default:
			seals = append(seals, kept{s.Name, a.Digest})
		}
	}
	key := o.key
	if plan.NewIdentity() {
		key = memguard.NewBufferRandom(vaultKeySize)
		defer key.Destroy()
	}
	recipient, err := recipientOf(key.Bytes())
	if err != nil {
		return nil, err
	}
	secrets := make([]Secret, len(o.v.Secrets))
	for i, s := range o.v.Secrets {
		s.History = slices.Clone(s.History)
		if plan.NewIdentity() {
			if s.Age, err = o.reencrypt(s, key, recipient); err != nil {
				return nil, err
			}
		}
		secrets[i] = s
	}
	for _, k := range seals {
		i := slices.IndexFunc(secrets, func(s Secret) bool { return s.Name == k.name })
		carried = append(carried, CarriedSeal{Name: k.name, Seal: k.digest, Ciphertext: ciphertextDigest(secrets[i].Age)})
	}
	r := plan.roster
	r.Custodians = slices.Clone(r.Custodians)
	r.Carried = carried
	nv := &Vault{
		Format: FormatName, Version: FormatVersion, Roster: r, Recipient: recipient,
		Signatures: []Signature{}, Endorsements: []Signature{},
		Chain:  append(slices.Clone(o.v.Chain), o.v.RosterRecord()),
		Shares: []Share{}, Secrets: secrets,
	}
	parts, err := shamir.Split(key.Bytes(), len(r.Custodians), r.Policy.Threshold)
	if err != nil {
		return nil, fmt.Errorf("splitting vault key: %w", err)
	}
	defer func() {
		for _, p := range parts {
			memguard.WipeBytes(p)
		}
	}()
	for i, c := range r.Custodians {
		for _, k := range c.Keys {
			s, err := sealShare(c.ID, k, parts[i])
			if err != nil {
				return nil, err
			}
			nv.Shares = append(nv.Shares, s)
		}
	}
	nv.RecordedFingerprint = nv.ComputeFingerprint()
	if err := nv.validate(); err != nil {
		return nil, fmt.Errorf("rekeying: the new vault is not valid: %w", err)
	}
	res.Vault = nv
	return res, nil
}

// reencrypt decrypts s with the opened identity and encrypts it to
// recipient, all in locked memory, then proves the new ciphertext opens
// with key to the same plaintext.
func (o *Opened) reencrypt(s Secret, key *memguard.LockedBuffer, recipient string) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("rekeying: re-encrypting %q: %w", s.Name, err)
	}
	hdr := secretHeader(s.Name, s.Kind)
	p, err := decryptLocked(o.arena, s.Age, o.id, len(hdr)+MaxSecretSize)
	if err != nil {
		return fail(fmt.Errorf("%w: it does not decrypt with the vault key; restore the vault file from a copy", ErrSecretCorrupt))
	}
	defer p.Destroy()
	if !bytes.HasPrefix(p.Bytes(), hdr) {
		return fail(fmt.Errorf("%w: the sealed value belongs to another entry or kind", ErrSecretCorrupt))
	}
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return fail(err)
	}
	ct, err := encryptLocked(p.Bytes(), r)
	if err != nil {
		return fail(err)
	}
	id, err := newLockedX25519(key)
	if err != nil {
		return fail(err)
	}
	back, err := decryptLocked(o.arena, ct, id, len(hdr)+MaxSecretSize)
	if err != nil {
		return fail(errors.New("the new ciphertext does not decrypt with the new key"))
	}
	defer back.Destroy()
	if subtle.ConstantTimeCompare(back.Bytes(), p.Bytes()) != 1 {
		return fail(errors.New("the new ciphertext does not give the sealed value back"))
	}
	return ct, nil
}

// Previous returns the roster version this vault's roster replaced
// (structurally parsed; VerifyRoster verifies it), or false for a first
// roster.
func (v *Vault) Previous() (*Vault, bool) {
	if len(v.Chain) == 0 {
		return nil, false
	}
	old, err := parseRosterRecord(v.Chain[len(v.Chain)-1])
	return old, err == nil
}

// RekeySigner says what one SignRekey signature counted as.
type RekeySigner struct {
	Custodian Custodian
	Serial    uint32
	Member    bool // signed the new roster as one of its custodians
	Endorser  bool // endorsed it as a custodian of the previous version
}

// SignRekey has the YubiKey tok sign the rekeyed roster (PIN and touch as
// the slot requires) after checking that its signing slot holds the key
// enrolled for it. One signature counts as a custodian's signature of the
// new roster if tok is enrolled in it, and as an endorsement if tok is
// enrolled in the previous version; a key in neither is refused. Signing
// again replaces the earlier signature.
func (v *Vault) SignRekey(ctx context.Context, tok hardware.Token, pin string) (RekeySigner, error) {
	prev, ok := v.Previous()
	if !ok {
		return RekeySigner{}, errors.New("signing the rekeyed roster: this vault has no previous roster version")
	}
	serial := tok.Serial()
	nc, nk, member := v.KeyBySerial(serial)
	oc, ok2, endorser := prev.KeyBySerial(serial)
	if !member && !endorser {
		return RekeySigner{}, &NotOnRosterError{Serial: serial}
	}
	k, c := nk, nc
	if !member {
		k, c = ok2, oc
	}
	want, err := signingKey(k.Sign.PublicKey)
	if err != nil {
		return RekeySigner{}, err
	}
	info, err := tok.KeyInfo(ctx, k.Sign.Slot.PIV())
	if err != nil {
		return RekeySigner{}, fmt.Errorf("reading signing key in slot %s of YubiKey %d: %w", k.Sign.Slot.PIV(), serial, err)
	}
	if !samePublicKey(info.Public, want) || (member && endorser && !bytes.Equal(nk.Sign.PublicKey, ok2.Sign.PublicKey)) {
		return RekeySigner{}, &KeyMismatchError{Serial: serial, What: fmt.Sprintf("signing key in slot %s differs from the roster", k.Sign.Slot.PIV())}
	}
	digest := v.RosterDigest()
	sig, err := tok.Sign(ctx, k.Sign.Slot.PIV(), digest[:], pin)
	if err != nil {
		return RekeySigner{}, fmt.Errorf("signing the rekeyed roster on YubiKey %d: %w", serial, err)
	}
	if !ecdsa.VerifyASN1(want, digest[:], sig) {
		return RekeySigner{}, fmt.Errorf("signing the rekeyed roster on YubiKey %d: %w: the key returned a signature that does not verify", serial, ErrRosterSignature)
	}
	put := func(list []Signature, id string) []Signature {
		s := Signature{Custodian: id, Serial: serial, Signature: sig}
		i := slices.IndexFunc(list, func(x Signature) bool { return x.Custodian == id })
		if i >= 0 {
			list[i] = s
			return list
		}
		return append(list, s)
	}
	if member {
		v.Signatures = put(v.Signatures, nc.ID)
	}
	if endorser {
		v.Endorsements = put(v.Endorsements, oc.ID)
	}
	return RekeySigner{Custodian: c, Serial: serial, Member: member, Endorser: endorser}, nil
}

// RekeyProgress is who still has to sign a rekeyed roster.
type RekeyProgress struct {
	Unsigned []Custodian // custodians of the new roster who have not signed it
	Endorsed []string    // custodians of the previous version who endorsed it
	Need     int         // endorsements needed (the previous threshold)
}

// Done reports whether the rekeyed roster has every signature it needs.
func (p RekeyProgress) Done() bool { return len(p.Unsigned) == 0 && len(p.Endorsed) >= p.Need }

// RekeyProgress says who still has to sign or endorse v's roster.
func (v *Vault) RekeyProgress() RekeyProgress {
	p := RekeyProgress{Unsigned: v.Unsigned(), Endorsed: []string{}}
	if prev, ok := v.Previous(); ok {
		p.Need = prev.Roster.Policy.Threshold
	}
	for _, e := range v.Endorsements {
		if !slices.Contains(p.Endorsed, e.Custodian) {
			p.Endorsed = append(p.Endorsed, e.Custodian)
		}
	}
	return p
}
