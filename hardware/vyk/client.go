package vyk

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"breakglass/hardware"
)

// statusError is a status word the client has no better error for.
type statusError struct{ sw uint16 }

func (e *statusError) Error() string { return fmt.Sprintf("card answered status %04X", e.sw) }

// swError maps a status word to the hardware package's errors.
func swError(s uint16) error {
	switch {
	case s&0xfff0 == 0x63c0:
		return &hardware.PINError{Retries: int(s & 0x0f)}
	case s == swBlocked:
		return fmt.Errorf("%w (status 6983)", hardware.ErrPINBlocked)
	case s == swNotFound:
		return fmt.Errorf("%w (status 6A82)", hardware.ErrSlotEmpty)
	case s == swSecurity:
		return fmt.Errorf("%w (status 6982)", hardware.ErrSecurityStatus)
	}
	return &statusError{sw: s}
}

// client is a minimal PIV host speaking APDUs to a transmit function, the
// way piv-go does.
type client struct {
	tx func([]byte) []byte
}

// do sends one command, chaining data over 255 bytes, and collects a 61xx
// chained response. Any status but 9000 becomes an error.
func (cl *client) do(ins, p1, p2 byte, data []byte) ([]byte, error) {
	for len(data) > 255 {
		apdu := append([]byte{0x10, ins, p1, p2, 255}, data[:255]...)
		if s, _ := split(cl.tx(apdu)); s != swOK {
			return nil, swError(s)
		}
		data = data[255:]
	}
	apdu := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		apdu = append(append(apdu, byte(len(data))), data...)
	}
	var out []byte
	s, body := split(cl.tx(apdu))
	for {
		out = append(out, body...)
		if s>>8 != 0x61 {
			break
		}
		s, body = split(cl.tx([]byte{0x00, 0xc0, 0x00, 0x00, byte(s)}))
	}
	if s != swOK {
		return nil, swError(s)
	}
	return out, nil
}

// split separates a response into status word and data.
func split(resp []byte) (uint16, []byte) {
	if len(resp) < 2 {
		return swUnknown, nil
	}
	n := len(resp) - 2
	return uint16(resp[n])<<8 | uint16(resp[n+1]), resp[:n]
}

func (cl *client) selectPIV() error {
	_, err := cl.do(0xa4, 0x04, 0x00, aidPIV[:5])
	return err
}

// verifyPIN sends VERIFY with a padded PIN.
func (cl *client) verifyPIN(pin string) error {
	if len(pin) == 0 || len(pin) > 8 {
		return errors.New("a PIN is 1 to 8 characters: check the PIN and try again")
	}
	_, err := cl.do(0x20, 0x00, 0x80, pad([]byte(pin)))
	return err
}

// pinStep satisfies slot policy p before a key operation, as piv-go does:
// never nothing, once only when not yet verified, always every time.
func (cl *client) pinStep(p hardware.PINPolicy, pin string) error {
	switch p {
	case hardware.PINPolicyNever:
		return nil
	case hardware.PINPolicyOnce:
		if _, err := cl.do(0x20, 0x00, 0x80, nil); err == nil {
			return nil
		}
	}
	if pin == "" {
		return nil // the card answers 6982, mapped to ErrSecurityStatus
	}
	return cl.verifyPIN(pin)
}

var algNames = map[byte]string{algP256: "P-256", algP384: "P-384", algEd25519: "Ed25519", algX25519: "X25519"}

// parsePublic decodes tag 86 content for alg.
func parsePublic(alg byte, b []byte) (crypto.PublicKey, error) {
	switch alg {
	case algP256, algP384:
		return ecdsa.ParseUncompressedPublicKey(curveOf(alg), b)
	case algEd25519:
		if len(b) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 public key length")
		}
		return ed25519.PublicKey(bytes.Clone(b)), nil
	case algX25519:
		return ecdh.X25519().NewPublicKey(b)
	}
	return nil, fmt.Errorf("unsupported algorithm %#x", alg)
}

// keyInfo reads F7 metadata of slot.
func (cl *client) keyInfo(slot hardware.Slot) (hardware.KeyInfo, byte, error) {
	resp, err := cl.do(0xf7, 0x00, byte(slot), nil)
	if err != nil {
		return hardware.KeyInfo{}, 0, err
	}
	ts, err := parseTLVs(resp)
	if err != nil {
		return hardware.KeyInfo{}, 0, fmt.Errorf("parsing metadata: %w", err)
	}
	alg, ok1 := find(ts, 0x01)
	pol, ok2 := find(ts, 0x02)
	origin, ok3 := find(ts, 0x03)
	pubT, ok4 := find(ts, 0x04)
	if !ok1 || !ok2 || !ok3 || !ok4 || len(alg) != 1 || len(pol) != 2 || len(origin) != 1 {
		return hardware.KeyInfo{}, 0, errors.New("parsing metadata: missing or malformed fields")
	}
	tag, point, _, err := readTLV(pubT)
	if err != nil || tag != 0x86 {
		return hardware.KeyInfo{}, 0, errors.New("parsing metadata: malformed public key")
	}
	pub, err := parsePublic(alg[0], point)
	if err != nil {
		return hardware.KeyInfo{}, 0, fmt.Errorf("parsing metadata public key: %w", err)
	}
	return hardware.KeyInfo{
		Slot:      slot,
		Algorithm: algNames[alg[0]],
		PIN:       hardware.PINPolicy(pol[0]),
		Touch:     hardware.TouchPolicy(pol[1]),
		Generated: origin[0] == originGenerated,
		Public:    pub,
	}, alg[0], nil
}

// certificate reads the certificate in a data object.
func (cl *client) certificate(obj uint32) (*x509.Certificate, error) {
	resp, err := cl.do(0xcb, 0x3f, 0xff, enc(0x5c, tagBytes(obj)))
	if err != nil {
		return nil, err
	}
	tag, content, _, err := readTLV(resp)
	if err != nil || tag != 0x53 {
		return nil, errors.New("malformed data object")
	}
	tag, der, _, err := readTLV(content)
	if err != nil || tag != 0x70 {
		return nil, errors.New("data object holds no certificate")
	}
	return x509.ParseCertificate(der)
}

// authenticate proves the management key to the card (mutual witness and
// challenge), fetching a PIN-protected key first when only a PIN is given.
func (cl *client) authenticate(m hardware.ManagementKey) error {
	key := m.Key
	if key == nil && m.PIN != "" {
		k, err := cl.protectedKey(m.PIN)
		if err != nil {
			return err
		}
		key = k
	}
	if key == nil {
		return fmt.Errorf("no management key given: %w", hardware.ErrSecurityStatus)
	}
	meta, err := cl.do(0xf7, 0x00, 0x9b, nil)
	if err != nil {
		return fmt.Errorf("reading management key metadata: %w", err)
	}
	ts, err := parseTLVs(meta)
	alg, ok := find(ts, 0x01)
	if err != nil || !ok || len(alg) != 1 {
		return errors.New("reading management key metadata: malformed answer")
	}
	if n, ok := mgmtKeyLen[alg[0]]; !ok || n != len(key) {
		return fmt.Errorf("management key is %d bytes, the card's algorithm needs %d", len(key), mgmtKeyLen[alg[0]])
	}
	block, err := mgmtCipher(alg[0], key)
	if err != nil {
		return err
	}
	bs := block.BlockSize()
	resp, err := cl.do(0x87, alg[0], 0x9b, enc(0x7c, enc(0x80, nil)))
	if err != nil {
		return fmt.Errorf("requesting a management key witness: %w", err)
	}
	_, inner, _, err := readTLV(resp)
	witness, ok := find(mustTLVs(inner), 0x80)
	if err != nil || !ok || len(witness) != bs {
		return errors.New("requesting a management key witness: malformed answer")
	}
	plain := make([]byte, bs)
	block.Decrypt(plain, witness)
	challenge := make([]byte, bs)
	if _, err := io.ReadFull(rand.Reader, challenge); err != nil {
		return err
	}
	resp, err = cl.do(0x87, alg[0], 0x9b, enc(0x7c, enc(0x80, plain), enc(0x81, challenge)))
	if err != nil {
		return fmt.Errorf("authenticating with the management key: %w", err)
	}
	_, inner, _, err = readTLV(resp)
	got, ok := find(mustTLVs(inner), 0x82)
	want := make([]byte, bs)
	block.Encrypt(want, challenge)
	if err != nil || !ok || subtle.ConstantTimeCompare(got, want) != 1 {
		return errors.New("the card failed to prove it holds the management key")
	}
	return nil
}

// protectedKey reads the PIN-protected management key ykman stores in the
// PRINTED object (53 { 88 { 89 key } }).
func (cl *client) protectedKey(pin string) ([]byte, error) {
	if err := cl.verifyPIN(pin); err != nil {
		return nil, err
	}
	resp, err := cl.do(0xcb, 0x3f, 0xff, enc(0x5c, tagBytes(objPrinted)))
	if errors.Is(err, hardware.ErrSlotEmpty) {
		return nil, fmt.Errorf("the key has no PIN-protected management key: %w", hardware.ErrSecurityStatus)
	}
	if err != nil {
		return nil, err
	}
	_, content, _, err := readTLV(resp)
	if err != nil {
		return nil, errors.New("malformed PIN-protected data")
	}
	_, md, _, err := readTLV(content)
	key, ok := find(mustTLVs(md), 0x89)
	if err != nil || !ok {
		return nil, fmt.Errorf("the key has no PIN-protected management key: %w", hardware.ErrSecurityStatus)
	}
	return key, nil
}

// mustTLVs parses TLVs, returning none on error.
func mustTLVs(b []byte) []tlv {
	ts, _ := parseTLVs(b)
	return ts
}
