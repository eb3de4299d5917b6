package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
	attestation "breakglass/internal/attest"
	"breakglass/vault/pivp256"
)

var (
	testNow  = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	testMgmt = hardware.ManagementKey{Key: hardware.DefaultManagementKey}
)

const testPIN = "246810"

// Plaintexts sealed in every test world; the saved file must contain none.
var testSecrets = []struct {
	name   string
	kind   Kind
	secret string
}{
	{"db-root", KindPassword, "correct horse battery staple 7f3a"},
	{"github-2fa", KindTOTP, "otpauth://totp/Example:ops?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&digits=8"},
	{"aws-recovery", KindRecoveryCodes, "rc-1111-aaaa\nrc-2222-bbbb\n\nrc-3333-cccc\n"},
	{"ssh-key", KindText, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-really-a-key-9d1c\n-----END OPENSSH PRIVATE KEY-----\n"},
}

// world is a vault with custodians alice (primary 1001, backup 1002), bob
// (2001) and carol (3001), threshold 2, all signatures collected.
type world struct {
	ca   *testCA
	toks map[string]*fakeToken
	v    *Vault
}

func enrol(t testing.TB, ca *testCA, tok *fakeToken, id, name string) Custodian {
	t.Helper()
	c, err := EnrolCustodian(context.Background(), tok, testMgmt, name, EnrolOptions{ID: id, PIN: testPIN, Verify: ca.opts(), Now: testNow})
	if err != nil {
		t.Fatalf("enrolling %s: %v", name, err)
	}
	return c
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ca := newTestCA(t, "Test PIV Root CA")
	w := &world{ca: ca, toks: map[string]*fakeToken{
		"alice": newFakeToken(t, ca, 1001), "alice-backup": newFakeToken(t, ca, 1002),
		"bob": newFakeToken(t, ca, 2001), "carol": newFakeToken(t, ca, 3001),
	}}
	records := []Custodian{
		enrol(t, ca, w.toks["alice"], "alice", "Alice Archer"),
		enrol(t, ca, w.toks["bob"], "bob", "Bob Baker"),
		enrol(t, ca, w.toks["alice-backup"], "alice", "Alice Archer"),
		enrol(t, ca, w.toks["carol"], "carol", "Carol Cooper"),
	}
	v, err := Create(MergeCustodians(records), 2, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob", "carol"} {
		if _, err := v.SignRoster(context.Background(), w.toks[who], testPIN); err != nil {
			t.Fatalf("%s signing: %v", who, err)
		}
	}
	for _, s := range testSecrets {
		if err := v.Seal(s.name, s.kind, []byte(s.secret), testNow); err != nil {
			t.Fatal(err)
		}
	}
	w.v = v
	return w
}

// reload saves and re-reads the world's vault, as every station would.
func (w *world) reload(t testing.TB) *Vault {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vault.json")
	if err := w.v.Save(path); err != nil {
		t.Fatal(err)
	}
	v, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCreateSignVerify(t *testing.T) {
	w := newWorld(t)
	v := w.reload(t)
	if err := v.VerifyRoster(w.ca.opts()); err != nil {
		t.Fatalf("VerifyRoster: %v", err)
	}
	if !regexp.MustCompile(`^[0-9A-F]{4}(-[0-9A-F]{4}){4}$`).MatchString(v.Fingerprint()) {
		t.Errorf("fingerprint %q is not five groups of four hex digits", v.Fingerprint())
	}
	if v.Fingerprint() != w.v.Fingerprint() {
		t.Errorf("fingerprint changed across save/load")
	}
	a, ok := v.Custodian("alice")
	if !ok || len(a.Keys) != 2 || a.Keys[0].Role != "primary" || a.Keys[1].Role != "backup" {
		t.Fatalf("alice = %+v, want primary and backup keys", a)
	}
	if len(v.Shares) != 4 {
		t.Errorf("%d shares, want one per key (4)", len(v.Shares))
	}
	if len(v.Unsigned()) != 0 {
		t.Errorf("unsigned: %v", v.Unsigned())
	}
	other := newTestCA(t, "Other Root")
	var re *RosterError
	if err := v.VerifyRoster(other.opts()); !errors.As(err, &re) || !errors.Is(err, ErrAttestation) {
		t.Errorf("VerifyRoster with another root = %v, want RosterError/ErrAttestation", err)
	}
}

func TestUnsignedRosterRefused(t *testing.T) {
	w := newWorld(t)
	w.v.Signatures = w.v.Signatures[:2] // carol never signed
	err := w.reload(t).VerifyRoster(w.ca.opts())
	var re *RosterError
	if !errors.As(err, &re) || re.Part != "signature of carol" || !errors.Is(err, ErrRosterSignature) {
		t.Fatalf("VerifyRoster = %v, want missing signature of carol", err)
	}
	if got := w.v.Unsigned(); len(got) != 1 || got[0].ID != "carol" {
		t.Errorf("Unsigned = %v", got)
	}
}

func TestCreateRejectsBadPolicy(t *testing.T) {
	w := newWorld(t)
	cs := w.v.Roster.Custodians
	tests := []struct {
		name       string
		custodians []Custodian
		threshold  int
	}{
		{"threshold one", cs, 1},
		{"threshold above N", cs, 4},
		{"single custodian", cs[:1], 1},
		{"same custodian twice", []Custodian{cs[0], cs[0]}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Create(tc.custodians, tc.threshold, testNow); !errors.Is(err, ErrFormat) {
				t.Errorf("Create = %v, want ErrFormat", err)
			}
		})
	}
}

func TestSaveKeepsPreviousAndRefusesInvalid(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "vault.json")
	if err := w.v.Save(path); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if err := w.v.Seal("new-one", KindPassword, []byte("pw"), testNow); err != nil {
		t.Fatal(err)
	}
	if err := w.v.Save(path); err != nil {
		t.Fatal(err)
	}
	prev, err := os.ReadFile(path + ".prev")
	if err != nil || !bytes.Equal(prev, first) {
		t.Fatalf("%s.prev does not hold the previous version (err %v)", path, err)
	}
	second, _ := os.ReadFile(path)
	w.v.Roster.Policy.Threshold = 1
	if err := w.v.Save(path); !errors.Is(err, ErrFormat) {
		t.Fatalf("Save of an invalid vault = %v, want ErrFormat", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, second) {
		t.Error("refused Save changed the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Errorf("directory has %d entries, want vault.json and .prev only", len(entries))
	}
}

func TestPlaintextNeverInFile(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "vault.json")
	if err := w.v.Save(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range testSecrets {
		for _, needle := range []string{s.secret, strings.Split(s.secret, "\n")[0],
			base64.StdEncoding.EncodeToString([]byte(s.secret)), "GEZDGNBVGY3TQOJQ"} {
			if needle != "" && bytes.Contains(data, []byte(needle)) {
				t.Errorf("saved vault contains plaintext of %s", s.name)
			}
		}
	}
}

func TestEnrolment(t *testing.T) {
	ca := newTestCA(t, "root")
	tok := newFakeToken(t, ca, 4242)
	c := enrol(t, ca, tok, "", "Dana Dee")
	if c.ID != "dana-dee" {
		t.Errorf("id = %q, want dana-dee", c.ID)
	}
	k := c.Keys[0]
	if k.Decrypt.Slot.PIV() != 0x82 || k.Sign.Slot.PIV() != hardware.SlotSignature {
		t.Errorf("slots = %s, %s; want 82, 9c", k.Decrypt.Slot.PIV(), k.Sign.Slot.PIV())
	}
	info, _ := tok.KeyInfo(context.Background(), 0x82)
	if info.PIN != hardware.PINPolicyOnce || info.Touch != hardware.TouchPolicyAlways {
		t.Errorf("decryption key policies = %s/%s, want once/always", info.PIN, info.Touch)
	}
	if info, _ := tok.KeyInfo(context.Background(), hardware.SlotSignature); info.Touch != hardware.TouchPolicyAlways {
		t.Errorf("signing key touch = %s, want always", info.Touch)
	}
	cert, err := tok.Certificate(context.Background(), 0x82)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("slot certificate is not self-signed: %v", err)
	}
	if got := cert.Subject.String(); !strings.Contains(got, "O=age-plugin-yubikey") || !strings.Contains(got, "CN=Dana Dee") {
		t.Errorf("slot certificate subject = %s", got)
	}
	if x, err := attestation.ParseExtensions(cert); err != nil || !x.HasPolicy || x.PIN != hardware.PINPolicyOnce || x.Touch != hardware.TouchPolicyAlways {
		t.Errorf("slot certificate policy extension = %+v, %v; want PIN once, touch always", x, err)
	}
	if !cert.NotAfter.Equal(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("notAfter = %v", cert.NotAfter)
	}

	// A second enrolment on the same token takes the next free slot and
	// refuses to clobber the signing key unless asked.
	if _, err := EnrolCustodian(context.Background(), tok, testMgmt, "Dana Dee", EnrolOptions{PIN: testPIN, Verify: ca.opts()}); err == nil {
		t.Error("second enrolment replaced slot 9c without ReplaceSignKey")
	}
	c2, err := EnrolCustodian(context.Background(), tok, testMgmt, "Dana Dee", EnrolOptions{PIN: testPIN, Verify: ca.opts(), ReplaceSignKey: true})
	if err != nil || c2.Keys[0].Decrypt.Slot.PIV() != 0x83 {
		t.Errorf("second enrolment: slot %v, err %v; want 83", c2.Keys, err)
	}

	// Attestation under an untrusted root is refused before returning.
	other := newTestCA(t, "other")
	if _, err := EnrolCustodian(context.Background(), newFakeToken(t, ca, 5), testMgmt, "Eve", EnrolOptions{PIN: testPIN, Verify: other.opts()}); !errors.Is(err, ErrAttestation) {
		t.Errorf("enrolment under untrusted root = %v, want ErrAttestation", err)
	}

	path := filepath.Join(t.TempDir(), "dana.json")
	if err := WriteCustodianFile(path, c); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCustodianFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != c.ID || back.Keys[0].Decrypt.Recipient != k.Decrypt.Recipient {
		t.Errorf("custodian file round trip changed the record")
	}
	os.WriteFile(path, []byte(`{"format":"breakglass-custodian","version":1,"custodian":{},"extra":1}`), 0o600)
	if _, err := LoadCustodianFile(path); !errors.Is(err, ErrFormat) {
		t.Errorf("LoadCustodianFile of a bad file = %v, want ErrFormat", err)
	}

	text, err := AgeIdentityFile(c, k, testNow)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	stub, err := pivp256.ParseStub(lines[len(lines)-1])
	if err != nil || stub.Serial != 4242 || stub.Slot != 0x82 {
		t.Errorf("identity file stub = %+v, %v", stub, err)
	}
}

func TestVerifyAttestationRejects(t *testing.T) {
	ca := newTestCA(t, "root")
	tok := newFakeToken(t, ca, 77)
	pub, err := tok.GenerateKey(context.Background(), testMgmt, 0x82, hardware.GenerateOptions{Algorithm: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	att, _ := tok.Attest(context.Background(), 0x82)
	other := newFakeToken(t, ca, 78)
	otherPub, _ := other.GenerateKey(context.Background(), testMgmt, 0x82, hardware.GenerateOptions{Algorithm: "P-256"})
	genuine := Attestation{Device: att.Device.Raw, Slot: att.Slot.Raw}
	tests := []struct {
		name   string
		opts   VerifyOptions
		a      Attestation
		serial uint32
		pub    any
		want   error // besides ErrAttestation
	}{
		{"yubico roots (default) refuse a test chain", VerifyOptions{}, genuine, 77, pub, attestation.ErrUntrusted},
		{"other root", newTestCA(t, "x").opts(), genuine, 77, pub, attestation.ErrUntrusted},
		{"slot from another device", ca.opts(), Attestation{Device: other.device.Raw, Slot: att.Slot.Raw}, 77, pub, attestation.ErrUntrusted},
		{"missing device certificate", ca.opts(), Attestation{Slot: att.Slot.Raw}, 77, pub, attestation.ErrIncomplete},
		{"garbage slot certificate", ca.opts(), Attestation{Device: att.Device.Raw, Slot: []byte{0x30, 0x00}}, 77, pub, attestation.ErrMalformed},
		{"other serial", ca.opts(), genuine, 78, pub, attestation.ErrMismatch},
		{"other key", ca.opts(), genuine, 77, otherPub, attestation.ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.verifyAttestation(tc.a, tc.serial, tc.pub)
			if !errors.Is(err, ErrAttestation) || !errors.Is(err, tc.want) {
				t.Errorf("verifyAttestation = %v, want ErrAttestation and %v", err, tc.want)
			}
		})
	}
	if err := ca.opts().verifyAttestation(genuine, 77, pub); err != nil {
		t.Errorf("genuine attestation: %v", err)
	}
}
