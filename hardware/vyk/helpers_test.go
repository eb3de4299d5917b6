package vyk

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"
)

// rsaCache holds one RSA key per size for tests about the protocol rather
// than the keys: RSA generation is slow.
var rsaCache struct {
	sync.Mutex
	keys map[int]*rsa.PrivateKey
}

// cachedRSAKey is a Config.RSAKey that generates one key per size per test
// binary and hands out copies of it.
func cachedRSAKey(bits int) (*rsa.PrivateKey, error) {
	rsaCache.Lock()
	defer rsaCache.Unlock()
	if k, ok := rsaCache.keys[bits]; ok {
		c := *k
		return &c, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	if rsaCache.keys == nil {
		rsaCache.keys = map[int]*rsa.PrivateKey{}
	}
	rsaCache.keys[bits] = k
	c := *k
	return &c, nil
}

// clock is an injectable clock tests advance by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// testCard is a card with a manual clock and a recorded (never slept) touch.
type testCard struct {
	*Card
	clock   *clock
	touches []time.Duration
}

func newTestCard(t testing.TB, version ...byte) *testCard {
	t.Helper()
	tc := &testCard{clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	cfg := Config{
		Serial:     12345678,
		TouchDelay: 2 * time.Second,
		Now:        tc.clock.Now,
		Sleep:      func(d time.Duration) { tc.touches = append(tc.touches, d) },
		RSAKey:     cachedRSAKey,
	}
	if len(version) == 3 {
		copy(cfg.Version[:], version)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tc.Card = c
	return tc
}

// unhex decodes hex with spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// send transmits apdu and splits the answer.
func (tc *testCard) send(t testing.TB, apdu []byte) ([]byte, uint16) {
	t.Helper()
	resp := tc.Transmit(apdu)
	if len(resp) < 2 {
		t.Fatalf("Transmit(%x) = %x: no status word", apdu, resp)
	}
	s, data := split(resp)
	return data, s
}

// must transmits apdu (hex) and fails unless the card answers 9000.
func (tc *testCard) must(t testing.TB, apduHex string) []byte {
	t.Helper()
	data, s := tc.send(t, unhex(t, apduHex))
	if s != swOK {
		t.Fatalf("%s: status %04X, want 9000", apduHex, s)
	}
	return data
}

// want transmits apdu (hex) and fails unless the card answers status.
func (tc *testCard) want(t testing.TB, apduHex string, status uint16) []byte {
	t.Helper()
	data, s := tc.send(t, unhex(t, apduHex))
	if s != status {
		t.Fatalf("%s: status %04X, want %04X", apduHex, s, status)
	}
	return data
}

const selectPIV = "00 A4 04 00 05 A0 00 00 03 08"

// authMgmt authenticates with key (mutual, like piv-go) and fails on error.
func (tc *testCard) authMgmt(t testing.TB, alg byte, key []byte) {
	t.Helper()
	if s := tc.tryMgmt(t, alg, key); s != swOK {
		t.Fatalf("management key authentication: status %04X", s)
	}
}

// tryMgmt runs the mutual management-key authentication and returns the
// final status word.
func (tc *testCard) tryMgmt(t testing.TB, alg byte, key []byte) uint16 {
	t.Helper()
	block, err := mgmtCipher(alg, key)
	if err != nil {
		t.Fatal(err)
	}
	bs := block.BlockSize()
	resp, s := tc.send(t, cmdAPDU(0x87, alg, 0x9b, enc(0x7c, enc(0x80, nil))))
	if s != swOK {
		return s
	}
	if len(resp) != 4+bs {
		t.Fatalf("witness answer %x has wrong length", resp)
	}
	plain := make([]byte, bs)
	block.Decrypt(plain, resp[4:])
	chal := make([]byte, bs)
	rand.Read(chal)
	resp, s = tc.send(t, cmdAPDU(0x87, alg, 0x9b, enc(0x7c, enc(0x80, plain), enc(0x81, chal))))
	if s != swOK {
		return s
	}
	want := make([]byte, bs)
	block.Encrypt(want, chal)
	if !bytes.Equal(resp, enc(0x7c, enc(0x82, want))) {
		t.Fatalf("card's challenge response %x, want %x", resp, enc(0x7c, enc(0x82, want)))
	}
	return s
}

// cmdAPDU builds a short APDU (data ≤ 255 bytes).
func cmdAPDU(ins, p1, p2 byte, data []byte) []byte {
	a := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		a = append(append(a, byte(len(data))), data...)
	}
	return a
}

// do sends a command through the test client (chaining, GET RESPONSE) and
// fails unless it succeeds.
func (tc *testCard) do(t testing.TB, ins, p1, p2 byte, data []byte) []byte {
	t.Helper()
	out, err := (&client{tx: tc.Transmit}).do(ins, p1, p2, data)
	if err != nil {
		t.Fatalf("INS %02X P1 %02X P2 %02X: %v", ins, p1, p2, err)
	}
	return out
}

// authDefault authenticates with the factory management key.
func (tc *testCard) authDefault(t testing.TB) {
	t.Helper()
	tc.authMgmt(t, tc.defaultMgmtAlg(), defaultMgmt)
}
