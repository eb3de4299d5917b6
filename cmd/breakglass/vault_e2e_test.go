package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/hardware/station"
	"breakglass/vault"
)

// e2eBinary returns the breakglass binary for end-to-end tests: the one in
// $BREAKGLASS_BIN (make test builds it) or a fresh build.
func e2eBinary(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("BREAKGLASS_BIN"); d != "" {
		if p := filepath.Join(d, "breakglass"); vtFileExists(p) {
			return p
		}
	}
	out := filepath.Join(t.TempDir(), "breakglass")
	cmd := exec.Command("go", "build", "-o", out, ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building breakglass: %v\n%s", err, b)
	}
	return out
}

func vtFileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestVaultE2E drives the real binary through a private pcscd with virtual
// YubiKeys, as a security team would: demo-setup.sh (ykman changes the
// PINs, enrol three custodians, init 2-of-3, seal three secrets), rotate one,
// drills with every pair, one custodian, and each custodian; then no file
// anywhere holds a sealed secret in the clear.
func TestVaultE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through pcscd")
	}
	st := station.ForTest(t, station.KeySpec{Serial: 10000001}, station.KeySpec{Serial: 10000002},
		station.KeySpec{Serial: 10000003}, station.KeySpec{Serial: 10000004})
	bin := e2eBinary(t)
	dir := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(repo, "testdata", "attestation-root.pem")
	environ := append(append(os.Environ(), st.Env()...), "BIN="+filepath.Dir(bin))
	sh := func(stdin string, name string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = environ
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("running %s: %v", name, err)
		}
		return code, out.String()
	}
	bg := func(stdin string, args ...string) (int, string) { return sh(stdin, bin, args...) }
	expect := func(what string, code int, out string, wantCode int, wants ...string) {
		t.Helper()
		t.Logf("%s: exit %d\n%s", what, code, out)
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d\n%s", what, code, wantCode, out)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: output lacks %q\n%s", what, w, out)
			}
		}
	}

	// A key with the factory PIN is refused (PIN metadata through piv-go).
	code, out := bg("", "enrol", "--name", "Dave Example", "--serial", "10000004", "--out", dir, "--attestation-root", root)
	expect("enrol with the factory PIN", code, out, 1, "still uses the factory PIN", "ykman --device 10000004 piv access change-pin")

	setup := filepath.Join(repo, "testdata", "scripts", "demo-setup.sh")
	code, out = sh("", setup, dir)
	expect("demo-setup.sh", code, out, 0, "enrolled Alice Example", "enrolled Carol Example", "wrote "+filepath.Join(dir, "vault.json"))
	code, out = sh("", setup, dir)
	expect("demo-setup.sh again", code, out, 0, "nothing to do")
	vaultPath := filepath.Join(dir, "vault.json")
	pins := func(serials ...int) []string {
		var a []string
		for _, s := range serials {
			a = append(a, "--pin-file", fmt.Sprintf("%d=%s/pins/%d.pin", s, dir, s))
		}
		return a
	}

	code, out = bg("", "vault", "inspect", vaultPath, "--attestation-root", root)
	expect("inspect", code, out, 0, "2 of 3 custodians", "✓ every custodian signed", "aws-root-password", "aws-root-totp", "aws-root-recovery-codes")

	const rotated = "Rotated-Demo-Pa55word#2"
	preRotation, err := os.ReadFile(vaultPath) // what vault.json.prev holds right after the rotation
	if err != nil {
		t.Fatal(err)
	}
	code, out = bg(rotated+"\n", append([]string{"seal", "--vault", vaultPath, "--name", "aws-root-password", "--kind", "password", "--serial", "10000002", "--attestation-root", root}, pins(10000002)...)...)
	expect("rotate", code, out, 0, "Rotated aws-root-password (password)", "sealed by Bob Example on ", ", version 2")

	for _, pair := range [][2]int{{10000001, 10000002}, {10000002, 10000003}, {10000003, 10000001}} {
		args := append([]string{"vault", "check", vaultPath, "--attestation-root", root, "--serials", fmt.Sprintf("%d,%d", pair[0], pair[1])}, pins(pair[0], pair[1])...)
		code, out = bg("", args...)
		expect(fmt.Sprintf("check with %v", pair), code, out, 0, "✓ aws-root-password (password)", "✓ aws-root-totp (totp)", "✓ aws-root-recovery-codes (recovery-codes)", "DRILL PASSED")
	}
	code, out = bg("", append([]string{"vault", "check", vaultPath, "--attestation-root", root, "--serials", "10000002"}, pins(10000002)...)...)
	expect("check with one custodian", code, out, 1, "quorum not reached: 1 of 2", "DRILL FAILED")
	code, out = bg("", append([]string{"vault", "check", "--each", vaultPath, "--attestation-root", root}, pins(10000001, 10000002, 10000003)...)...)
	expect("check --each", code, out, 0, "✓ Alice Example", "✓ Bob Example", "✓ Carol Example", "DRILL PASSED: all 3")

	// Hole 9: with file access only, the old ciphertext put back from
	// vault.json.prev, or the attacker's own value encrypted to the vault
	// recipient, is flagged by inspect and fails the drill.
	genuine, err := os.ReadFile(vaultPath)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := vault.Parse(preRotation)
	if err != nil {
		t.Fatal(err)
	}
	oldEntry, _ := prev.Secret("aws-root-password")
	for _, tc := range []struct {
		name string
		edit func(v *vault.Vault)
		want string
	}{
		{"old ciphertext from vault.json.prev", func(v *vault.Vault) {
			s, _ := v.Secret("aws-root-password")
			s.Age = oldEntry.Age
		}, "SEAL BROKEN — re-seal"},
		{"attacker's own value", func(v *vault.Vault) {
			if err := v.Seal("aws-root-password", vault.KindPassword, []byte("attacker-value"), oldEntry.SealedAt); err != nil {
				t.Fatal(err)
			}
		}, "UNATTRIBUTED — re-seal"},
	} {
		v, err := vault.Parse(genuine)
		if err != nil {
			t.Fatal(err)
		}
		tc.edit(v)
		raw, err := v.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vaultPath, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out = bg("", "vault", "inspect", vaultPath, "--attestation-root", root)
		expect("inspect: "+tc.name, code, out, 0, tc.want, "the console will not reveal it")
		args := append([]string{"vault", "check", vaultPath, "--attestation-root", root, "--serials", "10000001,10000002"}, pins(10000001, 10000002)...)
		code, out = bg("", args...)
		expect("check: "+tc.name, code, out, 1, "✗ aws-root-password (password)", "re-seal it", "DRILL FAILED")
	}
	if err := os.WriteFile(vaultPath, genuine, 0o600); err != nil {
		t.Fatal(err)
	}

	// A fourth key, PINs changed with ykman, enrolled with its management
	// key replaced by a PIN-protected one.
	for _, c := range [][]string{
		{"--device", "10000004", "piv", "access", "change-pin", "-P", "123456", "-n", "444444"},
		{"--device", "10000004", "piv", "access", "change-puk", "-p", "12345678", "-n", "44444444"},
	} {
		code, out = sh("", "ykman", c...)
		expect("ykman "+strings.Join(c, " "), code, out, 0)
	}
	pin4 := filepath.Join(dir, "pins", "dave.pin")
	if err := os.WriteFile(pin4, []byte("444444\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = bg("", "enrol", "--name", "Dave Example", "--serial", "10000004", "--pin-file", pin4, "--protect-mgmt-key", "--out", dir, "--attestation-root", root)
	expect("enrol with --protect-mgmt-key", code, out, 0, "Enrolled Dave Example", "protected by the PIN")
	code, out = sh("", "ykman", "--device", "10000004", "piv", "info")
	expect("ykman piv info", code, out, 0, "protected by PIN")

	// No file the commands wrote, nor the station's, holds a secret.
	secrets := []string{"Demo-Only-Pa55word!", rotated, "JBSWY3DPEHPK3PXP", "demo-e5f6-g7h8"}
	for _, d := range []string{dir, st.Dir()} {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil // sockets and vanished files
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds the sealed secret %q in the clear", p, s)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
