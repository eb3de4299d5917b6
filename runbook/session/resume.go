package session

import (
	"bytes"
	"encoding/json"
	"fmt"

	"breakglass/runbook"
)

// RecordedEvent is one event read back from the journal: its type and its
// data as recorded (JSON).
type RecordedEvent struct {
	Actor string
	Type  string
	Data  json.RawMessage
}

// decoders maps each engine event type to a fresh data value.
var decoders = map[string]func() transition{
	EventPreflight:         func() transition { return &Preflight{} },
	EventDeclared:          func() transition { return &Declared{} },
	EventAnnounced:         func() transition { return &Announced{} },
	EventCustodian:         func() transition { return &CustodianEvent{} },
	EventRevealed:          func() transition { return &Reveal{} },
	EventChecked:           func() transition { return &Reveal{} },
	EventCheckResult:       func() transition { return &CheckResult{} },
	EventWindowExpired:     func() transition { return &WindowExpired{} },
	EventReauthorised:      func() transition { return &Reauthorised{} },
	EventStepCheck:         func() transition { return &StepEvent{} },
	EventStepEvidence:      func() transition { return &StepEvent{} },
	EventStepConfirmed:     func() transition { return &StepEvent{} },
	EventStepCompleted:     func() transition { return &StepEvent{} },
	EventStepSkipped:       func() transition { return &StepEvent{} },
	EventCloseOutAnswered:  func() transition { return &CloseOutAnswer{} },
	EventCloseOutCompleted: func() transition { return &CloseOutCompleted{} },
	EventSigned:            func() transition { return &Signature{} },
	EventLocked:            func() transition { return &Locked{} },
	EventAborted:           func() transition { return &Aborted{} },
}

// Resume rebuilds a session from the events recorded so far, in journal
// order, so a killed session can be continued, or closed with Abort.
//
// The first engine event must be EventStarted. Threshold, window and drill
// come from it; cfg.Threshold, cfg.Window and cfg.Drill are ignored. The
// runbook is cfg.Runbook, which must have the recorded SHA-256, or, when
// cfg.Runbook is nil, the source recorded in EventStarted. cfg.Recorder and
// cfg.Now are required: later actions are recorded through them. Events of
// types the engine does not define (recorded by other components) are
// skipped; an engine event that does not decode or is not allowed where it
// stands fails with ErrBadJournal, naming its position.
func Resume(cfg Config, events []RecordedEvent) (*Session, error) {
	if cfg.Recorder == nil || cfg.Now == nil {
		return nil, fmt.Errorf("%w: resuming needs a recorder and a clock", ErrConfig)
	}
	var s *Session
	for i, ev := range events {
		if ev.Type == EventStarted {
			if s != nil {
				return nil, fmt.Errorf("event %d: second %s: %w", i, EventStarted, ErrBadJournal)
			}
			var err error
			if s, err = resumeStart(cfg, ev); err != nil {
				return nil, fmt.Errorf("event %d: %w", i, err)
			}
			continue
		}
		mk, ok := decoders[ev.Type]
		if !ok {
			continue
		}
		if s == nil {
			return nil, fmt.Errorf("event %d (%s) before %s: %w", i, ev.Type, EventStarted, ErrBadJournal)
		}
		d := mk()
		if err := decodeStrict(ev.Data, d); err != nil {
			return nil, fmt.Errorf("event %d (%s): decoding data: %v: %w", i, ev.Type, err, ErrBadJournal)
		}
		switch d := d.(type) {
		case *StepEvent:
			d.Type = ev.Type
		case *Reveal:
			if (ev.Type == EventChecked) != (d.Mode == ModeCheck) {
				return nil, fmt.Errorf("event %d: %s with mode %q: %w", i, ev.Type, d.Mode, ErrBadJournal)
			}
		}
		if err := d.validate(s); err != nil {
			return nil, fmt.Errorf("event %d (%s) not allowed here: %w: %w", i, ev.Type, err, ErrBadJournal)
		}
		d.apply(s)
	}
	if s == nil {
		return nil, fmt.Errorf("no %s event: %w", EventStarted, ErrBadJournal)
	}
	return s, nil
}

func resumeStart(cfg Config, ev RecordedEvent) (*Session, error) {
	var d Started
	if err := decodeStrict(ev.Data, &d); err != nil {
		return nil, fmt.Errorf("decoding %s: %v: %w", EventStarted, err, ErrBadJournal)
	}
	rb := cfg.Runbook
	if rb == nil {
		var err error
		if rb, err = runbook.Parse(d.Runbook.Name, []byte(d.Source)); err != nil {
			return nil, fmt.Errorf("parsing the runbook recorded in the journal: %w", err)
		}
	}
	if rb.SHA256 != d.Runbook.SHA256 {
		return nil, fmt.Errorf("runbook %q has SHA-256 %s but the session recorded %s; resume with the runbook the session started with (or none, to use the recorded copy): %w", rb.Name, rb.SHA256, d.Runbook.SHA256, ErrBadJournal)
	}
	s := newSession(rb, cfg.Recorder, cfg.Now)
	if err := d.validate(s); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrBadJournal)
	}
	d.apply(s)
	return s, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
