package ledger

import (
	"testing"
	"time"
)

// TestRollbackInReports: reports carrying the sealed version (the console
// does not record it yet; audit's report has the field) are checked against
// every version the ledger has seen.
func TestRollbackInReports(t *testing.T) {
	w := getWorld(t)
	l, _ := newLedger(t, &testClock{day(3, 1)})
	if _, err := l.ImportVault(w.home.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ImportVault(w.home.rotated(t, "db-root", day(2, 2))); err != nil {
		t.Fatal(err)
	}
	fp := Pin{Fingerprint: w.home.V.Fingerprint()}
	old := map[string]string{"db-root": epoch.Format(time.RFC3339)}
	current := map[string]string{"db-root": day(2, 2).Format(time.RFC3339)}
	mustImport(t, l, "old.jws", w.report(t, w.home, sessionSpec{id: "S-old", start: day(2, 5), reveals: []string{"db-root"}, sealedAt: old}), fp)
	mustImport(t, l, "current.jws", w.report(t, w.home, sessionSpec{id: "S-current", start: day(2, 6), reveals: []string{"db-root"}, sealedAt: current}), fp)
	// Before the rotation the old version was the current one.
	mustImport(t, l, "before.jws", w.report(t, w.home, sessionSpec{id: "S-before", start: day(1, 20), reveals: []string{"db-root"}, sealedAt: old}), fp)
	st := statusJSON(t, l)
	for session, want := range map[string]int{"S-old": 1, "S-current": 0, "S-before": 0} {
		if got := openKinds(st, session)[OpenRollback]; got != want {
			t.Errorf("%s: %d rollback items, want %d (%+v)", session, got, want, st.OpenItems)
		}
	}
}

// TestDetectRollbacks pins the rule on synthetic records: a reveal is a
// rollback only if a newer version of the same secret had been sealed
// before the reveal.
func TestDetectRollbacks(t *testing.T) {
	at := func(d int) time.Time { return day(4, d) }
	sr := &sessionRecord{Session: Session{ID: "S-x", Revealed: []Reveal{
		{Name: "db-root", Mode: "show", Time: at(10).Format(time.RFC3339), SealedAt: at(1).Format(time.RFC3339)},
	}}}
	tests := []struct {
		name string
		seen []seenVersion
		want int
	}{
		{"newer version sealed before the reveal", []seenVersion{{"db-root", at(5), "vault"}}, 1},
		{"newer version sealed after the reveal", []seenVersion{{"db-root", at(11), "vault"}}, 0},
		{"the same version", []seenVersion{{"db-root", at(1), "vault"}}, 0},
		{"an older version", []seenVersion{{"db-root", day(3, 1), "vault"}}, 0},
		{"another secret", []seenVersion{{"aws-root", at(5), "vault"}}, 0},
		{"nothing seen", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detectRollbacks("FP", sr, tt.seen); len(got) != tt.want {
				t.Errorf("detectRollbacks = %+v, want %d items", got, tt.want)
			}
		})
	}
	unversioned := &sessionRecord{Session: Session{ID: "S-y", Revealed: []Reveal{{Name: "db-root", Time: at(10).Format(time.RFC3339)}}}}
	if got := detectRollbacks("FP", unversioned, []seenVersion{{"db-root", at(5), "vault"}}); len(got) != 0 {
		t.Errorf("a reveal without a recorded version was flagged: %+v", got)
	}
}
