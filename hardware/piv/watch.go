package piv

import (
	"context"
	"errors"
	"sort"
	"time"

	"breakglass/hardware"
)

// Event is a key appearing in or leaving a reader.
type Event struct {
	Serial   uint32
	Reader   string
	Inserted bool // false: the key was removed (or its reader vanished)
}

// Watch polls the readers every interval and sends an Event whenever a key
// (by serial) appears or disappears; keys present at the start are sent as
// insertions first. Polling asks pcscd for reader states only; a card is
// talked to (to read its serial) only when pcscd reports it newly inserted,
// so Watch never disturbs another program's session with the key. A reader
// busy with one of our own operations or held by another program keeps the
// key it had: busy is not removed. If pcscd goes away every key counts as
// removed. The channel is closed when ctx ends.
func (s *Station) Watch(ctx context.Context, interval time.Duration) <-chan Event {
	ch := make(chan Event, 16)
	go func() {
		defer close(ch)
		t := time.NewTicker(interval)
		defer t.Stop()
		state := map[string]watched{}
		for {
			next, events := s.scan(state)
			state = next
			for _, e := range events {
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// watched is what Watch knows of a reader's card: its serial (0: not a
// key we can identify) and pcscd's insertion counter when it was read.
type watched struct {
	serial uint32
	events uint32
	stale  bool // could not be re-read (busy): read again next time
}

// scan looks at every reader once and returns the new reader state and the
// events that lead from prev to it (removals first, each group sorted by
// reader).
func (s *Station) scan(prev map[string]watched) (map[string]watched, []Event) {
	keep := func() (map[string]watched, []Event) {
		next := map[string]watched{}
		for r, w := range prev {
			next[r] = w
		}
		return next, nil // a transient failure: keep what we knew
	}
	readers, err := s.cards()
	if err != nil && !errors.Is(err, hardware.ErrNoService) {
		return keep()
	}
	states, err := s.states(readers)
	if err != nil {
		if !errors.Is(err, hardware.ErrNoService) {
			return keep()
		}
		states = nil
	}
	next := map[string]watched{}
	for _, r := range readers {
		st, ok := states[r]
		if !ok || !st.present {
			continue
		}
		old, known := prev[r]
		if known && !old.stale && old.events == st.events {
			next[r] = old // the same card as before: no need to talk to it
			continue
		}
		release, ok := s.tryLock(r)
		if !ok {
			if known {
				next[r] = watched{serial: old.serial, events: old.events, stale: true}
			}
			continue
		}
		sn, err := s.probe(r)
		release()
		switch {
		case err == nil:
			next[r] = watched{serial: sn, events: st.events}
			s.rememberAt(r, sn, st)
		case errors.Is(err, ErrBusy):
			if known {
				next[r] = watched{serial: old.serial, events: old.events, stale: true}
			}
		case errors.Is(err, hardware.ErrRemoved):
			// Gone again already; look next time.
		default:
			next[r] = watched{serial: 0, events: st.events} // not a key we can identify
		}
	}
	var removed, inserted []Event
	for r, w := range prev {
		if w.serial != 0 && next[r].serial != w.serial {
			removed = append(removed, Event{Serial: w.serial, Reader: r})
		}
	}
	for r, w := range next {
		if w.serial != 0 && prev[r].serial != w.serial {
			inserted = append(inserted, Event{Serial: w.serial, Reader: r, Inserted: true})
		}
	}
	byReader := func(ev []Event) {
		sort.Slice(ev, func(i, j int) bool { return ev[i].Reader < ev[j].Reader })
	}
	byReader(removed)
	byReader(inserted)
	return next, append(removed, inserted...)
}
