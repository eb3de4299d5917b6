package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// DeclareEngine is what the declaration screen needs.
type DeclareEngine interface {
	// Runbook names the runbook this session will follow (title and hash).
	Runbook() string
	// Declare journals the incident declaration.
	Declare(d Declaration) error
}

// declaredMsg is sent by the declaration screen once Engine.Declare recorded
// the incident: the root moves on to the custodians.
type declaredMsg struct{}

// declareScreen asks for the operator, the ticket and what broke.
type declareScreen struct {
	e      *env
	eng    DeclareEngine
	fields [3]field
	focus  int
	err    string
	w, h   int
}

func newDeclare(e *env, eng DeclareEngine) *declareScreen {
	return &declareScreen{e: e, eng: eng, fields: [3]field{
		{label: "Operator name", max: 100},
		{label: "Ticket / incident id", max: 100},
		{label: "What broke", max: 500},
	}}
}

func (s *declareScreen) title() string    { return "Declare the incident" }
func (s *declareScreen) setSize(w, h int) { s.w, s.h = w, h }
func (s *declareScreen) typing() bool     { return true }
func (s *declareScreen) init() tea.Cmd    { return nil }

func (s *declareScreen) firstEmpty() int {
	for i := range s.fields {
		if s.fields[i].empty() {
			return i
		}
	}
	return -1
}

func (s *declareScreen) next() string {
	if i := s.firstEmpty(); i >= 0 {
		return fmt.Sprintf("type the %s and press enter", strings.ToLower(s.fields[i].label))
	}
	return "press enter to record the declaration and call the custodians"
}

func (s *declareScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	return []key.Binding{withHelp(k.Enter, "next / record"), k.FieldDown, k.FieldUp}
}

func (s *declareScreen) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *declareScreen) update(msg tea.Msg) tea.Cmd {
	k := s.e.keys
	km, ok := msg.(tea.KeyPressMsg)
	switch {
	case !ok:
		s.fields[s.focus].update(msg)
	case key.Matches(km, k.FieldDown):
		s.focus = (s.focus + 1) % len(s.fields)
	case key.Matches(km, k.FieldUp):
		s.focus = (s.focus + len(s.fields) - 1) % len(s.fields)
	case key.Matches(km, k.Enter):
		return s.submit()
	default:
		s.fields[s.focus].update(msg)
	}
	return nil
}

func (s *declareScreen) submit() tea.Cmd {
	if !s.fields[s.focus].empty() && s.focus < len(s.fields)-1 {
		s.focus++
		return nil
	}
	if i := s.firstEmpty(); i >= 0 {
		s.focus = i
		s.err = s.fields[i].label + " is required."
		return nil
	}
	d := Declaration{
		Operator:  strings.TrimSpace(s.fields[0].String()),
		Ticket:    strings.TrimSpace(s.fields[1].String()),
		WhatBroke: strings.TrimSpace(s.fields[2].String()),
	}
	if err := s.eng.Declare(d); err != nil {
		s.err = fmt.Sprintf("Could not record the declaration: %v. What you typed is still here; press enter to try again.", err)
		return nil
	}
	return func() tea.Msg { return declaredMsg{} }
}

func (s *declareScreen) view() string {
	st := s.e.st
	var b strings.Builder
	b.WriteString("Runbook: " + st.Key.Render(s.eng.Runbook()) + "\n\n")
	for i := range s.fields {
		b.WriteString(s.fields[i].view(i == s.focus, s.w) + "\n")
	}
	b.WriteString("\n" + st.Muted.Render("All three are required and go into the journal and the signed report."))
	if s.err != "" {
		b.WriteString("\n\n" + st.Error.Render(s.err))
	}
	return b.String()
}
