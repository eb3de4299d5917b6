package ui

import (
	"strings"
	"testing"
)

// toConfirmStep completes step 1 and stops on step 2 with the cursor on
// Alice Ng's confirmation.
func toConfirmStep(t *testing.T, f *fakeEngine) *driver {
	t.Helper()
	d := toRunbook(t, f, 80, 24)
	d.keys("space", "space", "enter")
	d.typ("123456789012")
	d.keys("enter", "n", "space")
	if f.cur != 1 {
		t.Fatalf("not on step 2:\n%s", d.screen())
	}
	return d
}

// TestStrayTypingChangesNothing: a tired operator typing into the wrong
// place never skips, confirms or quits.
func TestStrayTypingChangesNothing(t *testing.T) {
	tests := []struct {
		name  string
		typed string
	}{
		{"skip sentence", "skip because I am tired"},
		{"skip sentence and enter", "skip because I am tired\n"},
		{"the word after s", "s skip\n"},
		{"quit sentence", "quit now please\n"},
		{"sentence with spaces and v", "I need a break, very tired\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.steps = sampleSteps(3)
			d := toConfirmStep(t, f)
			for _, r := range tt.typed {
				switch r {
				case ' ':
					d.keys("space")
				case '\n':
					d.keys("enter")
				default:
					d.keys(string(r))
				}
			}
			if f.cur != 1 || f.steps[1].State == StepSkipped || len(f.skipped) != 0 {
				t.Fatalf("step skipped (cur %d, skipped %v):\n%s", f.cur, f.skipped, d.screen())
			}
			if d.quit || len(f.steps[1].Confirmed) != 0 {
				t.Fatalf("quit=%v confirmed=%v", d.quit, f.steps[1].Confirmed)
			}
			if f.steps[1].Checks[0].Done != true || len(f.revealed) != 0 {
				t.Fatalf("checks %v revealed %v", f.steps[1].Checks, f.revealed)
			}
		})
	}
}

// TestSkipNeedsTheWordAndAFreshReason: the reason starts empty; only what is
// typed after the word reaches it.
func TestSkipNeedsTheWordAndAFreshReason(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(3)
	d := toRunbook(t, f, 80, 24)
	d.keys("s")
	d.contains("Skip step 1?", "Type  skip  and press enter")
	d.typ("kip it")
	d.keys("enter")
	d.contains("Not confirmed: type skip exactly")
	d.typ("skip")
	d.keys("enter")
	d.contains("Reason for skipping: ▏")
	d.typ("AWS console unreachable")
	d.keys("enter")
	if f.cur != 1 || f.skipped["login"] != "AWS console unreachable" {
		t.Fatalf("cur %d skipped %q", f.cur, f.skipped)
	}
}

// TestUntrustedTextIsInert: control characters from the engine (runbook,
// roster, errors) never reach the terminal.
func TestUntrustedTextIsInert(t *testing.T) {
	const evil = "\x1b[2J\x1b[31m"
	f := newFake()
	f.steps = sampleSteps(2)
	f.steps[0].Title = "Log in " + evil + "now"
	f.steps[0].Instructions = "Open the console " + evil + " and &#27;[2J sign in.\n\n```\nrun " + evil + "\n```"
	f.steps[0].Checks[0].Text = "Signed in" + evil
	f.roster[11111111] = "Alice" + evil + "\u202e"
	f.steps[1].Confirmers = []string{f.roster[11111111], "Bob Okafor"}
	d := toRunbook(t, f, 120, 40)
	raw := d.m.View().Content
	for _, bad := range []string{"\x1b[2J", "\x1b[31m", "\u202e"} {
		if strings.Contains(raw, bad) {
			t.Errorf("frame contains %q", bad)
		}
	}
	d.contains(`Log in \x1b[2J\x1b[31mnow`, `Signed in\x1b[2J`, `&#27;[2J`)
	// The name is shown inert and still confirms (mapped back to the engine's spelling).
	d.keys("space", "space", "enter")
	d.typ("123456789012")
	d.keys("enter", "n", "space")
	d.insert(11111111)
	d.keys("c")
	d.contains(`Alice\x1b[2J\x1b[31m\u202e · key 11111111`)
	d.typ("123456")
	d.keys("enter")
	if got := f.steps[1].Confirmed; len(got) != 1 || got[0] != f.roster[11111111] {
		t.Fatalf("confirmed = %q", got)
	}
}

// TestSignShowsWhatIsSigned: before any PIN, the sign screen shows the
// session, the incident, the reveals, the skipped steps with their reasons,
// the confirmations and the answers.
func TestSignShowsWhatIsSigned(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(2)
	d := toRunbook(t, f, 80, 24)
	d.keys("up", "up", "v") // reveal the root password
	d.skipStep("console down")
	d.insert(11111111)
	d.keys("space", "c")
	d.typ("123456")
	d.keys("enter")
	d.skipStep("Bob unreachable")
	d.closeOut()
	var seen strings.Builder
	for range 30 {
		seen.WriteString(d.screen())
		d.keys("down")
	}
	for _, want := range []string{"Session   2026-11-23T0300Z-7Q4M", "INC-4711", "AWS SSO down",
		"! root password", "login Log in to the AWS root account — reason: console down",
		"reason: Bob unreachable", "Disable the compromised access key — Alice Ng, key 11111111",
		"IdP certificate expired", "SSO works again", "— end of what you sign —"} {
		if !strings.Contains(seen.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(seen.String(), "PIN:") {
		t.Fatal("a PIN field showed before the summary was accepted")
	}
}

func TestSignRefusedWhenSummaryFails(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(1)
	f.summaryErr = errFake
	d := toRunbook(t, f, 80, 24)
	d.finishRunbook()
	d.closeOut()
	d.keys("pgdown", "enter")
	d.contains("cannot be signed: disk full", "Nothing was signed")
	d.lacks("PIN:")
}

// TestStrayTextPausesKeys: a character no key offers pauses every key (a
// space that would tick, a v that would reveal) until esc.
func TestStrayTextPausesKeys(t *testing.T) {
	f := newFake()
	f.steps = sampleSteps(2)
	d := toRunbook(t, f, 80, 24)
	d.keys("I", "space", "x", "up", "up", "v", "enter")
	if f.steps[0].Checks[0].Done || len(f.revealed) != 0 {
		t.Fatalf("stray keys acted: checks %v revealed %v", f.steps[0].Checks, f.revealed)
	}
	d.contains("Keys are paused", "Next: press esc")
	d.keys("esc", "space")
	if !f.steps[0].Checks[0].Done {
		t.Fatal("keys still paused after esc")
	}
}

// Preflight answers are journaled too: a stray sentence starting with y, w
// or a confirms no clock and acknowledges no warning (y, then enter, is
// the answer itself).
func TestPreflightStraySentenceRecordsNothing(t *testing.T) {
	for _, sentence := range []string{"yes it is", "yy", "wait what", "and then", "accept"} {
		t.Run(sentence, func(t *testing.T) {
			d := newDriver(t, newFake(), 80, 24)
			d.typ(sentence)
			d.keys("enter")
			d.typ("ok")
			d.keys("enter")
			if len(d.f.clock) != 0 || len(d.f.acks) != 0 {
				t.Fatalf("recorded clock %v, acks %v:\n%s", d.f.clock, d.f.acks, d.screen())
			}
		})
	}
}
