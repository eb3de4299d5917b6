package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"breakglass/audit"
	"breakglass/internal/attest"
	"breakglass/vault"
)

func init() {
	register(command{
		name:    "verify",
		summary: "verify a signed session report offline: signatures, attestation, roster, hash chain",
		run:     runVerify,
	})
}

// verifyOptions are the flags of "breakglass verify".
type verifyOptions struct {
	Report          string
	Vault           string // optional: the roster every signer must be enrolled in
	AttestationRoot string // optional: a TEST root; the verdict then says NON-PRODUCTION
}

const verifyUsage = `Usage: breakglass verify REPORT [--vault FILE] [--attestation-root PEM]

Checks a signed session report offline, with no YubiKey and no network:
every custodian's ES256 signature, each signing key's attestation chain to
the Yubico PIV roots (built in), distinct custodians and serials, the
threshold, the journal's hash chain and head, and that the report says
exactly what its journal says. Prints each check with ✓ or ✗ and one verdict
line; exits 0 only if every check passed.

--vault also checks every signer against the vault's custodian roster (id,
serial, signing key) and its threshold — do this: without it, any genuine
YubiKeys would pass. --attestation-root trusts a TEST root instead of
Yubico's; the verdict then says NON-PRODUCTION.

Examples:
  breakglass verify --vault vault.json breakglass-report-20261123T030112Z-1a2b3c.jws.json
  breakglass verify --attestation-root testdata/attestation-root.pem --vault build/demo/vault.json build/demo/export/*.jws.json
`

func runVerify(ctx context.Context, e *env, args []string) int {
	var o verifyOptions
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, verifyUsage) }
	fs.StringVar(&o.Vault, "vault", "", "check signers against this vault's roster")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
	pos, err := parseAnyOrder(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "breakglass verify: give exactly one REPORT file")
		fs.Usage()
		return 2
	}
	o.Report = pos[0]
	opts, err := o.options()
	if err != nil {
		printf(e.stderr, "breakglass verify: %v\n", err)
		return 2
	}
	printTestRootWarning(e.stderr, o.AttestationRoot != "", o.AttestationRoot)
	v, err := audit.VerifyReportFile(o.Report, opts)
	if v != nil {
		if perr := inertVerdict(v).Print(e.stdout); perr != nil {
			printf(e.stderr, "breakglass verify: %v\n", perr)
			return 1
		}
	}
	if err != nil {
		if v == nil {
			printf(e.stderr, "breakglass verify: %s: %v\n", o.Report, err)
		}
		return 1
	}
	return 0
}

// options turns the flags into audit.VerifyOptions. The attestation check is
// internal/attest's (Yubico roots built in, or only the given test root).
func (o *verifyOptions) options() (audit.VerifyOptions, error) {
	var opts audit.VerifyOptions
	if o.AttestationRoot != "" {
		trust, err := attest.LoadTestTrust(o.AttestationRoot)
		if err != nil {
			return opts, fmt.Errorf("loading attestation root %q: %w", o.AttestationRoot, err)
		}
		opts.Trust, opts.NonProduction = trust, true
	}
	if o.Vault != "" {
		v, err := vault.Load(o.Vault)
		if err != nil {
			return opts, err
		}
		r := &audit.Roster{Threshold: v.Roster.Policy.Threshold}
		for _, cu := range v.Roster.Custodians {
			for _, k := range cu.Keys {
				pub, _, err := audit.SigningMaterial(k.Sign.PublicKey, k.Sign.Attestation.Slot, k.Sign.Attestation.Device)
				if err != nil {
					return opts, fmt.Errorf("vault %s: custodian %s, key %d: signing key: %w", o.Vault, cu.ID, k.Serial, err)
				}
				r.Members = append(r.Members, audit.RosterMember{ID: cu.ID, Serial: k.Serial, SigningKey: pub})
			}
		}
		opts.Roster = r
	}
	return opts, nil
}
