package ledger

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/vault"
)

// The test world: vaults made exactly as the console's are (custodians
// enrolled on in-process virtual YubiKeys under the TEST attestation root,
// roster signed on the keys) and reports signed on the same keys.

var epoch = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

type testVault struct {
	v    *vault.Vault
	raw  []byte
	toks map[string]hardware.Token // by custodian id
	ids  []string
}

type world struct {
	ca     *vyk.CA
	trust  Trust
	home   *testVault // 2 of 3: alice, bob, carol
	other  *testVault // 2 of 2, another vault: dave, erin
	err    error
	labelT string
}

var (
	worldOnce sync.Once
	theWorld  world
)

func getWorld(t testing.TB) *world {
	t.Helper()
	worldOnce.Do(func() { theWorld.err = theWorld.build() })
	if theWorld.err != nil {
		t.Fatal(theWorld.err)
	}
	return &theWorld
}

func (w *world) build() error {
	var err error
	if w.ca, err = vyk.TestCA(); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(w.ca.Cert)
	w.trust = Trust{Report: audit.VerifyOptions{Roots: pool, NonProduction: true}, Vault: vault.VerifyOptions{Roots: []*x509.Certificate{w.ca.Cert}}}
	w.labelT = "TEST/non-production: " + w.ca.Cert.Subject.CommonName
	if w.home, err = w.newVault(10000001, 2, "Alice", "Bob", "Carol"); err != nil {
		return err
	}
	w.other, err = w.newVault(20000001, 2, "Dave", "Erin")
	return err
}

func (w *world) newVault(serial uint32, threshold int, names ...string) (*testVault, error) {
	ctx := context.Background()
	tv := &testVault{toks: map[string]hardware.Token{}}
	var records []vault.Custodian
	for i, name := range names {
		card, err := vyk.New(vyk.Config{Serial: serial + uint32(i), CA: w.ca, Sleep: func(time.Duration) {}, Now: func() time.Time { return epoch }})
		if err != nil {
			return nil, err
		}
		tok := vyk.NewToken(card)
		c, err := vault.EnrolCustodian(ctx, tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, name,
			vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.trust.Vault, Now: epoch})
		if err != nil {
			return nil, fmt.Errorf("enrolling %s: %w", name, err)
		}
		tv.toks[c.ID] = tok
		tv.ids = append(tv.ids, c.ID)
		records = append(records, c)
	}
	v, err := vault.Create(vault.MergeCustodians(records), threshold, epoch)
	if err != nil {
		return nil, err
	}
	for _, id := range tv.ids {
		if _, err := v.SignRoster(ctx, tv.toks[id], hardware.DefaultPIN); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"db-root", "aws-root"} {
		if err := v.Seal(name, vault.KindPassword, []byte("not-a-real-"+name), epoch); err != nil {
			return nil, err
		}
	}
	tv.v = v
	tv.raw, err = v.Marshal()
	return tv, err
}

// rotated returns a copy of the vault file with name sealed again at at.
func (tv *testVault) rotated(t testing.TB, name string, at time.Time) []byte {
	t.Helper()
	v, err := vault.Parse(tv.raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Seal(name, vault.KindPassword, []byte("rotated-"+name), at); err != nil {
		t.Fatal(err)
	}
	b, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sessionSpec describes a scripted session.
type sessionSpec struct {
	id        string
	drill     bool
	start     time.Time
	operator  string
	ticket    string
	whatBroke string
	signers   []string          // custodian ids, default the first two
	reveals   []string          // secret names shown (live) or checked (drill)
	sealedAt  map[string]string // optional sealed_at per revealed secret
	abort     bool
	skip      string // reason for skipping step "aws", if any
}

// report builds and signs a report for spec on tv's keys.
func (w *world) report(t testing.TB, tv *testVault, spec sessionSpec) []byte {
	t.Helper()
	if spec.signers == nil {
		spec.signers = tv.ids[:2]
	}
	if spec.operator == "" {
		spec.operator, spec.ticket, spec.whatBroke = "Olga Operator", "INC-"+spec.id, "SSO is down"
	}
	clock := spec.start
	now := func() time.Time { clock = clock.Add(time.Minute); return clock }
	j, err := audit.Create(filepath.Join(t.TempDir(), "journal.jsonl"), spec.id, nil, audit.Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	must := func(actor, typ string, data any) {
		t.Helper()
		if _, err := j.Append(actor, typ, data); err != nil {
			t.Fatal(err)
		}
	}
	must("breakglass", audit.TypeStation, audit.StationData{BinaryVersion: "v1.0.0", BinarySHA256: "ab12", VaultFingerprint: tv.v.Fingerprint(), AttestationRoot: w.labelT})
	must("system", audit.TypeStarted, map[string]any{"runbook": map[string]any{"name": "db.md", "sha256": "cd34"}, "threshold": 2, "drill": spec.drill})
	must("operator", audit.TypeDeclared, map[string]any{"operator": spec.operator, "ticket": spec.ticket, "what_broke": spec.whatBroke})
	var custodians []audit.Custodian
	var signers []audit.ReportSigner
	for _, id := range spec.signers {
		c, _ := tv.v.Custodian(id)
		k := c.Keys[0]
		must(id, audit.TypeQuorumCustodian, map[string]any{"id": id, "serial": k.Serial})
		rec, signer := signerFor(t, c, k, tv.toks[id])
		custodians, signers = append(custodians, rec), append(signers, signer)
	}
	typ := audit.TypeSecretRevealed
	if spec.drill {
		typ = audit.TypeSecretChecked
	}
	for _, name := range spec.reveals {
		must("operator", typ, map[string]any{"name": name, "step": "login", "sealed_at": spec.sealedAt[name]})
	}
	must("operator", "step.completed", map[string]any{"step": "login"})
	if spec.skip != "" {
		must("operator", "step.skipped", map[string]any{"step": "aws", "text": spec.skip})
	}
	if spec.abort {
		must("operator", audit.TypeAborted, map[string]any{"by": "operator", "reason": "wrong runbook"})
	} else {
		must("operator", audit.TypeCloseoutCompleted, nil)
	}
	rep, err := audit.BuildReport(j.Entries(), custodians)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := audit.MarshalPayload(rep)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := audit.SignReport(payload, signers)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func signerFor(t testing.TB, c vault.Custodian, k vault.Key, tok hardware.Token) (audit.Custodian, audit.ReportSigner) {
	t.Helper()
	pk, err := x509.ParsePKIXPublicKey(k.Sign.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	slot, err1 := x509.ParseCertificate(k.Sign.Attestation.Slot)
	dev, err2 := x509.ParseCertificate(k.Sign.Attestation.Device)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	chain := []*x509.Certificate{slot, dev}
	rec, err := audit.NewCustodian(c.ID, c.Name, k.Serial, pkECDSA(t, pk), chain)
	if err != nil {
		t.Fatal(err)
	}
	s := audit.ReportSigner{KeyID: c.ID, Public: pkECDSA(t, pk), Chain: chain, Sign: func(d []byte) ([]byte, error) {
		return tok.Sign(context.Background(), k.Sign.Slot.PIV(), d, hardware.DefaultPIN)
	}}
	return rec, s
}

func pkECDSA(t testing.TB, pk any) *ecdsa.PublicKey {
	t.Helper()
	k, ok := pk.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("signing key is %T", pk)
	}
	return k
}

// testClock is a settable clock for the ledger.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time { return c.t }

// newLedger opens a fresh ledger in a temporary directory.
func newLedger(t testing.TB, clock *testClock) (*Ledger, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ledger")
	return reopen(t, dir, clock), dir
}

func reopen(t testing.TB, dir string, clock *testClock) *Ledger {
	t.Helper()
	l, err := Open(Config{Dir: dir, Trust: getWorld(t).trust, Now: clock.Now}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// populated is a ledger with a reviewed, announced, rotated live session, a
// drill, a live session nobody announced or reviewed, and a stray
// announcement.
func populated(t *testing.T, clock *testClock) (*Ledger, string) {
	t.Helper()
	w := getWorld(t)
	l, dir := newLedger(t, clock)
	fp := Pin{Fingerprint: w.home.v.Fingerprint()}
	mustImport(t, l, "s1.jws", w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1), reveals: []string{"db-root"}, skip: "not needed"}), Pin{VaultFile: w.home.raw})
	mustImport(t, l, "d1.jws", w.report(t, w.home, sessionSpec{id: "D-1", drill: true, start: day(2, 10), reveals: []string{"db-root", "aws-root"}}), fp)
	mustImport(t, l, "s2.jws", w.report(t, w.home, sessionSpec{id: "S-2", start: day(2, 20), reveals: []string{"aws-root"},
		operator: "Mallory <script>alert(1)</script>", ticket: "INC-\x1b[2J\u202e", whatBroke: "<img src=http://evil.example/x.png>"}), fp)
	for code, by := range map[string]string{CodeOfSession(t, l, "S-1"): "Sam On-call", string(CodeOf(&testReport)): "Sam On-call"} {
		if _, err := l.Announce(code, by); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.ImportVault(w.home.rotated(t, "db-root", day(2, 2))); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Review("S-1", "Rita Reviewer", DecisionAccepted, "justified by INC-S-1"); err != nil {
		t.Fatal(err)
	}
	return l, dir
}

// CodeOfSession is the announce code of an imported session.
func CodeOfSession(t *testing.T, l *Ledger, id string) string {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Vaults {
		for _, s := range v.Sessions {
			if s.ID == id {
				return s.AnnounceCode
			}
		}
	}
	t.Fatalf("no session %s", id)
	return ""
}
