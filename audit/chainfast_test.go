package audit

import (
	"testing"
	"time"
)

// TestChainReportsTakeFastPath: reports with a roster chain and a rekey
// session's report parse on the verifier's fast path, and agree with
// ParsePayload.
func TestChainReportsTakeFastPath(t *testing.T) {
	w := newChainWorld(t)
	reps := map[string]*Report{
		"session under version 2": w.sessionAt(t, w.v2, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), "bob", "dave"),
		"rekey session":           w.rekeyRep,
	}
	for name, rep := range reps {
		t.Run(name, func(t *testing.T) {
			p, err := MarshalPayload(rep)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := parseReportFast(p); !ok {
				t.Error("not on the fast path")
			}
			assertParseAgrees(t, p)
		})
	}
}
