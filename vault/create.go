package vault

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"filippo.io/age/plugin"
	"github.com/hashicorp/vault/shamir"

	"breakglass/hardware"
	"breakglass/vault/pivp256"
)

// vaultKeySize is the size of the vault identity: an X25519 scalar.
const vaultKeySize = 32

// shareSize is a Shamir share of the vault key: one byte per key byte plus
// the x coordinate.
const shareSize = vaultKeySize + 1

// MergeCustodians groups enrolment records by custodian ID: two records with
// the same ID are one person with a primary and a backup key. The first
// record's name wins; the first key is primary, the others backups. Records
// keep their order of first appearance.
func MergeCustodians(records []Custodian) []Custodian {
	var out []Custodian
	index := map[string]int{}
	for _, r := range records {
		i, ok := index[r.ID]
		if !ok {
			index[r.ID] = len(out)
			out = append(out, Custodian{ID: r.ID, Name: r.Name})
			i = len(out) - 1
		}
		out[i].Keys = append(out[i].Keys, r.Keys...)
	}
	for i := range out {
		for j := range out[i].Keys {
			out[i].Keys[j].Role = "backup"
			if j == 0 {
				out[i].Keys[j].Role = "primary"
			}
		}
	}
	return out
}

// Create builds a new, unsigned vault for custodians (see MergeCustodians)
// with a quorum of threshold: it generates the vault key, splits it into one
// Shamir share per custodian and encrypts each share to every key of that
// custodian. Only public keys are needed. The vault key is wiped before
// Create returns; nobody ever holds it whole again until a quorum opens the
// vault. Collect signatures with SignRoster before saving for use.
func Create(custodians []Custodian, threshold int, now time.Time) (*Vault, error) {
	v := &Vault{
		Format:  FormatName,
		Version: FormatVersion,
		Roster: Roster{
			Created:    now.UTC().Truncate(time.Second),
			Policy:     Policy{Threshold: threshold, Custodians: len(custodians)},
			Custodians: custodians,
		},
		Signatures: []Signature{},
		Shares:     []Share{},
		Secrets:    []Secret{},
	}
	if err := v.validateRoster(); err != nil {
		return nil, fmt.Errorf("creating vault: %w", err)
	}
	key := make([]byte, vaultKeySize)
	defer clear(key)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("creating vault key: %w", err)
	}
	recipient, err := recipientOf(key)
	if err != nil {
		return nil, err
	}
	v.Recipient = recipient
	parts, err := shamir.Split(key, len(custodians), threshold)
	if err != nil {
		return nil, fmt.Errorf("splitting vault key: %w", err)
	}
	defer func() {
		for _, p := range parts {
			clear(p)
		}
	}()
	for i, c := range custodians {
		for _, k := range c.Keys {
			s, err := sealShare(c.ID, k, parts[i])
			if err != nil {
				return nil, err
			}
			v.Shares = append(v.Shares, s)
		}
	}
	v.RecordedFingerprint = v.ComputeFingerprint()
	if err := v.validate(); err != nil {
		return nil, fmt.Errorf("creating vault: %w", err)
	}
	return v, nil
}

// recipientOf derives the age "age1…" recipient of an X25519 scalar.
func recipientOf(scalar []byte) (string, error) {
	priv, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		return "", fmt.Errorf("deriving vault recipient: %w", err)
	}
	s, err := plugin.EncodeX25519Recipient(priv.PublicKey())
	if err != nil {
		return "", fmt.Errorf("deriving vault recipient: %w", err)
	}
	return s, nil
}

// shareCommitment binds a share to its custodian; it reveals nothing useful
// about the share (32 bytes of entropy) but names a swapped or corrupted one.
func shareCommitment(custodian string, share []byte) string {
	h := sha256.New()
	io.WriteString(h, "breakglass-vault-share-v1\n"+custodian+"\n")
	h.Write(share)
	return hex.EncodeToString(h.Sum(nil))
}

func sealShare(custodian string, k Key, share []byte) (Share, error) {
	r, err := pivp256.ParseRecipient(k.Decrypt.Recipient)
	if err != nil {
		return Share{}, fmt.Errorf("encrypting share of %q to YubiKey %d: %w", custodian, k.Serial, err)
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return Share{}, fmt.Errorf("encrypting share of %q to YubiKey %d: %w", custodian, k.Serial, err)
	}
	if _, err := w.Write(share); err != nil {
		return Share{}, err
	}
	if err := w.Close(); err != nil {
		return Share{}, err
	}
	if err := aw.Close(); err != nil {
		return Share{}, err
	}
	return Share{Custodian: custodian, Serial: k.Serial, SHA256: shareCommitment(custodian, share), Age: buf.String()}, nil
}

// SignRoster has the custodian whose YubiKey tok is sign the roster with its
// signing key (PIN and touch as the slot requires), after checking that the
// slot holds the enrolled signing key. A custodian signing again replaces
// their earlier signature. It returns who signed.
func (v *Vault) SignRoster(ctx context.Context, tok hardware.Token, pin string) (Custodian, error) {
	c, k, want, err := v.rosterSigner(ctx, tok)
	if err != nil {
		return Custodian{}, err
	}
	digest := v.RosterDigest()
	sig, err := tok.Sign(ctx, k.Sign.Slot.PIV(), digest[:], pin)
	if err != nil {
		return Custodian{}, fmt.Errorf("signing roster on YubiKey %d: %w", k.Serial, err)
	}
	if !ecdsa.VerifyASN1(want, digest[:], sig) {
		return Custodian{}, fmt.Errorf("signing roster on YubiKey %d: %w: the key returned a signature that does not verify", k.Serial, ErrRosterSignature)
	}
	s := Signature{Custodian: c.ID, Serial: k.Serial, Signature: sig}
	for i := range v.Signatures {
		if v.Signatures[i].Custodian == c.ID {
			v.Signatures[i] = s
			return c, nil
		}
	}
	v.Signatures = append(v.Signatures, s)
	return c, nil
}

// rosterSigner finds tok's key on the roster and checks that the key in its
// signing slot is the enrolled one; it returns the custodian, the key and
// the enrolled signing public key.
func (v *Vault) rosterSigner(ctx context.Context, tok hardware.Token) (Custodian, Key, *ecdsa.PublicKey, error) {
	c, k, ok := v.KeyBySerial(tok.Serial())
	if !ok {
		return Custodian{}, Key{}, nil, &NotOnRosterError{Serial: tok.Serial()}
	}
	want, err := signingKey(k.Sign.PublicKey)
	if err != nil {
		return Custodian{}, Key{}, nil, err
	}
	info, err := tok.KeyInfo(ctx, k.Sign.Slot.PIV())
	if err != nil {
		return Custodian{}, Key{}, nil, fmt.Errorf("reading signing key in slot %s of YubiKey %d: %w", k.Sign.Slot.PIV(), k.Serial, err)
	}
	if !samePublicKey(info.Public, want) {
		return Custodian{}, Key{}, nil, &KeyMismatchError{Serial: k.Serial, What: fmt.Sprintf("signing key in slot %s differs from the roster", k.Sign.Slot.PIV())}
	}
	return c, k, want, nil
}
