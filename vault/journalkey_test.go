package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestJournalKey: any quorum derives the same key for a session (so it is
// recovered after a restart), another session gets another key, and a
// locked vault derives none.
func TestJournalKey(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	open := func(a, b string) *Opened {
		u := w.v.Unlocker(w.ca.opts())
		for _, who := range []string{a, b} {
			if err := u.AddShare(ctx, w.toks[who], testPIN); err != nil {
				t.Fatal(err)
			}
		}
		o, err := u.Open()
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	o1, o2 := open("alice", "bob"), open("bob", "carol")
	defer o1.Lock()
	k1, err := o1.JournalKey("S-1")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := o2.JournalKey("S-1")
	if err != nil {
		t.Fatal(err)
	}
	k3, err := o1.JournalKey("S-2")
	if err != nil {
		t.Fatal(err)
	}
	if k1.Size() != JournalKeySize || !bytes.Equal(k1.Bytes(), k2.Bytes()) {
		t.Error("two quorums derive different journal keys for one session")
	}
	if bytes.Equal(k1.Bytes(), k3.Bytes()) {
		t.Error("two sessions share a journal key")
	}
	if bytes.Equal(k1.Bytes(), o1.key.Bytes()[:JournalKeySize]) {
		t.Error("the journal key is the vault identity")
	}
	o2.Lock()
	if _, err := o2.JournalKey("S-1"); !errors.Is(err, ErrLocked) {
		t.Errorf("journal key from a locked vault: %v, want ErrLocked", err)
	}
	if _, err := o1.JournalKey(""); err == nil {
		t.Error("journal key for an empty session id")
	}
}
