package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

var testATR = []byte{0x3b, 0x80, 0x80, 0x01, 0x01}

// fakeCard answers SELECT with 9000, "empty" (00 EE 00 00) with nothing,
// echo (00 EC 00 00 00 LcHi LcLo data) with data‖9000, and anything else with 6D00.
// Every Reset is reported on resets.
type fakeCard struct{ resets chan struct{} }

func newFakeCard() *fakeCard { return &fakeCard{resets: make(chan struct{}, 16)} }

func (c *fakeCard) ATR() []byte { return testATR }
func (c *fakeCard) Reset()      { c.resets <- struct{}{} }
func (c *fakeCard) Transmit(apdu []byte) []byte {
	switch {
	case len(apdu) >= 4 && apdu[1] == 0xA4:
		return []byte{0x90, 0x00}
	case len(apdu) >= 4 && apdu[1] == 0xEE:
		return nil
	case len(apdu) >= 7 && apdu[1] == 0xEC:
		return append(bytes.Clone(apdu[7:]), 0x90, 0x00)
	}
	return []byte{0x6D, 0x00}
}

// fakeVPCD is the reader side: a listener on 127.0.0.1:0.
type fakeVPCD struct {
	t  *testing.T
	ln *net.TCPListener
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeVPCD{t: t, ln: ln.(*net.TCPListener)}
}

func (v *fakeVPCD) addr() string { return v.ln.Addr().String() }

func (v *fakeVPCD) accept() net.Conn {
	v.t.Helper()
	c, err := v.ln.Accept()
	if err != nil {
		v.t.Fatalf("accepting the card: %v", err)
	}
	v.t.Cleanup(func() { c.Close() })
	return c
}

// noPendingConnection asserts no card connected that was not accepted.
func (v *fakeVPCD) noPendingConnection() {
	v.t.Helper()
	v.ln.SetDeadline(time.Now())
	defer v.ln.SetDeadline(time.Time{})
	if c, err := v.ln.Accept(); err == nil {
		c.Close()
		v.t.Fatal("the card reconnected while it should have stayed out")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		v.t.Fatalf("checking for pending connections: %v", err)
	}
}

func send(t *testing.T, c net.Conn, payload ...byte) {
	t.Helper()
	if err := writeFrame(c, payload); err != nil {
		t.Fatalf("sending %x: %v", payload, err)
	}
}

func recv(t *testing.T, c net.Conn) []byte {
	t.Helper()
	got, err := readFrame(c, make([]byte, MaxPayload))
	if err != nil {
		t.Fatalf("receiving: %v", err)
	}
	return bytes.Clone(got)
}

// serve runs Serve in the background and returns a cancel that waits for it
// to return and checks it returned nil.
func serve(t *testing.T, addr string, card Card, opts Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, card, opts) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestServeAnswersVPCD(t *testing.T) {
	v := newFakeVPCD(t)
	card := newFakeCard()
	serve(t, v.addr(), card, Options{})
	c := v.accept()

	echo := append([]byte{0x00, 0xEC, 0x00, 0x00, 0x00, 0x01, 0x2C}, bytes.Repeat([]byte{0xAB}, 300)...)
	tests := []struct {
		name    string
		msg     []byte
		want    []byte // nil: no answer expected
		resetOK bool   // the card must be reset
	}{
		{name: "power on resets", msg: []byte{msgPowerOn}, resetOK: true},
		{name: "ATR", msg: []byte{msgATR}, want: testATR},
		{name: "SELECT", msg: []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, want: []byte{0x90, 0x00}},
		{name: "extended APDU over 255 bytes", msg: echo, want: append(bytes.Repeat([]byte{0xAB}, 300), 0x90, 0x00)},
		{name: "empty card answer becomes 6F00", msg: []byte{0x00, 0xEE, 0x00, 0x00}, want: []byte{0x6F, 0x00}},
		{name: "unknown control byte gets an answer", msg: []byte{0x07}, want: []byte{0x6D, 0x00}},
		{name: "reset", msg: []byte{msgReset}, resetOK: true},
		{name: "power off resets", msg: []byte{msgPowerOff}, resetOK: true},
		{name: "ATR after power off", msg: []byte{msgATR}, want: testATR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send(t, c, tt.msg...)
			if tt.resetOK {
				<-card.resets
			}
			if tt.want == nil {
				return
			}
			if got := recv(t, c); !bytes.Equal(got, tt.want) {
				t.Errorf("answer = %x, want %x", got, tt.want)
			}
		})
	}
	// Control messages without an answer must not have produced one: the
	// next frame on the wire is the answer to the next request.
	send(t, c, msgATR)
	if got := recv(t, c); !bytes.Equal(got, testATR) {
		t.Errorf("stray answer on the wire: %x", got)
	}
}

func TestServeReconnectsAfterReaderCloses(t *testing.T) {
	v := newFakeVPCD(t)
	serve(t, v.addr(), newFakeCard(), Options{})
	for i := range 3 { // pcscd restarting three times
		c := v.accept()
		send(t, c, msgATR)
		if got := recv(t, c); !bytes.Equal(got, testATR) {
			t.Fatalf("connection %d: ATR = %x", i, got)
		}
		c.Close()
	}
}

func TestServeWaitsForReaderToAppear(t *testing.T) {
	v := newFakeVPCD(t)
	addr := v.addr()
	v.ln.Close() // nothing listening: pcscd not started yet
	serve(t, addr, newFakeCard(), Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("accepting the card: %v", err)
	}
	defer c.Close()
	send(t, c, msgATR)
	if got := recv(t, c); !bytes.Equal(got, testATR) {
		t.Errorf("ATR = %x", got)
	}
}

func TestPullAndInsert(t *testing.T) {
	v := newFakeVPCD(t)
	p := NewPresence(true)
	stop := serve(t, v.addr(), newFakeCard(), Options{Presence: p, MinOut: time.Nanosecond})
	c := v.accept()

	p.Pull()
	if p.Inserted() {
		t.Error("Inserted() = true after Pull")
	}
	// The reader sees the card go: its socket closes.
	if _, err := readFrame(c, make([]byte, MaxPayload)); !errors.Is(err, io.EOF) {
		t.Fatalf("reading after Pull: %v, want EOF", err)
	}
	p.Pull() // idempotent

	p.Insert()
	c = v.accept()
	send(t, c, msgATR)
	if got := recv(t, c); !bytes.Equal(got, testATR) {
		t.Errorf("ATR after insert = %x", got)
	}

	p.Pull()
	if _, err := readFrame(c, make([]byte, MaxPayload)); !errors.Is(err, io.EOF) {
		t.Fatalf("reading after second Pull: %v, want EOF", err)
	}
	stop()
	v.noPendingConnection()
}

// A card pulled and inserted at once stays out for MinOut: it must not
// reconnect before.
func TestPulledCardStaysOutForMinOut(t *testing.T) {
	v := newFakeVPCD(t)
	p := NewPresence(true)
	stop := serve(t, v.addr(), newFakeCard(), Options{Presence: p, MinOut: time.Hour})
	c := v.accept()
	p.Pull()
	if _, err := readFrame(c, make([]byte, MaxPayload)); !errors.Is(err, io.EOF) {
		t.Fatalf("reading after Pull: %v, want EOF", err)
	}
	p.Insert()
	stop()
	v.noPendingConnection()
}

func TestServeStartsPulledOut(t *testing.T) {
	v := newFakeVPCD(t)
	p := NewPresence(false)
	serve(t, v.addr(), newFakeCard(), Options{Presence: p})
	p.Insert()
	c := v.accept()
	send(t, c, msgATR)
	if got := recv(t, c); !bytes.Equal(got, testATR) {
		t.Errorf("ATR = %x", got)
	}
}

func TestServeStopsWhileReaderAbsent(t *testing.T) {
	v := newFakeVPCD(t)
	addr := v.addr()
	v.ln.Close()
	stop := serve(t, addr, newFakeCard(), Options{})
	stop() // must return nil promptly; serve checks it
}

func TestServeRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		addr string
		card Card
	}{
		{name: "no port", addr: "127.0.0.1", card: newFakeCard()},
		{name: "empty", addr: "", card: newFakeCard()},
		{name: "nil card", addr: "127.0.0.1:1", card: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Serve(context.Background(), tt.addr, tt.card, Options{}); err == nil {
				t.Error("Serve returned nil")
			} else if tt.card != nil && !errors.Is(err, ErrBadAddress) {
				t.Errorf("Serve = %v, want ErrBadAddress", err)
			}
		})
	}
}

func TestFrames(t *testing.T) {
	tests := []struct {
		name    string
		wire    []byte
		want    []byte
		wantErr error
	}{
		{name: "ATR request", wire: []byte{0, 1, 4}, want: []byte{4}},
		{name: "empty payload", wire: []byte{0, 0}, want: []byte{}},
		{name: "truncated length", wire: []byte{0}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated body", wire: []byte{0, 3, 1}, wantErr: io.ErrUnexpectedEOF},
		{name: "nothing", wire: nil, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFrame(bytes.NewReader(tt.wire), make([]byte, MaxPayload))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("readFrame error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(got, tt.want) {
				t.Errorf("readFrame = %x, want %x", got, tt.want)
			}
		})
	}
	if err := writeFrame(io.Discard, make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("writeFrame(65536 bytes) = %v, want ErrTooLong", err)
	}
	var b bytes.Buffer
	if err := writeFrame(&b, make([]byte, MaxPayload)); err != nil {
		t.Fatalf("writeFrame(65535 bytes): %v", err)
	}
	if n := binary.BigEndian.Uint16(b.Bytes()); n != MaxPayload || b.Len() != MaxPayload+2 {
		t.Errorf("65535-byte frame: length %d, %d bytes on the wire", n, b.Len())
	}
}

// FuzzReadFrame checks that any byte stream parses into frames that write
// back identically, without panicking. Seeds: testdata/frames.bin.
func FuzzReadFrame(f *testing.F) {
	seed, err := os.ReadFile("testdata/frames.bin")
	if err != nil || len(seed) == 0 {
		f.Fatalf("reading seed testdata/frames.bin: %v (%d bytes)", err, len(seed))
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Fuzz(func(t *testing.T, wire []byte) {
		r := bytes.NewReader(wire)
		buf := make([]byte, MaxPayload)
		var out bytes.Buffer
		consumed := 0
		for {
			p, err := readFrame(r, buf)
			if err != nil {
				break
			}
			consumed += 2 + len(p)
			if err := writeFrame(&out, p); err != nil {
				t.Fatalf("writeFrame of a parsed frame: %v", err)
			}
		}
		if !bytes.Equal(out.Bytes(), wire[:consumed]) {
			t.Errorf("frames did not round-trip")
		}
	})
}
