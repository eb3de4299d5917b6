package ledger

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/audit"
	"breakglass/ledger/ledgertest"
	"breakglass/vault"
)

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }

// statusJSON round-trips the status through its JSON form, as a script
// reading `status --json` would see it.
func statusJSON(t *testing.T, l *Ledger) Status {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out Status
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func openKinds(st Status, session string) map[string]int {
	m := map[string]int{}
	for _, it := range st.OpenItems {
		if session == "*" || it.Session == session {
			m[it.Kind]++
		}
	}
	return m
}

func mustImport(t *testing.T, l *Ledger, name string, jws []byte, pin Pin) ReportData {
	t.Helper()
	d, err := l.ImportReport(name, jws, pin)
	if err != nil {
		t.Fatalf("importing %s: %v", name, err)
	}
	return d
}

// TestLifecycle walks a vault's year through the ledger: a live use and a
// drill imported, announced, reviewed, the credential rotated, the next
// drill missed.
func TestLifecycle(t *testing.T) {
	w := getWorld(t)
	clock := &testClock{day(3, 1)}
	l, _ := newLedger(t, clock)
	fp := w.home.V.Fingerprint()
	live := w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1), reveals: []string{"db-root"}})
	drill := w.report(t, w.home, sessionSpec{id: "D-1", drill: true, start: day(2, 10), reveals: []string{"db-root", "aws-root"}})
	mustImport(t, l, "live.jws", live, Pin{VaultFile: w.home.Raw})
	mustImport(t, l, "drill.jws", drill, Pin{Fingerprint: strings.ToLower(strings.ReplaceAll(fp, "-", ""))}) // as typed from the card

	st := statusJSON(t, l)
	if st.Format != StatusFormat || len(st.Vaults) != 1 || len(st.Vaults[0].Sessions) != 2 {
		t.Fatalf("status = %+v, want one vault with two sessions", st)
	}
	vs := st.Vaults[0]
	if vs.Fingerprint != fp || !vs.Verified || vs.DrillInterval != 90 || !strings.HasPrefix(vs.DrillSource, "default") {
		t.Errorf("vault status = %+v", vs)
	}
	s1 := vs.Sessions[0]
	if s1.ID != "S-1" || !s1.Verified || !s1.NonProduction || s1.Operator != "Olga Operator" || s1.Ticket != "INC-S-1" ||
		len(s1.Custodians) != 2 || s1.Custodians[0].Serial != 10000001 || len(s1.Revealed) != 1 || s1.Revealed[0].Name != "db-root" {
		t.Errorf("session S-1 = %+v", s1)
	}
	if got := openKinds(st, "S-1"); got[OpenUnrotated] != 1 || got[OpenUnreviewed] != 1 || got[OpenNoAnnouncement] != 1 {
		t.Errorf("S-1 open items = %v, want unrotated, unreviewed, report-without-announce", got)
	}
	if got := openKinds(st, "D-1"); got[OpenUnrotated] != 0 || got[OpenUnreviewed] != 1 {
		t.Errorf("D-1 open items = %v: a drill shows nothing, so nothing to rotate", got)
	}
	if openKinds(st, "*")[OpenDrillOverdue] != 0 {
		t.Errorf("drill overdue three weeks after a drill: %+v", st.OpenItems)
	}

	// The on-call records S-1's code and one that no report has.
	if _, err := l.Announce(s1.AnnounceCode, "Sam On-call"); err != nil {
		t.Fatal(err)
	}
	stray := string(CodeOf(&audit.Report{Session: audit.SessionInfo{ID: "S-unknown", Operator: "x"}, VaultFingerprint: fp}))
	if _, err := l.Announce(strings.ToLower(stray), "Sam On-call"); err != nil {
		t.Fatal(err)
	}
	// The rotation: a newer vault copy with db-root sealed after the reveal.
	if _, err := l.ImportVault(w.home.rotated(t, "db-root", day(2, 2))); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Review("S-1", "Rita Reviewer", DecisionAccepted, "justified by INC-S-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Review("D-1", "Rita Reviewer", DecisionFollowUp, "check the TOTP runbook"); err != nil {
		t.Fatal(err)
	}

	st = statusJSON(t, l)
	if got := openKinds(st, "S-1"); len(got) != 0 {
		t.Errorf("S-1 after rotation, announcement and review: open items %v, want none", got)
	}
	s1 = st.Vaults[0].Sessions[0]
	if s1.Revealed[0].RotatedAt != "2026-02-02T10:00:00Z" || s1.AnnouncedBy != "Sam On-call" || s1.Review == nil || s1.Review.Signed {
		t.Errorf("S-1 = %+v (review %+v)", s1, s1.Review)
	}
	if got := openKinds(st, "D-1"); got[OpenFollowUp] != 1 || got[OpenUnreviewed] != 0 || got[OpenNoAnnouncement] != 1 {
		t.Errorf("D-1 open items = %v, want follow-up and report-without-announce", got)
	}
	if got := openKinds(st, ""); got[OpenNoReport] != 1 {
		t.Errorf("open items without a session = %v, want the stray announcement", got)
	}

	// Three months after the drill, the next one is overdue.
	clock.t = day(6, 1)
	st = statusJSON(t, l)
	if got := openKinds(st, "*"); got[OpenDrillOverdue] != 1 {
		t.Errorf("on June 1st, open items = %v, want drill-overdue (last drill Feb 10, every 90 days)", got)
	}
	if st.Vaults[0].LastDrill == "" || !strings.HasPrefix(st.Vaults[0].DrillDue, "2026-05-1") {
		t.Errorf("last drill %q, due %q", st.Vaults[0].LastDrill, st.Vaults[0].DrillDue)
	}
}

// TestNoDrillEver: a vault with no drill report is due from its creation.
func TestNoDrillEver(t *testing.T) {
	w := getWorld(t)
	l, _ := newLedger(t, &testClock{day(5, 1)})
	if _, err := l.ImportVault(w.home.Raw); err != nil {
		t.Fatal(err)
	}
	st := statusJSON(t, l)
	if got := openKinds(st, "*"); got[OpenDrillOverdue] != 1 {
		t.Errorf("120 days after creation with no drill: %v, want drill-overdue", got)
	}
}

// snapshot is every file of a directory and its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		m[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("refusal changed the ledger: %d files before, %d after", len(before), len(after))
	}
	for p, b := range before {
		if after[p] != b {
			t.Fatalf("refusal changed %s", p)
		}
	}
}

func TestImportRefusals(t *testing.T) {
	w := getWorld(t)
	clock := &testClock{day(3, 1)}
	l, dir := newLedger(t, clock)
	fp := w.home.V.Fingerprint()
	good := w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1), reveals: []string{"db-root"}})
	mustImport(t, l, "good.jws", good, Pin{VaultFile: w.home.Raw})

	forged := forge(t, good)
	foreign := w.report(t, w.other, sessionSpec{id: "F-1", start: day(2, 3)})
	resigned := w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1), reveals: []string{"db-root"}})
	impostor, err := w.Report(t.TempDir(), w.other.Vault, ledgertest.Session{ID: "S-9", Start: day(2, 4), Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	doctored := doctor(t, w.home.Raw)
	tests := []struct {
		name   string
		jws    []byte
		pin    Pin
		want   error
		reason string
	}{
		{"forged", forged, Pin{Fingerprint: fp}, ErrNotVerified, "signature"},
		{"foreign", foreign, Pin{Fingerprint: fp}, ErrForeign, w.other.V.Fingerprint()},
		{"foreign pinned to its own vault file with the home fingerprint", foreign, Pin{VaultFile: w.other.Raw, Fingerprint: fp}, ErrNoPin, "not the pinned"},
		{"duplicate", good, Pin{Fingerprint: fp}, ErrDuplicate, "entry 3"},
		{"same session, other file", resigned, Pin{Fingerprint: fp}, ErrDuplicate, "session S-1 is already entry 3"},
		{"no pin", good, Pin{}, ErrNoPin, "--vault-fingerprint"},
		{"unknown fingerprint", foreign, Pin{Fingerprint: w.other.V.Fingerprint()}, ErrNoPin, "import the vault file once"},
		{"corrupt vault file", good, Pin{VaultFile: []byte("{}")}, ErrVaultInvalid, "format"},
		{"signed by another vault's custodians, claiming this vault", impostor, Pin{Fingerprint: fp}, ErrNotVerified, "roster"},
		{"doctored vault file, fingerprint recomputed", resigned, Pin{VaultFile: doctored}, ErrVaultInvalid, "signature"},
		{"not a report", []byte("hello"), Pin{Fingerprint: fp}, ErrNotVerified, "JWS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, dir)
			_, err := l.ImportReport("r.jws", tt.jws, tt.pin)
			var re *RefusedError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("ImportReport = %v, want %v mentioning %q", err, tt.want, tt.reason)
			}
			if !strings.Contains(err.Error(), "nothing was added") {
				t.Errorf("refusal does not say nothing was added: %v", err)
			}
			sameSnapshot(t, before, snapshot(t, dir))
		})
	}
	// A foreign report imported with its own vault pinned is accepted.
	mustImport(t, l, "foreign.jws", foreign, Pin{VaultFile: w.other.Raw})
	if st := statusJSON(t, l); len(st.Vaults) != 2 {
		t.Errorf("vaults = %d, want 2", len(st.Vaults))
	}
	if _, err := l.ImportVault(doctored); !errors.Is(err, ErrVaultInvalid) {
		t.Errorf("importing a doctored vault = %v, want ErrVaultInvalid", err)
	}
	if _, err := l.ImportVault(w.home.Raw); !errors.Is(err, ErrDuplicate) {
		t.Errorf("importing the same vault file again = %v, want ErrDuplicate", err)
	}
}

// doctor renames a custodian in a vault file and recomputes the fingerprint,
// as an attacker editing the file would: it parses, but no roster signature
// matches any more.
func doctor(t *testing.T, raw []byte) []byte {
	t.Helper()
	v, err := vault.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	v.Roster.Custodians[0].Name = "Mallory"
	v.RecordedFingerprint = v.ComputeFingerprint()
	b, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vault.Parse(b); err != nil {
		t.Fatalf("the doctored vault does not even parse: %v", err)
	}
	return b
}

// forge changes one byte of the first signature.
func forge(t *testing.T, jws []byte) []byte {
	t.Helper()
	var g map[string]any
	if err := json.Unmarshal(jws, &g); err != nil {
		t.Fatal(err)
	}
	sigs := g["signatures"].([]any)
	s := sigs[0].(map[string]any)
	sig := []byte(s["signature"].(string))
	sig[5] ^= 1
	if sig[5] == '-' || sig[5] == '_' {
		sig[5] = 'A'
	}
	s["signature"] = string(sig)
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReviewAndAnnounceRefusals(t *testing.T) {
	w := getWorld(t)
	l, dir := newLedger(t, &testClock{day(3, 1)})
	mustImport(t, l, "r.jws", w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1)}), Pin{VaultFile: w.home.Raw})
	code := string(CodeOf(&audit.Report{Session: audit.SessionInfo{ID: "S-9"}}))
	typo := code[:3] + string(swapChar(code[3])) + code[4:]
	before := snapshot(t, dir)
	for name, err := range map[string]error{
		"unknown session": second(l.Review("S-404", "Rita", DecisionAccepted, "ok")),
		"bad decision":    second(l.Review("S-1", "Rita", "maybe", "ok")),
		"empty note":      second(l.Review("S-1", "Rita", DecisionAccepted, " ")),
		"no reviewer":     second(l.Review("S-1", "", DecisionAccepted, "ok")),
		"typo in code":    second(l.Announce(typo, "Sam")),
		"no receiver":     second(l.Announce(code, "")),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	sameSnapshot(t, before, snapshot(t, dir))
	if _, err := l.Announce(code, "Sam"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Announce(code, "Sam"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("same code twice = %v, want ErrDuplicate", err)
	}
}

func second(_ Entry, err error) error { return err }

func swapChar(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

// TestRefusedFirstImportLeavesNothing: a new ledger is written only with its
// first record, so refusing the very first report leaves no directory.
func TestRefusedFirstImportLeavesNothing(t *testing.T) {
	w := getWorld(t)
	dir := filepath.Join(t.TempDir(), "ledger")
	l, err := Open(Config{Dir: dir, Trust: w.trust}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	forged := forge(t, w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1)}))
	if _, err := l.ImportReport("forged.jws", forged, Pin{VaultFile: w.home.Raw}); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("ImportReport(forged) = %v, want ErrNotVerified", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused first import left %s behind: %v", dir, err)
	}
	if _, err := l.Review("S-1", "R", DecisionAccepted, "n"); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("review on the fresh ledger = %v", err)
	}
	if _, err := l.ImportVault(w.home.Raw); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2, err := Open(Config{Dir: dir, Trust: w.trust}, false)
	if err != nil {
		t.Fatalf("the ledger its first record created does not open: %v", err)
	}
	defer l2.Close()
	if seq, _ := l2.Head(); seq != 2 {
		t.Errorf("head seq = %d, want 2 (created, vault)", seq)
	}
}

// TestReverifiedUnderOtherTrust: status re-verifies everything it shows. A
// ledger read with trust that does not accept its keys (here: no TEST root)
// shows every vault and report as not verified, hides what the reports say,
// and lists them as open items.
func TestReverifiedUnderOtherTrust(t *testing.T) {
	l, dir := populated(t, &testClock{day(3, 1)})
	l.Close()
	l2, err := Open(Config{Dir: dir, Now: (&testClock{day(3, 1)}).Now}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	st := statusJSON(t, l2)
	if len(st.Vaults) != 1 || st.Vaults[0].Verified || st.Vaults[0].Problem == "" {
		t.Fatalf("vault = %+v, want not verified with a reason", st.Vaults[0])
	}
	for _, s := range st.Vaults[0].Sessions {
		if s.Verified || s.Operator != "" || len(s.Revealed) != 0 || len(s.Failed) == 0 {
			t.Errorf("session %s = %+v: an unverified report's contents must not be shown", s.ID, s)
		}
	}
	if got := openKinds(st, "*"); got[OpenNotVerified] != 4 {
		t.Errorf("open items %v, want 4 not-verified (the vault and 3 reports)", got)
	}
}
