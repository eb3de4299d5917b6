package piv

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"errors"
	"fmt"

	"breakglass/hardware"
)

// ykman's bookkeeping objects (yubikey-manager ykman/piv.py): PIVMAN data
// 5FFF00 = 80 L [81 01 flags][82 salt][83 timestamp]; flag 0x02 says the
// management key is stored PIN-protected in 5FC109 (88 L [89 L key]).
var objPivman = []byte{0x5f, 0xff, 0x00}

const flagMgmKeyProtected = 0x02

// authenticate performs the management-key mutual authentication in this
// session (3DES or AES, as the key's metadata says).
func (c *rawCard) authenticate(key []byte) error {
	b, err := c.cmd("reading management key metadata", []byte{0x00, 0xf7, 0x00, 0x9b, 0x00})
	if err != nil {
		return err
	}
	t, err := tlvs(b)
	if err != nil || len(t[0x01]) != 1 {
		return fmt.Errorf("reading management key metadata: no algorithm in the answer")
	}
	alg := t[0x01][0]
	var blk cipher.Block
	switch alg {
	case 0x03:
		blk, err = des.NewTripleDESCipher(key)
	case 0x08, 0x0a, 0x0c:
		blk, err = aes.NewCipher(key)
	default:
		return fmt.Errorf("management key algorithm %02x is not supported", alg)
	}
	if err != nil {
		return fmt.Errorf("management key does not fit its algorithm: %w", err)
	}
	n := blk.BlockSize()
	resp, err := c.cmd("requesting a management key challenge", []byte{0x00, 0x87, alg, 0x9b, 0x04, 0x7c, 0x02, 0x80, 0x00})
	if err != nil {
		return err
	}
	if len(resp) != 4+n || resp[0] != 0x7c || resp[2] != 0x80 || int(resp[3]) != n {
		return errors.New("malformed management key challenge")
	}
	witness := make([]byte, n)
	blk.Decrypt(witness, resp[4:])
	challenge := make([]byte, n)
	if _, err := rand.Read(challenge); err != nil {
		return err
	}
	data := append([]byte{0x7c, byte(2 * (n + 2)), 0x80, byte(n)}, witness...)
	data = append(append(data, 0x81, byte(n)), challenge...)
	apdu := append([]byte{0x00, 0x87, alg, 0x9b, byte(len(data))}, data...)
	resp, sw, err := c.transmit(apdu)
	if err != nil {
		return err
	}
	if sw == 0x6982 {
		return &classified{hardware.ErrSecurityStatus, errors.New("the management key was refused")}
	}
	if sw != 0x9000 || len(resp) != 4+n || resp[2] != 0x82 {
		return fmt.Errorf("management key authentication: card answered %04x", sw)
	}
	want := make([]byte, n)
	blk.Encrypt(want, challenge)
	if !bytes.Equal(resp[4:], want) {
		return errors.New("management key authentication: the card did not prove it knows the key")
	}
	return nil
}

// getObject reads a data object's content (inside its 53 wrapper);
// found is false when the card has none.
func (c *rawCard) getObject(id []byte) (content []byte, found bool, err error) {
	apdu := append([]byte{0x00, 0xcb, 0x3f, 0xff, 0x05, 0x5c, 0x03}, id...)
	resp, sw, err := c.transmit(append(apdu, 0x00))
	if err != nil {
		return nil, false, err
	}
	if sw == 0x6a82 {
		return nil, false, nil
	}
	if sw != 0x9000 {
		return nil, false, fmt.Errorf("reading object %x: card answered %04x", id, sw)
	}
	t, err := tlvs(resp)
	if err != nil || t[0x53] == nil {
		return nil, false, fmt.Errorf("reading object %x: malformed answer", id)
	}
	return t[0x53], true, nil
}

// putObject stores content (at most 200 bytes here) in a data object.
func (c *rawCard) putObject(id, content []byte) error {
	if len(content) > 200 {
		return fmt.Errorf("object %x too large for this writer", id)
	}
	data := append(append([]byte{0x5c, 0x03}, id...), tlv(0x53, content)...)
	_, err := c.cmd(fmt.Sprintf("writing object %x", id), append([]byte{0x00, 0xdb, 0x3f, 0xff, byte(len(data))}, data...))
	return err
}

func tlv(tag byte, v []byte) []byte {
	if len(v) < 0x80 {
		return append([]byte{tag, byte(len(v))}, v...)
	}
	return append([]byte{tag, 0x81, byte(len(v))}, v...)
}

// setPivmanFlags rewrites ykman's PIVMAN data with the stored-key flag set
// (or cleared), keeping its other fields. The management key is key.
// It returns the previous content (nil if none) so a caller can restore it.
func (c *rawCard) setPivmanFlags(key []byte, protected bool) (old []byte, err error) {
	if _, err := c.cmd("selecting the PIV applet", selectPIV); err != nil {
		return nil, err
	}
	if err := c.authenticate(key); err != nil {
		return nil, err
	}
	old, _, err = c.getObject(objPivman)
	if err != nil {
		return nil, err
	}
	fields := map[byte][]byte{}
	if old != nil {
		outer, err := tlvs(old)
		if err != nil || outer[0x80] == nil {
			return nil, fmt.Errorf("ykman's PIVMAN data object is malformed")
		}
		if fields, err = tlvs(outer[0x80]); err != nil {
			return nil, fmt.Errorf("ykman's PIVMAN data object is malformed: %w", err)
		}
	}
	var flags byte
	if f := fields[0x81]; len(f) == 1 {
		flags = f[0]
	}
	if protected {
		flags |= flagMgmKeyProtected
	} else {
		flags &^= flagMgmKeyProtected
	}
	inner := tlv(0x81, []byte{flags})
	for _, tag := range []byte{0x82, 0x83} {
		if v, ok := fields[tag]; ok {
			inner = append(inner, tlv(tag, v)...)
		}
	}
	return old, c.putObject(objPivman, tlv(0x80, inner))
}

// restorePivman puts back PIVMAN data saved by setPivmanFlags.
func (c *rawCard) restorePivman(key, old []byte) error {
	if _, err := c.cmd("selecting the PIV applet", selectPIV); err != nil {
		return err
	}
	if err := c.authenticate(key); err != nil {
		return err
	}
	if old == nil {
		old = tlv(0x80, nil)
	}
	return c.putObject(objPivman, old)
}
