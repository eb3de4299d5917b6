package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/vault"
)

// Following the roster chain (issue 11). A rekey makes roster version n+1
// from version n; the vault and the console's reports carry every earlier
// version (vault.Vault.Chain, Report.RosterChain). An auditor pins any
// version — by its fingerprint, or by a vault file whose whole chain
// verifies — and a report is accepted when the roster it was signed under is
// a version of a verified chain that contains the pinned one: versions after
// the pin are trusted because each is endorsed by a threshold of the one
// before (vault.VerifyChain), versions before it because the pinned version,
// signed by its custodians, names their digests (Previous). The signers
// must be enrolled in the version the report names, and that version must
// still have been in force when the session started.

// ChainInfo says how the report's roster was reached from the pin
// (Verdict.Chain). Nil when neither the report nor the pinned vault file
// carries more than one roster version: then the report's roster is the
// pinned one, as before rekeys existed.
type ChainInfo struct {
	// SignedUnder is the number of the roster version the report was
	// signed under (its embedded roster), and its fingerprint.
	SignedUnder            int    `json:"signed_under"`
	SignedUnderFingerprint string `json:"signed_under_fingerprint"`
	// Pinned is the number of the pinned version, 0 if the pin was not
	// found in the chain; PinnedFingerprint its fingerprint.
	Pinned            int    `json:"pinned_version"`
	PinnedFingerprint string `json:"pinned_fingerprint"`
	// VaultVersion is the newest version of the pinned vault file, 0 when
	// only a fingerprint was pinned.
	VaultVersion int `json:"vault_version"`
	// Versions is how many versions the verified chain holds.
	Versions int `json:"versions"`
}

// pinInputs is the pin as parsed and verified.
type pinInputs struct {
	fp     string               // ParsePin's form, "" when none given
	vchain []vault.ChainVersion // the vault file's verified versions, nil without --vault or when it failed
	vpin   int                  // index in vchain of the pinned version
}

// pinRoster checks the report's embedded roster against opts.Pin and
// returns it, verified, or nil (after adding the failed checks). With a
// chain (rekeys), the report's roster must be a version of a verified chain
// that contains the pinned version; see the comment at the top of the file.
func (v *Verdict) pinRoster(rep *Report, opts VerifyOptions) *vault.Roster {
	vopts := vault.VerifyOptions{Trust: opts.Trust}
	pin := opts.Pin
	if pin.Fingerprint == "" && pin.Vault == nil {
		v.add("pinned roster", ErrNoPin, "")
		return nil
	}
	var in pinInputs
	if pin.Fingerprint != "" {
		var err error
		if in.fp, err = vault.ParsePin(pin.Fingerprint); err != nil {
			v.add("pinned roster", err, "")
			return nil
		}
	}
	vaultOK := true
	if pin.Vault != nil {
		vaultOK = v.pinVault(pin, &in, vopts)
	}
	r, err := vault.VerifyRosterRecord(rep.Roster, vopts)
	detail := ""
	if err == nil {
		detail = fmt.Sprintf("%d custodians, threshold %d; every roster signature and key attestation verified by vault.VerifyRoster", len(r.Custodians), r.Policy.Threshold)
	}
	recOK := v.add("embedded roster", err, detail)
	var rchain []vault.ChainVersion
	chainOK := true
	if len(rep.RosterChain) > 0 {
		rchain, err = vault.VerifyChain(reportVersions(rep), vopts)
		chainOK = v.add("embedded roster chain", err, fmt.Sprintf("%d roster versions, each endorsed by a threshold of the one before and naming its digest (vault.VerifyChain)", len(rchain)))
	}
	known, pinIdx, perr := v.locatePin(rep, r, pin, in, rchain, chainOK)
	if !v.add("pinned roster", perr, v.pinnedDetail(rep, in, known, pinIdx)) || !vaultOK || !recOK || !chainOK {
		return nil
	}
	if len(known) > 1 {
		v.add("roster in force", inForce(rep, known), inForceDetail(rep, known))
	}
	if rep.Session.Mode == ModeRekey {
		v.checkRekey(rep, known, vopts)
	}
	v.RosterDigest = rep.Roster.Digest
	return r
}

// pinVault verifies the pinned vault file's whole chain and finds the
// pinned version in it (the fingerprint's, or the newest without one).
func (v *Verdict) pinVault(pin Pin, in *pinInputs, vopts vault.VerifyOptions) bool {
	chain, err := vaultVersions(pin.Vault, vopts)
	if err == nil {
		in.vpin = len(chain) - 1
		if in.fp != "" {
			in.vpin = slices.IndexFunc(chain, func(c vault.ChainVersion) bool { return vault.PinMatches(c.Record.Digest, in.fp) })
		}
		switch {
		case in.vpin < 0 && len(chain) == 1:
			err = fmt.Errorf("the vault file's roster is %s, not the pinned fingerprint %s: this is not the pinned vault",
				pin.Vault.ComputeFingerprint(), pin.Fingerprint)
		case in.vpin < 0:
			err = fmt.Errorf("the vault file's roster chain (versions 1 to %d: %s) does not reach the pinned fingerprint %s: this is not the pinned vault",
				len(chain), fingerprints(chain), pin.Fingerprint)
		}
	}
	detail := fmt.Sprintf("vault %s: every roster signature and key attestation verified by vault.VerifyRoster", pin.Vault.ComputeFingerprint())
	if err == nil && len(chain) > 1 {
		detail = fmt.Sprintf("vault %s at roster version %d: every version's signatures and key attestations and every link's endorsements verified (vault.VerifyChain); pinned version %d (%s)",
			pin.Vault.ComputeFingerprint(), len(chain), in.vpin+1, fpOf(chain[in.vpin]))
	}
	if err == nil {
		in.vchain = chain
	}
	return v.add("pinned vault", err, detail)
}

// vaultVersions verifies a vault's roster and returns its versions. A
// first roster is verified as it always was (VerifyRoster, no second pass).
func vaultVersions(pv *vault.Vault, vopts vault.VerifyOptions) ([]vault.ChainVersion, error) {
	if len(pv.Chain) == 0 && pv.Roster.Number() == 1 {
		if err := pv.VerifyRoster(vopts); err != nil {
			return nil, err
		}
		return []vault.ChainVersion{{Record: pv.RosterRecord(), Roster: &pv.Roster}}, nil
	}
	return vault.VerifyChain(pv.Versions(), vopts)
}

// reportVersions is the report's own chain: RosterChain, then Roster.
func reportVersions(rep *Report) []vault.RosterRecord {
	return append(slices.Clone(rep.RosterChain), rep.Roster)
}

// locatePin finds the report's roster and the pinned version in a verified
// chain: the vault file's when one was given (the report's roster must be
// one of its versions), else the report's own. It returns that chain (nil
// when none verified), the pinned index, and the pinned roster check's
// failure.
func (v *Verdict) locatePin(rep *Report, r *vault.Roster, pin Pin, in pinInputs, rchain []vault.ChainVersion, chainOK bool) ([]vault.ChainVersion, int, error) {
	got := rep.Roster.Digest
	var perr error
	var known []vault.ChainVersion
	pinIdx := -1
	switch {
	case pin.Vault != nil:
		known, pinIdx = in.vchain, in.vpin
		switch {
		case known == nil && got != pin.Vault.RosterDigestHex():
			perr = fmt.Errorf("the report was signed under roster %s, the given vault's roster is %s: the report is for another vault or its roster was changed",
				orUnknown(vault.FingerprintOfDigest(got)), pin.Vault.ComputeFingerprint())
		case known == nil: // the pinned vault check failed; the roster is the file's
		case versionOf(records(known), got) < 0 && slices.ContainsFunc(rep.RosterChain, func(r vault.RosterRecord) bool { return versionOf(records(known), r.Digest) >= 0 }):
			perr = fmt.Errorf("the report was signed under roster version %d (%s), newer than the given vault file (roster version %d, %s): give a newer copy of the vault file",
				len(rep.RosterChain)+1, orUnknown(vault.FingerprintOfDigest(got)), len(known), fpOf(known[len(known)-1]))
		case len(known) == 1 && got != known[0].Record.Digest:
			perr = fmt.Errorf("the report was signed under roster %s, the given vault's roster is %s: the report is for another vault or its roster was changed",
				orUnknown(vault.FingerprintOfDigest(got)), pin.Vault.ComputeFingerprint())
		case versionOf(records(known), got) < 0:
			perr = fmt.Errorf("the report was signed under roster %s, which is none of the given vault's roster versions (1 to %d: %s): the report is for another vault, or give a newer copy of the vault file",
				orUnknown(vault.FingerprintOfDigest(got)), len(known), fingerprints(known))
		}
	default:
		switch {
		case chainOK && rchain != nil:
			known = rchain
		case r != nil && len(rep.RosterChain) == 0:
			known = []vault.ChainVersion{{Record: rep.Roster, Roster: r}}
		}
		if known != nil {
			pinIdx = slices.IndexFunc(known, func(c vault.ChainVersion) bool { return vault.PinMatches(c.Record.Digest, in.fp) })
		}
		switch {
		case pinIdx >= 0:
		case !vault.PinMatches(got, in.fp) && len(rep.RosterChain) > 0 && !chainOK:
			perr = fmt.Errorf("the report was signed under roster %s, the pinned fingerprint is %s, and the report's roster chain does not verify (see the embedded roster chain check)",
				orUnknown(vault.FingerprintOfDigest(got)), pin.Fingerprint)
		case !vault.PinMatches(got, in.fp) && len(rep.RosterChain) > 0:
			perr = fmt.Errorf("the report was signed under roster %s, and no version of its roster chain (1 to %d: %s) is the pinned fingerprint %s: the report is for another vault or its roster was changed",
				orUnknown(vault.FingerprintOfDigest(got)), len(rchain), fingerprints(rchain), pin.Fingerprint)
		case !vault.PinMatches(got, in.fp):
			perr = fmt.Errorf("the report was signed under roster %s, the pinned fingerprint is %s: the report is for another vault or its roster was changed",
				orUnknown(vault.FingerprintOfDigest(got)), pin.Fingerprint)
		}
	}
	if perr == nil && rep.VaultFingerprint != vault.FingerprintOfDigest(got) {
		perr = fmt.Errorf("the journal records vault %q but the embedded roster is %s", rep.VaultFingerprint, orUnknown(vault.FingerprintOfDigest(got)))
	}
	return known, pinIdx, perr
}

// pinnedDetail is the pinned roster check's detail: the old one when no
// chain is involved, else which version signed, which is pinned, and how.
func (v *Verdict) pinnedDetail(rep *Report, in pinInputs, known []vault.ChainVersion, pinIdx int) string {
	got := rep.Roster.Digest
	if len(known) <= 1 {
		return "roster digest " + got + " is the pinned one"
	}
	ri := versionOf(records(known), got)
	if ri < 0 || pinIdx < 0 {
		return ""
	}
	info := &ChainInfo{SignedUnder: ri + 1, SignedUnderFingerprint: fpOf(known[ri]), Pinned: pinIdx + 1, PinnedFingerprint: fpOf(known[pinIdx]), Versions: len(known)}
	s := fmt.Sprintf("report signed under roster version %d (%s); pinned version %d (%s)", ri+1, fpOf(known[ri]), pinIdx+1, fpOf(known[pinIdx]))
	switch {
	case in.vchain != nil:
		info.VaultVersion = len(in.vchain)
		s += fmt.Sprintf("; vault file at version %d, chain verified", len(in.vchain))
	default:
		s += fmt.Sprintf("; the report's roster chain of %d versions verified", len(known))
	}
	switch {
	case pinIdx < ri:
		s += fmt.Sprintf("; versions %d to %d trusted by the endorsements of the version before each", pinIdx+2, ri+1)
	case pinIdx > ri:
		s += fmt.Sprintf("; version %d trusted by the digest links of the pinned version", ri+1)
	}
	v.Chain = info
	return s
}

// inForce fails a report whose session started after the roster version it
// was signed under was superseded (the next version's creation): keys a
// rekey removed must not make new evidence. The rekey that made the next
// version is itself signed under the version it replaced.
func inForce(rep *Report, known []vault.ChainVersion) error {
	ri := versionOf(records(known), rep.Roster.Digest)
	if ri < 0 || ri == len(known)-1 {
		return nil
	}
	next := known[ri+1]
	if rep.Rekey != nil && rep.Rekey.NewDigest == next.Record.Digest {
		return nil
	}
	started, err := time.Parse(time.RFC3339Nano, rep.Session.Started)
	if err != nil {
		return fmt.Errorf("the session's start %q is not a time", rep.Session.Started)
	}
	if started.After(next.Roster.Created) {
		return fmt.Errorf("signed under roster version %d, superseded on %s by version %d (%s), but the session started %s: keys a rekey replaced make no new evidence",
			ri+1, stamp(next.Roster.Created), ri+2, fpOf(next), stamp(started))
	}
	return nil
}

func inForceDetail(rep *Report, known []vault.ChainVersion) string {
	ri := versionOf(records(known), rep.Roster.Digest)
	switch {
	case ri < 0:
		return ""
	case ri == len(known)-1:
		return fmt.Sprintf("roster version %d is the newest version known", ri+1)
	case rep.Rekey != nil && rep.Rekey.NewDigest == known[ri+1].Record.Digest:
		return fmt.Sprintf("roster version %d was superseded by version %d, which this rekey session made", ri+1, ri+2)
	}
	return fmt.Sprintf("signed under roster version %d, superseded on %s by version %d, after the session started %s",
		ri+1, stamp(known[ri+1].Roster.Created), ri+2, rep.Session.Started)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func records(c []vault.ChainVersion) []vault.RosterRecord {
	out := make([]vault.RosterRecord, len(c))
	for i, v := range c {
		out[i] = v.Record
	}
	return out
}

func versionOf(recs []vault.RosterRecord, digest string) int {
	return slices.IndexFunc(recs, func(r vault.RosterRecord) bool { return r.Digest == digest })
}

func fpOf(c vault.ChainVersion) string { return vault.FingerprintOfDigest(c.Record.Digest) }

func fingerprints(c []vault.ChainVersion) string {
	fps := make([]string, len(c))
	for i := range c {
		fps[i] = fpOf(c[i])
	}
	return strings.Join(fps, ", ")
}

// verdictSuffix is what the verdict line adds when a chain was followed:
// the pinned vault it names is then the version the report was signed
// under, reached from the pinned version.
func (c *ChainInfo) verdictSuffix() string {
	if c == nil || c.Pinned == c.SignedUnder {
		return ""
	}
	return fmt.Sprintf(" (roster version %d, reached from the pinned version %d, %s)", c.SignedUnder, c.Pinned, c.PinnedFingerprint)
}
