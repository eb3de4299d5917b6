package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// CloseOutEngine is what the close-out screen needs.
type CloseOutEngine interface {
	// CloseOutQuestions are the questions an auditor needs answered.
	CloseOutQuestions() []Question
	// AnswerCloseOut records the answer to question id.
	AnswerCloseOut(id, text string) error
	// MustRotate lists every credential revealed in this session.
	MustRotate() []string
}

// closeOutDoneMsg is sent by the close-out screen once every question is
// answered: the root moves on to signing.
type closeOutDoneMsg struct{}

// closeOutScreen asks the auditor's questions and shows the must-rotate list.
type closeOutScreen struct {
	e      *env
	eng    CloseOutEngine
	qs     []Question
	rotate []string
	cursor int
	edit   *field
	err    string
	w, h   int
}

func newCloseOut(e *env, eng CloseOutEngine) *closeOutScreen {
	return &closeOutScreen{e: e, eng: eng, qs: eng.CloseOutQuestions(), rotate: eng.MustRotate()}
}

func (s *closeOutScreen) title() string    { return "Close-out" }
func (s *closeOutScreen) setSize(w, h int) { s.w, s.h = w, h }
func (s *closeOutScreen) typing() bool     { return s.edit != nil }
func (s *closeOutScreen) init() tea.Cmd    { return nil }

func (s *closeOutScreen) unanswered() int {
	for i, q := range s.qs {
		if strings.TrimSpace(q.Answer) == "" {
			return i
		}
	}
	return -1
}

func (s *closeOutScreen) next() string {
	if s.edit != nil {
		return "type the answer and press enter to record it (esc cancels)"
	}
	if i := s.unanswered(); i >= 0 {
		return fmt.Sprintf("answer question %d: select it and press enter", i+1)
	}
	return "press n to go on to the custodians' signatures"
}

func (s *closeOutScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	if s.edit != nil {
		return []key.Binding{withHelp(k.Enter, "record"), k.Back}
	}
	b := []key.Binding{k.Up, k.Down, withHelp(k.Enter, "answer")}
	if s.unanswered() < 0 {
		b = append(b, withHelp(k.Next, "sign"))
	}
	return b
}

func (s *closeOutScreen) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *closeOutScreen) update(msg tea.Msg) tea.Cmd {
	k := s.e.keys
	km, isKey := msg.(tea.KeyPressMsg)
	if s.edit != nil {
		switch {
		case isKey && key.Matches(km, k.Back):
			s.edit = nil
		case isKey && key.Matches(km, k.Enter):
			if s.edit.empty() {
				s.err = "Type an answer first (\"none\" is an answer), or press esc."
				return nil
			}
			text := strings.TrimSpace(s.edit.String())
			if err := s.eng.AnswerCloseOut(s.qs[s.cursor].ID, text); err != nil {
				s.err = fmt.Sprintf("Could not record the answer: %v. Your text is still in the field: change it and press enter.", err)
				return nil
			}
			s.qs[s.cursor].Answer, s.edit, s.err = text, nil, ""
			if i := s.unanswered(); i >= 0 {
				s.cursor = i
			}
		default:
			s.edit.update(msg)
		}
		return nil
	}
	if !isKey {
		return nil
	}
	switch {
	case key.Matches(km, k.Up):
		s.cursor = max(s.cursor-1, 0)
	case key.Matches(km, k.Down):
		s.cursor = min(s.cursor+1, max(len(s.qs)-1, 0))
	case key.Matches(km, k.Enter) && s.cursor < len(s.qs):
		s.edit = &field{label: "Answer", max: 4000, value: []rune(s.qs[s.cursor].Answer)}
	case key.Matches(km, k.Next):
		if i := s.unanswered(); i >= 0 {
			s.cursor, s.err = i, "Not yet: "+s.next()+"."
			return nil
		}
		return func() tea.Msg { return closeOutDoneMsg{} }
	}
	return nil
}

func (s *closeOutScreen) view() string {
	st := s.e.st
	var b strings.Builder
	for i, q := range s.qs {
		mark := "  "
		if i == s.cursor {
			mark = "› "
		}
		done := "[ ]"
		if strings.TrimSpace(q.Answer) != "" {
			done = st.Pass.Render("[✓]")
		}
		head := fmt.Sprintf("%s[ ] %d. ", mark, i+1) // done is as wide as [ ]
		text := hangAfter(head+q.Text, s.w, strings.Repeat(" ", lipgloss.Width(head)))
		b.WriteString(strings.Replace(text, "[ ]", done, 1) + "\n")
		switch {
		case i == s.cursor && s.edit != nil:
			b.WriteString("    " + s.edit.view(true, s.w-4) + "\n")
		case q.Answer != "":
			b.WriteString(hang(st.Muted.Render(q.Answer), s.w, "      ") + "\n")
		}
	}
	b.WriteString("\n" + st.Title.Render("Must rotate") + " (revealed this session; listed in the report)\n")
	if len(s.rotate) == 0 {
		b.WriteString("  (nothing was revealed)\n")
	}
	for _, r := range s.rotate {
		b.WriteString("  ! " + r + "\n")
	}
	return b.String()
}

// pinned keeps the last error visible on a small terminal.
func (s *closeOutScreen) pinned() string {
	if s.err == "" {
		return ""
	}
	return "\n" + s.e.st.Error.Render(s.err)
}
