package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/hardware"
	"breakglass/vault"
	"breakglass/vault/pivp256"
)

// weakGenToken generates every key with PIN never / touch never, whatever
// it is asked.
type weakGenToken struct{ hardware.Token }

func (w weakGenToken) GenerateKey(ctx context.Context, mgmt hardware.ManagementKey, s hardware.Slot, _ hardware.GenerateOptions) (crypto.PublicKey, error) {
	return w.Token.GenerateKey(ctx, mgmt, s, hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyNever, Touch: hardware.TouchPolicyNever})
}

// weakCustodianFile regenerates serial's keys with PIN never / touch never
// (as `ykman piv keys generate --pin-policy NEVER --touch-policy NEVER`
// would) and overwrites the custodian file at path with an entry for them
// that claims PIN once / touch always, like a hand-edited file.
func (k *vtKeys) weakCustodianFile(t *testing.T, serial uint32, path string) vault.Custodian {
	t.Helper()
	ctx := context.Background()
	prev, err := vault.LoadCustodianFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := k.st.toks[serial]
	mgmt := hardware.ManagementKey{Key: hardware.DefaultManagementKey}
	never := hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyNever, Touch: hardware.TouchPolicyNever}
	slot := prev.Keys[0].Decrypt.Slot.PIV()
	dpub, err := tok.GenerateKey(ctx, mgmt, slot, never)
	if err != nil {
		t.Fatal(err)
	}
	spub, err := tok.GenerateKey(ctx, mgmt, hardware.SlotSignature, never)
	if err != nil {
		t.Fatal(err)
	}
	att := func(s hardware.Slot) vault.Attestation {
		a, err := tok.Attest(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return vault.Attestation{Device: a.Device.Raw, Slot: a.Slot.Raw}
	}
	ek, _ := dpub.(*ecdsa.PublicKey).ECDH()
	r, err := pivp256.NewRecipient(ek)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(spub)
	c := prev
	c.Keys = []vault.Key{{Serial: serial, Role: "primary",
		Decrypt: vault.DecryptKey{Slot: vault.Slot(slot), Recipient: r.String(), PIN: "once", Touch: "always", Attestation: att(slot)},
		Sign:    vault.SignKey{Slot: vault.Slot(hardware.SlotSignature), PublicKey: spki, Attestation: att(hardware.SlotSignature)},
	}}
	if err := vault.WriteCustodianFile(path, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantPolicyRefusal(t *testing.T, what string, code int, stderr string, serial string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("%s accepted a never/never key (exit 0)\n%s", what, stderr)
	}
	for _, s := range []string{"Bob Example (bob-example)", "YubiKey " + serial, "slot 82", "PIN never, touch never", "requires at least PIN once, touch always"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("%s: stderr does not say %q:\n%s", what, s, stderr)
		}
	}
}

func TestEnrolRefusesWeakPolicy(t *testing.T) {
	k := newVTKeys(t, 10000002)
	k.changePINs(t, 10000002)
	k.st.toks[10000002] = weakGenToken{k.st.toks[10000002]}
	out := filepath.Join(k.dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := breakglass(t, "", "enrol", "--name", "Bob Example", "--serial", "10000002", "--out", out,
		"--pin-file", k.pinFile(t, 10000002), "--attestation-root", k.root)
	wantPolicyRefusal(t, "enrol", code, stderr, "10000002")
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("files written on refusal: %v", ents)
	}
}

// TestWeakPolicyRefusedByInitInspectSeal: a custodian file whose keys are
// never/never (claiming once/always) is refused by vault init before
// anyone signs; a vault made from it anyway is refused by inspect and seal.
func TestWeakPolicyRefusedByInitInspectSeal(t *testing.T) {
	k := newVTKeys(t, 10000001, 10000002)
	files := k.enrolAll(t, map[uint32]string{10000001: "Alice Example", 10000002: "Bob Example"})
	weak := k.weakCustodianFile(t, 10000002, files[1])
	out := filepath.Join(k.dir, "vault.json")
	args := append([]string{"vault", "init", "--threshold", "2", "--out", out, "--attestation-root", k.root}, k.pinFlag(t, 10000001)...)
	args = append(append(args, k.pinFlag(t, 10000002)...), files...)
	code, _, stderr := breakglass(t, "", args...)
	wantPolicyRefusal(t, "vault init", code, stderr, "10000002")
	if !strings.Contains(stderr, "nobody was asked to sign") {
		t.Errorf("vault init did not refuse before signing:\n%s", stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("vault init wrote a vault with a weak key")
	}

	// The vault made anyway (Create and SignRoster directly, as the old
	// code allowed): inspect and seal refuse it.
	alice, err := vault.LoadCustodianFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Create(vault.MergeCustodians([]vault.Custodian{alice, weak}), 2, k.now)
	if err != nil {
		t.Fatal(err)
	}
	for s, pin := range map[uint32]string{10000001: vtPIN(10000001), 10000002: ""} {
		if _, err := v.SignRoster(context.Background(), k.st.toks[s], pin); err != nil {
			t.Fatalf("signing on %d: %v", s, err)
		}
	}
	if err := v.Save(out); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := breakglass(t, "", "vault", "inspect", out, "--attestation-root", k.root)
	wantPolicyRefusal(t, "vault inspect", code, stdout+stderr, "10000002")
	if !strings.Contains(stdout, "Key policy   at least: decrypt PIN once, touch always; sign PIN always, touch always (default)") {
		t.Errorf("inspect does not show the minimum:\n%s", stdout)
	}
	before, _ := os.ReadFile(out)
	code, _, stderr = breakglass(t, "s3cret\n", "seal", "--vault", out, "--name", "x", "--kind", "password", "--serial", "10000002", "--attestation-root", k.root)
	wantPolicyRefusal(t, "seal", code, stderr, "10000002")
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Error("seal changed the vault after refusing")
	}
}
