package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Kinds of Problem: what happened to the ledger directory.
const (
	KindEdited    = "edited"    // an entry or object's content no longer matches its hash
	KindDeleted   = "deleted"   // an entry or object is missing
	KindReordered = "reordered" // entries are not in their recorded order
	KindAdded     = "added"     // an entry, object or file the index does not account for
	KindMalformed = "malformed" // an index line that is not an entry at all
	KindTorn      = "torn"      // the index ends in an incomplete line
)

// Problem is one thing that changed in the ledger directory.
type Problem struct {
	Kind   string `json:"kind"`
	What   string `json:"what"`   // "entry 4 (report.imported)", "object 3f2a…", "file notes.txt"
	Detail string `json:"detail"` // how it was found
}

// String is "WHAT KIND: DETAIL", e.g. "entry 4 (review.recorded) edited: …".
func (p Problem) String() string { return fmt.Sprintf("%s %s: %s", p.What, p.Kind, p.Detail) }

// ErrTampered is wrapped by *TamperError.
var ErrTampered = errors.New("the ledger directory was changed outside the ledger")

// TamperError lists everything the integrity check found. Every ledger
// operation returns it before doing anything else.
type TamperError struct {
	Dir      string
	Problems []Problem
}

// Error lists every problem and what to do.
func (e *TamperError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ledger %q fails its integrity check (%d problems): ", e.Dir, len(e.Problems))
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	b.WriteString("; restore the directory from a backup and compare it with this one before trusting either")
	return b.String()
}

// Is makes errors.Is(err, ErrTampered) hold.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// Directory layout.
const (
	indexFile  = "ledger.jsonl"
	headFile   = "head"
	objectsDir = "objects"
)

// head is the content of the head file: the last entry's seq and hash.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func describe(e Entry) string { return fmt.Sprintf("entry %d (%s)", e.Seq, e.Type) }

// checkChain checks the entries' hashes, order and links. Gaps are found
// in the set of entry numbers, order in the file order, links between
// consecutive numbers: so a swap is named as a reorder, not a deletion.
func checkChain(entries []Entry) []Problem {
	var probs []Problem
	add := func(kind, what, format string, args ...any) {
		probs = append(probs, Problem{kind, what, fmt.Sprintf(format, args...)})
	}
	bySeq := map[uint64]Entry{}
	var last uint64 // highest seq so far in file order
	for i, e := range entries {
		if e.ComputeHash() != e.Hash {
			add(KindEdited, describe(e), "its content does not match its hash")
		}
		switch _, dup := bySeq[e.Seq]; {
		case dup:
			add(KindAdded, describe(e), "a second entry with this number (index line %d)", i+1)
			continue
		case e.Seq < last:
			add(KindReordered, describe(e), "found after entry %d", last)
		}
		bySeq[e.Seq] = e
		last = max(last, e.Seq)
	}
	seqs := slices.Sorted(func(yield func(uint64) bool) {
		for k := range bySeq {
			if !yield(k) {
				return
			}
		}
	})
	var prev uint64
	for _, k := range seqs {
		e := bySeq[k]
		switch {
		case k > prev+1:
			add(KindDeleted, entryRange(prev+1, k-1), "the index goes from entry %d to entry %d", prev, k)
		case k == 1 && (e.Type != TypeCreated || e.Prev != ZeroHash):
			add(KindEdited, describe(e), "the first entry must be %s with prev %s…", TypeCreated, ZeroHash[:8])
		case k > 1 && e.Prev != bySeq[k-1].Hash:
			add(KindEdited, describe(e), "it does not follow entry %d (one of them was replaced or inserted)", k-1)
		}
		prev = k
	}
	return probs
}

func entryRange(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("entry %d", a)
	}
	return fmt.Sprintf("entries %d-%d", a, b)
}

// checkHead compares the head file with the index's last entry.
func checkHead(dir string, entries []Entry) []Problem {
	b, err := os.ReadFile(filepath.Join(dir, headFile))
	if errors.Is(err, fs.ErrNotExist) {
		return []Problem{{KindDeleted, "file " + headFile, "the record of the last entry is missing"}}
	}
	var h head
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		return []Problem{{KindMalformed, "file " + headFile, fmt.Sprintf("unreadable: %v", err)}}
	}
	var lastSeq uint64 // the highest entry number, wherever it is in the file
	var lastHash string
	for _, e := range entries {
		if e.Seq > lastSeq {
			lastSeq, lastHash = e.Seq, e.Hash
		}
	}
	switch {
	case h.Seq > lastSeq:
		return []Problem{{KindDeleted, entryRange(lastSeq+1, h.Seq), fmt.Sprintf("the head file records %d entries, the index ends at entry %d", h.Seq, lastSeq)}}
	case h.Seq < lastSeq:
		return []Problem{{KindAdded, entryRange(h.Seq+1, lastSeq), fmt.Sprintf("after the recorded head (entry %d): appended outside the ledger, or a write was interrupted", h.Seq)}}
	case h.Hash != lastHash:
		return []Problem{{KindEdited, fmt.Sprintf("entry %d", lastSeq), "its hash is not the one the head file records"}}
	}
	return nil
}

// objectRef is the object an entry refers to, if any.
func objectRef(e Entry) (hash, what string) {
	var d struct {
		Object  string `json:"object"`
		Session string `json:"session"`
		Finger  string `json:"fingerprint"`
		ID      string `json:"id"`
	}
	if json.Unmarshal(e.Data, &d) != nil || d.Object == "" {
		return "", ""
	}
	switch e.Type {
	case TypeReportImported:
		return d.Object, fmt.Sprintf("object %s (report of session %s, entry %d)", short(d.Object), d.Session, e.Seq)
	case TypeVaultImported:
		return d.Object, fmt.Sprintf("object %s (vault %s, entry %d)", short(d.Object), d.Finger, e.Seq)
	case TypeReviewer:
		return d.Object, fmt.Sprintf("object %s (enrolment of reviewer %s, entry %d)", short(d.Object), d.ID, e.Seq)
	}
	return "", ""
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// checkObjects checks every referenced object against its name and content,
// and that nothing else is in the directory.
func checkObjects(dir string, entries []Entry) []Problem {
	var probs []Problem
	refs := map[string]string{}
	for _, e := range entries {
		if h, what := objectRef(e); h != "" {
			refs[h] = what
		}
	}
	for _, h := range slices.Sorted(mapKeys(refs)) {
		b, err := os.ReadFile(filepath.Join(dir, objectsDir, h))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			probs = append(probs, Problem{KindDeleted, refs[h], "the file is missing from " + objectsDir + "/"})
		case err != nil:
			probs = append(probs, Problem{KindMalformed, refs[h], fmt.Sprintf("unreadable: %v", err)})
		case sha256Hex(b) != h:
			probs = append(probs, Problem{KindEdited, refs[h], "its content no longer matches its SHA-256 name"})
		}
	}
	files, err := os.ReadDir(filepath.Join(dir, objectsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		probs = append(probs, Problem{KindMalformed, "directory " + objectsDir, fmt.Sprintf("unreadable: %v", err)})
	}
	for _, f := range files {
		if _, ok := refs[f.Name()]; !ok {
			probs = append(probs, Problem{KindAdded, "object " + short(f.Name()), "no index entry refers to it (added, or its entry was deleted)"})
		}
	}
	top, err := os.ReadDir(dir)
	if err != nil {
		return append(probs, Problem{KindMalformed, "directory", fmt.Sprintf("unreadable: %v", err)})
	}
	for _, f := range top {
		if n := f.Name(); n != indexFile && n != headFile && n != objectsDir {
			probs = append(probs, Problem{KindAdded, "file " + n, "not part of a ledger"})
		}
	}
	return probs
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// check reads and checks the whole ledger directory. It returns the entries
// and a *TamperError listing every problem found.
func check(dir string) ([]Entry, error) {
	b, err := os.ReadFile(filepath.Join(dir, indexFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("opening ledger %q: %w (create it with \"breakglass ledger import --ledger %s …\")", dir, serr, dir)
		}
		return nil, &TamperError{Dir: dir, Problems: []Problem{{KindDeleted, "file " + indexFile, "the index is missing"}}}
	}
	if err != nil {
		return nil, fmt.Errorf("reading ledger index %q: %w", filepath.Join(dir, indexFile), err)
	}
	entries, probs := ParseIndex(b)
	probs = append(probs, checkChain(entries)...)
	if len(entries) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{KindDeleted, "entry 1 (" + TypeCreated + ")", "the index is empty"})
	}
	probs = append(probs, checkHead(dir, entries)...)
	probs = append(probs, checkObjects(dir, entries)...)
	if len(probs) > 0 {
		return entries, &TamperError{Dir: dir, Problems: probs}
	}
	return entries, nil
}
