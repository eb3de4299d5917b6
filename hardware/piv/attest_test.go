package piv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/internal/attest"
)

// chain is a test attestation hierarchy shaped like Yubico's: a CA root, a
// device (f9) certificate without basicConstraints, and a slot statement.
type chain struct {
	root    *x509.Certificate
	rootPEM []byte
	att     hardware.Attestation
	slotKey *ecdsa.PrivateKey
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t *testing.T, tmpl, parent *x509.Certificate, pub any, priv *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newChain(t *testing.T, serial int64, slot string) chain {
	t.Helper()
	nb, na := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	rootKey, devKey, slotKey := newKey(t), newKey(t), newKey(t)
	rootT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	root := mustCert(t, rootT, rootT, &rootKey.PublicKey, rootKey)
	devT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore: nb, NotAfter: na} // no basicConstraints, like real Yubico f9 certificates
	dev := mustCert(t, devT, root, &devKey.PublicKey, rootKey)
	serialDER, err := asn1.Marshal(serial)
	if err != nil {
		t.Fatal(err)
	}
	slotT := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "YubiKey PIV Attestation " + slot},
		NotBefore: nb, NotAfter: na,
		ExtraExtensions: []pkix.Extension{
			{Id: attest.OIDFirmware, Value: []byte{5, 4, 3}},
			{Id: attest.OIDSerial, Value: serialDER},
			{Id: attest.OIDPolicy, Value: []byte{2, 2}},
			{Id: attest.OIDFormFactor, Value: []byte{1}},
		}}
	sc := mustCert(t, slotT, dev, &slotKey.PublicKey, devKey)
	return chain{
		root:    root,
		rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		att:     hardware.Attestation{Device: dev, Slot: sc},
		slotKey: slotKey,
	}
}

// trust is the non-production trust of roots.
func trust(t *testing.T, roots ...*x509.Certificate) *attest.Trust {
	t.Helper()
	tr, err := attest.NewTestTrust(roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestVerify(t *testing.T) {
	c := newChain(t, 12345678, "82")
	other := newChain(t, 1, "82")
	tests := []struct {
		name    string
		v       AttestationVerifier
		att     hardware.Attestation
		wantErr error
	}{
		{"test root", AttestationVerifier{Trust: trust(t, c.root)}, c.att, nil},
		{"yubico roots reject a test chain", AttestationVerifier{}, c.att, attest.ErrUntrusted},
		{"other root", AttestationVerifier{Trust: trust(t, other.root)}, c.att, attest.ErrUntrusted},
		{"device from another chain", AttestationVerifier{Trust: trust(t, c.root)}, hardware.Attestation{Device: other.att.Device, Slot: c.att.Slot}, attest.ErrUntrusted},
		{"missing device", AttestationVerifier{Trust: trust(t, c.root)}, hardware.Attestation{Slot: c.att.Slot}, attest.ErrIncomplete},
		{"missing slot", AttestationVerifier{Trust: trust(t, c.root)}, hardware.Attestation{Device: c.att.Device}, attest.ErrIncomplete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.Verify(tc.att)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Attested{Serial: 12345678, Firmware: "5.4.3", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyAlways,
				FormFactor: "USB-A keychain", Slot: 0x82, TestRoot: true}
			if *got != want {
				t.Errorf("Verify = %+v, want %+v", *got, want)
			}
		})
	}
	if c.att.Device.BasicConstraintsValid {
		t.Error("Verify modified the caller's device certificate")
	}
}

func TestVerifyKey(t *testing.T) {
	c := newChain(t, 12345678, "82")
	v := AttestationVerifier{Trust: trust(t, c.root)}
	tests := []struct {
		name     string
		serial   uint32
		slot     hardware.Slot
		pub      any
		mismatch string // attest.MismatchError.What, "" for success
	}{
		{"matches", 12345678, 0x82, &c.slotKey.PublicKey, ""},
		{"other serial", 1, 0x82, &c.slotKey.PublicKey, "YubiKey"},
		{"other slot", 12345678, 0x83, &c.slotKey.PublicKey, "slot"},
		{"other key", 12345678, 0x82, &newKey(t).PublicKey, "public key"},
		{"no key", 12345678, 0x82, nil, "public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.VerifyKey(c.att, tc.serial, tc.slot, tc.pub)
			if tc.mismatch == "" {
				if err != nil {
					t.Fatalf("VerifyKey: %v", err)
				}
				return
			}
			var me *attest.MismatchError
			if !errors.As(err, &me) || me.What != tc.mismatch {
				t.Fatalf("VerifyKey error = %v, want a %s mismatch", err, tc.mismatch)
			}
		})
	}
}

// TestVerifyLoadedTrust: the virtual key's CA in testdata loads as a
// test trust, and a chain verifies with its loaded root.
func TestVerifyLoadedTrust(t *testing.T) {
	tr, err := attest.LoadTestTrust(filepath.Join("..", "..", "testdata", "attestation-root.pem"))
	if err != nil || !tr.IsTest() {
		t.Fatalf("loading the repository test root: %v", err)
	}
	c := newChain(t, 1, "9c")
	p := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(p, c.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err = attest.LoadTestTrust(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (AttestationVerifier{Trust: tr}).Verify(c.att); err != nil {
		t.Errorf("chain does not verify with its loaded root: %v", err)
	}
}
