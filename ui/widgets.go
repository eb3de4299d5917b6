package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// This file holds the widgets every screen shares: a text field (plain or a
// masked PIN), the countdown bar and the status line of a checklist item
// (the hardware launcher and its touch prompt are in hw.go, the PIN prompt
// in pin.go, the confirmation gate in gate.go).

// field is a one-line text input. A masked field shows one • per character
// and zeroes its buffer on Reset.
type field struct {
	label  string
	value  []rune
	masked bool
	max    int
}

// update applies a key or paste to the field; it reports whether the message
// was consumed.
func (f *field) update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		for _, r := range msg.Content {
			f.add(r)
		}
		return true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "backspace":
			if len(f.value) > 0 {
				f.value[len(f.value)-1] = 0
				f.value = f.value[:len(f.value)-1]
			}
			return true
		case "ctrl+u":
			f.reset()
			return true
		case "space":
			f.add(' ')
			return true
		}
		if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
			for _, r := range msg.Text {
				f.add(r)
			}
			return true
		}
	}
	return false
}

func (f *field) add(r rune) {
	if !unicode.IsPrint(r) || (f.max > 0 && len(f.value) >= f.max) {
		return
	}
	f.value = append(f.value, r)
}

// reset zeroes and clears the value.
func (f *field) reset() {
	for i := range f.value {
		f.value[i] = 0
	}
	f.value = f.value[:0]
}

func (f *field) String() string { return string(f.value) }

func (f *field) empty() bool { return strings.TrimSpace(string(f.value)) == "" }

// view renders "label: value▏" with the cursor when focused.
func (f *field) view(focused bool, width int) string {
	v := string(f.value)
	if f.masked {
		v = strings.Repeat("•", len(f.value))
	}
	cur := " "
	if focused {
		cur = "▏"
	}
	mark := "  "
	if focused {
		mark = "› "
	}
	line := mark + f.label + ": " + v + cur
	if width > 0 && lipgloss.Width(line) > width {
		// keep the end visible: that is where typing happens
		line = mark + f.label + ": …" + ansi.TruncateLeft(v+cur, lipgloss.Width(line)-width+1, "")
	}
	return line
}

// statusMark renders a status as symbol plus word.
func statusMark(st Styles, s Status) string {
	switch s {
	case Pass:
		return st.Pass.Render("✓ PASS")
	case Warn:
		return st.Warn.Render("! WARN")
	default:
		return st.Fail.Render("✗ FAIL")
	}
}

// countdownBar draws "[█████·····] 12s" for remaining out of total.
func countdownBar(remaining, total time.Duration, width int) string {
	if remaining < 0 {
		remaining = 0
	}
	secs := int((remaining + time.Second - 1) / time.Second)
	label := fmt.Sprintf(" %2ds", secs)
	n := width - 2 - len(label)
	if n < 1 {
		return strings.TrimSpace(label)
	}
	filled := 0
	if total > 0 {
		filled = int(int64(n) * int64(remaining) / int64(total))
	}
	if filled > n {
		filled = n
	}
	return "[" + strings.Repeat("█", filled) + strings.Repeat("·", n-filled) + "]" + label
}

// clip cuts s to at most h lines.
func clip(s string, h int) string {
	if h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

// fit truncates every line of s to width cells.
func fit(s string, width int) string {
	if width <= 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "…")
	}
	return strings.Join(lines, "\n")
}

// wrap word-wraps every line of s to width cells (hard-wrapping long words),
// so messages are never cut off.
func wrap(s string, width int) string {
	if width <= 0 {
		return s
	}
	return ansi.Wrap(s, width, "")
}

// hang wraps s to width cells with every line indented by pre.
func hang(s string, width int, pre string) string {
	return indent(wrap(s, max(width-lipgloss.Width(pre), 10)), pre)
}

// hangAfter wraps s to width, indenting every line after the first by pre,
// so a wrapped list item stays visibly one item.
func hangAfter(s string, width int, pre string) string {
	lines := strings.Split(wrap(s, max(width-lipgloss.Width(pre), 10)), "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n")
}
