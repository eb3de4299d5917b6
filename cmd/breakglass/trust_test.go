package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/hardware/vyk"
	"breakglass/vault"
)

// vtStation is a hardware.Station over in-process virtual YubiKeys
// (vyk.NewToken), for the vault command tests.
type vtStation struct {
	toks map[uint32]hardware.Token
}

func (s *vtStation) Keys(ctx context.Context) ([]hardware.Listed, error) {
	var serials []uint32
	for n := range s.toks {
		serials = append(serials, n)
	}
	sort.Slice(serials, func(i, j int) bool { return serials[i] < serials[j] })
	var out []hardware.Listed
	for _, n := range serials {
		in, err := s.toks[n].Info(ctx)
		out = append(out, hardware.Listed{Info: in, Err: err})
	}
	return out, nil
}

func (s *vtStation) Open(_ context.Context, serial uint32) (hardware.Token, error) {
	t, ok := s.toks[serial]
	if !ok {
		return nil, fmt.Errorf("opening YubiKey %d: %w", serial, hardware.ErrNotFound)
	}
	return t, nil
}

// vtMetaToken adds hardware/piv's PIN metadata and management key abilities
// to a virtual token.
type vtMetaToken struct {
	hardware.Token
	pinDefault, pukDefault, mgmtDefault bool
	protected                           *bool
}

func (t *vtMetaToken) PINMetadata(context.Context) (piv.Metadata, error) {
	return piv.Metadata{Default: t.pinDefault, Retries: 3, Total: 3}, nil
}
func (t *vtMetaToken) PUKMetadata(context.Context) (piv.Metadata, error) {
	return piv.Metadata{Default: t.pukDefault, Retries: 3, Total: 3}, nil
}
func (t *vtMetaToken) UsesDefaultManagementKey(context.Context) (bool, error) {
	return t.mgmtDefault, nil
}
func (t *vtMetaToken) SetPINProtectedManagementKey(ctx context.Context, old []byte, pin string) ([]byte, error) {
	if err := t.VerifyPIN(ctx, pin); err != nil {
		return nil, err
	}
	*t.protected = true
	return make([]byte, 24), nil
}

// vtKeys is a test bench: virtual YubiKeys behind a vtStation, installed
// as the commands' station, a fixed clock, no terminal, and a directory
// holding the test attestation root.
type vtKeys struct {
	st    *vtStation
	cards map[uint32]*vyk.Card
	dir   string
	root  string // PEM of the vyk test attestation root
	now   time.Time
}

// vtPINs are the PINs the bench sets: serial 10000001 gets 111111, etc.
func vtPIN(serial uint32) string { return strings.Repeat(fmt.Sprint(serial%10), 6) }

func newVTKeys(t *testing.T, serials ...uint32) *vtKeys {
	t.Helper()
	ca, err := vyk.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	k := &vtKeys{st: &vtStation{toks: map[uint32]hardware.Token{}}, cards: map[uint32]*vyk.Card{},
		dir: t.TempDir(), now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	for _, s := range serials {
		card, err := vyk.New(vyk.Config{Serial: s, CA: ca, Sleep: func(time.Duration) {}, Now: func() time.Time { return k.now }})
		if err != nil {
			t.Fatal(err)
		}
		k.cards[s] = card
		k.st.toks[s] = vyk.NewToken(card)
	}
	k.root = filepath.Join(k.dir, "attestation-root.pem")
	if err := os.WriteFile(k.root, vyk.TestRootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	oldStation, oldNow, oldTerm, oldMasked := newStation, vaultNow, stdinIsTerminal, readMasked
	newStation = func() hardware.Station { return k.st }
	vaultNow = func() time.Time { return k.now }
	stdinIsTerminal = func(*env) bool { return false }
	readMasked = func(e *env) ([]byte, error) {
		s, err := readLine(e.stdin)
		return []byte(s), err
	}
	t.Cleanup(func() { newStation, vaultNow, stdinIsTerminal, readMasked = oldStation, oldNow, oldTerm, oldMasked })
	return k
}

// terminal makes the commands believe stdin is a terminal.
func (k *vtKeys) terminal(t *testing.T) {
	stdinIsTerminal = func(*env) bool { return true }
}

// changePINs sets serial's PIN to vtPIN(serial) and its PUK to 8 digits.
func (k *vtKeys) changePINs(t *testing.T, serials ...uint32) {
	t.Helper()
	for _, s := range serials {
		pin := vtPIN(s)
		k.cards[s].Transmit([]byte{0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08})
		apdu := func(p2 byte, old, new string) {
			data := append(pad8(old), pad8(new)...)
			resp := k.cards[s].Transmit(append([]byte{0x00, 0x24, 0x00, p2, byte(len(data))}, data...))
			if sw := resp[len(resp)-2:]; sw[0] != 0x90 || sw[1] != 0x00 {
				t.Fatalf("changing reference %x of %d: SW %x", p2, s, sw)
			}
		}
		apdu(0x80, hardware.DefaultPIN, pin)
		apdu(0x81, hardware.DefaultPUK, pin+"00")
	}
}

func pad8(s string) []byte {
	b := bytes.Repeat([]byte{0xff}, 8)
	copy(b, s)
	return b
}

// pinFile writes serial's PIN (or pin, if given) into a 0600 file.
func (k *vtKeys) pinFile(t *testing.T, serial uint32, pin ...string) string {
	t.Helper()
	p := vtPIN(serial)
	if len(pin) > 0 {
		p = pin[0]
	}
	f := filepath.Join(k.dir, fmt.Sprintf("%d-%s.pin", serial, p))
	if err := os.WriteFile(f, []byte(p+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// pinFlag is "--pin-file SERIAL=FILE" for serial's right PIN.
func (k *vtKeys) pinFlag(t *testing.T, serial uint32) []string {
	return []string{"--pin-file", fmt.Sprintf("%d=%s", serial, k.pinFile(t, serial))}
}

// breakglass runs the command line with stdin and returns the exit code and outputs.
func breakglass(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

// enrolAll enrols one custodian per serial (changing PINs first) into
// k.dir/custodians and returns the custodian files.
func (k *vtKeys) enrolAll(t *testing.T, names map[uint32]string) []string {
	t.Helper()
	out := filepath.Join(k.dir, "custodians")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var serials []uint32
	for s := range names {
		serials = append(serials, s)
	}
	sort.Slice(serials, func(i, j int) bool { return serials[i] < serials[j] })
	var files []string
	for _, s := range serials {
		k.changePINs(t, s)
		code, stdout, stderr := breakglass(t, "", "enrol", "--name", names[s], "--serial", fmt.Sprint(s),
			"--pin-file", k.pinFile(t, s), "--out", out, "--attestation-root", k.root)
		if code != 0 {
			t.Fatalf("enrol %s: exit %d\n%s%s", names[s], code, stdout, stderr)
		}
		c := names[s]
		files = append(files, filepath.Join(out, strings.ToLower(strings.ReplaceAll(c, " ", "-"))+".custodian.json"))
	}
	return files
}

var vtNames = map[uint32]string{10000001: "Alice Example", 10000002: "Bob Example", 10000003: "Carol Example"}

// newVTVault enrols Alice, Bob and Carol and creates a 2-of-3 vault; the
// extra keys are on the bench, fresh.
func newVTVault(t *testing.T, extra ...uint32) (*vtKeys, string) {
	t.Helper()
	k := newVTKeys(t, append([]uint32{10000001, 10000002, 10000003}, extra...)...)
	files := k.enrolAll(t, vtNames)
	path := filepath.Join(k.dir, "vault.json")
	args := []string{"vault", "init", "--threshold", "2", "--out", path, "--attestation-root", k.root}
	for s := range vtNames {
		args = append(args, k.pinFlag(t, s)...)
	}
	code, stdout, stderr := breakglass(t, "", append(args, files...)...)
	if code != 0 {
		t.Fatalf("vault init: exit %d\n%s%s", code, stdout, stderr)
	}
	return k, path
}

func TestLoadTrust(t *testing.T) {
	k := newVTKeys(t, 10000009)
	tok := k.st.toks[10000009]
	ctx := context.Background()
	if _, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, 0x82,
		hardware.GenerateOptions{Algorithm: "P-256"}); err != nil {
		t.Fatal(err)
	}
	a, err := tok.Attest(ctx, 0x82)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		root     string
		wantTest bool
		wantOK   bool
	}{
		{"yubico roots reject the test chain", "", false, false},
		{"explicit test root accepts it", k.root, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, test, err := loadTrust(tc.root)
			if err != nil {
				t.Fatal(err)
			}
			if test != tc.wantTest {
				t.Errorf("testRoot = %v, want %v", test, tc.wantTest)
			}
			r, err := opts.Trust.Verify(a.Slot, a.Device)
			if (err == nil) != tc.wantOK {
				t.Fatalf("Verify err = %v, want ok=%v", err, tc.wantOK)
			}
			if tc.wantOK && (r.Serial != 10000009 || !r.TestRoot) {
				t.Errorf("serial = %d, test root %v", r.Serial, r.TestRoot)
			}
		})
	}
	t.Run("missing root file", func(t *testing.T) {
		if _, _, err := loadTrust(filepath.Join(k.dir, "nope.pem")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want ErrNotExist", err)
		}
	})
	var w bytes.Buffer
	printTestRootWarning(&w, true, "x.pem")
	if !strings.Contains(w.String(), "TEST ATTESTATION ROOT") {
		t.Errorf("warning = %q", w.String())
	}
}

// assertNoVaultChange fails if path's content differs from before.
func assertFileUnchanged(t *testing.T, path string, before []byte) {
	t.Helper()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("%s changed", path)
	}
}

var _ = vault.KindPassword
