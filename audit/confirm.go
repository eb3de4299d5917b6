package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"breakglass/internal/events"
)

// TypeConfirmationSigned is the journal event a custodian's key signs when
// the custodian confirms a runbook step ("Confirm: both-custodians"): data
// ConfirmationData. It precedes the engine's step.confirmed event.
const TypeConfirmationSigned = events.StepConfirmationSigned

// ConfirmationData is the data of TypeConfirmationSigned.
type ConfirmationData = events.ConfirmationData

// ConfirmationDigest is what a custodian's key signs to confirm step of
// session: SHA-256 over a fixed label and the fields, newline-separated.
func ConfirmationDigest(session, step, custodian string, serial uint32, journalHead string) [32]byte {
	return sha256.Sum256([]byte(strings.Join([]string{"breakglass step confirmation",
		session, step, custodian, fmt.Sprint(serial), journalHead}, "\n")))
}

// checkConfirmations verifies every signed step confirmation in the
// report's journal against the report's custodians, and that every
// step.confirmed event has one. It returns how many were checked.
func checkConfirmations(rep *Report) (int, error) {
	keys := map[string]*ecdsa.PublicKey{}
	serials := map[string]uint32{}
	for _, c := range rep.Custodians {
		der, err := base64.StdEncoding.DecodeString(c.SigningKey)
		if err != nil {
			continue
		}
		if k, err := x509.ParsePKIXPublicKey(der); err == nil {
			if ek, ok := k.(*ecdsa.PublicKey); ok {
				keys[c.ID], serials[c.ID] = ek, c.Serial
			}
		}
	}
	seen := map[string]bool{} // hashes of earlier entries
	signed := map[[2]string]bool{}
	n := 0
	for _, e := range rep.Journal.Entries {
		switch e.Type {
		case TypeConfirmationSigned:
			var d ConfirmationData
			dec := json.NewDecoder(bytes.NewReader(e.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&d); err != nil {
				return n, fmt.Errorf("entry %d: malformed confirmation: %v", e.Seq, err)
			}
			key, ok := keys[d.Custodian]
			if !ok || serials[d.Custodian] != d.Serial {
				return n, fmt.Errorf("entry %d: confirmation by %q (YubiKey %d), who is not a custodian of this report", e.Seq, d.Custodian, d.Serial)
			}
			if !seen[d.JournalHead] {
				return n, fmt.Errorf("entry %d: confirmation signs a journal head that is not an earlier entry", e.Seq)
			}
			want := ConfirmationDigest(rep.Session.ID, d.Step, d.Custodian, d.Serial, d.JournalHead)
			if d.Digest != hex.EncodeToString(want[:]) {
				return n, fmt.Errorf("entry %d: confirmation digest does not match session, step, custodian and head", e.Seq)
			}
			if !ecdsa.VerifyASN1(key, want[:], d.Signature) {
				return n, fmt.Errorf("entry %d: %s's confirmation of step %s is not signed by their enrolled key", e.Seq, d.Custodian, d.Step)
			}
			signed[[2]string{d.Step, d.Custodian}] = true
			n++
		case events.StepConfirmed:
			var d struct {
				Step      string `json:"step"`
				Custodian string `json:"custodian"`
			}
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return n, fmt.Errorf("entry %d: malformed step.confirmed: %v", e.Seq, err)
			}
			if !signed[[2]string{d.Step, d.Custodian}] {
				return n, errors.New(fmt.Sprintf("entry %d: %s's confirmation of step %s has no signature by their key", e.Seq, d.Custodian, d.Step))
			}
		}
		seen[e.Hash] = true
	}
	return n, nil
}
