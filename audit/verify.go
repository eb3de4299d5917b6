package audit

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"breakglass/internal/attest"
)

// Roster is what the vault says about its custodians, for VerifyOptions.
type Roster struct {
	Threshold int // M of the M-of-N policy
	Members   []RosterMember
}

// RosterMember is one enrolled custodian.
type RosterMember struct {
	ID         string
	Serial     uint32
	SigningKey *ecdsa.PublicKey
}

// VerifyOptions are the auditor's trust inputs. Nothing is fetched.
type VerifyOptions struct {
	// Trust holds the attestation roots every signer's x5c chain is checked
	// against by internal/attest's one rule. Nil means the Yubico roots
	// built into the binary; a test trust only when the auditor passed one
	// explicitly (then NonProduction must be set too).
	Trust *attest.Trust
	// NonProduction accepts a report whose attestation root is a test root
	// ("TEST/non-production: …"); the verdict then says NON-PRODUCTION.
	NonProduction bool
	// Roster, if given, must enrol every signer (id, serial and key) and
	// sets the threshold.
	Roster *Roster
}

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
	// Warnings are limits of what was checked (not failures), e.g. no roster.
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
	payload, sigs, err := parseJWS(jws)
	if !v.add("JWS structure", err, fmt.Sprintf("JSON General Serialization, %d signatures", len(sigs))) {
		return
	}
	rep, perr := ParsePayload(payload)
	// Signatures and attestations first: they do not depend on the payload decoding.
	sigOK := make([]bool, len(sigs))
	serials := make([]uint32, len(sigs))
	attOK := make([]bool, len(sigs))
	for i, s := range sigs {
		name := fmt.Sprintf("signature %d (%s)", i+1, s.kid)
		if s.err != nil {
			v.add(name, s.err, "")
			continue
		}
		sigOK[i] = v.add(name, verifySigJOSE(payload, s), "ES256 over the payload by the key in x5c[0]")
		var detail string
		var aerr error
		serials[i], detail, aerr = attestSigner(s.chain, opts)
		attOK[i] = v.add(fmt.Sprintf("attestation %d (%s)", i+1, s.kid), aerr, detail)
	}
	if rep == nil {
		v.add("payload", perr, "")
		return
	}
	v.Report = rep
	v.NonProduction = strings.HasPrefix(rep.AttestationRoot, "TEST/")
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

	signed := map[string]bool{} // custodian ids with a fully valid signature
	for i, s := range sigs {
		if s.err != nil {
			continue
		}
		cusOK := v.add(fmt.Sprintf("custodian %d (%s)", i+1, s.kid), matchCustodian(rep, s, serials[i], attOK[i]),
			fmt.Sprintf("%s, YubiKey %d, key and certificates as listed in the report", s.kid, serials[i]))
		if sigOK[i] && attOK[i] && cusOK {
			signed[s.kid] = true
		}
	}
	v.add("distinct custodians", distinctSigners(sigs), "no custodian, serial or key signed twice")
	if opts.Roster == nil {
		v.Warnings = append(v.Warnings, "signers were not checked against the vault's roster: any genuine YubiKeys would pass; give the vault to prove these are the enrolled custodians")
	} else {
		v.add("roster", checkRoster(rep, sigs, opts.Roster), "every signer is enrolled with this serial and key")
	}
	need := max(2, rep.Session.Threshold) // the session's own threshold, at least 2
	if opts.Roster != nil && opts.Roster.Threshold > need {
		need = opts.Roster.Threshold
	}
	v.add("threshold", checkThreshold(rep, signed, need), fmt.Sprintf("%d distinct custodians signed, %d needed", len(signed), need))

	jerr := Verify(rep.Journal.Entries)
	v.add("journal hash chain", jerr, fmt.Sprintf("%d entries chained", len(rep.Journal.Entries)))
	v.add("journal head", checkHead(rep), "head "+shortHash(rep.Journal.Head)+" and count match the entries")
	if jerr != nil {
		return
	}
	derived, err := BuildReport(rep.Journal.Entries, rep.Custodians)
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
	for _, s := range sections {
		v.add(s.name+" matches journal", sameJSON(s.got, s.want), "as recorded in the journal")
	}
	n, cerr := checkConfirmations(rep)
	v.add("step confirmations", cerr, fmt.Sprintf("%d custodian confirmations, each signed by the custodian's enrolled key", n))
}

func checkRootLabel(label string, nonProd bool) error {
	test := strings.HasPrefix(label, "TEST/non-production: ")
	switch {
	case test && !nonProd:
		return errors.New("the report was made with a non-production attestation root; it is not evidence of a real session (accept only with the non-production option)")
	case !test && nonProd:
		return errors.New("the report claims the Yubico root but is being verified against non-production roots")
	case !test && label != "yubico":
		return fmt.Errorf("unknown attestation root %q", label)
	}
	return nil
}

// attestSigner checks a signer's x5c chain (slot, device, intermediates)
// by internal/attest under opts.Trust and returns the attested serial,
// which it requires.
func attestSigner(chain []*x509.Certificate, opts VerifyOptions) (uint32, string, error) {
	if len(chain) < 2 {
		return 0, "", fmt.Errorf("x5c holds %d certificates, want the slot and device certificates: %w", len(chain), attest.ErrIncomplete)
	}
	r, err := opts.Trust.Verify(chain[0], chain[1], chain[2:]...)
	if err != nil {
		return 0, "", err
	}
	if !r.HasSerial {
		return 0, "", fmt.Errorf("the slot certificate has no YubiKey serial: %w", attest.ErrMalformed)
	}
	return r.Serial, fmt.Sprintf("YubiKey %d, chain to %q", r.Serial, r.Root().Subject.CommonName), nil
}

func matchCustodian(rep *Report, s parsedSig, serial uint32, attested bool) error {
	i := slices.IndexFunc(rep.Custodians, func(c Custodian) bool { return c.ID == s.kid })
	if i < 0 {
		return fmt.Errorf("kid %q is not a custodian listed in the report", s.kid)
	}
	c := rep.Custodians[i]
	der, err := x509.MarshalPKIXPublicKey(s.chain[0].PublicKey)
	switch {
	case err != nil || base64.StdEncoding.EncodeToString(der) != c.SigningKey:
		return fmt.Errorf("the signing key is not custodian %q's listed key", c.ID)
	case !slices.Equal(c.Attestation, s.x5c):
		return fmt.Errorf("the x5c certificates differ from custodian %q's listed attestation", c.ID)
	case attested && serial != c.Serial:
		return fmt.Errorf("the key is on YubiKey %d, custodian %q is listed with %d", serial, c.ID, c.Serial)
	case !attested:
		return errors.New("serial unknown: attestation failed")
	}
	return nil
}

func distinctSigners(sigs []parsedSig) error {
	seen := map[string]int{}
	var dups []string
	for i, s := range sigs {
		if s.err != nil {
			continue
		}
		keys := []string{"custodian " + s.kid, "key " + s.x5c[0]}
		if x, err := attest.ParseExtensions(s.chain[0]); err == nil && x.HasSerial {
			keys = append(keys, fmt.Sprintf("YubiKey serial %d", x.Serial))
		}
		for _, k := range keys {
			if j, ok := seen[k]; ok {
				dups = append(dups, fmt.Sprintf("signatures %d and %d are by the same %s", j+1, i+1, strings.SplitN(k, " ", 2)[0]))
			}
			seen[k] = i
		}
	}
	if len(dups) > 0 {
		return fmt.Errorf("one custodian counts once: %s", strings.Join(dups, "; "))
	}
	return nil
}

func checkRoster(rep *Report, sigs []parsedSig, r *Roster) error {
	var errs []error
	for i, s := range sigs {
		if s.err != nil {
			continue
		}
		k := slices.IndexFunc(r.Members, func(m RosterMember) bool { return m.ID == s.kid })
		if k < 0 {
			errs = append(errs, fmt.Errorf("signature %d: %q is not enrolled", i+1, s.kid))
			continue
		}
		m := r.Members[k]
		if m.SigningKey == nil || !m.SigningKey.Equal(s.chain[0].PublicKey) {
			errs = append(errs, fmt.Errorf("signature %d: key is not %q's enrolled signing key", i+1, s.kid))
		}
		c := slices.IndexFunc(rep.Custodians, func(c Custodian) bool { return c.ID == s.kid })
		if c >= 0 && rep.Custodians[c].Serial != m.Serial {
			errs = append(errs, fmt.Errorf("signature %d: %q is enrolled with YubiKey %d, report says %d", i+1, s.kid, m.Serial, rep.Custodians[c].Serial))
		}
	}
	return errors.Join(errs...)
}

func checkThreshold(rep *Report, signed map[string]bool, need int) error {
	var missing []string
	for _, q := range rep.Quorum {
		if !signed[q.Custodian] && !slices.Contains(missing, q.Custodian) {
			missing = append(missing, q.Custodian)
		}
	}
	var errs []error
	if len(signed) < need {
		errs = append(errs, fmt.Errorf("%d distinct custodians with valid signatures, %d needed", len(signed), need))
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("quorum custodians without a valid signature: %s", strings.Join(missing, ", ")))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
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
		fmt.Fprintf(&b, "%sREPORT VERIFIED OK: session %s (%s), %d custodians signed, journal %d entries, head %s\n",
			prefix, r.Session.ID, r.Session.Mode, len(r.Custodians), r.Journal.Count, shortHash(r.Journal.Head))
	} else {
		fmt.Fprintf(&b, "%sREPORT NOT VERIFIED: %d of %d checks failed; do not trust this report\n", prefix, len(v.Failed()), len(v.Checks))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
