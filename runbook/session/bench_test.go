package session

import (
	"encoding/json"
	"testing"
	"time"
)

// discard is a Recorder that marshals like the journal would, then drops.
type discard struct{}

func (discard) Append(_, _ string, data any) error {
	_, err := json.Marshal(data)
	return err
}

// BenchmarkSession500 runs a whole session over testdata/runbooks/large-500.md:
// start, preflight, quorum, every step ticked, answered and completed.
func BenchmarkSession500(b *testing.B) {
	rb := loadRunbook(b, "large-500.md")
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for b.Loop() {
		clk := &clock{t: start}
		s, err := New(Config{Runbook: rb, Recorder: discard{}, Now: clk.Now, Threshold: 2, Window: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		f := &fixture{s: s, clk: clk}
		f.toSteps(b)
		f.toCloseOut(b)
	}
}

// BenchmarkResume500 rebuilds a finished 500-step session from its journal.
func BenchmarkResume500(b *testing.B) {
	rb := loadRunbook(b, "large-500.md")
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	j := &journal{}
	s, err := New(Config{Runbook: rb, Recorder: j, Now: clk.Now, Threshold: 2, Window: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{s: s, j: j, clk: clk}
	f.toSteps(b)
	f.toCloseOut(b)
	b.ReportMetric(float64(len(j.events)), "events")
	for b.Loop() {
		if _, err := Resume(Config{Recorder: discard{}, Now: clk.Now}, j.events); err != nil {
			b.Fatal(err)
		}
	}
}
