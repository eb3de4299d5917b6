package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"breakglass/internal/inert"
	"breakglass/ledger"
)

func init() {
	for _, c := range []command{
		{name: "ledger", summary: "the auditor's ledger of every use: import, status, review, announce, export", run: runLedgerHelp},
		{name: "ledger import", summary: "verify reports against the pinned vault and add them to the ledger", run: runLedgerImport},
		{name: "ledger status", summary: "every session per vault and the open items (--json, --html FILE)", run: runLedgerStatus},
		{name: "ledger review", summary: "record the post-use review of a session", run: runLedgerReview},
		{name: "ledger announce", summary: "record an announce code the on-call received", run: runLedgerAnnounce},
		{name: "ledger export", summary: "one JSON event per line for a SIEM", run: runLedgerExport},
	} {
		register(c)
	}
}

// ledgerOptions are the flags of the "breakglass ledger" subcommands; each
// uses the ones its usage lists.
type ledgerOptions struct {
	Dir             string // --ledger, every subcommand
	AttestationRoot string // import, status, export: a TEST root (NON-PRODUCTION)
	// import
	Vault            string
	VaultFingerprint string
	Reports          []string
	// status
	JSON bool
	HTML string
	// review
	Session, Reviewer, Decision, Note string
	// announce
	Code, By string
	// export
	Format string
}

const ledgerUsage = `Usage: breakglass ledger SUBCOMMAND --ledger DIR [flags]

The auditor's record of every use of a vault, a directory on the auditor's
machine: each report verified against the pinned vault and stored by its
SHA-256, in an append-only, hash-chained index. Every subcommand first
re-checks the whole directory and names anything edited, deleted,
reordered or added.

  import   --ledger DIR (--vault FILE | --vault-fingerprint FP) [--attestation-root PEM] [REPORT...]
           Verify each REPORT as "breakglass verify" does, against the pinned
           vault, and add it; refuses a report that fails, belongs to another
           vault or is already in the ledger (nothing is added then). With
           --vault and no REPORT, records that vault copy (its roster and seal
           records: import a newer copy after rotating credentials).
  status   --ledger DIR [--json] [--html FILE] [--attestation-root PEM]
           Every session per vault and the open items: credentials not rotated,
           sessions not reviewed, drills overdue, announce codes without a
           report and reports without an announcement, rollbacks.
  review   --ledger DIR SESSION --reviewer NAME --decision accepted|follow-up --note TEXT
           Record the post-use review ("unsigned review": signing a review on
           the reviewer's YubiKey is not built yet). accepted closes the session.
  announce --ledger DIR --code CODE --by NAME
           Record the announce code the on-call received from the station.
  export   --ledger DIR --format jsonl [--attestation-root PEM]
           One JSON event per line on stdout (schema: ledger/export.schema.json).

The pin is the vault's fingerprint from the custodian card, or the vault
file itself: nothing is verified against an unpinned roster.

Exit status: 0 done; 1 a refusal, a failed check or a changed ledger (the
message names it); 2 a usage error. Open items do not change the exit
status of status: read them from open_items in --json.

Examples:
  breakglass ledger import --ledger ~/audit/ledger --vault vault.json export/*.jws.json
  breakglass ledger import --ledger ~/audit/ledger --vault-fingerprint 645C-36FC-89D4-451C-F613 report.jws.json
  breakglass ledger import --ledger ~/audit/ledger --vault vault-after-rotation.json
  breakglass ledger announce --ledger ~/audit/ledger --code 7K3QD-X9P2M --by "Sam (on-call)"
  breakglass ledger status --ledger ~/audit/ledger --html status.html
  breakglass ledger review --ledger ~/audit/ledger S-2026-0001 --reviewer "Rita R." --decision accepted --note "justified by INC-42"
  breakglass ledger export --ledger ~/audit/ledger --format jsonl > breakglass-events.jsonl
`

func runLedgerHelp(_ context.Context, e *env, args []string) int {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
		fmt.Fprintf(e.stderr, "breakglass ledger: unknown subcommand %q\n", inert.Line(args[0]))
		fmt.Fprint(e.stderr, ledgerUsage)
		return 2
	}
	fmt.Fprint(e.stdout, ledgerUsage)
	return 0
}

// ledgerFlags parses args for subcommand sub; add registers its own flags.
// It returns the positionals, or an exit code when parsing ended the run.
func ledgerFlags(e *env, sub string, o *ledgerOptions, args []string, add func(fs *flag.FlagSet)) ([]string, int, bool) {
	fs := flag.NewFlagSet("ledger "+sub, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, ledgerUsage) }
	fs.StringVar(&o.Dir, "ledger", "", "the ledger `DIR`")
	add(fs)
	pos, err := parseAnyOrder(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		return nil, 2, false
	}
	if o.Dir == "" {
		fmt.Fprintf(e.stderr, "breakglass ledger %s: give the ledger directory (--ledger DIR)\n", sub)
		return nil, 2, false
	}
	return pos, 0, true
}

// trust builds the attestation trust for reports and vaults with the same
// helpers "breakglass verify" and "vault inspect" use (Yubico roots built
// in, or only the TEST root given), so the ledger trusts exactly what they
// trust.
func (o *ledgerOptions) trust(e *env) (ledger.Trust, error) {
	vopts, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		return ledger.Trust{}, err
	}
	ropts, err := (&verifyOptions{AttestationRoot: o.AttestationRoot}).options()
	if err != nil {
		return ledger.Trust{}, err
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	return ledger.Trust{Report: ropts, Vault: vopts}, nil
}

// openLedger opens (with create, makes) the ledger, printing a refusal.
func (o *ledgerOptions) openLedger(e *env, sub string, withTrust, create bool) (*ledger.Ledger, bool) {
	cfg := ledger.Config{Dir: o.Dir}
	if withTrust {
		t, err := o.trust(e)
		if err != nil {
			fmt.Fprintf(e.stderr, "breakglass ledger %s: %v\n", sub, err)
			return nil, false
		}
		cfg.Trust = t
	}
	l, err := ledger.Open(cfg, create)
	if err != nil {
		printLedgerErr(e.stderr, sub, err)
		return nil, false
	}
	return l, true
}

// printLedgerErr prints an error, one line per integrity problem, inert.
func printLedgerErr(w io.Writer, sub string, err error) {
	var te *ledger.TamperError
	if errors.As(err, &te) {
		fmt.Fprintf(w, "breakglass ledger %s: LEDGER TAMPERED: %s fails its integrity check:\n", sub, inert.Line(te.Dir))
		for _, p := range te.Problems {
			fmt.Fprintf(w, "  ✗ %s\n", inert.Line(p.String()))
		}
		fmt.Fprintln(w, "Restore the directory from a backup and compare the two before trusting either; nothing was done.")
		return
	}
	fmt.Fprintf(w, "breakglass ledger %s: %s\n", sub, inert.Line(err.Error()))
}

func runLedgerImport(_ context.Context, e *env, args []string) int {
	var o ledgerOptions
	pos, code, ok := ledgerFlags(e, "import", &o, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Vault, "vault", "", "the vault `FILE` reports are verified against (imported if new)")
		fs.StringVar(&o.VaultFingerprint, "vault-fingerprint", "", "the pinned vault's fingerprint `FP` (custodian card), of a vault already in the ledger")
		fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
	})
	if !ok {
		return code
	}
	o.Reports = pos
	switch {
	case o.Vault == "" && o.VaultFingerprint == "":
		fmt.Fprintln(e.stderr, "breakglass ledger import: pin the vault: --vault FILE, or --vault-fingerprint FP (the fingerprint on the custodian card); nothing is verified against an unpinned roster")
		return 2
	case len(o.Reports) == 0 && o.Vault == "":
		fmt.Fprintln(e.stderr, "breakglass ledger import: give REPORT files to import, or --vault FILE to record a vault copy")
		return 2
	case len(o.Reports) == 0 && o.VaultFingerprint != "":
		fmt.Fprintln(e.stderr, "breakglass ledger import: --vault-fingerprint pins reports; to record a vault copy give --vault FILE alone")
		return 2
	}
	pin := ledger.Pin{Fingerprint: o.VaultFingerprint}
	if o.Vault != "" {
		b, err := os.ReadFile(o.Vault)
		if err != nil {
			fmt.Fprintf(e.stderr, "breakglass ledger import: reading vault: %v\n", err)
			return 1
		}
		pin.VaultFile = b
	}
	l, ok := o.openLedger(e, "import", true, true)
	if !ok {
		return 1
	}
	defer l.Close()
	if len(o.Reports) == 0 {
		return importVaultOnly(e, l, pin)
	}
	failed := 0
	for _, path := range o.Reports {
		b, err := readReport(path)
		var d ledger.ReportData
		if err == nil {
			d, err = l.ImportReport(filepath.Base(path), b, pin)
		}
		if err != nil {
			failed++
			printLedgerErr(e.stderr, "import", err)
			continue
		}
		fmt.Fprintf(e.stdout, "imported %s: session %s (%s), announce code %s\n", inert.Line(path), inert.Line(d.Session), inert.Line(d.Mode), ledgerCode(d.AnnounceCode))
	}
	if failed < len(o.Reports) {
		seq, head := l.Head()
		fmt.Fprintf(e.stdout, "ledger %s: %d entries, head %s (note it: a later rewrite of the whole directory would change it)\n", inert.Line(o.Dir), seq, head)
	}
	if failed > 0 {
		fmt.Fprintf(e.stderr, "breakglass ledger import: %d of %d reports refused\n", failed, len(o.Reports))
		return 1
	}
	return 0
}

func importVaultOnly(e *env, l *ledger.Ledger, pin ledger.Pin) int {
	d, err := l.ImportVault(pin.VaultFile)
	if err != nil {
		printLedgerErr(e.stderr, "import", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "imported vault %s: %d of %d custodians, %d seal records (unattributed)\n", inert.Line(d.Fingerprint), d.Threshold, d.Custodians, len(d.Seals))
	return 0
}

func ledgerCode(c string) string {
	if len(c) == 10 {
		return c[:5] + "-" + c[5:]
	}
	return inert.Line(c)
}

// readReport reads a report file, bounded as verify bounds it.
func readReport(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading report: %w", err)
	}
	defer f.Close()
	const limit = 1 << 30
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && len(b) > limit {
		err = fmt.Errorf("larger than %d bytes", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("reading report %q: %w", path, err)
	}
	return b, nil
}

func runLedgerStatus(_ context.Context, e *env, args []string) int {
	var o ledgerOptions
	pos, code, ok := ledgerFlags(e, "status", &o, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.JSON, "json", false, "print the status as JSON (format breakglass-ledger-status/1)")
		fs.StringVar(&o.HTML, "html", "", "also write a self-contained HTML page to `FILE`")
		fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
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
	fmt.Fprintf(w, "Ledger: %d entries, head %s; integrity OK, every report and vault re-verified\n", st.Ledger.Entries, st.Ledger.Head)
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
		fmt.Fprintf(w, "    review: %s by %s on %s (unsigned review): %s\n", t(r.Decision), t(r.Reviewer), t(r.Time), t(r.Note))
	}
}

func runLedgerReview(_ context.Context, e *env, args []string) int {
	var o ledgerOptions
	pos, code, ok := ledgerFlags(e, "review", &o, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Reviewer, "reviewer", "", "who reviewed the session (`NAME`)")
		fs.StringVar(&o.Decision, "decision", "", "accepted (closes the session) or follow-up")
		fs.StringVar(&o.Note, "note", "", "the review's finding (`TEXT`)")
	})
	if !ok {
		return code
	}
	if len(pos) != 1 || o.Reviewer == "" || o.Note == "" || (o.Decision != ledger.DecisionAccepted && o.Decision != ledger.DecisionFollowUp) {
		fmt.Fprintln(e.stderr, "breakglass ledger review: give one SESSION, --reviewer NAME, --decision accepted|follow-up and --note TEXT")
		return 2
	}
	o.Session = pos[0]
	l, ok := o.openLedger(e, "review", false, false)
	if !ok {
		return 1
	}
	defer l.Close()
	en, err := l.Review(o.Session, o.Reviewer, o.Decision, o.Note)
	if err != nil {
		printLedgerErr(e.stderr, "review", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "recorded review of %s (entry %d): %s by %s — unsigned review (signing reviews on the reviewer's YubiKey is not built yet)\n",
		inert.Line(o.Session), en.Seq, o.Decision, inert.Line(o.Reviewer))
	return 0
}

func runLedgerAnnounce(_ context.Context, e *env, args []string) int {
	var o ledgerOptions
	pos, code, ok := ledgerFlags(e, "announce", &o, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Code, "code", "", "the announce `CODE` read out by the operator (XXXXX-XXXXX)")
		fs.StringVar(&o.By, "by", "", "the on-call who received it (`NAME`)")
	})
	if !ok {
		return code
	}
	if len(pos) > 0 || o.Code == "" || o.By == "" {
		fmt.Fprintln(e.stderr, "breakglass ledger announce: give --code CODE and --by NAME")
		return 2
	}
	l, ok := o.openLedger(e, "announce", false, false)
	if !ok {
		return 1
	}
	defer l.Close()
	en, err := l.Announce(o.Code, o.By)
	if err != nil {
		printLedgerErr(e.stderr, "announce", err)
		return 1
	}
	var d ledger.AnnounceData
	_ = json.Unmarshal(en.Data, &d)
	fmt.Fprintf(e.stdout, "recorded announce code %s received by %s (entry %d); status matches it with the session's report\n", ledgerCode(d.Code), inert.Line(o.By), en.Seq)
	return 0
}

func runLedgerExport(_ context.Context, e *env, args []string) int {
	var o ledgerOptions
	pos, code, ok := ledgerFlags(e, "export", &o, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Format, "format", "", "the export format: jsonl")
		fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
	})
	if !ok {
		return code
	}
	if len(pos) > 0 || o.Format != "jsonl" {
		fmt.Fprintln(e.stderr, "breakglass ledger export: give --format jsonl (the only format; one event per line, schema ledger/export.schema.json)")
		return 2
	}
	l, ok := o.openLedger(e, "export", true, false)
	if !ok {
		return 1
	}
	defer l.Close()
	if err := l.Export(e.stdout); err != nil {
		printLedgerErr(e.stderr, "export", err)
		return 1
	}
	return 0
}
