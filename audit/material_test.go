package audit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func TestSigningMaterial(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(cn string) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	slot, device := cert("slot"), cert("device")
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edSPKI, err := x509.MarshalPKIXPublicKey(edPub)
	if err != nil {
		t.Fatal(err)
	}

	pub, chain, err := SigningMaterial(spki, slot, device)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) || len(chain) != 2 || chain[0].Subject.CommonName != "slot" || chain[1].Subject.CommonName != "device" {
		t.Errorf("SigningMaterial = %v, chain %v: want the key, then slot and device certificates", pub, chain)
	}
	for _, tt := range []struct {
		name              string
		key, slot, device []byte
	}{
		{"garbage key", []byte("x"), slot, device},
		{"not an ECDSA key", edSPKI, slot, device},
		{"garbage slot certificate", spki, []byte("x"), device},
		{"garbage device certificate", spki, slot, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := SigningMaterial(tt.key, tt.slot, tt.device); err == nil {
				t.Error("accepted")
			}
		})
	}
}
