package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// SignEngine is what the sign screen needs: who signs, what they sign, the
// signature on each custodian's key (through the PIN path) and the export.
type SignEngine interface {
	PINEngine
	// Quorum reports the counted custodians: each one signs the report.
	Quorum() QuorumState
	// SignSummary is what the report Sign signs says happened, built from
	// the same payload Sign signs (so what is shown is what is signed). It
	// journals nothing. An error (the report cannot be built, the journal on
	// disk fails its check) means nothing may be signed.
	SignSummary(ctx context.Context) (SignSummary, error)
	// Sign signs the report on the key with this serial (PIN, then touch).
	// Errors wrap *WrongPINError, ErrPINBlocked, ErrLastPINTry, ErrKeyRemoved
	// or ErrNotOnRoster.
	Sign(ctx context.Context, serial uint32, pin string) error
	// Export writes the signed report and its human rendering into dir.
	Export(ctx context.Context, dir string) ([]ExportedFile, error)
}

// SignSummary is everything the custodians' signature vouches for.
type SignSummary struct {
	Session  string // session id
	Vault    string // vault fingerprint
	Runbook  string // title and hash
	Incident Declaration
	Declared time.Time
	// Announcement is how this use was announced to the security on-call
	// (AnnounceEngine.RecordAnnouncement); zero when none was recorded.
	Announcement Announcement
	// Custodians is every custodian counted in this session, re-authorisations
	// included, in order.
	Custodians []Custodian
	// Revealed is every credential revealed in this session: each must be
	// rotated.
	Revealed      []string
	Skipped       []SkippedStep
	Confirmations []StepConfirmation
	// Answers are the close-out questions with their recorded answers.
	Answers []Question
}

// Announcement is the announce code and what RecordAnnouncement journaled:
// who acknowledged it and when, or that no one was reached and why.
type Announcement struct {
	Code    string // letters and digits, as AnnounceCode returned it
	By      string // the on-call who acknowledged; "" when not reached
	At      time.Time
	Reached bool
	Note    string // the reason when not reached
}

// SkippedStep is a runbook step skipped, with the operator's reason.
type SkippedStep struct {
	Step, Title, Reason string
}

// StepConfirmation is a step confirmed on a custodian's own key.
type StepConfirmation struct {
	Step, Title, Custodian string
	Serial                 uint32
}

// summaryMsg carries the result of SignEngine.SignSummary.
type summaryMsg struct {
	sum SignSummary
	err error
}

// exportResultMsg carries the result of Engine.Export.
type exportResultMsg struct {
	files []ExportedFile
	err   error
}

// exportedMsg is sent by the sign screen when the operator has seen the
// exported files and asks to lock: the root locks the session.
type exportedMsg struct{ files []ExportedFile }

// signScreen shows the custodians what they sign, has each counted
// custodian sign the report on their key, then exports it.
type signScreen struct {
	e       *env
	eng     SignEngine
	signers []Custodian
	signed  int
	sum     []string // the summary, one line each (unwrapped)
	sumErr  error
	scroll  int
	read    bool // the summary was shown to its end and enter pressed
	seenEnd bool
	pin     *pinPrompt
	scan    keyScan
	op      hwOp
	dir     field
	files   []ExportedFile
	working bool
	err     string
	w, h    int
}

func newSign(e *env, eng SignEngine) *signScreen {
	return &signScreen{e: e, eng: eng, signers: eng.Quorum().Counted,
		dir: field{label: "Export to directory", max: 1000, value: []rune(e.opts.ExportDir)}}
}

func (s *signScreen) title() string    { return "Sign and export the report" }
func (s *signScreen) setSize(w, h int) { s.w, s.h = w, h; s.markSeen() }
func (s *signScreen) signing() bool    { return s.signed < len(s.signers) }
func (s *signScreen) typing() bool {
	return s.read && !s.op.pending && !s.working && s.files == nil
}

func (s *signScreen) init() tea.Cmd {
	e, eng := s.e, s.eng
	return tea.Batch(func() tea.Msg {
		sum, err := eng.SignSummary(e.ctx)
		return summaryMsg{sum: sum, err: err}
	}, s.scan.start(e, eng))
}

func (s *signScreen) next() string {
	switch {
	case s.sumErr != nil:
		return "nothing can be signed: quit and tell security (the journal is kept)"
	case s.sum == nil:
		return "wait while the report is built"
	case !s.read && !s.seenEnd:
		return "custodians: read what you sign — scroll to the end with ↓/pgdn"
	case !s.read:
		return "custodians: if this is what happened, press enter to sign it"
	case s.op.pending && s.op.touch:
		return "touch the YubiKey now — its light is blinking"
	case s.op.pending, s.working:
		return "wait…"
	case s.signing():
		return s.pin.next("touch the key")
	case s.files == nil:
		return "check the export directory and press enter to write the report"
	}
	return "check the files above, then press enter to lock the session"
}

func (s *signScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	switch {
	case s.sum == nil:
		return nil
	case !s.read:
		return []key.Binding{k.Up, k.Down, k.ScrollDown, withHelp(k.Enter, "I have read it")}
	case s.op.pending || s.working:
		return nil
	case s.signing():
		return s.pin.help(k, "sign")
	case s.files == nil:
		return []key.Binding{withHelp(k.Enter, "export")}
	}
	return []key.Binding{withHelp(k.Enter, "lock")}
}

func (s *signScreen) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *signScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case summaryMsg:
		s.sumErr = msg.err
		if msg.err == nil {
			s.sum = summaryLines(msg.sum)
			s.markSeen()
		}
	case tickMsg:
		if s.signing() {
			return s.scan.start(s.e, s.eng)
		}
	case keysMsg:
		s.scan.arrived()
		if s.op.keysChanged(msg.keys) {
			s.err = hwRefusal(s.op.serial, ErrKeyRemoved, "not signed")
		}
		if s.pin != nil {
			s.pin.seen(msg.keys)
		}
	case touchMsg, spinMsg:
		return s.op.update(s.e, msg)
	case hwResult[struct{}]:
		return s.onSigned(msg)
	case exportResultMsg:
		s.working = false
		if msg.err != nil {
			s.err = fmt.Sprintf("✗ Could not write the report: %v. Check the directory exists and is writable (removable media mounted?), then press enter.", msg.err)
			return nil
		}
		s.files, s.err = msg.files, ""
	case tea.PasteMsg:
		switch {
		case !s.typing():
		case s.signing():
			s.pin.update(s.e, s.eng, msg)
		default:
			s.dir.update(msg)
		}
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return nil
}

func (s *signScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	switch {
	case s.sum == nil || s.op.pending || s.working:
	case !s.read:
		return s.readKey(msg)
	case s.files != nil:
		if key.Matches(msg, k.Enter) {
			files := s.files
			return func() tea.Msg { return exportedMsg{files: files} }
		}
	case key.Matches(msg, k.ScrollUp, k.ScrollDown): // not text: the summary stays scrollable
		return s.readKey(msg)
	case s.signing():
		if s.pin.update(s.e, s.eng, msg) == pinSubmit {
			return s.sign()
		}
	case key.Matches(msg, k.Enter):
		if s.dir.empty() {
			s.err = "Type the directory to write the report to."
			return nil
		}
		s.working, s.err = true, ""
		e, eng, dir := s.e, s.eng, strings.TrimSpace(s.dir.String())
		return func() tea.Msg {
			f, err := eng.Export(e.ctx, dir)
			return exportResultMsg{files: f, err: err}
		}
	default:
		s.dir.update(msg)
	}
	return nil
}

// readKey scrolls the summary; enter, once its end was shown, opens the
// first PIN prompt.
func (s *signScreen) readKey(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	switch {
	case key.Matches(msg, k.Up):
		s.scroll = max(s.scroll-1, 0)
	case key.Matches(msg, k.Down):
		s.scroll++
	case key.Matches(msg, k.ScrollUp):
		s.scroll = max(s.scroll-10, 0)
	case key.Matches(msg, k.ScrollDown):
		s.scroll += 10
	case key.Matches(msg, k.Enter) && !s.seenEnd:
		s.err = "Not yet: scroll to the end of the report first (↓/pgdn)."
		return nil
	case key.Matches(msg, k.Enter):
		s.read, s.err = true, ""
		s.openPIN()
		return s.scan.start(s.e, s.eng)
	}
	s.markSeen()
	return nil
}

// openPIN opens the PIN prompt of the next signer.
func (s *signScreen) openPIN() {
	s.pin = nil
	if s.signing() {
		c := s.signers[s.signed]
		s.pin = newPINPrompt(c.Name, c.Serial, -1)
	}
}

func (s *signScreen) sign() tea.Cmd {
	serial, pin := s.pin.serial, s.pin.take()
	s.err = ""
	eng := s.eng
	return launch(&s.op, s.e, serial, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, eng.Sign(ctx, serial, pin)
	})
}

func (s *signScreen) onSigned(msg hwResult[struct{}]) tea.Cmd {
	if !s.op.finish(msg.op) || s.pin == nil {
		return nil
	}
	if msg.err != nil {
		s.err = s.pin.failed(msg.err, "not signed")
		return nil
	}
	s.signed++
	s.openPIN()
	return s.scan.start(s.e, s.eng)
}

// window is the part of the summary that fits beside the signing part.
func (s *signScreen) window() (lines []string, atEnd bool) {
	all := strings.Split(wrap(strings.Join(s.sum, "\n"), max(s.w, 20)), "\n")
	room := max(s.h-lipgloss.Height(s.signingView())-1, 3)
	s.scroll = min(s.scroll, max(len(all)-room, 0))
	end := min(s.scroll+room, len(all))
	return all[s.scroll:end], end == len(all)
}

func (s *signScreen) markSeen() {
	if s.sum == nil || s.h == 0 {
		return
	}
	if _, end := s.window(); end {
		s.seenEnd = true
	}
}

func (s *signScreen) view() string {
	st := s.e.st
	switch {
	case s.sumErr != nil:
		return st.Error.Render(fmt.Sprintf("✗ The report cannot be shown, so it cannot be signed: %v", s.sumErr)) +
			"\n\nNothing was signed. Quit (everything recorded is kept in the journal) and tell security."
	case s.sum == nil:
		return "Building the report…"
	case !s.signing():
		return st.Pass.Render("✓ Every custodian signed what was shown above.")
	}
	lines, end := s.window()
	more := st.Muted.Render("  … ↓/pgdn for more")
	if s.read {
		more = st.Muted.Render("  … pgup/pgdn scrolls what you sign")
	}
	if end {
		more = st.Muted.Render("  — end of what you sign —")
	}
	return strings.Join(lines, "\n") + "\n" + more
}

// pinned is the signing part: always visible below the summary.
func (s *signScreen) pinned() string {
	if s.sum == nil {
		return ""
	}
	return s.signingView()
}

func (s *signScreen) signingView() string {
	st := s.e.st
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s  %d of %d signed\n", st.Title.Render("Signatures"), s.signed, len(s.signers))
	for i, c := range s.signers {
		switch {
		case i < s.signed:
			fmt.Fprintf(&b, "  %s %-16s key %d  signed\n", st.Pass.Render("✓"), c.Name, c.Serial)
		case i == s.signed && s.read:
			fmt.Fprintf(&b, "  ▶ %-16s key %d  signing now\n", c.Name, c.Serial)
		default:
			fmt.Fprintf(&b, "  · %-16s key %d  waiting\n", c.Name, c.Serial)
		}
	}
	if s.read && s.pin != nil {
		b.WriteString(s.pin.view(st, !s.op.pending, s.w) + "\n")
		if s.pin.err != "" {
			b.WriteString(st.Error.Render(s.pin.err) + "\n")
		}
	}
	if l := s.op.view(st, "Signing…"); l != "" {
		b.WriteString(l + "\n")
	}
	if s.read && !s.signing() {
		b.WriteString(s.dir.view(s.files == nil && !s.working, s.w) + "\n")
	}
	if s.working {
		b.WriteString("Writing the report…\n")
	}
	if s.files != nil {
		b.WriteString(st.Pass.Render("✓ Written:") + "\n" + filesView(s.files))
	}
	if s.err != "" {
		b.WriteString(st.Error.Render(s.err) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// summaryLines renders what the custodians sign, section by section.
func summaryLines(m SignSummary) []string {
	l := []string{"WHAT YOU SIGN",
		"Session   " + m.Session,
		"Vault     " + m.Vault,
		"Runbook   " + m.Runbook,
		"",
		"Incident  declared " + m.Declared.UTC().Format("2006-01-02 15:04Z") + " by " + m.Incident.Operator,
		"  ticket      " + m.Incident.Ticket,
		"  what broke  " + m.Incident.WhatBroke,
		announceLine(m.Announcement),
		"",
		fmt.Sprintf("Custodians counted (%d)", len(m.Custodians))}
	for _, c := range m.Custodians {
		l = append(l, fmt.Sprintf("  %s · key %d", c.Name, c.Serial))
	}
	l = append(l, "", fmt.Sprintf("Revealed — must rotate (%d)", len(m.Revealed)))
	if len(m.Revealed) == 0 {
		l = append(l, "  (nothing was revealed)")
	}
	for _, r := range m.Revealed {
		l = append(l, "  ! "+r)
	}
	l = append(l, "", fmt.Sprintf("Skipped steps (%d)", len(m.Skipped)))
	for _, sk := range m.Skipped {
		l = append(l, fmt.Sprintf("  ~ %s %s — reason: %s", sk.Step, sk.Title, sk.Reason))
	}
	l = append(l, "", fmt.Sprintf("Step confirmations (%d)", len(m.Confirmations)))
	for _, c := range m.Confirmations {
		l = append(l, fmt.Sprintf("  ✓ %s %s — %s, key %d", c.Step, c.Title, c.Custodian, c.Serial))
	}
	l = append(l, "", "Close-out answers")
	for _, q := range m.Answers {
		l = append(l, "  "+q.Text, "    "+q.Answer)
	}
	return l
}

// announceLine is the announcement as signed.
func announceLine(a Announcement) string {
	switch {
	case a.Code == "" && a.At.IsZero():
		return "Announced  ! not recorded"
	case a.Reached:
		return "Announced  code " + strings.Join(groupCode(a.Code), "-") + " to " + a.By +
			" at " + a.At.UTC().Format("2006-01-02 15:04Z")
	}
	return "Announced  ! code " + strings.Join(groupCode(a.Code), "-") + " — no one reached (" +
		a.At.UTC().Format("15:04Z") + "): " + a.Note
}

// filesView lists exported files with their SHA-256.
func filesView(files []ExportedFile) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "  %s\n    sha256 %s\n", f.Path, f.SHA256)
	}
	return b.String()
}
