package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/audit"
	"breakglass/hardware/station"
	"breakglass/vault"
)

// rekeyTouch is the simulated touch delay of Dave's key (10000004) only:
// the test pulls it while it waits for the touch that signs the new roster.
const rekeyTouch = 1500 * time.Millisecond

// rekeyStation is the demo station (Alice, Bob, Carol on 10000001-3, a
// 2-of-3 vault with three secrets sealed by Alice) plus Dave enrolled on a
// fourth key, not on the roster.
type rekeyStation struct {
	*demoStation
	dave string // Dave's custodian file
}

func newRekeyStation(t *testing.T) *rekeyStation {
	t.Helper()
	return newRekeyStationTouch(t, rekeyTouch)
}

// newRekeyStationTouch is newRekeyStation with Dave's key's touch delay given.
func newRekeyStationTouch(t *testing.T, daveTouch time.Duration) *rekeyStation {
	t.Helper()
	d := newDemoStationKeys(t, station.KeySpec{Serial: 10000001}, station.KeySpec{Serial: 10000002},
		station.KeySpec{Serial: 10000003}, station.KeySpec{Serial: 10000004, TouchDelay: daveTouch})
	for _, c := range [][]string{
		{"--device", "10000004", "piv", "access", "change-pin", "-P", "123456", "-n", "444444"},
		{"--device", "10000004", "piv", "access", "change-puk", "-p", "12345678", "-n", "44444444"},
	} {
		cmd := exec.Command("ykman", c...)
		cmd.Env = d.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ykman %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	d.pins[10000004] = "444444"
	if err := os.WriteFile(d.pinFile(10000004), []byte("444444\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(d.dir, "custodians")
	stdout, stderr, code := d.run(t, "", "enrol", "--name", "Dave Example", "--serial", "10000004", "--pin-file", d.pinFile(10000004),
		"--protect-mgmt-key", "--out", out, "--attestation-root", d.root)
	if code != 0 {
		t.Fatalf("enrol Dave: exit %d\n%s%s", code, stdout, stderr)
	}
	return &rekeyStation{demoStation: d, dave: filepath.Join(out, "dave-example.custodian.json")}
}

func (d *demoStation) pinFile(serial uint32) string {
	return filepath.Join(d.dir, "pins", fmt.Sprintf("%d.pin", serial))
}

// pinArgs are --pin-file flags for the serials.
func (d *demoStation) pinArgs(serials ...uint32) []string {
	var a []string
	for _, s := range serials {
		a = append(a, "--pin-file", fmt.Sprintf("%d=%s", s, d.pinFile(s)))
	}
	return a
}

// rekeyArgs is the rekey: Carol leaves, Dave joins, with Alice and
// Bob as the quorum, to out.
func (d *rekeyStation) rekeyArgs(out string, extra ...string) []string {
	return append([]string{"vault", "rekey", "--vault", d.vault, "--out", out, "--remove", "carol-example", "--add", d.dave,
		"--reason", "Carol left", "--operator", "Olivia Operator", "--attestation-root", d.root,
		"--serials", "10000001,10000002,10000004"}, extra...)
}

func fileHash(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// assertNothingWritten checks that a failed rekey to out left the old
// vault as it was, no out (nor out.prev) and no report, and a journal
// that verifies and ends with session.aborted.
func (d *rekeyStation) assertNothingWritten(t *testing.T, out string, oldHash [32]byte) {
	t.Helper()
	if fileHash(t, d.vault) != oldHash {
		t.Errorf("the old vault %s changed", d.vault)
	}
	for _, p := range []string{out, out + ".prev", out + ".rekey-report.json"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("a failed rekey left %s", p)
		}
	}
	entries, err := audit.ReadFile(out + ".rekey.journal")
	if err == nil {
		err = audit.Verify(entries)
	}
	if err != nil {
		t.Fatalf("the journal of the failed rekey: %v", err)
	}
	if last := entries[len(entries)-1]; last.Type != "session.aborted" {
		t.Errorf("the journal of the failed rekey ends with %s, want session.aborted", last.Type)
	}
}

// TestVaultRekeyE2E is the scenario through pcscd: a 2-of-3 vault
// (Alice, Bob, Carol) with signed seals; a wrong PIN and a key pulled
// mid-rekey write nothing; then Carol leaves and Dave joins with Alice and
// Bob: any two of Alice, Bob, Dave open every secret, Carol's key is not on
// the roster, every share proves itself, the old file is unchanged and the
// rekey report verifies against the old fingerprint.
func TestVaultRekeyE2E(t *testing.T) {
	d := newRekeyStation(t)
	oldHash := fileHash(t, d.vault)
	stdout, _, _ := d.run(t, "", "vault", "inspect", d.vault, "--attestation-root", d.root)
	oldFP := inspectField(t, stdout, "Fingerprint")
	dir := t.TempDir()

	t.Run("wrong PIN", func(t *testing.T) {
		wrong := filepath.Join(dir, "wrong.pin")
		if err := os.WriteFile(wrong, []byte("999999\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "wrong-pin.json")
		args := d.rekeyArgs(out, append(d.pinArgs(10000001, 10000004), "--pin-file", "10000002="+wrong)...)
		stdout, stderr, code := d.run(t, "", args...)
		t.Logf("exit %d\n%s%s", code, stdout, stderr)
		if code != 1 || !strings.Contains(stderr, "wrong PIN: 2 attempts left") || !strings.Contains(stderr, "quorum not reached: 1 of 2") ||
			!strings.Contains(stderr, "NOTHING WAS WRITTEN") {
			t.Errorf("a wrong PIN: exit %d, want 1 saying the PIN was wrong, the quorum not reached and nothing written", code)
		}
		d.assertNothingWritten(t, out, oldHash)
	})

	t.Run("key pulled", func(t *testing.T) {
		out := filepath.Join(dir, "pulled.json")
		stdout, stderr, code := d.runPulling(t, 10000004, d.rekeyArgs(out, d.pinArgs(10000001, 10000002, 10000004)...)...)
		t.Logf("exit %d\n%s%s", code, stdout, stderr)
		if code != 1 || !strings.Contains(stderr, "Dave Example signing the new roster on YubiKey 10000004") ||
			!strings.Contains(stderr, "the key was pulled out") || !strings.Contains(stderr, "NOTHING WAS WRITTEN") {
			t.Errorf("Dave's key pulled while signing: exit %d, want 1 saying the key was pulled out and nothing was written", code)
		}
		d.assertNothingWritten(t, out, oldHash)
		d.reinsert(t, 10000004)
	})

	t.Run("Carol leaves, Dave joins", func(t *testing.T) {
		nv := filepath.Join(dir, "vault-v2.json")
		report := nv + ".rekey-report.json"
		stdout, stderr, code := d.run(t, "", d.rekeyArgs(nv, d.pinArgs(10000001, 10000002, 10000004)...)...)
		t.Logf("rekey: exit %d\n%s%s", code, stdout, stderr)
		if code != 0 {
			t.Fatalf("rekey: exit %d", code)
		}
		for _, want := range []string{
			"  + custodian Dave Example (dave-example), YubiKey 10000004",
			"  - custodian Carol Example (carol-example), YubiKey 10000003",
			"NEW VAULT IDENTITY", "✓ vault opened by Alice Example and Bob Example",
			"signed by 3 of 3 custodians of the new roster; endorsed by 2 of 2 needed",
			"Old fingerprint: " + oldFP, "New vault identity: every secret re-encrypted",
			"breakglass verify --vault-fingerprint " + oldFP, "Quorum:       2 of 3 custodians",
			"breakglass vault check --each " + nv,
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("rekey output lacks %q", want)
			}
		}
		if fileHash(t, d.vault) != oldHash {
			t.Error("the rekey changed the old vault file")
		}
		for _, pair := range [][2]uint32{{10000001, 10000004}, {10000002, 10000004}} {
			d.check(t, fmt.Sprintf("check %v", pair), 0, append([]string{"vault", "check", nv, "--serials", fmt.Sprintf("%d,%d", pair[0], pair[1])}, d.pinArgs(pair[0], pair[1])...),
				"✓ aws-root-password (password)", "✓ aws-root-totp (totp)", "✓ aws-root-recovery-codes (recovery-codes)", "DRILL PASSED")
		}
		d.check(t, "Carol's key", 2, append([]string{"vault", "check", nv, "--serials", "10000003,10000001"}, d.pinArgs(10000001, 10000003)...),
			"YubiKey 10000003 is not on the roster")
		d.check(t, "check --each", 0, append([]string{"vault", "check", "--each", nv}, d.pinArgs(10000001, 10000002, 10000004)...),
			"✓ Alice Example", "✓ Bob Example", "✓ Dave Example", "DRILL PASSED: all 3")
		d.check(t, "journal verify", 0, []string{"journal", "verify", nv + ".rekey.journal"}, "hash chain intact")
		d.check(t, "verify the rekey report at the old fingerprint", 0, []string{"verify", "--vault-fingerprint", oldFP, report}, "REPORT VERIFIED OK", "(rekey)")
		// The auditor keeps the OLD card's fingerprint: verify walks the
		// new vault's chain from it to the version the report names.
		d.check(t, "verify --vault NEW --vault-fingerprint OLD", 0, []string{"verify", "--vault", nv, "--vault-fingerprint", oldFP, report},
			"REPORT VERIFIED OK", "(rekey)")
		d.check(t, "vault inspect from the old card", 0, []string{"vault", "inspect", nv, "--vault-fingerprint", oldFP}, "Roster history")
		// A forged link (the new roster signed only by its new members,
		// without the old quorum's endorsements) is refused, naming it.
		forged := filepath.Join(dir, "forged.json")
		fv, err := vault.Load(nv)
		if err != nil {
			t.Fatal(err)
		}
		fv.Endorsements = nil
		if err := fv.Save(forged); err != nil {
			t.Fatal(err)
		}
		d.check(t, "forged link: verify", 1, []string{"verify", "--vault", forged, "--vault-fingerprint", oldFP, report}, "roster version 2")
		d.check(t, "forged link: vault inspect", 1, []string{"vault", "inspect", forged, "--vault-fingerprint", oldFP}, "endorsed by 0 custodians of version 1, 2 needed")
		assertNoSecretIn(t, dir, d.dir, d.st.Dir())
	})
}

// inspectField is the value of "NAME  value" in vault inspect's output.
func inspectField(t *testing.T, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("vault inspect shows no %s:\n%s", name, out)
	return ""
}

// runPulling runs breakglass and pulls the key serial as soon as the
// command asks for its touch (the card then waits for the touch).
func (d *demoStation) runPulling(t *testing.T, serial uint32, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(d.bin, args...)
	cmd.Env = d.env
	var o bytes.Buffer
	cmd.Stdout = &o
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var e strings.Builder
	pulled := false
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		e.WriteString(sc.Text() + "\n")
		if !pulled && sc.Text() == fmt.Sprintf("Touch your YubiKey now (serial %d)…", serial) {
			d.pull(t, serial)
			pulled = true
		}
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running breakglass %v: %v", args, err)
	}
	if !pulled {
		t.Errorf("breakglass never asked to touch key %d", serial)
	}
	return o.String(), e.String(), code
}

// assertNoSecretIn checks that no file under dirs holds a demo secret.
func assertNoSecretIn(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil // sockets and vanished files
			}
			for _, s := range demoSecrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds the sealed secret %q in the clear", p, s)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
