// Package ledgertest makes what the ledger's tests import: vaults created
// as the console's are (custodians enrolled on in-process virtual YubiKeys
// under the TEST attestation root, the roster signed on the keys) and
// session reports signed on the same keys. It is for tests only: its
// attestation root's private key is public.
package ledgertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/vault"
)

// Epoch is when the test vaults were created and their secrets sealed.
var Epoch = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// Vault is a test vault and its custodians' virtual YubiKeys.
type Vault struct {
	V    *vault.Vault
	Raw  []byte                    // the vault file
	Toks map[string]hardware.Token // by custodian id
	IDs  []string                  // custodian ids in enrolment order
}

// World is two unrelated vaults under the TEST attestation root.
type World struct {
	CA          *vyk.CA
	RootLabel   string              // the report's attestation_root label
	ReportTrust audit.VerifyOptions // Roots and NonProduction for reports
	VaultTrust  vault.VerifyOptions // Roots for vault rosters
	Home        *Vault              // 2 of 3: alice, bob, carol; secrets db-root, aws-root
	Other       *Vault              // 2 of 2: dave, erin
}

// NewWorld enrols the custodians and creates both vaults.
func NewWorld() (*World, error) {
	w := &World{}
	var err error
	if w.CA, err = vyk.TestCA(); err != nil {
		return nil, err
	}
	if w.ReportTrust, w.VaultTrust, err = testTrust(w.CA.Cert); err != nil {
		return nil, err
	}
	w.RootLabel = "TEST/non-production: " + w.CA.Cert.Subject.CommonName
	if w.Home, err = w.newVault(10000001, 2, "Alice", "Bob", "Carol"); err != nil {
		return nil, err
	}
	if w.Other, err = w.newVault(20000001, 2, "Dave", "Erin"); err != nil {
		return nil, err
	}
	return w, nil
}

// testTrust is the one place that turns the TEST root into audit's and
// vault's trust options (it changes with them when internal/attest lands).
func testTrust(root *x509.Certificate) (audit.VerifyOptions, vault.VerifyOptions, error) {
	t, err := attest.NewTestTrust([]*x509.Certificate{root}, nil)
	if err != nil {
		return audit.VerifyOptions{}, vault.VerifyOptions{}, err
	}
	return audit.VerifyOptions{Trust: t, NonProduction: true}, vault.VerifyOptions{Trust: t}, nil
}

func (w *World) newVault(serial uint32, threshold int, names ...string) (*Vault, error) {
	ctx := context.Background()
	tv := &Vault{Toks: map[string]hardware.Token{}}
	var records []vault.Custodian
	for i, name := range names {
		card, err := vyk.New(vyk.Config{Serial: serial + uint32(i), CA: w.CA, Sleep: func(time.Duration) {}, Now: func() time.Time { return Epoch }})
		if err != nil {
			return nil, err
		}
		tok := vyk.NewToken(card)
		c, err := vault.EnrolCustodian(ctx, tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, name,
			vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.VaultTrust, Now: Epoch})
		if err != nil {
			return nil, fmt.Errorf("enrolling %s: %w", name, err)
		}
		tv.Toks[c.ID] = tok
		tv.IDs = append(tv.IDs, c.ID)
		records = append(records, c)
	}
	v, err := vault.Create(vault.MergeCustodians(records), threshold, Epoch)
	if err != nil {
		return nil, err
	}
	for _, id := range tv.IDs {
		if _, err := v.SignRoster(ctx, tv.Toks[id], hardware.DefaultPIN); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"db-root", "aws-root"} {
		if err := v.Seal(name, vault.KindPassword, []byte("not-a-real-"+name), Epoch); err != nil {
			return nil, err
		}
	}
	tv.V = v
	tv.Raw, err = v.Marshal()
	return tv, err
}

// Rotated returns a copy of the vault file with name sealed again at at.
func (tv *Vault) Rotated(name string, at time.Time) ([]byte, error) {
	v, err := vault.Parse(tv.Raw)
	if err != nil {
		return nil, err
	}
	if err := v.Seal(name, vault.KindPassword, []byte("rotated-"+name), at); err != nil {
		return nil, err
	}
	return v.Marshal()
}

// Session describes a scripted session.
type Session struct {
	ID        string
	Drill     bool
	Start     time.Time
	Operator  string // default "Olga Operator", ticket "INC-<ID>", what broke "SSO is down"
	Ticket    string
	WhatBroke string
	Signers   []string          // custodian ids, default the first two
	Reveals   []string          // secrets shown (live) or checked (drill) at step "login"
	SealedAt  map[string]string // optional sealed_at recorded per revealed secret
	Skip      string            // reason for skipping step "aws", if any
	Abort     bool
	// Fingerprint, if set, is recorded instead of tv's: a report signed by
	// one vault's custodians that claims another vault.
	Fingerprint string
}

// Report runs s into a journal in a temporary directory under dir and
// returns the report signed on tv's keys, as the console exports it.
func (w *World) Report(dir string, tv *Vault, s Session) ([]byte, error) {
	if s.Signers == nil {
		s.Signers = tv.IDs[:2]
	}
	if s.Operator == "" {
		s.Operator, s.Ticket, s.WhatBroke = "Olga Operator", "INC-"+s.ID, "SSO is down"
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
	fp := tv.V.Fingerprint()
	if s.Fingerprint != "" {
		fp = s.Fingerprint
	}
	must("breakglass", audit.TypeStation, audit.StationData{BinaryVersion: "v1.0.0", BinarySHA256: "ab12", VaultFingerprint: fp, AttestationRoot: w.RootLabel})
	must("system", audit.TypeStarted, map[string]any{"runbook": map[string]any{"name": "db.md", "sha256": "cd34"}, "threshold": 2, "drill": s.Drill})
	must("operator", audit.TypeDeclared, map[string]any{"operator": s.Operator, "ticket": s.Ticket, "what_broke": s.WhatBroke})
	var custodians []audit.Custodian
	var signers []audit.ReportSigner
	for _, id := range s.Signers {
		c, _ := tv.V.Custodian(id)
		must(id, audit.TypeQuorumCustodian, map[string]any{"id": id, "serial": c.Keys[0].Serial})
		rec, signer, err := signerFor(c, c.Keys[0], tv.Toks[id])
		if err != nil {
			return nil, err
		}
		custodians, signers = append(custodians, rec), append(signers, signer)
	}
	typ := audit.TypeSecretRevealed
	if s.Drill {
		typ = audit.TypeSecretChecked
	}
	for _, name := range s.Reveals {
		must("operator", typ, map[string]any{"name": name, "step": "login", "sealed_at": s.SealedAt[name]})
	}
	must("operator", "step.completed", map[string]any{"step": "login"})
	if s.Skip != "" {
		must("operator", "step.skipped", map[string]any{"step": "aws", "text": s.Skip})
	}
	if s.Abort {
		must("operator", audit.TypeAborted, map[string]any{"by": "operator", "reason": "wrong runbook"})
	} else {
		must("operator", audit.TypeCloseoutCompleted, nil)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rep, err := audit.BuildReport(j.Entries(), custodians)
	if err != nil {
		return nil, err
	}
	rep.Roster, rep.RosterChain = tv.V.RosterRecord(), tv.V.Chain // as the console embeds them
	payload, err := audit.MarshalPayload(rep)
	if err != nil {
		return nil, err
	}
	return audit.SignReport(payload, signers)
}

func signerFor(c vault.Custodian, k vault.Key, tok hardware.Token) (audit.Custodian, audit.ReportSigner, error) {
	pk, err := x509.ParsePKIXPublicKey(k.Sign.PublicKey)
	pub, ok := pk.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return audit.Custodian{}, audit.ReportSigner{}, fmt.Errorf("custodian %s: signing key: %v", c.ID, err)
	}
	slot, err1 := x509.ParseCertificate(k.Sign.Attestation.Slot)
	dev, err2 := x509.ParseCertificate(k.Sign.Attestation.Device)
	if err := errors.Join(err1, err2); err != nil {
		return audit.Custodian{}, audit.ReportSigner{}, err
	}
	chain := []*x509.Certificate{slot, dev}
	rec, err := audit.NewCustodian(c.ID, c.Name, k.Serial, pub, chain)
	if err != nil {
		return audit.Custodian{}, audit.ReportSigner{}, err
	}
	return rec, audit.ReportSigner{KeyID: c.ID, Public: pub, Chain: chain, Sign: func(d []byte) ([]byte, error) {
		return tok.Sign(context.Background(), k.Sign.Slot.PIV(), d, hardware.DefaultPIN)
	}}, nil
}
