package ledger

import (
	"context"
	"testing"

	"breakglass/hardware"
	"breakglass/vault"
)

// TestSealRecordsAttributed: sealRecords reports a verified seal's sealer,
// version and record digest, and an unsigned or tampered one as
// unattributed.
func TestSealRecordsAttributed(t *testing.T) {
	w := getWorld(t)
	v, err := vault.Parse(w.home.Raw) // a copy: the shared world stays as it is
	if err != nil {
		t.Fatal(err)
	}
	id := w.home.IDs[0]
	a, err := v.SignSeal(context.Background(), w.home.Toks[id], hardware.DefaultPIN, "db-root")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]SealRecord{}
	for _, r := range sealRecords(v) {
		got[r.Name] = r
	}
	if r := got["db-root"]; !r.Attributed || r.SealedBy != id || r.Version != 1 || r.Record != a.Digest {
		t.Errorf("db-root = %+v, want attributed version 1 by %s, record %s", r, id, a.Digest)
	}
	if r := got["aws-root"]; r.Attributed || r.SealedBy != "" || r.Version != 0 || r.Record != "" {
		t.Errorf("unsigned aws-root = %+v, want unattributed", r)
	}
	s, _ := v.Secret("db-root")
	s.Seal.Record.Version = 5
	for _, r := range sealRecords(v) {
		if r.Name == "db-root" && r.Attributed {
			t.Errorf("a tampered seal record is reported attributed: %+v", r)
		}
	}
}
