package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"breakglass/vault"
)

func TestVaultInspect(t *testing.T) {
	k, path := newVTVault(t)
	for _, s := range []struct{ name, kind, value string }{
		{"aws-root-password", "password", vtPassword},
		{"aws-root-totp", "totp", vtTOTP},
	} {
		if code, _, stderr := breakglass(t, s.value, sealArgs(k, path, s.name, s.kind)...); code != 0 {
			t.Fatal(stderr)
		}
	}
	v, err := vault.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.MarkRevealed("aws-root-password", "S-42", k.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A quorum drill 100 days before the inspection below; no --each drill.
	v.RecordDrill(vault.Drill{At: k.now.AddDate(0, 0, 300), Kind: vault.DrillQuorum, Custodians: []string{"alice-example", "bob-example"}, Passed: true})
	if err := v.Save(path); err != nil {
		t.Fatal(err)
	}
	k.now = k.now.AddDate(0, 0, 400)

	code, stdout, stderr := breakglass(t, "", "vault", "inspect", path, "--attestation-root", k.root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		v.Fingerprint(), "2 of 3 custodians", "✓ every custodian signed", "TEST root",
		"Alice Example", "10000003", "aws-root-totp", "400 days",
		"REVEALED in session S-42 at 2026-11-23 10:00 UTC — rotate now",
		"aws-root-totp was sealed 400 days ago: rotation overdue",
		"(100 days ago) by alice-example, bob-example — STALE",
		"last quorum drill was 100 days ago",
		"no each drill recorded: run breakglass vault check --each",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "TEST ATTESTATION ROOT") {
		t.Errorf("no test-root warning: %s", stderr)
	}

	code, stdout, _ = breakglass(t, "", "vault", "inspect", "--json", "--attestation-root", k.root, path)
	var r inspectReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 {
		t.Fatalf("exit %d, JSON %v:\n%s", code, err, stdout)
	}
	if !r.RosterOK || r.Threshold != 2 || len(r.Custodians) != 3 || len(r.Secrets) != 2 || !r.Secrets[0].Burned || !r.Secrets[1].RotationOverdue {
		t.Errorf("report = %+v", r)
	}
}
