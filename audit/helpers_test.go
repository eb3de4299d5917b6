package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"breakglass/internal/attest"
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
	rootKey  *ecdsa.PrivateKey
	root     *x509.Certificate
	rootPool *x509.CertPool
	trust    *attest.Trust // the non-production trust of root
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
	return &testPKI{rootKey: key, root: cert, rootPool: pool, trust: trust}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
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
	key      *ecdsa.PrivateKey
	chain    []*x509.Certificate // slot cert, device cert
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
	return &testCustodian{id: id, name: name, serial: serial, key: key, chain: []*x509.Certificate{slot, dev}}
}

func (c *testCustodian) signer() ReportSigner {
	return ReportSigner{KeyID: c.id, Public: &c.key.PublicKey, Chain: c.chain,
		Sign: func(d []byte) ([]byte, error) { return ecdsa.SignASN1(rand.Reader, c.key, d) }}
}

func (c *testCustodian) record(t testing.TB) Custodian {
	t.Helper()
	r, err := NewCustodian(c.id, c.name, c.serial, &c.key.PublicKey, c.chain)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixture is a complete scripted session.
type fixture struct {
	pki        *testPKI
	custodians []*testCustodian
	entries    []Entry
	report     *Report
	payload    []byte
	jws        []byte
}

// obj is shorthand for event data in tests.
type obj = map[string]any

// writeSession appends a scripted live session to j, with event data shaped
// like breakglass/runbook/session's.
func writeSession(t testing.TB, j *Journal, cs []*testCustodian, rootLabel string) {
	t.Helper()
	must := func(actor, typ string, data any) {
		if _, err := j.Append(actor, typ, data); err != nil {
			t.Fatal(err)
		}
	}
	must("breakglass", TypeStation, StationData{BinaryVersion: "v1.0.0", BinarySHA256: "ab12", VaultFingerprint: "SHA256:vaultfp", AttestationRoot: rootLabel})
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

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pki := newPKI(t, "Test Attestation Root")
	cs := []*testCustodian{pki.custodian(t, "alice", "Alice A.", 11111111), pki.custodian(t, "bob", "Bob B.", 22222222)}
	j, err := Create(filepath.Join(t.TempDir(), "journal.jsonl"), "S-2026-0001", nil, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	writeSession(t, j, cs, "TEST/non-production: Test Attestation Root")
	f := &fixture{pki: pki, custodians: cs, entries: j.Entries()}
	f.report, err = BuildReport(f.entries, []Custodian{cs[1].record(t), cs[0].record(t)})
	if err != nil {
		t.Fatal(err)
	}
	if f.payload, err = MarshalPayload(f.report); err != nil {
		t.Fatal(err)
	}
	f.jws = f.sign(t, f.payload)
	return f
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

func (f *fixture) opts() VerifyOptions {
	return VerifyOptions{Trust: f.pki.trust, NonProduction: true}
}

func writePEM(t testing.TB, path string, c *x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
}
