package ui

import "testing"

// TestLastRetryGuard drives the one PIN path on every screen that takes a
// PIN: with one try left, nothing but the typed word "last" then enter
// spends it, and the engine is told (ConfirmLastPINTry) before the PIN goes.
func TestLastRetryGuard(t *testing.T) {
	screens := []struct {
		name string
		// open brings up the PIN prompt of key 11111111, with one try left.
		open func(t *testing.T, f *fakeEngine) *driver
		done func(f *fakeEngine) bool
	}{
		{"custodians", func(t *testing.T, f *fakeEngine) *driver {
			d := toCustodians(t, f)
			f.retries[11111111] = 1
			d.insert(11111111)
			return d
		}, func(f *fakeEngine) bool { return len(f.counted) == 1 }},
		{"step confirmation", func(t *testing.T, f *fakeEngine) *driver {
			d := toConfirmStep(t, f)
			f.retries[11111111] = 1
			d.insert(11111111)
			d.keys("c")
			return d
		}, func(f *fakeEngine) bool { return len(f.steps[1].Confirmed) == 1 }},
		{"report signing", func(t *testing.T, f *fakeEngine) *driver {
			f.steps = sampleSteps(1)
			d := toRunbook(t, f, 80, 24)
			d.finishRunbook()
			d.closeOut()
			d.readSummary()
			f.retries[11111111] = 1
			d.insert(11111111)
			return d
		}, func(f *fakeEngine) bool { return len(f.signed) == 1 }},
	}
	tests := []struct {
		name string
		keys []string
		used bool // the last try was spent
		on   bool // the guard is still showing
	}{
		{"enter alone does not try", nil, false, true},
		{"esc stops without trying", []string{"esc"}, false, false},
		{"y is not a confirmation", []string{"y", "enter"}, false, true},
		{"a stray word is not a confirmation", []string{"l", "a", "s", "enter"}, false, true},
		{"typing last and enter tries", []string{"l", "a", "s", "t", "enter"}, true, false},
	}
	for _, sc := range screens {
		for _, tt := range tests {
			t.Run(sc.name+"/"+tt.name, func(t *testing.T) {
				f := newFake()
				d := sc.open(t, f)
				d.contains("PIN tries left 1")
				tries := len(f.pinTries)
				d.typ("123456")
				d.keys("enter")
				d.keys(tt.keys...)
				if got := len(f.pinTries) - tries; got != map[bool]int{false: 0, true: 1}[tt.used] {
					t.Fatalf("PIN tried %d times", got)
				}
				if tt.used != (len(f.lastConfirm) == 1) || tt.used != sc.done(f) {
					t.Fatalf("used=%v: ConfirmLastPINTry calls %v, done %v", tt.used, f.lastConfirm, sc.done(f))
				}
				if tt.on {
					d.contains("Only 1 PIN try left", "Next: ONE PIN try left")
				} else {
					d.lacks("Only 1 PIN try left")
				}
			})
		}
	}
}

// TestEngineRefusesUnconfirmedLastTry: when the engine finds one try left
// that the screen did not know about, the prompt asks for the confirmation.
func TestEngineRefusesUnconfirmedLastTry(t *testing.T) {
	f := newFake()
	d := toCustodians(t, f)
	d.insert(11111111)
	f.retries[11111111] = 1 // spent elsewhere since the last scan
	d.typ("123456")
	d.keys("enter")
	d.contains("one PIN try left", "Confirm the last try")
	d.typ("123456")
	d.keys("enter")
	d.contains("Only 1 PIN try left")
	d.typ("last")
	d.keys("enter")
	if len(f.counted) != 1 || len(f.lastConfirm) != 1 {
		t.Fatalf("counted %v, confirmations %v", f.counted, f.lastConfirm)
	}
}

// TestTouchPromptWhenTheKeyWaits: the prompt shows when, and only when, the
// engine says the key waits for a touch; there is no timer.
func TestTouchPromptWhenTheKeyWaits(t *testing.T) {
	f := newFake()
	d := toCustodians(t, f)
	d.insert(11111111)
	d.typ("000000") // a wrong PIN never reaches the touch
	d.hold = true
	d.keys("enter")
	if len(d.timers) != 0 {
		t.Fatalf("timers = %+v, want none", d.timers)
	}
	d.lacks("Touch your YubiKey now")
	d.contains("Checking the key…")
	d.release()
	d.contains("Wrong PIN")
	d.typ("123456")
	d.hold = true
	d.keys("enter")
	d.contains("Touch your YubiKey now", "Next: touch the YubiKey now")
	d.release()
	d.lacks("Touch your YubiKey now")
	d.contains("✓ Alice Ng counted")
}

// TestConfirmRescansAfterReauthorisation: a key listing that went to the
// custodians screen while the runbook waited for it does not leave the
// runbook's confirmation prompt without retries forever.
func TestConfirmRescansAfterReauthorisation(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(3)
	d := toConfirmStep(t, f)
	d.noScan = true
	d.keys("c") // its scan result never arrives
	d.noScan = false
	exp := f.expires
	d.at(exp) // window expires: re-authorise
	d.custodian(11111111, "123456")
	d.custodian(22222222, "654321")
	d.insert(11111111)
	d.at(exp.Add(scanGiveUp))
	if _, ok := d.m.scr.(*runbookScreen); !ok {
		t.Fatalf("not back on the runbook:\n%s", d.screen())
	}
	d.contains("Alice Ng · key 11111111 · PIN tries left 3")
}
