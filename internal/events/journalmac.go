package events

// Journal authentication (see package audit): once a quorum has opened the
// vault, every journal entry carries a MAC made with a key only a quorum can
// derive. The events below mark where the key was taken up, where a
// resumed session restarted, and where the journal was found altered.
const (
	// JournalAuthenticated records that the journal's MAC key was derived
	// after a quorum (the first one, or a re-authorisation after a restart)
	// and that every entry before it was checked with it. It is the first
	// entry the key authenticates after each period without the key.
	// Data: JournalAuthenticatedData. Actor "breakglass".
	JournalAuthenticated = "journal.authenticated"
	// JournalTamperDetected records that the journal on disk failed its
	// checks (a MAC, a missing MAC, or a difference from what the running
	// console holds); the console refuses to go on. Data:
	// JournalTamperData. Actor "breakglass".
	JournalTamperDetected = "journal.tamper_detected"
	// SessionResumed records that an unfinished session was resumed after
	// a restart, with the preflight checks re-run at resume. Data:
	// SessionResumedData. Actor "breakglass".
	SessionResumed = "session.resumed"
)

// JournalAuthenticatedData is the data of JournalAuthenticated.
type JournalAuthenticatedData struct {
	// Reason is "quorum" (the session's first quorum opened the vault),
	// "resume" (a quorum after a restart recovered the key) or
	// "reauthorise" (a fresh quorum while the key was not held).
	Reason string `json:"reason"`
	// Custodians are the ids of the custodians whose quorum derived the key.
	Custodians []string `json:"custodians"`
	// Checked is how many entries before this one were checked with the key.
	Checked int `json:"checked"`
}

// JournalTamperData is the data of JournalTamperDetected. Detail never
// holds key material.
type JournalTamperData struct {
	// When is "quorum", "resume" or "before signing".
	When string `json:"when"`
	// Seq is the first entry that failed, 0 if the failure is not one entry's.
	Seq    uint64 `json:"seq"`
	Detail string `json:"detail"`
}

// SessionResumedData is the data of SessionResumed.
type SessionResumedData struct {
	Phase     string           `json:"phase"`     // the phase the session stopped in
	Preflight []PreflightCheck `json:"preflight"` // the checks re-run at resume
	Passed    bool             `json:"passed"`    // no blocking check failed
}

// unkeyed are the event types that may be journaled while the MAC key is
// not held: before the first quorum, and after a restart until a quorum has
// re-authorised (resume, a repaired torn line, the announcement, refused
// PINs and confirmed last PIN tries, a detected
// tamper, an abort by the operator, who needs no quorum to end a session).
// Every other type can only happen once a quorum has opened the vault and
// must always carry a valid MAC.
var unkeyed = map[string]bool{
	JournalCreated:               true,
	JournalRepaired:              true,
	StationInfo:                  true,
	ProcessGuards:                true,
	PreflightWarningAcknowledged: true,
	PreflightClockConfirmed:      true,
	SessionStarted:               true,
	PreflightCompleted:           true,
	SessionDeclared:              true,
	QuorumCustodian:              true,
	QuorumPINRejected:            true,
	QuorumLastPINTryConfirmed:    true,
	SessionAnnounced:             true,
	JournalTamperDetected:        true,
	SessionResumed:               true,
	SessionAborted:               true,
}

// Unkeyed reports whether an event of type typ may be journaled without a
// MAC: it can happen while no quorum holds the journal key. Types this
// schema does not declare are keyed (they must carry a MAC).
func Unkeyed(typ string) bool { return unkeyed[typ] }

func init() {
	dataOf[JournalAuthenticated] = func() any { return new(JournalAuthenticatedData) }
	dataOf[JournalTamperDetected] = func() any { return new(JournalTamperData) }
	dataOf[SessionResumed] = func() any { return new(SessionResumedData) }
}
