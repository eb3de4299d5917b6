package ui

// Start is the screen the console opens on. A new session starts at
// preflight; a resumed one where it stopped. Nothing unlocked survives a
// restart, so a session resumed in its runbook starts with re-authorisation.
type Start int

// Start screens.
const (
	StartPreflight   Start = iota
	StartQuorum            // declared and announced, custodians not yet all counted
	StartReauthorise       // in the runbook: a fresh quorum, then the current step
	StartCloseOut
	StartSign
	// StartAnnounce: declared, but neither an acknowledgement of the
	// announce code nor "could not reach anyone" is recorded yet. It is last
	// so the values above keep their numbers.
	StartAnnounce
	// StartReauthoriseCloseOut and StartReauthoriseSign: resumed after the
	// vault was opened, in close-out or at signing: a fresh quorum first
	// (it recovers the journal key, with which every entry is checked),
	// then the close-out or the sign screen.
	StartReauthoriseCloseOut
	StartReauthoriseSign
)
