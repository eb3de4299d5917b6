package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"breakglass/internal/attest"
	"breakglass/vault"
)

// Pin is the auditor's trust anchor: the roster the signers must be
// enrolled in. At least one of Fingerprint and Vault is required; a verify
// without a pin fails its "pinned roster" check and is never OK.
type Pin struct {
	// Fingerprint is the pinned roster digest: the card form
	// ("ABCD-EF12-3456-7890-ABCD", the digest's 10-byte prefix) or the full
	// 64-hex SHA-256 (see vault.ParsePin). The report's embedded roster must
	// hash to it, or be a version of a verified roster chain holding it
	// (see verify_chain.go): any version's fingerprint may be pinned.
	Fingerprint string
	// Vault is the auditor's copy of the vault. It is verified completely
	// (vault.VerifyRoster: every roster signature and attestation, and the attested
	// policy; a rekeyed vault's whole roster chain), and the report's
	// embedded roster must be one of its roster versions (Fingerprint, if
	// also given, must be one of them too: the pinned version).
	Vault *vault.Vault
}

// VerifyOptions are the auditor's trust inputs. Nothing is fetched.
type VerifyOptions struct {
	// Trust holds the attestation roots every signer's x5c chain and every
	// roster key's attestation are checked against by internal/attest's one
	// rule. Nil means the Yubico roots built into the binary; a test trust
	// only when the auditor passed one explicitly (then NonProduction must
	// be set too).
	Trust *attest.Trust
	// NonProduction accepts a report whose attestation root is a test root
	// ("TEST/non-production: …"); the verdict then says NON-PRODUCTION.
	NonProduction bool
	// Pin is the roster every signer must be enrolled in; required.
	Pin Pin
}

// ErrNoPin is the "pinned roster" check's failure when VerifyOptions.Pin is
// empty.
var ErrNoPin = errors.New("no pinned roster: give the vault file or its fingerprint (printed on the custodian card; `breakglass vault inspect VAULT` shows it)")

// Check is one verification step's outcome.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Verdict lists every check in a fixed order. It is OK only if every check
// passed.
type Verdict struct {
	Checks        []Check
	Report        *Report // the decoded payload, nil if it did not decode; untrusted unless OK
	NonProduction bool    // the report was made with a test attestation root
	// RosterDigest is the full digest (hex SHA-256) of the roster the
	// signers were checked against when the pin held — the pinned one, or
	// after a rekey the version of the pinned chain the report names (see
	// Chain); "" otherwise.
	RosterDigest string
	// Chain says which roster version signed and which was pinned when a
	// roster chain was followed (rekeys); nil otherwise.
	Chain *ChainInfo
	// Warnings are limits of what was checked that are not failures. No
	// check is ever downgraded to a warning: an unpinned roster fails.
	Warnings []string
}

// OK reports whether every check passed (and there was at least one).
func (v *Verdict) OK() bool {
	for _, c := range v.Checks {
		if !c.OK {
			return false
		}
	}
	return len(v.Checks) > 0
}

// Failed returns the checks that failed.
func (v *Verdict) Failed() []Check {
	var out []Check
	for _, c := range v.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func (v *Verdict) add(name string, err error, okDetail string) bool {
	if err != nil {
		// errors.Join separates with newlines; a check is one line.
		v.Checks = append(v.Checks, Check{Name: name, Detail: strings.ReplaceAll(err.Error(), "\n", "; ")})
		return false
	}
	v.Checks = append(v.Checks, Check{Name: name, OK: true, Detail: okDetail})
	return true
}

// ErrVerificationFailed is returned (wrapped) by VerifyReport when any check
// failed; the Verdict says which.
var ErrVerificationFailed = errors.New("report verification failed")

// VerifyReport checks a signed report offline: the JWS structure, every
// signature, every signer's attestation chain and serial, the signers
// against the report's custodians and the roster, the threshold of distinct
// custodians, the journal's hash chain and head, and that every list in the
// report is exactly what the journal says. It always returns a Verdict; the
// error wraps ErrVerificationFailed and names the failed checks unless all
// passed.
func VerifyReport(jws []byte, opts VerifyOptions) (*Verdict, error) {
	v := &Verdict{}
	v.verify(jws, opts)
	if v.OK() {
		return v, nil
	}
	var names []string
	for _, c := range v.Failed() {
		names = append(names, c.Name)
	}
	return v, fmt.Errorf("%w: %s", ErrVerificationFailed, strings.Join(names, ", "))
}

// maxReportBytes bounds what VerifyReportFile reads.
const maxReportBytes = 1 << 30

// VerifyReportFile reads path and verifies it; see VerifyReport.
func VerifyReportFile(path string, opts VerifyOptions) (*Verdict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading report %q: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading report %q: %w", path, err)
	}
	if len(b) > maxReportBytes {
		return nil, fmt.Errorf("reading report %q: larger than %d bytes", path, maxReportBytes)
	}
	return VerifyReport(b, opts)
}

func (v *Verdict) verify(jws []byte, opts VerifyOptions) {
	doc, sigs, err := parseJWSDoc(jws)
	if !v.add("JWS structure", err, fmt.Sprintf("JSON General Serialization, %d signatures", len(sigs))) {
		return
	}
	p := parseReport(doc.payload)
	rep, perr := p.rep, p.err
	// Signatures and attestations first: they do not depend on the payload decoding.
	res := v.checkSignatures(doc, sigs, opts)
	if rep == nil {
		v.add("payload", perr, "")
		return
	}
	v.Report = rep
	v.NonProduction = strings.HasPrefix(rep.AttestationRoot, "TEST/")
	v.checkPayload(rep, perr, opts)
	roster := v.pinRoster(rep, opts)
	v.checkSigners(rep, sigs, res, roster)
	v.checkJournal(rep, p)
}

// sigResults are the per-signature outcomes of checkSignatures, by index.
type sigResults struct {
	sigOK, attOK []bool
	serials      []uint32
}

// checkSignatures checks every signature over payload and every signer's
// attestation.
func (v *Verdict) checkSignatures(doc jwsDoc, sigs []parsedSig, opts VerifyOptions) sigResults {
	res := sigResults{sigOK: make([]bool, len(sigs)), serials: make([]uint32, len(sigs)), attOK: make([]bool, len(sigs))}
	for i, s := range sigs {
		name := fmt.Sprintf("signature %d (%s)", i+1, s.kid)
		if s.err != nil {
			v.add(name, s.err, "")
			continue
		}
		res.sigOK[i] = v.add(name, verifyES256(doc.payloadB64, s), "ES256 over the payload by the key in x5c[0]")
		var detail string
		var aerr error
		res.serials[i], detail, aerr = attestSigner(s.chain, opts)
		res.attOK[i] = v.add(fmt.Sprintf("attestation %d (%s)", i+1, s.kid), aerr, detail)
	}
	return res
}

// checkPayload checks the decoded payload itself: canonical encoding,
// required fields, the attestation root's label and, for a drill, that
// nothing was revealed.
func (v *Verdict) checkPayload(rep *Report, perr error, opts VerifyOptions) {
	v.add("payload encoding", perr, "canonical JSON")
	v.add("payload fields", rep.Validate(), "format "+rep.Format+", all required fields present")
	v.add("attestation root", checkRootLabel(rep.AttestationRoot, opts.NonProduction), rep.AttestationRoot)
	if rep.Session.Mode == ModeDrill {
		var err error
		if n := len(rep.MustRotate); n > 0 {
			err = fmt.Errorf("a drill must never show a credential, but %d were shown: %s", n, strings.Join(rep.MustRotate, ", "))
		}
		v.add("drill revealed nothing", err, "no credential was shown")
	}
}

// checkSigners checks each signer against the report's quorum and the
// pinned roster (nil when it did not verify), the report's custodians
// against the roster, that the signers are distinct, and the threshold.
func (v *Verdict) checkSigners(rep *Report, sigs []parsedSig, res sigResults, roster *vault.Roster) {
	signed := map[string]bool{} // pinned-roster custodian ids with a fully valid signature
	for i, s := range sigs {
		if s.err != nil {
			continue
		}
		cusOK := v.add(fmt.Sprintf("custodian %d (%s)", i+1, s.kid), listedCustodian(rep, s), "a custodian of the report's quorum")
		detail, rerr := "", errNotPinned
		if roster != nil {
			detail, rerr = enrolledSigner(roster, s, res.serials[i], res.attOK[i])
		}
		rosOK := v.add(fmt.Sprintf("enrolled signer %d (%s)", i+1, s.kid), rerr, detail)
		if res.sigOK[i] && res.attOK[i] && cusOK && rosOK {
			signed[s.kid] = true
		}
	}
	lerr := errNotPinned
	if roster != nil {
		lerr = checkListed(rep, roster)
	}
	v.add("report custodians enrolled", lerr, "every custodian the report lists is enrolled in the pinned roster with that serial, key and attestation")
	ddetail, derr := distinctSigners(sigs)
	v.add("distinct custodians", derr, ddetail)
	need := max(2, rep.Session.Threshold) // the session's own threshold, at least 2
	if roster != nil && roster.Policy.Threshold > need {
		need = roster.Policy.Threshold
	}
	v.add("threshold", checkThreshold(rep, signed, need), fmt.Sprintf("%d distinct enrolled custodians signed, %d needed", len(signed), need))
}

// checkJournal checks the journal's hash chain and head, then that every
// list in the report is what the journal says, and the step confirmations.
// The chain is Verify's verdict, computed while parsing when p.chained.
func (v *Verdict) checkJournal(rep *Report, p reportPayload) {
	jerr := p.chainErr
	if !p.chained {
		jerr = Verify(rep.Journal.Entries)
	}
	v.add("journal hash chain", jerr, fmt.Sprintf("%d entries chained", len(rep.Journal.Entries)))
	v.add("journal head", checkHead(rep), "head "+shortHash(rep.Journal.Head)+" and count match the entries")
	if jerr != nil {
		return
	}
	derived, err := buildVerified(rep.Journal.Entries, rep.Custodians) // BuildReport without Verify again: jerr is nil
	if !v.add("report built from journal", err, "the journal describes a complete session") {
		return
	}
	sections := []struct {
		name      string
		got, want any
	}{
		{"session", rep.Session, derived.Session},
		{"station (binary, vault, runbook, root)", []any{rep.Binary, rep.VaultFingerprint, rep.Runbook, rep.AttestationRoot},
			[]any{derived.Binary, derived.VaultFingerprint, derived.Runbook, derived.AttestationRoot}},
		{"quorum", rep.Quorum, derived.Quorum},
		{"timeline", rep.Timeline, derived.Timeline},
		{"revealed secrets", rep.Revealed, derived.Revealed},
		{"must rotate", rep.MustRotate, derived.MustRotate},
		{"close-out answers", rep.Closeout, derived.Closeout},
		{"custodians", rep.Custodians, derived.Custodians},
	}
	if rep.Session.Mode == ModeRekey {
		sections = append(sections, rekeySection(rep, derived))
	}
	for _, s := range sections {
		v.add(s.name+" matches journal", sameJSON(s.got, s.want), "as recorded in the journal")
	}
	n, cerr := checkConfirmations(rep)
	v.add("step confirmations", cerr, fmt.Sprintf("%d custodian confirmations, each signed by the custodian's enrolled key", n))
}

func checkHead(rep *Report) error {
	n := len(rep.Journal.Entries)
	switch {
	case n == 0:
		return ErrEmptyJournal
	case rep.Journal.Count != n:
		return fmt.Errorf("count says %d entries, the journal has %d", rep.Journal.Count, n)
	case rep.Journal.Head != rep.Journal.Entries[n-1].Hash:
		return fmt.Errorf("head %s is not the last entry's hash %s", shortHash(rep.Journal.Head), shortHash(rep.Journal.Entries[n-1].Hash))
	}
	return nil
}

func sameJSON(got, want any) error {
	a, err1 := json.Marshal(got)
	b, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil || string(a) != string(b) {
		return errors.New("the report says something the journal does not")
	}
	return nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// Print writes one ✓/✗ line per check and a one-line verdict.
func (v *Verdict) Print(w io.Writer) error {
	var b strings.Builder
	for _, c := range v.Checks {
		mark := "✓"
		if !c.OK {
			mark = "✗"
		}
		fmt.Fprintf(&b, "%s %s", mark, c.Name)
		if c.Detail != "" {
			fmt.Fprintf(&b, ": %s", c.Detail)
		}
		b.WriteByte('\n')
	}
	for _, w := range v.Warnings {
		fmt.Fprintf(&b, "! %s\n", w)
	}
	prefix := ""
	if v.NonProduction {
		prefix = "NON-PRODUCTION "
	}
	if v.OK() {
		r := v.Report
		fmt.Fprintf(&b, "%sREPORT VERIFIED OK: session %s (%s), %d custodians signed, journal %d entries, head %s, pinned vault %s%s\n",
			prefix, r.Session.ID, r.Session.Mode, len(r.Custodians), r.Journal.Count, shortHash(r.Journal.Head), vault.FingerprintOfDigest(v.RosterDigest), v.Chain.verdictSuffix())
	} else {
		fmt.Fprintf(&b, "%sREPORT NOT VERIFIED: %d of %d checks failed; do not trust this report\n", prefix, len(v.Failed()), len(v.Checks))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// VerdictFormat identifies the JSON encoding of a Verdict.
const VerdictFormat = "breakglass-verify/1"

// verdictJSON is the JSON contract of a Verdict (breakglass verify --json).
type verdictJSON struct {
	Format        string       `json:"format"`         // VerdictFormat
	OK            bool         `json:"ok"`             // every check passed
	Verdict       string       `json:"verdict"`        // "verified" or "not verified"
	NonProduction bool         `json:"non_production"` // made with a TEST attestation root
	RosterDigest  string       `json:"roster_digest"`  // the pinned roster's SHA-256 hex, "" unless the pin held
	Fingerprint   string       `json:"vault_fingerprint"`
	Session       *sessionJSON `json:"session"`                // from the report; null if it did not decode; untrusted unless ok
	RosterChain   *ChainInfo   `json:"roster_chain,omitempty"` // which roster version signed and which was pinned (rekeyed vaults only)
	Checks        []checkJSON  `json:"checks"`
	Failed        []string     `json:"failed"` // names of the failed checks
	Warnings      []string     `json:"warnings"`
}

type sessionJSON struct {
	ID         string   `json:"id"`
	Mode       string   `json:"mode"`
	Outcome    string   `json:"outcome"`
	Custodians []string `json:"custodians"`
	MustRotate []string `json:"must_rotate"`
}

type checkJSON struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// MarshalJSON encodes the verdict as one object: format, ok, verdict,
// non_production, roster_digest, vault_fingerprint, session (id, mode,
// outcome, custodians, must_rotate), roster_chain (only when a chain was
// followed: signed_under, signed_under_fingerprint, pinned_version,
// pinned_fingerprint, vault_version, versions), checks [{name, ok, detail}] in the
// order of Print, failed and warnings.
func (v *Verdict) MarshalJSON() ([]byte, error) {
	out := verdictJSON{Format: VerdictFormat, OK: v.OK(), Verdict: "not verified", NonProduction: v.NonProduction,
		RosterDigest: v.RosterDigest, Fingerprint: vault.FingerprintOfDigest(v.RosterDigest), RosterChain: v.Chain,
		Checks: []checkJSON{}, Failed: []string{}, Warnings: slices.Clone(v.Warnings)}
	if out.OK {
		out.Verdict = "verified"
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	for _, c := range v.Checks {
		out.Checks = append(out.Checks, checkJSON(c))
		if !c.OK {
			out.Failed = append(out.Failed, c.Name)
		}
	}
	if r := v.Report; r != nil {
		s := &sessionJSON{ID: r.Session.ID, Mode: r.Session.Mode, Outcome: r.Session.Outcome, Custodians: []string{}, MustRotate: slices.Clone(r.MustRotate)}
		for _, c := range r.Custodians {
			s.Custodians = append(s.Custodians, c.ID)
		}
		if s.MustRotate == nil {
			s.MustRotate = []string{}
		}
		out.Session = s
	}
	return json.Marshal(out)
}
