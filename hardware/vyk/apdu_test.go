package vyk

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// apduCases is a table of single APDUs sent right after SELECT PIV to a
// factory card, with the exact status (and data, when given) expected.
// It also seeds FuzzTransmit.
var apduCases = []struct {
	name string
	apdu string
	sw   uint16
	data string // expected data in hex; "*" means any
}{
	{"get version", "00 FD 00 00", 0x9000, "050403"},
	{"get version with Le", "00 FD 00 00 00", 0x9000, "050403"},
	{"get serial", "00 F8 00 00", 0x9000, "00bc614e"},
	{"select PIV short AID", "00 A4 04 00 05 A0 00 00 03 08", 0x9000, "6111 4f06000010000100 79074f05a000000308"},
	{"select PIV full AID with Le", "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00", 0x9000, "*"},
	{"select unknown AID", "00 A4 04 00 05 A0 00 00 06 47", 0x6a82, ""},
	{"select by bad P1", "00 A4 00 00 02 3F 00", 0x6a86, ""},
	{"empty verify reports retries", "00 20 00 80", 0x63c3, ""},
	{"verify short PIN field", "00 20 00 80 06 31 32 33 34 35 36", 0x6a80, ""},
	{"verify all-padding PIN counts as wrong", "00 20 00 80 08 FF FF FF FF FF FF FF FF", 0x63c2, ""},
	{"verify unknown reference", "00 20 00 96 02 03 00", 0x6a88, ""},
	{"verify reset", "00 20 FF 80", 0x9000, ""},
	{"PIN metadata", "00 F7 00 80", 0x9000, "0101ff 050101 06020303"},
	{"PUK metadata", "00 F7 00 81", 0x9000, "0101ff 050101 06020303"},
	{"management key metadata", "00 F7 00 9B", 0x9000, "010103 02020001 050101"},
	{"metadata of empty slot", "00 F7 00 9A", 0x6a82, ""},
	{"metadata of f9", "00 F7 00 F9", 0x9000, "*"},
	{"metadata bad reference", "00 F7 00 42", 0x6a88, ""},
	{"metadata bad P1", "00 F7 01 9A", 0x6a86, ""},
	{"get CHUID absent", "00 CB 3F FF 05 5C 03 5F C1 02", 0x6a82, ""},
	{"get CCC absent", "00 CB 3F FF 05 5C 03 5F C1 07 00", 0x6a82, ""},
	{"get 5FFF00 absent", "00 CB 3F FF 05 5C 03 5F FF 00", 0x6a82, ""},
	{"get 9A cert absent", "00 CB 3F FF 05 5C 03 5F C1 05", 0x6a82, ""},
	{"get printed needs PIN", "00 CB 3F FF 05 5C 03 5F C1 09", 0x6982, ""},
	{"get discovery", "00 CB 3F FF 03 5C 01 7E", 0x9000, "7e124f0ba0000003080000100001005f2f024000"},
	{"get data bad P1P2", "00 CB 3F FE 05 5C 03 5F C1 05", 0x6a86, ""},
	{"get data wrong tag list", "00 CB 3F FF 05 5D 03 5F C1 05", 0x6a80, ""},
	{"get data truncated TLV", "00 CB 3F FF 03 5C 05 5F", 0x6a80, ""},
	{"put data without management key", "00 DB 3F FF 09 5C 03 5F C1 02 53 02 30 00", 0x6982, ""},
	{"generate without management key", "00 47 00 9A 05 AC 03 80 01 11", 0x6982, ""},
	{"generate bad slot", "00 47 00 42 05 AC 03 80 01 11", 0x6a86, ""},
	{"generate unsupported algorithm", "00 47 00 9A 05 AC 03 80 01 13", 0x6a80, ""},
	{"generate RSA-3072 needs 5.7", "00 47 00 9A 05 AC 03 80 01 05", 0x6a80, ""},
	{"generate RSA-4096 needs 5.7", "00 47 00 9A 05 AC 03 80 01 16", 0x6a80, ""},
	{"generate RSA-2048 without management key", "00 47 00 9A 05 AC 03 80 01 07", 0x6982, ""},
	{"import RSA-2048 without management key", "00 FE 07 9A 08 01 02 00 03 02 02 00 05", 0x6982, ""},
	{"RSA sign with empty slot", "00 87 07 9A 08 7C 06 82 00 81 02 00 01", 0x6a82, ""},
	{"attest empty RSA slot", "00 F9 9C 00", 0x6a80, ""},
	{"generate Ed25519 needs 5.7", "00 47 00 9A 05 AC 03 80 01 E0", 0x6a80, ""},
	{"attest empty slot", "00 F9 9A 00", 0x6a80, ""},
	{"sign with empty slot", "00 87 11 9A 06 7C 04 82 00 81 00", 0x6a82, ""},
	{"management auth wrong algorithm", "00 87 0A 9B 04 7C 02 80 00", 0x6a80, ""},
	{"management challenge with P1 00 (OpenSC random) on a 3DES key", "00 87 00 9B 04 7C 02 81 00", 0x9000, "7c0a8108*"},
	{"management witness with P1 00 on a 3DES key", "00 87 00 9B 04 7C 02 80 00", 0x9000, "7c0a8008*"},
	{"management final step without witness", "00 87 03 9B 16 7C 14 80 08 0000000000000000 81 08 0000000000000000", 0x6982, ""},
	{"set management key unauthenticated", "00 FF FF FF 1B 0A 9B 18 010203040506070801020304050607080102030405060708", 0x6982, ""},
	{"set retries unauthenticated", "00 FA 05 05", 0x6982, ""},
	{"reset while PIN not blocked", "00 FB 00 00", 0x6985, ""},
	{"unknown instruction", "00 12 00 00", 0x6d00, ""},
	{"bad class", "80 FD 00 00", 0x6e00, ""},
	{"too short", "00 FD 00", 0x6700, ""},
	{"empty", "", 0x6700, ""},
	{"Lc longer than data", "00 20 00 80 08 31 32", 0x6700, ""},
	{"Lc shorter than data", "00 20 00 80 01 31 32 33", 0x6700, ""},
	{"extended with zero Lc and data", "00 20 00 80 00 00 00 31", 0x6700, ""},
	{"extended truncated", "00 20 00 80 00 00", 0x6700, ""},
	{"extended verify", "00 20 00 80 00 00 08 31 32 33 34 35 36 FF FF", 0x9000, ""},
	{"extended case 2", "00 FD 00 00 00 00 00", 0x9000, "050403"},
	{"extended case 4 with Le", "00 CB 3F FF 00 00 03 5C 01 7E 00 00", 0x9000, "*"},
	{"get response with nothing pending", "00 C0 00 00 00", 0x6985, ""},
	{"get response bad P1", "00 C0 01 00 00", 0x6a86, ""},
}

func TestAPDUTable(t *testing.T) {
	for _, tc := range apduCases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCard(t)
			c.must(t, selectPIV)
			data, s := c.send(t, unhex(t, tc.apdu))
			if s != tc.sw {
				t.Fatalf("status %04X, want %04X (data %x)", s, tc.sw, data)
			}
			want := strings.ReplaceAll(tc.data, " ", "")
			switch {
			case want == "*":
			case strings.HasSuffix(want, "*"):
				if !strings.HasPrefix(hex.EncodeToString(data), strings.TrimSuffix(want, "*")) {
					t.Errorf("data %x, want prefix %s", data, strings.TrimSuffix(want, "*"))
				}
			case hex.EncodeToString(data) != want:
				t.Errorf("data %x, want %s", data, want)
			}
		})
	}
}

func TestNoAppletSelected(t *testing.T) {
	c := newTestCard(t)
	c.want(t, "00 FD 00 00", swINS)
	c.must(t, selectPIV)
	c.must(t, "00 FD 00 00")
	c.Reset()
	c.want(t, "00 FD 00 00", swINS)
}

func TestManagementApplet(t *testing.T) {
	c := newTestCard(t)
	got := c.must(t, "00 A4 04 00 08 A0 00 00 05 27 47 11 17")
	if string(got) != "5.4.3" {
		t.Errorf("management SELECT = %q, want 5.4.3", got)
	}
	info := c.must(t, "00 1D 00 00")
	if len(info) == 0 || int(info[0]) != len(info)-1 {
		t.Fatalf("device info %x: first byte is not the length of the rest", info)
	}
	ts, err := parseTLVs(info[1:])
	if err != nil {
		t.Fatalf("device info TLVs: %v", err)
	}
	for _, w := range []struct {
		tag  uint32
		want string
	}{{0x01, "0010"}, {0x02, "00bc614e"}, {0x03, "0010"}, {0x04, "01"}, {0x05, "050403"}, {0x0a, "00"}} {
		v, ok := find(ts, w.tag)
		if !ok || hex.EncodeToString(v) != w.want {
			t.Errorf("device info tag %02x = %x (present %v), want %s", w.tag, v, ok, w.want)
		}
	}
	c.want(t, "00 FD 00 00", swINS) // PIV commands are not the management applet's
}

func TestChainedAndLongResponses(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.authDefault(t)
	content := bytes.Repeat([]byte{0xab}, 700)
	data := append(enc(0x5c, []byte{0x5f, 0xc1, 0x02}), enc(0x53, content)...)

	// Chain in parts of 255 with CLA 10, last part CLA 00.
	rest := data
	for len(rest) > 255 {
		part := append([]byte{0x10, 0xdb, 0x3f, 0xff, 0xff}, rest[:255]...)
		if _, s := c.send(t, part); s != swOK {
			t.Fatalf("chained part: status %04X", s)
		}
		rest = rest[255:]
	}
	if _, s := c.send(t, cmdAPDU(0xdb, 0x3f, 0xff, rest)); s != swOK {
		t.Fatalf("last chained part: status %04X", s)
	}

	// Read it back: 256 bytes, then 61xx until done.
	got, s := c.send(t, unhex(t, "00 CB 3F FF 05 5C 03 5F C1 02 00"))
	var all []byte
	for rounds := 0; ; rounds++ {
		all = append(all, got...)
		if s>>8 != 0x61 {
			break
		}
		if len(got) != 256 {
			t.Fatalf("chunk of %d bytes before 61xx, want 256", len(got))
		}
		got, s = c.send(t, unhex(t, "00 C0 00 00 00"))
		if rounds > 10 {
			t.Fatal("GET RESPONSE never finishes")
		}
	}
	if s != swOK {
		t.Fatalf("final status %04X", s)
	}
	if !bytes.Equal(all, enc(0x53, content)) {
		t.Errorf("read back %d bytes, want the %d stored", len(all), len(enc(0x53, content)))
	}

	// Extended PUT DATA (ykman style) in one APDU.
	ext := append([]byte{0x00, 0xdb, 0x3f, 0xff, 0x00, byte(len(data) >> 8), byte(len(data))}, data...)
	if _, s := c.send(t, ext); s != swOK {
		t.Fatalf("extended PUT DATA: status %04X", s)
	}

	// A chain interrupted by another instruction is refused and dropped.
	c.must(t, "10 DB 3F FF 02 5C 03")
	c.want(t, "00 FD 00 00", swLastCmdExpected)
	c.must(t, "00 FD 00 00")
}

func TestTLVLengthsAreDERMinimal(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{0, "00"}, {127, "7f"}, {128, "8180"}, {255, "81ff"}, {256, "820100"}, {65535, "82ffff"}}
	for _, tc := range tests {
		if got := hex.EncodeToString(derLen(tc.n)); got != tc.want {
			t.Errorf("derLen(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}
