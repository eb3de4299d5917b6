package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/ledger/ledgertest"
	"breakglass/vault"
)

// The ledger across a rekey (issues 11 and 13): home (alice, bob, carol,
// 2 of 3) rekeyed by alice and bob on rekeyAt to remove carol and add
// dave; a forged version 2 signed only by its new members; reports under
// either version, and the rekey session's own report.

var rekeyAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type chainFixture struct {
	w      *world
	v1, v2 *ledgertest.Vault
	forged *ledgertest.Vault
}

var (
	chainOnce sync.Once
	chainFix  chainFixture
	chainErr  error
)

func getChain(t *testing.T) *chainFixture {
	t.Helper()
	w := getWorld(t)
	chainOnce.Do(func() {
		v1 := *w.home.Vault
		v1.Toks = maps.Clone(v1.Toks)
		dave, err := w.Enrol(&v1, "Dave", 10000004)
		if err == nil {
			var erin vault.Custodian
			erin, err = w.Enrol(&v1, "Erin", 10000005)
			var v2, forged *ledgertest.Vault
			if err == nil {
				v2, err = w.Rekey(&v1, vault.RekeyRequest{Add: []vault.Custodian{dave}, Remove: []string{"carol"}, Reason: "carol left", Now: rekeyAt},
					[]string{"alice", "bob"}, "alice", "bob", "dave")
			}
			if err == nil {
				forged, err = w.Rekey(&v1, vault.RekeyRequest{Add: []vault.Custodian{dave, erin}, Remove: []string{"alice", "bob", "carol"}, Reason: "takeover", Now: rekeyAt},
					[]string{"alice", "bob"}, "dave", "erin")
			}
			chainFix = chainFixture{w: w, v1: &v1, v2: v2, forged: forged}
		}
		chainErr = err
	})
	if chainErr != nil {
		t.Fatal(chainErr)
	}
	return &chainFix
}

func (c *chainFixture) report(t *testing.T, tv *ledgertest.Vault, s ledgertest.Session) []byte {
	t.Helper()
	b, err := c.w.Report(t.TempDir(), tv, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *chainFixture) rekeyReport(t *testing.T) []byte {
	t.Helper()
	b, err := c.w.RekeyReport(t.TempDir(), c.v1, c.v2, ledgertest.Session{ID: "R-1", Start: rekeyAt.Add(-30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func refused(t *testing.T, err error, sentinel error, want ...string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want a refusal wrapping %v", err, sentinel)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal %q does not say %q", err, w)
		}
	}
}

func TestLedgerFollowsRosterChain(t *testing.T) {
	c := getChain(t)
	l, _ := newLedger(t, &testClock{day(3, 10)})
	fp1, fp2 := c.v1.V.Fingerprint(), c.v2.V.Fingerprint()

	mustImport(t, l, "s1.jws", c.report(t, c.v1, ledgertest.Session{ID: "S-1", Start: day(2, 1), Reveals: []string{"db-root"}}), Pin{VaultFile: c.v1.Raw})
	// Only version 1 known: a report under version 2 needs the newer copy.
	s2 := c.report(t, c.v2, ledgertest.Session{ID: "S-2", Start: day(3, 5), Signers: []string{"bob", "dave"}})
	_, err := l.ImportReport("s2.jws", s2, Pin{Fingerprint: fp1})
	refused(t, err, ErrNotVerified, "give a newer copy of the vault file")
	// The rekey report with the new vault file, pinned at the OLD fingerprint.
	d := mustImport(t, l, "r1.jws", c.rekeyReport(t), Pin{VaultFile: c.v2.Raw, Fingerprint: fp1})
	if d.Mode != "rekey" || d.Vault != "" || d.Fingerprint != fp1 {
		t.Errorf("rekey report recorded as %+v", d)
	}
	// Now the version-2 report, pinned at either fingerprint.
	d = mustImport(t, l, "s2.jws", s2, Pin{Fingerprint: fp1})
	if d.Vault != fp1 || d.Fingerprint != fp2 || d.RosterVersion != 2 {
		t.Errorf("version-2 report recorded as %+v, want vault %s, fingerprint %s, roster version 2", d, fp1, fp2)
	}
	mustImport(t, l, "s3.jws", c.report(t, c.v2, ledgertest.Session{ID: "S-3", Start: day(3, 6), Signers: []string{"alice", "dave"}}), Pin{Fingerprint: fp2})

	// The new vault copy is recorded with its roster version under the original vault.
	var vd VaultData
	for _, e := range l.entries {
		if e.Type == TypeVaultImported {
			vd = VaultData{}
			if err := json.Unmarshal(e.Data, &vd); err != nil {
				t.Fatal(err)
			}
		}
	}
	if vd.Fingerprint != fp2 || vd.RosterVersion != 2 || vd.Root != fp1 || len(vd.Versions) != 2 || vd.Versions[1] != c.v2.V.RosterDigestHex() {
		t.Errorf("new vault copy recorded as %+v", vd)
	}

	st := statusJSON(t, l)
	if len(st.Vaults) != 1 {
		t.Fatalf("%d vaults in the status, want the rekeyed vault as one", len(st.Vaults))
	}
	v := st.Vaults[0]
	if v.Fingerprint != fp1 || v.CurrentFingerprint != fp2 || v.RosterVersion != 2 || v.Copies != 2 || !v.Verified || v.Custodians != 3 {
		t.Errorf("vault status %+v", v)
	}
	var ids []string
	for _, s := range v.Sessions {
		ids = append(ids, s.ID)
		if !s.Verified {
			t.Errorf("session %s not verified: %v", s.ID, s.Failed)
		}
	}
	if strings.Join(ids, ",") != "S-1,R-1,S-2,S-3" {
		t.Fatalf("sessions %v", ids)
	}
	r := v.Sessions[1]
	if r.Mode != "rekey" || r.Rekey == nil || r.RosterVersion != 1 {
		t.Fatalf("rekey session %+v", r)
	}
	k := r.Rekey
	if k.OldFingerprint != fp1 || k.NewFingerprint != fp2 || k.Version != 2 || k.VaultKey != "new" || k.Reason != "carol left" ||
		!slices.Equal(k.Added, []string{"dave"}) || !slices.Equal(k.Removed, []string{"carol"}) || k.ThresholdFrom != 2 || k.ThresholdTo != 2 ||
		len(k.KeysAdded) != 1 || len(k.KeysRemoved) != 1 {
		t.Errorf("rekey change %+v", k)
	}
	if v.Sessions[0].RosterVersion != 1 || v.Sessions[2].RosterVersion != 2 || v.Sessions[0].Rekey != nil {
		t.Errorf("roster versions %d, %d; rekey of a live session %v", v.Sessions[0].RosterVersion, v.Sessions[2].RosterVersion, v.Sessions[0].Rekey)
	}
	for _, it := range st.OpenItems {
		if it.Vault != fp1 {
			t.Errorf("open item keyed under %s, not the original fingerprint: %+v", it.Vault, it)
		}
	}

	// The status document still follows its schema with a rekey session in it.
	var schema, doc map[string]any
	b, _ := json.Marshal(st)
	if err := errors.Join(json.Unmarshal(StatusSchema(), &schema), json.Unmarshal(b, &doc)); err != nil {
		t.Fatal(err)
	}
	walkSchema(t, "$", doc, schema, schema)

	// The export says what the rekey changed, under the original vault.
	var out bytes.Buffer
	if err := l.Export(&out); err != nil {
		t.Fatal(err)
	}
	var rekeyed []Event
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Vault != fp1 && ev.Vault != "" {
			t.Errorf("exported event under vault %s: %+v", ev.Vault, ev)
		}
		if ev.Event == EventVaultRekeyed {
			rekeyed = append(rekeyed, ev)
		}
	}
	if len(rekeyed) != 1 || rekeyed[0].Mode != "rekey" || !strings.Contains(rekeyed[0].Detail, "roster version 2, "+fp1+" → "+fp2+": +dave −carol") {
		t.Errorf("vault.rekeyed events %+v", rekeyed)
	}
}

func TestLedgerChainRefusals(t *testing.T) {
	c := getChain(t)
	l, _ := newLedger(t, &testClock{day(3, 10)})
	fp1 := c.v1.V.Fingerprint()
	if _, err := l.ImportVault(c.v1.Raw); err != nil {
		t.Fatal(err)
	}
	// A forged version 2 (signed only by its new members) is no copy of the vault.
	_, err := l.ImportVault(c.forged.Raw)
	refused(t, err, ErrVaultInvalid, "roster version 2 ("+c.forged.V.Fingerprint()+")", "endorsed by 0 custodians of version 1")
	forgedReport := c.report(t, c.forged, ledgertest.Session{ID: "F-1", Start: day(3, 5), Signers: []string{"dave", "erin"}})
	_, err = l.ImportReport("f1.jws", forgedReport, Pin{Fingerprint: fp1})
	refused(t, err, ErrNotVerified, "embedded roster chain: roster version 2 ("+c.forged.V.Fingerprint()+")", "endorsed by 0 custodians")
	_, err = l.ImportReport("f1.jws", forgedReport, Pin{VaultFile: c.forged.Raw, Fingerprint: fp1})
	refused(t, err, ErrVaultInvalid, "endorsed by 0 custodians")
	// The new copy pinned at another vault's fingerprint.
	_, err = l.ImportReport("r1.jws", c.rekeyReport(t), Pin{VaultFile: c.v2.Raw, Fingerprint: c.w.other.V.Fingerprint()})
	refused(t, err, ErrNoPin, "no version of its roster chain is the pinned")
	// Another vault's report against the rekeyed vault.
	other := c.w.report(t, c.w.other, sessionSpec{id: "O-1", start: day(3, 5)})
	_, err = l.ImportReport("o1.jws", other, Pin{VaultFile: c.v2.Raw})
	refused(t, err, ErrForeign, "none of the roster versions 1 to 2 of the pinned vault "+fp1)

	// A session under version 1 that started after version 2 replaced it.
	mustImport(t, l, "r1.jws", c.rekeyReport(t), Pin{VaultFile: c.v2.Raw})
	late := c.report(t, c.v1, ledgertest.Session{ID: "L-1", Start: rekeyAt.Add(2 * time.Hour), Signers: []string{"alice", "carol"}})
	_, err = l.ImportReport("l1.jws", late, Pin{Fingerprint: fp1})
	refused(t, err, ErrNotVerified, "roster in force")
	st := statusJSON(t, l)
	if n := len(st.Vaults[0].Sessions); n != 1 {
		t.Errorf("%d sessions after the refusals, want only the rekey", n)
	}
}

// TestLedgerRotationAcrossRekey: a rekey re-encrypts a secret but does not
// rotate it; a seal in the new version does.
func TestLedgerRotationAcrossRekey(t *testing.T) {
	c := getChain(t)
	l, _ := newLedger(t, &testClock{day(4, 10)})
	mustImport(t, l, "s1.jws", c.report(t, c.v1, ledgertest.Session{ID: "S-1", Start: day(2, 1), Reveals: []string{"db-root"}}), Pin{VaultFile: c.v1.Raw})
	if _, err := l.ImportVault(c.v2.Raw); err != nil {
		t.Fatal(err)
	}
	unrotated := func() bool {
		for _, it := range statusJSON(t, l).OpenItems {
			if it.Kind == OpenUnrotated && it.Secret == "db-root" {
				return true
			}
		}
		return false
	}
	if !unrotated() {
		t.Fatal("the rekey's re-encryption counted as a rotation of db-root")
	}
	rotated, err := c.v2.Rotated("db-root", day(3, 20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ImportVault(rotated); err != nil {
		t.Fatal(err)
	}
	if unrotated() {
		t.Error("db-root re-sealed in roster version 2 is still unrotated")
	}
	st := statusJSON(t, l)
	if got := st.Vaults[0].Sessions[0].Revealed[0].RotatedAt; got != "2026-03-20T10:00:00Z" {
		t.Errorf("rotated_at %q", got)
	}
	if v := st.Vaults[0]; v.Copies != 3 || v.RosterVersion != 2 {
		t.Errorf("vault status %+v", v)
	}
}
