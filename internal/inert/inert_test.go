package inert

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Alice Example", "Alice Example"},
		{"letters kept", "Zoë Ångström 山田", "Zoë Ångström 山田"},
		{"escape sequence", "a\x1b[2K\x1b[1A✓", `a\x1b[2K\x1b[1A✓`},
		{"newline and tab", "a\nb\tc", `a\x0ab\x09c`},
		{"carriage return", "ok\rFAIL", `ok\x0dFAIL`},
		{"C1 CSI", "x\u009b31m", `x\x9b31m`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`},
		{"zero width", "ad\u200bmin", `ad\u200bmin`},
		{"invalid utf8", "a\xffb", `a\xffb`},
		{"private use (a secret placeholder)", "x\ue000y", `x\ue000y`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.in); got != tt.want {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	if got, want := Text("line 1\n\tline 2\x1b]0;title\x07"), "line 1\n    line 2\\x1b]0;title\\x07"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	if got := Text("a\rb"); got != `a\x0db` {
		t.Errorf("Text keeps a carriage return: %q", got)
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "Alice", "\x1b[31m", "a\u202eb", "\xff\xfe", "a\nb\tc\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, got := range map[string]string{"Line": Line(s), "Text": Text(s)} {
			if !utf8.ValidString(got) {
				t.Fatalf("%s(%q) is not valid UTF-8: %q", name, s, got)
			}
			for _, r := range got {
				if dangerous(r) && !(name == "Text" && r == '\n') {
					t.Fatalf("%s(%q) keeps %U: %q", name, s, r, got)
				}
			}
		}
		if strings.ContainsAny(Line(s), "\n\r\t") {
			t.Fatalf("Line(%q) keeps a line break or tab", s)
		}
	})
}
