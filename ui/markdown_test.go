package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/yuin/goldmark/text"
)

// TestJoinListBreaks: the lines of a wrapped list item are joined into one,
// as a paragraph's are, and nothing else moves: hard breaks, code spans,
// block quotes, code blocks and paragraphs are left as written.
func TestJoinListBreaks(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"bullet wrapped", "- upload the new SAML metadata from\n  the IdP administrators.\n",
			"- upload the new SAML metadata from the IdP administrators.\n"},
		{"ordered, next line starts with code", "4. Seal them with\n   `breakglass seal` after the session; the old ones are on the must-rotate\n   list.\n",
			"4. Seal them with `breakglass seal` after the session; the old ones are on the must-rotate list.\n"},
		{"lazy continuation", "- one\ntwo\n", "- one two\n"},
		{"nested list", "- outer item\n  wrapped\n  - inner item\n    wrapped too\n",
			"- outer item wrapped\n  - inner item wrapped too\n"},
		{"CRLF", "- a\r\n  b\r\n", "- a b\r\n"},
		{"hard break, backslash", "- line one\\\n  line two\n", "- line one\\\n  line two\n"},
		{"hard break, two spaces", "- line one  \n  line two\n", "- line one  \n  line two\n"},
		{"paragraph left to glamour", "a paragraph\nwrapped\n", "a paragraph\nwrapped\n"},
		{"code span across lines", "- `a\n  b`\n", "- `a\n  b`\n"},
		{"block quote", "> - quoted item\n>   wrapped\n", "> - quoted item\n>   wrapped\n"},
		{"fenced code in an item", "- item\n\n  ```\n  x\n  y\n  ```\n", "- item\n\n  ```\n  x\n  y\n  ```\n"},
		{"no list", "# Title\n\ntext\n", "# Title\n\ntext\n"},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := joinListBreaks(c.in); got != c.want {
				t.Errorf("joinListBreaks(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

// TestMarkdownReflowsListItems: a list item wrapped in the runbook source is
// reflowed to the screen's width, not shown as the source's short lines.
func TestMarkdownReflowsListItems(t *testing.T) {
	src := "Check the identity source:\n\n" +
		"- If the external IdP certificate expired, upload the new SAML metadata from\n" +
		"  the IdP administrators.\n" +
		"- If the IdP itself is down, wait for it.\n"
	out := ansi.Strip(newMarkdown().render(src, 140))
	var item string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, "SAML") {
			item = strings.TrimSpace(l)
		}
	}
	if want := "• If the external IdP certificate expired, upload the new SAML metadata from the IdP administrators."; item != want {
		t.Errorf("list item rendered as %q, want %q; whole rendering:\n%s", item, want, out)
	}
}

// FuzzJoinListBreaks: on any runbook text, joining list-item lines only
// turns whitespace into a single space (every other character stays, in
// order, so nothing an author wrote is hidden or made up), leaves the
// document's block structure as it was (no step, item or code block
// appears, merges or disappears), and a second pass changes nothing.
func FuzzJoinListBreaks(f *testing.F) {
	// The screen renders one step's instructions at a time: seed with the
	// sample runbook's steps and the invalid runbooks, which are small.
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "runbooks", "invalid", "*.md"))
	for _, s := range append(seeds, filepath.Join("..", "testdata", "runbooks", "cloud-root-recovery.md")) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		for step := range strings.SplitSeq(string(b), "\n## ") {
			f.Add(step)
		}
	}
	f.Add("- a\n  b\n> - c\n>   d\n- `e\n  f`\n- g\\\n  h\n1. i\n   j\n")
	f.Fuzz(func(t *testing.T, src string) {
		out := joinListBreaks(src)
		if nonSpace(out) != nonSpace(src) {
			t.Fatalf("more than whitespace changed:\n in %q\nout %q", src, out)
		}
		if a, b := blocksOf(src), blocksOf(out); a != b {
			t.Fatalf("block structure changed:\n in %q: %s\nout %q: %s", src, a, out, b)
		}
		if again := joinListBreaks(out); again != out {
			t.Fatalf("a second pass changed %q to %q", out, again)
		}
	})
}

func nonSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}

// TestInertEntities: a character reference that would decode to something
// inert text never shows (a zero-width or bidi mark, a tab, a newline, an
// escape) is shown as written; the harmless ones still decode.
func TestInertEntities(t *testing.T) {
	out := ansi.Strip(newMarkdown().render("caf&eacute; &amp; tea &lt;b&gt; ad&zwnj;min &rlm;x &Tab;y &NewLine;z &#27;[31m &shy\n", 140))
	for _, want := range []string{"café & tea <b>", "ad&zwnj;min", "&rlm;x", "&Tab;y", "&NewLine;z", "&#27;[31m", "&shy"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendering lacks %q:\n%q", want, out)
		}
	}
}

// blocksOf is blockKinds of s parsed.
func blocksOf(s string) string { return blockKinds(mdParser.Parse(text.NewReader([]byte(s)))) }
