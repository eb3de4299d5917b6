package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/hardware/vyk"
	"breakglass/vault"
)

// TestVaultInspectRekeyed: after a rekey (carol removed, dave added by
// alice and bob), inspect shows the roster history, follows the chain to a
// pinned fingerprint of either version, refuses a forged link naming it,
// and flags the new shares until a passed each drill newer than the rekey.
func TestVaultInspectRekeyed(t *testing.T) {
	h := newRekeyedHome(t)
	w, v1, v2, dave, rekeyAt := h.w, h.v1, h.v2, h.dave, h.rekeyAt
	forged, err := w.Rekey(v1, vault.RekeyRequest{Add: []vault.Custodian{dave}, Remove: []string{"alice", "carol"}, Reason: "takeover", Now: rekeyAt},
		[]string{"alice", "bob"}, "bob", "dave")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := write("root.pem", vyk.TestRootPEM())
	path := write("vault-v2.json", v2.Raw)
	fp1, fp2 := v1.V.Fingerprint(), v2.V.Fingerprint()
	inspect := func(wantCode int, args ...string) string {
		t.Helper()
		code, stdout, stderr := breakglass(t, "", append([]string{"vault", "inspect", "--attestation-root", root}, args...)...)
		if code != wantCode {
			t.Fatalf("vault inspect %v: exit %d, want %d\n%s%s", args, code, wantCode, stdout, stderr)
		}
		return stdout
	}
	wantAll := func(out string, want ...string) {
		t.Helper()
		for _, s := range want {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
	newShares := "every custodian of the new roster must prove their new share: run breakglass vault check --each"

	for _, pin := range []string{fp1, fp2} {
		out := inspect(0, path, "--vault-fingerprint", pin)
		wantAll(out,
			"Chain        ✓ roster version 2; each version endorsed by a quorum of the one before",
			"Roster history (2 versions)",
			"  v1  2026-01-01  "+fp1+"  2 of 3  signed by alice, bob, carol\n",
			"  v2  2026-03-01  "+fp2+"  2 of 3  signed by alice, bob, dave; endorsed by alice, bob of v1; +dave −carol; keys +10000004 −10000003; threshold 2→2; identity new; reason: carol left\n",
			"rekeyed on 2026-03-01 (roster version 2): "+newShares)
	}
	wantAll(inspect(0, path, "--vault-fingerprint", fp1), "Pinned       ✓ "+fp1+" is roster version 1; version 2 endorsed by a quorum of version 1")
	wantAll(inspect(0, path, "--vault-fingerprint", fp2), "Pinned       ✓ "+fp2+" is this roster (version 2)")

	var r inspectReport
	if err := json.Unmarshal([]byte(inspect(0, "--json", path, "--vault-fingerprint", strings.ToLower(v1.V.RosterDigestHex()))), &r); err != nil {
		t.Fatal(err)
	}
	if r.RosterVersion != 2 || len(r.History) != 2 || r.History[0].Change != nil || r.History[1].Change == nil ||
		strings.Join(r.History[1].Change.Removed, ",") != "carol" || strings.Join(r.History[1].EndorsedBy, ",") != "alice,bob" ||
		r.History[1].Change.Identity != "new" || !r.NewSharesUnproven || r.Pin == nil || !r.Pin.Reached || r.Pin.Version != 1 {
		t.Errorf("JSON report: version %d, history %+v, new shares unproven %v, pin %+v", r.RosterVersion, r.History, r.NewSharesUnproven, r.Pin)
	}
	for _, field := range []string{`"roster_history"`, `"signed_by"`, `"endorsed_by"`, `"keys_removed"`, `"threshold_from"`, `"new_shares_unproven": true`, `"reached": true`} {
		if out := inspect(0, "--json", path, "--vault-fingerprint", fp1); !strings.Contains(out, field) {
			t.Errorf("JSON lacks %s", field)
		}
	}

	// Another vault's fingerprint: not reached.
	out := inspect(1, path, "--vault-fingerprint", w.Other.V.Fingerprint())
	wantAll(out, "Pinned       ✗ DOES NOT REACH "+w.Other.V.Fingerprint()+": no version of this vault's roster chain ("+fp1+", "+fp2+")")
	// A forged link (version 2 signed by its members, endorsed by one old custodian).
	fpath := write("forged.json", forged.Raw)
	out = inspect(1, fpath, "--vault-fingerprint", fp1)
	wantAll(out, "Roster       ✗ DOES NOT VERIFY: roster version 2 ("+forged.V.Fingerprint()+")", "endorsed by 1 custodians of version 1, 2 needed",
		"Pinned       ✗ DOES NOT REACH "+fp1+": the roster chain does not verify")
	// A malformed fingerprint is a usage error.
	inspect(2, path, "--vault-fingerprint", "ABCD")

	// An each drill before the rekey proves nothing; one after clears the flag.
	v, err := vault.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	v.RecordDrill(vault.Drill{At: rekeyAt.Add(-time.Hour), Kind: vault.DrillEach, Custodians: []string{"alice", "bob", "carol"}, Passed: true})
	if err := v.Save(path); err != nil {
		t.Fatal(err)
	}
	wantAll(inspect(0, path), newShares)
	v.RecordDrill(vault.Drill{At: rekeyAt.Add(time.Hour), Kind: vault.DrillEach, Custodians: []string{"alice", "bob", "dave"}, Passed: false})
	if err := v.Save(path); err != nil {
		t.Fatal(err)
	}
	wantAll(inspect(0, path), newShares)
	v.RecordDrill(vault.Drill{At: rekeyAt.Add(2 * time.Hour), Kind: vault.DrillEach, Custodians: []string{"alice", "bob", "dave"}, Passed: true})
	if err := v.Save(path); err != nil {
		t.Fatal(err)
	}
	if out := inspect(0, path); strings.Contains(out, newShares) {
		t.Errorf("the flag stays after a passed each drill:\n%s", out)
	}
}
