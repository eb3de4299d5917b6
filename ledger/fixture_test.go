package ledger

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"breakglass/ledger/ledgertest"
)

// ledgertestSession lets files that do not import ledgertest name a session.
type ledgertestSession = ledgertest.Session

// The test world comes from ledgertest: real vaults on virtual YubiKeys
// and reports signed on them. These wrappers fail the test on error.

var epoch = ledgertest.Epoch

type testVault struct{ *ledgertest.Vault }

type world struct {
	*ledgertest.World
	trust       Trust
	home, other testVault
}

var (
	worldOnce sync.Once
	theWorld  world
	worldErr  error
)

func getWorld(t testing.TB) *world {
	t.Helper()
	worldOnce.Do(func() {
		w, err := ledgertest.NewWorld()
		if err != nil {
			worldErr = err
			return
		}
		theWorld = world{World: w, trust: Trust{Report: w.ReportTrust, Vault: w.VaultTrust}, home: testVault{w.Home}, other: testVault{w.Other}}
	})
	if worldErr != nil {
		t.Fatal(worldErr)
	}
	return &theWorld
}

func (tv testVault) rotated(t testing.TB, name string, at time.Time) []byte {
	t.Helper()
	b, err := tv.Rotated(name, at)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sessionSpec is ledgertest.Session with lower-case names for brevity.
type sessionSpec struct {
	id                          string
	drill                       bool
	start                       time.Time
	operator, ticket, whatBroke string
	reveals                     []string
	sealedAt                    map[string]string
	skip                        string
}

func (w *world) report(t testing.TB, tv testVault, s sessionSpec) []byte {
	t.Helper()
	b, err := w.Report(t.TempDir(), tv.Vault, ledgertest.Session{ID: s.id, Drill: s.drill, Start: s.start, Operator: s.operator,
		Ticket: s.ticket, WhatBroke: s.whatBroke, Reveals: s.reveals, SealedAt: s.sealedAt, Skip: s.skip})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testClock is a settable clock for the ledger.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time { return c.t }

// newLedger opens a fresh ledger in a temporary directory.
func newLedger(t testing.TB, clock *testClock) (*Ledger, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ledger")
	return reopen(t, dir, clock), dir
}

func reopen(t testing.TB, dir string, clock *testClock) *Ledger {
	t.Helper()
	l, err := Open(Config{Dir: dir, Trust: getWorld(t).trust, Now: clock.Now}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// populated is a ledger with a reviewed, announced, rotated live session, a
// drill, a live session nobody announced or reviewed, and a stray
// announcement.
func populated(t *testing.T, clock *testClock) (*Ledger, string) {
	t.Helper()
	w := getWorld(t)
	l, dir := newLedger(t, clock)
	fp := Pin{Fingerprint: w.home.V.Fingerprint()}
	mustImport(t, l, "s1.jws", w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1), reveals: []string{"db-root"}, skip: "not needed"}), Pin{VaultFile: w.home.Raw})
	mustImport(t, l, "d1.jws", w.report(t, w.home, sessionSpec{id: "D-1", drill: true, start: day(2, 10), reveals: []string{"db-root", "aws-root"}}), fp)
	mustImport(t, l, "s2.jws", w.report(t, w.home, sessionSpec{id: "S-2", start: day(2, 20), reveals: []string{"aws-root"},
		operator: "Mallory <script>alert(1)</script>", ticket: "INC-\x1b[2J\u202e", whatBroke: "<img src=http://evil.example/x.png>"}), fp)
	for code, by := range map[string]string{CodeOfSession(t, l, "S-1"): "Sam On-call", string(CodeOf(&testReport)): "Sam On-call"} {
		if _, err := l.Announce(code, by); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.ImportVault(w.home.rotated(t, "db-root", day(2, 2))); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Review("S-1", "Rita Reviewer", DecisionAccepted, "justified by INC-S-1"); err != nil {
		t.Fatal(err)
	}
	return l, dir
}

// CodeOfSession is the announce code of an imported session.
func CodeOfSession(t *testing.T, l *Ledger, id string) string {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Vaults {
		for _, s := range v.Sessions {
			if s.ID == id {
				return s.AnnounceCode
			}
		}
	}
	t.Fatalf("no session %s", id)
	return ""
}
