package piv_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/internal/attest"
)

// TestYkmanAttestationVerifies: a key generated and attested with Yubico's
// own ykman on the virtual YubiKey (through the private pcscd) verifies with
// piv-go's Verifier against the TEST root, with the right serial and slot,
// and is refused by the Yubico roots.
func TestYkmanAttestationVerifies(t *testing.T) {
	vs := e2eStation(t)
	dir := t.TempDir()
	pub, att, f9 := filepath.Join(dir, "pub.pem"), filepath.Join(dir, "att.pem"), filepath.Join(dir, "f9.pem")
	ykman(t, vs, serialBench, "piv", "keys", "generate", "-a", "ECCP256", "-m", "010203040506070801020304050607080102030405060708", "9a", pub)
	ykman(t, vs, serialBench, "piv", "keys", "attest", "9a", att)
	ykman(t, vs, serialBench, "piv", "certificates", "export", "f9", f9)

	slot, device := readCert(t, att), readCert(t, f9)
	pubKey := readPub(t, pub)
	trust, err := attest.LoadTestTrust("../../testdata/attestation-root.pem")
	if err != nil {
		t.Fatal(err)
	}
	a, err := piv.AttestationVerifier{Trust: trust}.VerifyKey(
		hardware.Attestation{Device: device, Slot: slot}, serialBench, hardware.SlotAuthentication, pubKey)
	if err != nil {
		t.Fatalf("ykman's attestation does not verify against the test root: %v", err)
	}
	if a.Serial != serialBench || a.Slot != hardware.SlotAuthentication || !a.TestRoot {
		t.Errorf("attested %+v, want serial %d slot 9a test root", a, serialBench)
	}
	if _, err := (piv.AttestationVerifier{}).Verify(hardware.Attestation{Device: device, Slot: slot}); !errors.Is(err, attest.ErrUntrusted) {
		t.Error("the Yubico roots accepted a key attested by the TEST root")
	}
}

// pemDER returns the DER of the first PEM block in path.
func pemDER(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	return blk.Bytes
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(pemDER(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readPub(t *testing.T, path string) *ecdsa.PublicKey {
	t.Helper()
	k, err := x509.ParsePKIXPublicKey(pemDER(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PublicKey)
}
