package main

import (
	"strings"
	"testing"
	"time"

	"breakglass/ledger/ledgertest"
)

// TestLedgerCLIRekey: the auditor imports the rekeyed vault file pinned at
// the old fingerprint, with the rekey report; status shows one vault, its
// current roster version and what the rekey changed.
func TestLedgerCLIRekey(t *testing.T) {
	c := newLedgerCLI(t)
	h := rekeyHome(t, c.w)
	w, v1, v2, rekeyAt := h.w, h.v1, h.v2, h.rekeyAt
	rekeyRep, err := w.RekeyReport(c.dir, v1, v2, ledgertest.Session{ID: "R-1", Start: rekeyAt.Add(-30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	after, err := w.Report(c.dir, v2, ledgertest.Session{ID: "S-9", Start: rekeyAt.Add(48 * time.Hour), Signers: []string{"bob", "dave"}})
	if err != nil {
		t.Fatal(err)
	}
	fp1, fp2 := v1.V.Fingerprint(), v2.V.Fingerprint()
	newVault := c.write("vault-v2.json", v2.Raw)
	r1, s9 := c.write("r1.jws.json", rekeyRep), c.write("s9.jws.json", after)

	c.mustRun(0, "import", "--ledger", c.led, "--vault", c.vault, "--attestation-root", c.root, c.reports["s1"])
	_, errOut := c.mustRun(1, "import", "--ledger", c.led, "--vault-fingerprint", fp1, "--attestation-root", c.root, s9)
	if !strings.Contains(errOut, "give a newer copy of the vault file") {
		t.Errorf("a version-2 report before the new vault file: %s", errOut)
	}
	out, _ := c.mustRun(0, "import", "--ledger", c.led, "--vault", newVault, "--vault-fingerprint", fp1, "--attestation-root", c.root, r1, s9)
	if strings.Count(out, "imported ") != 2 || !strings.Contains(out, "session R-1 (rekey)") {
		t.Errorf("import output: %s", out)
	}
	status, _ := c.mustRun(0, "status", "--ledger", c.led, "--attestation-root", c.root)
	for _, want := range []string{
		"\nVault " + fp1 + " (roster verified): 2 of 3 custodians, vault files imported: 2\n",
		"  rekeyed: now roster version 2, fingerprint " + fp2 + "\n",
		"R-1  rekey  verified NON-PRODUCTION",
		"    rekey: roster version 2, " + fp1 + " → " + fp2 + ": +dave −carol; keys +10000004 −10000003; threshold 2→2; vault key new; reason: carol left\n",
		"    signed under roster version 2\n",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if strings.Count(status, "\nVault ") != 1 {
		t.Errorf("the rekeyed vault is not one vault in the status:\n%s", status)
	}
	// A vault file alone: recorded with its roster version.
	l2 := c.led + "-2"
	out, _ = c.mustRun(0, "import", "--ledger", l2, "--vault", newVault, "--attestation-root", c.root)
	if !strings.Contains(out, "imported vault "+fp2+" (roster version 2 of vault "+fp1+")") {
		t.Errorf("vault import output: %s", out)
	}
}
