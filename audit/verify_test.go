package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func mustVerifyOK(t *testing.T, jws []byte, opts VerifyOptions) *Verdict {
	t.Helper()
	v, err := VerifyReport(jws, opts)
	if err != nil || !v.OK() {
		var b strings.Builder
		v.Print(&b)
		t.Fatalf("VerifyReport: %v\n%s", err, b.String())
	}
	return v
}

// mustFail asserts verification fails and that a failed check's name starts
// with one of the prefixes; it returns the failures for the message.
func mustFail(t *testing.T, what string, jws []byte, opts VerifyOptions, prefixes ...string) {
	t.Helper()
	v, err := VerifyReport(jws, opts)
	if err == nil || v.OK() || !errors.Is(err, ErrVerificationFailed) {
		t.Fatalf("%s: verification passed", what)
	}
	for _, c := range v.Failed() {
		if c.Detail == "" {
			t.Fatalf("%s: check %q failed without saying why", what, c.Name)
		}
		for _, p := range prefixes {
			if strings.HasPrefix(c.Name, p) {
				return
			}
		}
	}
	t.Fatalf("%s: failed checks %v, want one named %q", what, v.Failed(), prefixes)
}

func TestVerifyOK(t *testing.T) {
	f := newFixture(t)
	v := mustVerifyOK(t, f.jws, f.opts())
	var out bytes.Buffer
	if err := v.Print(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"✓ signature 1 (alice)", "✓ attestation 2 (bob)", "✓ threshold", "NON-PRODUCTION REPORT VERIFIED OK: session S-2026-0001"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "✗") {
		t.Errorf("a check failed:\n%s", s)
	}
	v2, _ := VerifyReport(f.jws, f.opts())
	var out2 bytes.Buffer
	v2.Print(&out2)
	if out2.String() != s {
		t.Error("verification output is not deterministic")
	}
}

// TestStandardJOSE verifies the report the way an auditor with go-jose
// alone would: parse, check each x5c chain, verify each signature with its
// leaf key.
func TestStandardJOSE(t *testing.T) {
	f := newFixture(t)
	obj, err := jose.ParseSignedJSON(string(f.jws), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.Signatures) != 2 {
		t.Fatalf("%d signatures", len(obj.Signatures))
	}
	for i, sig := range obj.Signatures {
		chains, err := sig.Protected.Certificates(x509.VerifyOptions{Roots: f.pki.rootPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			t.Fatalf("signature %d: x5c: %v", i, err)
		}
		one := *obj
		one.Signatures = []jose.Signature{sig}
		payload, err := one.Verify(chains[0][0].PublicKey)
		if err != nil || !bytes.Equal(payload, f.payload) {
			t.Fatalf("signature %d (%s): %v", i, sig.Protected.KeyID, err)
		}
		if sig.Protected.KeyID != f.custodians[i].id {
			t.Errorf("kid %q", sig.Protected.KeyID)
		}
	}
}

// byteRange finds s inside b.
func byteRange(t *testing.T, b []byte, s string) (int, int) {
	t.Helper()
	i := bytes.Index(b, []byte(s))
	if i < 0 {
		t.Fatalf("%.20q not found", s)
	}
	return i, i + len(s)
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// otherB64 replaces a base64url character with a different one.
func otherB64(c byte) byte {
	return b64url[(strings.IndexByte(b64url, c)+1)%64]
}

func sampleStep(n int) int {
	if testing.Short() {
		return n * 4
	}
	return n
}

func TestTamperJWSBytes(t *testing.T) {
	f := newFixture(t)
	var g jwsGeneral
	if err := json.Unmarshal(f.jws, &g); err != nil {
		t.Fatal(err)
	}
	type region struct {
		name       string
		text       string
		step       int
		wantChecks []string
	}
	regions := []region{{"payload", g.Payload, sampleStep(13), []string{"signature 1 ", "JWS structure"}}}
	for i, s := range g.Signatures {
		n := fmt.Sprintf("signature %d ", i+1)
		regions = append(regions,
			region{n + "protected header (alg, kid, x5c certificates)", s.Protected, sampleStep(4), []string{n}},
			region{n + "value", s.Signature, 1, []string{n}})
	}
	for _, r := range regions {
		start, end := byteRange(t, f.jws, r.text)
		for pos := start; pos < end; pos += r.step {
			bad := bytes.Clone(f.jws)
			bad[pos] = otherB64(bad[pos])
			mustFail(t, fmt.Sprintf("%s, byte %d", r.name, pos-start), bad, f.opts(), r.wantChecks...)
		}
		// the last character carries padding bits: always test it
		bad := bytes.Clone(f.jws)
		bad[end-1] = otherB64(bad[end-1])
		mustFail(t, r.name+", last byte", bad, f.opts(), r.wantChecks...)
	}
	// Structural bytes outside the base64 strings.
	for _, edit := range []struct{ old, new string }{
		{`"signatures"`, `"Signatures"`}, {`{"payload"`, `{ "payload"`}, {`"}]}`, `"}],"x":1}`},
	} {
		mustFail(t, "structure "+edit.new, bytes.Replace(f.jws, []byte(edit.old), []byte(edit.new), 1), f.opts(), "JWS structure")
	}
}

// TestTamperPayloadBytes changes decoded payload bytes (every Nth, plus all
// of the journal head) without re-signing.
func TestTamperPayloadBytes(t *testing.T) {
	f := newFixture(t)
	hs, he := byteRange(t, f.payload, f.report.Journal.Head)
	for pos := 0; pos < len(f.payload); pos++ {
		if pos%sampleStep(5) != 0 && (pos < hs || pos >= he) {
			continue
		}
		p := bytes.Clone(f.payload)
		p[pos] ^= 0x01
		mustFail(t, fmt.Sprintf("payload byte %d", pos), withPayload(t, f.jws, p), f.opts(), "signature 1 ")
	}
}

// withPayload swaps the payload of a JWS, keeping its signatures.
func withPayload(t *testing.T, jws, payload []byte) []byte {
	var g jwsGeneral
	if err := json.Unmarshal(jws, &g); err != nil {
		t.Fatal(err)
	}
	g.Payload = base64.RawURLEncoding.EncodeToString(payload)
	b, _ := json.Marshal(g)
	return b
}

// TestTamperJournalResigned changes every byte of the journal inside the
// payload and has the legitimate keys sign the result: the signatures are
// valid, so the journal checks alone must catch it.
func TestTamperJournalResigned(t *testing.T) {
	f := newFixture(t)
	start := bytes.Index(f.payload, []byte(`"journal":{`))
	if start < 0 {
		t.Fatal("no journal in payload")
	}
	// Every byte of the head, the count and one whole entry; every 5th elsewhere.
	one := bytes.Index(f.payload[start:], []byte(`{"seq":5,`)) + start
	oneEnd := bytes.Index(f.payload[one:], []byte(`{"seq":6,`)) + one
	for pos := start; pos < len(f.payload)-1; pos++ {
		small := pos < start+120 || (pos >= one && pos < oneEnd)
		if !(small && pos%sampleStep(1) == 0) && pos%sampleStep(5) != 0 {
			continue
		}
		p := bytes.Clone(f.payload)
		p[pos] ^= 0x01
		mustFail(t, fmt.Sprintf("journal byte %d (%q)", pos-start, f.payload[max(pos-8, 0):pos+8]), f.sign(t, p), f.opts(),
			"payload", "journal", "report built from journal")
	}
}

// resigned re-encodes a modified report and signs it with the real keys.
func (f *fixture) resigned(t *testing.T, edit func(r *Report)) []byte {
	t.Helper()
	r, err := ParsePayload(f.payload)
	if err != nil {
		t.Fatal(err)
	}
	edit(r)
	p, err := MarshalPayload(r)
	if err != nil {
		t.Fatal(err)
	}
	return f.sign(t, p)
}

func TestRemovedReorderedDuplicatedEvents(t *testing.T) {
	f := newFixture(t)
	n := len(f.entries)
	fixHead := func(r *Report) {
		r.Journal.Count = len(r.Journal.Entries)
		r.Journal.Head = r.Journal.Entries[len(r.Journal.Entries)-1].Hash
	}
	for k := range n {
		cases := map[string]func([]Entry) []Entry{
			"removed":    func(e []Entry) []Entry { return slices.Delete(e, k, k+1) },
			"duplicated": func(e []Entry) []Entry { return slices.Insert(e, k, e[k]) },
		}
		if k+1 < n {
			cases["reordered"] = func(e []Entry) []Entry { e[k], e[k+1] = e[k+1], e[k]; return e }
		}
		for name, mutate := range cases {
			jws := f.resigned(t, func(r *Report) { r.Journal.Entries = mutate(r.Journal.Entries); fixHead(r) })
			mustFail(t, fmt.Sprintf("entry %d %s", k+1, name), jws, f.opts(), "journal hash chain", "report built from journal")
		}
	}
}

func TestReportListsMustMatchJournal(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		edit  func(r *Report)
		check string
	}{
		{"quorum event dropped", func(r *Report) { r.Quorum = r.Quorum[:1] }, "quorum matches journal"},
		{"revealed secret dropped", func(r *Report) { r.Revealed = r.Revealed[1:] }, "revealed secrets matches journal"},
		{"must-rotate emptied", func(r *Report) { r.MustRotate = []string{} }, "must rotate matches journal"},
		{"operator renamed", func(r *Report) { r.Session.Operator = "Someone Else" }, "session matches journal"},
		{"skipped step marked completed", func(r *Report) { r.Timeline[3].Event = "completed" }, "timeline matches journal"},
		{"answer changed", func(r *Report) { r.Closeout[0].Text = "nothing" }, "close-out answers matches journal"},
		{"threshold lowered", func(r *Report) { r.Session.Threshold = 1 }, "session matches journal"},
		{"vault fingerprint changed", func(r *Report) { r.VaultFingerprint = "SHA256:other" }, "station"},
		{"head changed", func(r *Report) { r.Journal.Head = ZeroHash }, "journal head"},
		{"drill that revealed secrets", func(r *Report) { r.Session.Mode = ModeDrill }, "drill revealed nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, tc.name, f.resigned(t, tc.edit), f.opts(), tc.check)
		})
	}
}

// mergeSignatures builds one JWS holding the signatures of several.
func mergeSignatures(t *testing.T, jwss ...[]byte) []byte {
	var out jwsGeneral
	for _, b := range jwss {
		var g jwsGeneral
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		out.Payload = g.Payload
		out.Signatures = append(out.Signatures, g.Signatures...)
	}
	b, _ := json.Marshal(out)
	return b
}

func TestSameCustodianTwice(t *testing.T) {
	f := newFixture(t)
	alice := f.custodians[0].signer()
	if _, err := SignReport(f.payload, []ReportSigner{alice, alice}); err == nil {
		t.Error("SignReport let one custodian sign twice")
	}
	a1, err := SignReport(f.payload, []ReportSigner{alice})
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := SignReport(f.payload, []ReportSigner{alice})
	twice := mergeSignatures(t, a1, a2)
	mustFail(t, "alice twice", twice, f.opts(), "distinct custodians")
	mustFail(t, "alice twice", twice, f.opts(), "threshold")
	// Even with every quorum custodian present, a duplicate fails the report.
	mustFail(t, "alice, bob, alice", mergeSignatures(t, f.jws, a2), f.opts(), "distinct custodians")
	// Only one custodian: below the minimum of two.
	mustFail(t, "alice alone", a1, f.opts(), "threshold")
}

func TestVerifyRoster(t *testing.T) {
	f := newFixture(t)
	member := func(c *testCustodian) RosterMember {
		return RosterMember{ID: c.id, Serial: c.serial, SigningKey: &c.key.PublicKey}
	}
	alice, bob := member(f.custodians[0]), member(f.custodians[1])
	withRoster := func(r *Roster) VerifyOptions { o := f.opts(); o.Roster = r; return o }
	if v := mustVerifyOK(t, f.jws, withRoster(&Roster{Threshold: 2, Members: []RosterMember{alice, bob}})); len(v.Warnings) != 0 {
		t.Errorf("warnings with a roster: %v", v.Warnings)
	}
	if v := mustVerifyOK(t, f.jws, f.opts()); len(v.Warnings) != 1 {
		t.Errorf("no warning without a roster: %v", v.Warnings)
	}
	other := f.pki.custodian(t, "carol", "Carol", 3)
	wrongKey := bob
	wrongKey.SigningKey = &other.key.PublicKey
	wrongSerial := bob
	wrongSerial.Serial = 99
	for _, tc := range []struct {
		name   string
		roster *Roster
		check  string
	}{
		{"threshold 3", &Roster{Threshold: 3, Members: []RosterMember{alice, bob, member(other)}}, "threshold"},
		{"bob not enrolled", &Roster{Threshold: 2, Members: []RosterMember{alice}}, "roster"},
		{"bob's key differs", &Roster{Threshold: 2, Members: []RosterMember{alice, wrongKey}}, "roster"},
		{"bob's serial differs", &Roster{Threshold: 2, Members: []RosterMember{alice, wrongSerial}}, "roster"},
	} {
		t.Run(tc.name, func(t *testing.T) { mustFail(t, tc.name, f.jws, withRoster(tc.roster), tc.check) })
	}
}

func TestVerifyAttestation(t *testing.T) {
	f := newFixture(t)
	other := newPKI(t, "Another Root")
	mustFail(t, "wrong root", f.jws, VerifyOptions{Trust: other.trust, NonProduction: true}, "attestation 1 ")
	mustFail(t, "yubico roots (the default)", f.jws, VerifyOptions{NonProduction: true}, "attestation 1 ")
	mustFail(t, "test root without the non-production option", f.jws, VerifyOptions{Trust: f.pki.trust}, "attestation root")

	// A key attested by a rogue CA, listed in the report and signing validly.
	rogue := newPKI(t, "Test Attestation Root").custodian(t, "bob", "Bob B.", 22222222)
	r, _ := ParsePayload(f.payload)
	r.Custodians[1] = rogue.record(t)
	p, _ := MarshalPayload(r)
	jws, err := SignReport(p, []ReportSigner{f.custodians[0].signer(), rogue.signer()})
	if err != nil {
		t.Fatal(err)
	}
	mustFail(t, "rogue attestation CA", jws, f.opts(), "attestation 2 ")
}

// TestTamperCertificates changes bytes of the DER certificates in x5c and
// has the signer's real key sign the altered header.
func TestTamperCertificates(t *testing.T) {
	f := newFixture(t)
	alice := f.custodians[0]
	for ci, cert := range alice.chain {
		for pos := 0; pos < len(cert.Raw); pos += sampleStep(3) {
			der := bytes.Clone(cert.Raw)
			der[pos] ^= 0x01
			x5c := []string{base64.StdEncoding.EncodeToString(alice.chain[0].Raw), base64.StdEncoding.EncodeToString(alice.chain[1].Raw)}
			x5c[ci] = base64.StdEncoding.EncodeToString(der)
			sig := signHeader(t, f.payload, alice.key, protectedHeader{Alg: "ES256", Kid: "alice", X5c: x5c})
			var g jwsGeneral
			json.Unmarshal(f.jws, &g)
			g.Signatures[0] = sig
			b, _ := json.Marshal(g)
			mustFail(t, fmt.Sprintf("x5c[%d] byte %d", ci, pos), b, f.opts(), "signature 1 ", "attestation 1 ", "custodian 1 ")
		}
	}
}

// signHeader makes one JWS signature by hand, as a custodian's key would.
func signHeader(t *testing.T, payload []byte, key *ecdsa.PrivateKey, h protectedHeader) jwsSignature {
	t.Helper()
	hb, _ := json.Marshal(h)
	prot := base64.RawURLEncoding.EncodeToString(hb)
	digest := sha256.Sum256([]byte(prot + "." + base64.RawURLEncoding.EncodeToString(payload)))
	der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw, err := DERToJOSE(der)
	if err != nil {
		t.Fatal(err)
	}
	return jwsSignature{Protected: prot, Signature: base64.RawURLEncoding.EncodeToString(raw)}
}

func TestSignReportRefuses(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.custodians[0].signer(), f.custodians[1].signer()
	wrongChain := alice
	wrongChain.Chain = bob.Chain
	wrongCard := alice
	wrongCard.Sign = bob.Sign
	cardFails := alice
	cardFails.Sign = func([]byte) ([]byte, error) { return nil, errors.New("key was removed") }
	for _, tc := range []struct {
		name    string
		signers []ReportSigner
	}{
		{"none", nil},
		{"chain of another key", []ReportSigner{wrongChain}},
		{"card signs with another key", []ReportSigner{wrongCard}},
		{"card fails", []ReportSigner{cardFails}},
		{"no chain", []ReportSigner{{KeyID: "a", Public: alice.Public, Sign: alice.Sign}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SignReport(f.payload, tc.signers); err == nil {
				t.Error("SignReport succeeded")
			}
		})
	}
}

func TestDERToJOSE(t *testing.T) {
	for _, tc := range []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"short r and s", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, true},
		{"zero r", []byte{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x02}, false},
		{"negative s", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x80}, false},
		{"trailing bytes", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x00}, false},
		{"garbage", []byte("nope"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := DERToJOSE(tc.der)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && (len(out) != 64 || out[31] != 1 || out[63] != 2) {
				t.Errorf("out = %x", out)
			}
		})
	}
}

func FuzzReportVerify(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(testdataDir, "*.jws"))
	if len(seeds) == 0 {
		f.Fatal("no report seeds in testdata/audit")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	trust := loadTrust(f, filepath.Join(testdataDir, "root.pem"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := VerifyReport(b, VerifyOptions{Trust: trust, NonProduction: true})
		if v == nil || (err == nil) != v.OK() {
			t.Fatalf("verdict %v disagrees with error %v", v, err)
		}
		if err != nil {
			return
		}
		payload, _, perr := parseJWS(b)
		again, merr := MarshalPayload(v.Report)
		if perr != nil || merr != nil || !bytes.Equal(payload, again) {
			t.Fatal("an accepted report's payload is not canonical")
		}
	})
}
