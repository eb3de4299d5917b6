package vault

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
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
// codes, passwords) never panics, and a TOTP secret it accepts is one reveal
// can display: a 6-8 digit code equal to the reference implementation's
// (github.com/pquerna/otp) for the same seed and parameters, and a period
// in bounds for the countdown, stable within its period.
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
		err := ValidateSecret(k, secret)
		if k != KindTOTP {
			return
		}
		at := time.Unix(1700000000, 0)
		code, period, cerr := TOTPCode(secret, at)
		if err != nil {
			if cerr == nil {
				t.Fatalf("TOTPCode accepts what sealing refuses (%v)", err)
			}
			return
		}
		if cerr != nil || len(code) < MinTOTPDigits || len(code) > MaxTOTPDigits ||
			period < MinTOTPPeriod*time.Second || period > MaxTOTPPeriod*time.Second {
			t.Fatalf("validated TOTP secret gives no displayable code: %q %v %v", code, period, cerr)
		}
		for _, c := range code {
			if c < '0' || c > '9' {
				t.Fatalf("code %q is not decimal", code)
			}
		}
		// The code holds for the whole period the countdown shows: TOTP
		// periods count from the Unix epoch (RFC 6238 T0 = 0), as the
		// countdown does; time.Truncate would count from year 1, which
		// differs for a period such as 88 s that does not divide the gap.
		secs := int64(period / time.Second)
		start := time.Unix(at.Unix()-at.Unix()%secs, 0)
		if c, _, _ := TOTPCode(secret, start); c != code {
			t.Fatalf("code changed within its period: %q, at its start %q", code, c)
		}
		if c, _, _ := TOTPCode(secret, start.Add(period-time.Second)); c != code {
			t.Fatalf("code changed within its period: %q, at its last second %q", code, c)
		}
		p, err := parseTOTP(secret)
		if err != nil {
			t.Fatalf("parseTOTP refuses what ValidateSecret accepts: %v", err)
		}
		defer clear(p.key)
		alg := map[int]otp.Algorithm{sha1.Size: otp.AlgorithmSHA1, sha256.Size: otp.AlgorithmSHA256, sha512.Size: otp.AlgorithmSHA512}[p.hash().Size()]
		want, err := totp.GenerateCodeCustom(base32.StdEncoding.EncodeToString(p.key), at, totp.ValidateOpts{
			Period: uint(p.period), Digits: otp.Digits(p.digits), Algorithm: alg,
		})
		if err != nil || want != code {
			t.Fatalf("code %q, reference implementation gives %q (%v)", code, want, err)
		}
	})
}
