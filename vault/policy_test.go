package vault_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/vault"
	"breakglass/vault/pivp256"
)

func TestPolicyOrder(t *testing.T) {
	pin := []struct {
		have, want hardware.PINPolicy
		ok         bool
	}{
		{hardware.PINPolicyNever, hardware.PINPolicyNever, true},
		{hardware.PINPolicyNever, hardware.PINPolicyOnce, false},
		{hardware.PINPolicyOnce, hardware.PINPolicyOnce, true},
		{hardware.PINPolicyAlways, hardware.PINPolicyOnce, true},
		{hardware.PINPolicyOnce, hardware.PINPolicyAlways, false},
		{hardware.PINPolicyDefault, hardware.PINPolicyNever, false}, // unknown is below never
	}
	for _, c := range pin {
		if got := vault.PINAtLeast(c.have, c.want); got != c.ok {
			t.Errorf("PINAtLeast(%s, %s) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
	touch := []struct {
		have, want hardware.TouchPolicy
		ok         bool
	}{
		{hardware.TouchPolicyNever, hardware.TouchPolicyCached, false},
		{hardware.TouchPolicyCached, hardware.TouchPolicyCached, true},
		{hardware.TouchPolicyCached, hardware.TouchPolicyAlways, false}, // wire value 3 > 2, rank lower
		{hardware.TouchPolicyAlways, hardware.TouchPolicyCached, true},
		{hardware.TouchPolicyAlways, hardware.TouchPolicyAlways, true},
		{hardware.TouchPolicyDefault, hardware.TouchPolicyNever, false},
	}
	for _, c := range touch {
		if got := vault.TouchAtLeast(c.have, c.want); got != c.ok {
			t.Errorf("TouchAtLeast(%s, %s) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}

// policyWorld is two custodians enrolled normally and one whose keys were
// generated with PIN never / touch never (as with ykman piv keys generate
// --pin-policy NEVER --touch-policy NEVER), all on in-process virtual
// YubiKeys.
type policyWorld struct {
	opts vault.VerifyOptions
	now  time.Time
	toks map[string]hardware.Token
	good []vault.Custodian
}

func newPolicyWorld(t *testing.T) *policyWorld {
	t.Helper()
	ca, err := vyk.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	trust, err := attest.NewTestTrust([]*x509.Certificate{ca.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &policyWorld{opts: vault.VerifyOptions{Trust: trust}, now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), toks: map[string]hardware.Token{}}
	for i, name := range []string{"Alice", "Bob", "Mallory"} {
		card, err := vyk.New(vyk.Config{Serial: uint32(20000001 + i), CA: ca, Sleep: func(time.Duration) {}, Now: func() time.Time { return w.now }})
		if err != nil {
			t.Fatal(err)
		}
		tok := vyk.NewToken(card)
		w.toks[strings.ToLower(name)] = tok
		if name == "Mallory" {
			continue
		}
		c, err := vault.EnrolCustodian(context.Background(), tok, testMgmt, name, vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.opts, Now: w.now})
		if err != nil {
			t.Fatalf("enrolling %s: %v", name, err)
		}
		w.good = append(w.good, c)
	}
	return w
}

var testMgmt = hardware.ManagementKey{Key: hardware.DefaultManagementKey}

// weakCustodian generates never/never keys on Mallory's card and builds
// her roster entry by hand, claiming claimPIN/claimTouch for the
// decryption key (what the old code copied into the roster unchecked).
func (w *policyWorld) weakCustodian(t *testing.T, claimPIN, claimTouch string) vault.Custodian {
	t.Helper()
	ctx := context.Background()
	tok := w.toks["mallory"]
	never := hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyNever, Touch: hardware.TouchPolicyNever}
	dpub, err := tok.GenerateKey(ctx, testMgmt, hardware.SlotRetiredFirst, never)
	if err != nil {
		t.Fatal(err)
	}
	spub, err := tok.GenerateKey(ctx, testMgmt, hardware.SlotSignature, never)
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
	ek, err := dpub.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	r, err := pivp256.NewRecipient(ek)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(spub)
	if err != nil {
		t.Fatal(err)
	}
	return vault.Custodian{ID: "mallory", Name: "Mallory", Keys: []vault.Key{{
		Serial: tok.Serial(), Role: "primary",
		Decrypt: vault.DecryptKey{Slot: vault.Slot(hardware.SlotRetiredFirst), Recipient: r.String(),
			PIN: claimPIN, Touch: claimTouch, Attestation: att(hardware.SlotRetiredFirst)},
		Sign: vault.SignKey{Slot: vault.Slot(hardware.SlotSignature), PublicKey: spki, Attestation: att(hardware.SlotSignature)},
	}}}
}

// signedVault creates and signs a 2-of-3 vault over the good custodians and m.
func (w *policyWorld) signedVault(t *testing.T, m vault.Custodian) *vault.Vault {
	t.Helper()
	v, err := vault.Create(vault.MergeCustodians(append(append([]vault.Custodian{}, w.good...), m)), 2, w.now)
	if err != nil {
		t.Fatal(err)
	}
	for id, tok := range w.toks {
		if _, err := v.SignRoster(context.Background(), tok, hardware.DefaultPIN); err != nil {
			t.Fatalf("%s signing: %v", id, err)
		}
	}
	return v
}

func wantPolicyError(t *testing.T, what string, err error, serial uint32, claimed bool) {
	t.Helper()
	if !errors.Is(err, vault.ErrKeyPolicy) {
		t.Fatalf("%s = %v, want ErrKeyPolicy", what, err)
	}
	var pe *vault.PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("%s = %v, want a *PolicyError", what, err)
	}
	if pe.Serial != serial || (pe.Claimed != nil) != claimed || pe.Have != (vault.KeyPolicy{PIN: "never", Touch: "never"}) {
		t.Errorf("%s: PolicyError %+v, want serial %d, attested never/never, claimed %v", what, pe, serial, claimed)
	}
	msg := err.Error()
	for _, s := range []string{"Mallory (mallory)", "YubiKey 20000003", "slot ", "never"} {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: message %q does not say %q", what, msg, s)
		}
	}
}

// TestWeakKeysRefused: keys generated with PIN never / touch never are
// refused by roster verification (inspect, seal, preflight, verify), by
// vault init's key check and by unlock, and a roster claiming once/always
// over a never/never attestation is refused as a false claim.
func TestWeakKeysRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name              string
		claimPIN, claimTo string
		claimed           bool
	}{
		{"honest roster", "never", "never", false},
		{"roster claims once/always", "once", "always", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newPolicyWorld(t)
			m := w.weakCustodian(t, tc.claimPIN, tc.claimTo)
			serial := m.Keys[0].Serial
			v := w.signedVault(t, m)
			// The hole: the weak key opens its share with no PIN at all.
			peer, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.toks["mallory"].ECDH(ctx, hardware.SlotRetiredFirst, peer.PublicKey(), ""); err != nil {
				t.Fatalf("never/never key refused ECDH without a PIN: %v (the test premise)", err)
			}
			wantPolicyError(t, "Roster.VerifyKeys (vault init)", v.Roster.VerifyKeys(w.opts), serial, tc.claimed)
			err = v.VerifyRoster(w.opts)
			wantPolicyError(t, "VerifyRoster", err, serial, tc.claimed)
			var re *vault.RosterError
			if !errors.As(err, &re) || !strings.Contains(re.Part, "decrypt") {
				t.Errorf("VerifyRoster part = %v, want the decryption key", err)
			}
			// Saved and loaded: the same refusal (the inspect/seal/preflight path).
			path := t.TempDir() + "/vault.json"
			if err := v.Save(path); err != nil {
				t.Fatal(err)
			}
			lv, err := vault.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			wantPolicyError(t, "VerifyRoster after Load", lv.VerifyRoster(w.opts), serial, tc.claimed)
			u := lv.Unlocker(w.opts)
			_, err = u.Identify(ctx, w.toks["mallory"])
			wantPolicyError(t, "Identify", err, serial, tc.claimed)
			wantPolicyError(t, "AddShare", u.AddShare(ctx, w.toks["mallory"], ""), serial, tc.claimed)
			wantPolicyError(t, "CheckShare", u.CheckShare(ctx, w.toks["mallory"], ""), serial, tc.claimed)
			if have, _ := u.Needed(); have != 0 {
				t.Errorf("a weak key was counted: %d", have)
			}
			wantPolicyError(t, "CheckKey(sign)", lv.CheckKey(w.opts, serial, vault.UseSign), serial, false)
			// The good custodians still unlock.
			for _, id := range []string{"alice", "bob"} {
				if err := u.AddShare(ctx, w.toks[id], hardware.DefaultPIN); err != nil {
					t.Fatalf("AddShare(%s): %v", id, err)
				}
			}
			o, err := u.Open()
			if err != nil {
				t.Fatal(err)
			}
			o.Lock()
		})
	}
}

// weakGenerator is a token that generates keys with PIN never / touch
// never whatever it is asked (a card reset and re-keyed with ykman, a
// modified token): enrolment must not believe its request was honoured.
type weakGenerator struct{ hardware.Token }

func (w weakGenerator) GenerateKey(ctx context.Context, mgmt hardware.ManagementKey, s hardware.Slot, _ hardware.GenerateOptions) (crypto.PublicKey, error) {
	return w.Token.GenerateKey(ctx, mgmt, s, hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyNever, Touch: hardware.TouchPolicyNever})
}

func TestEnrolRefusesWeakKeys(t *testing.T) {
	w := newPolicyWorld(t)
	tok := weakGenerator{w.toks["mallory"]}
	_, err := vault.EnrolCustodian(context.Background(), tok, testMgmt, "Mallory", vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.opts, Now: w.now})
	wantPolicyError(t, "EnrolCustodian", err, tok.Serial(), false)

	// A minimum allowing "never" is not accepted either.
	lax := vault.DefaultKeyPolicies()
	lax.Sign.Touch = "never"
	if _, err := vault.EnrolCustodian(context.Background(), w.toks["mallory"], testMgmt, "Mallory", vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.opts, Now: w.now, Minimum: &lax}); err == nil {
		t.Fatal("EnrolCustodian accepted a minimum with touch never")
	}
}

// TestSignedMinimum: the minimum is part of the signed roster. Lowering it
// in the file breaks every signature and the fingerprint; a signed stronger
// minimum refuses keys below it; a minimum with "never" is refused even
// when signed.
func TestSignedMinimum(t *testing.T) {
	w := newPolicyWorld(t)
	good := w.good[0]
	v, err := vault.Create(vault.MergeCustodians(w.good), 2, w.now)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alice", "bob"} {
		if _, err := v.SignRoster(context.Background(), w.toks[id], hardware.DefaultPIN); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.VerifyRoster(w.opts); err != nil {
		t.Fatalf("default minimum, good keys: %v", err)
	}
	b, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "minimum_key_policy") {
		t.Error("a vault with the default minimum writes the field (it must stay omitted)")
	}

	// An attacker adds a lower minimum to the file.
	lower := vault.KeyPolicies{Decrypt: vault.KeyPolicy{PIN: "once", Touch: "cached"}, Sign: vault.KeyPolicy{PIN: "once", Touch: "cached"}}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["roster"].(map[string]any)["policy"].(map[string]any)["minimum_key_policy"] = lower
	edited, _ := json.Marshal(raw)
	if _, err := vault.Parse(edited); !errors.Is(err, vault.ErrFormat) || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("Parse of a vault with an added minimum = %v, want a fingerprint error", err)
	}
	ev := *v
	ev.Roster.Policy.MinimumKeyPolicy = &lower
	if err := ev.VerifyRoster(w.opts); !errors.Is(err, vault.ErrRosterSignature) {
		t.Errorf("VerifyRoster with a lowered minimum = %v, want ErrRosterSignature", err)
	}

	// A signed stronger minimum refuses the PIN-once decryption keys.
	strong := vault.DefaultKeyPolicies()
	strong.Decrypt.PIN = "always"
	sv, err := vault.Create(vault.MergeCustodians(w.good), 2, w.now)
	if err != nil {
		t.Fatal(err)
	}
	sv.Roster.Policy.MinimumKeyPolicy = &strong
	for _, id := range []string{"alice", "bob"} {
		if _, err := sv.SignRoster(context.Background(), w.toks[id], hardware.DefaultPIN); err != nil {
			t.Fatal(err)
		}
	}
	err = sv.VerifyRoster(w.opts)
	var pe *vault.PolicyError
	if !errors.As(err, &pe) || pe.Serial != good.Keys[0].Serial || pe.Want != strong.Decrypt || pe.Have.PIN != "once" {
		t.Errorf("VerifyRoster under a signed PIN-always minimum = %v, want a *PolicyError for %d", err, good.Keys[0].Serial)
	}

	// "never" is never a minimum, signed or not.
	nv, err := vault.Create(vault.MergeCustodians(w.good), 2, w.now)
	if err != nil {
		t.Fatal(err)
	}
	never := vault.DefaultKeyPolicies()
	never.Decrypt.Touch = "never"
	nv.Roster.Policy.MinimumKeyPolicy = &never
	for _, id := range []string{"alice", "bob"} {
		if _, err := nv.SignRoster(context.Background(), w.toks[id], hardware.DefaultPIN); err != nil {
			t.Fatal(err)
		}
	}
	if err := nv.VerifyRoster(w.opts); !errors.Is(err, vault.ErrFormat) || !strings.Contains(err.Error(), "never") {
		t.Errorf("VerifyRoster with a signed never minimum = %v, want a refusal naming never", err)
	}
}

// TestOldVaultGetsDefault: the sample vault, written before the minimum
// existed, loads with the default minimum, keeps its fingerprint and
// byte-identical canonical roster, and its keys meet the default.
func TestOldVaultGetsDefault(t *testing.T) {
	data, err := os.ReadFile("../testdata/vault/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "minimum_key_policy") {
		t.Fatal("the sample vault states a minimum; this test needs one written before the field")
	}
	v, err := vault.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if v.Roster.Policy.MinimumKeyPolicy != nil || v.Roster.Policy.KeyMinimum() != vault.DefaultKeyPolicies() {
		t.Errorf("old vault minimum = %+v, want the default", v.Roster.Policy.KeyMinimum())
	}
	if v.ComputeFingerprint() != v.Fingerprint() {
		t.Errorf("fingerprint changed: %s, recorded %s", v.ComputeFingerprint(), v.Fingerprint())
	}
	if strings.Contains(string(v.CanonicalRoster()), "minimum_key_policy") {
		t.Error("the canonical roster of an old vault gained the field")
	}
	trust, err := attest.LoadTestTrust("../testdata/vault/sample-root.pem")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyRoster(vault.VerifyOptions{Trust: trust}); err != nil {
		t.Errorf("the sample vault's keys do not meet the default minimum: %v", err)
	}
}
