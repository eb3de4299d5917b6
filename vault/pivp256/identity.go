package pivp256

import (
	"crypto/ecdh"
	"errors"
	"fmt"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// ECDHFunc computes the P-256 shared secret (the 32-byte x coordinate) between
// the identity's private key and peer. On a YubiKey it is a GENERAL
// AUTHENTICATE on the slot; it may need a PIN and a touch.
type ECDHFunc func(peer *ecdh.PublicKey) ([]byte, error)

// Identity is an age.Identity for a YubiKey P-256 key whose private half stays
// on the token. ECDH is called only for a well-formed stanza whose tag matches.
type Identity struct {
	recipient *Recipient
	ecdh      ECDHFunc
}

var _ age.Identity = (*Identity)(nil)

// NewIdentity makes an Identity for the key whose public half is recipient,
// computing ECDH with f.
func NewIdentity(recipient *Recipient, f ECDHFunc) (*Identity, error) {
	if recipient == nil || f == nil {
		return nil, errors.New("piv-p256 identity needs a recipient and an ECDH function")
	}
	return &Identity{recipient: recipient, ecdh: f}, nil
}

// Recipient returns the identity's public recipient.
func (i *Identity) Recipient() *Recipient { return i.recipient }

// Stanza is a parsed, well-formed piv-p256 stanza.
type Stanza struct {
	Tag  [tagSize]byte
	EPK  *ecdh.PublicKey
	epk  []byte // compressed, as on the wire
	Body []byte
}

// ParseStanza strictly parses a piv-p256 stanza: exactly two arguments of
// 6 and 44 characters in canonical unpadded base64, an on-curve compressed
// ephemeral point, and a 32-byte body. Errors wrap ErrMalformedStanza.
// A stanza of another type is not an error of this function's concern:
// callers check s.Type first.
func ParseStanza(s *age.Stanza) (*Stanza, error) {
	if s.Type != StanzaType {
		return nil, fmt.Errorf("%w: type is %q", ErrMalformedStanza, s.Type)
	}
	if len(s.Args) != 2 {
		return nil, fmt.Errorf("%w: %d arguments, want 2", ErrMalformedStanza, len(s.Args))
	}
	if len(s.Args[0]) != tagB64Len || len(s.Args[1]) != epkB64Len {
		return nil, fmt.Errorf("%w: argument lengths %d and %d, want %d and %d",
			ErrMalformedStanza, len(s.Args[0]), len(s.Args[1]), tagB64Len, epkB64Len)
	}
	tag, err := b64.DecodeString(s.Args[0])
	if err != nil || len(tag) != tagSize {
		return nil, fmt.Errorf("%w: tag is not canonical base64 of %d bytes", ErrMalformedStanza, tagSize)
	}
	epk, err := b64.DecodeString(s.Args[1])
	if err != nil || len(epk) != pointSize {
		return nil, fmt.Errorf("%w: ephemeral key is not canonical base64 of %d bytes", ErrMalformedStanza, pointSize)
	}
	pub, err := decompress(epk)
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key: %v", ErrMalformedStanza, err)
	}
	if len(s.Body) != bodySize {
		return nil, fmt.Errorf("%w: body is %d bytes, want %d", ErrMalformedStanza, len(s.Body), bodySize)
	}
	p := &Stanza{EPK: pub, epk: epk, Body: append([]byte(nil), s.Body...)}
	copy(p.Tag[:], tag)
	return p, nil
}

// Unwrap implements age.Identity. Every piv-p256 stanza is parsed first; a
// malformed one is an error for the whole file. Stanzas of other types and
// piv-p256 stanzas with another tag are skipped; if none matches, the error
// wraps age.ErrIncorrectIdentity.
func (i *Identity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	var mine []*Stanza
	want := i.recipient.Tag()
	for _, s := range stanzas {
		if s.Type != StanzaType {
			continue
		}
		p, err := ParseStanza(s)
		if err != nil {
			return nil, err
		}
		if p.Tag == want {
			mine = append(mine, p)
		}
	}
	for _, p := range mine {
		fileKey, err := i.unwrap(p)
		if errors.Is(err, age.ErrIncorrectIdentity) {
			continue
		}
		return fileKey, err
	}
	return nil, age.ErrIncorrectIdentity
}

func (i *Identity) unwrap(p *Stanza) ([]byte, error) {
	shared, err := i.ecdh(p.EPK)
	if err != nil {
		return nil, fmt.Errorf("computing piv-p256 shared secret on the key: %w", err)
	}
	defer clear(shared)
	if len(shared) != sharedSize {
		return nil, fmt.Errorf("piv-p256 shared secret is %d bytes, want %d", len(shared), sharedSize)
	}
	key, err := wrapKey(shared, p.epk, i.recipient.point)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	fileKey, err := aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), p.Body, nil)
	if err != nil {
		// A 4-byte tag can collide; a body that does not open is "not ours".
		return nil, fmt.Errorf("piv-p256 stanza did not decrypt: %w", age.ErrIncorrectIdentity)
	}
	return fileKey, nil
}
