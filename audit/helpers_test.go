package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/vault"
)

var update = flag.Bool("update", false, "rewrite testdata/audit golden files")

const testdataDir = "../testdata/audit"

// fakeClock starts at a fixed instant and moves one second per reading.
type fakeClock struct{ t time.Time }

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.t = c.t.Add(time.Second + 250*time.Millisecond)
	return c.t
}

// testPKI is a software stand-in for the Yubico attestation hierarchy.
type testPKI struct {
	rootKey  crypto.Signer
	root     *x509.Certificate
	rootPool *x509.CertPool
	trust    *attest.Trust // the non-production trust of root
	ca       *vyk.CA       // the same root as a virtual YubiKey CA
}

func newPKI(t testing.TB, cn string) *testPKI {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	cert := mustCert(t, tmpl, tmpl, &key.PublicKey, key)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	trust, err := attest.NewTestTrust([]*x509.Certificate{cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{rootKey: key, root: cert, rootPool: pool, trust: trust, ca: &vyk.CA{Cert: cert, Key: key}}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testCustodian is a custodian with a software "YubiKey".
type testCustodian struct {
	id, name string
	serial   uint32
	key      *ecdsa.PrivateKey // software keys only; nil on a virtual YubiKey
	pub      *ecdsa.PublicKey
	chain    []*x509.Certificate // slot cert, device cert
	signFn   func(digest []byte) ([]byte, error)
}

// signDigest signs a SHA-256 digest with the custodian's key (ASN.1 DER).
func (c *testCustodian) signDigest(d []byte) ([]byte, error) {
	if c.signFn != nil {
		return c.signFn(d)
	}
	return ecdsa.SignASN1(rand.Reader, c.key, d)
}

func (p *testPKI) custodian(t testing.TB, id, name string, serial uint32) *testCustodian {
	t.Helper()
	devKey := mustKey(t)
	nb, na := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	dev := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(int64(serial)), Subject: pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, p.root, &devKey.PublicKey, p.rootKey)
	serialExt, err := asn1.Marshal(int64(serial))
	if err != nil {
		t.Fatal(err)
	}
	key := mustKey(t)
	slot := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "YubiKey PIV Attestation 9c"},
		NotBefore: nb, NotAfter: na,
		ExtraExtensions: []pkix.Extension{{Id: attest.OIDSerial, Value: serialExt}},
	}, dev, &key.PublicKey, devKey)
	return &testCustodian{id: id, name: name, serial: serial, key: key, pub: &key.PublicKey, chain: []*x509.Certificate{slot, dev}}
}

func (c *testCustodian) signer() ReportSigner {
	return ReportSigner{KeyID: c.id, Public: c.pub, Chain: c.chain, Sign: c.signDigest}
}

func (c *testCustodian) record(t testing.TB) Custodian {
	t.Helper()
	r, err := NewCustodian(c.id, c.name, c.serial, c.pub, c.chain)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixture is a complete scripted session run under a real vault whose
// custodians are enrolled on in-process virtual YubiKeys (TEST root):
// alice (primary 11111111, backup 11111112) and bob (22222222), 2 of 2.
type fixture struct {
	pki        *testPKI // the virtual YubiKeys' TEST root; pki.custodian makes genuine keys not on the roster
	vault      *vault.Vault
	keys       map[uint32]*testCustodian // every enrolled key by serial
	custodians []*testCustodian          // the quorum: alice's primary, bob
	entries    []Entry
	report     *Report
	payload    []byte
	jws        []byte
}

// obj is shorthand for event data in tests.
type obj = map[string]any

// writeSession appends a scripted live session to j, with event data shaped
// like breakglass/runbook/session's.
func writeSession(t testing.TB, j *Journal, cs []*testCustodian, rootLabel string, fingerprint ...string) {
	t.Helper()
	must := func(actor, typ string, data any) {
		if _, err := j.Append(actor, typ, data); err != nil {
			t.Fatal(err)
		}
	}
	fp := "SHA256:vaultfp"
	if len(fingerprint) > 0 {
		fp = fingerprint[0]
	}
	must("breakglass", TypeStation, StationData{BinaryVersion: "v1.0.0", BinarySHA256: "ab12", VaultFingerprint: fp, AttestationRoot: rootLabel})
	must("system", TypeStarted, obj{"at": "2026-11-23T03:00:00Z", "runbook": obj{"name": "db-root.md", "title": "DB", "sha256": "cd34"}, "source": "# steps", "threshold": 2, "drill": false})
	must("system", "preflight.completed", obj{"checks": []obj{{"name": "network", "ok": true}}, "passed": true})
	must("operator", TypeDeclared, obj{"operator": "Olga Operator", "ticket": "INC-42", "what_broke": "SSO is down | <b>hard</b>"})
	for _, c := range cs {
		must(c.id, TypeQuorumCustodian, obj{"id": c.id, "name": c.name, "serial": c.serial})
	}
	must("operator", TypeStepCheck, obj{"step": "check", "index": 0, "ticked": true})
	must("operator", "step.completed", obj{"step": "check"})
	must("operator", TypeSecretRevealed, obj{"name": "db-root", "step": "login", "mode": "show"})
	must("operator", "step.evidence", obj{"step": "login", "index": 0, "text": "logged in at 03:10"})
	must("operator", "step.completed", obj{"step": "login"})
	must("operator", TypeSecretRevealed, obj{"name": "aws-root-totp", "step": "aws", "mode": "show"})
	must("operator", "step.skipped", obj{"step": "aws", "text": "not needed"})
	must("operator", TypeCloseoutAnswered, obj{"question": "What broke?", "text": "IdP cert"})
	must("operator", TypeCloseoutAnswered, obj{"question": "Identities created?", "yes_no": "no"})
	must("operator", TypeCloseoutAnswered, obj{"question": "What broke?", "text": "IdP certificate expired"})
	must("operator", TypeCloseoutCompleted, nil)
}

var (
	fixtureOnce  sync.Once
	fixtureVault []byte
	fixtureKeys  map[uint32]*testCustodian
	fixtureErr   error
)

// enrolled builds (once per test binary) the fixture vault: enrolment on
// virtual YubiKeys, vault creation, every custodian signing the roster.
func enrolled(t testing.TB, pki *testPKI) (*vault.Vault, map[uint32]*testCustodian) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureVault, fixtureKeys, fixtureErr = buildVault(pki, "", 2, []enrolee{
			{"alice", "Alice A.", 11111111}, {"alice", "Alice A.", 11111112}, {"bob", "Bob B.", 22222222}})
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	v, err := vault.Parse(fixtureVault)
	if err != nil {
		t.Fatal(err)
	}
	return v, fixtureKeys
}

type enrolee struct {
	id, name string
	serial   uint32
}

// buildVault enrols es on virtual YubiKeys of pki's CA (same id twice: a
// backup key), creates a vault of threshold, has every custodian sign the
// roster (on their first key) and returns the vault file and the keys. A
// non-empty secret seals one secret so two vaults with the same people differ.
func buildVault(pki *testPKI, secret string, threshold int, es []enrolee) ([]byte, map[uint32]*testCustodian, error) {
	ctx := context.Background()
	epoch := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	keys := map[uint32]*testCustodian{}
	toks := map[uint32]hardware.Token{}
	var records []vault.Custodian
	for _, e := range es {
		card, err := vyk.New(vyk.Config{Serial: e.serial, CA: pki.ca, Sleep: func(time.Duration) {}, Now: func() time.Time { return epoch }})
		if err != nil {
			return nil, nil, err
		}
		tok := vyk.NewToken(card)
		c, err := vault.EnrolCustodian(ctx, tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, e.name,
			vault.EnrolOptions{ID: e.id, PIN: hardware.DefaultPIN, Verify: vault.VerifyOptions{Trust: pki.trust}, Now: epoch})
		if err != nil {
			return nil, nil, fmt.Errorf("enrolling %s: %w", e.name, err)
		}
		k := c.Keys[0]
		pub, chain, err := SigningMaterial(k.Sign.PublicKey, k.Sign.Attestation.Slot, k.Sign.Attestation.Device)
		if err != nil {
			return nil, nil, err
		}
		slot := k.Sign.Slot.PIV()
		keys[e.serial] = &testCustodian{id: e.id, name: e.name, serial: e.serial, pub: pub, chain: chain,
			signFn: func(d []byte) ([]byte, error) { return tok.Sign(ctx, slot, d, hardware.DefaultPIN) }}
		toks[e.serial] = tok
		records = append(records, c)
	}
	merged := vault.MergeCustodians(records)
	v, err := vault.Create(merged, threshold, epoch)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range merged {
		if _, err := v.SignRoster(ctx, toks[c.Keys[0].Serial], hardware.DefaultPIN); err != nil {
			return nil, nil, err
		}
	}
	if secret != "" {
		if err := v.Seal(secret, vault.KindPassword, []byte("not-a-real-"+secret), epoch); err != nil {
			return nil, nil, err
		}
	}
	raw, err := v.Marshal()
	return raw, keys, err
}

// testCA is the virtual YubiKeys' TEST attestation root as a testPKI.
func testCA(t testing.TB) *testPKI {
	t.Helper()
	ca, err := vyk.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	trust, err := attest.NewTestTrust([]*x509.Certificate{ca.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{rootKey: ca.Key, root: ca.Cert, rootPool: pool, trust: trust, ca: ca}
}

// rootLabel is the report's attestation_root for pki.
func (p *testPKI) rootLabel() string { return "TEST/non-production: " + p.root.Subject.CommonName }

// fixtureFor scripts a session by quorum under v and signs it by signers.
func fixtureFor(t testing.TB, pki *testPKI, v *vault.Vault, keys map[uint32]*testCustodian, quorum, signers []*testCustodian) *fixture {
	t.Helper()
	j, err := Create(filepath.Join(t.TempDir(), "journal.jsonl"), "S-2026-0001", nil, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	writeSession(t, j, quorum, pki.rootLabel(), v.Fingerprint())
	f := &fixture{pki: pki, vault: v, keys: keys, custodians: quorum, entries: j.Entries()}
	var recs []Custodian
	for i := len(quorum) - 1; i >= 0; i-- {
		recs = append(recs, quorum[i].record(t))
	}
	f.report, err = BuildReport(f.entries, recs)
	if err != nil {
		t.Fatal(err)
	}
	f.report.Roster = v.RosterRecord()
	if f.payload, err = MarshalPayload(f.report); err != nil {
		t.Fatal(err)
	}
	// One SignReport per signer, merged: SignReport itself refuses one
	// custodian twice, an attacker's hand-made JWS does not.
	var g jwsGeneral
	for _, c := range signers {
		b, err := SignReport(f.payload, []ReportSigner{c.signer()})
		if err != nil {
			t.Fatal(err)
		}
		var one jwsGeneral
		if err := json.Unmarshal(b, &one); err != nil {
			t.Fatal(err)
		}
		g.Payload, g.Signatures = one.Payload, append(g.Signatures, one.Signatures...)
	}
	if f.jws, err = json.Marshal(g); err != nil {
		t.Fatal(err)
	}
	return f
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pki := testCA(t)
	v, keys := enrolled(t, pki)
	q := []*testCustodian{keys[11111111], keys[22222222]}
	return fixtureFor(t, pki, v, keys, q, q)
}

func (f *fixture) signers() []ReportSigner {
	var out []ReportSigner
	for _, c := range f.custodians {
		out = append(out, c.signer())
	}
	return out
}

func (f *fixture) sign(t testing.TB, payload []byte) []byte {
	t.Helper()
	b, err := SignReport(payload, f.signers())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// opts pins the fixture's vault by its card fingerprint (the cheaper pin:
// the tamper tests verify thousands of times); vaultOpts pins the file.
func (f *fixture) opts() VerifyOptions {
	return VerifyOptions{Trust: f.pki.trust, NonProduction: true, Pin: Pin{Fingerprint: f.vault.Fingerprint()}}
}

func (f *fixture) vaultOpts() VerifyOptions {
	return VerifyOptions{Trust: f.pki.trust, NonProduction: true, Pin: Pin{Vault: f.vault}}
}

func writePEM(t testing.TB, path string, c *x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
}
