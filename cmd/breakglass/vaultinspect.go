package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"breakglass/vault"
)

func init() {
	register(command{
		name:    "vault inspect",
		summary: "show a vault's roster, policy, fingerprint, signatures and secrets (no PIN, no secret)",
		run:     runVaultInspect,
	})
}

// vaultInspectOptions are the flags of "breakglass vault inspect".
type vaultInspectOptions struct {
	File            string
	JSON            bool
	AttestationRoot string
	RotateAfterDays int
	// VaultFingerprint, if given, must be a version of the vault's
	// verified roster chain (the card of any version).
	VaultFingerprint string
}

const vaultInspectUsage = `Usage: breakglass vault inspect FILE [--json] [--attestation-root PEM] [--rotate-after DAYS] [--vault-fingerprint FP]

Shows what a vault holds without any YubiKey: the roster (custodians, key
serials, slots), the policy, the fingerprint, whether every roster signature
and key attestation verifies, and the sealed secrets (name, kind, when
sealed, age, rotations). A secret revealed in a session is marked "rotate
now"; a secret older than --rotate-after days (default 365) is marked
overdue. Nothing is decrypted.

The roster history lists every version of the roster (a rekey makes the
next): date, fingerprint, who signed it, who of the version before endorsed
it, and what changed. After a rekey, until "breakglass vault check --each"
passes, it says every custodian of the new roster must prove their share.
--vault-fingerprint FP (the card of any version) checks that the vault's
verified chain reaches FP, and names the link that does not verify.

Exit status: 0 when the roster verifies (and reaches FP, if given), 1 otherwise.

Examples:
  breakglass vault inspect vault.json
  breakglass vault inspect vault.json --json
  breakglass vault inspect vault.json --attestation-root testdata/attestation-root.pem
  breakglass vault inspect new-vault.json --vault-fingerprint 3F2A-91C4-0B7E-55D1-A8E0
`

func runVaultInspect(ctx context.Context, e *env, args []string) int {
	var o vaultInspectOptions
	fs := flag.NewFlagSet("vault inspect", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, vaultInspectUsage) }
	fs.BoolVar(&o.JSON, "json", false, "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	fs.IntVar(&o.RotateAfterDays, "rotate-after", 365, "")
	fs.StringVar(&o.VaultFingerprint, "vault-fingerprint", "", "")
	pos, err := parseAnyOrder(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "breakglass vault inspect: give exactly one vault FILE")
		return 2
	}
	if o.RotateAfterDays < 1 {
		fmt.Fprintln(e.stderr, "breakglass vault inspect: --rotate-after must be at least 1 day")
		return 2
	}
	if o.VaultFingerprint != "" {
		if _, err := vault.ParsePin(o.VaultFingerprint); err != nil {
			printf(e.stderr, "breakglass vault inspect: --vault-fingerprint: %v\n", err)
			return 2
		}
	}
	o.File = pos[0]
	return o.exec(ctx, e)
}

func (o *vaultInspectOptions) exec(_ context.Context, e *env) int {
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		printf(e.stderr, "breakglass vault inspect: %v\nGive a PEM file holding the attestation root certificate.\n", err)
		return 2
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	v, err := vault.Load(o.File)
	if err != nil {
		printErr(e.stderr, "vault inspect", err)
		return 1
	}
	r := buildInspectReport(o.File, v, trust, testRoot, vaultNow(), o.RotateAfterDays, o.VaultFingerprint)
	if o.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			printErr(e.stderr, "vault inspect", fmt.Errorf("writing JSON: %w", err))
			return 1
		}
	} else {
		printInspect(e.stdout, r)
	}
	if !r.RosterOK || (r.Pin != nil && !r.Pin.Reached) {
		return 1
	}
	return 0
}
