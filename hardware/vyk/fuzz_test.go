package vyk

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// fuzzSeedDir holds the committed FuzzTransmit corpus.
const fuzzSeedDir = "testdata/fuzz/FuzzTransmit"

// fuzzInput encodes a preamble byte and APDUs as length-prefixed frames.
func fuzzInput(preamble byte, apdus ...[]byte) []byte {
	out := []byte{preamble}
	for _, a := range apdus {
		out = append(out, byte(len(a)))
		out = append(out, a...)
	}
	return out
}

// validSW reports whether a response ends in a plausible ISO 7816 status.
func validSW(resp []byte) bool {
	if len(resp) < 2 {
		return false
	}
	sw1 := resp[len(resp)-2]
	return sw1 == 0x90 || (sw1 >= 0x61 && sw1 <= 0x6f)
}

func TestFuzzSeedsPresent(t *testing.T) {
	entries, err := os.ReadDir(fuzzSeedDir)
	if err != nil {
		t.Fatalf("reading %s: %v", fuzzSeedDir, err)
	}
	if len(entries) == 0 || len(apduCases) == 0 {
		t.Fatalf("fuzz seeds: %d files, %d table APDUs; want both non-empty", len(entries), len(apduCases))
	}
}

// FuzzTransmit feeds arbitrary APDU sequences to a card and checks that it
// never panics and always answers with a status word. The first input byte
// selects a preamble (bit 0: management key authenticated, bit 1: PIN
// verified, bit 2: a P-256 key in 9a with touch cached, bit 3: an RSA-1024
// key in 9c) so the fuzzer also reaches privileged states; the rest is
// length-prefixed APDUs. RSA keys come from the test cache, so a fuzzed
// GENERATE costs no key generation.
func FuzzTransmit(f *testing.F) {
	sel := unhex(f, selectPIV)
	for _, tc := range apduCases {
		f.Add(fuzzInput(0x07, sel, unhex(f, tc.apdu)))
	}
	rsaBlock := append([]byte{0x00, 0x01}, bytes.Repeat([]byte{0xff}, 126)...)
	for _, a := range [][]byte{
		cmdAPDU(0x87, algRSA1024, 0x9c, enc(0x7c, []byte{0x82, 0x00}, enc(0x81, rsaBlock))),
		cmdAPDU(0x87, algRSA1024, 0x9c, enc(0x7c, []byte{0x82, 0x00}, enc(0x81, []byte{0x02}))),
		cmdAPDU(0x47, 0x00, 0x9d, enc(0xac, enc(0x80, []byte{algRSA2048}))),
		cmdAPDU(0xfe, algRSA1024, 0x9d, append(enc(0x01, bytes.Repeat([]byte{0xfb}, 64)), enc(0x02, bytes.Repeat([]byte{0xf1}, 64))...)),
		cmdAPDU(0xf7, 0x00, 0x9c, nil),
		cmdAPDU(0xf9, 0x9c, 0x00, nil),
	} {
		f.Add(fuzzInput(0x0f, sel, a))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		c, err := New(Config{Serial: 1, Sleep: func(time.Duration) {}, RSAKey: cachedRSAKey})
		if err != nil {
			t.Fatal(err)
		}
		tc := &testCard{Card: c}
		tc.must(t, selectPIV)
		if in[0]&(1|4|8) != 0 {
			tc.authDefault(t)
		}
		if in[0]&4 != 0 {
			tc.must(t, "00 47 00 9A 08 AC 06 80 01 11 AB 01 03")
		}
		if in[0]&8 != 0 {
			tc.do(t, 0x47, 0x00, 0x9c, enc(0xac, enc(0x80, []byte{algRSA1024}), enc(0xaa, []byte{0x01})))
		}
		if in[0]&2 != 0 {
			tc.must(t, verifyAPDU("123456"))
		}
		check := func(apdu []byte) {
			resp := c.Transmit(apdu)
			if !validSW(resp) {
				t.Fatalf("Transmit(%x) = %x: no valid status word", apdu, resp)
			}
			if len(resp) > 258 {
				t.Fatalf("Transmit(%x) answered %d bytes, more than 256 data + SW", apdu, len(resp))
			}
		}
		check(in[1:])
		rest := in[1:]
		for len(rest) > 0 {
			n := int(rest[0])
			rest = rest[1:]
			if n > len(rest) {
				n = len(rest)
			}
			check(rest[:n])
			rest = rest[n:]
		}
		state, err := c.MarshalState()
		if err != nil {
			t.Fatalf("MarshalState after fuzzed APDUs: %v", err)
		}
		if _, err := Load(Config{RSAKey: cachedRSAKey}, state); err != nil {
			t.Fatalf("Load(MarshalState()) after fuzzed APDUs: %v", err)
		}
	})
}
