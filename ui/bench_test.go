package ui

import (
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// BenchmarkFirstFrame measures New plus the first View of the runbook screen
// on a 500-step runbook (markdown rendering of the current step included).
func BenchmarkFirstFrame(b *testing.B) {
	f := newFake()
	f.steps = sampleSteps(500)
	f.counted = []Custodian{{"Alice Ng", 11111111}, {"Bob Okafor", 22222222}}
	f.expires = t0.Add(time.Hour)
	for b.Loop() {
		m := New(context.Background(), f, Options{Now: func() time.Time { return t0 }, Width: 120, Height: 40})
		m.scr = newRunbook(m.env, m.env.eng, m.env.eng)
		m.resize()
		_ = m.View()
	}
}

// BenchmarkKeypressToFrame measures one key through Update and the next View
// on a 500-step runbook, at step 250.
func BenchmarkKeypressToFrame(b *testing.B) {
	f := newFake()
	f.steps = sampleSteps(500)
	f.cur = 250
	f.expires = t0.Add(time.Hour)
	d := newDriver(b, f, 120, 40)
	d.m.scr = newRunbook(d.m.env, d.m.env.eng, d.m.env.eng)
	d.m.resize()
	_ = d.m.View()
	keys := []tea.KeyPressMsg{keyMsg("down"), keyMsg("up")}
	i := 0
	for b.Loop() {
		d.send(keys[i%2])
		_ = d.m.View()
		i++
	}
}
