package session

import (
	"fmt"
	"strings"
	"time"

	"breakglass/runbook"
)

// PreflightError lists the blocking preflight checks that failed. It
// matches ErrPreflightFailed with errors.Is.
type PreflightError struct {
	Failed []PreflightCheck
}

func (e *PreflightError) Error() string {
	names := make([]string, len(e.Failed))
	for i, c := range e.Failed {
		names[i] = c.Name
		if c.Detail != "" {
			names[i] += " (" + c.Detail + ")"
		}
	}
	return "preflight failed: " + strings.Join(names, ", ") + "; fix them and run preflight again"
}

// Is makes errors.Is(err, ErrPreflightFailed) true.
func (e *PreflightError) Is(target error) bool { return target == ErrPreflightFailed }

// CheckRunbookSecrets is the name of the preflight check Preflight adds.
const CheckRunbookSecrets = "runbook secrets in vault"

// Preflight records the preflight results, adding one check that every
// secret the runbook reveals is in the vault (have reports whether the vault
// holds a name). If every non-advisory check passed, the session moves to
// PhaseDeclare; otherwise the results are still recorded, the phase stays
// and a *PreflightError is returned. Preflight may be run again.
func (s *Session) Preflight(checks []PreflightCheck, have func(name string) bool) error {
	sc := PreflightCheck{Name: CheckRunbookSecrets, OK: true, Detail: fmt.Sprintf("%d secret(s) named by the runbook", len(s.rb.Secrets()))}
	if err := s.rb.CheckSecrets(have); err != nil {
		sc.OK, sc.Detail = false, err.Error()
	}
	all := append(append([]PreflightCheck{}, checks...), sc)
	d := &Preflight{At: s.clock(), Checks: all, Passed: preflightPassed(all)}
	if err := s.record(ActorSystem, EventPreflight, d); err != nil {
		return err
	}
	if !d.Passed {
		pe := &PreflightError{}
		for _, c := range all {
			if !c.OK && !c.Advisory {
				pe.Failed = append(pe.Failed, c)
			}
		}
		return pe
	}
	return nil
}

// Declare records the incident declaration (all fields required) and moves
// to PhaseQuorum.
func (s *Session) Declare(operator, ticket, whatBroke string) error {
	d := &Declared{At: s.clock(), Operator: strings.TrimSpace(operator), Ticket: strings.TrimSpace(ticket), WhatBroke: strings.TrimSpace(whatBroke)}
	return s.record(d.Operator, EventDeclared, d)
}

// Announce records how the announce code was relayed to the security
// on-call: reached with who acknowledged it and when they were told, or not
// reached with why (note). It is allowed once, after the declaration and
// before the first custodian is counted.
func (s *Session) Announce(code string, reached bool, by string, toldAt time.Time, note string) error {
	d := &Announced{At: s.clock(), AnnounceCode: code, Reached: reached, By: strings.TrimSpace(by),
		ToldAt: toldAt.UTC(), Note: strings.TrimSpace(note)}
	return s.record("operator", EventAnnounced, d)
}

// AddCustodian records a custodian whose key the caller has verified. A
// custodian id or key serial already in the quorum is refused with
// ErrDuplicateKey. The custodian completing the quorum opens the unlock
// window and moves the session to PhaseSteps; AddCustodian then returns
// true.
func (s *Session) AddCustodian(c Custodian) (unlocked bool, err error) {
	d := &CustodianEvent{At: s.clock(), Custodian: c}
	if len(s.quorum)+1 >= s.started.Threshold {
		d.WindowExpires = d.At.Add(s.window())
	}
	if err := s.record(c.ID, EventCustodian, d); err != nil {
		return false, err
	}
	return s.phase == PhaseSteps, nil
}

// Quorum returns the custodians accepted so far, in order.
func (s *Session) Quorum() []Custodian { return append([]Custodian(nil), s.quorum...) }

// Reveal records that secret name of the current step stepID is about to be
// decrypted, and returns what to do with it: Mode ModeShow in a live
// session, ModeCheck in a drill (decrypt and parse, never show). It refuses
// a secret the step does not name and, once the window has expired, records
// EventWindowExpired (once) and returns ErrWindowExpired.
func (s *Session) Reveal(stepID, name string) (Reveal, error) {
	return s.RevealSealed(stepID, name, SealRef{})
}

// SealRef identifies the sealed version of a secret a reveal shows: the
// attributed seal record's sealed time, version, digest and sealer. It is
// journaled with the reveal so the report records what was revealed.
type SealRef struct {
	SealedAt time.Time
	Version  int
	Record   string // hex SHA-256 of the canonical seal record
	SealedBy string // roster id
}

// RevealSealed is Reveal recording which sealed version is revealed.
func (s *Session) RevealSealed(stepID, name string, seal SealRef) (Reveal, error) {
	at := s.clock()
	if s.phase == PhaseSteps && !at.Before(s.expires) {
		if _, err := s.expireAt(at); err != nil {
			return Reveal{}, err
		}
		return Reveal{}, ErrWindowExpired
	}
	d := &Reveal{At: at, Name: name, Step: stepID, Mode: s.revealMode(), Version: seal.Version, SealRecord: seal.Record, SealedBy: seal.SealedBy}
	if !seal.SealedAt.IsZero() {
		d.SealedAt = seal.SealedAt.UTC().Format(time.RFC3339)
	}
	typ := EventRevealed
	if d.Mode == ModeCheck {
		typ = EventChecked
	}
	if err := s.record(s.operator(), typ, d); err != nil {
		return Reveal{}, err
	}
	return *d, nil
}

// CheckResult records whether a secret returned by Reveal decrypted and
// parsed. detail must not contain secret material.
func (s *Session) CheckResult(name string, ok bool, detail string) error {
	return s.record(ActorSystem, EventCheckResult, &CheckResult{At: s.clock(), Name: name, OK: ok, Detail: detail})
}

// ExpireWindow records EventWindowExpired if the unlock window has run out
// and that is not yet recorded; it reports whether it recorded. The UI
// calls it from its timer so the expiry is in the journal even when no
// secret is asked for.
func (s *Session) ExpireWindow() (bool, error) { return s.expireAt(s.clock()) }

func (s *Session) expireAt(at time.Time) (bool, error) {
	if s.phase != PhaseSteps || s.expired || at.Before(s.expires) {
		return false, nil
	}
	if err := s.record(ActorSystem, EventWindowExpired, &WindowExpired{At: at, ExpiredAt: s.expires}); err != nil {
		return false, err
	}
	return true, nil
}

// Reauthorise records a fresh quorum (at least Threshold distinct
// custodians and keys, verified by the caller) and opens a new unlock window
// from now. Allowed at any time in PhaseSteps.
func (s *Session) Reauthorise(custodians []Custodian) error {
	at := s.clock()
	d := &Reauthorised{At: at, Custodians: append([]Custodian(nil), custodians...), WindowExpires: at.Add(s.window())}
	return s.record(s.operator(), EventReauthorised, d)
}

func (s *Session) step(actor string, ev runbook.Event) error {
	return s.record(actor, ev.Type, &StepEvent{At: s.clock(), Event: ev})
}

// Tick ticks (or unticks) check i of the current step stepID.
func (s *Session) Tick(stepID string, i int, ticked bool) error {
	return s.step(s.operator(), s.progress.TickEvent(stepID, i, ticked))
}

// Answer records the answer to evidence prompt i of the current step.
func (s *Session) Answer(stepID string, i int, text string) error {
	return s.step(s.operator(), s.progress.AnswerEvent(stepID, i, text))
}

// Confirm records custodian's confirmation of the current step (for steps
// marked Confirm: both-custodians). The custodian must be in the quorum or a
// re-authorisation.
func (s *Session) Confirm(stepID, custodian string) error {
	return s.step(custodian, runbook.Event{Type: runbook.EventStepConfirmed, Step: stepID, Custodian: custodian})
}

// Complete completes the current step; after the last step the session
// moves to PhaseCloseOut. It fails with a *runbook.IncompleteError when
// checks, evidence or confirmations are missing.
func (s *Session) Complete(stepID string) error {
	return s.step(s.operator(), runbook.Event{Type: runbook.EventStepCompleted, Step: stepID})
}

// Skip skips the current step with a reason (required).
func (s *Session) Skip(stepID, reason string) error {
	return s.step(s.operator(), runbook.Event{Type: runbook.EventStepSkipped, Step: stepID, Text: strings.TrimSpace(reason)})
}

// AnswerCloseOut records the answer to close-out question id (see
// Questions). For a yes/no question yesNo is "yes" or "no" and text the
// detail, required for "yes"; otherwise yesNo is "" and text required.
func (s *Session) AnswerCloseOut(id, yesNo, text string) error {
	d := &CloseOutAnswer{At: s.clock(), Question: id, YesNo: strings.ToLower(strings.TrimSpace(yesNo)), Text: strings.TrimSpace(text)}
	return s.record(s.operator(), EventCloseOutAnswered, d)
}

// FinishCloseOut records the end of the close-out (every question must be
// answered) and moves to PhaseSign.
func (s *Session) FinishCloseOut() error {
	return s.record(s.operator(), EventCloseOutCompleted, &CloseOutCompleted{At: s.clock()})
}

// RecordSignature records that custodian signed the report with key
// serial; digest is the hex digest of what was signed. Each custodian and
// key signs once; the custodian must be in the quorum or a
// re-authorisation.
func (s *Session) RecordSignature(custodian string, serial uint32, digest string) error {
	return s.record(custodian, EventSigned, &Signature{At: s.clock(), Custodian: custodian, Serial: serial, Digest: digest})
}

// Lock ends the session once at least Threshold custodians have signed.
func (s *Session) Lock() error {
	return s.record(s.operator(), EventLocked, &Locked{At: s.clock()})
}

// Abort ends the session in any phase before Locked; by and reason are
// required. A resumed session that cannot be continued is closed this way.
func (s *Session) Abort(by, reason string) error {
	d := &Aborted{At: s.clock(), By: strings.TrimSpace(by), Reason: strings.TrimSpace(reason), Phase: s.phase}
	return s.record(d.By, EventAborted, d)
}
