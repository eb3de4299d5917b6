package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// lockedScreen is the end: secrets wiped, a summary of what was exported.
// It sends nothing; q or enter ends the program.
type lockedScreen struct {
	e     *env
	sum   Summary
	files []ExportedFile
	w, h  int
}

func newLocked(e *env, sum Summary, files []ExportedFile) *lockedScreen {
	if len(sum.Exported) > 0 {
		files = sum.Exported
	}
	return &lockedScreen{e: e, sum: sum, files: files}
}

func (s *lockedScreen) title() string          { return "Locked" }
func (s *lockedScreen) setSize(w, h int)       { s.w, s.h = w, h }
func (s *lockedScreen) typing() bool           { return false }
func (s *lockedScreen) init() tea.Cmd          { return nil }
func (s *lockedScreen) update(tea.Msg) tea.Cmd { return nil }

func (s *lockedScreen) next() string {
	return "take the removable media to the auditor; press q to close the console"
}

func (s *lockedScreen) ShortHelp() []key.Binding {
	return []key.Binding{withHelp(s.e.keys.Quit, "close")}
}
func (s *lockedScreen) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *lockedScreen) view() string {
	st := s.e.st
	var b strings.Builder
	if s.sum.Wiped {
		b.WriteString(st.Pass.Render("✓ Session locked. Secrets wiped from memory.") + "\n")
	} else {
		b.WriteString(st.Error.Render("! Session locked, but the engine did not confirm the wipe: power the laptop off.") + "\n")
	}
	b.WriteString("\n" + st.Title.Render("Exported") + "\n")
	if len(s.files) == 0 {
		b.WriteString("  (nothing)\n")
	}
	b.WriteString(filesView(s.files))
	b.WriteString("\n" + st.Title.Render("Must rotate") + "\n")
	if len(s.sum.Revealed) == 0 {
		b.WriteString("  (nothing was revealed)\n")
	}
	for _, r := range s.sum.Revealed {
		b.WriteString("  ! " + r + "\n")
	}
	return b.String()
}
