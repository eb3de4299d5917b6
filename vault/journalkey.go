package vault

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/awnumar/memguard"
	"golang.org/x/crypto/hkdf"
)

// JournalKeyInfo is the HKDF info string of a session's journal key.
const JournalKeyInfo = "breakglass journal mac v1"

// JournalKeySize is the length of a journal key in bytes.
const JournalKeySize = 32

// JournalKey derives the journal authentication key of session: 32 bytes of
// HKDF-SHA256 with the vault identity's secret scalar as input key
// material, the session id as salt and JournalKeyInfo as info. Only a
// quorum can open the vault, so only a quorum can derive it; it is the same
// every time the vault is opened for the same session, so a quorum
// re-derives it after a restart. The key is returned in a new, read-only
// memguard LockedBuffer the caller destroys; the identity never leaves the
// Opened. Intermediate key material is wiped (the HMAC state a caller
// builds from the key is its own concern).
func (o *Opened) JournalKey(session string) (*memguard.LockedBuffer, error) {
	if session == "" {
		return nil, errors.New("deriving the journal key: empty session id")
	}
	if o == nil || o.key == nil || !o.key.IsAlive() {
		return nil, ErrLocked
	}
	prk := hkdf.Extract(sha256.New, o.key.Bytes(), []byte(session))
	defer clear(prk)
	out := memguard.NewBuffer(JournalKeySize)
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, prk, []byte(JournalKeyInfo)), out.Bytes()); err != nil {
		out.Destroy()
		return nil, fmt.Errorf("deriving the journal key: %w", err)
	}
	out.Freeze()
	return out, nil
}
