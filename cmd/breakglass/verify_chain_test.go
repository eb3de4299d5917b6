package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/hardware/vyk"
	"breakglass/ledger/ledgertest"
)

// TestVerifyRosterChain: breakglass verify follows the roster chain from
// the old card's fingerprint, checks a rekey report, and refuses a report
// made under a roster after it was replaced.
func TestVerifyRosterChain(t *testing.T) {
	h := newRekeyedHome(t)
	dir := t.TempDir()
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := write("root.pem", vyk.TestRootPEM())
	v2file := write("vault-v2.json", h.v2.Raw)
	before := write("before.jws", must(h.w.Report(dir, h.v1, ledgertest.Session{ID: "S-1", Start: h.rekeyAt.Add(-48 * time.Hour)})))
	after := write("after.jws", must(h.w.Report(dir, h.v2, ledgertest.Session{ID: "S-2", Start: h.rekeyAt.Add(48 * time.Hour), Signers: []string{"bob", "dave"}})))
	late := write("late.jws", must(h.w.Report(dir, h.v1, ledgertest.Session{ID: "S-3", Start: h.rekeyAt.Add(time.Hour), Signers: []string{"alice", "carol"}})))
	rekey := write("rekey.jws", must(h.w.RekeyReport(dir, h.v1, h.v2, ledgertest.Session{ID: "R-1", Start: h.rekeyAt.Add(-30 * time.Minute)})))
	fp1, fp2 := h.v1.V.Fingerprint(), h.v2.V.Fingerprint()
	verify := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := breakglass(t, "", append([]string{"verify", "--attestation-root", root}, args...)...)
		if code != want {
			t.Fatalf("verify %v: exit %d, want %d\n%s%s", args, code, want, stdout, stderr)
		}
		return stdout
	}
	has := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	has(verify(0, "--vault-fingerprint", fp1, "--vault", v2file, before),
		"✓ pinned roster: report signed under roster version 1 ("+fp1+"); pinned version 1 ("+fp1+"); vault file at version 2, chain verified",
		"✓ roster in force: signed under roster version 1, superseded on 2026-03-01T12:00:00Z by version 2, after the session started")
	has(verify(0, "--vault-fingerprint", fp1, after),
		"✓ embedded roster chain: 2 roster versions",
		"✓ pinned roster: report signed under roster version 2 ("+fp2+"); pinned version 1 ("+fp1+")",
		"REPORT VERIFIED OK", "(roster version 2, reached from the pinned version 1, "+fp1+")")
	has(verify(0, "--vault-fingerprint", fp1, rekey),
		"✓ rekey new roster: version 2 ("+fp2+") names version 1 ("+fp1+")",
		"✓ rekey new roster digest: ", "✓ rekey change: ", "✓ rekey matches journal: ", "session R-1 (rekey)")
	has(verify(1, "--vault", v2file, late),
		"✗ roster in force: signed under roster version 1, superseded on 2026-03-01T12:00:00Z by version 2", "REPORT NOT VERIFIED")
	// The same, as JSON.
	var v struct {
		OK          bool `json:"ok"`
		RosterChain *struct {
			SignedUnder  int `json:"signed_under"`
			Pinned       int `json:"pinned_version"`
			VaultVersion int `json:"vault_version"`
		} `json:"roster_chain"`
		Failed []string `json:"failed"`
	}
	if err := json.Unmarshal([]byte(verify(1, "--vault", v2file, "--json", late)), &v); err != nil {
		t.Fatal(err)
	}
	if v.OK || strings.Join(v.Failed, ",") != "roster in force" || v.RosterChain == nil || v.RosterChain.SignedUnder != 1 || v.RosterChain.Pinned != 2 || v.RosterChain.VaultVersion != 2 {
		t.Errorf("JSON verdict of the late report: %+v %+v", v, v.RosterChain)
	}
}
