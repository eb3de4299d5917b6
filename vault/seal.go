package vault

import (
	"bytes"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// MaxSecretSize bounds a sealed secret.
const MaxSecretSize = 64 << 10

// Seal encrypts secret to the vault recipient under name, replacing any
// secret of that name (a rotation: rotations is incremented, the previous
// sealed time kept, and the "revealed" mark cleared). It needs no quorum.
// The age plaintext is "breakglass-secret-v1\x00<name>\x00<kind>\x00" followed
// by the value, so a ciphertext moved to another entry is refused on Reveal.
// The value is validated for its kind first; secret is not retained and
// never appears in an error. Call Save to write the change.
func (v *Vault) Seal(name string, kind Kind, secret []byte, now time.Time) error {
	if !validID(name) {
		return fmt.Errorf("sealing %q: name must be 1-64 characters of a-z 0-9 . _ -", name)
	}
	if !kind.Valid() {
		return fmt.Errorf("sealing %q: kind %q is not password, totp, recovery-codes or text", name, kind)
	}
	if err := ValidateSecret(kind, secret); err != nil {
		return fmt.Errorf("sealing %q: %w", name, err)
	}
	r, err := age.ParseX25519Recipient(v.Recipient)
	if err != nil {
		return fmt.Errorf("sealing %q: vault recipient: %w", name, err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return fmt.Errorf("sealing %q: %w", name, err)
	}
	if _, err := w.Write(secretHeader(name, kind)); err != nil {
		return fmt.Errorf("sealing %q: %w", name, err)
	}
	if _, err := w.Write(secret); err != nil {
		return fmt.Errorf("sealing %q: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("sealing %q: %w", name, err)
	}
	now = now.UTC().Truncate(time.Second)
	if s, ok := v.Secret(name); ok {
		prev := s.SealedAt
		s.PreviousSealedAt = &prev
		s.Rotations++
		s.SealedAt = now
		s.Kind = kind
		s.LastRevealed = nil
		s.Age = buf.Bytes()
		return nil
	}
	v.Secrets = append(v.Secrets, Secret{Name: name, Kind: kind, SealedAt: now, Age: buf.Bytes()})
	return nil
}

// secretHeader is prepended to the plaintext inside the age file so that a
// ciphertext moved to another secret's entry (or kind) is detected on reveal
// instead of showing the wrong credential.
func secretHeader(name string, kind Kind) []byte {
	return []byte("breakglass-secret-v1\x00" + name + "\x00" + string(kind) + "\x00")
}

// MarkRevealed records that the secret name was shown in session at time
// at: it is burned (must be rotated) until sealed again. Call Save after.
func (v *Vault) MarkRevealed(name, session string, at time.Time) error {
	s, ok := v.Secret(name)
	if !ok {
		return fmt.Errorf("marking %q revealed: %w", name, ErrNoSecret)
	}
	if session == "" {
		return fmt.Errorf("marking %q revealed: session is empty", name)
	}
	s.LastRevealed = &Revealed{Session: session, At: at.UTC()}
	return nil
}

// ValidateSecret checks that secret is a plausible value of kind:
//   - password: non-empty UTF-8;
//   - totp: an otpauth://totp/ URI or a base32 seed, usable by TOTPCode;
//   - recovery-codes: UTF-8 with at least one non-blank line;
//   - text: non-empty.
//
// Errors wrap ErrInvalidSecret and never quote the value.
func ValidateSecret(kind Kind, secret []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: it is empty", ErrInvalidSecret)
	}
	if len(secret) > MaxSecretSize {
		return fmt.Errorf("%w: it is %d bytes, the limit is %d", ErrInvalidSecret, len(secret), MaxSecretSize)
	}
	switch kind {
	case KindPassword:
		if !utf8.Valid(secret) {
			return fmt.Errorf("%w: a password must be UTF-8 text", ErrInvalidSecret)
		}
	case KindTOTP:
		if _, err := parseTOTP(secret); err != nil {
			return err
		}
	case KindRecoveryCodes:
		if !utf8.Valid(secret) || len(RecoveryCodes(secret)) == 0 {
			return fmt.Errorf("%w: recovery codes must be UTF-8 text with one code per line", ErrInvalidSecret)
		}
	case KindText:
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidSecret, kind)
	}
	return nil
}

// RecoveryCodes splits a recovery-codes secret into its non-blank lines,
// trimmed.
func RecoveryCodes(secret []byte) []string {
	var out []string
	for _, l := range strings.Split(string(secret), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

type totpParams struct {
	secret string // base32, no padding
	opts   totp.ValidateOpts
}

// parseTOTP accepts an otpauth://totp/ URI or a bare base32 seed (spaces and
// case ignored).
func parseTOTP(secret []byte) (totpParams, error) {
	s := strings.TrimSpace(string(secret))
	p := totpParams{opts: totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}}
	if strings.HasPrefix(strings.ToLower(s), "otpauth://") {
		k, err := otp.NewKeyFromURL(s)
		if err != nil || k.Type() != "totp" {
			return p, fmt.Errorf("%w: not an otpauth://totp/ URI", ErrInvalidSecret)
		}
		s = k.Secret()
		p.opts.Period = uint(k.Period())
		p.opts.Digits = k.Digits()
		p.opts.Algorithm = k.Algorithm()
		if p.opts.Digits != otp.DigitsSix && p.opts.Digits != otp.DigitsEight {
			return p, fmt.Errorf("%w: otpauth digits must be 6 or 8", ErrInvalidSecret)
		}
	}
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	s = strings.TrimRight(s, "=")
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(key) < 10 {
		return p, fmt.Errorf("%w: TOTP seed must be base32 of at least 80 bits", ErrInvalidSecret)
	}
	clear(key)
	// Seal only what will give a code at reveal time: the TOTP library
	// decodes seeds more strictly than base32 (found by FuzzValidateSecret).
	if _, err := totp.GenerateCodeCustom(s, time.Unix(0, 0), p.opts); err != nil {
		return p, fmt.Errorf("%w: TOTP seed is not usable for codes (check it is complete base32)", ErrInvalidSecret)
	}
	p.secret = s
	return p, nil
}

// TOTPCode computes the TOTP code of a totp secret (otpauth URI or base32
// seed) at t, and the code's period; the code changes at multiples of the
// period since the Unix epoch.
func TOTPCode(secret []byte, t time.Time) (code string, period time.Duration, err error) {
	p, err := parseTOTP(secret)
	if err != nil {
		return "", 0, err
	}
	code, err = totp.GenerateCodeCustom(p.secret, t, p.opts)
	if err != nil {
		return "", 0, errors.Join(ErrInvalidSecret, errors.New("computing TOTP code failed"))
	}
	return code, time.Duration(p.opts.Period) * time.Second, nil
}
