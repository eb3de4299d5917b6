package vault

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"

	"breakglass/hardware"
)

// MaxSecretSize bounds a sealed secret.
const MaxSecretSize = 64 << 10

// Seal encrypts secret to the vault recipient under name, replacing any
// secret of that name (a rotation: rotations is incremented, the previous
// sealed time kept, the "revealed" mark cleared, and the previous signed
// seal record moved to History). It needs no quorum. The new value is
// unattributed — never revealed as current — until SignSeal signs it;
// SealSigned does both.
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
		if s.Seal != nil {
			s.History = append(s.History, *s.Seal)
			s.Seal = nil
		}
		return nil
	}
	v.Secrets = append(v.Secrets, Secret{Name: name, Kind: kind, SealedAt: now, Age: buf.Bytes()})
	return nil
}

// SealSigned seals secret under name (Seal) and has the custodian holding
// tok sign its seal record (SignSeal) with pin. If signing fails the vault
// is left as it was, so nothing unattributed replaces a good value.
func (v *Vault) SealSigned(ctx context.Context, tok hardware.Token, pin, name string, kind Kind, secret []byte, now time.Time) (Attribution, error) {
	if _, _, ok := v.KeyBySerial(tok.Serial()); !ok {
		return Attribution{}, fmt.Errorf("sealing %q: %w", name, &NotOnRosterError{Serial: tok.Serial()})
	}
	before := slices.Clone(v.Secrets)
	if i := slices.IndexFunc(v.Secrets, func(s Secret) bool { return s.Name == name }); i >= 0 {
		before[i].History = slices.Clone(v.Secrets[i].History)
	}
	if err := v.Seal(name, kind, secret, now); err != nil {
		return Attribution{}, err
	}
	a, err := v.SignSeal(ctx, tok, pin, name)
	if err != nil {
		v.Secrets = before
		return Attribution{}, fmt.Errorf("sealing %q: %w", name, err)
	}
	return a, nil
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
		p, err := parseTOTP(secret)
		if err != nil {
			return err
		}
		clear(p.key)
		// What the console shows (NewLockedTOTP) must accept it too.
		t, err := NewLockedTOTP(secret)
		if err != nil {
			return err
		}
		t.Destroy()
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

// Bounds on the otpauth parameters sealing accepts: what authenticators
// use, and what an operator can read and type before the code changes.
const (
	MinTOTPPeriod = 10  // seconds
	MaxTOTPPeriod = 300 // seconds
	MinTOTPDigits = 6
	MaxTOTPDigits = 8
)

// totpParams is a TOTP secret as the code generator uses it: exactly what
// parseTOTP accepted, so what sealing accepts, TOTPCode honours.
type totpParams struct {
	key    []byte // the decoded seed; the caller clears it
	period uint64 // seconds, MinTOTPPeriod..MaxTOTPPeriod
	digits int    // MinTOTPDigits..MaxTOTPDigits
	hash   func() hash.Hash
}

// totpError is an invalid TOTP secret: it names the field and what to do,
// and never quotes the value.
func totpError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSecret, fmt.Sprintf(format, a...))
}

// parseTOTP accepts an otpauth://totp/ URI (Key URI Format) or a bare base32
// seed (spaces, case and padding ignored). A URI is refused unless every
// parameter is one the generator honours exactly: secret (required, base32),
// algorithm (SHA1, SHA256 or SHA512), digits (6-8), period (10-300 seconds),
// and the informational issuer and image; each at most once.
func parseTOTP(secret []byte) (totpParams, error) {
	s := strings.TrimSpace(string(secret))
	p := totpParams{period: 30, digits: 6, hash: sha1.New}
	if len(s) >= len("otpauth:") && strings.EqualFold(s[:len("otpauth:")], "otpauth:") {
		seed, err := p.parseURI(s)
		if err != nil {
			return p, err
		}
		s = seed
	} else if strings.Contains(s, "://") {
		return p, totpError("a TOTP secret must be an otpauth://totp/ URI or a base32 seed")
	} else {
		s = strings.ReplaceAll(s, " ", "")
	}
	key, err := decodeBase32Seed(s)
	if err != nil {
		return p, err
	}
	p.key = key
	return p, nil
}

// parseURI reads the otpauth URI s into p and returns its secret parameter.
func (p *totpParams) parseURI(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", totpError("the otpauth URI is malformed (check for stray characters or bad %%-escapes)")
	}
	switch {
	case u.Opaque != "":
		return "", totpError("the otpauth URI must start otpauth://totp/")
	case strings.EqualFold(u.Host, "hotp"):
		return "", totpError("the otpauth URI is of type hotp (counter-based); only totp is supported")
	case !strings.EqualFold(u.Host, "totp") || u.User != nil:
		return "", totpError("the otpauth URI type must be totp (otpauth://totp/LABEL?secret=...)")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", totpError("the otpauth URI has a #fragment; remove it")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", totpError("the otpauth URI query is malformed (check for bad %%-escapes or ';')")
	}
	for name, vals := range q {
		switch name {
		case "secret", "algorithm", "digits", "period", "issuer", "image":
		case "counter":
			return "", totpError("the otpauth URI has a counter parameter (hotp); only totp is supported")
		default:
			return "", totpError("the otpauth URI has %s, which the code generator does not honour; remove it", paramName(name))
		}
		if len(vals) > 1 {
			return "", totpError("the otpauth URI has parameter %s %d times; give it once", name, len(vals))
		}
	}
	if v, ok := q["algorithm"]; ok {
		switch strings.ToUpper(v[0]) {
		case "SHA1":
			p.hash = sha1.New
		case "SHA256":
			p.hash = sha256.New
		case "SHA512":
			p.hash = sha512.New
		default:
			return "", totpError("the otpauth algorithm must be SHA1, SHA256 or SHA512")
		}
	}
	if v, ok := q["digits"]; ok {
		n, ok := smallDecimal(v[0])
		if !ok || n < MinTOTPDigits || n > MaxTOTPDigits {
			return "", totpError("the otpauth digits must be %d, 7 or %d", MinTOTPDigits, MaxTOTPDigits)
		}
		p.digits = int(n)
	}
	if v, ok := q["period"]; ok {
		n, ok := smallDecimal(v[0])
		if !ok || n < MinTOTPPeriod || n > MaxTOTPPeriod {
			return "", totpError("the otpauth period must be a whole number of seconds from %d to %d (30 is usual)", MinTOTPPeriod, MaxTOTPPeriod)
		}
		p.period = n
	}
	v, ok := q["secret"]
	if !ok || v[0] == "" {
		return "", totpError("the otpauth URI has no secret parameter")
	}
	if strings.ContainsAny(v[0], " \t") {
		return "", totpError("the otpauth secret must be base32 without spaces")
	}
	return v[0], nil
}

// smallDecimal parses 1 to 4 ASCII digits without sign or leading zero.
func smallDecimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 4 || s[0] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// paramName names an unknown query parameter for an error message. It is
// quoted only when it is short lowercase letters (shorter than any 80-bit
// base32 seed), so a secret pasted without "secret=" is never echoed.
func paramName(name string) string {
	if len(name) == 0 || len(name) > 12 {
		return "an unknown parameter (not shown)"
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && c != '_' && c != '-' {
			return "an unknown parameter (not shown)"
		}
	}
	return fmt.Sprintf("parameter %q", name)
}

// decodeBase32Seed decodes an RFC 4648 base32 seed, case-insensitive, with
// or without its padding, of at least 80 bits.
func decodeBase32Seed(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(s, "="))
	// Unpadded base32 has 0, 2, 4, 5 or 7 characters in its last group.
	switch len(s) % 8 {
	case 1, 3, 6:
		return nil, totpError("the TOTP secret is not complete base32 (its length is wrong; check it was copied whole)")
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		clear(key)
		return nil, totpError("the TOTP secret must be base32 (letters A-Z and digits 2-7)")
	}
	if len(key) < 10 {
		clear(key)
		return nil, totpError("the TOTP secret is %d bits; at least 80 are needed", 8*len(key))
	}
	return key, nil
}

// code is the RFC 6238 code at t (RFC 4226 dynamic truncation).
func (p totpParams) code(t time.Time) string {
	sec := t.Unix()
	if sec < 0 {
		sec = 0
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(sec)/p.period)
	m := hmac.New(p.hash, p.key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0xf
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1)
	for range p.digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", p.digits, v%mod)
}

// TOTPCode computes the TOTP code of a totp secret (otpauth URI or base32
// seed) at t, and the code's period; the code changes at multiples of the
// period since the Unix epoch. Every secret ValidateSecret accepts gives a
// code of 6 to 8 digits and a period of MinTOTPPeriod to MaxTOTPPeriod.
func TOTPCode(secret []byte, t time.Time) (code string, period time.Duration, err error) {
	if err := ValidateSecret(KindTOTP, secret); err != nil {
		return "", 0, err // exactly what sealing refuses (both parsers must accept)
	}
	p, err := parseTOTP(secret)
	if err != nil {
		return "", 0, err
	}
	defer clear(p.key)
	return p.code(t), time.Duration(p.period) * time.Second, nil
}
