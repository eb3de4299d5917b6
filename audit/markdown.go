package audit

import (
	"fmt"
	"strings"
)

// RenderMarkdown renders r for people, to be written beside the signed
// JSON. It is a courtesy copy: only the JWS is evidence, and the text says
// so. Output is deterministic.
func RenderMarkdown(r *Report) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := "Break-glass report"
	if r.Session.Mode == ModeDrill {
		title = "Break-glass DRILL report"
	}
	p("# %s — %s\n\n", title, md(r.Session.ID))
	p("> This rendering is for reading only. The evidence is the signed JSON report;\n")
	p("> check it with `breakglass verify REPORT`.\n\n")
	if strings.HasPrefix(r.AttestationRoot, "TEST/") {
		p("**NON-PRODUCTION: custodian keys were attested by a test root (%s).**\n\n", md(r.AttestationRoot))
	}
	p("| | |\n|---|---|\n")
	for _, row := range [][2]string{
		{"Mode", r.Session.Mode}, {"Operator", r.Session.Operator}, {"Ticket", r.Session.Ticket},
		{"What broke", r.Session.WhatBroke}, {"Started", r.Session.Started}, {"Ended", r.Session.Ended},
		{"Outcome", strings.TrimSpace(r.Session.Outcome + " " + r.Session.AbortReason)},
		{"Threshold", fmt.Sprintf("%d custodians", r.Session.Threshold)},
		{"Binary", r.Binary.Version + " (sha256 " + r.Binary.SHA256 + ")"},
		{"Vault fingerprint", r.VaultFingerprint},
		{"Roster digest (SHA-256)", r.Roster.Digest},
		{"Roster signed by", rosterSigners(r)},
		{"Runbook", r.Runbook.Name + " (sha256 " + r.Runbook.SHA256 + ")"},
		{"Attestation root", r.AttestationRoot},
	} {
		p("| %s | %s |\n", row[0], md(row[1]))
	}
	p("\n## Custodians\n\n| id | name | YubiKey serial |\n|---|---|---|\n")
	for _, c := range r.Custodians {
		p("| %s | %s | %d |\n", md(c.ID), md(c.Name), c.Serial)
	}
	p("\n## Quorum\n\n| # | time | custodian | serial |\n|---|---|---|---|\n")
	for _, q := range r.Quorum {
		p("| %d | %s | %s | %d |\n", q.Seq, q.Time, md(q.Custodian), q.Serial)
	}
	p("\n## Timeline\n\n| # | time | step | event | detail |\n|---|---|---|---|---|\n")
	for _, s := range r.Timeline {
		p("| %d | %s | %s | %s | %s |\n", s.Seq, s.Time, md(s.Step), md(s.Event), md(s.Detail))
	}
	p("\n## Credentials revealed\n\n")
	if len(r.Revealed) == 0 {
		p("None.\n")
	} else {
		p("| # | time | name | step | mode | sealed at | version | sealed by | seal record |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Revealed {
			p("| %d | %s | %s | %s | %s | %s | %d | %s | %s |\n", s.Seq, s.Time, md(s.Name), md(s.Step), md(s.Mode), md(s.SealedAt), s.Version, md(s.SealedBy), md(s.SealRecord))
		}
	}
	p("\n## Must rotate\n\n")
	if len(r.MustRotate) == 0 {
		p("Nothing.\n")
	}
	for _, n := range r.MustRotate {
		p("- [ ] %s\n", md(n))
	}
	p("\n## Close-out\n\n")
	for _, a := range r.Closeout {
		p("**%s**\n\n%s\n\n", md(a.Question), md(strings.TrimSpace(a.YesNo+" "+a.Text)))
	}
	p("\n## Journal\n\n%d entries, head `%s`.\n\n| # | time | actor | type |\n|---|---|---|---|\n", r.Journal.Count, r.Journal.Head)
	for _, e := range r.Journal.Entries {
		p("| %d | %s | %s | %s |\n", e.Seq, e.Time, md(e.Actor), md(e.Type))
	}
	return []byte(b.String())
}

// md makes untrusted text safe inside a Markdown table cell or paragraph:
// no line breaks, no table pipes, no HTML, no emphasis or link syntax.
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
		case strings.ContainsRune("\\`*_{}[]<>#|!~&", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// rosterSigners lists the embedded roster's signatures as "id (serial)".
func rosterSigners(r *Report) string {
	var out []string
	for _, s := range r.Roster.Signatures {
		out = append(out, fmt.Sprintf("%s (%d)", s.Custodian, s.Serial))
	}
	return strings.Join(out, ", ")
}
