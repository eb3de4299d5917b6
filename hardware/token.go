// Package hardware defines what breakglass needs from a PIV token (a YubiKey)
// and nothing about how it is reached.
//
// Three implementations exist:
//   - hardware/piv: production, over PC/SC (pcscd) with github.com/go-piv/piv-go;
//     the only package that imports piv-go and the only cgo.
//   - hardware/vyk: the virtual YubiKey, a pure APDU state machine that the
//     cmd/virtual-yubikey program exposes to pcscd through vsmartcard-vpcd,
//     plus an in-process Token over the same state machine for unit tests.
//   - fakes in tests above this package.
//
// Every Token method opens the key, does one operation and releases it: a
// YubiKey is opened exclusively, so nothing may hold it between operations.
// A PIN is therefore passed to each operation that needs one, and verified in
// the same card transaction as the operation. Several steps that belong
// together (a custodian's unlock: slot metadata, PIN retries, VERIFY, ECDH)
// run in one card session through the optional Sessioner ability.
//
// A YubiKey never says that it waits for a touch: a Token calls the
// context's touch prompt (WithTouchPrompt) itself, right before the command
// that will wait, from the slot's touch policy (TouchCache, Touching).
package hardware

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Slot is a PIV key reference: 0x9a, 0x9c, 0x9d, 0x9e, or a retired
// key-management slot 0x82..0x95.
type Slot uint8

// Well-known slots.
const (
	SlotAuthentication Slot = 0x9a
	SlotSignature      Slot = 0x9c
	SlotKeyManagement  Slot = 0x9d
	SlotCardAuth       Slot = 0x9e
	SlotRetiredFirst   Slot = 0x82
	SlotRetiredLast    Slot = 0x95
)

// String formats a slot the way ykman does ("9c", "82").
func (s Slot) String() string { return fmt.Sprintf("%02x", uint8(s)) }

// Retired reports whether s is one of the twenty retired key-management slots.
func (s Slot) Retired() bool { return s >= SlotRetiredFirst && s <= SlotRetiredLast }

// Valid reports whether s is a slot that can hold a key.
func (s Slot) Valid() bool {
	switch s {
	case SlotAuthentication, SlotSignature, SlotKeyManagement, SlotCardAuth:
		return true
	}
	return s.Retired()
}

// PINPolicy says when a slot's key needs the PIN. Values match the PIV wire encoding.
type PINPolicy uint8

// PIN policies.
const (
	PINPolicyDefault PINPolicy = 0
	PINPolicyNever   PINPolicy = 1
	PINPolicyOnce    PINPolicy = 2
	PINPolicyAlways  PINPolicy = 3
)

func (p PINPolicy) String() string {
	switch p {
	case PINPolicyNever:
		return "never"
	case PINPolicyOnce:
		return "once"
	case PINPolicyAlways:
		return "always"
	case PINPolicyDefault:
		return "default"
	}
	return fmt.Sprintf("pin-policy(%d)", uint8(p))
}

// TouchPolicy says when a slot's key needs a touch. Values match the PIV wire encoding.
type TouchPolicy uint8

// Touch policies.
const (
	TouchPolicyDefault TouchPolicy = 0
	TouchPolicyNever   TouchPolicy = 1
	TouchPolicyAlways  TouchPolicy = 2
	TouchPolicyCached  TouchPolicy = 3
)

func (t TouchPolicy) String() string {
	switch t {
	case TouchPolicyNever:
		return "never"
	case TouchPolicyAlways:
		return "always"
	case TouchPolicyCached:
		return "cached"
	case TouchPolicyDefault:
		return "default"
	}
	return fmt.Sprintf("touch-policy(%d)", uint8(t))
}

// Info describes one key as seen right now.
type Info struct {
	Reader     string // PC/SC reader name, or a description for in-process tokens
	Serial     uint32
	Firmware   string // "5.4.3"
	FormFactor string // "USB-A keychain", "" when unknown
	PINRetries int    // PIN attempts left before the PIN blocks
}

// KeyInfo describes the key in one slot (PIV metadata, firmware ≥ 5.3).
type KeyInfo struct {
	Slot      Slot
	Algorithm string // "P-256", "P-384", "Ed25519", "X25519", "RSA-2048"
	PIN       PINPolicy
	Touch     TouchPolicy
	Generated bool // true when the key was generated on the device (not imported)
	Public    crypto.PublicKey
}

// Attestation is the evidence that a slot's key was generated on a genuine
// device: the slot certificate signed by the device's attestation key (slot
// f9), whose certificate is in turn issued by the vendor root.
type Attestation struct {
	Device *x509.Certificate // the f9 attestation ("intermediate") certificate
	Slot   *x509.Certificate // the attestation statement for the slot's key
}

// GenerateOptions are the policies for a key generated on the token.
type GenerateOptions struct {
	Algorithm string // only "P-256" is required of every Token
	PIN       PINPolicy
	Touch     TouchPolicy
}

// Token is one PIV key. Every method is a complete operation: it opens the key,
// works, and releases it. Implementations must be safe for use by one
// goroutine at a time; callers serialise operations on one token.
type Token interface {
	// Serial is the device serial the token was opened by. It never changes.
	Serial() uint32
	// Info reads the key's identity and PIN retry counter.
	Info(ctx context.Context) (Info, error)
	// VerifyPIN checks the PIN. A wrong PIN returns a *PINError.
	VerifyPIN(ctx context.Context, pin string) error
	// KeyInfo reads the metadata of the key in slot; ErrSlotEmpty if none.
	KeyInfo(ctx context.Context, slot Slot) (KeyInfo, error)
	// Certificate reads the certificate stored in slot's data object; ErrSlotEmpty if none.
	Certificate(ctx context.Context, slot Slot) (*x509.Certificate, error)
	// Attest returns the attestation of the key in slot; ErrSlotEmpty if none.
	Attest(ctx context.Context, slot Slot) (Attestation, error)
	// ECDH computes the P-256 shared secret (the x coordinate, 32 bytes)
	// between slot's key and peer. pin is used if the slot's policy needs it.
	// It may block until the key is touched.
	ECDH(ctx context.Context, slot Slot, peer *ecdh.PublicKey, pin string) ([]byte, error)
	// Sign signs digest (a SHA-256 hash for P-256) with slot's key and returns
	// an ASN.1 DER ECDSA signature. It may block until the key is touched.
	Sign(ctx context.Context, slot Slot, digest []byte, pin string) ([]byte, error)
	// GenerateKey creates a new key in slot, replacing any there.
	GenerateKey(ctx context.Context, mgmt ManagementKey, slot Slot, opts GenerateOptions) (crypto.PublicKey, error)
	// SetCertificate stores cert in slot's certificate data object.
	SetCertificate(ctx context.Context, mgmt ManagementKey, slot Slot, cert *x509.Certificate) error
}

// ManagementKey authorises administrative operations (generate, store
// certificate). Either Key is given, or PIN is given and the token's
// management key is the PIN-protected one stored by ykman/age-plugin-yubikey.
type ManagementKey struct {
	Key []byte
	PIN string
}

// DefaultManagementKey is the well-known factory management key.
var DefaultManagementKey = []byte{
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
}

// Factory PIN and PUK: a custodian key still using them must be changed.
const (
	DefaultPIN = "123456"
	DefaultPUK = "12345678"
)

// Errors callers branch on. Implementations wrap them with context.
var (
	// ErrSlotEmpty: the slot has no key (or no certificate).
	ErrSlotEmpty = errors.New("slot is empty")
	// ErrRemoved: the key was pulled out (or its reader vanished) during the operation.
	ErrRemoved = errors.New("key was removed")
	// ErrNotFound: no connected key has the requested serial.
	ErrNotFound = errors.New("key not found")
	// ErrPINBlocked: the PIN has no retries left; only the PUK can unblock it.
	ErrPINBlocked = errors.New("PIN is blocked")
	// ErrSecurityStatus: the operation needs a PIN or management key it was not given.
	ErrSecurityStatus = errors.New("PIN or management key required")
	// ErrNoService: the PC/SC service (pcscd) is not reachable.
	ErrNoService = errors.New("smart card service (pcscd) is not running")
)

// PINError reports a wrong PIN and how many attempts remain.
type PINError struct {
	Retries int
}

func (e *PINError) Error() string {
	if e.Retries == 1 {
		return "wrong PIN: 1 attempt left before the PIN blocks"
	}
	return fmt.Sprintf("wrong PIN: %d attempts left", e.Retries)
}

// Is makes errors.Is(err, ErrPINBlocked) true for a PINError with no retries left.
func (e *PINError) Is(target error) bool { return target == ErrPINBlocked && e.Retries == 0 }

// Station lists and opens the keys connected to this machine.
type Station interface {
	// Keys lists every connected key. A reader whose card cannot be read is
	// reported with its error rather than failing the whole list.
	Keys(ctx context.Context) ([]Listed, error)
	// Open returns the token with the given serial; ErrNotFound if absent.
	Open(ctx context.Context, serial uint32) (Token, error)
}

// Listed is one entry of Station.Keys.
type Listed struct {
	Info Info
	Err  error // set when the reader has a card that could not be identified
}

// Sessioner is an optional ability of a Token, found by type assertion:
// several operations in one card session (one connection, one
// transaction, one SELECT), so that a custodian's unlock costs one round of
// a few APDUs instead of one connection per step. Callers fall back to the
// Token's one-operation methods when a token lacks it.
//
//	if s, ok := tok.(hardware.Sessioner); ok { err = s.Session(ctx, f) }
type Sessioner interface {
	// Session opens the key once, checks that the card in the reader has
	// the token's serial (ErrRemoved if another key is there now), runs f
	// and releases the key when f returns; f must not keep s. The key is
	// held exclusively for the whole of f, so f must not wait for a person
	// except for the touch the key itself waits for. ctx bounds the session
	// and carries the touch prompt (WithTouchPrompt).
	Session(ctx context.Context, f func(s Session) error) error
}

// Session is one open card session on a key. A PIN verified in it stays
// verified until it ends. Errors follow Token's contract.
type Session interface {
	// PINRetries reads the PIN attempts left without trying a PIN;
	// RetriesUnknown if the PIN is already verified (the counter is full).
	PINRetries() (int, error)
	// KeyInfo reads the metadata of the key in slot (firmware 5.3+);
	// ErrSlotEmpty if none.
	KeyInfo(slot Slot) (KeyInfo, error)
	// ECDH is Token.ECDH in this session: the PIN step the slot's policy
	// needs (none for "once" when the PIN was verified in this session), then
	// the touch prompt when the key will wait for a touch, then the key
	// agreement. It reuses metadata KeyInfo already read in this session.
	ECDH(slot Slot, peer *ecdh.PublicKey, pin string) ([]byte, error)
}

// RetriesUnknown is a PIN retry count the card would not give because the
// PIN is already verified in its current session: the counter is full.
const RetriesUnknown = -1

// TouchPrompt is how a blocking operation tells the user to touch the key.
// A YubiKey never says it waits for a touch, so a Token calls the prompt
// itself, from the slot's touch policy, right before it sends the command
// that waits (after the PIN is accepted), and never for an operation that
// needs no touch.
type touchKey struct{}

// WithTouchPrompt returns a context whose touch-requiring operations call f
// the moment the key starts waiting for a touch (see PromptTouch).
func WithTouchPrompt(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, touchKey{}, f)
}

// PromptTouch calls the context's touch prompt, if any, at once. Token
// implementations call it right before sending a command that the key
// will hold until touched, as TouchCache.Needs decides.
func PromptTouch(ctx context.Context) {
	if f, _ := ctx.Value(touchKey{}).(func()); f != nil {
		f()
	}
}

// TouchCacheTime is how long a YubiKey remembers a touch for keys with the
// "cached" touch policy.
const TouchCacheTime = 15 * time.Second

// TouchCache tells whether an operation on one key will wait for a touch:
// always for TouchPolicyAlways, for TouchPolicyCached unless the key was
// touched within TouchCacheTime (a YubiKey keeps one touch timestamp for
// the whole device), never otherwise. The zero value is ready; Now
// defaults to time.Now. It is safe for concurrent use.
type TouchCache struct {
	Now func() time.Time

	mu   sync.Mutex
	last time.Time // start of the last operation that waited for a touch
}

func (c *TouchCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Needs reports whether an operation under policy p, sent now, will wait
// for a touch.
func (c *TouchCache) Needs(p TouchPolicy) bool {
	switch p {
	case TouchPolicyAlways:
		return true
	case TouchPolicyCached:
		c.mu.Lock()
		defer c.mu.Unlock()
		d := c.now().Sub(c.last)
		return c.last.IsZero() || d < 0 || d >= TouchCacheTime
	}
	return false
}

// Touched records that an operation which waited for a touch succeeded;
// sent is when it was sent (no later than the touch, so the cache never
// outlives the key's own).
func (c *TouchCache) Touched(sent time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sent.After(c.last) {
		c.last = sent
	}
}

// Touching runs op, which sends one command under touch policy p: it calls
// the context's touch prompt first when the key will wait for a touch, and
// records the touch when op succeeds.
func Touching[T any](ctx context.Context, c *TouchCache, p TouchPolicy, op func() (T, error)) (T, error) {
	if !c.Needs(p) {
		return op()
	}
	sent := c.now()
	PromptTouch(ctx)
	out, err := op()
	if err == nil {
		c.Touched(sent)
	}
	return out, err
}
