package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/internal/attest"
)

// fakeStation and fakeToken stand in for PC/SC keys.
type fakeStation struct {
	err    error
	listed []hardware.Listed
	tokens map[uint32]*fakeToken
}

func (s *fakeStation) Keys(context.Context) ([]hardware.Listed, error) { return s.listed, s.err }

func (s *fakeStation) Open(_ context.Context, serial uint32) (hardware.Token, error) {
	if t, ok := s.tokens[serial]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("YubiKey %d: %w", serial, hardware.ErrNotFound)
}

type fakeToken struct {
	serial  uint32
	factory bool // PIN and management key still the factory defaults
	slots   map[hardware.Slot]hardware.KeyInfo
	attest  map[hardware.Slot]hardware.Attestation
	slotErr error
}

func (t *fakeToken) PINMetadata(context.Context) (piv.Metadata, error) {
	return piv.Metadata{Default: t.factory, Retries: 3, Total: 3}, nil
}
func (t *fakeToken) UsesDefaultManagementKey(context.Context) (bool, error) { return t.factory, nil }
func (t *fakeToken) Serial() uint32                                         { return t.serial }
func (t *fakeToken) Info(context.Context) (hardware.Info, error) {
	return hardware.Info{}, errors.New("unused")
}
func (t *fakeToken) VerifyPIN(context.Context, string) error { return errors.New("unused") }
func (t *fakeToken) KeyInfo(_ context.Context, s hardware.Slot) (hardware.KeyInfo, error) {
	if t.slotErr != nil {
		return hardware.KeyInfo{}, t.slotErr
	}
	if ki, ok := t.slots[s]; ok {
		return ki, nil
	}
	return hardware.KeyInfo{}, hardware.ErrSlotEmpty
}
func (t *fakeToken) Certificate(context.Context, hardware.Slot) (*x509.Certificate, error) {
	return nil, hardware.ErrSlotEmpty
}
func (t *fakeToken) Attest(_ context.Context, s hardware.Slot) (hardware.Attestation, error) {
	if a, ok := t.attest[s]; ok {
		return a, nil
	}
	return hardware.Attestation{}, hardware.ErrSlotEmpty
}
func (t *fakeToken) ECDH(context.Context, hardware.Slot, *ecdh.PublicKey, string) ([]byte, error) {
	return nil, errors.New("unused")
}
func (t *fakeToken) Sign(context.Context, hardware.Slot, []byte, string) ([]byte, error) {
	return nil, errors.New("unused")
}
func (t *fakeToken) GenerateKey(context.Context, hardware.ManagementKey, hardware.Slot, hardware.GenerateOptions) (crypto.PublicKey, error) {
	return nil, errors.New("unused")
}
func (t *fakeToken) SetCertificate(context.Context, hardware.ManagementKey, hardware.Slot, *x509.Certificate) error {
	return errors.New("unused")
}

// testCA issues Yubico-shaped attestations for the fakes.
type testCA struct {
	root            *x509.Certificate
	rootKey, devKey *ecdsa.PrivateKey
	dev             *x509.Certificate
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCreate(t *testing.T, tmpl, parent *x509.Certificate, pub any, priv *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	notBefore = time.Now().Add(-time.Hour)
	notAfter  = time.Now().Add(24 * time.Hour)
)

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca := &testCA{rootKey: mustKey(t), devKey: mustKey(t)}
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keys test root"},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca.root = mustCreate(t, rt, rt, &ca.rootKey.PublicKey, ca.rootKey)
	dt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore: notBefore, NotAfter: notAfter}
	ca.dev = mustCreate(t, dt, ca.root, &ca.devKey.PublicKey, ca.rootKey)
	return ca
}

func (ca *testCA) attest(t *testing.T, serial uint32, slot hardware.Slot, pub *ecdsa.PublicKey) hardware.Attestation {
	t.Helper()
	sn, err := asn1.Marshal(int64(serial))
	if err != nil {
		t.Fatal(err)
	}
	st := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "YubiKey PIV Attestation " + slot.String()},
		NotBefore: notBefore, NotAfter: notAfter, ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}, Value: []byte{5, 4, 3}},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}, Value: sn},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}, Value: []byte{2, 2}},
		}}
	return hardware.Attestation{Device: ca.dev, Slot: mustCreate(t, st, ca.dev, pub, ca.devKey)}
}

func (ca *testCA) trust(t *testing.T) *attest.Trust {
	tr, err := attest.NewTestTrust([]*x509.Certificate{ca.root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// custodianKey is key 12345678 with an attested 82, an attested 9c whose
// attestation is for another key, and an imported 9a.
func custodianKey(t *testing.T, ca *testCA) (*fakeStation, hardware.Listed) {
	k82, k9c, other, k9a := mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	tok := &fakeToken{serial: 12345678,
		slots: map[hardware.Slot]hardware.KeyInfo{
			0x82: {Slot: 0x82, Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyAlways, Generated: true, Public: &k82.PublicKey},
			0x9c: {Slot: 0x9c, Algorithm: "P-256", PIN: hardware.PINPolicyAlways, Touch: hardware.TouchPolicyNever, Generated: true, Public: &k9c.PublicKey},
			0x9a: {Slot: 0x9a, Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyNever, Generated: false, Public: &k9a.PublicKey},
		},
		attest: map[hardware.Slot]hardware.Attestation{
			0x82: ca.attest(t, 12345678, 0x82, &k82.PublicKey),
			0x9c: ca.attest(t, 12345678, 0x9c, &other.PublicKey),
		}}
	l := hardware.Listed{Info: hardware.Info{Reader: "Yubico YubiKey OTP+FIDO+CCID 00 00", Serial: 12345678,
		Firmware: "5.4.3", FormFactor: "USB-A Keychain", PINRetries: 3}}
	return &fakeStation{listed: []hardware.Listed{l}, tokens: map[uint32]*fakeToken{12345678: tok}}, l
}

func TestKeysText(t *testing.T) {
	ca := newTestCA(t)
	st, _ := custodianKey(t, ca)
	blocked := hardware.Listed{Info: hardware.Info{Reader: "Virtual PCD 00 01", Serial: 7, Firmware: "5.7.1", PINRetries: 0}}
	st.listed = append(st.listed, blocked,
		hardware.Listed{Info: hardware.Info{Reader: "Other Reader 00 00"}, Err: errors.New("selecting piv applet: not found")})
	st.tokens[7] = &fakeToken{serial: 7, factory: true}

	tests := []struct {
		name      string
		verifiers []piv.AttestationVerifier
		want82    string
	}{
		{"test root given", []piv.AttestationVerifier{{}, {Trust: ca.trust(t)}}, "test root (NOT production)"},
		{"test root alone", []piv.AttestationVerifier{{Trust: ca.trust(t)}}, "test root (NOT production)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			o := keysOptions{station: st, verifiers: tc.verifiers}
			if code := o.exec(context.Background(), &out, &errOut); code != 0 {
				t.Fatalf("exit code %d, want 0; stderr: %s", code, errOut.String())
			}
			want := `YubiKey 12345678  (reader "Yubico YubiKey OTP+FIDO+CCID 00 00")
  firmware 5.4.3, USB-A Keychain, PIN retries left: 3
  slot  algorithm  PIN     touch   attestation
  9a    P-256      once    never   none
  9c    P-256      always  never   FAILED: attestation of slot 9c: attested public key differs from the expected one
  82    P-256      once    always  ` + tc.want82 + `

YubiKey 7  (reader "Virtual PCD 00 01")
  firmware 5.7.1, form factor unknown, PIN retries left: 0 (PIN BLOCKED: unblock it with the PUK)
  warning: the PIN is the factory default: change it (ykman piv access change-pin)
  warning: the management key is the factory default: enrolment replaces it with a PIN-protected one
  no keys in any slot

Reader "Other Reader 00 00"
  error: could not read the card: selecting piv applet: not found
`
			if got := out.String(); got != want {
				t.Errorf("output:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestKeysYubicoRootsRejectTestChain(t *testing.T) {
	ca := newTestCA(t)
	st, _ := custodianKey(t, ca)
	var out, errOut bytes.Buffer
	o := keysOptions{station: st, verifiers: []piv.AttestationVerifier{{}}}
	if code := o.exec(context.Background(), &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if !strings.Contains(out.String(), "82    P-256      once    always  FAILED: not issued by Yubico: verifying attestation:") {
		t.Errorf("a test-root attestation was not FAILED against the Yubico roots:\n%s", out.String())
	}
}

func TestKeysJSON(t *testing.T) {
	ca := newTestCA(t)
	st, _ := custodianKey(t, ca)
	var out, errOut bytes.Buffer
	o := keysOptions{JSON: true, station: st, verifiers: []piv.AttestationVerifier{{Trust: ca.trust(t)}}}
	if code := o.exec(context.Background(), &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr %s", code, errOut.String())
	}
	var got struct {
		Keys []keyReport `json:"keys"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	three := 3
	want := []keyReport{{
		Reader: "Yubico YubiKey OTP+FIDO+CCID 00 00", Serial: 12345678, Firmware: "5.4.3", FormFactor: "USB-A Keychain", PINRetries: &three,
		Slots: []slotReport{
			{Slot: "9a", Algorithm: "P-256", PINPolicy: "once", TouchPolicy: "never", Generated: false, Attestation: "none"},
			{Slot: "9c", Algorithm: "P-256", PINPolicy: "always", TouchPolicy: "never", Generated: true, Attestation: "FAILED",
				Reason: "attestation of slot 9c: attested public key differs from the expected one"},
			{Slot: "82", Algorithm: "P-256", PINPolicy: "once", TouchPolicy: "always", Generated: true, Attestation: "test root (NOT production)"},
		},
	}}
	gj, _ := json.Marshal(got.Keys)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("JSON keys:\n%s\nwant:\n%s", gj, wj)
	}
}

func TestKeysFailures(t *testing.T) {
	ca := newTestCA(t)
	brokenSt, brokenL := custodianKey(t, ca)
	brokenSt.tokens[brokenL.Info.Serial].slotErr = fmt.Errorf("reading slot 9a on YubiKey 12345678: %w", hardware.ErrRemoved)
	tests := []struct {
		name       string
		st         *fakeStation
		wantStderr string
		wantStdout string
	}{
		{"no keys", &fakeStation{}, "no YubiKey found: insert a key; is pcscd running?", ""},
		{"pcscd not running", &fakeStation{err: fmt.Errorf("listing smart card readers: %w", hardware.ErrNoService)},
			"the smart card service (pcscd) is not running: start it", ""},
		{"only an unreadable card", &fakeStation{listed: []hardware.Listed{{Info: hardware.Info{Reader: "R"}, Err: errors.New("boom")}}},
			"", "error: could not read the card: boom"},
		{"key pulled while listing", brokenSt, "", "error: reading slot 9a on YubiKey 12345678: key was removed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			o := keysOptions{station: tc.st, verifiers: []piv.AttestationVerifier{{}}}
			if code := o.exec(context.Background(), &out, &errOut); code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			if !strings.Contains(errOut.String(), tc.wantStderr) {
				t.Errorf("stderr %q does not say %q", errOut.String(), tc.wantStderr)
			}
			if !strings.Contains(out.String(), tc.wantStdout) {
				t.Errorf("stdout %q does not say %q", out.String(), tc.wantStdout)
			}
		})
	}
}

func TestRunKeysFlags(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := custodianKey(t, ca)
	old := newStation
	newStation = func() hardware.Station { return st }
	t.Cleanup(func() { newStation = old })

	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"default Yubico roots", []string{"keys"}, 0, "FAILED: not issued by Yubico: verifying attestation", ""},
		{"explicit test root", []string{"keys", "--attestation-root", rootFile}, 0, "test root (NOT production)", ""},
		{"json", []string{"keys", "-json", "--attestation-root", rootFile}, 0, `"attestation": "test root (NOT production)"`, ""},
		{"missing root file", []string{"keys", "--attestation-root", filepath.Join(dir, "nope.pem")}, 2, "", "reading attestation root"},
		{"unknown flag", []string{"keys", "--frobnicate"}, 2, "", "Usage: breakglass keys"},
		{"stray argument", []string{"keys", "extra"}, 2, "", `unexpected argument "extra"`},
		{"help", []string{"keys", "-h"}, 0, "", "Usage: breakglass keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
			if code := commands["keys"].run(context.Background(), e, tc.args[1:]); code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr %s", code, tc.code, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", out.String(), tc.wantStdout)
			}
			if !strings.Contains(errOut.String(), tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", errOut.String(), tc.wantStderr)
			}
		})
	}
}
