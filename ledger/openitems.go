package ledger

import (
	"errors"
	"fmt"
	"time"

	"breakglass/audit"
)

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// session re-verifies one stored report against its vault and describes it.
func (l *Ledger) session(r reportRef, p *pinned, s *ledgerState) *sessionRecord {
	sr := &sessionRecord{Session: Session{ID: r.data.Session, Entry: r.entry, Mode: r.data.Mode, Started: r.data.Started,
		Ended: r.data.Ended, AnnounceCode: formatCode(r.data.AnnounceCode), Custodians: []SessionSigner{}, Revealed: []Reveal{}, Failed: []string{}}}
	if rv, ok := s.reviews[r.data.Session]; ok {
		sr.Review = l.reviewStatus(rv, r.data.Object)
	}
	var verdict *audit.Verdict
	raw, err := l.object(r.data.Object)
	if err == nil && p == nil {
		err = errors.New("its vault does not verify")
	}
	if err == nil {
		verdict, err = l.verifyReport(raw, p)
	}
	if err != nil {
		sr.Failed = append(sr.Failed, err.Error())
	}
	if verdict == nil || verdict.Report == nil {
		return sr
	}
	for _, c := range verdict.Failed() {
		sr.Failed = append(sr.Failed, c.Name+": "+c.Detail)
	}
	sr.Verified, sr.NonProduction = err == nil, verdict.NonProduction
	if !sr.Verified {
		return sr // an unverified report's contents are not shown as fact
	}
	rep := verdict.Report
	sr.report = rep
	ses := rep.Session
	sr.Mode, sr.Started, sr.Ended, sr.Outcome, sr.AbortReason = ses.Mode, ses.Started, ses.Ended, ses.Outcome, ses.AbortReason
	sr.Operator, sr.Ticket, sr.WhatBroke = ses.Operator, ses.Ticket, ses.WhatBroke
	sr.AnnounceCode = CodeOf(rep).String()
	sr.RosterVersion, sr.Rekey = rosterVersion(verdict), rekeyStatus(rep)
	for _, c := range rep.Custodians {
		sr.Custodians = append(sr.Custodians, SessionSigner{c.ID, c.Name, c.Serial})
	}
	for _, x := range rep.Revealed {
		sr.Revealed = append(sr.Revealed, Reveal{Name: x.Name, Step: x.Step, Mode: x.Mode, Time: x.Time, SealedAt: x.SealedAt})
	}
	return sr
}

// reviewStatus describes a session's latest review, verifying its
// signature (if any) again now.
func (l *Ledger) reviewStatus(rv reviewRef, report string) *ReviewStatus {
	d := rv.data
	st := &ReviewStatus{Entry: rv.entry, Time: rv.time, Reviewer: d.Reviewer, Decision: d.Decision, Note: d.Note}
	if !d.Signed {
		st.Flag = FlagUnsigned
		return st
	}
	r, err := l.verifyReview(rv.entry, d, report)
	if err != nil {
		st.Flag, st.Problem = FlagBadSignature, err.Error()
		return st
	}
	st.Signed, st.SignedBy = true, &Reviewer{ID: r.c.ID, Name: r.c.Name, Serials: []uint32{d.Serial}, Entry: r.entry}
	return st
}

// markRotations sets RotatedAt of each shown credential: the first seal of
// that secret after the reveal, in any imported copy of the vault.
func markRotations(sr *sessionRecord, copies []vaultCopy) {
	for i := range sr.Revealed {
		rv := &sr.Revealed[i]
		at, ok := parseTime(rv.Time)
		if rv.Mode != "show" || !ok {
			continue
		}
		var first time.Time
		for _, c := range copies {
			for _, s := range c.data.Seals {
				if s.Name != rv.Name {
					continue
				}
				for _, v := range []string{s.SealedAt, s.PreviousSealedAt} {
					if t, ok := parseTime(v); ok && t.After(at) && (first.IsZero() || t.Before(first)) {
						first = t
					}
				}
			}
		}
		if !first.IsZero() {
			rv.RotatedAt = first.UTC().Format(time.RFC3339)
		}
	}
}

// sessionItems are a session's open items: unrotated credentials, a missing
// or follow-up review, a missing announcement, a failed verification.
func sessionItems(fp string, sr *sessionRecord, s *ledgerState, matched map[string]bool) []OpenItem {
	var items []OpenItem
	add := func(kind, secret, since, format string, args ...any) {
		items = append(items, OpenItem{Kind: kind, Vault: fp, Session: sr.ID, Secret: secret, Since: since, Detail: fmt.Sprintf(format, args...)})
	}
	if !sr.Verified {
		add(OpenNotVerified, "", sr.Ended, "the report of entry %d no longer verifies: %v", sr.Entry, sr.Failed)
		return items
	}
	done := map[string]bool{}
	for _, rv := range sr.Revealed {
		if rv.Mode == "show" && rv.RotatedAt == "" && !done[rv.Name] {
			done[rv.Name] = true
			add(OpenUnrotated, rv.Name, rv.Time, "%s was shown in session %s and no imported vault shows it sealed again since: rotate it, then import the vault", rv.Name, sr.ID)
		}
	}
	switch {
	case sr.Review != nil && sr.Review.Flag == FlagBadSignature:
		add(OpenBadReview, "", sr.Review.Time, "the review of session %s (entry %d) claims a signature that does not verify: %s", sr.ID, sr.Review.Entry, sr.Review.Problem)
		add(OpenUnreviewed, "", sr.Ended, "session %s has no review that verifies", sr.ID)
	case sr.Review == nil:
		add(OpenUnreviewed, "", sr.Ended, "session %s has not been reviewed", sr.ID)
	case sr.Review.Decision == DecisionFollowUp:
		add(OpenFollowUp, "", sr.Review.Time, "the review by %s asked for a follow-up: %s", sr.Review.Reviewer, sr.Review.Note)
	}
	c := string(CodeOf(sr.report))
	if a, ok := s.announced[c]; ok {
		matched[c] = true
		sr.AnnouncedBy = a.by
	} else {
		add(OpenNoAnnouncement, "", sr.Started, "no announcement of code %s was recorded: the on-call was not told of session %s, or it was not entered", formatCode(c), sr.ID)
	}
	return items
}

// seenVersion is one version of a secret known to the ledger.
type seenVersion struct {
	secret string
	sealed time.Time
	where  string
}

// seenVersions collects every version of every secret the ledger has seen:
// seal records of the vault's copies and versions recorded in reports.
func seenVersions(copies []vaultCopy, sessions []*sessionRecord) []seenVersion {
	var out []seenVersion
	for _, c := range copies {
		for _, s := range c.data.Seals {
			for _, v := range []string{s.SealedAt, s.PreviousSealedAt} {
				if t, ok := parseTime(v); ok {
					out = append(out, seenVersion{s.Name, t, fmt.Sprintf("the vault copy of entry %d", c.entry)})
				}
			}
		}
	}
	for _, sr := range sessions {
		for _, rv := range sr.Revealed {
			if t, ok := parseTime(rv.SealedAt); ok {
				out = append(out, seenVersion{rv.Name, t, "session " + sr.ID})
			}
		}
	}
	return out
}

// detectRollbacks flags each reveal of a version older than a version of
// the same secret that was already sealed at the time of the reveal.
func detectRollbacks(fp string, sr *sessionRecord, seen []seenVersion) []OpenItem {
	var items []OpenItem
	for _, rv := range sr.Revealed {
		v, ok1 := parseTime(rv.SealedAt)
		at, ok2 := parseTime(rv.Time)
		if !ok1 || !ok2 {
			continue
		}
		for _, s := range seen {
			if s.secret == rv.Name && s.sealed.After(v) && !s.sealed.After(at) {
				items = append(items, OpenItem{Kind: OpenRollback, Vault: fp, Session: sr.ID, Secret: rv.Name, Since: rv.Time,
					Detail: fmt.Sprintf("session %s revealed %s sealed %s, but %s shows a version sealed %s, before the reveal: an old value was put back",
						sr.ID, rv.Name, rv.SealedAt, s.where, s.sealed.UTC().Format(time.RFC3339))})
				break
			}
		}
	}
	return items
}

// drillDue finds the newest verified, completed drill and when the next one
// is due (from the roster's creation when there was none).
func drillDue(fp string, copies []vaultCopy, sessions []*sessionRecord, interval time.Duration, now time.Time) (last, due string, item *OpenItem) {
	var base time.Time
	for _, c := range copies {
		if t, ok := parseTime(c.data.RosterCreated); ok && (base.IsZero() || t.Before(base)) {
			base = t
		}
	}
	var lastT time.Time
	for _, sr := range sessions {
		if t, ok := parseTime(sr.Ended); ok && sr.Verified && sr.Mode == audit.ModeDrill && sr.Outcome == "completed" && t.After(lastT) {
			lastT = t
		}
	}
	what := "no verified drill since the vault was created on " + base.UTC().Format("2006-01-02")
	if !lastT.IsZero() {
		base, last = lastT, lastT.UTC().Format(time.RFC3339)
		what = "the last verified drill was on " + base.UTC().Format("2006-01-02")
	}
	dueT := base.Add(interval)
	due = dueT.UTC().Format(time.RFC3339)
	if now.After(dueT) {
		item = &OpenItem{Kind: OpenDrillOverdue, Vault: fp, Since: due,
			Detail: fmt.Sprintf("%s: the next was due on %s (every %d days); run a drill (breakglass console --drill) and import its report", what, dueT.UTC().Format("2006-01-02"), int(interval/(24*time.Hour)))}
	}
	return last, due, item
}
