package main

import (
	"maps"
	"testing"
	"time"

	"breakglass/ledger/ledgertest"
	"breakglass/vault"
)

// rekeyedHome is ledgertest's home vault (alice, bob, carol; 2 of 3) and
// its version 2, made by alice and bob on rekeyAt: carol removed, dave
// (YubiKey 10000004) added, signed by alice, bob and dave.
type rekeyedHome struct {
	w       *ledgertest.World
	v1, v2  *ledgertest.Vault
	dave    vault.Custodian
	rekeyAt time.Time
}

func newRekeyedHome(t *testing.T) *rekeyedHome {
	t.Helper()
	w, err := ledgertest.NewWorld()
	if err != nil {
		t.Fatal(err)
	}
	return rekeyHome(t, w)
}

func rekeyHome(t *testing.T, w *ledgertest.World) *rekeyedHome {
	t.Helper()
	h := &rekeyedHome{w: w, rekeyAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	v1 := *w.Home
	v1.Toks = maps.Clone(v1.Toks)
	h.v1 = &v1
	var err error
	if h.dave, err = w.Enrol(h.v1, "Dave", 10000004); err != nil {
		t.Fatal(err)
	}
	h.v2, err = w.Rekey(h.v1, vault.RekeyRequest{Add: []vault.Custodian{h.dave}, Remove: []string{"carol"}, Reason: "carol left", Now: h.rekeyAt},
		[]string{"alice", "bob"}, "alice", "bob", "dave")
	if err != nil {
		t.Fatal(err)
	}
	return h
}
