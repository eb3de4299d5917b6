package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

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

// keyReport is one YubiKey in the output; JSON field names are the contract
// of `breakglass keys --json`.
type keyReport struct {
	Reader     string       `json:"reader"`
	Serial     uint32       `json:"serial,omitempty"`
	Firmware   string       `json:"firmware,omitempty"`
	FormFactor string       `json:"form_factor,omitempty"`
	PINRetries *int         `json:"pin_retries,omitempty"`
	Warnings   []string     `json:"warnings,omitempty"` // factory PIN or management key still set
	Slots      []slotReport `json:"slots"`
	Error      string       `json:"error,omitempty"`
}

type slotReport struct {
	Slot        string `json:"slot"`
	Algorithm   string `json:"algorithm"`
	PINPolicy   string `json:"pin_policy"`
	TouchPolicy string `json:"touch_policy"`
	Generated   bool   `json:"generated"`
	Attestation string `json:"attestation"`      // one of the verdicts; "FAILED" when it failed
	Reason      string `json:"reason,omitempty"` // why it failed
}

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

// report reads one listed key's slots and attestations.
func (o *keysOptions) report(ctx context.Context, l hardware.Listed) keyReport {
	r := keyReport{Reader: l.Info.Reader, Slots: []slotReport{}}
	if l.Err != nil {
		r.Error = "could not read the card: " + l.Err.Error()
		return r
	}
	in := l.Info
	r.Serial, r.Firmware, r.FormFactor = in.Serial, in.Firmware, in.FormFactor
	if in.PINRetries >= 0 {
		r.PINRetries = &in.PINRetries
	}
	tok, err := o.station.Open(ctx, in.Serial)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Warnings = factoryWarnings(ctx, tok)
	infos, err := slotInfos(ctx, tok)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	for _, ki := range infos {
		sr := slotReport{
			Slot: ki.Slot.String(), Algorithm: ki.Algorithm, Generated: ki.Generated,
			PINPolicy: ki.PIN.String(), TouchPolicy: ki.Touch.String(),
		}
		sr.Attestation, sr.Reason = o.verdict(ctx, tok, ki)
		r.Slots = append(r.Slots, sr)
	}
	return r
}

// factoryWarnings says which factory secrets the key still uses, when the
// token can tell (PIV metadata, firmware 5.3+); unknown is no warning.
func factoryWarnings(ctx context.Context, tok hardware.Token) []string {
	var w []string
	if m, ok := tok.(interface {
		PINMetadata(context.Context) (piv.Metadata, error)
	}); ok {
		if md, err := m.PINMetadata(ctx); err == nil && md.Default {
			w = append(w, "the PIN is the factory default: change it (ykman piv access change-pin)")
		}
	}
	if m, ok := tok.(interface {
		UsesDefaultManagementKey(context.Context) (bool, error)
	}); ok {
		if d, err := m.UsesDefaultManagementKey(ctx); err == nil && d {
			w = append(w, "the management key is the factory default: enrolment replaces it with a PIN-protected one")
		}
	}
	return w
}

// slotInfos lists the used slots, in one card session when the token can.
func slotInfos(ctx context.Context, tok hardware.Token) ([]hardware.KeyInfo, error) {
	if s, ok := tok.(interface {
		Slots(context.Context) ([]hardware.KeyInfo, error)
	}); ok {
		return s.Slots(ctx)
	}
	var out []hardware.KeyInfo
	for _, slot := range piv.AllSlots() {
		ki, err := tok.KeyInfo(ctx, slot)
		if errors.Is(err, hardware.ErrSlotEmpty) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ki)
	}
	return out, nil
}

// verdict attests one slot: the first verifier whose roots the chain
// reaches decides (a chain that does not reach a verifier's roots,
// attest.ErrUntrusted, is tried with the next); the attestation must then be
// well formed and for this key, serial and slot.
func (o *keysOptions) verdict(ctx context.Context, tok hardware.Token, ki hardware.KeyInfo) (verdict, reason string) {
	if !ki.Generated {
		return verdictNone, ""
	}
	a, err := tok.Attest(ctx, ki.Slot)
	if errors.Is(err, hardware.ErrSlotEmpty) {
		return verdictNone, ""
	}
	if err != nil {
		return verdictFailed, err.Error()
	}
	var chainErr error
	for _, v := range o.verifiers {
		at, err := v.VerifyKey(a, tok.Serial(), ki.Slot, ki.Public)
		switch {
		case errors.Is(err, attest.ErrUntrusted):
			if chainErr == nil {
				chainErr = err
			}
			continue
		case err != nil:
			return verdictFailed, err.Error()
		case at.TestRoot:
			return verdictTestRoot, ""
		}
		return verdictGenuine, ""
	}
	issuers := "Yubico"
	if len(o.verifiers) > 1 {
		issuers = "Yubico or the given test root"
	}
	if chainErr == nil {
		chainErr = errors.New("no attestation root configured")
	}
	return verdictFailed, "not issued by " + issuers + ": " + chainErr.Error()
}

func printKeys(w io.Writer, reports []keyReport) {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if r.Serial == 0 {
			printf(w, "Reader %q\n  error: %s\n", r.Reader, r.Error)
			continue
		}
		printf(w, "YubiKey %d  (reader %q)\n", r.Serial, r.Reader)
		ff := r.FormFactor
		if ff == "" {
			ff = "form factor unknown"
		}
		retries := "unknown (PIN verified in this session)"
		if r.PINRetries != nil {
			retries = fmt.Sprint(*r.PINRetries)
			if *r.PINRetries == 0 {
				retries = "0 (PIN BLOCKED: unblock it with the PUK)"
			}
		}
		printf(w, "  firmware %s, %s, PIN retries left: %s\n", r.Firmware, ff, retries)
		for _, warn := range r.Warnings {
			printf(w, "  warning: %s\n", warn)
		}
		if r.Error != "" {
			printf(w, "  error: %s\n", r.Error)
			continue
		}
		if len(r.Slots) == 0 {
			fmt.Fprintln(w, "  no keys in any slot")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  slot\talgorithm\tPIN\ttouch\tattestation")
		for _, s := range r.Slots {
			v := s.Attestation
			if s.Reason != "" {
				v += ": " + s.Reason
			}
			printf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.Slot, s.Algorithm, s.PINPolicy, s.TouchPolicy, v)
		}
		tw.Flush()
	}
}
