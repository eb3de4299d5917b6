package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/vault"
)

func TestVaultInit(t *testing.T) {
	k, path := newVTVault(t)
	v, err := vault.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts, _, err := loadTrust(k.root)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyRoster(opts); err != nil {
		t.Fatalf("VerifyRoster: %v", err)
	}
	if v.Roster.Policy.Threshold != 2 || len(v.Roster.Custodians) != 3 {
		t.Errorf("policy = %+v", v.Roster.Policy)
	}
}

func TestVaultInitRefusals(t *testing.T) {
	k := newVTKeys(t, 10000001, 10000002, 10000003)
	files := k.enrolAll(t, vtNames)
	pins := append(append(k.pinFlag(t, 10000001), k.pinFlag(t, 10000002)...), k.pinFlag(t, 10000003)...)
	bad := filepath.Join(k.dir, "bad.custodian.json")
	if err := os.WriteFile(bad, []byte(`{"format":"breakglass-custodian","version":1,"custodian":{`), 0o644); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(k.dir, "existing.json")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := []string{"--pin-file", fmt.Sprintf("10000002=%s", k.pinFile(t, 10000002, "999999"))}
	for _, tc := range []struct {
		name     string
		out      string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"threshold 1", "", append([]string{"--threshold", "1"}, files...), 2, "at least 2"},
		{"threshold above N", "", append([]string{"--threshold", "4"}, files...), 2, "more than the 3 custodians"},
		{"one custodian", "", append([]string{"--threshold", "2"}, files[0]), 2, "at least two custodian files"},
		{"duplicate file", "", append([]string{"--threshold", "2"}, files[0], files[1], files[0]), 1, "is in both"},
		{"malformed custodian file", "", append([]string{"--threshold", "2"}, files[0], bad), 1, "bad.custodian.json"},
		{"missing custodian file", "", append([]string{"--threshold", "2"}, files[0], filepath.Join(k.dir, "nope.json")), 1, "nope.json"},
		{"vault exists", existing, append([]string{"--threshold", "2"}, files...), 1, "already exists"},
		{"no PIN and no terminal", "", append([]string{"--threshold", "2"}, files...), 1, "no PIN available"},
		{"wrong PIN", "", append(append(append(k.pinFlag(t, 10000001), wrong...), "--threshold", "2"), files[:2]...), 1, "wrong PIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "vault.json")
			}
			args := append([]string{"vault", "init", "--out", out, "--attestation-root", k.root}, tc.args...)
			if tc.name != "no PIN and no terminal" && tc.name != "wrong PIN" {
				args = append(args, pins...)
			}
			code, stdout, stderr := breakglass(t, "", args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.wantCode, tc.wantErr, stdout, stderr)
			}
			if tc.out == "" {
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("a vault file was written on failure")
				}
			} else {
				assertFileUnchanged(t, existing, []byte("keep me"))
			}
		})
	}
}

func TestVaultInitYubicoRootsRefuseTestKeys(t *testing.T) {
	k := newVTKeys(t, 10000001, 10000002)
	files := k.enrolAll(t, map[uint32]string{10000001: "Alice Example", 10000002: "Bob Example"})
	out := filepath.Join(k.dir, "vault.json")
	args := append([]string{"vault", "init", "--threshold", "2", "--out", out}, k.pinFlag(t, 10000001)...)
	args = append(append(args, k.pinFlag(t, 10000002)...), files...)
	code, _, stderr := breakglass(t, "", args...)
	if code != 1 || !strings.Contains(stderr, "attestation") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("vault written although attestation failed")
	}
}

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
