package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vault fixtures")

const fixtureDir = "../testdata/vault"

// mutated returns a deep copy of v (through JSON, without validation) after f.
func mutated(t *testing.T, v *Vault, f func(*Vault)) *Vault {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var c Vault
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	f(&c)
	return &c
}

func shareIndex(v *Vault, serial uint32) int {
	for i, s := range v.Shares {
		if s.Serial == serial {
			return i
		}
	}
	return -1
}

func TestTamperDetected(t *testing.T) {
	w := newWorld(t)
	base := w.reload(t)
	ctx := context.Background()

	type stage int
	const (
		atParse stage = iota
		atVerify
		atAddShare
		atOpen
		atReveal
	)
	tests := []struct {
		name    string
		mutate  func(*Vault)
		stage   stage
		want    error
		part    string // field, roster part or custodian named by the error
		unlocks []string
	}{
		{"custodian renamed", func(v *Vault) { v.Roster.Custodians[1].Name = "Mallory" }, atParse, ErrFormat, "fingerprint", nil},
		{"custodian renamed, fingerprint recomputed", func(v *Vault) {
			v.Roster.Custodians[1].Name = "Mallory"
			v.RecordedFingerprint = v.ComputeFingerprint()
		}, atVerify, ErrRosterSignature, "signature of alice", nil},
		{"bob's signature corrupted", func(v *Vault) {
			for i := range v.Signatures {
				if v.Signatures[i].Custodian == "bob" {
					v.Signatures[i].Signature[10] ^= 1
				}
			}
		}, atVerify, ErrRosterSignature, "signature of bob", nil},
		{"carol's signing key replaced by bob's", func(v *Vault) {
			v.Roster.Custodians[2].Keys[0].Sign = v.Roster.Custodians[1].Keys[0].Sign
			v.RecordedFingerprint = v.ComputeFingerprint()
		}, atVerify, ErrRosterSignature, "signature of alice", nil},
		{"shares of alice and bob swapped", func(v *Vault) {
			a, b := shareIndex(v, 1001), shareIndex(v, 2001)
			v.Shares[a].Age, v.Shares[b].Age = v.Shares[b].Age, v.Shares[a].Age
		}, atAddShare, ErrBadShare, "alice", []string{"alice"}},
		{"alice's share header corrupted", func(v *Vault) {
			i := shareIndex(v, 1001)
			lines := strings.Split(v.Shares[i].Age, "\n")
			lines[2] = strings.Repeat("A", len(lines[2]))
			v.Shares[i].Age = strings.Join(lines, "\n")
		}, atParse, ErrFormat, "shares[0].age", nil},
		{"alice's share payload corrupted", func(v *Vault) {
			i := shareIndex(v, 1001)
			lines := strings.Split(v.Shares[i].Age, "\n")
			last := len(lines) - 3 // the last data line, before END and the final newline
			c := byte('A')
			if lines[last][0] == 'A' {
				c = 'B'
			}
			lines[last] = string(c) + lines[last][1:]
			v.Shares[i].Age = strings.Join(lines, "\n")
		}, atAddShare, ErrBadShare, "alice", []string{"alice"}},
		{"bob's share replaced, commitment recomputed", func(v *Vault) {
			i := shareIndex(v, 2001)
			_, k, _ := v.KeyBySerial(2001)
			junk := make([]byte, shareSize)
			rand.Read(junk)
			s, err := sealShare("bob", k, junk)
			if err != nil {
				t.Fatal(err)
			}
			v.Shares[i] = s
		}, atOpen, ErrBadShare, "combined", []string{"alice", "bob"}},
		{"secret ciphertext corrupted", func(v *Vault) {
			s, _ := v.Secret("db-root")
			s.Age[len(s.Age)-3] ^= 1
		}, atReveal, ErrSecretCorrupt, "db-root", []string{"alice", "carol"}},
		{"secret moved to another entry", func(v *Vault) {
			a, _ := v.Secret("db-root")
			b, _ := v.Secret("ssh-key")
			a.Age, b.Age = b.Age, a.Age
		}, atReveal, ErrSecretCorrupt, "db-root", []string{"bob", "carol"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := mutated(t, base, tc.mutate).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			v, err := Parse(data)
			if tc.stage == atParse {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.part || !errors.Is(err, tc.want) {
					t.Fatalf("Parse = %v, want FieldError at %s", err, tc.part)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = v.VerifyRoster(w.ca.opts())
			if tc.stage == atVerify {
				var re *RosterError
				if !errors.As(err, &re) || re.Part != tc.part || !errors.Is(err, tc.want) {
					t.Fatalf("VerifyRoster = %v, want RosterError at %s", err, tc.part)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyRoster: %v", err)
			}
			u := v.Unlocker(w.ca.opts())
			for _, who := range tc.unlocks {
				err = u.AddShare(ctx, w.toks[who], testPIN)
				if err != nil {
					break
				}
			}
			if tc.stage == atAddShare {
				var se *ShareError
				if !errors.As(err, &se) || se.Custodian != tc.part || !errors.Is(err, tc.want) {
					t.Fatalf("AddShare = %v, want ShareError for %s", err, tc.part)
				}
				return
			}
			if err != nil {
				t.Fatalf("AddShare: %v", err)
			}
			o, err := u.Open()
			if tc.stage == atOpen {
				var se *ShareError
				if !errors.As(err, &se) || se.Custodian != "" || !errors.Is(err, tc.want) {
					t.Fatalf("Open = %v, want ShareError for the combination", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer o.Lock()
			buf, err := o.Reveal(tc.part)
			if !errors.Is(err, tc.want) || buf != nil || !strings.Contains(err.Error(), tc.part) {
				t.Fatalf("Reveal = %v, want %v naming %s and no value", err, tc.want, tc.part)
			}
			if err := o.Check(tc.part); !errors.Is(err, tc.want) {
				t.Errorf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	w := newWorld(t)
	good, err := w.v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name  string
		data  []byte
		field string
	}{
		{"not json", []byte("hello"), "file"},
		{"unknown field", edit(func(m map[string]any) { m["extra"] = 1 }), "file"},
		{"trailing data", append(append([]byte{}, good...), []byte("{}")...), "file"},
		{"other format", edit(func(m map[string]any) { m["format"] = "sops" }), "format"},
		{"newer version", edit(func(m map[string]any) { m["version"] = 2 }), "version"},
		{"bad recipient", edit(func(m map[string]any) { m["recipient"] = "age1nope" }), "recipient"},
		{"missing share", edit(func(m map[string]any) { m["shares"] = m["shares"].([]any)[1:] }), "shares"},
		{"duplicate secret", edit(func(m map[string]any) {
			s := m["secrets"].([]any)
			m["secrets"] = append(s, s[0])
		}), "secrets[4].name"},
		{"bad slot", []byte(strings.Replace(string(good), `"slot": "82"`, `"slot": "zz"`, 1)), "file"},
		{"bad kind", []byte(strings.Replace(string(good), `"kind": "password"`, `"kind": "pin"`, 1)), "secrets[0].kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrFormat) {
				t.Fatalf("Parse = %v, want FieldError at %q", err, tc.field)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "v.json")
	os.WriteFile(path, tests[1].data, 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load error %v does not name the file", err)
	}
}

// TestFixture keeps testdata/vault/sample.json (a signed three-custodian
// vault made with fake tokens; its root in sample-root.pem) parsing and
// verifying. Regenerate with -update.
func TestFixture(t *testing.T) {
	path := filepath.Join(fixtureDir, "sample.json")
	rootPath := filepath.Join(fixtureDir, "sample-root.pem")
	if *update {
		w := newWorld(t)
		w.v.MarkRevealed("aws-recovery", "2026-11-20-drill", testNow)
		if err := w.v.Save(path); err != nil {
			t.Fatal(err)
		}
		os.Remove(path + ".prev")
		pemRoot := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.ca.cert.Raw})
		if err := os.WriteFile(rootPath, pemRoot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyRoster(fixtureOpts(t, rootPath)); err != nil {
		t.Fatalf("fixture roster: %v", err)
	}
	data, _ := os.ReadFile(path)
	again, _ := v.Marshal()
	if !bytes.Equal(data, again) {
		t.Error("fixture does not re-encode to the same bytes")
	}
}

func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in %s (err %v)", fixtureDir, err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Parse error does not wrap ErrFormat: %v", err)
			}
			return
		}
		out, err := v.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		v2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded vault does not parse: %v", err)
		}
		if v2.Fingerprint() != v.Fingerprint() {
			t.Fatal("fingerprint changed across re-encoding")
		}
	})
}

// fixtureOpts is the verify options of a fixture's attestation root (PEM).
func fixtureOpts(t *testing.T, rootPath string) VerifyOptions {
	t.Helper()
	rootPEM, err := os.ReadFile(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(rootPEM)
	if block == nil {
		t.Fatalf("%s holds no PEM block", rootPath)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return VerifyOptions{Trust: testTrust(t, root)}
}
