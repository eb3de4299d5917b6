package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"breakglass/internal/events"
	"breakglass/vault"
)

// The roster-chain tests (issue 11, "following the chain"): a report signed
// under any version of a verified chain that holds the pinned version
// verifies against the version it names; a forged or broken link, another
// vault, or a superseded roster is refused, the failure naming the link.

// failed asserts that the named check failed with a detail containing
// every want, and returns the detail.
func failed(t *testing.T, v *Verdict, name string, want ...string) string {
	t.Helper()
	for _, c := range v.Checks {
		if c.Name != name {
			continue
		}
		if c.OK {
			t.Fatalf("check %q passed (%s), want it to fail", name, c.Detail)
		}
		for _, w := range want {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("check %q: %q does not say %q", name, c.Detail, w)
			}
		}
		return c.Detail
	}
	t.Fatalf("no check %q in %v", name, v.Checks)
	return ""
}

// passed asserts the named check passed with a detail containing every want.
func passed(t *testing.T, v *Verdict, name string, want ...string) {
	t.Helper()
	for _, c := range v.Checks {
		if c.Name != name {
			continue
		}
		if !c.OK {
			t.Fatalf("check %q failed: %s", name, c.Detail)
		}
		for _, w := range want {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("check %q: %q does not say %q", name, c.Detail, w)
			}
		}
		return
	}
	t.Fatalf("no check %q", name)
}

func verdictOf(t *testing.T, jws []byte, opts VerifyOptions) *Verdict {
	t.Helper()
	v, err := VerifyReport(jws, opts)
	if v == nil {
		t.Fatalf("VerifyReport: %v", err)
	}
	if (err == nil) != v.OK() {
		t.Fatalf("VerifyReport error %v but OK %v", err, v.OK())
	}
	return v
}

func TestChainPinOldFingerprint(t *testing.T) {
	w := newChainWorld(t)
	old := w.sessionAt(t, w.v1, beforeRekey, "alice", "bob")
	if len(old.RosterChain) != 0 {
		t.Fatal("a version-1 report carries a chain")
	}
	under1 := w.signed(t, old, "alice", "bob")
	under2 := w.signed(t, w.sessionAt(t, w.v2, afterRekey, "bob", "dave"), "bob", "dave")
	fp1 := w.v1.Fingerprint()

	// Pinned at version 1 by fingerprint alone: the v1 report as always,
	// the v2 report through the chain it carries.
	v := mustVerifyOK(t, under1, w.opts(fp1, nil))
	if v.Chain != nil {
		t.Errorf("a report with no chain, pinned at its own roster, has chain info %+v", v.Chain)
	}
	passed(t, v, "pinned roster", "is the pinned one")
	v = mustVerifyOK(t, under2, w.opts(fp1, nil))
	passed(t, v, "embedded roster chain", "2 roster versions")
	passed(t, v, "pinned roster", "report signed under roster version 2 ("+w.v2.Fingerprint()+")", "pinned version 1 ("+fp1+")", "endorsements")
	if v.Chain == nil || v.Chain.SignedUnder != 2 || v.Chain.Pinned != 1 || v.Chain.VaultVersion != 0 {
		t.Errorf("chain info %+v, want signed under 2, pinned 1, no vault", v.Chain)
	}
	if v.RosterDigest != w.v2.RosterDigestHex() {
		t.Errorf("verdict roster digest is not the roster the signers were checked against")
	}
	var out strings.Builder
	if err := v.Print(&out); err != nil {
		t.Fatal(err)
	}
	if want := "pinned vault " + w.v2.Fingerprint() + " (roster version 2, reached from the pinned version 1, " + fp1 + ")\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("verdict line does not end %q:\n%s", want, out.String())
	}

	// With the newer vault file (version 3) and the old fingerprint.
	for name, jws := range map[string][]byte{"v1 report": under1, "v2 report": under2} {
		v := mustVerifyOK(t, jws, w.opts(fp1, w.v3))
		passed(t, v, "pinned vault", "at roster version 3", "pinned version 1")
		passed(t, v, "pinned roster", "pinned version 1", "vault file at version 3, chain verified")
		passed(t, v, "roster in force")
		if v.Chain == nil || v.Chain.VaultVersion != 3 || v.Chain.Pinned != 1 {
			t.Errorf("%s: chain info %+v", name, v.Chain)
		}
	}
	// The JSON verdict carries the chain info under stable names.
	b, err := json.Marshal(mustVerifyOK(t, under2, w.opts(fp1, w.v3)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"roster_chain":{"signed_under":2,`, `"pinned_version":1,`, `"vault_version":3,`, `"name":"roster in force","ok":true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON verdict lacks %s:\n%s", want, b)
		}
	}
}

func TestChainPinNewFingerprint(t *testing.T) {
	w := newChainWorld(t)
	under1 := w.signed(t, w.sessionAt(t, w.v1, beforeRekey, "alice", "carol"), "alice", "carol")
	fp2 := w.v2.Fingerprint()

	// The v1 report does not carry version 2: the fingerprint alone cannot
	// reach it…
	v := verdictOf(t, under1, w.opts(fp2, nil))
	failed(t, v, "pinned roster", "the pinned fingerprint is "+fp2)
	// …the vault file does: version 1 is trusted by version 2's link, and
	// carol, enrolled in version 1, is a valid signer of a version-1 report.
	v = mustVerifyOK(t, under1, w.opts(fp2, w.v2))
	passed(t, v, "pinned roster", "signed under roster version 1", "pinned version 2", "trusted by the digest links")
	passed(t, v, "enrolled signer 2 (carol)")
	v = mustVerifyOK(t, under1, w.opts("", w.v3))
	passed(t, v, "pinned roster", "pinned version 3")

	// Carol is not in version 2: she cannot sign under it.
	rep2 := w.sessionAt(t, w.v2, afterRekey, "alice", "carol")
	v = verdictOf(t, w.signed(t, rep2, "alice", "carol"), w.opts(fp2, w.v3))
	failed(t, v, "enrolled signer 2 (carol)", "not a custodian of the pinned roster")
	failed(t, v, "threshold")
}

func TestChainOlderVaultFile(t *testing.T) {
	w := newChainWorld(t)
	under2 := w.signed(t, w.sessionAt(t, w.v2, afterRekey, "bob", "dave"), "bob", "dave")
	v := verdictOf(t, under2, w.opts("", w.v1))
	failed(t, v, "pinned roster", "signed under roster version 2 ("+w.v2.Fingerprint()+"), newer than the given vault file (roster version 1, "+w.v1.Fingerprint()+"): give a newer copy")
	// With a vault file of two versions the message lists them.
	under3 := w.signed(t, w.sessionAt(t, w.v3, rekey3At.Add(24*3600e9), "bob", "erin"), "bob", "erin")
	v = verdictOf(t, under3, w.opts("", w.v2))
	failed(t, v, "pinned roster", "signed under roster version 3", "newer than the given vault file (roster version 2", "give a newer copy")
	// Without the chain in the report, the versions are listed.
	rep3 := w.sessionAt(t, w.v3, rekey3At.Add(24*3600e9), "bob", "erin")
	rep3.RosterChain = nil
	v = verdictOf(t, w.signed(t, rep3, "bob", "erin"), w.opts("", w.v2))
	failed(t, v, "pinned roster", "none of the given vault's roster versions (1 to 2: "+w.v1.Fingerprint()+", "+w.v2.Fingerprint()+")", "give a newer copy")
}

func TestChainForgedLink(t *testing.T) {
	w := newChainWorld(t)
	if len(w.forged.Endorsements) != 0 {
		t.Fatalf("the forged roster has endorsements %v", w.forged.Endorsements)
	}
	fp1 := w.v1.Fingerprint()
	rep := w.sessionAt(t, w.forged, afterRekey, "dave", "erin")
	jws := w.signed(t, rep, "dave", "erin")
	link := "roster version 2 (" + w.forged.Fingerprint() + ")"

	// In the report's own chain, pinned at version 1.
	v := verdictOf(t, jws, w.opts(fp1, nil))
	failed(t, v, "embedded roster chain", link, "endorsed by 0 custodians of version 1, 2 needed")
	failed(t, v, "pinned roster", "does not verify")
	failed(t, v, "enrolled signer 1 (dave)", "not checked")
	// As a vault file that claims to follow version 1.
	v = verdictOf(t, jws, w.opts(fp1, w.forged))
	failed(t, v, "pinned vault", link, "endorsed by 0 custodians of version 1")
	// Pinned at the forged fingerprint itself, the forgery is its own
	// root: that is the pin's meaning, and the old custodians' reports do
	// not verify against it.
	under1 := w.signed(t, w.sessionAt(t, w.v1, beforeRekey, "alice", "bob"), "alice", "bob")
	v = verdictOf(t, under1, w.opts(w.forged.Fingerprint(), nil))
	failed(t, v, "pinned roster")

	// Endorsements stripped from the genuine version 2.
	rep2 := w.sessionAt(t, w.v2, afterRekey, "bob", "dave")
	rep2.Roster.Endorsements = nil
	v = verdictOf(t, w.signed(t, rep2, "bob", "dave"), w.opts(fp1, nil))
	failed(t, v, "embedded roster chain", "roster version 2 ("+w.v2.Fingerprint()+")", "endorsed by 0 custodians")
	// Endorsed by one old custodian only, the other endorsement replaced by
	// a new member's signature.
	rep2 = w.sessionAt(t, w.v2, afterRekey, "bob", "dave")
	for i, e := range rep2.Roster.Endorsements {
		if e.Custodian == "bob" {
			d := w.v2.Signatures[indexOfSig(w.v2.Signatures, "dave")]
			rep2.Roster.Endorsements[i] = d
		}
	}
	v = verdictOf(t, w.signed(t, rep2, "bob", "dave"), w.opts(fp1, nil))
	failed(t, v, "embedded roster chain", "roster version 2", "which version 1 did not enroll")
}

func indexOfSig(sigs []vault.Signature, id string) int {
	for i, s := range sigs {
		if s.Custodian == id {
			return i
		}
	}
	return -1
}

func TestChainGap(t *testing.T) {
	w := newChainWorld(t)
	rep := w.sessionAt(t, w.v3, rekey3At.Add(24*3600e9), "bob", "erin")
	if len(rep.RosterChain) != 2 {
		t.Fatalf("a version-3 report carries %d earlier versions", len(rep.RosterChain))
	}
	rep.RosterChain = rep.RosterChain[:1] // version 2 left out
	v := verdictOf(t, w.signed(t, rep, "bob", "erin"), w.opts(w.v1.Fingerprint(), nil))
	failed(t, v, "embedded roster chain", "roster version 2 ("+w.v3.Fingerprint()+")", "says it is version 3")
	// Out of order.
	rep.RosterChain = []vault.RosterRecord{w.v2.RosterRecord(), w.v1.RosterRecord()}
	v = verdictOf(t, w.signed(t, rep, "bob", "erin"), w.opts(w.v1.Fingerprint(), nil))
	failed(t, v, "embedded roster chain", "roster version 1 ("+w.v2.Fingerprint()+")")
}

func TestChainAnotherVault(t *testing.T) {
	w := newChainWorld(t)
	f := newFixture(t) // another vault under the same TEST root
	under2 := w.signed(t, w.sessionAt(t, w.v2, afterRekey, "bob", "dave"), "bob", "dave")
	v := verdictOf(t, under2, w.opts(f.vault.Fingerprint(), nil))
	failed(t, v, "pinned roster", "no version of its roster chain", "is the pinned fingerprint "+f.vault.Fingerprint())
	v = verdictOf(t, under2, w.opts("", f.vault))
	failed(t, v, "pinned roster", "the given vault's roster is "+f.vault.Fingerprint())
	// The other vault's report against this chain.
	v = verdictOf(t, f.jws, w.opts(w.v1.Fingerprint(), w.v3))
	failed(t, v, "pinned roster", "none of the given vault's roster versions")
	v = verdictOf(t, f.jws, w.opts("", w.v3))
	failed(t, v, "pinned roster")
	v = verdictOf(t, under2, w.opts(f.vault.Fingerprint(), w.v3))
	failed(t, v, "pinned vault", "does not reach the pinned fingerprint "+f.vault.Fingerprint())
}

func TestChainSupersededRoster(t *testing.T) {
	w := newChainWorld(t)
	// A session under version 1 started a day after version 2 replaced it.
	late := w.signed(t, w.sessionAt(t, w.v1, afterRekey, "alice", "carol"), "alice", "carol")
	v := verdictOf(t, late, w.opts(w.v1.Fingerprint(), w.v2))
	failed(t, v, "roster in force", "signed under roster version 1, superseded on 2026-01-05T12:00:00Z by version 2", "but the session started 2026-01-06T10:00")
	v = verdictOf(t, late, w.opts("", w.v3))
	failed(t, v, "roster in force")
	// Under version 2, after version 3 replaced it.
	late2 := w.signed(t, w.sessionAt(t, w.v2, rekey3At.Add(3600e9), "alice", "bob"), "alice", "bob")
	v = verdictOf(t, late2, w.opts(w.v1.Fingerprint(), w.v3))
	failed(t, v, "roster in force", "version 2, superseded on 2026-01-09T12:00:00Z by version 3")
	// In time, the same custodians verify.
	v = mustVerifyOK(t, w.signed(t, w.sessionAt(t, w.v1, beforeRekey, "alice", "carol"), "alice", "carol"), w.opts("", w.v2))
	passed(t, v, "roster in force", "superseded on 2026-01-05T12:00:00Z by version 2, after the session started 2026-01-03T10:00")
	v = mustVerifyOK(t, w.signed(t, w.sessionAt(t, w.v2, afterRekey, "alice", "bob"), "alice", "bob"), w.opts("", w.v2))
	passed(t, v, "roster in force", "roster version 2 is the newest version known")
}

func TestRekeyReportVerifies(t *testing.T) {
	w := newChainWorld(t)
	jws := w.signed(t, w.rekeyRep, "alice", "bob")
	for name, o := range map[string]VerifyOptions{
		"old fingerprint":           w.opts(w.v1.Fingerprint(), nil),
		"old fingerprint, new file": w.opts(w.v1.Fingerprint(), w.v2),
		"newest file":               w.opts("", w.v3),
		"old file":                  w.opts("", w.v1),
	} {
		v := mustVerifyOK(t, jws, o)
		passed(t, v, "rekey new roster", "version 2 ("+w.v2.Fingerprint()+") names version 1 ("+w.v1.Fingerprint()+")", "endorsed by 2 custodians of version 1 (threshold 2)")
		passed(t, v, "rekey new roster digest", w.v2.RosterDigestHex())
		passed(t, v, "rekey change")
		passed(t, v, "rekey matches journal")
		if name == "newest file" {
			passed(t, v, "roster in force", "which this rekey session made")
		}
	}
	// Signed by a threshold of the NEW roster instead (dave is not in the old).
	v := verdictOf(t, w.signed(t, w.rekeyRep, "alice", "dave"), w.opts(w.v1.Fingerprint(), nil))
	failed(t, v, "enrolled signer 2 (dave)")
	failed(t, v, "threshold")
}

func TestRekeyReportEdited(t *testing.T) {
	w := newChainWorld(t)
	fp1 := w.v1.Fingerprint()
	edit := func(f func(*Report)) []byte {
		r := copyReport(t, w.rekeyRep)
		f(r)
		return w.signed(t, r, "alice", "bob")
	}

	// The new roster replaced by the forgery (signed by its own members,
	// endorsed by nobody).
	v := verdictOf(t, edit(func(r *Report) { r.Rekey.NewRoster = w.forged.RosterRecord() }), w.opts(fp1, nil))
	failed(t, v, "rekey new roster", "roster version 2 ("+w.forged.Fingerprint()+")", "endorsed by 0 custodians")
	failed(t, v, "rekey new roster digest", "the journal's vault.rekeyed event says "+w.v2.Fingerprint())
	// …and with only the digest field left as the genuine one, beside the file.
	v = verdictOf(t, edit(func(r *Report) { r.Rekey.NewRoster.Endorsements = r.Rekey.NewRoster.Endorsements[:1] }), w.opts(fp1, w.v2))
	failed(t, v, "rekey new roster", "endorsed by 1 custodians of version 1, 2 needed")
	// A genuine, endorsed roster of another rekey (version 3) as the new roster.
	v = verdictOf(t, edit(func(r *Report) { r.Rekey.NewRoster = w.v3.RosterRecord() }), w.opts(fp1, nil))
	failed(t, v, "rekey new roster", "says it is version 3 but is number 2")
	// The digest in the report edited (not the journal's).
	v = verdictOf(t, edit(func(r *Report) { r.Rekey.NewDigest = w.forged.RosterDigestHex() }), w.opts(fp1, nil))
	failed(t, v, "rekey matches journal")
	// The change in the report edited.
	v = verdictOf(t, edit(func(r *Report) { r.Rekey.Removed = []string{} }), w.opts(fp1, nil))
	failed(t, v, "rekey change", "removed: the journal says [], the signed roster [carol]")
	failed(t, v, "rekey matches journal")

	// The journal's vault.rekeyed event itself edited (the hash chain redone):
	// the journal is self-consistent but disagrees with what was signed.
	for name, mut := range map[string]func(*events.Rekeyed){
		"reason":    func(d *events.Rekeyed) { d.Reason = "routine" },
		"threshold": func(d *events.Rekeyed) { d.ThresholdTo = 3 },
		"added":     func(d *events.Rekeyed) { d.Added = []string{"dave", "mallory"} },
		"vault key": func(d *events.Rekeyed) { d.VaultKey = vault.IdentityReshared },
	} {
		t.Run(name, func(t *testing.T) {
			r := copyReport(t, w.rekeyRep)
			entries := r.Journal.Entries
			for i, e := range entries {
				if e.Type != events.VaultRekeyed {
					continue
				}
				var d events.Rekeyed
				if err := json.Unmarshal(e.Data, &d); err != nil {
					t.Fatal(err)
				}
				mut(&d)
				b, err := json.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				entries[i].Data = b
			}
			entries, err := rechainEntries(entries)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := BuildReport(entries, r.Custodians)
			if err != nil {
				t.Fatal(err)
			}
			r2.Roster, r2.RosterChain = r.Roster, r.RosterChain
			r2.Rekey.NewRoster = r.Rekey.NewRoster
			v := verdictOf(t, w.signed(t, r2, "alice", "bob"), w.opts(fp1, nil))
			failed(t, v, "rekey change", "the rekey's change differs from the new roster's")
			passed(t, v, "rekey matches journal")
		})
	}
}
