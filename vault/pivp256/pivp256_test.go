package pivp256

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

const vectorDir = "../../testdata/vault/pivp256"

func TestRecipientVector(t *testing.T) {
	tests := []struct {
		name, recipient, point, tagHex, tagB64 string
	}{
		{"reference vector 1", "age1yubikey1q2w7u3vpya839jxxuq8g0sedh3d740d4xvn639sqhr95ejj8vu3hyfumptt",
			"029dee4581274f12c8c6e00e87c32dbc5beabdb53327a89600b8cb4cca47672372", "ef3c99e5", "7zyZ5Q"},
		{"reference vector 3", "age1yubikey1qf0l9gks6x65ha077wq3w3u8fy02tpg3cd9w5j0jlgpfgqkcut2lwujzwye",
			"025ff2a2d0d1b54bf5fef381174787491ea58511c34aea49f2fa029402d8e2d5f7", "d78ca2e8", "14yi6A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipient(tc.recipient)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(r.Point()); got != tc.point {
				t.Errorf("point = %s, want %s", got, tc.point)
			}
			tag := r.Tag()
			if got := hex.EncodeToString(tag[:]); got != tc.tagHex {
				t.Errorf("tag = %s, want %s", got, tc.tagHex)
			}
			if got := b64.EncodeToString(tag[:]); got != tc.tagB64 {
				t.Errorf("tag string = %s, want %s", got, tc.tagB64)
			}
			if got := r.String(); got != tc.recipient {
				t.Errorf("String() = %s, want %s", got, tc.recipient)
			}
			r2, err := NewRecipient(r.PublicKey())
			if err != nil || !r2.Equal(r) {
				t.Errorf("NewRecipient(PublicKey()) = %v, %v; want the same recipient", r2, err)
			}
		})
	}
}

func TestParseRecipientRejects(t *testing.T) {
	good := "age1yubikey1q2w7u3vpya839jxxuq8g0sedh3d740d4xvn639sqhr95ejj8vu3hyfumptt"
	tests := map[string]string{
		"empty":           "",
		"x25519":          "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",
		"bad checksum":    good[:len(good)-1] + "q",
		"other plugin":    "age1se1qf0l9gks6x65ha077wq3w3u8fy02tpg3cd9w5j0jlgpfgqkcut2lwuj",
		"upper and lower": strings.ToUpper(good[:10]) + good[10:],
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseRecipient(s); err == nil {
				t.Errorf("ParseRecipient(%q) succeeded, want error", s)
			}
		})
	}
}

func TestStubVector(t *testing.T) {
	s := Stub{Serial: 42, Slot: 0x82, Tag: [4]byte{7, 7, 7, 7}}
	const want = "AGE-PLUGIN-YUBIKEY-19GQQQQYZQURSWPCKSHMQG"
	if got := s.String(); got != want {
		t.Fatalf("stub = %s, want %s", got, want)
	}
	back, err := ParseStub(want)
	if err != nil {
		t.Fatal(err)
	}
	if back != s {
		t.Errorf("ParseStub = %+v, want %+v", back, s)
	}
}

func TestIdentityFileText(t *testing.T) {
	r := mustRecipient(t, "age1yubikey1q2w7u3vpya839jxxuq8g0sedh3d740d4xvn639sqhr95ejj8vu3hyfumptt")
	f := IdentityFile{Recipient: r, Serial: 42, Slot: 0x83, Name: "alice", PIN: "once", Touch: "always",
		Created: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	got := f.String()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("identity file has %d lines, want 7:\n%s", len(lines), got)
	}
	for _, want := range []string{
		"#       Serial: 42, Slot: 2",
		"#         Name: alice",
		"#   PIN policy: Once",
		"# Touch policy: Always",
		"#    Recipient: " + r.String(),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("identity file lacks %q:\n%s", want, got)
		}
	}
	stub, err := ParseStub(lines[6])
	if err != nil {
		t.Fatal(err)
	}
	if stub.Serial != 42 || stub.Slot != 0x83 || stub.Tag != r.Tag() {
		t.Errorf("stub line decodes to %+v", stub)
	}
}

// vector is one testdata/vault/pivp256 file: headers, a blank line, a stanza.
type vector struct {
	expect, recipient                   string
	recipientScalar, ephemeral, fileKey []byte
	stanza                              *age.Stanza
	text                                string
}

func loadVectors(t testing.TB) map[string]vector {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no piv-p256 vectors found")
	}
	out := map[string]vector{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		head, body, ok := strings.Cut(string(data), "\n\n")
		if !ok {
			t.Fatalf("%s: no blank line after headers", p)
		}
		var v vector
		v.text = body
		for _, line := range strings.Split(head, "\n") {
			k, val, _ := strings.Cut(line, ": ")
			switch k {
			case "expect":
				v.expect = val
			case "recipient":
				v.recipient = val
			case "recipient-scalar":
				v.recipientScalar = mustB64(t, val)
			case "ephemeral-scalar":
				v.ephemeral = mustB64(t, val)
			case "file-key":
				v.fileKey, _ = hex.DecodeString(val)
			case "comment":
			default:
				t.Fatalf("%s: unknown header %q", p, k)
			}
		}
		v.stanza = parseStanzaText(t, body)
		out[filepath.Base(p)] = v
	}
	return out
}

func parseStanzaText(t testing.TB, text string) *age.Stanza {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	f := strings.Fields(strings.TrimPrefix(lines[0], "-> "))
	body, err := base64.RawStdEncoding.DecodeString(strings.Join(lines[1:], ""))
	if err != nil {
		t.Fatalf("vector body: %v", err)
	}
	return &age.Stanza{Type: f[0], Args: f[1:], Body: body}
}

func mustB64(t testing.TB, s string) []byte {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRecipient(t testing.TB, s string) *Recipient {
	r, err := ParseRecipient(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// softIdentity is an Identity whose ECDH is done in software, as a fake token.
func softIdentity(t testing.TB, scalar []byte) (*Identity, *int) {
	priv, err := ecdh.P256().NewPrivateKey(scalar)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRecipient(priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	calls := new(int)
	id, err := NewIdentity(r, func(peer *ecdh.PublicKey) ([]byte, error) {
		*calls++
		return priv.ECDH(peer)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, calls
}

func TestVectors(t *testing.T) {
	for name, v := range loadVectors(t) {
		t.Run(name, func(t *testing.T) {
			id, calls := softIdentity(t, v.recipientScalar)
			if v.recipient != "" && id.Recipient().String() != v.recipient {
				t.Fatalf("recipient = %s, want %s", id.Recipient(), v.recipient)
			}
			if v.ephemeral != nil {
				eph, err := ecdh.P256().NewPrivateKey(v.ephemeral)
				if err != nil {
					t.Fatal(err)
				}
				s, err := id.Recipient().wrapWith(eph, v.fileKey)
				if err != nil {
					t.Fatal(err)
				}
				if got := stanzaText(s); got != v.text {
					t.Errorf("Wrap produced\n%s\nwant\n%s", got, v.text)
				}
			}
			fileKey, err := id.Unwrap([]*age.Stanza{v.stanza})
			switch v.expect {
			case "success":
				if err != nil {
					t.Fatalf("Unwrap: %v", err)
				}
				if !bytes.Equal(fileKey, v.fileKey) {
					t.Errorf("file key = %x, want %x", fileKey, v.fileKey)
				}
			case "no match":
				if !errors.Is(err, age.ErrIncorrectIdentity) {
					t.Errorf("Unwrap error = %v, want ErrIncorrectIdentity", err)
				}
			case "malformed":
				if !errors.Is(err, ErrMalformedStanza) || errors.Is(err, age.ErrIncorrectIdentity) {
					t.Errorf("Unwrap error = %v, want ErrMalformedStanza", err)
				}
				if *calls != 0 {
					t.Errorf("ECDH called %d times for a malformed stanza", *calls)
				}
			default:
				t.Fatalf("unknown expect %q", v.expect)
			}
		})
	}
}

func stanzaText(s *age.Stanza) string {
	var b strings.Builder
	b.WriteString("-> " + s.Type + " " + strings.Join(s.Args, " ") + "\n")
	body := base64.RawStdEncoding.EncodeToString(s.Body)
	for len(body) >= 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n")
	return b.String()
}

// A malformed piv-p256 stanza anywhere is an error for the whole file, even
// when another stanza would have matched.
func TestMalformedStanzaFailsWholeFile(t *testing.T) {
	vs := loadVectors(t)
	good, bad := vs["interop.txt"], vs["extra_arg.txt"]
	id, calls := softIdentity(t, good.recipientScalar)
	_, err := id.Unwrap([]*age.Stanza{good.stanza, bad.stanza})
	if !errors.Is(err, ErrMalformedStanza) {
		t.Fatalf("Unwrap = %v, want ErrMalformedStanza", err)
	}
	if *calls != 0 {
		t.Errorf("ECDH called %d times", *calls)
	}
}

func TestAgeRoundTrip(t *testing.T) {
	id, _ := softIdentity(t, mustB64(t, "OSe+zDK18qF0UrjxYVkmwvxyEdxZHp9F69rElj8bKS8"))
	other, _ := softIdentity(t, mustB64(t, "N2WRutxd1Ed0l4piqArI2gKYSTG7peE8BYBrLLV7YjQ"))
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "share bytes")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("-> piv-p256 14yi6A ")) {
		t.Errorf("header lacks the piv-p256 stanza:\n%s", buf.Bytes())
	}
	r, err := age.Decrypt(bytes.NewReader(buf.Bytes()), id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != "share bytes" {
		t.Errorf("decrypted %q", got)
	}
	var noMatch *age.NoIdentityMatchError
	if _, err := age.Decrypt(bytes.NewReader(buf.Bytes()), other); !errors.As(err, &noMatch) {
		t.Errorf("decrypting with another key: %v, want NoIdentityMatchError", err)
	}
}

func FuzzStanza(f *testing.F) {
	vs := loadVectors(f)
	if len(vs) == 0 {
		f.Fatal("no seeds")
	}
	for _, v := range vs {
		a0, a1 := "", ""
		if len(v.stanza.Args) > 0 {
			a0 = v.stanza.Args[0]
		}
		if len(v.stanza.Args) > 1 {
			a1 = v.stanza.Args[1]
		}
		f.Add(a0, a1, len(v.stanza.Args), v.stanza.Body)
	}
	id, _ := softIdentity(f, mustB64(f, "OSe+zDK18qF0UrjxYVkmwvxyEdxZHp9F69rElj8bKS8"))
	f.Fuzz(func(t *testing.T, a0, a1 string, nargs int, body []byte) {
		args := []string{a0, a1}
		if nargs >= 0 && nargs < 2 {
			args = args[:nargs]
		}
		s := &age.Stanza{Type: StanzaType, Args: args, Body: body}
		p, err := ParseStanza(s)
		if err == nil {
			if b64.EncodeToString(p.Tag[:]) != args[0] || b64.EncodeToString(p.epk) != args[1] || len(p.Body) != bodySize {
				t.Fatalf("accepted non-canonical stanza %q", args)
			}
		} else if !errors.Is(err, ErrMalformedStanza) {
			t.Fatalf("parse error does not wrap ErrMalformedStanza: %v", err)
		}
		key, err := id.Unwrap([]*age.Stanza{s})
		if err == nil && len(key) != fileKeySize {
			t.Fatalf("unwrapped %d-byte key", len(key))
		}
	})
}

func BenchmarkWrapUnwrap(b *testing.B) {
	id, _ := softIdentity(b, mustB64(b, "OSe+zDK18qF0UrjxYVkmwvxyEdxZHp9F69rElj8bKS8"))
	fileKey := make([]byte, fileKeySize)
	for b.Loop() {
		s, err := id.Recipient().Wrap(fileKey)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := id.Unwrap(s); err != nil {
			b.Fatal(err)
		}
	}
}
