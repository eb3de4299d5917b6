package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// AnnounceEngine is what the announce screen needs: the alert on every use
// that works without a network. Right after the declaration the operator
// reads the session's announce code to the security on-call by phone or
// radio and records who acknowledged it, or that no one could be reached.
type AnnounceEngine interface {
	// AnnounceCode is this session's announce code (derived in
	// internal/announce from the session id, the vault fingerprint and the
	// declaration, check character included). It must be uppercase letters
	// and digits only, without separators; the console groups it by four
	// for reading aloud. It is called from Update and must return quickly.
	AnnounceCode() (string, error)
	// RecordAnnouncement journals, durably before returning nil, how the
	// announcement went. reached true: by is the name of the on-call who
	// acknowledged the code (non-empty, after they read it back correctly),
	// at is when the operator says they were told (UTC, never after the
	// station clock), note is "". reached false: no one could be reached;
	// by is "", at is the station time the operator gave up, note is the
	// operator's reason (non-empty). The session continues in both cases.
	// It is called at most once per successful recording; an error leaves
	// the screen where it was so the operator can try again.
	RecordAnnouncement(by string, at time.Time, reached bool, note string) error
}

// announcedMsg is sent by the announce screen once the announcement (or the
// failure to reach anyone) is journaled: the root moves on to the custodians.
type announcedMsg struct{}

type announceMode int

const (
	announceChoose       announceMode = iota // code shown, no field open
	announceForm                             // read-back, name, time
	announceNobodyGate                       // typing the word to say no one answered
	announceNobodyReason                     // typing why
)

// announceScreen shows the announce code and records the acknowledgement.
//
// A stray keystroke or sentence cannot record an acknowledgement: with no
// field open, text pauses the keys (stray.go); in the form, the on-call's
// read-back of the code must match it, so a sentence typed in the wrong
// place is refused; "could not reach anyone" is behind a typed word, like
// skip, and then needs a reason.
type announceScreen struct {
	e      *env
	eng    AnnounceEngine
	code   string // letters and digits, as the engine returned it
	err    string
	mode   announceMode
	fields [3]field // read-back, acknowledged by, told at
	focus  int
	gate   *gate
	reason field
	w, h   int
}

func newAnnounce(e *env, eng AnnounceEngine) *announceScreen {
	s := &announceScreen{e: e, eng: eng, reason: field{label: "Why no one could be reached", max: 500}}
	s.fields = [3]field{
		{label: "Code as they read it back", max: 40},
		{label: "Acknowledged by (their name)", max: 100},
		{label: "Told at, UTC HH:MM (empty: now)", max: 25},
	}
	s.load()
	return s
}

// load asks the engine for the code; a malformed code is refused.
func (s *announceScreen) load() {
	code, err := s.eng.AnnounceCode()
	switch {
	case err != nil:
		s.code, s.err = "", fmt.Sprintf("Could not derive the announce code: %v. Press r to try again.", err)
	case !codeOK(code):
		s.code, s.err = "", fmt.Sprintf("The announce code %q is not letters and digits; this is a bug. Press r to try again.", code)
	default:
		s.code, s.err = code, ""
	}
}

func codeOK(c string) bool {
	if c == "" {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (s *announceScreen) title() string    { return "Announce this use" }
func (s *announceScreen) setSize(w, h int) { s.w, s.h = w, h }
func (s *announceScreen) init() tea.Cmd    { return nil }
func (s *announceScreen) typing() bool     { return s.mode != announceChoose }

func (s *announceScreen) next() string {
	switch s.mode {
	case announceForm:
		switch s.focus {
		case 0:
			return "type the code as the on-call reads it back to you, then enter"
		case 1:
			return "type the name of the on-call who acknowledged, then enter"
		}
		return "type when they were told (HH:MM UTC) or leave it empty for now, then enter to record"
	case announceNobodyGate:
		return s.gate.next()
	case announceNobodyReason:
		return "type why no one could be reached, then enter to record it and go on"
	}
	if s.code == "" {
		return "press r to derive the code again, or u if you cannot announce at all"
	}
	return "call the security on-call, read them the code, then press enter to record who acknowledged"
}

func (s *announceScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	switch s.mode {
	case announceForm:
		return []key.Binding{withHelp(k.Enter, "next / record"), k.FieldDown, withHelp(k.Back, "back")}
	case announceNobodyGate:
		return s.gate.help(k)
	case announceNobodyReason:
		return []key.Binding{withHelp(k.Enter, "record"), withHelp(k.Back, "back")}
	}
	if s.code == "" {
		return []key.Binding{withHelp(k.Rerun, "derive the code again"), k.Unreached}
	}
	return []key.Binding{withHelp(k.Enter, "record who acknowledged"), k.Unreached}
}

func (s *announceScreen) FullHelp() [][]key.Binding {
	if s.mode == announceForm {
		return [][]key.Binding{append(s.ShortHelp(), s.e.keys.FieldUp)}
	}
	return [][]key.Binding{s.ShortHelp()}
}

func (s *announceScreen) update(msg tea.Msg) tea.Cmd {
	k := s.e.keys
	km, isKey := msg.(tea.KeyPressMsg)
	switch s.mode {
	case announceNobodyGate:
		switch s.gate.update(k, msg) {
		case gateYes:
			s.gate, s.mode, s.err = nil, announceNobodyReason, ""
		case gateNo:
			s.gate, s.mode = nil, announceChoose
		}
		return nil
	case announceNobodyReason:
		switch {
		case isKey && key.Matches(km, k.Back):
			s.reason.reset()
			s.mode, s.err = announceChoose, ""
		case isKey && key.Matches(km, k.Enter):
			return s.recordNobody()
		default:
			s.reason.update(msg)
		}
		return nil
	case announceForm:
		switch {
		case !isKey:
			s.fields[s.focus].update(msg)
		case key.Matches(km, k.Back):
			for i := range s.fields {
				s.fields[i].reset()
			}
			s.mode, s.focus, s.err = announceChoose, 0, ""
		case key.Matches(km, k.FieldDown):
			s.focus = (s.focus + 1) % len(s.fields)
		case key.Matches(km, k.FieldUp):
			s.focus = (s.focus + len(s.fields) - 1) % len(s.fields)
		case key.Matches(km, k.Enter):
			return s.submit()
		default:
			s.fields[s.focus].update(msg)
		}
		return nil
	}
	if !isKey {
		return nil
	}
	switch {
	case key.Matches(km, k.Unreached):
		s.mode, s.err = announceNobodyGate, ""
		s.gate = newGate("nobody", "record that you could not reach anyone")
	case s.code == "" && key.Matches(km, k.Rerun):
		s.load()
	case s.code != "" && key.Matches(km, k.Enter):
		s.mode, s.focus, s.err = announceForm, 0, ""
	}
	return nil
}

// submit moves to the next field, or checks and records the acknowledgement.
func (s *announceScreen) submit() tea.Cmd {
	if s.focus < 2 && !s.fields[s.focus].empty() && (s.focus > 0 || sameCode(s.fields[0].String(), s.code)) {
		s.focus++
		s.err = ""
		return nil
	}
	if !sameCode(s.fields[0].String(), s.code) {
		s.fields[0].reset()
		s.focus = 0
		s.err = "The code they read back does not match. Read it to them again, group by group, and type what they read back."
		return nil
	}
	by := strings.TrimSpace(s.fields[1].String())
	if by == "" {
		s.focus = 1
		s.err = "Type the name of the on-call who acknowledged."
		return nil
	}
	at, err := toldAt(s.fields[2].String(), s.e.now)
	if err != nil {
		s.focus = 2
		s.err = err.Error()
		return nil
	}
	if err := s.eng.RecordAnnouncement(by, at, true, ""); err != nil {
		s.err = fmt.Sprintf("Could not record the announcement: %v. What you typed is still here; press enter to try again.", err)
		return nil
	}
	return func() tea.Msg { return announcedMsg{} }
}

func (s *announceScreen) recordNobody() tea.Cmd {
	why := strings.TrimSpace(s.reason.String())
	if why == "" {
		s.err = "A reason is required: who you tried, how, and why it failed."
		return nil
	}
	if err := s.eng.RecordAnnouncement("", s.e.now.UTC(), false, why); err != nil {
		s.err = fmt.Sprintf("Could not record it: %v. Your reason is still here; press enter to try again.", err)
		return nil
	}
	return func() tea.Msg { return announcedMsg{} }
}

// sameCode compares a read-back with the code, ignoring case, spaces and
// dashes, and the letters a listener confuses with digits (O/0, I/L/1),
// which a Crockford alphabet never uses as distinct symbols.
func sameCode(readBack, code string) bool {
	norm := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToUpper(s) {
			switch r {
			case ' ', '-':
			case 'O':
				b.WriteRune('0')
			case 'I', 'L':
				b.WriteRune('1')
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return code != "" && norm(readBack) == norm(code)
}

// toldAt parses the time the on-call was told: empty or "now" is the
// station clock; HH:MM or HH:MM:SS is UTC, the latest such time not after
// now (so 23:58 typed at 00:03 is yesterday) and refused if that is more
// than 12 hours ago (a typo, most likely a time later than the clock); a full
// RFC 3339 time is taken as it is but must not be after now.
func toldAt(s string, now time.Time) (time.Time, error) {
	now = now.UTC()
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "now") {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if t.After(now) {
			return time.Time{}, fmt.Errorf("%s is after the station clock (%s); type when they were told", t.UTC().Format("2006-01-02 15:04Z"), now.Format("15:04Z"))
		}
		return t.UTC(), nil
	}
	for _, layout := range []string{"15:04", "15:04:05"} {
		c, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		t := time.Date(now.Year(), now.Month(), now.Day(), c.Hour(), c.Minute(), c.Second(), 0, time.UTC)
		if t.After(now) {
			t = t.AddDate(0, 0, -1)
		}
		if now.Sub(t) > 12*time.Hour {
			return time.Time{}, fmt.Errorf("%s UTC would be %s ago (the station clock is %s); type when they were told", s, fmtDur(now.Sub(t)), now.Format("15:04Z"))
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: type HH:MM in UTC (e.g. %s), or leave it empty for now", s, now.Format("15:04"))
}

// groupCode splits a code into groups of four for reading aloud.
func groupCode(c string) []string {
	var gs []string
	for len(c) > 4 {
		gs = append(gs, c[:4])
		c = c[4:]
	}
	return append(gs, c)
}

var spoken = map[rune]string{
	'A': "alfa", 'B': "bravo", 'C': "charlie", 'D': "delta", 'E': "echo", 'F': "foxtrot",
	'G': "golf", 'H': "hotel", 'I': "india", 'J': "juliett", 'K': "kilo", 'L': "lima",
	'M': "mike", 'N': "november", 'O': "oscar", 'P': "papa", 'Q': "quebec", 'R': "romeo",
	'S': "sierra", 'T': "tango", 'U': "uniform", 'V': "victor", 'W': "whiskey", 'X': "x-ray",
	'Y': "yankee", 'Z': "zulu", '0': "zero", '1': "one", '2': "two", '3': "three", '4': "four",
	'5': "five", '6': "six", '7': "seven", '8': "eight", '9': "nine",
}

func spell(g string) string {
	ws := make([]string, 0, len(g))
	for _, r := range g {
		ws = append(ws, spoken[r])
	}
	return strings.Join(ws, " ")
}

// bigCode is the code in a box, letter-spaced, groups apart.
func (s *announceScreen) bigCode() string {
	gs := groupCode(s.code)
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = strings.Join(strings.Split(g, ""), " ")
	}
	return s.e.st.Box.Padding(0, 3).Render(s.e.st.Secret.Render(strings.Join(parts, "  -  ")))
}

func (s *announceScreen) view() string {
	st := s.e.st
	var b strings.Builder
	b.WriteString(st.Warning.Render("Call the security on-call and read them this code.") + "\n")
	switch {
	case s.code == "" && s.mode == announceChoose:
		b.WriteString("\n" + st.Error.Render(s.err) + "\n\n" +
			"If the code cannot be derived, press u to record why the use could not be announced.")
		return b.String()
	case s.code == "":
		b.WriteString("\n" + st.Error.Render("No announce code.") + "\n\n")
	default:
		b.WriteString("Every use is announced; they record it and match it with the report later.\n\n")
		b.WriteString(indent(s.bigCode(), "  ") + "\n")
		for _, g := range groupCode(s.code) {
			b.WriteString(fmt.Sprintf("  %-4s  %s\n", g, st.Muted.Render(spell(g))))
		}
		b.WriteString("\n")
	}
	switch s.mode {
	case announceChoose:
		b.WriteString(hang("Then ask them to read it back, and press enter to record who acknowledged and when.", s.w, "") + "\n")
		b.WriteString(hang("No one answers? Press u to record that you could not reach anyone, and why; the session goes on.", s.w, ""))
	case announceForm:
		for i := range s.fields {
			b.WriteString(s.fields[i].view(i == s.focus, s.w) + "\n")
		}
		b.WriteString("\n" + st.Muted.Render("Nothing is recorded until their read-back matches the code."))
	case announceNobodyGate:
		b.WriteString(s.gate.view(st, s.w))
	case announceNobodyReason:
		b.WriteString(st.Warning.Render("! Recording that no one could be reached.") + "\n")
		b.WriteString(s.reason.view(true, s.w))
	}
	if s.err != "" {
		b.WriteString("\n" + st.Error.Render(s.err))
	}
	return b.String()
}
