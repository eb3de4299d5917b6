package vault

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"

	"filippo.io/age"
	"github.com/awnumar/memguard"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"
)

const x25519Label = "age-encryption.org/v1/X25519"

// lockedX25519 is age's X25519 identity with the scalar kept in a memguard
// buffer instead of the Go heap (age.X25519Identity copies it into an
// ordinary slice). It follows filippo.io/age's x25519.go exactly.
type lockedX25519 struct {
	key *memguard.LockedBuffer
	pub []byte // the public key; nil: computed on each unwrap
}

// newLockedX25519 is the identity of key with its public key computed once.
func newLockedX25519(key *memguard.LockedBuffer) (*lockedX25519, error) {
	pub, err := curve25519.X25519(key.Bytes(), curve25519.Basepoint)
	if err != nil {
		return nil, err
	}
	return &lockedX25519{key: key, pub: pub}, nil
}

var _ age.Identity = (*lockedX25519)(nil)

func (i *lockedX25519) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		k, err := i.unwrap(s)
		if errors.Is(err, age.ErrIncorrectIdentity) {
			continue
		}
		return k, err
	}
	return nil, age.ErrIncorrectIdentity
}

func (i *lockedX25519) unwrap(s *age.Stanza) ([]byte, error) {
	if s.Type != "X25519" {
		return nil, age.ErrIncorrectIdentity
	}
	if len(s.Args) != 1 {
		return nil, errors.New("invalid X25519 recipient block")
	}
	epk, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[0])
	if err != nil || len(epk) != curve25519.PointSize {
		return nil, errors.New("invalid X25519 recipient block")
	}
	if !i.key.IsAlive() {
		return nil, ErrLocked
	}
	ours := i.pub
	if ours == nil {
		var err error
		if ours, err = curve25519.X25519(i.key.Bytes(), curve25519.Basepoint); err != nil {
			return nil, err
		}
	}
	shared, err := curve25519.X25519(i.key.Bytes(), epk)
	if err != nil {
		return nil, errors.New("invalid X25519 recipient block")
	}
	defer clear(shared)
	salt := append(append([]byte{}, epk...), ours...)
	wrap := make([]byte, chacha20poly1305.KeySize)
	defer clear(wrap)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, salt, []byte(x25519Label)), wrap); err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(wrap)
	if err != nil {
		return nil, err
	}
	if len(s.Body) != 16+chacha20poly1305.Overhead {
		return nil, errors.New("invalid X25519 recipient block: incorrect file key size")
	}
	fileKey, err := aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), s.Body, nil)
	if err != nil {
		return nil, age.ErrIncorrectIdentity
	}
	return fileKey, nil
}
