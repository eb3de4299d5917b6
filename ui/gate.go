package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// gate is the confirmation for anything that changes the session and cannot
// be taken back (skip a step, quit, spend the last PIN try): a stray
// keystroke cannot give it. It opens with an empty field, so nothing typed
// before it opened reaches it; only the exact word, typed and then enter,
// confirms; a wrong word clears the field and keeps the gate shut; pastes
// are ignored; esc cancels.
type gate struct {
	word   string // what to type, lower case
	action string // what happens, e.g. "skip step 3"
	in     field
	err    string
}

// gateResult is what a key did to a gate.
type gateResult int

const (
	gateOpen gateResult = iota // still asking
	gateYes                    // the word was typed and entered
	gateNo                     // cancelled
)

func newGate(word, action string) *gate {
	return &gate{word: word, action: action, in: field{label: "Type " + word, max: 16}}
}

// update applies msg; pastes are never a confirmation.
func (g *gate) update(k KeyMap, msg tea.Msg) gateResult {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return gateOpen
	}
	switch {
	case key.Matches(km, k.Back):
		g.in.reset()
		return gateNo
	case key.Matches(km, k.Enter):
		typed := strings.ToLower(strings.TrimSpace(g.in.String()))
		g.in.reset()
		if typed == g.word {
			return gateYes
		}
		g.err = "Not confirmed: type " + g.word + " exactly, then enter (esc cancels)."
		return gateOpen
	}
	g.in.update(km)
	return gateOpen
}

// next is the footer instruction while the gate is open.
func (g *gate) next() string {
	return "type " + g.word + " and press enter to " + g.action + "; esc cancels"
}

// view renders the question, the field and the last refusal.
func (g *gate) view(st Styles, width int) string {
	s := st.Warning.Render("! "+strings.ToUpper(g.action[:1])+g.action[1:]+"?") +
		"\n  Type  " + g.word + "  and press enter (esc cancels).\n" + g.in.view(true, width)
	if g.err != "" {
		s += "\n" + st.Error.Render(g.err)
	}
	return s
}

func (g *gate) help(k KeyMap) []key.Binding {
	return []key.Binding{withHelp(k.Enter, "confirm"), k.Back}
}
