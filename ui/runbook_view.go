package ui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
)

// This file renders the runbook screen: the step list beside the current
// step, its instructions and its items.

func (s *runbookScreen) view() string {
	if s.cur >= len(s.steps) {
		return "All steps done."
	}
	left := min(28, s.w/3)
	if codeWiderThan(s.steps[s.cur].Instructions, s.w-left-2) {
		// A command in a code block would be broken mid-token beside the
		// step list: give the step the whole width (the header says which
		// step it is), so it can be read and typed as written.
		return s.stepView(s.w)
	}
	list := s.stepList(left, s.h)
	right := s.stepView(s.w - left - 2)
	return lipgloss.JoinHorizontal(lipgloss.Top, lipgloss.NewStyle().Width(left).Render(list), "  ", right)
}

// codeWiderThan reports whether a fenced or indented code line of the
// Markdown md would not fit in width cells once rendered (glamour indents
// code by a few cells).
func codeWiderThan(md string, width int) bool {
	in := false
	for _, l := range strings.Split(md, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			in = !in
			continue
		}
		if (in || strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "\t")) && lipgloss.Width(t)+6 > width {
			return true
		}
	}
	return false
}

// stepList shows the steps around the current one with their status.
func (s *runbookScreen) stepList(width, height int) string {
	first := max(0, s.cur-height/2)
	last := min(len(s.steps), first+height)
	first = max(0, last-height)
	var b strings.Builder
	for i := first; i < last; i++ {
		st := s.steps[i]
		mark := "·"
		switch {
		case i == s.cur:
			mark = "▶"
		case st.State == StepDone:
			mark = s.e.st.Pass.Render("✓")
		case st.State == StepSkipped:
			mark = s.e.st.Warn.Render("~")
		}
		line := fit(fmt.Sprintf("%s %d %s", mark, i+1, st.Title), width)
		if i == s.cur {
			line = s.e.st.Selected.Render(line)
		}
		b.WriteString(line + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (s *runbookScreen) stepView(width int) string {
	stv, e := s.steps[s.cur], s.e
	var items strings.Builder
	for i, it := range s.items {
		mark := "  "
		if i == s.cursor {
			mark = "› "
		}
		switch it.kind {
		case itemCheck:
			box := "[ ]"
			if stv.Checks[it.idx].Done {
				box = e.st.Pass.Render("[✓]")
			}
			items.WriteString(hangAfter(mark+box+" "+stv.Checks[it.idx].Text, width, "      "))
		case itemEvidence:
			ev := stv.Evidence[it.idx]
			if s.edit != nil && i == s.cursor {
				items.WriteString(s.edit.view(true, width))
				break
			}
			ans := e.st.Muted.Render("(not recorded — enter)")
			if ev.Answer != "" {
				ans = e.st.Pass.Render("✓ ") + ev.Answer
			}
			items.WriteString(hangAfter(mark+ev.Prompt+": "+ans, width, "    "))
		case itemConfirm:
			name, box := stv.Confirmers[it.idx], "[ ]"
			if contains(stv.Confirmed, name) {
				box = e.st.Pass.Render("[✓]")
			}
			items.WriteString(mark + box + " confirmed by " + name)
			if s.confirm != nil && name == s.confirmWho {
				items.WriteString("\n" + hang(s.confirm.view(e.st, !s.op.pending, width-4), width, "    "))
				if s.confirm.err != "" {
					items.WriteString("\n" + hang(e.st.Error.Render(s.confirm.err), width, "    "))
				}
				if l := s.op.view(e.st, "Signing the confirmation…"); l != "" {
					items.WriteString("\n    " + l)
				}
			}
		case itemSecret:
			items.WriteString(s.secrets.view(stv.Secrets[it.idx], i == s.cursor, width))
		}
		items.WriteString("\n")
	}
	if s.skipping != nil {
		items.WriteString("\n" + s.skipping.view(e.st, width) + "\n")
	}
	if s.skip != nil {
		items.WriteString("\n" + s.skip.view(true, width) + "\n")
	}
	if s.err != "" {
		items.WriteString("\n" + e.st.Error.Render(s.err) + "\n")
	}
	if s.secrets.err != "" {
		items.WriteString(e.st.Error.Render(s.secrets.err) + "\n")
	}
	head := wrap(e.st.Title.Render(fmt.Sprintf("%d. %s", s.cur+1, stv.Title)), width)
	tail := wrap(strings.TrimSuffix(items.String(), "\n"), width)
	room := s.h - lipgloss.Height(head) - lipgloss.Height(tail) - 1
	md := e.md.render(stv.Instructions, width)
	lines := strings.Split(md, "\n")
	s.scroll = min(s.scroll, max(len(lines)-1, 0))
	lines = lines[s.scroll:]
	if room < 1 {
		room = 1
	}
	if len(lines) > room {
		lines = append(lines[:room-1], e.st.Muted.Render("… pgdn for more"))
	}
	return head + "\n" + strings.Join(lines, "\n") + "\n\n" + tail
}
