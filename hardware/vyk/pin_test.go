package vyk

import (
	"encoding/hex"
	"testing"
)

// pinField is the hex of a padded PIN field.
func pinField(pin string) string { return hex.EncodeToString(pad([]byte(pin))) }

func verifyAPDU(pin string) string { return "00 20 00 80 08" + pinField(pin) }
func changeAPDU(p2, oldPIN, newPIN string) string {
	return "00 24 00 " + p2 + " 10" + pinField(oldPIN) + pinField(newPIN)
}
func unblockAPDU(puk, newPIN string) string {
	return "00 2C 00 80 10" + pinField(puk) + pinField(newPIN)
}

func TestPINCountdownAndBlocking(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	steps := []struct {
		name string
		apdu string
		sw   uint16
	}{
		{"retries before any attempt", "00 20 00 80", 0x63c3},
		{"first wrong PIN", verifyAPDU("000000"), 0x63c2},
		{"empty verify shows 2", "00 20 00 80", 0x63c2},
		{"right PIN resets the counter", verifyAPDU("123456"), 0x9000},
		{"empty verify when verified", "00 20 00 80", 0x9000},
		{"wrong PIN unverifies", verifyAPDU("000000"), 0x63c2},
		{"empty verify after wrong", "00 20 00 80", 0x63c2},
		{"second wrong", verifyAPDU("111111"), 0x63c1},
		{"third wrong blocks with 63C0", verifyAPDU("222222"), 0x63c0},
		{"right PIN now blocked", verifyAPDU("123456"), 0x6983},
		{"empty verify blocked", "00 20 00 80", 0x6983},
		{"change PIN blocked", changeAPDU("80", "123456", "654321"), 0x6983},
		{"PIN metadata shows 0 left", "00 F7 00 80", 0x9000},
		{"wrong PUK", unblockAPDU("00000000", "654321"), 0x63c2},
		{"PUK with too short new PIN", unblockAPDU("12345678", "12"), 0x6a80},
		{"PUK unblocks", unblockAPDU("12345678", "654321"), 0x9000},
		{"old PIN no longer valid", verifyAPDU("123456"), 0x63c2},
		{"new PIN works", verifyAPDU("654321"), 0x9000},
		{"change PIN wrong old", changeAPDU("80", "000000", "111111"), 0x63c2},
		{"change PIN", changeAPDU("80", "654321", "11112222"), 0x9000},
		{"changed PIN works", verifyAPDU("11112222"), 0x9000},
		{"change PUK", changeAPDU("81", "12345678", "87654321"), 0x9000},
		{"change PUK wrong old", changeAPDU("81", "12345678", "87654321"), 0x63c2},
		{"change reference bad P2", changeAPDU("82", "12345678", "87654321"), 0x6a88},
		{"change reference short data", "00 24 00 80 08" + pinField("123456"), 0x6a80},
	}
	for _, st := range steps {
		data, s := c.send(t, unhex(t, st.apdu))
		if s != st.sw {
			t.Fatalf("%s: status %04X, want %04X", st.name, s, st.sw)
		}
		if st.name == "PIN metadata shows 0 left" {
			ts, _ := parseTLVs(data)
			if v, _ := find(ts, 0x06); hex.EncodeToString(v) != "0300" {
				t.Fatalf("PIN metadata retries %x, want 0300", v)
			}
		}
	}
}

func TestResetOnlyWhenPINAndPUKBlocked(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.authDefault(t)
	c.must(t, "00 47 00 9A 05 AC 03 80 01 11")
	c.must(t, "00 DB 3F FF 09 5C 03 5F C1 02 53 02 30 00")
	for _, s := range []uint16{0x63c2, 0x63c1, 0x63c0} {
		c.want(t, verifyAPDU("000000"), s)
	}
	c.want(t, "00 FB 00 00", swConditions) // PUK not blocked yet
	for _, s := range []uint16{0x63c2, 0x63c1, 0x63c0, 0x6983} {
		c.want(t, changeAPDU("81", "00000000", "00000000"), s)
	}
	c.want(t, "00 FB 01 00", swWrongP1P2)
	c.must(t, "00 FB 00 00")

	c.want(t, "00 20 00 80", 0x63c3)
	c.must(t, verifyAPDU("123456"))
	c.want(t, "00 F7 00 9A", swNotFound)
	c.want(t, "00 CB 3F FF 05 5C 03 5F C1 02", swNotFound)
	c.must(t, "00 F7 00 F9") // the f9 key survives, like a YubiKey's
	c.authDefault(t)
}

func TestSetRetries(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.must(t, changeAPDU("80", "123456", "999999"))
	c.must(t, selectPIV)
	c.authDefault(t)
	c.want(t, "00 FA 05 06", swSecurity) // PIN not verified in this session
	c.must(t, verifyAPDU("999999"))
	c.want(t, "00 FA 00 06", swWrongP1P2)
	c.must(t, "00 FA 05 06")
	c.want(t, "00 20 00 80", 0x63c5)
	c.must(t, verifyAPDU("123456")) // reset to the factory PIN, like a YubiKey
	meta := c.must(t, "00 F7 00 81")
	ts, _ := parseTLVs(meta)
	if v, _ := find(ts, 0x06); hex.EncodeToString(v) != "0606" {
		t.Errorf("PUK retries %x, want 0606", v)
	}
}

func TestSelectForgetsPIN(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.must(t, verifyAPDU("123456"))
	c.must(t, "00 20 00 80")
	c.must(t, selectPIV)
	c.want(t, "00 20 00 80", 0x63c3)
	c.must(t, verifyAPDU("123456"))
	c.Reset()
	c.must(t, selectPIV)
	c.want(t, "00 20 00 80", 0x63c3)
}

// TestYkmanStyleReset replays yubikit's PivSession.reset: empty PIN (all
// padding) until blocked, empty PUK with RESET RETRY COUNTER until
// blocked, then RESET.
func TestYkmanStyleReset(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.must(t, verifyAPDU("123456"))
	ff8 := "FFFFFFFFFFFFFFFF"
	for _, s := range []uint16{0x63c2, 0x63c1, 0x63c0} {
		c.want(t, "00 20 00 80 08"+ff8, s)
	}
	for _, s := range []uint16{0x63c2, 0x63c1, 0x63c0} {
		c.want(t, "00 2C 00 80 10"+ff8+ff8, s)
	}
	c.must(t, "00 FB 00 00")
	c.want(t, "00 20 00 80", 0x63c3)
}
