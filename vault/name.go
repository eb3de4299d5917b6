package vault

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// One person holds one share. A roster refuses two custodians whose names
// are the same person to a reader: the same after compatibility
// normalisation (NFKC: a fullwidth "Ａ" is "A", a no-break space a space),
// case folding and collapsing runs of spaces. It also refuses a name that
// mixes scripts the way a lookalike does (a Cyrillic "А" or Greek "ο" in a
// Latin name), the "highly restrictive" profile of Unicode TS #39: one
// script, or Latin with Han, Hiragana and Katakana (Japanese), Han and
// Hangul (Korean), Han and Bopomofo (Chinese). A whole name in another
// script is another name.

// nameSkeleton is the form two names are compared in.
func nameSkeleton(name string) string {
	s := cases.Fold().String(norm.NFKC.String(name))
	return strings.Join(strings.Fields(s), " ")
}

// scriptSets are the sets of scripts one name may mix (TS #39, highly
// restrictive); Common and Inherited characters belong to every script.
var scriptSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Hangul"},
	{"Latin", "Han", "Bopomofo"},
}

// nameScripts lists the scripts of the letters of name (NFKC), ignoring
// Common and Inherited.
func nameScripts(name string) []string {
	var out []string
	for _, r := range norm.NFKC.String(name) {
		if unicode.In(r, unicode.Common, unicode.Inherited) {
			continue
		}
		for script, table := range unicode.Scripts {
			if script != "Common" && script != "Inherited" && unicode.Is(table, r) {
				if !slices.Contains(out, script) {
					out = append(out, script)
				}
				break
			}
		}
	}
	return out
}

// mixedScripts reports whether name mixes scripts outside one allowed set.
func mixedScripts(name string) bool {
	scripts := nameScripts(name)
	if len(scripts) <= 1 {
		return false
	}
	for _, set := range scriptSets {
		all := true
		for _, s := range scripts {
			all = all && slices.Contains(set, s)
		}
		if all {
			return false
		}
	}
	return true
}
