package main

import (
	"os"
	"strings"
	"testing"
)

const (
	vtPassword = "correct-horse-battery-staple-41"
	vtTOTP     = "otpauth://totp/AWS:root?secret=JBSWY3DPEHPK3PXP&issuer=AWS"
	vtCodes    = "aaaa-bbbb-1111\ncccc-dddd-2222\neeee-ffff-3333\n"
)

func sealArgs(k *vtKeys, path, name, kind string) []string {
	return []string{"seal", "--vault", path, "--name", name, "--kind", kind, "--attestation-root", k.root}
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
