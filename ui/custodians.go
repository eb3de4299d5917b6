package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// keysMsg carries the result of Engine.ConnectedKeys.
type keysMsg struct {
	keys []KeySeen
	err  error
}

// custodianResultMsg carries the result of Engine.AddCustodian for operation op.
type custodianResultMsg struct {
	op     int
	serial uint32
	q      QuorumState
	err    error
}

// quorumMetMsg is sent by the custodians screen when the quorum is reached:
// the root opens the runbook (or returns to it after re-authorisation).
type quorumMetMsg struct{ q QuorumState }

// custodiansScreen counts custodians: insert key, PIN, touch.
type custodiansScreen struct {
	e        *env
	reauth   bool
	q        QuorumState
	keys     []KeySeen
	scanned  bool
	scanning bool
	cursor   int
	pin      field
	guard    bool // last-retry confirmation showing
	op       hwOp
	opKey    uint32
	notice   string // last outcome, good or bad
	bad      bool
	w, h     int
}

func newCustodians(e *env, reauth bool) *custodiansScreen {
	return &custodiansScreen{e: e, reauth: reauth, q: e.eng.Quorum(),
		pin: field{label: "PIN", masked: true, max: 8}}
}

func (s *custodiansScreen) title() string {
	switch {
	case s.reauth && s.e.opts.Start == StartReauthorise:
		return "Re-authorise — resumed session"
	case s.reauth:
		return "Re-authorise — unlock window expired"
	}
	return "Custodians"
}
func (s *custodiansScreen) setSize(w, h int) { s.w, s.h = w, h }
func (s *custodiansScreen) typing() bool     { _, ok := s.selected(); return ok && !s.op.pending }
func (s *custodiansScreen) init() tea.Cmd    { return s.scan() }

// scan lists the inserted keys, one listing at a time.
func (s *custodiansScreen) scan() tea.Cmd {
	if s.scanning {
		return nil
	}
	s.scanning = true
	e := s.e
	return func() tea.Msg {
		k, err := e.eng.ConnectedKeys(e.ctx)
		return keysMsg{keys: k, err: err}
	}
}

// selected is the key the PIN is for: the one under the cursor, when usable.
func (s *custodiansScreen) selected() (KeySeen, bool) {
	if s.cursor >= len(s.keys) {
		return KeySeen{}, false
	}
	k := s.keys[s.cursor]
	return k, k.Refusal == nil && k.Custodian != ""
}

func (s *custodiansScreen) next() string {
	k, ok := s.selected()
	switch {
	case s.op.pending && s.op.touch:
		return "touch the YubiKey now — its light is blinking"
	case s.op.pending:
		return "wait while the key is checked"
	case s.guard:
		return "ONE PIN try left on this key: press y to try it anyway, esc to stop"
	case !s.scanned:
		return "wait for the key scan"
	case len(s.keys) == 0:
		return fmt.Sprintf("custodian %d of %d: insert your YubiKey", s.q.Have+1, s.q.Need)
	case !ok:
		return fmt.Sprintf("remove key %d (%s) and insert an enrolled custodian's key", k.Serial, refusalShort(k))
	}
	return fmt.Sprintf("%s: type your PIN and press enter, then touch the key", k.Custodian)
}

func (s *custodiansScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	switch {
	case s.op.pending:
		return nil
	case s.guard:
		return []key.Binding{withHelp(k.Yes, "try the last PIN"), withHelp(k.Back, "stop")}
	case s.typing():
		return []key.Binding{withHelp(k.Enter, "check PIN"), withHelp(k.FieldDown, "other key")}
	}
	return []key.Binding{k.Refresh, k.Down}
}

func (s *custodiansScreen) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *custodiansScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tickMsg:
		return s.scan() // removal is noticed here, also during a check
	case keysMsg:
		s.onKeys(msg)
	case custodianResultMsg:
		return s.onResult(msg)
	case touchWaitMsg, spinMsg:
		return s.op.update(s.e, msg)
	case tea.PasteMsg:
		if s.typing() && !s.guard {
			s.pin.update(msg)
		}
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return nil
}

func (s *custodiansScreen) onKeys(msg keysMsg) {
	s.scanned, s.scanning = true, false
	if msg.err != nil {
		s.keys = nil // a list that cannot be refreshed is not shown as current
		s.notice, s.bad = fmt.Sprintf("✗ Cannot list YubiKeys: %v. Is the PC/SC service (pcscd) running?", msg.err), true
		return
	}
	if strings.HasPrefix(s.notice, "✗ Cannot list YubiKeys") {
		s.notice, s.bad = "", false
	}
	var prev uint32
	if k, ok := s.cur(); ok {
		prev = k.Serial
	}
	s.keys = msg.keys
	s.cursor = 0
	for i, k := range s.keys {
		if k.Serial == prev {
			s.cursor = i
		}
	}
	if _, ok := s.selected(); !ok {
		// Prefer a usable key over a refused one under the cursor.
		for i, k := range s.keys {
			if k.Refusal == nil && k.Custodian != "" {
				s.cursor = i
				break
			}
		}
	}
	if prev != 0 && !s.present(prev) && (!s.pin.empty() || s.guard) {
		s.pin.reset()
		s.guard = false
		s.notice, s.bad = fmt.Sprintf("Key %d was removed — nothing was counted. Insert it again to retry.", prev), true
	}
	if s.op.pending && !s.present(s.opKey) {
		s.op.abort()
		s.notice, s.bad = fmt.Sprintf("Key %d was removed during the check — cancelled, nothing was counted. Insert it again.", s.opKey), true
	}
}

func (s *custodiansScreen) cur() (KeySeen, bool) {
	if s.cursor < len(s.keys) {
		return s.keys[s.cursor], true
	}
	return KeySeen{}, false
}

func (s *custodiansScreen) present(serial uint32) bool {
	for _, k := range s.keys {
		if k.Serial == serial {
			return true
		}
	}
	return false
}

func (s *custodiansScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := s.e.keys
	switch {
	case s.op.pending:
	case s.guard:
		switch {
		case key.Matches(msg, k.Yes):
			s.guard = false
			return s.try()
		case key.Matches(msg, k.Back):
			s.guard = false
			s.pin.reset()
			s.notice, s.bad = "Stopped: the last PIN try was not used.", false
		}
	case key.Matches(msg, k.FieldDown) || (!s.typing() && key.Matches(msg, k.Down)):
		if len(s.keys) > 0 {
			s.cursor = (s.cursor + 1) % len(s.keys)
			s.pin.reset()
		}
	case !s.typing() && key.Matches(msg, k.Refresh):
		return s.scan()
	case s.typing() && key.Matches(msg, k.Enter):
		sel, _ := s.selected()
		if s.pin.empty() {
			s.notice, s.bad = "Type the PIN first.", true
			return nil
		}
		if sel.PINRetries == 1 {
			s.guard = true
			return nil
		}
		return s.try()
	case s.typing():
		s.pin.update(msg)
	}
	return nil
}

// try runs AddCustodian on the selected key as a command.
func (s *custodiansScreen) try() tea.Cmd {
	sel, _ := s.selected()
	pin := s.pin.String()
	s.pin.reset()
	ctx, cancel := context.WithCancel(s.e.ctx)
	id := s.e.nextOp()
	s.opKey, s.notice = sel.Serial, ""
	eng := s.e.eng
	run := func() tea.Msg {
		q, err := eng.AddCustodian(ctx, sel.Serial, pin)
		return custodianResultMsg{op: id, serial: sel.Serial, q: q, err: err}
	}
	return tea.Batch(s.op.start(s.e, id, cancel), run)
}

func (s *custodiansScreen) onResult(msg custodianResultMsg) tea.Cmd {
	if !s.op.finish(msg.op) {
		return nil
	}
	var wp *WrongPINError
	switch {
	case msg.err == nil:
		s.q = msg.q
		name := ""
		if n := len(msg.q.Counted); n > 0 {
			name = msg.q.Counted[n-1].Name
		}
		s.notice, s.bad = fmt.Sprintf("✓ %s counted (key %d). Remove the key.", name, msg.serial), false
		// The counted key is refused at once, not after the next scan: a PIN
		// typed meanwhile must never go to it (found under tmux).
		s.markCounted(msg.serial)
		if s.q.Met() {
			q := s.q
			return func() tea.Msg { return quorumMetMsg{q: q} }
		}
		return s.scan()
	case errors.As(msg.err, &wp):
		s.setRetries(msg.serial, wp.Retries)
		s.notice = fmt.Sprintf("✗ Wrong PIN for key %d: %d tries left. Type it again slowly.", msg.serial, wp.Retries)
	default:
		s.notice = refusalLong(msg.serial, msg.err)
	}
	s.bad = true
	return nil
}

// markCounted refuses the key with serial as already counted and moves the
// cursor to a key that can still be used.
func (s *custodiansScreen) markCounted(serial uint32) {
	s.pin.reset()
	for i := range s.keys {
		if s.keys[i].Serial == serial {
			s.keys[i].Refusal = ErrAlreadyCounted
		}
	}
	for i, k := range s.keys {
		if k.Refusal == nil && k.Custodian != "" {
			s.cursor = i
			return
		}
	}
}

func (s *custodiansScreen) setRetries(serial uint32, n int) {
	for i := range s.keys {
		if s.keys[i].Serial == serial {
			s.keys[i].PINRetries = n
		}
	}
}

// refusalShort is the reason a listed key is refused, in a few words.
func refusalShort(k KeySeen) string {
	switch {
	case errors.Is(k.Refusal, ErrAlreadyCounted):
		return "already counted"
	case errors.Is(k.Refusal, ErrAttestationFailed):
		return "attestation failed"
	case errors.Is(k.Refusal, ErrWrongSlotKey):
		return "wrong slot key"
	case errors.Is(k.Refusal, ErrPINBlocked):
		return "PIN blocked"
	case errors.Is(k.Refusal, ErrNotOnRoster), k.Custodian == "":
		return "not on roster"
	}
	return "refused"
}

// refusalLong says what happened, and what to do, for an AddCustodian error.
func refusalLong(serial uint32, err error) string {
	switch {
	case errors.Is(err, ErrNotOnRoster):
		return fmt.Sprintf("✗ Key %d is not on the custodian roster. Only enrolled custodians' keys count.", serial)
	case errors.Is(err, ErrAlreadyCounted):
		return "✗ This custodian is already counted. The next custodian must insert their own key."
	case errors.Is(err, ErrAttestationFailed):
		return fmt.Sprintf("✗ Key %d failed attestation: not a genuine enrolled YubiKey. Do not use it; tell security.", serial)
	case errors.Is(err, ErrWrongSlotKey):
		return fmt.Sprintf("✗ The slot key on key %d does not match the roster. Use the enrolled key.", serial)
	case errors.Is(err, ErrKeyRemoved), errors.Is(err, context.Canceled):
		return fmt.Sprintf("Key %d was removed — cancelled, nothing was counted. Insert it again.", serial)
	case errors.Is(err, ErrPINBlocked):
		return fmt.Sprintf("✗ The PIN of key %d is blocked. Unblock it with the PUK (ykman piv access unblock-pin).", serial)
	}
	return fmt.Sprintf("✗ Could not check key %d: %v. Re-insert it and try again.", serial, err)
}

func (s *custodiansScreen) view() string {
	st := s.e.st
	var b strings.Builder
	if s.reauth {
		b.WriteString(st.Warning.Render("! Secrets are locked: present keys again to go on with the runbook.") + "\n")
	}
	fmt.Fprintf(&b, "%s %s · check it matches your card\n\n",
		st.Title.Render("Vault fingerprint"), s.e.eng.Fingerprint())
	fmt.Fprintf(&b, "%s  %d of %d counted\n", st.Title.Render("Quorum"), s.q.Have, s.q.Need)
	for _, c := range s.q.Counted {
		fmt.Fprintf(&b, "  %s %-16s key %d\n", st.Pass.Render("✓"), c.Name, c.Serial)
	}
	if len(s.q.Remaining) > 0 {
		fmt.Fprintf(&b, "  · waiting for any %d of: %s\n", s.q.Need-s.q.Have, strings.Join(s.q.Remaining, ", "))
	}
	b.WriteString("\n" + st.Title.Render("Inserted keys") + "\n")
	if len(s.keys) == 0 {
		b.WriteString("  (none) — insert a custodian YubiKey\n")
	}
	for i, k := range s.keys {
		mark := "  "
		if i == s.cursor {
			mark = "› "
		}
		who := k.Custodian
		switch {
		case errors.Is(k.Refusal, ErrAlreadyCounted):
			who = st.Pass.Render("✓ ") + who + " · counted — remove this key"
		case k.Refusal != nil || who == "":
			who = st.Fail.Render("✗ refused: " + refusalShort(k))
		default:
			who = st.Pass.Render("✓ ") + who + fmt.Sprintf(" · PIN tries left %d", k.PINRetries)
		}
		fmt.Fprintf(&b, "%skey %d  %s\n", mark, k.Serial, who)
		if i == s.cursor && k.Reader != "" {
			fmt.Fprintf(&b, "    %s\n", st.Muted.Render("reader: "+k.Reader))
		}
	}
	if sel, ok := s.selected(); ok {
		b.WriteString("\n" + sel.Custodian + fmt.Sprintf(" (key %d)\n", sel.Serial))
		b.WriteString(s.pin.view(!s.op.pending && !s.guard, s.w) + "\n")
	}
	if s.guard {
		b.WriteString("\n" + st.Warning.Render("! Only 1 PIN try left. A wrong PIN now BLOCKS this YubiKey.") +
			"\n  Press y to use the last try, or esc to stop and check the PIN.\n")
	}
	if l := s.op.view(st, "Checking the key…"); l != "" {
		b.WriteString("\n" + l + "\n")
	}
	if s.notice != "" {
		style := st.Pass
		if s.bad {
			style = st.Error
		}
		b.WriteString("\n" + style.Render(s.notice))
	}
	return b.String()
}
