// Package pivp256 implements the age "piv-p256" recipient type used by
// age-plugin-yubikey: recipients "age1yubikey1…", identity stubs
// "AGE-PLUGIN-YUBIKEY-1…", and the "-> piv-p256 <tag> <epk>" stanza.
//
// Files this package writes can be opened with the stock age CLI and
// age-plugin-yubikey, and files they write can be opened here: the wire format
// follows shared/reference/age-piv-p256.md exactly. The private key never
// leaves the token: an Identity is built from an ECDH callback.
package pivp256

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"filippo.io/age/plugin"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// StanzaType is the first word of the stanza ("-> piv-p256 …").
const StanzaType = "piv-p256"

// PluginName is the age plugin name: recipients are "age1yubikey1…".
const PluginName = "yubikey"

const (
	pointSize    = 33 // compressed SEC1 P-256 point
	tagSize      = 4
	fileKeySize  = 16
	bodySize     = fileKeySize + chacha20poly1305.Overhead
	tagB64Len    = 6
	epkB64Len    = 44
	sharedSize   = 32
	hkdfInfo     = "piv-p256"
	recipientHRP = "age1" + PluginName
)

// b64 is the age header encoding: standard alphabet, no padding, strict
// (non-zero trailing bits are rejected, so every value has one encoding).
var b64 = base64.RawStdEncoding.Strict()

// ErrMalformedStanza is wrapped by every error about a piv-p256 stanza that is
// not well formed; such a stanza makes the whole file undecryptable.
var ErrMalformedStanza = errors.New("malformed piv-p256 stanza")

// Recipient is an age.Recipient for a YubiKey P-256 key. Its zero value is
// not usable; build it with ParseRecipient or NewRecipient.
type Recipient struct {
	point []byte          // 33-byte compressed point
	pub   *ecdh.PublicKey // same point, for ECDH
}

var _ age.Recipient = (*Recipient)(nil)

// ParseRecipient parses an "age1yubikey1…" string. Only Bech32 (not
// Bech32m) encodings of an on-curve compressed P-256 point are accepted.
func ParseRecipient(s string) (*Recipient, error) {
	name, data, err := plugin.ParseRecipient(s)
	if err != nil {
		return nil, fmt.Errorf("parsing age-plugin-yubikey recipient %q: %w", s, err)
	}
	if name != PluginName {
		return nil, fmt.Errorf("parsing recipient %q: it is for plugin %q, not %q", s, name, PluginName)
	}
	r, err := recipientFromPoint(data)
	if err != nil {
		return nil, fmt.Errorf("parsing age-plugin-yubikey recipient %q: %w", s, err)
	}
	return r, nil
}

// NewRecipient makes a Recipient from a P-256 public key.
func NewRecipient(pub *ecdh.PublicKey) (*Recipient, error) {
	if pub == nil || pub.Curve() != ecdh.P256() {
		return nil, errors.New("recipient key is not a P-256 key")
	}
	return recipientFromPoint(compress(pub))
}

func recipientFromPoint(point []byte) (*Recipient, error) {
	pub, err := decompress(point)
	if err != nil {
		return nil, err
	}
	return &Recipient{point: append([]byte(nil), point...), pub: pub}, nil
}

// String returns the "age1yubikey1…" encoding.
func (r *Recipient) String() string { return plugin.EncodeRecipient(PluginName, r.point) }

// Point returns a copy of the 33-byte compressed SEC1 point.
func (r *Recipient) Point() []byte { return append([]byte(nil), r.point...) }

// PublicKey returns the recipient's P-256 public key.
func (r *Recipient) PublicKey() *ecdh.PublicKey { return r.pub }

// Tag returns the 4-byte stanza tag: the first 4 bytes of SHA-256(point).
func (r *Recipient) Tag() [tagSize]byte { return tagOf(r.point) }

// Equal reports whether r and o are the same key.
func (r *Recipient) Equal(o *Recipient) bool {
	return o != nil && string(r.point) == string(o.point)
}

// Wrap wraps fileKey in one piv-p256 stanza to a fresh ephemeral key.
func (r *Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ephemeral P-256 key: %w", err)
	}
	s, err := r.wrapWith(eph, fileKey)
	if err != nil {
		return nil, err
	}
	return []*age.Stanza{s}, nil
}

func (r *Recipient) wrapWith(eph *ecdh.PrivateKey, fileKey []byte) (*age.Stanza, error) {
	if len(fileKey) != fileKeySize {
		return nil, fmt.Errorf("wrapping file key: it is %d bytes, want %d", len(fileKey), fileKeySize)
	}
	shared, err := eph.ECDH(r.pub)
	if err != nil {
		return nil, fmt.Errorf("wrapping file key: %w", err)
	}
	epk := compress(eph.PublicKey())
	key, err := wrapKey(shared, epk, r.point)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	tag := r.Tag()
	return &age.Stanza{
		Type: StanzaType,
		Args: []string{b64.EncodeToString(tag[:]), b64.EncodeToString(epk)},
		Body: aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil),
	}, nil
}

// wrapKey is HKDF-SHA256(ikm = shared, salt = epk ‖ recipient, info = "piv-p256").
func wrapKey(shared, epk, recipient []byte) ([]byte, error) {
	salt := make([]byte, 0, 2*pointSize)
	salt = append(salt, epk...)
	salt = append(salt, recipient...)
	key := make([]byte, chacha20poly1305.KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, salt, []byte(hkdfInfo)), key); err != nil {
		return nil, fmt.Errorf("deriving wrap key: %w", err)
	}
	return key, nil
}

func tagOf(point []byte) [tagSize]byte {
	h := sha256.Sum256(point)
	var t [tagSize]byte
	copy(t[:], h[:tagSize])
	return t
}

// compress returns the 33-byte compressed form of a P-256 public key.
func compress(pub *ecdh.PublicKey) []byte {
	u := pub.Bytes() // 0x04 ‖ X ‖ Y
	out := make([]byte, pointSize)
	out[0] = 0x02 | (u[64] & 1)
	copy(out[1:], u[1:33])
	return out
}

// decompress parses a compressed point, checking it is on the curve.
func decompress(point []byte) (*ecdh.PublicKey, error) {
	if len(point) != pointSize || (point[0] != 0x02 && point[0] != 0x03) {
		return nil, errors.New("not a compressed P-256 point")
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), point)
	if x == nil {
		return nil, errors.New("point is not on the P-256 curve")
	}
	u := make([]byte, 65)
	u[0] = 4
	x.FillBytes(u[1:33])
	y.FillBytes(u[33:])
	pub, err := ecdh.P256().NewPublicKey(u)
	if err != nil {
		return nil, fmt.Errorf("point is not a valid P-256 public key: %w", err)
	}
	return pub, nil
}
