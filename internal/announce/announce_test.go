package announce

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func sample(i int) Declaration {
	return Declaration{
		Session: fmt.Sprintf("S-2026-%04d", i), VaultFingerprint: "ABCD-EF12-3456-7890-ABCD",
		Operator: "Olga Operator", Ticket: fmt.Sprintf("INC-%d", i), WhatBroke: "SSO is down",
	}
}

// TestVector pins the derivation: a change to the domain, the field order or
// the encoding would silently stop codes from matching between the station
// and the ledger.
func TestVector(t *testing.T) {
	got := Derive(sample(1))
	if got != "DXHA8XY294" {
		t.Errorf("Derive(sample 1) = %s, want DXHA8XY294", string(got))
	}
	if got.String() != "DXHA8-XY294" {
		t.Errorf("String() = %q", got.String())
	}
}

func TestEveryFieldCounts(t *testing.T) {
	base := sample(7)
	codes := map[Code]string{Derive(base): "base"}
	edits := map[string]func(*Declaration){
		"session":     func(d *Declaration) { d.Session += "x" },
		"fingerprint": func(d *Declaration) { d.VaultFingerprint = "FFFF-EF12-3456-7890-ABCD" },
		"operator":    func(d *Declaration) { d.Operator = "Mallory" },
		"ticket":      func(d *Declaration) { d.Ticket = "INC-8" },
		"what broke":  func(d *Declaration) { d.WhatBroke = "" },
		// Length prefixes: moving bytes between fields changes the code.
		"boundary": func(d *Declaration) { d.Operator, d.Ticket = d.Operator+d.Ticket[:1], d.Ticket[1:] },
	}
	for name, edit := range edits {
		d := base
		edit(&d)
		c := Derive(d)
		if prev, dup := codes[c]; dup {
			t.Errorf("changing the %s gives the same code as %s", name, prev)
		}
		codes[c] = name
	}
}

func TestWeightsDistinctNonZero(t *testing.T) {
	if gfPow(31) != 1 {
		t.Fatal("α^31 != 1: the polynomial is not right")
	}
	for k := 1; k < 31; k++ {
		if gfPow(k) == 1 {
			t.Fatalf("α^%d = 1: α is not primitive", k)
		}
	}
	seen := map[byte]int{}
	for i := 0; i < Length; i++ {
		w := gfPow(dataLen - i)
		if j, dup := seen[w]; dup || w == 0 {
			t.Fatalf("weight %d (%d) is zero or equals weight %d", i, w, j)
		}
		seen[w] = i
	}
}

// TestDetectsEverySingleTypo replaces each character of many codes by every
// other character of the alphabet: every result must fail the check.
func TestDetectsEverySingleTypo(t *testing.T) {
	for n := range 300 {
		c := string(Derive(sample(n)))
		if _, err := Parse(c); err != nil {
			t.Fatalf("Parse(Derive) = %v", err)
		}
		for i := range Length {
			for _, r := range Alphabet {
				if byte(r) == c[i] {
					continue
				}
				typo := c[:i] + string(r) + c[i+1:]
				if _, err := Parse(typo); !errors.Is(err, ErrCheck) {
					t.Fatalf("%s → %s (position %d): err = %v, want ErrCheck", c, typo, i+1, err)
				}
			}
		}
	}
}

// TestDetectsEveryAdjacentTransposition checks every ordered pair of distinct
// characters at every adjacent position pair, over every valid completion of
// the other characters of several codes.
func TestDetectsEveryAdjacentTransposition(t *testing.T) {
	for n := range 20 {
		c := []byte(Derive(sample(n)))
		for i := range Length - 1 {
			for _, a := range []byte(Alphabet) {
				for _, b := range []byte(Alphabet) {
					if a == b {
						continue
					}
					x := append([]byte(nil), c...)
					x[i], x[i+1] = a, b
					if i+1 != dataLen { // make x valid, unless the check itself is being set
						x[dataLen] = Alphabet[checkValue(vals(t, x[:dataLen]))]
					}
					if _, err := Parse(string(x)); err != nil {
						continue // not a valid code to start from
					}
					x[i], x[i+1] = x[i+1], x[i]
					if _, err := Parse(string(x)); !errors.Is(err, ErrCheck) {
						t.Fatalf("swapping positions %d and %d of a valid code gives %s: err = %v, want ErrCheck", i+1, i+2, x, err)
					}
				}
			}
		}
	}
}

func vals(t *testing.T, s []byte) []byte {
	t.Helper()
	out := make([]byte, len(s))
	for i, r := range s {
		v, ok := value(rune(r))
		if !ok {
			t.Fatalf("bad character %q", r)
		}
		out[i] = v
	}
	return out
}

func TestParseNormalises(t *testing.T) {
	c := Derive(sample(3))
	lower := strings.ToLower(c.String())
	got, err := Parse(" " + lower + " ")
	if err != nil || got != c {
		t.Fatalf("Parse(%q) = %q, %v; want %q", lower, got, err, c)
	}
	// Crockford look-alikes read as digits.
	withZero := Derive(Declaration{Session: "find-0-and-1"})
	look := strings.NewReplacer("0", "o", "1", "l").Replace(string(withZero))
	if got, err := Parse(look); err != nil || got != withZero {
		t.Errorf("Parse(%q) = %q, %v; want %q", look, got, err, withZero)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrLength},
		{"short", "ABCDE-FGHJ", ErrLength},
		{"long", "ABCDE-FGHJK-M", ErrLength},
		{"U is not in the alphabet", "UBCDE-FGHJK", ErrCharacter},
		{"punctuation", "AB*DE-FGHJK", ErrCharacter},
		{"non-ASCII", "ÄBCDE-FGHJK", ErrCharacter},
		{"huge", strings.Repeat("A", 1000), ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("Validate(%q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{string(Derive(sample(1))), Derive(sample(2)).String(), "0000000000", "oOiIlL-uU", ""}
	if len(seeds) == 0 {
		f.Fatal("no seeds")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		if len(c) != Length || strings.Trim(string(c), Alphabet) != "" {
			t.Fatalf("Parse(%q) = %q: not canonical", s, c)
		}
		if again, err := Parse(c.String()); err != nil || again != c {
			t.Fatalf("Parse(String()) = %q, %v; want %q", again, err, c)
		}
	})
}
