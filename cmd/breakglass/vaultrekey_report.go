package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/internal/atomicfile"
	"breakglass/vault"
)

// signReport builds the rekey report from the journal (as the console
// builds a session's), embeds the current roster, its chain and the new
// roster, and has each custodian of the quorum sign it on their key (the
// current roster's keys: they authorised the change). The journal on disk
// is checked against what was recorded, MACs included, first.
func (r *rekeyRun) signReport(ctx context.Context, nv *vault.Vault) ([]byte, error) {
	fmt.Fprintln(r.e.stdout, "Step 3: the quorum signs the rekey report")
	var custodians []audit.Custodian
	var signers []audit.ReportSigner
	for _, q := range r.quorum {
		_, key, ok := r.old.KeyBySerial(q.serial)
		if !ok {
			return nil, fmt.Errorf("building the report: YubiKey %d is not on the current roster", q.serial)
		}
		pub, chain, err := audit.SigningMaterial(key.Sign.PublicKey, key.Sign.Attestation.Slot, key.Sign.Attestation.Device)
		if err != nil {
			return nil, fmt.Errorf("building the report: %s's signing key in the vault: %w", q.c.Name, err)
		}
		ac, err := audit.NewCustodian(q.c.ID, q.c.Name, q.serial, pub, chain)
		if err != nil {
			return nil, fmt.Errorf("building the report: %w", err)
		}
		custodians = append(custodians, ac)
		signers = append(signers, audit.ReportSigner{KeyID: q.c.ID, Public: pub, Chain: chain})
	}
	rep, err := audit.BuildReport(r.j.j.Entries(), custodians)
	if err != nil {
		return nil, err
	}
	rep.Roster = r.old.RosterRecord()
	rep.RosterChain = slices.Clone(r.old.Chain)
	rep.Rekey.NewRoster = nv.RosterRecord()
	payload, err := audit.MarshalPayload(rep)
	if err != nil {
		return nil, err
	}
	if err := r.j.j.CheckDisk(); err != nil {
		return nil, fmt.Errorf("the journal %s was altered on disk: %w — the report is not signed; keep the journal for investigation", r.o.Journal, err)
	}
	for i, q := range r.quorum {
		der, digest, err := r.signPayload(ctx, q, signers[i], payload)
		if err != nil {
			return nil, err
		}
		signers[i].Sign = func(d []byte) ([]byte, error) {
			if !bytes.Equal(d, digest) {
				return nil, fmt.Errorf("custodian %s signed a different report", q.c.Name)
			}
			return der, nil
		}
		if err := r.j.signed(q.c, q.serial, hex.EncodeToString(digest)); err != nil {
			return nil, err
		}
		printf(r.e.stdout, "✓ %s signed the rekey report (YubiKey %d)\n", q.c.Name, q.serial)
	}
	jws, err := audit.SignReport(payload, signers)
	if err != nil {
		return nil, fmt.Errorf("assembling the signed report: %w", err)
	}
	return jws, nil
}

// signPayload has custodian q sign payload on their key (PIN, then touch)
// and returns the signature and the digest signed.
func (r *rekeyRun) signPayload(ctx context.Context, q quorumKey, signer audit.ReportSigner, payload []byte) (der, digest []byte, err error) {
	_, key, _ := r.old.KeyBySerial(q.serial)
	tok, err := openCustodianKey(ctx, r.st, q.serial)
	if err != nil {
		return nil, nil, fmt.Errorf("%s signing the report: %w", q.c.Name, err)
	}
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(r.e.stderr, q.serial))
	err = withPIN(ctx, r.src, tok, q.c.Name, r.o.ConfirmLast, func(pin string, confirmed bool) error {
		if err := vault.CheckPINRetries(ctx, tok, confirmed); err != nil {
			return err
		}
		signer.Sign = func(d []byte) ([]byte, error) {
			sig, err := tok.Sign(tctx, key.Sign.Slot.PIV(), d, pin)
			digest, der = d, sig
			return sig, err
		}
		_, err := audit.SignReport(payload, []audit.ReportSigner{signer})
		return err
	})
	if err != nil {
		r.j.pinRejected(q.c, q.serial, "sign", err)
		return nil, nil, fmt.Errorf("%s signing the report on YubiKey %d: %w", q.c.Name, q.serial, err)
	}
	return der, digest, nil
}

// write writes the new vault and then the report, each atomically; if the
// report cannot be written, the new vault is removed again, so a failed
// rekey leaves neither. The old vault is never touched.
func (r *rekeyRun) write(nv *vault.Vault, report []byte) error {
	for _, p := range []string{r.o.Out, r.o.Report} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s appeared while the rekey ran: it is not overwritten; move it aside and run the rekey again", p)
		}
	}
	if err := nv.Save(r.o.Out); err != nil {
		return fmt.Errorf("%w\n  check that the directory exists and is writable", err)
	}
	if err := atomicfile.Write(r.o.Report, report, 0o644); err != nil {
		if rerr := os.Remove(r.o.Out); rerr != nil {
			return fmt.Errorf("writing the report %s: %w; and removing %s again failed: %v — delete it, it has no signed report", r.o.Report, err, r.o.Out, rerr)
		}
		return fmt.Errorf("writing the report %s: %w", r.o.Report, err)
	}
	return nil
}

// printDone says what was written and what the custodians do next.
func (r *rekeyRun) printDone(nv *vault.Vault, testRoot bool) {
	w := r.e.stdout
	printf(w, "\nWrote %s: roster version %d, %d-of-%d vault\n", r.o.Out, nv.Roster.Number(), nv.Roster.Policy.Threshold, nv.Roster.Policy.Custodians)
	printf(w, "Old fingerprint: %s (%s, unchanged)\n", r.old.Fingerprint(), r.o.Vault)
	printf(w, "New fingerprint: %s\n", nv.Fingerprint())
	if r.plan.NewIdentity() {
		fmt.Fprintln(w, "New vault identity: every secret re-encrypted; the old shares open nothing in the new vault.")
	} else {
		fmt.Fprintln(w, "Same identity, reshared: fresh shares for every custodian.")
	}
	printf(w, "Rekey report: %s (journal %s)\n", r.o.Report, r.o.Journal)
	root := ""
	if r.o.AttestationRoot != "" {
		root = " --attestation-root " + r.o.AttestationRoot
	}
	printf(w, "Check it:     breakglass verify --vault-fingerprint %s%s %s\n\n", r.old.Fingerprint(), root, r.o.Report)
	printCustodianCard(w, r.o.Out, nv, testRoot)
	printf(w, "\nEvery custodian must now prove their new share: breakglass vault check --each %s\n", r.o.Out)
	printf(w, "Keep %s until that drill passes, then put %s in its place.\n", r.o.Vault, r.o.Out)
}
