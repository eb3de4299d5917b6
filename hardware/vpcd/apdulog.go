package vpcd

import (
	"fmt"
	"io"
	"sync"
)

// LogAPDUs returns a Card that forwards to card and writes one line to w
// for every command APDU and every reset: "TAG CLA INS P1 P2 SW" in hex
// (e.g. "10000001 00 a4 04 00 9000") or "TAG reset". It never writes
// command or response data: a VERIFY carries the PIN. Lines from several
// cards may share w (each line is one Write), so TAG names the card.
// Write errors are ignored: the log is a test aid and never stops the card.
func LogAPDUs(card Card, w io.Writer, tag string) Card {
	return &apduLog{card: card, w: w, tag: tag}
}

type apduLog struct {
	card Card
	mu   sync.Mutex
	w    io.Writer
	tag  string
}

func (l *apduLog) ATR() []byte { return l.card.ATR() }

func (l *apduLog) Reset() {
	l.card.Reset()
	l.line(l.tag + " reset\n")
}

func (l *apduLog) Transmit(apdu []byte) []byte {
	resp := l.card.Transmit(apdu)
	hdr := make([]byte, 4)
	copy(hdr, apdu)
	sw := "----"
	if n := len(resp); n >= 2 {
		sw = fmt.Sprintf("%02x%02x", resp[n-2], resp[n-1])
	}
	l.line(fmt.Sprintf("%s %02x %02x %02x %02x %s\n", l.tag, hdr[0], hdr[1], hdr[2], hdr[3], sw))
	return resp
}

func (l *apduLog) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, s)
}
