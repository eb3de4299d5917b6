package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/awnumar/memguard"

	"breakglass/internal/events"
)

// This file holds journal authentication: the MAC of an entry, the
// unauthenticated-entry rule, and the checks made with the journal key at
// resume (Authenticate) and before signing (CheckDisk). See the package doc.

// TypeJournalAuthenticated is the entry that starts each period in which the
// journal key is held; data JournalAuthenticatedData.
const (
	TypeJournalAuthenticated = events.JournalAuthenticated
	TypeJournalTamper        = events.JournalTamperDetected
)

// JournalAuthenticatedData is the data of a journal.authenticated entry.
type JournalAuthenticatedData = events.JournalAuthenticatedData

// MACKeySize is the length of a journal key in bytes.
const MACKeySize = 32

// ErrNotAuthenticated is returned by Append for an event that must carry a
// MAC while the journal key is not held (see the package doc).
var ErrNotAuthenticated = errors.New("the journal key is not held: this event needs a quorum to re-authorise first")

// MACError names the first entry that fails authentication.
type MACError struct {
	Seq    uint64
	Type   string
	Reason string
}

func (e *MACError) Error() string {
	return fmt.Sprintf("journal entry %d (%s): %s", e.Seq, e.Type, e.Reason)
}

// ComputeMAC returns the MAC of an entry with hash h under key: lower-case
// hex HMAC-SHA256 over the 64 ASCII hex digits of h.
func ComputeMAC(key []byte, h string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(h))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckUnkeyed applies the unauthenticated-entry rule without the key, as
// anyone can: every entry without a MAC must be of a type that can happen
// while no quorum holds the key (events.Unkeyed). It does not check MACs.
func CheckUnkeyed(entries []Entry) error {
	for _, e := range entries {
		if e.MAC == "" && !events.Unkeyed(e.Type) {
			return &MACError{Seq: e.Seq, Type: e.Type, Reason: "has no MAC, but this event can only be recorded after a quorum opened the vault (its MAC was removed, or it was added or changed by hand)"}
		}
	}
	return nil
}

// VerifyMACs checks every entry with the journal key: each MAC present
// verifies, and each entry without one is allowed to lack it (CheckUnkeyed).
// The chain itself is checked by Verify / Parse.
func VerifyMACs(entries []Entry, key []byte) error {
	if len(key) != MACKeySize {
		return fmt.Errorf("journal key is %d bytes, want %d", len(key), MACKeySize)
	}
	for _, e := range entries {
		if e.MAC == "" {
			if !events.Unkeyed(e.Type) {
				return CheckUnkeyed([]Entry{e})
			}
			continue
		}
		if !hmac.Equal([]byte(ComputeMAC(key, e.Hash)), []byte(e.MAC)) {
			return &MACError{Seq: e.Seq, Type: e.Type, Reason: "MAC does not verify with this session's journal key (the entry, or one before it, was changed and the chain recomputed, or it comes from another session)"}
		}
	}
	return nil
}

// Authenticate verifies every entry so far with key (VerifyMACs), then
// takes the key up: it records a journal.authenticated entry with data and
// gives it and every later entry a MAC. On a failed check it returns the
// *MACError and changes nothing. The journal keeps key (it does not copy
// it); the caller destroys it, after Deauthenticate, when the session locks.
func (j *Journal) Authenticate(key *memguard.LockedBuffer, data JournalAuthenticatedData) (Entry, error) {
	if key == nil || !key.IsAlive() || key.Size() != MACKeySize {
		return Entry{}, fmt.Errorf("authenticating journal %q: no usable %d-byte journal key", j.path, MACKeySize)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := VerifyMACs(j.entries, key.Bytes()); err != nil {
		return Entry{}, err
	}
	data.Checked = len(j.entries)
	prev := j.key
	j.key = key
	e, err := j.appendLocked("breakglass", TypeJournalAuthenticated, data)
	if err != nil {
		j.key = prev
		return Entry{}, err
	}
	j.keyed = true
	return e, nil
}

// Deauthenticate drops the journal key (the session locked or the process
// ends). Later entries get no MAC, and Append refuses keyed events.
func (j *Journal) Deauthenticate() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.key = nil
}

// RequireAuthentication marks authentication as started even if no entry
// carries a MAC yet (a session resumed after its vault was opened): from now
// on Append refuses keyed events until Authenticate.
func (j *Journal) RequireAuthentication() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keyed = true
}

// Authenticated reports whether the journal key is held.
func (j *Journal) Authenticated() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.key != nil && j.key.IsAlive()
}

// CheckDisk re-reads the journal file and checks it against the entries
// this Journal holds: the same entries, byte for byte (hash and MAC
// included), and, while the key is held, every MAC valid. It is the check
// made before custodians sign; the error names the first difference.
func (j *Journal) CheckDisk() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	disk, err := ReadFile(j.path)
	var ce *CorruptError
	if err != nil && !errors.As(err, &ce) {
		return fmt.Errorf("re-reading journal %q: %w", j.path, err)
	}
	for i := range j.entries {
		mem := &j.entries[i]
		if i >= len(disk) {
			if ce != nil {
				return &MACError{Seq: mem.Seq, Type: mem.Type, Reason: "on disk this entry is damaged or altered: " + ce.Error()}
			}
			return &MACError{Seq: mem.Seq, Type: mem.Type, Reason: fmt.Sprintf("missing on disk (the file holds only %d entries; it was truncated or replaced)", len(disk))}
		}
		if !sameEntry(mem, &disk[i]) {
			return &MACError{Seq: mem.Seq, Type: mem.Type, Reason: "differs on disk from what this console recorded (the file was edited)"}
		}
	}
	if ce != nil {
		return fmt.Errorf("journal %q on disk after the %d entries this console recorded: %w", j.path, len(j.entries), ce)
	}
	if len(disk) > len(j.entries) {
		e := disk[len(j.entries)]
		return &MACError{Seq: e.Seq, Type: e.Type, Reason: "is on disk but was never recorded by this console (entries were added to the file)"}
	}
	if j.key != nil && j.key.IsAlive() {
		return VerifyMACs(disk, j.key.Bytes())
	}
	return CheckUnkeyed(disk)
}

func sameEntry(a, b *Entry) bool {
	return a.Seq == b.Seq && a.Time == b.Time && a.Mono == b.Mono && a.Actor == b.Actor && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && a.Prev == b.Prev && a.Hash == b.Hash && a.MAC == b.MAC
}
