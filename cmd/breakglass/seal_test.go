package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/vault"
)

const (
	vtPassword = "correct-horse-battery-staple-41"
	vtTOTP     = "otpauth://totp/AWS:root?secret=JBSWY3DPEHPK3PXP&issuer=AWS"
	vtCodes    = "aaaa-bbbb-1111\ncccc-dddd-2222\neeee-ffff-3333\n"
)

func sealArgs(k *vtKeys, path, name, kind string) []string {
	return []string{"seal", "--vault", path, "--name", name, "--kind", kind, "--attestation-root", k.root}
}

func TestSeal(t *testing.T) {
	k, path := newVTVault(t)
	for _, tc := range []struct {
		name, kind, stdin string
		wantOut           string
	}{
		{"aws-root-password", "password", vtPassword + "\n", "Sealed aws-root-password (password)"},
		{"aws-root-totp", "totp", vtTOTP, "Sealed aws-root-totp (totp)"},
		{"aws-root-recovery-codes", "recovery-codes", vtCodes, "Sealed aws-root-recovery-codes (recovery-codes)"},
		{"aws-root-password", "password", vtPassword + "-v2", "Rotated aws-root-password (password) in " + path + ": rotation 1"},
	} {
		code, stdout, stderr := breakglass(t, tc.stdin, sealArgs(k, path, tc.name, tc.kind)...)
		if code != 0 || !strings.Contains(stdout, tc.wantOut) {
			t.Errorf("seal %s: exit %d\n%s%s", tc.name, code, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, strings.TrimSpace(tc.stdin)) {
			t.Errorf("seal %s echoed the secret", tc.name)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{vtPassword, "JBSWY3DPEHPK3PXP", "cccc-dddd-2222"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("vault file holds %q in the clear", secret)
		}
	}
	v, err := vault.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.Secret("aws-root-password"); !ok || s.Rotations != 1 {
		t.Errorf("password secret = %+v", s)
	}
	if _, err := os.Stat(path + ".prev"); err != nil {
		t.Errorf("no .prev kept: %v", err)
	}
}

func TestSealRefusals(t *testing.T) {
	k, path := newVTVault(t)
	tampered := filepath.Join(k.dir, "tampered.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	raw["signatures"] = raw["signatures"].([]any)[:2]
	td, _ := json.Marshal(raw)
	if err := os.WriteFile(tampered, td, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string
	}{
		{"invalid totp", sealArgs(k, path, "x", "totp"), "not-a-seed!", 1, "nothing was sealed"},
		{"empty stdin", sealArgs(k, path, "x", "password"), "", 1, "standard input is empty"},
		{"unknown kind", sealArgs(k, path, "x", "pgp-key"), "v", 2, "is not a kind"},
		{"secret on the command line", append(sealArgs(k, path, "x", "password"), "hunter2"), "", 2, "never from the command line"},
		{"no vault flag", []string{"seal", "--name", "x", "--kind", "text"}, "v", 2, "--vault FILE is required"},
		{"missing vault", sealArgs(k, filepath.Join(k.dir, "none.json"), "x", "text"), "v", 1, "none.json"},
		{"yubico roots", []string{"seal", "--vault", path, "--name", "x", "--kind", "text"}, "v", 1, "refusing to seal"},
		{"unsigned roster", sealArgs(k, tampered, "x", "text"), "v", 1, "refusing to seal"},
		{"too large", sealArgs(k, path, "x", "text"), strings.Repeat("a", vault.MaxSecretSize+1), 1, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(path)
			code, stdout, stderr := breakglass(t, tc.stdin, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.wantCode, tc.wantErr, stdout, stderr)
			}
			assertFileUnchanged(t, path, before)
		})
	}
}

func TestSealTerminal(t *testing.T) {
	k, path := newVTVault(t)
	k.terminal(t)
	for _, tc := range []struct {
		name, kind, stdin string
		wantCode          int
		want              string
	}{
		{"typed twice", "password", vtPassword + "\n" + vtPassword + "\n", 0, "Sealed"},
		{"mismatch", "password", vtPassword + "\nsomething-else\n", 1, "the two entries differ"},
		{"codes on one line", "recovery-codes", "a1 b2 c3\na1 b2 c3\n", 0, "Sealed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(path)
			code, stdout, stderr := breakglass(t, tc.stdin, sealArgs(k, path, "s-"+tc.kind, tc.kind)...)
			if code != tc.wantCode || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q\n%s%s", code, tc.wantCode, tc.want, stdout, stderr)
			}
			if !strings.Contains(stderr, "Again, to confirm") {
				t.Errorf("not asked twice: %s", stderr)
			}
			if tc.wantCode != 0 {
				assertFileUnchanged(t, path, before)
			}
		})
	}
}
