package console

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/internal/events"
	"breakglass/ui"
	"breakglass/vault"
)

// openToSteps takes a fresh live engine through preflight, declaration and
// a quorum, to the runbook steps.
func openToSteps(t *testing.T, f *journeyFixture) *Service {
	t.Helper()
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
	must(t, eng.Declare(ui.Declaration{Operator: "Olive Operator", Ticket: "INC-9", WhatBroke: "seal test"}))
	for _, s := range f.serials[:2] {
		_, err := eng.AddCustodian(ctx, s, hardware.DefaultPIN)
		must(t, err)
	}
	return eng
}

// revealStep is the index of the first step revealing name, after
// completing every step before it.
func revealStep(t *testing.T, eng *Service, name string) int {
	t.Helper()
	ctx := context.Background()
	for i, st := range eng.Steps() {
		if slices.Contains(st.Secrets, name) {
			return i
		}
		for j := range st.Checks {
			must(t, eng.Tick(i, j))
		}
		for j := range st.Evidence {
			must(t, eng.Answer(i, j, "evidence"))
		}
		for _, n := range st.Secrets {
			_, err := eng.Reveal(ctx, i, n)
			must(t, err)
		}
		for _, c := range st.Confirmers {
			must(t, eng.Confirm(ctx, i, c, hardware.DefaultPIN))
		}
		must(t, eng.Complete(i))
	}
	t.Fatalf("no step reveals %s", name)
	return -1
}

// editVault rewrites the fixture's vault file through edit.
func editVault(t *testing.T, f *journeyFixture, edit func(v *vault.Vault)) {
	t.Helper()
	v, err := vault.Load(f.vaultPath)
	must(t, err)
	edit(v)
	raw, err := v.Marshal()
	must(t, err)
	must(t, os.WriteFile(f.vaultPath, raw, 0o600))
}

// TestRevealRefusesUnattributed is hole 9 at the console: a value put in
// place with file access only is never revealed as current.
func TestRevealRefusesUnattributed(t *testing.T) {
	const name = "aws-root-password"
	tests := []struct {
		name string
		edit func(t *testing.T, f *journeyFixture, old *vault.Secret, v *vault.Vault)
		want error
	}{
		{"old ciphertext from vault.json.prev", func(_ *testing.T, _ *journeyFixture, old *vault.Secret, v *vault.Vault) {
			s, _ := v.Secret(name)
			s.Age = old.Age
		}, vault.ErrSealBroken},
		{"old entry with its record, history kept", func(_ *testing.T, _ *journeyFixture, old *vault.Secret, v *vault.Vault) {
			s, _ := v.Secret(name)
			s.Age, s.Seal, s.SealedAt = old.Age, old.Seal, old.SealedAt
		}, vault.ErrSealBroken},
		{"attacker's own value encrypted to the recipient", func(t *testing.T, _ *journeyFixture, _ *vault.Secret, v *vault.Vault) {
			must(t, v.Seal(name, vault.KindPassword, []byte("attacker-chosen"), time.Now()))
		}, vault.ErrUnattributed},
		{"version edited", func(_ *testing.T, _ *journeyFixture, _ *vault.Secret, v *vault.Vault) {
			s, _ := v.Secret(name)
			s.Seal.Record.Version = 7
		}, vault.ErrSealBroken},
		{"sealed_by edited", func(_ *testing.T, _ *journeyFixture, _ *vault.Secret, v *vault.Vault) {
			s, _ := v.Secret(name)
			s.Seal.Record.SealedBy, s.Seal.Record.Serial = "carol-example", 10000003
		}, vault.ErrSealBroken},
		{"date edited", func(_ *testing.T, _ *journeyFixture, _ *vault.Secret, v *vault.Vault) {
			s, _ := v.Secret(name)
			s.Seal.Record.SealedAt = s.Seal.Record.SealedAt.Add(-24 * time.Hour)
			s.SealedAt = s.Seal.Record.SealedAt
		}, vault.ErrSealBroken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newJourneyFixture(t)
			// A genuine rotation first, so vault.json.prev holds version 1.
			v, err := vault.Load(f.vaultPath)
			must(t, err)
			old := *secretOf(t, v, name)
			_, err = v.SealSigned(context.Background(), f.station.tokens[f.serials[1]], hardware.DefaultPIN, name, vault.KindPassword, []byte("rotated-value-2"), time.Now())
			must(t, err)
			must(t, v.Save(f.vaultPath))
			editVault(t, f, func(v *vault.Vault) { tc.edit(t, f, &old, v) })

			eng := openToSteps(t, f)
			sec, err := eng.Reveal(context.Background(), revealStep(t, eng, name), name)
			if !errors.Is(err, tc.want) || sec.Value != nil {
				t.Fatalf("Reveal = %v (value given: %v), want a refusal wrapping %v", err, sec.Value != nil, tc.want)
			}
			for _, want := range []string{name, "re-seal it", "never revealed as current"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not say %q", err, want)
				}
			}
			for _, e := range eng.journal.Entries() {
				if e.Type == events.SecretRevealed {
					t.Errorf("a refused reveal was journaled as revealed: %s", e.Data)
				}
			}
		})
	}
}

func secretOf(t *testing.T, v *vault.Vault, name string) *vault.Secret {
	t.Helper()
	s, ok := v.Secret(name)
	if !ok {
		t.Fatalf("the fixture vault has no %s", name)
	}
	return s
}

// TestRevealShowsSeal: a genuine re-seal is version 2, linked to version
// 1, shown as "sealed by NAME on DATE, version 2", and the reveal event
// records the version and the record digest.
func TestRevealShowsSeal(t *testing.T) {
	const name = "aws-root-password"
	f := newJourneyFixture(t)
	v, err := vault.Load(f.vaultPath)
	must(t, err)
	v1 := vault.SealDigest(secretOf(t, v, name).Seal.Record)
	a, err := v.SealSigned(context.Background(), f.station.tokens[f.serials[1]], hardware.DefaultPIN, name, vault.KindPassword, []byte("rotated-value-2"), time.Now())
	must(t, err)
	must(t, v.Save(f.vaultPath))
	if a.Version != 2 || secretOf(t, v, name).Seal.Record.Prev != v1 {
		t.Fatalf("re-seal gave %+v, prev %q, want version 2 linked to %s", a, secretOf(t, v, name).Seal.Record.Prev, v1)
	}

	eng := openToSteps(t, f)
	sec, err := eng.Reveal(context.Background(), revealStep(t, eng, name), name)
	must(t, err)
	if string(sec.Value()) != "rotated-value-2" {
		t.Error("revealed another value than the one sealed")
	}
	if sec.SealedBy != "Bob Example" || sec.Version != 2 || !sec.SealedAt.Equal(a.SealedAt) {
		t.Errorf("reveal shows sealed by %q version %d at %v, want Bob Example, 2, %v", sec.SealedBy, sec.Version, sec.SealedAt, a.SealedAt)
	}
	var found bool
	for _, e := range eng.journal.Entries() {
		if e.Type != events.SecretRevealed {
			continue
		}
		found = true
		for _, want := range []string{`"version":2`, `"seal_record":"` + a.Digest + `"`, `"sealed_by":"bob-example"`} {
			if !strings.Contains(string(e.Data), want) {
				t.Errorf("reveal event %s lacks %s", e.Data, want)
			}
		}
	}
	if !found {
		t.Fatal("no reveal event journaled")
	}
}
