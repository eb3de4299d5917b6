// Package audit keeps the evidence of a break-glass session: a hash-chained,
// fsynced journal of every security-relevant event, a deterministic report
// built from it, the report's JWS signatures made on the custodians'
// YubiKeys, and the offline verification an auditor runs.
//
// Contract:
//   - A journal is a JSON-lines file. Each line is one Entry in its canonical
//     encoding (the exact bytes json.Marshal produces for Entry); its hash is
//     SHA-256 over the same encoding with the "hash" field left out, so it
//     covers the previous entry's hash and the chain breaks on any removed,
//     reordered, duplicated or edited line.
//   - Append returns only after the line is written in one write and fsynced;
//     on failure the file is truncated back so it still verifies.
//   - A damaged file is reported as a *CorruptError naming the line; nothing
//     is silently dropped. OpenRepair removes only a torn final line, keeping
//     its bytes beside the journal and recording the repair in the journal.
//   - Journal data never holds secrets: Append refuses data with fields named
//     like secrets (see ErrSecretField), and no API takes secret bytes.
//   - Journal authentication. Once a quorum has opened the vault, the
//     console derives the session's journal key (vault.Opened.JournalKey:
//     HKDF-SHA256 over the vault identity, salt the session id, info
//     "breakglass journal mac v1"), verifies every entry so far with it and
//     hands it to the journal (Journal.Authenticate), which then records a
//     journal.authenticated entry and gives every later entry a MAC: the
//     lower-case hex HMAC-SHA256 under that key of the entry's hash (its
//     64 ASCII hex digits). The hash covers prev, so a MAC covers the whole
//     journal before it. The MAC is not part of the hash, so the chain, and
//     what auditors (who never have the key) verify, is unchanged.
//   - The unauthenticated-entry rule (CheckUnkeyed, VerifyMACs): an entry
//     may lack a MAC only if its type is one that can happen while no
//     quorum holds the key (events.Unkeyed: the journal's own and the
//     pre-quorum events, a repaired torn line, a resume, a refused PIN, a
//     detected tamper, an abort). Every other type (reveals, steps, window,
//     close-out, signatures, lock, journal.authenticated) can only happen
//     after a quorum and must carry a MAC that verifies — wherever it
//     stands, so removing MAC fields is detected too. Once this journal has
//     held the key or holds a MAC'd entry, Append refuses a keyed type
//     while the key is not held.
//   - What the MAC cannot catch: the end of the journal. An attacker with
//     the disk can cut every entry after some point (a pure truncation),
//     or put back an older copy of the whole file; what remains verifies.
//     Evidence of the lost end lives outside this file: the announce code
//     read to the on-call when the incident was declared (the ledger then
//     shows "announced with no report" until a signed report arrives), and
//     the custodians, who were there and must not sign a report that lacks
//     what they saw.
//   - The report payload is a pure function of the journal and the custodian
//     roster (BuildReport), so a verifier recomputes it and compares bytes.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ZeroHash is the prev value of a journal's first entry.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is one journal line. Field order is the canonical encoding order.
type Entry struct {
	Seq   uint64          `json:"seq"`   // 1 for the first line, then +1 per line
	Time  string          `json:"time"`  // UTC wall clock, RFC 3339 with nanoseconds
	Mono  int64           `json:"mono"`  // monotonic nanoseconds since the journal was created
	Actor string          `json:"actor"` // who caused the event: custodian id, "operator", "breakglass"
	Type  string          `json:"type"`  // event type, dotted lower case ("quorum.custodian")
	Data  json.RawMessage `json:"data"`  // event details: a JSON object, never a secret
	Prev  string          `json:"prev"`  // hash of the previous entry, ZeroHash for the first
	Hash  string          `json:"hash"`  // SHA-256 hex of the canonical encoding without this field and MAC
	// MAC authenticates Hash (and so, through prev, every entry before it)
	// with the session's journal key: lower-case hex HMAC-SHA256. Empty
	// (and left out of the encoding) for an entry written while no quorum
	// held the key; see the package doc. The hash does not cover it.
	MAC string `json:"mac,omitempty"`
}

// hashInput is Entry without Hash: the bytes the hash is computed over.
type hashInput struct {
	Seq   uint64          `json:"seq"`
	Time  string          `json:"time"`
	Mono  int64           `json:"mono"`
	Actor string          `json:"actor"`
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data"`
	Prev  string          `json:"prev"`
}

// ComputeHash returns the hash e.Hash must have: SHA-256 hex over the
// canonical JSON encoding of every field except Hash.
func (e Entry) ComputeHash() (string, error) {
	b, err := json.Marshal(hashInput{e.Seq, e.Time, e.Mono, e.Actor, e.Type, e.Data, e.Prev})
	if err != nil {
		return "", fmt.Errorf("encoding entry %d: %w", e.Seq, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// WallTime parses e.Time.
func (e Entry) WallTime() (time.Time, error) { return time.Parse(time.RFC3339Nano, e.Time) }

// ChainError says which entry breaks the journal and why.
type ChainError struct {
	Seq    uint64 // seq the entry should have had (its position, counting from 1)
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("journal entry %d: %s", e.Seq, e.Reason) }

// ErrEmptyJournal is returned by Verify for a journal with no entries.
var ErrEmptyJournal = errors.New("journal has no entries")

// Verify checks a whole journal: seq counts 1,2,3…; every prev is the hash
// before it (ZeroHash first); every hash matches its entry; time is UTC
// RFC 3339; mono never decreases; data is a JSON object. The first problem
// is returned as a *ChainError naming the entry.
func Verify(entries []Entry) error {
	if len(entries) == 0 {
		return ErrEmptyJournal
	}
	prev := &Entry{Hash: ZeroHash}
	for i := range entries {
		if err := verifyNext(prev, &entries[i], uint64(i+1), i == 0); err != nil {
			return err
		}
		prev = &entries[i]
	}
	return nil
}

// verifyNext checks e as the entry at position want following prev.
func verifyNext(prev, e *Entry, want uint64, first bool) error {
	return verifyNextLine(prev, e, want, first, nil)
}

// verifyNextLine is verifyNext for an entry decoded from line, its
// canonical encoding (decodeEntry or canonicalEntry checked it): the hash
// is then computed from line without re-encoding the entry (hashCanonical).
// A nil line means the entry is re-encoded (ComputeHash).
func verifyNextLine(prev, e *Entry, want uint64, first bool, line []byte) error {
	fail := func(format string, a ...any) error {
		return &ChainError{Seq: want, Reason: fmt.Sprintf(format, a...)}
	}
	if e.Seq != want {
		return fail("seq is %d, want %d (an entry was removed, reordered or duplicated)", e.Seq, want)
	}
	if e.Prev != prev.Hash {
		return fail("prev hash %.12s… does not match entry %d's hash %.12s… (the chain is broken)", e.Prev, want-1, prev.Hash)
	}
	if !isHexHash(e.Hash) {
		return fail("hash %q is not 64 lower-case hex digits", e.Hash)
	}
	var match bool
	if sum, ok := hashCanonical(line, e); ok {
		var h [2 * sha256.Size]byte
		hex.Encode(h[:], sum[:])
		match = string(h[:]) == e.Hash
	} else {
		h, err := e.ComputeHash()
		if err != nil {
			return fail("%v", err)
		}
		match = h == e.Hash
	}
	if !match {
		return fail("hash does not match its contents (the entry was edited)")
	}
	t, err := e.WallTime()
	var tb [64]byte
	if err != nil || t.Location() != time.UTC || string(t.AppendFormat(tb[:0], time.RFC3339Nano)) != e.Time {
		return fail("time %q is not UTC RFC 3339", e.Time)
	}
	if e.Mono < 0 || (!first && e.Mono < prev.Mono) {
		return fail("monotonic offset %d goes back from %d", e.Mono, prev.Mono)
	}
	if e.Actor == "" || e.Type == "" {
		return fail("actor and type must not be empty")
	}
	if len(e.Data) == 0 || e.Data[0] != '{' {
		return fail("data is not a JSON object")
	}
	if e.MAC != "" && !isHexHash(e.MAC) {
		return fail("mac %q is not 64 lower-case hex digits", e.MAC)
	}
	return nil
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerHex[s[i]] {
			return false
		}
	}
	return true
}

// lowerHex holds the lower-case hex digits.
var lowerHex = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true,
	'8': true, '9': true, 'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true}

// hashCanonical returns the SHA-256 e.Hash must be the hex of, computed from line, which
// must be e's canonical encoding (json.Marshal(e), as decodeEntry and
// canonicalEntry check). Entry's members up to prev are hashInput's, in
// the same order with the same encoding, so the hash input is line up to
// its ,"hash": member, closed with '}'. ok is false (use ComputeHash) if
// line is nil or does not end as the encoding of e's hash and mac does.
func hashCanonical(line []byte, e *Entry) (sum [sha256.Size]byte, ok bool) {
	if line == nil || !isHexHash(e.Hash) || e.MAC != "" && !isHexHash(e.MAC) {
		return sum, false
	}
	// The tail: ,"hash":"<64 hex>" then ,"mac":"<64 hex>" if present, then }.
	tail := len(`,"hash":""}`) + len(e.Hash)
	if e.MAC != "" {
		tail += len(`,"mac":""`) + len(e.MAC)
	}
	if len(line) < tail+1 {
		return sum, false
	}
	k := len(line) - tail
	t, ok := cutPrefix(line[k:], `,"hash":"`, e.Hash, `"`)
	if ok && e.MAC != "" {
		t, ok = cutPrefix(t, `,"mac":"`, e.MAC, `"`)
	}
	if !ok || string(t) != "}" {
		return sum, false
	}
	d := sha256.New()
	d.Write(line[:k])
	d.Write([]byte{'}'})
	d.Sum(sum[:0])
	return sum, true
}

// cutPrefix removes the concatenation of parts from the start of b.
func cutPrefix(b []byte, parts ...string) ([]byte, bool) {
	for _, p := range parts {
		if len(b) < len(p) || string(b[:len(p)]) != p {
			return b, false
		}
		b = b[len(p):]
	}
	return b, true
}

// decodeEntry strictly decodes one line (without its newline): unknown or
// duplicate fields, trailing data and any non-canonical encoding are errors.
func decodeEntry(line []byte) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("not a journal entry: %w", err)
	}
	if dec.More() {
		return Entry{}, errors.New("trailing data after the entry")
	}
	if err := canonicalEntry(&e, line); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// canonicalEntry checks that line is exactly the canonical encoding of e.
func canonicalEntry(e *Entry, line []byte) error {
	canon, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("re-encoding entry: %w", err)
	}
	if !bytes.Equal(canon, line) {
		return errors.New("entry is not in canonical encoding (edited by hand?)")
	}
	return nil
}
