package audit

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
)

// TestStepConfirmations: a custodian's step confirmation is accepted only
// when their enrolled key signed exactly this session, step, custodian and
// an earlier journal head, and a step.confirmed without one is refused.
func TestStepConfirmations(t *testing.T) {
	pki := newPKI(t, "Test Attestation Root")
	alice := pki.custodian(t, "alice", "Alice A.", 11111111)
	mallory := pki.custodian(t, "mallory", "Mallory", 99999999)
	const session = "S-1"
	type tweak func(d *ConfirmationData)
	tests := []struct {
		name      string
		signer    *testCustodian
		tweak     tweak
		noSig     bool
		wantError string
	}{
		{name: "signed by the custodian", signer: alice},
		{name: "no signature", noSig: true, wantError: "has no signature"},
		{name: "signed by another key", signer: mallory, wantError: "not signed by their enrolled key"},
		{name: "other step", signer: alice, tweak: func(d *ConfirmationData) { d.Step = "other" }, wantError: "digest does not match"},
		{name: "unknown head", signer: alice, tweak: func(d *ConfirmationData) { d.JournalHead = strings.Repeat("ab", 32) }, wantError: "not an earlier entry"},
		{name: "not a custodian", signer: alice, tweak: func(d *ConfirmationData) { d.Custodian = "eve" }, wantError: "not a custodian"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Create(filepath.Join(t.TempDir(), "j"), session, nil, Config{Now: newClock().Now})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if !tt.noSig {
				d := ConfirmationData{Step: "restore", Custodian: "alice", Serial: alice.serial, JournalHead: j.Head()}
				dg := ConfirmationDigest(session, d.Step, d.Custodian, d.Serial, d.JournalHead)
				d.Digest = hex.EncodeToString(dg[:])
				if d.Signature, err = ecdsa.SignASN1(rand.Reader, tt.signer.key, dg[:]); err != nil {
					t.Fatal(err)
				}
				if tt.tweak != nil {
					tt.tweak(&d)
				}
				if _, err := j.Append("alice", TypeConfirmationSigned, d); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := j.Append("alice", "step.confirmed", obj{"step": "restore", "custodian": "alice"}); err != nil {
				t.Fatal(err)
			}
			rep := &Report{Session: SessionInfo{ID: session}, Custodians: []Custodian{alice.record(t)},
				Journal: JournalSection{Entries: j.Entries()}}
			n, err := checkConfirmations(rep)
			switch {
			case tt.wantError == "" && (err != nil || n != 1):
				t.Fatalf("checkConfirmations = %d, %v; want 1, nil", n, err)
			case tt.wantError != "" && (err == nil || !strings.Contains(err.Error(), tt.wantError)):
				t.Fatalf("checkConfirmations error %v, want one saying %q", err, tt.wantError)
			}
		})
	}
}
