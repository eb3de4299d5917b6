package ui

import (
	"bytes"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestSecureOutputResolvesPlaceholders: the view text of a registered
// secret has no byte of it and the width of its cells; written through
// secureOutput, split at any byte, it comes out as the secret; after
// release it does not.
func TestSecureOutputResolvesPlaceholders(t *testing.T) {
	for _, secret := range []string{"Tr0ub4dor&3-correct-horse", "multi\nline codes\n\n", "wide 密码 é", "a\x1b[31mb"} {
		var sink bytes.Buffer
		o := newSecureOutput(&sink)
		value := []byte(secret)
		text, slot, ok := o.register(func() []byte { return value })
		if !ok {
			t.Fatalf("%q: not registered", secret)
		}
		for _, line := range strings.Split(strings.TrimRight(secret, "\n"), "\n") {
			if len(line) > 2 && strings.Contains(text, line) {
				t.Errorf("%q: the view text holds the secret", secret)
			}
		}
		want := strings.TrimRight(secret, "\n")
		if !strings.Contains(secret, "\x1b") {
			wl, tl := strings.Split(want, "\n"), strings.Split(text, "\n")
			for i := range wl {
				if i >= len(tl) || ansi.StringWidth(wl[i]) != ansi.StringWidth(tl[i]) {
					t.Errorf("%q: line %d of the view text is not as wide as the secret's", secret, i)
				}
			}
		} else {
			want = "a?[31mb" // a control character is drawn as "?", never sent raw
		}
		frame := []byte("\x1b[H" + text + "\x1b[K")
		for cut := 0; cut <= len(frame); cut++ {
			sink.Reset()
			o.Write(frame[:cut])
			o.Write(frame[cut:])
			if got := sink.String(); got != "\x1b[H"+want+"\x1b[K" {
				t.Fatalf("%q cut at %d: output differs from the secret", secret, cut)
			}
		}
		o.release(slot)
		sink.Reset()
		o.Write(frame)
		if strings.Contains(sink.String(), "Tr0ub") {
			t.Errorf("a released placeholder still resolves")
		}
		// A wiped value resolves to "?", never to stale bytes.
		text, _, _ = o.register(func() []byte { return value })
		clear(value)
		value = nil
		sink.Reset()
		o.Write([]byte(text))
		if strings.Trim(sink.String(), "?\n") != "" {
			t.Errorf("%q: a wiped secret resolves to bytes", secret)
		}
		o.close()
	}
}

// TestSecureOutputKeepsTheTerminal: wrapping a terminal keeps its Fd, so
// the program still puts it in raw mode and reads its size.
func TestSecureOutputKeepsTheTerminal(t *testing.T) {
	f := newSecureOutput(nopFile{}).output()
	if _, ok := f.(ttyFile); !ok {
		t.Errorf("the wrapped terminal has no Fd")
	}
	if _, ok := newSecureOutput(&bytes.Buffer{}).output().(ttyFile); ok {
		t.Errorf("a buffer became a terminal")
	}
}

type nopFile struct{}

func (nopFile) Read([]byte) (int, error)    { return 0, nil }
func (nopFile) Write(p []byte) (int, error) { return len(p), nil }
func (nopFile) Close() error                { return nil }
func (nopFile) Fd() uintptr                 { return 99 }

// TestSecureOutputFull: a secret with more cells than placeholders is
// refused (the panel then shows a notice, never the text).
func TestSecureOutputFull(t *testing.T) {
	o := newSecureOutput(&bytes.Buffer{})
	big := bytes.Repeat([]byte("x"), phSize+1)
	if _, _, ok := o.register(func() []byte { return big }); ok {
		t.Errorf("registered more cells than placeholders")
	}
	_, a, ok1 := o.register(func() []byte { return big[:phSize/2] })
	_, _, ok2 := o.register(func() []byte { return big[:phSize/2] })
	_, _, ok3 := o.register(func() []byte { return big[:1] })
	if !ok1 || !ok2 || ok3 {
		t.Errorf("placeholders not reserved exactly: %v %v %v", ok1, ok2, ok3)
	}
	o.release(a)
	if _, _, ok := o.register(func() []byte { return big[:10] }); !ok {
		t.Errorf("released placeholders not reused")
	}
}
