package ledger

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/audit"
	"breakglass/internal/announce"
	"breakglass/vault"
)

// Refusals. ImportReport and ImportVault return a *RefusedError wrapping one.
var (
	ErrNoPin        = errors.New("no pinned vault")
	ErrNotVerified  = errors.New("the report does not verify")
	ErrForeign      = errors.New("the report belongs to another vault")
	ErrDuplicate    = errors.New("already imported")
	ErrVaultInvalid = errors.New("the vault does not verify")
)

// RefusedError says why an import was refused. Nothing was added.
type RefusedError struct {
	What   string // "report …", "vault …"
	Err    error  // one of the Err* refusals
	Reason string // the specifics: which checks failed, which entry holds the duplicate
}

// Error says what was refused, why, and that nothing was added.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused %s: %v: %s (nothing was added to the ledger)", e.What, e.Err, e.Reason)
}

// Unwrap returns the refusal sentinel (ErrNotVerified, ErrForeign, …).
func (e *RefusedError) Unwrap() error { return e.Err }

// Pin is the vault an import verifies against: a vault file (verified
// completely, and imported if new), or the fingerprint of a vault already
// imported (the short "ABCD-…" fingerprint or the full 64-hex roster
// digest), or both, which must then agree.
type Pin struct {
	VaultFile   []byte
	Fingerprint string
}

// VaultData is the data of a vault.imported entry.
type VaultData struct {
	Object        string `json:"object"`
	Fingerprint   string `json:"fingerprint"`
	RosterDigest  string `json:"roster_digest"`  // hex SHA-256 of the canonical roster
	RosterCreated string `json:"roster_created"` // the roster version's creation time
	Threshold     int    `json:"threshold"`
	Custodians    int    `json:"custodians"`
	// RosterVersion is the roster's number in its chain (absent: 1). Root
	// is the fingerprint of the chain's first version and Versions every
	// version's hex digest, oldest first; both absent for a first roster.
	RosterVersion int      `json:"roster_version,omitempty"`
	Root          string   `json:"root_fingerprint,omitempty"`
	Versions      []string `json:"roster_versions,omitempty"`
	// Seals are the vault's seal records as seen in this copy.
	Seals []SealRecord `json:"seals"`
}

// SealRecord is what a vault says about one sealed secret.
type SealRecord struct {
	Name             string `json:"name"`
	Kind             string `json:"kind"`
	SealedAt         string `json:"sealed_at"` // the version's identity until seals carry a version number
	PreviousSealedAt string `json:"previous_sealed_at"`
	Rotations        int    `json:"rotations"`
	SealedBy         string `json:"sealed_by"`  // roster id of the sealer; "" when unattributed
	Attributed       bool   `json:"attributed"` // the seal record verifies (vault.VerifySeal)
	// Version and Record (hex SHA-256 of the canonical seal record) of an
	// attributed seal; 0 and "" when unattributed.
	Version int    `json:"version"`
	Record  string `json:"record"`
}

// sealRecords is the one place that reads seal records from a vault: each
// secret's entry and, when its signed seal record verifies against this
// vault's roster (vault.VerifySeal), its sealer, version and record digest.
func sealRecords(v *vault.Vault) []SealRecord {
	out := []SealRecord{}
	for _, s := range v.Secrets {
		r := SealRecord{Name: s.Name, Kind: string(s.Kind), SealedAt: s.SealedAt.UTC().Format(time.RFC3339), Rotations: s.Rotations}
		if a, err := v.VerifySeal(s.Name); err == nil {
			r.Attributed, r.SealedBy, r.Version, r.Record = true, a.Sealer.ID, a.Version, a.Digest
		}
		if s.PreviousSealedAt != nil {
			r.PreviousSealedAt = s.PreviousSealedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, r)
	}
	return out
}

// ReportData is the data of a report.imported entry: an index of what the
// verified report says; status re-reads the report itself.
type ReportData struct {
	Object      string `json:"object"`
	Session     string `json:"session"`
	Mode        string `json:"mode"`
	Fingerprint string `json:"fingerprint"` // the vault's, as the report records it: the roster version it was signed under
	// Vault is the fingerprint of the first roster version of the vault's
	// chain, which the ledger keys the vault by; absent when it is
	// Fingerprint. RosterVersion is the version signed under (absent: 1).
	Vault         string `json:"vault,omitempty"`
	RosterVersion int    `json:"roster_version,omitempty"`
	Started       string `json:"started"`
	Ended         string `json:"ended"`
	NonProduction bool   `json:"non_production"`
	AnnounceCode  string `json:"announce_code"` // derived from the session and declaration
}

// pinned is a verified vault.
type pinned struct {
	v    *vault.Vault
	data VaultData
	raw  []byte
	seq  uint64 // 0 until recorded
}

// verifyVault parses and completely verifies a vault file.
func (l *Ledger) verifyVault(raw []byte) (*pinned, error) {
	v, err := vault.Parse(raw)
	if err != nil {
		return nil, err
	}
	if err := v.VerifyRoster(l.cfg.Trust.Vault); err != nil {
		return nil, err
	}
	d := v.RosterDigest()
	p := &pinned{v: v, raw: raw, data: VaultData{
		Object: sha256Hex(raw), Fingerprint: v.Fingerprint(), RosterDigest: hex.EncodeToString(d[:]),
		RosterCreated: v.Roster.Created.UTC().Format(time.RFC3339), Threshold: v.Roster.Policy.Threshold,
		Custodians: len(v.Roster.Custodians), Seals: sealRecords(v),
	}}
	chainOf(v, &p.data)
	return p, nil
}

// ImportVault verifies a vault file completely (its whole roster chain)
// and records it with its roster version and seal records, under the vault
// its chain begins with. A copy already in the ledger is refused.
func (l *Ledger) ImportVault(raw []byte) (VaultData, error) {
	p, err := l.verifyVault(raw)
	if err != nil {
		return VaultData{}, &RefusedError{What: "vault", Err: ErrVaultInvalid, Reason: err.Error()}
	}
	if e, ok := l.findObject(p.data.Object); ok {
		return VaultData{}, &RefusedError{What: "vault " + p.data.Fingerprint, Err: ErrDuplicate, Reason: fmt.Sprintf("this exact file is entry %d", e.Seq)}
	}
	if err := l.record(TypeVaultImported, p.data.Object, raw, p.data); err != nil {
		return VaultData{}, err
	}
	return p.data, nil
}

func (l *Ledger) findObject(h string) (Entry, bool) {
	for _, e := range l.entries {
		if o, _ := objectRef(e); o == h {
			return e, true
		}
	}
	return Entry{}, false
}

// record stores the object, then appends its entry; on failure the object is
// removed again so a refusal or error adds nothing.
func (l *Ledger) record(typ, h string, raw []byte, data any) error {
	if _, err := l.putObject(raw); err != nil {
		return err
	}
	if _, err := l.appendEntry(typ, data); err != nil {
		l.removeObject(h)
		return err
	}
	return nil
}

// resolvePin returns the pinned vault: the given file (imported first if
// new, when imports is true) or the newest imported vault with the
// fingerprint.
func (l *Ledger) resolvePin(pin Pin) (*pinned, error) {
	fp := strings.ToUpper(strings.TrimSpace(pin.Fingerprint))
	if pin.VaultFile == nil && fp == "" {
		return nil, errors.New("give the vault file (--vault FILE) or its fingerprint (--vault-fingerprint FP, from the custodian card): nothing is verified against an unpinned roster")
	}
	var p *pinned
	if pin.VaultFile != nil {
		var err error
		if p, err = l.verifyVault(pin.VaultFile); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrVaultInvalid, err)
		}
		if e, ok := l.findObject(p.data.Object); ok {
			p.seq = e.Seq
		}
	} else {
		var err error
		if p, err = l.vaultByFingerprint(fp); err != nil {
			return nil, err
		}
	}
	if fp != "" && !p.data.holds(fp) {
		if p.data.version() > 1 {
			return nil, fmt.Errorf("the vault file's fingerprint is %s (roster version %d) and no version of its roster chain is the pinned %s: this is not the vault you pinned", p.data.Fingerprint, p.data.version(), fp)
		}
		return nil, fmt.Errorf("the vault file's fingerprint is %s, not the pinned %s: this is not the vault you pinned", p.data.Fingerprint, fp)
	}
	return p, nil
}

// matchesFingerprint compares a pin, as typed (any case, with or without
// separators), with the vault's fingerprint or its full roster digest.
func matchesFingerprint(d VaultData, fp string) bool {
	clean := strings.NewReplacer("-", "", " ", "", ":", "")
	pin := strings.ToLower(clean.Replace(fp))
	return pin != "" && (pin == strings.ToLower(clean.Replace(d.Fingerprint)) || pin == strings.ToLower(d.RosterDigest))
}

// vaultByFingerprint loads and re-verifies the newest imported vault whose
// roster chain holds fp: the highest roster version, the latest imported
// among equals.
func (l *Ledger) vaultByFingerprint(fp string) (*pinned, error) {
	var best *Entry
	var bd VaultData
	for i := len(l.entries) - 1; i >= 0; i-- {
		e := l.entries[i]
		if e.Type != TypeVaultImported {
			continue
		}
		var d VaultData
		if err := json.Unmarshal(e.Data, &d); err != nil || !d.holds(fp) {
			continue
		}
		if best == nil || d.version() > bd.version() {
			best, bd = &l.entries[i], d
		}
	}
	if best != nil {
		e, d := *best, bd
		raw, err := l.object(d.Object)
		if err != nil {
			return nil, err
		}
		p, err := l.verifyVault(raw)
		if err != nil {
			return nil, fmt.Errorf("vault %s (entry %d) no longer verifies: %w", d.Fingerprint, e.Seq, err)
		}
		p.seq = e.Seq
		return p, nil
	}
	return nil, fmt.Errorf("no vault with fingerprint %s in this ledger: import the vault file once (breakglass ledger import --ledger %s --vault FILE)", fp, l.cfg.Dir)
}

// reportOptions is the one place that turns a pinned vault into audit's
// verification options: the vault is audit's pin (verified completely,
// its whole roster chain; the report's embedded roster must be one of its
// versions, and its signers enrolled in that version).
func (l *Ledger) reportOptions(v *vault.Vault) (audit.VerifyOptions, error) {
	opts := l.cfg.Trust.Report
	opts.Pin = audit.Pin{Vault: v, Fingerprint: v.Fingerprint()}
	return opts, nil
}

// verifyReport runs audit's verification against p and checks the vault.
func (l *Ledger) verifyReport(jws []byte, p *pinned) (*audit.Verdict, error) {
	opts, err := l.reportOptions(p.v)
	if err != nil {
		return nil, err
	}
	verdict, verr := audit.VerifyReport(jws, opts)
	if verdict != nil && verdict.Report != nil && !p.data.holds(verdict.Report.VaultFingerprint) && !sameChain(p.data, verdict.Report) {
		if p.data.version() > 1 {
			return verdict, fmt.Errorf("%w: it was made with vault %s, which is none of the roster versions 1 to %d of the pinned vault %s", ErrForeign, verdict.Report.VaultFingerprint, p.data.version(), p.data.vaultKey())
		}
		return verdict, fmt.Errorf("%w: it was made with vault %s, the pinned vault is %s", ErrForeign, verdict.Report.VaultFingerprint, p.data.Fingerprint)
	}
	if verr != nil {
		return verdict, fmt.Errorf("%w: %v%s", ErrNotVerified, verr, chainFailures(verdict))
	}
	return verdict, nil
}

// ImportReport verifies a signed report against the pinned vault and
// records it. name identifies the report in messages (its file name). The
// pinned vault file is imported too if it is new, but only with an accepted
// report: a refusal adds nothing.
func (l *Ledger) ImportReport(name string, jws []byte, pin Pin) (ReportData, error) {
	refuse := func(err error, reason string) (ReportData, error) {
		return ReportData{}, &RefusedError{What: "report " + name, Err: err, Reason: reason}
	}
	p, err := l.resolvePin(pin)
	if err != nil {
		if errors.Is(err, ErrVaultInvalid) {
			return refuse(ErrVaultInvalid, err.Error())
		}
		return refuse(ErrNoPin, err.Error())
	}
	h := sha256Hex(jws)
	if e, ok := l.findObject(h); ok {
		return refuse(ErrDuplicate, fmt.Sprintf("this exact report is entry %d", e.Seq))
	}
	verdict, err := l.verifyReport(jws, p)
	if err != nil {
		kind := ErrNotVerified
		if errors.Is(err, ErrForeign) {
			kind = ErrForeign
		}
		return refuse(kind, strings.TrimPrefix(err.Error(), kind.Error()+": "))
	}
	rep := verdict.Report
	if e, ok := l.findSession(rep.Session.ID); ok {
		return refuse(ErrDuplicate, fmt.Sprintf("session %s is already entry %d (from a different file: compare the two)", rep.Session.ID, e.Seq))
	}
	if p.seq == 0 {
		if err := l.record(TypeVaultImported, p.data.Object, p.raw, p.data); err != nil {
			return ReportData{}, err
		}
	}
	d := ReportData{Object: h, Session: rep.Session.ID, Mode: rep.Session.Mode, Fingerprint: rep.VaultFingerprint,
		Started: rep.Session.Started, Ended: rep.Session.Ended, NonProduction: verdict.NonProduction,
		AnnounceCode: string(CodeOf(rep))}
	if k := p.data.vaultKey(); k != d.Fingerprint {
		d.Vault = k
	}
	if n := rosterVersion(verdict); n > 1 {
		d.RosterVersion = n
	}
	if err := l.record(TypeReportImported, h, jws, d); err != nil {
		return ReportData{}, err
	}
	return d, nil
}

func (l *Ledger) findSession(id string) (Entry, bool) {
	for _, e := range l.entries {
		var d ReportData
		if e.Type == TypeReportImported && json.Unmarshal(e.Data, &d) == nil && d.Session == id {
			return e, true
		}
	}
	return Entry{}, false
}

// CodeOf is the announce code the console showed for the report's session.
func CodeOf(r *audit.Report) announce.Code {
	return announce.Derive(announce.Declaration{
		Session: r.Session.ID, VaultFingerprint: r.VaultFingerprint,
		Operator: r.Session.Operator, Ticket: r.Session.Ticket, WhatBroke: r.Session.WhatBroke,
	})
}
