package session

// Question is one close-out question the operator must answer before the
// report is signed.
type Question struct {
	ID     string // stable id recorded in CloseOutAnswer.Question
	Prompt string // what the UI asks
	YesNo  bool   // answered yes or no, with detail required for yes
}

// Close-out question ids.
const (
	QWhatBroke          = "what-broke"
	QWhatWasDone        = "what-was-done"
	QHowRestored        = "how-restored"
	QPreventsRecurrence = "prevents-recurrence"
	QIdentityCreated    = "identity-created"
	QLoggingChanged     = "logging-changed"
)

// Questions are the close-out questions, in the order the UI asks them:
// the story an auditor needs.
var Questions = []Question{
	{ID: QWhatBroke, Prompt: "What broke?"},
	{ID: QWhatWasDone, Prompt: "What was done with the emergency access?"},
	{ID: QHowRestored, Prompt: "How was normal access restored?"},
	{ID: QPreventsRecurrence, Prompt: "What will prevent this from happening again?"},
	{ID: QIdentityCreated, Prompt: "Was any identity, key or role created? If yes, which, and was it removed?", YesNo: true},
	{ID: QLoggingChanged, Prompt: "Was logging or monitoring changed? If yes, what, and was it restored?", YesNo: true},
}

func question(id string) (Question, bool) {
	for _, q := range Questions {
		if q.ID == id {
			return q, true
		}
	}
	return Question{}, false
}
