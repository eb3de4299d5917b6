package runbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks Parse never panics, that every failure is a non-empty
// ErrorList with file:line errors, and that every success satisfies the
// format's invariants.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(testdataDir, "*.md"))
	invalid, _ := filepath.Glob(filepath.Join(testdataDir, "invalid", "*.md"))
	seeds = append(seeds, invalid...)
	if len(seeds) == 0 {
		f.Fatal("no seed runbooks in testdata")
	}
	for _, s := range seeds {
		if strings.HasSuffix(s, "large-500.md") {
			continue // too big to be a useful fuzz seed
		}
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, err := Parse("f.md", data)
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "f.md" || e.Msg == "" || e.Hint == "" || e.Line < 0 {
					t.Fatalf("bad error %#v", e)
				}
			}
			return
		}
		if rb.Title == "" || rb.Version == "" || len(rb.Steps) == 0 {
			t.Fatalf("accepted runbook without title, version or steps")
		}
		ids := map[string]bool{}
		for _, s := range rb.Steps {
			if ids[s.ID] || !idRe.MatchString(s.ID) || s.Title == "" || strings.TrimSpace(s.Instructions) == "" {
				t.Fatalf("accepted bad step %+v", s)
			}
			ids[s.ID] = true
			seen := map[string]bool{}
			for _, r := range s.Reveals {
				if seen[r] || !secretRe.MatchString(r) {
					t.Fatalf("accepted bad reveal %q", r)
				}
				seen[r] = true
			}
		}
	})
}
