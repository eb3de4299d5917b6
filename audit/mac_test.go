package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awnumar/memguard"

	"breakglass/internal/events"
)

func testKey(b byte) *memguard.LockedBuffer {
	return memguard.NewBufferFromBytes(bytes.Repeat([]byte{b}, MACKeySize))
}

// keyedJournal writes a small session: unkeyed entries, the key taken up,
// keyed entries.
func keyedJournal(t *testing.T, key *memguard.LockedBuffer) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.journal")
	j, err := Create(path, "S-1", nil, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	for _, typ := range []string{events.SessionStarted, events.SessionDeclared, events.QuorumCustodian} {
		if _, err := j.Append("system", typ, map[string]string{"n": typ}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.Authenticate(key, JournalAuthenticatedData{Reason: "quorum", Custodians: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{events.SecretRevealed, events.SecretCheckResult, events.StepCompleted, events.QuorumPINRejected} {
		if _, err := j.Append("operator", typ, map[string]string{"name": "aws-root-password"}); err != nil {
			t.Fatal(err)
		}
	}
	return j, path
}

// rechain renumbers entries and recomputes every prev and hash, as an
// attacker with the file can; MACs are left as they are.
func rechain(t *testing.T, entries []Entry) []Entry {
	t.Helper()
	prev := ZeroHash
	for i := range entries {
		entries[i].Seq, entries[i].Prev = uint64(i+1), prev
		h, err := entries[i].ComputeHash()
		if err != nil {
			t.Fatal(err)
		}
		entries[i].Hash, prev = h, h
	}
	if err := Verify(entries); err != nil {
		t.Fatalf("rechained journal does not verify as a chain: %v", err)
	}
	return entries
}

func wantMACError(t *testing.T, err error, seq uint64) {
	t.Helper()
	var me *MACError
	if !errors.As(err, &me) || me.Seq != seq {
		t.Fatalf("got %v, want a *MACError at entry %d", err, seq)
	}
}

// TestMACChain: entries after Authenticate carry a MAC over their hash,
// those before carry none; the file round-trips canonically (an entry
// without a MAC encodes exactly as before the field existed) and verifies
// with the key, not with another.
func TestMACChain(t *testing.T) {
	key := testKey(7)
	j, path := keyedJournal(t, key)
	entries, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if keyed := e.Seq >= 5; keyed != (e.MAC != "") {
			t.Errorf("entry %d (%s) mac %q", e.Seq, e.Type, e.MAC)
		}
		if e.MAC != "" && e.MAC != ComputeMAC(key.Bytes(), e.Hash) {
			t.Errorf("entry %d: MAC is not HMAC-SHA256 of its hash", e.Seq)
		}
		if b, _ := json.Marshal(e); e.MAC == "" && bytes.Contains(b, []byte(`"mac"`)) {
			t.Errorf("entry %d without a MAC encodes a mac field: %s", e.Seq, b)
		}
	}
	if entries[4].Type != TypeJournalAuthenticated || !strings.Contains(string(entries[4].Data), `"checked":4`) {
		t.Errorf("entry 5 is %s %s, want journal.authenticated having checked 4", entries[4].Type, entries[4].Data)
	}
	if err := VerifyMACs(entries, key.Bytes()); err != nil {
		t.Fatal(err)
	}
	wantMACError(t, VerifyMACs(entries, bytes.Repeat([]byte{8}, MACKeySize)), 5)
	if err := j.CheckDisk(); err != nil {
		t.Fatalf("CheckDisk on an untouched journal: %v", err)
	}
}

// TestMACAttacks: what an attacker with the file can do to a keyed journal,
// and what catches it.
func TestMACAttacks(t *testing.T) {
	key := testKey(7)
	_, path := keyedJournal(t, key)
	orig, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() []Entry { return append([]Entry(nil), orig...) }

	t.Run("delete a reveal and recompute the chain", func(t *testing.T) {
		es := clone()
		es = rechain(t, append(es[:5], es[6:]...))
		wantMACError(t, VerifyMACs(es, key.Bytes()), 6)
	})
	t.Run("edit a keyed entry and recompute the chain", func(t *testing.T) {
		es := clone()
		es[5].Data = json.RawMessage(`{"name":"something-else"}`)
		wantMACError(t, VerifyMACs(rechain(t, es), key.Bytes()), 6)
	})
	t.Run("edit an unkeyed entry before the key", func(t *testing.T) {
		es := clone()
		es[2].Data = json.RawMessage(`{"n":"forged"}`)
		wantMACError(t, VerifyMACs(rechain(t, es), key.Bytes()), 5) // the first MAC covers it
	})
	t.Run("strip every MAC", func(t *testing.T) {
		es := clone()
		for i := range es {
			es[i].MAC = ""
		}
		wantMACError(t, CheckUnkeyed(es), 5) // journal.authenticated must carry one
		wantMACError(t, VerifyMACs(es, key.Bytes()), 5)
	})
	t.Run("insert an unauthenticated keyed entry", func(t *testing.T) {
		es := clone()
		extra := es[len(es)-1]
		extra.Type, extra.MAC = events.StepSkipped, ""
		es = rechain(t, append(es, extra))
		wantMACError(t, CheckUnkeyed(es), uint64(len(es)))
	})
	t.Run("insert an unauthenticated unkeyed entry mid-journal", func(t *testing.T) {
		es := clone()
		extra := Entry{Time: es[5].Time, Mono: es[5].Mono, Actor: "x", Type: events.QuorumPINRejected, Data: json.RawMessage(`{}`)}
		es = rechain(t, append(es[:6], append([]Entry{extra}, es[6:]...)...))
		wantMACError(t, VerifyMACs(es, key.Bytes()), 8) // every later MAC breaks
	})
	t.Run("splice entries from another session", func(t *testing.T) {
		_, other := keyedJournal(t, testKey(9))
		oes, err := ReadFile(other)
		if err != nil {
			t.Fatal(err)
		}
		es := rechain(t, append(clone()[:5], oes[5:]...))
		wantMACError(t, VerifyMACs(es, key.Bytes()), 6)
	})
	t.Run("truncate after the reveal", func(t *testing.T) {
		// The MAC cannot see a cut end: what is left verifies. See the package doc.
		if err := VerifyMACs(clone()[:6], key.Bytes()); err != nil {
			t.Fatalf("a truncated journal should verify (the documented residual risk): %v", err)
		}
	})
}

// TestAppendWithoutKey: once authentication has started, a keyed event is
// refused while the key is not held (after Deauthenticate, or after
// reopening), and the events that happen without a quorum are allowed
// unauthenticated; a journal that never held the key is unrestricted.
func TestAppendWithoutKey(t *testing.T) {
	key := testKey(7)
	j, path := keyedJournal(t, key)
	j.Deauthenticate()
	if _, err := j.Append("operator", events.StepCompleted, nil); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("keyed event without the key: %v, want ErrNotAuthenticated", err)
	}
	j.Close()
	j2, _, err := Open(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if _, err := j2.Append("operator", events.SecretRevealed, nil); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("keyed event on a reopened keyed journal: %v, want ErrNotAuthenticated", err)
	}
	for _, typ := range []string{events.SessionResumed, events.QuorumPINRejected} {
		if e, err := j2.Append("breakglass", typ, nil); err != nil || e.MAC != "" {
			t.Fatalf("%s without the key: %+v %v", typ, e, err)
		}
	}
	if _, err := j2.Authenticate(testKey(8), JournalAuthenticatedData{Reason: "resume"}); err == nil {
		t.Fatal("a wrong key was taken up")
	}
	e, err := j2.Authenticate(key, JournalAuthenticatedData{Reason: "resume"})
	if err != nil || e.MAC == "" {
		t.Fatalf("re-authenticate: %+v %v", e, err)
	}
	if e, err := j2.Append("operator", events.SecretRevealed, nil); err != nil || e.MAC == "" {
		t.Fatalf("keyed event after re-authentication: %+v %v", e, err)
	}
	entries, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyMACs(entries, key.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestCheckDisk: the file is compared with what the journal recorded.
func TestCheckDisk(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
		seq  uint64
	}{
		{"entry edited", func(b []byte) []byte {
			return bytes.Replace(b, []byte("aws-root-password"), []byte("aws-root-passw0rd"), 1)
		}, 6},
		{"truncated", func(b []byte) []byte { return b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+1] }, 9},
		{"line appended", func(b []byte) []byte {
			lines := bytes.SplitAfter(b, []byte("\n"))
			return append(b, lines[len(lines)-2]...)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, path := keyedJournal(t, testKey(7))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.edit(b), 0o600); err != nil {
				t.Fatal(err)
			}
			err = j.CheckDisk()
			if err == nil {
				t.Fatal("CheckDisk passed an edited file")
			}
			if tc.seq > 0 {
				wantMACError(t, err, tc.seq)
			}
		})
	}
	t.Run("older copy put back", func(t *testing.T) {
		j, path := keyedJournal(t, testKey(7))
		old, _ := os.ReadFile(path)
		if _, err := j.Append("operator", events.SecretRevealed, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, old, 0o600); err != nil {
			t.Fatal(err)
		}
		wantMACError(t, j.CheckDisk(), 10)
	})
}
