package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"breakglass/vault"
)

func init() {
	register(command{
		name:    "vault rekey",
		summary: "change custodians, keys or threshold with a quorum: the next roster version, signed and journaled",
		run:     runVaultRekey,
	})
}

// vaultRekeyOptions are the flags of "breakglass vault rekey".
type vaultRekeyOptions struct {
	Vault           string
	Out             string
	Add             fileList // enrolment records of new custodians
	AddKeys         fileList // enrolment records of new keys of custodians on the roster
	Remove          fileList // custodian ids
	RemoveKeys      serialList
	Threshold       int
	Reason          string
	PINFiles        pinFileFlag
	Serials         serialList
	AttestationRoot string
	Journal         string
	Report          string
	Operator        string
	ConfirmLast     bool
}

const vaultRekeyUsage = `Usage: breakglass vault rekey --vault FILE --out NEW-FILE [changes] [flags]

Makes the next version of the vault's roster: custodians or keys added or
removed, or the threshold changed. A quorum of the CURRENT roster authorises
it (PIN and touch, as at an unlock); every custodian of the NEW roster then
signs it on their key, and the quorum's signatures also endorse it, so the
vault carries a signed chain of its roster versions.

When anyone or any key leaves, or the threshold rises, the vault gets a NEW
identity: every secret is re-encrypted (in locked memory) and the old shares
open nothing afterwards. When custodians or keys are only added, the same
identity is reshared. Either way every custodian gets a fresh share.

The new vault is written to --out (never in place; the old file is not
touched) only when every signature verifies. The session is journaled like a
console session, and the quorum signs a rekey report for the auditors.

Changes:
  --add CUSTODIAN.json     a new custodian (written by "breakglass enrol"; two
                           files with one ID are their primary and backup keys)
  --remove ID              a custodian who leaves, with all their keys
  --add-key CUSTODIAN.json a new key (backup) of a custodian on the roster
  --remove-key SERIAL      a key that leaves (lost, stolen, retired)
  --threshold M            the new threshold (default: unchanged)
  --reason TEXT            why, in the custodians' words (signed and journaled)
All the change flags may be repeated.

Flags:
  --vault FILE             the current vault (read only)
  --out FILE               the new vault to write (must not exist)
  --operator NAME          who runs the rekey (asked on a terminal)
  --journal FILE           the session journal (default: OUT.rekey.journal)
  --report FILE            the signed rekey report (default: OUT.rekey-report.json)
  --pin-file SERIAL=FILE   PIN of the key with SERIAL (repeatable; scripts)
  --serials N,N,...        the keys to use, in order: the quorum's first
                           (scripts; default: the --pin-file keys, or ask)
  --confirm-last-retry     try a PIN even if only one attempt is left
  --attestation-root PEM   trust this (TEST) attestation root instead of Yubico's

Examples:
  breakglass vault rekey --vault vault.json --out vault-v2.json --remove carol --add dave.custodian.json --reason "Carol left"
  breakglass vault rekey --vault vault.json --out vault-v2.json --remove-key 10000007 --reason "key stolen"
  breakglass vault rekey --vault vault.json --out vault-v2.json --add erin.custodian.json --threshold 3
`

// fileList collects a repeated string flag (flag.Value).
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

func runVaultRekey(ctx context.Context, e *env, args []string) int {
	o := vaultRekeyOptions{PINFiles: pinFileFlag{}}
	fs := flag.NewFlagSet("vault rekey", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, vaultRekeyUsage) }
	fs.StringVar(&o.Vault, "vault", "", "")
	fs.StringVar(&o.Out, "out", "", "")
	fs.Var(&o.Add, "add", "")
	fs.Var(&o.AddKeys, "add-key", "")
	fs.Var(&o.Remove, "remove", "")
	fs.Var(&o.RemoveKeys, "remove-key", "")
	fs.IntVar(&o.Threshold, "threshold", 0, "")
	fs.StringVar(&o.Reason, "reason", "", "")
	fs.Var(o.PINFiles, "pin-file", "")
	fs.Var(&o.Serials, "serials", "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	fs.StringVar(&o.Journal, "journal", "", "")
	fs.StringVar(&o.Report, "report", "", "")
	fs.StringVar(&o.Operator, "operator", "", "")
	fs.BoolVar(&o.ConfirmLast, "confirm-last-retry", false, "")
	pos, err := parseAnyOrder(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) > 0 {
		printf(e.stderr, "breakglass vault rekey: unexpected argument %q: give the vault with --vault FILE and the new one with --out FILE\n", pos[0])
		return 2
	}
	if err := o.checkFlags(e); err != nil {
		printf(e.stderr, "breakglass vault rekey: %v\n", err)
		return 2
	}
	return o.exec(ctx, e)
}

// checkFlags finds every flag problem before any file is read.
func (o *vaultRekeyOptions) checkFlags(e *env) error {
	switch {
	case o.Vault == "":
		return errors.New("--vault FILE is required: the current vault (it is only read)")
	case o.Out == "":
		return errors.New("--out FILE is required: the new vault to write (a rekey never writes in place)")
	case o.Threshold < 0:
		return fmt.Errorf("--threshold %d: give the number of custodians needed to open the vault (2 or more)", o.Threshold)
	}
	if o.Journal == "" {
		o.Journal = o.Out + ".rekey.journal"
	}
	if o.Report == "" {
		o.Report = o.Out + ".rekey-report.json"
	}
	paths := map[string]string{}
	for _, p := range [][2]string{{"--vault", o.Vault}, {"--out", o.Out}, {"--journal", o.Journal}, {"--report", o.Report}} {
		abs, err := filepath.Abs(p[1])
		if err != nil {
			return fmt.Errorf("%s %s: %w", p[0], p[1], err)
		}
		if prev, dup := paths[abs]; dup {
			return fmt.Errorf("%s and %s are the same file %s: a rekey never writes in place; give a new file", prev, p[0], p[1])
		}
		paths[abs] = p[0]
	}
	if a, err := os.Stat(o.Vault); err == nil {
		if b, err := os.Stat(o.Out); err == nil && os.SameFile(a, b) {
			return fmt.Errorf("--out %s is the vault %s itself (a link to it): a rekey never writes in place; give a new file", o.Out, o.Vault)
		}
	}
	o.Operator = strings.TrimSpace(o.Operator)
	if o.Operator != "" {
		if err := checkOperator(o.Operator); err != nil {
			return err
		}
	}
	if o.Operator == "" && !stdinIsTerminal(e) {
		return errors.New("--operator NAME is required: who runs the rekey (it is journaled and in the report)")
	}
	if len(o.PINFiles) == 0 && len(o.Serials) == 0 && !stdinIsTerminal(e) {
		return errors.New("no keys to use: give --serials and --pin-file SERIAL=FILE, or run on a terminal")
	}
	return nil
}

// checkFiles refuses to go on when a file the rekey writes already exists.
func (o *vaultRekeyOptions) checkFiles() error {
	for _, p := range [][3]string{
		{"--out", o.Out, "an existing file is never overwritten; choose another --out"},
		{"--journal", o.Journal, "a journal of an earlier attempt is kept as evidence: move it aside or give another --journal"},
		{"--report", o.Report, "an existing report is never overwritten: move it aside or give another --report"},
	} {
		if _, err := os.Lstat(p[1]); err == nil {
			return fmt.Errorf("%s %s already exists: %s", p[0], p[1], p[2])
		}
	}
	return nil
}

func (o *vaultRekeyOptions) exec(ctx context.Context, e *env) int {
	fail := func(err error) int { printErr(e.stderr, "vault rekey", err); return 1 }
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		printf(e.stderr, "breakglass vault rekey: %v\nGive a PEM file holding the attestation root certificate.\n", err)
		return 2
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	if err := o.checkFiles(); err != nil {
		return fail(err)
	}
	old, err := vault.Load(o.Vault)
	if err != nil {
		return fail(err)
	}
	if err := old.VerifyRoster(trust); err != nil {
		return fail(fmt.Errorf("vault %s: %w\n  the current roster does not verify: nothing was changed", o.Vault, err))
	}
	records, err := loadCustodianRecords(append(append([]string{}, o.Add...), o.AddKeys...))
	if err != nil {
		return fail(err)
	}
	plan, err := old.PlanRekey(vault.RekeyRequest{
		Add: records[:len(o.Add)], AddKeys: records[len(o.Add):], Remove: o.Remove, RemoveKeys: o.RemoveKeys,
		Threshold: o.Threshold, Reason: o.Reason, Now: vaultNow(),
	})
	if err != nil {
		printf(e.stderr, "breakglass vault rekey: %v\n  nothing was changed\n", err)
		return 2
	}
	// Every new key's attestation and attested policies are checked before
	// anyone is asked for a PIN: a weak key is refused here, by name.
	if err := plan.Roster().VerifyKeys(trust); err != nil {
		return fail(fmt.Errorf("%w\n  nobody was asked for a PIN and nothing was written", err))
	}
	if err := o.checkSerials(old, plan); err != nil {
		printf(e.stderr, "breakglass vault rekey: %v\n", err)
		return 2
	}
	o.printPlan(e, old, plan)
	if err := o.confirm(e); err != nil {
		return fail(fmt.Errorf("%w\n  nothing was changed", err))
	}
	return o.run(ctx, e, old, plan, trust, testRoot)
}

// checkSerials refuses a --serials key on neither roster.
func (o *vaultRekeyOptions) checkSerials(old *vault.Vault, plan *vault.RekeyPlan) error {
	for _, s := range o.Serials {
		if _, _, ok := old.KeyBySerial(s); ok {
			continue
		}
		if rosterHas(plan.Roster(), s) {
			continue
		}
		return fmt.Errorf("--serials: YubiKey %d is on neither the current nor the new roster (breakglass vault inspect lists the keys)", s)
	}
	return nil
}

// rosterHas reports whether r enrols the key with serial.
func rosterHas(r *vault.Roster, serial uint32) bool {
	for _, c := range r.Custodians {
		for _, s := range c.Serials() {
			if s == serial {
				return true
			}
		}
	}
	return false
}
