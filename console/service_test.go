package console

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/internal/netstate"
	"breakglass/runbook"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// vykStation is a hardware.Station of in-process virtual YubiKeys.
type vykStation struct {
	tokens map[uint32]hardware.Token
	pulled map[uint32]bool
}

func (s *vykStation) Keys(ctx context.Context) ([]hardware.Listed, error) {
	var out []hardware.Listed
	for sn, t := range s.tokens {
		if s.pulled[sn] {
			continue
		}
		info, err := t.Info(ctx)
		out = append(out, hardware.Listed{Info: info, Err: err})
	}
	return out, nil
}

func (s *vykStation) Open(_ context.Context, serial uint32) (hardware.Token, error) {
	if t, ok := s.tokens[serial]; ok && !s.pulled[serial] {
		return t, nil
	}
	return nil, fmt.Errorf("YubiKey %d: %w", serial, hardware.ErrNotFound)
}

// journeyFixture is a 2-of-3 vault of enrolled virtual keys with the demo
// secrets sealed, and the sample runbook.
type journeyFixture struct {
	dir       string
	station   *vykStation
	vaultPath string
	trust     vault.VerifyOptions
	rb        *runbook.Runbook
	secrets   map[string]string
	serials   []uint32
	pins      map[uint32]string
	// touchWait, if set, is what a virtual key waiting for a touch waits
	// for (the test closes it when the touch notice fires).
	touchWait chan struct{}
}

const demoTOTP = "otpauth://totp/AWS:root?secret=JBSWY3DPEHPK3PXP&issuer=AWS"

func newJourneyFixture(t *testing.T) *journeyFixture {
	t.Helper()
	ctx := context.Background()
	f := &journeyFixture{dir: t.TempDir(), station: &vykStation{tokens: map[uint32]hardware.Token{}, pulled: map[uint32]bool{}},
		pins: map[uint32]string{}}
	f.trust = testTrust(t)
	var custodians []vault.Custodian
	for i, name := range []string{"Alice Example", "Bob Example", "Carol Example"} {
		serial := uint32(10000001 + i)
		card, err := vyk.New(vyk.Config{Serial: serial, Sleep: f.touch})
		if err != nil {
			t.Fatal(err)
		}
		tok := vyk.NewToken(card)
		f.station.tokens[serial] = tok
		f.serials = append(f.serials, serial)
		f.pins[serial] = hardware.DefaultPIN
		c, err := vault.EnrolCustodian(ctx, tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, name,
			vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: f.trust})
		if err != nil {
			t.Fatalf("enrol %s: %v", name, err)
		}
		custodians = append(custodians, c)
	}
	v, err := vault.Create(custodians, 2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range f.serials {
		if _, err := v.SignRoster(ctx, f.station.tokens[sn], hardware.DefaultPIN); err != nil {
			t.Fatal(err)
		}
	}
	f.secrets = map[string]string{
		"aws-root-password":       "correct-horse-battery-staple-7731",
		"aws-root-totp":           demoTOTP,
		"aws-root-recovery-codes": "RC-1111-AAAA\nRC-2222-BBBB\nRC-3333-CCCC\n",
	}
	kinds := map[string]vault.Kind{"aws-root-password": vault.KindPassword, "aws-root-totp": vault.KindTOTP, "aws-root-recovery-codes": vault.KindRecoveryCodes}
	for name, val := range f.secrets {
		if err := v.Seal(name, kinds[name], []byte(val), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	f.vaultPath = filepath.Join(f.dir, "vault.json")
	if err := v.Save(f.vaultPath); err != nil {
		t.Fatal(err)
	}
	f.rb, err = runbook.ParseFile("../testdata/runbooks/cloud-root-recovery.md")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// touch is the virtual keys' touch wait: none, unless a test set touchWait;
// then it waits for the touch notice (at most a minute, so a missing notice
// fails the test instead of hanging it).
func (f *journeyFixture) touch(time.Duration) {
	if f.touchWait == nil {
		return
	}
	select {
	case <-f.touchWait:
	case <-time.After(time.Minute):
	}
}

// engine starts a service on a fresh journal, as "breakglass console" does.
func (f *journeyFixture) engine(t *testing.T, drill bool) *Service {
	t.Helper()
	return f.engineWith(t, func(c *Config) { c.Drill = drill })
}

// config is the Config "breakglass console" would build for the fixture.
func (f *journeyFixture) config(t *testing.T) Config {
	t.Helper()
	v, err := vault.Load(f.vaultPath)
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(f.dir, "export")
	if err := os.MkdirAll(export, 0o700); err != nil {
		t.Fatal(err)
	}
	return Config{
		Vault: v, VaultPath: f.vaultPath, Runbook: f.rb, Station: f.station,
		Trust: f.trust, TestRoot: true, AttestationRoot: "TEST/non-production: breakglass TEST ONLY attestation root",
		Guards:   Guards{Summary: []string{"core dumps disabled: on"}, Protected: true},
		NetState: func() (netstate.State, error) { return netstate.State{}, nil },
		Binary:   Binary{Version: "test", SHA256: strings.Repeat("ab", 32)},
		Now:      time.Now, StateDir: f.dir, ExportDir: export, Window: time.Hour,
	}
}

// engineWith starts a service on a fresh journal with the fixture's
// Config changed by edit.
func (f *journeyFixture) engineWith(t *testing.T, edit func(*Config)) *Service {
	t.Helper()
	cfg := f.config(t)
	edit(&cfg)
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// testTrust trusts the repository's TEST attestation root, as
// --attestation-root does.
func testTrust(t *testing.T) vault.VerifyOptions {
	t.Helper()
	tr, err := attest.LoadTestTrust("../testdata/attestation-root.pem")
	if err != nil {
		t.Fatal(err)
	}
	return vault.VerifyOptions{Trust: tr}
}

// auditorOptions are what "breakglass verify --vault --attestation-root"
// checks a report with.
func (f *journeyFixture) auditorOptions(t *testing.T) audit.VerifyOptions {
	t.Helper()
	opts := audit.VerifyOptions{Trust: testTrust(t).Trust, NonProduction: true}
	vlt, err := vault.Load(f.vaultPath)
	if err != nil {
		t.Fatal(err)
	}
	r := &audit.Roster{Threshold: vlt.Roster.Policy.Threshold}
	for _, cu := range vlt.Roster.Custodians {
		for _, k := range cu.Keys {
			pub, _, err := signingMaterial(k)
			if err != nil {
				t.Fatal(err)
			}
			r.Members = append(r.Members, audit.RosterMember{ID: cu.ID, Serial: k.Serial, SigningKey: pub})
		}
	}
	opts.Roster = r
	return opts
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runSteps completes every runbook step, revealing each secret a step names.
func runSteps(t *testing.T, eng *Service, revealed map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	for i, st := range eng.Steps() {
		for j := range st.Checks {
			must(t, eng.Tick(i, j))
		}
		for j := range st.Evidence {
			must(t, eng.Answer(i, j, fmt.Sprintf("evidence %d of %s", j, st.ID)))
		}
		for _, name := range st.Secrets {
			sec, err := eng.Reveal(ctx, i, name)
			must(t, err)
			if sec.Value != nil {
				revealed[name] = bytes.Clone(sec.Value())
			}
			if sec.Kind == ui.TOTPSeed && sec.Value != nil {
				if code := sec.TOTP.Code(time.Now()); len(code) != 6 {
					t.Errorf("TOTP code %q", code)
				}
			}
		}
		for j, c := range st.Confirmers {
			if j == 0 {
				// A wrong PIN confirms nothing and says how many tries are left.
				var wp *ui.WrongPINError
				if err := eng.Confirm(context.Background(), i, c, "999999"); !errors.As(err, &wp) {
					t.Fatalf("confirm with a wrong PIN: %v", err)
				}
				if v := eng.Steps()[i]; len(v.Confirmed) != 0 {
					t.Fatalf("confirmed with a wrong PIN: %v", v.Confirmed)
				}
			}
			must(t, eng.Confirm(context.Background(), i, c, "123456"))
		}
		must(t, eng.Complete(i))
	}
}

// TestConsoleJourney drives the engine the console uses through a whole
// session with virtual YubiKeys, then verifies the exported report as an
// auditor would, and scans every file written for the secrets' bytes.
func TestConsoleJourney(t *testing.T) {
	f := newJourneyFixture(t)
	ctx := context.Background()
	eng := f.engine(t, false)

	checks := eng.Preflight(ctx)
	for _, c := range checks {
		if c.Status == ui.Fail {
			t.Fatalf("preflight %s failed: %s", c.Name, c.Detail)
		}
		if c.Status == ui.Warn {
			must(t, eng.AcknowledgeWarning(c.Name, "test station"))
		}
	}
	must(t, eng.ConfirmClock(time.Now(), true))
	must(t, eng.Declare(ui.Declaration{Operator: "Olive Operator", Ticket: "INC-42", WhatBroke: "SSO down"}))

	// One custodian alone does not open the vault; the same one twice counts once.
	q, err := eng.AddCustodian(ctx, f.serials[0], "123456")
	must(t, err)
	if q.Have != 1 || q.Met() {
		t.Fatalf("after one custodian: %+v", q)
	}
	if _, err := eng.AddCustodian(ctx, f.serials[0], "123456"); !errors.Is(err, ui.ErrAlreadyCounted) {
		t.Fatalf("same custodian twice: %v, want ErrAlreadyCounted", err)
	}
	// A wrong PIN counts nobody and says how many tries are left.
	var wp *ui.WrongPINError
	if _, err := eng.AddCustodian(ctx, f.serials[1], "999999"); !errors.As(err, &wp) || wp.Retries != 2 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if last := lastEntry(eng); last.Type != eventPINRejected || strings.Contains(string(last.Data), "999999") {
		t.Errorf("wrong PIN journaled as %s %s", last.Type, last.Data)
	}
	if _, err := eng.AddCustodian(ctx, 424242, "123456"); !errors.Is(err, ui.ErrKeyRemoved) {
		t.Fatalf("absent key: %v", err)
	}
	q, err = eng.AddCustodian(ctx, f.serials[1], "123456")
	must(t, err)
	if !q.Met() {
		t.Fatalf("quorum not met: %+v", q)
	}

	revealed := map[string][]byte{}
	runSteps(t, eng, revealed)
	for name, want := range f.secrets {
		if string(revealed[name]) != want {
			t.Errorf("revealed %s = %q", name, revealed[name])
		}
	}
	checkConfirmations(t, eng)
	if rot := eng.MustRotate(); len(rot) != 3 {
		t.Errorf("must rotate %v, want the three revealed", rot)
	}
	for _, q := range eng.CloseOutQuestions() {
		ans := "answer to " + q.ID
		if strings.Contains(q.Text, `"no"`) {
			ans = "no"
		}
		must(t, eng.AnswerCloseOut(q.ID, ans))
	}
	if _, err := eng.Export(ctx, eng.cfg.ExportDir); !errors.Is(err, session.ErrNotEnoughSigners) {
		t.Fatalf("export before signatures: %v", err)
	}
	must(t, eng.Sign(ctx, f.serials[0], "123456"))
	if _, err := eng.Export(ctx, eng.cfg.ExportDir); err == nil {
		t.Fatal("export with one signature succeeded")
	}
	must(t, eng.Sign(ctx, f.serials[1], "123456"))
	files, err := eng.Export(ctx, eng.cfg.ExportDir)
	must(t, err)
	sum := eng.Lock()
	if !sum.Wiped || len(sum.Exported) != 2 {
		t.Fatalf("lock summary %+v", sum)
	}

	verdict, err := audit.VerifyReportFile(files[0].Path, f.auditorOptions(t))
	if err != nil {
		var buf bytes.Buffer
		if verdict != nil {
			verdict.Print(&buf)
		}
		t.Fatalf("report does not verify: %v\n%s", err, buf.String())
	}

	scanForSecrets(t, f)
	// The revealed secrets are burned in the vault until rotated.
	v, err := vault.Load(f.vaultPath)
	must(t, err)
	for name := range f.secrets {
		if s, _ := v.Secret(name); !s.Burned() {
			t.Errorf("%s not marked revealed in the vault", name)
		}
	}
}

// TestConsoleDrill: the same quorum and runbook in drill mode; every secret
// is decrypted and checked but no value ever reaches the screen, nothing is
// burned in the vault, and the signed report says drill and verifies.
func TestConsoleDrill(t *testing.T) {
	f := newJourneyFixture(t)
	ctx := context.Background()
	eng := f.engine(t, true)
	if !eng.Mode().Drill {
		t.Fatal("engine not in drill mode")
	}
	for _, c := range eng.Preflight(ctx) {
		if c.Status == ui.Warn {
			must(t, eng.AcknowledgeWarning(c.Name, "drill"))
		}
	}
	must(t, eng.ConfirmClock(time.Now(), true))
	must(t, eng.Declare(ui.Declaration{Operator: "Olive", Ticket: "DRILL-1", WhatBroke: "quarterly drill"}))
	for _, sn := range f.serials[1:] {
		_, err := eng.AddCustodian(ctx, sn, "123456")
		must(t, err)
	}
	revealed := map[string][]byte{}
	runSteps(t, eng, revealed)
	if len(revealed) != 0 {
		t.Fatalf("drill returned secret values for %d secrets", len(revealed))
	}
	if rot := eng.MustRotate(); len(rot) != 0 {
		t.Errorf("drill must-rotate list %v, want empty", rot)
	}
	for _, q := range eng.CloseOutQuestions() {
		ans := "drill"
		if strings.Contains(q.Text, `"no"`) {
			ans = "no"
		}
		must(t, eng.AnswerCloseOut(q.ID, ans))
	}
	must(t, eng.Sign(ctx, f.serials[1], "123456"))
	must(t, eng.Sign(ctx, f.serials[2], "123456"))
	files, err := eng.Export(ctx, eng.cfg.ExportDir)
	must(t, err)
	eng.Lock()
	verdict, err := audit.VerifyReportFile(files[0].Path, f.auditorOptions(t))
	if err != nil {
		var buf bytes.Buffer
		verdict.Print(&buf)
		t.Fatalf("drill report does not verify: %v\n%s", err, buf.String())
	}
	var buf bytes.Buffer
	verdict.Print(&buf)
	if !strings.Contains(buf.String(), "(drill)") {
		t.Errorf("verdict does not say drill:\n%s", buf.String())
	}
	v, err := vault.Load(f.vaultPath)
	must(t, err)
	for name := range f.secrets {
		if s, _ := v.Secret(name); s.Burned() {
			t.Errorf("%s burned by a drill", name)
		}
	}
}

// lastEntry is the session journal's last entry.
func lastEntry(s *Service) audit.Entry {
	e := s.journal.Entries()
	return e[len(e)-1]
}

// checkConfirmations: every confirmation is a signature by the custodian's
// enrolled key.
func checkConfirmations(t *testing.T, eng *Service) {
	t.Helper()
	confirmations := 0
	for _, e := range eng.journal.Entries() {
		if e.Type != audit.TypeConfirmationSigned {
			continue
		}
		confirmations++
		var d struct {
			Serial    uint32 `json:"serial"`
			Digest    string `json:"digest"`
			Signature []byte `json:"signature"`
		}
		must(t, json.Unmarshal(e.Data, &d))
		_, key, ok := eng.vault.KeyBySerial(d.Serial)
		pub, _, err := signingMaterial(key)
		digest, _ := hex.DecodeString(d.Digest)
		if !ok || err != nil || !ecdsa.VerifyASN1(pub, digest, d.Signature) {
			t.Errorf("confirmation %d does not verify with key %d's roster signing key", e.Seq, d.Serial)
		}
	}
	if confirmations == 0 {
		t.Error("no signed step confirmation in the journal")
	}
}

// scanForSecrets: invariant 3, no file the session wrote holds a secret's bytes.
func scanForSecrets(t *testing.T, f *journeyFixture) {
	t.Helper()
	filepath.Walk(f.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for name, val := range f.secrets {
			for _, piece := range strings.Split(strings.TrimSpace(val), "\n") {
				if bytes.Contains(b, []byte(piece)) {
					t.Errorf("%s contains secret %s", p, name)
				}
			}
		}
		return nil
	})
}
