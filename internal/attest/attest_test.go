package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"breakglass/hardware"
)

var (
	t2020 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	t2099 = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ca is a test certificate with its key.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serialN int64

func mint(t *testing.T, tmpl *x509.Certificate, pub crypto.PublicKey, parent *ca) *x509.Certificate {
	t.Helper()
	serialN++
	tmpl.SerialNumber = big.NewInt(serialN)
	p, k := tmpl, crypto.Signer(nil)
	if parent != nil {
		p, k = parent.cert, parent.key
	}
	if k == nil {
		t.Fatal("mint: no signing key")
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, pub, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var rsaKeyCache *rsa.PrivateKey

func rsaKey(t *testing.T) *rsa.PrivateKey {
	if rsaKeyCache == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKeyCache = k
	}
	return rsaKeyCache
}

func newRoot(t *testing.T, cn string, key crypto.Signer, nb, na time.Time) *ca {
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	tmpl.SerialNumber = big.NewInt(1)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &ca{c, key}
}

func newIntermediate(t *testing.T, cn string, parent *ca) *ca {
	k := ecKey(t)
	c := mint(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: parent.cert.NotBefore, NotAfter: parent.cert.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, k.Public(), parent)
	return &ca{c, k}
}

type deviceOpts struct {
	key       crypto.Signer // nil: P-256
	nb        time.Time     // zero: issuer's NotBefore
	ca        bool          // encode basicConstraints CA:TRUE (genuine Yubico f9 certs often have none)
	serialExt []byte        // device serial extension value, nil: none
	extraExts []pkix.Extension
}

func newDevice(t *testing.T, parent *ca, o deviceOpts) *ca {
	k := o.key
	if k == nil {
		k = ecKey(t)
	}
	nb := o.nb
	if nb.IsZero() {
		nb = parent.cert.NotBefore
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "Yubico PIV Attestation"}, NotBefore: nb, NotAfter: parent.cert.NotAfter,
		ExtraExtensions: append([]pkix.Extension{{Id: OIDFirmware, Value: []byte{5, 7, 4}}}, o.extraExts...)}
	if o.ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	}
	if o.serialExt != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDSerial, Value: o.serialExt})
	}
	return &ca{mint(t, tmpl, k.Public(), parent), k}
}

func serialExt(n int64) []byte {
	b, err := asn1.Marshal(n)
	if err != nil {
		panic(err)
	}
	return b
}

// newSlot issues a slot certificate for pub from device, with the given
// extensions (nil: firmware 5.7.4, serial 12345678, PIN once, touch always,
// USB-A keychain).
func newSlot(t *testing.T, device *ca, slot string, pub crypto.PublicKey, exts []pkix.Extension) *x509.Certificate {
	if exts == nil {
		exts = []pkix.Extension{
			{Id: OIDFirmware, Value: []byte{5, 7, 4}},
			{Id: OIDSerial, Value: serialExt(12345678)},
			{Id: OIDPolicy, Value: []byte{2, 2}},
			{Id: OIDFormFactor, Value: []byte{1}},
		}
	}
	return mint(t, &x509.Certificate{Subject: pkix.Name{CommonName: slotCNPrefix + slot},
		NotBefore: device.cert.NotBefore, NotAfter: device.cert.NotAfter, ExtraExtensions: exts}, pub, device)
}

func testTrust(t *testing.T, roots []*x509.Certificate, inter ...*x509.Certificate) *Trust {
	t.Helper()
	tr, err := NewTestTrust(roots, inter)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestVerifyAccepts(t *testing.T) {
	slotKey := ecKey(t)
	ecRoot := newRoot(t, "test root ecdsa", ecKey(t), t2020, t2099)
	rsaRoot := newRoot(t, "test root 2018-style", rsaKey(t), t2020, t2099)
	root57 := newRoot(t, "test root 2024-style", ecKey(t), t2020, t2099)
	i1 := newIntermediate(t, "test intermediate B 1", root57)
	i2 := newIntermediate(t, "test PIV attestation B 1", i1)
	expired := newRoot(t, "root that expired in 2021", ecKey(t), t2020, t2020.AddDate(1, 0, 0))

	tests := []struct {
		name   string
		trust  *Trust
		device *ca
		extra  []*x509.Certificate
		chain  int // expected chain length
	}{
		{"P-256 device without basicConstraints", testTrust(t, []*x509.Certificate{ecRoot.cert}), newDevice(t, ecRoot, deviceOpts{}), nil, 3},
		{"RSA-2048 device without basicConstraints (pre-5.7 shape)", testTrust(t, []*x509.Certificate{rsaRoot.cert}), newDevice(t, rsaRoot, deviceOpts{key: rsaKey(t)}), nil, 3},
		{"device with basicConstraints CA", testTrust(t, []*x509.Certificate{ecRoot.cert}), newDevice(t, ecRoot, deviceOpts{ca: true, serialExt: serialExt(12345678)}), nil, 3},
		{"two intermediates held by the trust (5.7 shape)", testTrust(t, []*x509.Certificate{root57.cert}, i1.cert, i2.cert), newDevice(t, i2, deviceOpts{}), nil, 5},
		{"two intermediates passed with the attestation", testTrust(t, []*x509.Certificate{root57.cert}), newDevice(t, i2, deviceOpts{}), []*x509.Certificate{i2.cert, i1.cert}, 5},
		{"root long expired: checked when the attestation was made, not now", testTrust(t, []*x509.Certificate{expired.cert}), newDevice(t, expired, deviceOpts{}), nil, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slot := newSlot(t, tc.device, "82", slotKey.Public(), nil)
			r, err := tc.trust.Verify(slot, tc.device.cert, tc.extra...)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := r.Check(Expect{Serial: 12345678, Slot: 0x82, PublicKey: &slotKey.PublicKey}); err != nil {
				t.Errorf("Check: %v", err)
			}
			want := Result{Serial: 12345678, HasSerial: true, Firmware: Version{5, 7, 4}, PIN: hardware.PINPolicyOnce,
				Touch: hardware.TouchPolicyAlways, HasPolicy: true, FormFactor: 1, Slot: 0x82, TestRoot: true, CheckedAt: tc.device.cert.NotBefore}
			got := *r
			got.PublicKey, got.Chain = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("result\n got %+v\nwant %+v", got, want)
			}
			if len(r.Chain) != tc.chain || r.Chain[0] != slot || r.Chain[1] != tc.device.cert {
				t.Errorf("chain has %d certificates (want %d), starting with slot and device: %v", len(r.Chain), tc.chain, r.Chain)
			}
			if tc.device.cert.BasicConstraintsValid != (tc.device.cert.IsCA) {
				t.Error("Verify modified the caller's device certificate")
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	slotKey := ecKey(t)
	root := newRoot(t, "test root", ecKey(t), t2020, t2099)
	other := newRoot(t, "other root", ecKey(t), t2020, t2099)
	device := newDevice(t, root, deviceOpts{})
	otherDevice := newDevice(t, root, deviceOpts{})
	inter := newIntermediate(t, "intermediate", root)
	late := newRoot(t, "root made after the device", ecKey(t), t2020.AddDate(1, 0, 0), t2099)
	trust := testTrust(t, []*x509.Certificate{root.cert})
	ok := newSlot(t, device, "9a", slotKey.Public(), nil)

	// A device certificate backdated before its root existed.
	backdated := newDevice(t, late, deviceOpts{nb: t2020})
	// A slot certificate issued by an intermediate, not by the device,
	// carrying the device's name as issuer.
	impostor := *device.cert
	impostor.PublicKey = inter.key.Public()
	forged := mint(t, &x509.Certificate{Subject: pkix.Name{CommonName: slotCNPrefix + "9a"}, NotBefore: t2020, NotAfter: t2099,
		ExtraExtensions: []pkix.Extension{{Id: OIDSerial, Value: serialExt(12345678)}}}, slotKey.Public(), &ca{&impostor, inter.key})
	ext := func(id asn1.ObjectIdentifier, v []byte) []pkix.Extension {
		return []pkix.Extension{{Id: OIDSerial, Value: serialExt(12345678)}, {Id: id, Value: v}}
	}

	tests := []struct {
		name         string
		trust        *Trust
		slot, device *x509.Certificate
		extra        []*x509.Certificate
		want         error
	}{
		{"missing slot", trust, nil, device.cert, nil, ErrIncomplete},
		{"missing device", trust, ok, nil, nil, ErrIncomplete},
		{"another root", testTrust(t, []*x509.Certificate{other.cert}), ok, device.cert, nil, ErrUntrusted},
		{"root passed as an extra intermediate is not trusted", testTrust(t, []*x509.Certificate{other.cert}), ok, device.cert, []*x509.Certificate{root.cert}, ErrUntrusted},
		{"Yubico roots refuse a test chain", Yubico(), ok, device.cert, nil, ErrUntrusted},
		{"nil trust is Yubico", nil, ok, device.cert, nil, ErrUntrusted},
		{"slot from another YubiKey's device", trust, ok, otherDevice.cert, nil, ErrUntrusted},
		{"slot not signed by the device key", trust, forged, device.cert, []*x509.Certificate{inter.cert}, ErrUntrusted},
		{"device issued before its root was valid", testTrust(t, []*x509.Certificate{late.cert}), newSlot(t, backdated, "9a", slotKey.Public(), nil), backdated.cert, nil, ErrUntrusted},
		{"malformed serial", trust, newSlot(t, device, "9a", slotKey.Public(), []pkix.Extension{{Id: OIDSerial, Value: []byte{0x04, 0x01, 0x00}}}), device.cert, nil, ErrMalformed},
		{"negative serial", trust, newSlot(t, device, "9a", slotKey.Public(), []pkix.Extension{{Id: OIDSerial, Value: serialExt(-1)}}), device.cert, nil, ErrMalformed},
		{"serial over 32 bits", trust, newSlot(t, device, "9a", slotKey.Public(), []pkix.Extension{{Id: OIDSerial, Value: serialExt(1 << 32)}}), device.cert, nil, ErrMalformed},
		{"unknown PIN policy", trust, newSlot(t, device, "9a", slotKey.Public(), ext(OIDPolicy, []byte{0, 2})), device.cert, nil, ErrMalformed},
		{"unknown touch policy", trust, newSlot(t, device, "9a", slotKey.Public(), ext(OIDPolicy, []byte{2, 4})), device.cert, nil, ErrMalformed},
		{"short policy", trust, newSlot(t, device, "9a", slotKey.Public(), ext(OIDPolicy, []byte{2})), device.cert, nil, ErrMalformed},
		{"firmware of 2 bytes", trust, newSlot(t, device, "9a", slotKey.Public(), ext(OIDFirmware, []byte{5, 7})), device.cert, nil, ErrMalformed},
		{"form factor of 2 bytes", trust, newSlot(t, device, "9a", slotKey.Public(), ext(OIDFormFactor, []byte{1, 1})), device.cert, nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.trust.Verify(tc.slot, tc.device, tc.extra...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %+v, %v; want %v", r, err, tc.want)
			}
		})
	}

	t.Run("device and slot name different serials", func(t *testing.T) {
		d := newDevice(t, root, deviceOpts{serialExt: serialExt(999)})
		_, err := trust.Verify(newSlot(t, d, "9a", slotKey.Public(), nil), d.cert)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify: %v, want ErrMalformed", err)
		}
	})
}

func TestCheck(t *testing.T) {
	k, other := ecKey(t), ecKey(t)
	ecdhKey, err := k.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	r := &Result{Serial: 7, HasSerial: true, Slot: 0x9a, PublicKey: &k.PublicKey}
	noSerial := &Result{Slot: 0x9a, PublicKey: &k.PublicKey}
	tests := []struct {
		name string
		r    *Result
		e    Expect
		want string // MismatchError.What, "" for success
	}{
		{"all match", r, Expect{Serial: 7, Slot: 0x9a, PublicKey: &k.PublicKey}, ""},
		{"ECDH form of the same key", r, Expect{PublicKey: ecdhKey}, ""},
		{"nothing expected", r, Expect{}, ""},
		{"other serial", r, Expect{Serial: 8}, "YubiKey"},
		{"no serial attested", noSerial, Expect{Serial: 7}, "YubiKey"},
		{"other slot", r, Expect{Slot: 0x9c}, "slot"},
		{"other key", r, Expect{PublicKey: &other.PublicKey}, "public key"},
		{"RSA key against ECDSA", r, Expect{PublicKey: &rsaKey(t).PublicKey}, "public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Check(tc.e)
			var me *MismatchError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != "" && (!errors.As(err, &me) || me.What != tc.want || !errors.Is(err, ErrMismatch)):
				t.Fatalf("Check = %v, want a %q mismatch", err, tc.want)
			}
		})
	}
}

func readPEM(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRealYubiKeyChains checks genuine attestations (testdata/README.md)
// against the built-in Yubico trust.
func TestRealYubiKeyChains(t *testing.T) {
	tests := []struct {
		name         string
		slot, device string
		want         *Result // nil: refused with ErrUntrusted
	}{
		{"YubiKey 5.4.3 under the 2016 PIV root", "yubikey5-2016-piv-root-slot-9a.pem", "yubikey5-2016-piv-root-device.pem",
			&Result{Serial: 15732500, HasSerial: true, Firmware: Version{5, 4, 3}, PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyNever,
				HasPolicy: true, FormFactor: 4, Slot: 0x9a, CheckedAt: time.Date(2016, 3, 14, 0, 0, 0, 0, time.UTC)}},
		{"YubiKey 4.3.7 (2018) under the U2F root, device without basicConstraints", "yubikey-2018-u2f-root-slot-9a.pem", "yubikey-2018-u2f-root-device.pem",
			&Result{Firmware: Version{4, 3, 7}, PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyNever,
				HasPolicy: true, Slot: 0x9a, CheckedAt: time.Date(2014, 8, 1, 0, 0, 0, 0, time.UTC)}},
		{"slot of key A with device of key B", "yubikey5-2016-piv-root-slot-9a.pem", "yubikey-2018-u2f-root-device.pem", nil},
		{"slot of key B with device of key A", "yubikey-2018-u2f-root-slot-9a.pem", "yubikey5-2016-piv-root-device.pem", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slot := readPEM(t, filepath.Join("testdata", tc.slot))
			device := readPEM(t, filepath.Join("testdata", tc.device))
			before := *device
			r, err := Yubico().Verify(slot, device)
			if tc.want == nil {
				if !errors.Is(err, ErrUntrusted) {
					t.Fatalf("Verify = %v, want ErrUntrusted", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got := *r
			got.PublicKey, got.Chain = nil, nil
			if !reflect.DeepEqual(got, *tc.want) {
				t.Errorf("result\n got %+v\nwant %+v", got, *tc.want)
			}
			if n := len(r.Chain); n != 3 || r.Root().Subject.CommonName == "" {
				t.Errorf("chain of %d certificates", n)
			}
			if before.IsCA != device.IsCA || before.BasicConstraintsValid != device.BasicConstraintsValid {
				t.Error("Verify modified the caller's device certificate")
			}
			if _, err := testTrust(t, []*x509.Certificate{newRoot(t, "x", ecKey(t), t2020, t2099).cert}).Verify(slot, device); !errors.Is(err, ErrUntrusted) {
				t.Errorf("a genuine chain under a test trust: %v, want ErrUntrusted", err)
			}
		})
	}
}

func TestTrust(t *testing.T) {
	y := Yubico()
	if y.IsTest() || y.Label() != "yubico" || (*Trust)(nil).Label() != "yubico" {
		t.Errorf("Yubico trust: test %v, label %q", y.IsTest(), y.Label())
	}
	if y.err != nil || len(y.Roots()) != 3 || len(y.Intermediates()) != 4 {
		t.Fatalf("built-in bundle: %v, %d roots, %d intermediates; want 3 and 4", y.err, len(y.Roots()), len(y.Intermediates()))
	}
	for _, r := range y.Roots() {
		if r.Subject.CommonName == u2fRootSubjectCN && r.MaxPathLen != 1 {
			t.Errorf("U2F root pathlen %d, want relaxed to 1", r.MaxPathLen)
		}
	}

	root := newRoot(t, "breakglass TEST root", ecKey(t), t2020, t2099)
	inter := newIntermediate(t, "test intermediate", root)
	dir := t.TempDir()
	write := func(name string, certs ...*x509.Certificate) string {
		var b []byte
		for _, c := range certs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		path   string
		ok     bool
		nInter int
	}{
		{"root only", write("root.pem", root.cert), true, 0},
		{"root and intermediate", write("both.pem", inter.cert, root.cert), true, 1},
		{"intermediate only", write("inter.pem", inter.cert), false, 0},
		{"no certificate", write("empty.pem"), false, 0},
		{"missing file", filepath.Join(dir, "missing.pem"), false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := LoadTestTrust(tc.path)
			if (err == nil) != tc.ok {
				t.Fatalf("LoadTestTrust: %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if !tr.IsTest() || tr.Label() != "TEST/non-production: CN=breakglass TEST root" || len(tr.Intermediates()) != tc.nInter {
				t.Errorf("test trust: test %v, label %q, %d intermediates", tr.IsTest(), tr.Label(), len(tr.Intermediates()))
			}
		})
	}
	if _, err := NewTestTrust(nil, nil); err == nil {
		t.Error("NewTestTrust with no roots succeeded")
	}
	if _, err := NewTestTrust([]*x509.Certificate{newDevice(t, root, deviceOpts{}).cert}, nil); err == nil {
		t.Error("NewTestTrust with a non-CA root succeeded")
	}
}

func TestFormFactorString(t *testing.T) {
	tests := []struct {
		f    FormFactor
		want string
	}{{0, ""}, {1, "USB-A keychain"}, {4, "USB-C nano"}, {0x83, "USB-C keychain FIPS"}, {0x42, "form-factor(0x42)"}}
	for _, tc := range tests {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("FormFactor(0x%02x) = %q, want %q", uint8(tc.f), got, tc.want)
		}
	}
}
