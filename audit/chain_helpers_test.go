package audit

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/vyk"
	"breakglass/internal/events"
	"breakglass/vault"
)

// The roster-chain test world: a 2-of-3 vault (alice, bob, carol) rekeyed
// by alice and bob to remove carol and add dave (version 2), then by bob
// and dave to add erin (version 3), and a forged version 2 signed only by
// its new members (dave and erin) — all on virtual YubiKeys under the TEST
// root, the way vault rekey makes them.

var (
	chainEpoch  = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	rekey2At    = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC) // version 2's Created
	rekey3At    = time.Date(2026, 1, 9, 12, 0, 0, 0, time.UTC) // version 3's Created
	beforeRekey = time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC)
	afterRekey  = time.Date(2026, 1, 6, 10, 0, 0, 0, time.UTC)
)

type chainWorld struct {
	pki        *testPKI
	toks       map[string]hardware.Token
	keys       map[string]*testCustodian // each custodian's first key
	enrolments map[string]vault.Custodian
	v1, v2, v3 *vault.Vault
	forged     *vault.Vault // a version 2 endorsed by nobody of version 1
	rekeyRep   *Report      // the v1→v2 rekey session, unsigned
}

var (
	chainOnce sync.Once
	chainW    *chainWorld
	chainErr  error
)

// newChainWorld builds the world once per test binary; every test gets a
// fresh parse of each vault.
func newChainWorld(t *testing.T) *chainWorld {
	t.Helper()
	chainOnce.Do(func() { chainW, chainErr = buildChainWorld(t) })
	if chainErr != nil {
		t.Fatal(chainErr)
	}
	w := *chainW
	w.v1, w.v2, w.v3, w.forged = reparse(t, w.v1), reparse(t, w.v2), reparse(t, w.v3), reparse(t, w.forged)
	return &w
}

func reparse(t *testing.T, v *vault.Vault) *vault.Vault {
	t.Helper()
	out, err := vault.Parse(mustMarshal(t, v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func buildChainWorld(t *testing.T) (*chainWorld, error) {
	ctx := context.Background()
	w := &chainWorld{pki: testCA(t), toks: map[string]hardware.Token{}, keys: map[string]*testCustodian{}, enrolments: map[string]vault.Custodian{}}
	vopts := vault.VerifyOptions{Trust: w.pki.trust}
	for i, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		card, err := vyk.New(vyk.Config{Serial: 31000001 + uint32(i), CA: w.pki.ca, Sleep: func(time.Duration) {}, Now: func() time.Time { return chainEpoch }})
		if err != nil {
			return nil, err
		}
		tok := vyk.NewToken(card)
		c, err := vault.EnrolCustodian(ctx, tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey}, name+" Example",
			vault.EnrolOptions{ID: name, PIN: hardware.DefaultPIN, Verify: vopts, Now: chainEpoch})
		if err != nil {
			return nil, err
		}
		k := c.Keys[0]
		pub, chain, err := SigningMaterial(k.Sign.PublicKey, k.Sign.Attestation.Slot, k.Sign.Attestation.Device)
		if err != nil {
			return nil, err
		}
		slot := k.Sign.Slot.PIV()
		w.keys[name] = &testCustodian{id: name, name: c.Name, serial: k.Serial, pub: pub, chain: chain,
			signFn: func(d []byte) ([]byte, error) { return tok.Sign(ctx, slot, d, hardware.DefaultPIN) }}
		w.toks[name], w.enrolments[name] = tok, c
	}
	v, err := vault.Create([]vault.Custodian{w.enrolments["alice"], w.enrolments["bob"], w.enrolments["carol"]}, 2, chainEpoch)
	if err != nil {
		return nil, err
	}
	for _, id := range []string{"alice", "bob", "carol"} {
		if _, err := v.SignRoster(ctx, w.toks[id], hardware.DefaultPIN); err != nil {
			return nil, err
		}
	}
	if err := v.Seal("db-root", vault.KindPassword, []byte("not-a-real-db-root"), chainEpoch); err != nil {
		return nil, err
	}
	w.v1 = v
	w.v2, err = w.rekey(w.v1, vault.RekeyRequest{Add: []vault.Custodian{w.enrolments["dave"]}, Remove: []string{"carol"}, Reason: "carol left", Now: rekey2At},
		[]string{"alice", "bob"}, "alice", "bob", "dave")
	if err != nil {
		return nil, err
	}
	w.v3, err = w.rekey(w.v2, vault.RekeyRequest{Add: []vault.Custodian{w.enrolments["erin"]}, Reason: "erin joined", Now: rekey3At},
		[]string{"bob", "dave"}, "bob", "dave", "alice", "erin")
	if err != nil {
		return nil, err
	}
	// The forgery: a roster of dave and erin claiming to follow version 1,
	// signed by them alone (a quorum opened the vault to build it here;
	// an attacker needs no vault key to write a roster).
	w.forged, err = w.rekey(w.v1, vault.RekeyRequest{Add: []vault.Custodian{w.enrolments["dave"], w.enrolments["erin"]}, Remove: []string{"alice", "bob", "carol"}, Reason: "takeover", Now: rekey2At},
		[]string{"alice", "bob"}, "dave", "erin")
	if err != nil {
		return nil, err
	}
	w.rekeyRep, err = w.rekeyReport(t.TempDir())
	return w, err
}

// rekey plans req on from, opens from with quorum, and has signers sign.
func (w *chainWorld) rekey(from *vault.Vault, req vault.RekeyRequest, quorum []string, signers ...string) (*vault.Vault, error) {
	ctx := context.Background()
	p, err := from.PlanRekey(req)
	if err != nil {
		return nil, err
	}
	u := from.Unlocker(vault.VerifyOptions{Trust: w.pki.trust})
	for _, id := range quorum {
		if err := u.AddShare(ctx, w.toks[id], hardware.DefaultPIN); err != nil {
			return nil, err
		}
	}
	o, err := u.Open()
	if err != nil {
		return nil, err
	}
	defer o.Lock()
	res, err := o.Rekey(p)
	if err != nil {
		return nil, err
	}
	for _, id := range signers {
		if _, err := res.Vault.SignRekey(ctx, w.toks[id], hardware.DefaultPIN); err != nil {
			return nil, err
		}
	}
	raw, err := res.Vault.Marshal()
	if err != nil {
		return nil, err
	}
	return vault.Parse(raw)
}

// sessionAt scripts a live session under v starting at start, by quorum,
// with the roster and chain embedded as the console embeds them.
func (w *chainWorld) sessionAt(t *testing.T, v *vault.Vault, start time.Time, quorum ...string) *Report {
	t.Helper()
	clock := &fakeClock{t: start}
	j, err := Create(filepath.Join(t.TempDir(), "journal.jsonl"), "S-CHAIN-"+start.Format("0102"), nil, Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var cs []*testCustodian
	var recs []Custodian
	for _, id := range quorum {
		cs = append(cs, w.keys[id])
		recs = append(recs, w.keys[id].record(t))
	}
	writeSession(t, j, cs, w.pki.rootLabel(), v.Fingerprint())
	rep, err := BuildReport(j.Entries(), recs)
	if err != nil {
		t.Fatal(err)
	}
	rep.Roster, rep.RosterChain = v.RosterRecord(), v.Chain
	return rep
}

// rekeyReport is the v1→v2 rekey session as vault rekey journals it.
func (w *chainWorld) rekeyReport(dir string) (*Report, error) {
	clock := &fakeClock{t: rekey2At.Add(-10 * time.Minute)}
	j, err := Create(filepath.Join(dir, "journal.jsonl"), "S-REKEY-1", nil, Config{Now: clock.Now})
	if err != nil {
		return nil, err
	}
	defer j.Close()
	ch := w.v2.Roster.Change
	steps := []struct {
		actor, typ string
		data       any
	}{
		{"breakglass", TypeStation, StationData{BinaryVersion: "v1.0.0", BinarySHA256: "ab12", VaultFingerprint: w.v1.Fingerprint(), AttestationRoot: w.pki.rootLabel()}},
		{"system", TypeStarted, obj{"at": rekey2At.Add(-10 * time.Minute), "runbook": obj{"name": "vault rekey", "sha256": ""}, "threshold": 2, "rekey": true}},
		{"operator", TypeDeclared, obj{"operator": "Olga Operator", "ticket": "CHG-7", "what_broke": "carol left"}},
		{"alice", TypeQuorumCustodian, obj{"id": "alice", "serial": w.keys["alice"].serial}},
		{"bob", TypeQuorumCustodian, obj{"id": "bob", "serial": w.keys["bob"].serial}},
		{"system", events.VaultRekeyed, events.Rekeyed{At: rekey2At, OldDigest: w.v1.RosterDigestHex(), NewDigest: w.v2.RosterDigestHex(),
			NewFingerprint: w.v2.Fingerprint(), Version: 2, VaultKey: ch.Identity, Reason: ch.Reason, Added: ch.Added, Removed: ch.Removed,
			KeysAdded: ch.KeysAdded, KeysRemoved: ch.KeysRemoved, ThresholdFrom: ch.ThresholdFrom, ThresholdTo: ch.ThresholdTo, Out: "vault-v2.json"}},
		{"operator", TypeCloseoutCompleted, nil},
	}
	for _, s := range steps {
		if _, err := j.Append(s.actor, s.typ, s.data); err != nil {
			return nil, err
		}
	}
	var recs []Custodian
	for _, id := range []string{"alice", "bob"} {
		c := w.keys[id]
		r, err := NewCustodian(c.id, c.name, c.serial, c.pub, c.chain)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	rep, err := BuildReport(j.Entries(), recs)
	if err != nil {
		return nil, err
	}
	rep.Roster, rep.RosterChain = w.v1.RosterRecord(), w.v1.Chain
	rep.Rekey.NewRoster = w.v2.RosterRecord()
	return rep, nil
}

// signed marshals rep and signs it by the named custodians' keys.
func (w *chainWorld) signed(t *testing.T, rep *Report, by ...string) []byte {
	t.Helper()
	payload, err := MarshalPayload(rep)
	if err != nil {
		t.Fatal(err)
	}
	var signers []ReportSigner
	for _, id := range by {
		signers = append(signers, w.keys[id].signer())
	}
	jws, err := SignReport(payload, signers)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

// copyReport is a deep copy of rep (through its JSON).
func copyReport(t *testing.T, rep *Report) *Report {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var out Report
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// opts pins fp and/or the vault file.
func (w *chainWorld) opts(fp string, v *vault.Vault) VerifyOptions {
	return VerifyOptions{Trust: w.pki.trust, NonProduction: true, Pin: Pin{Fingerprint: fp, Vault: v}}
}
