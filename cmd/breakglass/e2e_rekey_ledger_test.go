package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/ledger"
	"breakglass/vault"
)

// TestReportsAcrossRekeyE2E is issue 11's "a report from before the rekey
// and one after both verify against the new vault pinned at the OLD
// fingerprint" and issue 13's "imports real console-made reports (… a
// rekey) into a fresh ledger", on one station: a console drill on the demo
// vault (roster version 1, Alice and Bob); Carol leaves and Dave joins by
// `vault rekey` with Alice and Bob; a console drill on the new vault with
// Alice and Dave; then Carol's key with Alice's opens the OLD vault file in
// a drill after the rekey. The auditor keeps only the old card's
// fingerprint: the three reports of the chain verify against the new vault
// file at it, the newest also from the chain it carries alone, but not
// against the old file (which does not reach its roster version); the
// drill under the replaced roster is refused as superseded. A fresh ledger
// imports the three as one vault keyed by the old fingerprint, at roster
// version 2, the rekey session saying who left and who joined; the
// superseded report and a second import of the rekey report are refused
// with the ledger unchanged. No file holds a demo secret.
func TestReportsAcrossRekeyE2E(t *testing.T) {
	t0 := time.Now()
	d := newRekeyStationTouch(t, 0)
	t.Logf("station with Dave enrolled: %s", time.Since(t0).Round(time.Millisecond))
	oldVault := d.vault
	ov, err := vault.Load(oldVault)
	if err != nil {
		t.Fatal(err)
	}
	oldFP := ov.Fingerprint()
	dir := t.TempDir()
	runbook := filepath.Join(dir, "ledger-e2e.md")
	if err := os.WriteFile(runbook, []byte(ledgerE2ERunbook), 0o600); err != nil {
		t.Fatal(err)
	}

	// Before the rekey: a drill on roster version 1.
	start := time.Now()
	r1ID, _, r1 := d.consoleSession(t, oldVault, runbook, true, "Dana Operator", "DRILL-V1", "drill before the rekey", 10000001, 10000002)
	t.Logf("drill on version 1: %s", time.Since(start).Round(time.Millisecond))

	// Carol leaves, Dave joins, with Alice and Bob.
	nv := filepath.Join(dir, "vault-v2.json")
	rk := nv + ".rekey-report.json"
	if stdout, stderr, code := d.run(t, "", d.rekeyArgs(nv, d.pinArgs(10000001, 10000002, 10000004)...)...); code != 0 {
		t.Fatalf("rekey: exit %d\n%s%s", code, stdout, stderr)
	}
	nvv, err := vault.Load(nv)
	if err != nil {
		t.Fatal(err)
	}
	newFP := nvv.Fingerprint()
	if newFP == oldFP {
		t.Fatalf("the rekeyed vault kept the fingerprint %s", oldFP)
	}

	// After the rekey: a drill on roster version 2 with Alice and Dave, and
	// one on the old file with Alice and Carol, whose key the rekey removed.
	start = time.Now()
	r2ID, _, r2 := d.consoleSession(t, nv, runbook, true, "Dana Operator", "DRILL-V2", "drill after the rekey", 10000001, 10000004)
	t.Logf("drill on version 2: %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	_, _, stale := d.consoleSession(t, oldVault, runbook, true, "Dana Operator", "DRILL-STALE", "drill on the replaced roster", 10000001, 10000003)
	t.Logf("drill on the old file with Carol: %s", time.Since(start).Round(time.Millisecond))

	// The auditor pins the OLD card's fingerprint.
	verify := func(what string, want int, args []string, wants ...string) {
		t.Helper()
		d.check(t, what, want, append([]string{"verify"}, args...), wants...)
	}
	verify("R1 (version 1) against the new vault", 0, []string{"--vault", nv, "--vault-fingerprint", oldFP, r1},
		"REPORT VERIFIED OK: session "+r1ID+" (drill)", "✓ roster in force", "pinned vault "+oldFP+"\n")
	verify("the rekey report against the new vault", 0, []string{"--vault", nv, "--vault-fingerprint", oldFP, rk},
		"REPORT VERIFIED OK", "(rekey)", "✓ rekey new roster")
	verify("R2 (version 2) against the new vault", 0, []string{"--vault", nv, "--vault-fingerprint", oldFP, r2},
		"REPORT VERIFIED OK: session "+r2ID+" (drill)", "pinned vault "+newFP+" (roster version 2, reached from the pinned version 1, "+oldFP+")")
	verify("R2 by the chain it carries", 0, []string{"--vault-fingerprint", oldFP, r2},
		"REPORT VERIFIED OK: session "+r2ID+" (drill)", "(roster version 2, reached from the pinned version 1, "+oldFP+")")
	verify("R2 against the old vault file", 1, []string{"--vault", oldVault, "--vault-fingerprint", oldFP, r2},
		"REPORT NOT VERIFIED", "signed under roster version 2", "newer than the given vault file (roster version 1", "give a newer copy of the vault file")
	verify("a drill under version 1 after the rekey", 1, []string{"--vault", nv, "--vault-fingerprint", oldFP, stale},
		"REPORT NOT VERIFIED", "✗ roster in force", "signed under roster version 1, superseded on", "by version 2 ("+newFP+")",
		"keys a rekey replaced make no new evidence")

	// A fresh ledger: the three reports, pinned at the old fingerprint with
	// the new vault file.
	led := filepath.Join(t.TempDir(), "ledger")
	out := d.check(t, "ledger import", 0, []string{"ledger", "import", "--ledger", led, "--vault-fingerprint", oldFP, "--vault", nv, r1, rk, r2},
		"imported "+r1+": session "+r1ID+" (drill)", "imported "+r2+": session "+r2ID+" (drill)")
	if n := strings.Count(out, "imported "); n != 3 {
		t.Errorf("ledger import: %d reports imported, want 3:\n%s", n, out)
	}
	st := d.ledgerStatus(t, led, time.Time{})
	if len(st.Vaults) != 1 {
		t.Fatalf("ledger status: %d vaults, want one (the chain is one vault): %+v", len(st.Vaults), st.Vaults)
	}
	v := st.Vaults[0]
	if v.Fingerprint != oldFP || v.CurrentFingerprint != newFP || v.RosterVersion != 2 || !v.Verified || v.Threshold != 2 || v.Custodians != 3 {
		t.Errorf("vault %s (current %s, roster version %d, verified %v %q, %d of %d), want %s at version 2, %s, verified, 2 of 3",
			v.Fingerprint, v.CurrentFingerprint, v.RosterVersion, v.Verified, v.Problem, v.Threshold, v.Custodians, oldFP, newFP)
	}
	if len(v.Sessions) != 3 {
		t.Errorf("%d sessions, want 3: %+v", len(v.Sessions), v.Sessions)
	}
	var modes []string
	for _, s := range v.Sessions {
		modes = append(modes, s.Mode)
		if !s.Verified {
			t.Errorf("session %s (%s) not verified: %q", s.ID, s.Mode, s.Failed)
		}
	}
	if !slices.Equal(sorted(modes), []string{"drill", "drill", "rekey"}) {
		t.Errorf("session modes %q, want two drills and a rekey", modes)
	}
	signers := func(s ledger.Session) []string {
		var ids []string
		for _, c := range s.Custodians {
			ids = append(ids, c.ID)
		}
		return sorted(ids)
	}
	if s := sessionOf(t, st, r1ID); s.RosterVersion != 1 || !slices.Equal(signers(s), []string{"alice-example", "bob-example"}) {
		t.Errorf("R1: roster version %d, custodians %q; want version 1, Alice and Bob", s.RosterVersion, signers(s))
	}
	if s := sessionOf(t, st, r2ID); s.RosterVersion != 2 || !slices.Equal(signers(s), []string{"alice-example", "dave-example"}) {
		t.Errorf("R2: roster version %d, custodians %q; want version 2, Alice and Dave", s.RosterVersion, signers(s))
	}
	for _, s := range v.Sessions {
		if s.Mode != "rekey" {
			if s.Rekey != nil {
				t.Errorf("drill %s has a rekey change %+v", s.ID, s.Rekey)
			}
			continue
		}
		k := s.Rekey
		if k == nil {
			t.Errorf("rekey session %s has no change", s.ID)
			continue
		}
		if s.RosterVersion != 1 || k.Version != 2 || k.OldFingerprint != oldFP || k.NewFingerprint != newFP ||
			!slices.Equal(k.Removed, []string{"carol-example"}) || !slices.Equal(k.Added, []string{"dave-example"}) ||
			!slices.Equal(k.KeysRemoved, []uint32{10000003}) || !slices.Equal(k.KeysAdded, []uint32{10000004}) || k.Reason != "Carol left" {
			t.Errorf("rekey session %s (signed under version %d): %+v; want carol-example (10000003) removed, dave-example (10000004) added, %s → %s version 2, \"Carol left\"",
				s.ID, s.RosterVersion, *k, oldFP, newFP)
		}
	}

	// Refused, the ledger unchanged: the drill under the replaced roster,
	// and the rekey report again.
	for _, tc := range []struct{ name, report, want string }{
		{"the drill under version 1 after the rekey", stale, "superseded"},
		{"the rekey report again", rk, "already imported"},
	} {
		before := ledgerDirSnapshot(t, led)
		d.check(t, tc.name, 1, []string{"ledger", "import", "--ledger", led, "--vault-fingerprint", oldFP, tc.report}, tc.want, "nothing was added")
		assertLedgerUnchanged(t, tc.name, before, ledgerDirSnapshot(t, led))
	}
	if st2 := d.ledgerStatus(t, led, time.Time{}); len(st2.Vaults) != 1 || len(st2.Vaults[0].Sessions) != 3 || st2.Ledger != st.Ledger {
		t.Errorf("after the refusals: %d vaults, ledger %+v (was %+v)", len(st2.Vaults), st2.Ledger, st.Ledger)
	}

	// Every directory of this test (station, demo, exports, console state,
	// ledger) and the station's own.
	assertNoSecretIn(t, filepath.Dir(dir), d.st.Dir())
	t.Logf("whole test: %s", time.Since(t0).Round(time.Millisecond))
}
