package ledger

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"breakglass/audit"
)

// scratch is where benchmark journals are written: tmpfs when there is one
// (each journal entry is fsynced, and the disk is not what is measured).
func scratch(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "ledger-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// benchLedger imports n live reports (one reveal each) into a fresh ledger
// and closes it.
func benchLedger(b *testing.B, n int) string {
	w := getWorld(b)
	clock := &testClock{day(12, 1)}
	l, dir := newLedger(b, clock)
	tmp := scratch(b)
	for i := range n {
		jws, err := w.Report(tmp, w.home.Vault, sessionSpecFor(i))
		if err != nil {
			b.Fatal(err)
		}
		pin := Pin{Fingerprint: w.home.V.Fingerprint()}
		if i == 0 {
			pin = Pin{VaultFile: w.home.Raw}
		}
		if _, err := l.ImportReport(fmt.Sprint(i), jws, pin); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	return dir
}

// BenchmarkReverify is what every status run costs: open the ledger (check
// the index chain, the head and every object's SHA-256), then re-verify
// every vault and report (audit.VerifyReport against the roster) and
// compute the open items.
func BenchmarkReverify(b *testing.B) {
	for _, n := range []int{10, 100, 400} {
		b.Run(fmt.Sprintf("reports=%d", n), func(b *testing.B) {
			dir := benchLedger(b, n)
			cfg := Config{Dir: dir, Trust: getWorld(b).trust, Now: (&testClock{day(12, 1)}).Now}
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				l, err := Open(cfg, false)
				if err != nil {
					b.Fatal(err)
				}
				st, err := l.Status()
				if err != nil || len(st.Vaults[0].Sessions) != n {
					b.Fatal(err)
				}
				l.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/report")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N)/float64(n), "cpu-µs/report")
		})
	}
}

// BenchmarkIntegrityCheck is the part of every command that does not verify
// signatures: the directory check alone.
func BenchmarkIntegrityCheck(b *testing.B) {
	dir := benchLedger(b, 100)
	b.ResetTimer()
	for b.Loop() {
		if _, err := check(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/report")
}

// cpuTime is the process's user and system CPU time: on a shared machine
// it shows the work done, where wall time also shows the wait for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sessionSpecFor(i int) ledgertestSession {
	return ledgertestSession{ID: fmt.Sprintf("S-%05d", i), Start: day(1, 2).Add(time.Duration(i) * time.Hour), Reveals: []string{"db-root"}}
}

// BenchmarkVerifyReportAlone is the floor under BenchmarkReverify: audit's
// verification of one of the same reports, with no ledger around it.
func BenchmarkVerifyReportAlone(b *testing.B) {
	w := getWorld(b)
	jws, err := w.Report(scratch(b), w.home.Vault, sessionSpecFor(0))
	if err != nil {
		b.Fatal(err)
	}
	l, _ := newLedger(b, &testClock{day(12, 1)})
	p, err := l.verifyVault(w.home.Raw)
	if err != nil {
		b.Fatal(err)
	}
	opts, err := l.reportOptions(p.v)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := audit.VerifyReport(jws, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/report")
}
