package events

// dataOf maps every event type to a constructor of its data struct.
var dataOf = map[string]func() any{
	JournalCreated:               func() any { return new(JournalCreatedData) },
	JournalRepaired:              func() any { return new(JournalRepairedData) },
	StationInfo:                  func() any { return new(StationData) },
	ProcessGuards:                func() any { return new(ProcessGuardsData) },
	PreflightWarningAcknowledged: func() any { return new(WarningAcknowledgedData) },
	PreflightClockConfirmed:      func() any { return new(ClockConfirmedData) },
	SessionStarted:               func() any { return new(Started) },
	PreflightCompleted:           func() any { return new(Preflight) },
	SessionDeclared:              func() any { return new(Declared) },
	SessionAnnounced:             func() any { return new(Announced) },
	QuorumLastPINTryConfirmed:    func() any { return new(LastPINTryConfirmedData) },
	QuorumCustodian:              func() any { return new(CustodianEvent) },
	QuorumPINRejected:            func() any { return new(PINRejectedData) },
	SecretRevealed:               func() any { return new(Reveal) },
	SecretChecked:                func() any { return new(Reveal) },
	SecretCheckResult:            func() any { return new(CheckResult) },
	VaultMarkRevealedFailed:      func() any { return new(MarkRevealedFailedData) },
	WindowExpired:                func() any { return new(WindowExpiredData) },
	WindowReauthorised:           func() any { return new(Reauthorised) },
	StepCheck:                    func() any { return new(StepEvent) },
	StepEvidence:                 func() any { return new(StepEvent) },
	StepConfirmed:                func() any { return new(StepEvent) },
	StepCompleted:                func() any { return new(StepEvent) },
	StepSkipped:                  func() any { return new(StepEvent) },
	StepConfirmationSigned:       func() any { return new(ConfirmationData) },
	CloseOutAnswered:             func() any { return new(CloseOutAnswer) },
	CloseOutCompleted:            func() any { return new(CloseOutCompletedData) },
	ReportSigned:                 func() any { return new(Signature) },
	ReportExported:               func() any { return new(ReportExportedData) },
	SessionLocked:                func() any { return new(Locked) },
	SessionAborted:               func() any { return new(Aborted) },
	VaultRekeyed:                 func() any { return new(Rekeyed) },
}

// New returns a pointer to a fresh, zero data struct for event type typ,
// and false for a type this schema does not declare (other components may
// journal their own; readers skip those).
func New(typ string) (any, bool) {
	mk, ok := dataOf[typ]
	if !ok {
		return nil, false
	}
	return mk(), true
}

// Types lists every event type this schema declares, in no fixed order.
func Types() []string {
	out := make([]string, 0, len(dataOf))
	for t := range dataOf {
		out = append(out, t)
	}
	return out
}
