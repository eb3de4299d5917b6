package main

import (
	"context"
	"flag"
	"fmt"
)

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
