package ui

import (
	"strings"

	"breakglass/internal/inert"

	"charm.land/glamour/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
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
	safe := joinListBreaks(strings.ReplaceAll(inert.Text(src), "&#", `&\#`))
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

// mdParser parses Markdown the way glamour does (GFM and definition lists).
var mdParser = goldmark.New(goldmark.WithExtensions(extension.GFM, extension.DefinitionList)).Parser()

// joinListBreaks joins the lines of each list item's text, so that glamour
// reflows a wrapped list item as it reflows a paragraph. Glamour renders a
// soft line break inside a list item as a hard one (charmbracelet/glamour
// pull request 580 fixes it upstream, not yet released), which left an
// item the author wrapped at 80 columns as ragged short lines on screen.
//
// Only a soft break in the text of a list item outside a block quote and
// a code span is joined: there, what lies between the end of one line's
// text and the start of the next is only the line ending and indentation,
// and replacing it by one space changes no meaning (CommonMark renders a
// soft break as a space). Hard breaks (a trailing backslash or two spaces)
// stay.
func joinListBreaks(src string) string {
	source := []byte(src)
	type cut struct{ from, to int }
	var cuts []cut
	_ = ast.Walk(mdParser.Parse(text.NewReader(source)), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		t, ok := n.(*ast.Text)
		if !entering || !ok || !t.SoftLineBreak() || t.HardLineBreak() || !joinable(n) {
			return ast.WalkContinue, nil
		}
		i := t.Segment.Stop
		for i < len(source) && (source[i] == ' ' || source[i] == '\t') {
			i++
		}
		if i < len(source) && source[i] == '\r' {
			i++
		}
		if i >= len(source) || source[i] != '\n' {
			return ast.WalkContinue, nil
		}
		i++
		for i < len(source) && (source[i] == ' ' || source[i] == '\t') {
			i++
		}
		if i < len(source) && source[i] != '\n' && source[i] != '\r' {
			cuts = append(cuts, cut{t.Segment.Stop, i})
		}
		return ast.WalkContinue, nil
	})
	if len(cuts) == 0 {
		return src
	}
	var b strings.Builder
	last := 0
	for _, c := range cuts {
		if c.from < last {
			continue
		}
		b.Write(source[last:c.from])
		b.WriteByte(' ')
		last = c.to
	}
	b.Write(source[last:])
	return b.String()
}

// joinable reports whether n lies in a list item, and in no block quote or
// code span, where a continuation line's prefix is more than indentation.
func joinable(n ast.Node) bool {
	item := false
	for p := n.Parent(); p != nil; p = p.Parent() {
		switch p.Kind() {
		case ast.KindListItem:
			item = true
		case ast.KindBlockquote, ast.KindCodeSpan:
			return false
		}
	}
	return item
}
