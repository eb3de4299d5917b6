package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func newJournal(t testing.TB) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := Create(path, "S-1", map[string]string{"station": "laptop-1"}, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

func TestCreateAppendRead(t *testing.T) {
	j, path := newJournal(t)
	for i := range 5 {
		if _, err := j.Append("operator", "note", map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, j.Entries(), entryEqual) || len(got) != 6 || j.Len() != 6 {
		t.Fatalf("read back %d entries, journal has %d", len(got), j.Len())
	}
	if got[0].Type != TypeJournalCreated || got[0].Prev != ZeroHash || j.Head() != got[5].Hash {
		t.Errorf("first entry %+v, head %s", got[0], j.Head())
	}
	if got[0].Time != "2026-01-02T03:04:07.5Z" || got[1].Mono-got[0].Mono != 1250000000 {
		t.Errorf("clock not used: time %s mono %d", got[0].Time, got[1].Mono)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600 (%v)", st.Mode(), err)
	}
	if _, err := Create(path, "S-2", nil, Config{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing journal: %v, want ErrExist", err)
	}
	p2 := filepath.Join(t.TempDir(), "j2.jsonl")
	if _, err := Create(p2, "S-3", map[string]string{"pin": "1234"}, Config{}); !errors.Is(err, ErrSecretField) {
		t.Errorf("Create with secret genesis data: %v", err)
	}
	if _, err := os.Stat(p2); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Create left %q behind (%v)", p2, err)
	}
}

func entryEqual(a, b Entry) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestVerifyDetectsChanges(t *testing.T) {
	j, _ := newJournal(t)
	for i := range 6 {
		if _, err := j.Append("operator", "note", map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	orig := j.Entries()
	type mutation struct {
		name    string
		mutate  func([]Entry) []Entry
		wantSeq uint64
	}
	var cases []mutation
	for k := range orig {
		cases = append(cases,
			mutation{"remove " + orig[k].Type, func(e []Entry) []Entry { return slices.Delete(e, k, k+1) }, uint64(k + 1)},
			mutation{"duplicate", func(e []Entry) []Entry { return slices.Insert(e, k, e[k]) }, uint64(k + 2)},
			mutation{"edit data", func(e []Entry) []Entry { e[k].Data = json.RawMessage(`{"n":99}`); return e }, uint64(k + 1)},
			mutation{"edit actor", func(e []Entry) []Entry { e[k].Actor = "mallory"; return e }, uint64(k + 1)},
		)
		if k+1 < len(orig) {
			cases = append(cases, mutation{"swap with next", func(e []Entry) []Entry { e[k], e[k+1] = e[k+1], e[k]; return e }, uint64(k + 1)})
		}
	}
	cases = append(cases, mutation{"mono goes back, rehashed", func(e []Entry) []Entry {
		e[3].Mono = e[2].Mono - 1
		e[3].Hash, _ = e[3].ComputeHash()
		return e
	}, 4})
	for _, tc := range cases {
		got := tc.mutate(slices.Clone(orig))
		if len(got) == len(orig)-1 && tc.wantSeq == uint64(len(orig)) {
			continue // removing the last entry leaves a valid, shorter journal: the report's head catches it
		}
		err := Verify(got)
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Seq != tc.wantSeq {
			t.Errorf("%s at %d: Verify = %v, want a ChainError at entry %d", tc.name, tc.wantSeq, err, tc.wantSeq)
		}
	}
}

func TestOpenTornTailEveryOffset(t *testing.T) {
	j, path := newJournal(t)
	for i := range 3 {
		if _, err := j.Append("operator", "note", map[string]string{"text": strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := j.Entries()
	lastStart := bytes.LastIndexByte(full[:len(full)-1], '\n') + 1
	for cut := lastStart; cut < len(full); cut++ {
		p := filepath.Join(t.TempDir(), "j.jsonl")
		if err := os.WriteFile(p, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		oj, got, err := Open(p, Config{})
		if !slices.EqualFunc(got, want[:3], entryEqual) {
			t.Fatalf("cut at %d: %d complete entries returned, want the 3 before the torn line", cut, len(got))
		}
		if cut == lastStart {
			if err != nil {
				t.Fatalf("cut at a line boundary: %v", err)
			}
			oj.Close()
			continue
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Line != 4 || !ce.Torn || ce.Offset != int64(lastStart) || ce.Bytes != int64(cut-lastStart) {
			t.Fatalf("cut at %d: Open = %v (%+v), want torn line 4 at byte %d", cut, err, ce, lastStart)
		}
		if !strings.Contains(ce.Error(), "line 4") {
			t.Errorf("message %q does not name the line", ce.Error())
		}
		if oj != nil {
			t.Fatal("Open returned a journal for a damaged file")
		}
	}
}

func TestOpenRepair(t *testing.T) {
	j, path := newJournal(t)
	if _, err := j.Append("operator", "note", nil); err != nil {
		t.Fatal(err)
	}
	j.Close()
	full, _ := os.ReadFile(path)
	torn := []byte(`{"seq":3,"time":"2026-01-02T03:0`)
	if err := os.WriteFile(path, append(bytes.Clone(full), torn...), 0o600); err != nil {
		t.Fatal(err)
	}
	rj, entries, err := OpenRepair(path, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	defer rj.Close()
	last := entries[len(entries)-1]
	var d RepairedData
	if err := json.Unmarshal(last.Data, &d); err != nil || last.Type != TypeJournalRepaired || last.Seq != 3 {
		t.Fatalf("last entry %+v (%v), want journal.repaired", last, err)
	}
	saved, err := os.ReadFile(filepath.Join(filepath.Dir(path), d.SavedAs))
	if err != nil || !bytes.Equal(saved, torn) || d.RemovedBytes != int64(len(torn)) || d.Line != 3 {
		t.Errorf("torn bytes kept as %q = %q (%v), record %+v", d.SavedAs, saved, err, d)
	}
	if got, err := ReadFile(path); err != nil || len(got) != 3 {
		t.Errorf("repaired journal: %d entries, %v", len(got), err)
	}

	// Damage that is not a torn tail is never repaired.
	edited := bytes.Replace(full, []byte(`"actor":"operator"`), []byte(`"actor":"mallory!"`), 1)
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = OpenRepair(path, Config{})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Torn || ce.Line != 2 {
		t.Fatalf("OpenRepair of an edited line = %v, want a CorruptError at line 2", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, edited) {
		t.Error("OpenRepair changed a journal it refused to repair")
	}
}

func TestOpenResumesMono(t *testing.T) {
	j, path := newJournal(t)
	j.Append("operator", "note", nil)
	j.Close()
	clock := newClock() // a new process: the wall clock restarts, mono must not go back
	rj, entries, err := Open(path, Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer rj.Close()
	e, err := rj.Append("operator", "session.resumed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Mono < entries[len(entries)-1].Mono || e.Prev != entries[len(entries)-1].Hash {
		t.Errorf("resumed entry %+v does not continue the chain", e)
	}
	if _, err := ReadFile(path); err != nil {
		t.Error(err)
	}
}

func TestParseRejectsNonCanonical(t *testing.T) {
	j, path := newJournal(t)
	j.Append("operator", "note", map[string]int{"n": 1})
	full, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(full, []byte("\n"))
	for _, tc := range []struct{ name, old, new string }{
		{"spacing", `"seq":2,`, `"seq": 2,`},
		{"key case", `"actor"`, `"Actor"`},
		{"unknown field", `"seq":2,`, `"seq":2,"x":1,`},
		{"duplicate field", `"seq":2,`, `"seq":2,"seq":2,`},
		{"not json", `{"seq":2`, `[{"seq":2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := append(bytes.Clone(lines[0]), bytes.Replace(lines[1], []byte(tc.old), []byte(tc.new), 1)...)
			_, err := Parse(bytes.NewReader(bad))
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Line != 2 || ce.Torn {
				t.Errorf("Parse = %v, want a CorruptError at line 2", err)
			}
		})
	}
	if _, err := Parse(bytes.NewReader(nil)); err == nil {
		t.Error("an empty journal parsed")
	}
}

func TestAppendRefusesSecrets(t *testing.T) {
	j, _ := newJournal(t)
	for _, tc := range []struct {
		name string
		data any
	}{
		{"pin", map[string]string{"pin": "123456"}},
		{"nested password", map[string]any{"step": map[string]string{"Password": "x"}}},
		{"seed in array", map[string]any{"list": []any{map[string]string{"seed": "JBSWY3DP"}}}},
		{"dashed private key", map[string]string{"private-key": "k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := j.Append("operator", "note", tc.data); !errors.Is(err, ErrSecretField) {
				t.Errorf("Append = %v, want ErrSecretField", err)
			}
		})
	}
	if _, err := j.Append("operator", "note", "a string"); err == nil {
		t.Error("non-object data accepted")
	}
	if _, err := j.Append("operator", "note", map[string]any{"name": "db-root", "values": []string{"pin", "seed"}}); err != nil {
		t.Errorf("secret names as values must be allowed: %v", err)
	}
	if _, err := j.Append("operator", "note", map[string]string{"text": strings.Repeat("x", MaxLineBytes)}); err == nil {
		t.Error("an entry too long for Parse was written")
	}
	if _, err := j.Append("operator", "note", map[string]string(nil)); err != nil {
		t.Errorf("nil map data: %v", err)
	}
	if j.Len() != 3 {
		t.Errorf("refused appends changed the journal: %d entries", j.Len())
	}
	if _, err := ReadFile(j.Path()); err != nil {
		t.Error(err)
	}
}

// failingFile simulates a disk that fails writes after some bytes.
type failingFile struct {
	journalFile
	writeErr error
	partial  int // bytes written before failing
	syncErr  error
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.writeErr == nil {
		return f.journalFile.Write(p)
	}
	n, _ := f.journalFile.Write(p[:min(f.partial, len(p))])
	return n, f.writeErr
}

func (f *failingFile) Sync() error {
	if f.syncErr != nil {
		return f.syncErr
	}
	return f.journalFile.Sync()
}

func TestAppendDiskFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ff         failingFile
		wantErr    error
		retryWorks bool
	}{
		{"disk full mid-line", failingFile{writeErr: syscall.ENOSPC, partial: 17}, syscall.ENOSPC, true},
		{"read-only filesystem", failingFile{writeErr: syscall.EROFS}, syscall.EROFS, true},
		{"fsync fails", failingFile{syncErr: syscall.EIO}, syscall.EIO, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, path := newJournal(t)
			j.Append("operator", "note", nil)
			before := j.Entries()
			ff := tc.ff
			ff.journalFile = j.f
			j.f = &ff
			if _, err := j.Append("operator", "note", map[string]int{"n": 1}); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Append = %v, want %v", err, tc.wantErr)
			}
			got, err := ReadFile(path)
			if err != nil || !slices.EqualFunc(got, before, entryEqual) {
				t.Fatalf("after the failure the file has %d entries (%v), want the %d before it", len(got), err, len(before))
			}
			ff.writeErr, ff.syncErr = nil, nil
			_, err = j.Append("operator", "note", map[string]int{"n": 2})
			if tc.retryWorks != (err == nil) || (!tc.retryWorks && !errors.Is(err, ErrJournalBroken)) {
				t.Fatalf("retry after the disk recovered: %v", err)
			}
			if err == nil {
				if got, err := ReadFile(path); err != nil || len(got) != len(before)+1 {
					t.Errorf("after retry: %d entries, %v", len(got), err)
				}
			}
		})
	}
}

func FuzzJournalParse(f *testing.F) {
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
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := Parse(bytes.NewReader(b))
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) && ce.Line < 1 {
				t.Fatalf("corrupt error without a line: %v", err)
			}
			return
		}
		if err := Verify(entries); err != nil {
			t.Fatalf("Parse accepted a journal Verify rejects: %v", err)
		}
		var out bytes.Buffer
		for _, e := range entries {
			line, _ := json.Marshal(e)
			out.Write(append(line, '\n'))
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatal("an accepted journal does not re-encode to the same bytes")
		}
	})
}

// TestOpenRepairKeepsCompleteLastEntry is issue 10 item 11: a last entry
// that lacks only its newline is a recorded event (here the one that closes
// the session): repair keeps it and adds the newline, durably, instead of
// cutting it away.
func TestOpenRepairKeepsCompleteLastEntry(t *testing.T) {
	j, path := newJournal(t)
	if _, err := j.Append("operator", "note", nil); err != nil {
		t.Fatal(err)
	}
	closed, err := j.Append("breakglass", "session.closed", map[string]string{"outcome": "resolved"})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	full, _ := os.ReadFile(path)
	if err := os.WriteFile(path, full[:len(full)-1], 0o600); err != nil {
		t.Fatal(err)
	}

	_, _, err = Open(path, Config{})
	var ce *CorruptError
	if !errors.As(err, &ce) || !ce.Torn || !ce.Complete || ce.Line != 3 {
		t.Fatalf("Open without the last newline = %v, want a complete torn line 3", err)
	}
	rj, entries, err := OpenRepair(path, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries); n != 3 || entries[n-1].Type != "session.closed" || rj.Head() != closed.Hash {
		t.Fatalf("repaired: %d entries, last %+v, head %s; want session.closed %s", n, entries[n-1], rj.Head(), closed.Hash)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, full) {
		t.Errorf("repaired file is not the journal with its newline:\n%q\nwant\n%q", after, full)
	}
	if torn, _ := filepath.Glob(path + ".torn-*"); len(torn) != 0 {
		t.Errorf("a complete entry was set aside as torn: %v", torn)
	}
	if e, err := rj.Append("operator", "note", nil); err != nil || e.Seq != 4 {
		t.Errorf("append after repair: %+v %v", e, err)
	}
	rj.Close()
	if got, err := ReadFile(path); err != nil || len(got) != 4 {
		t.Errorf("journal after repair and append: %d entries, %v", len(got), err)
	}

	// A last line that parses but does not chain is still torn: set aside.
	bad := bytes.Replace(full[:len(full)-1], []byte(`"resolved"`), []byte(`"RESOLVED"`), 1)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	rj, entries, err = OpenRepair(path, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	rj.Close()
	if last := entries[len(entries)-1]; last.Type != TypeJournalRepaired || len(entries) != 3 {
		t.Errorf("unchained last line: entries end with %q (%d), want journal.repaired", last.Type, len(entries))
	}
}
