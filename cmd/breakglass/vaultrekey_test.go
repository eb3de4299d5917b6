package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"breakglass/audit"
	"breakglass/internal/attest"
	"breakglass/internal/events"
	"breakglass/ledger"
	"breakglass/vault"
)

// newRekeyVT is the in-process bench with a sealed 2-of-3 vault (Alice,
// Bob, Carol on 10000001-3) and Dave enrolled on 10000004, not on the
// roster; it returns Dave's custodian file.
func newRekeyVT(t *testing.T, extra ...uint32) (*vtKeys, string, string) {
	t.Helper()
	k, path := sealedVTVault(t, append([]uint32{10000004}, extra...)...)
	return k, path, k.enrolOne(t, 10000004, "Dave Example", "dave")
}

// enrolOne enrols name on serial into k.dir/sub and returns the file.
func (k *vtKeys) enrolOne(t *testing.T, serial uint32, name, sub string) string {
	t.Helper()
	k.changePINs(t, serial)
	out := filepath.Join(k.dir, sub)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := breakglass(t, "", "enrol", "--name", name, "--serial", fmt.Sprint(serial),
		"--pin-file", k.pinFile(t, serial), "--out", out, "--attestation-root", k.root)
	if code != 0 {
		t.Fatalf("enrol %s: exit %d\n%s%s", name, code, stdout, stderr)
	}
	return filepath.Join(out, strings.ToLower(strings.ReplaceAll(name, " ", "-"))+".custodian.json")
}

// rekeyVTArgs is a scripted rekey of path to out with the keys' PIN files.
func (k *vtKeys) rekeyVTArgs(t *testing.T, path, out string, serials []uint32, change ...string) []string {
	args := append([]string{"vault", "rekey", "--vault", path, "--out", out, "--operator", "Olivia Operator",
		"--attestation-root", k.root, "--serials", joinComma(serials)}, change...)
	for _, s := range serials {
		args = append(args, k.pinFlag(t, s)...)
	}
	return args
}

func joinComma(s []uint32) string {
	var out []string
	for _, n := range s {
		out = append(out, fmt.Sprint(n))
	}
	return strings.Join(out, ",")
}

// mustRekey runs a rekey that must succeed and returns its stdout.
func mustRekey(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, stdout, stderr := breakglass(t, stdin, args...)
	if code != 0 {
		t.Fatalf("rekey: exit %d\n%s%s", code, stdout, stderr)
	}
	return stdout
}

// drill runs vault check on path with the keys, returning the exit code.
func (k *vtKeys) drill(t *testing.T, path string, serials ...uint32) (int, string) {
	t.Helper()
	code, stdout, stderr := breakglass(t, "", append(checkArgs(k, t, path, serials...), "--serials", joinComma(serials))...)
	return code, stdout + stderr
}

func TestVaultRekeyRemoveAndAdd(t *testing.T) {
	k, path, dave := newRekeyVT(t)
	before, _ := os.ReadFile(path)
	oldV, err := vault.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(k.dir, "v2.json")
	stdout := mustRekey(t, "", k.rekeyVTArgs(t, path, out, []uint32{10000001, 10000002, 10000004},
		"--remove", "carol-example", "--add", dave, "--reason", "Carol left")...)
	assertFileUnchanged(t, path, before)
	for _, want := range []string{"NEW VAULT IDENTITY", "endorsed by 2 of 2 needed", "New vault identity: every secret re-encrypted",
		"Old fingerprint: " + oldV.Fingerprint(), "breakglass vault check --each " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, q := range [][]uint32{{10000001, 10000004}, {10000002, 10000004}, {10000001, 10000002}} {
		if code, o := k.drill(t, out, q...); code != 0 {
			t.Errorf("drill with %v: exit %d\n%s", q, code, o)
		}
	}
	if code, o := k.drill(t, out, 10000003, 10000001); code != 2 || !strings.Contains(o, "YubiKey 10000003 is not on the roster") {
		t.Errorf("Carol's key on the new vault: exit %d\n%s", code, o)
	}

	// The journal: the console's event sequence, MACs from the quorum on.
	entries, err := audit.ReadFile(out + ".rekey.journal")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range entries {
		types = append(types, e.Type)
		if !events.Unkeyed(e.Type) && e.MAC == "" {
			t.Errorf("entry %d (%s) has no MAC", e.Seq, e.Type)
		}
	}
	want := []string{events.JournalCreated, events.StationInfo, events.ProcessGuards, events.SessionStarted, events.SessionDeclared,
		events.QuorumCustodian, events.QuorumCustodian, events.JournalAuthenticated, events.VaultRekeyed, events.CloseOutCompleted,
		events.ReportSigned, events.ReportSigned, events.ReportExported, events.SessionLocked}
	if !slices.Equal(types, want) {
		t.Errorf("journal events\n%v, want\n%v", types, want)
	}

	// The report verifies pinned at the old fingerprint and names the change.
	opts := audit.VerifyOptions{NonProduction: true, Pin: audit.Pin{Fingerprint: oldV.Fingerprint()}}
	if opts.Trust, err = attest.LoadTestTrust(k.root); err != nil {
		t.Fatal(err)
	}
	v, err := audit.VerifyReportFile(out+".rekey-report.json", opts)
	if err != nil {
		t.Fatalf("the rekey report does not verify at the old fingerprint: %v", err)
	}
	nv, err := vault.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	rep := v.Report
	if rep.Session.Mode != audit.ModeRekey || rep.Rekey == nil || rep.Rekey.NewDigest != nv.RosterDigestHex() ||
		!slices.Equal(rep.Rekey.Removed, []string{"carol-example"}) || rep.Session.WhatBroke != "Carol left" ||
		rep.Rekey.NewRoster.Digest != nv.RosterDigestHex() || rep.Session.Operator != "Olivia Operator" {
		t.Errorf("the report's rekey: mode %s, %+v", rep.Session.Mode, rep.Rekey)
	}
	// The announce code printed for the on-call is the one the auditor's
	// ledger derives from the signed report, so the two match.
	if code := ledger.CodeOf(rep).String(); !strings.Contains(stdout, "Announce code "+code+": relay it now to the security on-call") {
		t.Errorf("stdout does not give the announce code %s the ledger derives:\n%s", code, stdout)
	}
}

// 2-of-3 → 3-of-4: Dave joins and the threshold rises (a new identity);
// Carol, who stays, signs the new roster after the quorum, then Dave.
func TestVaultRekeyThresholdUp(t *testing.T) {
	k, path, dave := newRekeyVT(t)
	out := filepath.Join(k.dir, "v2.json")
	stdout := mustRekey(t, "", k.rekeyVTArgs(t, path, out, []uint32{10000001, 10000002, 10000003, 10000004}, "--add", dave, "--threshold", "3")...)
	for _, want := range []string{"  threshold 2 → 3", "NEW VAULT IDENTITY", "✓ Carol Example signed (YubiKey 10000003) as a custodian of the new roster and an endorser",
		"signed by 4 of 4 custodians of the new roster; endorsed by 3 (2 needed)", "Quorum:       3 of 4 custodians"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if code, o := k.drill(t, out, 10000001, 10000004); code != 1 || !strings.Contains(o, "quorum not reached: 2 of 3") {
		t.Errorf("two of a 3-of-4 vault: exit %d\n%s", code, o)
	}
	if code, o := k.drill(t, out, 10000002, 10000003, 10000004); code != 0 {
		t.Errorf("three of a 3-of-4 vault: exit %d\n%s", code, o)
	}
}

// A backup key for Bob is added (the same identity, reshared), then lost
// and removed (a new identity); his primary key still counts.
func TestVaultRekeyBackupKeyAddedThenRemoved(t *testing.T) {
	k, path, _ := newRekeyVT(t, 10000005)
	backup := k.enrolOne(t, 10000005, "Bob Example", "bob-backup")
	v2 := filepath.Join(k.dir, "v2.json")
	stdout := mustRekey(t, "", k.rekeyVTArgs(t, path, v2, []uint32{10000001, 10000003, 10000002}, "--add-key", backup)...)
	for _, want := range []string{"  + YubiKey 10000005 for Bob Example (bob-example) (backup key)", "Same vault identity, RESHARED", "Same identity, reshared"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("adding a key: stdout lacks %q:\n%s", want, stdout)
		}
	}
	if code, o := k.drill(t, v2, 10000005, 10000003); code != 0 {
		t.Errorf("Bob's backup and Carol: exit %d\n%s", code, o)
	}
	v3 := filepath.Join(k.dir, "v3.json")
	stdout = mustRekey(t, "", k.rekeyVTArgs(t, v2, v3, []uint32{10000005, 10000001, 10000002, 10000003},
		"--remove-key", "10000005", "--reason", "Bob's backup key was lost")...)
	for _, want := range []string{"  - YubiKey 10000005 of Bob Example (bob-example)", "NEW VAULT IDENTITY",
		"✓ Bob Example signed (YubiKey 10000005) as an endorser of the current roster (not on the new one)",
		"✓ Bob Example signed (YubiKey 10000002) as a custodian of the new roster and an endorser"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("removing the key: stdout lacks %q:\n%s", want, stdout)
		}
	}
	if code, o := k.drill(t, v3, 10000005, 10000003); code != 2 || !strings.Contains(o, "YubiKey 10000005 is not on the roster") {
		t.Errorf("the removed backup key: exit %d\n%s", code, o)
	}
	if code, o := k.drill(t, v3, 10000002, 10000003); code != 0 {
		t.Errorf("Bob's primary and Carol: exit %d\n%s", code, o)
	}
}

// On a terminal: the operator is asked, the plan confirmed by typing
// REKEY, each key asked for by name, each PIN typed.
func TestVaultRekeyTerminal(t *testing.T) {
	k, path, dave := newRekeyVT(t)
	k.terminal(t)
	base := []string{"vault", "rekey", "--vault", path, "--remove", "carol-example", "--add", dave, "--attestation-root", k.root}
	pin := func(s uint32) string { return vtPIN(s) + "\n" }

	declined := filepath.Join(k.dir, "declined.json")
	code, stdout, stderr := breakglass(t, "Olivia\nno\n", append(base, "--out", declined)...)
	if code != 1 || !strings.Contains(stderr, "Type REKEY to go on") || !strings.Contains(stderr, "not confirmed") {
		t.Errorf("declined: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, p := range []string{declined, declined + ".rekey.journal", declined + ".rekey-report.json"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a declined rekey left %s", p)
		}
	}

	out := filepath.Join(k.dir, "v2.json")
	stdin := "Olivia\nREKEY\n" + "\n" + pin(10000001) + "\n" + pin(10000002) + // the quorum
		pin(10000001) + pin(10000002) + "\n" + pin(10000004) + // the new roster
		pin(10000001) + pin(10000002) // the report
	code, stdout, stderr = breakglass(t, stdin, append(base, "--out", out)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"Operator (your name, journaled):", "Custodians counted: 0 of 2", "Insert Dave Example's key (serial 10000004) to sign the new roster",
		"PIN for Dave Example (serial 10000004), 3 attempts left:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code, o := k.drill(t, out, 10000002, 10000004); code != 0 {
		t.Errorf("drill: exit %d\n%s", code, o)
	}
}

// A key missing when it must sign, or down to its last PIN try without
// confirmation: nothing is written, the old vault is as it was.
func TestVaultRekeyFailuresWriteNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, k *vtKeys)
		want  string
	}{
		{"new custodian's key missing", func(t *testing.T, k *vtKeys) { delete(k.st.toks, 10000004) }, "YubiKey 10000004 is not connected"},
		{"last PIN try", func(t *testing.T, k *vtKeys) {
			for range 2 {
				if err := k.st.toks[10000004].VerifyPIN(t.Context(), "000000"); err == nil {
					t.Fatal("wrong PIN accepted")
				}
			}
		}, "only one PIN attempt is left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, path, dave := newRekeyVT(t)
			before, _ := os.ReadFile(path)
			tc.setup(t, k)
			out := filepath.Join(k.dir, "v2.json")
			code, stdout, stderr := breakglass(t, "", k.rekeyVTArgs(t, path, out, []uint32{10000001, 10000002, 10000004}, "--remove", "carol-example", "--add", dave)...)
			if code != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "NOTHING WAS WRITTEN") {
				t.Errorf("exit %d, want 1 with %q\n%s%s", code, tc.want, stdout, stderr)
			}
			assertFileUnchanged(t, path, before)
			for _, p := range []string{out, out + ".prev", out + ".rekey-report.json"} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("a failed rekey left %s", p)
				}
			}
			entries, err := audit.ReadFile(out + ".rekey.journal")
			if err != nil || entries[len(entries)-1].Type != events.SessionAborted {
				t.Errorf("the journal does not end with session.aborted (%v)", err)
			}
		})
	}
}
