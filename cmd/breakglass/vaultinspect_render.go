package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"breakglass/vault"
)

func printInspect(w io.Writer, r inspectReport) {
	printf(w, "Vault        %s\n", r.File)
	printf(w, "Fingerprint  %s\n", r.Fingerprint)
	printf(w, "Created      %s\n", r.Created.UTC().Format("2006-01-02 15:04 UTC"))
	printf(w, "Policy       %d of %d custodians\n", r.Threshold, len(r.Custodians))
	def := ""
	if r.MinimumKeyPolicyDefault {
		def = " (default)"
	}
	printf(w, "Key policy   at least: decrypt %s; sign %s%s\n", r.MinimumKeyPolicy.Decrypt.String(), r.MinimumKeyPolicy.Sign.String(), def)
	switch {
	case !r.RosterOK:
		printf(w, "Roster       ✗ DOES NOT VERIFY: %s\n", r.RosterError)
	case r.TestRoot:
		fmt.Fprintln(w, "Roster       ✓ every custodian signed; every key attested (TEST root, not production)")
	default:
		fmt.Fprintln(w, "Roster       ✓ every custodian signed; every key attested by Yubico")
	}
	if len(r.History) > 1 && r.RosterOK {
		printf(w, "Chain        ✓ roster version %d; each version endorsed by a quorum of the one before\n", r.RosterVersion)
	}
	printInspectPin(w, r)
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
	printInspectHistory(w, r)
	printInspectPolicies(w, r)
	printInspectSecrets(w, r)
	printf(w, "\nDrills (due every %d days)\n", r.DrillIntervalDays)
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

// printInspectPolicies lists each key's policies as its attestations state
// them (never the roster's claim); "unverified" when an attestation does
// not verify.
func printInspectPolicies(w io.Writer, r inspectReport) {
	fmt.Fprintln(w, "\nAttested key policies")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  key\tdecrypt\tsign")
	for _, c := range r.Custodians {
		for _, k := range c.Keys {
			d, s := k.AttestedDecrypt, k.AttestedSign
			if d == "" {
				d, s = "unverified", "unverified"
			}
			printf(tw, "  %d\t%s\t%s\n", k.Serial, d, s)
		}
	}
	tw.Flush()
}

// printInspectSecrets writes the Secrets table: one row per secret with
// its seal attribution and what to do about it.
func printInspectSecrets(w io.Writer, r inspectReport) {
	fmt.Fprintln(w, "\nSecrets")
	if len(r.Secrets) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  name\tkind\tsealed\tage\trotations\tversion\tsealed by\tstatus")
		for _, s := range r.Secrets {
			status, version, by := "ok", "-", "-"
			if s.Attributed {
				version, by = fmt.Sprint(s.Version), s.SealedByName
				if s.SealedUnder > 0 {
					by += fmt.Sprintf(" (under v%d)", s.SealedUnder)
				}
			}
			switch {
			case s.Unattributed:
				status = "UNATTRIBUTED — re-seal"
			case !s.Attributed:
				status = "SEAL BROKEN — re-seal"
			case s.Burned:
				status = fmt.Sprintf("REVEALED in session %s at %s — rotate now", s.Revealed.Session, s.Revealed.At.UTC().Format("2006-01-02 15:04 UTC"))
			case s.RotationOverdue:
				status = "rotation OVERDUE"
			}
			printf(tw, "  %s\t%s\t%s\t%d days\t%d\t%s\t%s\t%s\n", s.Name, s.Kind, s.SealedAt.UTC().Format("2006-01-02"), s.AgeDays, s.Rotations, version, by, status)
		}
		tw.Flush()
	}
}
