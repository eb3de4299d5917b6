package ledger

import (
	"fmt"
	"slices"
	"strings"

	"breakglass/audit"
	"breakglass/vault"
)

// Roster chains (issue 11). A rekey gives a vault a new roster version and
// a new fingerprint, but it is the same vault: the ledger keys a vault by
// the fingerprint of the first version of its chain (VaultData.Root,
// VaultStatus.Fingerprint), records each imported copy with its roster
// version and every version's digest, verifies a report signed under any
// version against the newest copy whose chain holds it, and lists rekey
// sessions with what they changed.

// chainOf fills d's chain fields from v (verified).
func chainOf(v *vault.Vault, d *VaultData) {
	versions := v.Versions()
	d.RosterVersion = v.Roster.Number()
	if len(versions) > 1 {
		d.Root = vault.FingerprintOfDigest(versions[0].Digest)
		for _, r := range versions {
			d.Versions = append(d.Versions, r.Digest)
		}
	}
}

// vaultKey is the vault's identity in the ledger: the fingerprint of the
// first roster version (the copy's own fingerprint before any rekey).
func (d VaultData) vaultKey() string {
	if d.Root != "" {
		return d.Root
	}
	return d.Fingerprint
}

// version is the copy's roster version number (1 for entries recorded
// before roster versions existed).
func (d VaultData) version() int { return max(d.RosterVersion, 1) }

// holds reports whether fp (as typed) is one of the copy's roster versions.
func (d VaultData) holds(fp string) bool {
	if matchesFingerprint(d, fp) {
		return true
	}
	return slices.ContainsFunc(d.Versions, func(digest string) bool {
		return matchesFingerprint(VaultData{Fingerprint: vault.FingerprintOfDigest(digest), RosterDigest: digest}, fp)
	})
}

// vaultKey is the vault a report belongs to in the ledger.
func (d ReportData) vaultKey() string {
	if d.Vault != "" {
		return d.Vault
	}
	return d.Fingerprint
}

// newestCopy is the copy with the highest roster version, the latest
// imported among equals.
func newestCopy(copies []vaultCopy) vaultCopy {
	best := copies[0]
	for _, c := range copies[1:] {
		if c.data.version() >= best.data.version() {
			best = c
		}
	}
	return best
}

// RekeyStatus is what a rekey session changed (Session.Rekey), as its
// verified report says (the journal's vault.rekeyed event, checked against
// the new roster's signed change).
type RekeyStatus struct {
	OldFingerprint string   `json:"old_fingerprint"`
	NewFingerprint string   `json:"new_fingerprint"`
	Version        int      `json:"version"`   // the new roster's number
	VaultKey       string   `json:"vault_key"` // "new" (every secret re-encrypted) or "reshared"
	Reason         string   `json:"reason"`
	Added          []string `json:"added"`
	Removed        []string `json:"removed"`
	KeysAdded      []uint32 `json:"keys_added"`
	KeysRemoved    []uint32 `json:"keys_removed"`
	ThresholdFrom  int      `json:"threshold_from"`
	ThresholdTo    int      `json:"threshold_to"`
}

func rekeyStatus(r *audit.Report) *RekeyStatus {
	k := r.Rekey
	if k == nil {
		return nil
	}
	orEmpty := func(s []string) []string { return append([]string{}, s...) }
	orNone := func(s []uint32) []uint32 { return append([]uint32{}, s...) }
	return &RekeyStatus{OldFingerprint: k.OldFingerprint, NewFingerprint: k.NewFingerprint, Version: k.Version, VaultKey: k.VaultKey,
		Reason: k.Reason, Added: orEmpty(k.Added), Removed: orEmpty(k.Removed), KeysAdded: orNone(k.KeysAdded), KeysRemoved: orNone(k.KeysRemoved),
		ThresholdFrom: k.ThresholdFrom, ThresholdTo: k.ThresholdTo}
}

// rosterVersion is the number of the roster version a verified report was
// signed under.
func rosterVersion(v *audit.Verdict) int {
	if v.Chain != nil {
		return v.Chain.SignedUnder
	}
	return 1
}

// Summary is the change in one line: "roster version 2, OLD → NEW: +dave
// −carol; keys +4001 −3001; threshold 2→2; vault key new; reason: …".
func (r *RekeyStatus) Summary() string {
	var parts []string
	for _, a := range r.Added {
		parts = append(parts, "+"+a)
	}
	for _, a := range r.Removed {
		parts = append(parts, "−"+a)
	}
	change := strings.Join(parts, " ")
	var keys []string
	for _, k := range r.KeysAdded {
		keys = append(keys, fmt.Sprintf("+%d", k))
	}
	for _, k := range r.KeysRemoved {
		keys = append(keys, fmt.Sprintf("−%d", k))
	}
	s := fmt.Sprintf("roster version %d, %s → %s", r.Version, r.OldFingerprint, r.NewFingerprint)
	if change != "" {
		s += ": " + change
	}
	if len(keys) > 0 {
		s += "; keys " + strings.Join(keys, " ")
	}
	s += fmt.Sprintf("; threshold %d→%d; vault key %s", r.ThresholdFrom, r.ThresholdTo, r.VaultKey)
	if r.Reason != "" {
		s += "; reason: " + r.Reason
	}
	return s
}

// sameChain reports whether the report's roster chain holds a version of
// the copy's: a report of the same vault under a version newer than the
// copy (verification then says to import the newer vault file).
func sameChain(d VaultData, r *audit.Report) bool {
	return slices.ContainsFunc(r.RosterChain, func(rec vault.RosterRecord) bool { return d.holds(rec.Digest) })
}

// chainFailures is the detail of the failed roster checks of a verdict
// (which link, which version), for a refusal to name; "" when none failed.
func chainFailures(v *audit.Verdict) string {
	if v == nil {
		return ""
	}
	var out []string
	for _, c := range v.Failed() {
		switch c.Name {
		case "pinned vault", "pinned roster", "embedded roster chain", "roster in force",
			"rekey new roster", "rekey new roster digest", "rekey change":
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " — " + strings.Join(out, "; ")
}
