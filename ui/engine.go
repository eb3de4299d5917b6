// Package ui is the breakglass console: bubbletea v2 screens that walk an
// operator and the custodians through preflight, incident declaration,
// quorum, the runbook, close-out, signing and lock.
//
// The package never touches hardware, the vault, the journal or the runbook
// file itself. Everything it needs from the domain is the [Engine] interface
// declared here; the command wires the real session to it, tests use fakes.
// Every Engine call that may wait on a YubiKey (PIN, touch) runs inside a
// tea.Cmd and comes back as a typed result message, so the screen stays live
// and can tell the custodian to touch the key.
//
// The contract for errors is typed: the screens branch with errors.Is on the
// sentinels below (ErrNotOnRoster, …) and errors.As on *WrongPINError, so an
// Engine adapter must wrap its own errors with %w around these values.
package ui

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Engine is what the console needs from a breakglass session. Every method
// that records something (acknowledge, declare, tick, answer, …) must have
// journaled it durably before returning nil; the UI moves on only then.
// Methods taking a context may block on a YubiKey and are only called from
// tea.Cmds (goroutines), never from Update or View; the other methods are
// called from Update and View and must return quickly. An Engine must
// therefore be safe for concurrent use: ConnectedKeys is polled every second
// while AddCustodian waits for a touch, and View reads Quorum, Steps and
// WindowExpires meanwhile. A cancelled context must abort the operation
// without counting or signing anything (a removed key cancels its step).
type Engine interface {
	// Preflight runs the station checks (network, clock, vault signature,
	// runbook hash, PC/SC, report destination, version) and returns them in
	// display order.
	Preflight(ctx context.Context) []Check
	// AcknowledgeWarning journals the operator's reason for going on despite
	// the warning check called name.
	AcknowledgeWarning(name, reason string) error
	// ConfirmClock journals that the operator compared the shown UTC time with
	// a trusted clock: correct reports whether they said it was right.
	ConfirmClock(shown time.Time, correct bool) error
	// Runbook names the runbook this session will follow (title and hash).
	Runbook() string
	// Declare journals the incident declaration.
	Declare(d Declaration) error

	// Quorum reports the custodians counted so far.
	Quorum() QuorumState
	// ConnectedKeys lists the YubiKeys currently inserted.
	ConnectedKeys(ctx context.Context) ([]KeySeen, error)
	// AddCustodian verifies the PIN, attestation and slot key of the key with
	// this serial (the custodian touches it) and counts its custodian. Errors
	// wrap ErrNotOnRoster, ErrAlreadyCounted, ErrAttestationFailed,
	// ErrWrongSlotKey, ErrKeyRemoved, ErrPINBlocked or *WrongPINError.
	AddCustodian(ctx context.Context, serial uint32, pin string) (QuorumState, error)
	// Reauthorise is called when the unlock window has expired: the engine
	// locks and wipes revealed secrets and clears the count; AddCustodian then
	// counts custodians again and reaching quorum opens a new window.
	Reauthorise() QuorumState
	// WindowExpires is when the current unlock window closes (zero if none).
	WindowExpires() time.Time

	// Steps returns the runbook steps with their current state.
	Steps() []StepView
	// Current is the index of the step the operator must do now
	// (len(Steps()) when every step is done or skipped).
	Current() int
	// Tick records check number check of step as done (toggling is not allowed:
	// a recorded tick stays recorded).
	Tick(step, check int) error
	// Answer records evidence number evidence of step.
	Answer(step, evidence int, text string) error
	// Confirm records that custodian (by roster name) confirms step, proven
	// on the custodian's own key: PIN, then touch; it may block. Errors
	// wrap *WrongPINError, ErrPINBlocked or ErrKeyRemoved.
	Confirm(ctx context.Context, step int, custodian, pin string) error
	// Complete finishes step; it fails if checks, evidence or confirmations
	// are missing.
	Complete(step int) error
	// Skip skips step with a recorded reason.
	Skip(step int, reason string) error
	// Reveal decrypts the named credential of step. The caller shows it only
	// on request and calls Secret.Wipe when it hides it again.
	Reveal(ctx context.Context, step int, name string) (Secret, error)

	// CloseOutQuestions are the questions an auditor needs answered.
	CloseOutQuestions() []Question
	// AnswerCloseOut records the answer to question id.
	AnswerCloseOut(id, text string) error
	// MustRotate lists every credential revealed in this session.
	MustRotate() []string

	// Sign signs the report on the key with this serial (PIN, then touch).
	Sign(ctx context.Context, serial uint32, pin string) error
	// Export writes the signed report and its human rendering into dir.
	Export(ctx context.Context, dir string) ([]ExportedFile, error)
	// Lock wipes every secret and ends the session.
	Lock() Summary

	// Mode reports the banners to show.
	Mode() Mode
	// Fingerprint is the vault's short fingerprint, shown before any PIN is
	// typed so custodians can compare it with their printed card.
	Fingerprint() string
}

// Mode is how this session differs from a production break-glass.
type Mode struct {
	Demo     bool // virtual YubiKeys, sample vault
	TestRoot bool // attestation chains to a test root, not Yubico's
	Drill    bool // secrets are checked but never shown
}

// Status is the result of one preflight check.
type Status int

// Check results.
const (
	Pass Status = iota
	Warn
	Fail
)

// String is the word shown beside the symbol, so colour is never the only signal.
func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Check is one preflight result. Detail says what was found and, for Warn and
// Fail, what to do.
type Check struct {
	Name   string
	Status Status
	Detail string
}

// Declaration is what the operator declares before any key is asked for.
type Declaration struct {
	Operator  string
	Ticket    string
	WhatBroke string
}

// Custodian is a counted custodian.
type Custodian struct {
	Name   string
	Serial uint32
}

// QuorumState is the progress towards the quorum.
type QuorumState struct {
	Have, Need int
	Counted    []Custodian
	Remaining  []string // roster names not yet counted
}

// Met reports whether the quorum is reached.
func (q QuorumState) Met() bool { return q.Need > 0 && q.Have >= q.Need }

// KeySeen is an inserted YubiKey.
type KeySeen struct {
	Serial     uint32
	Reader     string
	Custodian  string // roster name, "" when not on the roster
	PINRetries int
	// Refusal is set when the key can already be refused without a PIN
	// (not on roster, already counted); it wraps one of the sentinels.
	Refusal error
}

// StepState is where a runbook step stands.
type StepState int

// Step states.
const (
	StepPending StepState = iota
	StepCurrent
	StepDone
	StepSkipped
)

// StepView is one runbook step as the console shows it.
type StepView struct {
	ID, Title    string
	Instructions string // Markdown
	State        StepState
	Checks       []Item
	Evidence     []Evidence
	Secrets      []string // credential names revealed at this step
	// Confirmers are the custodians who must confirm this step (empty when
	// the step does not need confirmation); Confirmed lists those who have.
	Confirmers []string
	Confirmed  []string
}

// Item is a check to tick.
type Item struct {
	Text string
	Done bool
}

// Evidence is a prompt for recorded evidence.
type Evidence struct {
	Prompt string
	Answer string
}

// SecretKind is what a credential is; TOTP is shown as a live code.
type SecretKind int

// Credential kinds.
const (
	Password SecretKind = iota
	TOTPSeed
	RecoveryCodes
	FreeText
)

// Secret is a decrypted credential, held only while shown.
type Secret struct {
	Name string
	Kind SecretKind
	// Value returns the plaintext (nil in drill mode). The UI never stores it
	// in its model beyond the call to View.
	Value func() []byte
	// TOTP generates codes for a TOTPSeed.
	TOTP TOTP
	// Wipe zeroes the plaintext; the UI calls it when the secret is hidden.
	Wipe func()
	// SealedBy (display name, already made inert), SealedAt and Version
	// are the verified seal of the value shown: "sealed by NAME on DATE,
	// version N". SealedBy is "" in drills and fakes.
	SealedBy string
	SealedAt time.Time
	Version  int
}

// TOTP generates time-based one-time codes.
type TOTP interface {
	Code(now time.Time) string
	Period() time.Duration
}

// Question is one close-out question.
type Question struct {
	ID, Text string
	Answer   string
}

// ExportedFile is a file Export wrote.
type ExportedFile struct {
	Path   string
	SHA256 string // hex
}

// Summary is what Lock reports.
type Summary struct {
	Exported []ExportedFile
	Revealed []string
	Wiped    bool
}

// Errors the custodian and sign screens branch on. Adapters wrap them.
var (
	ErrNotOnRoster       = errors.New("key not on the custodian roster")
	ErrAlreadyCounted    = errors.New("custodian already counted in this quorum")
	ErrAttestationFailed = errors.New("key attestation failed")
	ErrWrongSlotKey      = errors.New("slot key does not match the roster")
	ErrKeyRemoved        = errors.New("key removed")
	ErrPINBlocked        = errors.New("PIN blocked")
)

// WrongPINError is a rejected PIN; Retries is how many tries remain.
type WrongPINError struct{ Retries int }

// Error says the PIN was wrong and how many tries remain.
func (e *WrongPINError) Error() string {
	return fmt.Sprintf("wrong PIN (%d retries left)", e.Retries)
}
