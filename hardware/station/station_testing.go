package station

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testStation serialises ForTest stations: they share one socket path per
// process (libpcsclite reads PCSCLITE_CSOCK_NAME only once per process).
var testStation sync.Mutex

// testRunDir is the process-wide RunDir of ForTest stations.
func testRunDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("breakglass-station-%d", os.Getpid()))
}

// ForTest starts a station with the given keys for the test t, sets
// PCSCLITE_CSOCK_NAME for the test (t.Setenv, so not in parallel tests)
// and stops the station in t.Cleanup.
//
// Every ForTest station of a process uses the same socket path, so
// in-process PC/SC clients (piv-go) reach whichever is running; ForTest
// therefore waits until the previous one is closed (close it early with
// Close to start another in the same test). Files go in t.TempDir(); the
// binary is $BREAKGLASS_BIN/virtual-yubikey when that exists (make test sets
// BREAKGLASS_BIN), else it is built. Keys with serial 0 get 10000001,
// 10000002, … by position. BREAKGLASS_PCSCD_DEBUG=1 logs APDUs to
// pcscd.log; BREAKGLASS_STATION_DIR=DIR keeps the station files in DIR.
//
// If the station cannot start the test fails, saying what is missing; it
// is never skipped (a suite whose end-to-end tests did not run must not
// report PASS). Callers skip only in -short mode.
func ForTest(t testing.TB, keys ...KeySpec) *Station {
	t.Helper()
	if len(keys) == 0 {
		keys = []KeySpec{{}}
	}
	keys = append([]KeySpec(nil), keys...)
	for i := range keys {
		if keys[i].Serial == 0 {
			keys[i].Serial = uint32(10000001 + i)
		}
	}
	o := Options{Dir: t.TempDir(), Keys: keys, RunDir: testRunDir(), PCSCDDebug: os.Getenv("BREAKGLASS_PCSCD_DEBUG") != ""}
	if d := os.Getenv("BREAKGLASS_STATION_DIR"); d != "" {
		o.Dir = filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
	}
	if dir := os.Getenv("BREAKGLASS_BIN"); dir != "" {
		bin := filepath.Join(dir, "virtual-yubikey")
		if _, err := os.Stat(bin); err == nil {
			o.VirtualYubiKeyBin = bin
		}
	}
	testStation.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		os.RemoveAll(o.RunDir)
		testStation.Unlock()
		t.Fatalf("starting the PC/SC test station (make deps installs what it needs): %v", err)
	}
	s.onClose = func() {
		os.RemoveAll(o.RunDir)
		testStation.Unlock()
	}
	t.Setenv("PCSCLITE_CSOCK_NAME", s.Socket())
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, s)
		}
		if err := s.Close(); err != nil {
			t.Errorf("closing the PC/SC test station: %v", err)
		}
	})
	return s
}

// logTails shows the end of every station log in the test output.
func logTails(t testing.TB, s *Station) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(s.Dir(), "*.log"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		t.Logf("--- %s (end):\n%s", filepath.Base(l), b)
	}
}
