package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
		says string
	}{
		{name: "help", args: []string{"-h"}, want: 0, says: "SIGUSR1"},
		{name: "no port", args: []string{"--serial", "1"}, want: 2, says: "--port"},
		{name: "port too big", args: []string{"--port", "70000", "--serial", "1"}, want: 2, says: "--port"},
		{name: "no serial", args: []string{"--port", "1"}, want: 2, says: "--serial"},
		{name: "serial too big", args: []string{"--port", "1", "--serial", "4294967296"}, want: 2, says: "--serial"},
		{name: "negative touch delay", args: []string{"--port", "1", "--serial", "1", "--touch-delay", "-1s"}, want: 2, says: "--touch-delay"},
		{name: "extra argument", args: []string{"--port", "1", "--serial", "1", "extra"}, want: 2, says: "extra"},
		{name: "unknown flag", args: []string{"--bogus"}, want: 2, says: "bogus"},
		{name: "unknown firmware", args: []string{"--port", "1", "--serial", "1", "--firmware", "5.2.7"}, want: 2, says: "5.4.3, 5.7.4"},
		{name: "unknown test root", args: []string{"--port", "1", "--serial", "1", "--test-root", "yubico"}, want: 2, says: "--test-root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(context.Background(), tt.args, &stderr); got != tt.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", got, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("stderr does not mention %q:\n%s", tt.says, stderr.String())
			}
		})
	}
}

// reader is the vpcd side of one connection.
type reader struct {
	t *testing.T
	c net.Conn
}

func (r reader) send(payload ...byte) {
	r.t.Helper()
	out := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := r.c.Write(append(out, payload...)); err != nil {
		r.t.Fatalf("sending %x: %v", payload, err)
	}
}

func (r reader) recv() []byte {
	r.t.Helper()
	var hdr [2]byte
	if _, err := io.ReadFull(r.c, hdr[:]); err != nil {
		r.t.Fatalf("receiving: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r.c, b); err != nil {
		r.t.Fatalf("receiving: %v", err)
	}
	return b
}

func (r reader) apdu(cmd ...byte) []byte {
	r.t.Helper()
	r.send(cmd...)
	return r.recv()
}

// sw returns the status word ending a response.
func sw(resp []byte) uint16 {
	if len(resp) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(resp[len(resp)-2:])
}

var selectPIV = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}

// start runs the command against a fresh listener and returns the
// listener, a stop function returning the exit code, and stderr.
func start(t *testing.T, args ...string) (net.Listener, func() int, *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"--port", port}, args...), stderr) }()
	stopped, code := false, 0
	stop := func() int {
		if !stopped {
			stopped = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return ln, stop, stderr
}

func accept(t *testing.T, ln net.Listener) reader {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return reader{t: t, c: c}
}

func TestServesTheCardAndExitsZero(t *testing.T) {
	ln, stop, stderr := start(t, "--serial", "12345678")
	r := accept(t, ln)
	r.send(0x01) // power on
	if atr := r.apdu(0x04); !bytes.HasSuffix(atr, []byte("YubiKey@")) {
		t.Errorf("ATR %x is not the YubiKey 5 ATR", atr)
	}
	if got := sw(r.apdu(selectPIV...)); got != 0x9000 {
		t.Fatalf("SELECT PIV: SW %04X", got)
	}
	if got := r.apdu(0x00, 0xF8, 0x00, 0x00); !bytes.Equal(got, []byte{0x00, 0xBC, 0x61, 0x4E, 0x90, 0x00}) {
		t.Errorf("GET SERIAL = %x, want 00bc614e9000", got)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d after stop, want 0; stderr:\n%s", code, stderr)
	}
	if want := "virtual YubiKey serial 12345678 on vpcd port "; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// verifyWrong sends a wrong PIN and returns the status word.
func verifyWrong(r reader) uint16 {
	return sw(r.apdu(0x00, 0x20, 0x00, 0x80, 0x08, '9', '9', '9', '9', '9', '9', 0xFF, 0xFF))
}

func TestStateSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.json")
	ln, stop, stderr := start(t, "--serial", "222", "--state", state)
	r := accept(t, ln)
	r.apdu(selectPIV...)
	if got := verifyWrong(r); got != 0x63C2 {
		t.Fatalf("wrong PIN: SW %04X, want 63C2", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatalf("state file not written: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(state), ".*tmp*")); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %v", tmp)
	}

	ln, stop, stderr = start(t, "--serial", "222", "--state", state)
	r = accept(t, ln)
	r.apdu(selectPIV...)
	if got := sw(r.apdu(0x00, 0x20, 0x00, 0x80)); got != 0x63C2 {
		t.Errorf("PIN retries after restart: SW %04X, want 63C2 (the wrong PIN before the restart counts)", got)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}
}

func TestStateOfAnotherSerialIsRefused(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.json")
	ln, stop, _ := start(t, "--serial", "333", "--state", state)
	accept(t, ln)
	stop()

	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--port", "1", "--serial", "334", "--state", state}, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), state) {
		t.Errorf("error does not name the state file:\n%s", stderr.String())
	}
}

func TestSignalsPullAndInsert(t *testing.T) {
	ln, _, stderr := start(t, "--serial", "444")
	r := accept(t, ln)
	if atr := r.apdu(0x04); len(atr) == 0 {
		t.Fatal("no ATR")
	}
	// The command must be listening for the signals before we send them.
	for !strings.Contains(stderr.String(), "virtual YubiKey serial 444") {
		r.apdu(0x04)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r.c, make([]byte, 1)); err != io.EOF {
		t.Fatalf("reading after SIGUSR1: %v, want EOF (card pulled)", err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	r = accept(t, ln) // re-inserted
	if atr := r.apdu(0x04); len(atr) == 0 {
		t.Fatal("no ATR after re-insert")
	}
}

func TestFirmwareProfile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.json")
	ln, stop, stderr := start(t, "--serial", "444", "--firmware", "5.7.4", "--state", state)
	r := accept(t, ln)
	r.apdu(selectPIV...)
	if v := r.apdu(0x00, 0xfd, 0x00, 0x00); !bytes.Equal(v, []byte{5, 7, 4, 0x90, 0x00}) {
		t.Errorf("GET VERSION answered %x, want 050704 9000", v)
	}
	if m := r.apdu(0x00, 0xf7, 0x00, 0x9b); len(m) < 3 || m[2] != 0x0a {
		t.Errorf("management key metadata %x: want AES-192 (0A) on 5.7.4", m)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--port", "1", "--serial", "444", "--state", state}, &out); code != 1 {
		t.Errorf("a 5.7.4 state file loaded as firmware 5.4.3: exit %d, want 1", code)
	}
}
