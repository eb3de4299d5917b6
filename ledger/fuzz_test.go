package ledger

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ledger/testdata")

const seedIndex = "testdata/ledger.jsonl"

// TestSeedIndex keeps testdata/ledger.jsonl a real, intact ledger index
// (rewritten with -update).
func TestSeedIndex(t *testing.T) {
	if *update {
		dir, _ := tamperLedger(t)
		b, err := os.ReadFile(filepath.Join(dir, indexFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(seedIndex, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(seedIndex)
	if err != nil {
		t.Fatal(err)
	}
	entries, probs := ParseIndex(b)
	if probs = append(probs, checkChain(entries)...); len(probs) > 0 || len(entries) < 5 {
		t.Fatalf("%s: %d entries, problems %v", seedIndex, len(entries), probs)
	}
}

// FuzzParseIndex feeds the index parser and the chain check arbitrary
// bytes, seeded with a real ledger's index and damaged copies of it: they
// must never panic, and an index they accept must re-encode byte for byte.
func FuzzParseIndex(f *testing.F) {
	var seeds [][]byte
	if b, err := os.ReadFile(filepath.Join(seedIndex)); err == nil && len(b) > 0 {
		seeds = append(seeds, b, b[:len(b)/2], bytes.ReplaceAll(b, []byte(`"seq":2`), []byte(`"seq":3`)))
	}
	if len(seeds) == 0 {
		f.Fatalf("no seeds: %s is missing (go test ./ledger -run TestSeedIndex -update)", seedIndex)
	}
	seeds = append(seeds, []byte("{}\n"), []byte(`{"seq":1,"time":"","type":"ledger.created","data":{},"prev":"","hash":""}`+"\n"))
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, probs := ParseIndex(b)
		probs = append(probs, checkChain(entries)...)
		if len(probs) > 0 {
			return
		}
		var out []byte
		for _, e := range entries {
			line, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(append(out, line...), '\n')
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("an index that passed does not re-encode to the same bytes")
		}
	})
}
