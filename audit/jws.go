package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

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

// jwsDoc is a strictly parsed JWS document: the decoded payload and the
// payload's base64url text exactly as it appears in the document (a slice
// of it), which the signatures are computed over.
type jwsDoc struct {
	payload    []byte
	payloadB64 []byte
}

// parseJWS strictly parses a JWS JSON General Serialization as SignReport
// writes it: canonical JSON, canonical base64, no unprotected headers, the
// protected header exactly {alg: ES256, kid, x5c}. A problem with one
// signature is recorded on it; only a problem with the whole document is
// returned as an error. It returns the decoded payload; see parseJWSDoc.
func parseJWS(b []byte) ([]byte, []parsedSig, error) {
	doc, sigs, err := parseJWSDoc(b)
	return doc.payload, sigs, err
}

// parseJWSDoc is parseJWS returning the payload's text as well, which the
// signatures are verified over.
//
// The accepted documents are exactly those whose strict decoding
// re-encodes (json.Marshal) to the same bytes and whose payload is
// canonical base64url. parseJWSFast decides that without decoding and
// re-encoding the (large) payload string; when it cannot, parseJWSFull
// does the whole-document check and gives the reason.
func parseJWSDoc(b []byte) (jwsDoc, []parsedSig, error) {
	doc, g, ok := parseJWSFast(b)
	if !ok {
		var err error
		if doc, g, err = parseJWSFull(b); err != nil {
			return jwsDoc{}, nil, err
		}
	}
	switch {
	case len(g.Signatures) == 0:
		return jwsDoc{}, nil, errors.New("JWS has no signatures")
	case len(g.Signatures) > maxSignatures:
		return jwsDoc{}, nil, fmt.Errorf("JWS has %d signatures, at most %d are accepted", len(g.Signatures), maxSignatures)
	}
	sigs := make([]parsedSig, len(g.Signatures))
	for i, s := range g.Signatures {
		sigs[i] = parseSig(s)
	}
	return doc, sigs, nil
}

// parseJWSFull is the whole-document check: strict decoding, then the
// re-encoding must equal the document (a trailing newline allowed), then
// the payload must be canonical base64url.
func parseJWSFull(b []byte) (jwsDoc, jwsGeneral, error) {
	var g jwsGeneral
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return jwsDoc{}, g, fmt.Errorf("not a JWS JSON General Serialization: %w", err)
	}
	canon, err := json.Marshal(g)
	if err != nil || !bytes.Equal(canon, bytes.TrimSuffix(b, []byte("\n"))) {
		return jwsDoc{}, g, errors.New("JWS document is not in canonical encoding (extra fields, spacing or escapes)")
	}
	payload, err := strictB64(base64.RawURLEncoding, g.Payload)
	if err != nil {
		return jwsDoc{}, g, fmt.Errorf("payload: %w", err)
	}
	return jwsDoc{payload: payload, payloadB64: []byte(g.Payload)}, g, nil
}

// jwsPayloadPrefix is how the canonical encoding of a jwsGeneral starts.
const jwsPayloadPrefix = `{"payload":"`

// parseJWSFast accepts exactly the documents parseJWSFull accepts, or
// reports !ok (and parseJWSFull decides). The canonical document is
// {"payload":"P"…} where P is base64url text, which JSON encodes as
// itself. So: P is taken as the text after the prefix up to the next
// quote, and must be base64url characters only; the rest of the document, with the
// payload string emptied, must pass the whole-document check (strict
// decoding re-encoding to the same bytes, which refuses a second payload
// member, unknown fields, spacing and escapes); and P must decode as
// strict base64url. P holds no padding and no line breaks (the only
// characters the decoder skips), so a strict decoding is canonical: the
// re-encoding of the payload is P itself, and the re-encoding of the whole
// document is the document.
func parseJWSFast(b []byte) (jwsDoc, jwsGeneral, bool) {
	var g jwsGeneral
	b = bytes.TrimSuffix(b, []byte("\n"))
	if !bytes.HasPrefix(b, []byte(jwsPayloadPrefix)) {
		return jwsDoc{}, g, false
	}
	p := b[len(jwsPayloadPrefix):]
	n := bytes.IndexByte(p, '"')
	if n < 0 || bytes.IndexByte(p[:n], '\n') >= 0 || bytes.IndexByte(p[:n], '\r') >= 0 {
		return jwsDoc{}, g, false
	}
	rest := make([]byte, 0, len(jwsPayloadPrefix)+len(p)-n)
	rest = append(append(rest, jwsPayloadPrefix...), p[n:]...)
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil || g.Payload != "" {
		return jwsDoc{}, g, false
	}
	if canon, err := json.Marshal(g); err != nil || !bytes.Equal(canon, rest) {
		return jwsDoc{}, g, false
	}
	// The strict decoder refuses any byte outside the base64url alphabet
	// (padding, a backslash and a quote included) but the line breaks
	// refused above, and non-zero padding bits.
	payload := make([]byte, base64.RawURLEncoding.DecodedLen(n))
	m, err := base64.RawURLEncoding.Strict().Decode(payload, p[:n])
	if err != nil {
		return jwsDoc{}, g, false
	}
	return jwsDoc{payload: payload[:m], payloadB64: p[:n:n]}, g, true
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

// verifyES256 checks one signature as go-jose's ES256 verifier does, and
// as RFC 7515 and RFC 7518 define it: go-jose must parse the signature (as
// a flattened JWS with an empty, detached payload: its protected header
// and value), and ECDSA P-256 with SHA-256 over the signing input
// ASCII(protected) || '.' || BASE64URL(payload) must verify the 64-byte
// R || S value with the key of x5c[0]. payloadB64 is the payload's text as
// the document carries it, which parseJWSDoc checked is the payload's
// canonical base64url encoding: exactly what go-jose's DetachedVerify
// would encode again, once per signature, for a large payload.
// TestStandardJOSE verifies every fixture with go-jose alone.
func verifyES256(payloadB64 []byte, p parsedSig) error {
	flat, err := json.Marshal(struct {
		Payload   string `json:"payload"`
		Protected string `json:"protected"`
		Signature string `json:"signature"`
	}{"", p.raw.Protected, p.raw.Signature})
	if err != nil {
		return err
	}
	if _, err := jose.ParseSignedJSON(string(flat), []jose.SignatureAlgorithm{jose.ES256}); err != nil {
		return fmt.Errorf("JOSE parse: %w", err)
	}
	sig, err := strictB64(base64.RawURLEncoding, p.raw.Signature)
	if err != nil {
		return fmt.Errorf("signature value: %w", err)
	}
	pub, ok := p.chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() || len(sig) != 64 {
		return errors.New("not an ES256 signature by a P-256 key")
	}
	h := sha256.New()
	h.Write([]byte(p.raw.Protected))
	h.Write([]byte{'.'})
	h.Write(payloadB64)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, h.Sum(nil), r, s) {
		return errors.New("ES256 signature does not verify over this payload with the key in x5c[0]")
	}
	return nil
}
