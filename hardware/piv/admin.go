package piv

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	gopiv "github.com/go-piv/piv-go/v2/piv"
)

// SetPINProtectedManagementKey replaces the management key oldKey with a
// random 24-byte key (AES-192 on firmware 5.4 and later, 3DES before),
// stores it in the PIN-protected data object and sets ykman's "stored key"
// flag, exactly as `ykman piv access change-management-key --generate
// --protect` does, so that later ManagementKey{PIN: pin}, ykman and
// age-plugin-yubikey all find it with the PIN. A wrong PIN is a
// *hardware.PINError, a wrong oldKey hardware.ErrSecurityStatus; on any
// failure the old key (and ykman's flags) are put back. It returns the new
// key so the caller may escrow it; callers must not print or log it.
func (t *Token) SetPINProtectedManagementKey(ctx context.Context, oldKey []byte, pin string) ([]byte, error) {
	const what = "setting a PIN-protected management key"
	newKey := make([]byte, 24)
	if _, err := rand.Read(newKey); err != nil {
		return nil, fmt.Errorf("generating a management key: %w", err)
	}
	// 1. ykman's flag first, with the old key: proves oldKey before any change.
	var oldPivman []byte
	err := t.withRaw(ctx, what, func(c *rawCard) error {
		var err error
		oldPivman, err = c.setPivmanFlags(oldKey, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	// 2. Key change and storage in one piv-go session.
	err = t.do(ctx, what, func(yk *gopiv.YubiKey) error {
		if err := yk.VerifyPIN(pin); err != nil {
			return err
		}
		if err := yk.SetManagementKey(oldKey, newKey); err != nil {
			return err
		}
		if err := yk.SetMetadata(newKey, &gopiv.Metadata{ManagementKey: &newKey}); err != nil {
			if rerr := yk.SetManagementKey(newKey, oldKey); rerr != nil {
				return fmt.Errorf("storing the new management key failed (%w) and restoring the old one failed too (%v): the management key is now unknown; reset the PIV applet", err, rerr)
			}
			return fmt.Errorf("storing the new management key (old key restored): %w", err)
		}
		m, err := yk.Metadata(pin) // read it back through the PIN as a later operation will
		if err != nil {
			return fmt.Errorf("reading back the PIN-protected management key: %w", err)
		}
		if m.ManagementKey == nil || !bytes.Equal(*m.ManagementKey, newKey) {
			return errors.New("reading back the PIN-protected management key: stored key differs")
		}
		return nil
	})
	if err != nil {
		// Best effort: the key is unchanged unless the error says otherwise.
		if rerr := t.withRaw(ctx, what, func(c *rawCard) error { return c.restorePivman(oldKey, oldPivman) }); rerr != nil {
			return nil, fmt.Errorf("%w (and restoring ykman's flags failed: %v)", err, rerr)
		}
		return nil, err
	}
	return newKey, nil
}

// withRaw runs f on our own PC/SC connection to the key (see raw.go).
func (t *Token) withRaw(ctx context.Context, what string, f func(c *rawCard) error) error {
	return t.withReader(ctx, what, func(reader string) error {
		c, err := rawOpen(reader)
		if err != nil {
			return err
		}
		defer c.close()
		return f(c)
	})
}

// ResetPIV returns the key's PIV applet to factory state: it blocks the PIN
// and PUK with random wrong values, then resets, which erases every key and
// certificate and restores PIN 123456, PUK 12345678 and the default
// management key. Everything on the PIV applet is lost; other applets are
// untouched. For the enrolment of a new custodian key and for tests.
func (t *Token) ResetPIV(ctx context.Context) error {
	return t.do(ctx, "resetting the PIV applet", func(yk *gopiv.YubiKey) error {
		return yk.Reset()
	})
}

// metadata reads GET METADATA for reference p2 in one session.
func (t *Token) metadata(ctx context.Context, what string, p2 byte) (Metadata, error) {
	var m Metadata
	err := t.withRaw(ctx, what, func(c *rawCard) error {
		var err error
		m, err = c.metadata(p2)
		return err
	})
	return m, err
}

// PINMetadata says whether the PIN is still the factory default and how
// many attempts are left of how many (firmware 5.3 or later). Reading it
// costs no attempt.
func (t *Token) PINMetadata(ctx context.Context) (Metadata, error) {
	return t.metadata(ctx, "reading PIN metadata", 0x80)
}

// PUKMetadata is PINMetadata for the PUK.
func (t *Token) PUKMetadata(ctx context.Context) (Metadata, error) {
	return t.metadata(ctx, "reading PUK metadata", 0x81)
}

// UsesDefaultManagementKey reports whether the management key is still the
// factory default (from the key's metadata, firmware 5.3 or later).
func (t *Token) UsesDefaultManagementKey(ctx context.Context) (bool, error) {
	m, err := t.metadata(ctx, "reading management key metadata", 0x9b)
	return m.Default, err
}

// UsesDefaultPIN reports whether the PIN is still the factory default.
func (t *Token) UsesDefaultPIN(ctx context.Context) (bool, error) {
	m, err := t.PINMetadata(ctx)
	return m.Default, err
}
