package vyk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

func TestEmbeddedRootMatchesTestdata(t *testing.T) {
	files := []struct {
		path     string
		embedded []byte
	}{
		{"../../testdata/attestation/attestation-root.pem", testRootPEM},
		{"../../testdata/attestation-root.pem", testRootPEM},
		{"../../testdata/attestation/attestation-root.key.pem", testRootKeyPEM},
	}
	for _, f := range files {
		disk, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatalf("reading %s: %v", f.path, err)
		}
		if !bytes.Equal(disk, f.embedded) {
			t.Errorf("%s differs from the copy embedded in hardware/vyk/testroot", f.path)
		}
	}
	ca, err := TestCA()
	if err != nil {
		t.Fatalf("TestCA: %v", err)
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "breakglass TEST ONLY attestation root" {
		t.Errorf("test root: IsCA %v, CN %q", ca.Cert.IsCA, ca.Cert.Subject.CommonName)
	}
}

// rootPool returns a pool holding only the test root.
func rootPool(t *testing.T) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(TestRootPEM()) {
		t.Fatal("test root PEM does not parse")
	}
	return pool
}

// readDeviceCert reads the f9 certificate through GET DATA and GET RESPONSE.
func (tc *testCard) readDeviceCert(t *testing.T) *x509.Certificate {
	t.Helper()
	cl := &client{tx: tc.Transmit}
	cert, err := cl.certificate(objAttestation)
	if err != nil {
		t.Fatalf("reading f9 certificate: %v", err)
	}
	return cert
}

func TestAttestationVerifiesWithPivGo(t *testing.T) {
	tests := []struct {
		name       string
		slot       byte
		pin, touch byte
		wantSlot   piv.Slot
		wantPIN    piv.PINPolicy
		wantTouch  piv.TouchPolicy
	}{
		{"9a once never", 0x9a, 0x02, 0x01, piv.SlotAuthentication, piv.PINPolicyOnce, piv.TouchPolicyNever},
		{"9c always always", 0x9c, 0x03, 0x02, piv.SlotSignature, piv.PINPolicyAlways, piv.TouchPolicyAlways},
		{"82 never cached", 0x82, 0x01, 0x03, piv.Slot{Key: 0x82, Object: 0x5fc10d}, piv.PINPolicyNever, piv.TouchPolicyCached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t)
			point := c.generateKey(t, tc.slot, algP256, tc.pin, tc.touch)
			der := c.do(t, 0xf9, tc.slot, 0x00, nil)
			slotCert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("slot attestation: %v", err)
			}
			device := c.readDeviceCert(t)
			if device.BasicConstraintsValid {
				t.Errorf("device certificate has basicConstraints; real ones do not")
			}
			a, err := (&piv.Verifier{Roots: rootPool(t)}).Verify(device, slotCert)
			if err != nil {
				t.Fatalf("piv.Verifier: %v", err)
			}
			want := piv.Attestation{
				Version:     piv.Version{Major: 5, Minor: 4, Patch: 3},
				Serial:      12345678,
				Formfactor:  piv.FormfactorUSBAKeychain,
				PINPolicy:   tc.wantPIN,
				TouchPolicy: tc.wantTouch,
				Slot:        tc.wantSlot,
			}
			if *a != want {
				t.Errorf("attestation = %+v, want %+v", *a, want)
			}
			pub, _ := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
			if !pub.Equal(slotCert.PublicKey) {
				t.Errorf("attested key differs from the generated key")
			}
		})
	}
}

func TestAttestationFailsUnderAnotherRoot(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other root"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := x509.ParseCertificate(der)
	c, err := New(Config{Serial: 7, CA: &CA{Cert: other, Key: key}, Sleep: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCard{Card: c}
	tc.generateKey(t, 0x9a, algP256, 1, 1)
	slotCert, err := x509.ParseCertificate(tc.do(t, 0xf9, 0x9a, 0x00, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&piv.Verifier{Roots: rootPool(t)}).Verify(tc.readDeviceCert(t), slotCert); err == nil {
		t.Errorf("attestation from a card of another CA verified under the test root")
	}
}

func TestParseCARejectsMismatchedKey(t *testing.T) {
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tests := []struct {
		name      string
		cert, key []byte
	}{
		{"mismatched key", testRootPEM, keyPEM},
		{"no certificate", nil, testRootKeyPEM},
		{"no key", testRootPEM, nil},
		{"key as certificate", testRootKeyPEM, testRootKeyPEM},
	}
	for _, tc := range tests {
		if _, err := ParseCA(tc.cert, tc.key); err == nil {
			t.Errorf("%s: ParseCA succeeded", tc.name)
		}
	}
}
