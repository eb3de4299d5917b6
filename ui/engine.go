// Package ui is the breakglass console: bubbletea v2 screens that walk an
// operator and the custodians through preflight, incident declaration,
// the announcement to the security on-call, quorum, the runbook, close-out,
// signing and lock.
//
// The package never touches hardware, the vault, the journal or the runbook
// file itself. Each screen declares the few Engine methods it calls beside
// itself (PreflightEngine, QuorumEngine, …); [Engine] composes them and is
// what the command wires the real session to; tests use fakes.
// Every Engine call that may wait on a YubiKey (PIN, touch) runs inside a
// tea.Cmd and comes back as a typed result message, so the screen stays live
// and can tell the custodian to touch the key.
//
// The contract for errors is typed: the screens branch with errors.Is on the
// sentinels below (ErrNotOnRoster, …) and errors.As on *WrongPINError, so an
// Engine adapter must wrap its own errors with %w around these values.
package ui

import (
	"errors"
	"fmt"
	"time"
)

// Engine is everything the console needs from a breakglass session: the
// small interfaces each screen declares beside itself, composed. The session
// service implements it; tests use fakes of the parts a test drives.
//
// Every method that records something (acknowledge, declare, tick, answer,
// …) must have journaled it durably before returning nil; the UI moves on
// only then. Methods taking a context may block on a YubiKey and are only
// called from tea.Cmds (goroutines), never from Update or View; the other
// methods are called from Update and View and must return quickly. An
// Engine must therefore be safe for concurrent use: ConnectedKeys is polled
// every second while AddCustodian waits for a touch, and View reads Quorum,
// Steps and WindowExpires meanwhile. A cancelled context must abort the
// operation without counting or signing anything (a removed key cancels its
// step). Every method that may wait for a touch calls TouchNotice(ctx)() the
// moment it does.
//
// Every string an Engine returns (names, ids, titles, instructions, errors)
// is treated as untrusted: the console renders it inert (see inertEngine).
type Engine interface {
	SessionEngine
	PreflightEngine
	DeclareEngine
	AnnounceEngine
	QuorumEngine
	PINEngine
	RunbookEngine
	RevealEngine
	CloseOutEngine
	SignEngine
}

// SessionEngine is what the root model needs across screens.
type SessionEngine interface {
	// Mode reports the banners to show.
	Mode() Mode
	// WindowExpires is when the current unlock window closes (zero if none).
	WindowExpires() time.Time
	// Reauthorise is called when the unlock window has expired: the engine
	// locks and wipes revealed secrets and clears the count; AddCustodian then
	// counts custodians again and reaching quorum opens a new window.
	Reauthorise() QuorumState
	// Lock wipes every secret and ends the session.
	Lock() Summary
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
	// ErrLastPINTry: the key has one PIN try left and its custodian has not
	// confirmed using it (PINEngine.ConfirmLastPINTry); the PIN was not sent.
	ErrLastPINTry = errors.New("one PIN try left and the custodian has not confirmed using it")
)

// WrongPINError is a rejected PIN; Retries is how many tries remain.
type WrongPINError struct{ Retries int }

// Error says the PIN was wrong and how many tries remain.
func (e *WrongPINError) Error() string {
	return fmt.Sprintf("wrong PIN (%d retries left)", e.Retries)
}
