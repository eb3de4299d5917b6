package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// PreflightEngine is what the preflight screen needs.
type PreflightEngine interface {
	// Preflight runs the station checks (network, clock, vault signature,
	// runbook hash, PC/SC, report destination, version) and returns them in
	// display order.
	Preflight(ctx context.Context) []Check
	// AcknowledgeWarning journals the operator's reason for going on despite
	// the warning check called name.
	AcknowledgeWarning(name, reason string) error
	// ConfirmClock journals that the operator compared the shown UTC time with
	// a trusted clock: correct reports whether they said it was right.
	ConfirmClock(shown time.Time, correct bool) error
}

// preflightResultMsg carries the results of Engine.Preflight.
type preflightResultMsg struct{ checks []Check }

// preflightDoneMsg is sent by the preflight screen when no check failed,
// every warning has a recorded reason and the clock was confirmed: the root
// moves on to the declaration.
type preflightDoneMsg struct{}

type clockState int

const (
	clockUnconfirmed clockState = iota
	clockRight
	clockWrong
)

// preflightScreen shows the station checks and the clock confirmation.
type preflightScreen struct {
	e       *env
	eng     PreflightEngine
	checks  []Check
	loading bool
	cursor  int
	acked   map[string]bool
	reason  *field // open while acknowledging the selected warning
	// ackGate is open after a, before the reason: the word accept, so a
	// stray sentence starting with "a" types into a shut gate, not a reason.
	ackGate *gate
	// clockAsk is the clock answer (true: right) waiting for enter, so a
	// stray "y" or "w" starting a sentence records nothing.
	clockAsk *bool
	clock    clockState
	err      string
	w, h     int
}

func newPreflight(e *env, eng PreflightEngine) *preflightScreen {
	return &preflightScreen{e: e, eng: eng, loading: true, acked: map[string]bool{}}
}

func (s *preflightScreen) title() string    { return "Preflight" }
func (s *preflightScreen) setSize(w, h int) { s.w, s.h = w, h }
func (s *preflightScreen) typing() bool {
	return s.reason != nil || s.ackGate != nil || s.clockAsk != nil
}

func (s *preflightScreen) init() tea.Cmd {
	s.loading = true
	ctx, eng := s.e.ctx, s.eng
	return func() tea.Msg { return preflightResultMsg{checks: eng.Preflight(ctx)} }
}

// blocker returns the first check that stops the operator, if any.
func (s *preflightScreen) blocker() (Check, bool) {
	for _, c := range s.checks {
		if c.Status == Fail {
			return c, true
		}
	}
	for _, c := range s.checks {
		if c.Status == Warn && !s.acked[c.Name] {
			return c, true
		}
	}
	return Check{}, false
}

func (s *preflightScreen) ready() bool {
	_, blocked := s.blocker()
	return !s.loading && !blocked && s.clock == clockRight
}

func (s *preflightScreen) next() string {
	if s.loading {
		return "wait for the station checks to finish"
	}
	if s.reason != nil {
		return "type why this warning is acceptable, then press enter (esc cancels)"
	}
	if s.ackGate != nil {
		return s.ackGate.next()
	}
	if s.clockAsk != nil {
		if *s.clockAsk {
			return "press enter to record that the clock is right; any other key cancels"
		}
		return "press enter to record that the clock is wrong; any other key cancels"
	}
	if c, ok := s.blocker(); ok {
		if c.Status == Fail {
			return fmt.Sprintf("fix the failed check %q (see its detail), then press r to re-run", c.Name)
		}
		return fmt.Sprintf("select warning %q, press a and say why it is acceptable", c.Name)
	}
	switch s.clock {
	case clockUnconfirmed:
		return "compare the UTC time above with a trusted clock: y if right, w if wrong"
	case clockWrong:
		return "set the system clock to the correct UTC time, then press r to re-run"
	}
	return "press enter to declare the incident"
}

func (s *preflightScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	if s.reason != nil {
		return []key.Binding{withHelp(k.Enter, "record"), k.Back}
	}
	if s.ackGate != nil {
		return s.ackGate.help(k)
	}
	if s.clockAsk != nil {
		return []key.Binding{withHelp(k.Enter, "record the clock answer"), k.Back}
	}
	var b []key.Binding
	if s.ready() {
		b = append(b, withHelp(k.Enter, "continue"))
	}
	if s.cursor < len(s.checks) && s.checks[s.cursor].Status == Warn && !s.acked[s.checks[s.cursor].Name] {
		b = append(b, k.Ack)
	}
	if s.clock == clockUnconfirmed {
		b = append(b, withHelp(k.ClockOK, "clock right"), withHelp(k.ClockWrong, "clock wrong"))
	}
	return append(b, k.Rerun, k.Up, k.Down)
}

func (s *preflightScreen) FullHelp() [][]key.Binding {
	k := s.e.keys
	return [][]key.Binding{{k.Up, k.Down, k.Rerun}, {k.Ack, k.ClockOK, k.ClockWrong, withHelp(k.Enter, "continue")}}
}

func (s *preflightScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case preflightResultMsg:
		s.checks, s.loading, s.err = msg.checks, false, ""
		if s.cursor >= len(s.checks) {
			s.cursor = 0
		}
		if c, ok := s.blocker(); ok {
			for i := range s.checks {
				if s.checks[i].Name == c.Name {
					s.cursor = i
				}
			}
		}
	case tea.PasteMsg:
		if s.reason != nil {
			s.reason.update(msg)
		}
	case tea.KeyPressMsg:
		switch {
		case s.reason != nil:
			return s.reasonKey(msg)
		case s.ackGate != nil:
			switch s.ackGate.update(s.e.keys, msg) {
			case gateYes:
				s.ackGate, s.reason, s.err = nil, &field{label: "Reason", max: 500}, ""
			case gateNo:
				s.ackGate = nil
			}
			return nil
		case s.clockAsk != nil:
			return s.clockKey(msg)
		}
		return s.key(msg)
	}
	return nil
}

func (s *preflightScreen) reasonKey(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	switch {
	case key.Matches(msg, k.Back):
		s.reason = nil
	case key.Matches(msg, k.Enter):
		if s.reason.empty() {
			s.err = "A reason is required: say why going on despite this warning is safe."
			return nil
		}
		name := s.checks[s.cursor].Name
		if err := s.eng.AcknowledgeWarning(name, strings.TrimSpace(s.reason.String())); err != nil {
			s.err = fmt.Sprintf("Could not record the acknowledgement of %q: %v. Nothing was lost; try again.", name, err)
			return nil
		}
		s.acked[name], s.reason, s.err = true, nil, ""
	default:
		s.reason.update(msg)
	}
	return nil
}

// clockKey records the clock answer on enter; any other key cancels it
// and is swallowed, so "yes…" typed by mistake records nothing.
func (s *preflightScreen) clockKey(msg tea.KeyPressMsg) tea.Cmd {
	right := *s.clockAsk
	s.clockAsk = nil
	if !key.Matches(msg, s.e.keys.Enter) {
		return nil
	}
	if err := s.eng.ConfirmClock(s.e.now, right); err != nil {
		s.err = fmt.Sprintf("Could not record the clock confirmation: %v. Try again.", err)
		return nil
	}
	s.clock, s.err = clockWrong, ""
	if right {
		s.clock = clockRight
	}
	return nil
}

func (s *preflightScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	switch {
	case s.loading:
	case key.Matches(msg, k.Up):
		if s.cursor > 0 {
			s.cursor--
		}
	case key.Matches(msg, k.Down):
		if s.cursor < len(s.checks)-1 {
			s.cursor++
		}
	case key.Matches(msg, k.Ack):
		if s.cursor < len(s.checks) && s.checks[s.cursor].Status == Warn && !s.acked[s.checks[s.cursor].Name] {
			s.ackGate = newGate("accept", fmt.Sprintf("go on despite the warning %q", s.checks[s.cursor].Name))
			s.err = ""
		}
	case s.clock == clockUnconfirmed && (key.Matches(msg, k.ClockOK) || key.Matches(msg, k.ClockWrong)):
		right := key.Matches(msg, k.ClockOK)
		s.clockAsk, s.err = &right, ""
	case key.Matches(msg, k.Rerun):
		s.clock = clockUnconfirmed
		return s.init()
	case key.Matches(msg, k.Enter), key.Matches(msg, k.Next):
		if s.ready() {
			return func() tea.Msg { return preflightDoneMsg{} }
		}
		s.err = "Not yet: " + s.next() + "."
	}
	return nil
}

func (s *preflightScreen) view() string {
	st := s.e.st
	if s.loading {
		return "Running station checks…"
	}
	var lines []string
	curStart, curEnd := 0, 0
	for i, c := range s.checks {
		mark := "  "
		if i == s.cursor {
			mark = "› "
			curStart = len(lines)
		}
		status := statusMark(st, c.Status)
		if c.Status == Warn && s.acked[c.Name] {
			status = st.Warn.Render("! ACKED")
		}
		block := fmt.Sprintf("%s%s  %s", mark, status, c.Name)
		if c.Detail != "" && (c.Status != Pass || i == s.cursor) {
			block += "\n" + hang(st.Muted.Render(c.Detail), s.w, "            ")
		}
		lines = append(lines, strings.Split(wrap(block, s.w), "\n")...)
		if i == s.cursor {
			curEnd = len(lines)
		}
	}
	room := s.h - 1 - lipgloss.Height(wrap(s.pinned(), s.w)) // a blank line, then the clock
	return strings.Join(window(st, lines, curStart, curEnd, room), "\n") + "\n\n"
}

// window keeps the selected check (lines[from:to]) on screen when the list
// is taller than room lines: a station with several warnings, each with its
// detail, overflows 80×24, and a selection below the fold would be
// invisible while the Next line asks for it. Hidden lines are announced
// above and below.
func window(st Styles, lines []string, from, to, room int) []string {
	if len(lines) <= room || room < 4 {
		return lines
	}
	more := func(n int, where, key string) string {
		return st.Muted.Render(fmt.Sprintf("  … %d more line(s) %s (%s)", n, where, key))
	}
	if to <= room-1 {
		return append(slices.Clone(lines[:room-1]), more(len(lines)-(room-1), "below", "↓/j"))
	}
	// The selection ends the window, between the two announcements (or
	// starts it, when it is taller than the window).
	top, bottom := to-(room-2), to
	if top > from {
		top, bottom = from, from+room-2
	}
	if bottom >= len(lines) { // nothing below: one more line fits
		top, bottom = len(lines)-(room-1), len(lines)
	}
	out := append([]string{more(top, "above", "↑/k")}, lines[top:bottom]...)
	if bottom < len(lines) {
		out = append(out, more(len(lines)-bottom, "below", "↓/j"))
	}
	return out
}

// clockView is the clock question. It is part of what is pinned, so a
// long list of checks (every warning shows its detail) can never push it
// off a 24-line screen.
func (s *preflightScreen) clockView() string {
	st := s.e.st
	var b strings.Builder
	b.WriteString(st.Title.Render("Clock") + "  station time is " + st.Key.Render(s.e.now.UTC().Format("2006-01-02 15:04:05 UTC")))
	switch s.clock {
	case clockUnconfirmed:
		switch {
		case s.clockAsk == nil:
			b.WriteString("  — is that right? y / w")
		case *s.clockAsk:
			b.WriteString("\n  You said it is right: " + st.Key.Render("enter") + " records that, any other key cancels.")
		default:
			b.WriteString("\n  You said it is wrong: " + st.Key.Render("enter") + " records that, any other key cancels.")
		}
	case clockRight:
		b.WriteString("  " + st.Pass.Render("✓ confirmed"))
	case clockWrong:
		b.WriteString("\n" + st.Fail.Render("✗ clock wrong") + " — set it (date -u -s 'YYYY-MM-DD HH:MM:SS'), then press r")
	}
	b.WriteString("\n")
	return b.String()
}

// pinned is the clock question, the reason being typed and the last
// error: always visible.
func (s *preflightScreen) pinned() string {
	st := s.e.st
	var b strings.Builder
	if !s.loading {
		b.WriteString("\n" + s.clockView())
	}
	if s.ackGate != nil && !s.loading {
		b.WriteString("\n" + s.ackGate.view(st, s.w) + "\n")
	}
	if s.reason != nil && !s.loading {
		b.WriteString("\nAcknowledge " + st.Key.Render(s.checks[s.cursor].Name) + " (recorded in the journal)\n")
		b.WriteString(s.reason.view(true, s.w))
		b.WriteString("\n")
	}
	if s.err != "" {
		b.WriteString("\n" + st.Error.Render(s.err))
	}
	return b.String()
}

// withHelp returns b with a different help text.
func withHelp(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}
