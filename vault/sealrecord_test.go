package vault

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// signAll has alice sign the seal of every test secret.
func (w *world) signAll(t testing.TB) {
	t.Helper()
	for _, s := range testSecrets {
		if _, err := w.v.SignSeal(context.Background(), w.toks["alice"], testPIN, s.name); err != nil {
			t.Fatalf("signing the seal of %s: %v", s.name, err)
		}
	}
}

func TestSealAttributedAndRotated(t *testing.T) {
	w := newWorld(t)
	w.signAll(t)
	v := w.reload(t)
	a, err := v.VerifySeal("db-root")
	if err != nil {
		t.Fatalf("VerifySeal after reload: %v", err)
	}
	if a.Version != 1 || a.Sealer.ID != "alice" || a.Serial != 1001 || !a.SealedAt.Equal(testNow) {
		t.Errorf("attribution = %+v, want version 1 by alice on 1001", a)
	}
	if got, want := a.String(), "sealed by Alice Archer on 2026-11-23 09:00 UTC, version 1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	v1 := SealDigest(v.Secrets[0].Seal.Record)
	later := testNow.Add(time.Hour)
	b, err := v.SealSigned(context.Background(), w.toks["bob"], testPIN, "db-root", KindPassword, []byte("rotated pw"), later)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := v.Secret("db-root")
	if b.Version != 2 || b.Sealer.ID != "bob" || s.Seal.Record.Prev != v1 || len(s.History) != 1 {
		t.Errorf("after re-seal: attribution %+v, prev %q (want %q), history %d", b, s.Seal.Record.Prev, v1, len(s.History))
	}
	if got, want := b.String(), "sealed by Bob Baker on 2026-11-23 10:00 UTC, version 2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestSealSignedRefusesStranger(t *testing.T) {
	w := newWorld(t)
	stranger := newFakeToken(t, w.ca, 9999)
	before, _ := w.v.Marshal()
	if _, err := w.v.SealSigned(context.Background(), stranger, testPIN, "db-root", KindPassword, []byte("evil"), testNow); err == nil {
		t.Fatal("a key not on the roster sealed a secret")
	}
	if after, _ := w.v.Marshal(); !bytes.Equal(before, after) {
		t.Error("a refused seal changed the vault")
	}
	// A wrong PIN leaves the previous value in place, still unattributed.
	if _, err := w.v.SealSigned(context.Background(), w.toks["bob"], "000000", "db-root", KindPassword, []byte("new"), testNow); err == nil {
		t.Fatal("sealed with a wrong PIN")
	}
	if after, _ := w.v.Marshal(); !bytes.Equal(before, after) {
		t.Error("a failed signature changed the vault")
	}
}

// TestSealTamper is hole 9: with file access only, every way of putting
// another value in place of the sealed one is refused.
func TestSealTamper(t *testing.T) {
	w := newWorld(t)
	w.signAll(t)
	v1, _ := w.v.Secret("db-root")
	old := *v1 // version 1, as vault.json.prev keeps it
	old.History = nil
	if _, err := w.v.SealSigned(context.Background(), w.toks["bob"], testPIN, "db-root", KindPassword, []byte("rotated pw"), testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	good, _ := w.v.Marshal()
	tests := []struct {
		name string
		edit func(v *Vault, s *Secret)
		want error
	}{
		{"old ciphertext put back", func(_ *Vault, s *Secret) { s.Age = old.Age }, ErrSealBroken},
		{"old ciphertext and record put back", func(_ *Vault, s *Secret) { s.Age, s.Seal, s.SealedAt = old.Age, old.Seal, old.SealedAt }, ErrSealBroken},
		{"attacker's own value, unsigned", func(v *Vault, _ *Secret) {
			if err := v.Seal("db-root", KindPassword, []byte("attacker"), testNow); err != nil {
				t.Fatal(err)
			}
		}, ErrUnattributed},
		{"attacker's own value, genuine record kept", func(v *Vault, s *Secret) {
			rec := *s.Seal
			hist := s.History
			if err := v.Seal("db-root", KindPassword, []byte("attacker"), s.SealedAt); err != nil {
				t.Fatal(err)
			}
			s.Seal, s.History = &rec, hist
		}, ErrSealBroken},
		{"version edited", func(_ *Vault, s *Secret) { s.Seal.Record.Version = 3 }, ErrSealBroken},
		{"sealed_by edited", func(_ *Vault, s *Secret) { s.Seal.Record.SealedBy = "carol"; s.Seal.Record.Serial = 3001 }, ErrSealBroken},
		{"sealed_by of another key of the same custodian", func(_ *Vault, s *Secret) { s.Seal.Record.Serial = 1002 }, ErrSealBroken},
		{"date edited in record", func(_ *Vault, s *Secret) { s.Seal.Record.SealedAt = s.Seal.Record.SealedAt.Add(time.Hour) }, ErrSealBroken},
		{"date edited in entry", func(_ *Vault, s *Secret) { s.SealedAt = s.SealedAt.Add(time.Hour) }, ErrSealBroken},
		{"kind edited", func(_ *Vault, s *Secret) { s.Kind = KindText }, ErrSealBroken},
		{"history dropped", func(_ *Vault, s *Secret) { s.History = nil }, ErrSealBroken},
		{"history edited", func(_ *Vault, s *Secret) { s.History[0].Record.SealedBy = "carol" }, ErrSealBroken},
		{"signature dropped", func(_ *Vault, s *Secret) { s.Seal = nil }, ErrUnattributed},
		{"signature from another secret", func(v *Vault, s *Secret) {
			o, _ := v.Secret("ssh-key")
			s.Seal.Signature = o.Seal.Signature
		}, ErrSealBroken},
		{"record moved from another secret", func(v *Vault, s *Secret) {
			o, _ := v.Secret("ssh-key")
			s.Age, s.Seal, s.History = o.Age, o.Seal, nil
		}, ErrSealBroken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse(good)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := v.Secret("db-root")
			tc.edit(v, s)
			raw, err := v.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			v, err = Parse(raw)
			if err != nil {
				t.Fatalf("the tampered vault no longer loads (it must load and be flagged): %v", err)
			}
			_, err = v.VerifySeal("db-root")
			var se *SealError
			if !errors.Is(err, tc.want) || !errors.As(err, &se) || se.Name != "db-root" {
				t.Fatalf("VerifySeal = %v, want a *SealError wrapping %v", err, tc.want)
			}
		})
	}
}

func TestSealRecordOtherVault(t *testing.T) {
	a, b := newWorld(t), newWorld(t)
	a.signAll(t)
	b.signAll(t)
	sa, _ := a.v.Secret("db-root")
	sb, _ := b.v.Secret("db-root")
	// Another vault's genuinely signed entry, same custodian ids.
	*sb = *sa
	if _, err := b.v.VerifySeal("db-root"); !errors.Is(err, ErrSealBroken) {
		t.Fatalf("an entry from another vault verified: %v", err)
	}
}

func TestParseSealRecordRoundTrip(t *testing.T) {
	w := newWorld(t)
	w.signAll(t)
	s, _ := w.v.Secret("db-root")
	canon, err := CanonicalSealRecord(s.Seal.Record)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseSealRecord(canon)
	if err != nil || r != s.Seal.Record {
		t.Fatalf("ParseSealRecord(canonical) = %+v, %v", r, err)
	}
	for _, bad := range [][]byte{
		nil, []byte("{}"), canon[len(sealDomain):],
		append(bytes.Clone(canon), ' '),
		bytes.Replace(canon, []byte(`"version":1`), []byte(`"version":01`), 1),
		bytes.Replace(canon, []byte(`{`), []byte(`{"extra":1,`), 1),
	} {
		if _, err := ParseSealRecord(bad); !errors.Is(err, ErrSealBroken) {
			t.Errorf("ParseSealRecord(%q) = %v, want ErrSealBroken", bad, err)
		}
	}
}

// FuzzParseSealRecord: the seal-record parser never panics, and what it
// accepts re-encodes to exactly the input.
func FuzzParseSealRecord(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/sealrecord/*.txt")
	if len(seeds) == 0 {
		f.Fatal("no seal record seeds in testdata/sealrecord")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := ParseSealRecord(b); err != nil {
			f.Fatalf("seed %s does not parse: %v", p, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseSealRecord(data)
		if err != nil {
			return
		}
		again, err := CanonicalSealRecord(r)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted a non-canonical record: %q", data)
		}
	})
}
