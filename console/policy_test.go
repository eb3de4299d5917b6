package console

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/ui"
	"breakglass/vault"
)

// TestSigningRefusesWeakKey: a custodian whose roster signing key is
// attested PIN never / touch never is refused before the card is asked to
// sign the report, saying who, which key, which slot and what it has.
func TestSigningRefusesWeakKey(t *testing.T) {
	f := newJourneyFixture(t)
	ctx := context.Background()
	eng := f.engine(t, false)
	for _, c := range eng.Preflight(ctx) {
		if c.Status == ui.Fail {
			t.Fatalf("preflight %s failed: %s", c.Name, c.Detail)
		}
		if c.Status == ui.Warn {
			must(t, eng.AcknowledgeWarning(c.Name, "test station"))
		}
	}
	must(t, eng.ConfirmClock(time.Now(), true))
	must(t, eng.Declare(ui.Declaration{Operator: "Olive Operator", Ticket: "INC-42", WhatBroke: "SSO down"}))
	for _, s := range f.serials[:2] {
		if _, err := eng.AddCustodian(ctx, s, "123456"); err != nil {
			t.Fatal(err)
		}
	}
	runSteps(t, eng, map[string][]byte{})
	for _, q := range eng.CloseOutQuestions() {
		ans := "answer to " + q.ID
		if strings.Contains(q.Text, `"no"`) {
			ans = "no"
		}
		must(t, eng.AnswerCloseOut(q.ID, ans))
	}
	// Alice's signing key is replaced by a never/never one and the roster
	// in memory describes it (public key and its genuine attestation).
	serial := f.serials[0]
	tok := f.station.tokens[serial]
	pub, err := tok.GenerateKey(ctx, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, hardware.SlotSignature,
		hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyNever, Touch: hardware.TouchPolicyNever})
	must(t, err)
	a, err := tok.Attest(ctx, hardware.SlotSignature)
	must(t, err)
	spki, err := x509.MarshalPKIXPublicKey(pub)
	must(t, err)
	for i := range eng.vault.Roster.Custodians {
		for j := range eng.vault.Roster.Custodians[i].Keys {
			if k := &eng.vault.Roster.Custodians[i].Keys[j]; k.Serial == serial {
				k.Sign.PublicKey, k.Sign.Attestation = spki, vault.Attestation{Device: a.Device.Raw, Slot: a.Slot.Raw}
			}
		}
	}
	err = eng.Sign(ctx, serial, "123456")
	if !errors.Is(err, vault.ErrKeyPolicy) {
		t.Fatalf("Sign with a never/never signing key = %v, want ErrKeyPolicy", err)
	}
	for _, s := range []string{"Alice Example", "YubiKey 10000001", "slot 9c", "PIN never, touch never", "PIN always, touch always"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("refusal %q does not say %q", err, s)
		}
	}
}
