package vpcd

import (
	"strings"
	"testing"
)

type echoCard struct{ resets int }

func (c *echoCard) ATR() []byte              { return []byte{0x3b} }
func (c *echoCard) Reset()                   { c.resets++ }
func (c *echoCard) Transmit(a []byte) []byte { return []byte{0x63, 0xc2} }

// TestLogAPDUsHeaderOnly checks that the log names the command and status
// word and never the data (a VERIFY carries the PIN).
func TestLogAPDUsHeaderOnly(t *testing.T) {
	var b strings.Builder
	c := &echoCard{}
	l := LogAPDUs(c, &b, "42")
	verify := []byte{0x00, 0x20, 0x00, 0x80, 0x08, '3', '1', '4', '1', '5', '9', 0xff, 0xff}
	if got := l.Transmit(verify); string(got) != "\x63\xc2" {
		t.Fatalf("Transmit = %x, want the card's answer 63c2", got)
	}
	l.Transmit([]byte{0x00}) // shorter than a header: logged, not a panic
	l.Reset()
	want := "42 00 20 00 80 63c2\n42 00 00 00 00 63c2\n42 reset\n"
	if b.String() != want {
		t.Errorf("log = %q, want %q", b.String(), want)
	}
	if strings.Contains(b.String(), "31") || strings.Contains(b.String(), "314159") {
		t.Errorf("log %q contains PIN bytes", b.String())
	}
	if c.resets != 1 {
		t.Errorf("card resets = %d, want 1 (forwarded)", c.resets)
	}
}
