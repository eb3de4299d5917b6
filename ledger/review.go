package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"breakglass/internal/announce"
)

// Review decisions.
const (
	DecisionAccepted = "accepted"  // the use was justified and handled; closes the session
	DecisionFollowUp = "follow-up" // something must still be done; the session stays open
)

// ReviewData is the data of a review.recorded entry.
type ReviewData struct {
	Session  string `json:"session"`
	Reviewer string `json:"reviewer"`
	Decision string `json:"decision"`
	Note     string `json:"note"`
	// Signed is false: the review is the auditor's statement, not signed on
	// a reviewer's YubiKey ("unsigned review"). Signed reviews come later.
	Signed bool `json:"signed"`
}

// AnnounceData is the data of an announce.recorded entry.
type AnnounceData struct {
	Code string `json:"code"` // canonical form
	By   string `json:"by"`   // the on-call who received it
}

// maxText bounds names and notes recorded in the index.
const maxText = 4096

func checkText(what, s string, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > maxText:
		return fmt.Errorf("%s is longer than %d bytes", what, maxText)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

// ErrUnknownSession is returned by Review for a session not in the ledger.
var ErrUnknownSession = errors.New("no such session in the ledger")

// Review records a post-use review of an imported session. An accepted
// review closes the session; a later review supersedes an earlier one.
func (l *Ledger) Review(session, reviewer, decision, note string) (Entry, error) {
	if decision != DecisionAccepted && decision != DecisionFollowUp {
		return Entry{}, fmt.Errorf("decision %q is not %q or %q", decision, DecisionAccepted, DecisionFollowUp)
	}
	for _, c := range []struct {
		what, s string
	}{{"the reviewer", reviewer}, {"the note", note}} {
		if err := checkText(c.what, c.s, true); err != nil {
			return Entry{}, fmt.Errorf("recording review: %w", err)
		}
	}
	if _, ok := l.findSession(session); !ok {
		return Entry{}, fmt.Errorf("recording review of %q: %w (breakglass ledger status lists the sessions)", session, ErrUnknownSession)
	}
	return l.appendEntry(TypeReview, ReviewData{Session: session, Reviewer: reviewer, Decision: decision, Note: note})
}

// Announce records that the on-call received an announce code. The code is
// checked (a typo or swapped characters are refused); the same code twice is
// refused.
func (l *Ledger) Announce(code, by string) (Entry, error) {
	c, err := announce.Parse(code)
	if err != nil {
		return Entry{}, fmt.Errorf("recording announcement: %w: ask for the code again", err)
	}
	if err := checkText("the receiver (--by)", by, true); err != nil {
		return Entry{}, fmt.Errorf("recording announcement: %w", err)
	}
	for _, e := range l.entries {
		var d AnnounceData
		if e.Type == TypeAnnounce && json.Unmarshal(e.Data, &d) == nil && d.Code == string(c) {
			return Entry{}, fmt.Errorf("recording announcement: code %s is already entry %d: %w", c, e.Seq, ErrDuplicate)
		}
	}
	return l.appendEntry(TypeAnnounce, AnnounceData{Code: string(c), By: by})
}
