package vault

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

var rekeyNow = testNow.Add(24 * time.Hour)

// rekeyWorld is the test world with dave (4001) and bob's backup (2002)
// enrolled but not on the roster, and carol's seal of db-root signed.
type rekeyWorld struct {
	*world
	dave, bobBackup Custodian
}

func newRekeyWorld(t *testing.T) *rekeyWorld {
	t.Helper()
	w := newWorld(t)
	w.toks["dave"] = newFakeToken(t, w.ca, 4001)
	w.toks["bob-backup"] = newFakeToken(t, w.ca, 2002)
	rw := &rekeyWorld{world: w,
		dave:      enrol(t, w.ca, w.toks["dave"], "dave", "Dave Dyer"),
		bobBackup: enrol(t, w.ca, w.toks["bob-backup"], "bob", "Bob Baker"),
	}
	if _, err := w.v.SignSeal(context.Background(), w.toks["carol"], testPIN, "db-root"); err != nil {
		t.Fatal(err)
	}
	w.v = w.reload(t)
	return rw
}

// open opens v with the named custodians' tokens.
func (w *world) open(t *testing.T, v *Vault, who ...string) *Opened {
	t.Helper()
	u := v.Unlocker(w.ca.opts())
	for _, name := range who {
		if err := u.AddShare(context.Background(), w.toks[name], testPIN); err != nil {
			t.Fatalf("%s adding share: %v", name, err)
		}
	}
	o, err := u.Open()
	if err != nil {
		t.Fatalf("opening with %v: %v", who, err)
	}
	t.Cleanup(o.Lock)
	return o
}

// rekey plans and carries out req with the quorum, has signers sign, and
// returns the saved and reloaded new vault.
func (w *world) rekey(t *testing.T, from *Vault, req RekeyRequest, quorum []string, signers ...string) *Vault {
	t.Helper()
	req.Now = rekeyNow
	p, err := from.PlanRekey(req)
	if err != nil {
		t.Fatalf("PlanRekey: %v", err)
	}
	res, err := w.open(t, from, quorum...).Rekey(p)
	if err != nil {
		t.Fatalf("Rekey: %v", err)
	}
	for _, s := range signers {
		if _, err := res.Vault.SignRekey(context.Background(), w.toks[s], testPIN); err != nil {
			t.Fatalf("%s signing: %v", s, err)
		}
	}
	old := w.v
	w.v = res.Vault
	nv := w.reload(t)
	w.v = old
	return nv
}

func reveal(t *testing.T, o *Opened, name string) string {
	t.Helper()
	p, err := o.Reveal(name)
	if err != nil {
		t.Fatalf("reveal %s: %v", name, err)
	}
	defer p.Destroy()
	return string(p.Bytes())
}

func TestRekeyRemoveCarolAddDave(t *testing.T) {
	w := newRekeyWorld(t)
	old := w.v
	nv := w.rekey(t, old, RekeyRequest{Add: []Custodian{w.dave}, Remove: []string{"carol"}, Reason: "carol left"},
		[]string{"alice", "bob"}, "alice", "bob", "dave")
	if err := nv.VerifyRoster(w.ca.opts()); err != nil {
		t.Fatalf("VerifyRoster of the rekeyed vault: %v", err)
	}
	ch := nv.Roster.Change
	if nv.Roster.Number() != 2 || ch.Identity != IdentityNew || nv.Recipient == old.Recipient ||
		strings.Join(ch.Added, ",") != "dave" || strings.Join(ch.Removed, ",") != "carol" || ch.Reason != "carol left" {
		t.Fatalf("rekey: version %d, change %+v; want version 2, a new identity, +dave -carol", nv.Roster.Number(), ch)
	}
	if VersionIndex(nv.Versions(), mustPin(t, old.Fingerprint())) != 0 || VersionIndex(nv.Versions(), mustPin(t, nv.Fingerprint())) != 1 {
		t.Error("the old and new fingerprints are not versions 1 and 2 of the chain")
	}
	// Any two of alice, bob, dave open everything, with the same values.
	for _, q := range [][]string{{"alice", "bob"}, {"alice", "dave"}, {"bob", "dave"}, {"alice-backup", "dave"}} {
		o := w.open(t, nv, q...)
		for _, s := range testSecrets {
			if got := reveal(t, o, s.name); got != s.secret {
				t.Fatalf("%v: %s changed across the rekey", q, s.name)
			}
		}
	}
	// Carol's key opens nothing in the new vault.
	var nr *NotOnRosterError
	if _, err := nv.Unlocker(w.ca.opts()).Identify(context.Background(), w.toks["carol"]); !errors.As(err, &nr) {
		t.Errorf("carol's key in the new vault: %v, want NotOnRosterError", err)
	}
	// Carol's old share with alice's old share (from the old file) gives
	// the old identity, which decrypts no secret of the new vault.
	oldOpen := w.open(t, old, "alice", "carol")
	for _, s := range nv.Secrets {
		if _, err := age.Decrypt(bytes.NewReader(s.Age), oldOpen.id); err == nil {
			t.Errorf("the old identity decrypts %s of the rekeyed vault", s.Name)
		}
	}
	// The signed seal is carried: still carol's, under roster version 1.
	a, err := nv.VerifySeal("db-root")
	if err != nil || a.Sealer.ID != "carol" || a.SealedUnder != 1 {
		t.Errorf("carried seal: %+v, %v; want carol's, sealed under version 1", a, err)
	}
	if _, err := nv.VerifySeal("github-2fa"); !errors.Is(err, ErrUnattributed) {
		t.Errorf("an unattributed secret stays unattributed: %v", err)
	}
	// A secret sealed after the rekey is signed under the new roster.
	if _, err := nv.SealSigned(context.Background(), w.toks["dave"], testPIN, "db-root", KindPassword, []byte("rotated"), rekeyNow); err != nil {
		t.Fatal(err)
	}
	if a, err := nv.VerifySeal("db-root"); err != nil || a.SealedUnder != 0 || a.Sealer.ID != "dave" {
		t.Errorf("resealed after rekey: %+v %v", a, err)
	}
	if len(nv.Drills) != 0 {
		t.Error("drills carried across the rekey: the new shares are unproven")
	}
}

func mustPin(t *testing.T, fp string) string {
	t.Helper()
	p, err := ParsePin(fp)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A chain link signed only by the new roster's members, or endorsed by
// fewer than the old threshold, or with a gap, is refused, naming the link.
func TestRekeyForgedLinks(t *testing.T) {
	w := newRekeyWorld(t)
	nv := w.rekey(t, w.v, RekeyRequest{Add: []Custodian{w.dave}, Remove: []string{"carol"}}, []string{"alice", "bob"}, "alice", "bob", "dave")
	check := func(name string, edit func(v *Vault), want error) {
		t.Helper()
		data, _ := nv.Marshal()
		v, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		edit(v)
		data, _ = v.Marshal()
		v, err = Parse(data)
		if err == nil {
			err = v.VerifyRoster(w.ca.opts())
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		var ce *ChainError
		if want == ErrChain && (!errors.As(err, &ce) || ce.Version != 2) {
			t.Errorf("%s: %v does not name version 2", name, err)
		}
	}
	check("no endorsements", func(v *Vault) { v.Endorsements = nil }, ErrChain)
	check("one endorsement of two", func(v *Vault) { v.Endorsements = v.Endorsements[:1] }, ErrChain)
	check("endorsed twice by one", func(v *Vault) { v.Endorsements[1] = v.Endorsements[0] }, ErrChain)
	check("endorsement by a new member", func(v *Vault) {
		v.Endorsements[1] = Signature{Custodian: "dave", Serial: 4001, Signature: v.Signatures[2].Signature}
	}, ErrChain)
	check("chain dropped", func(v *Vault) { v.Chain = nil }, ErrFormat)
	check("previous edited", func(v *Vault) {
		v.Roster.Previous = strings.Repeat("ab", 32)
		v.RecordedFingerprint = v.ComputeFingerprint()
	}, ErrFormat)

	// A forger who re-signs a whole new roster with keys of their own
	// (dave and a new "mallory") and sets Previous right still has no
	// endorsement by a quorum of version 1.
	mal := newFakeToken(t, w.ca, 6001)
	mallory := enrol(t, w.ca, mal, "mallory", "Mallory")
	forged, err := Create([]Custodian{w.dave, mallory}, 2, rekeyNow)
	if err != nil {
		t.Fatal(err)
	}
	forged.Roster.Version, forged.Roster.Previous = 2, w.v.RosterDigestHex()
	forged.Roster.Change = &RosterChange{ThresholdFrom: 2, ThresholdTo: 2, Identity: IdentityNew}
	forged.Chain = []RosterRecord{w.v.RosterRecord()}
	forged.RecordedFingerprint = forged.ComputeFingerprint()
	for _, tok := range []*fakeToken{w.toks["dave"], mal} {
		if _, err := forged.SignRoster(context.Background(), tok, testPIN); err != nil {
			t.Fatal(err)
		}
	}
	err = forged.VerifyRoster(w.ca.opts())
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Version != 2 || !strings.Contains(err.Error(), "endorsed by 0 custodians of version 1, 2 needed") {
		t.Errorf("forged link signed only by its new members: %v", err)
	}
}

func TestRekeyThresholdUp(t *testing.T) {
	w := newRekeyWorld(t)
	nv := w.rekey(t, w.v, RekeyRequest{Add: []Custodian{w.dave}, Threshold: 3}, []string{"alice", "bob"}, "alice", "bob", "carol", "dave")
	if nv.Roster.Policy.Threshold != 3 || nv.Roster.Policy.Custodians != 4 || nv.Roster.Change.Identity != IdentityNew {
		t.Fatalf("policy %+v identity %s, want 3 of 4 and a new identity (raising the threshold)", nv.Roster.Policy, nv.Roster.Change.Identity)
	}
	u := nv.Unlocker(w.ca.opts())
	for _, who := range []string{"alice", "dave"} {
		if err := u.AddShare(context.Background(), w.toks[who], testPIN); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := u.Open(); !errors.Is(err, ErrQuorum) {
		t.Errorf("two of a 3-of-4 vault: %v, want quorum error", err)
	}
	o := w.open(t, nv, "bob", "carol", "dave")
	if reveal(t, o, "db-root") != testSecrets[0].secret {
		t.Error("3 of 4 do not open the secret")
	}
}

func TestRekeyBackupKeyAddedThenRemoved(t *testing.T) {
	w := newRekeyWorld(t)
	v2 := w.rekey(t, w.v, RekeyRequest{AddKeys: []Custodian{w.bobBackup}}, []string{"alice", "carol"}, "alice", "bob", "carol")
	if v2.Roster.Change.Identity != IdentityReshared || v2.Recipient != w.v.Recipient {
		t.Fatalf("adding a key: identity %s, want reshared with the same recipient", v2.Roster.Change.Identity)
	}
	if !bytes.Equal(v2.Secrets[0].Age, w.v.Secrets[0].Age) {
		t.Error("a reshare re-encrypted the secrets")
	}
	if o := w.open(t, v2, "bob-backup", "carol"); reveal(t, o, "db-root") != testSecrets[0].secret {
		t.Error("the added backup key does not open the vault")
	}
	if _, err := w.v.Unlocker(w.ca.opts()).Identify(context.Background(), w.toks["bob-backup"]); err == nil {
		t.Error("the backup key is on the old roster")
	}
	v3 := w.rekey(t, v2, RekeyRequest{RemoveKeys: []uint32{2002}, Reason: "bob's backup lost"}, []string{"bob-backup", "alice"}, "alice", "bob", "carol")
	if v3.Roster.Change.Identity != IdentityNew || v3.Roster.Number() != 3 || len(v3.Chain) != 2 {
		t.Fatalf("removing the key: identity %s version %d", v3.Roster.Change.Identity, v3.Roster.Number())
	}
	if err := v3.VerifyRoster(w.ca.opts()); err != nil {
		t.Fatal(err)
	}
	if _, err := v3.Unlocker(w.ca.opts()).Identify(context.Background(), w.toks["bob-backup"]); err == nil {
		t.Error("the removed backup key still counts")
	}
	if a, err := v3.VerifySeal("db-root"); err != nil || a.SealedUnder != 1 {
		t.Errorf("seal carried across two rekeys: %+v %v", a, err)
	}
	if o := w.open(t, v3, "bob", "carol"); reveal(t, o, "db-root") != testSecrets[0].secret {
		t.Error("v3 does not open")
	}
}

func TestRekeyBadRequests(t *testing.T) {
	w := newRekeyWorld(t)
	alice2 := w.dave
	alice2.Name = "alice archer"
	for _, tc := range []struct {
		name string
		req  RekeyRequest
		want string
	}{
		{"same id again", RekeyRequest{Add: []Custodian{{ID: "bob", Name: "Bob Baker", Keys: w.bobBackup.Keys}}}, "already on the roster"},
		{"same person, another id", RekeyRequest{Add: []Custodian{alice2}}, `"alice archer" is already on the roster as alice`},
		{"too many removed", RekeyRequest{Remove: []string{"bob", "carol"}}, "would have 1 custodians but the threshold is 2"},
		{"threshold above n", RekeyRequest{Threshold: 4}, "threshold is 4"},
		{"threshold 1", RekeyRequest{Threshold: 1}, "at least 2"},
		{"unknown custodian", RekeyRequest{Remove: []string{"zed"}}, "no custodian with that id"},
		{"unknown key", RekeyRequest{RemoveKeys: []uint32{9}}, "no key with that serial"},
		{"last key", RekeyRequest{RemoveKeys: []uint32{2001}}, "leaves Bob Baker (bob) with no key"},
		{"nothing", RekeyRequest{}, "nothing to change"},
		{"key already enrolled", RekeyRequest{AddKeys: []Custodian{{ID: "bob", Name: "Bob Baker", Keys: w.dave.Keys}}, Add: []Custodian{w.dave}}, "already enrolled"},
		{"control characters", RekeyRequest{Remove: []string{"carol"}, Reason: "left\x1b[2J"}, "plain text"},
	} {
		tc.req.Now = rekeyNow
		_, err := w.v.PlanRekey(tc.req)
		if !errors.Is(err, ErrRekey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := w.v.PlanRekey(RekeyRequest{Remove: []string{"carol"}, Now: testNow.Add(-time.Hour)}); !errors.Is(err, ErrRekey) {
		t.Errorf("clock before the roster: %v", err)
	}
}

// A key that signs neither roster is refused; a new member who has not
// signed, or missing endorsements, keep the rekey unfinished.
func TestRekeySignatures(t *testing.T) {
	w := newRekeyWorld(t)
	p, err := w.v.PlanRekey(RekeyRequest{Add: []Custodian{w.dave}, Remove: []string{"carol"}, Now: rekeyNow})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.open(t, w.v, "alice", "carol").Rekey(p)
	if err != nil {
		t.Fatal(err)
	}
	nv := res.Vault
	if pr := nv.RekeyProgress(); pr.Done() || len(pr.Unsigned) != 3 || pr.Need != 2 {
		t.Fatalf("fresh progress %+v", pr)
	}
	s, err := nv.SignRekey(context.Background(), w.toks["carol"], testPIN)
	if err != nil || s.Member || !s.Endorser {
		t.Fatalf("carol (leaving) signs: %+v %v, want an endorsement only", s, err)
	}
	stranger := newFakeToken(t, w.ca, 7001)
	enrol(t, w.ca, stranger, "x", "X")
	var nr *NotOnRosterError
	if _, err := nv.SignRekey(context.Background(), stranger, testPIN); !errors.As(err, &nr) {
		t.Errorf("a stranger's key: %v", err)
	}
	for _, who := range []string{"alice", "dave"} {
		if _, err := nv.SignRekey(context.Background(), w.toks[who], testPIN); err != nil {
			t.Fatal(err)
		}
	}
	if pr := nv.RekeyProgress(); pr.Done() || len(pr.Unsigned) != 1 || pr.Unsigned[0].ID != "bob" {
		t.Fatalf("progress %+v, want bob still to sign", pr)
	}
	if err := nv.VerifyRoster(w.ca.opts()); !errors.Is(err, ErrRosterSignature) {
		t.Errorf("unsigned by bob: %v", err)
	}
	if _, err := nv.SignRekey(context.Background(), w.toks["bob"], testPIN); err != nil {
		t.Fatal(err)
	}
	if pr := nv.RekeyProgress(); !pr.Done() {
		t.Fatalf("progress %+v, want done", pr)
	}
	if err := nv.VerifyRoster(w.ca.opts()); err != nil {
		t.Fatal(err)
	}
}

// encryptLocked writes standard age files: the age library opens them, at
// every chunk boundary.
func TestEncryptLockedInterop(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 100, payloadChunk - 1, payloadChunk, payloadChunk + 1, 2 * payloadChunk, 2*payloadChunk + 7} {
		plain := bytes.Repeat([]byte{byte(n)}, n)
		ct, err := encryptLocked(plain, id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		r, err := age.Decrypt(bytes.NewReader(ct), id)
		if err != nil {
			t.Fatalf("%d bytes: age.Decrypt: %v", n, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: round trip differs (%v)", n, err)
		}
	}
}

// TestRekeyedFixture keeps testdata/vault/sample-rekeyed.json (the sample
// world rekeyed: carol removed, dave added, carol's seal carried; its root
// in sample-rekeyed-root.pem) parsing and verifying; FuzzParse seeds on it.
// Regenerate with -update.
func TestRekeyedFixture(t *testing.T) {
	path := filepath.Join(fixtureDir, "sample-rekeyed.json")
	rootPath := filepath.Join(fixtureDir, "sample-rekeyed-root.pem")
	if *update {
		w := newRekeyWorld(t)
		nv := w.rekey(t, w.v, RekeyRequest{Add: []Custodian{w.dave}, Remove: []string{"carol"}, Reason: "carol left"},
			[]string{"alice", "bob"}, "alice", "bob", "dave")
		if err := nv.Save(path); err != nil {
			t.Fatal(err)
		}
		os.Remove(path + ".prev")
		if err := os.WriteFile(rootPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.ca.cert.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := fixtureOpts(t, rootPath)
	if err := v.VerifyRoster(opts); err != nil || v.Roster.Number() != 2 {
		t.Fatalf("rekeyed fixture: version %d, %v", v.Roster.Number(), err)
	}
	if a, err := v.VerifySeal("db-root"); err != nil || a.SealedUnder != 1 {
		t.Errorf("carried seal in the fixture: %+v %v", a, err)
	}
	data, _ := os.ReadFile(path)
	if again, _ := v.Marshal(); !bytes.Equal(data, again) {
		t.Error("fixture does not re-encode to the same bytes")
	}
}
