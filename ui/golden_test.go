package ui

import (
	"fmt"
	"testing"
)

// TestGolden renders every screen at 80×24 and 120×40 with colour off and
// compares it with testdata/<screen>-<w>x<h>.golden.
func TestGolden(t *testing.T) {
	scenarios := []struct {
		name  string
		mode  Mode
		drive func(d *driver)
	}{
		{"preflight", Mode{}, func(d *driver) {}},
		{"preflight-fail", Mode{}, func(d *driver) {
			d.f.checks[0] = Check{"Network", Fail, "wlan0 is up with a default route: switch the radio off (rfkill block all)"}
			d.keys("r")
		}},
		{"preflight-ack", Mode{}, func(d *driver) { d.keys("a"); d.typ("accept"); d.keys("enter"); d.typ("no USB stick") }},
		{"preflight-ack-gate", Mode{}, func(d *driver) { d.keys("a"); d.typ("and then") }},
		{"preflight-clock", Mode{}, func(d *driver) { d.keys("y") }},
		{"declare", Mode{}, func(d *driver) { d.passPreflight(); d.typ("Dana Smith"); d.keys("enter") }},
		{"announce", Mode{}, func(d *driver) { d.passPreflight(); d.toAnnounce() }},
		{"announce-form", Mode{}, func(d *driver) {
			d.passPreflight()
			d.toAnnounce()
			d.keys("enter")
			d.typ("7K3Q 9XM2 4H")
			d.keys("enter")
			d.typ("Sam Riv")
		}},
		{"announce-mismatch", Mode{}, func(d *driver) {
			d.passPreflight()
			d.toAnnounce()
			d.keys("enter")
			d.typ("7K3Q 9XN2 4H")
			d.keys("enter")
		}},
		{"announce-nobody", Mode{}, func(d *driver) {
			d.passPreflight()
			d.toAnnounce()
			d.keys("u")
			d.typ("nobody")
			d.keys("enter")
			d.typ("on-call phone rang out twice, voicemail left")
		}},
		{"custodians-empty", Mode{Demo: true, TestRoot: true}, func(d *driver) { d.passPreflight(); d.declare() }},
		{"custodians-pin", Mode{}, func(d *driver) {
			d.passPreflight()
			d.declare()
			d.custodian(11111111, "123456")
			d.insert(22222222, 99999999)
			d.typ("65")
		}},
		{"custodians-refused", Mode{}, func(d *driver) {
			d.passPreflight()
			d.declare()
			d.insert(99999999)
		}},
		{"custodians-last-retry", Mode{}, func(d *driver) {
			d.passPreflight()
			d.declare()
			d.f.retries[11111111] = 1
			d.insert(11111111)
			d.typ("123456")
			d.keys("enter")
		}},
		{"custodians-touch", Mode{}, func(d *driver) {
			d.passPreflight()
			d.declare()
			d.insert(11111111)
			d.typ("123456")
			d.hold = true
			d.keys("enter")
		}},
		{"runbook", Mode{TestRoot: true}, func(d *driver) {}},
		{"runbook-revealed", Mode{}, func(d *driver) {
			d.keys("up", "up", "v", "down", "v")
		}},
		{"runbook-confirm", Mode{Drill: true}, func(d *driver) {
			d.keys("space", "space", "enter")
			d.typ("123456789012")
			d.keys("enter", "n")
		}},
		{"runbook-confirm-touch", Mode{}, func(d *driver) {
			d.keys("space", "space", "enter")
			d.typ("123456789012")
			d.keys("enter", "n", "space")
			d.insert(11111111)
			d.keys("c")
			d.typ("123456")
			d.hold = true
			d.keys("enter")
		}},
		{"runbook-confirm-last-retry", Mode{}, func(d *driver) {
			d.keys("space", "space", "enter")
			d.typ("123456789012")
			d.keys("enter", "n", "space")
			d.f.retries[11111111] = 1
			d.insert(11111111)
			d.keys("c")
			d.typ("123456")
			d.keys("enter")
		}},
		{"runbook-skip-gate", Mode{}, func(d *driver) { d.keys("s"); d.typ("kip because I am tired") }},
		{"runbook-stray", Mode{}, func(d *driver) { d.typ("I am tired") }},
		{"runbook-skip-reason", Mode{}, func(d *driver) { d.keys("s"); d.typ("skip"); d.keys("enter") }},
		{"reauthorise", Mode{}, func(d *driver) { d.at(d.f.expires) }},
		{"help", Mode{}, func(d *driver) { d.keys("?") }},
		{"quit-confirm", Mode{}, func(d *driver) { d.keys("q"); d.typ("qu") }},
		{"closeout", Mode{}, func(d *driver) {
			d.keys("up", "up", "v")
			d.finishRunbook()
			d.keys("enter")
			d.typ("SSO IdP certificate expired")
		}},
		{"sign", Mode{}, func(d *driver) { d.keys("up", "up", "v"); d.finishRunbook(); d.closeOut() }},
		{"sign-pin", Mode{}, func(d *driver) {
			d.finishRunbook()
			d.closeOut()
			d.readSummary()
			d.insert(11111111)
			d.typ("1234")
		}},
		{"sign-exported", Mode{}, func(d *driver) { d.finishRunbook(); d.closeOut(); d.sign(); d.keys("enter") }},
		{"locked", Mode{}, func(d *driver) {
			d.keys("up", "up", "v")
			d.finishRunbook()
			d.closeOut()
			d.sign()
			d.keys("enter", "enter")
		}},
	}
	sizes := [][2]int{{80, 24}, {120, 40}}
	for _, sc := range scenarios {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s-%dx%d", sc.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				f := newFake()
				f.mode = sc.mode
				f.steps = sampleSteps(6)
				var d *driver
				switch sc.name {
				case "preflight", "preflight-fail", "preflight-ack", "preflight-ack-gate", "preflight-clock", "declare",
					"announce", "announce-form", "announce-mismatch", "announce-nobody",
					"custodians-empty", "custodians-pin", "custodians-refused",
					"custodians-last-retry", "custodians-touch":
					d = newDriver(t, f, sz[0], sz[1])
				default:
					d = toRunbook(t, f, sz[0], sz[1])
				}
				sc.drive(d)
				d.golden(name)
			})
		}
	}
}

// finishRunbook completes every step by the keys an operator would press.
func (d *driver) finishRunbook() {
	d.t.Helper()
	for range 100 {
		r, ok := d.m.scr.(*runbookScreen)
		if !ok {
			break
		}
		d.skipStep("not needed in this test")
		_ = r
	}
	if _, ok := d.m.scr.(*closeOutScreen); !ok {
		d.t.Fatalf("not on close-out:\n%s", d.screen())
	}
}

// skipStep skips the current step the way an operator must: s, the word
// skip, enter, then the reason.
func (d *driver) skipStep(reason string) {
	d.keys("s")
	d.typ("skip")
	d.keys("enter")
	d.typ(reason)
	d.keys("enter")
}

func (d *driver) closeOut() {
	d.t.Helper()
	for _, a := range []string{"IdP certificate expired", "disabled the key, renewed the cert", "SSO works again", "no"} {
		d.keys("enter")
		d.typ(a)
		d.keys("enter")
	}
	d.keys("n")
	if _, ok := d.m.scr.(*signScreen); !ok {
		d.t.Fatalf("not on sign:\n%s", d.screen())
	}
}

// readSummary scrolls the sign screen's summary to its end and accepts it.
func (d *driver) readSummary() {
	d.t.Helper()
	for range 20 {
		d.keys("pgdown")
	}
	d.keys("enter")
	if s, ok := d.m.scr.(*signScreen); !ok || !s.read {
		d.t.Fatalf("summary not accepted:\n%s", d.screen())
	}
}

func (d *driver) sign() {
	d.t.Helper()
	d.readSummary()
	d.insert(11111111)
	d.typ("123456")
	d.keys("enter")
	d.insert(22222222)
	d.typ("654321")
	d.keys("enter")
}
