package ui

import "testing"

// A session resumed after its vault was opened starts with the custodians
// (their quorum recovers the journal key) and then returns to the screen it
// stopped on: the runbook, the close-out or the sign screen.
func TestResumeAfterReauthorisation(t *testing.T) {
	tests := []struct {
		name  string
		start Start
		check func(screen) bool
	}{
		{"runbook", StartReauthorise, func(s screen) bool { _, ok := s.(*runbookScreen); return ok }},
		{"close-out", StartReauthoriseCloseOut, func(s screen) bool { _, ok := s.(*closeOutScreen); return ok }},
		{"sign", StartReauthoriseSign, func(s screen) bool { _, ok := s.(*signScreen); return ok }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriverAt(t, newFake(), 80, 24, tt.start)
			if _, ok := d.m.scr.(*custodiansScreen); !ok {
				t.Fatalf("resumed %s opens on %T, want the custodians screen", tt.name, d.m.scr)
			}
			d.send(quorumMetMsg{})
			if !tt.check(d.m.scr) {
				t.Fatalf("after re-authorisation the %s session shows %T", tt.name, d.m.scr)
			}
		})
	}
}
