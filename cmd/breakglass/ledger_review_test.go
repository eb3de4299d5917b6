package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/ledger"
)

// ledgerDirSnapshot is every file under dir and its content.
func ledgerDirSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		m[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func assertLedgerUnchanged(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s: the ledger has %d files, had %d", what, len(after), len(before))
	}
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s changed %s", what, p)
		}
	}
}

// TestLedgerSignedReviewCLI: a reviewer enrolled from the file "breakglass
// enrol" wrote signs a review on their (in-process virtual) YubiKey; a key
// not enrolled, a wrong PIN, a name that is not the key's holder and a key
// regenerated since enrolment are refused with the ledger unchanged.
func TestLedgerSignedReviewCLI(t *testing.T) {
	c := newLedgerCLI(t)
	k := newVTKeys(t, 15000001, 15000002)
	files := k.enrolAll(t, map[uint32]string{15000001: "Rita Reviewer", 15000002: "Una Enrolled"})
	c.mustRun(0, "import", "--ledger", c.led, "--vault", c.vault, "--attestation-root", c.root, c.reports["s1"], c.reports["d1"])

	_, errOut := c.mustRun(1, "reviewer", "add", "--ledger", c.led, files[0])
	if !strings.Contains(errOut, "refused reviewer") || !strings.Contains(errOut, "nothing was added") {
		t.Errorf("reviewer add without the TEST root: %s", errOut)
	}
	out, _ := c.mustRun(0, "reviewer", "add", "--ledger", c.led, "--attestation-root", k.root, files[0])
	if !strings.Contains(out, "enrolled reviewer Rita Reviewer (rita-reviewer), YubiKey 15000001") {
		t.Errorf("reviewer add: %s", out)
	}
	_, errOut = c.mustRun(1, "reviewer", "add", "--ledger", c.led, "--attestation-root", k.root, files[0])
	if !strings.Contains(errOut, "already imported") {
		t.Errorf("reviewer added twice: %s", errOut)
	}
	c.mustRun(2, "reviewer", "remove", "--ledger", c.led)

	review := func(serial uint32, pinFile string, extra ...string) []string {
		return append([]string{"review", "--ledger", c.led, "S-1", "--serial", fmt.Sprint(serial), "--pin-file", fmt.Sprintf("%d=%s", serial, pinFile),
			"--attestation-root", k.root, "--decision", "accepted", "--note", "justified by INC-S-1"}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a key enrolled by breakglass enrol but not as a reviewer", review(15000002, k.pinFile(t, 15000002)), "not enrolled as a reviewer"},
		{"a wrong PIN", review(15000001, k.pinFile(t, 15000001, "999999")), "wrong PIN"},
		{"a name that is not the key's holder", review(15000001, k.pinFile(t, 15000001), "--reviewer", "Mallory"), "enrolled to reviewer Rita Reviewer"},
	} {
		before := ledgerDirSnapshot(t, c.led)
		_, errOut := c.mustRun(1, tc.args...)
		if !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: %s", tc.name, errOut)
		}
		assertLedgerUnchanged(t, tc.name, before, ledgerDirSnapshot(t, c.led))
	}

	out, _ = c.mustRun(0, review(15000001, k.pinFile(t, 15000001))...)
	if !strings.Contains(out, "signed on YubiKey 15000001; signature verified") {
		t.Errorf("signed review: %s", out)
	}
	c.mustRun(0, "review", "--ledger", c.led, "D-1", "--reviewer", "Rita", "--decision", "accepted", "--note", "drill fine")

	out, _ = c.mustRun(0, "status", "--ledger", c.led, "--attestation-root", k.root, "--json")
	var st ledger.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	reviews := map[string]*ledger.ReviewStatus{}
	for _, s := range st.Vaults[0].Sessions {
		reviews[s.ID] = s.Review
	}
	if r := reviews["S-1"]; r == nil || !r.Signed || r.SignedBy == nil || r.SignedBy.ID != "rita-reviewer" || r.Reviewer != "Rita Reviewer" {
		t.Errorf("S-1 review %+v, want signed by rita-reviewer", r)
	}
	if r := reviews["D-1"]; r == nil || r.Signed || r.Flag != ledger.FlagUnsigned {
		t.Errorf("D-1 review %+v, want %q", r, ledger.FlagUnsigned)
	}
	human, _ := c.mustRun(0, "status", "--ledger", c.led, "--attestation-root", k.root)
	for _, want := range []string{"Reviewer Rita Reviewer (rita-reviewer), YubiKey 15000001", "(signed on YubiKey 15000001, signature verified)", "(unsigned review)"} {
		if !strings.Contains(human, want) {
			t.Errorf("status lacks %q:\n%s", want, human)
		}
	}

	// The key is reset and its signing key regenerated: refused before any PIN.
	again := filepath.Join(k.dir, "again")
	if err := os.Mkdir(again, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, o, e := breakglass(t, "", "enrol", "--name", "Rita Again", "--serial", "15000001", "--replace-sign-key",
		"--pin-file", k.pinFile(t, 15000001), "--out", again, "--attestation-root", k.root); code != 0 {
		t.Fatalf("re-enrol: exit %d\n%s%s", code, o, e)
	}
	before := ledgerDirSnapshot(t, c.led)
	_, errOut = c.mustRun(1, review(15000001, k.pinFile(t, 15000001))...)
	if !strings.Contains(errOut, "does not hold the key reviewer rita-reviewer enrolled") {
		t.Errorf("regenerated key: %s", errOut)
	}
	assertLedgerUnchanged(t, "a regenerated key", before, ledgerDirSnapshot(t, c.led))
}
