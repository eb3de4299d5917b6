package vyk

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// benchCard returns a card with PIV selected and a P-256 key (PIN and touch
// never) in 9a.
func benchCard(b *testing.B) *testCard {
	b.Helper()
	c := newTestCard(b)
	c.must(b, selectPIV)
	c.authDefault(b)
	c.must(b, "00 47 00 9A 0B AC 09 80 01 11 AA 01 01 AB 01 01")
	return c
}

func BenchmarkSignP256(b *testing.B) {
	c := benchCard(b)
	digest := sha256.Sum256([]byte("bench"))
	apdu := gaAPDU(algP256, 0x9a, 0x81, digest[:])
	for b.Loop() {
		if resp := c.Transmit(apdu); resp[len(resp)-2] != 0x90 {
			b.Fatalf("sign: %x", resp)
		}
	}
}

func BenchmarkECDHP256(b *testing.B) {
	c := benchCard(b)
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	apdu := gaAPDU(algP256, 0x9a, 0x85, eph.PublicKey().Bytes())
	for b.Loop() {
		if resp := c.Transmit(apdu); resp[len(resp)-2] != 0x90 {
			b.Fatalf("ecdh: %x", resp)
		}
	}
}
