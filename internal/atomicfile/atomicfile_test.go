package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// names lists dir's entries, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	slices.Sort(out)
	return out
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name     string
		existing string // "" means no file before
		perm     os.FileMode
	}{
		{"creates a new file", "", 0o640},
		{"replaces an existing file", "old content", 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "out.json")
			if tc.existing != "" {
				if err := os.WriteFile(p, []byte(tc.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(p, []byte("new"), tc.perm); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != "new" {
				t.Fatalf("content = %q, %v; want %q", got, err, "new")
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.perm {
				t.Errorf("perm = %v, want %v", fi.Mode().Perm(), tc.perm)
			}
			if n := names(t, dir); !slices.Equal(n, []string{"out.json"}) {
				t.Errorf("directory holds %q, want only out.json (no .prev, no temp)", n)
			}
		})
	}
}

func TestWriteRefusedLeavesNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the target path
		write func(path string) error
	}{
		{
			name: "target is a non-empty directory (rename fails)",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "target")
				if err := os.MkdirAll(filepath.Join(p, "child"), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			},
			write: func(p string) error { return Write(p, []byte("x"), 0o600) },
		},
		{
			name: "keep-previous of a directory fails before anything is written",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "target")
				if err := os.MkdirAll(filepath.Join(p, "child"), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			},
			write: func(p string) error { return WriteKeepPrevious(p, []byte("x"), 0o600) },
		},
		{
			name: "directory does not exist",
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "missing", "target")
			},
			write: func(p string) error { return Write(p, []byte("x"), 0o600) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tc.setup(t, dir)
			before := names(t, dir)
			if err := tc.write(p); err == nil {
				t.Fatal("write succeeded, want an error")
			}
			if after := names(t, dir); !slices.Equal(before, after) {
				t.Errorf("directory changed from %q to %q: a refused write must leave nothing", before, after)
			}
		})
	}
}

func TestWriteKeepPrevious(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vault.json")
	prev := p + PrevSuffix

	if err := WriteKeepPrevious(p, []byte("v1"), 0o600); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if _, err := os.Stat(prev); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("first write made %s (err %v); nothing existed to keep", prev, err)
	}
	for _, next := range []string{"v2", "v3"} {
		old, _ := os.ReadFile(p)
		if err := WriteKeepPrevious(p, []byte(next), 0o600); err != nil {
			t.Fatalf("write %s: %v", next, err)
		}
		if got, _ := os.ReadFile(p); string(got) != next {
			t.Errorf("%s holds %q, want %q", p, got, next)
		}
		if got, _ := os.ReadFile(prev); string(got) != string(old) {
			t.Errorf("%s holds %q, want the previous %q", prev, got, old)
		}
	}
	if n := names(t, dir); !slices.Equal(n, []string{"vault.json", "vault.json.prev"}) {
		t.Errorf("directory holds %q", n)
	}
}

func TestSyncDirMissing(t *testing.T) {
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir(missing) = %v, want os.ErrNotExist", err)
	}
}
