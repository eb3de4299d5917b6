package piv_test

// The end-to-end tests share one private pcscd with virtual YubiKeys
// (hardware/station), started on first use and stopped after all tests:
// libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so a test binary
// can only ever talk to one pcscd.

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"breakglass/hardware/station"
	"breakglass/hardware/vpcd"
	"breakglass/hardware/vyk"
)

// Serials of the shared station's keys, one set per test so that tests do
// not disturb each other.
const (
	serialPivGo    = 20000001 // TestPivGoAgainstVirtualKey (reset at its end)
	serialStationA = 30000001 // TestStationAgainstVirtualKeys
	serialStationB = 30000002 // TestStationAgainstVirtualKeys (pulled, held busy)
	serialBench    = 40000001 // benchmarks
)

var shared struct {
	once sync.Once
	st   *station.Station
	err  error
}

// e2eStation returns the shared station, starting it on first use; the
// test fails, saying what is missing, where a station cannot start.
func e2eStation(tb testing.TB) *station.Station {
	tb.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "piv-e2e-")
		if err != nil {
			shared.err = err
			return
		}
		o := station.Options{Dir: dir, Keys: []station.KeySpec{
			{Serial: serialPivGo}, {Serial: serialStationA}, {Serial: serialStationB}, {Serial: serialBench},
		}}
		if d := os.Getenv("BREAKGLASS_BIN"); d != "" {
			if _, err := os.Stat(d + "/virtual-yubikey"); err == nil {
				o.VirtualYubiKeyBin = d + "/virtual-yubikey"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.st, shared.err = station.Start(ctx, o)
		if shared.err == nil {
			// Before this process's first PC/SC call.
			shared.err = os.Setenv("PCSCLITE_CSOCK_NAME", shared.st.Socket())
		}
	})
	if shared.err != nil {
		tb.Fatalf("starting the PC/SC test station: %v", shared.err)
	}
	return shared.st
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.st != nil {
		if err := shared.st.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "closing the PC/SC test station: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		os.RemoveAll(shared.st.Dir())
	}
	os.Exit(code)
}

// extraKey plugs an in-process virtual key with the given firmware into
// the empty second reader of serialBench's vpcd entry, until the test ends.
func extraKey(t *testing.T, st *station.Station, serial uint32, version [3]byte) {
	t.Helper()
	card, err := vyk.New(vyk.Config{Serial: serial, Version: version, Sleep: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		vpcd.Serve(ctx, fmt.Sprintf("127.0.0.1:%d", st.Port(serialBench)+1), card, vpcd.Options{})
	}()
	t.Cleanup(func() { cancel(); <-done })
}
