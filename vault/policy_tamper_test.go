package vault

import (
	"bytes"
	"errors"
	"os"
	"testing"

	attestation "breakglass/internal/attest"
)

// TestPolicyTamper is the red-team pass against the sample vault by an
// attacker with file access: every edit of a policy is caught by the
// fingerprint, the roster signatures and the attestation signatures.
func TestPolicyTamper(t *testing.T) {
	data, err := os.ReadFile("../testdata/vault/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	trust, err := attestation.LoadTestTrust("../testdata/vault/sample-root.pem")
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Trust: trust}
	load := func(t *testing.T) *Vault {
		v, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// refingerprint is what an attacker does next: recompute the
	// fingerprint so Parse accepts the file.
	refingerprint := func(v *Vault) *Vault {
		v.RecordedFingerprint = v.ComputeFingerprint()
		b, err := v.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("re-fingerprinted vault does not parse: %v", err)
		}
		return v
	}
	t.Run("roster policy strings edited", func(t *testing.T) {
		edited := bytes.Replace(data, []byte(`"pin_policy": "once"`), []byte(`"pin_policy": "always"`), 1)
		if bytes.Equal(edited, data) {
			t.Fatal("sample has no pin_policy once")
		}
		if _, err := Parse(edited); !errors.Is(err, ErrFormat) {
			t.Fatalf("Parse = %v, want the fingerprint refusal", err)
		}
		v := load(t)
		v.Roster.Custodians[0].Keys[0].Decrypt.PIN = "always"
		v = refingerprint(v)
		if err := v.VerifyRoster(opts); !errors.Is(err, ErrRosterSignature) {
			t.Fatalf("VerifyRoster = %v, want ErrRosterSignature", err)
		}
		if err := v.Roster.VerifyKeys(opts); !errors.Is(err, ErrKeyPolicy) {
			t.Fatalf("VerifyKeys = %v, want the claim refused", err)
		}
	})
	t.Run("signed minimum lowered", func(t *testing.T) {
		v := load(t)
		v.Roster.Policy.MinimumKeyPolicy = &KeyPolicies{Decrypt: KeyPolicy{PIN: "once", Touch: "cached"}, Sign: KeyPolicy{PIN: "once", Touch: "cached"}}
		v = refingerprint(v)
		if err := v.VerifyRoster(opts); !errors.Is(err, ErrRosterSignature) {
			t.Fatalf("VerifyRoster = %v, want ErrRosterSignature", err)
		}
	})
	t.Run("policy byte in the slot attestation flipped", func(t *testing.T) {
		v := load(t)
		k := &v.Roster.Custodians[0].Keys[0]
		// The policy extension's value is OCTET STRING {pin, touch}:
		// 04 02 02 02 for once/always; make it never/never.
		i := bytes.Index(k.Decrypt.Attestation.Slot, []byte{0x04, 0x02, 0x02, 0x02})
		if i < 0 {
			t.Fatal("policy extension not found in the sample's slot certificate")
		}
		k.Decrypt.Attestation.Slot = bytes.Clone(k.Decrypt.Attestation.Slot)
		k.Decrypt.Attestation.Slot[i+2], k.Decrypt.Attestation.Slot[i+3] = 1, 1
		v = refingerprint(v)
		if err := v.VerifyRoster(opts); !errors.Is(err, ErrRosterSignature) {
			t.Fatalf("VerifyRoster = %v, want ErrRosterSignature", err)
		}
		if err := v.Roster.VerifyKeys(opts); !errors.Is(err, ErrAttestation) || !errors.Is(err, attestation.ErrUntrusted) {
			t.Fatalf("VerifyKeys = %v, want the slot certificate's signature refused", err)
		}
	})
}
