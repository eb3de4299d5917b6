package vyk

import (
	"bytes"
	"crypto/subtle"
)

// unpad decodes an 8-byte 0xFF-padded PIN or PUK field.
func unpad(b []byte) ([]byte, bool) {
	if len(b) != 8 {
		return nil, false
	}
	v := bytes.TrimRight(b, "\xff")
	if len(v) == 0 || bytes.IndexByte(v, 0xff) >= 0 {
		return nil, false
	}
	return v, true
}

// pad encodes a PIN or PUK into its 8-byte wire form.
func pad(v []byte) []byte {
	out := bytes.Repeat([]byte{0xff}, 8)
	copy(out, v)
	return out
}

// matches compares a padded wire field with a stored secret in constant time.
func matches(field, secret []byte) bool {
	return subtle.ConstantTimeCompare(field, pad(secret)) == 1
}

// retriesSW is the answer to a wrong PIN/PUK with n attempts left.
func retriesSW(n int) uint16 {
	if n > 15 {
		n = 15
	}
	return 0x63c0 | uint16(n)
}

// checkPIN verifies a padded PIN field, counting a failure.
func (c *Card) checkPIN(field []byte) uint16 {
	if c.pinRetries == 0 {
		return swBlocked
	}
	if !matches(field, c.pin) {
		c.pinRetries--
		c.pinOK, c.pinFresh = false, false
		c.changed = true
		return retriesSW(c.pinRetries)
	}
	if c.pinRetries != c.pinMax {
		c.pinRetries = c.pinMax
		c.changed = true
	}
	return swOK
}

// checkPUK verifies a padded PUK field, counting a failure.
func (c *Card) checkPUK(field []byte) uint16 {
	if c.pukRetries == 0 {
		return swBlocked
	}
	if !matches(field, c.puk) {
		c.pukRetries--
		c.changed = true
		return retriesSW(c.pukRetries)
	}
	if c.pukRetries != c.pukMax {
		c.pukRetries = c.pukMax
		c.changed = true
	}
	return swOK
}

// verify handles VERIFY for the PIN: with data it checks the PIN, without
// it reports the state (9000 if verified, else 63Cx), and P1 FF resets the
// verification.
func (c *Card) verify(cmd command) ([]byte, uint16) {
	if cmd.p2 != 0x80 {
		return nil, swRefNotFound
	}
	switch cmd.p1 {
	case 0xff:
		if len(cmd.data) != 0 {
			return nil, swWrongData
		}
		c.pinOK, c.pinFresh = false, false
		return nil, swOK
	case 0x00:
	default:
		return nil, swWrongP1P2
	}
	if len(cmd.data) == 0 {
		switch {
		case c.pinRetries == 0:
			return nil, swBlocked
		case c.pinOK:
			return nil, swOK
		}
		return nil, retriesSW(c.pinRetries)
	}
	if len(cmd.data) != 8 {
		return nil, swWrongData
	}
	// Any 8-byte field is a PIN attempt, even all padding: ykman blocks
	// the PIN before a reset by sending an empty PIN.
	if s := c.checkPIN(cmd.data); s != swOK {
		return nil, s
	}
	c.pinOK, c.pinFresh = true, true
	return nil, swOK
}

// validNew reports whether a new PIN or PUK field is acceptable (6–8 bytes).
func validNew(field []byte) ([]byte, bool) {
	v, ok := unpad(field)
	return v, ok && len(v) >= 6
}

// changeReference handles CHANGE REFERENCE DATA for the PIN (80) and PUK (81).
func (c *Card) changeReference(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 {
		return nil, swWrongP1P2
	}
	if cmd.p2 != 0x80 && cmd.p2 != 0x81 {
		return nil, swRefNotFound
	}
	if len(cmd.data) != 16 {
		return nil, swWrongData
	}
	oldField, newField := cmd.data[:8], cmd.data[8:]
	if cmd.p2 == 0x80 {
		if s := c.checkPIN(oldField); s != swOK {
			return nil, s
		}
	} else if s := c.checkPUK(oldField); s != swOK {
		return nil, s
	}
	v, ok := validNew(newField)
	if !ok {
		return nil, swWrongData
	}
	if cmd.p2 == 0x80 {
		c.pin = append([]byte(nil), v...)
		c.pinOK = true
	} else {
		c.puk = append([]byte(nil), v...)
	}
	c.changed = true
	return nil, swOK
}

// resetRetryCounter handles RESET RETRY COUNTER: PUK || new PIN.
func (c *Card) resetRetryCounter(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 {
		return nil, swWrongP1P2
	}
	if cmd.p2 != 0x80 {
		return nil, swRefNotFound
	}
	if len(cmd.data) != 16 {
		return nil, swWrongData
	}
	if s := c.checkPUK(cmd.data[:8]); s != swOK {
		return nil, s
	}
	v, ok := validNew(cmd.data[8:])
	if !ok {
		return nil, swWrongData
	}
	c.pin = append([]byte(nil), v...)
	c.pinRetries = c.pinMax
	c.changed = true
	return nil, swOK
}

// setRetries handles the Yubico SET PIN RETRIES (FA): P1 PIN tries, P2 PUK
// tries. It needs the management key and the PIN, and like a YubiKey it
// resets PIN and PUK to their factory values.
func (c *Card) setRetries(cmd command) ([]byte, uint16) {
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return nil, swWrongP1P2
	}
	if !c.mgmtOK || !c.pinOK {
		return nil, swSecurity
	}
	c.pinMax, c.pinRetries = int(cmd.p1), int(cmd.p1)
	c.pukMax, c.pukRetries = int(cmd.p2), int(cmd.p2)
	c.pin = append([]byte(nil), defaultPIN...)
	c.puk = append([]byte(nil), defaultPUK...)
	c.pinOK, c.pinFresh = false, false
	c.changed = true
	return nil, swOK
}

// resetApplet handles the Yubico RESET (FB): allowed only once both PIN and
// PUK are blocked; it wipes keys, objects and secrets but keeps the f9
// attestation key and certificate.
func (c *Card) resetApplet(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, swWrongP1P2
	}
	if c.pinRetries != 0 || c.pukRetries != 0 {
		return nil, swConditions
	}
	c.factoryReset()
	c.applet = appPIV
	return nil, swOK
}
