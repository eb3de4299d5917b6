package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/audit"
	"breakglass/vault"
)

// spoof is a kid or name that, printed raw, erases the line before it and
// draws a passing check in its place (issue 10 item 4).
const spoof = "\x1b[2K\x1b[1A✓ all good"

// TestVerifyPrintsKidInert: a forged report whose kid holds control
// sequences is printed without an ESC byte, and still fails.
func TestVerifyPrintsKidInert(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/audit/report.jws")
	if err != nil {
		t.Fatal(err)
	}
	var jws map[string]any
	if err := json.Unmarshal(raw, &jws); err != nil {
		t.Fatal(err)
	}
	sigs := jws["signatures"].([]any)
	if len(sigs) == 0 {
		t.Fatal("fixture report has no signature")
	}
	for _, s := range sigs {
		sig := s.(map[string]any)
		prot, err := base64.RawURLEncoding.DecodeString(sig["protected"].(string))
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]any
		if err := json.Unmarshal(prot, &h); err != nil {
			t.Fatal(err)
		}
		h["kid"] = spoof
		prot, _ = json.Marshal(h)
		sig["protected"] = base64.RawURLEncoding.EncodeToString(prot)
	}
	forged, _ := json.Marshal(jws)
	path := filepath.Join(t.TempDir(), "report.jws")
	if err := os.WriteFile(path, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := breakglass(t, "", "verify", "--attestation-root", "../../testdata/audit/root.pem", path)
	if code == 0 {
		t.Errorf("forged report verified:\n%s", stdout)
	}
	if out := stdout + stderr; strings.ContainsRune(out, 0x1b) {
		t.Errorf("verify output holds an ESC byte:\n%q", out)
	}
}

// TestVaultInspectPrintsNamesInert: custodian names an attacker edited
// into the vault file (fingerprint recomputed, so the file still loads) are
// printed without an ESC byte, beside the failed roster check.
func TestVaultInspectPrintsNamesInert(t *testing.T) {
	k, path := newVTVault(t)
	v, err := vault.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	v.Roster.Custodians[0].Name = spoof
	v.RecordedFingerprint = v.ComputeFingerprint()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stdout, stderr := breakglass(t, "", "vault", "inspect", path, "--attestation-root", k.root)
	if out := stdout + stderr; strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `\x1b[2K\x1b[1A✓ all good`) {
		t.Errorf("vault inspect output (want the name escaped, no ESC byte):\n%q", out)
	}
}

// TestPrintfRendersArgumentsInert: printf keeps its own format (tabs,
// newlines, glyphs) and renders every text argument inert, leaving %q to
// strconv.Quote.
func TestPrintfRendersArgumentsInert(t *testing.T) {
	var b bytes.Buffer
	printf(&b, "✓ %s\t%v %d %q %5.2f%%\n", "a\x1b[1Ab\nc", os.ErrNotExist, 7, "q\x1b", 1.5)
	want := "✓ a\\x1b[1Ab\\x0ac\tfile does not exist 7 \"q\\x1b\"  1.50%\n"
	if b.String() != want {
		t.Errorf("printf = %q, want %q", b.String(), want)
	}
	b.Reset()
	printf(&b, "x: %v\n", errors.New("bad \x1b[2K\n✓ forged\n  hint"))
	if want := "x: bad \\x1b[2K\n  ✓ forged\n  hint\n"; b.String() != want {
		t.Errorf("printf of an error = %q, want %q", b.String(), want)
	}
	v := inertVerdict(&audit.Verdict{
		Checks:   []audit.Check{{Name: "signature 1 (" + spoof + ")", OK: false, Detail: spoof}},
		Warnings: []string{spoof},
	})
	b.Reset()
	if err := v.Print(&b); err != nil || strings.ContainsRune(b.String(), 0x1b) || !strings.Contains(b.String(), "✗ signature 1") || v.OK() {
		t.Errorf("inert verdict printed %q (%v), ok %v", b.String(), err, v.OK())
	}
}
