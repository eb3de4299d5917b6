// Package vpcd connects a smart card to pcscd through vsmartcard-vpcd.
//
// The vpcd reader driver (libifdvpcd, loaded by pcscd) listens on a TCP port
// per reader; the card is the TCP client. Both directions frame every
// message as a 2-byte big-endian length and a payload. One-byte payloads
// from vpcd are control messages: 00 power off, 01 power on and 02 reset
// (no answer; the card's session is reset), 04 get ATR (answered with the
// framed ATR). Longer payloads are command APDUs, answered with the card's
// response APDU. A closed socket is a removed card.
//
// Serve keeps the card connected: it reconnects with backoff while pcscd is
// absent or restarting, and a Presence lets a caller pull the card out
// (close the socket, stay out) and insert it again.
//
// vpcd writes the length and the body of each message in two sends, so with
// Nagle's algorithm and delayed ACKs every APDU would cost ~40 ms. Serve sets
// TCP_NODELAY and, on Linux, TCP_QUICKACK before every read.
package vpcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Card is what the transport needs from a smart card. Implementations must
// be safe for use from one goroutine at a time (Serve never calls them
// concurrently).
type Card interface {
	// ATR returns the card's answer-to-reset.
	ATR() []byte
	// Reset clears the card's session state (power on, power off, reset).
	Reset()
	// Transmit executes one command APDU and returns response data followed
	// by SW1 SW2. It must never return an empty slice (vpcd takes that as a
	// removed card); Serve answers 6F00 if it does.
	Transmit(apdu []byte) []byte
}

// Control messages vpcd sends as one-byte payloads.
const (
	msgPowerOff byte = 0x00
	msgPowerOn  byte = 0x01
	msgReset    byte = 0x02
	msgATR      byte = 0x04
)

// Default reconnect backoff bounds and time out of the reader.
const (
	DefaultMinBackoff = 20 * time.Millisecond
	DefaultMaxBackoff = 500 * time.Millisecond
	DefaultMinOut     = time.Second
)

// Options tune Serve. The zero value is ready to use.
type Options struct {
	// Presence pulls the card out and inserts it again. nil: always inserted.
	Presence *Presence
	// MinBackoff and MaxBackoff bound the delay between failed connection
	// attempts (doubling from min to max). Zero: DefaultMinBackoff,
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MinOut is the least time a pulled card stays out, even if inserted
	// again sooner. pcscd notices a removal only at its next presence poll
	// (every 0.4 s): a card back before that poll looks to pcscd as if it
	// never left, while clients that hit the removal already saw it gone,
	// and pcscd then never reports the card again. Zero: DefaultMinOut.
	MinOut time.Duration
	// Logf, if set, receives one line per connection event (connected,
	// disconnected and why). It never receives APDU contents.
	Logf func(format string, args ...any)
}

// ErrBadAddress is returned by Serve when addr is not a host:port.
var ErrBadAddress = errors.New("vpcd address is not host:port")

// withDefaults returns o with the defaults its fields document filled in.
func (o Options) withDefaults() Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.MinOut <= 0 {
		o.MinOut = DefaultMinOut
	}
	if o.Presence == nil {
		o.Presence = NewPresence(true)
	}
	return o
}

// Serve connects card to the vpcd reader listening at addr (for example
// "127.0.0.1:35963") and answers vpcd until ctx is cancelled, then returns
// nil. While the card is inserted (see Presence) it reconnects with
// exponential backoff whenever the connection fails or is closed, so
// pcscd restarts are survived. It returns an error only for a nil card or a
// malformed addr.
func Serve(ctx context.Context, addr string, card Card, opts Options) error {
	if card == nil {
		return errors.New("serving vpcd: card is nil")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("serving vpcd on %q: %w", addr, errors.Join(ErrBadAddress, err))
	}
	opts = opts.withDefaults()
	minB, maxB, logf, minOut, p := opts.MinBackoff, opts.MaxBackoff, opts.Logf, opts.MinOut, opts.Presence
	var d net.Dialer
	backoff := minB
	var outUntil time.Time // a pulled card stays out until then
	for {
		in, changed := p.state()
		if !in {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		if wait := time.Until(outUntil); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-changed:
				t.Stop()
				continue
			case <-t.C:
			}
		}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-changed: // pulled (or re-inserted): re-evaluate at once
				t.Stop()
			case <-t.C:
			}
			backoff = min(backoff*2, maxB)
			continue
		}
		backoff = minB
		logf("vpcd: connected to %s", addr)
		err = serveConn(ctx, conn.(*net.TCPConn), card, changed)
		select {
		case <-ctx.Done():
			logf("vpcd: disconnected from %s: stopping", addr)
			return nil
		case <-changed:
			outUntil = time.Now().Add(minOut)
			logf("vpcd: card pulled out of %s", addr)
		default:
			logf("vpcd: disconnected from %s: %v", addr, err)
		}
	}
}

// serveConn answers vpcd on conn until the connection fails, ctx ends or
// presence changes (then the socket is closed: the card is pulled out).
func serveConn(ctx context.Context, conn *net.TCPConn, card Card, changed <-chan struct{}) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-changed:
		case <-done:
		}
		conn.Close()
	}()
	defer func() {
		close(done)
		wg.Wait()
	}()
	if err := conn.SetNoDelay(true); err != nil {
		return fmt.Errorf("setting TCP_NODELAY: %w", err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("reaching the socket: %w", err)
	}
	buf := make([]byte, 0xFFFF)
	for {
		if err := quickAck(rc); err != nil {
			return fmt.Errorf("setting TCP_QUICKACK: %w", err)
		}
		msg, err := readFrame(conn, buf)
		if err != nil {
			return err
		}
		reply, ok := handle(card, msg)
		if !ok {
			continue
		}
		if err := writeFrame(conn, reply); err != nil {
			return err
		}
	}
}

// handle answers one vpcd message; ok is false for messages with no answer.
func handle(card Card, msg []byte) (reply []byte, ok bool) {
	if len(msg) == 1 {
		switch msg[0] {
		case msgPowerOff, msgPowerOn, msgReset:
			card.Reset()
			return nil, false
		case msgATR:
			return card.ATR(), true
		default:
			// Unknown control byte: treat as a (malformed) APDU so vpcd
			// still gets an answer rather than hanging.
		}
	}
	resp := card.Transmit(msg)
	if len(resp) == 0 {
		resp = []byte{0x6F, 0x00}
	}
	return resp, true
}
