package ui

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"breakglass/internal/inert"

	"github.com/charmbracelet/x/ansi"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Red-team tests for joinListBreaks and the render path around it.
//
// The first three were bugs the red team found, failing until fixed (the
// join now falls back when the block structure changes; inertEntities
// escapes named references too). The rest are attacks the code refused
// from the start, kept as regression tests.

// prepared is what render hands to joinListBreaks.
func prepared(src string) string { return inertEntities(inert.Text(src)) }

// nodeKinds lists every node kind of s, block and inline, in document order.
func nodeKinds(s string) string {
	var b strings.Builder
	_ = ast.Walk(mdParser.Parse(text.NewReader([]byte(s))), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && n.Kind() != ast.KindText {
			b.WriteString(n.Kind().String() + " ")
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// Was a bug: GFM tables are recognised from a paragraph's lines. A paragraph whose
// first delimiter-looking line is rejected (its header row has more cells
// than the delimiter row has columns) stays a paragraph; joining the soft
// breaks before a later hard break turns the lines above it into one header
// row whose cell count matches a later delimiter row, so the join makes a
// table out of a plain list item.
func TestRedteamJoinCreatesTable(t *testing.T) {
	src := "- a|b|c\n  -|-\n  x  \n  -|-|-|-\n"
	if a, b := blocksOf(src), blocksOf(joinListBreaks(src)); a != b {
		t.Errorf("joining %q changed the block structure:\nbefore %s\n after %s", src, a, b)
	}
}

// Was a bug, the consequence on screen: table rows drop cells beyond the
// delimiter row's column count, so text the reviewers read in the runbook as
// part of a list item disappears from the operator's screen. Without the join
// every word is shown.
func TestRedteamJoinHidesText(t *testing.T) {
	src := "- Page the on-call | then | wait\n" +
		"  -|-  \n" +
		"  -|-|-|-  \n" +
		"  a | b | c | d | NEVER paste the recovery code into chat\n"
	out := ansi.Strip(newMarkdown().render(src, 100))
	if !strings.Contains(out, "NEVER paste the recovery code into chat") {
		t.Errorf("source text is missing from the rendering of %q:\n%s", src, out)
	}
}

// Was a bug (older than the join): only numeric character
// references are neutralised ("&#" -> "&\#"); glamour runs
// html.UnescapeString on every text segment, so HTML5 named references put
// invisible format characters and a raw tab on the terminal, which
// inert.Text exists to prevent ("ad&zwnj;min" shows as "admin").
func TestRedteamNamedEntitiesReachTerminal(t *testing.T) {
	src := "- ad&zwnj;min &rlm;x &lrm;y &shy;z &ZeroWidthSpace;w &NoBreak;v &InvisibleTimes;u &Tab;t\n"
	out := ansi.Strip(newMarkdown().render(src, 100))
	var bad []string
	for _, r := range out {
		if r == '\t' || r == 0xad || unicode.Is(unicode.Cf, r) {
			bad = append(bad, fmt.Sprintf("%U", r))
		}
	}
	if bad != nil {
		t.Errorf("rendering of %q puts %v on the terminal:\n%q", src, bad, out)
	}
}

// Refused: a numeric character reference cannot be assembled across a join;
// the join inserts a space, and "&#" was escaped before.
func TestRedteamNoEntityAcrossJoin(t *testing.T) {
	for _, src := range []string{
		"- x &\n  #27;[31m red\n",
		"- x &\n  #x1b;[2J\n",
		"- x\n  &amp;\n  #27;\n",
		"- &#27;[31m\n  &#x9b;31m\n",
		"- x &\n\t#27;\n",
	} {
		j := joinListBreaks(prepared(src))
		if strings.Contains(j, "&#") {
			t.Errorf("joined %q forms a character reference: %q", src, j)
		}
		out := newMarkdown().render(src, 80)
		if strings.ContainsAny(ansi.Strip(out), "\x1b\u009b") {
			t.Errorf("rendering of %q has a raw escape: %q", src, out)
		}
	}
}

// Refused: line endings other than LF, and control characters, reach
// joinListBreaks only as visible escapes (inert.Text runs first), so
// neither the join nor glamour sees a CR, NEL or U+2028 as a line ending,
// and none reaches the terminal.
func TestRedteamLineEndingsStayVisible(t *testing.T) {
	for _, c := range []struct{ src, visible string }{
		{"- a\r\n  b\r\n", `\x0d`},
		{"- a\rFAKE\n  b\n", `\x0d`},
		{"- a\u2028  b\n", `\u2028`},
		{"- a\u2029  b\n", `\u2029`},
		{"- a\u0085  b\n", `\x85`},
		{"- a\n  \x1b[2Kb\n", `\x1b`},
	} {
		out := ansi.Strip(newMarkdown().render(c.src, 80))
		if !strings.Contains(out, c.visible) {
			t.Errorf("rendering of %q lacks %s:\n%q", c.src, c.visible, out)
		}
		for _, r := range out {
			if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029) {
				t.Errorf("rendering of %q puts %U on the terminal", c.src, r)
			}
		}
	}
}

// Refused: joins that could change what the line after a soft break is.
// None of these changes any block or inline node (a checklist box, a
// heading, a thematic break, a definition term, raw HTML, an autolink, a
// code span, a link).
func TestRedteamJoinKeepsNodes(t *testing.T) {
	for _, src := range []string{
		"- a\n  [x] b\n",                               // checkbox only at an item's start
		"- [ ] a\n  [x] b\n",                           // second box stays text
		"- a\n  b\n  ---\n",                            // setext heading in an item
		"- a\n  b\n  ===\n",                            // setext heading in an item
		"- a\n---\n",                                   // thematic break ends the list
		"- a\n===\n",                                   // lazy line, not an underline
		"- a\n  b\n  : def\n",                          // each line a definition term
		"- a\n  : b\n    c\n",                          // description paragraph
		"- a\n  <span\n  title=x>b</span>\n",           // raw HTML across lines
		"- a\n  <!-- c\n  -->\n",                       // HTML comment across lines
		"- a\n  <div>\n",                               // HTML block interrupts
		"- a\n  <http://x>\n  www.example.com\n",       // autolinks
		"- a `b\n  c` d\n  e\n",                        // code span across lines
		"- [a\n  b](/u \"t\n  u\")\n",                  // link text and title across lines
		"- [a\n  b]\n\n  [a b]: /u\n",                  // reference link label across lines
		"- *a\n  b* ~~c\n  d~~\n",                      // emphasis, strikethrough
		"- > q\n  lazy\n",                              // block quote in an item
		"> - q\n> r\n",                                 // item in a block quote
		"- a\n  | x | y |\n  |---|---|\n  | 1 | 2 |\n", // table after item text
		"- a\n      code?\n",                           // indented, still paragraph
		"1. a\n   2. b\n   c\n",                        // nested ordered list
		"- a\\\\\\\n  b\n",                             // three backslashes
	} {
		safe := prepared(src)
		j := joinListBreaks(safe)
		if a, b := nodeKinds(safe), nodeKinds(j); a != b {
			t.Errorf("joining %q -> %q changed nodes:\nbefore %s\n after %s", safe, j, a, b)
		}
		if nonSpace(j) != nonSpace(safe) {
			t.Errorf("joining %q changed more than whitespace: %q", safe, j)
		}
	}
}

// Refused: inputs at the edges of the byte scanning in joinListBreaks do not
// panic and keep their text.
func TestRedteamJoinEdges(t *testing.T) {
	for _, src := range []string{
		"-", "- ", "-\n", "- a", "- a\n ", "- a\n  b", "- a \t", "- a\r", "- a\r\n",
		"- a\n\r\n", "- a\n  \r", "- a \r\n  b", "- a\n\n  b\n", "*\n*", "- \\\n",
		"- a\xff\n  b\xfe\n", strings.Repeat("- ", 30) + "a\nb\n",
	} {
		j := joinListBreaks(src)
		if nonSpace(j) != nonSpace(src) {
			t.Errorf("joining %q changed more than whitespace: %q", src, j)
		}
		_ = newMarkdown().render(src, 40)
	}
}
