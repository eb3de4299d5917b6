package events

import (
	"fmt"
	"slices"
	"time"

	"breakglass/runbook"
)

// JournalCreatedData is the data of JournalCreated.
type JournalCreatedData struct {
	Session string `json:"session"` // session id
	Genesis any    `json:"genesis,omitempty"`
}

// JournalRepairedData is the data of JournalRepaired.
type JournalRepairedData struct {
	Line          int    `json:"line"`           // the removed line's number
	Offset        int64  `json:"offset"`         // where it started
	RemovedBytes  int64  `json:"removed_bytes"`  // how many bytes were removed
	RemovedSHA256 string `json:"removed_sha256"` // SHA-256 hex of the removed bytes
	SavedAs       string `json:"saved_as"`       // file beside the journal holding them
	Reason        string `json:"reason"`
}

// StationData is the data of StationInfo.
type StationData struct {
	BinaryVersion    string `json:"binary_version"`
	BinarySHA256     string `json:"binary_sha256"`
	VaultFingerprint string `json:"vault_fingerprint"`
	// AttestationRoot is "yubico", or "TEST/non-production: <subject>" when
	// a test root was allowed by an explicit flag.
	AttestationRoot string `json:"attestation_root"`
}

// ProcessGuardsData is the data of ProcessGuards: one line per guard.
type ProcessGuardsData struct {
	Guards []string `json:"guards"`
}

// WarningAcknowledgedData is the data of PreflightWarningAcknowledged.
type WarningAcknowledgedData struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// ClockConfirmedData is the data of PreflightClockConfirmed. Shown is
// RFC 3339 UTC.
type ClockConfirmedData struct {
	Shown   string `json:"shown"`
	Correct bool   `json:"correct"`
}

// PINRejectedData is the data of QuorumPINRejected. RetriesLeft is set for
// a wrong PIN; Reason is "wrong PIN" or "PIN blocked".
type PINRejectedData struct {
	Custodian   string `json:"custodian"`
	Serial      uint32 `json:"serial"`
	Reason      string `json:"reason"`
	RetriesLeft *int   `json:"retries_left,omitempty"`
}

// MarkRevealedFailedData is the data of VaultMarkRevealedFailed. Error
// never holds secret material.
type MarkRevealedFailedData struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// ReportExportedData is the data of ReportExported.
type ReportExportedData struct {
	Files []string `json:"files"`
}

// RunbookRef identifies the runbook a session follows.
type RunbookRef struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// Started is the data of SessionStarted. Source is the runbook text, so the
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

// Preflight is the data of PreflightCompleted.
type Preflight struct {
	At     time.Time        `json:"at"`
	Checks []PreflightCheck `json:"checks"`
	Passed bool             `json:"passed"`
}

// Declared is the data of SessionDeclared.
type Declared struct {
	At        time.Time `json:"at"`
	Operator  string    `json:"operator"`
	Ticket    string    `json:"ticket"`
	WhatBroke string    `json:"what_broke"`
}

// Custodian is a custodian who presented their key.
type Custodian struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Serial uint32 `json:"serial"`
}

// CustodianEvent is the data of QuorumCustodian. WindowExpires is set on the
// event that completes the quorum.
type CustodianEvent struct {
	At time.Time `json:"at"`
	Custodian
	WindowExpires time.Time `json:"window_expires,omitzero"`
}

// Mode says what is done with a secret after a reveal.
type Mode string

const (
	// ModeShow: the secret is decrypted and shown to the operator (live).
	ModeShow Mode = "show"
	// ModeCheck: the secret is decrypted and parsed, never shown (drill).
	ModeCheck Mode = "check"
)

// Reveal is the data of SecretRevealed and SecretChecked.
type Reveal struct {
	At   time.Time `json:"at"`
	Name string    `json:"name"`
	Step string    `json:"step"`
	Mode Mode      `json:"mode"`
	// SealedAt is the sealed version of the secret (RFC 3339), when the
	// recorder gives it; the report copies it.
	SealedAt string `json:"sealed_at,omitempty"`
}

// CheckResult is the data of SecretCheckResult. Detail never contains
// secret material.
type CheckResult struct {
	At     time.Time `json:"at"`
	Name   string    `json:"name"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
}

// WindowExpiredData is the data of WindowExpired.
type WindowExpiredData struct {
	At        time.Time `json:"at"`
	ExpiredAt time.Time `json:"expired_at"`
}

// Reauthorised is the data of WindowReauthorised.
type Reauthorised struct {
	At            time.Time   `json:"at"`
	Custodians    []Custodian `json:"custodians"`
	WindowExpires time.Time   `json:"window_expires"`
}

// StepEvent is the data of the step events: a runbook.Event (its Type
// travels as the journal event type) plus At.
type StepEvent struct {
	At time.Time `json:"at"`
	runbook.Event
}

// ConfirmationData is the data of StepConfirmationSigned.
type ConfirmationData struct {
	Step        string `json:"step"`
	Custodian   string `json:"custodian"`
	Serial      uint32 `json:"serial"`
	JournalHead string `json:"journal_head"` // hash of an earlier entry: what the custodian saw
	Digest      string `json:"digest"`       // hex of audit.ConfirmationDigest
	Signature   []byte `json:"signature"`    // ASN.1 DER ECDSA by the custodian's signing key (base64 in JSON)
}

// CloseOutAnswer is the data of CloseOutAnswered. For a yes/no question
// YesNo is "yes" or "no" and Text (the detail) is required when "yes"; for
// other questions Text is required and YesNo empty.
type CloseOutAnswer struct {
	At       time.Time `json:"at"`
	Question string    `json:"question"`
	YesNo    string    `json:"yes_no,omitempty"`
	Text     string    `json:"text,omitempty"`
}

// CloseOutCompletedData is the data of CloseOutCompleted.
type CloseOutCompletedData struct {
	At time.Time `json:"at"`
}

// Signature is the data of ReportSigned. Digest is the hex digest of what
// was signed, for traceability.
type Signature struct {
	At        time.Time `json:"at"`
	Custodian string    `json:"custodian"`
	Serial    uint32    `json:"serial"`
	Digest    string    `json:"digest,omitempty"`
}

// Locked is the data of SessionLocked.
type Locked struct {
	At time.Time `json:"at"`
}

// Aborted is the data of SessionAborted.
type Aborted struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	Phase  Phase     `json:"phase"`
}

// Phase is where a session is; it is recorded (by name) in Aborted.
type Phase int

// Phases in order; Aborted can follow any phase before Locked.
const (
	PhasePreflight Phase = iota
	PhaseDeclare
	PhaseQuorum
	PhaseSteps
	PhaseCloseOut
	PhaseSign
	PhaseLocked
	PhaseAborted
)

var phaseNames = []string{"preflight", "declare", "quorum", "steps", "closeout", "sign", "locked", "aborted"}

// String names p ("steps"), or "Phase(n)" for an undefined value.
func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// MarshalText writes the phase name.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a phase name; an unknown name is an error.
func (p *Phase) UnmarshalText(b []byte) error {
	i := slices.Index(phaseNames, string(b))
	if i < 0 {
		return fmt.Errorf("unknown phase %q", b)
	}
	*p = Phase(i)
	return nil
}
