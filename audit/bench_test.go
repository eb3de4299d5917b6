package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
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

// benchCases caches one signed report per journal size, so that the
// verify benchmark and its floor measure the very same report and the
// (slow) building is done once per test binary.
var benchCases struct {
	sync.Mutex
	m map[int]*fixture
}

func cachedBenchReport(b *testing.B, n int) *fixture {
	b.Helper()
	benchCases.Lock()
	defer benchCases.Unlock()
	if f, ok := benchCases.m[n]; ok {
		return f
	}
	f, _ := benchReport(b, n)
	if benchCases.m == nil {
		benchCases.m = map[int]*fixture{}
	}
	benchCases.m[n] = f
	return f
}

var benchSizes = []struct {
	name string
	n    int
}{{"1k", 1000}, {"10k", 10000}, {"100k", 100000}}

func BenchmarkReportBuildSign(b *testing.B) {
	f := cachedBenchReport(b, 1000)
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

// BenchmarkVerifyReport is the auditor's whole check (VerifyReport, pinned
// by fingerprint) of a report signed by two custodians whose journal has
// 1k, 10k and 100k entries. ns/entry is the time per journal entry,
// fixed costs (signatures, attestations, the roster) included; cpu-ns/entry
// is the same in CPU time, steadier on a shared machine.
func BenchmarkVerifyReport(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			f := cachedBenchReport(b, s.n)
			n := len(f.entries)
			opts := f.opts()
			b.SetBytes(int64(len(f.jws)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				if _, err := VerifyReport(f.jws, opts); err != nil {
					b.Fatal(err)
				}
			}
			reportPerEntry(b, n, processCPU()-cpu)
		})
	}
}

// BenchmarkDecodeAndHashFloor is the floor BenchmarkVerifyReport is
// measured against: the same report's journal as JSON lines, each line
// json-decoded into an Entry and its hash recomputed as the chain defines it
// (SHA-256 over the encoding without hash), checked against its hash and
// the next entry's prev. Nothing else: no JWS, no payload, no canonical
// form, no signatures. SetBytes is the report's size, as in
// BenchmarkVerifyReport, so MB/s compare.
func BenchmarkDecodeAndHashFloor(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			f := cachedBenchReport(b, s.n)
			var lines []byte
			for _, e := range f.entries {
				l, err := json.Marshal(e)
				if err != nil {
					b.Fatal(err)
				}
				lines = append(append(lines, l...), '\n')
			}
			n := len(f.entries)
			b.SetBytes(int64(len(f.jws)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				if err := decodeAndHash(lines, n); err != nil {
					b.Fatal(err)
				}
			}
			reportPerEntry(b, n, processCPU()-cpu)
		})
	}
}

// reportPerEntry reports wall and CPU time (cpu: the process's CPU time
// over the loop, GC included) per journal entry.
func reportPerEntry(b *testing.B, entries int, cpu int64) {
	per := float64(b.N) * float64(entries)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/entry")
	b.ReportMetric(float64(cpu)/per, "cpu-ns/entry")
}

// decodeAndHash is the floor: decode each line, hash it, follow the chain.
func decodeAndHash(lines []byte, want int) error {
	prev := ZeroHash
	n := 0
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		var e Entry
		if err := json.Unmarshal(lines[:i], &e); err != nil {
			return err
		}
		lines = lines[i+1:]
		hb, err := json.Marshal(hashInput{e.Seq, e.Time, e.Mono, e.Actor, e.Type, e.Data, e.Prev})
		if err != nil {
			return err
		}
		sum := sha256.Sum256(hb)
		if e.Prev != prev || hex.EncodeToString(sum[:]) != e.Hash {
			return fmt.Errorf("entry %d does not chain", e.Seq)
		}
		prev = e.Hash
		n++
	}
	if n != want {
		return fmt.Errorf("%d entries, want %d", n, want)
	}
	return nil
}

// BenchmarkVerifyTiny is VerifyReport of the smallest complete session:
// what every report costs whatever its journal (two ES256 signatures, two
// attestation chains, the embedded roster's signatures and attestations).
func BenchmarkVerifyTiny(b *testing.B) {
	f := cachedBenchReport(b, 0)
	opts := f.opts()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyReport(f.jws, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(f.entries)), "entries")
}
