package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzJournalResume is the round trip between the journal parser and
// resuming: a journal Parse accepts opens with the same entries and takes
// the next entry chained to its head; a torn tail (after the first line) is
// repaired by OpenRepair into a journal that parses, keeping every entry
// before it, and keeping a complete last entry that lacks only its newline;
// any other damage is refused by OpenRepair with the file left unchanged.
func FuzzJournalResume(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(testdataDir, "*.jsonl"))
	if len(seeds) == 0 {
		f.Fatal("no journal seeds in testdata/audit")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if bytes.HasSuffix(b, []byte("\n")) {
			f.Add(b[:len(b)-1]) // a complete last entry without its newline
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, perr := Parse(bytes.NewReader(b))
		path := filepath.Join(t.TempDir(), "s.journal")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		var ce *CorruptError
		switch {
		case perr == nil:
			j, got, err := Open(path, Config{})
			if err != nil {
				t.Fatalf("Open refuses a journal Parse accepts: %v", err)
			}
			samePrefix(t, got, entries, len(entries))
			e, err := j.Append("operator", "note", nil)
			j.Close()
			if err != nil || e.Seq != uint64(len(entries)+1) || e.Prev != entries[len(entries)-1].Hash {
				t.Fatalf("append after resume: %+v %v", e, err)
			}
			after, err := ReadFile(path)
			if err != nil || len(after) != len(entries)+1 {
				t.Fatalf("after resume and append: %d entries, %v", len(after), err)
			}
			samePrefix(t, after, entries, len(entries))
		case !errors.As(perr, &ce):
			t.Fatalf("Parse error is not a CorruptError: %v", perr)
		case ce.Torn && (ce.Line > 1 || ce.Complete):
			j, got, err := OpenRepair(path, Config{})
			if err != nil {
				t.Fatalf("OpenRepair refuses a torn tail (%v): %v", perr, err)
			}
			j.Close()
			after, err := ReadFile(path)
			if err != nil {
				t.Fatalf("repaired journal does not parse: %v", err)
			}
			samePrefix(t, after, entries, len(entries))
			samePrefix(t, after, got, len(got))
			if ce.Complete {
				raw, _ := os.ReadFile(path)
				if len(after) != len(entries)+1 || !bytes.Equal(raw, append(bytes.Clone(b), '\n')) {
					t.Fatalf("a complete last entry was not kept as is: %d entries", len(after))
				}
			} else if len(after) != len(entries)+1 || after[len(after)-1].Type != TypeJournalRepaired {
				t.Fatalf("torn tail: repaired journal has %d entries, last %q", len(after), after[len(after)-1].Type)
			}
		default:
			if _, _, err := OpenRepair(path, Config{}); err == nil {
				t.Fatalf("OpenRepair repaired damage that is not a torn tail: %v", perr)
			}
			if raw, _ := os.ReadFile(path); !bytes.Equal(raw, b) {
				t.Fatal("OpenRepair changed a journal it refused to repair")
			}
		}
	})
}

// samePrefix fails unless got begins with the first n entries of want.
func samePrefix(t *testing.T, got, want []Entry, n int) {
	t.Helper()
	if len(got) < n || len(want) < n {
		t.Fatalf("%d and %d entries, want at least %d", len(got), len(want), n)
	}
	for i := range n {
		if got[i].Hash != want[i].Hash || got[i].Seq != want[i].Seq {
			t.Fatalf("entry %d differs: %s, want %s", i+1, got[i].Hash, want[i].Hash)
		}
	}
}
