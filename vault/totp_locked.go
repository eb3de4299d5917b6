package vault

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/awnumar/memguard"
)

// LockedTOTP is a revealed TOTP secret parsed once: its decoded seed, as the
// HMAC's inner and outer key blocks (K⊕ipad, K⊕opad: the whole key
// schedule), and the HMAC's scratch live in one locked buffer. The seed is
// never copied to ordinary memory: neither the base32 text (parsed in place
// from the locked plaintext) nor the key bytes. Code computes a code with
// no per-frame parsing. The hash's chaining state is ordinary memory only
// while Code runs and is reset before it returns.
//
// NewLockedTOTP accepts a subset of what parseTOTP accepts (an otpauth
// secret or parameter name must not be %-escaped; a bare seed is letters,
// digits 2-7, spaces and trailing '='), and ValidateSecret requires both,
// so every sealed TOTP secret can be shown.
type LockedTOTP struct {
	mu     sync.Mutex
	buf    *memguard.LockedBuffer // ipad block | opad block | scratch
	bs     int
	size   int
	inner  hash.Hash
	outer  hash.Hash
	period uint64
	digits int
}

// totpDummySeed stands for the seed when the otpauth URI's other
// parameters are parsed: the URI without its secret is not secret.
const totpDummySeed = "AAAAAAAAAAAAAAAA"

// NewLockedTOTP parses a totp secret (otpauth URI or base32 seed) held in
// locked memory into a LockedTOTP. Errors wrap ErrInvalidSecret and never
// quote the value. Destroy wipes it.
func NewLockedTOTP(secret []byte) (*LockedTOTP, error) {
	if len(secret) > MaxSecretSize {
		return nil, totpError("it is %d bytes, the limit is %d", len(secret), MaxSecretSize)
	}
	s := bytes.TrimSpace(secret)
	p := totpParams{period: 30, digits: 6}
	var seed []byte
	bare := true
	if len(s) >= len("otpauth:") && bytes.EqualFold(s[:len("otpauth:")], []byte("otpauth:")) {
		bare = false
		if bytes.IndexByte(s, '#') >= 0 {
			return nil, totpError("the otpauth URI has a #fragment; remove it")
		}
		redacted, sd, err := redactSeed(s)
		if err != nil {
			return nil, err
		}
		seed = sd
		p.hash = nil
		if _, err := p.parseURI(redacted); err != nil {
			return nil, err
		}
	} else if bytes.Contains(s, []byte("://")) {
		return nil, totpError("a TOTP secret must be an otpauth://totp/ URI or a base32 seed")
	} else {
		seed = s
	}
	if p.hash == nil {
		p.hash = sha1.New
	}
	t := &LockedTOTP{inner: p.hash(), outer: p.hash(), period: p.period, digits: p.digits}
	t.bs, t.size = t.inner.BlockSize(), t.inner.Size()
	keyMax := max(len(seed)*5/8+1, t.size)
	t.buf = memguard.NewBuffer(2*t.bs + 2*t.size + keyMax)
	b := t.buf.Bytes()
	key := b[2*t.bs+2*t.size:]
	n, err := decodeSeedInto(key, seed, bare)
	if err != nil {
		t.Destroy()
		return nil, err
	}
	key = key[:n]
	if len(key) > t.bs {
		// HMAC hashes a long key first. The digest buffers a partial
		// block: overwrite it before the digest is reused.
		h := t.inner
		h.Write(key)
		k := h.Sum(key[:0:t.size])
		scrubDigest(h, len(key)%t.bs, t.bs)
		h.Reset()
		key = k
	}
	ipad, opad := b[:t.bs], b[t.bs:2*t.bs]
	copy(ipad, key)
	copy(opad, key)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	memguard.WipeBytes(b[2*t.bs+2*t.size:])
	return t, nil
}

// scrubDigest overwrites the partial block a digest buffered (nx bytes of
// a bs-byte block) with zeros.
func scrubDigest(h hash.Hash, nx, bs int) {
	if nx == 0 {
		return
	}
	var z [256]byte
	h.Write(z[:bs-nx])
	h.Write(z[:bs-1])
}

// redactSeed finds the secret parameter of the otpauth URI s (in place)
// and returns the URI with its value replaced by a dummy seed, and the
// value. A %-escaped or '+' parameter name or secret is refused: the secret
// could not then be located without decoding it into ordinary memory.
func redactSeed(s []byte) (string, []byte, error) {
	q := bytes.IndexByte(s, '?')
	if q < 0 {
		return string(s), nil, nil // no query: parseURI says what is missing
	}
	var out strings.Builder
	out.Write(s[:q+1])
	var seed []byte
	rest := s[q+1:]
	for i := 0; len(rest) > 0 || i == 0; i++ {
		if i > 0 {
			out.WriteByte('&')
		}
		param := rest
		if j := bytes.IndexByte(rest, '&'); j >= 0 {
			param, rest = rest[:j], rest[j+1:]
		} else {
			rest = nil
		}
		name, val, hasVal := bytes.Cut(param, []byte("="))
		if bytes.ContainsAny(name, "%+") {
			return "", nil, totpError("the otpauth URI has a %%-escaped parameter name; write it plainly")
		}
		if string(name) != "secret" {
			out.Write(param)
			continue
		}
		if bytes.ContainsAny(val, "%+") {
			return "", nil, totpError("the otpauth secret must be plain base32, not %%-escaped")
		}
		out.WriteString("secret")
		if hasVal {
			out.WriteByte('=')
			if len(val) > 0 {
				out.WriteString(totpDummySeed)
			}
		}
		if seed == nil {
			seed = val
		}
	}
	return out.String(), seed, nil
}

// decodeSeedInto decodes the base32 seed s (case-insensitive, trailing '='
// optional; a bare seed may contain spaces) into dst, without any copy.
func decodeSeedInto(dst, s []byte, bare bool) (int, error) {
	end := len(s)
	for end > 0 && (s[end-1] == '=' || bare && s[end-1] == ' ') {
		end--
	}
	var acc uint64
	bits, n, chars := 0, 0, 0
	for _, c := range s[:end] {
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a'
		case c >= '2' && c <= '7':
			v = c - '2' + 26
		case c == ' ' && bare:
			continue
		case (c == ' ' || c == '\t') && !bare:
			acc = 0
			return 0, totpError("the otpauth secret must be base32 without spaces")
		default:
			acc = 0
			return 0, totpError("the TOTP secret must be base32 (letters A-Z and digits 2-7)")
		}
		chars++
		acc = acc<<5 | uint64(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			if n >= len(dst) {
				acc = 0
				return 0, totpError("the TOTP secret is too long")
			}
			dst[n] = byte(acc >> bits)
			n++
		}
	}
	acc = 0
	if chars == 0 && !bare {
		return 0, totpError("the otpauth URI has no secret parameter")
	}
	switch chars % 8 {
	case 1, 3, 6:
		memguard.WipeBytes(dst)
		return 0, totpError("the TOTP secret is not complete base32 (its length is wrong; check it was copied whole)")
	}
	if n < 10 {
		memguard.WipeBytes(dst)
		return 0, totpError("the TOTP secret is %d bits; at least 80 are needed", 8*n)
	}
	return n, nil
}

// Code is the RFC 6238 code at now, or "------" once destroyed.
func (t *LockedTOTP) Code(now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.buf == nil || !t.buf.IsAlive() {
		return "------"
	}
	sec := now.Unix()
	if sec < 0 {
		sec = 0
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(sec)/t.period)
	b := t.buf.Bytes()
	ipad, opad := b[:t.bs], b[t.bs:2*t.bs]
	s1 := b[2*t.bs : 2*t.bs+t.size : 2*t.bs+t.size]
	s2 := b[2*t.bs+t.size : 2*t.bs+2*t.size : 2*t.bs+2*t.size]
	t.inner.Reset()
	t.inner.Write(ipad)
	t.inner.Write(msg[:])
	in := t.inner.Sum(s1[:0])
	t.outer.Reset()
	t.outer.Write(opad)
	t.outer.Write(in)
	sum := t.outer.Sum(s2[:0])
	t.inner.Reset()
	t.outer.Reset()
	off := sum[len(sum)-1] & 0xf
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	memguard.WipeBytes(b[2*t.bs : 2*t.bs+2*t.size])
	mod := uint32(1)
	for range t.digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", t.digits, v%mod)
}

// Period is how long each code is valid.
func (t *LockedTOTP) Period() time.Duration { return time.Duration(t.period) * time.Second }

// IsAlive reports whether the seed is still there.
func (t *LockedTOTP) IsAlive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf != nil && t.buf.IsAlive()
}

// Destroy wipes the seed and the key schedule. It is safe to call more
// than once.
func (t *LockedTOTP) Destroy() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.buf != nil {
		t.buf.Destroy()
	}
}
