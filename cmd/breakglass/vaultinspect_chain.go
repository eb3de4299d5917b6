package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"breakglass/vault"
)

// The roster history of "vault inspect": every version of the vault's
// roster chain, who signed and endorsed it and what it changed, whether the
// chain reaches a pinned fingerprint, and, after a rekey, whether every
// custodian has proved their new share.

// inspectVersion is one roster version (--json field names are the contract).
type inspectVersion struct {
	Version     int       `json:"version"`
	Created     time.Time `json:"created"`
	Fingerprint string    `json:"fingerprint"`
	Digest      string    `json:"digest"`
	Threshold   int       `json:"threshold"`
	Custodians  []string  `json:"custodians"`
	SignedBy    []string  `json:"signed_by"`
	EndorsedBy  []string  `json:"endorsed_by"` // custodians of the version before; empty for version 1
	// Change is what the rekey that made this version changed; null for
	// version 1 (or a record that does not decode).
	Change *inspectChange `json:"change"`
	Error  string         `json:"error,omitempty"` // the record does not decode
}

type inspectChange struct {
	Added         []string `json:"added"`
	Removed       []string `json:"removed"`
	KeysAdded     []uint32 `json:"keys_added"`
	KeysRemoved   []uint32 `json:"keys_removed"`
	ThresholdFrom int      `json:"threshold_from"`
	ThresholdTo   int      `json:"threshold_to"`
	Identity      string   `json:"identity"` // "new" (every secret re-encrypted) or "reshared"
	Reason        string   `json:"reason"`
}

// inspectPin is the --vault-fingerprint check.
type inspectPin struct {
	Fingerprint string `json:"fingerprint"` // as given
	Reached     bool   `json:"reached"`     // a version of the verified chain is the pin
	Version     int    `json:"version"`     // that version, 0 when not reached
	Error       string `json:"error,omitempty"`
}

// rosterHistory lists every roster version of v, oldest first, decoded
// for display (VerifyRoster verifies them).
func rosterHistory(v *vault.Vault) []inspectVersion {
	out := []inspectVersion{}
	for i, rec := range v.Versions() {
		iv := inspectVersion{Version: i + 1, Fingerprint: vault.FingerprintOfDigest(rec.Digest), Digest: rec.Digest,
			Custodians: []string{}, SignedBy: ids(rec.Signatures), EndorsedBy: ids(rec.Endorsements)}
		r, err := vault.DecodeRosterRecord(rec)
		if err != nil {
			iv.Error = err.Error()
			out = append(out, iv)
			continue
		}
		iv.Created, iv.Threshold = r.Created, r.Policy.Threshold
		for _, c := range r.Custodians {
			iv.Custodians = append(iv.Custodians, c.ID)
		}
		if c := r.Change; c != nil {
			iv.Change = &inspectChange{Added: orNone(c.Added), Removed: orNone(c.Removed), KeysAdded: orNone(c.KeysAdded), KeysRemoved: orNone(c.KeysRemoved),
				ThresholdFrom: c.ThresholdFrom, ThresholdTo: c.ThresholdTo, Identity: c.Identity, Reason: c.Reason}
		}
		out = append(out, iv)
	}
	return out
}

func ids(sigs []vault.Signature) []string {
	out := []string{}
	for _, s := range sigs {
		out = append(out, s.Custodian)
	}
	return out
}

func orNone[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// checkPin says whether v's roster chain, verified, reaches the pinned
// fingerprint pin (as given; ParsePin checked it). chainErr is VerifyRoster's
// result: a chain that does not verify reaches nothing, and the failing
// link is named.
func checkPin(v *vault.Vault, pin string, chainErr error) *inspectPin {
	p := &inspectPin{Fingerprint: pin}
	parsed, err := vault.ParsePin(pin)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	versions := v.Versions()
	i := vault.VersionIndex(versions, parsed)
	switch {
	case chainErr != nil:
		var ce *vault.ChainError
		if errors.As(chainErr, &ce) {
			p.Error = fmt.Sprintf("the roster chain does not verify, so it reaches no pin: %v", chainErr)
		} else {
			p.Error = fmt.Sprintf("the roster does not verify: %v", chainErr)
		}
	case i < 0:
		var fps []string
		for _, r := range versions {
			fps = append(fps, vault.FingerprintOfDigest(r.Digest))
		}
		p.Error = fmt.Sprintf("no version of this vault's roster chain (%s) is %s: this is not the vault you pinned", strings.Join(fps, ", "), pin)
	default:
		p.Reached, p.Version = true, i+1
	}
	return p
}

// addChain adds the history, the pin check and the new-shares flag.
func (r *inspectReport) addChain(v *vault.Vault, pin string, chainErr error) {
	r.RosterVersion = v.Roster.Number()
	r.History = rosterHistory(v)
	if pin != "" {
		r.Pin = checkPin(v, pin, chainErr)
		if !r.Pin.Reached {
			r.Warnings = append(r.Warnings, "the vault does NOT reach the pinned fingerprint "+pin+": "+r.Pin.Error)
		}
	}
	if v.Roster.Number() > 1 {
		d, ok := v.LastDrill(vault.DrillEach)
		r.NewSharesUnproven = !ok || !d.At.After(v.Roster.Created)
		if r.NewSharesUnproven {
			r.Warnings = append(r.Warnings, fmt.Sprintf("rekeyed on %s (roster version %d): every custodian of the new roster must prove their new share: run breakglass vault check --each",
				v.Roster.Created.UTC().Format("2006-01-02"), v.Roster.Number()))
		}
	}
}

// printInspectPin is the Pinned line.
func printInspectPin(w io.Writer, r inspectReport) {
	switch p := r.Pin; {
	case p == nil:
	case p.Reached && p.Version == len(r.History):
		printf(w, "Pinned       ✓ %s is this roster (version %d)\n", p.Fingerprint, p.Version)
	case p.Reached && p.Version+1 == len(r.History):
		printf(w, "Pinned       ✓ %s is roster version %d; version %d endorsed by a quorum of version %d\n", p.Fingerprint, p.Version, p.Version+1, p.Version)
	case p.Reached:
		printf(w, "Pinned       ✓ %s is roster version %d; versions %d to %d each endorsed by a quorum of the one before\n", p.Fingerprint, p.Version, p.Version+1, len(r.History))
	default:
		printf(w, "Pinned       ✗ DOES NOT REACH %s: %s\n", p.Fingerprint, p.Error)
	}
}

// printInspectHistory writes one line per roster version.
func printInspectHistory(w io.Writer, r inspectReport) {
	printf(w, "\nRoster history (%d %s)\n", len(r.History), plural(len(r.History), "version", "versions"))
	for _, h := range r.History {
		if h.Error != "" {
			printf(w, "  v%d  %s  does not decode: %s\n", h.Version, h.Fingerprint, h.Error)
			continue
		}
		line := fmt.Sprintf("  v%d  %s  %s  %d of %d  signed by %s", h.Version, h.Created.UTC().Format("2006-01-02"), h.Fingerprint,
			h.Threshold, len(h.Custodians), orDash(h.SignedBy))
		if h.Version > 1 {
			line += "; endorsed by " + orDash(h.EndorsedBy) + fmt.Sprintf(" of v%d", h.Version-1)
		}
		if c := h.Change; c != nil {
			line += "; " + changeSummary(c)
		}
		printf(w, "%s\n", line)
	}
}

// changeSummary is "+dave −carol; keys +4001 −3001; threshold 2→2;
// identity new; reason: carol left".
func changeSummary(c *inspectChange) string {
	var parts []string
	var who []string
	for _, a := range c.Added {
		who = append(who, "+"+a)
	}
	for _, a := range c.Removed {
		who = append(who, "−"+a)
	}
	if len(who) > 0 {
		parts = append(parts, strings.Join(who, " "))
	}
	var keys []string
	for _, k := range c.KeysAdded {
		keys = append(keys, fmt.Sprintf("+%d", k))
	}
	for _, k := range c.KeysRemoved {
		keys = append(keys, fmt.Sprintf("−%d", k))
	}
	if len(keys) > 0 {
		parts = append(parts, "keys "+strings.Join(keys, " "))
	}
	parts = append(parts, fmt.Sprintf("threshold %d→%d", c.ThresholdFrom, c.ThresholdTo), "identity "+c.Identity)
	if c.Reason != "" {
		parts = append(parts, "reason: "+c.Reason)
	}
	return strings.Join(parts, "; ")
}

func orDash(s []string) string {
	if len(s) == 0 {
		return "nobody"
	}
	return strings.Join(s, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
