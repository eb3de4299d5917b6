package ui

import (
	"html"
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
// control characters are made visible first (inert.Text), and character
// references that would decode to one are escaped (inertEntities), so the
// renderer cannot put them on the terminal either.
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
	safe := joinListBreaks(inertEntities(inert.Text(src)))
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
	doc := mdParser.Parse(text.NewReader(source))
	type cut struct{ from, to int }
	var cuts []cut
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
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
	joined := b.String()
	// A join can change what the lines mean together: GFM finds tables in
	// a paragraph's lines (a joined header row may match a later delimiter
	// row, and a table drops the cells past its columns), and text that
	// began an item's first line may become a list marker. Rather than
	// chase each case, a join that changes the block structure is not
	// made: the item shows as written.
	if blockKinds(mdParser.Parse(text.NewReader([]byte(joined)))) != blockKinds(doc) {
		return src
	}
	return joined
}

// blockKinds lists the kinds of doc's block nodes, table cells included,
// in document order.
func blockKinds(doc ast.Node) string {
	var b strings.Builder
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && n.Type() == ast.TypeBlock {
			b.WriteString(n.Kind().String() + " ")
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// inertEntities escapes the character references in s that would decode
// to something inert.Line would not show as is: glamour decodes every
// reference in text (html.UnescapeString), after inert.Text has run, so
// "ad&zwnj;min" would show as "admin" with a zero-width joiner inside and
// "&#27;" would be a raw escape. A numeric reference loses its meaning by
// escaping the "#" ("&\#27;" shows as "&#27;"); a named one by spelling its
// ampersand "&amp;", decoded once, to a literal "&" ("&amp;zwnj;" shows as
// "&zwnj;"). Harmless references ("&amp;", "&lt;", "&eacute;") still decode.
func inertEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '#' {
			b.WriteString(`&\#`)
			i++
			continue
		}
		j := i + 1
		for j < len(s) && j-i <= 40 && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j < len(s) && s[j] == ';' {
			j++
		}
		if ref := s[i:j]; j > i+1 && !inert.Safe(html.UnescapeString(ref)) {
			b.WriteString("&amp;")
			continue
		}
		b.WriteByte('&')
	}
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
