package session

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/runbook"
)

// This file holds validate and apply for every event data type. Live calls
// and Resume both go through them, so a resumed session equals the live one.

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s: %w", field, ErrRequired)
	}
	if len(v) > runbook.MaxAnswer {
		return fmt.Errorf("%s: %w", field, runbook.ErrTooLong)
	}
	return nil
}

func (d *Started) validate(s *Session) error {
	if s.phase != -1 {
		return fmt.Errorf("session already started: %w", ErrWrongPhase)
	}
	if d.Threshold < 2 || d.WindowSeconds < 1 {
		return fmt.Errorf("threshold %d, window %ds: %w", d.Threshold, d.WindowSeconds, ErrConfig)
	}
	return nil
}

func (d *Started) apply(s *Session) {
	s.started = *d
	s.phase = PhasePreflight
	s.progress = runbook.NewProgress(s.rb)
}

func (s *Session) window() time.Duration {
	return time.Duration(s.started.WindowSeconds) * time.Second
}

func preflightPassed(checks []PreflightCheck) bool {
	for _, c := range checks {
		if !c.OK && !c.Advisory {
			return false
		}
	}
	return true
}

func (d *Preflight) validate(s *Session) error {
	if err := s.inPhase(PhasePreflight); err != nil {
		return err
	}
	for _, c := range d.Checks {
		if err := required("preflight check name", c.Name); err != nil {
			return err
		}
	}
	if d.Passed != preflightPassed(d.Checks) {
		return fmt.Errorf("preflight passed=%v disagrees with its checks: %w", d.Passed, ErrBadJournal)
	}
	return nil
}

func (d *Preflight) apply(s *Session) {
	s.preflight = slices.Clone(d.Checks)
	if d.Passed {
		s.phase = PhaseDeclare
	}
}

func (d *Declared) validate(s *Session) error {
	if err := s.inPhase(PhaseDeclare); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"operator", d.Operator}, {"ticket", d.Ticket}, {"what broke", d.WhatBroke}} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

func (d *Declared) apply(s *Session) {
	s.decl = Declaration{Operator: d.Operator, Ticket: d.Ticket, WhatBroke: d.WhatBroke}
	s.phase = PhaseQuorum
}

// distinct checks a set of custodians has non-empty, distinct ids and
// serials, also distinct from those in have.
func distinct(have, add []Custodian) error {
	all := slices.Clone(have)
	for _, c := range add {
		if err := required("custodian id", c.ID); err != nil {
			return err
		}
		for _, o := range all {
			if o.ID == c.ID {
				return fmt.Errorf("custodian %q: %w", c.ID, ErrDuplicateKey)
			}
			if o.Serial == c.Serial {
				return fmt.Errorf("key serial %d (custodian %q, already used by %q): %w", c.Serial, c.ID, o.ID, ErrDuplicateKey)
			}
		}
		all = append(all, c)
	}
	return nil
}

func (d *CustodianEvent) validate(s *Session) error {
	if err := s.inPhase(PhaseQuorum); err != nil {
		return err
	}
	if err := distinct(s.quorum, []Custodian{d.Custodian}); err != nil {
		return err
	}
	var want time.Time
	if len(s.quorum)+1 >= s.started.Threshold {
		want = d.At.Add(s.window())
	}
	if !d.WindowExpires.Equal(want) {
		return fmt.Errorf("custodian event window expiry %v, want %v: %w", d.WindowExpires, want, ErrBadJournal)
	}
	return nil
}

func (d *CustodianEvent) apply(s *Session) {
	s.quorum = append(s.quorum, d.Custodian)
	s.known[d.ID] = true
	if !d.WindowExpires.IsZero() {
		s.expires, s.expired = d.WindowExpires, false
		s.phase = PhaseSteps
	}
}

// currentStep returns the current step or an error naming why there is none.
func (s *Session) currentStep(stepID string) (*runbook.Step, error) {
	if err := s.inPhase(PhaseSteps); err != nil {
		return nil, err
	}
	i, ok := s.progress.Current()
	if !ok {
		return nil, fmt.Errorf("step %q: %w", stepID, runbook.ErrFinished)
	}
	step := &s.rb.Steps[i]
	if step.ID != stepID {
		return nil, fmt.Errorf("step %q (current is %q): %w", stepID, step.ID, runbook.ErrNotCurrent)
	}
	return step, nil
}

func (s *Session) revealMode() Mode {
	if s.started.Drill {
		return ModeCheck
	}
	return ModeShow
}

func (d *Reveal) validate(s *Session) error {
	step, err := s.currentStep(d.Step)
	if err != nil {
		return err
	}
	if !slices.Contains(step.Reveals, d.Name) {
		return fmt.Errorf("secret %q at step %q: %w", d.Name, d.Step, ErrNotInStep)
	}
	if s.expired || !d.At.Before(s.expires) {
		return ErrWindowExpired
	}
	if d.Mode != s.revealMode() {
		return fmt.Errorf("reveal mode %q in a session whose mode is %q: %w", d.Mode, s.revealMode(), ErrBadJournal)
	}
	return nil
}

func (d *Reveal) apply(s *Session) { s.reveals = append(s.reveals, *d) }

func (d *CheckResult) validate(s *Session) error {
	if err := s.inPhase(PhaseSteps); err != nil {
		return err
	}
	if !slices.ContainsFunc(s.reveals, func(r Reveal) bool { return r.Name == d.Name }) {
		return fmt.Errorf("check result for %q, which was never revealed or checked: %w", d.Name, ErrNotInStep)
	}
	return nil
}

func (d *CheckResult) apply(s *Session) { s.results = append(s.results, *d) }

func (d *WindowExpired) validate(s *Session) error {
	if err := s.inPhase(PhaseSteps); err != nil {
		return err
	}
	if s.expired || d.At.Before(s.expires) || !d.ExpiredAt.Equal(s.expires) {
		return fmt.Errorf("window expiry at %v (window ends %v): %w", d.At, s.expires, ErrWrongPhase)
	}
	return nil
}

func (d *WindowExpired) apply(s *Session) { s.expired = true }

func (d *Reauthorised) validate(s *Session) error {
	if err := s.inPhase(PhaseSteps); err != nil {
		return err
	}
	if len(d.Custodians) < s.started.Threshold {
		return fmt.Errorf("%d custodians re-authorised, %d needed: %w", len(d.Custodians), s.started.Threshold, ErrRequired)
	}
	if err := distinct(nil, d.Custodians); err != nil {
		return err
	}
	if want := d.At.Add(s.window()); !d.WindowExpires.Equal(want) {
		return fmt.Errorf("re-authorised window expiry %v, want %v: %w", d.WindowExpires, want, ErrBadJournal)
	}
	return nil
}

func (d *Reauthorised) apply(s *Session) {
	for _, c := range d.Custodians {
		s.known[c.ID] = true
	}
	s.expires, s.expired = d.WindowExpires, false
	s.reauths = append(s.reauths, *d)
}

func (d *StepEvent) validate(s *Session) error {
	if err := s.inPhase(PhaseSteps); err != nil {
		return err
	}
	if d.Type == runbook.EventStepConfirmed && !s.known[d.Custodian] {
		return fmt.Errorf("confirmation by %q: %w", d.Custodian, ErrNotCustodian)
	}
	return s.progress.Validate(d.Event)
}

func (d *StepEvent) apply(s *Session) {
	// validate ran Progress.Validate on this very state, so Apply succeeds.
	_ = s.progress.Apply(d.Event)
	if s.progress.Finished() {
		s.phase = PhaseCloseOut
	}
}

func (d *CloseOutAnswer) validate(s *Session) error {
	if err := s.inPhase(PhaseCloseOut); err != nil {
		return err
	}
	q, ok := question(d.Question)
	if !ok {
		return fmt.Errorf("%q: %w", d.Question, ErrUnknownQuestion)
	}
	if !q.YesNo {
		if d.YesNo != "" {
			return fmt.Errorf("question %q is not yes/no: %w", q.ID, ErrUnknownQuestion)
		}
		return required(q.ID, d.Text)
	}
	switch d.YesNo {
	case "yes":
		return required(q.ID+" detail", d.Text)
	case "no":
		if len(d.Text) > runbook.MaxAnswer {
			return fmt.Errorf("%s detail: %w", q.ID, runbook.ErrTooLong)
		}
		return nil
	}
	return fmt.Errorf("question %q needs yes or no: %w", q.ID, ErrRequired)
}

func (d *CloseOutAnswer) apply(s *Session) { s.closeout[d.Question] = *d }

func (d *CloseOutCompleted) validate(s *Session) error {
	if err := s.inPhase(PhaseCloseOut); err != nil {
		return err
	}
	for _, q := range Questions {
		if _, ok := s.closeout[q.ID]; !ok {
			return fmt.Errorf("question %q: %w", q.ID, ErrUnanswered)
		}
	}
	return nil
}

func (d *CloseOutCompleted) apply(s *Session) { s.phase = PhaseSign }

func (d *Signature) validate(s *Session) error {
	if err := s.inPhase(PhaseSign); err != nil {
		return err
	}
	if !s.known[d.Custodian] {
		return fmt.Errorf("signature by %q: %w", d.Custodian, ErrNotCustodian)
	}
	for _, o := range s.sigs {
		if o.Custodian == d.Custodian || o.Serial == d.Serial {
			return fmt.Errorf("signature by %q (key %d): %w", d.Custodian, d.Serial, ErrDuplicateKey)
		}
	}
	return nil
}

func (d *Signature) apply(s *Session) { s.sigs = append(s.sigs, *d) }

func (d *Locked) validate(s *Session) error {
	if err := s.inPhase(PhaseSign); err != nil {
		return err
	}
	if len(s.sigs) < s.started.Threshold {
		return fmt.Errorf("%d of %d signatures: %w", len(s.sigs), s.started.Threshold, ErrNotEnoughSigners)
	}
	return nil
}

func (d *Locked) apply(s *Session) { s.phase = PhaseLocked }

func (d *Aborted) validate(s *Session) error {
	if s.phase < 0 || s.phase == PhaseLocked || s.phase == PhaseAborted {
		return fmt.Errorf("session is in phase %s: %w", s.phase, ErrWrongPhase)
	}
	if d.Phase != s.phase {
		return fmt.Errorf("abort recorded in phase %s, session is in %s: %w", d.Phase, s.phase, ErrBadJournal)
	}
	if err := required("aborted by", d.By); err != nil {
		return err
	}
	return required("abort reason", d.Reason)
}

func (d *Aborted) apply(s *Session) {
	a := *d
	s.aborted = &a
	s.phase = PhaseAborted
}

// CheckConfirm reports whether Confirm(stepID, custodian) would be accepted
// now, without recording anything. A caller that journals evidence of the
// confirmation first (a custodian's signature) checks with it, so nothing
// is recorded for a confirmation the session then refuses.
func (s *Session) CheckConfirm(stepID, custodian string) error {
	d := &StepEvent{At: s.clock(), Event: runbook.Event{Type: runbook.EventStepConfirmed, Step: stepID, Custodian: custodian}}
	return d.validate(s)
}
