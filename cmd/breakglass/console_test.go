package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestConsoleNeedsTerminal: without a terminal the console says so and
// leaves no journal behind that a later start would offer to resume.
func TestConsoleNeedsTerminal(t *testing.T) {
	state := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var out bytes.Buffer
	code := run(context.Background(), []string{"console", "--vault", "../../testdata/vault/sample.json", "--runbook", "../../testdata/runbooks/cloud-root-recovery.md",
		"--state-dir", state, "--export", t.TempDir(), "--attestation-root", "../../testdata/vault/sample-root.pem"},
		&env{stdin: r, stdout: &out, stderr: &out, getenv: func(string) string { return "" }, stdinFile: r})
	if code != 1 || !strings.Contains(out.String(), "needs a terminal") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if names, _ := os.ReadDir(state); len(names) != 0 {
		t.Errorf("state directory holds %v", names)
	}
}
