package main

import (
	"fmt"
	"io"
	"strings"

	"breakglass/audit"
	"breakglass/internal/inert"
)

// printf is fmt.Fprintf for every line a subcommand prints that carries text
// from a file, a report, a card or an error: the format is ours and is
// printed as written; every string, error, fmt.Stringer and []string
// argument is rendered with inert.Line first, so a name, kid or message
// holding control sequences, bidi overrides or newlines cannot erase, move
// or forge a line on the terminal. An argument under %q is left to
// strconv.Quote, which escapes the same characters. An error keeps its
// hint lines (see inertError).
func printf(w io.Writer, format string, args ...any) {
	verbs := fmtVerbs(format)
	for i, a := range args {
		if i < len(verbs) && verbs[i] == 'q' {
			continue
		}
		args[i] = inertArg(a)
	}
	fmt.Fprintf(w, format, args...)
}

// inertArg renders a as inert text if it is text; other values (numbers)
// print as they are.
func inertArg(a any) any {
	switch v := a.(type) {
	case string:
		return inert.Line(v)
	case error:
		return inertError(v.Error())
	case fmt.Stringer:
		return inert.Line(v.String())
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = inert.Line(s)
		}
		return out
	}
	return a
}

// inertError renders an error message, which may carry its own "\n  what
// to do" lines: each line is rendered with inert.Line, and a line after the
// first that does not start indented is indented, so text inside an error
// can never start a line of its own that looks like a verdict.
func inertError(msg string) string {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		l = inert.Line(l)
		if i > 0 && !strings.HasPrefix(l, " ") {
			l = "  " + l
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// fmtVerbs lists the verb letter of each argument format consumes, in
// order ('*' for a width or precision taken from an argument).
func fmtVerbs(format string) []byte {
	var verbs []byte
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format); i++ {
			c := format[i]
			if c == '*' {
				verbs = append(verbs, '*')
				continue
			}
			if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '%' {
				if c != '%' {
					verbs = append(verbs, c)
				}
				break
			}
		}
	}
	return verbs
}

// inertVerdict is a copy of v whose text from the report (check details,
// warnings, session id and mode, journal head) is rendered with inert.Line,
// for Verdict.Print. v itself, which decides the exit code, is untouched.
func inertVerdict(v *audit.Verdict) *audit.Verdict {
	c := *v
	c.Checks = make([]audit.Check, len(v.Checks))
	for i, ch := range v.Checks {
		ch.Name, ch.Detail = inert.Line(ch.Name), inert.Line(ch.Detail)
		c.Checks[i] = ch
	}
	c.Warnings = make([]string, len(v.Warnings))
	for i, w := range v.Warnings {
		c.Warnings[i] = inert.Line(w)
	}
	if v.Report != nil {
		r := *v.Report
		r.Session.ID, r.Session.Mode = inert.Line(r.Session.ID), inert.Line(r.Session.Mode)
		r.Journal.Head = inert.Line(r.Journal.Head)
		c.Report = &r
	}
	return &c
}
