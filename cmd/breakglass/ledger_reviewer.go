package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"breakglass/internal/inert"
)

func runLedgerReviewer(_ context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] != "add" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(e.stdout, ledgerUsage)
			return 0
		}
		fmt.Fprintln(e.stderr, "breakglass ledger reviewer: the subcommand is add: breakglass ledger reviewer add --ledger DIR CUSTODIAN.json")
		return 2
	}
	var o ledgerOptions
	pos, code, ok := ledgerFlags(e, "reviewer add", &o, args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
	})
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "breakglass ledger reviewer add: give one CUSTODIAN.json, the enrolment record \"breakglass enrol\" wrote for the reviewer's YubiKey")
		return 2
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "breakglass ledger reviewer add: reading enrolment record: %v\n", err)
		return 1
	}
	l, ok := o.openLedger(e, "reviewer add", true, true)
	if !ok {
		return 1
	}
	defer l.Close()
	d, err := l.AddReviewer(raw)
	if err != nil {
		printLedgerErr(e.stderr, "reviewer add", err)
		return 1
	}
	seq, head := l.Head()
	fmt.Fprintf(e.stdout, "enrolled reviewer %s (%s), YubiKey %s: attestation verified; reviews signed with --serial on it are verified on every status\n",
		inert.Line(d.Name), inert.Line(d.ID), ledgerSerials(d.Serials))
	fmt.Fprintf(e.stdout, "ledger %s: %d entries, head %s\n", inert.Line(o.Dir), seq, head)
	return 0
}
