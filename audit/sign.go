package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	jose "github.com/go-jose/go-jose/v4"
)

// ReportSigner is one custodian's signing key, held on a YubiKey.
type ReportSigner struct {
	KeyID  string           // the custodian's roster id; becomes "kid"
	Public *ecdsa.PublicKey // the P-256 key in the signing slot
	// Chain is the key's attestation: slot certificate (whose key is Public),
	// device (f9) certificate, then any intermediates; becomes "x5c".
	Chain []*x509.Certificate
	// Sign signs a SHA-256 digest and returns an ASN.1 DER ECDSA signature,
	// as hardware.Token.Sign does. It may block until the key is touched.
	Sign func(digest []byte) ([]byte, error)
}

// jwsGeneral is the JWS JSON General Serialization we write and accept.
type jwsGeneral struct {
	Payload    string         `json:"payload"`
	Signatures []jwsSignature `json:"signatures"`
}

type jwsSignature struct {
	Protected string `json:"protected"`
	Signature string `json:"signature"`
}

// protectedHeader is the only protected header we write and accept; its
// field order is the sorted order go-jose uses.
type protectedHeader struct {
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	X5c []string `json:"x5c"`
}

// SignReport signs payload once per signer, in order, and returns a JWS
// JSON General Serialization: one ES256 signature per custodian with a
// protected header {alg, kid, x5c}. Each signature is checked against the
// signer's public key before it is accepted, so a wrong key or a card that
// returned garbage is caught here rather than by the auditor. Two signers
// with the same KeyID or key are refused.
func SignReport(payload []byte, signers []ReportSigner) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("signing report: no signers")
	}
	out := jwsGeneral{Payload: base64.RawURLEncoding.EncodeToString(payload)}
	for i, s := range signers {
		if err := checkSigner(s, signers[:i]); err != nil {
			return nil, fmt.Errorf("signing report as %q: %w", s.KeyID, err)
		}
		x5c := make([]string, len(s.Chain))
		for k, c := range s.Chain {
			x5c[k] = base64.StdEncoding.EncodeToString(c.Raw)
		}
		opts := (&jose.SignerOptions{}).WithHeader("x5c", x5c)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: &opaqueSigner{s}}, opts)
		if err != nil {
			return nil, fmt.Errorf("signing report as %q: %w", s.KeyID, err)
		}
		obj, err := signer.Sign(payload)
		if err != nil {
			return nil, fmt.Errorf("signing report as %q: %w", s.KeyID, err)
		}
		// A single-signature object serialises flattened; take its parts.
		var flat struct {
			Protected string `json:"protected"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal([]byte(obj.FullSerialize()), &flat); err != nil || flat.Signature == "" {
			return nil, fmt.Errorf("signing report as %q: serialising signature: %v", s.KeyID, err)
		}
		out.Signatures = append(out.Signatures, jwsSignature(flat))
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("signing report: %w", err)
	}
	return b, nil
}

func checkSigner(s ReportSigner, before []ReportSigner) error {
	switch {
	case s.KeyID == "":
		return errors.New("empty key id")
	case s.Public == nil || s.Public.Curve != elliptic.P256():
		return errors.New("public key is not P-256")
	case s.Sign == nil:
		return errors.New("no signing function")
	case len(s.Chain) < 2:
		return errors.New("attestation chain needs the slot and device certificates")
	}
	if pub, ok := s.Chain[0].PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(s.Public) {
		return errors.New("the slot certificate is not for this signing key")
	}
	for _, o := range before {
		if o.KeyID == s.KeyID || o.Public.Equal(s.Public) {
			return fmt.Errorf("custodian already signed (as %q): one custodian signs once", o.KeyID)
		}
	}
	return nil
}

// opaqueSigner adapts a ReportSigner to go-jose's OpaqueSigner.
type opaqueSigner struct{ s ReportSigner }

var _ jose.OpaqueSigner = (*opaqueSigner)(nil)

func (o *opaqueSigner) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.s.Public, KeyID: o.s.KeyID, Algorithm: string(jose.ES256), Use: "sig"}
}

func (o *opaqueSigner) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{jose.ES256} }

func (o *opaqueSigner) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.ES256 {
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	digest := sha256.Sum256(payload)
	der, err := o.s.Sign(digest[:])
	if err != nil {
		return nil, err
	}
	if !ecdsa.VerifyASN1(o.s.Public, digest[:], der) {
		return nil, errors.New("the key returned a signature that does not verify with its public key (wrong key inserted?)")
	}
	return DERToJOSE(der)
}

// DERToJOSE converts an ASN.1 DER ECDSA P-256 signature to the 64-byte
// r||s form JWS ES256 uses.
func DERToJOSE(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("malformed DER ECDSA signature")
	}
	n := elliptic.P256().Params().N
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.Cmp(n) >= 0 || sig.S.Cmp(n) >= 0 {
		return nil, errors.New("ECDSA signature values out of range")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}
