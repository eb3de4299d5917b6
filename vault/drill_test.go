package vault

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The drill interval is part of the signed policy: set before signing,
// refused after, bounded, and changing it in the file breaks the roster.
func TestDrillIntervalSigned(t *testing.T) {
	ca := newTestCA(t, "Test PIV Root CA")
	a, b := newFakeToken(t, ca, 1001), newFakeToken(t, ca, 2001)
	v, err := Create(MergeCustodians([]Custodian{enrol(t, ca, a, "alice", "Alice"), enrol(t, ca, b, "bob", "Bob")}), 2, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if d, stated := v.Roster.Policy.DrillInterval(); stated || d != 90*24*time.Hour {
		t.Errorf("default interval = %v stated=%v, want 90 days unstated", d, stated)
	}
	for _, bad := range []int{0, -1, MaxDrillIntervalDays + 1} {
		if err := v.SetDrillInterval(bad); err == nil {
			t.Errorf("SetDrillInterval(%d) accepted", bad)
		}
	}
	if err := v.SetDrillInterval(30); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []*fakeToken{a, b} {
		if _, err := v.SignRoster(context.Background(), tok, testPIN); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.SetDrillInterval(60); err == nil {
		t.Error("SetDrillInterval after signing accepted")
	}
	w := &world{ca: ca, v: v}
	got := w.reload(t)
	if d, stated := got.Roster.Policy.DrillInterval(); !stated || d != 30*24*time.Hour {
		t.Errorf("interval after reload = %v stated=%v, want 30 days stated", d, stated)
	}
	if err := got.VerifyRoster(ca.opts()); err != nil {
		t.Fatal(err)
	}
	got.Roster.Policy.DrillIntervalDays = 365 // an edit in the file
	got.RecordedFingerprint = got.ComputeFingerprint()
	if err := got.VerifyRoster(ca.opts()); !errors.Is(err, ErrRosterSignature) {
		t.Errorf("edited drill interval: VerifyRoster = %v, want ErrRosterSignature", err)
	}
}
