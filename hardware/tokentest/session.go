package tokentest

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"breakglass/hardware"
)

// sessioner returns tok's one-session ability; every Token in this
// repository must have it.
func sessioner(t *testing.T, tok hardware.Token) hardware.Sessioner {
	t.Helper()
	s, ok := tok.(hardware.Sessioner)
	if !ok {
		t.Fatalf("%T does not implement hardware.Sessioner", tok)
	}
	return s
}

// wantECDH checks a token's shared secret against software ECDH.
func wantECDH(t *testing.T, got []byte, pub *ecdsa.PublicKey, eph *ecdh.PrivateKey) {
	t.Helper()
	slotPub, err := pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	want, err := eph.ECDH(slotPub)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("ECDH on the token = %x, software ECDH = %x", got, want)
	}
}

func ephemeral(t *testing.T) *ecdh.PrivateKey {
	t.Helper()
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return eph
}

// testSession runs a custodian unlock's steps in one session: retries,
// slot metadata, a refused PIN, the right PIN, and a second key agreement
// that needs no PIN because "once" was satisfied in this session.
func testSession(t *testing.T, tok hardware.Token) {
	pub := generate(t, tok, slotDecrypt, hardware.PINPolicyOnce)
	eph := ephemeral(t)
	ctx := context.Background()
	err := sessioner(t, tok).Session(ctx, func(s hardware.Session) error {
		if n, err := s.PINRetries(); err != nil || n != 3 {
			t.Errorf("PINRetries = %d, %v; want 3", n, err)
		}
		ki, err := s.KeyInfo(slotDecrypt)
		if err != nil {
			return err
		}
		if got, ok := ki.Public.(*ecdsa.PublicKey); !ok || !got.Equal(pub) {
			t.Errorf("KeyInfo(%s).Public = %v, want the generated key", slotDecrypt, ki.Public)
		}
		if ki.PIN != hardware.PINPolicyOnce || ki.Touch != hardware.TouchPolicyNever {
			t.Errorf("KeyInfo policies = %s/%s, want once/never", ki.PIN, ki.Touch)
		}
		if _, err := s.KeyInfo(slotEmpty); !errors.Is(err, hardware.ErrSlotEmpty) {
			t.Errorf("KeyInfo(empty slot) = %v, want ErrSlotEmpty", err)
		}
		_, err = s.ECDH(slotDecrypt, eph.PublicKey(), "000000")
		wantPINError(t, err, 2)
		if n, err := s.PINRetries(); err != nil || n != 2 {
			t.Errorf("PINRetries after a wrong PIN = %d, %v; want 2", n, err)
		}
		got, err := s.ECDH(slotDecrypt, eph.PublicKey(), hardware.DefaultPIN)
		if err != nil {
			return err
		}
		wantECDH(t, got, pub, eph)
		again, err := s.ECDH(slotDecrypt, eph.PublicKey(), "")
		if err != nil {
			t.Errorf("second ECDH without a PIN after the PIN was verified in the session (policy once): %v", err)
		}
		if string(again) != string(got) {
			t.Errorf("second ECDH = %x, want %x", again, got)
		}
		if n, err := s.PINRetries(); err != nil || (n != 3 && n != hardware.RetriesUnknown) {
			t.Errorf("PINRetries after the right PIN = %d, %v; want 3 or RetriesUnknown", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
}

// testSessionErrors: a session's errors follow Token's contract, and an
// error returned by f ends the session with that error.
func testSessionErrors(t *testing.T, tok hardware.Token) {
	generate(t, tok, slotSign, hardware.PINPolicyAlways)
	eph := ephemeral(t)
	mine := errors.New("custodian gave up")
	err := sessioner(t, tok).Session(context.Background(), func(s hardware.Session) error {
		if _, err := s.ECDH(slotSign, eph.PublicKey(), ""); !errors.Is(err, hardware.ErrSecurityStatus) {
			t.Errorf("ECDH without a PIN on a PIN-always slot = %v, want ErrSecurityStatus", err)
		}
		if _, err := s.ECDH(slotEmpty, eph.PublicKey(), hardware.DefaultPIN); !errors.Is(err, hardware.ErrSlotEmpty) {
			t.Errorf("ECDH on an empty slot = %v, want ErrSlotEmpty", err)
		}
		return mine
	})
	if !errors.Is(err, mine) {
		t.Errorf("Session = %v, want f's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err = sessioner(t, tok).Session(ctx, func(hardware.Session) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Session with a cancelled context = %v (f ran: %v), want context.Canceled without running f", err, ran)
	}
}

// testTouchPrompt: the touch prompt is called once, after the PIN is
// accepted, exactly when the slot's touch policy makes the key wait: never
// for "never", never after a refused PIN, and not for "cached" right after
// a touch (a YubiKey caches a touch for the whole device for 15 s). The
// factory tokens' simulated touch takes no time.
func testTouchPrompt(t *testing.T, tok hardware.Token) {
	mgmt := defaultMgmt
	gen := func(slot hardware.Slot, touch hardware.TouchPolicy) {
		t.Helper()
		if _, err := tok.GenerateKey(context.Background(), mgmt, slot,
			hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: touch}); err != nil {
			t.Fatalf("GenerateKey(%s, touch %s): %v", slot, touch, err)
		}
	}
	gen(slotDecrypt, hardware.TouchPolicyAlways)
	gen(hardware.SlotAuthentication, hardware.TouchPolicyNever)
	gen(hardware.Slot(0x83), hardware.TouchPolicyCached)
	prompts := 0
	ctx := hardware.WithTouchPrompt(context.Background(), func() { prompts++ })
	eph := ephemeral(t)
	digest := sha256.Sum256([]byte("touch"))
	steps := []struct {
		name string
		op   func() error
		want int // prompts
	}{
		{"ECDH, touch never", func() error {
			_, err := tok.ECDH(ctx, hardware.SlotAuthentication, eph.PublicKey(), hardware.DefaultPIN)
			return err
		}, 0},
		{"ECDH, touch always, wrong PIN", func() error {
			_, err := tok.ECDH(ctx, slotDecrypt, eph.PublicKey(), "000000")
			var pe *hardware.PINError
			if errors.As(err, &pe) {
				return nil
			}
			return errors.Join(errors.New("want a *hardware.PINError"), err)
		}, 0},
		{"ECDH, touch always", func() error {
			_, err := tok.ECDH(ctx, slotDecrypt, eph.PublicKey(), hardware.DefaultPIN)
			return err
		}, 1},
		{"Sign, touch always", func() error {
			_, err := tok.Sign(ctx, slotDecrypt, digest[:], hardware.DefaultPIN)
			return err
		}, 1},
		{"ECDH, touch cached, just touched", func() error {
			_, err := tok.ECDH(ctx, hardware.Slot(0x83), eph.PublicKey(), hardware.DefaultPIN)
			return err
		}, 0},
		{"session ECDH, touch always", func() error {
			return sessioner(t, tok).Session(ctx, func(s hardware.Session) error {
				_, err := s.ECDH(slotDecrypt, eph.PublicKey(), hardware.DefaultPIN)
				return err
			})
		}, 1},
		{"Info, KeyInfo and Attest need no touch", func() error {
			_, err := tok.Info(ctx)
			if err == nil {
				_, err = tok.KeyInfo(ctx, slotDecrypt)
			}
			if err == nil {
				_, err = tok.Attest(ctx, slotDecrypt)
			}
			return err
		}, 0},
	}
	for _, st := range steps {
		prompts = 0
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if prompts != st.want {
			t.Errorf("%s: touch prompt called %d times, want %d", st.name, prompts, st.want)
		}
	}
}
