package vyk

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
	"breakglass/hardware/tokentest"
)

func TestTokenConformance(t *testing.T) {
	tokentest.Run(t, func(t *testing.T) hardware.Token {
		return NewToken(newTestCard(t).Card)
	})
}

func TestTokenInfo(t *testing.T) {
	tok := NewToken(newTestCard(t).Card)
	info, err := tok.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := hardware.Info{Reader: "virtual YubiKey (in-process)", Serial: 12345678, Firmware: "5.4.3", FormFactor: "USB-A keychain", PINRetries: 3}
	if info != want {
		t.Errorf("Info = %+v, want %+v", info, want)
	}
}

func TestTokenAttestationVerifies(t *testing.T) {
	ctx := context.Background()
	tok := NewToken(newTestCard(t).Card)
	mgmt := hardware.ManagementKey{Key: hardware.DefaultManagementKey}
	pub, err := tok.GenerateKey(ctx, mgmt, 0x9d, hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyCached})
	if err != nil {
		t.Fatal(err)
	}
	a, err := tok.Attest(ctx, 0x9d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&piv.Verifier{Roots: rootPool(t)}).Verify(a.Device, a.Slot)
	if err != nil {
		t.Fatalf("piv.Verifier: %v", err)
	}
	if got.Serial != tok.Serial() || got.PINPolicy != piv.PINPolicyOnce || got.TouchPolicy != piv.TouchPolicyCached {
		t.Errorf("attestation %+v", got)
	}
	if !pub.(*ecdsa.PublicKey).Equal(a.Slot.PublicKey) {
		t.Errorf("attested key differs")
	}
}

func TestTokenPINProtectedManagementKey(t *testing.T) {
	ctx := context.Background()
	c := newTestCard(t)
	tok := NewToken(c.Card)
	// Store a new random management key PIN-protected, as ykman does.
	newKey := make([]byte, 24)
	rand.Read(newKey)
	c.must(t, selectPIV)
	c.authDefault(t)
	c.must(t, hexOf(cmdAPDU(0xff, 0xff, 0xff, append([]byte{algAES192, 0x9b, 24}, newKey...))))
	c.do(t, 0xdb, 0x3f, 0xff, append(enc(0x5c, tagBytes(objPrinted)), enc(0x53, enc(0x88, enc(0x89, newKey)))...))

	if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, 0x9a, hardware.GenerateOptions{}); !errors.Is(err, hardware.ErrSecurityStatus) {
		t.Errorf("GenerateKey with the old default key = %v, want ErrSecurityStatus", err)
	}
	var pe *hardware.PINError
	if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{PIN: "000000"}, 0x9a, hardware.GenerateOptions{}); !errors.As(err, &pe) || pe.Retries != 2 {
		t.Errorf("GenerateKey with a wrong PIN = %v, want PINError{2}", err)
	}
	if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{PIN: hardware.DefaultPIN}, 0x9a, hardware.GenerateOptions{}); err != nil {
		t.Errorf("GenerateKey with the PIN-protected key: %v", err)
	}
}

func TestTokenTouchAndPolicies(t *testing.T) {
	ctx := context.Background()
	c := newTestCard(t)
	tok := NewToken(c.Card)
	mgmt := hardware.ManagementKey{Key: hardware.DefaultManagementKey}
	pubAny, err := tok.GenerateKey(ctx, mgmt, 0x82, hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyAlways})
	if err != nil {
		t.Fatal(err)
	}
	pub := pubAny.(*ecdsa.PublicKey)
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	for i := range 2 {
		shared, err := tok.ECDH(ctx, 0x82, eph.PublicKey(), hardware.DefaultPIN)
		if err != nil {
			t.Fatal(err)
		}
		slotPub, _ := pub.ECDH()
		want, _ := eph.ECDH(slotPub)
		if !bytes.Equal(shared, want) {
			t.Fatalf("ECDH mismatch")
		}
		if len(c.touches) != i+1 {
			t.Errorf("after %d ECDH: %d touches", i+1, len(c.touches))
		}
	}
	// Once-policy PIN is needed again in each operation (fresh SELECT).
	if _, err := tok.ECDH(ctx, 0x82, eph.PublicKey(), ""); !errors.Is(err, hardware.ErrSecurityStatus) {
		t.Errorf("ECDH without PIN = %v, want ErrSecurityStatus", err)
	}
	other, _ := ecdh.P384().GenerateKey(rand.Reader)
	if _, err := tok.ECDH(ctx, 0x82, other.PublicKey(), hardware.DefaultPIN); err == nil {
		t.Errorf("ECDH with a P-384 peer on a P-256 key succeeded")
	}
	digest := sha256.Sum256([]byte("x"))
	if _, err := tok.Sign(ctx, 0x82, digest[:], hardware.DefaultPIN); err != nil {
		t.Errorf("Sign: %v", err)
	}

	// A blocked PIN is reported as ErrPINBlocked by operations.
	for range 3 {
		_ = tok.VerifyPIN(ctx, "000000")
	}
	if _, err := tok.Sign(ctx, 0x82, digest[:], hardware.DefaultPIN); !errors.Is(err, hardware.ErrPINBlocked) {
		t.Errorf("Sign with a blocked PIN = %v, want ErrPINBlocked", err)
	}
}

func TestTokenAttestImportedKey(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.authDefault(t)
	c.must(t, hexOf(cmdAPDU(0xfe, algP256, 0x9a, enc(0x06, bytes.Repeat([]byte{1}, 32)))))
	_, err := NewToken(c.Card).Attest(context.Background(), 0x9a)
	if err == nil || errors.Is(err, hardware.ErrSlotEmpty) {
		t.Errorf("Attest of an imported key = %v, want a non-empty-slot error", err)
	}
}

func TestTokenTouchPrompt(t *testing.T) {
	// The touch prompt fires right before the command the card holds for a
	// touch; here the card's Sleep blocks until the prompt has fired, so a
	// prompt that came late (or never) would hang the test, not pass it.
	prompted := make(chan struct{})
	c, err := New(Config{Serial: 99, TouchDelay: time.Hour, Sleep: func(time.Duration) { <-prompted }})
	if err != nil {
		t.Fatal(err)
	}
	tok := NewToken(c)
	ctx := context.Background()
	if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, 0x9e,
		hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyNever, Touch: hardware.TouchPolicyAlways}); err != nil {
		t.Fatal(err)
	}
	ctx = hardware.WithTouchPrompt(ctx, func() { close(prompted) })
	digest := sha256.Sum256([]byte("x"))
	if _, err := tok.Sign(ctx, 0x9e, digest[:], ""); err != nil {
		t.Fatalf("Sign: %v", err)
	}
}
