package console

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"breakglass/audit"
	"breakglass/internal/events"
	"breakglass/runbook/session"
	"breakglass/ui"
)

// This file holds what the custodians see before they sign: the summary is
// read back from the very payload Sign signs, so what is shown is what is
// signed.

// SignSummary builds (once) the report payload the custodians will sign and
// returns what it says happened. It records no event of its own; the
// report covers the journal up to the end of the close-out, so a session
// still in its close-out (the operator has left the close-out screen) has
// its end recorded first, exactly as the first signature would.
func (s *Service) SignSummary(ctx context.Context) (ui.SignSummary, error) {
	if err := ctx.Err(); err != nil {
		return ui.SignSummary{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess.Phase() == session.PhaseCloseOut {
		if err := s.sess.FinishCloseOut(); err != nil {
			return ui.SignSummary{}, err
		}
	}
	if s.sess.Phase() != session.PhaseSign {
		return ui.SignSummary{}, fmt.Errorf("the session is not ready to sign (phase %s)", s.sess.Phase())
	}
	if s.payload == nil {
		p, err := s.buildPayloadLocked()
		if err != nil {
			return ui.SignSummary{}, fmt.Errorf("building the report: %w", err)
		}
		s.payload = p
	}
	r, err := audit.ParsePayload(s.payload)
	if err != nil {
		return ui.SignSummary{}, fmt.Errorf("reading back the report: %w", err)
	}
	return s.summaryOf(r)
}

// summaryOf is the sign summary of report r.
func (s *Service) summaryOf(r *audit.Report) (ui.SignSummary, error) {
	sum := ui.SignSummary{
		Session: r.Session.ID, Vault: r.VaultFingerprint,
		Runbook:  runbookLine(s.cfg.Runbook.Title, r.Runbook.SHA256),
		Incident: ui.Declaration{Operator: r.Session.Operator, Ticket: r.Session.Ticket, WhatBroke: r.Session.WhatBroke},
	}
	names := map[string]string{}
	for _, c := range r.Custodians {
		names[c.ID] = c.Name
	}
	seen := map[audit.QuorumEvent]bool{}
	for _, q := range r.Quorum {
		k := audit.QuorumEvent{Custodian: q.Custodian, Serial: q.Serial}
		if !seen[k] {
			seen[k] = true
			sum.Custodians = append(sum.Custodians, ui.Custodian{Name: names[q.Custodian], Serial: q.Serial})
		}
	}
	shown := map[string]bool{}
	for _, x := range r.Revealed {
		if x.Mode == string(events.ModeShow) && !shown[x.Name] {
			shown[x.Name] = true
			sum.Revealed = append(sum.Revealed, x.Name)
		}
	}
	titles := map[string]string{}
	for _, st := range s.cfg.Runbook.Steps {
		titles[st.ID] = st.Title
	}
	for _, t := range r.Timeline {
		if t.Event == "skipped" {
			sum.Skipped = append(sum.Skipped, ui.SkippedStep{Step: t.Step, Title: titles[t.Step], Reason: t.Detail})
		}
	}
	for _, e := range r.Journal.Entries {
		switch e.Type {
		case events.SessionDeclared:
			if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
				sum.Declared = t
			}
		case events.StepConfirmationSigned:
			var d events.ConfirmationData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return ui.SignSummary{}, fmt.Errorf("journal entry %d: %w", e.Seq, err)
			}
			sum.Confirmations = append(sum.Confirmations, ui.StepConfirmation{Step: d.Step, Title: titles[d.Step], Custodian: names[d.Custodian], Serial: d.Serial})
		}
	}
	prompts := map[string]string{}
	for _, q := range session.Questions {
		prompts[q.ID] = q.Prompt
	}
	for _, a := range r.Closeout {
		ans := a.Text
		if a.YesNo != "" {
			ans = a.YesNo
			if a.Text != "" {
				ans += ": " + a.Text
			}
		}
		sum.Answers = append(sum.Answers, ui.Question{ID: a.Question, Text: prompts[a.Question], Answer: ans})
	}
	if a := r.Announcement; a != nil {
		at, _ := time.Parse(time.RFC3339, a.ToldAt)
		sum.Announcement = ui.Announcement{Code: a.AnnounceCode, By: a.By, At: at, Reached: a.Reached, Note: a.Note}
	}
	return sum, nil
}

// runbookLine is the runbook as the summary shows it: its title and the
// start of the SHA-256 the report records (the full hash is in the report;
// a long file path would push the summary off an 80×24 screen).
func runbookLine(title, sha string) string {
	if len(sha) > 16 {
		sha = sha[:16] + "…"
	}
	return fmt.Sprintf("%s (sha256 %s)", title, sha)
}
