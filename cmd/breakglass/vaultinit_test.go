package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVaultInitTerminal(t *testing.T) {
	k := newVTKeys(t, 10000001, 10000002)
	files := k.enrolAll(t, map[uint32]string{10000001: "Alice Example", 10000002: "Bob Example"})
	k.terminal(t)
	out := filepath.Join(k.dir, "vault.json")
	// Enter, PIN for Alice; Enter, a wrong PIN then the right one for Bob.
	stdin := "\n111111\n\n000000\n222222\n"
	code, stdout, stderr := breakglass(t, stdin, append([]string{"vault", "init", "--threshold", "2", "--out", out, "--attestation-root", k.root}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Insert Alice Example's key (serial 10000001)",
		"PIN for Alice Example (serial 10000001), 3 attempts left:",
		"Wrong PIN for YubiKey 10000002: 2 attempts left.",
		"PIN for Bob Example (serial 10000002), 2 attempts left:",
		"TEST ATTESTATION ROOT",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, want := range []string{"BREAKGLASS VAULT CARD", "Quorum:       2 of 2", "Alice Example", "Bob Example", "Fingerprint:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "111111") {
		t.Error("a PIN was echoed")
	}
}

func TestVaultInitPulledKey(t *testing.T) {
	k := newVTKeys(t, 10000001, 10000002)
	files := k.enrolAll(t, map[uint32]string{10000001: "Alice Example", 10000002: "Bob Example"})
	delete(k.st.toks, 10000002)
	out := filepath.Join(k.dir, "vault.json")
	args := append(append([]string{"vault", "init", "--threshold", "2", "--out", out, "--attestation-root", k.root}, k.pinFlag(t, 10000001)...), k.pinFlag(t, 10000002)...)
	code, _, stderr := breakglass(t, "", append(args, files...)...)
	if code != 1 || !strings.Contains(stderr, "YubiKey 10000002 is not connected") || !strings.Contains(stderr, "the vault was not written") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("vault written with a key missing")
	}
}
