package piv

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"breakglass/hardware"
)

// fakeReaders is what the PC/SC edge reports in one poll.
type fakeReaders struct {
	listErr  error
	order    []string          // readers listed
	empty    map[string]bool   // readers without a card
	counters map[string]uint32 // pcscd insertion counters
	serials  map[string]uint32 // probe answers
	errs     map[string]error  // probe failures
	probed   []string          // readers whose card was talked to
}

func (f *fakeReaders) install(s *Station) {
	s.cards = func() ([]string, error) { return f.order, f.listErr }
	s.states = func(rs []string) (map[string]readerState, error) {
		out := map[string]readerState{}
		for _, r := range rs {
			out[r] = readerState{present: !f.empty[r], events: f.counters[r]}
		}
		return out, nil
	}
	s.probe = func(r string) (uint32, error) {
		f.probed = append(f.probed, r)
		if err, ok := f.errs[r]; ok {
			return 0, err
		}
		return f.serials[r], nil
	}
}

func TestScan(t *testing.T) {
	busy := &classified{ErrBusy, fmt.Errorf("sharing violation")}
	gone := &classified{hardware.ErrRemoved, fmt.Errorf("no smart card")}
	notPIV := fmt.Errorf("selecting the PIV applet: card answered 6a82")
	noService := fmt.Errorf("listing: %w", hardware.ErrNoService)
	w := func(sn, ev uint32) watched { return watched{serial: sn, events: ev} }
	tests := []struct {
		name       string
		prev       map[string]watched
		now        fakeReaders
		heldByUs   string // a reader our own operation holds during the scan
		wantState  map[string]watched
		want       []Event
		wantProbed []string
	}{
		{"first sight", map[string]watched{},
			fakeReaders{order: []string{"B", "A"}, serials: map[string]uint32{"A": 1, "B": 2}}, "",
			map[string]watched{"A": w(1, 0), "B": w(2, 0)},
			[]Event{{1, "A", true}, {2, "B", true}}, []string{"B", "A"}},
		{"same card is not talked to", map[string]watched{"A": w(1, 4)},
			fakeReaders{order: []string{"A"}, counters: map[string]uint32{"A": 4}, serials: map[string]uint32{"A": 1}}, "",
			map[string]watched{"A": w(1, 4)}, nil, nil},
		{"card pulled, reader stays", map[string]watched{"A": w(1, 0)},
			fakeReaders{order: []string{"A"}, empty: map[string]bool{"A": true}}, "",
			map[string]watched{}, []Event{{1, "A", false}}, nil},
		{"reader vanished", map[string]watched{"A": w(1, 0), "B": w(2, 0)},
			fakeReaders{order: []string{"B"}, serials: map[string]uint32{"B": 2}}, "",
			map[string]watched{"B": w(2, 0)}, []Event{{1, "A", false}}, nil},
		{"swapped in the same reader", map[string]watched{"A": w(1, 0)},
			fakeReaders{order: []string{"A"}, counters: map[string]uint32{"A": 2}, serials: map[string]uint32{"A": 7}}, "",
			map[string]watched{"A": w(7, 2)}, []Event{{1, "A", false}, {7, "A", true}}, []string{"A"}},
		{"reinserted: counter moved, same key", map[string]watched{"A": w(1, 0)},
			fakeReaders{order: []string{"A"}, counters: map[string]uint32{"A": 2}, serials: map[string]uint32{"A": 1}}, "",
			map[string]watched{"A": w(1, 2)}, nil, []string{"A"}},
		{"busy elsewhere is not removed", map[string]watched{"A": w(1, 0)},
			fakeReaders{order: []string{"A"}, counters: map[string]uint32{"A": 1}, errs: map[string]error{"A": busy}}, "",
			map[string]watched{"A": {serial: 1, stale: true}}, nil, []string{"A"}},
		{"busy with us is not removed", map[string]watched{"A": w(1, 0)},
			fakeReaders{order: []string{"A"}, counters: map[string]uint32{"A": 1}}, "A",
			map[string]watched{"A": {serial: 1, stale: true}}, nil, nil},
		{"stale is read again", map[string]watched{"A": {serial: 1, stale: true}},
			fakeReaders{order: []string{"A"}, serials: map[string]uint32{"A": 1}}, "",
			map[string]watched{"A": w(1, 0)}, nil, []string{"A"}},
		{"busy unknown card is not inserted", map[string]watched{},
			fakeReaders{order: []string{"A"}, errs: map[string]error{"A": busy}}, "",
			map[string]watched{}, nil, []string{"A"}},
		{"not a PIV card: remembered, no event", map[string]watched{},
			fakeReaders{order: []string{"A"}, counters: map[string]uint32{"A": 3}, errs: map[string]error{"A": notPIV}}, "",
			map[string]watched{"A": w(0, 3)}, nil, []string{"A"}},
		{"pulled during the probe", map[string]watched{},
			fakeReaders{order: []string{"A"}, errs: map[string]error{"A": gone}}, "",
			map[string]watched{}, nil, []string{"A"}},
		{"pcscd gone removes all", map[string]watched{"A": w(1, 0)},
			fakeReaders{listErr: noService}, "",
			map[string]watched{}, []Event{{1, "A", false}}, nil},
		{"transient listing error keeps state", map[string]watched{"A": w(1, 0)},
			fakeReaders{listErr: fmt.Errorf("hiccup")}, "",
			map[string]watched{"A": w(1, 0)}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStation()
			f := tc.now
			f.install(s)
			if tc.heldByUs != "" {
				release, ok := s.tryLock(tc.heldByUs)
				if !ok {
					t.Fatal("could not take the reader lock")
				}
				defer release()
			}
			state, events := s.scan(tc.prev)
			if !reflect.DeepEqual(state, tc.wantState) {
				t.Errorf("state = %+v, want %+v", state, tc.wantState)
			}
			if !reflect.DeepEqual(events, tc.want) {
				t.Errorf("events = %+v, want %+v", events, tc.want)
			}
			if !reflect.DeepEqual(f.probed, tc.wantProbed) {
				t.Errorf("talked to the cards in %v, want %v", f.probed, tc.wantProbed)
			}
		})
	}
}

func TestWatchSendsAndCloses(t *testing.T) {
	s := NewStation()
	f := &fakeReaders{order: []string{"A"}, serials: map[string]uint32{"A": 9}}
	f.install(s)
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Watch(ctx, time.Millisecond)
	if e := <-ch; e != (Event{Serial: 9, Reader: "A", Inserted: true}) {
		t.Fatalf("first event = %+v, want key 9 inserted in A", e)
	}
	if got := s.readerOf(9); got != "A" {
		t.Errorf("station remembers key 9 in %q, want A", got)
	}
	cancel()
	for range ch { // must be closed after cancel
	}
}
