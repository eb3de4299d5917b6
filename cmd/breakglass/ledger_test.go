package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/hardware/vyk"
	"breakglass/ledger"
	"breakglass/ledger/ledgertest"
)

// ledgerCLI is a scratch directory with a vault file, reports and the TEST
// root, and a runner for "breakglass ledger …".
type ledgerCLI struct {
	t             *testing.T
	w             *ledgertest.World
	dir, led      string
	root, vault   string
	other         string
	reports       map[string]string // name → path
	hostileReport string
}

func newLedgerCLI(t *testing.T) *ledgerCLI {
	t.Helper()
	w, err := ledgertest.NewWorld()
	if err != nil {
		t.Fatal(err)
	}
	c := &ledgerCLI{t: t, w: w, dir: t.TempDir(), reports: map[string]string{}}
	c.led = filepath.Join(c.dir, "ledger")
	c.root = c.write("root.pem", vyk.TestRootPEM())
	c.vault = c.write("vault.json", w.Home.Raw)
	c.other = c.write("other-vault.json", w.Other.Raw)
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }
	for name, s := range map[string]ledgertest.Session{
		"s1":      {ID: "S-1", Start: day(2, 1), Reveals: []string{"db-root"}},
		"d1":      {ID: "D-1", Drill: true, Start: day(2, 10), Reveals: []string{"db-root"}},
		"hostile": {ID: "S-\x1b[31mX", Start: day(2, 12), Operator: "Eve\x1b[2J\u202e", Ticket: "T", WhatBroke: "<b>"},
	} {
		tv := w.Home
		b, err := w.Report(c.dir, tv, s)
		if err != nil {
			t.Fatal(err)
		}
		c.reports[name] = c.write(name+".jws.json", b)
	}
	b, err := w.Report(c.dir, w.Other, ledgertest.Session{ID: "F-1", Start: day(2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	c.reports["foreign"] = c.write("foreign.jws.json", b)
	return c
}

func (c *ledgerCLI) write(name string, b []byte) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *ledgerCLI) run(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(context.Background(), append([]string{"ledger"}, args...), &env{stdout: &o, stderr: &e, stdin: strings.NewReader(""), getenv: func(string) string { return "" }})
	return o.String(), e.String(), code
}

func (c *ledgerCLI) mustRun(want int, args ...string) (string, string) {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != want {
		c.t.Fatalf("breakglass ledger %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func TestLedgerCLI(t *testing.T) {
	c := newLedgerCLI(t)
	fp := c.w.Home.V.Fingerprint()

	_, errOut := c.mustRun(2, "import", "--ledger", c.led, c.reports["s1"])
	if !strings.Contains(errOut, "--vault-fingerprint") {
		t.Errorf("no pin: %s", errOut)
	}
	if _, err := os.Stat(c.led); err == nil {
		t.Error("a refused import created the ledger")
	}
	_, errOut = c.mustRun(1, "import", "--ledger", c.led, "--vault", c.vault, "--attestation-root", c.root, c.reports["foreign"])
	if !strings.Contains(errOut, "another vault") || !strings.Contains(errOut, "nothing was added") {
		t.Errorf("foreign first import: %s", errOut)
	}
	if _, err := os.Stat(c.led); err == nil {
		t.Error("a refused first import created the ledger")
	}
	out, _ := c.mustRun(0, "import", "--ledger", c.led, "--vault", c.vault, "--attestation-root", c.root, c.reports["s1"], c.reports["d1"])
	if strings.Count(out, "imported ") != 2 {
		t.Errorf("import output: %s", out)
	}
	_, errOut = c.mustRun(1, "import", "--ledger", c.led, "--vault-fingerprint", fp, "--attestation-root", c.root, c.reports["s1"], c.reports["foreign"])
	if !strings.Contains(errOut, "already imported") || !strings.Contains(errOut, "another vault") || !strings.Contains(errOut, "2 of 2 reports refused") {
		t.Errorf("duplicate and foreign: %s", errOut)
	}
	// Without the TEST root, the test keys are not genuine YubiKeys.
	_, errOut = c.mustRun(1, "import", "--ledger", c.led, "--vault-fingerprint", fp, c.reports["hostile"])
	if !strings.Contains(errOut, "refused") {
		t.Errorf("import without the test root: %s", errOut)
	}
	c.mustRun(0, "import", "--ledger", c.led, "--vault-fingerprint", fp, "--attestation-root", c.root, c.reports["hostile"])

	statusOut, _ := c.mustRun(0, "status", "--ledger", c.led, "--attestation-root", c.root)
	if strings.ContainsAny(statusOut, "\x1b\u202e") || !strings.Contains(statusOut, `Eve\x1b[2J\u202e`) {
		t.Errorf("status printed control characters from a report raw:\n%q", statusOut)
	}
	code := codeOf(t, c, "S-1")
	c.mustRun(0, "announce", "--ledger", c.led, "--code", strings.ToLower(code), "--by", "Sam On-call")
	_, errOut = c.mustRun(1, "announce", "--ledger", c.led, "--code", transposed(code), "--by", "Sam")
	if !strings.Contains(errOut, "swapped") {
		t.Errorf("transposed code: %s", errOut)
	}
	out, _ = c.mustRun(0, "review", "--ledger", c.led, "S-1", "--reviewer", "Rita", "--decision", "accepted", "--note", "justified")
	if !strings.Contains(out, "unsigned review") {
		t.Errorf("review output: %s", out)
	}
	c.mustRun(2, "review", "--ledger", c.led, "S-1", "--reviewer", "Rita", "--decision", "maybe", "--note", "x")

	html := filepath.Join(c.dir, "status.html")
	out, _ = c.mustRun(0, "status", "--ledger", c.led, "--attestation-root", c.root, "--json", "--html", html)
	var st ledger.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Format != ledger.StatusFormat {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	kinds := map[string]int{}
	for _, it := range st.OpenItems {
		if it.Session == "S-1" {
			kinds[it.Kind]++
		}
	}
	if kinds[ledger.OpenUnrotated] != 1 || kinds[ledger.OpenUnreviewed] != 0 || kinds[ledger.OpenNoAnnouncement] != 0 {
		t.Errorf("S-1 open items %v: want only unrotated", kinds)
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte(`id="open-items"`)) {
		t.Errorf("status --html: %v", err)
	}

	out, _ = c.mustRun(0, "export", "--ledger", c.led, "--attestation-root", c.root, "--format", "jsonl")
	if n := strings.Count(out, "\n"); n < 8 || !strings.Contains(out, `"event":"secret.revealed"`) {
		t.Errorf("export: %d lines\n%s", n, out)
	}
	c.mustRun(2, "export", "--ledger", c.led, "--format", "csv")
}

// transposed swaps the first two adjacent, different characters of a code
// (swapping two equal ones would give the code itself).
func transposed(code string) string {
	b := []byte(code)
	for i := 0; i+1 < len(b); i++ {
		if b[i] != b[i+1] && b[i] != '-' && b[i+1] != '-' {
			b[i], b[i+1] = b[i+1], b[i]
			break
		}
	}
	return string(b)
}

func codeOf(t *testing.T, c *ledgerCLI, session string) string {
	t.Helper()
	out, _ := c.mustRun(0, "status", "--ledger", c.led, "--attestation-root", c.root, "--json")
	var st ledger.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Vaults {
		for _, s := range v.Sessions {
			if s.ID == session {
				return s.AnnounceCode
			}
		}
	}
	t.Fatalf("no session %s", session)
	return ""
}

// TestLedgerCLITampered: every subcommand refuses a changed ledger and names
// the change.
func TestLedgerCLITampered(t *testing.T) {
	c := newLedgerCLI(t)
	c.mustRun(0, "import", "--ledger", c.led, "--vault", c.vault, "--attestation-root", c.root, c.reports["s1"])
	index := filepath.Join(c.led, "ledger.jsonl")
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(index, bytes.Replace(b, []byte(`"mode":"live"`), []byte(`"mode":"drill"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"status", "--ledger", c.led, "--attestation-root", c.root},
		{"import", "--ledger", c.led, "--vault", c.other, "--attestation-root", c.root, c.reports["foreign"]},
		{"review", "--ledger", c.led, "S-1", "--reviewer", "R", "--decision", "accepted", "--note", "n"},
		{"announce", "--ledger", c.led, "--code", "0000000000", "--by", "S"},
		{"export", "--ledger", c.led, "--attestation-root", c.root, "--format", "jsonl"},
	} {
		_, errOut := c.mustRun(1, args...)
		if !strings.Contains(errOut, "LEDGER TAMPERED") || !strings.Contains(errOut, "entry 3 (report.imported) edited") {
			t.Errorf("%s on a tampered ledger: %s", args[0], errOut)
		}
	}
}
