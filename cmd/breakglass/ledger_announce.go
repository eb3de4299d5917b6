package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"breakglass/internal/inert"
	"breakglass/ledger"
)

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
