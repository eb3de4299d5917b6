package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

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
		{name: "ledger reviewer", summary: "enrol a reviewer whose YubiKey signs reviews (ledger reviewer add)", run: runLedgerReviewer},
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
	Now  time.Time // --now: evaluate open items as of this time; zero is the clock
	// review
	Session, Reviewer, Decision, Note string
	Serial                            uint32 // --serial: sign on this enrolled reviewer's YubiKey
	PINFiles                          pinFileFlag
	ConfirmLast                       bool
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
  status   --ledger DIR [--json] [--html FILE] [--now TIME] [--attestation-root PEM]
           Every session per vault and the open items: credentials not rotated,
           sessions not reviewed, drills overdue, announce codes without a
           report and reports without an announcement, rollbacks, reviews
           whose signature does not verify. --now TIME (RFC 3339, e.g.
           2027-01-31T00:00:00Z) evaluates the open items as of that time.
  review   --ledger DIR SESSION --decision accepted|follow-up --note TEXT
           (--serial SERIAL [--pin-file SERIAL=FILE] [--attestation-root PEM] | --reviewer NAME)
           Record the post-use review. With --serial it is signed on that
           YubiKey (PIN and touch), which must be enrolled as a reviewer; a key
           not enrolled or a signature that does not verify is refused. With
           --reviewer NAME alone it is recorded as an "unsigned review".
           accepted closes the session.
  reviewer add --ledger DIR [--attestation-root PEM] CUSTODIAN.json
           Enrol the holder of an enrolment record ("breakglass enrol" wrote it)
           as a reviewer: its keys' attestations are verified as vaults' are.
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
  breakglass ledger reviewer add --ledger ~/audit/ledger rita-r.custodian.json
  breakglass ledger review --ledger ~/audit/ledger S-2026-0001 --serial 15000001 --decision accepted --note "justified by INC-42"
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
	ropts, err := (&verifyOptions{AttestationRoot: o.AttestationRoot}).trustOptions()
	if err != nil {
		return ledger.Trust{}, err
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	return ledger.Trust{Report: ropts, Vault: vopts}, nil
}

// openLedger opens (with create, makes) the ledger, printing a refusal.
func (o *ledgerOptions) openLedger(e *env, sub string, withTrust, create bool) (*ledger.Ledger, bool) {
	cfg := ledger.Config{Dir: o.Dir}
	if !o.Now.IsZero() {
		now := o.Now
		cfg.Now = func() time.Time { return now }
	}
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

func ledgerCode(c string) string {
	if len(c) == 10 {
		return c[:5] + "-" + c[5:]
	}
	return inert.Line(c)
}
