// Package session is the break-glass session engine: it takes a session from
// preflight through incident declaration, custodian quorum, the runbook
// steps, close-out and signing to locked (or aborted), and records every
// event through a Recorder before its state moves on.
//
// The engine imports neither vault, hardware nor ui: callers verify keys and
// decrypt secrets, then tell the engine what happened; the engine decides
// whether that is allowed now, records it, and only then changes state. If
// recording fails, the method returns the error and nothing changes, so
// nothing the operator did is lost. Resume rebuilds a session from the
// recorded events, so a killed session can be continued or aborted.
//
// Phases: Preflight → Declare → Quorum → Steps → CloseOut → Sign → Locked,
// and Aborted from any phase before Locked. Event types are the Event*
// constants; their data are the structs named in each constant's comment.
package session

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"breakglass/internal/events"
	"breakglass/runbook"
)

// Recorder appends one event to the audit journal, durably, before
// returning nil. The audit journal satisfies it with a thin adapter.
type Recorder interface {
	Append(actor, typ string, data any) error
}

// ActorSystem is the actor of events the engine records on its own behalf.
const ActorSystem = "system"

// Phase is where a session is (internal/events.Phase: it is recorded in
// session.aborted).
type Phase = events.Phase

// Phases in order; Aborted can follow any phase before Locked.
const (
	PhasePreflight = events.PhasePreflight
	PhaseDeclare   = events.PhaseDeclare
	PhaseQuorum    = events.PhaseQuorum
	PhaseSteps     = events.PhaseSteps
	PhaseCloseOut  = events.PhaseCloseOut
	PhaseSign      = events.PhaseSign
	PhaseLocked    = events.PhaseLocked
	PhaseAborted   = events.PhaseAborted
)

// Errors returned by the engine; test with errors.Is. Step errors come from
// package runbook (runbook.ErrNotCurrent, runbook.ErrIncomplete, ...).
var (
	ErrConfig           = errors.New("invalid session configuration")
	ErrWrongPhase       = errors.New("not allowed in the current phase")
	ErrRequired         = errors.New("required field is empty")
	ErrPreflightFailed  = errors.New("preflight failed")
	ErrDuplicateKey     = errors.New("custodian or key already counted")
	ErrNotCustodian     = errors.New("not a custodian of this session")
	ErrNotInStep        = errors.New("secret is not revealed at the current step")
	ErrWindowExpired    = errors.New("unlock window expired; re-authorise with a new quorum")
	ErrUnknownQuestion  = errors.New("unknown close-out question")
	ErrUnanswered       = errors.New("close-out question not answered")
	ErrNotEnoughSigners = errors.New("not enough custodian signatures")
	ErrBadJournal       = errors.New("journal does not describe a valid session")
)

// Config sets up a session. Runbook, Recorder and Now are required;
// Threshold is M (at least 2); Window is how long a quorum keeps the vault
// unlocked (whole seconds, at least one).
type Config struct {
	Runbook   *runbook.Runbook
	Recorder  Recorder
	Now       func() time.Time
	Threshold int
	Window    time.Duration
	Drill     bool
}

// Declaration is what the operator declared.
type Declaration struct {
	Operator, Ticket, WhatBroke string
}

// Session is one break-glass session. It is not safe for concurrent use.
type Session struct {
	rec       Recorder
	now       func() time.Time
	rb        *runbook.Runbook
	started   Started
	phase     Phase
	preflight []PreflightCheck
	decl      Declaration
	quorum    []Custodian
	known     map[string]bool // custodian ids in the quorum or any re-authorisation
	expires   time.Time
	expired   bool // window.expired recorded for the current window
	reauths   []Reauthorised
	progress  *runbook.Progress
	reveals   []Reveal
	results   []CheckResult
	closeout  map[string]CloseOutAnswer
	sigs      []Signature
	aborted   *Aborted
}

// New starts a session: it records EventStarted and returns the session in
// PhasePreflight.
func New(cfg Config) (*Session, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	s := newSession(cfg.Runbook, cfg.Recorder, cfg.Now)
	rb := cfg.Runbook
	d := &Started{
		At:            s.clock(),
		Runbook:       RunbookRef{Name: rb.Name, Title: rb.Title, Version: rb.Version, SHA256: rb.SHA256},
		Source:        string(rb.Source),
		Threshold:     cfg.Threshold,
		WindowSeconds: int64(cfg.Window / time.Second),
		Drill:         cfg.Drill,
	}
	if err := s.record(ActorSystem, EventStarted, d); err != nil {
		return nil, err
	}
	return s, nil
}

func checkConfig(cfg Config) error {
	switch {
	case cfg.Runbook == nil || len(cfg.Runbook.Steps) == 0:
		return fmt.Errorf("%w: a runbook with at least one step is required", ErrConfig)
	case cfg.Recorder == nil:
		return fmt.Errorf("%w: a recorder is required", ErrConfig)
	case cfg.Now == nil:
		return fmt.Errorf("%w: a clock is required", ErrConfig)
	case cfg.Threshold < 2:
		return fmt.Errorf("%w: threshold %d, need at least 2 custodians", ErrConfig, cfg.Threshold)
	case cfg.Window < time.Second:
		return fmt.Errorf("%w: unlock window %v, need at least one second", ErrConfig, cfg.Window)
	}
	return nil
}

func newSession(rb *runbook.Runbook, rec Recorder, now func() time.Time) *Session {
	return &Session{rec: rec, now: now, rb: rb, phase: -1, known: map[string]bool{}, closeout: map[string]CloseOutAnswer{}}
}

// clock returns the injected time in UTC without a monotonic reading, so it
// survives a JSON round trip unchanged.
func (s *Session) clock() time.Time { return s.now().UTC().Round(0) }

// transition is the data of one event: validate says whether it is allowed
// now (without changing anything), apply changes the state and cannot fail.
type transition interface {
	validate(s *Session) error
	apply(s *Session)
}

// record validates d, appends it to the journal and only then applies it.
func (s *Session) record(actor, typ string, d transition) error {
	if err := d.validate(s); err != nil {
		return err
	}
	if err := s.rec.Append(actor, typ, d); err != nil {
		return fmt.Errorf("recording %s in the journal (nothing changed; fix the journal and retry): %w", typ, err)
	}
	d.apply(s)
	return nil
}

// Phase returns the current phase.
func (s *Session) Phase() Phase { return s.phase }

// Drill reports whether this is a drill: secrets are checked, never shown.
func (s *Session) Drill() bool { return s.started.Drill }

// Runbook returns the runbook being followed.
func (s *Session) Runbook() *runbook.Runbook { return s.rb }

// Progress returns the step state machine (read it; change it only through
// the Session methods, which record).
func (s *Session) Progress() *runbook.Progress { return s.progress }

// Expired reports whether the unlock window is closed at now: before the
// quorum is complete, after it ran out (until re-authorised), and outside
// PhaseSteps.
func (s *Session) Expired(now time.Time) bool {
	return s.phase != PhaseSteps || !now.Before(s.expires)
}

// WindowExpires returns when the current unlock window ends (zero before
// the quorum is complete).
func (s *Session) WindowExpires() time.Time { return s.expires }

func (s *Session) operator() string {
	if s.decl.Operator == "" {
		return ActorSystem
	}
	return s.decl.Operator
}

func (s *Session) inPhase(want ...Phase) error {
	if slices.Contains(want, s.phase) {
		return nil
	}
	return fmt.Errorf("session is in phase %s: %w", s.phase, ErrWrongPhase)
}
