package ui

import (
	"strings"

	"charm.land/glamour/v2"
)

// markdown renders runbook instructions, caching one renderer per width and
// the rendering of the last few steps, so a keypress never re-renders.
type markdown struct {
	width    int
	r        *glamour.TermRenderer
	cache    map[string]string
	rendered int
}

func newMarkdown() *markdown { return &markdown{cache: map[string]string{}} }

// render returns src rendered to width cells; on a renderer error it falls
// back to the source text, which is still readable.
func (m *markdown) render(src string, width int) string {
	if width < 20 {
		width = 20
	}
	if m.r == nil || m.width != width {
		r, err := glamour.NewTermRenderer(glamour.WithStandardStyle("dark"), glamour.WithWordWrap(width))
		if err != nil {
			return src
		}
		m.r, m.width, m.cache = r, width, map[string]string{}
	}
	if out, ok := m.cache[src]; ok {
		return out
	}
	out, err := m.r.Render(src)
	if err != nil {
		return src
	}
	out = strings.Trim(out, "\n")
	if len(m.cache) > 16 {
		m.cache = map[string]string{}
	}
	m.cache[src] = out
	return out
}
