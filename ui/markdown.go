package ui

import (
	"strings"

	"breakglass/internal/inert"

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
// back to the source text, which is still readable. src is untrusted: its
// control characters are made visible first (inert.Text), and numeric
// character references (&#27;) are escaped so the renderer cannot decode
// them into control characters either.
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
	safe := strings.ReplaceAll(inert.Text(src), "&#", `&\#`)
	out, err := m.r.Render(safe)
	if err != nil {
		return safe
	}
	out = strings.Trim(out, "\n")
	if len(m.cache) > 16 {
		m.cache = map[string]string{}
	}
	m.cache[src] = out
	return out
}
