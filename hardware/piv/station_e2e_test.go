package piv_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/hardware/station"
	"breakglass/internal/attest"
)

// waitEvent reads ch until an event for serial with the given insertion
// state arrives (or a minute passes).
func waitEvent(t *testing.T, ch <-chan piv.Event, serial uint32, inserted bool) piv.Event {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("Watch channel closed")
			}
			if e.Serial == serial && e.Inserted == inserted {
				return e
			}
		case <-timeout:
			t.Fatalf("no event for YubiKey %d inserted=%v", serial, inserted)
		}
	}
}

// waitInserted reads ch until every serial has been inserted and returns
// their readers.
func waitInserted(t *testing.T, ch <-chan piv.Event, serials ...uint32) map[uint32]string {
	t.Helper()
	got := map[uint32]string{}
	timeout := time.After(time.Minute)
	for len(got) < len(serials) {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("Watch channel closed")
			}
			if !slices.Contains(serials, e.Serial) {
				continue
			}
			if e.Inserted {
				got[e.Serial] = e.Reader
			} else {
				delete(got, e.Serial)
			}
		case <-timeout:
			t.Fatalf("keys %v did not all appear; saw %v", serials, got)
		}
	}
	return got
}

func TestStationAgainstVirtualKeys(t *testing.T) {
	const a, b = serialStationA, serialStationB
	vs := e2eStation(t)
	st := piv.NewStation()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := st.Watch(ctx, 20*time.Millisecond)
	readers := waitInserted(t, events, a, b)
	readerA, readerB := readers[a], readers[b]

	t.Run("Keys lists both", func(t *testing.T) {
		keys, err := st.Keys(ctx)
		if err != nil {
			t.Fatalf("Keys: %v", err)
		}
		want := map[uint32]hardware.Info{
			a: {Reader: readerA, Serial: a, Firmware: "5.4.3", FormFactor: "USB-A keychain", PINRetries: 3},
			b: {Reader: readerB, Serial: b, Firmware: "5.4.3", FormFactor: "USB-A keychain", PINRetries: 3},
		}
		seen := 0
		for _, k := range keys {
			w, ours := want[k.Info.Serial]
			if !ours {
				continue // the station's other keys
			}
			seen++
			if k.Err != nil || k.Info != w {
				t.Errorf("listed %+v, want %+v", k, w)
			}
		}
		if seen != 2 {
			t.Errorf("Keys = %+v, want both %d and %d", keys, a, b)
		}
	})

	t.Run("Open unknown serial", func(t *testing.T) {
		if _, err := st.Open(ctx, 99999999); !errors.Is(err, hardware.ErrNotFound) {
			t.Errorf("Open(absent) = %v, want ErrNotFound", err)
		}
	})

	t.Run("factory metadata", func(t *testing.T) {
		tok, err := st.OpenToken(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := tok.PINMetadata(ctx); err != nil || m != (piv.Metadata{Default: true, Retries: 3, Total: 3}) {
			t.Errorf("PINMetadata = %+v, %v; want default, 3 of 3", m, err)
		}
		if m, err := tok.PUKMetadata(ctx); err != nil || m != (piv.Metadata{Default: true, Retries: 3, Total: 3}) {
			t.Errorf("PUKMetadata = %+v, %v; want default, 3 of 3", m, err)
		}
		if d, err := tok.UsesDefaultManagementKey(ctx); err != nil || !d {
			t.Errorf("UsesDefaultManagementKey = %v, %v; want true", d, err)
		}
		if err := tok.VerifyPIN(ctx, "000000"); err == nil {
			t.Fatal("wrong PIN accepted")
		}
		if m, err := tok.PINMetadata(ctx); err != nil || m.Retries != 2 {
			t.Errorf("PINMetadata after a wrong PIN = %+v, %v; want 2 left", m, err)
		}
		if err := tok.VerifyPIN(ctx, hardware.DefaultPIN); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("PIN-protected management key", func(t *testing.T) {
		tok, err := st.OpenToken(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if d, err := tok.UsesDefaultManagementKey(ctx); err != nil || d {
				t.Errorf("UsesDefaultManagementKey after protecting = %v, %v; want false", d, err)
			}
		}()
		if _, err := tok.SetPINProtectedManagementKey(ctx, hardware.DefaultManagementKey, "000000"); !errors.As(err, new(*hardware.PINError)) {
			t.Fatalf("with a wrong PIN: %v, want *PINError", err)
		}
		if _, err := tok.SetPINProtectedManagementKey(ctx, make([]byte, 24), hardware.DefaultPIN); !errors.Is(err, hardware.ErrSecurityStatus) {
			t.Fatalf("with a wrong management key: %v, want ErrSecurityStatus", err)
		}
		if out := ykman(t, vs, a, "piv", "info"); strings.Contains(out, "protected by PIN") {
			t.Fatalf("ykman reports a protected key after failed attempts:\n%s", out)
		}
		key, err := tok.SetPINProtectedManagementKey(ctx, hardware.DefaultManagementKey, hardware.DefaultPIN)
		if err != nil {
			t.Fatalf("SetPINProtectedManagementKey: %v", err)
		}
		if len(key) != 24 || string(key) == string(hardware.DefaultManagementKey) {
			t.Fatalf("new management key is %d bytes or the default", len(key))
		}
		opts := hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyNever}
		if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, 0x83, opts); !errors.Is(err, hardware.ErrSecurityStatus) {
			t.Errorf("GenerateKey with the old default key = %v, want ErrSecurityStatus", err)
		}
		if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{PIN: "999999"}, 0x83, opts); !errors.As(err, new(*hardware.PINError)) {
			t.Errorf("GenerateKey by a wrong PIN = %v, want *PINError", err)
		}
		if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{PIN: hardware.DefaultPIN}, 0x83, opts); err != nil {
			t.Errorf("GenerateKey by PIN: %v", err)
		}
		if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: key}, 0x84, opts); err != nil {
			t.Errorf("GenerateKey with the returned key: %v", err)
		}
		if out := ykman(t, vs, a, "piv", "info"); !strings.Contains(out, "Management key is stored on the YubiKey, protected by PIN.") {
			t.Errorf("ykman piv info does not see the PIN-protected key:\n%s", out)
		}
		// ykman finds the stored key with the PIN alone.
		if out := ykman(t, vs, a, "piv", "keys", "generate", "-a", "ECCP256", "-P", hardware.DefaultPIN, "85", "-"); !strings.Contains(out, "BEGIN PUBLIC KEY") {
			t.Errorf("ykman could not generate with the PIN-protected key:\n%s", out)
		}
	})

	t.Run("Slots and attestation", func(t *testing.T) {
		tok, err := st.OpenToken(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		slots, err := tok.Slots(ctx)
		if err != nil {
			t.Fatalf("Slots: %v", err)
		}
		var got []hardware.Slot
		for _, ki := range slots {
			got = append(got, ki.Slot)
		}
		if want := []hardware.Slot{0x83, 0x84, 0x85}; !slices.Equal(got, want) {
			t.Fatalf("Slots = %v, want %v (generated by the previous subtest)", got, want)
		}
		att, err := tok.Attest(ctx, 0x83)
		if err != nil {
			t.Fatalf("Attest: %v", err)
		}
		trust, err := attest.LoadTestTrust(filepath.Join("..", "..", "testdata", "attestation-root.pem"))
		if err != nil {
			t.Fatal(err)
		}
		v := piv.AttestationVerifier{Trust: trust}
		at, err := v.VerifyKey(att, a, 0x83, slots[0].Public)
		if err != nil {
			t.Fatalf("VerifyKey with the test root: %v", err)
		}
		want := piv.Attested{Serial: a, Firmware: "5.4.3", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyNever,
			FormFactor: "USB-A keychain", Slot: 0x83, TestRoot: true}
		if *at != want {
			t.Errorf("Attested = %+v, want %+v", *at, want)
		}
		if _, err := v.VerifyKey(att, a, 0x84, slots[1].Public); !errors.Is(err, attest.ErrMismatch) {
			t.Error("the attestation of 83 verified for slot 84")
		}
		if _, err := (piv.AttestationVerifier{}).Verify(att); !errors.Is(err, attest.ErrUntrusted) {
			t.Error("the virtual key's attestation verified against the Yubico roots")
		}
	})

	t.Run("busy key is ErrBusy", func(t *testing.T) {
		tok, err := st.Open(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		yk, err := gopiv.Open(readerB) // another PC/SC client holds it exclusively
		if err != nil {
			t.Fatalf("opening %q: %v", readerB, err)
		}
		_, err = tok.Info(ctx)
		yk.Close()
		if !errors.Is(err, piv.ErrBusy) {
			t.Errorf("Info while another client holds the key = %v, want ErrBusy", err)
		}
		if _, err := tok.Info(ctx); err != nil {
			t.Errorf("Info once released: %v", err)
		}
	})

	t.Run("removed and reinserted", func(t *testing.T) {
		tok, err := st.Open(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := vs.Pull(b); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, b, false)
		if _, err := tok.Info(ctx); !errors.Is(err, hardware.ErrRemoved) {
			t.Errorf("Info on a pulled key = %v, want ErrRemoved", err)
		}
		if err := vs.Insert(b); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, b, true)
		if in, err := tok.Info(ctx); err != nil || in.Serial != b {
			t.Errorf("Info after reinsertion = %+v, %v", in, err)
		}
	})

	t.Run("pcscd stopped", func(t *testing.T) {
		tok, err := st.Open(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := vs.StopPCSCD(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := vs.RestartPCSCD(rctx); err != nil {
				t.Fatalf("restarting pcscd: %v", err)
			}
		}()
		if _, err := st.Keys(ctx); !errors.Is(err, hardware.ErrNoService) {
			t.Errorf("Keys without pcscd = %v, want ErrNoService", err)
		}
		if _, err := tok.Info(ctx); !errors.Is(err, hardware.ErrNoService) {
			t.Errorf("Info without pcscd = %v, want ErrNoService", err)
		}
		digest := sha256.Sum256([]byte("x"))
		if _, err := tok.Sign(ctx, 0x9c, digest[:], hardware.DefaultPIN); !errors.Is(err, hardware.ErrNoService) {
			t.Errorf("Sign without pcscd = %v, want ErrNoService", err)
		}
	})

}

// ykman runs ykman against the station key with serial and returns its
// combined output; a failure fails the test.
func ykman(t *testing.T, vs *station.Station, serial uint32, args ...string) string {
	t.Helper()
	cmd := exec.Command("ykman", append([]string{"--device", fmt.Sprint(serial)}, args...)...)
	cmd.Env = append(os.Environ(), vs.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ykman %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// benchToken is a token with a P-256 key (PIN once, no touch) in slot 82.
func benchToken(b *testing.B, serial uint32) hardware.Token {
	e2eStation(b)
	st := piv.NewStation()
	waitFor(b, st, serial)
	ctx := context.Background()
	tok, err := st.Open(ctx, serial)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, 0x82,
		hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyNever}); err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkECDH is one age-style unwrap on the card: find, open, PIN, ECDH, close.
func BenchmarkECDH(b *testing.B) {
	tok := benchToken(b, serialBench)
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	ctx := context.Background()
	for b.Loop() {
		if _, err := tok.ECDH(ctx, 0x82, eph.PublicKey(), hardware.DefaultPIN); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is one report signature on the card.
func BenchmarkSign(b *testing.B) {
	tok := benchToken(b, serialBench)
	d := sha256.Sum256([]byte("report"))
	ctx := context.Background()
	for b.Loop() {
		if _, err := tok.Sign(ctx, 0x82, d[:], hardware.DefaultPIN); err != nil {
			b.Fatal(err)
		}
	}
}
