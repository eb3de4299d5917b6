package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/events"
	"breakglass/vault"
)

// Enrol enrols a new custodian on a fresh virtual YubiKey with serial, for
// a rekey of tv to add (its token joins tv.Toks).
func (w *World) Enrol(tv *Vault, name string, serial uint32) (vault.Custodian, error) {
	card, err := vyk.New(vyk.Config{Serial: serial, CA: w.CA, Sleep: func(time.Duration) {}, Now: func() time.Time { return Epoch }})
	if err != nil {
		return vault.Custodian{}, err
	}
	tok := vyk.NewToken(card)
	c, err := vault.EnrolCustodian(context.Background(), tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, name,
		vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.VaultTrust, Now: Epoch})
	if err != nil {
		return vault.Custodian{}, fmt.Errorf("enrolling %s: %w", name, err)
	}
	tv.Toks[c.ID] = tok
	return c, nil
}

// Rekey carries out req on tv as vault rekey does: the quorum (custodian
// ids of tv) opens it, signers (ids of the old or new roster) sign the new
// roster. req.Now must be set. tv is not changed; the new vault shares its
// tokens.
func (w *World) Rekey(tv *Vault, req vault.RekeyRequest, quorum []string, signers ...string) (*Vault, error) {
	ctx := context.Background()
	from, err := vault.Parse(tv.Raw)
	if err != nil {
		return nil, err
	}
	plan, err := from.PlanRekey(req)
	if err != nil {
		return nil, err
	}
	u := from.Unlocker(w.VaultTrust)
	for _, id := range quorum {
		if err := u.AddShare(ctx, tv.Toks[id], hardware.DefaultPIN); err != nil {
			return nil, fmt.Errorf("%s adding share: %w", id, err)
		}
	}
	o, err := u.Open()
	if err != nil {
		return nil, err
	}
	defer o.Lock()
	res, err := o.Rekey(plan)
	if err != nil {
		return nil, err
	}
	for _, id := range signers {
		if _, err := res.Vault.SignRekey(ctx, tv.Toks[id], hardware.DefaultPIN); err != nil {
			return nil, fmt.Errorf("%s signing: %w", id, err)
		}
	}
	raw, err := res.Vault.Marshal()
	if err != nil {
		return nil, err
	}
	nv, err := vault.Parse(raw)
	if err != nil {
		return nil, err
	}
	out := &Vault{V: nv, Raw: raw, Toks: maps.Clone(tv.Toks)}
	for _, c := range nv.Roster.Custodians {
		out.IDs = append(out.IDs, c.ID)
	}
	return out, nil
}

// RekeyReport is the signed report of the rekey session that made to from
// from, as vault rekey journals it: the quorum s.Signers (ids of from,
// default its first two) sign it, the session starting at s.Start.
func (w *World) RekeyReport(dir string, from, to *Vault, s Session) ([]byte, error) {
	if s.Signers == nil {
		s.Signers = from.IDs[:2]
	}
	if s.Operator == "" {
		s.Operator, s.Ticket, s.WhatBroke = "Olga Operator", "CHG-"+s.ID, "custodians change"
	}
	clock := s.Start
	now := func() time.Time { clock = clock.Add(time.Minute); return clock }
	jdir, err := os.MkdirTemp(dir, "journal-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(jdir)
	j, err := audit.Create(filepath.Join(jdir, "journal.jsonl"), s.ID, nil, audit.Config{Now: now})
	if err != nil {
		return nil, err
	}
	defer j.Close()
	var errs []error
	must := func(actor, typ string, data any) {
		if _, err := j.Append(actor, typ, data); err != nil {
			errs = append(errs, err)
		}
	}
	must("breakglass", audit.TypeStation, audit.StationData{BinaryVersion: "v1.0.0", BinarySHA256: "ab12", VaultFingerprint: from.V.Fingerprint(), AttestationRoot: w.RootLabel})
	must("system", audit.TypeStarted, map[string]any{"runbook": map[string]any{"name": "vault rekey", "sha256": ""}, "threshold": from.V.Roster.Policy.Threshold, "rekey": true})
	must("operator", audit.TypeDeclared, map[string]any{"operator": s.Operator, "ticket": s.Ticket, "what_broke": s.WhatBroke})
	var custodians []audit.Custodian
	var signers []audit.ReportSigner
	for _, id := range s.Signers {
		c, _ := from.V.Custodian(id)
		must(id, audit.TypeQuorumCustodian, map[string]any{"id": id, "serial": c.Keys[0].Serial})
		rec, signer, err := signerFor(c, c.Keys[0], from.Toks[id])
		if err != nil {
			return nil, err
		}
		custodians, signers = append(custodians, rec), append(signers, signer)
	}
	ch := to.V.Roster.Change
	if ch == nil {
		return nil, errors.New("the new vault was not made by a rekey")
	}
	must("system", events.VaultRekeyed, events.Rekeyed{At: to.V.Roster.Created, OldDigest: from.V.RosterDigestHex(), NewDigest: to.V.RosterDigestHex(),
		NewFingerprint: to.V.Fingerprint(), Version: to.V.Roster.Number(), VaultKey: ch.Identity, Reason: ch.Reason,
		Added: ch.Added, Removed: ch.Removed, KeysAdded: ch.KeysAdded, KeysRemoved: ch.KeysRemoved,
		ThresholdFrom: ch.ThresholdFrom, ThresholdTo: ch.ThresholdTo, Out: "new-vault.json"})
	must("operator", audit.TypeCloseoutCompleted, nil)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rep, err := audit.BuildReport(j.Entries(), custodians)
	if err != nil {
		return nil, err
	}
	rep.Roster, rep.RosterChain = from.V.RosterRecord(), from.V.Chain
	rep.Rekey.NewRoster = to.V.RosterRecord()
	payload, err := audit.MarshalPayload(rep)
	if err != nil {
		return nil, err
	}
	return audit.SignReport(payload, signers)
}
