package vyk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
)

func TestTestHierarchiesMatchTestdata(t *testing.T) {
	files := map[string][]byte{
		"yubico-2018-style-root.pem":         root2018PEM,
		"yubico-2018-style-root.key.pem":     root2018KeyPEM,
		"yubico-2024-style-root.pem":         root2024PEM,
		"yubico-2024-style-intermediate.pem": intermediate2024PEM,
		"yubico-2024-style-piv-ca.pem":       pivCA2024PEM,
		"yubico-2024-style-piv-ca.key.pem":   pivCA2024KeyPEM,
	}
	for name, embedded := range files {
		disk, err := os.ReadFile("../../testdata/attestation/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(disk, embedded) {
			t.Errorf("testdata/attestation/%s differs from the copy in hardware/vyk/testroot", name)
		}
	}
	if _, _, _, err := TestHierarchy("yubico"); err == nil {
		t.Error("TestHierarchy accepted an unknown name")
	}
	if _, err := ProfileConfig("5.2.7", ""); err == nil {
		t.Error("ProfileConfig accepted an unknown firmware")
	}
}

// pemCerts parses every certificate in b.
func pemCerts(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func TestProfiles(t *testing.T) {
	tests := []struct {
		firmware, root string
		version        [3]byte
		mgmtAlg        byte
		chainLen       int // slot, device, CAs…, root
		has57Algs      bool
	}{
		{"5.4.3", "", [3]byte{5, 4, 3}, alg3DES, 3, false},
		{"5.4.3", Root2018, [3]byte{5, 4, 3}, alg3DES, 3, false},
		{"5.7.4", "", [3]byte{5, 7, 4}, algAES192, 5, true},
		{"5.7.4", Root2018, [3]byte{5, 7, 4}, algAES192, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.firmware+"/"+tc.root, func(t *testing.T) {
			cfg, err := ProfileConfig(tc.firmware, tc.root)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Version != tc.version || !cfg.RSADeviceKey {
				t.Fatalf("config %v, RSA device key %v", cfg.Version, cfg.RSADeviceKey)
			}
			cfg.Serial, cfg.RSAKey = 23456789, cachedRSAKey
			card, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c := &testCard{Card: card}
			c.must(t, selectPIV)
			if c.mgmt.alg != tc.mgmtAlg {
				t.Errorf("factory management key algorithm %02x, want %02x", c.mgmt.alg, tc.mgmtAlg)
			}
			for _, alg := range []byte{algRSA3072, algRSA4096, algEd25519, algX25519} {
				if c.keyAlgSupported(alg) != tc.has57Algs {
					t.Errorf("algorithm %02x supported %v, want %v", alg, !tc.has57Algs, tc.has57Algs)
				}
			}
			device := c.readDeviceCert(t)
			if p, ok := device.PublicKey.(*rsa.PublicKey); !ok || p.N.BitLen() != 2048 {
				t.Fatalf("device certificate key %T, want RSA-2048", device.PublicKey)
			}
			if device.BasicConstraintsValid {
				t.Error("device certificate has basicConstraints; real ones have none")
			}
			root := tc.root
			if root == "" {
				root = map[string]string{"5.4.3": RootTest, "5.7.4": Root2024}[tc.firmware]
			}
			_, rootPEM, interPEM, err := TestHierarchy(root)
			if err != nil {
				t.Fatal(err)
			}
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AppendCertsFromPEM(rootPEM)
			for _, ic := range pemCerts(t, interPEM) {
				inter.AddCert(ic)
			}
			inter.AddCert(forceCA(device))

			c.generateKey(t, 0x9a, algP256, 0x01, 0x01)
			c.generateRSAKey(t, 0x9c, algRSA1024, 0x01, 0x01)
			for _, slot := range []byte{0x9a, 0x9c} {
				slotCert, err := x509.ParseCertificate(c.do(t, 0xf9, slot, 0x00, nil))
				if err != nil {
					t.Fatal(err)
				}
				chains, err := slotCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
				if err != nil {
					t.Fatalf("slot %02x: %v", slot, err)
				}
				if len(chains[0]) != tc.chainLen {
					t.Errorf("slot %02x chain has %d certificates, want %d", slot, len(chains[0]), tc.chainLen)
				}
				if slot == 0x9a {
					if _, ok := slotCert.PublicKey.(*ecdsa.PublicKey); !ok {
						t.Errorf("slot 9a attests a %T", slotCert.PublicKey)
					}
				}
				// piv-go's Verifier, given the intermediates as anchors
				// (it takes no intermediates with custom roots).
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(rootPEM)
				pool.AppendCertsFromPEM(interPEM)
				a, err := (&piv.Verifier{Roots: pool}).Verify(device, slotCert)
				if err != nil {
					t.Fatalf("piv-go: slot %02x: %v", slot, err)
				}
				if a.Serial != 23456789 || a.Version.Major != int(tc.version[0]) || a.Version.Minor != int(tc.version[1]) {
					t.Errorf("piv-go attestation %+v", a)
				}
			}
			st, err := c.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(Config{}, st); err != nil {
				t.Errorf("Load of an RSA-f9 card: %v", err)
			}
		})
	}
}
