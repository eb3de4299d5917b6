package vault

// Red-team tests of the roster chain and rekey (issue 11). The adversary has
// write access to the vault file and old copies of it, possibly one stolen
// custodian key with its PIN, or a departed custodian's key and share.
//
// Every test asserts the SECURE behaviour. Tests whose attack succeeds are
// marked "// FINDING:" and are left failing on purpose (no t.Skip).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/vault/shamir"
)

// ---------------------------------------------------------------- helpers

// rtClone is a deep copy of v through its file form, as an attacker reads it.
func rtClone(t *testing.T, v *Vault) *Vault {
	t.Helper()
	b, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	return c
}

// rtLoad writes v as a file and reads it back, then VerifyRoster: what any
// station or auditor does with the attacker's file.
func rtLoad(w *world, v *Vault) error {
	b, err := v.Marshal()
	if err != nil {
		return err
	}
	p, err := Parse(b)
	if err != nil {
		return err
	}
	return p.VerifyRoster(w.ca.opts())
}

// rtSign signs digest with tok's signing key as enrolled in v's roster.
func rtSign(t *testing.T, tok *fakeToken, v *Vault, digest []byte) []byte {
	t.Helper()
	_, k, ok := v.KeyBySerial(tok.Serial())
	if !ok {
		t.Fatalf("YubiKey %d is not on the roster given", tok.Serial())
	}
	sig, err := tok.Sign(context.Background(), k.Sign.Slot.PIV(), digest, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// rtV2 is the rekey world, v1 (alice+backup, bob, carol; 2 of 3, carol's
// seal of db-root signed) and v2 = v1 - carol + dave, a new identity,
// signed by alice, bob, dave (alice and bob endorse).
func rtV2(t *testing.T) (*rekeyWorld, *Vault, *Vault) {
	t.Helper()
	w := newRekeyWorld(t)
	nv := w.rekey(t, w.v, RekeyRequest{Add: []Custodian{w.dave}, Remove: []string{"carol"}, Reason: "carol left"},
		[]string{"alice", "bob"}, "alice", "bob", "dave")
	if err := nv.VerifyRoster(w.ca.opts()); err != nil {
		t.Fatal(err)
	}
	return w, w.v, nv
}

func wantChainErr(t *testing.T, what string, err error, version int) {
	t.Helper()
	t.Logf("%s: refused: %v", what, err)
	var ce *ChainError
	if !errors.Is(err, ErrChain) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrRosterRecord) && !errors.Is(err, ErrRosterSignature) {
		t.Errorf("%s: accepted or wrong error: %v", what, err)
		return
	}
	if version > 0 && errors.As(err, &ce) && ce.Version != version {
		t.Errorf("%s: names version %d, want %d: %v", what, ce.Version, version, err)
	}
}

func secretCopy(s *Secret) Secret {
	c := *s
	c.Age = bytes.Clone(s.Age)
	c.History = slices.Clone(s.History)
	if s.Seal != nil {
		seal := *s.Seal
		c.Seal = &seal
	}
	return c
}

// ------------------------------------------------- (a) the roster chain

// Truncation, reordering, duplication, gaps and version-number games on
// the chain, through VerifyChain directly and through the vault file.
func TestRedteamChainShape(t *testing.T) {
	w, old, v2 := rtV2(t)
	opts := w.ca.opts()
	v3 := w.rekey(t, v2, RekeyRequest{AddKeys: []Custodian{w.bobBackup}, Reason: "bob backup"}, []string{"alice", "bob"}, "alice", "bob", "dave")
	if err := v3.VerifyRoster(opts); err != nil {
		t.Fatal(err)
	}
	r1, r2, r3 := old.RosterRecord(), v2.RosterRecord(), v3.RosterRecord()
	for name, c := range map[string][]RosterRecord{
		"v2 alone (v1 truncated)": {r2},
		"v3 alone":                {r3},
		"v1,v3 (v2 dropped)":      {r1, r3},
		"v2,v1 (reordered)":       {r2, r1},
		"v1,v1,v2 (duplicated)":   {r1, r1, r2},
		"v1,v2,v2 (duplicated)":   {r1, r2, r2},
		"v1,v3,v2 (reordered)":    {r1, r3, r2},
		"v2,v3 (root dropped)":    {r2, r3},
		"v1,v2,v3,v3 (replayed)":  {r1, r2, r3, r3},
		"v1,v2,v1 (back to v1)":   {r1, r2, r1},
		"empty":                   {},
	} {
		_, err := VerifyChain(c, opts)
		if !errors.Is(err, ErrChain) {
			t.Errorf("VerifyChain(%s): %v, want ErrChain", name, err)
		}
	}

	file := func(name string, edit func(v *Vault)) {
		t.Helper()
		v := rtClone(t, v3)
		edit(v)
		wantChainErr(t, name, rtLoad(w.world, v), 0)
	}
	file("file: chain truncated to [v2]", func(v *Vault) { v.Chain = v.Chain[1:] })
	file("file: chain [v1,v1]", func(v *Vault) { v.Chain[1] = v.Chain[0] })
	file("file: chain [v2,v1]", func(v *Vault) { v.Chain[0], v.Chain[1] = v.Chain[1], v.Chain[0] })
	file("file: roster version 4, chain padded with v2", func(v *Vault) {
		v.Chain = append(v.Chain, v.Chain[1])
		v.Roster.Version = 4
		v.RecordedFingerprint = v.ComputeFingerprint()
	})
	file("file: roster version 2 with v1 chain (claims to follow v1)", func(v *Vault) {
		v.Chain = v.Chain[:1]
		v.Roster.Version = 2
		v.Roster.Previous = v.Chain[0].Digest
		v.RecordedFingerprint = v.ComputeFingerprint()
	})
	file("file: roster version 1 stated explicitly", func(v *Vault) {
		v.Roster.Version = 1
		v.RecordedFingerprint = v.ComputeFingerprint()
	})
	file("file: roster version 0 (claims to be a first roster) keeping chain", func(v *Vault) {
		v.Roster.Version, v.Roster.Previous, v.Roster.Change, v.Roster.Carried = 0, "", nil, nil
		v.RecordedFingerprint = v.ComputeFingerprint()
	})
	file("file: first roster with endorsements", func(v *Vault) {
		*v = *rtClone(t, old)
		v.Endorsements = v.Signatures
	})
	file("file: previous names v1 while v2 is in the chain", func(v *Vault) {
		v.Roster.Previous = v.Chain[0].Digest
		v.RecordedFingerprint = v.ComputeFingerprint()
	})
	file("file: chain[1] endorsements stripped", func(v *Vault) { v.Chain[1].Endorsements = nil })
	file("file: chain[1] digest edited", func(v *Vault) { v.Chain[1].Digest = strings.Repeat("0", 64) })

	// In-memory vaults that bypass Parse are still verified as a chain.
	mem := rtClone(t, v3)
	mem.Chain = nil
	if err := mem.VerifyRoster(opts); !errors.Is(err, ErrChain) {
		t.Errorf("in-memory v3 without chain: %v", err)
	}
}

// Endorsements replayed from another version, another vault, or the old
// roster's own signatures.
func TestRedteamEndorsementReplay(t *testing.T) {
	w, old, v2 := rtV2(t)
	v3 := w.rekey(t, v2, RekeyRequest{AddKeys: []Custodian{w.bobBackup}}, []string{"alice", "bob"}, "alice", "bob", "dave")
	_, _, otherV2 := rtV2(t) // another vault, same ids and serials
	check := func(name string, base *Vault, version int, edit func(v *Vault)) {
		t.Helper()
		v := rtClone(t, base)
		edit(v)
		wantChainErr(t, name, rtLoad(w.world, v), version)
	}
	check("v3's endorsements put on v2", v3, 2, func(v *Vault) { v.Chain[1].Endorsements = slices.Clone(v.Endorsements) })
	check("v2's endorsements put on v3", v3, 3, func(v *Vault) { v.Endorsements = slices.Clone(v.Chain[1].Endorsements) })
	check("v1's roster signatures used as endorsements of v2", v2, 2, func(v *Vault) { v.Endorsements = slices.Clone(old.Signatures) })
	check("endorsements of another vault's v2", v2, 2, func(v *Vault) { v.Endorsements = slices.Clone(otherV2.Endorsements) })
	check("signatures of another vault's v2", v2, 2, func(v *Vault) { v.Signatures = slices.Clone(otherV2.Signatures) })
	check("v2's member signatures relabelled for v3", v3, 3, func(v *Vault) { v.Signatures = slices.Clone(v.Chain[1].Signatures) })
	// Whole chain of another vault under our roster.
	check("chain of another vault", v2, 0, func(v *Vault) {
		v.Chain = slices.Clone(otherV2.Chain)
	})
}

// Endorsements by the wrong keys: one person's two keys, a key the old
// roster did not enrol, a member signature relabelled as another
// custodian's endorsement, wrong case or unicode in the id.
func TestRedteamEndorsementIdentity(t *testing.T) {
	w, old, v2 := rtV2(t)
	d2 := v2.RosterDigest()
	aliceBackup := rtSign(t, w.toks["alice-backup"], old, d2[:])
	carolSig := rtSign(t, w.toks["carol"], old, d2[:]) // departed carol, her key still in v1
	daveSig := rtSign(t, w.toks["dave"], v2, d2[:])
	endorsement := func(v *Vault, id string) Signature {
		i := slices.IndexFunc(v.Endorsements, func(s Signature) bool { return s.Custodian == id })
		if i < 0 {
			t.Fatalf("no endorsement by %s", id)
		}
		return v.Endorsements[i]
	}
	alice := endorsement(v2, "alice")
	check := func(name string, ends ...Signature) {
		t.Helper()
		v := rtClone(t, v2)
		v.Endorsements = ends
		wantChainErr(t, name, rtLoad(w.world, v), 2)
	}
	check("alice's two keys count twice", alice, Signature{Custodian: "alice", Serial: 1002, Signature: aliceBackup})
	check("alice's backup signature labelled bob", alice, Signature{Custodian: "bob", Serial: 1002, Signature: aliceBackup})
	check("alice's backup signature labelled bob/2001", alice, Signature{Custodian: "bob", Serial: 2001, Signature: aliceBackup})
	check("dave (not in v1) endorses", alice, Signature{Custodian: "dave", Serial: 4001, Signature: daveSig})
	check("dave's member signature labelled carol", alice, Signature{Custodian: "carol", Serial: 3001, Signature: daveSig})
	check("carol alone (departed, one old key)", Signature{Custodian: "carol", Serial: 3001, Signature: carolSig})
	check("alice twice, same signature", alice, alice)
	check("id in upper case", alice, Signature{Custodian: "Carol", Serial: 3001, Signature: carolSig})
	check("id with cyrillic a", Signature{Custodian: "\u0430lice", Serial: 1001, Signature: alice.Signature}, Signature{Custodian: "carol", Serial: 3001, Signature: carolSig})
	check("garbage signature padding", alice, Signature{Custodian: "bob", Serial: 2001, Signature: bytes.Repeat([]byte{0x30}, 70)})

	// A key the previous version did not enrol (bob's backup is added by v3)
	// cannot endorse v3.
	v3 := w.rekey(t, v2, RekeyRequest{AddKeys: []Custodian{w.bobBackup}}, []string{"alice", "bob"}, "alice", "bob", "dave")
	d3 := v3.RosterDigest()
	bb := rtSign(t, w.toks["bob-backup"], v3, d3[:])
	v := rtClone(t, v3)
	v.Endorsements = []Signature{endorsement(v3, "alice"), {Custodian: "bob", Serial: 2002, Signature: bb}}
	wantChainErr(t, "v3 endorsed with bob's new backup key", rtLoad(w.world, v), 3)
}

// An attacker holding one old key (stolen or departed carol's) and write
// access forges roster versions: their own v2 from v1, or a v3 on top of
// the genuine v2 (where carol is no longer a custodian).
func TestRedteamForgedLinkOneKey(t *testing.T) {
	w, old, v2 := rtV2(t)
	ctx := context.Background()
	mal := newFakeToken(t, w.ca, 6001)
	mallory := enrol(t, w.ca, mal, "mallory", "Mallory")
	carol, _ := old.Custodian("carol")

	forge := func(from *Vault, custodians []Custodian, m int) *Vault {
		t.Helper()
		f, err := Create(custodians, m, rekeyNow)
		if err != nil {
			t.Fatal(err)
		}
		f.Roster.Version, f.Roster.Previous = from.Roster.Number()+1, from.RosterDigestHex()
		f.Roster.Change = &RosterChange{ThresholdFrom: from.Roster.Policy.Threshold, ThresholdTo: m, Identity: IdentityNew, Added: []string{"mallory"}}
		f.Chain = append(slices.Clone(from.Chain), from.RosterRecord())
		f.Secrets = slices.Clone(from.Secrets)
		f.RecordedFingerprint = f.ComputeFingerprint()
		return f
	}
	// v2' from v1: carol + mallory, 2 of 2; carol signs and endorses; alice's
	// v1 roster signature replayed as her endorsement.
	f := forge(old, []Custodian{carol, mallory}, 2)
	for _, tok := range []*fakeToken{w.toks["carol"], mal} {
		if _, err := f.SignRoster(ctx, tok, testPIN); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := f.SignRekey(ctx, w.toks["carol"], testPIN); err != nil || !s.Endorser {
		t.Fatalf("carol endorsing the forgery: %+v %v", s, err)
	}
	aliceV1, _ := old.signatureOf("alice")
	f.Endorsements = append(f.Endorsements, aliceV1)
	wantChainErr(t, "v2' endorsed by carol + replayed v1 signature of alice", rtLoad(w.world, f), 2)

	// v3' on top of the genuine v2, endorsed by carol (not in v2): only
	// carol's and mallory's keys are the attacker's.
	f3 := forge(v2, []Custodian{carol, mallory}, 2)
	for _, tok := range []*fakeToken{w.toks["carol"], mal} {
		if _, err := f3.SignRoster(ctx, tok, testPIN); err != nil {
			t.Fatal(err)
		}
	}
	d := f3.RosterDigest()
	f3.Endorsements = []Signature{{Custodian: "carol", Serial: 3001, Signature: rtSign(t, w.toks["carol"], old, d[:])}}
	wantChainErr(t, "v3' on v2 endorsed by departed carol", rtLoad(w.world, f3), 3)

	// Threshold lowered / custodian dropped by editing v2 in place: every
	// signature breaks.
	for name, edit := range map[string]func(v *Vault){
		"bob dropped from v2 (policy 2 of 2)": func(v *Vault) {
			v.Roster.Custodians = slices.DeleteFunc(v.Roster.Custodians, func(c Custodian) bool { return c.ID == "bob" })
			v.Roster.Policy.Custodians = 2
			v.Shares = slices.DeleteFunc(v.Shares, func(s Share) bool { return s.Custodian == "bob" })
			v.Signatures = slices.DeleteFunc(v.Signatures, func(s Signature) bool { return s.Custodian == "bob" })
			v.RecordedFingerprint = v.ComputeFingerprint()
		},
		"mallory's key swapped in for dave's": func(v *Vault) {
			for i := range v.Roster.Custodians {
				if v.Roster.Custodians[i].ID == "dave" {
					v.Roster.Custodians[i].Keys = slices.Clone(mallory.Keys)
					v.Roster.Custodians[i].Keys[0].Role = "primary"
				}
			}
			for i := range v.Shares {
				if v.Shares[i].Custodian == "dave" {
					v.Shares[i].Serial = 6001
				}
			}
			for i := range v.Signatures {
				if v.Signatures[i].Custodian == "dave" {
					v.Signatures[i].Serial = 6001
				}
			}
			v.RecordedFingerprint = v.ComputeFingerprint()
		},
	} {
		v := rtClone(t, v2)
		edit(v)
		if err := rtLoad(w.world, v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// LIMITATION (not asserted as a finding: beyond the stated adversary, who
// holds ONE old key). Whoever holds a threshold of the keys of ANY earlier
// version — e.g. alice's stolen primary 1001 (removed by a rekey) plus
// departed carol's 3001, both in v1 — can fork the chain from that
// version: [v1, v2'] verifies, and an auditor who pinned v1 accepts it.
// VerifyRoster has no state to tell the fork from the genuine v2; TUF
// answers this with clients that keep the newest root they have seen and
// never accept a chain that does not contain it. The ledger (and any
// station) should record the newest version seen per pin and refuse a
// chain that does not extend it.
func TestRedteamLimitationForkByOldQuorum(t *testing.T) {
	w := newRekeyWorld(t)
	ctx := context.Background()
	old := w.v
	// Genuine v2: carol leaves, alice's stolen primary is removed.
	v2 := w.rekey(t, old, RekeyRequest{Remove: []string{"carol"}, RemoveKeys: []uint32{1001}, Add: []Custodian{w.dave}},
		[]string{"alice-backup", "bob"}, "alice-backup", "bob", "dave")
	if err := v2.VerifyRoster(w.ca.opts()); err != nil {
		t.Fatal(err)
	}
	mal := newFakeToken(t, w.ca, 6001)
	mallory := enrol(t, w.ca, mal, "mallory", "Mallory")
	carol, _ := old.Custodian("carol")
	f, err := Create([]Custodian{carol, mallory}, 2, rekeyNow)
	if err != nil {
		t.Fatal(err)
	}
	f.Roster.Version, f.Roster.Previous = 2, old.RosterDigestHex()
	f.Roster.Change = &RosterChange{ThresholdFrom: 2, ThresholdTo: 2, Identity: IdentityNew, Added: []string{"mallory"}, Removed: []string{"alice", "bob"},
		KeysAdded: []uint32{6001}, KeysRemoved: []uint32{1001, 1002, 2001}}
	f.Chain = []RosterRecord{old.RosterRecord()}
	f.RecordedFingerprint = f.ComputeFingerprint()
	for _, tok := range []*fakeToken{w.toks["carol"], mal} {
		if _, err := f.SignRoster(ctx, tok, testPIN); err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range []*fakeToken{w.toks["carol"], w.toks["alice"]} {
		if _, err := f.SignRekey(ctx, tok, testPIN); err != nil {
			t.Fatal(err)
		}
	}
	err = rtLoad(w.world, f)
	if err != nil {
		t.Fatalf("the fork was refused (%v): update this test and the report", err)
	}
	if VersionIndex(f.Versions(), mustPin(t, old.Fingerprint())) != 0 {
		t.Fatal("fork does not chain to the v1 pin")
	}
	t.Logf("LIMITATION: a fork of v1 endorsed by two keys removed from later versions verifies against the v1 pin (genuine v2 is %s, fork is %s)", v2.Fingerprint(), f.ComputeFingerprint())
}

// FINDING: Parse is not strict about JSON object keys. encoding/json
// matches field names case-insensitively and lets a later duplicate key
// override an earlier one, so a vault file can carry two rosters,
// fingerprints or chains: a reader that takes the first occurrence, or the
// exact-case key (jq '.fingerprint', a reviewer reading the file, another
// implementation), sees different content than the one breakglass
// verified. The canonical roster bytes are safe (re-encoded and compared),
// but the file is meant to be human-inspectable and "strictly parsed".
// Fix: before Decode, walk the file with json.Decoder.Token and refuse a
// duplicate key in any object and any key that is not byte-exact one of
// the struct's json names (or decode into map[string]json.RawMessage per
// level and compare key sets).
func TestRedteamFindingParseAcceptsDuplicateAndCaseVariantKeys(t *testing.T) {
	_, _, v2 := rtV2(t)
	good, err := v2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	decoy := `{"fingerprint": "AAAA-AAAA-AAAA-AAAA-AAAA", "recipient": "age1decoy",` + string(good[1:])
	caseVariant := strings.Replace(string(good), `"fingerprint":`, `"FINGERPRINT":`, 1)
	chainVariant := strings.Replace(string(good), `"chain":`, `"Chain":`, 1)
	for name, data := range map[string]string{
		"duplicate keys (decoy first, genuine last)": decoy,
		"FINGERPRINT instead of fingerprint":         caseVariant,
		"Chain instead of chain":                     chainVariant,
	} {
		if _, err := Parse([]byte(data)); !errors.Is(err, ErrFormat) {
			t.Errorf("FINDING: Parse accepts a vault file with %s: %v", name, err)
		}
	}
}

// JSON tricks inside a roster record's canonical bytes are refused (they
// are re-encoded and compared), as are ids outside [a-z0-9._-].
func TestRedteamCanonicalRecordTricks(t *testing.T) {
	w, _, v2 := rtV2(t)
	rec := v2.Chain[0]
	for name, edit := range map[string]func([]byte) []byte{
		"Roster key": func(b []byte) []byte { return bytes.Replace(b, []byte(`{"roster":`), []byte(`{"Roster":`), 1) },
		"duplicate recipient": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"recipient":`), []byte(`"recipient":"age1x","recipient":`), 1)
		},
		"spaces": func(b []byte) []byte { return bytes.Replace(b, []byte(`"roster":`), []byte(`"roster" : `), 1) },
		"unicode escape of a name letter": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"Carol Cooper"`), []byte(`"\u0043arol Cooper"`), 1)
		},
	} {
		r := rec
		r.Canonical = edit(bytes.Clone(rec.Canonical))
		if bytes.Equal(r.Canonical, rec.Canonical) {
			t.Fatalf("%s: edit did nothing", name)
		}
		r.Digest = DigestHex(r.Canonical)
		if _, err := VerifyRosterRecord(r, w.ca.opts()); !errors.Is(err, ErrRosterRecord) {
			t.Errorf("%s: %v, want ErrRosterRecord", name, err)
		}
	}
	// A unicode-lookalike custodian id in the roster is refused by Parse.
	v := rtClone(t, v2)
	v.Roster.Custodians[0].ID = "\u0430lice"
	v.RecordedFingerprint = v.ComputeFingerprint()
	if b, _ := v.Marshal(); true {
		if _, err := Parse(b); !errors.Is(err, ErrFormat) {
			t.Errorf("cyrillic id: %v", err)
		}
	}
}

// Very large chains and endorsement lists are refused before any
// cryptography.
func TestRedteamChainSizeBounded(t *testing.T) {
	w, _, v2 := rtV2(t)
	r := v2.Chain[0]
	long := make([]RosterRecord, maxChain+1)
	for i := range long {
		long[i] = r
	}
	start := time.Now()
	if _, err := VerifyChain(long, w.ca.opts()); !errors.Is(err, ErrChain) || !strings.Contains(err.Error(), "roster versions") {
		t.Errorf("chain of %d: %v", len(long), err)
	}
	t.Logf("refusing %d versions took %v", len(long), time.Since(start))
	v := rtClone(t, v2)
	for len(v.Endorsements) <= maxEndorsements {
		v.Endorsements = append(v.Endorsements, v.Endorsements[0])
	}
	if b, _ := v.Marshal(); true {
		if _, err := Parse(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%d endorsements: %v", len(v.Endorsements), err)
		}
	}
	rec := v2.RosterRecord()
	for len(rec.Endorsements) <= maxEndorsements {
		rec.Endorsements = append(rec.Endorsements, rec.Endorsements[0])
	}
	if _, err := VerifyRosterRecord(rec, w.ca.opts()); !errors.Is(err, ErrRosterRecord) {
		t.Errorf("record with %d endorsements: %v", len(rec.Endorsements), err)
	}
}

// ------------------------------------------- (b) seals carried by a rekey

func TestRedteamCarriedSeals(t *testing.T) {
	w, old, v2 := rtV2(t)
	ctx := context.Background()
	_, _, otherV2 := rtV2(t)
	oldDB, _ := old.Secret("db-root")
	_ = ctx
	check := func(name, secret string, edit func(v *Vault)) {
		t.Helper()
		v := rtClone(t, v2)
		edit(v)
		b, _ := v.Marshal()
		v, err := Parse(b)
		if err != nil {
			t.Logf("%s: refused at Parse: %v", name, err)
			return
		}
		if err := v.VerifyRoster(w.ca.opts()); err != nil {
			t.Logf("%s: refused at VerifyRoster: %v", name, err)
			return
		}
		a, err := v.VerifySeal(secret)
		if err == nil {
			t.Errorf("%s: VerifySeal(%s) accepted: %v", name, secret, a)
		}
		t.Logf("%s: refused: %v", name, err)
	}
	check("v1 ciphertext and seal re-inserted", "db-root", func(v *Vault) {
		s, _ := v.Secret("db-root")
		*s = secretCopy(oldDB)
	})
	check("v1 ciphertext under the carried seal", "db-root", func(v *Vault) {
		s, _ := v.Secret("db-root")
		s.Age = bytes.Clone(oldDB.Age)
	})
	check("carried entry moved to another secret", "github-2fa", func(v *Vault) {
		s, _ := v.Secret("db-root")
		g, _ := v.Secret("github-2fa")
		c := secretCopy(s)
		c.Name, c.Kind = "github-2fa", g.Kind
		*g = c
	})
	check("carried secret renamed", "db-root-2", func(v *Vault) {
		s, _ := v.Secret("db-root")
		s.Name = "db-root-2"
	})
	check("kind changed", "db-root", func(v *Vault) {
		s, _ := v.Secret("db-root")
		s.Kind = KindText
	})
	check("seal from another vault's rekey", "db-root", func(v *Vault) {
		s, _ := v.Secret("db-root")
		o, _ := otherV2.Secret("db-root")
		*s = secretCopy(o)
	})
	check("history prepended to the carried seal", "db-root", func(v *Vault) {
		s, _ := v.Secret("db-root")
		s.History = []SignedSeal{*s.Seal}
	})
	check("sealed_at moved", "db-root", func(v *Vault) {
		s, _ := v.Secret("db-root")
		s.SealedAt = s.SealedAt.Add(time.Hour)
	})

	// Departed carol (key in v1) signs a seal record "under v1" for a value
	// of her choosing sealed to the new recipient (sealing is write-only),
	// for a carried name, an unattributed one and a new one.
	forge := func(v *Vault, name string, kind Kind) {
		t.Helper()
		if err := v.Seal(name, kind, []byte("attacker value"), rekeyNow); err != nil {
			t.Fatal(err)
		}
		s, _ := v.Secret(name)
		s.History = nil
		r := SealRecord{Roster: old.RosterDigestHex(), Name: name, Kind: kind, Version: 1, Ciphertext: ciphertextDigest(s.Age),
			SealedAt: s.SealedAt, SealedBy: "carol", Serial: 3001}
		canon, _ := CanonicalSealRecord(r)
		d := sha256Sum(canon)
		s.Seal = &SignedSeal{Record: r, Signature: rtSign(t, w.toks["carol"], old, d)}
	}
	check("departed carol seals db-root under v1", "db-root", func(v *Vault) { forge(v, "db-root", KindPassword) })
	check("departed carol seals unattributed ssh-key under v1", "ssh-key", func(v *Vault) { forge(v, "ssh-key", KindText) })
	check("departed carol seals a new secret under v1", "backdoor", func(v *Vault) { forge(v, "backdoor", KindPassword) })
	// Carol's signature under the CURRENT roster: she is not on it.
	check("departed carol seals under v2", "db-root", func(v *Vault) {
		if err := v.Seal("db-root", KindPassword, []byte("attacker value"), rekeyNow); err != nil {
			t.Fatal(err)
		}
		s, _ := v.Secret("db-root")
		r := SealRecord{Roster: v.RosterDigestHex(), Name: "db-root", Kind: KindPassword, Version: len(s.History) + 1,
			Ciphertext: ciphertextDigest(s.Age), SealedAt: s.SealedAt, SealedBy: "carol", Serial: 3001, Prev: SealDigest(s.History[len(s.History)-1].Record)}
		canon, _ := CanonicalSealRecord(r)
		d := sha256Sum(canon)
		s.Seal = &SignedSeal{Record: r, Signature: rtSign(t, w.toks["carol"], old, d)}
	})
}

// A value rotated before a rekey cannot be rolled back across it: the
// carried seal pins the newest record and its ciphertext.
func TestRedteamRollbackAcrossReshare(t *testing.T) {
	w := newRekeyWorld(t)
	ctx := context.Background()
	v1Entry := secretCopy(must(w.v.Secret("db-root")))
	if _, err := w.v.SealSigned(ctx, w.toks["bob"], testPIN, "db-root", KindPassword, []byte("rotated before rekey"), testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	w.v = w.reload(t)
	// Reshare: the same identity, so v1's ciphertext still decrypts.
	v2 := w.rekey(t, w.v, RekeyRequest{AddKeys: []Custodian{w.bobBackup}}, []string{"alice", "bob"}, "alice", "bob", "carol")
	if v2.Roster.Change.Identity != IdentityReshared {
		t.Fatal("want a reshare")
	}
	v := rtClone(t, v2)
	s, _ := v.Secret("db-root")
	*s = v1Entry
	if _, err := v.VerifySeal("db-root"); !errors.Is(err, ErrSealBroken) {
		t.Errorf("version 1 of db-root (before the pre-rekey rotation) put back after a reshare: %v", err)
	}
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("missing")
	}
	return v
}

// LIMITATION (known, written in the README and the package doc): a value re-sealed after a rekey is rolled back to the value the
// rekey carried by putting back the whole secret entry from a copy of the
// vault file written between the rekey and the re-seal (vault.json.prev is
// such a copy). VerifySeal accepts it as current: the carried list in the
// signed roster still vouches for the old record, and nothing says a newer
// record exists. The same holds without any rekey (second sub-test): the
// entry of version n-1 (its ciphertext, record and history, all genuine)
// put back in place of version n verifies, because the seal chain is only
// checked backwards from whatever record the file holds. Invariant 8 ("an
// altered value is never revealed as current") and the issue's "rollback"
// both rely on this.
// Fix: a seal cannot be anchored by the file alone. Keep a monotonic anchor
// outside it: journal the seal digest of every secret at each session and
// have the station and the ledger refuse a secret whose (version, digest)
// is below the last seen; and at least make the rekey anchor carried seals
// (the carried entry should not be accepted once the file has been seen
// with a newer record of that secret under the current roster), and show
// seal version and date at reveal so custodians notice.
func TestRedteamLimitationRollbackAfterRekeyReseal(t *testing.T) {
	t.Run("carried value restored after reseal", func(t *testing.T) {
		w, _, v2 := rtV2(t)
		ctx := context.Background()
		carriedEntry := secretCopy(must(v2.Secret("db-root"))) // as vault.json.prev after the rekey
		if _, err := v2.SealSigned(ctx, w.toks["dave"], testPIN, "db-root", KindPassword, []byte("rotated after the rekey"), rekeyNow.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		v := rtClone(t, v2)
		s, _ := v.Secret("db-root")
		*s = carriedEntry
		v = rtClone(t, v)
		if err := v.VerifyRoster(w.ca.opts()); err != nil {
			t.Fatal(err)
		}
		a, err := v.VerifySeal("db-root")
		if err != nil {
			t.Fatalf("the rollback is now refused (%v): update this test and the README", err)
		}
		if a.Version != 1 || a.SealedUnder != 1 {
			t.Errorf("the rolled-back value must at least show its old version and roster: %+v", a)
		}
		t.Logf("LIMITATION: the pre-rotation entry verifies as current (%v); the report records version %d, so the ledger flags the rollback", a, a.Version)
	})
	t.Run("same root cause without a rekey", func(t *testing.T) {
		w := newWorld(t)
		w.signAll(t)
		ctx := context.Background()
		v1 := secretCopy(must(w.v.Secret("db-root")))
		if _, err := w.v.SealSigned(ctx, w.toks["bob"], testPIN, "db-root", KindPassword, []byte("rotated pw"), testNow.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		v := rtClone(t, w.v)
		s, _ := v.Secret("db-root")
		*s = v1
		a, err := v.VerifySeal("db-root")
		if err != nil {
			t.Fatalf("the rollback is now refused (%v): update this test and the README", err)
		}
		if a.Version != 1 {
			t.Errorf("the rolled-back value must show version 1: %+v", a)
		}
	})
}

// ------------------------------------------- (c) old shares, identities

func sha256Sum(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}

func TestRedteamOldSharesAfterRemoval(t *testing.T) {
	w, old, v2 := rtV2(t)
	ctx := context.Background()
	share := func(v *Vault, who string) []byte {
		t.Helper()
		u := v.Unlocker(w.ca.opts())
		if err := u.AddShare(ctx, w.toks[who], testPIN); err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		c, _, _ := v.KeyBySerial(w.toks[who].Serial())
		b := bytes.Clone(u.shares[c.ID].Bytes())
		u.Abort()
		return b
	}
	carolOld, aliceOld, bobOld := share(old, "carol"), share(old, "alice"), share(old, "bob")
	aliceNew, bobNew, daveNew := share(v2, "alice"), share(v2, "bob"), share(v2, "dave")
	recip := func(parts ...[]byte) string {
		k, err := shamir.Combine(parts)
		if err != nil {
			return "error"
		}
		r, err := recipientOf(k)
		if err != nil {
			return "error"
		}
		return r
	}
	if recip(aliceNew, bobNew) != v2.Recipient || recip(aliceNew, daveNew) != v2.Recipient {
		t.Fatal("the new shares do not give the new key")
	}
	for name, parts := range map[string][][]byte{
		"carol old + alice old":           {carolOld, aliceOld},
		"carol old + alice new":           {carolOld, aliceNew},
		"carol old + dave new":            {carolOld, daveNew},
		"alice old + bob old":             {aliceOld, bobOld},
		"carol old + alice old + bob new": {carolOld, aliceOld, bobNew},
	} {
		if r := recip(parts...); r == v2.Recipient {
			t.Errorf("%s gives the new vault key", name)
		}
	}
	if old.Recipient == v2.Recipient {
		t.Error("removal kept the identity")
	}
	for _, o := range [][]byte{carolOld, aliceOld, bobOld} {
		for _, n := range [][]byte{aliceNew, bobNew, daveNew} {
			if bytes.Equal(o, n) {
				t.Error("a new share equals an old one")
			}
		}
	}
	// No ciphertext of the old file survives in the new one; the old
	// identity decrypts nothing in it.
	nb, _ := v2.Marshal()
	oldOpen := w.open(t, old, "alice", "carol")
	for _, s := range old.Secrets {
		js, _ := json.Marshal(s.Age)
		if bytes.Contains(nb, js[1:len(js)-1]) {
			t.Errorf("old ciphertext of %s is in the new vault", s.Name)
		}
	}
	for _, s := range v2.Secrets {
		if _, err := age.Decrypt(bytes.NewReader(s.Age), oldOpen.id); err == nil {
			t.Errorf("old identity decrypts %s", s.Name)
		}
	}
	// A secret sealed after the rekey (write-only, to the file's recipient)
	// does not open with the old identity either.
	v := rtClone(t, v2)
	if err := v.Seal("after", KindPassword, []byte("sealed after the rekey"), rekeyNow); err != nil {
		t.Fatal(err)
	}
	s, _ := v.Secret("after")
	if _, err := age.Decrypt(bytes.NewReader(s.Age), oldOpen.id); err == nil {
		t.Error("old identity decrypts a value sealed after the rekey")
	}
	// Reshare (add only): fresh shares of the same key.
	w2 := newRekeyWorld(t)
	oldA := func() []byte {
		u := w2.v.Unlocker(w2.ca.opts())
		if err := u.AddShare(ctx, w2.toks["alice"], testPIN); err != nil {
			t.Fatal(err)
		}
		defer u.Abort()
		return bytes.Clone(u.shares["alice"].Bytes())
	}()
	rv := w2.rekey(t, w2.v, RekeyRequest{Add: []Custodian{w2.dave}}, []string{"alice", "bob"}, "alice", "bob", "carol", "dave")
	u := rv.Unlocker(w2.ca.opts())
	if err := u.AddShare(ctx, w2.toks["alice"], testPIN); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(u.shares["alice"].Bytes(), oldA) {
		t.Error("a reshare kept alice's old share")
	}
	u.Abort()
}

// The plan makes a new identity whenever anything is removed or the
// threshold rises, and says so.
func TestRedteamIdentityDecision(t *testing.T) {
	w := newRekeyWorld(t)
	dave2tok := newFakeToken(t, w.ca, 4002)
	erin := enrol(t, w.ca, dave2tok, "erin", "Erin Eve")
	for _, tc := range []struct {
		name string
		req  RekeyRequest
		new  bool
	}{
		{"remove custodian", RekeyRequest{Remove: []string{"carol"}}, true},
		{"remove backup key", RekeyRequest{RemoveKeys: []uint32{1002}}, true},
		{"threshold up", RekeyRequest{Threshold: 3}, true},
		{"replace carol by dave", RekeyRequest{Remove: []string{"carol"}, Add: []Custodian{w.dave}}, true},
		{"add then threshold up", RekeyRequest{Add: []Custodian{w.dave, erin}, Threshold: 3}, true},
		{"add only", RekeyRequest{Add: []Custodian{w.dave}}, false},
		{"add key only", RekeyRequest{AddKeys: []Custodian{w.bobBackup}}, false},
		{"remove key and add a key for the same person", RekeyRequest{RemoveKeys: []uint32{1002}, AddKeys: []Custodian{{ID: "alice", Name: "Alice Archer", Keys: w.dave.Keys}}}, true},
	} {
		tc.req.Now = rekeyNow
		p, err := w.v.PlanRekey(tc.req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if p.NewIdentity() != tc.new {
			t.Errorf("%s: new identity %v, want %v", tc.name, p.NewIdentity(), tc.new)
		}
	}
}

// encryptLocked writes the file age.Encrypt writes (one X25519 stanza,
// header MAC, nonce, STREAM), and the rekey's re-encrypted secrets are
// such files; they open with the stock library.
func TestRedteamEncryptLockedIsStandardAge(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("breakglass-secret-v1\x00x\x00password\x00value")
	ct, err := encryptLocked(plain, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	var ref bytes.Buffer
	aw, _ := age.Encrypt(&ref, id.Recipient())
	aw.Write(plain)
	aw.Close()
	hdr, err := age.ExtractHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	refHdr, _ := age.ExtractHeader(bytes.NewReader(ref.Bytes()))
	if len(ct) != ref.Len() || len(hdr) != len(refHdr) || !bytes.HasPrefix(ct, []byte("age-encryption.org/v1\n-> X25519 ")) ||
		bytes.Count(hdr, []byte("\n-> ")) != 1 {
		t.Errorf("encryptLocked output differs in shape from age.Encrypt: %d vs %d bytes, header %q", len(ct), ref.Len(), hdr)
	}
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(r)
	if !bytes.Equal(got.Bytes(), plain) {
		t.Error("round trip differs")
	}
	// Two encryptions of the same value differ (fresh file key and nonce).
	ct2, _ := encryptLocked(plain, id.Recipient())
	if bytes.Equal(ct, ct2) || bytes.Equal(ct[len(hdr):len(hdr)+16], ct2[len(hdr):len(hdr)+16]) {
		t.Error("encryptLocked reuses file key or nonce")
	}
	// Empty plaintext (age allows it; breakglass never seals one).
	if e, err := encryptLocked(nil, id.Recipient()); err != nil {
		t.Error(err)
	} else if _, err := age.Decrypt(bytes.NewReader(e), id); err != nil {
		t.Errorf("empty: %v", err)
	}
	// The rekeyed vault's secrets open with the stock age library.
	w, _, v2 := rtV2(t)
	o := w.open(t, v2, "alice", "dave")
	for _, s := range v2.Secrets {
		r, err := age.Decrypt(bytes.NewReader(s.Age), o.id)
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		var b bytes.Buffer
		b.ReadFrom(r)
		if !bytes.HasPrefix(b.Bytes(), secretHeader(s.Name, s.Kind)) {
			t.Errorf("%s: wrong header", s.Name)
		}
	}
}

// ------------------------------------------------- (d) PlanRekey requests

func TestRedteamPlanRefuses(t *testing.T) {
	w := newRekeyWorld(t)
	carolRec, _ := w.v.Custodian("carol")
	noKeys := w.dave
	noKeys.Keys = nil
	badID := w.dave
	badID.ID = "d\u0430ve"
	for _, tc := range []struct {
		name string
		req  RekeyRequest
	}{
		{"threshold -1", RekeyRequest{Threshold: -1}},
		{"threshold 1 with an add", RekeyRequest{Add: []Custodian{w.dave}, Threshold: 1}},
		{"threshold 5 of 4", RekeyRequest{Add: []Custodian{w.dave}, Threshold: 5}},
		{"alice left with no key", RekeyRequest{RemoveKeys: []uint32{1001, 1002}}},
		{"remove-key twice", RekeyRequest{RemoveKeys: []uint32{1002, 1002}}},
		{"remove twice", RekeyRequest{Remove: []string{"carol", "carol"}, Add: []Custodian{w.dave}}},
		{"add a custodian without keys", RekeyRequest{Add: []Custodian{noKeys}}},
		{"add a custodian with a unicode id", RekeyRequest{Add: []Custodian{badID}}},
		{"add carol's own record as a new id", RekeyRequest{Add: []Custodian{{ID: "carol2", Name: "Carol C", Keys: carolRec.Keys}}}},
		{"add a name of the roster in other case and spaces", RekeyRequest{Add: []Custodian{{ID: "al", Name: "  alice ARCHER ", Keys: w.dave.Keys}}}},
		{"add-key to a removed custodian", RekeyRequest{Remove: []string{"carol"}, AddKeys: []Custodian{{ID: "carol", Name: "Carol Cooper", Keys: w.dave.Keys}}}},
		{"add-key with another name", RekeyRequest{AddKeys: []Custodian{{ID: "bob", Name: "Bob B.", Keys: w.dave.Keys}}}},
		{"add-key of a serial already on the roster", RekeyRequest{AddKeys: []Custodian{{ID: "bob", Name: "Bob Baker", Keys: carolRec.Keys}}}},
		{"add-key for someone not on the roster", RekeyRequest{AddKeys: []Custodian{w.dave}}},
		{"removed carol's key given to dave", RekeyRequest{Remove: []string{"carol"}, Add: []Custodian{{ID: "dave", Name: "Dave Dyer", Keys: carolRec.Keys}}}},
		{"the same new person twice by id and key", RekeyRequest{Add: []Custodian{w.dave, w.dave}}},
	} {
		tc.req.Now = rekeyNow
		if _, err := w.v.PlanRekey(tc.req); !errors.Is(err, ErrRekey) {
			t.Errorf("%s: %v, want ErrRekey", tc.name, err)
		}
	}
}

// FINDING: PlanRekey lets one person be added twice under two ids: the
// name check compares each added custodian with the existing roster only,
// never with the other custodians added in the same request, and
// validateRoster checks ids and serials but not names. "Dave Dyer" as dave
// (YubiKey 4001) and dave2 (YubiKey 4002) is then two roster entries: in a
// 2-of-4 vault Dave alone is a quorum, opens every secret and alone
// endorses the next rekey. The change record lists only ids.
// Fix: in PlanRekey compare every custodian of the NEW roster (kept and
// added) pairwise by normalised name; and have validateRoster refuse two
// entries with the same normalised name, so Create, Parse and
// VerifyChain enforce it too.
func TestRedteamFindingPlanAddsSamePersonTwice(t *testing.T) {
	w := newRekeyWorld(t)
	tok := newFakeToken(t, w.ca, 4002)
	dave2 := enrol(t, w.ca, tok, "dave2", "Dave Dyer")
	if _, err := w.v.PlanRekey(RekeyRequest{Add: []Custodian{w.dave, dave2}, Now: rekeyNow}); !errors.Is(err, ErrRekey) {
		t.Errorf("FINDING: Dave Dyer added twice (ids dave and dave2, YubiKeys 4001 and 4002) in one rekey: %v", err)
	}
	c := append(slices.Clone(w.v.Roster.Custodians), w.dave, dave2)
	if _, err := Create(c, 2, rekeyNow); err == nil {
		t.Errorf("FINDING: Create accepts two custodians named Dave Dyer")
	}
}

// FINDING: the "same person" name check is strings.EqualFold after
// TrimSpace, so a name that differs only by inner whitespace, a
// compatibility form (fullwidth letters) or a lookalike letter from
// another script (Cyrillic А) passes as another person. All are accepted
// by inert.Safe and look identical on the card and the screen.
// Fix: compare a skeleton: NFKC, case fold, collapse every run of Unicode
// white space to one space, and map confusables (Unicode TS #39 skeleton,
// golang.org/x/text has the building blocks) — or refuse names that mix
// scripts; apply the same comparison in validateRoster.
func TestRedteamFindingPlanNameLookalikes(t *testing.T) {
	w := newRekeyWorld(t)
	for name, n := range map[string]string{
		"two spaces":           "Alice  Archer",
		"no-break space":       "Alice\u00a0Archer",
		"fullwidth A":          "\uff21lice Archer",
		"cyrillic A":           "\u0410lice Archer",
		"greek omicron in Bob": "B\u03bfb Baker",
	} {
		c := w.dave
		c.Name = n
		if _, err := w.v.PlanRekey(RekeyRequest{Add: []Custodian{c}, Now: rekeyNow}); !errors.Is(err, ErrRekey) {
			t.Errorf("FINDING: %s: %q added as a new person beside the roster's: %v", name, n, err)
		}
	}
}

// FINDING (high): a YubiKey can be moved from one custodian to another in a
// rekey, silently. --remove-key 2001 (bob keeps his backup 2002) with
// --add-key of a record that lists the same key 2001 under alice's id and
// name is accepted: serialOwner is computed after the removal, so 2001 is
// free again. Because 2001 is both an old and a new serial, the change
// record shows neither KeysRemoved nor KeysAdded for it (only the +dave
// that makes the request "change something"), and the identity is
// "reshared". SignRekey with key 2001 then counts as ALICE's member
// signature and BOB's endorsement, so alice never signs the roster that
// hands her share to bob's key; VerifyRoster accepts it; and bob, holding
// 2001 and 2002, is alone a quorum of the new 2-of-4 vault (invariant 1).
// Fix: in PlanRekey refuse any serial (and any signing or decryption
// public key) that is removed and added in the same request, or that the
// old roster enrolled for another custodian; compute the change per
// (custodian, serial) rather than per serial; and in SignRekey/
// checkEndorsements refuse a key whose custodian id differs between the
// previous and the new version (never let one signature count for two ids).
func TestRedteamFindingKeyMovedBetweenCustodians(t *testing.T) {
	w := newRekeyWorld(t)
	ctx := context.Background()
	v2 := w.rekey(t, w.v, RekeyRequest{AddKeys: []Custodian{w.bobBackup}}, []string{"alice", "carol"}, "alice", "bob", "carol")
	_, bobKey, _ := v2.KeyBySerial(2001)
	req := RekeyRequest{
		RemoveKeys: []uint32{2001},
		AddKeys:    []Custodian{{ID: "alice", Name: "Alice Archer", Keys: []Key{bobKey}}},
		Add:        []Custodian{w.dave},
		Reason:     "add dave",
		Now:        rekeyNow,
	}
	p, err := v2.PlanRekey(req)
	if errors.Is(err, ErrRekey) {
		return // secure
	}
	if err != nil {
		t.Fatalf("PlanRekey: %v", err)
	}
	ch := p.Change()
	t.Errorf("FINDING: PlanRekey moves YubiKey 2001 from bob to alice; the change says added %v, keys added %v, keys removed %v, identity %s",
		ch.Added, ch.KeysAdded, ch.KeysRemoved, ch.Identity)
	// Carried out by bob and carol alone; alice never signs.
	res, err := w.open(t, v2, "bob", "carol").Rekey(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "bob-backup", "carol", "dave"} {
		s, err := res.Vault.SignRekey(ctx, w.toks[who], testPIN)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		t.Logf("%s's YubiKey %d signed as %s (member %v, endorser %v)", who, s.Serial, s.Custodian.ID, s.Member, s.Endorser)
	}
	v3 := rtClone(t, res.Vault)
	if err := v3.VerifyRoster(w.ca.opts()); err == nil {
		t.Errorf("FINDING: VerifyRoster accepts a roster alice never signed (her 'signature' is bob's YubiKey 2001)")
	}
	u := v3.Unlocker(w.ca.opts())
	for _, who := range []string{"bob", "bob-backup"} {
		if err := u.AddShare(ctx, w.toks[who], testPIN); err != nil {
			t.Logf("%s: %v", who, err)
		}
	}
	if o, err := u.Open(); err == nil {
		t.Errorf("FINDING: bob alone (YubiKeys 2001 and 2002) opens the new vault: %q", reveal(t, o, "db-root"))
		o.Lock()
	}
}

// A hand-made chain with the same move (not through PlanRekey) is also
// accepted by VerifyChain: the endorsement check matches (id, serial) in
// the previous version and the member signature (id, serial) in the new
// one, but never compares the two ids of one serial.
func TestRedteamFindingChainAcceptsOneSignatureForTwoIDs(t *testing.T) {
	// FINDING: covered by TestRedteamFindingKeyMovedBetweenCustodians'
	// VerifyRoster assertion; this test checks the chain rule alone on the
	// resulting records.
	w := newRekeyWorld(t)
	ctx := context.Background()
	v2 := w.rekey(t, w.v, RekeyRequest{AddKeys: []Custodian{w.bobBackup}}, []string{"alice", "carol"}, "alice", "bob", "carol")
	_, bobKey, _ := v2.KeyBySerial(2001)
	// Build the moved roster by hand from v2.
	nv := rtClone(t, v2)
	nv.Chain = append(nv.Chain, v2.RosterRecord())
	nv.Roster.Version, nv.Roster.Previous = 3, v2.RosterDigestHex()
	nv.Roster.Change = &RosterChange{ThresholdFrom: 2, ThresholdTo: 2, Identity: IdentityReshared, Reason: "none"}
	nv.Roster.Carried = nil
	for i := range nv.Roster.Custodians {
		c := &nv.Roster.Custodians[i]
		switch c.ID {
		case "bob":
			c.Keys = slices.DeleteFunc(c.Keys, func(k Key) bool { return k.Serial == 2001 })
			c.Keys[0].Role = "primary"
		case "alice":
			k := bobKey
			k.Role = "backup"
			c.Keys = append(c.Keys, k)
		}
	}
	for i := range nv.Shares {
		if nv.Shares[i].Serial == 2001 {
			nv.Shares[i].Custodian = "alice"
		}
	}
	nv.Signatures, nv.Endorsements = []Signature{}, []Signature{}
	nv.RecordedFingerprint = nv.ComputeFingerprint()
	for _, who := range []string{"bob", "bob-backup", "carol"} {
		if _, err := nv.SignRekey(ctx, w.toks[who], testPIN); err != nil {
			t.Fatalf("%s: %v", who, err)
		}
	}
	if _, ok := nv.signatureOf("alice"); !ok {
		t.Fatal("no alice signature; the chain rule test does not apply")
	}
	if _, err := VerifyChain(nv.Versions(), w.ca.opts()); err == nil {
		t.Errorf("FINDING: VerifyChain accepts a version whose member signature for alice and endorsement for bob are one signature of YubiKey 2001")
	}
}
