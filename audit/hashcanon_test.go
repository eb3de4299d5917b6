package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// TestHashCanonicalIsComputeHash: the hash taken from an entry's canonical
// line is ComputeHash's, for entries whose encoding escapes (HTML
// characters, U+2028, control characters, invalid UTF-8, quotes), with and
// without a MAC.
func TestHashCanonicalIsComputeHash(t *testing.T) {
	f := newFixture(t)
	entries := append([]Entry(nil), f.entries...)
	odd := []string{`<script>&amp;</script>`, "line\u2028sep\u2029", "tab\tnul\x00bell\x07", "bad\xffutf8", `quote" back\ slash`, "é 漢字 🙂"}
	for i, s := range odd {
		data, err := json.Marshal(map[string]string{"text": s, "<k>": s})
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{Seq: uint64(i + 1), Time: "2026-01-01T09:00:00.123456789Z", Mono: int64(i), Actor: s, Type: "evidence.note", Data: data, Prev: ZeroHash}
		e.Hash, _ = e.ComputeHash()
		entries = append(entries, e)
		if i%2 == 0 {
			e.MAC = ComputeMAC(make([]byte, MACKeySize), e.Hash)
			entries = append(entries, e)
		}
	}
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := e.ComputeHash()
		sum, ok := hashCanonical(line, &e)
		if got := hex.EncodeToString(sum[:]); !ok || got != want {
			t.Errorf("entry %d (%q): hashCanonical %q, %v; ComputeHash %q", e.Seq, e.Actor, got, ok, want)
		}
	}
	// Not the canonical tail of this entry's hash and mac: fall back.
	e := entries[0]
	line, _ := json.Marshal(e)
	for name, l := range map[string][]byte{
		"nil":          nil,
		"other hash":   bytes.Replace(line, []byte(e.Hash), []byte(strings.Repeat("0", 64)), 1),
		"spaced tail":  bytes.Replace(line, []byte(`,"hash":`), []byte(`, "hash":`), 1),
		"no brace":     line[:len(line)-1],
		"mac expected": append(line[:len(line)-1:len(line)-1], `,"mac":"`+e.Hash+`"}`...),
	} {
		if _, ok := hashCanonical(l, &e); ok {
			t.Errorf("%s: hashCanonical accepted a line that is not this entry's encoding", name)
		}
	}
	bad := e
	bad.Hash = strings.ToUpper(bad.Hash)
	if _, ok := hashCanonical(line, &bad); ok {
		t.Error("hashCanonical accepted a hash that is not lower-case hex")
	}
}
