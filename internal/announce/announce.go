// Package announce derives and checks the announce code: the short code the
// console shows right after an incident is declared, which the operator
// reads aloud to the security on-call (phone, radio) so that every use of an
// air-gapped station raises an alert, and which the auditor's ledger
// recomputes from a signed report to match announcements with reports.
//
// A code is 10 characters of the Crockford base32 alphabet
// (0-9 A-Z without I, L, O, U): 9 data characters, the first 45 bits of
// SHA-256 over the domain "breakglass-announce-v1\n" and the length-prefixed
// session id, vault fingerprint, operator, ticket and what broke; then one
// check character. It is written as two groups of five ("7K3QD-X9P2M").
//
// The check character c makes sum(w[i]·x[i]) = 0 in GF(32) (x[0..8] the data
// characters' values, x[9] = c, w[i] = α^(9-i) for a primitive α, so the ten
// weights are distinct and non-zero). Hence every single-character
// substitution changes the sum by w[i]·e ≠ 0, and every transposition of two
// adjacent different characters by (w[i]+w[i+1])·(x[i]+x[i+1]) ≠ 0: both are
// always detected.
package announce

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Alphabet is the Crockford base32 alphabet, in value order.
const Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Length is the number of characters of a code (data plus check).
const Length = 10

const dataLen = Length - 1

// domain separates announce codes from every other use of SHA-256 here.
const domain = "breakglass-announce-v1\n"

// Declaration is what the code commits to: the session, the vault, and the
// operator's declaration of the incident.
type Declaration struct {
	Session          string
	VaultFingerprint string
	Operator         string
	Ticket           string
	WhatBroke        string
}

// Code is a valid announce code in canonical form: 10 upper-case alphabet
// characters, no separator.
type Code string

// String returns the code as two groups of five, as it is read aloud.
func (c Code) String() string {
	if len(c) != Length {
		return string(c)
	}
	return string(c[:5]) + "-" + string(c[5:])
}

// Derive computes the announce code of a declaration.
func Derive(d Declaration) Code {
	h := sha256.New()
	h.Write([]byte(domain))
	for _, f := range []string{d.Session, d.VaultFingerprint, d.Operator, d.Ticket, d.WhatBroke} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	sum := h.Sum(nil)
	bits := binary.BigEndian.Uint64(sum[:8]) >> (64 - 5*dataLen)
	var vals [Length]byte
	for i := dataLen - 1; i >= 0; i-- {
		vals[i] = byte(bits & 31)
		bits >>= 5
	}
	vals[dataLen] = checkValue(vals[:dataLen])
	var b strings.Builder
	for _, v := range vals {
		b.WriteByte(Alphabet[v])
	}
	return Code(b.String())
}

// Errors returned by Parse.
var (
	// ErrLength: the code does not have 10 characters (separators aside).
	ErrLength = errors.New("an announce code has 10 characters")
	// ErrCharacter: a character is not in the alphabet.
	ErrCharacter = errors.New("not an announce code character")
	// ErrCheck: the check character does not match (a typo or two swapped characters).
	ErrCheck = errors.New("announce code check failed: a character is mistyped or two are swapped")
)

// Parse reads a code as a person types it: case is ignored, spaces and
// hyphens are dropped, and Crockford's look-alikes are read as the digit
// they resemble (O as 0, I and L as 1). It returns the canonical code, or an
// error wrapping ErrLength, ErrCharacter or ErrCheck. The error never echoes
// more than the offending character's position.
func Parse(s string) (Code, error) {
	if len(s) > 64 {
		return "", fmt.Errorf("%w, this one is %d bytes long", ErrLength, len(s))
	}
	var vals []byte
	for _, r := range s {
		if r == ' ' || r == '-' {
			continue
		}
		v, ok := value(r)
		if !ok {
			return "", fmt.Errorf("character %d: %w (use 0-9 and A-Z without I, L, O, U)", len(vals)+1, ErrCharacter)
		}
		vals = append(vals, v)
	}
	if len(vals) != Length {
		return "", fmt.Errorf("%w, this one has %d", ErrLength, len(vals))
	}
	if checkValue(vals[:dataLen]) != vals[dataLen] {
		return "", ErrCheck
	}
	var b strings.Builder
	for _, v := range vals {
		b.WriteByte(Alphabet[v])
	}
	return Code(b.String()), nil
}

// Validate reports whether s parses as a code (see Parse).
func Validate(s string) error {
	_, err := Parse(s)
	return err
}

func value(r rune) (byte, bool) {
	if r >= 'a' && r <= 'z' {
		r -= 'a' - 'A'
	}
	switch r {
	case 'O':
		r = '0'
	case 'I', 'L':
		r = '1'
	}
	if i := strings.IndexRune(Alphabet, r); i >= 0 && r < 128 {
		return byte(i), true
	}
	return 0, false
}

// checkValue returns c with sum(w[i]·x[i]) + c = 0 over GF(32), where
// w[i] = α^(9-i) (so the check character's own weight is α^0 = 1).
func checkValue(data []byte) byte {
	var sum byte
	for i, x := range data {
		sum ^= gfMul(gfPow(dataLen-i), x)
	}
	return sum // in characteristic 2, -sum = sum
}

// gfMul multiplies in GF(2^5) modulo the primitive polynomial x^5+x^2+1.
func gfMul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		b >>= 1
		a <<= 1
		if a&32 != 0 {
			a ^= 0b100101
		}
	}
	return p & 31
}

// gfPow returns α^n for the primitive element α = x (the value 2).
func gfPow(n int) byte {
	p := byte(1)
	for range n {
		p = gfMul(p, 2)
	}
	return p
}
