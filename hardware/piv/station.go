// Package piv is the production hardware.Token: YubiKeys reached through
// PC/SC (pcscd and libpcsclite) with github.com/go-piv/piv-go. It is the
// only package that imports piv-go and the only one using cgo.
//
// piv-go opens a card exclusively until Close, so nothing here holds a key
// between operations: every Token method (and every Token.Session) finds
// the key's reader (by serial; without talking to the card while pcscd's
// event counter says it was not changed), opens it, checks its serial, does
// its work in that one card session and closes it. Within
// this process a per-reader lock keeps our own operations and the Watch poll
// from tripping over each other; another program holding the key shows up as
// ErrBusy.
//
// Key operations go through piv-go. Probing readers, listing keys and the
// metadata piv-go lacks (PIN/PUK/management-key defaults, ykman's PIVMAN
// flags) use a minimal PC/SC client of our own (raw.go): piv-go's Open
// leaks an exclusive handle when the card is not a PIV card or vanishes
// mid-open, which would lock the reader until the process exits, so piv-go
// only ever opens a reader just probed to hold the wanted key.
//
// Errors follow hardware's contract: *hardware.PINError, ErrSlotEmpty,
// ErrRemoved, ErrNoService, ErrSecurityStatus (wrong or missing management
// key or PIN), plus this package's ErrBusy; the PC/SC detail is kept.
//
// The PC/SC socket is chosen by libpcsclite from PCSCLITE_CSOCK_NAME (the
// tests point it at a private pcscd), read once at the first PC/SC call.
package piv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
	"breakglass/internal/attest"
)

// connections counts the card connections this process opened (ours in
// raw.go and piv-go's), for the tests that hold card sessions to a budget.
var connections atomic.Int64

// Station lists, opens and watches the YubiKeys connected through PC/SC.
// It implements hardware.Station. The zero value is not usable; call
// NewStation. A Station is safe for concurrent use.
type Station struct {
	mu      sync.Mutex
	locks   map[string]chan struct{} // reader -> held while one of our sessions is open on it
	serials map[string]uint32        // reader -> serial last seen there
	// events holds, for a reader in serials, pcscd's card event counter
	// read just before that serial was: while the counter is unchanged the
	// same card is in the reader, and locate need not talk to it.
	events  map[string]uint32
	touches map[uint32]*hardware.TouchCache // serial -> when its key was last touched

	// cards, states and probe are the PC/SC edges, replaced in tests of Watch.
	cards  func() ([]string, error)
	states func(readers []string) (map[string]readerState, error)
	probe  func(reader string) (uint32, error)
}

var _ hardware.Station = (*Station)(nil)

// NewStation returns a Station over the system's PC/SC service (or the one
// named by PCSCLITE_CSOCK_NAME). It does not contact pcscd until used.
func NewStation() *Station {
	s := &Station{locks: map[string]chan struct{}{}, serials: map[string]uint32{}, events: map[string]uint32{}, touches: map[uint32]*hardware.TouchCache{}}
	s.cards = listReaders
	s.states = readerStates
	s.probe = rawProbe
	return s
}

func listReaders() ([]string, error) {
	readers, err := gopiv.Cards()
	if err != nil {
		return nil, fmt.Errorf("listing smart card readers: %w", mapErr(err))
	}
	return readers, nil
}

// lockFor returns the reader's lock channel, creating it on first use.
func (s *Station) lockFor(reader string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[reader]
	if !ok {
		l = make(chan struct{}, 1)
		s.locks[reader] = l
	}
	return l
}

// lock waits for the reader to be free of our own sessions, or ctx to end.
func (s *Station) lock(ctx context.Context, reader string) (release func(), err error) {
	l := s.lockFor(reader)
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tryLock takes the reader's lock only if it is free right now.
func (s *Station) tryLock(reader string) (release func(), ok bool) {
	l := s.lockFor(reader)
	select {
	case l <- struct{}{}:
		return func() { <-l }, true
	default:
		return nil, false
	}
}

// rememberAt records serial in reader, read after pcscd reported st for
// it (the zero readerState: unknown, so the next locate probes again).
func (s *Station) rememberAt(reader string, serial uint32, st readerState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r, sn := range s.serials {
		if sn == serial && r != reader {
			delete(s.serials, r)
			delete(s.events, r)
		}
	}
	s.serials[reader] = serial
	if st.present {
		s.events[reader] = st.events
	} else {
		delete(s.events, reader)
	}
}

func (s *Station) forget(reader string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.serials, reader)
	delete(s.events, reader)
}

// stateOf asks pcscd for reader's state without talking to its card; the
// zero readerState if pcscd would not say.
func (s *Station) stateOf(reader string) readerState {
	st, err := s.states([]string{reader})
	if err != nil {
		return readerState{}
	}
	return st[reader]
}

// sameCard reports whether the card in reader is the one whose serial was
// remembered there: pcscd's event counter has not moved since.
func (s *Station) sameCard(reader string) bool {
	s.mu.Lock()
	ev, ok := s.events[reader]
	s.mu.Unlock()
	if !ok {
		return false
	}
	st := s.stateOf(reader)
	return st.present && st.events == ev
}

// serialIn returns the serial last seen in reader.
func (s *Station) serialIn(reader string) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.serials[reader]
	return sn, ok
}

// readerOf returns the reader the serial was last seen in, or "".
func (s *Station) readerOf(serial uint32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r, sn := range s.serials {
		if sn == serial {
			return r
		}
	}
	return ""
}

// openReader opens the PIV applet of the card in reader with piv-go,
// errors mapped. Only called on a reader just probed to hold our key (see
// raw.go for why).
func openReader(reader string) (*gopiv.YubiKey, error) {
	connections.Add(1)
	yk, err := gopiv.Open(reader)
	if err != nil {
		return nil, fmt.Errorf("opening reader %q: %w", reader, mapErr(err))
	}
	return yk, nil
}

// Keys lists every connected YubiKey (every reader holding a card that
// answers as a PIV applet). Readers without a card are skipped; a card that
// cannot be identified (busy, not a PIV card) is listed with its error.
// ErrNoService (wrapped) if pcscd is not reachable.
func (s *Station) Keys(ctx context.Context) ([]hardware.Listed, error) {
	readers, err := s.cards()
	if err != nil {
		return nil, err
	}
	var out []hardware.Listed
	states, _ := s.states(readers) // best effort: without it locate probes
	for _, r := range readers {
		release, err := s.lock(ctx, r)
		if err != nil {
			return nil, err
		}
		info, err := rawInfo(r)
		release()
		switch {
		case err == nil:
			s.rememberAt(r, info.Serial, states[r])
			out = append(out, hardware.Listed{Info: info})
		case isNoCard(err):
			s.forget(r)
		case errors.Is(err, hardware.ErrNoService):
			return nil, err
		default:
			out = append(out, hardware.Listed{Info: hardware.Info{Reader: r}, Err: err})
		}
	}
	// Stable order, by serial: the console lists keys as custodians see them.
	slices.SortStableFunc(out, func(a, b hardware.Listed) int { return cmp.Compare(a.Info.Serial, b.Info.Serial) })
	return out, nil
}

// RetriesUnknown is Info.PINRetries when the card would not say: the PIN was
// already verified in the card's current session, so the counter is full.
const RetriesUnknown = hardware.RetriesUnknown

// Open returns the token with the given serial. It checks the key is
// connected now (hardware.ErrNotFound if not) but holds nothing open.
func (s *Station) Open(ctx context.Context, serial uint32) (hardware.Token, error) {
	return s.OpenToken(ctx, serial)
}

// OpenToken is Open returning the concrete *Token, for the administrative
// helpers (PIN-protected management key, metadata, reset) that
// hardware.Token does not have.
func (s *Station) OpenToken(ctx context.Context, serial uint32) (*Token, error) {
	_, release, err := s.locate(ctx, serial)
	if err != nil {
		return nil, err
	}
	release()
	return &Token{serial: serial, st: s, touch: s.touchCache(serial)}, nil
}

// touchCache returns the touch cache of the key with serial: a YubiKey
// caches a touch for the whole device, so every Token of one serial shares it.
func (s *Station) touchCache(serial uint32) *hardware.TouchCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.touches[serial]
	if !ok {
		c = &hardware.TouchCache{}
		s.touches[serial] = c
	}
	return c
}

// locate finds the reader holding serial and returns it locked: the reader
// it was last seen in first (without talking to its card while pcscd's
// event counter says the card was not changed since its serial was read),
// then every reader. The caller must call release; the card session it
// opens checks the serial again. hardware.ErrNotFound when absent; ErrBusy when absent from every
// reader we could look into and some reader was held by another program.
func (s *Station) locate(ctx context.Context, serial uint32) (string, func(), error) {
	if r := s.readerOf(serial); r != "" {
		release, err := s.lock(ctx, r)
		if err != nil {
			return "", nil, err
		}
		if s.sameCard(r) {
			return r, release, nil
		}
		st := s.stateOf(r)
		sn, err := s.probe(r)
		if err == nil && sn == serial {
			s.rememberAt(r, sn, st)
			return r, release, nil
		}
		release()
		if err != nil {
			if errors.Is(err, ErrBusy) || errors.Is(err, hardware.ErrNoService) {
				return "", nil, err
			}
			s.forget(r)
		}
	}
	readers, err := s.cards()
	if err != nil {
		return "", nil, err
	}
	states, _ := s.states(readers) // best effort, as in Keys
	var busy error
	for _, r := range readers {
		release, ok := s.tryLock(r)
		if !ok {
			if sn, known := s.serialIn(r); known && sn != serial {
				continue // one of our own sessions uses it: another key
			}
			var err error // maybe ours (Watch reading it, or unknown): wait
			if release, err = s.lock(ctx, r); err != nil {
				return "", nil, err
			}
		}
		sn, err := s.probe(r)
		switch {
		case err == nil:
			s.rememberAt(r, sn, states[r])
			if sn == serial {
				return r, release, nil
			}
		case errors.Is(err, hardware.ErrNoService):
			release()
			return "", nil, err
		case errors.Is(err, ErrBusy):
			busy = err
		case isNoCard(err):
			s.forget(r)
		}
		release()
	}
	if busy != nil {
		return "", nil, fmt.Errorf("YubiKey %d not found; a reader could not be checked: %w", serial, busy)
	}
	return "", nil, fmt.Errorf("YubiKey %d: %w", serial, hardware.ErrNotFound)
}

// formFactorName names a form factor the way hardware.Info documents it
// ("USB-A keychain"); "" for none or unknown.
func formFactorName(f gopiv.Formfactor) string {
	return formFactorNameByte(byte(f))
}

// formFactorNameByte names the device-info form factor byte with the one
// table in internal/attest (the device-info byte and the attested byte share
// their encoding); "" for none or unknown.
func formFactorNameByte(f byte) string {
	return attest.FormFactor(f).Name()
}
