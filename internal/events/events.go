// Package events is the one schema of breakglass's journal: the type name
// of every event and the Go struct of its data, declared once here. The
// session engine (runbook/session) and the console write them; audit reads
// them back to build and verify the report, and session.Resume reads them
// back to rebuild a session. Both interpret an event through the struct
// declared here, so writer and readers cannot drift apart.
//
// Every data struct encodes as a JSON object (the journal's data field).
// Readers that must understand everything (Resume) decode strictly; readers
// that need a part (the report) decode leniently, but through the same
// struct. Data names secrets, never carries them: audit refuses data with a
// field named like a secret (pin, password, seed, …).
//
// The step.* names and their data (runbook.Event) belong to package
// runbook, whose Progress replays them; they are re-exported here so that
// this package lists every event.
package events

import "breakglass/runbook"

// Event types, by the component that records them. Each names its data
// struct; "Actor" is the journal entry's actor.
const (
	// JournalCreated is the first entry of every journal, written by the
	// journal itself. Data: JournalCreatedData. Actor "breakglass".
	JournalCreated = "journal.created"
	// JournalRepaired records that a torn last line was cut off on open.
	// Data: JournalRepairedData. Actor "breakglass".
	JournalRepaired = "journal.repaired"

	// StationInfo identifies the station, binary and vault, recorded by the
	// command at session start. Data: StationData.
	StationInfo = "station.info"
	// ProcessGuards records which process guards are on. Data: ProcessGuardsData.
	ProcessGuards = "process.guards"
	// PreflightWarningAcknowledged records the operator accepting an
	// advisory preflight failure. Data: WarningAcknowledgedData. Actor operator.
	PreflightWarningAcknowledged = "preflight.warning_acknowledged"
	// PreflightClockConfirmed records the operator's answer to "is this
	// clock right?". Data: ClockConfirmedData. Actor operator.
	PreflightClockConfirmed = "preflight.clock_confirmed"

	// SessionStarted opens a session: runbook identity and full source,
	// threshold, unlock window, drill flag. Data: Started. Actor "system".
	SessionStarted = "session.started"
	// PreflightCompleted records the preflight results. Data: Preflight.
	// Actor "system".
	PreflightCompleted = "preflight.completed"
	// SessionDeclared declares the incident. Data: Declared. Actor operator.
	SessionDeclared = "session.declared"
	// SessionAnnounced records how the announce code was relayed to the
	// security on-call: who acknowledged it and when, or that no one could
	// be reached and why. At most one per session, after SessionDeclared and
	// before the first QuorumCustodian. Data: Announced. Actor operator.
	SessionAnnounced = "session.announced"
	// QuorumCustodian records one custodian accepted into the quorum; the
	// one completing it carries the window expiry. Data: CustodianEvent.
	// Actor: custodian id.
	QuorumCustodian = "quorum.custodian"
	// QuorumPINRejected records a wrong or blocked PIN at the quorum. Data:
	// PINRejectedData. Actor: custodian id.
	QuorumPINRejected = "quorum.pin_rejected"
	// QuorumLastPINTryConfirmed records that a key's custodian confirmed, on
	// screen, spending the key's last PIN try on the next PIN operation (at
	// the quorum, a step confirmation or the report signature). Data:
	// LastPINTryConfirmedData. Actor: custodian id.
	QuorumLastPINTryConfirmed = "quorum.last_pin_try_confirmed"
	// SecretRevealed records that a secret is about to be shown (live).
	// Data: Reveal (Mode ModeShow). Actor operator.
	SecretRevealed = "secret.revealed"
	// SecretChecked records that a secret is about to be decrypted and
	// checked, never shown (drill). Data: Reveal (Mode ModeCheck).
	SecretChecked = "secret.checked"
	// SecretCheckResult says whether a revealed or checked secret decrypted
	// and parsed. Data: CheckResult. Actor "system".
	SecretCheckResult = "secret.check_result"
	// VaultMarkRevealedFailed records that the vault's "revealed" mark
	// could not be saved. Data: MarkRevealedFailedData.
	VaultMarkRevealedFailed = "vault.mark_revealed_failed"
	// WindowExpired records that the unlock window ran out. Data:
	// WindowExpiredData. Actor "system".
	WindowExpired = "window.expired"
	// WindowReauthorised opens a new window after a fresh quorum. Data:
	// Reauthorised. Actor operator.
	WindowReauthorised = "window.reauthorised"

	// Step events (package runbook). Data: StepEvent. Actor operator, or
	// the confirming custodian for StepConfirmed.
	StepCheck     = runbook.EventStepCheck
	StepEvidence  = runbook.EventStepEvidence
	StepConfirmed = runbook.EventStepConfirmed
	StepCompleted = runbook.EventStepCompleted
	StepSkipped   = runbook.EventStepSkipped
	// StepConfirmationSigned is what a custodian's key signs to confirm a
	// step; it precedes StepConfirmed. Data: ConfirmationData. Actor:
	// custodian id.
	StepConfirmationSigned = "step.confirmation_signed"

	// CloseOutAnswered answers one close-out question; a later answer
	// replaces an earlier one. Data: CloseOutAnswer. Actor operator.
	CloseOutAnswered = "closeout.answered"
	// CloseOutCompleted ends the close-out. Data: CloseOutCompletedData.
	CloseOutCompleted = "closeout.completed"
	// ReportSigned records one custodian's signature on the report. Data:
	// Signature. Actor: custodian id.
	ReportSigned = "report.signed"
	// ReportExported records the files the report was exported to. Data:
	// ReportExportedData. Actor operator.
	ReportExported = "report.exported"
	// SessionLocked ends the session after enough signatures. Data: Locked.
	SessionLocked = "session.locked"
	// SessionAborted ends the session early with a reason. Data: Aborted.
	SessionAborted = "session.aborted"

	// VaultRekeyed records that "vault rekey" wrote the next roster
	// version, signed by all its custodians and endorsed by a threshold of
	// the session's roster. Data: Rekeyed. Actor "system".
	VaultRekeyed = "vault.rekeyed"
)

// StepPrefix starts the type of every step event (StepCheck …
// StepConfirmationSigned).
const StepPrefix = "step."
