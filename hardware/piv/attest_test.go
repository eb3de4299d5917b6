package piv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
)

var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
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
			{Id: oidFirmware, Value: []byte{5, 4, 3}},
			{Id: oidSerial, Value: serialDER},
			{Id: oidPolicy, Value: []byte{2, 2}},
			{Id: oidFormFactor, Value: []byte{1}},
		}}
	sc := mustCert(t, slotT, dev, &slotKey.PublicKey, devKey)
	return chain{
		root:    root,
		rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		att:     hardware.Attestation{Device: dev, Slot: sc},
		slotKey: slotKey,
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestVerify(t *testing.T) {
	c := newChain(t, 12345678, "82")
	other := newChain(t, 1, "82")
	tests := []struct {
		name    string
		v       AttestationVerifier
		att     hardware.Attestation
		wantErr string
	}{
		{"test root", AttestationVerifier{Roots: pool(c.root), TestRoot: true}, c.att, ""},
		{"yubico roots reject a test chain", AttestationVerifier{}, c.att, "verifying attestation"},
		{"other root", AttestationVerifier{Roots: pool(other.root)}, c.att, "verifying attestation"},
		{"device from another chain", AttestationVerifier{Roots: pool(c.root)}, hardware.Attestation{Device: other.att.Device, Slot: c.att.Slot}, "verifying attestation"},
		{"missing device", AttestationVerifier{Roots: pool(c.root)}, hardware.Attestation{Slot: c.att.Slot}, "missing"},
		{"missing slot", AttestationVerifier{Roots: pool(c.root)}, hardware.Attestation{Device: c.att.Device}, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.Verify(tc.att)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Verify error = %v, want one mentioning %q", err, tc.wantErr)
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
	v := AttestationVerifier{Roots: pool(c.root), TestRoot: true}
	tests := []struct {
		name    string
		serial  uint32
		slot    hardware.Slot
		pub     any
		wantErr string
	}{
		{"matches", 12345678, 0x82, &c.slotKey.PublicKey, ""},
		{"other serial", 1, 0x82, &c.slotKey.PublicKey, "not 1"},
		{"other slot", 12345678, 0x83, &c.slotKey.PublicKey, "not 83"},
		{"other key", 12345678, 0x82, &newKey(t).PublicKey, "differs"},
		{"no key", 12345678, 0x82, nil, "differs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.VerifyKey(c.att, tc.serial, tc.slot, tc.pub)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("VerifyKey: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("VerifyKey error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadRoots(t *testing.T) {
	c := newChain(t, 1, "9c")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"repository test root", filepath.Join("..", "..", "testdata", "attestation-root.pem"), ""},
		{"generated root", write("root.pem", c.rootPEM), ""},
		{"key only", write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), "no PEM certificate"},
		{"empty", write("empty.pem", nil), "no PEM certificate"},
		{"corrupt certificate", write("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})), "parsing"},
		{"missing file", filepath.Join(dir, "nope.pem"), "reading"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadRoots(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadRoots error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || p == nil {
				t.Fatalf("LoadRoots: %v", err)
			}
		})
	}
	// The loaded generated root verifies its chain.
	p, err := LoadRoots(filepath.Join(dir, "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (AttestationVerifier{Roots: p}).Verify(c.att); err != nil {
		t.Errorf("chain does not verify with its loaded root: %v", err)
	}
}
