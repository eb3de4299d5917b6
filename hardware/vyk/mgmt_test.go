package vyk

import (
	"bytes"
	"testing"
)

func TestManagementKeyAlgorithms(t *testing.T) {
	tests := []struct {
		name    string
		version []byte
		alg     byte
		key     []byte
	}{
		{"3DES default before 5.4", []byte{5, 2, 7}, alg3DES, defaultMgmt},
		{"3DES default on 5.4", []byte{5, 4, 3}, alg3DES, defaultMgmt},
		{"AES-192 default from 5.7", []byte{5, 7, 1}, algAES192, defaultMgmt},
		{"AES-192 set on 5.4", []byte{5, 4, 3}, algAES192, bytes.Repeat([]byte{4}, 24)},
		{"AES-128", []byte{5, 4, 3}, algAES128, bytes.Repeat([]byte{7}, 16)},
		{"AES-256", []byte{5, 4, 3}, algAES256, bytes.Repeat([]byte{9}, 32)},
		{"3DES set on 5.4", []byte{5, 4, 3}, alg3DES, bytes.Repeat([]byte{0x11, 0x22, 0x33, 0x44}, 6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t, tc.version...)
			c.must(t, selectPIV)
			if !bytes.Equal(tc.key, defaultMgmt) || tc.alg != c.defaultMgmtAlg() {
				c.authMgmt(t, c.defaultMgmtAlg(), defaultMgmt)
				c.must(t, "00 FF FF FF"+hexLc(append([]byte{tc.alg, 0x9b, byte(len(tc.key))}, tc.key...)))
				c.must(t, selectPIV)
			}
			meta := c.must(t, "00 F7 00 9B")
			ts, _ := parseTLVs(meta)
			if v, _ := find(ts, 0x01); !bytes.Equal(v, []byte{tc.alg}) {
				t.Errorf("metadata algorithm %x, want %02x", v, tc.alg)
			}
			wantDefault := []byte{0}
			if bytes.Equal(tc.key, defaultMgmt) {
				wantDefault = []byte{1}
			}
			if v, _ := find(ts, 0x05); !bytes.Equal(v, wantDefault) {
				t.Errorf("metadata default flag %x, want %x", v, wantDefault)
			}
			c.want(t, "00 47 00 9A 05 AC 03 80 01 11", swSecurity)
			c.authMgmt(t, tc.alg, tc.key)
			c.must(t, "00 47 00 9A 05 AC 03 80 01 11")

			wrong := bytes.Repeat([]byte{0x5a}, len(tc.key))
			c.must(t, selectPIV)
			if s := c.tryMgmt(t, tc.alg, wrong); s != swSecurity {
				t.Errorf("wrong key: status %04X, want 6982", s)
			}
			c.want(t, "00 47 00 9A 05 AC 03 80 01 11", swSecurity)
		})
	}
}

// hexLc returns " Lc data" in hex for a short APDU body.
func hexLc(data []byte) string {
	return " " + hexOf([]byte{byte(len(data))}) + hexOf(data)
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func TestManagementExternalAuthAndTouch(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.authDefault(t)
	// Same key, now requiring touch (P2 FE).
	c.must(t, "00 FF FF FE"+hexLc(append([]byte{algAES192, 0x9b, 24}, defaultMgmt...)))
	meta := c.must(t, "00 F7 00 9B")
	ts, _ := parseTLVs(meta)
	if v, _ := find(ts, 0x02); !bytes.Equal(v, []byte{0, 2}) {
		t.Errorf("management key policy %x, want 0002 (touch always)", v)
	}

	// External authentication: card challenge, host encrypts it.
	c.must(t, selectPIV)
	resp := c.must(t, "00 87 0A 9B 04 7C 02 81 00")
	if len(resp) != 20 {
		t.Fatalf("challenge answer %x", resp)
	}
	block, _ := mgmtCipher(algAES192, defaultMgmt)
	out := make([]byte, 16)
	block.Encrypt(out, resp[4:])
	before := len(c.touches)
	c.must(t, "00 87 0A 9B"+hexLc(enc(0x7c, enc(0x82, out))))
	if len(c.touches) != before+1 {
		t.Errorf("touch-required management key authenticated without a touch")
	}
	c.must(t, "00 47 00 9A 05 AC 03 80 01 11")

	// A replayed response does not authenticate again.
	c.must(t, selectPIV)
	c.want(t, "00 87 0A 9B"+hexLc(enc(0x7c, enc(0x82, out))), swSecurity)
	// Witness-only response (no host challenge) is accepted.
	w := c.must(t, "00 87 0A 9B 04 7C 02 80 00")
	plain := make([]byte, 16)
	block.Decrypt(plain, w[4:])
	c.must(t, "00 87 0A 9B"+hexLc(enc(0x7c, enc(0x80, plain))))
	c.must(t, "00 47 00 9A 05 AC 03 80 01 11")
}

func TestSetManagementKeyRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		apdu string
		sw   uint16
	}{
		{"bad P2", "00 FF FF 00" + hexLc(append([]byte{algAES192, 0x9b, 24}, defaultMgmt...)), swWrongP1P2},
		{"length mismatch", "00 FF FF FF" + hexLc(append([]byte{algAES128, 0x9b, 24}, defaultMgmt...)), swWrongData},
		{"unknown algorithm", "00 FF FF FF" + hexLc(append([]byte{0x11, 0x9b, 24}, defaultMgmt...)), swWrongData},
		{"wrong reference", "00 FF FF FF" + hexLc(append([]byte{algAES192, 0x9a, 24}, defaultMgmt...)), swWrongData},
		{"declared length too long", "00 FF FF FF 04 0A 9B 18 00", swWrongData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t)
			c.must(t, selectPIV)
			c.authDefault(t)
			c.want(t, tc.apdu, tc.sw)
			c.must(t, selectPIV)
			c.authDefault(t) // key unchanged
		})
	}
}

// TestManagementP1Default: P1 00 is 3DES (SP 800-78), so OpenSC's
// challenge-as-random works on a 3DES key, in a loop; on firmware 5.7's
// AES-192 key it is a wrong algorithm like 03.
func TestManagementP1Default(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	seen := map[string]bool{}
	for range 4 {
		r := c.must(t, "00 87 00 9B 04 7C 02 81 00")
		if len(r) != 12 || seen[hexOf(r)] {
			t.Fatalf("challenge %x: want 7C 0A 81 08 and 8 fresh bytes", r)
		}
		seen[hexOf(r)] = true
	}
	c.authMgmt(t, alg3DES, defaultMgmt) // the pending challenge does not get in the way

	aes := newTestCard(t, 5, 7, 4)
	aes.must(t, selectPIV)
	aes.want(t, "00 87 00 9B 04 7C 02 81 00", swWrongData)
	aes.want(t, "00 87 03 9B 04 7C 02 81 00", swWrongData)
	if r := aes.must(t, "00 87 0A 9B 04 7C 02 81 00"); len(r) != 20 {
		t.Errorf("AES-192 challenge %x: want 16 bytes", r)
	}
}
