package main

import (
	"context"
	"encoding/json"
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
		summary: "verify a signed session report offline against a pinned vault: signatures, attestation, roster, hash chain",
		run:     runVerify,
	})
}

// verifyOptions are the flags of "breakglass verify".
type verifyOptions struct {
	Report           string
	Vault            string // the auditor's copy of the vault: verified completely, must be the report's
	VaultFingerprint string // the pinned roster digest: card form or 64 hex
	AttestationRoot  string // optional: a TEST root; the verdict then says NON-PRODUCTION
	JSON             bool   // one JSON object on stdout instead of the ✓/✗ lines
}

const verifyUsage = `Usage: breakglass verify REPORT (--vault FILE | --vault-fingerprint FP) [--attestation-root PEM] [--json]

Checks a signed session report offline, with no YubiKey and no network,
against a roster YOU pin: every custodian's ES256 signature, each signing
key's attestation chain to the Yubico PIV roots (built in), the roster the
report embeds (its digest, every roster signature and key attestation),
that every signer is enrolled in that roster (any of their keys, primary or
backup; a custodian counts once), the threshold, the journal's hash chain
and head, and that the report says exactly what its journal says. Prints
each check with ✓ or ✗ and one verdict line; exits 0 only if every check
passed, 1 if any failed, 2 if the command line is wrong.

A pin is required; there is no unpinned mode:
  --vault-fingerprint FP  the vault fingerprint printed on the custodian card
                          (ABCD-EF12-3456-7890-ABCD) or the full 64-hex roster
                          digest ('breakglass vault inspect VAULT' shows both)
  --vault FILE            your copy of the vault: its roster is verified
                          completely and must be the report's; with
                          --vault-fingerprint too, it must match that as well

After a rekey the roster has versions, and the pin may be any of them (the
card you were given years ago still works): a report signed under a later
version verifies when each version after the pin is endorsed by a quorum
of the one before (the report carries that chain; so does a newer vault
file), and one signed under an earlier version verifies against the
version it names when --vault is a copy whose chain holds it. Its signers
must be enrolled in that version, and the session must have started before
the next version replaced it. A link without the old quorum's endorsement,
or with a version missing, is refused and named.
--attestation-root trusts a TEST root instead of Yubico's; the verdict then
says NON-PRODUCTION. --json prints the same checks as one JSON object:
{"format":"breakglass-verify/1","ok":…,"verdict":…,"non_production":…,
"roster_digest":…,"vault_fingerprint":…,"session":…,"checks":[{"name","ok","detail"}],"failed":[…]}.

Examples:
  breakglass verify --vault-fingerprint 3F2A-91C4-0B7E-55D1-A8E0 breakglass-report-20261123T030112Z-1a2b3c.jws.json
  breakglass verify --vault vault.json --vault-fingerprint 3F2A-91C4-0B7E-55D1-A8E0 report.jws.json
  breakglass verify --attestation-root testdata/attestation-root.pem --vault build/demo/vault.json build/demo/export/*.jws.json
`

// errNoPin is the refusal without --vault or --vault-fingerprint.
var errNoPin = errors.New("no pinned vault: give --vault-fingerprint FP (the fingerprint on the custodian card, or `breakglass vault inspect VAULT`) or --vault FILE; without a pin any genuine YubiKeys would pass")

func runVerify(ctx context.Context, e *env, args []string) int {
	var o verifyOptions
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, verifyUsage) }
	fs.StringVar(&o.Vault, "vault", "", "the vault `FILE` whose roster the signers must be enrolled in")
	fs.StringVar(&o.VaultFingerprint, "vault-fingerprint", "", "the pinned vault fingerprint `FP` (custodian card) or 64-hex roster digest")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
	fs.BoolVar(&o.JSON, "json", false, "print the checks as one JSON object")
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
		var perr error
		if o.JSON {
			perr = writeVerdictJSON(e, v)
		} else {
			perr = inertVerdict(v).Print(e.stdout)
		}
		if perr != nil {
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

func writeVerdictJSON(e *env, v *audit.Verdict) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(b, '\n'))
	return err
}

// options turns the flags into audit.VerifyOptions: the pin (required) and
// the attestation trust (internal/attest: Yubico roots built in, or only
// the given test root). Every flag problem is found here, before any
// verification.
func (o *verifyOptions) options() (audit.VerifyOptions, error) {
	if o.Vault == "" && o.VaultFingerprint == "" {
		return audit.VerifyOptions{}, errNoPin
	}
	opts, err := o.trustOptions()
	if err != nil {
		return opts, err
	}
	if o.VaultFingerprint != "" {
		if _, err := vault.ParsePin(o.VaultFingerprint); err != nil {
			return opts, fmt.Errorf("--vault-fingerprint: %w", err)
		}
		opts.Pin.Fingerprint = o.VaultFingerprint
	}
	if o.Vault != "" {
		v, err := vault.Load(o.Vault)
		if err != nil {
			return opts, fmt.Errorf("%w; give the vault file the report was made with, or only --vault-fingerprint", err)
		}
		opts.Pin.Vault = v
	}
	return opts, nil
}

// trustOptions is the attestation trust alone (Yubico roots built in, or
// only the given TEST root), without a pin: the ledger pins each report to
// the vault it names itself.
func (o *verifyOptions) trustOptions() (audit.VerifyOptions, error) {
	var opts audit.VerifyOptions
	if o.AttestationRoot != "" {
		trust, err := attest.LoadTestTrust(o.AttestationRoot)
		if err != nil {
			return opts, fmt.Errorf("loading attestation root %q: %w", o.AttestationRoot, err)
		}
		opts.Trust, opts.NonProduction = trust, true
	}
	return opts, nil
}
