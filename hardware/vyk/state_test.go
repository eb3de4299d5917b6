package vyk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	c := newTestCard(t)
	point := c.generateKey(t, 0x82, algP256, 0x02, 0x03)
	c.must(t, "00 DB 3F FF 09 5C 03 5F C1 0D 53 02 70 00")
	c.must(t, hexOf(cmdAPDU(0xff, 0xff, 0xfe, append([]byte{algAES128, 0x9b, 16}, bytes.Repeat([]byte{3}, 16)...))))
	c.must(t, selectPIV)
	c.want(t, verifyAPDU("000000"), 0x63c2)
	c.want(t, changeAPDU("81", "00000000", "11111111"), 0x63c2)
	deviceBefore := c.readDeviceCert(t)

	state, err := c.MarshalState()
	if err != nil {
		t.Fatalf("MarshalState: %v", err)
	}
	var touched []time.Duration
	d, err := Load(Config{Sleep: func(x time.Duration) { touched = append(touched, x) }}, state)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	again, err := d.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, state) {
		t.Errorf("MarshalState(Load(s)) differs from s")
	}
	dc := &testCard{Card: d, clock: c.clock}
	if d.Serial() != 12345678 {
		t.Errorf("serial %d after load", d.Serial())
	}
	dc.must(t, selectPIV)
	dc.want(t, "00 20 00 80", 0x63c2)
	meta := mustTLVs(dc.must(t, "00 F7 00 81"))
	if v, _ := find(meta, 0x06); !bytes.Equal(v, []byte{3, 2}) {
		t.Errorf("PUK retries after load %x, want 0302", v)
	}
	meta = mustTLVs(dc.must(t, "00 F7 00 82"))
	pubT, _ := find(meta, 0x04)
	if !bytes.Equal(pubT, enc(0x86, point)) {
		t.Errorf("slot 82 public key changed across save/load")
	}
	if v, _ := find(meta, 0x02); !bytes.Equal(v, []byte{2, 3}) {
		t.Errorf("slot 82 policies %x, want 0203", v)
	}
	if got := dc.must(t, "00 CB 3F FF 05 5C 03 5F C1 0D"); !bytes.Equal(got, unhex(t, "53 02 70 00")) {
		t.Errorf("object 5FC10D after load = %x", got)
	}
	dc.authMgmt(t, algAES128, bytes.Repeat([]byte{3}, 16))
	if len(touched) != 1 {
		t.Errorf("management key touch flag lost: %d touches", len(touched))
	}
	if !dc.readDeviceCert(t).Equal(deviceBefore) {
		t.Errorf("f9 certificate changed across save/load")
	}
	dc.must(t, selectPIV)
	dc.must(t, verifyAPDU("123456"))
	digest := sha256.Sum256([]byte("after load"))
	sig := gaResult(t, dc.must(t, hexOf(gaAPDU(algP256, 0x82, 0x81, digest[:]))))
	pub, _ := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Errorf("signature after load does not verify with the saved key")
	}
}

func TestLoadIsStrict(t *testing.T) {
	c := newTestCard(t)
	good, err := c.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name  string
		cfg   Config
		state []byte
		want  string
	}{
		{"empty", Config{}, nil, "reading card state"},
		{"not JSON", Config{}, []byte("{"), "reading card state"},
		{"trailing data", Config{}, append(append([]byte(nil), good...), []byte(" {}")...), "trailing data"},
		{"unknown field", Config{}, edit(func(m map[string]any) { m["extra"] = 1 }), "unknown field"},
		{"wrong format", Config{}, edit(func(m map[string]any) { m["format"] = "v0" }), "format"},
		{"serial mismatch", Config{Serial: 1}, good, "does not match"},
		{"version mismatch", Config{Version: [3]byte{5, 7, 1}}, good, "does not match"},
		{"missing serial", Config{}, edit(func(m map[string]any) { m["serial"] = 0 }), "serial"},
		{"short PIN", Config{}, edit(func(m map[string]any) { m["pin"] = "3132" }), "pin"},
		{"retries over max", Config{}, edit(func(m map[string]any) { m["pin_retries"] = 4 }), "retries"},
		{"zero max", Config{}, edit(func(m map[string]any) { m["puk_max"] = 0; m["puk_retries"] = 0 }), "retries"},
		{"bad management key", Config{}, edit(func(m map[string]any) { m["management_key"].(map[string]any)["key"] = "00" }), "management key"},
		{"bad slot", Config{}, edit(func(m map[string]any) {
			keys := m["keys"].(map[string]any)
			keys["42"] = keys["f9"]
		}), "slot"},
		{"no f9", Config{}, edit(func(m map[string]any) { delete(m["keys"].(map[string]any), "f9") }), "f9"},
		{"bad object tag", Config{}, edit(func(m map[string]any) { m["objects"].(map[string]any)["1234"] = "00" }), "object"},
		{"bad private key", Config{}, edit(func(m map[string]any) {
			m["keys"].(map[string]any)["f9"].(map[string]any)["private"] = strings.Repeat("ff", 32)
		}), "private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.cfg, tc.state)
			if err == nil {
				t.Fatalf("Load succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestOnChangeAndReset(t *testing.T) {
	c := newTestCard(t)
	calls := 0
	c.OnChange(func() {
		calls++
		if _, err := c.MarshalState(); err != nil { // must not deadlock
			t.Errorf("MarshalState in OnChange: %v", err)
		}
	})
	c.must(t, selectPIV)
	c.must(t, "00 FD 00 00")
	c.must(t, verifyAPDU("123456"))
	if calls != 0 {
		t.Errorf("%d change notifications for read-only commands and a right PIN", calls)
	}
	c.want(t, verifyAPDU("000000"), 0x63c2)
	if calls != 1 {
		t.Errorf("%d change notifications after a wrong PIN, want 1", calls)
	}
	c.must(t, verifyAPDU("123456"))
	if calls != 2 {
		t.Errorf("%d change notifications after the retry counter reset, want 2", calls)
	}

	c.must(t, "00 20 00 80")
	c.must(t, "10 DB 3F FF 02 5C 03")
	c.Reset()
	c.want(t, "00 20 00 80", swINS) // no applet selected after reset
	c.must(t, selectPIV)
	c.want(t, "00 20 00 80", 0x63c3)    // PIN verification forgotten
	c.must(t, "00 FD 00 00")            // pending chain forgotten
	c.want(t, "00 C0 00 00 00", 0x6985) // nothing pending
}

func TestStateRoundTripAllAlgorithms(t *testing.T) {
	c := newTestCard(t, 5, 7, 1)
	slots := map[byte]byte{0x9a: algP384, 0x9c: algEd25519, 0x9d: algX25519}
	for slot, alg := range slots {
		c.generateKey(t, slot, alg, 0x01, 0x01)
	}
	c.must(t, selectPIV)
	c.authDefault(t)
	c.must(t, hexOf(cmdAPDU(0xfe, algEd25519, 0x82, enc(0x07, bytes.Repeat([]byte{5}, 32)))))
	c.must(t, hexOf(cmdAPDU(0xfe, algX25519, 0x83, enc(0x08, bytes.Repeat([]byte{6}, 32)))))
	c.must(t, hexOf(cmdAPDU(0xfe, algP384, 0x84, enc(0x06, bytes.Repeat([]byte{7}, 48)))))
	state, err := c.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(Config{}, state)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dc := &testCard{Card: d}
	dc.must(t, selectPIV)
	for _, slot := range []byte{0x9a, 0x9c, 0x9d, 0x82, 0x83, 0x84} {
		apdu := hexOf(cmdAPDU(0xf7, 0, slot, nil))
		if a, b := c.must(t, apdu), dc.must(t, apdu); !bytes.Equal(a, b) {
			t.Errorf("slot %02x metadata %x after load, want %x", slot, b, a)
		}
	}
}

func TestPutDataDeleteAndLimit(t *testing.T) {
	c := newTestCard(t)
	c.must(t, selectPIV)
	c.authDefault(t)
	put := func(content []byte) []byte {
		return append(enc(0x5c, []byte{0x5f, 0xc1, 0x0a}), enc(0x53, content)...)
	}
	c.do(t, 0xdb, 0x3f, 0xff, put([]byte{0x70, 0x00}))
	c.must(t, "00 CB 3F FF 05 5C 03 5F C1 0A")
	c.do(t, 0xdb, 0x3f, 0xff, put(nil)) // empty content deletes
	c.want(t, "00 CB 3F FF 05 5C 03 5F C1 0A", swNotFound)
	if _, err := (&client{tx: c.Transmit}).do(0xdb, 0x3f, 0xff, put(make([]byte, maxObject+1))); err == nil {
		t.Errorf("PUT DATA of %d bytes succeeded", maxObject+1)
	}
	c.want(t, "00 DB 3F FF 09 5C 03 5F C0 01 53 02 30 00", swWrongData) // not a PIV object
	c.want(t, "00 DB 3F FF 05 5C 03 5F C1 0A", swWrongData)             // no 53
}

func TestATR(t *testing.T) {
	c := newTestCard(t)
	want := unhex(t, "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40")
	if !bytes.Equal(c.ATR(), want) {
		t.Errorf("ATR %x, want %x", c.ATR(), want)
	}
}

// TestConcurrentUse exercises the card from a transport-like goroutine,
// a state saver and resets at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	c := newTestCard(t)
	c.OnChange(func() {
		if _, err := c.MarshalState(); err != nil {
			t.Errorf("MarshalState: %v", err)
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			c.Transmit(unhex(t, selectPIV))
			c.Transmit(unhex(t, verifyAPDU("123456")))
			c.Transmit(unhex(t, "00 F7 00 80"))
		}
	}()
	tok := NewToken(c.Card)
	for range 20 {
		if _, err := tok.Info(t.Context()); err != nil {
			t.Errorf("Info: %v", err)
		}
		c.Reset()
		if _, err := c.MarshalState(); err != nil {
			t.Errorf("MarshalState: %v", err)
		}
	}
	<-done
}
