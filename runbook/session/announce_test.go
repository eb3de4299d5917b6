package session

import (
	"errors"
	"testing"
	"time"
)

// TestAnnounce: the announcement is recorded once, after the declaration
// and before the first custodian; what it must say depends on whether the
// on-call was reached; a resumed session knows it was recorded.
func TestAnnounce(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 59, 0, 0, time.UTC)
	tests := []struct {
		name    string
		reached bool
		by      string
		note    string
		want    error
	}{
		{"reached", true, "Sam", "", nil},
		{"reached names no one", true, " ", "", ErrRequired},
		{"reached with a note", true, "Sam", "why", ErrBadJournal},
		{"not reached", false, "", "phone rang out", nil},
		{"not reached without a reason", false, "", "", ErrRequired},
		{"not reached names someone", false, "Sam", "why", ErrBadJournal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "minimal.md", false)
			if err := f.s.Announce("7K3Q9XM24H", tt.reached, tt.by, at, tt.note); err == nil {
				t.Fatal("announced before the declaration")
			}
			must(t, f.s.Preflight([]PreflightCheck{{Name: "network", OK: true}}, have))
			must(t, f.s.Declare("olivia", "INC-42", "SSO down"))
			err := f.s.Announce("7K3Q9XM24H", tt.reached, tt.by, at, tt.note)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Announce = %v, want %v", err, tt.want)
			}
			if f.s.Announced() != (tt.want == nil) {
				t.Fatalf("Announced() = %v after %v", f.s.Announced(), err)
			}
			if err != nil {
				return
			}
			if err := f.s.Announce("7K3Q9XM24H", tt.reached, tt.by, at, tt.note); err == nil {
				t.Error("a second announcement was recorded")
			}
			r, err := Resume(Config{Recorder: &journal{}, Now: f.clk.Now}, f.j.events)
			must(t, err)
			if a := r.State().Announcement; a == nil || a.AnnounceCode != "7K3Q9XM24H" || a.By != tt.by || !a.ToldAt.Equal(at) {
				t.Errorf("resumed announcement %+v", a)
			}
		})
	}
	// After the first custodian it is too late.
	f := newFixture(t, "minimal.md", false)
	must(t, f.s.Preflight([]PreflightCheck{{Name: "network", OK: true}}, have))
	must(t, f.s.Declare("olivia", "INC-42", "SSO down"))
	if _, err := f.s.AddCustodian(alice); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Announce("7K3Q9XM24H", true, "Sam", at, ""); err == nil {
		t.Error("announced after a custodian was counted")
	}
}
