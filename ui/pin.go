package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// PINEngine is what every PIN prompt needs (custodians, step confirmations,
// report signing): the inserted keys with their PIN retries, and the one way
// the engine learns that a custodian chose to spend a key's last PIN try.
type PINEngine interface {
	// ConnectedKeys lists the YubiKeys currently inserted, with the PIN
	// retries each one has left.
	ConnectedKeys(ctx context.Context) ([]KeySeen, error)
	// ConfirmLastPINTry journals that the custodian of the key with this
	// serial explicitly confirmed, on screen, using its last PIN try. It
	// allows exactly the next PIN operation on that key (AddCustodian,
	// Confirm or Sign); without it such an operation on a key with one try
	// left must fail with ErrLastPINTry before the PIN is sent. It is
	// called from Update, so it must return quickly.
	ConfirmLastPINTry(serial uint32) error
}

// keysMsg carries the result of PINEngine.ConnectedKeys.
type keysMsg struct {
	keys []KeySeen
	err  error
}

// keyScan lists the inserted keys, one listing at a time. A listing whose
// result went to another screen (the screen changed meanwhile) is given up
// after scanGiveUp, so a screen that comes back scans again.
type keyScan struct {
	running bool
	started time.Time
	done    bool // at least one listing arrived
}

const scanGiveUp = 5 * time.Second

func (k *keyScan) start(e *env, eng PINEngine) tea.Cmd {
	if k.running && e.now.Sub(k.started) < scanGiveUp {
		return nil
	}
	k.running, k.started = true, e.now
	ctx := e.ctx
	return func() tea.Msg {
		keys, err := eng.ConnectedKeys(ctx)
		return keysMsg{keys: keys, err: err}
	}
}

func (k *keyScan) arrived() { k.running, k.done = false, true }

// pinAction is what a key did to a PIN prompt.
type pinAction int

const (
	pinTyping pinAction = iota // nothing to do yet
	pinSubmit                  // send the PIN (take it with take)
	pinCancel                  // esc: the screen closes the prompt
)

// pinPrompt is the one PIN widget: whose key it is, the retries it has left,
// the masked field, and the last-try gate. With exactly one try left it
// refuses to submit until the custodian types the gate word; that
// confirmation is journaled through PINEngine.ConfirmLastPINTry before the
// PIN goes anywhere.
type pinPrompt struct {
	who       string
	serial    uint32
	retries   int  // -1: not known yet
	present   bool // the key was seen in the last scan
	in        field
	last      *gate // the last-try confirmation, when open
	confirmed bool  // ConfirmLastPINTry recorded for the next try
	err       string
}

func newPINPrompt(who string, serial uint32, retries int) *pinPrompt {
	return &pinPrompt{who: who, serial: serial, retries: retries, present: retries >= 0,
		in: field{label: "PIN", masked: true, max: 8}}
}

// seen updates the retries from a key listing.
func (p *pinPrompt) seen(keys []KeySeen) {
	p.present = false
	for _, k := range keys {
		if k.Serial == p.serial {
			p.present = true
			if k.PINRetries != p.retries {
				p.retries, p.confirmed = k.PINRetries, false
			}
		}
	}
}

// guarding reports whether the last-try gate is open.
func (p *pinPrompt) guarding() bool { return p.last != nil }

// update applies a key or paste.
func (p *pinPrompt) update(e *env, eng PINEngine, msg tea.Msg) pinAction {
	k := e.keys
	if p.last != nil {
		switch p.last.update(k, msg) {
		case gateYes:
			p.last = nil
			if err := eng.ConfirmLastPINTry(p.serial); err != nil {
				p.in.reset()
				p.err = fmt.Sprintf("✗ Could not record the last-try confirmation: %v. The PIN was not used.", err)
				return pinTyping
			}
			p.confirmed = true
			return pinSubmit
		case gateNo:
			p.last = nil
			p.in.reset()
			p.err = "Stopped: the last PIN try was not used."
		}
		return pinTyping
	}
	km, isKey := msg.(tea.KeyPressMsg)
	switch {
	case isKey && key.Matches(km, k.Back):
		p.in.reset()
		return pinCancel
	case isKey && key.Matches(km, k.Enter):
		switch {
		case p.in.empty():
			p.err = "Type the PIN first."
		case !p.present:
			p.err = fmt.Sprintf("Insert key %d first: its PIN tries are read before any PIN is sent.", p.serial)
		case p.retries == 0:
			p.err = hwRefusal(p.serial, ErrPINBlocked, "nothing was sent")
		case p.retries == 1 && !p.confirmed:
			p.last = newGate("last", "use the last try")
		default:
			return pinSubmit
		}
		return pinTyping
	}
	if p.in.update(msg) {
		p.err = ""
	}
	return pinTyping
}

// take returns the typed PIN and clears the field.
func (p *pinPrompt) take() string {
	pin := p.in.String()
	p.in.reset()
	p.err = ""
	return pin
}

// failed records a failed PIN operation and returns what to tell the
// custodian; undone says what did not happen.
func (p *pinPrompt) failed(err error, undone string) string {
	p.confirmed = false
	var wp *WrongPINError
	switch {
	case errors.As(err, &wp):
		p.retries = wp.Retries
	case errors.Is(err, ErrLastPINTry):
		p.retries = 1
	case errors.Is(err, ErrPINBlocked):
		p.retries = 0
	}
	return hwRefusal(p.serial, err, undone)
}

// succeeded clears the one-shot last-try confirmation.
func (p *pinPrompt) succeeded() { p.confirmed = false }

// header is "who · key N · PIN tries left R".
func (p *pinPrompt) header() string {
	h := fmt.Sprintf("%s · key %d · ", p.who, p.serial)
	switch {
	case !p.present:
		return h + "not inserted — insert it"
	case p.retries < 0:
		return h + "PIN tries left unknown"
	}
	return h + fmt.Sprintf("PIN tries left %d", p.retries)
}

// view renders the header, the field and the last-try gate.
func (p *pinPrompt) view(st Styles, focused bool, width int) string {
	s := p.header() + "\n" + p.in.view(focused && p.last == nil, width)
	if p.last != nil {
		s += "\n" + st.Warning.Render("! Only 1 PIN try left: a wrong PIN now BLOCKS this key.") +
			"\n" + p.last.view(st, width)
	}
	return s
}

// next is the footer instruction for the prompt.
func (p *pinPrompt) next(action string) string {
	switch {
	case p.last != nil:
		return "ONE PIN try left: type last and press enter to use it; esc stops"
	case !p.present:
		return fmt.Sprintf("%s: insert key %d", p.who, p.serial)
	}
	return fmt.Sprintf("%s: type your PIN and press enter, then %s", p.who, action)
}

// help is the prompt's key help.
func (p *pinPrompt) help(k KeyMap, enter string) []key.Binding {
	if p.last != nil {
		return []key.Binding{withHelp(k.Enter, "use the last try"), k.Back}
	}
	return []key.Binding{withHelp(k.Enter, enter)}
}
