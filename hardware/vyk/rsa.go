package vyk

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
)

// RSA algorithm identifiers on the PIV wire.
const (
	algRSA1024 byte = 0x06
	algRSA2048 byte = 0x07
	algRSA3072 byte = 0x05
	algRSA4096 byte = 0x16
)

// rsaBits maps an RSA algorithm to its modulus size.
var rsaBits = map[byte]int{algRSA1024: 1024, algRSA2048: 2048, algRSA3072: 3072, algRSA4096: 4096}

// rsaExponent is the only public exponent a YubiKey generates or imports.
const rsaExponent = 65537

// isRSA reports whether alg is an RSA algorithm.
func isRSA(alg byte) bool {
	_, ok := rsaBits[alg]
	return ok
}

// generateRSA makes an RSA key of alg's size with the card's randomness.
func (c *Card) generateRSA(alg byte) (*rsa.PrivateKey, error) {
	if c.cfg.RSAKey != nil {
		return c.cfg.RSAKey(rsaBits[alg])
	}
	return rsa.GenerateKey(c.cfg.Rand, rsaBits[alg])
}

// rsaPublicTemplate encodes an RSA public key as in tag 7F49 and in
// metadata tag 04: 81 modulus, 82 exponent.
func rsaPublicTemplate(p *rsa.PublicKey) []byte {
	return append(enc(0x81, p.N.Bytes()), enc(0x82, big.NewInt(int64(p.E)).Bytes())...)
}

// importRSA rebuilds an RSA private key from the IMPORT ASYMMETRIC KEY
// tags 01 P, 02 Q, 03 dP, 04 dQ, 05 qInv (each half the modulus size,
// left-padded), with public exponent 65537 as on a YubiKey.
func importRSA(alg byte, ts []tlv) (*rsa.PrivateKey, error) {
	half := rsaBits[alg] / 16
	var parts [5]*big.Int
	for i := range parts {
		v, ok := find(ts, uint32(i+1))
		if !ok || len(v) == 0 || len(v) > half {
			return nil, fmt.Errorf("rsa component %d missing or longer than %d bytes", i+1, half)
		}
		parts[i] = new(big.Int).SetBytes(v)
	}
	p, q := parts[0], parts[1]
	one := big.NewInt(1)
	if p.Cmp(one) <= 0 || q.Cmp(one) <= 0 || p.Cmp(q) == 0 {
		return nil, errors.New("rsa primes are invalid")
	}
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != rsaBits[alg] {
		return nil, fmt.Errorf("rsa modulus has %d bits, want %d", n.BitLen(), rsaBits[alg])
	}
	if !p.ProbablyPrime(20) || !q.ProbablyPrime(20) {
		return nil, errors.New("rsa factors are not prime")
	}
	pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	phi := new(big.Int).Mul(pm1, qm1)
	e := big.NewInt(rsaExponent)
	d := new(big.Int).ModInverse(e, phi)
	if d == nil {
		return nil, errors.New("rsa exponent 65537 is not invertible for these primes")
	}
	if new(big.Int).Mod(d, pm1).Cmp(parts[2]) != 0 || new(big.Int).Mod(d, qm1).Cmp(parts[3]) != 0 {
		return nil, errors.New("rsa CRT exponents do not match exponent 65537")
	}
	if qi := new(big.Int).ModInverse(q, p); qi == nil || qi.Cmp(parts[4]) != 0 {
		return nil, errors.New("rsa CRT coefficient does not match the primes")
	}
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: rsaExponent}, D: d, Primes: []*big.Int{p, q}}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	k.Precompute()
	return k, nil
}

// rsaRaw is the raw RSA private-key operation (in^d mod n) behind both
// signing (the host pads with PKCS#1 v1.5 or PSS) and decryption (the host
// removes the padding). The input is at most the modulus size and must be
// smaller than the modulus; the output has exactly the modulus size.
func rsaRaw(k *rsa.PrivateKey, in []byte) ([]byte, error) {
	size := k.Size()
	if len(in) == 0 || len(in) > size {
		return nil, fmt.Errorf("rsa input must be 1 to %d bytes", size)
	}
	m := new(big.Int).SetBytes(in)
	if m.Cmp(k.N) >= 0 {
		return nil, errors.New("rsa input is not smaller than the modulus")
	}
	var out *big.Int
	if pc := k.Precomputed; len(k.Primes) == 2 && pc.Dp != nil && pc.Dq != nil && pc.Qinv != nil {
		p, q := k.Primes[0], k.Primes[1]
		m1 := new(big.Int).Exp(m, pc.Dp, p)
		m2 := new(big.Int).Exp(m, pc.Dq, q)
		h := new(big.Int).Sub(m1, m2)
		h.Mul(h, pc.Qinv).Mod(h, p)
		out = h.Mul(h, q).Add(h, m2)
	} else {
		out = new(big.Int).Exp(m, k.D, k.N)
	}
	return out.FillBytes(make([]byte, size)), nil
}

// rsaFromRaw parses a saved RSA key (PKCS #1 DER) and checks its size.
func rsaFromRaw(alg byte, raw []byte) (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS1PrivateKey(raw)
	if err != nil {
		return nil, err
	}
	if k.N.BitLen() != rsaBits[alg] || k.E != rsaExponent {
		return nil, fmt.Errorf("rsa key has %d bits and exponent %d, want %d and %d", k.N.BitLen(), k.E, rsaBits[alg], rsaExponent)
	}
	k.Precompute()
	return k, nil
}
