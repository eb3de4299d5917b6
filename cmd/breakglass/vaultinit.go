package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"breakglass/hardware"
	"breakglass/vault"
)

func init() {
	register(command{
		name:    "vault init",
		summary: "create an M-of-N vault from custodian files; every custodian signs the roster",
		run:     runVaultInit,
	})
}

// vaultInitOptions are the flags and arguments of "breakglass vault init".
type vaultInitOptions struct {
	Threshold       int
	DrillDays       int
	Out             string
	PINFiles        pinFileFlag
	AttestationRoot string
	ConfirmLast     bool
	Files           []string // custodian files
}

const vaultInitUsage = `Usage: breakglass vault init --threshold M --out FILE [flags] CUSTODIAN.json...

Creates a vault for the custodians enrolled with "breakglass enrol": a new
vault key is split so that any M of the N custodians together can open it,
and each share is encrypted to that custodian's YubiKey(s). Two files with
the same custodian ID are one person's primary and backup keys.

Every custodian then signs the roster on their YubiKey (PIN and touch): on a
terminal you are asked to insert each key in turn; with --pin-file the keys
are opened by serial directly. The vault is written only when every
signature and attestation verifies, then its fingerprint and a custodian
card to print are shown.

Flags:
  --threshold M            custodians needed to open the vault (2 <= M <= N)
  --out FILE               the vault file to create (must not exist)
  --drill-interval DAYS    how often the vault must be drilled (vault check);
                           signed with the roster, auditors flag an overdue
                           drill (default 90)
  --pin-file SERIAL=FILE   PIN of the key with SERIAL (repeatable; scripts)
  --confirm-last-retry     try a PIN even if only one attempt is left
  --attestation-root PEM   trust this (TEST) attestation root instead of Yubico's

Examples:
  breakglass vault init --threshold 2 --out vault.json alice-example.custodian.json bob-example.custodian.json carol-example.custodian.json
  breakglass vault init --threshold 2 --out vault.json --pin-file 10000001=alice.pin --pin-file 10000002=bob.pin *.custodian.json
`

func runVaultInit(ctx context.Context, e *env, args []string) int {
	o := vaultInitOptions{PINFiles: pinFileFlag{}}
	fs := flag.NewFlagSet("vault init", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, vaultInitUsage) }
	fs.IntVar(&o.Threshold, "threshold", 0, "")
	fs.StringVar(&o.Out, "out", "", "")
	fs.IntVar(&o.DrillDays, "drill-interval", vault.DefaultDrillIntervalDays, "")
	fs.Var(o.PINFiles, "pin-file", "")
	fs.BoolVar(&o.ConfirmLast, "confirm-last-retry", false, "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	files, err := parseAnyOrder(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.Files = files
	switch {
	case o.Out == "":
		fmt.Fprintln(e.stderr, "breakglass vault init: --out FILE is required: the vault file to create")
		return 2
	case o.Threshold < 2:
		fmt.Fprintf(e.stderr, "breakglass vault init: --threshold %d: at least 2 custodians must be needed to open a vault (give --threshold M with M >= 2)\n", o.Threshold)
		return 2
	case o.DrillDays < 1 || o.DrillDays > vault.MaxDrillIntervalDays:
		fmt.Fprintf(e.stderr, "breakglass vault init: --drill-interval %d: give the number of days between drills, 1 to %d (90 is usual)\n", o.DrillDays, vault.MaxDrillIntervalDays)
		return 2
	case len(o.Files) < 2:
		fmt.Fprintln(e.stderr, "breakglass vault init: give at least two custodian files (written by \"breakglass enrol\")")
		return 2
	}
	return o.exec(ctx, e)
}

func (o *vaultInitOptions) exec(ctx context.Context, e *env) int {
	fail := func(err error) int { printErr(e.stderr, "vault init", err); return 1 }
	if _, err := os.Lstat(o.Out); err == nil {
		return fail(fmt.Errorf("vault file %q already exists: choose another --out (an existing vault is never overwritten)", o.Out))
	}
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		fmt.Fprintf(e.stderr, "breakglass vault init: %v\nGive a PEM file holding the attestation root certificate.\n", err)
		return 2
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	records, err := loadCustodianRecords(o.Files)
	if err != nil {
		return fail(err)
	}
	custodians := vault.MergeCustodians(records)
	if o.Threshold > len(custodians) {
		fmt.Fprintf(e.stderr, "breakglass vault init: --threshold %d is more than the %d custodians given: give more custodian files or a lower threshold\n", o.Threshold, len(custodians))
		return 2
	}
	v, err := vault.Create(custodians, o.Threshold, vaultNow())
	if err != nil {
		return fail(err)
	}
	if err := v.SetDrillInterval(o.DrillDays); err != nil {
		return fail(err)
	}
	// Every key's attestation and attested PIN and touch policy are checked
	// before anyone is asked to sign: a weak key is refused here, by name.
	if err := v.Roster.VerifyKeys(trust); err != nil {
		return fail(fmt.Errorf("%w\n  nobody was asked to sign and the vault was not written", err))
	}
	st := newStation()
	src := pinSource{files: o.PINFiles, e: e}
	for _, c := range v.Roster.Custodians {
		if err := o.sign(ctx, e, st, src, v, c); err != nil {
			return fail(fmt.Errorf("%w\n  the vault was not written", err))
		}
	}
	if err := v.VerifyRoster(trust); err != nil {
		return fail(fmt.Errorf("verifying the signed roster: %w\n  the vault was not written", err))
	}
	if err := v.Save(o.Out); err != nil {
		return fail(fmt.Errorf("%w\n  check that the directory exists and is writable", err))
	}
	fmt.Fprintf(e.stdout, "Wrote %s: %d-of-%d vault, fingerprint %s\n\n", o.Out, o.Threshold, len(custodians), v.Fingerprint())
	printCustodianCard(e.stdout, o.Out, v, testRoot)
	return 0
}

// loadCustodianRecords reads the custodian files and refuses a YubiKey
// serial, decryption key or signing key that appears twice.
func loadCustodianRecords(files []string) ([]vault.Custodian, error) {
	var records []vault.Custodian
	serials := map[uint32]string{}
	keys := map[string]string{}
	for _, f := range files {
		c, err := vault.LoadCustodianFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w\n  give the custodian files written by \"breakglass enrol\"", err)
		}
		for _, k := range c.Keys {
			if prev, dup := serials[k.Serial]; dup {
				return nil, fmt.Errorf("YubiKey %d is in both %s and %s: each custodian key must be enrolled once; drop one of the files", k.Serial, prev, f)
			}
			serials[k.Serial] = f
			for _, pub := range []string{k.Decrypt.Recipient, string(k.Sign.PublicKey)} {
				if prev, dup := keys[pub]; dup {
					return nil, fmt.Errorf("a key of YubiKey %d in %s is also in %s: the files are copies; drop one", k.Serial, f, prev)
				}
				keys[pub] = f
			}
		}
		records = append(records, c)
	}
	return records, nil
}

// sign has custodian c sign the roster on one of their keys.
func (o *vaultInitOptions) sign(ctx context.Context, e *env, st hardware.Station, src pinSource, v *vault.Vault, c vault.Custodian) error {
	serial, err := chooseKey(ctx, e, st, src, c, "sign the roster")
	if err != nil {
		return err
	}
	tok, err := openCustodianKey(ctx, st, serial)
	if err != nil {
		return err
	}
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(e.stderr, serial))
	err = withPIN(ctx, src, tok, c.Name, o.ConfirmLast, func(pin string, confirmed bool) error {
		if err := vault.CheckPINRetries(ctx, tok, confirmed); err != nil {
			return err
		}
		_, err := v.SignRoster(tctx, tok, pin)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s signing the roster on YubiKey %d: %w", c.Name, serial, err)
	}
	printf(e.stderr, "✓ %s signed the roster (YubiKey %d)\n", c.Name, serial)
	return nil
}

// chooseKey picks which of c's keys to use: the first with a --pin-file;
// else, on a terminal, the custodian is asked to insert one and the first
// of their keys found connected is used.
func chooseKey(ctx context.Context, e *env, st hardware.Station, src pinSource, c vault.Custodian, purpose string) (uint32, error) {
	for _, s := range c.Serials() {
		if _, ok := src.files[s]; ok {
			return s, nil
		}
	}
	if !stdinIsTerminal(e) {
		return 0, fmt.Errorf("%w for %s (YubiKey %s): give --pin-file SERIAL=FILE for one of their keys, or run on a terminal", errNoPIN, c, joinSerials(c.Serials()))
	}
	for {
		if err := waitForEnter(e, fmt.Sprintf("Insert %s's key (serial %s) to %s", c.Name, joinSerials(c.Serials()), purpose)); err != nil {
			return 0, err
		}
		for _, s := range c.Serials() {
			if _, err := st.Open(ctx, s); err == nil {
				return s, nil
			}
		}
		printf(e.stderr, "None of %s's keys (%s) is connected.\n", c.Name, joinSerials(c.Serials()))
	}
}

func joinSerials(s []uint32) string {
	var b bytes.Buffer
	for i, n := range s {
		if i > 0 {
			b.WriteString(" or ")
		}
		fmt.Fprint(&b, n)
	}
	return b.String()
}

// printCustodianCard prints the card each custodian keeps with their key.
func printCustodianCard(w io.Writer, file string, v *vault.Vault, testRoot bool) {
	fmt.Fprintln(w, "──────────── BREAKGLASS VAULT CARD ────────────")
	printf(w, "Vault:        %s\n", file)
	fmt.Fprintf(w, "Fingerprint:  %s\n", v.Fingerprint())
	fmt.Fprintf(w, "Quorum:       %d of %d custodians\n", v.Roster.Policy.Threshold, v.Roster.Policy.Custodians)
	fmt.Fprintf(w, "Created:      %s\n", v.Roster.Created.UTC().Format("2006-01-02 15:04 UTC"))
	if testRoot {
		fmt.Fprintln(w, "Attestation:  TEST ROOT — not for production")
	}
	fmt.Fprintln(w, "Custodians:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range v.Roster.Custodians {
		printf(tw, "  %s\t%s\tYubiKey %s\n", c.Name, c.ID, joinSerials(c.Serials()))
	}
	tw.Flush()
	fmt.Fprintln(w, "Before typing your PIN at an unlock, check that the console shows")
	fmt.Fprintln(w, "this fingerprint. If it differs, stop and call the security team.")
	fmt.Fprintln(w, "────────────────────────────────────────────────")
}
