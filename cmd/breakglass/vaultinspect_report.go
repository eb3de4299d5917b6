package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"breakglass/vault"
)

// inspectReport is the output of "vault inspect"; the JSON field names are
// the contract of --json.
type inspectReport struct {
	File        string    `json:"file"`
	Fingerprint string    `json:"fingerprint"`
	Created     time.Time `json:"created"`
	Threshold   int       `json:"threshold"`
	// MinimumKeyPolicy is the roster's signed minimum (the default when
	// the vault states none: MinimumKeyPolicyDefault).
	MinimumKeyPolicy        vault.KeyPolicies  `json:"minimum_key_policy"`
	MinimumKeyPolicyDefault bool               `json:"minimum_key_policy_default"`
	Custodians              []inspectCustodian `json:"custodians"`
	RosterOK                bool               `json:"roster_verified"`
	RosterError             string             `json:"roster_error,omitempty"`
	TestRoot                bool               `json:"test_attestation_root"`
	Secrets                 []inspectSecret    `json:"secrets"`
	Drills                  []inspectDrill     `json:"drills"`
	// DrillIntervalDays is the signed policy's drill interval (the default
	// when it states none): a drill older than it is stale.
	DrillIntervalDays int      `json:"drill_interval_days"`
	Warnings          []string `json:"warnings"`

	// RosterVersion is the roster's number in its chain; History every
	// version, oldest first (one line for a vault never rekeyed).
	RosterVersion int              `json:"roster_version"`
	History       []inspectVersion `json:"roster_history"`
	// Pin is the --vault-fingerprint check; absent without the flag.
	Pin *inspectPin `json:"pin,omitempty"`
	// NewSharesUnproven: the roster was made by a rekey and no passed
	// "vault check --each" drill is recorded since.
	NewSharesUnproven bool `json:"new_shares_unproven"`
}

// inspectDrill is the last passed drill of one kind.
type inspectDrill struct {
	Kind       string    `json:"kind"`
	At         time.Time `json:"at,omitzero"`
	AgeDays    int       `json:"age_days"`
	Custodians []string  `json:"custodians"`
	Stale      bool      `json:"stale"`
}

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
	// Attested is what the slot attestations state ("PIN once, touch
	// always"), empty when they do not verify.
	AttestedDecrypt string `json:"attested_decrypt_policy,omitempty"`
	AttestedSign    string `json:"attested_sign_policy,omitempty"`
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
	// Attributed: the seal record verifies (vault.VerifySeal); Version,
	// SealedBy (roster id) and SealedByName are then its own. Otherwise
	// SealError says why and the value is never revealed: re-seal it.
	Attributed   bool   `json:"attributed"`
	Version      int    `json:"version,omitempty"`
	SealedBy     string `json:"sealed_by,omitempty"`
	SealedByName string `json:"sealed_by_name,omitempty"`
	// SealedUnder is the earlier roster version the value was sealed
	// under, carried by a rekey; 0 (omitted) when sealed under this one.
	SealedUnder  int    `json:"sealed_under_roster_version,omitempty"`
	SealError    string `json:"seal_error,omitempty"`
	Unattributed bool   `json:"unattributed"` // no seal record at all (a vault sealed before seals were signed)
}

func buildInspectReport(file string, v *vault.Vault, trust vault.VerifyOptions, testRoot bool, now time.Time, rotateAfterDays int, pin string) inspectReport {
	r := inspectReport{
		File: file, Fingerprint: v.Fingerprint(), Created: v.Roster.Created,
		Threshold: v.Roster.Policy.Threshold, TestRoot: testRoot,
		MinimumKeyPolicy: v.Roster.Policy.KeyMinimum(), MinimumKeyPolicyDefault: v.Roster.Policy.MinimumKeyPolicy == nil,
		Custodians: []inspectCustodian{}, Secrets: []inspectSecret{}, Warnings: []string{},
	}
	r.Custodians = append(r.Custodians, inspectCustodians(v, trust)...)
	rerr := v.VerifyRoster(trust)
	if rerr != nil {
		r.RosterError = rerr.Error()
		r.Warnings = append(r.Warnings, "roster does NOT verify: do not use this vault until the security team has checked it")
	} else {
		r.RosterOK = true
	}
	r.addChain(v, pin, rerr)
	if testRoot {
		r.Warnings = append(r.Warnings, "attestation checked against a TEST root: not for production")
	}
	for _, s := range v.Secrets {
		r.addSecret(v, s, now, rotateAfterDays)
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
	r.addDrills(v, now)
	return r
}

// inspectCustodians lists the roster's custodians and their keys, with the
// attested policies where the attestation verifies.
func inspectCustodians(v *vault.Vault, trust vault.VerifyOptions) []inspectCustodian {
	var out []inspectCustodian
	unsigned := map[string]bool{}
	for _, c := range v.Unsigned() {
		unsigned[c.ID] = true
	}
	for _, c := range v.Roster.Custodians {
		ic := inspectCustodian{ID: c.ID, Name: c.Name, Signed: !unsigned[c.ID]}
		for _, k := range c.Keys {
			ik := inspectKey{Serial: k.Serial, Role: k.Role,
				DecryptSlot: k.Decrypt.Slot.PIV().String(), SignSlot: k.Sign.Slot.PIV().String()}
			if p, err := trust.AttestedPolicies(k); err == nil {
				ik.AttestedDecrypt, ik.AttestedSign = p.Decrypt.String(), p.Sign.String()
			}
			ic.Keys = append(ic.Keys, ik)
		}
		out = append(out, ic)
	}
	return out
}

// addSecret adds s to the report with its seal attribution and age, and
// the warnings it calls for (seal does not verify, revealed, overdue).
func (r *inspectReport) addSecret(v *vault.Vault, s vault.Secret, now time.Time, rotateAfterDays int) {
	age := int(now.Sub(s.SealedAt).Hours() / 24)
	is := inspectSecret{Name: s.Name, Kind: s.Kind, SealedAt: s.SealedAt, AgeDays: max(age, 0),
		Rotations: s.Rotations, PreviousSealedAt: s.PreviousSealedAt, Revealed: s.LastRevealed,
		Burned: s.Burned(), RotationOverdue: age >= rotateAfterDays}
	if a, err := v.VerifySeal(s.Name); err != nil {
		is.SealError, is.Unattributed = err.Error(), errors.Is(err, vault.ErrUnattributed)
		what := "its seal record does NOT verify"
		if is.Unattributed {
			what = "it is UNATTRIBUTED (no signed seal record)"
		}
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %s; the console will not reveal it — re-seal it (breakglass seal --name %s --serial YOUR-YUBIKEY)", s.Name, what, s.Name))
	} else {
		is.Attributed, is.Version, is.SealedBy, is.SealedByName = true, a.Version, a.Sealer.ID, a.Sealer.Name
		is.SealedUnder = a.SealedUnder
	}
	if s.Burned() {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s was REVEALED in session %s at %s — rotate now (breakglass seal --name %s)",
			s.Name, s.LastRevealed.Session, s.LastRevealed.At.UTC().Format("2006-01-02 15:04 UTC"), s.Name))
	} else if is.RotationOverdue {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s was sealed %d days ago: rotation overdue (more than %d days)", s.Name, age, rotateAfterDays))
	}
	r.Secrets = append(r.Secrets, is)
}

// addDrills adds the last quorum and each-key drills, warning when one is
// missing or stale.
func (r *inspectReport) addDrills(v *vault.Vault, now time.Time) {
	interval, _ := v.Roster.Policy.DrillInterval()
	drillStaleDays := int(interval.Hours() / 24)
	r.DrillIntervalDays = drillStaleDays
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
}

func drillCommand(kind string) string {
	if kind == vault.DrillEach {
		return "breakglass vault check --each"
	}
	return "breakglass vault check"
}
