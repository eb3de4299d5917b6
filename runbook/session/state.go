package session

import (
	"time"

	"breakglass/runbook"
)

// State is a snapshot of everything the engine tracks, for the UI and the
// report. It shares nothing with the session.
type State struct {
	Phase       Phase
	Drill       bool
	Runbook     RunbookRef
	Threshold   int
	Window      time.Duration
	Started     time.Time
	Preflight   []PreflightCheck
	Declaration Declaration
	// Announcement is how the announce code was relayed (nil until recorded).
	Announcement *Announced
	Quorum       []Custodian
	// Reauthorisations are the fresh quorums after the first, in order.
	Reauthorisations []Reauthorised
	// WindowExpires is when the current unlock window ends;
	// WindowExpiredRecorded is set once EventWindowExpired is recorded for it.
	WindowExpires         time.Time
	WindowExpiredRecorded bool
	// Current is the index of the current step, -1 when none is.
	Current int
	// Steps hold ticks, evidence answers, confirmations and skip reasons.
	Steps []runbook.StepState
	// Reveals are every secret.revealed / secret.checked, in order.
	Reveals      []Reveal
	SecretChecks []CheckResult
	// CloseOut holds the answered close-out questions in Questions order.
	CloseOut   []CloseOutAnswer
	Signatures []Signature
	Aborted    *Aborted
}

// State returns a snapshot of the session.
func (s *Session) State() State {
	st := State{
		Phase:                 s.phase,
		Drill:                 s.started.Drill,
		Runbook:               s.started.Runbook,
		Threshold:             s.started.Threshold,
		Window:                s.window(),
		Started:               s.started.At,
		Preflight:             append([]PreflightCheck(nil), s.preflight...),
		Declaration:           s.decl,
		Quorum:                s.Quorum(),
		WindowExpires:         s.expires,
		WindowExpiredRecorded: s.expired,
		Current:               -1,
		Reveals:               append([]Reveal(nil), s.reveals...),
		SecretChecks:          append([]CheckResult(nil), s.results...),
		Signatures:            append([]Signature(nil), s.sigs...),
	}
	for _, r := range s.reauths {
		r.Custodians = append([]Custodian(nil), r.Custodians...)
		st.Reauthorisations = append(st.Reauthorisations, r)
	}
	if i, ok := s.progress.Current(); ok {
		st.Current = i
	}
	for i := range s.rb.Steps {
		st.Steps = append(st.Steps, s.progress.State(i))
	}
	for _, q := range Questions {
		if a, ok := s.closeout[q.ID]; ok {
			st.CloseOut = append(st.CloseOut, a)
		}
	}
	if s.announced != nil {
		a := *s.announced
		st.Announcement = &a
	}
	if s.aborted != nil {
		a := *s.aborted
		st.Aborted = &a
	}
	return st
}

// MustRotate returns the secrets shown to anyone in this session, once each
// (first reveal: name, step, time), in order. They must be rotated. A
// drill shows nothing, so its list is empty.
func (s *Session) MustRotate() []Reveal {
	seen := map[string]bool{}
	var out []Reveal
	for _, r := range s.reveals {
		if r.Mode == ModeShow && !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r)
		}
	}
	return out
}
