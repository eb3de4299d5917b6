package vault_test

import (
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/vault"
)

// TestVirtualYubiKeys runs the whole life of a vault through the public API
// on in-process virtual YubiKeys (the same APDU state machine the e2e tests
// expose through pcscd): enrol, init, sign, seal, save, load, verify,
// check each share, unlock with two of three, reveal.
func TestVirtualYubiKeys(t *testing.T) {
	ctx := context.Background()
	ca, err := vyk.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	trust, err := attest.NewTestTrust([]*x509.Certificate{ca.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := vault.VerifyOptions{Trust: trust}
	mgmt := hardware.ManagementKey{Key: hardware.DefaultManagementKey}
	toks := map[string]hardware.Token{}
	var records []vault.Custodian
	for i, name := range []string{"Alice", "Bob", "Carol"} {
		card, err := vyk.New(vyk.Config{Serial: uint32(10000001 + i), CA: ca, Sleep: func(time.Duration) {}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		tok := vyk.NewToken(card)
		c, err := vault.EnrolCustodian(ctx, tok, mgmt, name, vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: opts, Now: now})
		if err != nil {
			t.Fatalf("enrolling %s: %v", name, err)
		}
		toks[c.ID] = tok
		records = append(records, c)
	}
	v, err := vault.Create(vault.MergeCustodians(records), 2, now)
	if err != nil {
		t.Fatal(err)
	}
	for id, tok := range toks {
		if _, err := v.SignRoster(ctx, tok, hardware.DefaultPIN); err != nil {
			t.Fatalf("%s signing: %v", id, err)
		}
	}
	if err := v.Seal("db-root", vault.KindPassword, []byte("s3cret-on-vyk"), now); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vault.json")
	if err := v.Save(path); err != nil {
		t.Fatal(err)
	}
	v, err = vault.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyRoster(opts); err != nil {
		t.Fatalf("VerifyRoster: %v", err)
	}
	u := v.Unlocker(opts)
	for id, tok := range toks {
		if err := u.CheckShare(ctx, tok, hardware.DefaultPIN); err != nil {
			t.Errorf("CheckShare(%s): %v", id, err)
		}
	}
	if err := u.AddShare(ctx, toks["alice"], hardware.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Open(); !errors.Is(err, vault.ErrQuorum) {
		t.Fatalf("Open with one custodian = %v, want ErrQuorum", err)
	}
	if err := u.AddShare(ctx, toks["carol"], hardware.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	o, err := u.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Lock()
	buf, err := o.Reveal("db-root")
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Destroy()
	if string(buf.Bytes()) != "s3cret-on-vyk" {
		t.Error("revealed the wrong value")
	}
}
