// Package tokentest is the one conformance suite every hardware.Token
// implementation must pass: the in-process virtual YubiKey, the production
// piv-go token through pcscd and the virtual key, and any future backend.
//
// Run(t, newToken) calls newToken once per subtest; each token must start in
// factory state: PIN 123456 with 3 retries, the default management key, all
// slots empty, and a simulated touch that takes no time (the touch tests use
// "always" and "cached" slots and count prompts, never time). Every Token
// must also implement hardware.Sessioner.
package tokentest

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"regexp"
	"testing"
	"time"

	"breakglass/hardware"
)

// Run runs the conformance suite against tokens made by newToken.
func Run(t *testing.T, newToken func(t *testing.T) hardware.Token) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newToken(t))
		})
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, tok hardware.Token)
}{
	{"Info", testInfo},
	{"VerifyPIN", testVerifyPIN},
	{"PINBlocks", testPINBlocks},
	{"GenerateAndKeyInfo", testGenerateKeyInfo},
	{"CertificateRoundTrip", testCertificate},
	{"Attest", testAttest},
	{"ECDH", testECDH},
	{"Sign", testSign},
	{"WrongPINOnUse", testWrongPINOnUse},
	{"MissingPIN", testMissingPIN},
	{"EmptySlot", testEmptySlot},
	{"WrongManagementKey", testWrongManagementKey},
	{"NoProtectedManagementKey", testNoProtectedKey},
	{"CancelledContext", testCancelled},
	{"Session", testSession},
	{"SessionErrors", testSessionErrors},
	{"TouchPrompt", testTouchPrompt},
}

const (
	slotDecrypt = hardware.Slot(0x82) // like a custodian's age key
	slotSign    = hardware.SlotSignature
	slotEmpty   = hardware.Slot(0x95)
)

var firmwareRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

func testInfo(t *testing.T, tok hardware.Token) {
	in, err := tok.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if in.Serial != tok.Serial() || in.Serial == 0 {
		t.Errorf("Info().Serial = %d, Serial() = %d; want equal and non-zero", in.Serial, tok.Serial())
	}
	if !firmwareRE.MatchString(in.Firmware) {
		t.Errorf("Info().Firmware = %q, want like 5.4.3", in.Firmware)
	}
	if in.PINRetries != 3 {
		t.Errorf("Info().PINRetries = %d on a factory key, want 3", in.PINRetries)
	}
}

// wantPINError fails unless err is a *PINError with retries attempts left.
func wantPINError(t *testing.T, err error, retries int) {
	t.Helper()
	var pe *hardware.PINError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a *hardware.PINError", err)
	}
	if pe.Retries != retries {
		t.Fatalf("PINError.Retries = %d, want %d", pe.Retries, retries)
	}
}

func retries(t *testing.T, tok hardware.Token) int {
	t.Helper()
	in, err := tok.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	return in.PINRetries
}

func testVerifyPIN(t *testing.T, tok hardware.Token) {
	ctx := context.Background()
	if err := tok.VerifyPIN(ctx, hardware.DefaultPIN); err != nil {
		t.Fatalf("VerifyPIN(right PIN): %v", err)
	}
	wantPINError(t, tok.VerifyPIN(ctx, "000000"), 2)
	if got := retries(t, tok); got != 2 {
		t.Errorf("retries after one wrong PIN = %d, want 2", got)
	}
	wantPINError(t, tok.VerifyPIN(ctx, "999999"), 1)
	if err := tok.VerifyPIN(ctx, hardware.DefaultPIN); err != nil {
		t.Fatalf("VerifyPIN(right PIN) after two wrong: %v", err)
	}
	if got := retries(t, tok); got != 3 {
		t.Errorf("retries after the right PIN = %d, want 3 (counter reset)", got)
	}
}

func testPINBlocks(t *testing.T, tok hardware.Token) {
	ctx := context.Background()
	for i := 2; i >= 0; i-- {
		wantPINError(t, tok.VerifyPIN(ctx, "000000"), i)
	}
	err := tok.VerifyPIN(ctx, hardware.DefaultPIN)
	if !errors.Is(err, hardware.ErrPINBlocked) {
		t.Fatalf("VerifyPIN(right PIN) on a blocked PIN = %v, want ErrPINBlocked", err)
	}
	if got := retries(t, tok); got != 0 {
		t.Errorf("retries of a blocked PIN = %d, want 0", got)
	}
}

var defaultMgmt = hardware.ManagementKey{Key: hardware.DefaultManagementKey}

// generate makes a P-256 key in slot with the given PIN policy and no touch.
func generate(t *testing.T, tok hardware.Token, slot hardware.Slot, pin hardware.PINPolicy) *ecdsa.PublicKey {
	t.Helper()
	pub, err := tok.GenerateKey(context.Background(), defaultMgmt, slot,
		hardware.GenerateOptions{Algorithm: "P-256", PIN: pin, Touch: hardware.TouchPolicyNever})
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", slot, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("GenerateKey(%s) returned %T, want a P-256 *ecdsa.PublicKey", slot, pub)
	}
	return ec
}

func testGenerateKeyInfo(t *testing.T, tok hardware.Token) {
	tests := []struct {
		name string
		slot hardware.Slot
		pin  hardware.PINPolicy
	}{
		{"retired slot PIN once", slotDecrypt, hardware.PINPolicyOnce},
		{"signature slot PIN always", slotSign, hardware.PINPolicyAlways},
		{"authentication slot PIN never", hardware.SlotAuthentication, hardware.PINPolicyNever},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub := generate(t, tok, tc.slot, tc.pin)
			ki, err := tok.KeyInfo(context.Background(), tc.slot)
			if err != nil {
				t.Fatalf("KeyInfo: %v", err)
			}
			want := hardware.KeyInfo{Slot: tc.slot, Algorithm: "P-256", PIN: tc.pin, Touch: hardware.TouchPolicyNever, Generated: true}
			got := ki
			got.Public = nil
			if got != want {
				t.Errorf("KeyInfo = %+v, want %+v", got, want)
			}
			if !pub.Equal(ki.Public) {
				t.Errorf("KeyInfo.Public differs from the generated key")
			}
		})
	}
}

// selfSigned makes a throwaway certificate to store in a slot.
func selfSigned(t *testing.T) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "tokentest"},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCertificate(t *testing.T, tok hardware.Token) {
	ctx := context.Background()
	cert := selfSigned(t)
	if err := tok.SetCertificate(ctx, defaultMgmt, slotDecrypt, cert); err != nil {
		t.Fatalf("SetCertificate: %v", err)
	}
	got, err := tok.Certificate(ctx, slotDecrypt)
	if err != nil {
		t.Fatalf("Certificate: %v", err)
	}
	if !got.Equal(cert) {
		t.Errorf("Certificate returned a different certificate than stored")
	}
}

func testAttest(t *testing.T, tok hardware.Token) {
	pub := generate(t, tok, slotDecrypt, hardware.PINPolicyOnce)
	a, err := tok.Attest(context.Background(), slotDecrypt)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	if a.Device == nil || a.Slot == nil {
		t.Fatalf("Attest returned Device=%v Slot=%v, want both", a.Device != nil, a.Slot != nil)
	}
	if !pub.Equal(a.Slot.PublicKey) {
		t.Errorf("attested public key differs from the generated key")
	}
	// A real device certificate may lack basicConstraints, so check the
	// signature directly rather than with CheckSignatureFrom.
	if err := a.Device.CheckSignature(a.Slot.SignatureAlgorithm, a.Slot.RawTBSCertificate, a.Slot.Signature); err != nil {
		t.Errorf("slot attestation is not signed by the device certificate: %v", err)
	}
	if want := "YubiKey PIV Attestation 82"; a.Slot.Subject.CommonName != want {
		t.Errorf("slot attestation CN = %q, want %q", a.Slot.Subject.CommonName, want)
	}
}

func testECDH(t *testing.T, tok hardware.Token) {
	pub := generate(t, tok, slotDecrypt, hardware.PINPolicyOnce)
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.ECDH(context.Background(), slotDecrypt, eph.PublicKey(), hardware.DefaultPIN)
	if err != nil {
		t.Fatalf("ECDH: %v", err)
	}
	wantECDH(t, got, pub, eph)
}

func testSign(t *testing.T, tok hardware.Token) {
	tests := []struct {
		name string
		slot hardware.Slot
		pin  hardware.PINPolicy
	}{
		{"PIN always", slotSign, hardware.PINPolicyAlways},
		{"PIN once", slotDecrypt, hardware.PINPolicyOnce},
		{"PIN never, no PIN given", hardware.SlotAuthentication, hardware.PINPolicyNever},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub := generate(t, tok, tc.slot, tc.pin)
			digest := sha256.Sum256([]byte("breakglass report " + tc.name))
			pin := hardware.DefaultPIN
			if tc.pin == hardware.PINPolicyNever {
				pin = ""
			}
			sig, err := tok.Sign(context.Background(), tc.slot, digest[:], pin)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(pub, digest[:], sig) {
				t.Errorf("signature does not verify with the slot's public key")
			}
		})
	}
}

func testWrongPINOnUse(t *testing.T, tok hardware.Token) {
	ctx := context.Background()
	generate(t, tok, slotSign, hardware.PINPolicyAlways)
	digest := sha256.Sum256([]byte("x"))
	_, err := tok.Sign(ctx, slotSign, digest[:], "000000")
	wantPINError(t, err, 2)
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	generate(t, tok, slotDecrypt, hardware.PINPolicyOnce)
	_, err = tok.ECDH(ctx, slotDecrypt, eph.PublicKey(), "999999")
	wantPINError(t, err, 1)
}

func testMissingPIN(t *testing.T, tok hardware.Token) {
	generate(t, tok, slotSign, hardware.PINPolicyAlways)
	digest := sha256.Sum256([]byte("x"))
	_, err := tok.Sign(context.Background(), slotSign, digest[:], "")
	if !errors.Is(err, hardware.ErrSecurityStatus) {
		t.Fatalf("Sign without PIN on a PIN-always slot = %v, want ErrSecurityStatus", err)
	}
}

func testEmptySlot(t *testing.T, tok hardware.Token) {
	ctx := context.Background()
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	ops := []struct {
		name string
		op   func() error
	}{
		{"KeyInfo", func() error { _, err := tok.KeyInfo(ctx, slotEmpty); return err }},
		{"Certificate", func() error { _, err := tok.Certificate(ctx, slotEmpty); return err }},
		{"Attest", func() error { _, err := tok.Attest(ctx, slotEmpty); return err }},
		{"ECDH", func() error { _, err := tok.ECDH(ctx, slotEmpty, eph.PublicKey(), hardware.DefaultPIN); return err }},
		{"Sign", func() error { _, err := tok.Sign(ctx, slotEmpty, digest[:], hardware.DefaultPIN); return err }},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			if err := o.op(); !errors.Is(err, hardware.ErrSlotEmpty) {
				t.Errorf("%s on an empty slot = %v, want ErrSlotEmpty", o.name, err)
			}
		})
	}
}

func testWrongManagementKey(t *testing.T, tok hardware.Token) {
	ctx := context.Background()
	wrong := hardware.ManagementKey{Key: make([]byte, 24)}
	_, err := tok.GenerateKey(ctx, wrong, slotDecrypt, hardware.GenerateOptions{Algorithm: "P-256"})
	if !errors.Is(err, hardware.ErrSecurityStatus) {
		t.Errorf("GenerateKey with a wrong management key = %v, want ErrSecurityStatus", err)
	}
	if err := tok.SetCertificate(ctx, wrong, slotDecrypt, selfSigned(t)); !errors.Is(err, hardware.ErrSecurityStatus) {
		t.Errorf("SetCertificate with a wrong management key = %v, want ErrSecurityStatus", err)
	}
	if _, err := tok.KeyInfo(ctx, slotDecrypt); !errors.Is(err, hardware.ErrSlotEmpty) {
		t.Errorf("slot after a refused GenerateKey: KeyInfo = %v, want ErrSlotEmpty", err)
	}
	if _, err := tok.Certificate(ctx, slotDecrypt); !errors.Is(err, hardware.ErrSlotEmpty) {
		t.Errorf("slot after a refused SetCertificate: Certificate = %v, want ErrSlotEmpty", err)
	}
}

func testNoProtectedKey(t *testing.T, tok hardware.Token) {
	_, err := tok.GenerateKey(context.Background(), hardware.ManagementKey{PIN: hardware.DefaultPIN}, slotDecrypt,
		hardware.GenerateOptions{Algorithm: "P-256"})
	if !errors.Is(err, hardware.ErrSecurityStatus) {
		t.Errorf("GenerateKey by PIN on a key without a PIN-protected management key = %v, want ErrSecurityStatus", err)
	}
}

func testCancelled(t *testing.T, tok hardware.Token) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tok.Info(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Info with a cancelled context = %v, want context.Canceled", err)
	}
	digest := sha256.Sum256([]byte("x"))
	if _, err := tok.Sign(ctx, slotSign, digest[:], hardware.DefaultPIN); !errors.Is(err, context.Canceled) {
		t.Errorf("Sign with a cancelled context = %v, want context.Canceled", err)
	}
}
