package vault

import (
	"errors"
	"fmt"
)

// Sentinels that callers branch on with errors.Is. The typed errors below
// wrap them where it makes sense.
var (
	// ErrFormat: the vault file is not well formed (see *FieldError for where).
	ErrFormat = errors.New("vault file is malformed")
	// ErrRosterSignature: a roster signature is missing or does not verify.
	ErrRosterSignature = errors.New("roster signature does not verify")
	// ErrAttestation: a key's attestation does not chain to a trusted root or
	// does not describe the enrolled key.
	ErrAttestation = errors.New("key attestation does not verify")
	// ErrQuorum: fewer distinct custodians than the threshold presented keys.
	ErrQuorum = errors.New("quorum not reached")
	// ErrBadShare: a share does not decrypt, does not match its commitment,
	// or the combined shares do not give the vault's recorded key.
	ErrBadShare = errors.New("share is wrong or corrupted")
	// ErrNoSecret: no secret has that name.
	ErrNoSecret = errors.New("no such secret")
	// ErrSecretCorrupt: a sealed secret does not decrypt or parse.
	ErrSecretCorrupt = errors.New("sealed secret is corrupted")
	// ErrInvalidSecret: a value offered to Seal is not valid for its kind.
	ErrInvalidSecret = errors.New("secret is not valid for its kind")
	// ErrLocked: the Opened vault was locked.
	ErrLocked = errors.New("vault is locked")
)

// FieldError names the part of the vault file that is wrong, as a JSON path
// ("roster.custodians[1].keys[0].decrypt.recipient"), and says what to do.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Is makes every FieldError match ErrFormat.
func (e *FieldError) Is(target error) bool { return target == ErrFormat }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// NotOnRosterError: the presented YubiKey's serial is not any custodian's key.
type NotOnRosterError struct {
	Serial uint32
}

func (e *NotOnRosterError) Error() string {
	return fmt.Sprintf("YubiKey serial %d is not enrolled in this vault's roster; use a custodian key listed by 'vault inspect'", e.Serial)
}

// AlreadyCountedError: the custodian (possibly with another of their keys)
// already contributed to this quorum.
type AlreadyCountedError struct {
	Custodian Custodian
}

func (e *AlreadyCountedError) Error() string {
	return fmt.Sprintf("custodian %s already counted towards this quorum; a different custodian must present their key", e.Custodian)
}

// KeyMismatchError: the key in the token is not the enrolled one. What says
// what differs ("decryption key in slot 82 differs from the roster").
type KeyMismatchError struct {
	Serial uint32
	What   string
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("YubiKey serial %d does not hold the enrolled key: %s; it may have been reset or replaced — re-enrol it", e.Serial, e.What)
}

// QuorumError reports how many custodians are counted and how many are needed.
type QuorumError struct {
	Have, Need int
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("quorum not reached: %d of %d custodians have presented their keys", e.Have, e.Need)
}

// Is makes QuorumError match ErrQuorum.
func (e *QuorumError) Is(target error) bool { return target == ErrQuorum }

// ShareError names the custodian whose share is bad (or "combined" when only
// the combination fails).
type ShareError struct {
	Custodian string
	Serial    uint32
	Reason    string
}

func (e *ShareError) Error() string {
	if e.Custodian == "" {
		return fmt.Sprintf("combined shares are wrong: %s; the vault file's shares were altered or corrupted — restore it from a copy", e.Reason)
	}
	return fmt.Sprintf("share of custodian %q (YubiKey %d) is bad: %s; restore the vault file from a copy or re-issue the share", e.Custodian, e.Serial, e.Reason)
}

// Is makes ShareError match ErrBadShare.
func (e *ShareError) Is(target error) bool { return target == ErrBadShare }

// RosterError names the roster part that failed verification.
type RosterError struct {
	Part string // "signature of alice", "roster.custodians[0].keys[1].sign.attestation"
	Err  error  // wraps ErrRosterSignature or ErrAttestation
}

func (e *RosterError) Error() string { return fmt.Sprintf("verifying %s: %v", e.Part, e.Err) }

// Unwrap returns the cause.
func (e *RosterError) Unwrap() error { return e.Err }

// LastPINRetryError: the key's PIN has one attempt left, and a wrong PIN now
// would block it. The custodian must confirm explicitly before it is tried
// (Unlock.ConfirmLastPINRetry, or confirmed=true to CheckPINRetries).
type LastPINRetryError struct {
	Serial uint32
}

func (e *LastPINRetryError) Error() string {
	return fmt.Sprintf("YubiKey %d has one PIN attempt left; a wrong PIN now blocks it — confirm explicitly to try it", e.Serial)
}
