package audit

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"breakglass/vault"
)

// The pin tests: a report verifies only against a pinned roster (issue 10,
// holes 1, 3 and 6).

func TestVerifyRequiresPin(t *testing.T) {
	f := newFixture(t)
	o := f.opts()
	o.Pin = Pin{}
	v := mustFail(t, "no pin", f.jws, o, "pinned roster", "enrolled signer 1 ", "threshold")
	i := slices.IndexFunc(v.Checks, func(c Check) bool { return c.Name == "pinned roster" })
	if d := v.Checks[i].Detail; !strings.Contains(d, "fingerprint") || !strings.Contains(d, "vault inspect") {
		t.Errorf("no-pin failure does not say how to get the fingerprint: %q", d)
	}
	var out strings.Builder
	v.Print(&out)
	if strings.Contains(out.String(), "VERIFIED OK") {
		t.Errorf("an unpinned report printed OK:\n%s", out.String())
	}
}

func TestVerifyPinForms(t *testing.T) {
	f := newFixture(t)
	digest := f.vault.RosterDigestHex()
	for _, pin := range []Pin{
		{Vault: f.vault},
		{Fingerprint: f.vault.Fingerprint()},
		{Fingerprint: strings.ToLower(strings.ReplaceAll(f.vault.Fingerprint(), "-", ""))},
		{Fingerprint: digest},
		{Fingerprint: strings.ToUpper(digest)},
		{Vault: f.vault, Fingerprint: digest},
	} {
		o := f.opts()
		o.Pin = pin
		v := mustVerifyOK(t, f.jws, o)
		if v.RosterDigest != digest {
			t.Errorf("pin %+v: verdict roster digest %q, want %q", pin.Fingerprint, v.RosterDigest, digest)
		}
	}
	wrong := []byte(digest)
	wrong[0] ^= 1 // '…' → another hex digit
	if wrong[0] > 'f' || (wrong[0] > '9' && wrong[0] < 'a') {
		wrong[0] = '0'
	}
	for name, fp := range map[string]string{
		"other digest":    string(wrong),
		"short":           "ABCD-EF12",
		"not hex":         "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ",
		"other card form": vault.FingerprintOfDigest(string(wrong)),
	} {
		o := f.opts()
		o.Pin = Pin{Fingerprint: fp}
		if fp == digest {
			continue
		}
		mustFail(t, name, f.jws, o, "pinned roster")
	}
}

// otherVault is a second, unrelated vault under the same TEST root.
func otherVault(t *testing.T, pki *testPKI) (*vault.Vault, map[uint32]*testCustodian) {
	t.Helper()
	raw, keys, err := buildVault(pki, "other", 2, []enrolee{{"dave", "Dave D.", 33333333}, {"erin", "Erin E.", 44444444}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v, keys
}

func TestReportForVaultAAgainstVaultB(t *testing.T) {
	f := newFixture(t)
	b, bkeys := otherVault(t, f.pki)
	mustFail(t, "vault B file", f.jws, VerifyOptions{Trust: f.pki.trust, NonProduction: true, Pin: Pin{Vault: b}}, "pinned roster")
	mustFail(t, "vault B fingerprint", f.jws, VerifyOptions{Trust: f.pki.trust, NonProduction: true, Pin: Pin{Fingerprint: b.Fingerprint()}}, "pinned roster")
	mustFail(t, "vault A fingerprint, vault B file", f.jws, VerifyOptions{Trust: f.pki.trust, NonProduction: true, Pin: Pin{Vault: b, Fingerprint: f.vault.Fingerprint()}}, "pinned vault", "pinned roster")

	// B's custodians sign a report that embeds A's roster and claims A.
	forged := fixtureFor(t, f.pki, f.vault, f.keys, []*testCustodian{bkeys[33333333], bkeys[44444444]}, []*testCustodian{bkeys[33333333], bkeys[44444444]})
	mustFail(t, "B's custodians under A's roster", forged.jws, f.opts(), "enrolled signer 1 ", "enrolled signer 2 ", "threshold")
	mustFail(t, "B's custodians under A's roster, A's file", forged.jws, f.vaultOpts(), "enrolled signer 1 ", "threshold")
	// …and with B's own roster embedded, the pin on A refuses it.
	own := fixtureFor(t, f.pki, b, bkeys, []*testCustodian{bkeys[33333333], bkeys[44444444]}, []*testCustodian{bkeys[33333333], bkeys[44444444]})
	mustVerifyOK(t, own.jws, VerifyOptions{Trust: f.pki.trust, NonProduction: true, Pin: Pin{Vault: b}})
	mustFail(t, "B's report pinned to A", own.jws, f.opts(), "pinned roster")
	mustFail(t, "B's report beside A's file", own.jws, f.vaultOpts(), "pinned roster")
}

// TestForgedReportDoctoredVault is hole 1: two genuine (test-root) YubiKeys
// that are not on the roster sign a report with its reveals cut, beside an
// edited copy of the vault that lists them.
func TestForgedReportDoctoredVault(t *testing.T) {
	f := newFixture(t)
	mallory := f.pki.custodian(t, "alice", "Alice A.", 11111111)
	trudy := f.pki.custodian(t, "bob", "Bob B.", 22222222)
	cut := func(r *Report) {
		var kept []Entry
		for _, e := range r.Journal.Entries {
			if e.Type != TypeSecretRevealed {
				kept = append(kept, e)
			}
		}
		r.Journal.Entries = kept
	}

	// The doctored vault: the roster lists the attackers' signing keys; the
	// fingerprint is recomputed so the file parses.
	doctored, err := vault.Parse(mustMarshal(t, f.vault))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []*testCustodian{mallory, trudy} {
		der, chain := spki(t, c), c.chain
		k := &doctored.Roster.Custodians[i].Keys[0]
		k.Sign.PublicKey, k.Sign.Attestation.Slot, k.Sign.Attestation.Device = der, chain[0].Raw, chain[1].Raw
	}
	doctored.RecordedFingerprint = doctored.ComputeFingerprint()
	if _, err := vault.Parse(mustMarshal(t, doctored)); err != nil {
		t.Fatalf("the doctored vault does not parse, the attack is not realistic: %v", err)
	}

	for _, tc := range []struct {
		name   string
		roster vault.RosterRecord
		pin    Pin
		check  string
	}{
		{"doctored roster embedded, doctored file", doctored.RosterRecord(), Pin{Vault: doctored}, "pinned vault"},
		{"doctored roster embedded, doctored fingerprint", doctored.RosterRecord(), Pin{Fingerprint: doctored.Fingerprint()}, "embedded roster"},
		{"doctored roster embedded, genuine fingerprint", doctored.RosterRecord(), Pin{Fingerprint: f.vault.Fingerprint()}, "pinned roster"},
		{"genuine roster embedded, doctored file", f.vault.RosterRecord(), Pin{Vault: doctored}, "pinned vault"},
		{"genuine roster embedded, genuine fingerprint", f.vault.RosterRecord(), Pin{Fingerprint: f.vault.Fingerprint()}, "enrolled signer 1 "},
		{"genuine roster embedded, genuine file", f.vault.RosterRecord(), Pin{Vault: f.vault}, "enrolled signer 2 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := ParsePayload(f.payload)
			cut(r)
			entries, err := rechainEntries(r.Journal.Entries)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := BuildReport(entries, []Custodian{mallory.record(t), trudy.record(t)})
			if err != nil {
				t.Fatal(err)
			}
			r2.Roster = tc.roster
			p, _ := MarshalPayload(r2)
			jws, err := SignReport(p, []ReportSigner{mallory.signer(), trudy.signer()})
			if err != nil {
				t.Fatal(err)
			}
			o := f.opts()
			o.Pin = tc.pin
			mustFail(t, tc.name, jws, o, tc.check, "threshold")
		})
	}
}

// TestBackupKeySigns is hole 6: a custodian who joined and signed with
// their enrolled backup key verifies, pinned by file and by fingerprint.
func TestBackupKeySigns(t *testing.T) {
	f0 := newFixture(t)
	q := []*testCustodian{f0.keys[11111112], f0.keys[22222222]}
	f := fixtureFor(t, f0.pki, f0.vault, f0.keys, q, q)
	v := mustVerifyOK(t, f.jws, f.vaultOpts())
	if d := checkDetail(v, "enrolled signer 1 (alice)"); !strings.Contains(d, "backup") {
		t.Errorf("signer 1 detail %q does not say it is alice's backup key", d)
	}
	mustVerifyOK(t, f.jws, f.opts())
	o := f.opts()
	o.Pin.Fingerprint = f.vault.RosterDigestHex()
	mustVerifyOK(t, f.jws, o)

	// Joined with the primary, signed with the backup: still alice.
	mixed := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{f0.keys[11111111], f0.keys[22222222]}, q)
	mustVerifyOK(t, mixed.jws, f.vaultOpts())
}

// TestSameCustodianTwoKeysCountsOnce: alice signing with primary and
// backup is one custodian.
func TestSameCustodianTwoKeysCountsOnce(t *testing.T) {
	f0 := newFixture(t)
	alice, alice2, bob := f0.keys[11111111], f0.keys[11111112], f0.keys[22222222]
	f := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{alice, bob}, []*testCustodian{alice, alice2})
	v := mustFail(t, "alice twice, no bob", f.jws, f.vaultOpts(), "threshold")
	if d := checkDetail(v, "threshold"); !strings.Contains(d, "1 distinct") {
		t.Errorf("threshold detail %q does not count alice once", d)
	}
	f3 := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{alice, bob}, []*testCustodian{alice, alice2, bob})
	v = mustVerifyOK(t, f3.jws, f.vaultOpts())
	if d := checkDetail(v, "threshold"); !strings.HasPrefix(d, "2 distinct") {
		t.Errorf("threshold detail %q, want 2 distinct custodians", d)
	}
	if d := checkDetail(v, "distinct custodians"); !strings.Contains(d, "count once") {
		t.Errorf("distinct detail %q does not say alice counts once", d)
	}
}

// TestKeyOfAnotherCustodian: alice's backup key signing as bob.
func TestKeyOfAnotherCustodian(t *testing.T) {
	f0 := newFixture(t)
	alice, alice2, bob := f0.keys[11111111], f0.keys[11111112], f0.keys[22222222]
	asBob := *alice2
	asBob.id = "bob"
	f := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{alice, bob}, []*testCustodian{alice, &asBob})
	mustFail(t, "alice's backup as bob", f.jws, f.vaultOpts(), "enrolled signer 2 ", "threshold")
}

func checkDetail(v *Verdict, name string) string {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.Detail
		}
	}
	return ""
}

func mustMarshal(t testing.TB, v *vault.Vault) []byte {
	t.Helper()
	b, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func spki(t *testing.T, c *testCustodian) []byte {
	t.Helper()
	r := c.record(t)
	der, err := base64.StdEncoding.DecodeString(r.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rechainEntries renumbers entries and recomputes their hash chain, as an
// attacker who cut entries out of a journal would.
func rechainEntries(in []Entry) ([]Entry, error) {
	out := slices.Clone(in)
	for i := range out {
		out[i].Seq = in[0].Seq + uint64(i)
		if i > 0 {
			out[i].Prev = out[i-1].Hash
		}
		h, err := out[i].ComputeHash()
		if err != nil {
			return nil, err
		}
		out[i].Hash = h
	}
	if err := Verify(out); err != nil {
		return nil, errors.Join(errors.New("rechain"), err)
	}
	return out, nil
}

// TestDroppedAndRelabelledSignatures: fewer signatures than the pinned
// threshold, and a kid changed to someone not in the quorum.
func TestDroppedAndRelabelledSignatures(t *testing.T) {
	f0 := newFixture(t)
	alice, bob := f0.keys[11111111], f0.keys[22222222]
	one := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{alice, bob}, []*testCustodian{alice})
	mustFail(t, "bob's signature dropped", one.jws, f0.vaultOpts(), "threshold")
	asCarol := *bob
	asCarol.id = "carol"
	f := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{alice, bob}, []*testCustodian{alice, &asCarol})
	mustFail(t, "bob's key as carol", f.jws, f0.vaultOpts(), "custodian 2 ", "enrolled signer 2 ")
	// The embedded roster lowered to threshold… cannot be: it is the pinned
	// bytes. A report whose session claims threshold 1 still needs 2.
	r, _ := ParsePayload(one.payload)
	r.Session.Threshold = 1
	p, _ := MarshalPayload(r)
	b, err := SignReport(p, []ReportSigner{alice.signer()})
	if err != nil {
		t.Fatal(err)
	}
	mustFail(t, "session threshold 1, one signer", b, f0.vaultOpts(), "threshold")
}

// TestQuorumWithBothKeysOfOneCustodian: alice joined with her primary and
// again with her backup (a reauthorisation with the other key): the report
// builds, lists both keys, verifies, and alice counts once.
func TestQuorumWithBothKeysOfOneCustodian(t *testing.T) {
	f0 := newFixture(t)
	alice, alice2, bob := f0.keys[11111111], f0.keys[11111112], f0.keys[22222222]
	f := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{alice, bob, alice2}, []*testCustodian{alice2, bob})
	if n := len(f.report.Custodians); n != 3 {
		t.Fatalf("%d custodian records, want alice twice (two keys) and bob", n)
	}
	v := mustVerifyOK(t, f.jws, f0.vaultOpts())
	if d := checkDetail(v, "threshold"); !strings.HasPrefix(d, "2 distinct") {
		t.Errorf("threshold detail %q", d)
	}
	// Without bob, alice's two keys are one custodian: below threshold.
	g := fixtureFor(t, f0.pki, f0.vault, f0.keys, []*testCustodian{alice, alice2}, []*testCustodian{alice, alice2})
	mustFail(t, "alice's two keys alone", g.jws, f0.vaultOpts(), "threshold")
}
