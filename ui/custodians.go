package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// QuorumEngine is what the custodians screen needs: the quorum so far, the
// inserted keys (PINEngine) and the call that counts a custodian.
type QuorumEngine interface {
	PINEngine
	// Quorum reports the custodians counted so far.
	Quorum() QuorumState
	// AddCustodian verifies the PIN, attestation and slot key of the key with
	// this serial (the custodian touches it) and counts its custodian. Errors
	// wrap ErrNotOnRoster, ErrAlreadyCounted, ErrAttestationFailed,
	// ErrWrongSlotKey, ErrKeyRemoved, ErrPINBlocked, ErrLastPINTry or
	// *WrongPINError.
	AddCustodian(ctx context.Context, serial uint32, pin string) (QuorumState, error)
	// Fingerprint is the vault's short fingerprint, shown before any PIN is
	// typed so custodians can compare it with their printed card.
	Fingerprint() string
}

// quorumMetMsg is sent by the custodians screen when the quorum is reached:
// the root opens the runbook (or returns to it after re-authorisation).
type quorumMetMsg struct{ q QuorumState }

// custodiansScreen counts custodians: insert key, PIN, touch.
type custodiansScreen struct {
	e      *env
	eng    QuorumEngine
	reauth bool
	q      QuorumState
	keys   []KeySeen
	scan   keyScan
	cursor int
	pin    *pinPrompt // for the selected key, when it can be used
	op     hwOp
	notice string // last outcome, good or bad
	bad    bool
	w, h   int
}

func newCustodians(e *env, eng QuorumEngine, reauth bool) *custodiansScreen {
	return &custodiansScreen{e: e, eng: eng, reauth: reauth, q: eng.Quorum()}
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
func (s *custodiansScreen) typing() bool     { return s.pin != nil && !s.op.pending }
func (s *custodiansScreen) init() tea.Cmd    { return s.scan.start(s.e, s.eng) }

// selected is the key the PIN is for: the one under the cursor, when usable.
func (s *custodiansScreen) selected() (KeySeen, bool) {
	if s.cursor >= len(s.keys) {
		return KeySeen{}, false
	}
	k := s.keys[s.cursor]
	return k, k.Refusal == nil && k.Custodian != ""
}

// follow points the PIN prompt at the selected key, a fresh one when the key
// changed (a PIN typed for one key never goes to another).
func (s *custodiansScreen) follow() {
	k, ok := s.selected()
	switch {
	case !ok:
		s.pin = nil
	case s.pin == nil || s.pin.serial != k.Serial:
		s.pin = newPINPrompt(k.Custodian, k.Serial, k.PINRetries)
	default:
		s.pin.seen(s.keys)
	}
}

func (s *custodiansScreen) next() string {
	k, _ := s.selected()
	switch {
	case s.op.pending && s.op.touch:
		return "touch the YubiKey now — its light is blinking"
	case s.op.pending:
		return "wait while the key is checked"
	case !s.scan.done:
		return "wait for the key scan"
	case len(s.keys) == 0:
		return fmt.Sprintf("custodian %d of %d: insert your YubiKey", s.q.Have+1, s.q.Need)
	case s.pin == nil:
		return fmt.Sprintf("remove key %d (%s) and insert an enrolled custodian's key", k.Serial, refusalShort(k))
	}
	return s.pin.next("touch the key")
}

func (s *custodiansScreen) ShortHelp() []key.Binding {
	k := s.e.keys
	switch {
	case s.op.pending:
		return nil
	case s.pin != nil && s.pin.guarding():
		return s.pin.help(k, "")
	case s.pin != nil:
		return append(s.pin.help(k, "check PIN"), withHelp(k.FieldDown, "other key"))
	}
	return []key.Binding{k.Refresh, k.Down}
}

func (s *custodiansScreen) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *custodiansScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tickMsg:
		return s.scan.start(s.e, s.eng) // removal is noticed here, also during a check
	case keysMsg:
		s.onKeys(msg)
	case hwResult[QuorumState]:
		return s.onResult(msg)
	case touchMsg, spinMsg:
		return s.op.update(s.e, msg)
	case tea.PasteMsg:
		if s.typing() {
			s.pin.update(s.e, s.eng, msg)
		}
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return nil
}

func (s *custodiansScreen) onKeys(msg keysMsg) {
	s.scan.arrived()
	if msg.err != nil {
		s.keys, s.pin = nil, nil // a list that cannot be refreshed is not shown as current
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
	typed := s.pin != nil && (!s.pin.in.empty() || s.pin.guarding())
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
	if prev != 0 && !s.present(prev) && typed {
		s.notice, s.bad = fmt.Sprintf("Key %d was removed — nothing was counted. Insert it again to retry.", prev), true
	}
	if s.op.keysChanged(s.keys) {
		s.notice, s.bad = fmt.Sprintf("Key %d was removed during the check — cancelled, nothing was counted. Insert it again.", s.op.serial), true
	}
	s.follow()
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
	case s.pin != nil && s.pin.guarding():
		return s.act(s.pin.update(s.e, s.eng, msg))
	case key.Matches(msg, k.FieldDown) || (s.pin == nil && key.Matches(msg, k.Down)):
		if len(s.keys) > 0 {
			s.cursor = (s.cursor + 1) % len(s.keys)
			s.pin = nil
			s.follow()
		}
	case s.pin == nil && key.Matches(msg, k.Refresh):
		return s.scan.start(s.e, s.eng)
	case s.pin != nil:
		return s.act(s.pin.update(s.e, s.eng, msg))
	}
	return nil
}

// act runs AddCustodian when the prompt submits its PIN.
func (s *custodiansScreen) act(a pinAction) tea.Cmd {
	if a != pinSubmit {
		return nil
	}
	serial, pin := s.pin.serial, s.pin.take()
	s.notice = ""
	eng := s.eng
	return launch(&s.op, s.e, serial, func(ctx context.Context) (QuorumState, error) {
		return eng.AddCustodian(ctx, serial, pin)
	})
}

func (s *custodiansScreen) onResult(msg hwResult[QuorumState]) tea.Cmd {
	if !s.op.finish(msg.op) {
		return nil
	}
	if msg.err != nil {
		s.notice, s.bad = hwRefusal(msg.serial, msg.err, "nothing was counted"), true
		if s.pin != nil && s.pin.serial == msg.serial {
			s.notice = s.pin.failed(msg.err, "nothing was counted")
			s.setRetries(msg.serial, s.pin.retries)
		}
		return nil
	}
	s.q = msg.val
	name := ""
	if n := len(msg.val.Counted); n > 0 {
		name = msg.val.Counted[n-1].Name
	}
	s.notice, s.bad = fmt.Sprintf("✓ %s counted (key %d). Remove the key.", name, msg.serial), false
	// The counted key is refused at once, not after the next scan: a PIN
	// typed meanwhile must never go to it (found under tmux).
	s.markCounted(msg.serial)
	if s.q.Met() {
		q := s.q
		return func() tea.Msg { return quorumMetMsg{q: q} }
	}
	return s.scan.start(s.e, s.eng)
}

// markCounted refuses the key with serial as already counted and moves the
// cursor to a key that can still be used.
func (s *custodiansScreen) markCounted(serial uint32) {
	s.pin = nil
	defer s.follow()
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

func (s *custodiansScreen) view() string {
	st := s.e.st
	var b strings.Builder
	if s.reauth {
		b.WriteString(st.Warning.Render("! Secrets are locked: present keys again to go on with the runbook.") + "\n")
	}
	fmt.Fprintf(&b, "%s %s · check it matches your card\n\n",
		st.Title.Render("Vault fingerprint"), s.eng.Fingerprint())
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
	if s.pin != nil {
		b.WriteString("\n" + s.pin.view(st, !s.op.pending, s.w) + "\n")
		if s.pin.err != "" {
			b.WriteString(st.Error.Render(s.pin.err) + "\n")
		}
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
