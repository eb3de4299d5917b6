package audit

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/events"
	"breakglass/vault"
)

// FormatVersion identifies the report payload format.
const FormatVersion = "breakglass-report/1"

// Report is the signed payload. Field order is fixed and every list has a
// defined order, so MarshalPayload is deterministic. All of it except
// Custodians is derived from the journal by BuildReport.
type Report struct {
	Format           string      `json:"format"`
	Session          SessionInfo `json:"session"`
	Binary           BinaryInfo  `json:"binary"`
	VaultFingerprint string      `json:"vault_fingerprint"`
	// Roster is the roster the session ran under, as the vault records it
	// (canonical bytes, custodians' signatures, full digest): what an
	// auditor checks against the pinned fingerprint. Set by the console
	// after BuildReport (the journal does not carry it).
	Roster vault.RosterRecord `json:"roster"`
	// RosterChain is every roster version before Roster, oldest first (the
	// vault's chain), so an auditor who pinned an earlier fingerprint can
	// walk to Roster without the vault file. Empty for a first roster.
	RosterChain     []vault.RosterRecord `json:"roster_chain,omitempty"`
	Runbook         RunbookInfo          `json:"runbook"`
	AttestationRoot string               `json:"attestation_root"` // "yubico" or "TEST/non-production: …"
	Custodians      []Custodian          `json:"custodians"`       // sorted by ID
	Quorum          []QuorumEvent        `json:"quorum"`           // journal order
	Timeline        []StepResult         `json:"timeline"`         // journal order
	Revealed        []RevealedSecret     `json:"revealed"`         // journal order; names only
	MustRotate      []string             `json:"must_rotate"`      // sorted, unique
	Closeout        []CloseoutAnswer     `json:"closeout"`         // order first asked; last answer wins
	Journal         JournalSection       `json:"journal"`

	// Announcement is nil when none was recorded (drills, older sessions).
	Announcement *Announcement `json:"announcement,omitempty"`

	// Rekey is what a rekey session (mode rekey) made; nil otherwise.
	Rekey *RekeyInfo `json:"rekey,omitempty"`
}

// RekeyInfo is the roster version a rekey session wrote: the journal's
// vault.rekeyed event, and the new roster record itself (canonical bytes,
// its custodians' signatures, the endorsements of the session's quorum),
// set by the command after BuildReport. The quorum that signs the report is
// of the OLD roster (Roster): they authorised the change.
type RekeyInfo struct {
	Seq            uint64             `json:"seq"`
	Time           string             `json:"time"`
	OldFingerprint string             `json:"old_fingerprint"`
	NewFingerprint string             `json:"new_fingerprint"`
	Version        int                `json:"version"`
	VaultKey       string             `json:"vault_key"` // "new" or "reshared"
	Reason         string             `json:"reason"`
	Added          []string           `json:"added"`
	Removed        []string           `json:"removed"`
	KeysAdded      []uint32           `json:"keys_added"`
	KeysRemoved    []uint32           `json:"keys_removed"`
	ThresholdFrom  int                `json:"threshold_from"`
	ThresholdTo    int                `json:"threshold_to"`
	NewDigest      string             `json:"new_roster_digest"`
	NewRoster      vault.RosterRecord `json:"new_roster"`
}

// SessionInfo says who ran which session, when, and how it ended.
type SessionInfo struct {
	ID          string `json:"id"`
	Mode        string `json:"mode"`      // ModeLive or ModeDrill
	Threshold   int    `json:"threshold"` // custodians the session required
	Operator    string `json:"operator"`
	Ticket      string `json:"ticket"`
	WhatBroke   string `json:"what_broke"`
	Started     string `json:"started"`      // time of the first journal entry
	Ended       string `json:"ended"`        // time of closeout.completed or session.aborted
	Outcome     string `json:"outcome"`      // "completed" or "aborted"
	AbortReason string `json:"abort_reason"` // why, when aborted
}

// BinaryInfo identifies the breakglass binary that ran the session.
type BinaryInfo struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// RunbookInfo identifies the runbook followed.
type RunbookInfo struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Custodian is one member of the quorum as enrolled in the vault.
type Custodian struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Serial     uint32 `json:"serial"`
	SigningKey string `json:"signing_key"` // base64 PKIX DER of the P-256 signing key
	// Attestation is the signing key's attestation, base64 DER: the slot
	// certificate, then the device (f9) certificate, then any intermediates.
	Attestation []string `json:"attestation"`
}

// NewCustodian describes a custodian for the report from its roster entry
// and the attestation chain of its signing key (slot cert first).
func NewCustodian(id, name string, serial uint32, signingKey *ecdsa.PublicKey, chain []*x509.Certificate) (Custodian, error) {
	if signingKey == nil || signingKey.Curve != elliptic.P256() {
		return Custodian{}, fmt.Errorf("custodian %q: signing key is not P-256", id)
	}
	der, err := x509.MarshalPKIXPublicKey(signingKey)
	if err != nil {
		return Custodian{}, fmt.Errorf("custodian %q: %w", id, err)
	}
	c := Custodian{ID: id, Name: name, Serial: serial, SigningKey: base64.StdEncoding.EncodeToString(der), Attestation: []string{}}
	for _, cert := range chain {
		c.Attestation = append(c.Attestation, base64.StdEncoding.EncodeToString(cert.Raw))
	}
	return c, nil
}

// Announcement is how the session's announce code was relayed to the
// security on-call (the session.announced event). AnnounceCode is the code
// in canonical form, no separator: ledger.CodeOf derives the same from the
// report's session, vault fingerprint and declaration.
type Announcement struct {
	Seq          uint64 `json:"seq"`
	Time         string `json:"time"`
	AnnounceCode string `json:"announce_code"`
	Reached      bool   `json:"reached"`
	By           string `json:"by"`      // who acknowledged; "" when no one was reached
	ToldAt       string `json:"told_at"` // RFC 3339 UTC
	Note         string `json:"note"`    // why no one was reached
}

// QuorumEvent is one custodian's key accepted into a quorum (the first, or
// a reauthorisation).
type QuorumEvent struct {
	Seq       uint64 `json:"seq"`
	Time      string `json:"time"`
	Custodian string `json:"custodian"`
	Serial    uint32 `json:"serial"`
}

// StepResult is one runbook step event: completed, skipped, confirmed or
// evidence (step.check ticks stay in the journal only).
type StepResult struct {
	Seq    uint64 `json:"seq"`
	Time   string `json:"time"`
	Step   string `json:"step"`
	Event  string `json:"event"`  // "completed", "skipped", "confirmed", "evidence", …
	Detail string `json:"detail"` // skip reason, evidence answer, confirming custodian
}

// RevealedSecret names a credential decrypted during the session; never its
// value. Mode "show" (live: it was displayed, so it must be rotated) or
// "check" (drill: decrypted and parsed, never shown).
type RevealedSecret struct {
	Seq      uint64 `json:"seq"`
	Time     string `json:"time"`
	Name     string `json:"name"`
	Step     string `json:"step"`
	Mode     string `json:"mode"`
	SealedAt string `json:"sealed_at"` // the sealed version, when recorded
	// Version, SealRecord and SealedBy identify the attributed seal record
	// revealed (vault.VerifySeal): a later report showing a lower version or
	// another record for the same version is a rollback (ledger).
	// Omitted when not recorded (reports older than seal records).
	Version    int    `json:"version,omitempty"`
	SealRecord string `json:"seal_record,omitempty"`
	SealedBy   string `json:"sealed_by,omitempty"`
}

// CloseoutAnswer is the final answer to one close-out question.
type CloseoutAnswer struct {
	Question string `json:"question"`
	YesNo    string `json:"yes_no"`
	Text     string `json:"text"`
}

// JournalSection embeds the whole journal.
type JournalSection struct {
	Head    string  `json:"head"`  // hash of the last entry
	Count   int     `json:"count"` // number of entries
	Entries []Entry `json:"entries"`
}

// BuildReport derives the report from a verified journal and the quorum's
// custodians (exactly the custodians of the quorum.custodian and
// window.reauthorised events, with matching serials). The journal must hold
// one station.info, one session.started and one session.declared event, and
// end the session with closeout.completed or session.aborted.
func BuildReport(entries []Entry, custodians []Custodian) (*Report, error) {
	if err := Verify(entries); err != nil {
		return nil, fmt.Errorf("building report: %w", err)
	}
	return buildVerified(entries, custodians)
}

// buildVerified is BuildReport for entries Verify has accepted (the
// verifier checks the chain while parsing, and does not hash it twice).
func buildVerified(entries []Entry, custodians []Custodian) (*Report, error) {
	r := &Report{
		Format: FormatVersion, Custodians: []Custodian{}, Quorum: []QuorumEvent{},
		Roster:   vault.RosterRecord{Canonical: []byte{}, Signatures: []vault.Signature{}},
		Timeline: []StepResult{}, Revealed: []RevealedSecret{}, MustRotate: []string{}, Closeout: []CloseoutAnswer{},
		Journal: JournalSection{Head: entries[len(entries)-1].Hash, Count: len(entries), Entries: entries},
	}
	var created events.JournalCreatedData
	if err := decodeData(entries[0], &created); err != nil || entries[0].Type != TypeJournalCreated {
		return nil, fmt.Errorf("building report: the journal does not start with %s: %v", TypeJournalCreated, err)
	}
	r.Session.ID, r.Session.Started = created.Session, entries[0].Time
	count := map[string]int{}
	for _, e := range entries {
		count[e.Type]++
		if err := r.apply(e); err != nil {
			return nil, err
		}
	}
	for _, typ := range []string{TypeStation, TypeStarted, TypeDeclared} {
		if count[typ] != 1 {
			return nil, fmt.Errorf("building report: the journal has %d %s events, want 1", count[typ], typ)
		}
	}
	if count[TypeCloseoutCompleted]+count[TypeAborted] != 1 {
		return nil, fmt.Errorf("building report: the session has not ended (want one %s or %s event)", TypeCloseoutCompleted, TypeAborted)
	}
	slices.Sort(r.MustRotate)
	if err := r.setCustodians(custodians); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("building report: %w", err)
	}
	return r, nil
}

// apply folds one journal entry into r.
func (r *Report) apply(e Entry) error {
	switch {
	case e.Type == TypeStation:
		var d StationData
		if err := decodeData(e, &d); err != nil {
			return err
		}
		r.Binary = BinaryInfo{d.BinaryVersion, d.BinarySHA256}
		r.VaultFingerprint, r.AttestationRoot = d.VaultFingerprint, d.AttestationRoot
	case e.Type == TypeStarted:
		var d events.Started
		if err := decodeData(e, &d); err != nil {
			return err
		}
		r.Runbook = RunbookInfo{d.Runbook.Name, d.Runbook.SHA256}
		r.Session.Threshold, r.Session.Mode = d.Threshold, ModeLive
		switch {
		case d.Rekey:
			r.Session.Mode = ModeRekey
		case d.Drill:
			r.Session.Mode = ModeDrill
		}
	case e.Type == TypeDeclared:
		var d events.Declared
		if err := decodeData(e, &d); err != nil {
			return err
		}
		r.Session.Operator, r.Session.Ticket, r.Session.WhatBroke = d.Operator, d.Ticket, d.WhatBroke
	case e.Type == events.SessionAnnounced:
		var d events.Announced
		if err := decodeData(e, &d); err != nil {
			return err
		}
		r.Announcement = &Announcement{e.Seq, e.Time, d.AnnounceCode, d.Reached, d.By, d.ToldAt.UTC().Format(time.RFC3339), d.Note}
	case e.Type == TypeQuorumCustodian:
		var d events.CustodianEvent
		if err := decodeData(e, &d); err != nil {
			return err
		}
		r.Quorum = append(r.Quorum, QuorumEvent{e.Seq, e.Time, d.ID, d.Serial})
	case e.Type == TypeReauthorised:
		var d events.Reauthorised
		if err := decodeData(e, &d); err != nil {
			return err
		}
		for _, c := range d.Custodians {
			r.Quorum = append(r.Quorum, QuorumEvent{e.Seq, e.Time, c.ID, c.Serial})
		}
	case e.Type == TypeSecretRevealed || e.Type == TypeSecretChecked:
		return r.applyReveal(e)
	case strings.HasPrefix(e.Type, events.StepPrefix) && e.Type != TypeStepCheck:
		return r.applyStep(e)
	case e.Type == TypeCloseoutAnswered:
		return r.applyCloseoutAnswer(e)
	case e.Type == events.VaultRekeyed:
		var d events.Rekeyed
		if err := decodeData(e, &d); err != nil {
			return err
		}
		if r.Rekey != nil {
			return errors.New("building report: the journal has two vault.rekeyed events")
		}
		r.Rekey = &RekeyInfo{Seq: e.Seq, Time: e.Time, OldFingerprint: vault.FingerprintOfDigest(d.OldDigest), NewFingerprint: d.NewFingerprint,
			Version: d.Version, VaultKey: d.VaultKey, Reason: d.Reason, Added: nonNil(d.Added), Removed: nonNil(d.Removed),
			KeysAdded: nonNil(d.KeysAdded), KeysRemoved: nonNil(d.KeysRemoved), ThresholdFrom: d.ThresholdFrom, ThresholdTo: d.ThresholdTo,
			NewDigest: d.NewDigest, NewRoster: vault.RosterRecord{Canonical: []byte{}, Signatures: []vault.Signature{}}}
	case e.Type == TypeCloseoutCompleted || e.Type == TypeAborted:
		return r.applyEnd(e)
	}
	return nil
}

// applyReveal records a secret shown or checked; a shown one must be rotated.
func (r *Report) applyReveal(e Entry) error {
	var d events.Reveal
	if err := decodeData(e, &d); err != nil {
		return err
	}
	mode := string(events.ModeCheck)
	if e.Type == TypeSecretRevealed {
		mode = string(events.ModeShow)
		if !slices.Contains(r.MustRotate, d.Name) {
			r.MustRotate = append(r.MustRotate, d.Name)
		}
	}
	r.Revealed = append(r.Revealed, RevealedSecret{e.Seq, e.Time, d.Name, d.Step, mode, d.SealedAt, d.Version, d.SealRecord, d.SealedBy})
	return nil
}

// applyStep adds a runbook step event to the timeline.
func (r *Report) applyStep(e Entry) error {
	var d events.StepEvent
	if err := decodeData(e, &d); err != nil {
		return err
	}
	detail := d.Text
	if d.Custodian != "" {
		detail = strings.TrimSpace(d.Custodian + " " + d.Text)
	}
	r.Timeline = append(r.Timeline, StepResult{e.Seq, e.Time, d.Step, strings.TrimPrefix(e.Type, events.StepPrefix), detail})
	return nil
}

// applyCloseoutAnswer records a close-out answer; a later answer to the
// same question replaces the earlier one.
func (r *Report) applyCloseoutAnswer(e Entry) error {
	var a events.CloseOutAnswer
	if err := decodeData(e, &a); err != nil {
		return err
	}
	d := CloseoutAnswer{Question: a.Question, YesNo: a.YesNo, Text: a.Text}
	if i := slices.IndexFunc(r.Closeout, func(a CloseoutAnswer) bool { return a.Question == d.Question }); i >= 0 {
		r.Closeout[i] = d
	} else {
		r.Closeout = append(r.Closeout, d)
	}
	return nil
}

// applyEnd records how the session ended: completed, or aborted and why.
func (r *Report) applyEnd(e Entry) error {
	r.Session.Ended, r.Session.Outcome = e.Time, "completed"
	if e.Type == TypeAborted {
		var d events.Aborted
		if err := decodeData(e, &d); err != nil {
			return err
		}
		r.Session.Outcome, r.Session.AbortReason = "aborted", strings.TrimSpace(d.By+": "+d.Reason)
	}
	return nil
}

// setCustodians checks that custodians are exactly the quorum's keys and
// sorts them by id, then serial. A custodian who joined with two of their
// keys (primary and backup, e.g. a reauthorisation with the other key) has
// one record per key; they still count once (verify counts ids).
func (r *Report) setCustodians(custodians []Custodian) error {
	type idSerial struct {
		id     string
		serial uint32
	}
	byKey := map[idSerial]Custodian{}
	for _, c := range custodians {
		k := idSerial{c.ID, c.Serial}
		if _, dup := byKey[k]; dup {
			return fmt.Errorf("building report: custodian %q with YubiKey %d listed twice", c.ID, c.Serial)
		}
		byKey[k] = c
	}
	inQuorum := map[idSerial]bool{}
	for _, q := range r.Quorum {
		k := idSerial{q.Custodian, q.Serial}
		inQuorum[k] = true
		if _, ok := byKey[k]; !ok {
			return fmt.Errorf("building report: quorum custodian %q with YubiKey %d (entry %d) has no custodian record", q.Custodian, q.Serial, q.Seq)
		}
	}
	if len(byKey) != len(inQuorum) {
		return fmt.Errorf("building report: %d custodian records for %d quorum keys", len(byKey), len(inQuorum))
	}
	r.Custodians = slices.Clone(custodians)
	slices.SortFunc(r.Custodians, func(a, b Custodian) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Serial, b.Serial)
	})
	return nil
}

// decodeData decodes an entry's data into its internal/events struct.
// Unknown fields are ignored (a newer writer may record more), but every
// field the report uses is read through the struct the writer wrote.
func decodeData(e Entry, v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("building report: journal entry %d (%s): %w", e.Seq, e.Type, err)
	}
	return nil
}

// Validate checks the fields the schema requires to be meaningful.
func (r *Report) Validate() error {
	var errs []error
	req := func(ok bool, what string) {
		if !ok {
			errs = append(errs, errors.New(what))
		}
	}
	req(r.Format == FormatVersion, fmt.Sprintf("format is %q, want %q", r.Format, FormatVersion))
	req(r.Session.ID != "", "session id is empty")
	req(r.Session.Mode == ModeLive || r.Session.Mode == ModeDrill || r.Session.Mode == ModeRekey, fmt.Sprintf("session mode %q is not live, drill or rekey", r.Session.Mode))
	req((r.Session.Mode == ModeRekey) == (r.Rekey != nil) || (r.Session.Mode == ModeRekey && r.Session.Outcome == "aborted"),
		"a rekey report records the roster version it wrote (a completed rekey has one vault.rekeyed event; no other session has any)")
	req(r.Session.Operator != "", "operator is empty")
	req(r.Session.Started != "" && r.Session.Ended != "", "session start or end time is missing")
	req(r.Session.Outcome == "completed" || r.Session.Outcome == "aborted", fmt.Sprintf("session outcome %q is not completed or aborted", r.Session.Outcome))
	req(r.VaultFingerprint != "", "vault fingerprint is empty")
	req(r.Runbook.SHA256 != "" || r.Session.Mode == ModeRekey, "runbook hash is empty")
	req(r.AttestationRoot == "yubico" || strings.HasPrefix(r.AttestationRoot, "TEST/non-production: "),
		fmt.Sprintf("attestation root %q is neither \"yubico\" nor \"TEST/non-production: …\"", r.AttestationRoot))
	req(len(r.Custodians) >= 2, fmt.Sprintf("%d custodians, a quorum needs at least 2", len(r.Custodians)))
	req(r.Journal.Count == len(r.Journal.Entries) && r.Journal.Count > 0, "journal count does not match its entries")
	if n := len(r.Journal.Entries); n > 0 {
		req(r.Journal.Head == r.Journal.Entries[n-1].Hash, "journal head is not the last entry's hash")
	}
	return errors.Join(errs...)
}

// MarshalPayload returns the canonical JSON encoding of r, the bytes signed.
func MarshalPayload(r *Report) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	return b, nil
}

// ErrNotCanonical is returned by ParsePayload for a payload that decodes but
// is not byte-for-byte the encoding MarshalPayload produces.
var ErrNotCanonical = errors.New("report payload is not in canonical encoding")

// ParsePayload strictly decodes a report payload: unknown fields, trailing
// data and any encoding other than MarshalPayload's are refused. The report
// is returned with ErrNotCanonical so a verifier can still show it.
func ParsePayload(b []byte) (*Report, error) {
	var r Report
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding report payload: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding report payload: trailing data")
	}
	canon, err := MarshalPayload(&r)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return &r, ErrNotCanonical
	}
	return &r, nil
}

// nonNil returns s, or an empty slice for nil (lists encode as []).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
