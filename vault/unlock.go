package vault

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/awnumar/memguard"
	"github.com/hashicorp/vault/shamir"

	"breakglass/hardware"
	"breakglass/vault/pivp256"
)

// Unlock collects one share per custodian until the threshold is reached.
// It is a session object; it is not safe for concurrent use. Shares are
// held in locked memory and wiped by Open or Abort.
type Unlock struct {
	v      *Vault
	opts   VerifyOptions
	shares map[string]*memguard.LockedBuffer // custodian ID -> share
	order  []string                          // custodian IDs in the order counted
	// lastTry holds serials whose custodian confirmed using their last PIN attempt.
	lastTry map[uint32]bool
	// attested holds serials whose roster attestation verified in this
	// Unlock: it is checked once per key, never read from the card again.
	attested map[uint32]bool
}

// Unlocker starts collecting a quorum. opts are the trust roots used to
// check each presented key's attestation.
func (v *Vault) Unlocker(opts VerifyOptions) *Unlock {
	return &Unlock{v: v, opts: opts, shares: map[string]*memguard.LockedBuffer{}, lastTry: map[uint32]bool{}, attested: map[uint32]bool{}}
}

// ConfirmLastPINRetry records that the custodian of the key with serial
// explicitly accepted that their next PIN attempt is their last: the next
// AddShare or CheckShare on it proceeds. The confirmation is used once.
func (u *Unlock) ConfirmLastPINRetry(serial uint32) { u.lastTry[serial] = true }

// CheckPINRetries reads tok's PIN retry counter and refuses to let a PIN be
// tried when none is left (hardware.ErrPINBlocked) or when only one is left
// and confirmed is false (*LastPINRetryError). A counter the key will not
// give because its PIN is already verified (hardware.RetriesUnknown) is full.
func CheckPINRetries(ctx context.Context, tok hardware.Token, confirmed bool) error {
	info, err := tok.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading PIN retries of YubiKey %d: %w", tok.Serial(), err)
	}
	return retriesAllow(tok.Serial(), info.PINRetries, confirmed)
}

// retriesAllow is CheckPINRetries' rule for a counter already read.
func retriesAllow(serial uint32, retries int, confirmed bool) error {
	switch {
	case retries == 0:
		return fmt.Errorf("YubiKey %d: %w; unblock it with the PUK (ykman piv access unblock-pin)", serial, hardware.ErrPINBlocked)
	case retries == 1 && !confirmed:
		return &LastPINRetryError{Serial: serial}
	}
	return nil
}

// Needed returns how many custodians are counted and how many are needed.
func (u *Unlock) Needed() (have, need int) { return len(u.order), u.v.Roster.Policy.Threshold }

// Counted lists the custodians counted so far, in order.
func (u *Unlock) Counted() []Custodian {
	out := make([]Custodian, 0, len(u.order))
	for _, id := range u.order {
		c, _ := u.v.Custodian(id)
		out = append(out, c)
	}
	return out
}

// Remaining lists the custodians not yet counted, in roster order.
func (u *Unlock) Remaining() []Custodian {
	var out []Custodian
	for _, c := range u.v.Roster.Custodians {
		if _, ok := u.shares[c.ID]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// Identify says whose key tok is, without a PIN: its serial is on the
// roster (*NotOnRosterError), its custodian is not yet counted
// (*AlreadyCountedError, also for the custodian's other key) and the
// roster's attestation of its decryption key verifies (ErrAttestation)
// with an attested policy at least the vault's minimum (*PolicyError;
// checked once per key per Unlock, from the roster, never re-read from the
// card). When tok can run a whole unlock in one card session
// (hardware.Sessioner), Identify does not use the card at all and the check
// that the decryption slot holds the enrolled key (*KeyMismatchError) is
// the first step of AddShare's or CheckShare's session, before any PIN is
// sent; otherwise Identify reads the slot itself.
func (u *Unlock) Identify(ctx context.Context, tok hardware.Token) (Custodian, error) {
	c, k, err := u.check(tok)
	if err != nil {
		return c, err
	}
	if _, ok := tok.(hardware.Sessioner); !ok {
		info, err := tok.KeyInfo(ctx, k.Decrypt.Slot.PIV())
		if err := slotHolds(k, info, err); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (u *Unlock) check(tok hardware.Token) (Custodian, Key, error) {
	c, k, err := u.identifyKey(tok)
	if err != nil {
		return c, k, err
	}
	if _, ok := u.shares[c.ID]; ok {
		return c, k, &AlreadyCountedError{Custodian: c}
	}
	return c, k, nil
}

// identifyKey finds tok on the roster and verifies the roster's
// attestation of its decryption key and its attested policy against the
// vault's minimum (*PolicyError; once per key per Unlock), without regard
// to what was counted and without the card.
func (u *Unlock) identifyKey(tok hardware.Token) (Custodian, Key, error) {
	serial := tok.Serial()
	c, k, ok := u.v.KeyBySerial(serial)
	if !ok {
		return Custodian{}, Key{}, &NotOnRosterError{Serial: serial}
	}
	if u.attested[serial] {
		return c, k, nil
	}
	// The attested policy is checked with the attestation, from the roster,
	// before any PIN: a key the vault's minimum does not allow never opens
	// its share.
	if err := u.opts.verifyKeyUse(c, k, UseDecrypt, u.v.Roster.Policy.KeyMinimum()); err != nil {
		return c, k, fmt.Errorf("YubiKey %d of %s: %w", serial, c, err)
	}
	u.attested[serial] = true
	return c, k, nil
}

// slotHolds checks the metadata read from k's decryption slot (info, or
// the error reading it) against the roster: *KeyMismatchError if the slot
// is empty or holds another key.
func slotHolds(k Key, info hardware.KeyInfo, err error) error {
	slot := k.Decrypt.Slot.PIV()
	if errors.Is(err, hardware.ErrSlotEmpty) {
		return &KeyMismatchError{Serial: k.Serial, What: fmt.Sprintf("decryption slot %s is empty", slot)}
	}
	if err != nil {
		return fmt.Errorf("reading slot %s of YubiKey %d: %w", slot, k.Serial, err)
	}
	r, err := pivp256.ParseRecipient(k.Decrypt.Recipient)
	if err != nil {
		return err
	}
	if !samePublicKey(info.Public, r) {
		return &KeyMismatchError{Serial: k.Serial, What: fmt.Sprintf("decryption key in slot %s differs from the roster", slot)}
	}
	return nil
}

// AddShare identifies tok (see Identify), decrypts its custodian's share with
// ECDH on the key (PIN as its policy needs, touch) and counts the
// custodian; the share is checked against its commitment. With a
// hardware.Sessioner token this is one card session: slot metadata (the
// slot must hold the roster's key, *KeyMismatchError), PIN retries, VERIFY
// and ECDH. A wrong PIN returns the token's *hardware.PINError; with one
// PIN attempt left the PIN is not tried unless ConfirmLastPINRetry was
// called (*LastPINRetryError). Nothing is counted on any error.
func (u *Unlock) AddShare(ctx context.Context, tok hardware.Token, pin string) error {
	c, k, err := u.check(tok)
	if err != nil {
		return err
	}
	share, err := u.openShare(ctx, tok, c, k, pin)
	if err != nil {
		return err
	}
	u.shares[c.ID] = share
	u.order = append(u.order, c.ID)
	return nil
}

// CheckShare proves that tok's custodian can decrypt their share (for
// "vault check --each"): like AddShare, but nothing is counted and the share
// is wiped at once. It does not refuse an already-counted custodian.
func (u *Unlock) CheckShare(ctx context.Context, tok hardware.Token, pin string) error {
	c, k, err := u.identifyKey(tok)
	if err != nil {
		return err
	}
	share, err := u.openShare(ctx, tok, c, k, pin)
	if err != nil {
		return err
	}
	share.Destroy()
	return nil
}

// openShare decrypts k's share on tok: in one card session when tok is a
// hardware.Sessioner, else with one Token operation per step.
func (u *Unlock) openShare(ctx context.Context, tok hardware.Token, c Custodian, k Key, pin string) (*memguard.LockedBuffer, error) {
	var sh *Share
	for i := range u.v.Shares {
		if u.v.Shares[i].Serial == k.Serial {
			sh = &u.v.Shares[i]
		}
	}
	if sh == nil {
		return nil, &ShareError{Custodian: c.ID, Serial: k.Serial, Reason: "the vault file has no share for this key"}
	}
	r, err := pivp256.ParseRecipient(k.Decrypt.Recipient)
	if err != nil {
		return nil, err
	}
	slot := k.Decrypt.Slot.PIV()
	confirmed := u.lastTry[k.Serial]
	var pr io.Reader
	s, ok := tok.(hardware.Sessioner)
	if !ok {
		info, err := tok.KeyInfo(ctx, slot)
		if err := slotHolds(k, info, err); err != nil {
			return nil, err
		}
		if err := CheckPINRetries(ctx, tok, confirmed); err != nil {
			return nil, err
		}
		delete(u.lastTry, k.Serial)
		pr, err = decryptShare(c, k, r, sh, func(peer *ecdh.PublicKey) ([]byte, error) { return tok.ECDH(ctx, slot, peer, pin) })
		if err != nil {
			return nil, err
		}
		return readShare(c, k, sh, pr)
	}
	// Our own refusals (mismatch, retries, a share that does not decrypt)
	// are returned as they are, not wrapped in the session's error.
	var refusal error
	err = s.Session(ctx, func(s hardware.Session) error {
		info, err := s.KeyInfo(slot)
		if err := slotHolds(k, info, err); err != nil {
			refusal = err
			return err
		}
		n, err := s.PINRetries()
		if err != nil {
			return fmt.Errorf("reading PIN retries: %w", err)
		}
		if err := retriesAllow(k.Serial, n, confirmed); err != nil {
			refusal = err
			return err
		}
		delete(u.lastTry, k.Serial)
		pr, err = decryptShare(c, k, r, sh, func(peer *ecdh.PublicKey) ([]byte, error) { return s.ECDH(slot, peer, pin) })
		refusal = err
		return err
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The session may have returned while f still runs (see
		// hardware.Sessioner): read nothing f writes.
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	if err != nil {
		return nil, fmt.Errorf("decrypting share on YubiKey %d: %w", k.Serial, err)
	}
	return readShare(c, k, sh, pr)
}

// decryptShare opens the age header of sh with r's identity, whose key
// agreement is agree (on the card). A card error is returned as such; a
// share that does not decrypt is a *ShareError.
func decryptShare(c Custodian, k Key, r *pivp256.Recipient, sh *Share, agree pivp256.ECDHFunc) (io.Reader, error) {
	var tokErr error
	id, err := pivp256.NewIdentity(r, func(peer *ecdh.PublicKey) ([]byte, error) {
		b, err := agree(peer)
		tokErr = err
		return b, err
	})
	if err != nil {
		return nil, err
	}
	pr, err := age.Decrypt(armor.NewReader(strings.NewReader(sh.Age)), id)
	if tokErr != nil {
		return nil, fmt.Errorf("decrypting share on YubiKey %d: %w", k.Serial, tokErr)
	}
	if err != nil {
		return nil, &ShareError{Custodian: c.ID, Serial: k.Serial, Reason: "it does not decrypt with this key (" + err.Error() + ")"}
	}
	return pr, nil
}

// readShare reads the decrypted share into locked memory and checks its
// length and commitment.
func readShare(c Custodian, k Key, sh *Share, pr io.Reader) (*memguard.LockedBuffer, error) {
	buf, err := memguard.NewBufferFromReader(pr, shareSize+1)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		buf.Destroy()
		return nil, &ShareError{Custodian: c.ID, Serial: k.Serial, Reason: "its ciphertext is corrupted"}
	}
	if buf.Size() != shareSize {
		buf.Destroy()
		return nil, &ShareError{Custodian: c.ID, Serial: k.Serial, Reason: "it has the wrong length"}
	}
	if subtle.ConstantTimeCompare([]byte(shareCommitment(c.ID, buf.Bytes())), []byte(sh.SHA256)) != 1 {
		buf.Destroy()
		return nil, &ShareError{Custodian: c.ID, Serial: k.Serial, Reason: "it does not match its recorded checksum"}
	}
	return buf, nil
}

// Abort wipes the collected shares; the Unlock can be used again from zero.
func (u *Unlock) Abort() {
	for _, b := range u.shares {
		b.Destroy()
	}
	u.shares = map[string]*memguard.LockedBuffer{}
	u.order = nil
}

// Open combines the shares once Threshold distinct custodians are counted
// (*QuorumError otherwise), checks that they give the vault's recorded
// recipient (*ShareError otherwise, never a wrong key), and returns the
// opened vault. The collected shares are wiped either way.
func (u *Unlock) Open() (*Opened, error) {
	have, need := u.Needed()
	if have < need {
		return nil, &QuorumError{Have: have, Need: need}
	}
	defer u.Abort()
	parts := make([][]byte, 0, have)
	for _, id := range u.order {
		parts = append(parts, u.shares[id].Bytes())
	}
	key, err := shamir.Combine(parts)
	if err != nil {
		return nil, &ShareError{Reason: "they cannot be combined"}
	}
	locked := memguard.NewBufferFromBytes(key) // wipes key
	rec, err := recipientOf(locked.Bytes())
	if err != nil || subtle.ConstantTimeCompare([]byte(rec), []byte(u.v.Recipient)) != 1 {
		locked.Destroy()
		return nil, &ShareError{Reason: "they do not give the vault's recorded key"}
	}
	locked.Freeze()
	id, err := newLockedX25519(locked)
	if err != nil {
		locked.Destroy()
		return nil, &ShareError{Reason: "they do not give the vault's recorded key"}
	}
	return &Opened{v: u.v, key: locked, id: id, arena: newArena(arenaSize), custodians: u.Counted()}, nil
}

// Opened is a vault whose identity is in locked memory. Lock wipes it.
// Reveal and Check read the Vault's secrets: do not call them concurrently
// with Seal or MarkRevealed on the same Vault (the UI serialises them).
// The process should call memguard.Purge (or memguard.CatchInterrupt) on
// exit so that locked memory is wiped on every path.
type Opened struct {
	v          *Vault
	key        *memguard.LockedBuffer
	id         *lockedX25519 // the identity, its public key computed once
	arena      *arena        // every plaintext of this session, locked; wiped by Lock
	custodians []Custodian
}

// Custodians lists who opened the vault, in the order they were counted.
func (o *Opened) Custodians() []Custodian { return o.custodians }

// Reveal decrypts the secret name into locked memory (the session's arena),
// which the caller must Destroy when done; Lock wipes it too. It does not mark the secret revealed:
// call Vault.MarkRevealed and Save.
func (o *Opened) Reveal(name string) (*Plaintext, error) {
	if !o.key.IsAlive() {
		return nil, fmt.Errorf("revealing %q: %w", name, ErrLocked)
	}
	s, ok := o.v.Secret(name)
	if !ok {
		return nil, fmt.Errorf("revealing %q: %w", name, ErrNoSecret)
	}
	hdr := secretHeader(s.Name, s.Kind)
	// Straight into the session's locked arena: no ordinary buffer ever
	// holds the plaintext (decryptLocked).
	p, err := decryptLocked(o.arena, s.Age, o.id, len(hdr)+MaxSecretSize)
	switch {
	case errors.Is(err, errPayload) || errors.Is(err, errTooLarge):
		return nil, fmt.Errorf("revealing %q: %w: its ciphertext is damaged; restore the vault file from a copy", name, ErrSecretCorrupt)
	case err != nil:
		return nil, fmt.Errorf("revealing %q: %w: it does not decrypt with the vault key; restore the vault file from a copy", name, ErrSecretCorrupt)
	}
	body := p.Bytes()
	if !bytes.HasPrefix(body, hdr) || len(body) == len(hdr) || len(body) > len(hdr)+MaxSecretSize {
		p.Destroy()
		return nil, fmt.Errorf("revealing %q: %w: the sealed value belongs to another entry or kind; restore the vault file from a copy and reseal", name, ErrSecretCorrupt)
	}
	p.mu.Lock()
	p.voff, p.n = p.voff+len(hdr), p.n-len(hdr)
	p.mu.Unlock()
	return p, nil
}

// Check decrypts the secret name and validates it for its kind, returning
// nothing (drill mode). The plaintext is wiped before Check returns.
func (o *Opened) Check(name string) error {
	buf, err := o.Reveal(name)
	if err != nil {
		return err
	}
	defer buf.Destroy()
	s, _ := o.v.Secret(name)
	if err := validateLocked(s.Kind, buf.Bytes()); err != nil {
		return fmt.Errorf("checking %q: %w: it decrypts but is not a valid %s", name, ErrSecretCorrupt, s.Kind)
	}
	return nil
}

// Lock wipes the vault identity. The Opened is unusable afterwards.
func (o *Opened) Lock() {
	o.arena.destroy()
	o.key.Destroy()
}
