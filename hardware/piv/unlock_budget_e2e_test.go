package piv_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/hardware/station"
	"breakglass/hardware/vpcd"
	"breakglass/hardware/vyk"
	"breakglass/internal/attest"
	"breakglass/vault"
)

// apduTally counts the lines vpcd.LogAPDUs writes, by instruction.
type apduTally struct {
	mu     sync.Mutex
	byName map[string]int
}

// insNames names the instructions a custodian unlock can send.
var insNames = map[string]string{
	"a4": "SELECT", "f8": "GET SERIAL", "fd": "GET VERSION", "20": "VERIFY",
	"f7": "GET METADATA", "f9": "ATTEST", "cb": "GET DATA", "87": "GENERAL AUTHENTICATE",
	"1d": "DEVICE INFO", "c0": "GET RESPONSE",
}

func (a *apduTally) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[1] == "reset":
			a.byName["(reset)"]++
		case len(f) == 6:
			name, ok := insNames[f[2]]
			if !ok {
				name = "INS " + f[2]
			}
			a.byName[name]++
		default:
			return 0, fmt.Errorf("unexpected APDU log line %q", line)
		}
	}
	return len(p), nil
}

// take returns the counts since the last take and clears them.
func (a *apduTally) take() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.byName
	a.byName = map[string]int{}
	return out
}

// cost is what one measured operation cost on the card.
type cost struct {
	byName      map[string]int
	apdus       int
	connections int64
}

func (c cost) String() string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(c.byName)) {
		parts = append(parts, fmt.Sprintf("%s %d", n, c.byName[n]))
	}
	return fmt.Sprintf("%d APDUs over %d connections (%s)", c.apdus, c.connections, strings.Join(parts, ", "))
}

// modelledWait is the card time of c under the labelled assumptions of the
// README: ECDH (GENERAL AUTHENTICATE) 100 ms, attestation 300 ms, any
// other APDU 5 ms.
func (c cost) modelledWait() time.Duration {
	var d time.Duration
	for n, k := range c.byName {
		switch n {
		case "(reset)":
		case "GENERAL AUTHENTICATE":
			d += time.Duration(k) * 100 * time.Millisecond
		case "ATTEST":
			d += time.Duration(k) * 300 * time.Millisecond
		default:
			d += time.Duration(k) * 5 * time.Millisecond
		}
	}
	return d
}

func (a *apduTally) measure(t testing.TB, f func() error) cost {
	t.Helper()
	a.take()
	before := piv.Connections()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	c := cost{byName: a.take(), connections: piv.Connections() - before}
	for n, k := range c.byName {
		if n != "(reset)" {
			c.apdus += k
		}
	}
	return c
}

// unlockWorld is a 2-of-2 vault whose custodians' keys are in-process
// virtual YubiKeys plugged into the station's spare readers (the second
// reader of serialPivGo's and serialStationA's vpcd entries), every APDU
// of which is counted.
type unlockWorld struct {
	st     *piv.Station
	v      *vault.Vault
	opts   vault.VerifyOptions
	tally  *apduTally
	serial [2]uint32
}

func newUnlockWorld(tb testing.TB) *unlockWorld {
	tb.Helper()
	vs := e2eStation(tb)
	ca, err := vyk.TestCA()
	if err != nil {
		tb.Fatal(err)
	}
	w := &unlockWorld{st: piv.NewStation(), opts: testOpts(tb, ca.Cert),
		tally: &apduTally{byName: map[string]int{}}, serial: [2]uint32{50000001, 50000002}}
	now := time.Now()
	ctx := context.Background()
	var records []vault.Custodian
	var toks []hardware.Token
	for i, host := range []uint32{serialPivGo, serialStationA} {
		plugCountedKey(tb, vs, vs.Port(host)+1, w.serial[i], ca, w.tally)
		tok, err := openWhenSeen(ctx, w.st, w.serial[i])
		if err != nil {
			tb.Fatal(err)
		}
		c, err := vault.EnrolCustodian(ctx, tok, hardware.ManagementKey{Key: hardware.DefaultManagementKey},
			fmt.Sprintf("Custodian %d", i+1), vault.EnrolOptions{PIN: hardware.DefaultPIN, Verify: w.opts, Now: now})
		if err != nil {
			tb.Fatalf("enrolling YubiKey %d: %v", w.serial[i], err)
		}
		records = append(records, c)
		toks = append(toks, tok)
	}
	if w.v, err = vault.Create(vault.MergeCustodians(records), 2, now); err != nil {
		tb.Fatal(err)
	}
	for _, tok := range toks {
		if _, err := w.v.SignRoster(ctx, tok, hardware.DefaultPIN); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

// plugCountedKey serves a fresh in-process virtual key on the vpcd port
// until the test ends, logging its APDUs into tally.
func plugCountedKey(tb testing.TB, vs *station.Station, port int, serial uint32, ca *vyk.CA, tally *apduTally) {
	tb.Helper()
	card, err := vyk.New(vyk.Config{Serial: serial, CA: ca, Sleep: func(time.Duration) {}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		vpcd.Serve(ctx, fmt.Sprintf("127.0.0.1:%d", port), vpcd.LogAPDUs(card, tally, fmt.Sprint(serial)), vpcd.Options{})
	}()
	tb.Cleanup(func() { cancel(); <-done })
}

// openWhenSeen opens serial once pcscd sees it (vpcd connects in the background).
func openWhenSeen(ctx context.Context, st *piv.Station, serial uint32) (hardware.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		tok, err := st.Open(ctx, serial)
		if err == nil {
			return tok, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("YubiKey %d never appeared: %w", serial, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// consoleUnlock is one custodian's unlock as the console's AddCustodian
// does it: open the key by serial, Identify, AddShare.
func (w *unlockWorld) consoleUnlock(ctx context.Context, u *vault.Unlock, serial uint32) error {
	tok, err := w.st.Open(ctx, serial)
	if err != nil {
		return err
	}
	if _, err := u.Identify(ctx, tok); err != nil {
		return err
	}
	return u.AddShare(ctx, tok, hardware.DefaultPIN)
}

// checkUnlock is one custodian's unlock as `vault check` does it: open,
// Identify, read the PIN retries to show them at the prompt, AddShare.
func (w *unlockWorld) checkUnlock(ctx context.Context, u *vault.Unlock, serial uint32) error {
	tok, err := w.st.Open(ctx, serial)
	if err != nil {
		return err
	}
	if _, err := u.Identify(ctx, tok); err != nil {
		return err
	}
	if _, err := tok.Info(ctx); err != nil {
		return err
	}
	return u.AddShare(ctx, tok, hardware.DefaultPIN)
}

// minimumWait is the modelled card time of the fewest round trips that
// still prove a custodian's key: SELECT, GET SERIAL, GET METADATA of the
// slot, VERIFY, ECDH (4 × 5 ms + 100 ms).
const minimumWait = 120 * time.Millisecond

// TestUnlockCardBudget counts, through pcscd and piv-go, what one
// custodian's unlock costs on their key, by instruction, and holds it to
// the budget: one connection, at most 8 APDUs, no attestation, one ECDH,
// a modelled wait within 1.5× of minimumWait. Before the one-session
// unlock the console's cost was 44 APDUs over 13 connections with 2
// attestations (905 ms modelled), vault check's 52 over 15 (945 ms).
func TestUnlockCardBudget(t *testing.T) {
	w := newUnlockWorld(t)
	ctx := context.Background()
	if _, err := w.st.Keys(ctx); err != nil { // both the console and vault check list keys first
		t.Fatal(err)
	}
	u := w.v.Unlocker(w.opts)
	console := w.tally.measure(t, func() error { return w.consoleUnlock(ctx, u, w.serial[0]) })
	check := w.tally.measure(t, func() error { return w.checkUnlock(ctx, u, w.serial[1]) })
	if _, err := u.Open(); err != nil {
		t.Fatalf("opening the vault with both shares: %v", err)
	}
	t.Logf("console (Open, Identify, AddShare): %v; modelled wait %v", console, console.modelledWait())
	t.Logf("vault check (Open, Identify, Info, AddShare): %v; modelled wait %v", check, check.modelledWait())

	// The console's AddCustodian: exactly one session, instruction by
	// instruction. VERIFY twice: the empty one reads the retries (the
	// last-retry rule), the other carries the PIN.
	want := map[string]int{"SELECT": 1, "GET VERSION": 1, "GET SERIAL": 1, "GET METADATA": 1, "VERIFY": 2, "GENERAL AUTHENTICATE": 1}
	if !maps.Equal(console.byName, want) || console.connections != 1 {
		t.Errorf("console unlock cost %v, want 7 APDUs over 1 connection %v", console, want)
	}
	if console.apdus > 8 {
		t.Errorf("console unlock sent %d APDUs, budget 8", console.apdus)
	}
	if w := console.modelledWait(); w*2 > minimumWait*3 {
		t.Errorf("console unlock modelled wait %v, more than 1.5 × %v", w, minimumWait)
	}
	// vault check reads Info (retries, for its prompt) before AddShare:
	// one more connection and 6 APDUs, its own, on top of the same session.
	if check.connections != 2 || check.apdus != console.apdus+6 || check.byName["ATTEST"] != 0 || check.byName["GENERAL AUTHENTICATE"] != 1 {
		t.Errorf("vault check unlock cost %v, want the console's session plus one Info (2 connections, %d APDUs, no ATTEST)", check, console.apdus+6)
	}
}

// BenchmarkCustodianUnlock is one custodian's unlock as the console does
// it (open by serial, Identify, AddShare) through pcscd and piv-go to the
// virtual key, with a fresh Unlock each time.
func BenchmarkCustodianUnlock(b *testing.B) {
	w := newUnlockWorld(b)
	ctx := context.Background()
	if _, err := w.st.Keys(ctx); err != nil {
		b.Fatal(err)
	}
	var last cost
	for b.Loop() {
		u := w.v.Unlocker(w.opts)
		last = w.tally.measure(b, func() error { return w.consoleUnlock(ctx, u, w.serial[0]) })
		u.Abort()
	}
	b.ReportMetric(float64(last.apdus), "APDUs/op")
	b.ReportMetric(float64(last.connections), "connections/op")
	b.ReportMetric(float64(last.modelledWait().Milliseconds()), "modelled-ms/op")
}

// testOpts trusts only the virtual key's TEST attestation root.
func testOpts(tb testing.TB, root *x509.Certificate) vault.VerifyOptions {
	tb.Helper()
	tr, err := attest.NewTestTrust([]*x509.Certificate{root}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return vault.VerifyOptions{Trust: tr}
}
