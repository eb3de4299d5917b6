// Package inert renders untrusted text (names, ids, a JWS kid, runbook text,
// evidence, answers — anything read from a file or a report) so that a
// terminal shows it and does nothing else with it.
//
// Control characters (C0, DEL, C1), Unicode bidirectional overrides and
// isolates, zero-width and other invisible format characters, the line and
// paragraph separators, the Private Use Area (the console draws revealed
// secrets as private-use placeholders, so untrusted text must never contain
// one), and invalid UTF-8 are replaced by a visible escape
// (`\x1b`, `\u202e`). Printable text, including every other non-ASCII
// letter, is kept as it is.
package inert

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line renders s for a single line: every control character, newlines and
// tabs included, becomes a visible escape.
func Line(s string) string { return render(s, false) }

// Text renders s for a block of text: newlines and tabs are kept (a tab as
// spaces, so it cannot move the cursor arbitrarily); every other control
// character becomes a visible escape. A carriage return is escaped: it would
// let a line overwrite itself.
func Text(s string) string { return render(s, true) }

// Safe reports whether s would be rendered unchanged by Line.
func Safe(s string) bool { return Line(s) == s }

func render(s string, block bool) string {
	if plain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case block && r == '\n':
			b.WriteByte('\n')
		case block && r == '\t':
			b.WriteString("    ")
		case dangerous(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// plain is the fast path: printable ASCII only.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// dangerous reports runes a terminal may act on or that hide or reorder text.
func dangerous(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings, overrides, isolates
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return true
	case r == 0xfeff, r >= 0x200b && r <= 0x200f, r == 0x061c: // zero-width, marks
		return true
	case unicode.Is(unicode.Cf, r): // every other invisible format character
		return true
	case r >= 0xe000 && r <= 0xf8ff: // private use: the console's secret placeholders (ui/securewriter.go)
		return true
	}
	return false
}
