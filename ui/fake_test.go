package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// fakeEngine is an in-memory Engine: a roster, keys, steps and secrets, with
// every recorded call kept for assertions.
type fakeEngine struct {
	checks    []Check
	acks      map[string]string
	clock     []bool
	declared  *Declaration
	need      int
	roster    map[uint32]string
	pins      map[uint32]string
	retries   map[uint32]int
	attFail   map[uint32]bool
	keys      []uint32 // inserted
	counted   []Custodian
	expires   time.Time
	windows   int
	reauths   int
	steps     []StepView
	cur       int
	secrets   map[string]string
	totp      fakeTOTP
	revealed  []string
	wiped     int
	questions []Question
	signed    []uint32
	exportDir string
	files     []ExportedFile
	locked    bool
	mode      Mode
	pinTries  []string // PINs tried, in order
}

var errFake = errors.New("disk full")

func newFake() *fakeEngine {
	return &fakeEngine{
		checks: []Check{
			{"Network", Pass, "no interface up except loopback"},
			{"Vault signature", Pass, "fingerprint 3F2A 9C1B 77D0 E4A5"},
			{"Report destination", Warn, "/media/usb is not removable media; use a USB stick if you can"},
			{"PC/SC service", Pass, "pcscd 2.0.3"},
		},
		acks:    map[string]string{},
		need:    2,
		roster:  map[uint32]string{11111111: "Alice Ng", 22222222: "Bob Okafor", 33333333: "Carol Diaz"},
		pins:    map[uint32]string{11111111: "123456", 22222222: "654321", 33333333: "111111"},
		retries: map[uint32]int{11111111: 3, 22222222: 3, 33333333: 3},
		attFail: map[uint32]bool{},
		steps:   sampleSteps(2),
		secrets: map[string]string{"root password": "correct horse battery", "aws-root-mfa": ""},
		questions: []Question{
			{ID: "what-broke", Text: "What broke?"},
			{ID: "what-done", Text: "What was done?"},
			{ID: "restored", Text: "How was normal access restored?"},
		},
	}
}

func sampleSteps(n int) []StepView {
	steps := make([]StepView, n)
	for i := range steps {
		steps[i] = StepView{
			ID: fmt.Sprintf("s%d", i+1), Title: fmt.Sprintf("Step number %d", i+1),
			Instructions: "Log in to the **console** as root.\n\n- check the banner\n- run `uptime`",
			Checks:       []Item{{Text: "Logged in"}},
		}
	}
	if n > 0 {
		steps[0] = StepView{ID: "login", Title: "Log in to the AWS root account",
			Instructions: "Open the **AWS console** on the recovery laptop and sign in as root.\n\n1. Use the root password below.\n2. Enter the MFA code when asked.",
			Checks:       []Item{{Text: "Signed in as root"}, {Text: "MFA accepted"}},
			Evidence:     []Evidence{{Prompt: "Account id shown"}},
			Secrets:      []string{"root password", "aws-root-mfa"},
		}
	}
	if n > 1 {
		steps[1].Title = "Disable the compromised access key"
		steps[1].Confirmers = []string{"Alice Ng", "Bob Okafor"}
	}
	return steps
}

func (f *fakeEngine) Preflight(context.Context) []Check { return slices.Clone(f.checks) }
func (f *fakeEngine) AcknowledgeWarning(name, reason string) error {
	f.acks[name] = reason
	return nil
}
func (f *fakeEngine) ConfirmClock(_ time.Time, ok bool) error {
	f.clock = append(f.clock, ok)
	return nil
}
func (f *fakeEngine) Runbook() string             { return "aws-root-recovery v3 (sha256 9f2c…41aa)" }
func (f *fakeEngine) Declare(d Declaration) error { f.declared = &d; return nil }

func (f *fakeEngine) Quorum() QuorumState {
	q := QuorumState{Have: len(f.counted), Need: f.need, Counted: slices.Clone(f.counted)}
	for _, serial := range []uint32{11111111, 22222222, 33333333} {
		if !slices.ContainsFunc(f.counted, func(c Custodian) bool { return c.Serial == serial }) {
			q.Remaining = append(q.Remaining, f.roster[serial])
		}
	}
	return q
}

func (f *fakeEngine) ConnectedKeys(context.Context) ([]KeySeen, error) {
	var out []KeySeen
	for _, s := range f.keys {
		k := KeySeen{Serial: s, Reader: "Yubico YubiKey OTP+FIDO+CCID 00", Custodian: f.roster[s], PINRetries: f.retries[s]}
		if k.Custodian == "" {
			k.Refusal = ErrNotOnRoster
		} else if slices.ContainsFunc(f.counted, func(c Custodian) bool { return c.Serial == s }) {
			k.Refusal = ErrAlreadyCounted
		}
		out = append(out, k)
	}
	return out, nil
}

func (f *fakeEngine) AddCustodian(_ context.Context, serial uint32, pin string) (QuorumState, error) {
	f.pinTries = append(f.pinTries, pin)
	switch {
	case !slices.Contains(f.keys, serial):
		return f.Quorum(), fmt.Errorf("opening key %d: %w", serial, ErrKeyRemoved)
	case f.roster[serial] == "":
		return f.Quorum(), ErrNotOnRoster
	case slices.ContainsFunc(f.counted, func(c Custodian) bool { return c.Serial == serial }):
		return f.Quorum(), ErrAlreadyCounted
	case f.retries[serial] == 0:
		return f.Quorum(), ErrPINBlocked
	case pin != f.pins[serial]:
		f.retries[serial]--
		return f.Quorum(), fmt.Errorf("verifying PIN: %w", &WrongPINError{Retries: f.retries[serial]})
	case f.attFail[serial]:
		return f.Quorum(), fmt.Errorf("checking key %d: %w", serial, ErrAttestationFailed)
	}
	f.retries[serial] = 3
	f.counted = append(f.counted, Custodian{Name: f.roster[serial], Serial: serial})
	if len(f.counted) >= f.need && f.expires.IsZero() {
		f.windows++
		f.expires = t0.Add(time.Duration(f.windows) * time.Hour)
	}
	return f.Quorum(), nil
}

func (f *fakeEngine) Reauthorise() QuorumState {
	f.reauths++
	f.counted = nil
	f.expires = time.Time{}
	return f.Quorum()
}
func (f *fakeEngine) WindowExpires() time.Time { return f.expires }

func (f *fakeEngine) Steps() []StepView {
	out := slices.Clone(f.steps)
	for i := range out {
		switch {
		case i == f.cur:
			out[i].State = StepCurrent
		case i > f.cur:
			out[i].State = StepPending
		}
	}
	return out
}
func (f *fakeEngine) Current() int { return f.cur }

func (f *fakeEngine) step(i int) (*StepView, error) {
	if i != f.cur || i >= len(f.steps) {
		return nil, fmt.Errorf("step %d is not the current step", i)
	}
	return &f.steps[i], nil
}

func (f *fakeEngine) Tick(step, check int) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	s.Checks = slices.Clone(s.Checks)
	s.Checks[check].Done = true
	return nil
}

func (f *fakeEngine) Answer(step, ev int, text string) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	s.Evidence = slices.Clone(s.Evidence)
	s.Evidence[ev].Answer = text
	return nil
}

func (f *fakeEngine) Confirm(_ context.Context, step int, who, pin string) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	for serial, name := range f.roster {
		if name == who && pin != f.pins[serial] {
			f.retries[serial]--
			return &WrongPINError{Retries: f.retries[serial]}
		}
	}
	s.Confirmed = append(slices.Clone(s.Confirmed), who)
	return nil
}

func (f *fakeEngine) Complete(step int) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	for _, c := range s.Checks {
		if !c.Done {
			return fmt.Errorf("check %q not ticked", c.Text)
		}
	}
	s.State = StepDone
	f.cur++
	return nil
}

func (f *fakeEngine) Skip(step int, reason string) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	s.State = StepSkipped
	f.cur++
	return nil
}

type fakeTOTP struct{}

func (fakeTOTP) Code(now time.Time) string { return fmt.Sprintf("%06d", now.Unix()/30%1000000) }
func (fakeTOTP) Period() time.Duration     { return 30 * time.Second }

func (f *fakeEngine) Reveal(_ context.Context, step int, name string) (Secret, error) {
	v, ok := f.secrets[name]
	if !ok {
		return Secret{}, fmt.Errorf("no credential %q", name)
	}
	f.revealed = append(f.revealed, name)
	if name == "aws-root-mfa" {
		return Secret{Name: name, Kind: TOTPSeed, TOTP: f.totp, Wipe: func() { f.wiped++ }}, nil
	}
	b := []byte(v)
	return Secret{Name: name, Kind: Password, Value: func() []byte { return b },
		Wipe: func() { clear(b); f.wiped++ }}, nil
}

func (f *fakeEngine) CloseOutQuestions() []Question { return slices.Clone(f.questions) }
func (f *fakeEngine) AnswerCloseOut(id, text string) error {
	for i := range f.questions {
		if f.questions[i].ID == id {
			f.questions[i].Answer = text
			return nil
		}
	}
	return fmt.Errorf("no question %q", id)
}
func (f *fakeEngine) MustRotate() []string { return []string{"root password", "aws-root-mfa"} }

func (f *fakeEngine) Sign(_ context.Context, serial uint32, pin string) error {
	if pin != f.pins[serial] {
		f.retries[serial]--
		return &WrongPINError{Retries: f.retries[serial]}
	}
	f.signed = append(f.signed, serial)
	return nil
}

func (f *fakeEngine) Export(_ context.Context, dir string) ([]ExportedFile, error) {
	if dir == "/readonly" {
		return nil, fmt.Errorf("creating %q: %w", dir+"/report.jws.json", errFake)
	}
	f.exportDir = dir
	f.files = []ExportedFile{
		{Path: dir + "/breakglass-INC-4711.jws.json", SHA256: "5b1e0c9a2f7d4e8b6a3c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a"},
		{Path: dir + "/breakglass-INC-4711.md", SHA256: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"},
	}
	return f.files, nil
}

func (f *fakeEngine) Lock() Summary {
	f.locked = true
	return Summary{Exported: f.files, Revealed: f.MustRotate(), Wiped: true}
}
func (f *fakeEngine) Mode() Mode { return f.mode }

func (f *fakeEngine) Fingerprint() string { return "2095-85F9-A036-2283-CC52" }

var _ Engine = (*fakeEngine)(nil)
