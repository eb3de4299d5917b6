package ui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles is every style of the console, built once and passed down. Colour
// only reinforces meaning: every status also has a symbol and a word, so the
// screens read the same under NO_COLOR or on a monochrome console.
type Styles struct {
	Title, Banner, Warning  lipgloss.Style
	Pass, Warn, Fail        lipgloss.Style
	Next, Muted, Selected   lipgloss.Style
	Secret, Box, Error, Key lipgloss.Style
	Help                    help.Styles
}

// DefaultStyles returns the console's styles for a dark terminal.
func DefaultStyles() Styles {
	red := lipgloss.Color("9")
	green := lipgloss.Color("10")
	yellow := lipgloss.Color("11")
	return Styles{
		Title:    lipgloss.NewStyle().Bold(true),
		Banner:   lipgloss.NewStyle().Bold(true).Reverse(true),
		Warning:  lipgloss.NewStyle().Bold(true).Foreground(yellow),
		Pass:     lipgloss.NewStyle().Foreground(green),
		Warn:     lipgloss.NewStyle().Foreground(yellow),
		Fail:     lipgloss.NewStyle().Bold(true).Foreground(red),
		Next:     lipgloss.NewStyle().Bold(true),
		Muted:    lipgloss.NewStyle().Faint(true),
		Selected: lipgloss.NewStyle().Bold(true),
		Secret:   lipgloss.NewStyle().Bold(true).Foreground(yellow),
		Box:      lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1),
		Error:    lipgloss.NewStyle().Bold(true).Foreground(red),
		Key:      lipgloss.NewStyle().Bold(true),
		Help:     help.DefaultDarkStyles(),
	}
}
