package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"breakglass/vault"
)

func init() {
	register(command{
		name:    "vault check",
		summary: "drill: open the vault with a quorum and check every secret decrypts, showing none",
		run:     runVaultCheck,
	})
}

// vaultCheckOptions are the flags of "breakglass vault check".
type vaultCheckOptions struct {
	File            string
	Each            bool
	PINFiles        pinFileFlag
	Serials         serialList
	ConfirmLast     bool
	AttestationRoot string
}

const vaultCheckUsage = `Usage: breakglass vault check FILE [--each] [flags]

A drill that proves the vault still opens, without showing any secret.

By default custodians present their keys one at a time (PIN and touch) until
the quorum is reached; the vault is opened and every sealed secret is
decrypted and checked for its kind, then wiped. It prints ✓ or ✗ per secret
and a verdict.

--each instead has EVERY custodian, one at a time, prove that their own
share decrypts with their key; shares are not combined.

The PIN attempts left are shown before each attempt; with one attempt left
the PIN is tried only after an explicit "y" (or --confirm-last-retry).

Flags:
  --each                   check every custodian's share instead of a quorum
  --pin-file SERIAL=FILE   PIN of the key with SERIAL (repeatable; scripts)
  --serials N,N,...        the keys to use, in order (scripts; default: the
                           --pin-file keys, or ask on the terminal)
  --confirm-last-retry     try a PIN even if only one attempt is left
  --attestation-root PEM   trust this (TEST) attestation root instead of Yubico's

Exit status: 0 only if everything checked passes.

Examples:
  breakglass vault check vault.json
  breakglass vault check vault.json --each
  breakglass vault check vault.json --serials 10000001,10000003 --pin-file 10000001=alice.pin --pin-file 10000003=carol.pin
`

// serialList is a comma-separated list of YubiKey serials (flag.Value).
type serialList []uint32

func (l *serialList) String() string {
	var s []string
	for _, n := range *l {
		s = append(s, strconv.FormatUint(uint64(n), 10))
	}
	return strings.Join(s, ",")
}

func (l *serialList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a YubiKey serial number", f)
		}
		if slices.Contains(*l, uint32(n)) {
			return fmt.Errorf("serial %d given twice", n)
		}
		*l = append(*l, uint32(n))
	}
	return nil
}

func runVaultCheck(ctx context.Context, e *env, args []string) int {
	o := vaultCheckOptions{PINFiles: pinFileFlag{}}
	fs := flag.NewFlagSet("vault check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, vaultCheckUsage) }
	fs.BoolVar(&o.Each, "each", false, "")
	fs.Var(o.PINFiles, "pin-file", "")
	fs.Var(&o.Serials, "serials", "")
	fs.BoolVar(&o.ConfirmLast, "confirm-last-retry", false, "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	pos, err := parseAnyOrder(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "breakglass vault check: give exactly one vault FILE")
		return 2
	}
	o.File = pos[0]
	return o.exec(ctx, e)
}

func (o *vaultCheckOptions) exec(ctx context.Context, e *env) int {
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		printf(e.stderr, "breakglass vault check: %v\nGive a PEM file holding the attestation root certificate.\n", err)
		return 2
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	v, err := vault.Load(o.File)
	if err != nil {
		printErr(e.stderr, "vault check", err)
		return 1
	}
	if err := v.VerifyRoster(trust); err != nil {
		printErr(e.stderr, "vault check", fmt.Errorf("vault %s: %w\n  DRILL FAILED: the roster does not verify", o.File, err))
		return 1
	}
	for _, s := range o.Serials {
		if _, _, ok := v.KeyBySerial(s); !ok {
			printf(e.stderr, "breakglass vault check: --serials: YubiKey %d is not on the roster of %s (breakglass vault inspect lists the keys)\n", s, o.File)
			return 2
		}
	}
	printf(e.stdout, "Drill on %s — fingerprint %s — quorum %d of %d\n", o.File, v.Fingerprint(), v.Roster.Policy.Threshold, v.Roster.Policy.Custodians)
	st := newStation()
	src := pinSource{files: o.PINFiles, e: e}
	if o.Each {
		return o.checkEach(ctx, e, st, src, v, trust)
	}
	return o.checkQuorum(ctx, e, st, src, v, trust)
}
