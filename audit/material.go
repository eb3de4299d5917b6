package audit

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
)

// SigningMaterial parses a custodian's enrolled signing key as the vault
// roster stores it: publicKey is the DER SubjectPublicKeyInfo of the P-256
// key, slotCert and deviceCert the DER slot and device (f9) attestation
// certificates. It returns the key and the chain in the order a report's
// x5c carries it (slot certificate first, then the device certificate).
// It parses only; checking the chain is VerifyReport's job.
func SigningMaterial(publicKey, slotCert, deviceCert []byte) (*ecdsa.PublicKey, []*x509.Certificate, error) {
	pk, err := x509.ParsePKIXPublicKey(publicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing public key: %w", err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("public key is %T, not P-256", pk)
	}
	slot, err := x509.ParseCertificate(slotCert)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing slot attestation: %w", err)
	}
	device, err := x509.ParseCertificate(deviceCert)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing device attestation: %w", err)
	}
	return pub, []*x509.Certificate{slot, device}, nil
}
