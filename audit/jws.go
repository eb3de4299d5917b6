package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// maxSignatures bounds the signatures accepted in one report.
const maxSignatures = 32

// parsedSig is one signature of a strictly parsed JWS.
type parsedSig struct {
	raw   jwsSignature
	kid   string
	x5c   []string
	chain []*x509.Certificate
	err   error // why this signature could not be parsed
}

// parseJWS strictly parses a JWS JSON General Serialization as SignReport
// writes it: canonical JSON, canonical base64, no unprotected headers, the
// protected header exactly {alg: ES256, kid, x5c}. A problem with one
// signature is recorded on it; only a problem with the whole document is
// returned as an error.
func parseJWS(b []byte) ([]byte, []parsedSig, error) {
	var g jwsGeneral
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, nil, fmt.Errorf("not a JWS JSON General Serialization: %w", err)
	}
	canon, err := json.Marshal(g)
	if err != nil || !bytes.Equal(canon, bytes.TrimSuffix(b, []byte("\n"))) {
		return nil, nil, errors.New("JWS document is not in canonical encoding (extra fields, spacing or escapes)")
	}
	payload, err := strictB64(base64.RawURLEncoding, g.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("payload: %w", err)
	}
	switch {
	case len(g.Signatures) == 0:
		return nil, nil, errors.New("JWS has no signatures")
	case len(g.Signatures) > maxSignatures:
		return nil, nil, fmt.Errorf("JWS has %d signatures, at most %d are accepted", len(g.Signatures), maxSignatures)
	}
	sigs := make([]parsedSig, len(g.Signatures))
	for i, s := range g.Signatures {
		sigs[i] = parseSig(s)
	}
	return payload, sigs, nil
}

func parseSig(s jwsSignature) parsedSig {
	p := parsedSig{raw: s}
	hb, err := strictB64(base64.RawURLEncoding, s.Protected)
	if err != nil {
		p.err = fmt.Errorf("protected header: %w", err)
		return p
	}
	var h protectedHeader
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		p.err = fmt.Errorf("protected header: %w", err)
		return p
	}
	if canon, err := json.Marshal(h); err != nil || !bytes.Equal(canon, hb) {
		p.err = errors.New("protected header is not in canonical encoding")
		return p
	}
	p.kid, p.x5c = h.Kid, h.X5c
	switch {
	case h.Alg != string(jose.ES256):
		p.err = fmt.Errorf("alg is %q, want ES256", h.Alg)
		return p
	case h.Kid == "":
		p.err = errors.New("kid is empty")
		return p
	case len(h.X5c) < 2:
		p.err = fmt.Errorf("x5c has %d certificates, want the slot and device certificates", len(h.X5c))
		return p
	}
	for k, c := range h.X5c {
		der, err := strictB64(base64.StdEncoding, c)
		if err != nil {
			p.err = fmt.Errorf("x5c[%d]: %w", k, err)
			return p
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			p.err = fmt.Errorf("x5c[%d]: certificate does not parse: %w", k, err)
			return p
		}
		p.chain = append(p.chain, cert)
	}
	if pub, ok := p.chain[0].PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		p.err = errors.New("x5c[0] does not hold a P-256 key")
		return p
	}
	sig, err := strictB64(base64.RawURLEncoding, s.Signature)
	if err != nil {
		p.err = fmt.Errorf("signature value: %w", err)
		return p
	}
	if len(sig) != 64 {
		p.err = fmt.Errorf("signature value is %d bytes, ES256 needs 64", len(sig))
	}
	return p
}

// strictB64 decodes s and refuses any encoding but the canonical one (so a
// changed padding bit cannot pass as the same value).
func strictB64(enc *base64.Encoding, s string) ([]byte, error) {
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", err)
	}
	if enc.EncodeToString(b) != s {
		return nil, errors.New("non-canonical base64")
	}
	return b, nil
}

// verifySigJOSE checks one signature with go-jose, as an auditor's JOSE
// library would: the signature as a flattened JWS, verified detached over
// payload with the key of its x5c[0]. (Detached so that go-jose does not
// decode a large payload once per signature.)
func verifySigJOSE(payload []byte, p parsedSig) error {
	flat, err := json.Marshal(struct {
		Payload   string `json:"payload"`
		Protected string `json:"protected"`
		Signature string `json:"signature"`
	}{"", p.raw.Protected, p.raw.Signature})
	if err != nil {
		return err
	}
	obj, err := jose.ParseSignedJSON(string(flat), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return fmt.Errorf("JOSE parse: %w", err)
	}
	if err := obj.DetachedVerify(payload, p.chain[0].PublicKey); err != nil {
		return errors.New("ES256 signature does not verify over this payload with the key in x5c[0]")
	}
	return nil
}
