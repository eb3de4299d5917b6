package vault_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"

	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/vault"
)

// recordVault is the signed sample vault of testdata/audit (custodians on
// virtual YubiKeys under the TEST root; alice has a backup key).
func recordVault(t *testing.T) (*vault.Vault, vault.VerifyOptions) {
	t.Helper()
	v, err := vault.Load("../testdata/audit/vault.json")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := vyk.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	trust, err := attest.NewTestTrust([]*x509.Certificate{ca.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v, vault.VerifyOptions{Trust: trust}
}

func TestRosterRecordVerifies(t *testing.T) {
	v, opts := recordVault(t)
	rec := v.RosterRecord()
	if !bytes.Equal(rec.Canonical, v.CanonicalRoster()) || rec.Digest != v.RosterDigestHex() {
		t.Fatal("the record is not the vault's canonical roster and digest")
	}
	if vault.FingerprintOfDigest(rec.Digest) != v.Fingerprint() {
		t.Errorf("fingerprint of the digest %q, vault fingerprint %q", vault.FingerprintOfDigest(rec.Digest), v.Fingerprint())
	}
	r, err := vault.VerifyRosterRecord(rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Custodians) != len(v.Roster.Custodians) || r.Policy != v.Roster.Policy {
		t.Errorf("verified roster %+v differs from the vault's", r.Policy)
	}
}

func TestRosterRecordRefuses(t *testing.T) {
	v, opts := recordVault(t)
	fresh := func() vault.RosterRecord {
		r := v.RosterRecord()
		r.Canonical = bytes.Clone(r.Canonical)
		r.Signatures = slices.Clone(r.Signatures)
		return r
	}
	rehash := func(r *vault.RosterRecord) { r.Digest = vault.DigestHex(r.Canonical) }
	for _, tc := range []struct {
		name string
		edit func(*vault.RosterRecord)
		is   error
	}{
		{"digest of other bytes", func(r *vault.RosterRecord) { r.Digest = strings.Repeat("0", 64) }, vault.ErrRosterRecord},
		{"empty", func(r *vault.RosterRecord) { r.Canonical = nil }, vault.ErrRosterRecord},
		{"no domain line", func(r *vault.RosterRecord) {
			r.Canonical = bytes.TrimPrefix(r.Canonical, []byte("breakglass-vault-roster-v1\n"))
			rehash(r)
		}, vault.ErrRosterRecord},
		{"not canonical (space)", func(r *vault.RosterRecord) {
			r.Canonical = bytes.Replace(r.Canonical, []byte(`{"roster"`), []byte(`{ "roster"`), 1)
			rehash(r)
		}, vault.ErrRosterRecord},
		{"unknown field", func(r *vault.RosterRecord) {
			r.Canonical = bytes.Replace(r.Canonical, []byte(`{"roster"`), []byte(`{"x":1,"roster"`), 1)
			rehash(r)
		}, vault.ErrRosterRecord},
		{"threshold lowered, rehashed", func(r *vault.RosterRecord) {
			r.Canonical = bytes.Replace(r.Canonical, []byte(`"threshold":2`), []byte(`"threshold":1`), 1)
			rehash(r)
		}, vault.ErrRosterRecord},
		{"name edited, rehashed", func(r *vault.RosterRecord) {
			r.Canonical = bytes.Replace(r.Canonical, []byte(`"name":"Bob B."`), []byte(`"name":"Mallory"`), 1)
			rehash(r)
		}, vault.ErrRosterSignature},
		{"a signature dropped", func(r *vault.RosterRecord) { r.Signatures = r.Signatures[:1] }, vault.ErrRosterSignature},
		{"a signature duplicated", func(r *vault.RosterRecord) { r.Signatures = append(r.Signatures, r.Signatures[0]) }, vault.ErrRosterRecord},
		{"signature bytes changed", func(r *vault.RosterRecord) {
			s := bytes.Clone(r.Signatures[1].Signature)
			s[len(s)-1] ^= 1
			r.Signatures[1].Signature = s
		}, vault.ErrRosterSignature},
		{"signature moved to another custodian", func(r *vault.RosterRecord) {
			r.Signatures[1].Custodian = r.Signatures[0].Custodian
			r.Signatures = r.Signatures[1:]
		}, vault.ErrRosterRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fresh()
			tc.edit(&r)
			_, err := vault.VerifyRosterRecord(r, opts)
			if !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
		})
	}
	// Genuine record, untrusted root: the attestations fail.
	if _, err := vault.VerifyRosterRecord(v.RosterRecord(), vault.VerifyOptions{}); !errors.Is(err, vault.ErrAttestation) {
		t.Errorf("Yubico roots: got %v, want ErrAttestation", err)
	}
}

func TestParsePin(t *testing.T) {
	v, _ := recordVault(t)
	d := v.RosterDigestHex()
	for _, s := range []string{v.Fingerprint(), strings.ToLower(v.Fingerprint()), strings.ReplaceAll(v.Fingerprint(), "-", ""), d, strings.ToUpper(d)} {
		p, err := vault.ParsePin(s)
		if err != nil || !vault.PinMatches(d, p) {
			t.Errorf("pin %q: %v, matches %v", s, err, vault.PinMatches(d, p))
		}
	}
	for _, s := range []string{"", "ABCD", d[:62], d + "00", strings.Repeat("g", 64)} {
		if _, err := vault.ParsePin(s); err == nil {
			t.Errorf("pin %q accepted", s)
		}
	}
	if vault.PinMatches(d, strings.Repeat("0", 20)) {
		t.Error("another prefix matched")
	}
}
