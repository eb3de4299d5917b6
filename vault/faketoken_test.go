package vault

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"breakglass/hardware"
	attestation "breakglass/internal/attest"
)

// testCA is a throwaway attestation root.
type testCA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	trust *attestation.Trust // the non-production trust of this root alone
}

var certEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: certEpoch, NotAfter: certEpoch.AddDate(50, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, trust: testTrust(t, cert)}
}

func (ca *testCA) opts() VerifyOptions { return VerifyOptions{Trust: ca.trust} }

// testTrust is the non-production attestation trust of roots.
func testTrust(t testing.TB, roots ...*x509.Certificate) *attestation.Trust {
	t.Helper()
	tr, err := attestation.NewTestTrust(roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

type fakeSlot struct {
	priv  *ecdsa.PrivateKey
	pin   hardware.PINPolicy
	touch hardware.TouchPolicy
	cert  *x509.Certificate
}

// fakeToken is an in-memory hardware.Token: software P-256 keys, a PIN with
// retries, and Yubico-style attestation under a test CA (device certificate
// without basicConstraints, serial extension on both certificates).
type fakeToken struct {
	serial      uint32
	pin         string
	retries     int
	device      *x509.Certificate
	deviceKey   *ecdsa.PrivateKey
	slots       map[hardware.Slot]*fakeSlot
	ecdhCalls   int
	attestCalls int
}

var _ hardware.Token = (*fakeToken)(nil)

func serialExt(serial uint32) pkix.Extension {
	v, _ := asn1.Marshal(int64(serial))
	return pkix.Extension{Id: attestation.OIDSerial, Value: v}
}

func newFakeToken(t testing.TB, ca *testCA, serial uint32) *fakeToken {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(serial) + 100), Subject: pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore: certEpoch, NotAfter: certEpoch.AddDate(40, 0, 0),
		ExtraExtensions: []pkix.Extension{serialExt(serial)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := x509.ParseCertificate(der)
	return &fakeToken{serial: serial, pin: "246810", retries: 3, device: dev, deviceKey: key, slots: map[hardware.Slot]*fakeSlot{}}
}

func (f *fakeToken) Serial() uint32 { return f.serial }

func (f *fakeToken) Info(context.Context) (hardware.Info, error) {
	return hardware.Info{Reader: "fake", Serial: f.serial, Firmware: "5.7.1", PINRetries: f.retries}, nil
}

func (f *fakeToken) VerifyPIN(_ context.Context, pin string) error {
	if f.retries == 0 {
		return hardware.ErrPINBlocked
	}
	if pin != f.pin {
		f.retries--
		return &hardware.PINError{Retries: f.retries}
	}
	f.retries = 3
	return nil
}

func (f *fakeToken) slot(s hardware.Slot) (*fakeSlot, error) {
	k, ok := f.slots[s]
	if !ok {
		return nil, fmt.Errorf("fake slot %s: %w", s, hardware.ErrSlotEmpty)
	}
	return k, nil
}

func (f *fakeToken) KeyInfo(_ context.Context, s hardware.Slot) (hardware.KeyInfo, error) {
	k, err := f.slot(s)
	if err != nil {
		return hardware.KeyInfo{}, err
	}
	return hardware.KeyInfo{Slot: s, Algorithm: "P-256", PIN: k.pin, Touch: k.touch, Generated: true, Public: &k.priv.PublicKey}, nil
}

func (f *fakeToken) Certificate(_ context.Context, s hardware.Slot) (*x509.Certificate, error) {
	k, err := f.slot(s)
	if err != nil || k.cert == nil {
		return nil, hardware.ErrSlotEmpty
	}
	return k.cert, nil
}

func (f *fakeToken) Attest(_ context.Context, s hardware.Slot) (hardware.Attestation, error) {
	f.attestCalls++
	k, err := f.slot(s)
	if err != nil {
		return hardware.Attestation{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(s)), Subject: pkix.Name{CommonName: "YubiKey PIV Attestation " + s.String()},
		NotBefore: certEpoch, NotAfter: certEpoch.AddDate(40, 0, 0),
		ExtraExtensions: []pkix.Extension{serialExt(f.serial), {Id: attestation.OIDPolicy, Value: []byte{byte(k.pin), byte(k.touch)}}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.device, &k.priv.PublicKey, f.deviceKey)
	if err != nil {
		return hardware.Attestation{}, err
	}
	c, _ := x509.ParseCertificate(der)
	return hardware.Attestation{Device: f.device, Slot: c}, nil
}

func (f *fakeToken) checkPIN(ctx context.Context, k *fakeSlot, pin string) error {
	if k.pin == hardware.PINPolicyNever {
		return nil
	}
	return f.VerifyPIN(ctx, pin)
}

func (f *fakeToken) ECDH(ctx context.Context, s hardware.Slot, peer *ecdh.PublicKey, pin string) ([]byte, error) {
	k, err := f.slot(s)
	if err != nil {
		return nil, err
	}
	if err := f.checkPIN(ctx, k, pin); err != nil {
		return nil, err
	}
	f.ecdhCalls++
	priv, err := k.priv.ECDH()
	if err != nil {
		return nil, err
	}
	return priv.ECDH(peer)
}

func (f *fakeToken) Sign(ctx context.Context, s hardware.Slot, digest []byte, pin string) ([]byte, error) {
	k, err := f.slot(s)
	if err != nil {
		return nil, err
	}
	if err := f.checkPIN(ctx, k, pin); err != nil {
		return nil, err
	}
	return k.priv.Sign(rand.Reader, digest, crypto.SHA256)
}

func (f *fakeToken) GenerateKey(_ context.Context, mgmt hardware.ManagementKey, s hardware.Slot, opts hardware.GenerateOptions) (crypto.PublicKey, error) {
	if mgmt.PIN == "" && mgmt.Key == nil {
		return nil, hardware.ErrSecurityStatus
	}
	if opts.Algorithm != "P-256" {
		return nil, errors.New("fake token supports only P-256")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// Like a real YubiKey, resolve the default policies (PIN once, touch
	// never for a retired slot) before recording and attesting them.
	pin, touch := opts.PIN, opts.Touch
	if pin == hardware.PINPolicyDefault {
		pin = hardware.PINPolicyOnce
	}
	if touch == hardware.TouchPolicyDefault {
		touch = hardware.TouchPolicyNever
	}
	f.slots[s] = &fakeSlot{priv: key, pin: pin, touch: touch}
	return &key.PublicKey, nil
}

func (f *fakeToken) SetCertificate(_ context.Context, _ hardware.ManagementKey, s hardware.Slot, cert *x509.Certificate) error {
	k, err := f.slot(s)
	if err != nil {
		return err
	}
	k.cert = cert
	return nil
}
