package main

import (
	"context"
	"flag"
	"fmt"

	"breakglass/internal/inert"
	"breakglass/ledger"
)

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
