package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/internal/announce"
	"breakglass/internal/events"
	"breakglass/vault"
)

// rekeyRun is one rekey session under way: the journal, the station and
// who has done what.
type rekeyRun struct {
	o      *vaultRekeyOptions
	e      *env
	st     hardware.Station
	src    pinSource
	trust  vault.VerifyOptions
	old    *vault.Vault
	plan   *vault.RekeyPlan
	j      *rekeyJournal
	quorum []quorumKey // the current roster's custodians who opened it, in order
	// testRoot: keys are attested by a TEST root (--attestation-root).
	testRoot bool
}

// quorumKey is a custodian of the quorum and the key they used.
type quorumKey struct {
	c      vault.Custodian
	serial uint32
}

// run carries out the plan: journal, quorum, rekey, signatures, report,
// files. On any failure nothing is written but the journal, which records
// why the session was aborted.
func (o *vaultRekeyOptions) run(ctx context.Context, e *env, old *vault.Vault, plan *vault.RekeyPlan, trust vault.VerifyOptions, testRoot bool) int {
	bin := hashExecutable()
	j, err := startRekeyJournal(o.Journal, rekeySessionStart{
		Station: events.StationData{BinaryVersion: bin.Version, BinarySHA256: bin.SHA256,
			VaultFingerprint: old.Fingerprint(), AttestationRoot: attestationRootLabel(o.AttestationRoot)},
		Guards: e.guards.Summary(), Threshold: old.Roster.Policy.Threshold, Operator: o.Operator, Reason: o.Reason,
	})
	if err != nil {
		printErr(e.stderr, "vault rekey", fmt.Errorf("%w\n  nothing was changed", err))
		return 1
	}
	defer j.close()
	// A rekey is a privileged use: like a console session it has an
	// announce code for the security on-call, which the auditor's ledger
	// matches with the rekey report.
	code := announce.Derive(announce.Declaration{Session: j.id, VaultFingerprint: old.Fingerprint(), Operator: o.Operator, WhatBroke: o.Reason})
	printf(e.stdout, "Announce code %s: relay it now to the security on-call (phone, radio); they record it with\n  breakglass ledger announce --ledger LEDGER --code %s --by THEIR-NAME\n", code, code)
	r := &rekeyRun{o: o, e: e, st: newStation(), src: pinSource{files: o.PINFiles, e: e}, trust: trust, testRoot: testRoot, old: old, plan: plan, j: j}
	nv, report, err := r.carryOut(ctx)
	if err == nil {
		err = r.write(nv, report)
	}
	if err != nil {
		printErr(e.stderr, "vault rekey", err)
		if jerr := j.abort(err); jerr != nil {
			printf(e.stderr, "  the abort could not be journaled either: %v\n", jerr)
		}
		printf(e.stderr, "  NOTHING WAS WRITTEN: %s is as it was, there is no %s and no report; the journal %s records the attempt.\n", o.Vault, o.Out, o.Journal)
		return 1
	}
	if err := j.finish([]string{filepath.Base(o.Out), filepath.Base(o.Report)}); err != nil {
		printf(e.stderr, "warning: %s and %s were written, but the journal could not record it: %v\n", o.Out, o.Report, err)
	}
	r.printDone(nv, testRoot)
	return 0
}

// carryOut opens the vault with a quorum of the current roster, rekeys
// it, has every custodian of the new roster sign it and the quorum sign
// the report. It returns the new vault, verified, and the signed report.
func (r *rekeyRun) carryOut(ctx context.Context) (*vault.Vault, []byte, error) {
	opened, err := r.openQuorum(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer opened.Lock()
	if err := r.j.authenticate(opened); err != nil {
		return nil, nil, err
	}
	res, err := opened.Rekey(r.plan)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range res.Unattributed {
		printf(r.e.stdout, "! %s is UNATTRIBUTED (no signed seal): carried as it is — re-seal it (breakglass seal --name %s)\n", name, name)
	}
	opened.Lock() // the new shares are split; nothing else needs the vault key
	nv := res.Vault
	if err := r.signRoster(ctx, nv); err != nil {
		return nil, nil, err
	}
	if err := nv.VerifyRoster(r.trust); err != nil {
		return nil, nil, fmt.Errorf("the new roster does not verify: %w", err)
	}
	ch := *nv.Roster.Change
	if err := r.j.rekeyed(events.Rekeyed{At: time.Now().UTC(), OldDigest: r.old.RosterDigestHex(), NewDigest: nv.RosterDigestHex(),
		NewFingerprint: nv.Fingerprint(), Version: nv.Roster.Number(), VaultKey: ch.Identity, Reason: ch.Reason,
		Added: ch.Added, Removed: ch.Removed, KeysAdded: ch.KeysAdded, KeysRemoved: ch.KeysRemoved,
		ThresholdFrom: ch.ThresholdFrom, ThresholdTo: ch.ThresholdTo, Out: filepath.Base(r.o.Out)}); err != nil {
		return nil, nil, err
	}
	report, err := r.signReport(ctx, nv)
	if err != nil {
		return nil, nil, err
	}
	// What an auditor will run, before anything is written.
	v, err := audit.VerifyReport(report, audit.VerifyOptions{Trust: r.trust.Trust, NonProduction: r.testRoot, Pin: audit.Pin{Vault: r.old}})
	if err != nil {
		var failed []string
		if v != nil {
			for _, c := range v.Failed() {
				failed = append(failed, c.Name+": "+c.Detail)
			}
		}
		return nil, nil, fmt.Errorf("the signed rekey report does not verify: %w (%s)", err, strings.Join(failed, "; "))
	}
	return nv, report, nil
}

// openQuorum collects a quorum of the current roster (as vault check does)
// and opens the vault, journaling each custodian counted.
func (r *rekeyRun) openQuorum(ctx context.Context) (*vault.Opened, error) {
	u := r.old.Unlocker(r.trust)
	defer u.Abort()
	var order []uint32
	for _, s := range keyOrder(r.o.Serials, r.o.PINFiles, r.old) {
		if _, _, ok := r.old.KeyBySerial(s); ok {
			order = append(order, s)
		}
	}
	interactive := len(order) == 0 && stdinIsTerminal(r.e)
	q := quorum{st: r.st, src: r.src, confirmLast: r.o.ConfirmLast,
		counted: func(c vault.Custodian, serial uint32) error {
			r.quorum = append(r.quorum, quorumKey{c, serial})
			return r.j.custodian(c, serial)
		},
		refused: func(serial uint32, err error) {
			if c, _, ok := r.old.KeyBySerial(serial); ok {
				r.j.pinRejected(c, serial, "unlock", err)
			}
		},
	}
	printf(r.e.stdout, "Step 1: a quorum of the current roster opens %s\n", r.o.Vault)
	if err := q.collect(ctx, r.e, "vault rekey", u, order, interactive); err != nil {
		return nil, err
	}
	opened, err := u.Open()
	var qe *vault.QuorumError
	if errors.As(err, &qe) {
		return nil, fmt.Errorf("quorum not reached: %d of %d custodians of the current roster presented their key: the rekey needs %d of them", qe.Have, qe.Need, qe.Need)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", r.o.Vault, err)
	}
	printf(r.e.stdout, "✓ vault opened by %s\n", strings.ReplaceAll(names(opened.Custodians()), ", ", " and "))
	return opened, nil
}

// signRoster has the quorum sign the new roster first (each signature
// counts as a member's and/or an endorsement), then every custodian of the
// new roster who has not signed yet, showing the progress after each.
func (r *rekeyRun) signRoster(ctx context.Context, nv *vault.Vault) error {
	printf(r.e.stdout, "Step 2: every custodian of the new roster signs it — roster version %d, fingerprint %s (the new custodian card will show it)\n",
		nv.Roster.Number(), nv.Fingerprint())
	for _, q := range r.quorum {
		if err := r.signRosterWith(ctx, nv, q.c, q.serial); err != nil {
			return err
		}
	}
	for {
		p := nv.RekeyProgress()
		if p.Done() {
			return nil
		}
		if len(p.Unsigned) == 0 {
			return fmt.Errorf("the new roster is endorsed by %d custodians of the current roster, %d needed: a quorum of the current roster must sign it", len(p.Endorsed), p.Need)
		}
		c := p.Unsigned[0]
		serial, err := pickKey(ctx, r.e, r.st, r.src, r.o.Serials, c, "sign the new roster")
		if err != nil {
			return fmt.Errorf("%s must sign the new roster: %w", c, err)
		}
		if err := r.signRosterWith(ctx, nv, c, serial); err != nil {
			return err
		}
	}
}

// signRosterWith has custodian c sign the new roster on the key serial.
func (r *rekeyRun) signRosterWith(ctx context.Context, nv *vault.Vault, c vault.Custodian, serial uint32) error {
	tok, err := openCustodianKey(ctx, r.st, serial)
	if err != nil {
		return fmt.Errorf("%s signing the new roster: %w", c.Name, err)
	}
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(r.e.stderr, serial))
	var s vault.RekeySigner
	err = withPIN(ctx, r.src, tok, c.Name, r.o.ConfirmLast, func(pin string, confirmed bool) error {
		if err := vault.CheckPINRetries(ctx, tok, confirmed); err != nil {
			return err
		}
		var err error
		s, err = nv.SignRekey(tctx, tok, pin)
		return err
	})
	if err != nil {
		r.j.pinRejected(c, serial, "sign", err)
		return fmt.Errorf("%s signing the new roster on YubiKey %d: %w", c.Name, serial, err)
	}
	as := "as a custodian of the new roster"
	switch {
	case s.Member && s.Endorser:
		as = "as a custodian of the new roster and an endorser of the current one"
	case s.Endorser:
		as = "as an endorser of the current roster (not on the new one)"
	}
	p := nv.RekeyProgress()
	n := len(nv.Roster.Custodians)
	endorsed := fmt.Sprintf("%d of %d needed", len(p.Endorsed), p.Need)
	if len(p.Endorsed) > p.Need {
		endorsed = fmt.Sprintf("%d (%d needed)", len(p.Endorsed), p.Need)
	}
	printf(r.e.stdout, "✓ %s signed (YubiKey %d) %s — signed by %d of %d custodians of the new roster; endorsed by %s\n",
		s.Custodian.Name, serial, as, n-len(p.Unsigned), n, endorsed)
	return nil
}
