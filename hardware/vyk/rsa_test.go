package vyk

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"testing"
)

// generateRSA generates an RSA key of alg in slot through GENERATE and
// returns the public key the card answered.
func (tc *testCard) generateRSAKey(t *testing.T, slot, alg, pin, touch byte) *rsa.PublicKey {
	t.Helper()
	tc.must(t, selectPIV)
	tc.authMgmt(t, tc.mgmt.alg, defaultMgmt)
	tmpl := enc(0xac, enc(0x80, []byte{alg}), enc(0xaa, []byte{pin}), enc(0xab, []byte{touch}))
	resp := tc.do(t, 0x47, 0x00, slot, tmpl)
	tag, inner, rest, err := readTLV(resp)
	if err != nil || tag != 0x7f49 || len(rest) != 0 {
		t.Fatalf("generate answer %x is not 7F49", resp)
	}
	return parseRSATemplate(t, inner)
}

// parseRSATemplate decodes 81 modulus 82 exponent.
func parseRSATemplate(t *testing.T, b []byte) *rsa.PublicKey {
	t.Helper()
	ts := mustTLVs(b)
	n, ok1 := find(ts, 0x81)
	e, ok2 := find(ts, 0x82)
	if !ok1 || !ok2 || len(ts) != 2 {
		t.Fatalf("RSA public template %x is not 81 N 82 E", b)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

// rsaOp runs GENERAL AUTHENTICATE 81 on an RSA slot (chained, long answers).
func (tc *testCard) rsaOp(t *testing.T, alg, slot byte, in []byte) []byte {
	t.Helper()
	return gaResult(t, tc.do(t, 0x87, alg, slot, enc(0x7c, []byte{0x82, 0x00}, enc(0x81, in))))
}

// pkcs1v15 builds the EMSA-PKCS1-v1_5 block for a SHA-256 digest, as
// piv-go and ykman do on the host.
func pkcs1v15(size int, digest []byte) []byte {
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	t := append(prefix, digest...)
	em := append([]byte{0x00, 0x01}, bytes.Repeat([]byte{0xff}, size-3-len(t))...)
	return append(append(em, 0x00), t...)
}

func TestRSAGenerateSignDecrypt(t *testing.T) {
	for _, tc := range []struct {
		name string
		alg  byte
		bits int
	}{
		{"RSA-1024", algRSA1024, 1024},
		{"RSA-2048", algRSA2048, 2048},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t)
			pub := c.generateRSAKey(t, 0x9a, tc.alg, 0x01, 0x01)
			if pub.N.BitLen() != tc.bits || pub.E != 65537 {
				t.Fatalf("generated %d-bit key with exponent %d", pub.N.BitLen(), pub.E)
			}
			digest := sha256.Sum256([]byte("blob"))
			sig := c.rsaOp(t, tc.alg, 0x9a, pkcs1v15(pub.Size(), digest[:]))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
				t.Errorf("PKCS#1 v1.5 signature does not verify: %v", err)
			}
			msg := []byte("a session key")
			ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
			if err != nil {
				t.Fatal(err)
			}
			plain := c.rsaOp(t, tc.alg, 0x9a, ct)
			if len(plain) != pub.Size() || !bytes.HasSuffix(plain, append([]byte{0}, msg...)) || plain[0] != 0 || plain[1] != 2 {
				t.Errorf("raw decryption %x does not end in the PKCS#1 block of %q", plain, msg)
			}
			meta := mustTLVs(c.do(t, 0xf7, 0x00, 0x9a, nil))
			if v, _ := find(meta, 0x01); !bytes.Equal(v, []byte{tc.alg}) {
				t.Errorf("metadata algorithm %x, want %02x", v, tc.alg)
			}
			v, _ := find(meta, 0x04)
			if got := parseRSATemplate(t, v); !got.Equal(pub) {
				t.Error("metadata public key differs from the generated one")
			}
			// Wrong algorithm, input not smaller than the modulus, too long.
			c.want(t, hexOf(gaAPDU(algP256, 0x9a, 0x81, digest[:])), swWrongData)
			big := bytes.Repeat([]byte{0xff}, pub.Size())
			if _, err := (&client{tx: c.Transmit}).do(0x87, tc.alg, 0x9a, enc(0x7c, []byte{0x82, 0x00}, enc(0x81, big))); err == nil {
				t.Error("raw RSA on a value above the modulus succeeded")
			}
			if _, err := (&client{tx: c.Transmit}).do(0x87, tc.alg, 0x9a, enc(0x7c, []byte{0x82, 0x00}, enc(0x81, append([]byte{0}, big...)))); err == nil {
				t.Error("raw RSA on an input longer than the modulus succeeded")
			}
		})
	}
}

func TestRSAPSSFromHostPadding(t *testing.T) {
	c := newTestCard(t)
	pub := c.generateRSAKey(t, 0x9c, algRSA2048, 0x01, 0x01)
	digest := sha256.Sum256([]byte("pss"))
	// The host computes the EMSA-PSS block; get a valid one from a software
	// PSS signature with the same (cached) key: EM = s^e mod n.
	soft, err := cachedRSAKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := rsa.SignPSS(rand.Reader, soft, crypto.SHA256, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	em := new(big.Int).Exp(new(big.Int).SetBytes(ref), big.NewInt(int64(soft.E)), soft.N).Bytes()
	if !soft.PublicKey.Equal(pub) {
		t.Fatal("the card did not use the injected key source")
	}
	sig := c.rsaOp(t, algRSA2048, 0x9c, em)
	if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, nil); err != nil {
		t.Errorf("PSS signature from host padding does not verify: %v", err)
	}
}

// importRSAAPDU builds IMPORT ASYMMETRIC KEY for k the way piv-go and
// yubico-piv-tool do: P, Q, dP, dQ, qInv, each left-padded to half the
// modulus, then policies.
func importRSAData(k *rsa.PrivateKey, half int) []byte {
	k.Precompute()
	var out []byte
	for i, v := range []*big.Int{k.Primes[0], k.Primes[1], k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv} {
		out = append(out, enc(uint32(i+1), v.FillBytes(make([]byte, half)))...)
	}
	return append(out, 0xaa, 0x01, 0x01, 0xab, 0x01, 0x01)
}

func TestRSAImport(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.authDefault(t)
	k, err := cachedRSAKey(1024)
	if err != nil {
		t.Fatal(err)
	}
	c.do(t, 0xfe, algRSA1024, 0x9d, importRSAData(k, 64))
	meta := mustTLVs(c.do(t, 0xf7, 0x00, 0x9d, nil))
	if v, _ := find(meta, 0x03); !bytes.Equal(v, []byte{originImported}) {
		t.Errorf("origin %x, want imported", v)
	}
	v, _ := find(meta, 0x04)
	if !parseRSATemplate(t, v).Equal(&k.PublicKey) {
		t.Error("imported public key differs")
	}
	digest := sha256.Sum256([]byte("imported"))
	sig := c.rsaOp(t, algRSA1024, 0x9d, pkcs1v15(k.Size(), digest[:]))
	if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("imported key's signature does not verify: %v", err)
	}
	c.want(t, "00 F9 9D 00", swWrongData)

	bad := importRSAData(k, 64)
	bad[2+64+2+5] ^= 1 // corrupt dP
	if _, err := (&client{tx: c.Transmit}).do(0xfe, algRSA1024, 0x9d, bad); err == nil {
		t.Error("import with a corrupted CRT exponent succeeded")
	}
	if _, err := (&client{tx: c.Transmit}).do(0xfe, algRSA2048, 0x9d, importRSAData(k, 64)); err == nil {
		t.Error("import of a 1024-bit key as RSA-2048 succeeded")
	}
	if _, err := (&client{tx: c.Transmit}).do(0xfe, algRSA3072, 0x9d, importRSAData(k, 64)); err == nil {
		t.Error("RSA-3072 import accepted on firmware 5.4.3")
	}
}

func TestRSAAttestationAndState(t *testing.T) {
	c := newTestCard(t)
	pub := c.generateRSAKey(t, 0x9a, algRSA2048, 0x02, 0x03)
	der := c.do(t, 0xf9, 0x9a, 0x00, nil)
	slot, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	device := c.readDeviceCert(t)
	if err := slot.CheckSignatureFrom(forceCA(device)); err != nil {
		t.Fatalf("slot certificate not signed by the f9 key: %v", err)
	}
	if p, ok := slot.PublicKey.(*rsa.PublicKey); !ok || !p.Equal(pub) {
		t.Fatalf("attested key %T differs from the generated one", slot.PublicKey)
	}
	st, err := c.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(Config{RSAKey: cachedRSAKey}, st)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tc := &testCard{Card: d}
	tc.must(t, selectPIV)
	tc.must(t, verifyAPDU("123456"))
	digest := sha256.Sum256([]byte("after reload"))
	sig := tc.rsaOp(t, algRSA2048, 0x9a, pkcs1v15(pub.Size(), digest[:]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("reloaded RSA key's signature does not verify: %v", err)
	}
}

func TestRSA3072And4096On57(t *testing.T) {
	c := newTestCard(t, 5, 7, 4)
	pub := c.generateRSAKey(t, 0x9a, algRSA3072, 0x01, 0x01)
	if pub.N.BitLen() != 3072 {
		t.Fatalf("got %d bits", pub.N.BitLen())
	}
	digest := sha256.Sum256([]byte("3072"))
	sig := c.rsaOp(t, algRSA3072, 0x9a, pkcs1v15(pub.Size(), digest[:]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("RSA-3072 signature does not verify: %v", err)
	}
	if !c.keyAlgSupported(algRSA4096) {
		t.Error("firmware 5.7.4 does not offer RSA-4096")
	}
}

// forceCA returns a copy of an f9 certificate marked as a CA, as piv-go's
// Verifier treats it (real device certificates carry no basicConstraints).
func forceCA(c *x509.Certificate) *x509.Certificate {
	cp := *c
	cp.BasicConstraintsValid, cp.IsCA = true, true
	return &cp
}
