package console

import (
	"context"
	"errors"
	"fmt"

	"breakglass/internal/inert"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// Reveal records and decrypts one credential of the current step. In a drill
// it is decrypted and parsed but its value is never returned. A value is
// returned only once everything about it is journaled.
func (s *Service) Reveal(ctx context.Context, step int, name string) (ui.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.stepID(step)
	if err != nil {
		return ui.Secret{}, err
	}
	if s.opened == nil {
		return ui.Secret{}, errors.New("the vault is locked: the custodians must re-authorise")
	}
	sec, ok := s.vault.Secret(name)
	if !ok {
		return ui.Secret{}, fmt.Errorf("the vault has no secret %q", name)
	}
	// Invariant 8: only a value whose seal record verifies (signed by its
	// sealer on their enrolled key, this vault, this ciphertext, linked to
	// the kept history) is revealed as current.
	att, serr := s.vault.VerifySeal(name)
	if serr != nil && !s.sess.Drill() {
		return ui.Secret{}, fmt.Errorf("refusing to reveal: %w", serr)
	}
	r, err := s.sess.RevealSealed(id, name, session.SealRef{SealedAt: att.SealedAt, Version: att.Version, Record: att.Digest, SealedBy: att.Sealer.ID})
	if err != nil {
		return ui.Secret{}, err
	}
	out := ui.Secret{Name: name, Kind: uiKind(sec.Kind)}
	if r.Mode == session.ModeCheck {
		if serr != nil {
			// A drill flags it: journaled as a failed check.
			return ui.Secret{}, errors.Join(fmt.Errorf("drill: %w", serr), s.sess.CheckResult(name, false, serr.Error()))
		}
		if err := s.checkLocked(name); err != nil {
			return ui.Secret{}, err
		}
		return out, nil
	}
	if serr != nil {
		return ui.Secret{}, errors.Join(fmt.Errorf("refusing to reveal: %w", serr), s.sess.CheckResult(name, false, serr.Error()))
	}
	out.SealedBy, out.SealedAt, out.Version = inert.Line(att.Sealer.Name), att.SealedAt, att.Version
	buf, err := s.opened.Reveal(name)
	if err != nil {
		return ui.Secret{}, errors.Join(err, s.sess.CheckResult(name, false, err.Error()))
	}
	if err := s.sess.CheckResult(name, true, "decrypted"); err != nil {
		buf.Destroy()
		return ui.Secret{}, err
	}
	if err := s.markRevealedLocked(name); err != nil {
		buf.Destroy()
		return ui.Secret{}, err
	}
	s.revealed = append(s.revealed, buf)
	out.Value = buf.Bytes
	out.Wipe = buf.Destroy
	if sec.Kind == vault.KindTOTP {
		// Parsed once, into locked memory; wiped at hide and at lock.
		if t, err := vault.NewLockedTOTP(buf.Bytes()); err == nil {
			s.revealed = append(s.revealed, t)
			out.TOTP = t
			out.Wipe = func() { t.Destroy(); buf.Destroy() }
		}
	}
	return out, nil
}

// checkLocked is a drill's reveal: the secret is decrypted and parsed, and
// the outcome journaled.
func (s *Service) checkLocked(name string) error {
	cerr := s.opened.Check(name)
	detail := "decrypted and parsed"
	if cerr != nil {
		detail = cerr.Error()
	}
	if err := s.sess.CheckResult(name, cerr == nil, detail); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("drill: %w", cerr)
	}
	return nil
}

// markRevealedLocked marks the secret burned in the vault file (until it is
// sealed again). A vault on read-only media cannot be marked: that is
// journaled, and the report's must-rotate list still names it. It returns a
// *RecordError if neither the mark nor its failure could be recorded.
func (s *Service) markRevealedLocked(name string) error {
	err := s.vault.MarkRevealed(name, s.sessionID, s.cfg.Now())
	if err == nil {
		err = s.vault.Save(s.cfg.VaultPath)
	}
	if err == nil {
		return nil
	}
	return s.record("breakglass", eventVaultMarkFailed, fmt.Sprintf("that %s could not be marked revealed in the vault", name),
		map[string]string{"name": name, "error": err.Error()})
}

// wipeLocked destroys every revealed secret and the opened vault key.
func (s *Service) wipeLocked() {
	for _, b := range s.revealed {
		b.Destroy()
	}
	s.revealed = nil
	if s.opened != nil {
		s.opened.Lock()
		s.opened = nil
	}
}

func uiKind(k vault.Kind) ui.SecretKind {
	switch k {
	case vault.KindTOTP:
		return ui.TOTPSeed
	case vault.KindRecoveryCodes:
		return ui.RecoveryCodes
	case vault.KindPassword:
		return ui.Password
	}
	return ui.FreeText
}
