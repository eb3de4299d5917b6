package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

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
}

const vaultInspectUsage = `Usage: breakglass vault inspect FILE [--json] [--attestation-root PEM] [--rotate-after DAYS]

Shows what a vault holds without any YubiKey: the roster (custodians, key
serials, slots), the policy, the fingerprint, whether every roster signature
and key attestation verifies, and the sealed secrets (name, kind, when
sealed, age, rotations). A secret revealed in a session is marked "rotate
now"; a secret older than --rotate-after days (default 365) is marked
overdue. Nothing is decrypted.

Exit status: 0 when the roster verifies, 1 otherwise.

Examples:
  breakglass vault inspect vault.json
  breakglass vault inspect vault.json --json
  breakglass vault inspect vault.json --attestation-root testdata/attestation-root.pem
`

func runVaultInspect(ctx context.Context, e *env, args []string) int {
	var o vaultInspectOptions
	fs := flag.NewFlagSet("vault inspect", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, vaultInspectUsage) }
	fs.BoolVar(&o.JSON, "json", false, "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	fs.IntVar(&o.RotateAfterDays, "rotate-after", 365, "")
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
	o.File = pos[0]
	return o.exec(ctx, e)
}

// inspectReport is the output of "vault inspect"; the JSON field names are
// the contract of --json.
type inspectReport struct {
	File        string             `json:"file"`
	Fingerprint string             `json:"fingerprint"`
	Created     time.Time          `json:"created"`
	Threshold   int                `json:"threshold"`
	Custodians  []inspectCustodian `json:"custodians"`
	RosterOK    bool               `json:"roster_verified"`
	RosterError string             `json:"roster_error,omitempty"`
	TestRoot    bool               `json:"test_attestation_root"`
	Secrets     []inspectSecret    `json:"secrets"`
	Drills      []inspectDrill     `json:"drills"`
	Warnings    []string           `json:"warnings"`
}

// inspectDrill is the last passed drill of one kind.
type inspectDrill struct {
	Kind       string    `json:"kind"`
	At         time.Time `json:"at,omitzero"`
	AgeDays    int       `json:"age_days"`
	Custodians []string  `json:"custodians"`
	Stale      bool      `json:"stale"`
}

// drillStaleDays is when a drill is old enough to say so.
const drillStaleDays = 90

type inspectCustodian struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	Signed bool         `json:"signed"`
	Keys   []inspectKey `json:"keys"`
}

type inspectKey struct {
	Serial      uint32 `json:"serial"`
	Role        string `json:"role"`
	DecryptSlot string `json:"decrypt_slot"`
	SignSlot    string `json:"sign_slot"`
}

type inspectSecret struct {
	Name             string          `json:"name"`
	Kind             vault.Kind      `json:"kind"`
	SealedAt         time.Time       `json:"sealed_at"`
	AgeDays          int             `json:"age_days"`
	Rotations        int             `json:"rotations"`
	PreviousSealedAt *time.Time      `json:"previous_sealed_at,omitempty"`
	Revealed         *vault.Revealed `json:"revealed,omitempty"`
	Burned           bool            `json:"burned"` // revealed since sealed: rotate now
	RotationOverdue  bool            `json:"rotation_overdue"`
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
	r := buildInspectReport(o.File, v, trust, testRoot, vaultNow(), o.RotateAfterDays)
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
	if !r.RosterOK {
		return 1
	}
	return 0
}

func buildInspectReport(file string, v *vault.Vault, trust vault.VerifyOptions, testRoot bool, now time.Time, rotateAfterDays int) inspectReport {
	r := inspectReport{
		File: file, Fingerprint: v.Fingerprint(), Created: v.Roster.Created,
		Threshold: v.Roster.Policy.Threshold, TestRoot: testRoot,
		Custodians: []inspectCustodian{}, Secrets: []inspectSecret{}, Warnings: []string{},
	}
	unsigned := map[string]bool{}
	for _, c := range v.Unsigned() {
		unsigned[c.ID] = true
	}
	for _, c := range v.Roster.Custodians {
		ic := inspectCustodian{ID: c.ID, Name: c.Name, Signed: !unsigned[c.ID]}
		for _, k := range c.Keys {
			ic.Keys = append(ic.Keys, inspectKey{Serial: k.Serial, Role: k.Role,
				DecryptSlot: k.Decrypt.Slot.PIV().String(), SignSlot: k.Sign.Slot.PIV().String()})
		}
		r.Custodians = append(r.Custodians, ic)
	}
	if err := v.VerifyRoster(trust); err != nil {
		r.RosterError = err.Error()
		r.Warnings = append(r.Warnings, "roster does NOT verify: do not use this vault until the security team has checked it")
	} else {
		r.RosterOK = true
	}
	if testRoot {
		r.Warnings = append(r.Warnings, "attestation checked against a TEST root: not for production")
	}
	for _, s := range v.Secrets {
		age := int(now.Sub(s.SealedAt).Hours() / 24)
		is := inspectSecret{Name: s.Name, Kind: s.Kind, SealedAt: s.SealedAt, AgeDays: max(age, 0),
			Rotations: s.Rotations, PreviousSealedAt: s.PreviousSealedAt, Revealed: s.LastRevealed,
			Burned: s.Burned(), RotationOverdue: age >= rotateAfterDays}
		if s.Burned() {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s was REVEALED in session %s at %s — rotate now (breakglass seal --name %s)",
				s.Name, s.LastRevealed.Session, s.LastRevealed.At.UTC().Format("2006-01-02 15:04 UTC"), s.Name))
		} else if is.RotationOverdue {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s was sealed %d days ago: rotation overdue (more than %d days)", s.Name, age, rotateAfterDays))
		}
		r.Secrets = append(r.Secrets, is)
	}
	slices.SortStableFunc(r.Secrets, func(a, b inspectSecret) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	if len(r.Secrets) == 0 {
		r.Warnings = append(r.Warnings, "no secret is sealed yet (breakglass seal)")
	}
	for _, kind := range []string{vault.DrillQuorum, vault.DrillEach} {
		id := inspectDrill{Kind: kind, Custodians: []string{}, Stale: true}
		if d, ok := v.LastDrill(kind); ok {
			id.At, id.Custodians = d.At, d.Custodians
			id.AgeDays = max(int(now.Sub(d.At).Hours()/24), 0)
			id.Stale = id.AgeDays > drillStaleDays
		}
		r.Drills = append(r.Drills, id)
		switch {
		case id.At.IsZero():
			r.Warnings = append(r.Warnings, fmt.Sprintf("no %s drill recorded: run %s", kind, drillCommand(kind)))
		case id.Stale:
			r.Warnings = append(r.Warnings, fmt.Sprintf("last %s drill was %d days ago (more than %d): run %s", kind, id.AgeDays, drillStaleDays, drillCommand(kind)))
		}
	}
	return r
}

func drillCommand(kind string) string {
	if kind == vault.DrillEach {
		return "breakglass vault check --each"
	}
	return "breakglass vault check"
}

func printInspect(w io.Writer, r inspectReport) {
	printf(w, "Vault        %s\n", r.File)
	printf(w, "Fingerprint  %s\n", r.Fingerprint)
	printf(w, "Created      %s\n", r.Created.UTC().Format("2006-01-02 15:04 UTC"))
	printf(w, "Policy       %d of %d custodians\n", r.Threshold, len(r.Custodians))
	switch {
	case !r.RosterOK:
		printf(w, "Roster       ✗ DOES NOT VERIFY: %s\n", r.RosterError)
	case r.TestRoot:
		fmt.Fprintln(w, "Roster       ✓ every custodian signed; every key attested (TEST root, not production)")
	default:
		fmt.Fprintln(w, "Roster       ✓ every custodian signed; every key attested by Yubico")
	}
	fmt.Fprintln(w, "\nCustodians")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\tid\tkey\trole\tslots\tsigned")
	for _, c := range r.Custodians {
		for i, k := range c.Keys {
			name, id, signed := c.Name, c.ID, "yes"
			if !c.Signed {
				signed = "NO"
			}
			if i > 0 {
				name, id, signed = "", "", ""
			}
			printf(tw, "  %s\t%s\t%d\t%s\t%s decrypt, %s sign\t%s\n", name, id, k.Serial, k.Role, k.DecryptSlot, k.SignSlot, signed)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nSecrets")
	if len(r.Secrets) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  name\tkind\tsealed\tage\trotations\tstatus")
		for _, s := range r.Secrets {
			status := "ok"
			switch {
			case s.Burned:
				status = fmt.Sprintf("REVEALED in session %s at %s — rotate now", s.Revealed.Session, s.Revealed.At.UTC().Format("2006-01-02 15:04 UTC"))
			case s.RotationOverdue:
				status = "rotation OVERDUE"
			}
			printf(tw, "  %s\t%s\t%s\t%d days\t%d\t%s\n", s.Name, s.Kind, s.SealedAt.UTC().Format("2006-01-02"), s.AgeDays, s.Rotations, status)
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nDrills")
	for _, d := range r.Drills {
		what := map[string]string{vault.DrillQuorum: "quorum opens the vault", vault.DrillEach: "every custodian's own share"}[d.Kind]
		switch {
		case d.At.IsZero():
			printf(w, "  %-28s never recorded — STALE\n", what)
		default:
			state := "ok"
			if d.Stale {
				state = "STALE"
			}
			printf(w, "  %-28s %s (%d days ago) by %s — %s\n", what, d.At.UTC().Format("2006-01-02"), d.AgeDays, strings.Join(d.Custodians, ", "), state)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings")
		for _, m := range r.Warnings {
			printf(w, "  ! %s\n", m)
		}
	}
}
