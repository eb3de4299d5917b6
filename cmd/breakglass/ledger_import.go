package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"breakglass/internal/inert"
	"breakglass/ledger"
)

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
	version := ""
	if d.RosterVersion > 1 {
		version = fmt.Sprintf(" (roster version %d of vault %s)", d.RosterVersion, inert.Line(d.Root))
	}
	fmt.Fprintf(e.stdout, "imported vault %s%s: %d of %d custodians, %d seal records (unattributed)\n", inert.Line(d.Fingerprint), version, d.Threshold, d.Custodians, len(d.Seals))
	return 0
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
