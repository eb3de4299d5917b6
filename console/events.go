package console

// Journal event types the service records itself, beside the session's
// (runbook/session) and the journal's (audit). They are kept here, in one
// place, until one schema declares every event type.
const (
	eventWarningAcknowledged = "preflight.warning_acknowledged"
	eventClockConfirmed      = "preflight.clock_confirmed"
	eventVaultMarkFailed     = "vault.mark_revealed_failed"
	eventReportExported      = "report.exported"
	eventProcessGuards       = "process.guards"
	eventPINRejected         = "quorum.pin_rejected"
)
