package vault_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/vault"
)

// sessionWorld is a 2-of-2 vault on in-process virtual YubiKeys, whose
// tokens unlock in one card session (hardware.Sessioner).
type sessionWorld struct {
	v    *vault.Vault
	opts vault.VerifyOptions
	toks []hardware.Token
}

func newSessionWorld(t *testing.T) *sessionWorld {
	t.Helper()
	ctx := context.Background()
	ca, err := vyk.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	w := &sessionWorld{opts: testOpts(t, ca.Cert)}
	var records []vault.Custodian
	for i, name := range []string{"Alice", "Bob"} {
		card, err := vyk.New(vyk.Config{Serial: uint32(20000001 + i), CA: ca, Sleep: func(time.Duration) {}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		tok := vyk.NewToken(card)
		if _, ok := tok.(hardware.Sessioner); !ok {
			t.Fatalf("vyk token %T is not a hardware.Sessioner", tok)
		}
		c, err := vault.EnrolCustodian(ctx, tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, name,
			vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.opts, Now: now})
		if err != nil {
			t.Fatalf("enrolling %s: %v", name, err)
		}
		records = append(records, c)
		w.toks = append(w.toks, tok)
	}
	if w.v, err = vault.Create(vault.MergeCustodians(records), 2, now); err != nil {
		t.Fatal(err)
	}
	return w
}

func pinRetries(t *testing.T, tok hardware.Token) int {
	t.Helper()
	in, err := tok.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return in.PINRetries
}

// TestSessionUnlockTouchesOnce: one custodian's unlock prompts for a touch
// exactly once, during AddShare (the enrolled key's touch policy is
// "always"), and never in Identify.
func TestSessionUnlockTouchesOnce(t *testing.T) {
	w := newSessionWorld(t)
	prompts := 0
	ctx := hardware.WithTouchPrompt(context.Background(), func() { prompts++ })
	u := w.v.Unlocker(w.opts)
	for i, tok := range w.toks {
		prompts = 0
		if _, err := u.Identify(ctx, tok); err != nil {
			t.Fatalf("Identify(%d): %v", i, err)
		}
		if prompts != 0 {
			t.Errorf("Identify prompted for a touch %d times, want 0", prompts)
		}
		if err := u.AddShare(ctx, tok, hardware.DefaultPIN); err != nil {
			t.Fatalf("AddShare(%d): %v", i, err)
		}
		if prompts != 1 {
			t.Errorf("AddShare prompted for a touch %d times, want 1", prompts)
		}
	}
	o, err := u.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	o.Lock()
}

// TestSessionUnlockRefusesReplacedKey: a key whose decryption slot was
// regenerated since enrolment is refused in the session before any PIN is
// sent, and nothing is counted.
func TestSessionUnlockRefusesReplacedKey(t *testing.T) {
	w := newSessionWorld(t)
	ctx := context.Background()
	tok := w.toks[0]
	_, k, _ := w.v.KeyBySerial(tok.Serial())
	if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, k.Decrypt.Slot.PIV(),
		hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyNever}); err != nil {
		t.Fatal(err)
	}
	u := w.v.Unlocker(w.opts)
	for name, op := range map[string]func() error{
		"AddShare":   func() error { return u.AddShare(ctx, tok, "000000") },
		"CheckShare": func() error { return u.CheckShare(ctx, tok, "000000") },
	} {
		var km *vault.KeyMismatchError
		if err := op(); !errors.As(err, &km) || km.Serial != tok.Serial() {
			t.Errorf("%s on a replaced key = %v, want *KeyMismatchError", name, err)
		}
	}
	if n := pinRetries(t, tok); n != 3 {
		t.Errorf("PIN retries after refusing a replaced key = %d, want 3 (no PIN sent)", n)
	}
	if have, _ := u.Needed(); have != 0 {
		t.Errorf("a replaced key was counted")
	}
}

// TestSessionUnlockLastPINRetry: with one PIN attempt left the session does
// not send the PIN until the custodian confirms, and a wrong PIN is the
// token's *hardware.PINError.
func TestSessionUnlockLastPINRetry(t *testing.T) {
	w := newSessionWorld(t)
	ctx := context.Background()
	tok := w.toks[1]
	u := w.v.Unlocker(w.opts)
	for want := 2; want >= 1; want-- {
		var pe *hardware.PINError
		if err := u.AddShare(ctx, tok, "000000"); !errors.As(err, &pe) || pe.Retries != want {
			t.Fatalf("AddShare with a wrong PIN = %v, want *PINError with %d retries", err, want)
		}
	}
	var last *vault.LastPINRetryError
	if err := u.AddShare(ctx, tok, hardware.DefaultPIN); !errors.As(err, &last) || last.Serial != tok.Serial() {
		t.Fatalf("AddShare with one retry left = %v, want *LastPINRetryError", err)
	}
	if n := pinRetries(t, tok); n != 1 {
		t.Fatalf("PIN retries = %d after an unconfirmed last try, want 1 (PIN not sent)", n)
	}
	u.ConfirmLastPINRetry(tok.Serial())
	if err := u.AddShare(ctx, tok, hardware.DefaultPIN); err != nil {
		t.Fatalf("AddShare after confirming: %v", err)
	}
	if have, _ := u.Needed(); have != 1 {
		t.Errorf("counted %d custodians, want 1", have)
	}
	if _, err := u.Identify(ctx, tok); !errors.As(err, new(*vault.AlreadyCountedError)) {
		t.Errorf("Identify after counting = %v, want *AlreadyCountedError", err)
	}
}

// testOpts trusts only the virtual key's TEST attestation root.
func testOpts(tb testing.TB, root *x509.Certificate) vault.VerifyOptions {
	tb.Helper()
	tr, err := attest.NewTestTrust([]*x509.Certificate{root}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return vault.VerifyOptions{Trust: tr}
}
