package console

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/runbook"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// Steps returns the runbook with the session's progress.
func (s *Service) Steps() []ui.StepView {
	s.mu.Lock()
	defer s.mu.Unlock()
	rb := s.sess.Runbook()
	st := s.sess.State()
	views := make([]ui.StepView, len(rb.Steps))
	for i, step := range rb.Steps {
		var ss runbook.StepState
		if i < len(st.Steps) {
			ss = st.Steps[i]
		}
		views[i] = s.stepViewLocked(step, ss)
	}
	return views
}

func (s *Service) stepViewLocked(step runbook.Step, ss runbook.StepState) ui.StepView {
	v := ui.StepView{ID: step.ID, Title: step.Title, Instructions: step.Instructions, Secrets: step.Reveals}
	switch ss.Status {
	case runbook.Done:
		v.State = ui.StepDone
	case runbook.Skipped:
		v.State = ui.StepSkipped
	case runbook.Current:
		v.State = ui.StepCurrent
	}
	for j, chk := range step.Checks {
		v.Checks = append(v.Checks, ui.Item{Text: chk, Done: j < len(ss.Ticked) && ss.Ticked[j]})
	}
	for j, p := range step.Evidence {
		ev := ui.Evidence{Prompt: p}
		if j < len(ss.Answers) {
			ev.Answer = ss.Answers[j]
		}
		v.Evidence = append(v.Evidence, ev)
	}
	if step.BothConfirm {
		for _, cu := range s.countedLocked() {
			v.Confirmers = append(v.Confirmers, cu.Name)
		}
		v.Confirmed = s.namesLocked(ss.Confirmed)
	}
	return v
}

// namesLocked turns custodian ids into roster names.
func (s *Service) namesLocked(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if cu, ok := s.vault.Custodian(id); ok {
			out = append(out, cu.Name)
		} else {
			out = append(out, id)
		}
	}
	return out
}

// Current is the index of the step to do now.
func (s *Service) Current() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.sess.Progress().Current(); ok {
		return i
	}
	return len(s.sess.Runbook().Steps)
}

func (s *Service) stepID(i int) (string, error) {
	steps := s.sess.Runbook().Steps
	if i < 0 || i >= len(steps) {
		return "", fmt.Errorf("no step %d", i+1)
	}
	return steps[i].ID, nil
}

// withStep runs f on step i's id under the lock.
func (s *Service) withStep(i int, f func(id string) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.stepID(i)
	if err != nil {
		return err
	}
	return f(id)
}

// Tick records a ticked check.
func (s *Service) Tick(step, check int) error {
	return s.withStep(step, func(id string) error { return s.sess.Tick(id, check, true) })
}

// Answer records evidence.
func (s *Service) Answer(step, evidence int, text string) error {
	return s.withStep(step, func(id string) error { return s.sess.Answer(id, evidence, text) })
}

// Complete finishes a step. After the last step the vault is locked and
// wiped: close-out and signing need no secret.
func (s *Service) Complete(step int) error {
	return s.withStep(step, func(id string) error { return s.afterStep(s.sess.Complete(id)) })
}

// Skip skips a step with a reason.
func (s *Service) Skip(step int, reason string) error {
	return s.withStep(step, func(id string) error { return s.afterStep(s.sess.Skip(id, reason)) })
}

func (s *Service) afterStep(err error) error {
	if err == nil && s.sess.Phase() != session.PhaseSteps {
		s.wipeLocked()
	}
	return err
}

// confirmer is the custodian confirming a step, and what they sign.
type confirmer struct {
	who    session.Custodian
	key    vault.Key
	stepID string
	head   string // journal head the confirmation names
}

// confirmerLocked finds name in the current quorum and checks that the
// session would accept their confirmation of step now.
func (s *Service) confirmerLocked(step int, name string) (confirmer, error) {
	stepID, err := s.stepID(step)
	if err != nil {
		return confirmer{}, err
	}
	var c confirmer
	found := false
	for _, cu := range s.countedLocked() {
		if cu.Name == name {
			c.who, found = cu, true
		}
	}
	if !found {
		return confirmer{}, fmt.Errorf("%s is not in the current quorum", name)
	}
	if err := s.sess.CheckConfirm(stepID, c.who.ID); err != nil {
		return confirmer{}, err
	}
	_, key, ok := s.vault.KeyBySerial(c.who.Serial)
	if !ok {
		return confirmer{}, fmt.Errorf("serial %d is not enrolled in this vault: %w", c.who.Serial, ui.ErrNotOnRoster)
	}
	c.key, c.stepID, c.head = key, stepID, s.journal.Head()
	return c, nil
}

// Confirm records a custodian's confirmation of a step, proven on their own
// key: the key's signing slot signs a digest naming the session, the step,
// the custodian and the journal head (PIN, then touch). The signature is
// checked against the roster and journaled, so the confirmation is evidence
// an auditor can check, not an operator's keypress. A confirmation the
// session would refuse is refused before the PIN is used, and nothing of it
// is journaled.
func (s *Service) Confirm(ctx context.Context, step int, name, pin string) error {
	s.hw.Lock()
	defer s.hw.Unlock()
	s.mu.Lock()
	c, err := s.confirmerLocked(step, name)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	ctx = hardware.WithTouchPrompt(ctx, ui.TouchNotice(ctx))
	tok, err := s.cfg.Station.Open(ctx, c.who.Serial)
	if err != nil {
		return uiError(fmt.Errorf("%s's key %d: %w", name, c.who.Serial, err))
	}
	// The last PIN try is never spent on a confirmation.
	if err := vault.CheckPINRetries(ctx, tok, false); err != nil {
		return uiError(fmt.Errorf("%w — unblock or confirm the last try at a drill first", err))
	}
	digest := audit.ConfirmationDigest(s.sessionID, c.stepID, c.who.ID, c.who.Serial, c.head)
	sig, err := tok.Sign(ctx, c.key.Sign.Slot.PIV(), digest[:], pin)
	if err != nil {
		if rerr := s.recordRefusal(c.who.ID, c.who.Serial, err); rerr != nil {
			return rerr
		}
		return uiError(err)
	}
	pub, _, err := signingMaterial(c.key)
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return fmt.Errorf("%s's key %d signed with a key that is not the enrolled one: %w", name, c.who.Serial, ui.ErrWrongSlotKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The step may have moved on while the key waited for the touch.
	if err := s.sess.CheckConfirm(c.stepID, c.who.ID); err != nil {
		return err
	}
	if err := s.record(c.who.ID, audit.TypeConfirmationSigned, "the confirmation", audit.ConfirmationData{
		Step: c.stepID, Custodian: c.who.ID, Serial: c.who.Serial, JournalHead: c.head,
		Digest: hex.EncodeToString(digest[:]), Signature: sig,
	}); err != nil {
		return err
	}
	return s.sess.Confirm(c.stepID, c.who.ID)
}

// signingMaterial parses a roster key's signing key and attestation chain.
func signingMaterial(key vault.Key) (*ecdsa.PublicKey, []*x509.Certificate, error) {
	return audit.SigningMaterial(key.Sign.PublicKey, key.Sign.Attestation.Slot, key.Sign.Attestation.Device)
}
