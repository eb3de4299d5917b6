package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/hardware"
	"breakglass/vault"
)

// sealedVTVault is newVTVault with a password, a TOTP seed and recovery codes sealed.
func sealedVTVault(t *testing.T, extra ...uint32) (*vtKeys, string) {
	t.Helper()
	k, path := newVTVault(t, extra...)
	for _, s := range []struct{ name, kind, value string }{
		{"aws-root-password", "password", vtPassword},
		{"aws-root-totp", "totp", vtTOTP},
		{"aws-root-recovery-codes", "recovery-codes", vtCodes},
	} {
		if code, _, stderr := breakglass(t, s.value, sealArgs(t, k, path, s.name, s.kind)...); code != 0 {
			t.Fatal(stderr)
		}
	}
	return k, path
}

func checkArgs(k *vtKeys, t *testing.T, path string, serials ...uint32) []string {
	args := []string{"vault", "check", path, "--attestation-root", k.root}
	for _, s := range serials {
		args = append(args, k.pinFlag(t, s)...)
	}
	return args
}

func TestVaultCheckPulledKey(t *testing.T) {
	k, path := sealedVTVault(t)
	delete(k.st.toks, 10000002)
	code, stdout, stderr := breakglass(t, "", append(checkArgs(k, t, path, 10000001, 10000002), "--serials", "10000001,10000002")...)
	if code != 1 || !strings.Contains(stderr, "YubiKey 10000002 is not connected") || !strings.Contains(stdout, "DRILL FAILED") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestVaultCheckLastRetry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		terminal string
		wantCode int
		want     string
	}{
		{"refused without confirmation", nil, "", 1, "only one PIN attempt is left"},
		{"confirmed by flag", []string{"--confirm-last-retry"}, "", 0, "DRILL PASSED"},
		{"confirmed at the prompt", nil, "y\n", 0, "ONE PIN attempt left"},
		{"declined at the prompt", nil, "n\n", 1, "only one PIN attempt is left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, path := sealedVTVault(t)
			tok := k.st.toks[10000002]
			for range 2 {
				if err := tok.VerifyPIN(t.Context(), "000000"); err == nil {
					t.Fatal("wrong PIN accepted")
				}
			}
			args := append(checkArgs(k, t, path, 10000001), "--serials", "10000001,10000002")
			stdin := ""
			if tc.terminal != "" {
				k.terminal(t)
				stdin = tc.terminal + vtPIN(10000002) + "\n"
			} else {
				args = append(args, k.pinFlag(t, 10000002)...)
			}
			code, stdout, stderr := breakglass(t, stdin, append(args, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q\n%s%s", code, tc.wantCode, tc.want, stdout, stderr)
			}
			if in, _ := tok.Info(t.Context()); tc.wantCode == 1 && in.PINRetries != 1 {
				t.Errorf("PIN retries = %d after a refused attempt, want 1 (not tried)", in.PINRetries)
			}
		})
	}
}

func TestVaultCheckTerminal(t *testing.T) {
	k, path := sealedVTVault(t)
	k.terminal(t)
	// Enter with all keys in: the first custodian not counted is taken.
	stdin := "\n" + vtPIN(10000001) + "\n\n" + vtPIN(10000002) + "\n"
	code, stdout, stderr := breakglass(t, stdin, "vault", "check", path, "--attestation-root", k.root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"Custodians counted: 0 of 2", "PIN for Alice Example (serial 10000001), 3 attempts left:", "Custodians counted: 1 of 2. Next custodian (Bob Example, Carol Example)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestVaultCheckCorruptSecret(t *testing.T) {
	k, path := sealedVTVault(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	v.Secrets[0].Age, v.Secrets[1].Age = v.Secrets[1].Age, v.Secrets[0].Age
	swapped := filepath.Join(k.dir, "swapped.json")
	out, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(swapped, out, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := breakglass(t, "", checkArgs(k, t, swapped, 10000001, 10000002)...)
	if code != 1 || !strings.Contains(stdout, "✗ aws-root-password") || !strings.Contains(stdout, "DRILL FAILED: 2 of 3 secrets") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}

var _ = hardware.ErrNotFound
