package vault

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// lockedTOTPSecrets are TOTP secrets sealing accepts, of every shape: the
// three algorithms, a bare spaced seed, keys longer than a hash block.
func lockedTOTPSecrets() []string {
	b32 := func(s string) string { return base32.StdEncoding.EncodeToString([]byte(s)) }
	return []string{
		"otpauth://totp/rfc?secret=" + b32("12345678901234567890") + "&algorithm=SHA1&digits=8",
		"otpauth://totp/rfc?secret=" + b32("12345678901234567890123456789012") + "&algorithm=SHA256&digits=8",
		"otpauth://totp/rfc?secret=" + b32("1234567890123456789012345678901234567890123456789012345678901234") + "&algorithm=SHA512&digits=8",
		"otpauth://totp/Example:ops?issuer=Example&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&period=60&digits=7",
		"gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
		"  JBSWY3DPEHPK3PXP====\n",
		b32(strings.Repeat("k", 100)),
		"otpauth://totp/x?algorithm=sha512&secret=" + b32(strings.Repeat("q", 200)),
	}
}

// TestLockedTOTPMatchesTOTPCode: the locked generator gives TOTPCode's code
// and period for every accepted shape, at times across periods.
func TestLockedTOTPMatchesTOTPCode(t *testing.T) {
	for i, s := range lockedTOTPSecrets() {
		if err := ValidateSecret(KindTOTP, []byte(s)); err != nil {
			t.Fatalf("secret %d: ValidateSecret: %v", i, err)
		}
		lt, err := NewLockedTOTP([]byte(s))
		if err != nil {
			t.Fatalf("secret %d: NewLockedTOTP: %v", i, err)
		}
		for _, at := range []int64{0, 59, 1111111109, 1700000000, 20000000000} {
			want, period, err := TOTPCode([]byte(s), time.Unix(at, 0))
			if err != nil {
				t.Fatal(err)
			}
			if got := lt.Code(time.Unix(at, 0)); got != want || lt.Period() != period {
				t.Errorf("secret %d at %d: %q %v, want %q %v", i, at, got, lt.Period(), want, period)
			}
		}
		lt.Destroy()
		if lt.IsAlive() || lt.Code(time.Unix(59, 0)) != "------" {
			t.Errorf("secret %d: a destroyed LockedTOTP still gives a code", i)
		}
		lt.Destroy()
	}
}

// TestLockedTOTPRefuses: what parseTOTP refuses, the locked parser
// refuses; an otpauth secret it cannot locate without decoding (escaped)
// is refused by both it and ValidateSecret, without echoing the seed.
func TestLockedTOTPRefuses(t *testing.T) {
	const seed = "JBSWY3DPEHPK3PXP"
	for _, s := range []string{
		"", "nope", "JBSWY3DP", "JBSW1Y3DPEHPK3PXP", "JBSWY3DPEHPK3PX", "https://x/?secret=" + seed,
		"otpauth://hotp/x?secret=" + seed, "otpauth://totp/x?secret=" + seed + "#f",
		"otpauth://totp/x?secret=" + seed + "&secret=" + seed, "otpauth://totp/x?issuer=a",
		"otpauth://totp/x?secret=JBSW%59Y3DPEHPK3PXP", "otpauth://totp/x?secr%65t=" + seed,
		"otpauth://totp/x?secret=" + seed + "&digits=9", "otpauth://totp/x?secret=" + seed + "&algorithm=MD5",
		"otpauth://totp/x?secret=JBSW Y3DPEHPK3PXP", "JBSW=Y3DPEHPK3PXP",
	} {
		_, err := NewLockedTOTP([]byte(s))
		if !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("%q: NewLockedTOTP = %v, want ErrInvalidSecret", s, err)
			continue
		}
		if strings.Contains(err.Error(), seed[:8]) {
			t.Errorf("%q: message %q echoes the seed", s, err)
		}
		if err := ValidateSecret(KindTOTP, []byte(s)); err == nil {
			t.Errorf("%q: sealing accepts what the console cannot show", s)
		}
	}
}

// FuzzLockedTOTP: whatever sealing accepts, the locked generator accepts
// and computes TOTPCode's code.
func FuzzLockedTOTP(f *testing.F) {
	for _, s := range lockedTOTPSecrets() {
		f.Add([]byte(s), int64(1700000000))
	}
	f.Fuzz(func(t *testing.T, secret []byte, at int64) {
		if ValidateSecret(KindTOTP, secret) != nil {
			return
		}
		lt, err := NewLockedTOTP(secret)
		if err != nil {
			t.Fatalf("sealing accepts what NewLockedTOTP refuses: %v", err)
		}
		defer lt.Destroy()
		want, _, err := TOTPCode(secret, time.Unix(at, 0))
		if err != nil || lt.Code(time.Unix(at, 0)) != want {
			t.Fatalf("codes differ (%v)", err)
		}
	})
}

// TestDecryptLockedMatchesAge: decryptLocked reads exactly what the age
// library reads (sizes around the 64 KiB chunk), and refuses what it
// refuses: a flipped byte, a truncation, trailing data, a wrong identity.
func TestDecryptLockedMatchesAge(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	a := newArena(arenaSize)
	defer a.destroy()
	for _, n := range []int{0, 1, 100, payloadChunk - 1, payloadChunk, payloadChunk + 1, 2 * payloadChunk, 2*payloadChunk + 7} {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		for i := range pt {
			pt[i] ^= byte(i * 7)
		}
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, id.Recipient())
		w.Write(pt)
		w.Close()
		ct := buf.Bytes()
		p, err := decryptLocked(a, ct, id, 3*payloadChunk)
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if !bytes.Equal(p.Bytes(), pt) {
			t.Errorf("size %d: plaintext differs from age's", n)
		}
		p.Destroy()
		if _, err := decryptLocked(a, ct, id, n-1); n > 0 && err == nil {
			t.Errorf("size %d: over the limit accepted", n)
		}
		if _, err := decryptLocked(a, ct, other, 3*payloadChunk); err == nil {
			t.Errorf("size %d: wrong identity accepted", n)
		}
		bad := [][]byte{append(bytes.Clone(ct), 0), ct[:len(ct)-1]}
		if n > payloadChunk {
			bad = append(bad, ct[:len(ct)-(n-payloadChunk)-16])
		}
		flip := bytes.Clone(ct)
		flip[len(flip)-3] ^= 1
		bad = append(bad, flip)
		for i, b := range bad {
			_, aerr := age.Decrypt(bytes.NewReader(b), id)
			if aerr == nil {
				r, _ := age.Decrypt(bytes.NewReader(b), id)
				_, aerr = io.ReadAll(r)
			}
			if _, err := decryptLocked(a, b, id, 3*payloadChunk); err == nil || aerr == nil {
				t.Errorf("size %d, damage %d: decryptLocked %v, age %v; want both refused", n, i, err, aerr)
			}
		}
	}
	if len(a.free) != 1 || a.free[0] != (span{0, arenaSize}) {
		t.Errorf("arena not whole again after every plaintext was destroyed: %v", a.free)
	}
}

// TestLockWipesEveryPlaintext: one arena per session; Lock kills every
// plaintext revealed from it, and a Destroy after Lock is harmless.
func TestLockWipesEveryPlaintext(t *testing.T) {
	w := newWorld(t)
	if err := w.v.Seal("pw", KindPassword, []byte("correct horse"), testNow); err != nil {
		t.Fatal(err)
	}
	if err := w.v.Seal("otp", KindTOTP, []byte("JBSWY3DPEHPK3PXP"), testNow); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u := w.v.Unlocker(w.ca.opts())
	if err := u.AddShare(ctx, w.toks["alice"], testPIN); err != nil {
		t.Fatal(err)
	}
	if err := u.AddShare(ctx, w.toks["bob"], testPIN); err != nil {
		t.Fatal(err)
	}
	o, err := u.Open()
	if err != nil {
		t.Fatal(err)
	}
	var ps []*Plaintext
	for range 3 {
		p, err := o.Reveal("pw")
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Bytes()) != "correct horse" {
			t.Fatal("wrong plaintext")
		}
		ps = append(ps, p)
	}
	if err := o.Check("otp"); err != nil {
		t.Fatal(err)
	}
	if ps[0].a == nil || ps[0].a != ps[2].a {
		t.Errorf("reveals are not carved from one arena")
	}
	ps[1].Destroy()
	o.Lock()
	for i, p := range ps {
		if p.IsAlive() || p.Bytes() != nil {
			t.Errorf("plaintext %d alive after Lock", i)
		}
		p.Destroy()
	}
	if _, err := o.Reveal("pw"); !errors.Is(err, ErrLocked) {
		t.Errorf("Reveal after Lock: %v", err)
	}
}
