package console

import "breakglass/internal/events"

// Journal event types the service records itself, beside the session's
// (runbook/session) and the journal's (audit). Every name is declared once,
// in internal/events.
const (
	eventWarningAcknowledged = events.PreflightWarningAcknowledged
	eventClockConfirmed      = events.PreflightClockConfirmed
	eventVaultMarkFailed     = events.VaultMarkRevealedFailed
	eventReportExported      = events.ReportExported
	eventProcessGuards       = events.ProcessGuards
	eventPINRejected         = events.QuorumPINRejected
)
