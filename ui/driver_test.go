package ui

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// t0 is the fixed station time of every test: 03:00 UTC, the tired hour.
var t0 = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

// scheduled is what a timer command yields under the driver: the message it
// would deliver later. The driver keeps it until the test fires it.
type scheduled struct {
	d   time.Duration
	msg tea.Msg
}

// driver runs a Model synchronously: commands are executed at once, their
// messages fed back; timers are held until fire; no goroutines, no sleeps.
type driver struct {
	t      testing.TB
	m      *Model
	f      *fakeEngine
	timers []scheduled
	quit   bool
	hold   bool // keep hardware results in held instead of delivering them
	held   []tea.Msg
	noScan bool // drop key-scan results, as if the scan had not returned yet
}

func newDriver(t testing.TB, f *fakeEngine, w, h int) *driver {
	t.Helper()
	return newDriverAt(t, f, w, h, StartPreflight)
}

// newDriverAt is newDriver for a session resumed at start.
func newDriverAt(t testing.TB, f *fakeEngine, w, h int, start Start) *driver {
	t.Helper()
	m := New(context.Background(), f, Options{
		Now: func() time.Time { return t0 }, Width: w, Height: h, ExportDir: "/media/usb",
		DemoPINs: map[string]string{"Alice Ng": "123456", "Bob Okafor": "654321"}, Start: start,
	})
	d := &driver{t: t, m: m, f: f}
	m.env.after = func(dur time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		return func() tea.Msg { return scheduled{d: dur, msg: fn(m.env.now.Add(dur))} }
	}
	d.run(m.Init())
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	case scheduled:
		if _, ok := msg.msg.(tickMsg); !ok { // the clock is driven by d.at
			d.timers = append(d.timers, msg)
		}
	case tea.QuitMsg:
		d.quit = true
	case keysMsg:
		if d.noScan { // a key scan still running: its result has not arrived
			return
		}
		d.send(msg)
	case hwResultMsg:
		if d.hold {
			d.held = append(d.held, msg)
			return
		}
		d.send(msg)
	default:
		d.send(msg)
	}
}

func (d *driver) send(msg tea.Msg) {
	_, cmd := d.m.Update(msg)
	d.run(cmd)
}

// release delivers the held hardware results.
func (d *driver) release() {
	held := d.held
	d.held, d.hold = nil, false
	for _, m := range held {
		d.send(m)
	}
}

// fire delivers the timers scheduled so far (not those they schedule).
func (d *driver) fire() {
	ts := d.timers
	d.timers = nil
	for _, s := range ts {
		d.send(s.msg)
	}
}

// at moves the clock to t.
func (d *driver) at(t time.Time) { d.send(tickMsg{now: t}) }

func keyMsg(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

func (d *driver) keys(ks ...string) {
	for _, k := range ks {
		d.send(keyMsg(k))
	}
}

func (d *driver) typ(s string) {
	for _, r := range s {
		if r == ' ' {
			d.keys("space")
			continue
		}
		d.keys(string(r))
	}
}

// screen is the current frame without colour or attributes.
func (d *driver) screen() string {
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.NoTTY}
	if _, err := w.WriteString(d.m.View().Content); err != nil {
		d.t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}

func (d *driver) contains(want ...string) {
	d.t.Helper()
	s := d.screen()
	for _, w := range want {
		if !strings.Contains(s, w) {
			d.t.Errorf("screen lacks %q:\n%s", w, s)
		}
	}
}

func (d *driver) lacks(bad ...string) {
	d.t.Helper()
	s := d.screen()
	for _, w := range bad {
		if strings.Contains(s, w) {
			d.t.Errorf("screen shows %q:\n%s", w, s)
		}
	}
}

// golden compares the frame with testdata/name.golden and checks it fits.
func (d *driver) golden(name string) {
	d.t.Helper()
	got := d.screen()
	lines := strings.Split(got, "\n")
	if len(lines) > d.m.h {
		d.t.Errorf("%s: %d lines, terminal has %d", name, len(lines), d.m.h)
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > d.m.w {
			d.t.Errorf("%s: line %d is %d cells wide, terminal has %d: %q", name, i+1, w, d.m.w, l)
		}
	}
	if !strings.Contains(got, "Next: ") {
		d.t.Errorf("%s: no Next: line", name)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			d.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		d.t.Fatalf("reading golden (run go test ./ui -update): %v", err)
	}
	if got != string(want) {
		d.t.Errorf("%s differs from golden (go test ./ui -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// Flow helpers: each drives the real keys from the previous screen.

func (d *driver) passPreflight() {
	d.t.Helper()
	d.keys("a")
	d.typ("accept")
	d.keys("enter")
	d.typ("no USB stick; laptop disk is encrypted")
	d.keys("enter", "y", "enter", "enter")
	if _, ok := d.m.scr.(*declareScreen); !ok {
		d.t.Fatalf("not on the declare screen:\n%s", d.screen())
	}
}

func (d *driver) fillDeclaration() {
	d.typ("Dana Smith")
	d.keys("enter")
	d.typ("INC-4711")
	d.keys("enter")
	d.typ("AWS SSO down")
	d.keys("enter")
}

// toAnnounce declares the incident and stops at the announce screen.
func (d *driver) toAnnounce() {
	d.t.Helper()
	d.fillDeclaration()
	if _, ok := d.m.scr.(*announceScreen); !ok {
		d.t.Fatalf("not on the announce screen:\n%s", d.screen())
	}
}

// announce records the on-call's acknowledgement the way an operator does:
// enter, their read-back, their name, enter on an empty time (now).
func (d *driver) announce() {
	d.t.Helper()
	d.keys("enter")
	d.typ("7k3q 9xm2 4h")
	d.keys("enter")
	d.typ("Sam Rivera")
	d.keys("enter", "enter")
}

// declare declares the incident and announces it: the custodians screen.
func (d *driver) declare() {
	d.t.Helper()
	d.toAnnounce()
	d.announce()
	if _, ok := d.m.scr.(*custodiansScreen); !ok {
		d.t.Fatalf("not on the custodians screen:\n%s", d.screen())
	}
}

// insert replaces the inserted keys and lets the screen rescan.
func (d *driver) insert(serials ...uint32) {
	d.f.keys = serials
	d.at(d.m.env.now)
}

func (d *driver) custodian(serial uint32, pin string) {
	d.t.Helper()
	d.insert(serial)
	d.typ(pin)
	d.keys("enter")
}

func (d *driver) quorum() {
	d.t.Helper()
	d.custodian(11111111, "123456")
	d.custodian(22222222, "654321")
	d.insert()
	if _, ok := d.m.scr.(*runbookScreen); !ok {
		d.t.Fatalf("not on the runbook screen:\n%s", d.screen())
	}
}

func toRunbook(t testing.TB, f *fakeEngine, w, h int) *driver {
	t.Helper()
	d := newDriver(t, f, w, h)
	d.passPreflight()
	d.declare()
	d.quorum()
	return d
}
