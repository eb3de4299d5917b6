package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/audit"
)

func TestJournalVerifyAndRepair(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.journal")
	j, err := audit.Create(path, "s", nil, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := j.Append("operator", "step.check", map[string]int{"index": i}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	good, _ := os.ReadFile(path)
	run1 := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), args, &env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }})
		return code, out.String()
	}
	if code, out := run1("journal", "verify", path); code != 0 || !strings.Contains(out, "4 entries, hash chain intact") {
		t.Fatalf("intact journal: %d %s", code, out)
	}
	// A crash mid-write: the last line is cut off.
	os.WriteFile(path, good[:len(good)-20], 0o600)
	if code, out := run1("journal", "verify", path); code != 1 || !strings.Contains(out, "journal repair") {
		t.Fatalf("torn journal: %d %s", code, out)
	}
	if code, out := run1("journal", "repair", path); code != 0 {
		t.Fatalf("repair: %d %s", code, out)
	}
	if code, out := run1("journal", "verify", path); code != 0 || !strings.Contains(out, "4 entries") {
		t.Fatalf("after repair: %d %s", code, out)
	}
	if m, _ := filepath.Glob(path + ".torn-*"); len(m) != 1 {
		t.Errorf("torn bytes not kept aside: %v", m)
	}
	// An edited line is not a torn line: refused, file untouched.
	os.WriteFile(path, bytes.Replace(good, []byte(`"index":1`), []byte(`"index":7`), 1), 0o600)
	before, _ := os.ReadFile(path)
	if code, _ := run1("journal", "repair", path); code != 1 {
		t.Fatalf("repair of an edited journal succeeded")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("refused repair changed the file")
	}
	if code, out := run1("journal", "verify", path); code != 1 || !strings.Contains(out, "line 3") {
		t.Fatalf("edited journal: %d %s", code, out)
	}
}
