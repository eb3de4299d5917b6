package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// This file holds the report: each custodian signs the same payload on their
// key (Sign), and Export assembles the signatures into one JWS by replaying
// each card's signature over that payload.

// Sign has one custodian sign the report on their key (PIN, then touch).
// The payload is fixed at the first signature: the journal up to the end
// of the close-out.
func (s *Service) Sign(ctx context.Context, serial uint32, pin string) error {
	s.hw.Lock()
	defer s.hw.Unlock()
	if err := s.checkJournalBeforeSigning(); err != nil {
		return err
	}
	cu, key, payload, err := s.prepareSignature(serial)
	if err != nil {
		return err
	}
	ctx = hardware.WithTouchPrompt(ctx, ui.TouchNotice(ctx))
	tok, err := s.cfg.Station.Open(ctx, serial)
	if err != nil {
		return uiError(err)
	}
	signer, err := reportSigner(cu, key)
	if err != nil {
		return err
	}
	var digest, der []byte
	signer.Sign = func(d []byte) ([]byte, error) {
		sig, err := tok.Sign(ctx, key.Sign.Slot.PIV(), d, pin)
		digest, der = d, sig
		return sig, err
	}
	if err := s.withPIN(ctx, tok, cu.ID, pinOpSign, func() error {
		_, err := audit.SignReport(payload, []audit.ReportSigner{signer})
		return err
	}); err != nil {
		return err
	}
	// The card's signature is kept for Export, which assembles every
	// custodian's signature into one JWS over the same payload.
	signer.Sign = func(d []byte) ([]byte, error) {
		if !bytes.Equal(d, digest) {
			return nil, fmt.Errorf("custodian %s signed a different report", cu.Name)
		}
		return der, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.sess.RecordSignature(cu.ID, serial, hex.EncodeToString(digest)); err != nil {
		return uiError(err)
	}
	s.signers = append(s.signers, signer)
	return nil
}

// prepareSignature ends the close-out (at the first signature), finds the
// signer's roster key and fixes the payload.
func (s *Service) prepareSignature(serial uint32) (vault.Custodian, vault.Key, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess.Phase() == session.PhaseCloseOut {
		if err := s.sess.FinishCloseOut(); err != nil {
			return vault.Custodian{}, vault.Key{}, nil, err
		}
	}
	cu, key, ok := s.vault.KeyBySerial(serial)
	if !ok {
		return cu, key, nil, fmt.Errorf("serial %d is not enrolled in this vault: %w", serial, ui.ErrNotOnRoster)
	}
	if err := s.checkSigningPolicyLocked(serial); err != nil {
		return cu, key, nil, err
	}
	if s.payload == nil {
		p, err := s.buildPayloadLocked()
		if err != nil {
			return cu, key, nil, fmt.Errorf("building the report: %w", err)
		}
		s.payload = p
	}
	return cu, key, s.payload, nil
}

// reportSigner describes a custodian's signing key for the JWS.
func reportSigner(cu vault.Custodian, key vault.Key) (audit.ReportSigner, error) {
	pub, chain, err := signingMaterial(key)
	if err != nil {
		return audit.ReportSigner{}, fmt.Errorf("custodian %s's signing key in the vault: %w", cu.Name, err)
	}
	return audit.ReportSigner{KeyID: cu.ID, Public: pub, Chain: chain}, nil
}

// buildPayloadLocked derives the report from the journal so far and the
// roster entries of the custodians who took part, and embeds the vault's
// roster record.
func (s *Service) buildPayloadLocked() ([]byte, error) {
	var custodians []audit.Custodian
	seen := map[uint32]bool{}
	st := s.sess.State()
	quorums := [][]session.Custodian{st.Quorum}
	for _, r := range st.Reauthorisations {
		quorums = append(quorums, r.Custodians)
	}
	for _, q := range quorums {
		for _, sc := range q {
			if seen[sc.Serial] {
				continue
			}
			seen[sc.Serial] = true
			cu, key, ok := s.vault.KeyBySerial(sc.Serial)
			if !ok {
				return nil, fmt.Errorf("serial %d is not in the vault roster", sc.Serial)
			}
			pub, chain, err := signingMaterial(key)
			if err != nil {
				return nil, fmt.Errorf("custodian %s: %w", cu.Name, err)
			}
			ac, err := audit.NewCustodian(cu.ID, cu.Name, sc.Serial, pub, chain)
			if err != nil {
				return nil, err
			}
			custodians = append(custodians, ac)
		}
	}
	r, err := audit.BuildReport(s.journal.Entries(), custodians)
	if err != nil {
		return nil, err
	}
	// The roster the session ran under, exactly as the custodians signed
	// it: what an auditor checks against the pinned fingerprint.
	r.Roster = s.vault.RosterRecord()
	// Every earlier roster version, so an auditor who pinned the
	// fingerprint of an earlier version can walk to this one.
	r.RosterChain = s.vault.Chain
	return audit.MarshalPayload(r)
}

// Export writes the signed report (JWS JSON) and its Markdown rendering into
// dir, atomically and all or nothing, and journals the export.
func (s *Service) Export(ctx context.Context, dir string) ([]ui.ExportedFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if need := s.vault.Roster.Policy.Threshold; len(s.signers) < need {
		return nil, fmt.Errorf("%d of %d custodian signatures: %w", len(s.signers), need, session.ErrNotEnoughSigners)
	}
	jws, err := audit.SignReport(s.payload, s.signers)
	if err != nil {
		return nil, fmt.Errorf("assembling the signed report: %w", err)
	}
	r, err := audit.ParsePayload(s.payload)
	if err != nil {
		return nil, err
	}
	base := "breakglass-report-" + s.sessionID
	out, err := writeAll(dir, []exportFile{{base + ".jws.json", jws}, {base + ".md", audit.RenderMarkdown(r)}})
	if err != nil {
		return nil, err
	}
	if err := s.record("operator", eventReportExported, "the export", map[string]any{"files": out}); err != nil {
		return out, err
	}
	s.exported = out
	return out, nil
}

type exportFile struct {
	name string
	data []byte
}

// writeAll writes files into dir atomically. All or nothing: if one cannot
// be written, those already written are removed again, so the medium never
// holds half an export.
func writeAll(dir string, files []exportFile) ([]ui.ExportedFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	var out []ui.ExportedFile
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := audit.WriteFileAtomic(p, f.data, 0o644); err != nil {
			for _, w := range out {
				os.Remove(w.Path)
			}
			return nil, fmt.Errorf("%w — nothing was left on the medium; free space or choose another directory and export again", err)
		}
		sum := sha256.Sum256(f.data)
		out = append(out, ui.ExportedFile{Path: p, SHA256: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

// Lock ends the session (once enough custodians signed) and wipes every
// secret. Without enough signatures the session stays resumable; if its end
// cannot be journaled it stays resumable too, and Finish returns why.
func (s *Service) Lock() ui.Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockErr = nil
	if s.sess.Phase() == session.PhaseSign {
		if err := s.sess.Lock(); err != nil && !errors.Is(err, session.ErrNotEnoughSigners) {
			s.lockErr = fmt.Errorf("the session's end was not recorded, it stays resumable: %w", err)
		}
	}
	s.wipeLocked()
	s.unlock.Abort()
	if s.lockErr == nil {
		s.dropJournalKeyLocked() // kept while the end is still to be recorded
	}
	return ui.Summary{Exported: s.exported, Revealed: s.mustRotateLocked(), Wiped: true}
}
