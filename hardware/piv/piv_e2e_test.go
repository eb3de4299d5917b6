package piv_test

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
	"path/filepath"
	"testing"
	"time"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware/piv"
	"breakglass/internal/attest"
)

// waitFor waits, through Station.Watch, until the key with serial is
// connected, and returns its reader. It gives up after a minute.
func waitFor(tb testing.TB, st *piv.Station, serial uint32) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for e := range st.Watch(ctx, 50*time.Millisecond) {
		if e.Inserted && e.Serial == serial {
			return e.Reader
		}
	}
	tb.Fatalf("YubiKey %d did not appear through pcscd", serial)
	return ""
}

// openYK opens the reader with piv-go directly and closes it when the
// (sub)test ends.
func openYK(t *testing.T, reader string) *gopiv.YubiKey {
	t.Helper()
	yk, err := gopiv.Open(reader)
	if err != nil {
		t.Fatalf("piv.Open(%q): %v", reader, err)
	}
	t.Cleanup(func() { yk.Close() })
	return yk
}

func selfSigned(t *testing.T) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
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

func wantAuthErr(t *testing.T, err error, retries int) {
	t.Helper()
	var ae gopiv.AuthErr
	if !errors.As(err, &ae) || ae.Retries != retries {
		t.Fatalf("error = %v, want piv.AuthErr{Retries: %d}", err, retries)
	}
}

// TestPivGoAgainstVirtualKey drives unmodified piv-go through pcscd against
// the virtual YubiKey: every call breakglass (and age-plugin-yubikey-like
// tools) relies on. Subtests share one card and run in order.
func TestPivGoAgainstVirtualKey(t *testing.T) {
	const serial, serial53 = serialPivGo, 20000053
	vs := e2eStation(t)
	extraKey(t, vs, serial53, [3]byte{5, 3, 0}) // firmware before 5.4: 3DES management key
	st := piv.NewStation()
	reader := waitFor(t, st, serial)
	reader53 := waitFor(t, st, serial53)
	slot := gopiv.SlotKeyManagement
	var pub *ecdsa.PublicKey

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"serial and version", func(t *testing.T) {
			yk := openYK(t, reader)
			if sn, err := yk.Serial(); err != nil || sn != serial {
				t.Fatalf("Serial() = %d, %v; want %d", sn, err, serial)
			}
			if v := yk.Version(); v != (gopiv.Version{Major: 5, Minor: 4, Patch: 3}) {
				t.Errorf("Version() = %+v, want 5.4.3", v)
			}
		}},
		{"generate P-256", func(t *testing.T) {
			yk := openYK(t, reader)
			k, err := yk.GenerateKey(gopiv.DefaultManagementKey, slot,
				gopiv.Key{Algorithm: gopiv.AlgorithmEC256, PINPolicy: gopiv.PINPolicyOnce, TouchPolicy: gopiv.TouchPolicyNever})
			if err != nil {
				t.Fatalf("GenerateKey: %v", err)
			}
			pub = k.(*ecdsa.PublicKey)
			ki, err := yk.KeyInfo(slot)
			if err != nil {
				t.Fatalf("KeyInfo: %v", err)
			}
			if ki.Algorithm != gopiv.AlgorithmEC256 || ki.PINPolicy != gopiv.PINPolicyOnce ||
				ki.TouchPolicy != gopiv.TouchPolicyNever || ki.Origin != gopiv.OriginGenerated || !pub.Equal(ki.PublicKey) {
				t.Errorf("KeyInfo = %+v, does not describe the generated key", ki)
			}
		}},
		{"sign and ECDH with the PIN", func(t *testing.T) {
			yk := openYK(t, reader)
			priv, err := yk.PrivateKey(slot, pub, gopiv.KeyAuth{PIN: gopiv.DefaultPIN})
			if err != nil {
				t.Fatal(err)
			}
			k := priv.(*gopiv.ECDSAPrivateKey)
			d := sha256.Sum256([]byte("e2e"))
			sig, err := k.Sign(rand.Reader, d[:], nil)
			if err != nil || !ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Fatalf("Sign: %v (or signature does not verify)", err)
			}
			eph, _ := ecdh.P256().GenerateKey(rand.Reader)
			got, err := k.ECDH(eph.PublicKey())
			if err != nil {
				t.Fatalf("ECDH: %v", err)
			}
			slotPub, _ := pub.ECDH()
			if want, _ := eph.ECDH(slotPub); string(got) != string(want) {
				t.Errorf("card ECDH differs from software ECDH")
			}
		}},
		{"PIN verify, retries and change", func(t *testing.T) {
			yk := openYK(t, reader)
			wantAuthErr(t, yk.VerifyPIN("000000"), 2)
			if n, err := yk.Retries(); err != nil || n != 2 {
				t.Fatalf("Retries() = %d, %v; want 2", n, err)
			}
			if err := yk.SetPIN(gopiv.DefaultPIN, "654321"); err != nil {
				t.Fatalf("SetPIN: %v", err)
			}
			if err := yk.VerifyPIN("654321"); err != nil {
				t.Fatalf("VerifyPIN(new PIN): %v", err)
			}
			if err := yk.SetPIN("654321", gopiv.DefaultPIN); err != nil {
				t.Fatalf("SetPIN back: %v", err)
			}
		}},
		{"PUK change and unblock", func(t *testing.T) {
			yk := openYK(t, reader)
			if err := yk.SetPUK(gopiv.DefaultPUK, "87654321"); err != nil {
				t.Fatalf("SetPUK: %v", err)
			}
			wantAuthErr(t, yk.Unblock(gopiv.DefaultPUK, "111111"), 2)
			for i := 2; i >= 0; i-- {
				wantAuthErr(t, yk.VerifyPIN("000000"), i)
			}
			wantAuthErr(t, yk.VerifyPIN(gopiv.DefaultPIN), 0) // blocked
			if err := yk.Unblock("87654321", gopiv.DefaultPIN); err != nil {
				t.Fatalf("Unblock: %v", err)
			}
			if err := yk.VerifyPIN(gopiv.DefaultPIN); err != nil {
				t.Fatalf("VerifyPIN after unblock: %v", err)
			}
		}},
		{"management key AES-128, AES-256, AES-192", func(t *testing.T) {
			yk := openYK(t, reader)
			cert := selfSigned(t)
			old := gopiv.DefaultManagementKey
			for _, n := range []int{16, 32, 24} {
				k := make([]byte, n)
				rand.Read(k)
				if err := yk.SetManagementKey(old, k); err != nil {
					t.Fatalf("SetManagementKey(%d bytes): %v", n, err)
				}
				if err := yk.SetCertificate(old, slot, cert); err == nil {
					t.Fatalf("the replaced %d-byte management key still authenticates", len(old))
				}
				if err := yk.SetCertificate(k, slot, cert); err != nil {
					t.Fatalf("authenticating with the new %d-byte key: %v", n, err)
				}
				old = k
			}
			if err := yk.SetManagementKey(old, gopiv.DefaultManagementKey); err != nil {
				t.Fatal(err)
			}
		}},
		{"management key 3DES (firmware 5.3)", func(t *testing.T) {
			yk := openYK(t, reader53)
			k := make([]byte, 24)
			rand.Read(k)
			if err := yk.SetManagementKey(gopiv.DefaultManagementKey, k); err != nil {
				t.Fatalf("SetManagementKey: %v", err)
			}
			if _, err := yk.GenerateKey(gopiv.DefaultManagementKey, slot, gopiv.Key{Algorithm: gopiv.AlgorithmEC256,
				PINPolicy: gopiv.PINPolicyNever, TouchPolicy: gopiv.TouchPolicyNever}); err == nil {
				t.Fatal("the default 3DES key still authenticates")
			}
			if _, err := yk.GenerateKey(k, slot, gopiv.Key{Algorithm: gopiv.AlgorithmEC256,
				PINPolicy: gopiv.PINPolicyNever, TouchPolicy: gopiv.TouchPolicyNever}); err != nil {
				t.Fatalf("GenerateKey with the new 3DES key: %v", err)
			}
		}},
		{"certificate", func(t *testing.T) {
			yk := openYK(t, reader)
			cert := selfSigned(t)
			if err := yk.SetCertificate(gopiv.DefaultManagementKey, slot, cert); err != nil {
				t.Fatalf("SetCertificate: %v", err)
			}
			got, err := yk.Certificate(slot)
			if err != nil || !got.Equal(cert) {
				t.Fatalf("Certificate() = %v; want the stored certificate", err)
			}
		}},
		{"attestation with the test root", func(t *testing.T) {
			yk := openYK(t, reader)
			trust, err := attest.LoadTestTrust(filepath.Join("..", "..", "testdata", "attestation-root.pem"))
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			for _, r := range trust.Roots() {
				roots.AddCert(r)
			}
			dev, err := yk.AttestationCertificate()
			if err != nil {
				t.Fatalf("AttestationCertificate: %v", err)
			}
			sc, err := yk.Attest(slot)
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			a, err := (&gopiv.Verifier{Roots: roots}).Verify(dev, sc)
			if err != nil {
				t.Fatalf("Verifier.Verify: %v", err)
			}
			if a.Serial != serial || a.PINPolicy != gopiv.PINPolicyOnce || a.TouchPolicy != gopiv.TouchPolicyNever ||
				a.Slot != slot || a.Version != (gopiv.Version{Major: 5, Minor: 4, Patch: 3}) {
				t.Errorf("attestation = %+v, want serial %d, slot 9d, PIN once, touch never, 5.4.3", a, serial)
			}
			if !pub.Equal(sc.PublicKey) {
				t.Error("attested key differs from the generated key")
			}
			if _, err := gopiv.Verify(dev, sc); err == nil {
				t.Error("the virtual key's attestation verifies against the Yubico roots")
			}
		}},
		{"PIN-protected metadata", func(t *testing.T) {
			yk := openYK(t, reader)
			k := make([]byte, 24)
			rand.Read(k)
			if err := yk.SetMetadata(gopiv.DefaultManagementKey, &gopiv.Metadata{ManagementKey: &k}); err != nil {
				t.Fatalf("SetMetadata: %v", err)
			}
			m, err := yk.Metadata(gopiv.DefaultPIN)
			if err != nil || m.ManagementKey == nil || string(*m.ManagementKey) != string(k) {
				t.Fatalf("Metadata() = %v; want the stored key", err)
			}
		}},
		{"reset", func(t *testing.T) {
			yk := openYK(t, reader)
			if err := yk.SetPIN(gopiv.DefaultPIN, "24681357"); err != nil {
				t.Fatal(err)
			}
			if err := yk.Reset(); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if err := yk.VerifyPIN(gopiv.DefaultPIN); err != nil {
				t.Errorf("default PIN after reset: %v", err)
			}
			if _, err := yk.KeyInfo(slot); !errors.Is(err, gopiv.ErrNotFound) {
				t.Errorf("KeyInfo after reset = %v, want ErrNotFound", err)
			}
			if _, err := yk.Certificate(slot); !errors.Is(err, gopiv.ErrNotFound) {
				t.Errorf("Certificate after reset = %v, want ErrNotFound", err)
			}
			if _, err := yk.GenerateKey(gopiv.DefaultManagementKey, slot, gopiv.Key{Algorithm: gopiv.AlgorithmEC256,
				PINPolicy: gopiv.PINPolicyNever, TouchPolicy: gopiv.TouchPolicyNever}); err != nil {
				t.Errorf("default management key after reset: %v", err)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}
