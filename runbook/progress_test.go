package runbook

import (
	"errors"
	"reflect"
	"testing"
)

const progressSrc = `---
title: P
version: 1
---
## a: First
Do a.
- [ ] a1
- [ ] a2
- Evidence: ticket
## b: Second
Do b.
- Confirm: both-custodians
## c: Third
Do c.
`

func mustParse(t testing.TB, src string) *Runbook {
	t.Helper()
	rb, err := Parse("p.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// TestProgressTransitions runs a sequence of actions per case; every action
// but the last must succeed, and the last must fail with want (or succeed
// when want is nil).
func TestProgressTransitions(t *testing.T) {
	type act func(p *Progress) (Event, error)
	tick := func(s string, i int) act { return func(p *Progress) (Event, error) { return p.Tick(s, i, true) } }
	untick := func(s string, i int) act { return func(p *Progress) (Event, error) { return p.Tick(s, i, false) } }
	answer := func(s string, i int, a string) act {
		return func(p *Progress) (Event, error) { return p.Answer(s, i, a) }
	}
	confirm := func(s, c string) act { return func(p *Progress) (Event, error) { return p.Confirm(s, c) } }
	complete := func(s string) act { return func(p *Progress) (Event, error) { return p.Complete(s) } }
	skip := func(s, r string) act { return func(p *Progress) (Event, error) { return p.Skip(s, r) } }
	doneA := []act{tick("a", 0), tick("a", 1), answer("a", 0, "INC-1"), complete("a")}

	cases := []struct {
		name string
		acts []act
		want error
	}{
		{"complete first step", doneA, nil},
		{"complete out of order", []act{complete("b")}, ErrNotCurrent},
		{"tick a later step", []act{tick("b", 0)}, ErrNotCurrent},
		{"unknown step", []act{complete("zz")}, ErrUnknownStep},
		{"complete with unticked check", []act{tick("a", 0), answer("a", 0, "x"), complete("a")}, ErrIncomplete},
		{"complete after untick", []act{tick("a", 0), tick("a", 1), untick("a", 1), answer("a", 0, "x"), complete("a")}, ErrIncomplete},
		{"complete without evidence", []act{tick("a", 0), tick("a", 1), complete("a")}, ErrIncomplete},
		{"blank evidence", []act{answer("a", 0, "  ")}, ErrEmptyText},
		{"check out of range", []act{tick("a", 2)}, ErrBadIndex},
		{"negative evidence index", []act{answer("a", -1, "x")}, ErrBadIndex},
		{"skip without reason", []act{skip("a", " ")}, ErrEmptyText},
		{"skip with reason", []act{skip("a", "not needed")}, nil},
		{"skip then previous", []act{skip("a", "n/a"), tick("a", 0)}, ErrNotCurrent},
		{"confirm not needed", []act{confirm("a", "alice")}, ErrConfirmNotNeeded},
		{"one confirmation is not enough", append(append([]act{}, doneA...), confirm("b", "alice"), complete("b")), ErrIncomplete},
		{"same custodian twice", append(append([]act{}, doneA...), confirm("b", "alice"), confirm("b", "alice")), ErrAlreadyConfirmed},
		{"two custodians confirm", append(append([]act{}, doneA...), confirm("b", "alice"), confirm("b", "bob"), complete("b")), nil},
		{"act after finish", append(append([]act{}, doneA...), skip("b", "x"), skip("c", "y"), skip("c", "z")), ErrFinished},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProgress(mustParse(t, progressSrc))
			var err error
			for i, a := range tc.acts {
				before := snapshot(p)
				var ev Event
				ev, err = a(p)
				if i < len(tc.acts)-1 && err != nil {
					t.Fatalf("action %d: %v", i, err)
				}
				if err != nil {
					if !reflect.DeepEqual(before, snapshot(p)) {
						t.Errorf("failed action changed state")
					}
					if ev != (Event{}) {
						t.Errorf("failed action returned event %+v", ev)
					}
				} else if ev.Type == "" {
					t.Errorf("action %d returned no event", i)
				}
			}
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("last action: %v, want %v", err, tc.want)
			}
		})
	}
}

type progressSnap struct {
	Cur int
	St  []StepState
}

func snapshot(p *Progress) progressSnap {
	s := progressSnap{Cur: p.cur}
	for i := range p.st {
		s.St = append(s.St, p.State(i))
	}
	return s
}

func TestProgressFlowAndReplay(t *testing.T) {
	rb := mustParse(t, progressSrc)
	p := NewProgress(rb)
	var evs []Event
	rec := func(ev Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if b := p.Blocking(); b == nil || len(b.Unticked) != 2 || len(b.Unanswered) != 1 {
		t.Errorf("Blocking() = %+v", b)
	}
	rec(p.Tick("a", 0, true))
	rec(p.Tick("a", 1, true))
	rec(p.Answer("a", 0, " INC-1 "))
	rec(p.Complete("a"))
	rec(p.Confirm("b", "alice"))
	rec(p.Confirm("b", "bob"))
	rec(p.Complete("b"))
	if i, ok := p.Current(); !ok || i != 2 {
		t.Errorf("Current() = %d, %v; want 2", i, ok)
	}
	rec(p.Skip("c", "nothing to do"))
	if !p.Finished() {
		t.Fatal("not finished after last step")
	}
	want := []Status{Done, Done, Skipped}
	for i, s := range want {
		if got := p.State(i).Status; got != s {
			t.Errorf("step %d status %v, want %v", i, got, s)
		}
	}
	if got := p.State(0).Answers[0]; got != "INC-1" {
		t.Errorf("answer = %q, want trimmed", got)
	}
	if evs[0].Label != "a1" || evs[2].Label != "ticket" {
		t.Errorf("labels not filled: %+v", evs)
	}
	r, err := Replay(rb, evs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snapshot(r), snapshot(p)) {
		t.Errorf("replay state differs:\n%+v\n%+v", snapshot(r), snapshot(p))
	}
	// A replay whose labels disagree with the runbook is refused.
	bad := append([]Event{}, evs...)
	bad[0].Label = "something else"
	if _, err := Replay(rb, bad); !errors.Is(err, ErrLabelMismatch) {
		t.Errorf("Replay with wrong label = %v, want ErrLabelMismatch", err)
	}
	if _, err := Replay(rb, []Event{{Type: "step.bogus", Step: "a"}}); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("Replay unknown type = %v", err)
	}
}
