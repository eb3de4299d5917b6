package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// signResultMsg carries the result of Engine.Sign for operation op.
type signResultMsg struct {
	op  int
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

// signScreen has each counted custodian sign the report, then exports it.
type signScreen struct {
	e       *env
	signers []Custodian
	signed  int
	pin     field
	retries int // -1: unknown
	guard   bool
	op      hwOp
	dir     field
	files   []ExportedFile
	working bool
	err     string
	w, h    int
}

func newSign(e *env) *signScreen {
	return &signScreen{e: e, signers: e.eng.Quorum().Counted, retries: -1,
		pin: field{label: "PIN", masked: true, max: 8},
		dir: field{label: "Export to directory", max: 1000, value: []rune(e.opts.ExportDir)}}
}

func (s *signScreen) title() string    { return "Sign and export the report" }
func (s *signScreen) setSize(w, h int) { s.w, s.h = w, h }
func (s *signScreen) typing() bool     { return !s.op.pending && !s.working && s.files == nil }
func (s *signScreen) init() tea.Cmd    { return nil }
func (s *signScreen) signing() bool    { return s.signed < len(s.signers) }

func (s *signScreen) next() string {
	switch {
	case s.op.pending && s.op.touch:
		return "touch the YubiKey now — its light is blinking"
	case s.op.pending, s.working:
		return "wait…"
	case s.guard:
		return "ONE PIN try left on this key: press y to try it anyway, esc to stop"
	case s.signing():
		c := s.signers[s.signed]
		return fmt.Sprintf("%s: PIN of key %d, enter, then touch the key", c.Name, c.Serial)
	case s.files == nil:
		return "check the export directory and press enter to write the report"
	}
	return "check the files above, then press enter to lock the session"
}

func (s *signScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	switch {
	case s.op.pending || s.working:
		return nil
	case s.guard:
		return []key.Binding{withHelp(k.Yes, "try the last PIN"), withHelp(k.Back, "stop")}
	case s.signing():
		return []key.Binding{withHelp(k.Enter, "sign")}
	case s.files == nil:
		return []key.Binding{withHelp(k.Enter, "export")}
	}
	return []key.Binding{withHelp(k.Enter, "lock")}
}

func (s *signScreen) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *signScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case touchWaitMsg, spinMsg:
		return s.op.update(s.e, msg)
	case signResultMsg:
		return s.onSigned(msg)
	case exportResultMsg:
		s.working = false
		if msg.err != nil {
			s.err = fmt.Sprintf("✗ Could not write the report: %v. Check the directory exists and is writable (removable media mounted?), then press enter.", msg.err)
			return nil
		}
		s.files, s.err = msg.files, ""
	case tea.PasteMsg:
		if s.typing() && !s.guard {
			s.activeField().update(msg)
		}
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return nil
}

func (s *signScreen) activeField() *field {
	if s.signing() {
		return &s.pin
	}
	return &s.dir
}

func (s *signScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	switch {
	case s.op.pending || s.working:
	case s.guard:
		if key.Matches(msg, k.Yes) {
			s.guard = false
			return s.sign()
		}
		if key.Matches(msg, k.Back) {
			s.guard = false
			s.pin.reset()
		}
	case s.files != nil:
		if key.Matches(msg, k.Enter) {
			files := s.files
			return func() tea.Msg { return exportedMsg{files: files} }
		}
	case key.Matches(msg, k.Enter) && s.signing():
		if s.pin.empty() {
			s.err = "Type the PIN first."
			return nil
		}
		if s.retries == 1 {
			s.guard = true
			return nil
		}
		return s.sign()
	case key.Matches(msg, k.Enter):
		if s.dir.empty() {
			s.err = "Type the directory to write the report to."
			return nil
		}
		s.working, s.err = true, ""
		e, dir := s.e, strings.TrimSpace(s.dir.String())
		return func() tea.Msg {
			f, err := e.eng.Export(e.ctx, dir)
			return exportResultMsg{files: f, err: err}
		}
	default:
		s.activeField().update(msg)
	}
	return nil
}

func (s *signScreen) sign() tea.Cmd {
	c := s.signers[s.signed]
	pin := s.pin.String()
	s.pin.reset()
	ctx, cancel := context.WithCancel(s.e.ctx)
	id := s.e.nextOp()
	s.err = ""
	eng := s.e.eng
	run := func() tea.Msg { return signResultMsg{op: id, err: eng.Sign(ctx, c.Serial, pin)} }
	return tea.Batch(s.op.start(s.e, id, cancel), run)
}

func (s *signScreen) onSigned(msg signResultMsg) tea.Cmd {
	if !s.op.finish(msg.op) {
		return nil
	}
	var wp *WrongPINError
	switch {
	case msg.err == nil:
		s.signed++
		s.retries = -1
	case errors.As(msg.err, &wp):
		s.retries = wp.Retries
		s.err = fmt.Sprintf("✗ Wrong PIN: %d tries left. Type it again slowly.", wp.Retries)
	default:
		s.err = strings.ReplaceAll(refusalLong(s.signers[s.signed].Serial, msg.err), "nothing was counted", "not signed")
	}
	return nil
}

func (s *signScreen) view() string {
	st := s.e.st
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %d of %d signed\n", st.Title.Render("Signatures"), s.signed, len(s.signers))
	for i, c := range s.signers {
		switch {
		case i < s.signed:
			fmt.Fprintf(&b, "  %s %-16s key %d  signed\n", st.Pass.Render("✓"), c.Name, c.Serial)
		case i == s.signed:
			fmt.Fprintf(&b, "  ▶ %-16s key %d  signing now\n", c.Name, c.Serial)
		default:
			fmt.Fprintf(&b, "  · %-16s key %d  waiting\n", c.Name, c.Serial)
		}
	}
	if s.signing() {
		b.WriteString("\n" + s.pin.view(!s.op.pending && !s.guard, s.w) + "\n")
	}
	if s.guard {
		b.WriteString("\n" + st.Warning.Render("! Only 1 PIN try left. A wrong PIN now BLOCKS this YubiKey.") +
			"\n  Press y to use the last try, or esc to stop.\n")
	}
	if l := s.op.view(st, "Signing…"); l != "" {
		b.WriteString("\n" + l + "\n")
	}
	if !s.signing() {
		b.WriteString("\n" + s.dir.view(s.files == nil && !s.working, s.w) + "\n")
	}
	if s.working {
		b.WriteString("Writing the report…\n")
	}
	if s.files != nil {
		b.WriteString("\n" + st.Pass.Render("✓ Written:") + "\n" + filesView(s.files))
	}
	if s.err != "" {
		b.WriteString("\n" + st.Error.Render(s.err))
	}
	return b.String()
}

// filesView lists exported files with their SHA-256.
func filesView(files []ExportedFile) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "  %s\n    sha256 %s\n", f.Path, f.SHA256)
	}
	return b.String()
}
