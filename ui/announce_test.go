package ui

import (
	"strings"
	"testing"
	"time"
)

// announceDriver is a console on the announce screen, declared and not yet
// announced.
func announceDriver(t *testing.T) *driver {
	t.Helper()
	d := newDriver(t, newFake(), 80, 24)
	d.passPreflight()
	d.toAnnounce()
	return d
}

func (d *driver) onAnnounce() {
	d.t.Helper()
	if _, ok := d.m.scr.(*announceScreen); !ok {
		d.t.Fatalf("left the announce screen:\n%s", d.screen())
	}
	if len(d.f.announced) != 0 {
		d.t.Fatalf("recorded %+v", d.f.announced)
	}
}

// The flow from the declaration to the custodians goes through the
// announcement: nothing proceeds until it is journaled.
func TestAnnounceFlow(t *testing.T) {
	d := announceDriver(t)
	if d.f.declared == nil {
		t.Fatal("the announce screen came before the declaration was recorded")
	}
	d.contains("Call the security on-call and read them this code", "7 K 3 Q  -  9 X M 2  -  4 H",
		"9XM2  nine x-ray mike two")
	d.keys("enter")
	d.typ("7k3q-9xm2-4h") // as typed at 3 a.m.: lower case, dashes
	d.keys("enter")
	d.typ("Sam Rivera")
	d.keys("enter")
	d.onAnnounce()
	d.typ("02:58")
	d.keys("enter")
	want := announcement{by: "Sam Rivera", at: t0.Add(-2 * time.Minute), reached: true}
	if len(d.f.announced) != 1 || d.f.announced[0] != want {
		t.Fatalf("recorded %+v, want %+v", d.f.announced, want)
	}
	if _, ok := d.m.scr.(*custodiansScreen); !ok {
		t.Fatalf("not on the custodians screen:\n%s", d.screen())
	}
}

// A stray sentence, wherever it lands, records no acknowledgement.
func TestAnnounceStraySentenceRecordsNothing(t *testing.T) {
	for name, drive := range map[string]func(d *driver){
		"no field open": func(d *driver) {
			d.typ("they said ok")
			d.keys("enter")
		},
		"starts with u": func(d *driver) {
			d.typ("unable to call")
			d.keys("enter")
			d.typ("because")
			d.keys("enter")
		},
		"in the read-back": func(d *driver) {
			d.keys("enter")
			d.typ("yes they acknowledged it")
			d.keys("enter")
			d.typ("Sam")
			d.keys("enter", "enter", "enter")
		},
		"tabbing past the read-back": func(d *driver) {
			d.keys("enter", "tab")
			d.typ("Sam said fine")
			d.keys("enter", "enter")
		},
		"empty reason": func(d *driver) {
			d.keys("u")
			d.typ("nobody")
			d.keys("enter", "enter", "enter")
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := announceDriver(t)
			drive(d)
			d.onAnnounce()
		})
	}
}

func TestAnnounceMismatchSaysSo(t *testing.T) {
	d := announceDriver(t)
	d.keys("enter")
	d.typ("7K3Q 9XN2 4H")
	d.keys("enter")
	d.onAnnounce()
	d.contains("does not match", "› Code as they read it back: ▏")
}

func TestAnnounceNobodyReached(t *testing.T) {
	d := announceDriver(t)
	d.keys("u")
	d.typ("nobody")
	d.keys("enter", "enter")
	d.contains("A reason is required")
	d.onAnnounce()
	d.typ("on-call phone rang out twice")
	d.keys("enter")
	want := announcement{at: t0, note: "on-call phone rang out twice"}
	if len(d.f.announced) != 1 || d.f.announced[0] != want {
		t.Fatalf("recorded %+v, want %+v", d.f.announced, want)
	}
	if _, ok := d.m.scr.(*custodiansScreen); !ok {
		t.Fatalf("not on the custodians screen:\n%s", d.screen())
	}
}

// Esc leaves the form and the reason without recording; the screen stays.
func TestAnnounceEscRecordsNothing(t *testing.T) {
	d := announceDriver(t)
	d.keys("enter")
	d.typ("7K3Q9XM24H")
	d.keys("enter")
	d.typ("Sam")
	d.keys("esc", "u")
	d.typ("nobody")
	d.keys("enter")
	d.typ("x")
	d.keys("esc")
	d.onAnnounce()
	d.keys("enter")
	d.contains("› Code as they read it back: ▏", "Acknowledged by (their name):\n")
}

func TestAnnounceJournalError(t *testing.T) {
	d := announceDriver(t)
	d.f.announceErr = errFake
	d.announce()
	d.onAnnounce()
	d.contains("Could not record the announcement: disk full")
	d.f.announceErr = nil
	d.keys("enter")
	if len(d.f.announced) != 1 {
		t.Fatalf("recorded %+v", d.f.announced)
	}
	if _, ok := d.m.scr.(*custodiansScreen); !ok {
		t.Fatalf("not on the custodians screen:\n%s", d.screen())
	}
}

// Without a code the form does not open, r derives it again, and the
// operator can still record why the use was not announced.
func TestAnnounceCodeError(t *testing.T) {
	f := newFake()
	f.codeErr = errFake
	d := newDriver(t, f, 80, 24)
	d.passPreflight()
	d.toAnnounce()
	d.contains("Could not derive the announce code: disk full")
	d.keys("enter")
	d.onAnnounce()
	d.lacks("Code as they read it back")
	f.codeErr = nil
	d.keys("r")
	d.contains("7 K 3 Q")

	f = newFake()
	f.codeErr = errFake
	d = newDriver(t, f, 80, 24)
	d.passPreflight()
	d.toAnnounce()
	d.keys("u")
	d.typ("nobody")
	d.contains("Type nobody: nobody")
	d.keys("enter")
	d.typ("no code")
	d.contains("Why no one could be reached: no code")
	d.keys("enter")
	if len(f.announced) != 1 || f.announced[0].reached {
		t.Fatalf("recorded %+v", f.announced)
	}
}

// A code that is not letters and digits is refused and shown inert.
func TestAnnounceBadCode(t *testing.T) {
	f := newFake()
	f.codeValue = "7K3Q\x1b[2J"
	d := newDriver(t, f, 80, 24)
	d.passPreflight()
	d.toAnnounce()
	d.contains("is not letters and digits")
	if strings.Contains(d.m.View().Content, "\x1b[2J") {
		t.Fatal("escape sequence from the engine reached the terminal")
	}
}

// A session resumed after the declaration comes back to the announcement.
func TestAnnounceResume(t *testing.T) {
	f := newFake()
	f.declared = &Declaration{Operator: "Dana Smith", Ticket: "INC-4711", WhatBroke: "AWS SSO down"}
	d := newDriverAt(t, f, 80, 24, StartAnnounce)
	d.onAnnounce()
	d.announce()
	if _, ok := d.m.scr.(*custodiansScreen); !ok {
		t.Fatalf("not on the custodians screen:\n%s", d.screen())
	}
}

func TestToldAt(t *testing.T) {
	midnight := time.Date(2026, 11, 23, 0, 3, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		now  time.Time
		want time.Time // zero: refused
	}{
		{"", t0, t0},
		{" NOW ", t0, t0},
		{"02:58", t0, t0.Add(-2 * time.Minute)},
		{"02:58:30", t0, t0.Add(-90 * time.Second)},
		{"23:58", midnight, midnight.Add(-5 * time.Minute)},
		{"03:05", t0, time.Time{}}, // later than the clock: a typo, not yesterday
		{"14:00", t0, time.Time{}},
		{"2026-11-23T02:59:00Z", t0, t0.Add(-time.Minute)},
		{"2026-11-23T03:01:00Z", t0, time.Time{}},
		{"ten to three", t0, time.Time{}},
	} {
		got, err := toldAt(c.in, c.now)
		if c.want.IsZero() {
			if err == nil {
				t.Errorf("toldAt(%q) = %v, want refused", c.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("toldAt(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestSameCode(t *testing.T) {
	for _, c := range []struct {
		read, code string
		want       bool
	}{
		{"7k3q-9xm2-4h", "7K3Q9XM24H", true},
		{"7K3Q 9XM2 4H", "7K3Q9XM24H", true},
		{"A0B1", "AOBI", true}, // O/0 and I/L/1 are the same symbol
		{"AOBL", "A0B1", true},
		{"7K3Q9XM24", "7K3Q9XM24H", false},
		{"", "", false},
	} {
		if got := sameCode(c.read, c.code); got != c.want {
			t.Errorf("sameCode(%q, %q) = %v", c.read, c.code, got)
		}
	}
}

// announceOnly is the whole AnnounceEngine.
type announceOnly struct{ got []announcement }

func (a *announceOnly) AnnounceCode() (string, error) { return "ABCD1234XY", nil }
func (a *announceOnly) RecordAnnouncement(by string, at time.Time, reached bool, note string) error {
	a.got = append(a.got, announcement{by, at, reached, note})
	return nil
}

func TestAnnounceScreenAlone(t *testing.T) {
	eng := &announceOnly{}
	s := newAnnounce(screenEnv(), eng)
	s.setSize(80, 20)
	if v := s.view(); !strings.Contains(v, "A B C D  -  1 2 3 4  -  X Y") || !strings.Contains(v, "x-ray yankee") {
		t.Fatalf("code not shown:\n%s", v)
	}
	var done bool
	for _, k := range []string{"enter", "a", "b", "c", "d", "1", "2", "3", "4", "x", "y", "enter", "S", "a", "m", "enter", "enter"} {
		if cmd := s.update(keyMsg(k)); cmd != nil {
			_, done = cmd().(announcedMsg)
		}
	}
	if !done || len(eng.got) != 1 || eng.got[0] != (announcement{by: "Sam", at: t0, reached: true}) {
		t.Fatalf("recorded %+v, done %v", eng.got, done)
	}
}

// What the custodians sign says how the use was announced, or that it was
// not.
func TestAnnounceLineSigned(t *testing.T) {
	for _, c := range []struct {
		a    Announcement
		want string
	}{
		{Announcement{}, "Announced  ! not recorded"},
		{Announcement{Code: fakeCode, By: "Sam Rivera", At: t0, Reached: true},
			"Announced  code 7K3Q-9XM2-4H to Sam Rivera at 2026-11-23 03:00Z"},
		{Announcement{Code: fakeCode, At: t0, Note: "phone rang out"},
			"Announced  ! code 7K3Q-9XM2-4H — no one reached (03:00Z): phone rang out"},
	} {
		if got := announceLine(c.a); got != c.want {
			t.Errorf("announceLine(%+v) = %q, want %q", c.a, got, c.want)
		}
	}
}
