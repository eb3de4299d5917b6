package ui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// RunbookEngine is what the runbook screen needs: the steps, the calls that
// record progress on them, and (for step confirmations on a custodian's own
// key) the quorum and the PIN path.
type RunbookEngine interface {
	PINEngine
	// Quorum reports the counted custodians: a confirmation is signed on the
	// key a custodian was counted with.
	Quorum() QuorumState
	// Steps returns the runbook steps with their current state.
	Steps() []StepView
	// Current is the index of the step the operator must do now
	// (len(Steps()) when every step is done or skipped).
	Current() int
	// Tick records check number check of step as done (toggling is not allowed:
	// a recorded tick stays recorded).
	Tick(step, check int) error
	// Answer records evidence number evidence of step.
	Answer(step, evidence int, text string) error
	// Confirm records that custodian (by roster name) confirms step, proven
	// on the custodian's own key: PIN, then touch; it may block. Errors
	// wrap *WrongPINError, ErrPINBlocked, ErrLastPINTry or ErrKeyRemoved.
	Confirm(ctx context.Context, step int, custodian, pin string) error
	// Complete finishes step; it fails if checks, evidence or confirmations
	// are missing.
	Complete(step int) error
	// Skip skips step with a recorded reason.
	Skip(step int, reason string) error
}

// runbookDoneMsg is sent by the runbook screen when every step is completed
// or skipped: the root moves on to the close-out.
type runbookDoneMsg struct{}

type itemKind int

const (
	itemCheck itemKind = iota
	itemEvidence
	itemConfirm
	itemSecret
)

// item is one selectable line of the current step.
type item struct {
	kind itemKind
	idx  int
}

// runbookScreen walks the operator through the steps in order.
type runbookScreen struct {
	e      *env
	eng    RunbookEngine
	steps  []StepView
	cur    int
	items  []item
	cursor int
	edit   *field // evidence being typed
	// skipping asks for the word "skip" before skip (the reason) opens,
	// empty: nothing typed before it reaches the reason.
	skipping *gate
	skip     *field
	// confirm is the PIN prompt of the custodian confirming the step
	// (confirmWho) on their own key; op tracks the signature.
	confirm    *pinPrompt
	confirmWho string
	scan       keyScan
	op         hwOp
	scroll     int
	secrets    secretsPanel
	err        string
	w, h       int
}

func newRunbook(e *env, eng RunbookEngine, rev RevealEngine) *runbookScreen {
	s := &runbookScreen{e: e, eng: eng, secrets: newSecretsPanel(e, rev)}
	s.reload()
	if it, ok := s.missing(); ok { // start on the first thing to do
		s.cursor = indexOf(s.items, it)
	}
	return s
}

func (s *runbookScreen) title() string {
	return fmt.Sprintf("Runbook — step %d of %d", min(s.cur+1, len(s.steps)), len(s.steps))
}
func (s *runbookScreen) setSize(w, h int) { s.w, s.h = w, h }
func (s *runbookScreen) typing() bool {
	return s.edit != nil || s.skip != nil || s.skipping != nil || (s.confirm != nil && !s.op.pending)
}
func (s *runbookScreen) init() tea.Cmd { return s.doneCmd() }

// reload refreshes the steps from the engine after a recorded change.
func (s *runbookScreen) reload() {
	prev := s.cur
	s.steps, s.cur = s.eng.Steps(), s.eng.Current()
	if s.cur != prev {
		s.secrets.hideAll()
		s.cursor, s.scroll = 0, 0
	}
	s.items = s.items[:0]
	if s.cur >= len(s.steps) {
		return
	}
	st := s.steps[s.cur]
	// The credentials first: they are what the checks below are done with.
	for i := range st.Secrets {
		s.items = append(s.items, item{itemSecret, i})
	}
	for i := range st.Checks {
		s.items = append(s.items, item{itemCheck, i})
	}
	for i := range st.Evidence {
		s.items = append(s.items, item{itemEvidence, i})
	}
	for i := range st.Confirmers {
		s.items = append(s.items, item{itemConfirm, i})
	}
	if s.cursor >= len(s.items) {
		s.cursor = 0
	}
}

func (s *runbookScreen) doneCmd() tea.Cmd {
	if s.cur >= len(s.steps) {
		return func() tea.Msg { return runbookDoneMsg{} }
	}
	return nil
}

// missing returns the first item still to do on the current step.
func (s *runbookScreen) missing() (item, bool) {
	if s.cur >= len(s.steps) {
		return item{}, false
	}
	st := s.steps[s.cur]
	for _, it := range s.items {
		switch {
		case it.kind == itemCheck && !st.Checks[it.idx].Done,
			it.kind == itemEvidence && strings.TrimSpace(st.Evidence[it.idx].Answer) == "",
			it.kind == itemConfirm && !contains(st.Confirmed, st.Confirmers[it.idx]):
			return it, true
		}
	}
	return item{}, false
}

func (s *runbookScreen) next() string {
	switch {
	case s.cur >= len(s.steps):
		return "every step is done: wait for the close-out"
	case s.edit != nil:
		return "type the evidence and press enter to record it (esc cancels)"
	case s.skipping != nil:
		return s.skipping.next()
	case s.skip != nil:
		return "type why this step is skipped and press enter (esc cancels)"
	case s.op.pending && s.op.touch:
		return s.confirmWho + ": touch the YubiKey now — its light is blinking"
	case s.op.pending:
		return "wait while " + s.confirmWho + "'s key signs the confirmation"
	case s.confirm != nil:
		return s.confirm.next("touch your key (esc cancels)")
	}
	st := s.steps[s.cur]
	if it, ok := s.missing(); ok {
		switch it.kind {
		case itemCheck:
			return fmt.Sprintf("do %q, then select it and press space to tick", st.Checks[it.idx].Text)
		case itemEvidence:
			return fmt.Sprintf("record %q: select it and press enter", st.Evidence[it.idx].Prompt)
		default:
			return fmt.Sprintf("%s must confirm on their key: select their line and press c", st.Confirmers[it.idx])
		}
	}
	return fmt.Sprintf("press n to complete step %d %q", s.cur+1, st.Title)
}

func (s *runbookScreen) selectedItem() (item, bool) {
	if s.cursor < len(s.items) {
		return s.items[s.cursor], true
	}
	return item{}, false
}

func (s *runbookScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	if s.op.pending {
		return nil
	}
	if s.skipping != nil {
		return s.skipping.help(k)
	}
	if s.confirm != nil {
		if s.confirm.guarding() {
			return s.confirm.help(k, "")
		}
		return append(s.confirm.help(k, "sign with the key"), k.Back)
	}
	if s.typing() {
		return []key.Binding{withHelp(k.Enter, "record"), k.Back}
	}
	b := []key.Binding{k.Up, k.Down}
	if it, ok := s.selectedItem(); ok {
		switch it.kind {
		case itemCheck:
			b = append(b, k.Toggle)
		case itemEvidence:
			b = append(b, withHelp(k.Enter, "record evidence"))
		case itemConfirm:
			b = append(b, k.Confirm)
		case itemSecret:
			b = append(b, k.Reveal)
		}
	}
	if _, missing := s.missing(); !missing {
		b = append(b, withHelp(k.Next, "complete step"))
	}
	return append(b, k.Skip)
}

func (s *runbookScreen) FullHelp() [][]key.Binding {
	k := s.e.keys
	return [][]key.Binding{
		{k.Up, k.Down, k.ScrollUp, k.ScrollDown},
		{k.Toggle, withHelp(k.Enter, "record evidence"), k.Confirm, k.Reveal},
		{withHelp(k.Next, "complete step"), k.Skip},
	}
}

func (s *runbookScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if s.typing() {
			return s.fieldKey(msg)
		}
		return s.key(msg)
	case tea.PasteMsg:
		switch {
		case s.confirm != nil && !s.op.pending:
			s.confirm.update(s.e, s.eng, msg)
		case s.edit != nil:
			s.edit.update(msg)
		case s.skip != nil:
			s.skip.update(msg)
		}
	case hwResult[struct{}]:
		return s.onConfirmed(msg)
	case keysMsg:
		s.scan.arrived()
		if s.op.keysChanged(msg.keys) {
			s.err = hwRefusal(s.op.serial, ErrKeyRemoved, s.confirmWho+" did not confirm")
		}
		if s.confirm != nil {
			s.confirm.seen(msg.keys)
		}
	case tickMsg:
		if s.confirm != nil || s.op.pending {
			return tea.Batch(s.scan.start(s.e, s.eng), s.secrets.update(msg))
		}
		return s.secrets.update(msg)
	case touchMsg, spinMsg:
		if s.op.pending {
			return s.op.update(s.e, msg)
		}
		return s.secrets.update(msg)
	default:
		return s.secrets.update(msg)
	}
	return nil
}

func (s *runbookScreen) fieldKey(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	switch {
	case s.skipping != nil:
		switch s.skipping.update(k, msg) {
		case gateYes:
			s.skipping = nil
			s.skip = &field{label: "Reason for skipping", max: 500}
		case gateNo:
			s.skipping = nil
		}
		return nil
	case s.confirm != nil:
		switch s.confirm.update(s.e, s.eng, msg) {
		case pinCancel:
			s.confirm = nil
		case pinSubmit:
			return s.startConfirm()
		}
		return nil
	}
	f := s.skip
	if s.edit != nil {
		f = s.edit
	}
	switch {
	case key.Matches(msg, k.Back):
		s.edit, s.skip = nil, nil
	case key.Matches(msg, k.Enter):
		if f.empty() {
			s.err = "Type something first, or press esc."
			return nil
		}
		text := strings.TrimSpace(f.String())
		if s.edit != nil {
			it, _ := s.selectedItem()
			return s.record(s.eng.Answer(s.cur, it.idx, text), "record the evidence")
		}
		s.secrets.hideAll()
		return s.record(s.eng.Skip(s.cur, text), "skip the step")
	default:
		f.update(msg)
	}
	return nil
}

// record reloads after a journaled change, or shows why it failed.
func (s *runbookScreen) record(err error, what string) tea.Cmd {
	if err != nil {
		s.err = fmt.Sprintf("Could not %s: %v. Nothing recorded was lost; fix it and try again.", what, err)
		return nil
	}
	s.err, s.edit, s.skip = "", nil, nil
	s.reload()
	if s.cur >= len(s.steps) {
		return s.doneCmd()
	}
	if it, ok := s.missing(); ok {
		s.cursor = indexOf(s.items, it)
	}
	return nil
}

func (s *runbookScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	if s.cur >= len(s.steps) || s.op.pending { // nothing else while a key signs
		return nil
	}
	it, ok := s.selectedItem()
	st := s.steps[s.cur]
	switch {
	case key.Matches(msg, k.Up):
		s.cursor = max(s.cursor-1, 0)
	case key.Matches(msg, k.Down):
		s.cursor = min(s.cursor+1, max(len(s.items)-1, 0))
	case key.Matches(msg, k.ScrollUp):
		s.scroll = max(s.scroll-5, 0)
	case key.Matches(msg, k.ScrollDown):
		s.scroll += 5
	case ok && it.kind == itemCheck && key.Matches(msg, k.Toggle, k.Enter):
		if !st.Checks[it.idx].Done {
			return s.record(s.eng.Tick(s.cur, it.idx), "record the tick")
		}
	case ok && it.kind == itemEvidence && key.Matches(msg, k.Enter):
		s.edit = &field{label: st.Evidence[it.idx].Prompt, max: 2000}
		s.edit.value = []rune(st.Evidence[it.idx].Answer)
	case ok && it.kind == itemConfirm && key.Matches(msg, k.Confirm):
		if !contains(st.Confirmed, st.Confirmers[it.idx]) {
			return s.openConfirm(st.Confirmers[it.idx])
		}
	case ok && it.kind == itemSecret && key.Matches(msg, k.Reveal):
		return s.secrets.toggle(s.cur, st.Secrets[it.idx])
	case key.Matches(msg, k.Next):
		// One key, no gate: a step completes only once every check is
		// ticked, every evidence recorded and every confirmer has confirmed,
		// each a deliberate act; completing is what comes next, reveals and
		// skips nothing, and a word per step would tax every step. A stray
		// n before that only says what is missing.
		if m, missing := s.missing(); missing {
			s.cursor = indexOf(s.items, m)
			s.err = "Not yet: " + s.next() + "."
			return nil
		}
		return s.record(s.eng.Complete(s.cur), "complete the step")
	case key.Matches(msg, k.Skip):
		s.skipping = newGate("skip", fmt.Sprintf("skip step %d", s.cur+1))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func indexOf(items []item, it item) int {
	for i, x := range items {
		if x == it {
			return i
		}
	}
	return 0
}

// openConfirm opens the PIN prompt of who, for the key they were counted
// with, and reads its retries.
func (s *runbookScreen) openConfirm(who string) tea.Cmd {
	var serial uint32
	for _, c := range s.eng.Quorum().Counted {
		if c.Name == who {
			serial = c.Serial
		}
	}
	if serial == 0 {
		s.err = "✗ " + who + " is not in the current quorum: only a counted custodian can confirm."
		return nil
	}
	s.confirmWho, s.err = who, ""
	s.confirm = newPINPrompt(who, serial, -1)
	return s.scan.start(s.e, s.eng)
}

// startConfirm has the custodian's key sign the confirmation (PIN, touch).
func (s *runbookScreen) startConfirm() tea.Cmd {
	serial, pin := s.confirm.serial, s.confirm.take()
	eng, step, who := s.eng, s.cur, s.confirmWho
	return launch(&s.op, s.e, serial, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, eng.Confirm(ctx, step, who, pin)
	})
}

func (s *runbookScreen) onConfirmed(msg hwResult[struct{}]) tea.Cmd {
	if !s.op.finish(msg.op) || s.confirm == nil {
		return nil
	}
	if msg.err != nil {
		s.confirm.err = s.confirm.failed(msg.err, s.confirmWho+" did not confirm")
		return nil
	}
	s.confirm = nil
	return s.record(nil, "")
}
