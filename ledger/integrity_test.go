package ledger

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/audit"
)

// tamperLedger builds a closed ledger of five entries: created, vault,
// report, announcement, review.
func tamperLedger(t *testing.T) (dir string, reportObj string) {
	t.Helper()
	w := getWorld(t)
	clock := &testClock{day(3, 1)}
	l, dir := newLedger(t, clock)
	d := mustImport(t, l, "r.jws", w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1)}), Pin{VaultFile: w.home.Raw})
	if _, err := l.Announce(string(CodeOf(&testReport)), "Sam"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Review("S-1", "Rita", DecisionAccepted, "fine"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	return dir, d.Object
}

func lines(t *testing.T, dir string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, indexFile))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func writeLines(t *testing.T, dir string, ls [][]byte) {
	t.Helper()
	var b []byte
	for _, l := range ls {
		b = append(b, l...)
		if !bytes.HasSuffix(l, []byte("\n")) {
			b = append(b, '\n')
		}
	}
	if err := os.WriteFile(filepath.Join(dir, indexFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTamperDetected changes the ledger directory in every way an editor,
// a script or a careless copy could, and checks that opening it names what
// changed.
func TestTamperDetected(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, dir, obj string)
		kind     string
		whatHas  string
		moreKind string // another problem that must also be named, if any
		only     bool   // no other kind of problem may be named
	}{
		{"edited entry", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			ls[4] = bytes.Replace(ls[4], []byte(`"fine"`), []byte(`"FINE"`), 1)
			writeLines(t, dir, ls)
		}, KindEdited, "entry 5 (review.recorded)", "", false},
		{"entry re-encoded", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			ls[3] = bytes.Replace(ls[3], []byte(`"by":`), []byte(`"by": `), 1)
			writeLines(t, dir, ls)
		}, KindEdited, "entry 4 (announce.recorded)", "", false},
		{"deleted entry", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			writeLines(t, dir, append(ls[:3:3], ls[4:]...))
		}, KindDeleted, "entry 4", "", true},
		{"deleted last entry", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			writeLines(t, dir, ls[:4])
		}, KindDeleted, "entry 5", "", false},
		{"reordered entries", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			ls[3], ls[4] = ls[4], ls[3]
			writeLines(t, dir, ls)
		}, KindReordered, "entry 4 (announce.recorded)", "", true},
		{"duplicated entry", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			writeLines(t, dir, append(ls[:4:4], ls[3], ls[4]))
		}, KindAdded, "entry 4 (announce.recorded)", "", true},
		{"entry appended outside the ledger", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			prev, _ := parseLine(bytes.TrimSuffix(ls[4], []byte("\n")))
			_, line, err := newEntry(&prev, time.Now().UTC().Format(time.RFC3339Nano), TypeReview, ReviewData{Session: "S-1", Reviewer: "Mallory", Decision: DecisionAccepted, Note: "nothing to see"})
			if err != nil {
				t.Fatal(err)
			}
			writeLines(t, dir, append(ls, line))
		}, KindAdded, "entry 6", "", false},
		{"torn last line", func(t *testing.T, dir, _ string) {
			f, err := os.OpenFile(filepath.Join(dir, indexFile), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(`{"seq":6,"ti`)
			f.Close()
		}, KindTorn, "index line 6", "", false},
		{"garbage line", func(t *testing.T, dir, _ string) {
			ls := lines(t, dir)
			ls[2] = []byte("not json\n")
			writeLines(t, dir, ls)
		}, KindMalformed, "index line 3", KindDeleted, false},
		{"index emptied", func(t *testing.T, dir, _ string) {
			os.WriteFile(filepath.Join(dir, indexFile), nil, 0o600)
			os.WriteFile(filepath.Join(dir, headFile), []byte(`{"seq":0,"hash":""}`+"\n"), 0o600)
		}, KindDeleted, "entry 1", "", false},
		{"index deleted", func(t *testing.T, dir, _ string) {
			os.Remove(filepath.Join(dir, indexFile))
		}, KindDeleted, "file " + indexFile, "", false},
		{"head deleted", func(t *testing.T, dir, _ string) {
			os.Remove(filepath.Join(dir, headFile))
		}, KindDeleted, "file " + headFile, "", false},
		{"report object deleted", func(t *testing.T, dir, obj string) {
			os.Remove(filepath.Join(dir, objectsDir, obj))
		}, KindDeleted, "report of session S-1", "", false},
		{"report object edited", func(t *testing.T, dir, obj string) {
			p := filepath.Join(dir, objectsDir, obj)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, append(b, ' '), 0o600)
		}, KindEdited, "report of session S-1", "", false},
		{"object added", func(t *testing.T, dir, _ string) {
			b := []byte("a report smuggled in")
			os.WriteFile(filepath.Join(dir, objectsDir, sha256Hex(b)), b, 0o600)
		}, KindAdded, "object " + short(sha256Hex([]byte("a report smuggled in"))), "", false},
		{"file added", func(t *testing.T, dir, _ string) {
			os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o600)
		}, KindAdded, "file notes.txt", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, obj := tamperLedger(t)
			tt.tamper(t, dir, obj)
			_, err := Open(Config{Dir: dir, Trust: getWorld(t).trust}, false)
			var te *TamperError
			if !errors.As(err, &te) || !errors.Is(err, ErrTampered) {
				t.Fatalf("Open after %s = %v, want a *TamperError", tt.name, err)
			}
			if !hasProblem(te, tt.kind, tt.whatHas) {
				t.Errorf("problems %v, want %s %q", te.Problems, tt.kind, tt.whatHas)
			}
			if tt.moreKind != "" && !hasProblem(te, tt.moreKind, "") {
				t.Errorf("problems %v, want also %s", te.Problems, tt.moreKind)
			}
			for _, p := range te.Problems {
				if tt.only && p.Kind != tt.kind {
					t.Errorf("%s also named as %v", tt.name, p)
				}
			}
			if !strings.Contains(err.Error(), tt.whatHas) {
				t.Errorf("message does not name %q: %v", tt.whatHas, err)
			}
			// Creating over a tampered ledger must not paper over it either.
			if _, err := Open(Config{Dir: dir, Trust: getWorld(t).trust}, true); !errors.Is(err, ErrTampered) {
				t.Errorf("Open(create) after %s = %v, want ErrTampered", tt.name, err)
			}
		})
	}
}

func hasProblem(te *TamperError, kind, what string) bool {
	for _, p := range te.Problems {
		if p.Kind == kind && strings.Contains(p.What, what) {
			return true
		}
	}
	return false
}

func TestUntouchedLedgerOpens(t *testing.T) {
	dir, _ := tamperLedger(t)
	l, err := Open(Config{Dir: dir, Trust: getWorld(t).trust}, false)
	if err != nil {
		t.Fatalf("Open of an untouched ledger: %v", err)
	}
	defer l.Close()
	if seq, _ := l.Head(); seq != 5 {
		t.Errorf("head seq = %d, want 5", seq)
	}
}

// testReport is a declaration for announce codes no report has.
var testReport = audit.Report{Session: audit.SessionInfo{ID: "S-announced-only", Operator: "Olga"}}
