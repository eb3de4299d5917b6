package ledger

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"breakglass/vault"
)

// Refusals of reviewer enrolment and signed reviews (errors.Is).
var (
	// ErrReviewerInvalid: the enrolment record does not parse or its keys'
	// attestations do not verify against the ledger's trust.
	ErrReviewerInvalid = errors.New("the reviewer's enrolment record does not verify")
	// ErrNotReviewer: no reviewer enrolled in this ledger holds the key.
	ErrNotReviewer = errors.New("the key is not enrolled as a reviewer in this ledger")
	// ErrReviewSignature: a review signature does not verify with the
	// enrolled reviewer key it names.
	ErrReviewSignature = errors.New("the review signature does not verify")
)

// ReviewerData is the data of a reviewer.enrolled entry. The enrolment
// record itself (the custodian file "breakglass enrol" wrote) is the object;
// every status verifies its attestations again.
type ReviewerData struct {
	Object  string   `json:"object"`
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Serials []uint32 `json:"serials"` // the reviewer's YubiKeys (primary, backups)
}

// reviewer is an enrolment record that verified.
type reviewer struct {
	entry uint64
	data  ReviewerData
	c     vault.Custodian
}

// verifyReviewer parses an enrolment record and verifies every key's
// attestation (chain to the ledger's vault trust, serial, public key) and
// attested policies against the default minimum: the same checks a roster
// makes of a custodian key (vault.Roster.VerifyKeys).
func (l *Ledger) verifyReviewer(raw []byte) (vault.Custodian, error) {
	c, err := vault.ParseCustodian(raw)
	if err != nil {
		return vault.Custodian{}, err
	}
	r := vault.Roster{Custodians: []vault.Custodian{c}}
	if err := r.VerifyKeys(l.cfg.Trust.Vault); err != nil {
		return vault.Custodian{}, err
	}
	return c, nil
}

// AddReviewer verifies an enrolment record (a custodian file written by
// "breakglass enrol") and records its holder as a reviewer whose YubiKey may
// sign reviews. A record that does not verify, or whose id or any YubiKey
// is already a reviewer's, is refused and nothing is added.
func (l *Ledger) AddReviewer(raw []byte) (ReviewerData, error) {
	c, err := l.verifyReviewer(raw)
	if err != nil {
		return ReviewerData{}, &RefusedError{What: "reviewer", Err: ErrReviewerInvalid, Reason: err.Error()}
	}
	d := ReviewerData{Object: sha256Hex(raw), ID: c.ID, Name: c.Name, Serials: c.Serials()}
	for _, e := range l.entries {
		var o ReviewerData
		if e.Type != TypeReviewer || json.Unmarshal(e.Data, &o) != nil {
			continue
		}
		if o.ID == d.ID {
			return ReviewerData{}, &RefusedError{What: "reviewer " + c.ID, Err: ErrDuplicate, Reason: fmt.Sprintf("reviewer %s is entry %d", o.ID, e.Seq)}
		}
		for _, s := range d.Serials {
			if slices.Contains(o.Serials, s) {
				return ReviewerData{}, &RefusedError{What: "reviewer " + c.ID, Err: ErrDuplicate, Reason: fmt.Sprintf("YubiKey %d is reviewer %s's (entry %d)", s, o.ID, e.Seq)}
			}
		}
	}
	if err := l.record(TypeReviewer, d.Object, raw, d); err != nil {
		return ReviewerData{}, err
	}
	return d, nil
}

// reviewers re-verifies every reviewer enrolled before entry seq (0: all);
// enrolments that no longer verify are returned as problems.
func (l *Ledger) reviewers(before uint64) ([]reviewer, []error) {
	var out []reviewer
	var probs []error
	for _, e := range l.entries {
		if before != 0 && e.Seq >= before {
			break
		}
		if e.Type != TypeReviewer {
			continue
		}
		var d ReviewerData
		err := json.Unmarshal(e.Data, &d)
		var raw []byte
		if err == nil {
			raw, err = l.object(d.Object)
		}
		var c vault.Custodian
		if err == nil {
			c, err = l.verifyReviewer(raw)
		}
		if err == nil && (c.ID != d.ID || c.Name != d.Name) {
			err = errors.New("the entry names another reviewer than its enrolment record")
		}
		if err != nil {
			probs = append(probs, fmt.Errorf("reviewer %s (entry %d) no longer verifies: %v", d.ID, e.Seq, err))
			continue
		}
		out = append(out, reviewer{entry: e.Seq, data: d, c: c})
	}
	return out, probs
}

// ReviewerKey is an enrolled reviewer's YubiKey, verified now: what a
// station needs to sign with it.
type ReviewerKey struct {
	ID, Name string
	Key      vault.Key
	Public   *ecdsa.PublicKey // the attested signing key
}

// Reviewer returns the enrolled, re-verified reviewer key with serial.
func (l *Ledger) Reviewer(serial uint32) (ReviewerKey, error) {
	rs, probs := l.reviewers(0)
	for _, r := range rs {
		for _, k := range r.c.Keys {
			if k.Serial != serial {
				continue
			}
			pk, err := x509.ParsePKIXPublicKey(k.Sign.PublicKey)
			pub, ok := pk.(*ecdsa.PublicKey)
			if err != nil || !ok {
				return ReviewerKey{}, fmt.Errorf("reviewer %s's YubiKey %d: signing key is not ECDSA: %v", r.c.ID, serial, err)
			}
			return ReviewerKey{ID: r.c.ID, Name: r.c.Name, Key: k, Public: pub}, nil
		}
	}
	err := fmt.Errorf("YubiKey %d: %w (breakglass ledger reviewer add --ledger %s CUSTODIAN.json enrols one)", serial, ErrNotReviewer, l.cfg.Dir)
	if len(probs) > 0 {
		err = fmt.Errorf("%w; %w", err, errors.Join(probs...))
	}
	return ReviewerKey{}, err
}
