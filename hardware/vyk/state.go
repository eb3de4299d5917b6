package vyk

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// stateFormat names the MarshalState encoding; Load refuses any other.
const stateFormat = "breakglass-vyk-state-v1"

type stateJSON struct {
	Format     string             `json:"format"`
	Serial     uint32             `json:"serial"`
	Version    [3]byte            `json:"version"`
	PIN        string             `json:"pin"` // hex
	PUK        string             `json:"puk"` // hex
	PINRetries int                `json:"pin_retries"`
	PINMax     int                `json:"pin_max"`
	PUKRetries int                `json:"puk_retries"`
	PUKMax     int                `json:"puk_max"`
	Mgmt       mgmtJSON           `json:"management_key"`
	Keys       map[string]keyJSON `json:"keys"`    // by slot hex ("9a", "f9")
	Objects    map[string]string  `json:"objects"` // by tag hex ("5fc105"), content hex
}

type mgmtJSON struct {
	Alg   byte   `json:"alg"`
	Key   string `json:"key"` // hex
	Touch bool   `json:"touch"`
}

type keyJSON struct {
	Alg     byte   `json:"alg"`
	Private string `json:"private"` // hex raw scalar or seed
	PIN     byte   `json:"pin_policy"`
	Touch   byte   `json:"touch_policy"`
	Origin  byte   `json:"origin"`
}

// MarshalState encodes the card's persistent state (serial, firmware
// version, PIN, PUK, retry counters, management key, keys including f9,
// and every data object) as JSON. It contains private keys and secrets in
// the clear; session state (verified PIN, selected applet) is not saved.
func (c *Card) MarshalState() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := stateJSON{
		Format:     stateFormat,
		Serial:     c.cfg.Serial,
		Version:    c.cfg.Version,
		PIN:        hex.EncodeToString(c.pin),
		PUK:        hex.EncodeToString(c.puk),
		PINRetries: c.pinRetries,
		PINMax:     c.pinMax,
		PUKRetries: c.pukRetries,
		PUKMax:     c.pukMax,
		Mgmt:       mgmtJSON{Alg: c.mgmt.alg, Key: hex.EncodeToString(c.mgmt.key), Touch: c.mgmt.touch},
		Keys:       map[string]keyJSON{},
		Objects:    map[string]string{},
	}
	for slot, k := range c.keys {
		raw, err := rawPrivate(k)
		if err != nil {
			return nil, fmt.Errorf("encoding key in slot %02x: %w", slot, err)
		}
		s.Keys[fmt.Sprintf("%02x", slot)] = keyJSON{Alg: k.alg, Private: hex.EncodeToString(raw), PIN: k.pin, Touch: k.touch, Origin: k.origin}
	}
	for tag, v := range c.objects {
		s.Objects[fmt.Sprintf("%x", tag)] = hex.EncodeToString(v)
	}
	return json.MarshalIndent(s, "", "  ")
}

// Load restores a card saved by MarshalState. cfg supplies the environment
// (clock, randomness, touch delay, CA); a non-zero cfg.Serial or
// cfg.Version must match the saved one. Any unknown field, out-of-range
// value or inconsistent key is an error.
func Load(cfg Config, state []byte) (*Card, error) {
	var s stateJSON
	dec := json.NewDecoder(bytes.NewReader(state))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("reading card state: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("reading card state: trailing data after the JSON object")
	}
	if s.Format != stateFormat {
		return nil, fmt.Errorf("reading card state: format %q is not %q", s.Format, stateFormat)
	}
	if s.Serial == 0 {
		return nil, errors.New("reading card state: serial is missing")
	}
	if cfg.Serial != 0 && cfg.Serial != s.Serial {
		return nil, fmt.Errorf("reading card state: saved serial %d does not match configured %d", s.Serial, cfg.Serial)
	}
	if cfg.Version != ([3]byte{}) && cfg.Version != s.Version {
		return nil, fmt.Errorf("reading card state: saved firmware %v does not match configured %v", s.Version, cfg.Version)
	}
	if s.Version == ([3]byte{}) {
		return nil, errors.New("reading card state: firmware version is missing")
	}
	cfg.Serial, cfg.Version = s.Serial, s.Version
	c, err := newBare(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.restore(&s); err != nil {
		return nil, fmt.Errorf("reading card state: %w", err)
	}
	c.changed = false
	return c, nil
}

// restore validates s and installs it into c.
func (c *Card) restore(s *stateJSON) error {
	secret := func(name, h string, minLen int) ([]byte, error) {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) < minLen || len(b) > 8 || bytes.IndexByte(b, 0xff) >= 0 {
			return nil, fmt.Errorf("%s must be %d to 8 bytes in hex", name, minLen)
		}
		return b, nil
	}
	var err error
	if c.pin, err = secret("pin", s.PIN, 6); err != nil {
		return err
	}
	if c.puk, err = secret("puk", s.PUK, 6); err != nil {
		return err
	}
	counters := []struct {
		name       string
		left, max  int
		dstL, dstM *int
	}{
		{"pin", s.PINRetries, s.PINMax, &c.pinRetries, &c.pinMax},
		{"puk", s.PUKRetries, s.PUKMax, &c.pukRetries, &c.pukMax},
	}
	for _, r := range counters {
		if r.max < 1 || r.max > 255 || r.left < 0 || r.left > r.max {
			return fmt.Errorf("%s retries %d of %d out of range", r.name, r.left, r.max)
		}
		*r.dstL, *r.dstM = r.left, r.max
	}
	key, err := hex.DecodeString(s.Mgmt.Key)
	if n, ok := mgmtKeyLen[s.Mgmt.Alg]; err != nil || !ok || n != len(key) {
		return fmt.Errorf("management key: algorithm %#x with %d-byte key is invalid", s.Mgmt.Alg, len(key))
	}
	c.mgmt = mgmtKey{alg: s.Mgmt.Alg, key: key, touch: s.Mgmt.Touch}
	c.keys = map[byte]*keySlot{}
	for name, kj := range s.Keys {
		k, slot, err := c.restoreKey(name, kj)
		if err != nil {
			return fmt.Errorf("key in slot %q: %w", name, err)
		}
		c.keys[slot] = k
	}
	c.objects = map[uint32][]byte{}
	for name, h := range s.Objects {
		tag, err := strconv.ParseUint(name, 16, 32)
		if err != nil || !objectValid(uint32(tag)) {
			return fmt.Errorf("object %q is not a PIV data object tag", name)
		}
		v, err := hex.DecodeString(h)
		if err != nil || len(v) == 0 || len(v) > maxObject {
			return fmt.Errorf("object %q: content must be 1 to %d bytes in hex", name, maxObject)
		}
		c.objects[uint32(tag)] = v
	}
	// The f9 certificate object is ordinary data (PUT DATA may replace it,
	// as on a YubiKey); only the key must exist.
	if k, ok := c.keys[0xf9]; !ok || !f9Alg(k.alg) {
		return errors.New("the f9 attestation key is missing")
	}
	return nil
}

// restoreKey validates one saved key.
func (c *Card) restoreKey(name string, kj keyJSON) (*keySlot, byte, error) {
	n, err := strconv.ParseUint(name, 16, 8)
	if err != nil || len(name) != 2 || (!keySlotValid(byte(n)) && n != 0xf9) {
		return nil, 0, errors.New("not a key slot")
	}
	slot := byte(n)
	if !c.keyAlgSupported(kj.Alg) || (slot == 0xf9 && !f9Alg(kj.Alg)) {
		return nil, 0, fmt.Errorf("algorithm %#x unsupported", kj.Alg)
	}
	if kj.PIN < 1 || kj.PIN > 3 || kj.Touch < 1 || kj.Touch > 3 {
		return nil, 0, errors.New("policies must be 1 to 3")
	}
	if kj.Origin != originGenerated && kj.Origin != originImported {
		return nil, 0, errors.New("origin must be 1 (generated) or 2 (imported)")
	}
	raw, err := hex.DecodeString(kj.Private)
	if err != nil {
		return nil, 0, errors.New("private key is not hex")
	}
	priv, err := privateFromRaw(kj.Alg, raw)
	if err != nil {
		return nil, 0, fmt.Errorf("private key: %w", err)
	}
	return &keySlot{alg: kj.Alg, priv: priv, pin: kj.PIN, touch: kj.Touch, origin: kj.Origin}, slot, nil
}

// f9Alg reports whether alg can be the f9 attestation key's: RSA-2048 as
// on real YubiKeys, or P-256 (the in-process default).
func f9Alg(alg byte) bool { return alg == algP256 || alg == algRSA2048 }
