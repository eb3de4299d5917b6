package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/announce"
	"breakglass/ledger"
	"breakglass/vault"
)

// ledgerE2ERunbook is one step revealing the password the test vault seals.
const ledgerE2ERunbook = `---
title: Ledger end-to-end
version: 1
---

## signin: Sign in as root

Type the root password shown here into the console.

- Reveal: aws-root-password
`

// consoleSession drives one whole console session on the station, live or
// drill, through to its exported signed report. The quorum is the keys
// given (two serials), or else the first two the console selects. It
// returns the session id, the announce code on screen and the report's path.
func (d *demoStation) consoleSession(t *testing.T, vaultPath, runbook string, drill bool, operator, ticket, broke string, keys ...uint32) (id, code, report string) {
	t.Helper()
	state, export := t.TempDir(), t.TempDir()
	args := []string{d.bin, "console", "--vault", vaultPath, "--runbook", runbook, "--state-dir", state, "--export", export, "--attestation-root", d.root}
	if drill {
		args = append(args, "--drill")
	}
	c := d.startTmux(t, 80, 24, args...)
	c.passPreflight()
	code = c.declare(operator, ticket, broke)
	if len(keys) == 0 {
		first := c.countCustodian(d)
		c.countCustodian(d, first)
	} else {
		var counted []string
		for _, k := range keys {
			counted = append(counted, c.countKey(d, k, counted...))
		}
	}
	c.waitFor("Runbook — step 1 of 1", wait)
	c.selectItem("aws-root-password")
	c.keys("v")
	if drill {
		c.waitFor("✓ aws-root-password  decrypts and parses", wait)
	} else {
		c.waitFor("[SHOWN] aws-root-password", wait)
	}
	deadline := time.Now().Add(wait)
	for !strings.HasPrefix(nextLine(c.screen()), "press n to complete step 1") {
		if time.Now().After(deadline) {
			t.Fatalf("step 1 never became completable:\n%s", c.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.keys("n")
	c.closeOut()
	c.waitFor("Signatures  0 of 2 signed", wait)
	c.readSummary()
	for i := 1; i <= 2; i++ {
		m := c.waitMatch(reSignPIN)
		serial, _ := strconv.ParseUint(m[2], 10, 32)
		c.typeText(d.pins[uint32(serial)])
		c.keys("Enter")
		c.waitFor("Signatures  "+strconv.Itoa(i)+" of 2 signed", wait)
	}
	c.waitExportField(export)
	c.keys("Enter")
	c.waitFor("✓ Written:", wait)
	c.keys("Enter")
	c.waitFor("Session locked. Secrets wiped", wait)
	c.keys("q")
	if code := c.exitCode(wait); code != 0 {
		t.Fatalf("console exit %d:\n%s", code, c.scrollback())
	}
	sm := regexp.MustCompile(`Session (\S+) locked\. Secrets wiped\.`).FindStringSubmatch(c.scrollback())
	reports, _ := filepath.Glob(filepath.Join(export, "*.jws.json"))
	if sm == nil || len(reports) != 1 {
		t.Fatalf("session did not lock with one report (reports %v):\n%s", reports, c.scrollback())
	}
	return sm[1], code, reports[0]
}

// ledgerStatus runs "ledger status --json" (with --now when at is not
// zero) and decodes it.
func (d *demoStation) ledgerStatus(t *testing.T, led string, at time.Time) ledger.Status {
	t.Helper()
	args := []string{"ledger", "status", "--ledger", led, "--attestation-root", d.root, "--json"}
	if !at.IsZero() {
		args = append(args, "--now", at.UTC().Format(time.RFC3339))
	}
	out, errOut, code := d.run(t, "", args...)
	var st ledger.Status
	if code != 0 {
		t.Fatalf("ledger status: exit %d\n%s%s", code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ledger status --json: %v\n%s", err, out)
	}
	return st
}

// openItems is "KIND SESSION SECRET" of every open item, sorted.
func openItems(st ledger.Status) []string {
	var out []string
	for _, it := range st.OpenItems {
		out = append(out, strings.TrimSpace(it.Kind+" "+it.Session+" "+it.Secret))
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// sameSecond compares two RFC 3339 times to the second.
func sameSecond(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && ta.Truncate(time.Second).Equal(tb.Truncate(time.Second))
}

func sessionOf(t *testing.T, st ledger.Status, id string) ledger.Session {
	t.Helper()
	for _, v := range st.Vaults {
		for _, s := range v.Sessions {
			if s.ID == id {
				return s
			}
		}
	}
	t.Fatalf("status has no session %s", id)
	return ledger.Session{}
}

// TestLedgerE2E is the auditor's side of real uses: a live session that
// reveals the password and a drill, both run on the console through the
// station and exported signed on the custodians' keys, imported into a
// fresh ledger by the binary; then the open items as "status --json"
// reports them close one by one: the announcement entered, the password
// rotated on a YubiKey and the new vault imported, the live session
// reviewed on an enrolled reviewer's YubiKey, the drill reviewed unsigned;
// the drill becomes overdue after the vault's signed 7-day interval; a
// report altered by one byte, a report pinned to another vault, a duplicate
// and reviews by a key not enrolled are refused with the ledger directory
// byte-for-byte unchanged.
func TestLedgerE2E(t *testing.T) {
	t0 := time.Now()
	d := newDemoStation(t, 0)
	t.Logf("station and demo-setup.sh: %s", time.Since(t0).Round(time.Millisecond))
	pin := func(serial uint32) string {
		return fmt.Sprintf("%d=%s", serial, filepath.Join(d.dir, "pins", fmt.Sprintf("%d.pin", serial)))
	}
	mustRun := func(stdin string, want int, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := d.run(t, stdin, args...)
		if code != want {
			t.Fatalf("breakglass %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out, errOut
	}

	// The sessions' vault: the demo custodians, a signed drill interval of
	// 7 days, the password sealed by Alice. The demo's vault.json (same
	// custodians, 90 days) is "another vault".
	v7 := filepath.Join(d.dir, "vault-7d.json")
	cust := filepath.Join(d.dir, "custodians")
	mustRun("", 0, "vault", "init", "--threshold", "2", "--drill-interval", "7", "--out", v7, "--attestation-root", d.root,
		"--pin-file", pin(10000001), "--pin-file", pin(10000002), "--pin-file", pin(10000003),
		filepath.Join(cust, "alice-example.custodian.json"), filepath.Join(cust, "bob-example.custodian.json"), filepath.Join(cust, "carol-example.custodian.json"))
	mustRun("Ledger-E2E-Pa55word!\n", 0, "seal", "--vault", v7, "--name", "aws-root-password", "--kind", "password",
		"--serial", "10000001", "--pin-file", pin(10000001), "--attestation-root", d.root)
	vv, err := vault.Load(v7)
	if err != nil {
		t.Fatal(err)
	}
	fp := vv.Fingerprint()
	runbook := filepath.Join(t.TempDir(), "ledger-e2e.md")
	if err := os.WriteFile(runbook, []byte(ledgerE2ERunbook), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Logf("vault init and seal done %s after the start", time.Since(t0).Round(time.Millisecond))
	consoleStart := time.Now()
	live, liveCode, liveReport := d.consoleSession(t, v7, runbook, false, "Dana Operator", "INC-5151", "SSO outage: IdP down")
	drill, _, drillReport := d.consoleSession(t, v7, runbook, true, "Dana Operator", "DRILL-Q4", "quarterly drill")
	t.Logf("two console sessions: %s", time.Since(consoleStart).Round(time.Millisecond))

	// A fresh ledger: the live report pinned by the vault file, the drill
	// by the fingerprint on the custodian card.
	ledgerStart := time.Now()
	led := filepath.Join(t.TempDir(), "ledger")
	out, _ := mustRun("", 0, "ledger", "import", "--ledger", led, "--vault", v7, "--attestation-root", d.root, liveReport)
	if !strings.Contains(out, "session "+live+" (live), announce code "+liveCode) {
		t.Errorf("import of the live report: %s", out)
	}

	// Refusals leave the directory byte-for-byte as it was.
	altered := filepath.Join(t.TempDir(), "altered.jws.json")
	b, err := os.ReadFile(liveReport)
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(string(b), `"payload":"`) + len(`"payload":"`) + 200
	if b[at] == 'A' {
		b[at] = 'B'
	} else {
		b[at] = 'A'
	}
	if err := os.WriteFile(altered, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a report altered by one byte", []string{"--vault-fingerprint", fp, altered}, "does not verify"},
		{"the drill report pinned to another vault", []string{"--vault", d.vault, drillReport}, "belongs to another vault"},
		{"the live report again", []string{"--vault-fingerprint", fp, liveReport}, "already imported"},
		{"the live report again, by the vault file", []string{"--vault", v7, liveReport}, "already imported"},
	} {
		before := ledgerDirSnapshot(t, led)
		_, errOut := mustRun("", 1, append([]string{"ledger", "import", "--ledger", led, "--attestation-root", d.root}, tc.args...)...)
		if !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "nothing was added") {
			t.Errorf("%s: %s", tc.name, errOut)
		}
		assertLedgerUnchanged(t, tc.name, before, ledgerDirSnapshot(t, led))
	}

	out, _ = mustRun("", 0, "ledger", "import", "--ledger", led, "--vault-fingerprint", fp, "--attestation-root", d.root, drillReport)
	if !strings.Contains(out, "session "+drill+" (drill)") {
		t.Errorf("import of the drill report: %s", out)
	}
	before := ledgerDirSnapshot(t, led)
	if _, errOut := mustRun("", 1, "ledger", "import", "--ledger", led, "--vault", v7, "--attestation-root", d.root, drillReport); !strings.Contains(errOut, "already imported") {
		t.Errorf("the drill report again: %s", errOut)
	}
	assertLedgerUnchanged(t, "the drill report again", before, ledgerDirSnapshot(t, led))

	st := d.ledgerStatus(t, led, time.Time{})
	want := []string{
		"report-without-announce " + drill, "report-without-announce " + live,
		"unreviewed " + drill, "unreviewed " + live,
		"unrotated " + live + " aws-root-password",
	}
	if got := openItems(st); !slices.Equal(got, sorted(want)) {
		t.Errorf("open items after import:\n got %q\nwant %q", got, want)
	}
	if len(st.Vaults) != 1 || st.Vaults[0].Fingerprint != fp || st.Vaults[0].DrillInterval != 7 || st.Vaults[0].DrillSource != "the vault's signed policy" {
		t.Fatalf("vaults %+v, want %s with the signed 7-day drill interval", st.Vaults, fp)
	}
	ls, ds := sessionOf(t, st, live), sessionOf(t, st, drill)
	if !ls.Verified || ls.Mode != "live" || len(ls.Revealed) != 1 || ls.Revealed[0].Mode != "show" || ls.AnnounceCode != liveCode {
		t.Errorf("live session %+v", ls)
	}
	if !ds.Verified || ds.Mode != "drill" || ds.Outcome != "completed" || len(ds.Revealed) != 1 || ds.Revealed[0].Mode != "check" || !sameSecond(st.Vaults[0].LastDrill, ds.Ended) {
		t.Errorf("drill session %+v, last drill %s", ds, st.Vaults[0].LastDrill)
	}

	// The announcement the on-call took, and a code nobody's report has.
	stray := announce.Derive(announce.Declaration{Session: "S-nowhere", VaultFingerprint: fp, Operator: "x", Ticket: "y", WhatBroke: "z"}).String()
	mustRun("", 0, "ledger", "announce", "--ledger", led, "--code", liveCode, "--by", "Sam On-call")
	mustRun("", 0, "ledger", "announce", "--ledger", led, "--code", stray, "--by", "Sam On-call")
	before = ledgerDirSnapshot(t, led)
	typo := liveCode[:1] + map[bool]string{true: "0", false: "1"}[liveCode[1] != '0'] + liveCode[2:]
	if _, errOut := mustRun("", 1, "ledger", "announce", "--ledger", led, "--code", typo, "--by", "Sam"); !strings.Contains(errOut, "ask for the code again") {
		t.Errorf("mistyped code: %s", errOut)
	}
	assertLedgerUnchanged(t, "a mistyped code", before, ledgerDirSnapshot(t, led))
	st = d.ledgerStatus(t, led, time.Time{})
	if got := sessionOf(t, st, live).AnnouncedBy; got != "Sam On-call" {
		t.Errorf("live session announced by %q", got)
	}
	want = []string{
		"announce-without-report", "report-without-announce " + drill,
		"unreviewed " + drill, "unreviewed " + live,
		"unrotated " + live + " aws-root-password",
	}
	if got := openItems(st); !slices.Equal(got, sorted(want)) {
		t.Errorf("open items after the announcements:\n got %q\nwant %q", got, want)
	}

	// The password is rotated on Bob's key and the new vault file imported.
	mustRun("Ledger-E2E-Rotated#2\n", 0, "seal", "--vault", v7, "--name", "aws-root-password", "--kind", "password",
		"--serial", "10000002", "--pin-file", pin(10000002), "--attestation-root", d.root)
	mustRun("", 0, "ledger", "import", "--ledger", led, "--vault", v7, "--attestation-root", d.root)
	st = d.ledgerStatus(t, led, time.Time{})
	if rv := sessionOf(t, st, live).Revealed; len(rv) != 1 || rv[0].RotatedAt == "" {
		t.Errorf("after the rotation the reveal is %+v, want rotated", rv)
	}
	want = []string{"announce-without-report", "report-without-announce " + drill, "unreviewed " + drill, "unreviewed " + live}
	if got := openItems(st); !slices.Equal(got, sorted(want)) {
		t.Errorf("open items after the rotation:\n got %q\nwant %q", got, want)
	}

	// Carol is enrolled as a reviewer from her enrolment record; Alice's key
	// is not a reviewer's.
	mustRun("", 0, "ledger", "reviewer", "add", "--ledger", led, "--attestation-root", d.root, filepath.Join(cust, "carol-example.custodian.json"))
	review := func(session string, serial uint32) []string {
		return []string{"ledger", "review", "--ledger", led, session, "--serial", fmt.Sprint(serial), "--pin-file", pin(serial),
			"--attestation-root", d.root, "--decision", "accepted", "--note", "justified by INC-5151; password rotated"}
	}
	before = ledgerDirSnapshot(t, led)
	if _, errOut := mustRun("", 1, review(live, 10000001)...); !strings.Contains(errOut, "not enrolled as a reviewer") {
		t.Errorf("review on a key not enrolled: %s", errOut)
	}
	assertLedgerUnchanged(t, "a review on a key not enrolled", before, ledgerDirSnapshot(t, led))
	out, errOut := mustRun("", 0, review(live, 10000003)...)
	if !strings.Contains(out, "signed on YubiKey 10000003; signature verified") || !strings.Contains(errOut, "Touch your YubiKey now (serial 10000003)") {
		t.Errorf("signed review:\n%s%s", out, errOut)
	}
	mustRun("", 0, "ledger", "review", "--ledger", led, drill, "--reviewer", "Rita R.", "--decision", "accepted", "--note", "drill passed")

	st = d.ledgerStatus(t, led, time.Time{})
	if r := sessionOf(t, st, live).Review; r == nil || !r.Signed || r.SignedBy == nil || r.SignedBy.ID != "carol-example" || r.Reviewer != "Carol Example" {
		t.Errorf("live review %+v, want signed by carol-example", r)
	}
	if r := sessionOf(t, st, drill).Review; r == nil || r.Signed || r.Flag != ledger.FlagUnsigned {
		t.Errorf("drill review %+v, want %q", r, ledger.FlagUnsigned)
	}
	want = []string{"announce-without-report", "report-without-announce " + drill}
	if got := openItems(st); !slices.Equal(got, sorted(want)) {
		t.Errorf("open items after the reviews:\n got %q\nwant %q", got, want)
	}

	// Seven days after the drill the next one is due; a day later it is overdue.
	ended, err := time.Parse(time.RFC3339Nano, st.Vaults[0].LastDrill)
	if err != nil {
		t.Fatal(err)
	}
	due := ended.Add(7 * 24 * time.Hour)
	if st.Vaults[0].DrillDue != due.UTC().Format(time.RFC3339) {
		t.Errorf("drill due %s, want %s (7 days after %s)", st.Vaults[0].DrillDue, due.UTC().Format(time.RFC3339), st.Vaults[0].LastDrill)
	}
	if got := openItems(d.ledgerStatus(t, led, due.Add(-time.Hour))); slices.Contains(got, "drill-overdue") {
		t.Errorf("drill overdue before it is due: %q", got)
	}
	st = d.ledgerStatus(t, led, due.Add(24*time.Hour))
	want = []string{"announce-without-report", "drill-overdue", "report-without-announce " + drill}
	if got := openItems(st); !slices.Equal(got, sorted(want)) {
		t.Errorf("open items a day after the drill was due:\n got %q\nwant %q", got, want)
	}
	if st.Generated != due.Add(24*time.Hour).UTC().Format(time.RFC3339) {
		t.Errorf("status generated %s, want the --now time", st.Generated)
	}
	if _, errOut := mustRun("", 2, "ledger", "status", "--ledger", led, "--now", "next tuesday"); !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("--now with a bad time: %s", errOut)
	}

	// The export carries the signed review, verified.
	out, _ = mustRun("", 0, "ledger", "export", "--ledger", led, "--attestation-root", d.root, "--format", "jsonl")
	if !strings.Contains(out, `(signed by carol-example on YubiKey 10000003)","ledger_entry"`) || !strings.Contains(out, `"event":"reviewer.enrolled"`) {
		t.Errorf("export lacks the signed review or the reviewer:\n%s", out)
	}
	t.Logf("ledger commands: %s (whole test %s)", time.Since(ledgerStart).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	assertNoSecretsUnder(t, led)
	for _, sec := range []string{"Ledger-E2E-Pa55word!", "Ledger-E2E-Rotated#2"} {
		if strings.Contains(out, sec) {
			t.Errorf("export holds secret %q", sec)
		}
	}
}
