package session

import (
	"breakglass/runbook"
	"time"
)

// Journal event types recorded by the engine. Each is recorded with the data
// struct named beside it, as JSON; Resume reads them back. Every data struct
// carries At, the engine clock (UTC) when the action was taken.
const (
	// EventStarted opens a session: runbook identity and full source,
	// threshold, unlock window, drill flag. Data: Started. Actor: "system".
	EventStarted = "session.started"
	// EventPreflight records the preflight results and whether they passed.
	// Data: Preflight. Actor: "system".
	EventPreflight = "preflight.completed"
	// EventDeclared declares the incident. Data: Declared. Actor: operator.
	EventDeclared = "session.declared"
	// EventCustodian records one custodian accepted into the quorum; the one
	// that completes it carries the unlock window expiry. Data: Custodian.
	// Actor: custodian id.
	EventCustodian = "quorum.custodian"
	// EventRevealed records that a secret is about to be shown to the
	// operator (live mode). Data: Reveal. Actor: operator.
	EventRevealed = "secret.revealed"
	// EventChecked records that a secret is about to be decrypted and
	// checked but not shown (drill mode). Data: Reveal. Actor: operator.
	EventChecked = "secret.checked"
	// EventCheckResult records whether a revealed or checked secret
	// decrypted and parsed. Data: CheckResult. Actor: "system".
	EventCheckResult = "secret.check_result"
	// EventWindowExpired records that the unlock window ran out. Data:
	// WindowExpired. Actor: "system".
	EventWindowExpired = "window.expired"
	// EventReauthorised opens a new unlock window after a fresh quorum.
	// Data: Reauthorised. Actor: operator.
	EventReauthorised = "window.reauthorised"
	// Step events: data StepEvent (a runbook.Event plus At). Actor: the
	// operator, or the confirming custodian for step.confirmed.
	EventStepCheck     = runbook.EventStepCheck
	EventStepEvidence  = runbook.EventStepEvidence
	EventStepConfirmed = runbook.EventStepConfirmed
	EventStepCompleted = runbook.EventStepCompleted
	EventStepSkipped   = runbook.EventStepSkipped
	// EventCloseOutAnswered answers one close-out question; a later answer
	// replaces an earlier one. Data: CloseOutAnswer. Actor: operator.
	EventCloseOutAnswered = "closeout.answered"
	// EventCloseOutCompleted ends the close-out once every question is
	// answered. Data: CloseOutCompleted. Actor: operator.
	EventCloseOutCompleted = "closeout.completed"
	// EventSigned records one custodian's signature on the report. Data:
	// Signature. Actor: custodian id.
	EventSigned = "report.signed"
	// EventLocked ends the session after enough signatures. Data: Locked.
	// Actor: operator.
	EventLocked = "session.locked"
	// EventAborted ends the session early with a reason. Data: Aborted.
	EventAborted = "session.aborted"
)

// RunbookRef identifies the runbook a session follows.
type RunbookRef struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// Started is the data of EventStarted. Source is the runbook text, so the
// journal alone says exactly what the operator was asked to do.
type Started struct {
	At            time.Time  `json:"at"`
	Runbook       RunbookRef `json:"runbook"`
	Source        string     `json:"source"`
	Threshold     int        `json:"threshold"`
	WindowSeconds int64      `json:"window_seconds"`
	Drill         bool       `json:"drill"`
}

// PreflightCheck is one preflight result. A failed check blocks the session
// unless Advisory is set (it is then only recorded and shown).
type PreflightCheck struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Advisory bool   `json:"advisory,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Preflight is the data of EventPreflight.
type Preflight struct {
	At     time.Time        `json:"at"`
	Checks []PreflightCheck `json:"checks"`
	Passed bool             `json:"passed"`
}

// Declared is the data of EventDeclared.
type Declared struct {
	At        time.Time `json:"at"`
	Operator  string    `json:"operator"`
	Ticket    string    `json:"ticket"`
	WhatBroke string    `json:"what_broke"`
}

// Custodian is a custodian who presented their key. The engine trusts the
// caller (vault) to have verified PIN, key and attestation before adding it.
type Custodian struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Serial uint32 `json:"serial"`
}

// CustodianEvent is the data of EventCustodian. WindowExpires is set on the
// event that completes the quorum.
type CustodianEvent struct {
	At time.Time `json:"at"`
	Custodian
	WindowExpires time.Time `json:"window_expires,omitzero"`
}

// Mode says what the caller must do with a secret after Reveal.
type Mode string

const (
	// ModeShow: decrypt the secret and show it to the operator.
	ModeShow Mode = "show"
	// ModeCheck: decrypt and parse the secret, report the result with
	// CheckResult, never show it (drill mode).
	ModeCheck Mode = "check"
)

// Reveal is the data of EventRevealed and EventChecked, and what Reveal
// returns: the secret name, the step, and whether to show or only check it.
type Reveal struct {
	At   time.Time `json:"at"`
	Name string    `json:"name"`
	Step string    `json:"step"`
	Mode Mode      `json:"mode"`
}

// CheckResult is the data of EventCheckResult. Detail must never contain
// secret material.
type CheckResult struct {
	At     time.Time `json:"at"`
	Name   string    `json:"name"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
}

// WindowExpired is the data of EventWindowExpired.
type WindowExpired struct {
	At        time.Time `json:"at"`
	ExpiredAt time.Time `json:"expired_at"`
}

// Reauthorised is the data of EventReauthorised.
type Reauthorised struct {
	At            time.Time   `json:"at"`
	Custodians    []Custodian `json:"custodians"`
	WindowExpires time.Time   `json:"window_expires"`
}

// StepEvent is the data of the step.* events.
type StepEvent struct {
	At time.Time `json:"at"`
	runbook.Event
}

// CloseOutAnswer is the data of EventCloseOutAnswered. For a yes/no
// question YesNo is "yes" or "no" and Text (the detail) is required when
// "yes"; for other questions Text is required and YesNo empty.
type CloseOutAnswer struct {
	At       time.Time `json:"at"`
	Question string    `json:"question"`
	YesNo    string    `json:"yes_no,omitempty"`
	Text     string    `json:"text,omitempty"`
}

// Signature is the data of EventSigned. Digest is the hex digest of what
// was signed, for traceability.
type Signature struct {
	At        time.Time `json:"at"`
	Custodian string    `json:"custodian"`
	Serial    uint32    `json:"serial"`
	Digest    string    `json:"digest,omitempty"`
}

// CloseOutCompleted is the data of EventCloseOutCompleted.
type CloseOutCompleted struct {
	At time.Time `json:"at"`
}

// Locked is the data of EventLocked.
type Locked struct {
	At time.Time `json:"at"`
}

// Aborted is the data of EventAborted.
type Aborted struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	Phase  Phase     `json:"phase"`
}
