package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"breakglass/audit"
)

// wait is how long any one screen change may take on a busy shared machine.
// Tests wait on conditions; this only bounds a hung console.
const wait = 20 * time.Second

// nextLine is the console's "Next:" instruction, joined when it wraps onto
// the line above the help bar; "" when the screen has none.
func nextLine(screen string) string {
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Next:") {
			parts := []string{strings.TrimSpace(strings.TrimPrefix(l, "Next:"))}
			for _, more := range lines[i+1 : max(len(lines)-1, i+1)] {
				parts = append(parts, strings.TrimSpace(more))
			}
			return strings.TrimSpace(strings.Join(parts, " "))
		}
	}
	return ""
}

// body is the screen above the "Next:" line: what the cursor can select.
func body(screen string) []string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Next:") {
			return lines[:i]
		}
	}
	return lines
}

// sameBody reports whether two screens show the same body below the
// header (whose clock ticks).
func sameBody(a, b string) bool {
	ba, bb := body(a), body(b)
	if len(ba) > 0 && len(bb) > 0 {
		ba, bb = ba[1:], bb[1:]
	}
	return slices.Equal(ba, bb)
}

// settledScreen is the screen once two captures 60 ms apart show the same
// body: a key that scrolls a list redraws many lines, and a capture taken
// mid-redraw can show the selection mark on the wrong row.
func (c *tmuxConsole) settledScreen() string {
	s := c.screen()
	for range 20 {
		time.Sleep(60 * time.Millisecond)
		again := c.screen()
		if sameBody(again, s) {
			return again
		}
		s = again
	}
	return s
}

// cursorRow is the row of the body holding the selection mark "› ", or -1.
func cursorRow(screen string) int {
	for i, l := range body(screen) {
		if strings.Contains(l, "› ") {
			return i
		}
	}
	return -1
}

// waitNext polls until the Next line differs from before and returns the
// new screen.
func (c *tmuxConsole) waitNext(before string) string {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := c.screen()
		if n := nextLine(s); n != "" && n != before {
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the Next line stayed %q; last screen:\n%s", before, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMatch polls until the screen matches re and returns the submatches.
func (c *tmuxConsole) waitMatch(re *regexp.Regexp) []string {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := c.screen()
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("screen never matched %s; last screen:\n%s", re, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// selectItem moves the cursor with ↑/↓ until its row contains text, heading
// for the last body row containing it (items are listed below any prose
// that might mention them).
func (c *tmuxConsole) selectItem(text string) string {
	c.t.Helper()
	if r := []rune(text); len(r) > 25 {
		text = string(r[:25]) // long items wrap; their start is on the cursor row
	}
	// A long list (more warnings where the console cannot lock memory, say)
	// scrolls: an item below the screen is reached by moving down, as a
	// person would, then up if the bottom was reached first.
	scroll := "Down"
	settle := time.Now().Add(wait)
	for moves := 0; ; moves++ {
		s := c.settledScreen()
		if cursorRow(s) < 0 && time.Now().Before(settle) {
			// A capture taken while the terminal redraws (a dialog just
			// closed, under load) can lack the cursor row: look again.
			time.Sleep(50 * time.Millisecond)
			moves--
			continue
		}
		target := -1
		for i, l := range body(s) {
			if strings.Contains(l, text) {
				target = i
			}
		}
		cur := cursorRow(s)
		if cur >= 0 && strings.Contains(body(s)[cur], text) {
			return s
		}
		if cur < 0 || moves > 30 {
			c.t.Fatalf("cannot select %q (cursor row %d, target row %d):\n%s", text, cur, target, s)
		}
		if cur == target {
			return s
		}
		k := scroll
		switch {
		case target >= 0 && target < cur:
			k = "Up"
		case target >= 0:
			k = "Down"
		}
		c.keys(k)
		deadline := time.Now().Add(wait)
		for sameBody(c.screen(), s) {
			if time.Now().After(deadline) {
				if target < 0 && scroll == "Down" {
					scroll = "Up" // the bottom: the item is above the screen
					break
				}
				c.t.Fatalf("%s did not move the cursor towards %q:\n%s", k, text, c.screen())
			}
			time.Sleep(30 * time.Millisecond)
		}
	}
}

var (
	reWarn     = regexp.MustCompile(`^select warning "([^"]+)", press a`)
	reSelected = regexp.MustCompile(`(\w+ Example) · key (\d+) · PIN tries left \d+\n› PIN:`)
	reTick     = regexp.MustCompile(`^do "([^"]+)", then select it and press space`)
	reEvidence = regexp.MustCompile(`^record "([^"]+)": select it and press enter`)
	reConfirm  = regexp.MustCompile(`^(.+) must confirm on their key: select their line and press c`)
	reComplete = regexp.MustCompile(`^press n to complete step (\d+)`)
	reAnswer   = regexp.MustCompile(`^answer question (\d+): select it and press enter`)
	reSign     = regexp.MustCompile(`^(.+): PIN of key (\d+), enter`)
)

// passPreflight acknowledges every WARN check with a reason, confirms the
// clock and goes on to the declaration. It returns the checks acknowledged.
func (c *tmuxConsole) passPreflight() []string {
	c.t.Helper()
	var acked []string
	s := c.waitFor("Preflight", wait)
	if nextLine(s) == "" {
		s = c.waitNext("")
	}
	for range 20 {
		n := nextLine(s)
		switch m := reWarn.FindStringSubmatch(n); {
		case m != nil:
			c.selectItem(m[1])
			c.keys("a")
			c.waitFor("type accept and press enter", wait)
			c.typeText("accept")
			c.keys("Enter")
			c.waitFor("type why this warning is acceptable", wait)
			c.typeText("end-to-end test station, " + m[1] + " expected")
			c.keys("Enter")
			c.waitFor("ACKED  "+m[1], wait)
			acked = append(acked, m[1])
		case strings.HasPrefix(n, "wait for the station checks"):
		case strings.HasPrefix(n, "compare the UTC time"):
			c.keys("y")
			c.waitFor("press enter to record that the clock is right", wait)
			c.keys("Enter")
			c.waitFor("✓ confirmed", wait)
		case strings.HasPrefix(n, "press enter to declare"):
			c.keys("Enter")
			c.waitFor("Declare the incident", wait)
			return acked
		default:
			c.t.Fatalf("unexpected preflight instruction %q:\n%s", n, s)
		}
		s = c.waitNext(n)
	}
	c.t.Fatalf("preflight did not end:\n%s", s)
	return nil
}

// declare fills the three declaration fields and records the announcement
// (announce); it returns the announce code read off the screen.
func (c *tmuxConsole) declare(operator, ticket, broke string) string {
	c.t.Helper()
	c.declareOnly(operator, ticket, broke)
	return c.announce("Sam On-call")
}

// reCode is the announce code as the announce screen boxes it, letter-spaced.
var reCode = regexp.MustCompile(`│\s+((?:[0-9A-Z] ){4}[0-9A-Z])  -  ((?:[0-9A-Z] ){4}[0-9A-Z])\s+│`)

// announce reads the announce code off the screen, has the on-call "read it
// back" (typed as the ledger prints it, XXXXX-XXXXX), names who
// acknowledged, leaves the time empty (now) and waits for the custodians.
// It returns the code as printed (two groups of five).
func (c *tmuxConsole) announce(by string) string {
	c.t.Helper()
	c.waitFor("Call the security on-call and read them this code", wait)
	m := c.waitMatch(reCode)
	code := strings.ReplaceAll(m[1], " ", "") + "-" + strings.ReplaceAll(m[2], " ", "")
	c.keys("Enter")
	c.waitFor("› Code as they read it back:", wait)
	c.typeText(code)
	c.keys("Enter")
	c.waitFor("› Acknowledged by (their name):", wait)
	c.typeText(by)
	c.keys("Enter")
	c.waitFor("› Told at, UTC HH:MM (empty: now):", wait)
	c.keys("Enter")
	c.waitFor("Quorum  0 of 2 counted", wait)
	return code
}

// declareOnly fills the three declaration fields and waits for the
// announce screen.
func (c *tmuxConsole) declareOnly(operator, ticket, broke string) {
	c.t.Helper()
	c.waitFor("› Operator name:", wait)
	c.typeText(operator)
	c.keys("Enter")
	c.waitFor("› Ticket / incident id:", wait)
	c.typeText(ticket)
	c.keys("Enter")
	c.waitFor("› What broke:", wait)
	c.typeText(broke)
	c.keys("Enter")
	c.waitFor("Announce this use", wait)
}

// skipStep skips the current step behind its typed gate, with reason.
func (c *tmuxConsole) skipStep(reason string) {
	c.t.Helper()
	c.keys("s")
	c.waitFor("type skip and press enter", wait)
	c.typeText("skip")
	c.keys("Enter")
	c.waitFor("type why this step is skipped", wait)
	c.typeText(reason)
	c.keys("Enter")
}

// quit asks to quit (ctrl+c works while a field is focused) and types the
// word the quit gate asks for.
func (c *tmuxConsole) quit() {
	c.t.Helper()
	c.keys("C-c")
	c.waitFor("Quit the console?", wait)
	c.typeText("quit")
	c.keys("Enter")
}

// reSignPIN is the sign screen's PIN field for the custodian signing now.
var reSignPIN = regexp.MustCompile(`(\w+ Example) · key (\d+) · PIN tries left (\d+)\n› PIN:`)

// readSummary scrolls the WHAT YOU SIGN summary to its end (pgdn) and says
// it was read (enter); it returns every line of the summary seen on the way.
func (c *tmuxConsole) readSummary() []string {
	c.t.Helper()
	c.waitFor("WHAT YOU SIGN", wait)
	var seen []string
	for range 40 {
		s := c.screen()
		seen = append(seen, body(s)...)
		switch n := nextLine(s); {
		case strings.HasPrefix(n, "custodians: if this is what happened, press enter"):
			c.keys("Enter")
			c.waitMatch(reSignPIN)
			return seen
		case strings.HasPrefix(n, "custodians: read what you sign"):
			c.keys("PgDn")
			c.waitScreenChange(s)
		default:
			if strings.HasPrefix(n, "wait") {
				c.waitScreenChange(s)
				continue
			}
			c.t.Fatalf("sign summary: unexpected instruction %q:\n%s", n, s)
		}
	}
	c.t.Fatalf("the sign summary never reached its end:\n%s", c.screen())
	return nil
}

// waitScreenChange polls until the screen differs from before.
func (c *tmuxConsole) waitScreenChange(before string) string {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if s := c.screen(); s != before {
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the screen did not change:\n%s", before)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// countCustodian waits until the custodians screen selects a key whose
// custodian is not yet counted, types that key's PIN and waits for it to be
// counted; it returns the custodian's name. (Right after a count the
// screen says "✓ NAME counted" while the PIN field still belongs to NAME's
// key until the keys are rescanned, so the selection is waited for.)
func (c *tmuxConsole) countCustodian(d *demoStation, counted ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	var m []string
	for {
		s := c.screen()
		if m = reSelected.FindStringSubmatch(s); m != nil && !slices.Contains(counted, m[1]) {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no uncounted custodian selected (counted %q):\n%s", counted, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	serial, _ := strconv.ParseUint(m[2], 10, 32)
	c.typeText(d.pins[uint32(serial)])
	c.keys("Enter")
	// The last count of a quorum opens the runbook at once.
	c.waitMatch(regexp.MustCompile(`✓ ` + m[1] + ` counted|Runbook — step 1 of`))
	return m[1]
}

// step waits for the runbook to show step n of 7.
func (c *tmuxConsole) step(n int) string {
	c.t.Helper()
	return c.waitFor("Runbook — step "+strconv.Itoa(n)+" of 7", wait)
}

// completeStep does what the Next line asks (ticks, evidence, custodian
// confirmations) until the step is completed with n.
// demoPINByName are the demo custodians' PINs (demo-setup.sh).
var demoPINByName = map[string]string{"Alice Example": "111111", "Bob Example": "222222", "Carol Example": "333333"}

func (c *tmuxConsole) completeStep(n int) {
	c.t.Helper()
	s := c.step(n)
	for range 30 {
		next := nextLine(s)
		if m := reTick.FindStringSubmatch(next); m != nil {
			c.selectItem(m[1])
			c.keys("Space")
		} else if m := reEvidence.FindStringSubmatch(next); m != nil {
			c.selectItem(m[1])
			c.keys("Enter")
			s = c.waitFor("Next: type the evidence", wait)
			next = nextLine(s)
			c.typeText("e2e evidence for " + m[1])
			c.keys("Enter")
		} else if m := reConfirm.FindStringSubmatch(next); m != nil {
			// The custodian confirms on their own key: PIN, then touch.
			c.selectItem("confirmed by " + m[1])
			c.keys("c")
			c.waitFor("Next: "+m[1]+": type your PIN", wait)
			c.typeText(demoPINByName[m[1]])
			c.keys("Enter")
			s = c.waitFor("[✓] confirmed by "+m[1], wait)
			continue
		} else if m := reComplete.FindStringSubmatch(next); m != nil && m[1] == strconv.Itoa(n) {
			c.keys("n")
			return
		} else {
			c.t.Fatalf("step %d: unexpected instruction %q:\n%s", n, next, s)
		}
		s = c.waitNext(next)
	}
	c.t.Fatalf("step %d never completed:\n%s", n, s)
}

// closeOut answers every question: "no" where a no/yes answer is wanted.
func (c *tmuxConsole) closeOut() {
	c.t.Helper()
	s := c.waitFor("Close-out", wait)
	for range 20 {
		next := nextLine(s)
		if strings.HasPrefix(next, "press n to go on") {
			c.keys("n")
			c.waitFor("Sign and export the report", wait)
			return
		}
		m := reAnswer.FindStringSubmatch(next)
		if m == nil {
			c.t.Fatalf("close-out: unexpected instruction %q:\n%s", next, s)
		}
		if row := body(s)[max(cursorRow(s), 0)]; !strings.Contains(row, "] "+m[1]+". ") {
			c.t.Errorf("close-out asks for question %s but the cursor is on %q", m[1], row)
		}
		c.keys("Enter")
		c.waitFor("type the answer and press enter", wait)
		answer := "e2e answer to question " + m[1]
		if strings.Contains(body(s)[cursorRow(s)+1], `Answer "no", or "yes: "`) {
			answer = "no"
		}
		c.typeText(answer)
		c.keys("Enter")
		s = c.waitNext("type the answer and press enter to record it (esc cancels)")
	}
	c.t.Fatalf("close-out never ended:\n%s", s)
}

// TestConsoleJourneyE2E is a whole session at 80x24 on the real binary:
// preflight, declaration, quorum with one wrong PIN, the runbook with the
// password and TOTP revealed and a step skipped, close-out, signatures,
// export and lock; then the report verifies offline, a tampered copy does
// not, the vault marks the revealed secrets, and no secret is on disk or in
// the terminal's scrollback.
func TestConsoleJourneyE2E(t *testing.T) {
	d := newDemoStation(t, 0)
	state, export := t.TempDir(), t.TempDir()
	c := d.startTmux(t, 80, 24, append([]string{d.bin}, d.consoleArgs(state, export)...)...)

	acked := c.passPreflight()
	if !containsAll(acked, "attestation root") {
		t.Errorf("acknowledged %q; the TEST attestation root must be a warning", acked)
	}
	announced := c.declare("Dana Operator", "INC-4242", "SSO outage: IdP certificate expired")

	// A wrong PIN costs a try and says so; the same key then counts.
	m := c.waitMatch(reSelected)
	first, serial := m[1], m[2]
	if !regexp.MustCompile(`key ` + serial + `\s+✓ ` + first + ` · PIN tries left 3`).MatchString(c.screen()) {
		t.Errorf("key %s does not show 3 PIN tries before a wrong PIN:\n%s", serial, c.screen())
	}
	c.typeText("999999")
	c.keys("Enter")
	s := c.waitFor("Wrong PIN for key "+serial+": 2 tries left", wait)
	if !strings.Contains(s, "key "+serial+"  ✓ "+first+" · PIN tries left 2") {
		t.Errorf("key %s's tries did not drop to 2 in the key list:\n%s", serial, s)
	}
	if got := c.countCustodian(d); got != first {
		t.Errorf("after the wrong PIN the console selected %s, want %s still", got, first)
	}
	c.waitFor("Quorum  1 of 2 counted", wait)
	second := c.countCustodian(d, first)

	c.completeStep(1)

	// Step 2: the password in clear and a current TOTP code.
	c.step(2)
	c.selectItem("aws-root-password")
	c.keys("v")
	s = c.waitFor("[SHOWN] aws-root-password", wait)
	if !strings.Contains(s, demoSecrets[0]) {
		t.Errorf("revealed password not on screen:\n%s", s)
	}
	c.selectItem("aws-root-totp")
	c.keys("v")
	totpCode := c.waitMatch(regexp.MustCompile(`\[SHOWN\] aws-root-totp[^\n]*\n\s+code (\d{6})\b`))[1]
	if !totp.Validate(totpCode, demoSecrets[1]) {
		t.Errorf("TOTP code %s on screen is not current for the sealed seed", totpCode)
	}
	c.completeStep(2)

	// Step 3 is skipped with a reason.
	s = c.step(3)
	if !strings.Contains(s, "[hidden] aws-root-recovery-codes") {
		t.Errorf("recovery codes are not hidden before a reveal:\n%s", s)
	}
	c.skipStep("the TOTP code worked")
	if s = c.step(4); !strings.Contains(s, "~ 3 Use a recovery code") {
		t.Errorf("step 3 not marked skipped in the step list:\n%s", s)
	}
	for n := 4; n <= 7; n++ {
		c.completeStep(n)
	}

	c.closeOut()
	c.waitFor("Signatures  0 of 2 signed", wait)
	// The custodians see what they sign before any PIN: the incident, the
	// announcement, the reveals and the skipped step with its reason.
	summary := strings.Join(c.readSummary(), "\n")
	for _, want := range []string{"INC-4242", "code " + announced + " to Sam On-call", "aws-root-password", "aws-root-totp", "the TOTP code worked"} {
		if !strings.Contains(flat(summary), want) {
			t.Errorf("the sign summary never showed %q:\n%s", want, summary)
		}
	}
	signed := map[string]bool{}
	for i := 1; i <= 2; i++ {
		m := c.waitMatch(reSignPIN)
		serial, _ := strconv.ParseUint(m[2], 10, 32)
		if m[1] != first && m[1] != second {
			t.Errorf("signing asks %s, who was not counted (%s, %s)", m[1], first, second)
		}
		signed[m[1]] = true
		c.typeText(d.pins[uint32(serial)])
		c.keys("Enter")
		c.waitFor("Signatures  "+strconv.Itoa(i)+" of 2 signed", wait)
	}
	if len(signed) != 2 {
		t.Errorf("signers %v, want two distinct custodians", signed)
	}
	c.waitExportField(export)
	c.keys("Enter")
	c.waitFor("✓ Written:", wait)
	c.keys("Enter")
	s = c.waitFor("Session locked. Secrets wiped", wait)
	if !strings.Contains(s, "! aws-root-password") || !strings.Contains(s, "! aws-root-totp") ||
		strings.Contains(s, "! aws-root-recovery-codes") {
		t.Errorf("locked screen's must-rotate list is not exactly the revealed secrets:\n%s", s)
	}
	c.keys("q")
	if code := c.exitCode(wait); code != 0 {
		t.Fatalf("console exit %d:\n%s", code, c.scrollback())
	}

	scroll := c.scrollback()
	sm := regexp.MustCompile(`Session (\S+) locked\. Secrets wiped\.`).FindStringSubmatch(scroll)
	if sm == nil {
		t.Fatalf("console did not print the locked session:\n%s", scroll)
	}
	id := sm[1]
	reports, _ := filepath.Glob(filepath.Join(export, "*.jws.json"))
	mds, _ := filepath.Glob(filepath.Join(export, "*.md"))
	if len(reports) != 1 || len(mds) != 1 {
		t.Fatalf("export holds reports %v and %v, want one of each", reports, mds)
	}
	for _, p := range append(reports, mds...) {
		if !strings.Contains(strings.Join(strings.Fields(scroll), ""), p) {
			t.Errorf("console did not print the exported path %s:\n%s", p, scroll)
		}
	}
	if strings.Contains(scroll, "BREAKGLASS ·") {
		t.Errorf("console screens are left in the scrollback (alternate screen not used):\n%s", scroll)
	}

	// The report verifies offline against the vault; one changed byte fails.
	out, errOut, code := d.run(t, "", "verify", "--attestation-root", d.root, "--vault", d.vault, reports[0])
	if code != 0 || !strings.Contains(out, "VERIFIED OK") || !strings.Contains(out, id) {
		t.Fatalf("verify exit %d:\n%s%s", code, out, errOut)
	}
	tampered := filepath.Join(t.TempDir(), filepath.Base(reports[0]))
	b, err := os.ReadFile(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(string(b), `"payload":"`) + len(`"payload":"`) + 200
	if b[at] == 'A' {
		b[at] = 'B'
	} else {
		b[at] = 'A'
	}
	if err := os.WriteFile(tampered, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if tout, terr, tcode := d.run(t, "", "verify", "--attestation-root", d.root, "--vault", d.vault, tampered); tcode != 1 ||
		strings.Contains(tout, "VERIFIED OK") {
		t.Errorf("tampered report: verify exit %d, want 1:\n%s%s", tcode, tout, terr)
	}

	// The journal in the state directory is the hash chain verify accepted.
	journals, _ := filepath.Glob(filepath.Join(state, "*.journal"))
	if len(journals) != 1 || filepath.Base(journals[0]) != id+".journal" {
		t.Fatalf("state holds journals %v, want %s.journal", journals, id)
	}
	entries, err := audit.ReadFile(journals[0])
	if err != nil {
		t.Fatalf("journal does not verify: %v", err)
	}
	// The report covers the journal up to the close-out; the signatures,
	// the export and the lock are chained after it.
	hm := regexp.MustCompile(`journal hash chain: (\d+) entries chained[\s\S]*journal head: head ([0-9a-f]{12})`).FindStringSubmatch(out)
	if hm == nil {
		t.Fatalf("verify did not report the journal chain and head:\n%s", out)
	}
	covered, _ := strconv.Atoi(hm[1])
	if covered < 10 || covered > len(entries) || !strings.HasPrefix(entries[covered-1].Hash, hm[2]) {
		t.Errorf("verified chain of %d entries, head %s, is not a prefix of journal %s (%d entries)",
			covered, hm[2], journals[0], len(entries))
	} else {
		var after []string
		for _, e := range entries[covered:] {
			after = append(after, e.Type)
		}
		if want := []string{"report.signed", "report.signed", "report.exported", "session.locked"}; !slices.Equal(after, want) {
			t.Errorf("journal after the report holds %q, want %q", after, want)
		}
	}

	// The journal holds what the operator did on screen.
	recorded := map[string]bool{}
	for _, e := range entries {
		var data struct{ Check, Reason, Name, Text string }
		_ = json.Unmarshal(e.Data, &data)
		recorded[e.Type+" "+data.Check+data.Reason+data.Name+data.Text] = true
	}
	for _, want := range []string{
		"preflight.warning_acknowledged attestation rootend-to-end test station, attestation root expected",
		"secret.revealed aws-root-password",
		"secret.revealed aws-root-totp",
		"step.skipped the TOTP code worked",
	} {
		if !recorded[want] {
			t.Errorf("journal has no %q", want)
		}
	}
	// The announcement is journaled with the code that was on screen.
	if got := ofType(entries, "session.announced"); len(got) != 1 ||
		!strings.Contains(string(got[0].Data), `"announce_code":"`+strings.ReplaceAll(announced, "-", "")+`"`) ||
		!strings.Contains(string(got[0].Data), `"by":"Sam On-call"`) {
		t.Errorf("journal announcements %v, want one of code %s by Sam On-call", got, announced)
	}
	if recorded["secret.revealed aws-root-recovery-codes"] {
		t.Errorf("journal says the recovery codes were revealed; they never were")
	}

	// The vault marks what was revealed, and only that.
	insp, ierr, icode := d.run(t, "", "vault", "inspect", d.vault, "--attestation-root", d.root)
	if icode != 0 {
		t.Errorf("vault inspect exit %d:\n%s%s", icode, insp, ierr)
	}
	for _, want := range []struct {
		name     string
		revealed bool
	}{{"aws-root-password", true}, {"aws-root-totp", true}, {"aws-root-recovery-codes", false}} {
		line := regexp.MustCompile(`(?m)^  ` + want.name + ` .*$`).FindString(insp)
		got := strings.Contains(line, "REVEALED in session "+id) && strings.Contains(line, "rotate now")
		if got != want.revealed {
			t.Errorf("vault inspect: %s revealed=%v, want %v: %q", want.name, got, want.revealed, line)
		}
	}

	// Invariant 3: no secret in any file, the report's payload, or the
	// terminal after the console exited.
	for _, dir := range []string{state, export, d.dir} {
		assertNoSecretsUnder(t, dir)
	}
	for _, sec := range demoSecrets {
		if strings.Contains(scroll, sec) {
			t.Errorf("secret %q left in the terminal scrollback:\n%s", sec, scroll)
		}
	}
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}
