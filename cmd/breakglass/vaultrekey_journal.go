package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/awnumar/memguard"

	"breakglass/audit"
	"breakglass/console"
	"breakglass/hardware"
	"breakglass/internal/events"
	"breakglass/vault"
)

// rekeyJournal is the journal of one "vault rekey" session, in the format
// of a console session (audit journal, internal/events), so that "journal
// verify", "verify" and the ledger read it alike. Once the quorum has
// opened the vault, every entry carries the MAC of the journal key the
// console derives (vault.Opened.JournalKey).
type rekeyJournal struct {
	j        *audit.Journal
	id       string
	operator string
	phase    events.Phase
	key      *memguard.LockedBuffer
	ended    bool
}

// rekeySessionStart is what a rekey journal records before anyone's key
// is used.
type rekeySessionStart struct {
	Station   audit.StationData
	Guards    []string
	Threshold int // the current roster's
	Operator  string
	Reason    string
}

// startRekeyJournal creates the journal at path (it must not exist) and
// records the station, the process guards, the start and the declaration.
func startRekeyJournal(path string, s rekeySessionStart) (*rekeyJournal, error) {
	now := time.Now()
	id := console.NewSessionID(now)
	j, err := audit.Create(path, id, s.Station, audit.Config{})
	if err != nil {
		return nil, err
	}
	r := &rekeyJournal{j: j, id: id, operator: s.Operator, phase: events.PhaseDeclare}
	for _, ev := range []struct {
		actor, typ string
		data       any
	}{
		{"breakglass", events.StationInfo, s.Station},
		{"breakglass", events.ProcessGuards, events.ProcessGuardsData{Guards: s.Guards}},
		{"system", events.SessionStarted, events.Started{At: now.UTC(), Threshold: s.Threshold, Rekey: true,
			Runbook: events.RunbookRef{Name: "breakglass vault rekey"}}},
		{s.Operator, events.SessionDeclared, events.Declared{At: now.UTC(), Operator: s.Operator, WhatBroke: s.Reason}},
	} {
		if err := r.append(ev.actor, ev.typ, ev.data); err != nil {
			j.Close()
			return nil, err
		}
	}
	r.phase = events.PhaseQuorum
	return r, nil
}

func (r *rekeyJournal) append(actor, typ string, data any) error {
	if _, err := r.j.Append(actor, typ, data); err != nil {
		return fmt.Errorf("recording %s in the journal: %w", typ, err)
	}
	return nil
}

// custodian records a custodian of the current roster counted in the quorum.
func (r *rekeyJournal) custodian(c vault.Custodian, serial uint32) error {
	return r.append(c.ID, events.QuorumCustodian, events.CustodianEvent{At: time.Now().UTC(),
		Custodian: events.Custodian{ID: c.ID, Name: c.Name, Serial: serial}})
}

// pinRejected records a wrong or blocked PIN (op "unlock" or "sign") of
// the key with serial, custodian c; other errors are not journaled here.
func (r *rekeyJournal) pinRejected(c vault.Custodian, serial uint32, op string, err error) {
	d := events.PINRejectedData{Custodian: c.ID, Serial: serial, Operation: op}
	var pe *hardware.PINError
	switch {
	case errors.As(err, &pe):
		left := pe.Retries
		d.Reason, d.RetriesLeft = "wrong PIN", &left
	case errors.Is(err, hardware.ErrPINBlocked):
		d.Reason = "PIN blocked"
	default:
		return
	}
	_ = r.append(c.ID, events.QuorumPINRejected, d) // best effort: the failure itself is reported
}

// authenticate takes up the journal key of the opened vault: every entry
// so far is checked with it and every later one carries its MAC.
func (r *rekeyJournal) authenticate(o *vault.Opened) error {
	key, err := o.JournalKey(r.id)
	if err != nil {
		return fmt.Errorf("deriving the journal key: %w", err)
	}
	var ids []string
	for _, c := range o.Custodians() {
		ids = append(ids, c.ID)
	}
	if _, err := r.j.Authenticate(key, audit.JournalAuthenticatedData{Reason: "quorum", Custodians: ids}); err != nil {
		key.Destroy()
		return fmt.Errorf("authenticating the journal %s: %w", r.j.Path(), err)
	}
	r.key, r.phase = key, events.PhaseSteps
	return nil
}

// rekeyed records the new roster version, fully signed, and ends the
// session's work (closeout.completed): the report is built from here.
func (r *rekeyJournal) rekeyed(d events.Rekeyed) error {
	if err := r.append("system", events.VaultRekeyed, d); err != nil {
		return err
	}
	if err := r.append(r.operator, events.CloseOutCompleted, events.CloseOutCompletedData{At: time.Now().UTC()}); err != nil {
		return err
	}
	r.phase = events.PhaseSign
	return nil
}

// signed records one custodian's signature of the report.
func (r *rekeyJournal) signed(c vault.Custodian, serial uint32, digest string) error {
	return r.append(c.ID, events.ReportSigned, events.Signature{At: time.Now().UTC(), Custodian: c.ID, Serial: serial, Digest: digest})
}

// finish records the files written and locks the session.
func (r *rekeyJournal) finish(files []string) error {
	if err := r.append(r.operator, events.ReportExported, events.ReportExportedData{Files: files}); err != nil {
		return err
	}
	if err := r.append(r.operator, events.SessionLocked, events.Locked{At: time.Now().UTC()}); err != nil {
		return err
	}
	r.ended = true
	return nil
}

// abort records why the session ended without a new vault; it is a no-op
// once the session ended.
func (r *rekeyJournal) abort(why error) error {
	if r.ended {
		return nil
	}
	r.ended = true
	return r.append("system", events.SessionAborted, events.Aborted{At: time.Now().UTC(), By: "system",
		Reason: "the rekey failed; nothing was written: " + why.Error(), Phase: r.phase})
}

// close drops the journal key and closes the file.
func (r *rekeyJournal) close() {
	r.j.Deauthenticate()
	if r.key != nil {
		r.key.Destroy()
	}
	r.j.Close()
}
