package ui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

func TestPreflightBlocks(t *testing.T) {
	accept := []string{"a", "a", "c", "c", "e", "p", "t", "enter"} // a, the word, enter
	tests := []struct {
		name   string
		checks []Check
		keys   []string
		moved  bool
		next   string
	}{
		{"fail blocks even with clock confirmed", []Check{{"Network", Fail, "wlan0 up"}}, []string{"y", "enter", "enter"}, false, `fix the failed check "Network"`},
		{"warn without reason blocks", []Check{{"Disk", Warn, "not removable"}}, []string{"y", "enter", "enter"}, false, `select warning "Disk"`},
		{"empty reason is refused", []Check{{"Disk", Warn, "x"}}, slices.Concat(accept, []string{"enter", "esc", "y", "enter", "enter"}), false, `select warning "Disk"`},
		{"clock unconfirmed blocks", []Check{{"Disk", Pass, ""}}, []string{"enter"}, false, "compare the UTC time"},
		{"clock wrong blocks", []Check{{"Disk", Pass, ""}}, []string{"w", "enter", "enter"}, false, "set the system clock"},
		{"all pass and clock right", []Check{{"Disk", Pass, ""}}, []string{"y", "enter", "enter"}, true, ""},
		{"warn acknowledged", []Check{{"Disk", Warn, "x"}}, slices.Concat(accept, []string{"o", "k", "enter", "y", "enter", "enter"}), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.checks = tt.checks
			d := newDriver(t, f, 80, 24)
			d.keys(tt.keys...)
			_, moved := d.m.scr.(*declareScreen)
			if moved != tt.moved {
				t.Fatalf("moved on = %v, want %v:\n%s", moved, tt.moved, d.screen())
			}
			if tt.next != "" {
				d.contains("Next: " + tt.next)
			}
		})
	}
}

func TestPreflightRecords(t *testing.T) {
	d := newDriver(t, newFake(), 80, 24)
	d.passPreflight()
	if got := d.f.acks["Report destination"]; got != "no USB stick; laptop disk is encrypted" {
		t.Errorf("acknowledged reason = %q", got)
	}
	if !slices.Equal(d.f.clock, []bool{true}) {
		t.Errorf("clock confirmations = %v, want [true]", d.f.clock)
	}
}

// TestPreflightReasonVisibleOnSmallTerminal: with more checks than fit in
// 80x24, the reason being typed for a warning and its error stay on screen
// (found under tmux: the field fell below the last line).
func TestPreflightReasonVisibleOnSmallTerminal(t *testing.T) {
	f := newFake()
	for i := range 12 {
		f.checks = append([]Check{{Name: fmt.Sprintf("extra check %d", i), Status: Warn,
			Detail: "a long detail that wraps over more than one line at eighty columns, as real details do"}}, f.checks...)
	}
	d := newDriver(t, f, 80, 24)
	d.keys("a")
	d.typ("accept")
	d.keys("enter")
	d.typ("lab station")
	d.contains("(recorded in the journal)", "Reason: lab station")
	d.keys("enter") // recorded; the next warning
	d.keys("down", "a")
	d.typ("accept")
	d.keys("enter", "enter") // an empty reason is refused, visibly
	d.contains("Reason:", "A reason is required")
}

// TestPreflightSelectionStaysOnScreen: with more checks than fit in 80x24
// (a station with several warnings, each showing its detail), the selected
// check is always on screen, as the Next line asks the operator to select
// it, and what is scrolled off is announced (found under load in the e2e
// run as an unprivileged user: the cursor sat below the last line).
func TestPreflightSelectionStaysOnScreen(t *testing.T) {
	f := newFake()
	for i := range 8 {
		f.checks = append(f.checks, Check{Name: fmt.Sprintf("late check %d", i), Status: Warn,
			Detail: "a long detail that wraps over more than one line at eighty columns, as real details do"})
	}
	d := newDriver(t, f, 80, 24)
	d.contains("more line(s) below (↓/j)")
	for i := range len(f.checks) {
		d.keys("down")
		if cursorLine(d.screen()) == "" {
			t.Fatalf("after %d downs the selection is off screen:\n%s", i+1, d.screen())
		}
	}
	if row, last := cursorLine(d.screen()), f.checks[len(f.checks)-1].Name; !strings.Contains(row, last) {
		t.Fatalf("at the bottom the cursor row is %q, want %q:\n%s", row, last, d.screen())
	}
	d.contains("more line(s) above (↑/k)", "Clock")
	d.lacks("below (↓/j)")
	for i := range len(f.checks) {
		d.keys("up")
		if cursorLine(d.screen()) == "" {
			t.Fatalf("after %d ups the selection is off screen:\n%s", i+1, d.screen())
		}
	}
	if row := cursorLine(d.screen()); !strings.Contains(row, f.checks[0].Name) {
		t.Fatalf("back at the top the cursor row is %q:\n%s", row, d.screen())
	}
	d.lacks("above (↑/k)")
}

// cursorLine is the screen's line with the selection mark.
func cursorLine(s string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "› ") {
			return l
		}
	}
	return ""
}

func TestDeclareRequiresEveryField(t *testing.T) {
	d := newDriver(t, newFake(), 80, 24)
	d.passPreflight()
	d.typ("Dana")
	d.keys("enter", "enter") // ticket empty
	if d.f.declared != nil {
		t.Fatal("declared with an empty ticket")
	}
	d.contains("Ticket / incident id is required.")
	d.typ("INC-1")
	d.keys("enter")
	d.typ("vpn")
	d.keys("enter")
	want := Declaration{Operator: "Dana", Ticket: "INC-1", WhatBroke: "vpn"}
	if d.f.declared == nil || *d.f.declared != want {
		t.Fatalf("declared %+v, want %+v", d.f.declared, want)
	}
}

func toCustodians(t *testing.T, f *fakeEngine) *driver {
	d := newDriver(t, f, 80, 24)
	d.passPreflight()
	d.declare()
	return d
}

func TestCustodianRefusals(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fakeEngine)
		serial uint32
		pin    string
		want   string
	}{
		{"not on roster", nil, 99999999, "", "refused: not on roster"},
		{"attestation failed", func(f *fakeEngine) { f.attFail[11111111] = true }, 11111111, "123456", "failed attestation"},
		{"wrong PIN shows retries", nil, 11111111, "000000", "Wrong PIN for key 11111111: 2 tries left"},
		{"PIN blocked", func(f *fakeEngine) { f.retries[11111111] = 0 }, 11111111, "123456", "PIN of key 11111111 is blocked"},
		{"already counted", func(f *fakeEngine) {
			f.counted = []Custodian{{"Alice Ng", 11111111}}
		}, 11111111, "", "counted — remove this key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.setup != nil {
				tt.setup(f)
			}
			d := toCustodians(t, f)
			d.insert(tt.serial)
			if tt.pin != "" {
				d.typ(tt.pin)
				d.keys("enter")
			}
			d.contains(tt.want)
			if q := d.m.env.eng.Quorum(); q.Have != len(f.counted) || len(f.counted) > 1 {
				t.Errorf("quorum changed: %+v", q)
			}
			if _, ok := d.m.scr.(*custodiansScreen); !ok {
				t.Error("left the custodians screen")
			}
		})
	}
}

func TestCustodianProgressAndQuorum(t *testing.T) {
	d := toCustodians(t, newFake())
	d.custodian(11111111, "123456")
	d.contains("1 of 2 counted", "✓ Alice Ng counted")
	d.custodian(11111111, "123456") // same person again: refused, never counted twice
	d.contains("counted — remove this key")
	d.contains("Keys are paused") // the PIN went to no field
	d.keys("esc")
	d.custodian(22222222, "654321")
	if _, ok := d.m.scr.(*runbookScreen); !ok {
		t.Fatalf("quorum met but not on the runbook:\n%s", d.screen())
	}
}

// TestCountedKeyTakesNoPIN: right after a custodian is counted, before the
// next key scan, a PIN typed by the next custodian must not be tried on the
// counted key (it would cost its owner a PIN try); the field moves to the
// next usable key at once.
func TestCountedKeyTakesNoPIN(t *testing.T) {
	f := newFake()
	d := toCustodians(t, f)
	d.insert(11111111, 22222222)
	d.noScan = true // the scan after the count has not come back yet
	d.typ("123456")
	d.keys("enter")
	d.contains("✓ Alice Ng counted", "Bob Okafor · key 22222222")
	tries := len(f.pinTries)
	d.typ("000000") // no scan in between
	d.keys("enter")
	if len(f.pinTries) != tries+1 {
		t.Fatalf("PIN tries %v", f.pinTries)
	}
	d.contains("Wrong PIN for key 22222222")
	if f.retries[11111111] != 3 {
		t.Errorf("the counted key lost a PIN try: %d left", f.retries[11111111])
	}
}

// TestRunbookCodeLineNotBroken: at 80 columns a command in a code block is
// shown whole (the step list gives way), so it can be typed as written.
func TestRunbookCodeLineNotBroken(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(2)
	cmd := "aws cloudtrail lookup-events --lookup-attributes AttributeKey=Username,AttributeValue=root"
	f.steps[0].Instructions = "Find the sign-in:\n\n```\n" + cmd + "\n```\n"
	d := toRunbook(t, f, 100, 30)
	d.contains(cmd)
}

func TestKeyRemovalCancels(t *testing.T) {
	d := toCustodians(t, newFake())
	d.insert(11111111)
	d.typ("123456")
	d.hold = true
	d.keys("enter")
	scr := d.m.scr.(*custodiansScreen)
	cancelled := false
	inner := scr.op.cancel
	scr.op.cancel = func() { cancelled = true; inner() }
	d.insert() // pulled out mid-check
	if !cancelled {
		t.Error("pending operation not cancelled on removal")
	}
	d.contains("removed during the check — cancelled, nothing was counted")
	// The driver ran the fake synchronously, so its late success arrives
	// after the cancel: the screen must ignore a result it no longer waits for.
	d.release()
	if d.m.scr.(*custodiansScreen).q.Have != 0 {
		t.Error("the result of a cancelled check was shown as counted")
	}
	d.contains("0 of 2 counted")
	d.lacks("✓ Alice Ng counted")
}

func TestRunbookOrderAndEvidence(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(3)
	d := toRunbook(t, f, 80, 24)
	d.keys("n")
	if f.cur != 0 {
		t.Fatal("completed a step with unticked checks")
	}
	d.contains("Not yet: do \"Signed in as root\"")
	d.keys("space", "space", "enter")
	d.typ("1234-5678")
	d.keys("enter", "n")
	if f.cur != 1 {
		t.Fatalf("step not completed:\n%s", d.screen())
	}
	if got := f.steps[0].Evidence[0].Answer; got != "1234-5678" {
		t.Errorf("evidence = %q", got)
	}
	d.keys("space", "n")
	d.contains("Alice Ng must confirm on their key")
	d.keys("c") // the operator cannot confirm for a custodian: the custodian's PIN and touch do
	if len(f.steps[1].Confirmed) != 0 {
		t.Fatalf("confirmed without a PIN: %v", f.steps[1].Confirmed)
	}
	d.contains("Alice Ng · key 11111111 · not inserted")
	d.typ("000000")
	d.keys("enter")
	d.contains("Insert key 11111111 first")
	if len(f.pinTries) != 2 {
		t.Fatalf("a PIN was sent to a key that is not inserted: %v", f.pinTries)
	}
	d.insert(11111111, 22222222)
	d.contains("Alice Ng · key 11111111 · PIN tries left 3")
	d.keys("enter")
	d.contains("Wrong PIN for key 11111111: 2 tries left")
	d.typ("123456")
	d.keys("enter")
	d.keys("c")
	d.typ("654321")
	d.keys("enter")
	if !slices.Equal(f.steps[1].Confirmed, []string{"Alice Ng", "Bob Okafor"}) {
		t.Errorf("confirmed = %v", f.steps[1].Confirmed)
	}
	d.keys("n", "s")
	d.typ("skip")
	d.keys("enter", "enter")
	if f.cur != 2 {
		t.Fatalf("at step %d, want 2", f.cur)
	}
	d.contains("Type something first") // skip needs a reason
	d.typ("not applicable")
	d.keys("enter")
	if _, ok := d.m.scr.(*closeOutScreen); !ok {
		t.Fatalf("not at close-out:\n%s", d.screen())
	}
}

func TestRevealHidesAfterTimeout(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(2)
	d := toRunbook(t, f, 80, 24)
	d.lacks("correct horse")
	d.keys("up", "up", "v")
	d.contains("correct horse battery", "hides in 00:30")
	d.at(t0.Add(29 * time.Second))
	d.contains("correct horse battery", "hides in 00:01")
	d.at(t0.Add(30 * time.Second))
	d.lacks("correct horse")
	if f.wiped != 1 {
		t.Errorf("wiped %d times, want 1", f.wiped)
	}
	d.keys("v", "v") // reveal and hide by hand
	d.lacks("correct horse")
	if f.wiped != 2 {
		t.Errorf("wiped %d times, want 2", f.wiped)
	}
}

func TestTOTPLiveCode(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(2)
	d := toRunbook(t, f, 80, 24)
	d.keys("up", "v")
	d.contains("code "+fakeTOTP{}.Code(t0), "30s")
	later := t0.Add(20 * time.Second)
	d.at(later)
	d.contains("10s")
	d.at(t0.Add(29 * time.Second))
	d.at(t0.Add(31 * time.Second))
	d.lacks(fakeTOTP{}.Code(t0.Add(31 * time.Second)))
}

func TestDrillNeverShowsSecrets(t *testing.T) {
	f := newFake()
	f.mode = Mode{Drill: true}
	f.steps = sampleSteps(2)
	d := toRunbook(t, f, 80, 24)
	d.keys("up", "up", "v")
	d.lacks("correct horse")
	d.contains("root password  decrypts and parses", "DRILL")
	if f.wiped != 1 {
		t.Errorf("drill secret not wiped at once: %d", f.wiped)
	}
}

func TestWindowExpiryReauthorises(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(3)
	d := toRunbook(t, f, 80, 24)
	d.keys("space") // progress on step 1 survives
	d.keys("up", "up", "up", "v")
	d.contains("correct horse")
	d.at(f.expires.Add(-time.Second))
	if _, ok := d.m.scr.(*runbookScreen); !ok {
		t.Fatal("left the runbook before expiry")
	}
	d.at(f.expires)
	if _, ok := d.m.scr.(*custodiansScreen); !ok || f.reauths != 1 {
		t.Fatalf("expiry did not ask for re-authorisation (reauths %d):\n%s", f.reauths, d.screen())
	}
	d.lacks("correct horse")
	d.contains("unlock window expired", "0 of 2 counted")
	d.custodian(33333333, "111111")
	d.custodian(22222222, "654321")
	d.insert()
	if _, ok := d.m.scr.(*runbookScreen); !ok {
		t.Fatalf("not back on the runbook:\n%s", d.screen())
	}
	d.contains("[✓] Signed in as root", "step 1 of 3")
}

func TestQuitConfirm(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		quit bool
	}{
		{"q asks", []string{"q"}, false},
		{"esc stays", []string{"q", "esc"}, false},
		{"y is not enough", []string{"q", "y"}, false},
		{"y and enter are not enough", []string{"q", "y", "enter"}, false},
		{"the word quits", []string{"q", "q", "u", "i", "t", "enter"}, true},
		{"ctrl+c asks too", []string{"ctrl+c", "q", "u", "i", "t", "enter"}, true},
		{"text typed before is not the word", []string{"q", "u", "i", "t", "enter"}, false},
		{"other keys ignored while asking", []string{"q", "x", "enter"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, newFake(), 80, 24)
			d.keys(tt.keys...)
			if d.quit != tt.quit || d.m.aborted != tt.quit {
				t.Fatalf("quit = %v aborted = %v, want %v", d.quit, d.m.aborted, tt.quit)
			}
			if !tt.quit && len(tt.keys) == 1 {
				d.contains("kept in the journal", "Next: type quit and press enter to quit the console")
			}
		})
	}
}

func TestQuitKeyIsTextWhileTyping(t *testing.T) {
	d := newDriver(t, newFake(), 80, 24)
	d.passPreflight()
	d.typ("q?")
	d.contains("Operator name: q?")
	d.keys("ctrl+c")
	d.contains("Quit the console?")
}

func TestQuitWipesRevealedSecrets(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(2)
	d := toRunbook(t, f, 80, 24)
	d.keys("up", "up", "v", "q")
	d.typ("quit")
	d.keys("enter")
	if f.wiped != 1 || !d.quit {
		t.Fatalf("quit=%v wiped=%d", d.quit, f.wiped)
	}
}

func TestSignLastRetryAndExport(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(1)
	d := toRunbook(t, f, 80, 24)
	d.finishRunbook()
	d.closeOut()
	d.lacks("PIN:") // what is signed comes first
	tries := len(f.pinTries)
	d.typ("123456")
	d.keys("enter")
	if len(f.pinTries) != tries {
		t.Fatal("a PIN was taken before the summary was read")
	}
	d.contains("Keys are paused")
	d.keys("esc")
	d.readSummary()
	d.insert(11111111)
	for range 2 {
		d.typ("000000")
		d.keys("enter")
	}
	d.contains("Wrong PIN for key 11111111: ONE try left, the next wrong PIN blocks it")
	d.typ("123456")
	d.keys("enter")
	if len(f.signed) != 0 {
		t.Fatal("signed on the last retry without confirmation")
	}
	d.contains("Only 1 PIN try left")
	d.typ("last")
	d.keys("enter")
	d.insert(22222222)
	d.typ("654321")
	d.keys("enter")
	if !slices.Equal(f.signed, []uint32{11111111, 22222222}) {
		t.Fatalf("signed = %v", f.signed)
	}
	for range len("/media/usb") {
		d.keys("backspace")
	}
	d.typ("/readonly")
	d.keys("enter")
	d.contains("Could not write the report", "writable")
	for range len("/readonly") {
		d.keys("backspace")
	}
	d.typ("/mnt/usb")
	d.keys("enter")
	d.contains("/mnt/usb/breakglass-INC-4711.jws.json", "sha256 5b1e0c9a")
	d.keys("enter")
	if !f.locked || !d.m.locked {
		t.Fatal("not locked")
	}
	d.contains("Secrets wiped", "/mnt/usb/breakglass-INC-4711.md")
	d.keys("q")
	if !d.quit || d.m.aborted {
		t.Fatalf("q after lock: quit=%v aborted=%v", d.quit, d.m.aborted)
	}
}

func TestResizeAndSmallTerminals(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(40)
	d := toRunbook(t, f, 80, 24)
	for _, sz := range [][2]int{{120, 40}, {80, 24}, {40, 10}, {10, 3}, {200, 60}} {
		d.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		s := d.screen()
		if sz[0] >= 80 && len(strings.Split(s, "\n")) > sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], len(strings.Split(s, "\n")))
		}
	}
}

func TestErrorsBranchWithWrapping(t *testing.T) {
	err := errors.Join(errors.New("ctx"), &WrongPINError{Retries: 2})
	var wp *WrongPINError
	if !errors.As(err, &wp) || wp.Retries != 2 {
		t.Fatal("WrongPINError not found through wrapping")
	}
	if !errors.As(safeErr(err), &wp) || wp.Retries != 2 {
		t.Fatal("WrongPINError lost behind the inert error")
	}
	if got := hwRefusal(1, safeErr(errors.Join(errors.New("x"), ErrWrongSlotKey)), "not signed"); !strings.Contains(got, "does not match the roster — not signed") {
		t.Errorf("wrong slot key message: %q", got)
	}
}

func TestRemovalWhileTypingPIN(t *testing.T) {
	d := toCustodians(t, newFake())
	d.insert(11111111)
	d.typ("12")
	d.insert()
	d.contains("Key 11111111 was removed — nothing was counted")
	d.insert(11111111)
	d.contains("PIN: ▏") // the half-typed PIN was discarded
	if len(d.f.pinTries) != 0 {
		t.Errorf("PIN tried on removal: %v", d.f.pinTries)
	}
}

func TestUsableKeySelectedOverRefused(t *testing.T) {
	d := toCustodians(t, newFake())
	d.insert(99999999, 22222222)
	d.contains("Next: Bob Okafor: type your PIN")
}

func TestEngineErrorsKeepInput(t *testing.T) {
	f := newFake()
	d := newDriver(t, f, 80, 24)
	d.passPreflight()
	bad := &failingDeclare{fakeEngine: f}
	d.m.scr.(*declareScreen).eng = inertEngine(bad)
	d.fillDeclaration()
	d.contains("Could not record the declaration", "disk full", "What broke: AWS SSO down")
	if _, ok := d.m.scr.(*declareScreen); !ok {
		t.Fatal("moved on although the declaration was not recorded")
	}
}

type failingDeclare struct{ *fakeEngine }

func (failingDeclare) Declare(Declaration) error { return errFake }

func TestLongInstructionsScrollAndKeepItemsVisible(t *testing.T) {
	f := newFake()
	var md strings.Builder
	for i := 1; i <= 60; i++ {
		md.WriteString("Paragraph line " + strings.Repeat("x", i%7) + " number " + string(rune('A'+i%26)) + "\n\n")
	}
	f.steps = sampleSteps(2)
	f.steps[0].Instructions = md.String()
	d := toRunbook(t, f, 80, 24)
	d.contains("pgdn for more", "[ ] Signed in as root", "[hidden] aws-root-mfa")
	first := d.screen()
	d.keys("pgdown")
	if d.screen() == first {
		t.Error("pgdown did not scroll the instructions")
	}
	d.contains("[ ] Signed in as root")
}
