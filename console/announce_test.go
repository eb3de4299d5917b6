package console

import (
	"errors"
	"testing"
	"time"

	"breakglass/runbook/session"
	"breakglass/ui"
)

// TestResumeOpensOnAnnounce: a session killed after its declaration opens
// on the announce screen, with the same code; once the announcement is
// recorded it opens on the custodians.
func TestResumeOpensOnAnnounce(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, false)
	if _, err := eng.AnnounceCode(); err == nil {
		t.Error("an announce code before the declaration")
	}
	toQuorum(t, eng)
	code, err := eng.AnnounceCode()
	must(t, err)
	must(t, eng.Close())

	resume := func() *Service {
		t.Helper()
		us, err := FindUnfinished(f.dir)
		must(t, err)
		if len(us) != 1 {
			t.Fatalf("%d unfinished sessions, want 1", len(us))
		}
		cfg := f.config(t)
		cfg.Resume = &us[0]
		s, err := New(cfg)
		must(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	r := resume()
	if got := r.Start(); got != ui.StartAnnounce {
		t.Fatalf("resumed before the announcement: start %v, want StartAnnounce", got)
	}
	if again, err := r.AnnounceCode(); err != nil || again != code {
		t.Fatalf("resumed code %q, %v; want %q", again, err, code)
	}
	if err := r.RecordAnnouncement("Sam", time.Now().Add(time.Hour), true, ""); err == nil {
		t.Error("an acknowledgement after the station clock was recorded")
	}
	if err := r.RecordAnnouncement("", time.Now(), false, ""); !errors.Is(err, session.ErrRequired) {
		t.Errorf("no one reached without a reason: %v, want ErrRequired", err)
	}
	must(t, r.RecordAnnouncement("", time.Now(), false, "on-call phone rang out"))
	must(t, r.Close())
	if got := resume().Start(); got != ui.StartQuorum {
		t.Fatalf("resumed after the announcement: start %v, want StartQuorum", got)
	}
}
