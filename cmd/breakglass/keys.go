package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/internal/attest"
)

func init() {
	register(command{
		name:    "keys",
		summary: "list connected YubiKeys: serial, firmware, PIN retries, slots, attestation",
		run:     runKeys,
	})
}

// newStation is the PC/SC station; tests of "keys" call keysOptions.exec
// with a fake instead.
var newStation = func() hardware.Station { return piv.NewStation() }

// keysOptions are the flags and inputs of "breakglass keys".
type keysOptions struct {
	JSON            bool   // print JSON instead of text
	AttestationRoot string // PEM file of a non-production (test) attestation root; "" = Yubico roots only

	station   hardware.Station
	verifiers []piv.AttestationVerifier // tried in order; the first that verifies the chain decides
}

const keysUsage = `Usage: breakglass keys [--json] [--attestation-root PEM]

Lists every connected YubiKey: reader, serial, firmware, form factor, PIN
retries left, and for each used slot (9a 9c 9d 9e 82-95) the algorithm, PIN
and touch policy and whether the key is attested as generated on a genuine
YubiKey.

Attestation is checked against the Yubico roots built in. --attestation-root
also accepts keys attested by the given (test) root; those are marked
"test root (NOT production)".

Examples:
  breakglass keys
  breakglass keys --json
  breakglass keys --attestation-root testdata/attestation-root.pem
`

func runKeys(ctx context.Context, e *env, args []string) int {
	var o keysOptions
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, keysUsage) }
	fs.BoolVar(&o.JSON, "json", false, "print JSON")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "also accept attestations from this (test) root `PEM` file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		printf(e.stderr, "breakglass keys: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	o.verifiers = []piv.AttestationVerifier{{}}
	if o.AttestationRoot != "" {
		trust, err := attest.LoadTestTrust(o.AttestationRoot)
		if err != nil {
			printf(e.stderr, "breakglass keys: %v\nGive a PEM file holding the attestation root certificate.\n", err)
			return 2
		}
		o.verifiers = append(o.verifiers, piv.AttestationVerifier{Trust: trust})
	}
	o.station = newStation()
	return o.exec(ctx, e.stdout, e.stderr)
}

// Attestation verdicts, as printed and as the JSON "attestation" field.
const (
	verdictGenuine  = "genuine Yubico"
	verdictTestRoot = "test root (NOT production)"
	verdictNone     = "none"
	verdictFailed   = "FAILED"
)

// exec lists the keys and prints them. It returns the exit code: 0 when at
// least one YubiKey was listed and read without error, 1 otherwise.
func (o *keysOptions) exec(ctx context.Context, stdout, stderr io.Writer) int {
	listed, err := o.station.Keys(ctx)
	if err != nil {
		if errors.Is(err, hardware.ErrNoService) {
			printf(stderr, "breakglass keys: the smart card service (pcscd) is not running: start it (systemctl start pcscd.socket) and try again.\n  detail: %v\n", err)
		} else {
			printf(stderr, "breakglass keys: listing smart card readers: %v\n", err)
		}
		return 1
	}
	var reports []keyReport
	ok := false
	for _, l := range listed {
		r := o.report(ctx, l)
		if r.Error == "" {
			ok = true
		}
		reports = append(reports, r)
	}
	if len(reports) == 0 {
		fmt.Fprintln(stderr, "breakglass keys: no YubiKey found: insert a key; is pcscd running?")
		return 1
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Keys []keyReport `json:"keys"`
		}{reports}); err != nil {
			printf(stderr, "breakglass keys: writing JSON: %v\n", err)
			return 1
		}
	} else {
		printKeys(stdout, reports)
	}
	if !ok {
		return 1
	}
	return 0
}
