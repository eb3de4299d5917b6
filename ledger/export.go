package ledger

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// EventSchema identifies the export's line format; see export.schema.json.
const EventSchema = "breakglass-ledger-event/1"

//go:embed export.schema.json
var exportSchema []byte

// ExportSchema returns the JSON Schema (draft 2020-12) of one exported line.
func ExportSchema() []byte { return slices.Clone(exportSchema) }

// Exported event names.
const (
	EventVaultImported   = "vault.imported"
	EventSecretSealed    = "secret.sealed"  // first seal record of a secret seen
	EventSecretRotated   = "secret.rotated" // a newer seal record of a secret seen
	EventSessionStarted  = "session.started"
	EventSecretRevealed  = "secret.revealed" // live: shown, must be rotated
	EventSecretChecked   = "secret.checked"  // drill: decrypted, never shown
	EventStepSkipped     = "step.skipped"
	EventSessionEnded    = "session.ended"
	EventReviewRecorded  = "review.recorded"
	EventAnnounceCode    = "announce.recorded"
	EventReportUnchecked = "report.not_verified" // a stored report that no longer verifies
	EventVaultRekeyed    = "vault.rekeyed"       // a rekey session wrote the next roster version
	EventReviewerAdded   = "reviewer.enrolled"   // a reviewer's YubiKey may sign reviews
)

// Event is one exported line. Every field is always present ("" or false
// when it does not apply), so a SIEM maps them once.
type Event struct {
	Schema   string `json:"schema"` // EventSchema
	Time     string `json:"time"`   // when it happened (RFC 3339 UTC)
	Event    string `json:"event"`
	Vault    string `json:"vault"`   // vault fingerprint (its first roster version's, after rekeys)
	Session  string `json:"session"` // session id
	Mode     string `json:"mode"`    // "live", "drill" or "rekey" for session events
	Actor    string `json:"actor"`   // operator, reviewer, on-call who received a code
	Secret   string `json:"secret"`  // credential name, never its value
	Step     string `json:"step"`
	Detail   string `json:"detail"` // ticket and what broke, skip reason, review note, outcome…
	Entry    uint64 `json:"ledger_entry"`
	Verified bool   `json:"verified"` // the evidence behind the event verified now
}

// Export writes one JSON line per event, in ledger order, re-verifying
// every report first (a report that no longer verifies is exported as a
// single report.not_verified event).
func (l *Ledger) Export(w io.Writer) error {
	s, err := l.state()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	seals := map[string]map[string]string{} // vault → secret → newest sealed_at
	var pins = map[string]*pinned{}
	for _, e := range l.entries {
		var evs []Event
		switch e.Type {
		case TypeVaultImported:
			evs, err = l.vaultEvents(e, seals, pins)
		case TypeReportImported:
			evs, err = l.reportEvents(e, s, pins)
		case TypeReview:
			var d ReviewData
			err = json.Unmarshal(e.Data, &d)
			evs = []Event{l.reviewEvent(e, d, s)}
		case TypeReviewer:
			var d ReviewerData
			err = json.Unmarshal(e.Data, &d)
			evs = []Event{l.reviewerEvent(e, d)}
		case TypeAnnounce:
			var d AnnounceData
			err = json.Unmarshal(e.Data, &d)
			evs = []Event{{Time: e.Time, Event: EventAnnounceCode, Actor: d.By, Detail: formatCode(d.Code)}}
		}
		if err != nil {
			return fmt.Errorf("exporting ledger entry %d: %w", e.Seq, err)
		}
		for _, ev := range evs {
			ev.Schema, ev.Entry = EventSchema, e.Seq
			if err := enc.Encode(ev); err != nil {
				return fmt.Errorf("writing export: %w", err)
			}
		}
	}
	return nil
}

// reviewEvent is a review; Verified says a signed review's signature
// verified now (always false for an unsigned review).
func (l *Ledger) reviewEvent(e Entry, d ReviewData, s *ledgerState) Event {
	ev := Event{Time: e.Time, Event: EventReviewRecorded, Vault: l.vaultOf(s, d.Session), Session: d.Session, Actor: d.Reviewer}
	switch {
	case !d.Signed:
		ev.Detail = d.Decision + ": " + d.Note + " (" + FlagUnsigned + ")"
		return ev
	}
	report := ""
	for _, r := range s.reports {
		if r.data.Session == d.Session {
			report = r.data.Object
		}
	}
	if _, err := l.verifyReview(e.Seq, d, report); err != nil {
		ev.Detail = fmt.Sprintf("%s: %s (%s: %v)", d.Decision, d.Note, FlagBadSignature, err)
		return ev
	}
	ev.Verified = true
	ev.Detail = fmt.Sprintf("%s: %s (signed by %s on YubiKey %d)", d.Decision, d.Note, d.ReviewerID, d.Serial)
	return ev
}

// reviewerEvent is a reviewer enrolment, verified again now.
func (l *Ledger) reviewerEvent(e Entry, d ReviewerData) Event {
	ev := Event{Time: e.Time, Event: EventReviewerAdded, Actor: d.Name, Detail: fmt.Sprintf("reviewer %s, YubiKeys %v", d.ID, d.Serials)}
	rs, _ := l.reviewers(e.Seq + 1)
	for _, r := range rs {
		ev.Verified = ev.Verified || r.entry == e.Seq
	}
	return ev
}

func (l *Ledger) vaultOf(s *ledgerState, session string) string {
	for _, r := range s.reports {
		if r.data.Session == session {
			return r.data.vaultKey()
		}
	}
	return ""
}

// vaultEvents re-verifies a vault copy and reports the seals it shows first.
func (l *Ledger) vaultEvents(e Entry, seals map[string]map[string]string, pins map[string]*pinned) ([]Event, error) {
	var d VaultData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return nil, err
	}
	raw, err := l.object(d.Object)
	var p *pinned
	if err == nil {
		p, err = l.verifyVault(raw)
	}
	ok := err == nil
	k := d.vaultKey()
	if ok && (pins[k] == nil || d.version() >= pins[k].data.version()) {
		pins[k] = p
	}
	evs := []Event{{Time: e.Time, Event: EventVaultImported, Vault: k, Verified: ok,
		Detail: fmt.Sprintf("%d of %d custodians, roster %s", d.Threshold, d.Custodians, d.RosterDigest)}}
	if d.version() > 1 {
		evs[0].Detail += fmt.Sprintf(" (roster version %d, fingerprint %s)", d.version(), d.Fingerprint)
	}
	if seals[k] == nil {
		seals[k] = map[string]string{}
	}
	for _, r := range d.Seals {
		prev, seen := seals[k][r.Name]
		if seen && r.SealedAt <= prev {
			continue
		}
		seals[k][r.Name] = r.SealedAt
		detail := fmt.Sprintf("%s, rotations %d, unattributed seal record", r.Kind, r.Rotations)
		if r.Attributed {
			detail = fmt.Sprintf("%s, version %d sealed by %s, record %s", r.Kind, r.Version, r.SealedBy, r.Record)
		}
		ev := Event{Time: r.SealedAt, Event: EventSecretSealed, Vault: k, Secret: r.Name, Verified: ok, Detail: detail}
		if seen || r.PreviousSealedAt != "" {
			ev.Event = EventSecretRotated
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// reportEvents re-verifies a report and turns it into session events.
func (l *Ledger) reportEvents(e Entry, s *ledgerState, pins map[string]*pinned) ([]Event, error) {
	var d ReportData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return nil, err
	}
	sr := l.session(reportRef{e.Seq, d}, pins[d.vaultKey()], s)
	if !sr.Verified {
		return []Event{{Time: e.Time, Event: EventReportUnchecked, Vault: d.vaultKey(), Session: d.Session, Mode: d.Mode,
			Detail: fmt.Sprint(sr.Failed)}}, nil
	}
	base := Event{Vault: d.vaultKey(), Session: sr.ID, Mode: sr.Mode, Verified: true}
	with := func(time, event, actor, secret, step, detail string) Event {
		ev := base
		ev.Time, ev.Event, ev.Actor, ev.Secret, ev.Step, ev.Detail = time, event, actor, secret, step, detail
		return ev
	}
	var names []string
	for _, c := range sr.Custodians {
		names = append(names, fmt.Sprintf("%s (YubiKey %d)", c.ID, c.Serial))
	}
	evs := []Event{with(sr.Started, EventSessionStarted, sr.Operator, "", "",
		fmt.Sprintf("ticket %s: %s; custodians %v; announce code %s", sr.Ticket, sr.WhatBroke, names, sr.AnnounceCode))}
	for _, rv := range sr.Revealed {
		ev := EventSecretRevealed
		if rv.Mode == "check" {
			ev = EventSecretChecked
		}
		version := "sealed version not recorded"
		if rv.SealedAt != "" {
			version = "sealed " + rv.SealedAt
		}
		evs = append(evs, with(rv.Time, ev, sr.Operator, rv.Name, rv.Step, version))
	}
	if k := sr.Rekey; k != nil {
		evs = append(evs, with(sr.report.Rekey.Time, EventVaultRekeyed, sr.Operator, "", "", k.Summary()))
	}
	for _, st := range sr.report.Timeline {
		if st.Event == "skipped" {
			evs = append(evs, with(st.Time, EventStepSkipped, sr.Operator, "", st.Step, st.Detail))
		}
	}
	end := sr.Outcome
	if sr.AbortReason != "" {
		end += ": " + sr.AbortReason
	}
	evs = append(evs, with(sr.Ended, EventSessionEnded, sr.Operator, "", "", end))
	slices.SortStableFunc(evs, func(a, b Event) int {
		ta, _ := time.Parse(time.RFC3339Nano, a.Time)
		tb, _ := time.Parse(time.RFC3339Nano, b.Time)
		return ta.Compare(tb)
	})
	return evs, nil
}

//go:embed status.schema.json
var statusSchema []byte

// StatusSchema returns the JSON Schema (draft 2020-12) of Status, the output
// of `breakglass ledger status --json`.
func StatusSchema() []byte { return slices.Clone(statusSchema) }
