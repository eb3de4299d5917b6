package main

import (
	"context"
	"fmt"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/vault"
)

// pinMetadataReader is the optional ability (hardware/piv's *Token) to say
// whether the PIN and PUK are still the factory defaults.
type pinMetadataReader interface {
	PINMetadata(ctx context.Context) (piv.Metadata, error)
	PUKMetadata(ctx context.Context) (piv.Metadata, error)
}

// mgmtKeyAdmin is the optional ability (hardware/piv's *Token) to detect the
// factory management key and replace it by a PIN-protected random one.
type mgmtKeyAdmin interface {
	UsesDefaultManagementKey(ctx context.Context) (bool, error)
	SetPINProtectedManagementKey(ctx context.Context, oldKey []byte, pin string) ([]byte, error)
}

// readPIN reads the PIN from --pin-file or the terminal prompt.
func (o *enrolOptions) readPIN(ctx context.Context, e *env, tok hardware.Token, name string) (string, error) {
	if o.PINFile != "" {
		return readPINFile(o.PINFile, e.stderr)
	}
	retries := -1
	if in, err := tok.Info(ctx); err == nil {
		retries = in.PINRetries
	}
	return pinSource{files: pinFileFlag{}, e: e}.pin(name, o.Serial, retries)
}

// refuseDefaultPINs refuses a key whose PIN or PUK is still the factory
// default, when the key can say so; otherwise it says it could not tell.
func refuseDefaultPINs(ctx context.Context, e *env, tok hardware.Token) error {
	md, ok := tok.(pinMetadataReader)
	if !ok {
		printf(e.stderr, "note: cannot tell whether YubiKey %d still uses the factory PIN or PUK (no PIN metadata): make sure both were changed\n", tok.Serial())
		return nil
	}
	pin, err := md.PINMetadata(ctx)
	if err != nil {
		printf(e.stderr, "note: cannot read the PIN metadata of YubiKey %d (%v): make sure the PIN and PUK were changed\n", tok.Serial(), err)
		return nil
	}
	if pin.Default {
		return fmt.Errorf("YubiKey %d still uses the factory PIN: change it first with\n  ykman --device %d piv access change-pin", tok.Serial(), tok.Serial())
	}
	puk, err := md.PUKMetadata(ctx)
	if err != nil {
		printf(e.stderr, "note: cannot read the PUK metadata of YubiKey %d (%v): make sure the PUK was changed\n", tok.Serial(), err)
		return nil
	}
	if puk.Default {
		return fmt.Errorf("YubiKey %d still uses the factory PUK: change it first with\n  ykman --device %d piv access change-puk", tok.Serial(), tok.Serial())
	}
	return nil
}

// protectMgmtKey offers to replace the factory management key with a
// random PIN-protected one; the new key is never shown.
func (o *enrolOptions) protectMgmtKey(ctx context.Context, e *env, tok hardware.Token, admin mgmtKeyAdmin, hasAdmin, isDefault bool, pin string) int {
	if o.MgmtKeyHex != "" {
		return 0
	}
	if !hasAdmin {
		printf(e.stderr, "note: cannot tell whether YubiKey %d still uses the factory management key; if it does, protect it with\n  ykman --device %d piv access change-management-key --generate --protect\n", tok.Serial(), tok.Serial())
		return 0
	}
	if !isDefault {
		return 0
	}
	do := o.ProtectMgmtKey
	if !do && stdinIsTerminal(e) {
		var err error
		if do, err = askYesNo(e, fmt.Sprintf("YubiKey %d uses the factory management key. Replace it with a random PIN-protected one (like ykman)?", tok.Serial())); err != nil {
			printErr(e.stderr, "enrol", err)
			return 1
		}
	}
	if !do {
		printf(e.stderr, "note: YubiKey %d still uses the factory management key: anyone holding it can replace its keys. Protect it with --protect-mgmt-key or\n  ykman --device %d piv access change-management-key --generate --protect\n", tok.Serial(), tok.Serial())
		return 0
	}
	if _, err := admin.SetPINProtectedManagementKey(ctx, hardware.DefaultManagementKey, pin); err != nil {
		printErr(e.stderr, "enrol", fmt.Errorf("protecting the management key of YubiKey %d (the enrolment itself succeeded; the factory key is unchanged): %w", tok.Serial(), err))
		return 1
	}
	printf(e.stdout, "Replaced the factory management key of YubiKey %d by a random one protected by the PIN.\n", tok.Serial())
	return 0
}

// unlockKey refuses factory PINs, reads the PIN, checks the retries left
// and verifies the PIN on tok.
func (o *enrolOptions) unlockKey(ctx context.Context, e *env, tok hardware.Token, name string) (string, error) {
	if err := refuseDefaultPINs(ctx, e, tok); err != nil {
		return "", err
	}
	pin, err := o.readPIN(ctx, e, tok, name)
	if err != nil {
		return "", err
	}
	if pin == hardware.DefaultPIN {
		return "", fmt.Errorf("YubiKey %d still uses the factory PIN 123456: change it first with\n  ykman --device %d piv access change-pin", o.Serial, o.Serial)
	}
	if err := vault.CheckPINRetries(ctx, tok, o.ConfirmLast); err != nil {
		return "", fmt.Errorf("YubiKey %d: %w", o.Serial, err)
	}
	if err := tok.VerifyPIN(ctx, pin); err != nil {
		return "", fmt.Errorf("verifying the PIN of YubiKey %d: %w", o.Serial, err)
	}
	return pin, nil
}

// chooseMgmtKey returns the management key to use: --mgmt-key if given,
// else the factory default, or the PIN-protected key when the card says its
// key is not the default. defaultMgmt reports that the card uses the
// factory default.
func (o *enrolOptions) chooseMgmtKey(ctx context.Context, admin mgmtKeyAdmin, hasAdmin bool, mgmt hardware.ManagementKey, pin string) (_ hardware.ManagementKey, defaultMgmt bool, err error) {
	if mgmt.Key != nil {
		return mgmt, false, nil
	}
	mgmt.Key = hardware.DefaultManagementKey
	if hasAdmin {
		if defaultMgmt, err = admin.UsesDefaultManagementKey(ctx); err != nil {
			return mgmt, defaultMgmt, fmt.Errorf("reading the management key metadata of YubiKey %d: %w", o.Serial, err)
		}
		if !defaultMgmt {
			mgmt = hardware.ManagementKey{PIN: pin}
		}
	}
	return mgmt, defaultMgmt, nil
}
