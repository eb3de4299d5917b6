package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/hardware"
)

func TestEnrolRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		meta     *vtMetaToken // wraps the token when set
		change   bool         // change the PINs from the factory ones first
		args     []string     // besides --serial 10000001 --out DIR
		pin      string       // PIN file content; "" = the right PIN
		wantCode int
		wantErr  string
	}{
		{"default PIN by metadata", &vtMetaToken{pinDefault: true}, true, []string{"--name", "A"}, "", 1, "ykman --device 10000001 piv access change-pin"},
		{"default PUK by metadata", &vtMetaToken{pukDefault: true}, true, []string{"--name", "A"}, "", 1, "ykman --device 10000001 piv access change-puk"},
		{"factory PIN in the PIN file", nil, false, []string{"--name", "A"}, hardware.DefaultPIN, 1, "factory PIN 123456"},
		{"wrong PIN", nil, true, []string{"--name", "A"}, "999999", 1, "wrong PIN: 2 attempts left"},
		{"yubico roots refuse the test key", nil, true, []string{"--name", "A", "--attestation-root", ""}, "", 1, "attestation"},
		{"no name", nil, true, nil, "", 2, "--name is required"},
		{"decryption slot not retired", nil, true, []string{"--name", "A", "--slot", "9a"}, "", 2, "retired slot"},
		{"bad slot", nil, true, []string{"--name", "A", "--slot", "zz"}, "", 2, "not a PIV key slot"},
		{"bad management key", nil, true, []string{"--name", "A", "--mgmt-key", "0102"}, "", 2, "--mgmt-key must be"},
		{"wrong management key", nil, true, []string{"--name", "A", "--mgmt-key", strings.Repeat("ab", 24)}, "", 1, "management key"},
		{"bad name for an ID", nil, true, []string{"--name", "!!!"}, "", 1, "id"},
		{"missing backup-of file", nil, true, []string{"--backup-of", "/nonexistent/x.json"}, "", 1, "/nonexistent/x.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newVTKeys(t, 10000001)
			if tc.change {
				k.changePINs(t, 10000001)
			}
			if tc.meta != nil {
				tc.meta.Token = k.st.toks[10000001]
				k.st.toks[10000001] = tc.meta
			}
			pinFile := k.pinFile(t, 10000001)
			if tc.pin != "" {
				pinFile = k.pinFile(t, 10000001, tc.pin)
			}
			out := filepath.Join(k.dir, "out")
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			args := []string{"enrol", "--serial", "10000001", "--out", out, "--pin-file", pinFile, "--attestation-root", k.root}
			code, stdout, stderr := breakglass(t, "", append(args, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.wantCode, tc.wantErr, stdout, stderr)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("files written on failure: %v", ents)
			}
		})
	}
}

func TestEnrolProtectsManagementKey(t *testing.T) {
	for _, tc := range []struct {
		name          string
		flag          bool
		terminal      string // "" = not a terminal
		wantProtected bool
	}{
		{"flag", true, "", true},
		{"yes at the prompt", false, "y\n", true},
		{"no at the prompt", false, "n\n", false},
		{"no flag, no terminal", false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newVTKeys(t, 10000001)
			k.changePINs(t, 10000001)
			protected := false
			k.st.toks[10000001] = &vtMetaToken{Token: k.st.toks[10000001], mgmtDefault: true, protected: &protected}
			args := []string{"enrol", "--name", "Alice Example", "--serial", "10000001", "--out", k.dir, "--pin-file", k.pinFile(t, 10000001), "--attestation-root", k.root}
			if tc.flag {
				args = append(args, "--protect-mgmt-key")
			}
			if tc.terminal != "" {
				k.terminal(t)
			}
			code, stdout, stderr := breakglass(t, tc.terminal, args...)
			if code != 0 || protected != tc.wantProtected {
				t.Errorf("exit %d, protected %v, want %v\n%s%s", code, protected, tc.wantProtected, stdout, stderr)
			}
			if !tc.wantProtected && !strings.Contains(stderr, "change-management-key --generate --protect") {
				t.Errorf("no advice to protect the management key:\n%s", stderr)
			}
		})
	}
}

func TestEnrolBackupKey(t *testing.T) {
	k := newVTKeys(t, 10000001, 10000002, 10000004)
	files := k.enrolAll(t, map[uint32]string{10000001: "Alice Example", 10000002: "Bob Example"})
	k.changePINs(t, 10000004)
	code, stdout, stderr := breakglass(t, "", "enrol", "--backup-of", files[0], "--serial", "10000004",
		"--pin-file", k.pinFile(t, 10000004), "--out", k.dir, "--attestation-root", k.root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	backup := filepath.Join(k.dir, "alice-example.backup-10000004.custodian.json")
	if !strings.Contains(stdout, "as a backup key (with 10000001)") {
		t.Errorf("stdout: %s", stdout)
	}
	if code, _, stderr := breakglass(t, "", "enrol", "--backup-of", files[0], "--serial", "10000001", "--out", k.dir); code != 1 || !strings.Contains(stderr, "already a key of") {
		t.Errorf("same key as backup: exit %d: %s", code, stderr)
	}
	// The backup opens Alice's share in place of her primary key.
	out := filepath.Join(k.dir, "vault.json")
	args := []string{"vault", "init", "--threshold", "2", "--out", out, "--attestation-root", k.root, files[0], files[1], backup}
	args = append(append(append(args, k.pinFlag(t, 10000001)...), k.pinFlag(t, 10000002)...), k.pinFlag(t, 10000004)...)
	if code, stdout, stderr := breakglass(t, "", args...); code != 0 || !strings.Contains(stdout, "2 of 2 custodians") || !strings.Contains(stdout, "10000001 or 10000004") {
		t.Fatalf("vault init: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = breakglass(t, "", append(append([]string{"vault", "check", out, "--attestation-root", k.root, "--serials", "10000004,10000002"},
		k.pinFlag(t, 10000004)...), k.pinFlag(t, 10000002)...)...)
	if code != 0 || !strings.Contains(stdout, "DRILL PASSED") {
		t.Errorf("check with the backup key: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestEnrolTerminal(t *testing.T) {
	k := newVTKeys(t, 10000001)
	k.changePINs(t, 10000001)
	k.terminal(t)
	code, stdout, stderr := breakglass(t, vtPIN(10000001)+"\n", "enrol", "--name", "Alice Example", "--serial", "10000001", "--out", k.dir, "--attestation-root", k.root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "PIN for Alice Example (serial 10000001), 3 attempts left: ") {
		t.Errorf("no PIN prompt with retries:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, vtPIN(10000001)) {
		t.Error("the PIN was echoed")
	}
}
