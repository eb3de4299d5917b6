package audit

import (
	"errors"
	"fmt"
	"slices"

	"breakglass/vault"
)

// The checks of a rekey report (mode rekey): the roster version the session
// wrote (Rekey.NewRoster) is the next link of the chain after the roster the
// report is signed under, endorsed by a threshold of it; it is the version
// the journal's vault.rekeyed event names; and what the event says changed
// is what the new roster's custodians signed. That a threshold of the OLD
// roster signed the report is the signer checks' business.

// checkRekey adds the rekey checks. known is the verified chain holding the
// report's roster (the vault file's or the report's own).
func (v *Verdict) checkRekey(rep *Report, known []vault.ChainVersion, vopts vault.VerifyOptions) {
	rk := rep.Rekey
	if rk == nil { // an aborted rekey wrote nothing (Validate allows only that)
		v.add("rekey new roster", nil, "the rekey was aborted before a roster version was written")
		return
	}
	nr, err := rekeyLink(rep, known, vopts)
	detail := ""
	if err == nil {
		detail = fmt.Sprintf("version %d (%s) names version %d (%s) as the one it replaces, is signed by its %d custodians and endorsed by %d custodians of version %d (threshold %d)",
			nr.Number(), vault.FingerprintOfDigest(rk.NewRoster.Digest), nr.Number()-1, vault.FingerprintOfDigest(rep.Roster.Digest),
			len(nr.Custodians), len(rk.NewRoster.Endorsements), nr.Number()-1, nr.Change.ThresholdFrom)
	}
	linkOK := v.add("rekey new roster", err, detail)
	v.add("rekey new roster digest", rekeyDigests(rep, nr, linkOK), "the new roster is the one the journal's vault.rekeyed event names, "+rk.NewDigest)
	cerr := errNotPinned
	if linkOK {
		cerr = rekeyChange(rk, nr.Change)
	}
	v.add("rekey change", cerr, "what the journal says changed is what the new roster's custodians signed")
}

// rekeyLink verifies the chain up to the report's roster followed by the
// new roster and returns the new roster.
func rekeyLink(rep *Report, known []vault.ChainVersion, vopts vault.VerifyOptions) (*vault.Roster, error) {
	ri := versionOf(records(known), rep.Roster.Digest)
	if ri < 0 {
		return nil, errNotPinned
	}
	base := records(known[:ri+1])
	if n := known[0].Roster.Number(); n > 1 {
		return nil, fmt.Errorf("the report's roster is version %d but the report carries no roster chain: give the vault file (--vault)", n)
	}
	chain, err := vault.VerifyChain(append(base, rep.Rekey.NewRoster), vopts)
	if err != nil {
		return nil, err
	}
	if ri+1 < len(known) && known[ri+1].Record.Digest != rep.Rekey.NewRoster.Digest {
		return nil, fmt.Errorf("%w: the vault's version %d is %s, not %s that this rekey made: another roster replaced version %d",
			vault.ErrChain, ri+2, fpOf(known[ri+1]), vault.FingerprintOfDigest(rep.Rekey.NewRoster.Digest), ri+1)
	}
	return chain[len(chain)-1].Roster, nil
}

// rekeyDigests checks the new roster against the journal's vault.rekeyed
// event: its digest, fingerprint and number, and the old roster's.
func rekeyDigests(rep *Report, nr *vault.Roster, linkOK bool) error {
	rk := rep.Rekey
	var errs []error
	if rk.NewRoster.Digest != rk.NewDigest {
		errs = append(errs, fmt.Errorf("the new roster's digest is %s, the journal's vault.rekeyed event says %s", orUnknown(vault.FingerprintOfDigest(rk.NewRoster.Digest)), orUnknown(vault.FingerprintOfDigest(rk.NewDigest))))
	}
	if rk.NewFingerprint != vault.FingerprintOfDigest(rk.NewDigest) {
		errs = append(errs, fmt.Errorf("the new fingerprint %q is not that of the new roster digest", rk.NewFingerprint))
	}
	if rk.OldFingerprint != vault.FingerprintOfDigest(rep.Roster.Digest) {
		errs = append(errs, fmt.Errorf("the rekey says it replaced roster %q, the report is signed under %s", rk.OldFingerprint, orUnknown(vault.FingerprintOfDigest(rep.Roster.Digest))))
	}
	if linkOK && rk.Version != nr.Number() {
		errs = append(errs, fmt.Errorf("the journal says version %d, the new roster is version %d", rk.Version, nr.Number()))
	}
	return errors.Join(errs...)
}

// rekeyChange compares the journal's change fields with the signed Change.
func rekeyChange(rk *RekeyInfo, c *vault.RosterChange) error {
	if c == nil {
		return errors.New("the new roster says nothing about what changed")
	}
	var diffs []string
	diff := func(what string, same bool, got, want any) {
		if !same {
			diffs = append(diffs, fmt.Sprintf("%s: the journal says %v, the signed roster %v", what, got, want))
		}
	}
	diff("reason", rk.Reason == c.Reason, fmt.Sprintf("%q", rk.Reason), fmt.Sprintf("%q", c.Reason))
	diff("added", slices.Equal(rk.Added, c.Added), rk.Added, c.Added)
	diff("removed", slices.Equal(rk.Removed, c.Removed), rk.Removed, c.Removed)
	diff("keys added", slices.Equal(rk.KeysAdded, c.KeysAdded), rk.KeysAdded, c.KeysAdded)
	diff("keys removed", slices.Equal(rk.KeysRemoved, c.KeysRemoved), rk.KeysRemoved, c.KeysRemoved)
	diff("threshold from", rk.ThresholdFrom == c.ThresholdFrom, rk.ThresholdFrom, c.ThresholdFrom)
	diff("threshold to", rk.ThresholdTo == c.ThresholdTo, rk.ThresholdTo, c.ThresholdTo)
	diff("vault key", rk.VaultKey == c.Identity, rk.VaultKey, c.Identity)
	if len(diffs) > 0 {
		return fmt.Errorf("the rekey's change differs from the new roster's: %v", diffs)
	}
	return nil
}

// rekeySection is checkJournal's comparison of the report's rekey record
// with the journal's vault.rekeyed event: everything but the new roster
// record itself, which the command adds (and "rekey new roster" checks).
func rekeySection(rep, derived *Report) struct {
	name      string
	got, want any
} {
	view := func(r *RekeyInfo) any {
		if r == nil {
			return nil
		}
		c := *r
		c.NewRoster = vault.RosterRecord{}
		return c
	}
	return struct {
		name      string
		got, want any
	}{"rekey", view(rep.Rekey), view(derived.Rekey)}
}
