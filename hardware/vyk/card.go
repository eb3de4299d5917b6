// Package vyk is a virtual YubiKey 5: a pure PIV smart-card state machine.
//
// A Card takes one command APDU at a time through Transmit and answers with
// response data followed by a status word, exactly as a YubiKey 5 (firmware
// 5.4.3 by default; see Profiles) answers piv-go, ykman and yubico-piv-tool:
// PIN, PUK and management key with real retry counters, RSA-1024/2048,
// P-256/P-384 (and on firmware 5.7 RSA-3072/4096, Ed25519, X25519) keys
// generated or imported, PIN and touch policies, certificates and data objects, metadata,
// attestation under an injectable CA, the management applet, and short,
// extended and chained APDUs with 61xx response chaining. Clock, randomness
// and the simulated touch delay are injected through Config.
//
// The card knows nothing about transports: cmd/virtual-yubikey exposes it to
// pcscd through vsmartcard-vpcd, and NewToken drives it in-process as a
// hardware.Token for unit tests, so the fake and the emulator never disagree.
//
// A Card's state (MarshalState) holds private keys in the clear: it is a test
// and demonstration device and must never hold real secrets.
package vyk

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Config sets a Card's identity and its injected environment. Zero fields
// take the documented defaults.
type Config struct {
	Serial     uint32              // device serial; default: random 8-digit number
	Version    [3]byte             // firmware version; default {5,4,3}
	TouchDelay time.Duration       // GENERAL AUTHENTICATE on a touch-policy key blocks this long
	Rand       io.Reader           // default crypto/rand
	Now        func() time.Time    // default time.Now
	Sleep      func(time.Duration) // default time.Sleep (tests inject a no-op)
	CA         *CA                 // issues the per-card f9 device certificate; default TestCA()

	// RSADeviceKey makes the f9 attestation key and its device certificate
	// RSA-2048, as on real YubiKey 5s of every firmware. The default is a
	// P-256 f9 key, which is quick to generate for in-process tests;
	// firmware profiles (ProfileConfig) set it.
	RSADeviceKey bool
	// RSAKey makes the RSA keys the card generates (f9 and GENERATE);
	// default rsa.GenerateKey(Rand, bits). Tests about the protocol rather
	// than the keys inject a cache, because RSA generation is slow.
	RSAKey func(bits int) (*rsa.PrivateKey, error)
}

// Factory secrets of a YubiKey PIV applet.
var (
	defaultPIN  = []byte("123456")
	defaultPUK  = []byte("12345678")
	defaultMgmt = []byte{
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	}
)

const (
	defaultRetries = 3
	touchCacheFor  = 15 * time.Second
	maxChain       = 16 * 1024 // largest chained command accepted
	maxObject      = 3063      // largest data object a YubiKey 5 stores
)

// Applets the card can select.
const (
	appNone = iota
	appPIV
	appMgmt
)

// keySlot is one private key held by the card.
type keySlot struct {
	alg    byte
	priv   crypto.PrivateKey // *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey or *ecdh.PrivateKey (X25519)
	pin    byte              // effective PIN policy (1 never, 2 once, 3 always)
	touch  byte              // effective touch policy (1 never, 2 always, 3 cached)
	origin byte              // 1 generated, 2 imported
}

// mgmtKey is the card management key (slot 9b).
type mgmtKey struct {
	alg   byte
	key   []byte
	touch bool
}

// chain is a command being received in CLA 0x10 chained parts.
type chain struct {
	ins, p1, p2 byte
	data        []byte
}

// Card is one virtual YubiKey. All methods are safe for concurrent use.
type Card struct {
	mu  sync.Mutex
	cfg Config

	// Persistent state (MarshalState).
	pin, puk               []byte // unpadded
	pinRetries, pinMax     int
	pukRetries, pukMax     int
	mgmt                   mgmtKey
	keys                   map[byte]*keySlot // by key reference, including 0xf9
	objects                map[uint32][]byte // data object contents (inside tag 53)
	changed                bool              // persistent state changed during this command
	onChange               func()
	lastTouch              time.Time
	applet                 int
	pinOK, pinFresh        bool   // PIN verified; verified since the last PIN-always use
	mgmtOK                 bool   // management key authenticated
	mgmtWitness, mgmtChall []byte // pending management-key authentication
	chain                  *chain
	pending                []byte // response bytes left for GET RESPONSE
}

// New returns a card in factory state: PIN 123456, PUK 12345678, the default
// management key 010203…08 (3DES before firmware 5.7, AES-192 from 5.7), three
// retries each, no keys, and a fresh f9 attestation key and device
// certificate issued by cfg.CA.
func New(cfg Config) (*Card, error) {
	c, err := newBare(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.newAttestationKey(); err != nil {
		return nil, fmt.Errorf("creating attestation key: %w", err)
	}
	c.changed = false
	return c, nil
}

// newBare applies cfg's defaults and returns a card in factory state without
// an attestation key.
func newBare(cfg Config) (*Card, error) {
	if cfg.Version == ([3]byte{}) {
		cfg.Version = [3]byte{5, 4, 3}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
	}
	if cfg.TouchDelay < 0 {
		return nil, errors.New("touch delay must not be negative")
	}
	if cfg.CA == nil {
		ca, err := TestCA()
		if err != nil {
			return nil, err
		}
		cfg.CA = ca
	}
	if cfg.CA.Cert == nil || cfg.CA.Key == nil {
		return nil, errors.New("attestation CA needs both a certificate and a key")
	}
	if cfg.Serial == 0 {
		var b [4]byte
		if _, err := io.ReadFull(cfg.Rand, b[:]); err != nil {
			return nil, fmt.Errorf("choosing a serial: %w", err)
		}
		cfg.Serial = 10_000_000 + (uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))%90_000_000
	}
	c := &Card{cfg: cfg}
	c.factoryReset()
	return c, nil
}

// factoryReset restores PIN, PUK, management key and retries and deletes
// every key and object except the f9 attestation key and certificate.
func (c *Card) factoryReset() {
	c.pin = append([]byte(nil), defaultPIN...)
	c.puk = append([]byte(nil), defaultPUK...)
	c.pinRetries, c.pinMax = defaultRetries, defaultRetries
	c.pukRetries, c.pukMax = defaultRetries, defaultRetries
	c.mgmt = mgmtKey{alg: c.defaultMgmtAlg(), key: append([]byte(nil), defaultMgmt...)}
	f9 := c.keys[0xf9]
	f9cert, hasCert := c.objects[objAttestation]
	c.keys = map[byte]*keySlot{}
	c.objects = map[uint32][]byte{}
	if f9 != nil {
		c.keys[0xf9] = f9
	}
	if hasCert {
		c.objects[objAttestation] = f9cert
	}
	c.clearSession()
	c.changed = true
}

// defaultMgmtAlg is the factory management key algorithm for the
// firmware: 3DES before 5.7, AES-192 from 5.7 on, as on real YubiKeys.
// (Firmware 5.4 accepts AES keys, and piv-go sets AES-192 there when asked
// for a new 24-byte key, but ships with a 3DES key; yubico-piv-tool 2.2.0
// can only authenticate a 3DES key.)
func (c *Card) defaultMgmtAlg() byte {
	v := c.cfg.Version
	if v[0] > 5 || (v[0] == 5 && v[1] >= 7) {
		return algAES192
	}
	return alg3DES
}

// clearSession forgets everything a power cycle forgets.
func (c *Card) clearSession() {
	c.applet = appNone
	c.clearSecurity()
	c.chain = nil
	c.pending = nil
}

// clearSecurity forgets PIN verification and management authentication.
func (c *Card) clearSecurity() {
	c.pinOK, c.pinFresh, c.mgmtOK = false, false, false
	c.mgmtWitness, c.mgmtChall = nil, nil
}

// ATR returns the YubiKey 5 answer-to-reset, which offers T=1.
func (c *Card) ATR() []byte {
	return []byte{0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80,
		0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40}
}

// Reset is a power-on, power-off or warm reset: it clears the selected
// applet, PIN verification, management authentication and pending chained
// commands and responses. Persistent state is untouched.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearSession()
}

// Serial returns the device serial number.
func (c *Card) Serial() uint32 { return c.cfg.Serial }

// OnChange registers f to be called (outside the card's lock, after the
// answer is computed) whenever a command changes persistent state, so a
// transport can save MarshalState. A later call replaces f; nil removes it.
func (c *Card) OnChange(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onChange = f
}

// Transmit executes one command APDU and returns the response data followed
// by SW1 SW2. It never panics: malformed input gets a status word.
func (c *Card) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	resp := c.transmitLocked(apdu)
	changed, f := c.changed, c.onChange
	c.changed = false
	c.mu.Unlock()
	if changed && f != nil {
		f()
	}
	return resp
}

// transmitLocked is Transmit with c.mu held. A panic in a handler (a bug)
// becomes 6F00 rather than killing the transport.
func (c *Card) transmitLocked(apdu []byte) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			c.chain, c.pending = nil, nil
			resp = sw(swUnknown)
		}
	}()
	return c.transmit(apdu)
}

// transact runs f with the card locked, passing a transmit function: the
// in-process Token's operations are atomic like a PC/SC transaction.
func (c *Card) transact(f func(tx func([]byte) []byte)) {
	c.mu.Lock()
	f(c.transmitLocked)
	changed, cb := c.changed, c.onChange
	c.changed = false
	c.mu.Unlock()
	if changed && cb != nil {
		cb()
	}
}
