package runbook

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Step event types. They are the Type of an Event and the journal event type
// the session engine records it under.
const (
	// EventStepCheck ticks (Ticked true) or unticks check Index of Step.
	EventStepCheck = "step.check"
	// EventStepEvidence answers evidence prompt Index of Step with Text; a
	// later answer replaces an earlier one.
	EventStepEvidence = "step.evidence"
	// EventStepConfirmed records that Custodian confirmed a step marked
	// Confirm: both-custodians.
	EventStepConfirmed = "step.confirmed"
	// EventStepCompleted completes Step and makes the next step current.
	EventStepCompleted = "step.completed"
	// EventStepSkipped skips Step with the reason in Text and makes the next
	// step current.
	EventStepSkipped = "step.skipped"
)

// MaxAnswer is the longest evidence answer or skip reason, in bytes.
const MaxAnswer = 16 << 10

// Event is one step transition. It is what a caller records, and replaying
// recorded events with Apply rebuilds the same Progress. Its JSON form is the
// journal event data; Type travels as the journal event type.
type Event struct {
	Type      string `json:"-"`
	Step      string `json:"step"`
	Index     int    `json:"index,omitempty"`     // check or evidence index (0-based)
	Label     string `json:"label,omitempty"`     // check text or evidence prompt, for readers; verified on Apply
	Ticked    bool   `json:"ticked,omitempty"`    // for step.check
	Text      string `json:"text,omitempty"`      // evidence answer or skip reason
	Custodian string `json:"custodian,omitempty"` // for step.confirmed
}

// Errors returned by Progress. They are wrapped with the step id; test with
// errors.Is.
var (
	ErrNotCurrent       = errors.New("step is not the current step")
	ErrFinished         = errors.New("runbook is finished")
	ErrUnknownStep      = errors.New("no such step in the runbook")
	ErrBadIndex         = errors.New("no such check or evidence prompt in the step")
	ErrEmptyText        = errors.New("text is empty")
	ErrTooLong          = errors.New("text is too long")
	ErrConfirmNotNeeded = errors.New("step does not ask for custodian confirmation")
	ErrAlreadyConfirmed = errors.New("custodian already confirmed this step")
	ErrIncomplete       = errors.New("step is not complete")
	ErrUnknownEvent     = errors.New("unknown step event type")
	ErrLabelMismatch    = errors.New("event label does not match the runbook")
)

// IncompleteError says what still blocks completing a step. It matches
// ErrIncomplete with errors.Is.
type IncompleteError struct {
	Step          string
	Unticked      []string // texts of unticked checks
	Unanswered    []string // evidence prompts without an answer
	Confirmations int      // custodian confirmations still needed
}

func (e *IncompleteError) Error() string {
	var parts []string
	if n := len(e.Unticked); n > 0 {
		parts = append(parts, fmt.Sprintf("%d check(s) not ticked", n))
	}
	if n := len(e.Unanswered); n > 0 {
		parts = append(parts, fmt.Sprintf("%d evidence prompt(s) not answered", n))
	}
	if e.Confirmations > 0 {
		parts = append(parts, fmt.Sprintf("%d custodian confirmation(s) missing", e.Confirmations))
	}
	return fmt.Sprintf("completing step %q: %s; finish them or skip the step with a reason", e.Step, strings.Join(parts, ", "))
}

// Is makes errors.Is(err, ErrIncomplete) true.
func (e *IncompleteError) Is(target error) bool { return target == ErrIncomplete }

// Status is where a step is in its life.
type Status int

const (
	Pending Status = iota // not reached yet
	Current               // the step being worked on
	Done                  // completed
	Skipped               // skipped with a reason
)

func (s Status) String() string {
	switch s {
	case Pending:
		return "pending"
	case Current:
		return "current"
	case Done:
		return "done"
	case Skipped:
		return "skipped"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// StepState is the recorded state of one step. Slices are indexed like the
// step's Checks and Evidence.
type StepState struct {
	Status     Status
	Ticked     []bool
	Answers    []string // "" when not answered
	Confirmed  []string // custodian ids in confirmation order
	SkipReason string
}

// Progress is the step state machine of one runbook. Only the current step
// can change; it completes when all checks are ticked, all evidence answered
// and, for Confirm: both-custodians, two distinct custodians confirmed. State
// changes only through Apply, so replaying recorded events gives the same
// state. Progress is not safe for concurrent use.
type Progress struct {
	rb  *Runbook
	cur int // index of the current step; len(rb.Steps) when finished
	st  []StepState
}

// NewProgress returns the state of a runbook nobody has started: the first
// step is current.
func NewProgress(rb *Runbook) *Progress {
	p := &Progress{rb: rb, st: make([]StepState, len(rb.Steps))}
	if len(p.st) > 0 {
		p.st[0].Status = Current
	}
	return p
}

// Replay builds the Progress of rb and applies events in order; it fails on
// the first event that does not apply, naming its position.
func Replay(rb *Runbook, events []Event) (*Progress, error) {
	p := NewProgress(rb)
	for i, ev := range events {
		if err := p.Apply(ev); err != nil {
			return nil, fmt.Errorf("replaying step event %d (%s): %w", i, ev.Type, err)
		}
	}
	return p, nil
}

// Runbook returns the runbook being followed.
func (p *Progress) Runbook() *Runbook { return p.rb }

// Current returns the index of the current step, or false when every step
// is done or skipped.
func (p *Progress) Current() (int, bool) {
	return p.cur, p.cur < len(p.st)
}

// Finished reports whether every step is done or skipped.
func (p *Progress) Finished() bool { return p.cur >= len(p.st) }

// State returns a copy of the state of step i (0-based).
func (p *Progress) State(i int) StepState {
	s := p.st[i]
	s.Ticked = slices.Clone(s.Ticked)
	s.Answers = slices.Clone(s.Answers)
	s.Confirmed = slices.Clone(s.Confirmed)
	return s
}

// Blocking returns what still blocks completing the current step, or nil
// when it can be completed (or the runbook is finished).
func (p *Progress) Blocking() *IncompleteError {
	if p.Finished() {
		return nil
	}
	step, st := &p.rb.Steps[p.cur], &p.st[p.cur]
	e := &IncompleteError{Step: step.ID}
	for i, c := range step.Checks {
		if i >= len(st.Ticked) || !st.Ticked[i] {
			e.Unticked = append(e.Unticked, c)
		}
	}
	for i, q := range step.Evidence {
		if i >= len(st.Answers) || st.Answers[i] == "" {
			e.Unanswered = append(e.Unanswered, q)
		}
	}
	if step.BothConfirm && len(st.Confirmed) < 2 {
		e.Confirmations = 2 - len(st.Confirmed)
	}
	if len(e.Unticked) == 0 && len(e.Unanswered) == 0 && e.Confirmations == 0 {
		return nil
	}
	return e
}

// Validate reports whether Apply(ev) would succeed, without changing state.
func (p *Progress) Validate(ev Event) error {
	if p.Finished() {
		return fmt.Errorf("%s on step %q: %w", ev.Type, ev.Step, ErrFinished)
	}
	step, st := &p.rb.Steps[p.cur], &p.st[p.cur]
	if ev.Step != step.ID {
		if _, _, ok := p.rb.Step(ev.Step); !ok {
			return fmt.Errorf("%s on step %q: %w", ev.Type, ev.Step, ErrUnknownStep)
		}
		return fmt.Errorf("%s on step %q (current is %q): %w", ev.Type, ev.Step, step.ID, ErrNotCurrent)
	}
	wrap := func(err error) error { return fmt.Errorf("%s on step %q: %w", ev.Type, ev.Step, err) }
	switch ev.Type {
	case EventStepCheck:
		if ev.Index < 0 || ev.Index >= len(step.Checks) {
			return wrap(ErrBadIndex)
		}
		if ev.Label != "" && ev.Label != step.Checks[ev.Index] {
			return wrap(ErrLabelMismatch)
		}
	case EventStepEvidence:
		if ev.Index < 0 || ev.Index >= len(step.Evidence) {
			return wrap(ErrBadIndex)
		}
		if ev.Label != "" && ev.Label != step.Evidence[ev.Index] {
			return wrap(ErrLabelMismatch)
		}
		return checkText(ev.Text, wrap)
	case EventStepConfirmed:
		switch {
		case !step.BothConfirm:
			return wrap(ErrConfirmNotNeeded)
		case strings.TrimSpace(ev.Custodian) == "":
			return wrap(ErrEmptyText)
		case slices.Contains(st.Confirmed, ev.Custodian):
			return wrap(ErrAlreadyConfirmed)
		}
	case EventStepCompleted:
		if b := p.Blocking(); b != nil {
			return b
		}
	case EventStepSkipped:
		return checkText(ev.Text, wrap)
	default:
		return fmt.Errorf("%q: %w", ev.Type, ErrUnknownEvent)
	}
	return nil
}

func checkText(s string, wrap func(error) error) error {
	if strings.TrimSpace(s) == "" {
		return wrap(ErrEmptyText)
	}
	if len(s) > MaxAnswer {
		return wrap(ErrTooLong)
	}
	return nil
}

// Apply validates ev and applies it; on error the state is unchanged.
func (p *Progress) Apply(ev Event) error {
	if err := p.Validate(ev); err != nil {
		return err
	}
	step, st := &p.rb.Steps[p.cur], &p.st[p.cur]
	switch ev.Type {
	case EventStepCheck:
		if st.Ticked == nil {
			st.Ticked = make([]bool, len(step.Checks))
		}
		st.Ticked[ev.Index] = ev.Ticked
	case EventStepEvidence:
		if st.Answers == nil {
			st.Answers = make([]string, len(step.Evidence))
		}
		st.Answers[ev.Index] = ev.Text
	case EventStepConfirmed:
		st.Confirmed = append(st.Confirmed, ev.Custodian)
	case EventStepCompleted:
		st.Status = Done
		p.advance()
	case EventStepSkipped:
		st.Status, st.SkipReason = Skipped, ev.Text
		p.advance()
	}
	return nil
}

func (p *Progress) advance() {
	p.cur++
	if p.cur < len(p.st) {
		p.st[p.cur].Status = Current
	}
}

// label returns the check text or evidence prompt at i of the current
// step, or "".
func (p *Progress) label(stepID, typ string, i int) string {
	if p.Finished() || i < 0 {
		return ""
	}
	s := &p.rb.Steps[p.cur]
	if s.ID != stepID {
		return "" // Validate will refuse the event as not current
	}
	switch {
	case typ == EventStepCheck && i < len(s.Checks):
		return s.Checks[i]
	case typ == EventStepEvidence && i < len(s.Evidence):
		return s.Evidence[i]
	}
	return ""
}

// do applies ev and returns it for the caller to record.
func (p *Progress) do(ev Event) (Event, error) {
	if err := p.Apply(ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// TickEvent builds the event ticking (or unticking) check i of stepID.
func (p *Progress) TickEvent(stepID string, i int, ticked bool) Event {
	return Event{Type: EventStepCheck, Step: stepID, Index: i, Label: p.label(stepID, EventStepCheck, i), Ticked: ticked}
}

// AnswerEvent builds the event answering evidence prompt i of stepID.
func (p *Progress) AnswerEvent(stepID string, i int, text string) Event {
	return Event{Type: EventStepEvidence, Step: stepID, Index: i, Label: p.label(stepID, EventStepEvidence, i), Text: strings.TrimSpace(text)}
}

// Tick ticks or unticks check i of the current step and returns the event.
func (p *Progress) Tick(stepID string, i int, ticked bool) (Event, error) {
	return p.do(p.TickEvent(stepID, i, ticked))
}

// Answer records an evidence answer (trimmed, not empty) and returns the event.
func (p *Progress) Answer(stepID string, i int, text string) (Event, error) {
	return p.do(p.AnswerEvent(stepID, i, text))
}

// Confirm records custodian's confirmation of the current step.
func (p *Progress) Confirm(stepID, custodian string) (Event, error) {
	return p.do(Event{Type: EventStepConfirmed, Step: stepID, Custodian: custodian})
}

// Complete completes the current step; it fails with an *IncompleteError
// listing what is missing.
func (p *Progress) Complete(stepID string) (Event, error) {
	return p.do(Event{Type: EventStepCompleted, Step: stepID})
}

// Skip skips the current step; reason must not be blank.
func (p *Progress) Skip(stepID, reason string) (Event, error) {
	return p.do(Event{Type: EventStepSkipped, Step: stepID, Text: strings.TrimSpace(reason)})
}
