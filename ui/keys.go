package ui

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the console. One value is built by
// DefaultKeyMap and passed down to each screen; screens pick the bindings that
// work in their current state for the help bar.
type KeyMap struct {
	Up, Down   key.Binding
	Enter      key.Binding
	Toggle     key.Binding
	Back       key.Binding
	Next       key.Binding
	Ack        key.Binding
	ClockOK    key.Binding
	ClockWrong key.Binding
	Rerun      key.Binding
	Unreached  key.Binding
	Refresh    key.Binding
	Reveal     key.Binding
	Skip       key.Binding
	Confirm    key.Binding
	ScrollUp   key.Binding
	ScrollDown key.Binding
	Help       key.Binding
	Quit       key.Binding
	QuitTyping key.Binding
	FieldUp    key.Binding
	FieldDown  key.Binding
	Yes, No    key.Binding
}

// DefaultKeyMap is the console's key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j", "tab"), key.WithHelp("↓/j", "down")),
		Enter:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "select")),
		Toggle:     key.NewBinding(key.WithKeys("space", "x"), key.WithHelp("space", "tick")),
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Next:       key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next")),
		Ack:        key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "acknowledge warning")),
		ClockOK:    key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "clock is right")),
		ClockWrong: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "clock is wrong")),
		Rerun:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "re-run checks")),
		Unreached:  key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "could not reach anyone")),
		Refresh:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "rescan keys")),
		Reveal:     key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "reveal/hide")),
		Skip:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip step")),
		Confirm:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "custodian confirms")),
		ScrollUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "scroll up")),
		ScrollDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "scroll down")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:       key.NewBinding(key.WithKeys("ctrl+c", "q"), key.WithHelp("q", "quit")),
		QuitTyping: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		FieldUp:    key.NewBinding(key.WithKeys("up", "shift+tab"), key.WithHelp("↑", "previous field")),
		FieldDown:  key.NewBinding(key.WithKeys("down", "tab"), key.WithHelp("tab", "next field")),
		Yes:        key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:         key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n", "no")),
	}
}

// bindings is a help.KeyMap built from a list of bindings for one state.
type bindings []key.Binding

func (b bindings) ShortHelp() []key.Binding  { return b }
func (b bindings) FullHelp() [][]key.Binding { return [][]key.Binding{b} }
