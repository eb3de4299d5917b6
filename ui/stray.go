package ui

import (
	"unicode"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// A tired operator typing into the wrong place must not tick, reveal or
// record anything: when text is typed while no field is open, and the
// character is not a key the screen offers, the console stops acting on
// keys until esc. The whole typed sentence is swallowed, not only its first
// letter.

// strayText reports whether msg is a printable character that no key
// binding of scr (or the root's help and quit) accepts.
func strayText(k KeyMap, scr screen, msg tea.KeyPressMsg) bool {
	if msg.Text == "" || msg.Mod&^tea.ModShift != 0 {
		return false
	}
	for _, r := range msg.Text {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	offered := append([]key.Binding{k.Help, k.Quit}, scr.ShortHelp()...)
	for _, g := range scr.FullHelp() {
		offered = append(offered, g...)
	}
	for _, b := range offered {
		if b.Enabled() && key.Matches(msg, b) {
			return false
		}
	}
	return true
}

// strayNotice is shown above the screen while keys are held.
func strayNotice(st Styles) string {
	return st.Warning.Render("! Keys are paused: you typed text but no field is open. Nothing was recorded.") +
		"\n  Press esc to use the keys again.\n\n"
}
