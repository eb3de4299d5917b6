package audit

import (
	"fmt"
	"path/filepath"
	"testing"
)

func BenchmarkJournalAppend(b *testing.B) {
	j, err := Create(filepath.Join(b.TempDir(), "journal.jsonl"), "S-bench", nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	data := obj{"step": "restore-db", "text": "restored from last night's backup"}
	b.ResetTimer()
	for b.Loop() {
		if _, err := j.Append("operator", "step.evidence", data); err != nil {
			b.Fatal(err)
		}
	}
}

// nopFile is a journal file that discards everything, to build large
// journals in memory for benchmarks.
type nopFile struct{}

func (nopFile) Write(p []byte) (int, error) { return len(p), nil }
func (nopFile) Sync() error                 { return nil }
func (nopFile) Truncate(int64) error        { return nil }
func (nopFile) Close() error                { return nil }

// benchReport builds a signed report whose journal has about n entries.
func benchReport(b *testing.B, n int) (*fixture, []byte) {
	b.Helper()
	pki := testCA(b)
	v, keys := enrolled(b, pki)
	cs := []*testCustodian{keys[11111111], keys[22222222]}
	clock := newClock()
	j := &Journal{path: "mem", f: nopFile{}, cfg: Config{Now: clock.Now}, start: clock.Now()}
	if _, err := j.Append("breakglass", TypeJournalCreated, CreatedData{Session: "S-bench"}); err != nil {
		b.Fatal(err)
	}
	writeSession(b, j, cs, pki.rootLabel(), v.Fingerprint())
	entries := j.Entries()
	closed := entries[len(entries)-1]
	j.entries = entries[:len(entries)-1] // reopen the session, add bulk, close again
	for i := len(entries); i < n; i++ {
		if _, err := j.Append("operator", "evidence.note", map[string]string{"text": fmt.Sprintf("observation %d: service restarted and healthy", i)}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := j.Append(closed.Actor, closed.Type, nil); err != nil {
		b.Fatal(err)
	}
	f := &fixture{pki: pki, vault: v, keys: keys, custodians: cs, entries: j.Entries()}
	r, err := BuildReport(f.entries, []Custodian{cs[0].record(b), cs[1].record(b)})
	if err != nil {
		b.Fatal(err)
	}
	r.Roster = v.RosterRecord()
	f.report = r
	if f.payload, err = MarshalPayload(r); err != nil {
		b.Fatal(err)
	}
	f.jws = f.sign(b, f.payload)
	return f, f.jws
}

func BenchmarkReportBuildSign(b *testing.B) {
	f, _ := benchReport(b, 1000)
	recs := []Custodian{f.custodians[0].record(b), f.custodians[1].record(b)}
	b.ResetTimer()
	for b.Loop() {
		r, err := BuildReport(f.entries, recs)
		if err != nil {
			b.Fatal(err)
		}
		r.Roster = f.vault.RosterRecord()
		p, err := MarshalPayload(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SignReport(p, f.signers()); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, n int) {
	f, jws := benchReport(b, n)
	b.SetBytes(int64(len(jws)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := VerifyReport(jws, f.opts()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
}

func BenchmarkVerify1k(b *testing.B)   { benchVerify(b, 1000) }
func BenchmarkVerify100k(b *testing.B) { benchVerify(b, 100000) }
