package vault

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseCustodian: the custodian file parser never panics, and what it
// accepts is a custodian with at least one key that validates again.
func FuzzParseCustodian(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/vault/custodian-*.json")
	if len(seeds) == 0 {
		f.Fatal("no custodian seeds in testdata/vault")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := ParseCustodian(b); err != nil {
			f.Fatalf("seed %s does not parse: %v", p, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCustodian(data)
		if err != nil {
			return
		}
		if len(c.Keys) == 0 {
			t.Fatalf("accepted a custodian with no key")
		}
		if err := validateCustodian("custodian", c); err != nil {
			t.Fatalf("accepted custodian does not validate: %v", err)
		}
	})
}

// FuzzValidateSecret: secret validation (TOTP URIs and seeds, recovery
// codes, passwords) never panics, and a TOTP secret it accepts yields a code.
func FuzzValidateSecret(f *testing.F) {
	file, err := os.Open("../testdata/vault/secret-inputs.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	n := 0
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		kind, input, _ := strings.Cut(line, "\t")
		f.Add(kind, []byte(strings.ReplaceAll(input, `\n`, "\n")))
		n++
	}
	if n == 0 {
		f.Fatal("no seeds in testdata/vault/secret-inputs.txt")
	}
	f.Fuzz(func(t *testing.T, kind string, secret []byte) {
		k := Kind(kind)
		if !k.Valid() {
			return
		}
		if err := ValidateSecret(k, secret); err != nil || k != KindTOTP {
			return
		}
		code, period, err := TOTPCode(secret, time.Unix(1700000000, 0))
		if err != nil || code == "" || period <= 0 {
			t.Fatalf("validated TOTP secret gives no code: %q %v %v", code, period, err)
		}
	})
}
