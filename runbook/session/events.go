package session

import "breakglass/internal/events"

// Journal event types recorded by the engine: the names of the one journal
// schema, internal/events, under the engine's historical identifiers. Each
// is recorded with the data struct named beside it, as JSON; Resume reads
// them back. Every data struct carries At, the engine clock (UTC) when the
// action was taken. Actors are as internal/events documents them.
const (
	EventStarted           = events.SessionStarted     // data Started
	EventPreflight         = events.PreflightCompleted // data Preflight
	EventDeclared          = events.SessionDeclared    // data Declared
	EventCustodian         = events.QuorumCustodian    // data CustodianEvent
	EventRevealed          = events.SecretRevealed     // data Reveal (ModeShow)
	EventChecked           = events.SecretChecked      // data Reveal (ModeCheck)
	EventCheckResult       = events.SecretCheckResult  // data CheckResult
	EventWindowExpired     = events.WindowExpired      // data WindowExpired
	EventReauthorised      = events.WindowReauthorised // data Reauthorised
	EventStepCheck         = events.StepCheck          // data StepEvent
	EventStepEvidence      = events.StepEvidence       // data StepEvent
	EventStepConfirmed     = events.StepConfirmed      // data StepEvent
	EventStepCompleted     = events.StepCompleted      // data StepEvent
	EventStepSkipped       = events.StepSkipped        // data StepEvent
	EventCloseOutAnswered  = events.CloseOutAnswered   // data CloseOutAnswer
	EventCloseOutCompleted = events.CloseOutCompleted  // data CloseOutCompleted
	EventSigned            = events.ReportSigned       // data Signature
	EventLocked            = events.SessionLocked      // data Locked
	EventAborted           = events.SessionAborted     // data Aborted
)

// Plain parts of event data, shared as they are.
type (
	// RunbookRef identifies the runbook a session follows.
	RunbookRef = events.RunbookRef
	// PreflightCheck is one preflight result.
	PreflightCheck = events.PreflightCheck
	// Custodian is a custodian who presented their key. The engine trusts
	// the caller (vault) to have verified PIN, key and attestation before
	// adding it.
	Custodian = events.Custodian
	// Mode says what the caller must do with a secret after Reveal.
	Mode = events.Mode
)

// Reveal modes.
const (
	// ModeShow: decrypt the secret and show it to the operator.
	ModeShow = events.ModeShow
	// ModeCheck: decrypt and parse the secret, report the result with
	// CheckResult, never show it (drill mode).
	ModeCheck = events.ModeCheck
)

// Event data the engine validates and applies (transitions.go). Each is the
// internal/events struct of the same event, as a type of this package so
// that it can carry the engine's validate and apply methods; its JSON is
// exactly the events struct's.
type (
	Started           events.Started
	Preflight         events.Preflight
	Declared          events.Declared
	CustodianEvent    events.CustodianEvent
	Reveal            events.Reveal // also what Session.Reveal returns
	CheckResult       events.CheckResult
	WindowExpired     events.WindowExpiredData
	Reauthorised      events.Reauthorised
	StepEvent         events.StepEvent
	CloseOutAnswer    events.CloseOutAnswer
	CloseOutCompleted events.CloseOutCompletedData
	Signature         events.Signature
	Locked            events.Locked
	Aborted           events.Aborted
)
