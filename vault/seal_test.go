package vault

import (
	"encoding/base32"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestValidateTOTPRefusesWhatTheGeneratorCannotHonour pins issue 14: every
// otpauth URI sealing accepts gives a code and a sane countdown at reveal;
// the rest is refused naming the field, without echoing the seed.
func TestValidateTOTPRefusesWhatTheGeneratorCannotHonour(t *testing.T) {
	const seed = "JBSWY3DPEHPK3PXP"
	tests := []struct {
		name, uri string
		field     string // in the message; "" = accepted
	}{
		{"issue 14: period 0, mixed-case scheme", "otpAuth://totp/?secret=2222222222222222&period=0", "period"},
		{"period negative", "otpauth://totp/x?secret=" + seed + "&period=-30", "period"},
		{"period below the minimum", "otpauth://totp/x?secret=" + seed + "&period=1", "period"},
		{"period absurd", "otpauth://totp/x?secret=" + seed + "&period=86400", "period"},
		{"period huge", "otpauth://totp/x?secret=" + seed + "&period=18446744073709551616", "period"},
		{"period not a number", "otpauth://totp/x?secret=" + seed + "&period=30s", "period"},
		{"period with leading zero", "otpauth://totp/x?secret=" + seed + "&period=030", "period"},
		{"period empty", "otpauth://totp/x?secret=" + seed + "&period=", "period"},
		{"period twice", "otpauth://totp/x?secret=" + seed + "&period=30&period=60", "period"},
		{"digits 5", "otpauth://totp/x?secret=" + seed + "&digits=5", "digits"},
		{"digits 9", "otpauth://totp/x?secret=" + seed + "&digits=9", "digits"},
		{"digits 0", "otpauth://totp/x?secret=" + seed + "&digits=0", "digits"},
		{"digits 99", "otpauth://totp/x?secret=" + seed + "&digits=99", "digits"},
		{"digits twice", "otpauth://totp/x?secret=" + seed + "&digits=6&digits=8", "digits"},
		{"algorithm md5", "otpauth://totp/x?secret=" + seed + "&algorithm=MD5", "algorithm"},
		{"algorithm unknown", "otpauth://totp/x?secret=" + seed + "&algorithm=SHA3-256", "algorithm"},
		{"algorithm empty", "otpauth://totp/x?secret=" + seed + "&algorithm=", "algorithm"},
		{"secret missing", "otpauth://totp/x?issuer=x", "secret"},
		{"secret empty", "otpauth://totp/x?secret=", "secret"},
		{"secret twice", "otpauth://totp/x?secret=" + seed + "&secret=" + seed, "secret"},
		{"secret not base32", "otpauth://totp/x?secret=JBSWY3DPEHPK3PX1", "base32"},
		{"secret truncated", "otpauth://totp/x?secret=" + seed + "JBS", "base32"},
		{"secret too short", "otpauth://totp/x?secret=JBSWY3DP", "80"},
		{"secret with a space", "otpauth://totp/x?secret=JBSW+Y3DPEHPK3PXP", "spaces"},
		{"hotp", "otpauth://hotp/x?secret=" + seed + "&counter=1", "hotp"},
		{"counter on totp", "otpauth://totp/x?secret=" + seed + "&counter=1", "counter"},
		{"steam encoder", "otpauth://totp/x?secret=" + seed + "&encoder=steam", `"encoder"`},
		{"wrong type", "otpauth://totpx/x?secret=" + seed, "type"},
		{"port", "otpauth://totp:443/x?secret=" + seed, "type"},
		{"opaque", "otpauth:totp?secret=" + seed, "otpauth://totp/"},
		{"other scheme", "https://totp/x?secret=" + seed, "otpauth"},
		{"fragment", "otpauth://totp/x?secret=" + seed + "#x", "fragment"},
		{"bad escape", "otpauth://totp/x?secret=%%%", "malformed"},
		{"semicolon", "otpauth://totp/x?secret=" + seed + ";period=0", "malformed"},
		{"control character", "otpauth://totp/x?secret=" + seed + "\x00", "malformed"},

		{"plain", "otpauth://totp/AWS:root?secret=" + seed + "&issuer=AWS", ""},
		{"every parameter", "otpauth://totp/E:a?secret=" + seed + "&issuer=E&algorithm=SHA256&digits=8&period=60&image=https%3A%2F%2Fx", ""},
		{"lower-case seed and algorithm, padding", "otpauth://totp/x?secret=jbswy3dpehpk3pxp&algorithm=sha512&digits=7&period=15", ""},
		{"padded seed", "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE======", ""},
		{"bare seed", seed, ""},
		{"bare seed spaced", "jbsw y3dp ehpk 3pxp\n", ""},
	}
	at := time.Unix(1700000000, 0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateSecret(KindTOTP, []byte(tc.uri))
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				code, period, err := TOTPCode([]byte(tc.uri), at)
				if err != nil || len(code) < MinTOTPDigits || len(code) > MaxTOTPDigits ||
					period < MinTOTPPeriod*time.Second || period > MaxTOTPPeriod*time.Second {
					t.Fatalf("accepted secret gives code %q period %v err %v", code, period, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("ValidateSecret = %v, want ErrInvalidSecret", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.field) {
				t.Errorf("message %q does not name %q", msg, tc.field)
			}
			if strings.Contains(strings.ToUpper(msg), seed[:8]) || strings.Contains(msg, "22222222") {
				t.Errorf("message %q echoes the seed", msg)
			}
			if _, _, err := TOTPCode([]byte(tc.uri), at); !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("TOTPCode accepted what sealing refuses: %v", err)
			}
		})
	}
}

// TestTOTPUnknownParameterNeverEchoesASeed: a seed pasted as a parameter
// name (no "secret=") is not quoted in the refusal.
func TestTOTPUnknownParameterNeverEchoesASeed(t *testing.T) {
	for _, name := range []string{"JBSWY3DPEHPK3PXP", "jbswydpehpkpxpab", "abcdefghijklmnop"} {
		err := ValidateSecret(KindTOTP, []byte("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&"+name))
		if !errors.Is(err, ErrInvalidSecret) || strings.Contains(err.Error(), name) {
			t.Errorf("parameter %s: %v", name, err)
		}
	}
}

// TestTOTPCodeRFC6238 checks the generator against RFC 6238 appendix B for
// each algorithm sealing accepts.
func TestTOTPCodeRFC6238(t *testing.T) {
	b32 := func(s string) string { return base32.StdEncoding.EncodeToString([]byte(s)) }
	seeds := map[string]string{
		"SHA1":   b32("12345678901234567890"),
		"SHA256": b32("12345678901234567890123456789012"),
		"SHA512": b32("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	tests := []struct {
		t    int64
		alg  string
		code string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	}
	for _, tc := range tests {
		uri := "otpauth://totp/rfc?secret=" + seeds[tc.alg] + "&algorithm=" + tc.alg + "&digits=8"
		code, period, err := TOTPCode([]byte(uri), time.Unix(tc.t, 0))
		if err != nil || code != tc.code || period != 30*time.Second {
			t.Errorf("%s at %d: %q %v %v, want %s 30s", tc.alg, tc.t, code, period, err, tc.code)
		}
	}
}
