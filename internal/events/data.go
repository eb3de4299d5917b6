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
// a wrong PIN (0: this attempt blocked the key); Reason is "wrong PIN" or
// "PIN blocked" (the key was already blocked; no PIN was sent). Operation
// is what the PIN was for: "unlock", "confirm" or "sign" ("" in journals
// written before it was recorded).
type PINRejectedData struct {
	Custodian   string `json:"custodian"`
	Serial      uint32 `json:"serial"`
	Reason      string `json:"reason"`
	RetriesLeft *int   `json:"retries_left,omitempty"`
	Operation   string `json:"operation,omitempty"`
}

// LastPINTryConfirmedData is the data of QuorumLastPINTryConfirmed:
// Retries is the counter the key reported when the custodian confirmed (1).
type LastPINTryConfirmedData struct {
	Custodian string `json:"custodian"`
	Serial    uint32 `json:"serial"`
	Retries   int    `json:"retries"`
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
	// Rekey marks a "breakglass vault rekey" session (no runbook: Runbook
	// names the command and its Source is empty).
	Rekey bool `json:"rekey,omitempty"`
}

// Rekeyed is the data of VaultRekeyed: the roster version the rekey made
// from the session's vault, and what changed (as vault.RosterChange). The
// new roster itself, with its signatures and endorsements, is in the report.
type Rekeyed struct {
	At             time.Time `json:"at"`
	OldDigest      string    `json:"old_roster_digest"` // hex RosterDigest of the vault opened
	NewDigest      string    `json:"new_roster_digest"` // hex RosterDigest of the version written
	NewFingerprint string    `json:"new_fingerprint"`
	Version        int       `json:"version"`   // the new roster's number
	VaultKey       string    `json:"vault_key"` // "new" or "reshared" (vault.RosterChange.Identity)
	Reason         string    `json:"reason"`
	Added          []string  `json:"added"`
	Removed        []string  `json:"removed"`
	KeysAdded      []uint32  `json:"keys_added"`
	KeysRemoved    []uint32  `json:"keys_removed"`
	ThresholdFrom  int       `json:"threshold_from"`
	ThresholdTo    int       `json:"threshold_to"`
	Out            string    `json:"out"` // the file written (base name)
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

// Announced is the data of SessionAnnounced. AnnounceCode is the code shown
// (internal/announce, canonical form, no separator; the field is not named
// "code", which the journal refuses as secret-like). Reached: By is the
// on-call who acknowledged and ToldAt when the operator says they were told;
// not reached: By is "", ToldAt is when the operator gave up and Note says
// why. At is the engine clock when it was recorded.
type Announced struct {
	At           time.Time `json:"at"`
	AnnounceCode string    `json:"announce_code"`
	Reached      bool      `json:"reached"`
	By           string    `json:"by"`
	ToldAt       time.Time `json:"told_at"`
	Note         string    `json:"note"`
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
	// Version is the attributed seal record's version revealed, SealRecord
	// its hex SHA-256 (vault.SealDigest) and SealedBy the sealer's roster
	// id; zero and empty when not recorded (journals older than seal
	// records). A reveal of a lower version, or of another record for a
	// version already seen, is a rollback.
	Version    int    `json:"version,omitempty"`
	SealRecord string `json:"seal_record,omitempty"`
	SealedBy   string `json:"sealed_by,omitempty"`
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
