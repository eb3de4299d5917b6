package session

import (
	"encoding/json"
	"testing"
)

// FuzzResume replaces the data of one recorded event of a real session with
// fuzzed bytes: Resume must never panic, and must either fail or return a
// session whose state is consistent enough to snapshot and continue.
func FuzzResume(f *testing.F) {
	fx := newFixture(f, "cloud-root-recovery.md", false)
	fx.toSteps(f)
	fx.doStep(f)
	if _, err := fx.s.Reveal("root-signin", "aws-root-password"); err != nil {
		f.Fatal(err)
	}
	evs := fx.j.events
	if len(evs) == 0 {
		f.Fatal("no seed events")
	}
	for i, e := range evs {
		f.Add(uint8(i), []byte(e.Data))
	}
	f.Fuzz(func(t *testing.T, idx uint8, data []byte) {
		mod := append([]RecordedEvent(nil), evs...)
		i := int(idx) % len(mod)
		mod[i] = RecordedEvent{Type: mod[i].Type, Data: json.RawMessage(data)}
		s, err := Resume(Config{Recorder: &journal{}, Now: fx.clk.Now}, mod)
		if err != nil {
			return
		}
		st := s.State()
		if st.Phase < PhasePreflight || st.Phase > PhaseAborted {
			t.Fatalf("resumed into phase %v", st.Phase)
		}
		_ = s.Abort("fuzz", "closing")
	})
}
