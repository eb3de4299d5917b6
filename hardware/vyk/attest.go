package vyk

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"breakglass/internal/attest"
)

// CA is an attestation authority: it issues each card's f9 device
// certificate, as Yubico's PIV CA does for real YubiKeys.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

//go:embed testroot/attestation-root.pem
var testRootPEM []byte

//go:embed testroot/attestation-root.key.pem
var testRootKeyPEM []byte

// TestRootPEM returns the PEM of the TEST ONLY attestation root that TestCA
// uses (identical to testdata/attestation/attestation-root.pem).
func TestRootPEM() []byte { return append([]byte(nil), testRootPEM...) }

// TestCA returns the TEST ONLY attestation root committed in
// testdata/attestation. Its private key is public: never trust it outside
// tests and demonstrations.
func TestCA() (*CA, error) {
	return ParseCA(testRootPEM, testRootKeyPEM)
}

// ParseCA reads a CA from a PEM certificate and a PEM PKCS#8 (or SEC 1)
// private key, checking that they belong together and that the certificate
// is a CA.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("reading attestation CA: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading attestation CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("reading attestation CA: certificate is not a CA")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("reading attestation CA: no PEM private key block")
	}
	var key any
	switch kb.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		err = fmt.Errorf("unsupported PEM block %q", kb.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("reading attestation CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("reading attestation CA key: not a signing key")
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("reading attestation CA: key does not match certificate")
	}
	return &CA{Cert: cert, Key: signer}, nil
}

// Validity of device certificates: from a fixed past date so that injected
// clocks and real verifiers agree, to the end of the test root.
var (
	deviceNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	deviceNotAfter  = time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC)
)

// randomSerial returns a positive 63-bit certificate serial.
func randomSerial(r io.Reader) (*big.Int, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	n := new(big.Int).SetBytes(b[:])
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

// certObject wraps a DER certificate as a PIV certificate data object.
func certObject(der []byte) []byte {
	return append(enc(0x70, der), 0x71, 0x01, 0x00, 0xfe, 0x00)
}

// newAttestationKey generates the f9 key and has the CA issue its device
// certificate: subject "Yubico PIV Attestation", no basicConstraints, like
// a real YubiKey's.
func (c *Card) newAttestationKey() error {
	alg := algP256
	if c.cfg.RSADeviceKey {
		alg = algRSA2048
	}
	k, err := c.newKey(alg)
	if err != nil {
		return err
	}
	k.pin, k.touch, k.origin = 1, 1, originImported
	serial, err := randomSerial(c.cfg.Rand)
	if err != nil {
		return err
	}
	notBefore, notAfter := deviceNotBefore, deviceNotAfter
	if c.cfg.CA.Cert.NotBefore.After(notBefore) {
		notBefore = c.cfg.CA.Cert.NotBefore
	}
	if c.cfg.CA.Cert.NotAfter.Before(notAfter) {
		notAfter = c.cfg.CA.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore:       notBefore,
		NotAfter:        notAfter,
		ExtraExtensions: c.deviceExtensions(),
	}
	der, err := x509.CreateCertificate(c.cfg.Rand, tmpl, c.cfg.CA.Cert, publicKey(k), c.cfg.CA.Key)
	if err != nil {
		return fmt.Errorf("issuing device certificate: %w", err)
	}
	c.keys[0xf9] = k
	c.objects[objAttestation] = certObject(der)
	c.changed = true
	return nil
}

// deviceExtensions are the firmware and serial extensions of device and
// slot attestation certificates.
func (c *Card) deviceExtensions() []pkix.Extension {
	serial, _ := asn1.Marshal(int64(c.cfg.Serial))
	v := c.cfg.Version
	return []pkix.Extension{
		{Id: attest.OIDFirmware, Value: v[:]},
		{Id: attest.OIDSerial, Value: serial},
	}
}

// attestationIssuer returns the f9 certificate and key, or false when the
// card has none.
func (c *Card) attestationIssuer() (*x509.Certificate, crypto.Signer, bool) {
	k, ok := c.keys[0xf9]
	if !ok {
		return nil, nil, false
	}
	priv, ok := k.priv.(crypto.Signer)
	if !ok {
		return nil, nil, false
	}
	obj, ok := c.objects[objAttestation]
	if !ok {
		return nil, nil, false
	}
	tag, der, _, err := readTLV(obj)
	if err != nil || tag != 0x70 {
		return nil, nil, false
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, false
	}
	return cert, priv, true
}

// attest handles the Yubico ATTEST (F9 slot): it answers the DER slot
// attestation certificate signed by the f9 key. Empty slots and imported
// keys get 6A80, like a YubiKey; so do X25519 keys, which crypto/x509
// cannot put in a certificate (unlike a real YubiKey 5.7).
func (c *Card) attest(cmd command) ([]byte, uint16) {
	if cmd.p2 != 0 || !keySlotValid(cmd.p1) {
		return nil, swWrongP1P2
	}
	k, ok := c.keys[cmd.p1]
	if !ok || k.origin != originGenerated || k.alg == algX25519 {
		return nil, swWrongData
	}
	issuer, issuerKey, ok := c.attestationIssuer()
	if !ok {
		return nil, swConditions
	}
	serial, err := randomSerial(c.cfg.Rand)
	if err != nil {
		return nil, swUnknown
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", cmd.p1)},
		NotBefore:    issuer.NotBefore,
		NotAfter:     issuer.NotAfter,
		ExtraExtensions: append(c.deviceExtensions(),
			pkix.Extension{Id: attest.OIDPolicy, Value: []byte{k.pin, k.touch}},
			pkix.Extension{Id: attest.OIDFormFactor, Value: []byte{0x01}},
		),
	}
	der, err := x509.CreateCertificate(c.cfg.Rand, tmpl, issuer, publicKey(k), issuerKey)
	if err != nil {
		return nil, swUnknown
	}
	return der, swOK
}

// publicKey returns a key's crypto public key.
func publicKey(k *keySlot) crypto.PublicKey {
	return k.priv.(interface{ Public() crypto.PublicKey }).Public()
}
