package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"breakglass/internal/inert"
	"breakglass/ledger"
)

func runLedgerStatus(_ context.Context, e *env, args []string) int {
	var o ledgerOptions
	pos, code, ok := ledgerFlags(e, "status", &o, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.JSON, "json", false, "print the status as JSON (format breakglass-ledger-status/1)")
		fs.StringVar(&o.HTML, "html", "", "also write a self-contained HTML page to `FILE`")
		fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
		fs.Func("now", "evaluate open items as of this `TIME` (RFC 3339, e.g. 2027-01-31T00:00:00Z)", func(v string) error {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fmt.Errorf("not an RFC 3339 time such as 2027-01-31T00:00:00Z")
			}
			o.Now = t
			return nil
		})
	})
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(e.stderr, "breakglass ledger status: unexpected argument %q\n", inert.Line(pos[0]))
		return 2
	}
	l, ok := o.openLedger(e, "status", true, false)
	if !ok {
		return 1
	}
	defer l.Close()
	st, err := l.Status()
	if err != nil {
		printLedgerErr(e.stderr, "status", err)
		return 1
	}
	if o.HTML != "" {
		if err := writeStatusHTML(o.HTML, st); err != nil {
			fmt.Fprintf(e.stderr, "breakglass ledger status: %v\n", err)
			return 1
		}
	}
	if o.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(e.stderr, "breakglass ledger status: %v\n", err)
			return 1
		}
		return 0
	}
	printStatus(e.stdout, st)
	if o.HTML != "" {
		fmt.Fprintf(e.stdout, "wrote %s\n", inert.Line(o.HTML))
	}
	return 0
}

// writeStatusHTML writes the page through a temporary file and a rename.
func writeStatusHTML(path string, st *ledger.Status) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".ledger-status-*.html")
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	err = ledger.WriteHTML(f, st)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

// printStatus is the human rendering: every string from a report is inert.
func printStatus(w io.Writer, st *ledger.Status) {
	t := inert.Line
	fmt.Fprintf(w, "Ledger: %d entries, head %s; integrity OK, every report, vault, reviewer and signed review re-verified\n", st.Ledger.Entries, st.Ledger.Head)
	fmt.Fprintf(w, "Open items as of %s\n", st.Generated)
	for _, r := range st.Reviewers {
		fmt.Fprintf(w, "Reviewer %s (%s), YubiKey %s: attestation verified\n", t(r.Name), t(r.ID), ledgerSerials(r.Serials))
	}
	for _, v := range st.Vaults {
		verdict := "roster verified"
		if !v.Verified {
			verdict = "NOT VERIFIED: " + t(v.Problem)
		}
		last := "never"
		if v.LastDrill != "" {
			last = v.LastDrill
		}
		fmt.Fprintf(w, "\nVault %s (%s): %d of %d custodians, vault files imported: %d\n", t(v.Fingerprint), verdict, v.Threshold, v.Custodians, v.Copies)
		if v.RosterVersion > 1 {
			fmt.Fprintf(w, "  rekeyed: now roster version %d, fingerprint %s\n", v.RosterVersion, t(v.CurrentFingerprint))
		}
		fmt.Fprintf(w, "  drills every %d days (%s); last %s, next due %s\n", v.DrillInterval, t(v.DrillSource), last, v.DrillDue)
		for _, s := range v.Sessions {
			printSession(w, s)
		}
	}
	fmt.Fprintf(w, "\nOpen items: %d\n", len(st.OpenItems))
	for _, it := range st.OpenItems {
		fmt.Fprintf(w, "  ! %-24s %s\n", it.Kind, t(it.Detail))
	}
	for _, n := range st.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func printSession(w io.Writer, s ledger.Session) {
	t := inert.Line
	verdict := "verified"
	switch {
	case !s.Verified:
		verdict = "NOT VERIFIED: " + t(strings.Join(s.Failed, "; "))
	case s.NonProduction:
		verdict = "verified NON-PRODUCTION"
	}
	fmt.Fprintf(w, "  %s  %s  %s  %s\n", t(s.Started), t(s.ID), t(s.Mode), verdict)
	if !s.Verified {
		return
	}
	var cs, rs []string
	for _, c := range s.Custodians {
		cs = append(cs, fmt.Sprintf("%s (%s, YubiKey %d)", t(c.Name), t(c.ID), c.Serial))
	}
	for _, r := range s.Revealed {
		state := "checked"
		if r.Mode == "show" {
			state = "shown, NOT ROTATED"
			if r.RotatedAt != "" {
				state = "shown, rotated " + r.RotatedAt
			}
		}
		rs = append(rs, t(r.Name)+" ("+state+")")
	}
	fmt.Fprintf(w, "    operator %s, ticket %s, %s; what broke: %s\n", t(s.Operator), t(s.Ticket), t(s.Outcome), t(s.WhatBroke))
	if s.RosterVersion > 1 {
		fmt.Fprintf(w, "    signed under roster version %d\n", s.RosterVersion)
	}
	if s.Rekey != nil {
		fmt.Fprintf(w, "    rekey: %s\n", t(s.Rekey.Summary()))
	}
	fmt.Fprintf(w, "    custodians: %s\n", strings.Join(cs, ", "))
	if len(rs) > 0 {
		fmt.Fprintf(w, "    credentials: %s\n", strings.Join(rs, ", "))
	}
	announced := "never announced"
	if s.AnnouncedBy != "" {
		announced = "announced to " + t(s.AnnouncedBy)
	}
	fmt.Fprintf(w, "    announce code %s, %s\n", t(s.AnnounceCode), announced)
	if r := s.Review; r != nil {
		how := "(" + r.Flag + ")"
		if r.SignedBy != nil {
			how = fmt.Sprintf("(signed on YubiKey %s, signature verified)", ledgerSerials(r.SignedBy.Serials))
		} else if r.Problem != "" {
			how = "(" + strings.ToUpper(r.Flag) + ": " + t(r.Problem) + ")"
		}
		fmt.Fprintf(w, "    review: %s by %s on %s %s: %s\n", t(r.Decision), t(r.Reviewer), t(r.Time), how, t(r.Note))
	}
}

func ledgerSerials(s []uint32) string {
	var out []string
	for _, n := range s {
		out = append(out, fmt.Sprint(n))
	}
	return strings.Join(out, ", ")
}
