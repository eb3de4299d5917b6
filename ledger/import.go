package ledger

import (
	"crypto/ecdsa"
	"crypto/x509"
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
	RosterCreated string `json:"roster_created"` // the roster's creation time; there is no roster version before rekey exists
	Threshold     int    `json:"threshold"`
	Custodians    int    `json:"custodians"`
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
	SealedBy         string `json:"sealed_by"`  // "" until seals are attributed
	Attributed       bool   `json:"attributed"` // false: the vault's secrets are not signed by their sealer yet
}

// sealRecords is the one place that reads seal records from a vault. Today
// they are the vault's unsigned secret entries; attributed seal records
// (signed by the sealer, versioned, linked) will replace this body.
func sealRecords(v *vault.Vault) []SealRecord {
	out := []SealRecord{}
	for _, s := range v.Secrets {
		r := SealRecord{Name: s.Name, Kind: string(s.Kind), SealedAt: s.SealedAt.UTC().Format(time.RFC3339), Rotations: s.Rotations}
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
	Object        string `json:"object"`
	Session       string `json:"session"`
	Mode          string `json:"mode"`
	Fingerprint   string `json:"fingerprint"` // the vault's
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
	return &pinned{v: v, raw: raw, data: VaultData{
		Object: sha256Hex(raw), Fingerprint: v.Fingerprint(), RosterDigest: hex.EncodeToString(d[:]),
		RosterCreated: v.Roster.Created.UTC().Format(time.RFC3339), Threshold: v.Roster.Policy.Threshold,
		Custodians: len(v.Roster.Custodians), Seals: sealRecords(v),
	}}, nil
}

// ImportVault verifies a vault file completely and records it with its
// roster and seal records. A copy already in the ledger is refused.
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
	if fp != "" && !matchesFingerprint(p.data, fp) {
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

// vaultByFingerprint loads and re-verifies the newest imported vault with fp.
func (l *Ledger) vaultByFingerprint(fp string) (*pinned, error) {
	for i := len(l.entries) - 1; i >= 0; i-- {
		e := l.entries[i]
		if e.Type != TypeVaultImported {
			continue
		}
		var d VaultData
		if err := json.Unmarshal(e.Data, &d); err != nil || !matchesFingerprint(d, fp) {
			continue
		}
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
// verification options (the roster every signer must be enrolled in, the
// threshold). When audit's verify takes the vault as its trust anchor, this
// is what changes.
func (l *Ledger) reportOptions(v *vault.Vault) (audit.VerifyOptions, error) {
	opts := l.cfg.Trust.Report
	r := &audit.Roster{Threshold: v.Roster.Policy.Threshold}
	for _, c := range v.Roster.Custodians {
		for _, k := range c.Keys {
			pk, err := x509.ParsePKIXPublicKey(k.Sign.PublicKey)
			pub, ok := pk.(*ecdsa.PublicKey)
			if err != nil || !ok {
				return opts, fmt.Errorf("vault %s: custodian %s, key %d: the signing key is not P-256", v.Fingerprint(), c.ID, k.Serial)
			}
			r.Members = append(r.Members, audit.RosterMember{ID: c.ID, Serial: k.Serial, SigningKey: pub})
		}
	}
	opts.Roster = r
	return opts, nil
}

// verifyReport runs audit's verification against p and checks the vault.
func (l *Ledger) verifyReport(jws []byte, p *pinned) (*audit.Verdict, error) {
	opts, err := l.reportOptions(p.v)
	if err != nil {
		return nil, err
	}
	verdict, verr := audit.VerifyReport(jws, opts)
	if verdict != nil && verdict.Report != nil && verdict.Report.VaultFingerprint != p.data.Fingerprint {
		return verdict, fmt.Errorf("%w: it was made with vault %s, the pinned vault is %s", ErrForeign, verdict.Report.VaultFingerprint, p.data.Fingerprint)
	}
	if verr != nil {
		return verdict, fmt.Errorf("%w: %v", ErrNotVerified, verr)
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
