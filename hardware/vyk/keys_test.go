package vyk

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"testing"
	"time"
)

// generateKey generates alg in slot with policies and returns tag 86 content.
func (tc *testCard) generateKey(t *testing.T, slot, alg, pin, touch byte) []byte {
	t.Helper()
	tc.must(t, selectPIV)
	tc.authMgmt(t, tc.mgmt.alg, defaultMgmt)
	tmpl := enc(0xac, enc(0x80, []byte{alg}), enc(0xaa, []byte{pin}), enc(0xab, []byte{touch}))
	resp, s := tc.send(t, cmdAPDU(0x47, 0x00, slot, tmpl))
	if s != swOK {
		t.Fatalf("generate: status %04X", s)
	}
	tag, inner, rest, err := readTLV(resp)
	if err != nil || tag != 0x7f49 || len(rest) != 0 {
		t.Fatalf("generate answer %x is not 7F49", resp)
	}
	point, ok := find(mustTLVs(inner), 0x86)
	if !ok {
		t.Fatalf("generate answer %x has no 86", resp)
	}
	return point
}

// gaAPDU builds GENERAL AUTHENTICATE with 82 00 and one input tag.
func gaAPDU(alg, slot byte, tag uint32, in []byte) []byte {
	return cmdAPDU(0x87, alg, slot, enc(0x7c, []byte{0x82, 0x00}, enc(tag, in)))
}

// gaResult unwraps 7C { 82 out }.
func gaResult(t *testing.T, resp []byte) []byte {
	t.Helper()
	_, inner, _, err := readTLV(resp)
	if err != nil {
		t.Fatalf("answer %x: %v", resp, err)
	}
	out, ok := find(mustTLVs(inner), 0x82)
	if !ok {
		t.Fatalf("answer %x has no 82", resp)
	}
	return out
}

func TestSignAndECDHMatchSoftware(t *testing.T) {
	tests := []struct {
		name  string
		alg   byte
		curve elliptic.Curve
		ecdh  ecdh.Curve
	}{
		{"P-256", algP256, elliptic.P256(), ecdh.P256()},
		{"P-384", algP384, elliptic.P384(), ecdh.P384()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t)
			point := c.generateKey(t, 0x9a, tc.alg, 0x01, 0x01)
			pub, err := ecdsa.ParseUncompressedPublicKey(tc.curve, point)
			if err != nil {
				t.Fatalf("generated point: %v", err)
			}
			digest := sha512.Sum384([]byte("report"))
			size := (tc.curve.Params().BitSize + 7) / 8
			sig := gaResult(t, c.must(t, hexOf(gaAPDU(tc.alg, 0x9a, 0x81, digest[:size]))))
			if !ecdsa.VerifyASN1(pub, digest[:size], sig) {
				t.Errorf("signature does not verify")
			}
			eph, _ := tc.ecdh.GenerateKey(rand.Reader)
			shared := gaResult(t, c.must(t, hexOf(gaAPDU(tc.alg, 0x9a, 0x85, eph.PublicKey().Bytes()))))
			slotPub, _ := pub.ECDH()
			want, _ := eph.ECDH(slotPub)
			if !bytes.Equal(shared, want) || len(shared) != size {
				t.Errorf("card ECDH %x, software %x", shared, want)
			}
			c.want(t, hexOf(gaAPDU(tc.alg, 0x9a, 0x85, []byte{0x04, 1, 2, 3})), swWrongData)
			c.want(t, hexOf(gaAPDU(tc.alg, 0x9a, 0x81, make([]byte, size+1))), swWrongData)
			c.want(t, hexOf(gaAPDU(0x14^0x11^tc.alg, 0x9a, 0x81, digest[:32])), swWrongData)
		})
	}
}

func TestImportAndAttestRefusal(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.want(t, "00 FE 11 9D 22 06 20"+hexOf(bytes.Repeat([]byte{1}, 32)), swSecurity)
	c.authDefault(t)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := priv.Bytes()
	c.must(t, hexOf(cmdAPDU(0xfe, algP256, 0x9d, append(enc(0x06, raw), 0xaa, 0x01, 0x01, 0xab, 0x01, 0x01))))
	meta := c.must(t, "00 F7 00 9D")
	ts := mustTLVs(meta)
	if v, _ := find(ts, 0x03); !bytes.Equal(v, []byte{originImported}) {
		t.Errorf("origin %x, want imported", v)
	}
	digest := sha256.Sum256([]byte("x"))
	sig := gaResult(t, c.must(t, hexOf(gaAPDU(algP256, 0x9d, 0x81, digest[:]))))
	if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig) {
		t.Errorf("imported key signature does not verify")
	}
	c.want(t, "00 F9 9D 00", swWrongData) // imported keys cannot be attested
	c.want(t, hexOf(cmdAPDU(0xfe, algP256, 0x9d, enc(0x06, make([]byte, 32)))), swWrongData)
	c.want(t, hexOf(cmdAPDU(0xfe, algP256, 0x9d, enc(0x06, raw[:31]))), swWrongData)
	c.want(t, hexOf(cmdAPDU(0xfe, algP256, 0xf9, enc(0x06, raw))), swWrongP1P2)
}

func TestPINPolicies(t *testing.T) {
	digest := sha256.Sum256([]byte("x"))
	tests := []struct {
		name   string
		policy byte
		steps  []string // "verify", "sign ok", "sign 6982", "select"
	}{
		{"never", 0x01, []string{"sign ok", "sign ok"}},
		{"once", 0x02, []string{"sign 6982", "verify", "sign ok", "sign ok", "select", "sign 6982"}},
		{"always", 0x03, []string{"sign 6982", "verify", "sign ok", "sign 6982", "verify", "sign ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t)
			c.generateKey(t, 0x9c, algP256, tc.policy, 0x01)
			c.must(t, selectPIV)
			for i, st := range tc.steps {
				var s uint16
				switch st {
				case "verify":
					_, s = c.send(t, unhex(t, verifyAPDU("123456")))
				case "select":
					_, s = c.send(t, unhex(t, selectPIV))
				default:
					_, s = c.send(t, gaAPDU(algP256, 0x9c, 0x81, digest[:]))
				}
				want := swOK
				if st == "sign 6982" {
					want = swSecurity
				}
				if s != want {
					t.Fatalf("step %d %q: status %04X, want %04X", i, st, s, want)
				}
			}
		})
	}
}

func TestTouchPolicies(t *testing.T) {
	digest := sha256.Sum256([]byte("x"))
	tests := []struct {
		name    string
		policy  byte
		advance []time.Duration // clock advance before each sign
		touches int
	}{
		{"never", 0x01, []time.Duration{0, 0}, 0},
		{"always", 0x02, []time.Duration{0, 0, time.Second}, 3},
		{"cached", 0x03, []time.Duration{0, 5 * time.Second, 9 * time.Second, 15 * time.Second, time.Second}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t)
			c.generateKey(t, 0x9e, algP256, 0x01, tc.policy)
			for _, d := range tc.advance {
				c.clock.Advance(d)
				c.must(t, hexOf(gaAPDU(algP256, 0x9e, 0x81, digest[:])))
			}
			if len(c.touches) != tc.touches {
				t.Fatalf("%d touches, want %d", len(c.touches), tc.touches)
			}
			for _, d := range c.touches {
				if d != 2*time.Second {
					t.Errorf("touch waited %v, want the configured 2s", d)
				}
			}
			meta := mustTLVs(c.must(t, "00 F7 00 9E"))
			if v, _ := find(meta, 0x02); !bytes.Equal(v, []byte{0x01, tc.policy}) {
				t.Errorf("policy metadata %x, want 01%02x", v, tc.policy)
			}
		})
	}
}

func TestDefaultPolicies(t *testing.T) {
	tests := []struct {
		slot byte
		want []byte
	}{{0x9a, []byte{2, 1}}, {0x9c, []byte{3, 1}}, {0x9d, []byte{2, 1}}, {0x9e, []byte{1, 1}}, {0x82, []byte{2, 1}}}
	for _, tc := range tests {
		c := newTestCard(t)
		c.must(t, selectPIV)
		c.authDefault(t)
		c.must(t, hexOf(cmdAPDU(0x47, 0, tc.slot, unhex(t, "AC 03 80 01 11"))))
		meta := mustTLVs(c.must(t, hexOf(cmdAPDU(0xf7, 0, tc.slot, nil))))
		if v, _ := find(meta, 0x02); !bytes.Equal(v, tc.want) {
			t.Errorf("slot %02x default policies %x, want %x", tc.slot, v, tc.want)
		}
	}
}

func TestEd25519AndX25519On57(t *testing.T) {
	c := newTestCard(t, 5, 7, 1)
	edPub := c.generateKey(t, 0x9c, algEd25519, 0x01, 0x01)
	msg := []byte("a whole message, not a digest")
	sig := gaResult(t, c.must(t, hexOf(gaAPDU(algEd25519, 0x9c, 0x81, msg))))
	if !ed25519.Verify(ed25519.PublicKey(edPub), msg, sig) {
		t.Errorf("Ed25519 signature does not verify")
	}
	xPub := c.generateKey(t, 0x9d, algX25519, 0x01, 0x01)
	eph, _ := ecdh.X25519().GenerateKey(rand.Reader)
	shared := gaResult(t, c.must(t, hexOf(gaAPDU(algX25519, 0x9d, 0x85, eph.PublicKey().Bytes()))))
	peer, _ := ecdh.X25519().NewPublicKey(xPub)
	want, _ := eph.ECDH(peer)
	if !bytes.Equal(shared, want) {
		t.Errorf("X25519 shared %x, want %x", shared, want)
	}
	c.want(t, hexOf(gaAPDU(algX25519, 0x9d, 0x81, msg)), swWrongData)

	// Go's x509 cannot encode X25519 subject keys, so the emulator refuses
	// to attest them (a limitation; a YubiKey 5.7 can).
	c.want(t, "00 F9 9D 00", swWrongData)
	for _, slot := range []byte{0x9c} {
		cert, err := x509.ParseCertificate(c.do(t, 0xf9, slot, 0x00, nil))
		if err != nil {
			t.Fatalf("attestation of slot %02x: %v", slot, err)
		}
		if err := c.readDeviceCert(t).CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			t.Errorf("attestation of slot %02x not signed by f9: %v", slot, err)
		}
	}
	if cert, _ := x509.ParseCertificate(c.do(t, 0xf9, 0x9c, 0x00, nil)); !bytes.Equal(cert.PublicKey.(ed25519.PublicKey), edPub) {
		t.Errorf("Ed25519 attestation holds another key")
	}
}
