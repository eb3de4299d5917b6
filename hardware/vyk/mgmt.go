package vyk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"io"
)

// Algorithm identifiers on the PIV wire.
const (
	alg3DES    byte = 0x03
	algAES128  byte = 0x08
	algAES192  byte = 0x0a
	algAES256  byte = 0x0c
	algP256    byte = 0x11
	algP384    byte = 0x14
	algEd25519 byte = 0xe0
	algX25519  byte = 0xe1
)

// mgmtKeyLen is the key length each management-key algorithm takes.
var mgmtKeyLen = map[byte]int{alg3DES: 24, algAES128: 16, algAES192: 24, algAES256: 32}

// mgmtCipher returns the block cipher of a management key.
func mgmtCipher(alg byte, key []byte) (cipher.Block, error) {
	if alg == alg3DES {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// touch simulates waiting for a touch under policy (2 always, 3 cached).
func (c *Card) touch(policy byte) {
	now := c.cfg.Now()
	switch policy {
	case 0x02:
	case 0x03:
		if !c.lastTouch.IsZero() && now.Sub(c.lastTouch) >= 0 && now.Sub(c.lastTouch) < touchCacheFor {
			return
		}
	default:
		return
	}
	c.cfg.Sleep(c.cfg.TouchDelay)
	c.lastTouch = c.cfg.Now()
}

// mgmtAuthenticate handles GENERAL AUTHENTICATE with the management key
// (P2 9B): witness request (80 00), mutual response (80 W 81 C), challenge
// request (81 00) and external response (82 R).
//
// P1 names the key's algorithm. P1 00 is SP 800-78's "3 Key Triple DES,
// ECB" like 03: OpenSC sends it for a challenge it uses as random data
// (pkcs11-tool --generate-random), which YubiKeys with a 3DES key answer
// (OpenSC pull request 995 was tested so). Any other algorithm than the
// key's gets 6A80, as YubiKeys with an AES key answer piv-go's 3DES
// request (sigstore/cosign#3742, smallstep/crypto#114).
func (c *Card) mgmtAuthenticate(cmd command) ([]byte, uint16) {
	alg := cmd.p1
	if alg == 0x00 {
		alg = alg3DES
	}
	if alg != c.mgmt.alg {
		return nil, swWrongData
	}
	tag, inner, rest, err := readTLV(cmd.data)
	if err != nil || tag != 0x7c || len(rest) != 0 {
		return nil, swWrongData
	}
	ts, err := parseTLVs(inner)
	if err != nil || len(ts) == 0 {
		return nil, swWrongData
	}
	block, err := mgmtCipher(c.mgmt.alg, c.mgmt.key)
	if err != nil {
		return nil, swUnknown
	}
	bs := block.BlockSize()
	random := func() ([]byte, bool) {
		b := make([]byte, bs)
		_, err := io.ReadFull(c.cfg.Rand, b)
		return b, err == nil
	}
	witness, hasW := find(ts, 0x80)
	challenge, hasC := find(ts, 0x81)
	response, hasR := find(ts, 0x82)
	switch {
	case len(ts) == 1 && hasW && len(witness) == 0:
		c.mgmtOK, c.mgmtChall = false, nil
		w, ok := random()
		if !ok {
			return nil, swUnknown
		}
		c.mgmtWitness = w
		out := make([]byte, bs)
		block.Encrypt(out, w)
		return enc(0x7c, enc(0x80, out)), swOK
	case len(ts) == 1 && hasC && len(challenge) == 0:
		c.mgmtOK, c.mgmtWitness = false, nil
		ch, ok := random()
		if !ok {
			return nil, swUnknown
		}
		c.mgmtChall = ch
		return enc(0x7c, enc(0x81, ch)), swOK
	case hasW && len(witness) == bs && (len(ts) == 1 || (len(ts) == 2 && hasC && len(challenge) == bs)):
		expected := c.mgmtWitness
		c.mgmtWitness = nil
		if expected == nil || subtle.ConstantTimeCompare(expected, witness) != 1 {
			return nil, swSecurity
		}
		c.mgmtTouch()
		c.mgmtOK = true
		if !hasC {
			return nil, swOK
		}
		out := make([]byte, bs)
		block.Encrypt(out, challenge)
		return enc(0x7c, enc(0x82, out)), swOK
	case len(ts) == 1 && hasR && len(response) == bs:
		ch := c.mgmtChall
		c.mgmtChall = nil
		if ch == nil {
			return nil, swSecurity
		}
		want := make([]byte, bs)
		block.Encrypt(want, ch)
		if subtle.ConstantTimeCompare(want, response) != 1 {
			return nil, swSecurity
		}
		c.mgmtTouch()
		c.mgmtOK = true
		return nil, swOK
	}
	return nil, swWrongData
}

// mgmtTouch waits for a touch when the management key requires one.
func (c *Card) mgmtTouch() {
	if c.mgmt.touch {
		c.touch(0x02)
	}
}

// setManagementKey handles the Yubico SET MANAGEMENT KEY (FF, P2 FE for
// touch): data alg 9B len key. The current key must be authenticated.
func (c *Card) setManagementKey(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0xff || (cmd.p2 != 0xff && cmd.p2 != 0xfe) {
		return nil, swWrongP1P2
	}
	d := cmd.data
	if len(d) < 3 || d[1] != 0x9b || int(d[2]) != len(d)-3 {
		return nil, swWrongData
	}
	alg, key := d[0], d[3:]
	if n, ok := mgmtKeyLen[alg]; !ok || n != len(key) {
		return nil, swWrongData
	}
	if !c.mgmtOK {
		return nil, swSecurity
	}
	c.mgmt = mgmtKey{alg: alg, key: append([]byte(nil), key...), touch: cmd.p2 == 0xfe}
	c.changed = true
	return nil, swOK
}
