package ui

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// fakeSteps is the runbook and its credentials; confirmations go through
// the keys' PIN path.
type fakeSteps struct {
	k        *fakeKeys
	steps    []StepView
	cur      int
	skipped  map[string]string // step id → reason
	secrets  map[string]string
	totp     fakeTOTP
	revealed []string
	wiped    int
}

func newFakeSteps(k *fakeKeys, n int) *fakeSteps {
	return &fakeSteps{k: k, steps: sampleSteps(n), skipped: map[string]string{},
		secrets: map[string]string{"root password": "correct horse battery", "aws-root-mfa": ""}}
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
			Instructions: "Open the **AWS console** on the recovery laptop and sign in as root.\n\n1. Use the root password below; never paste it into chat\n   or the ticket.\n2. Enter the MFA code when asked.",
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

func (f *fakeSteps) Steps() []StepView {
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
func (f *fakeSteps) Current() int { return f.cur }

func (f *fakeSteps) step(i int) (*StepView, error) {
	if i != f.cur || i >= len(f.steps) {
		return nil, fmt.Errorf("step %d is not the current step", i)
	}
	return &f.steps[i], nil
}

func (f *fakeSteps) Tick(step, check int) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	s.Checks = slices.Clone(s.Checks)
	s.Checks[check].Done = true
	return nil
}

func (f *fakeSteps) Answer(step, ev int, text string) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	s.Evidence = slices.Clone(s.Evidence)
	s.Evidence[ev].Answer = text
	return nil
}

func (f *fakeSteps) Confirm(ctx context.Context, step int, who, pin string) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(f.k.counted, func(c Custodian) bool { return c.Name == who })
	if i < 0 {
		return fmt.Errorf("%s is not in the current quorum", who)
	}
	if err := f.k.usePIN(ctx, f.k.counted[i].Serial, pin); err != nil {
		return err
	}
	s.Confirmed = append(slices.Clone(s.Confirmed), who)
	return nil
}

func (f *fakeSteps) Complete(step int) error {
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

func (f *fakeSteps) Skip(step int, reason string) error {
	s, err := f.step(step)
	if err != nil {
		return err
	}
	s.State = StepSkipped
	f.skipped[s.ID] = reason
	f.cur++
	return nil
}

type fakeTOTP struct{}

func (fakeTOTP) Code(now time.Time) string { return fmt.Sprintf("%06d", now.Unix()/30%1000000) }
func (fakeTOTP) Period() time.Duration     { return 30 * time.Second }

func (f *fakeSteps) Reveal(_ context.Context, step int, name string) (Secret, error) {
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

// MustRotate is every credential revealed, once, in order.
func (f *fakeSteps) MustRotate() []string {
	var out []string
	for _, r := range f.revealed {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}
