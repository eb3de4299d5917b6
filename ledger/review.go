package ledger

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
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
	Reviewer string `json:"reviewer"` // the name as recorded (the enrolled name when signed)
	Decision string `json:"decision"`
	Note     string `json:"note"`
	// Signed is false for the auditor's statement alone ("unsigned
	// review"); true when Signature is the reviewer's YubiKey signature
	// over the canonical ReviewRecord built from this entry. Status verifies
	// it again every time and never trusts Signed alone.
	Signed bool `json:"signed"`
	// Of a signed review only: the enrolled reviewer's id and YubiKey, the
	// report object reviewed, the signed time, and the ES256 signature
	// (ASN.1 DER) over SHA-256 of CanonicalReviewRecord.
	ReviewerID string `json:"reviewer_id,omitempty"`
	Serial     uint32 `json:"serial,omitempty"`
	Ledger     string `json:"ledger,omitempty"`
	Report     string `json:"report,omitempty"`
	Time       string `json:"time,omitempty"`
	Signature  []byte `json:"signature,omitempty"`
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

// reviewDomain separates review signatures from roster, seal and report
// signatures made with the same 9c keys.
const reviewDomain = "breakglass-ledger-review-v1\n"

// ReviewRecord is what a reviewer signs. Its canonical form
// (CanonicalReviewRecord) is reviewDomain followed by the compact JSON of
// the record with fields in this order; the reviewer's signing key signs
// SHA-256 of it. It binds the review to this ledger (the hash of its first
// entry), the exact report reviewed, the reviewer's enrolled key and time.
type ReviewRecord struct {
	Ledger   string `json:"ledger"`        // hash of the ledger's first index entry
	Session  string `json:"session"`       // session id
	Report   string `json:"report_sha256"` // the report object reviewed
	Reviewer string `json:"reviewer"`      // enrolled reviewer id
	Name     string `json:"name"`          // enrolled reviewer name
	Serial   uint32 `json:"serial"`        // the YubiKey that signs
	Decision string `json:"decision"`      // accepted or follow-up
	Note     string `json:"note"`          // the finding
	Time     string `json:"time"`          // RFC 3339 UTC with nanoseconds
}

// CanonicalReviewRecord is the exact byte string whose SHA-256 a reviewer signs.
func CanonicalReviewRecord(r ReviewRecord) []byte {
	b, _ := json.Marshal(r) // strings and a number: never fails
	return append([]byte(reviewDomain), b...)
}

// recordOf is the review record a signed review's entry data describes.
func recordOf(d ReviewData) ReviewRecord {
	return ReviewRecord{Ledger: d.Ledger, Session: d.Session, Report: d.Report, Reviewer: d.ReviewerID, Name: d.Reviewer,
		Serial: d.Serial, Decision: d.Decision, Note: d.Note, Time: d.Time}
}

// ReviewSigner is a reviewer's YubiKey: SignDigest signs a SHA-256 digest
// with the key's signing slot (PIN and touch as the key's policy asks).
type ReviewSigner interface {
	Serial() uint32
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
}

// SignedReview records a review signed on an enrolled reviewer's YubiKey.
// The review record (ReviewRecord) is signed by s and the signature verified
// with the attested key the reviewer enrolled; a key not enrolled as a
// reviewer (ErrNotReviewer) or a signature that does not verify
// (ErrReviewSignature) is refused and nothing is recorded.
func (l *Ledger) SignedReview(ctx context.Context, session, decision, note string, s ReviewSigner) (Entry, error) {
	if decision != DecisionAccepted && decision != DecisionFollowUp {
		return Entry{}, fmt.Errorf("decision %q is not %q or %q", decision, DecisionAccepted, DecisionFollowUp)
	}
	if err := checkText("the note", note, true); err != nil {
		return Entry{}, fmt.Errorf("recording review: %w", err)
	}
	e, ok := l.findSession(session)
	if !ok {
		return Entry{}, fmt.Errorf("recording review of %q: %w (breakglass ledger status lists the sessions)", session, ErrUnknownSession)
	}
	var rep ReportData
	if err := json.Unmarshal(e.Data, &rep); err != nil {
		return Entry{}, fmt.Errorf("recording review of %q: entry %d: %w", session, e.Seq, err)
	}
	rk, err := l.Reviewer(s.Serial())
	if err != nil {
		return Entry{}, fmt.Errorf("recording review of %q: %w: nothing was recorded", session, err)
	}
	d := ReviewData{Session: session, Reviewer: rk.Name, Decision: decision, Note: note, Signed: true,
		ReviewerID: rk.ID, Serial: rk.Key.Serial, Ledger: l.entries[0].Hash, Report: rep.Object, Time: l.cfg.now().Format(time.RFC3339Nano)}
	digest := sha256.Sum256(CanonicalReviewRecord(recordOf(d)))
	sig, err := s.SignDigest(ctx, digest[:])
	if err != nil {
		return Entry{}, fmt.Errorf("recording review of %q: signing on YubiKey %d: %w: nothing was recorded", session, rk.Key.Serial, err)
	}
	if !ecdsa.VerifyASN1(rk.Public, digest[:], sig) {
		return Entry{}, fmt.Errorf("recording review of %q: %w with reviewer %s's enrolled YubiKey %d (the key in its signing slot is not the enrolled one?): nothing was recorded",
			session, ErrReviewSignature, rk.ID, rk.Key.Serial)
	}
	d.Signature = sig
	return l.appendEntry(TypeReview, d)
}

// verifyReview checks a signed review's signature as of entry seq: the
// reviewer was enrolled before it, still verifies, holds the YubiKey, and
// the signature over the record verifies with its attested key; the record
// names this ledger and the report object of the session.
func (l *Ledger) verifyReview(seq uint64, d ReviewData, report string) (reviewer, error) {
	switch {
	case d.Ledger != l.entries[0].Hash:
		return reviewer{}, fmt.Errorf("%w: it was signed for another ledger", ErrReviewSignature)
	case d.Report != report:
		return reviewer{}, fmt.Errorf("%w: it was signed for another report of session %s", ErrReviewSignature, d.Session)
	}
	rs, probs := l.reviewers(seq)
	for _, r := range rs {
		if r.c.ID != d.ReviewerID {
			continue
		}
		for _, k := range r.c.Keys {
			if k.Serial != d.Serial {
				continue
			}
			pk, err := x509.ParsePKIXPublicKey(k.Sign.PublicKey)
			pub, ok := pk.(*ecdsa.PublicKey)
			digest := sha256.Sum256(CanonicalReviewRecord(recordOf(d)))
			if err != nil || !ok || d.Reviewer != r.c.Name || !ecdsa.VerifyASN1(pub, digest[:], d.Signature) {
				return reviewer{}, fmt.Errorf("%w with reviewer %s's enrolled YubiKey %d", ErrReviewSignature, d.ReviewerID, d.Serial)
			}
			return r, nil
		}
	}
	err := fmt.Errorf("%w: reviewer %s with YubiKey %d was not enrolled (and verified) before entry %d", ErrReviewSignature, d.ReviewerID, d.Serial, seq)
	if len(probs) > 0 {
		err = fmt.Errorf("%w; %w", err, errors.Join(probs...))
	}
	return reviewer{}, err
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
