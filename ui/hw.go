package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"
)

// This file is the one launcher for every Engine call that talks to a
// YubiKey (AddCustodian, Confirm, Sign, Reveal): it runs the call as a
// tea.Cmd with its own cancellable context, delivers a typed result, shows
// "touch your YubiKey" exactly when the engine says the key waits for a
// touch (TouchNotice), cancels the call when its key is removed, and turns
// the hardware errors into words in one place (hwRefusal).

// hwResult is the typed result of one hardware call: op identifies the call,
// so a late result of a cancelled call is ignored.
type hwResult[T any] struct {
	op     int
	serial uint32
	val    T
	err    error
}

func (r hwResult[T]) hwOpID() int { return r.op }

// hwResultMsg is any hwResult; tests hold these to look at a pending call.
type hwResultMsg interface{ hwOpID() int }

// touchMsg says the engine called TouchNotice for operation op.
type touchMsg struct{ op int }

// spinMsg advances the touch spinner of operation op.
type spinMsg struct{ op int }

// hwOp tracks one pending hardware call so that late results, touch notices
// and spinner ticks of an earlier call are ignored.
type hwOp struct {
	id      int
	serial  uint32 // the key the call uses; 0 when none is watched
	pending bool
	touch   bool // the touch prompt is showing
	frame   int
	cancel  func()
}

// launch runs f on the key with serial as a command returning hwResult[T].
// The context passed to f carries a TouchNotice that shows the touch prompt.
// A second command waits for that notice and ends when f returns.
func launch[T any](o *hwOp, e *env, serial uint32, f func(ctx context.Context) (T, error)) tea.Cmd {
	id := e.nextOp()
	ctx, cancel := context.WithCancel(e.ctx)
	touched := make(chan struct{}, 1)
	done := make(chan struct{})
	ctx = WithTouchNotice(ctx, func() {
		select {
		case touched <- struct{}{}:
		default:
		}
	})
	*o = hwOp{id: id, serial: serial, pending: true, cancel: cancel}
	run := func() tea.Msg {
		defer close(done)
		v, err := f(ctx)
		return hwResult[T]{op: id, serial: serial, val: v, err: err}
	}
	wait := func() tea.Msg {
		select {
		case <-touched:
			return touchMsg{op: id}
		case <-done:
			select { // a touch noticed just before the result still counts
			case <-touched:
				return touchMsg{op: id}
			default:
				return nil
			}
		}
	}
	return tea.Batch(run, wait)
}

// finish stops tracking; it reports false for a result of a stale operation.
func (o *hwOp) finish(id int) bool {
	if !o.pending || id != o.id {
		return false
	}
	if o.cancel != nil {
		o.cancel()
	}
	o.pending, o.touch, o.cancel = false, false, nil
	return true
}

// abort cancels the pending operation, if any.
func (o *hwOp) abort() {
	if o.pending {
		o.finish(o.id)
	}
}

// keysChanged cancels the pending call when its key is no longer inserted;
// it reports whether it did.
func (o *hwOp) keysChanged(keys []KeySeen) bool {
	if !o.pending || o.serial == 0 {
		return false
	}
	for _, k := range keys {
		if k.Serial == o.serial {
			return false
		}
	}
	o.abort()
	return true
}

// update handles the touch notice and the spinner.
func (o *hwOp) update(e *env, msg tea.Msg) tea.Cmd {
	var id int
	switch msg := msg.(type) {
	case touchMsg:
		id = msg.op
	case spinMsg:
		id = msg.op
	default:
		return nil
	}
	if !o.pending || id != o.id {
		return nil
	}
	if _, ok := msg.(spinMsg); ok {
		o.frame = (o.frame + 1) % len(spinnerFrames)
	}
	o.touch = true
	return e.after(100*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{op: id} })
}

// spinnerFrames animate the touch prompt.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// view is the waiting line: the touch prompt once the engine asked for it.
func (o *hwOp) view(st Styles, working string) string {
	switch {
	case !o.pending:
		return ""
	case o.touch:
		return st.Warning.Render(spinnerFrames[o.frame] + " Touch your YubiKey now (its light is blinking)")
	default:
		return working
	}
}

// hwRefusal says what happened and what to do after a hardware call on the
// key with serial failed; undone says what did not happen ("nothing was
// counted", "not signed", …). It is the one place these errors become words.
func hwRefusal(serial uint32, err error, undone string) string {
	var wp *WrongPINError
	switch {
	case errors.As(err, &wp):
		return fmt.Sprintf("✗ Wrong PIN for key %d: %d tries left — %s. Type it again slowly.", serial, wp.Retries, undone)
	case errors.Is(err, ErrLastPINTry):
		return fmt.Sprintf("! Key %d has one PIN try left — %s. Confirm the last try to use it.", serial, undone)
	case errors.Is(err, ErrNotOnRoster):
		return fmt.Sprintf("✗ Key %d is not on the custodian roster — %s. Only enrolled custodians' keys count.", serial, undone)
	case errors.Is(err, ErrAlreadyCounted):
		return "✗ This custodian is already counted. The next custodian must insert their own key."
	case errors.Is(err, ErrAttestationFailed):
		return fmt.Sprintf("✗ Key %d failed attestation: not a genuine enrolled YubiKey — %s. Do not use it; tell security.", serial, undone)
	case errors.Is(err, ErrWrongSlotKey):
		return fmt.Sprintf("✗ The slot key on key %d does not match the roster — %s. Use the enrolled key.", serial, undone)
	case errors.Is(err, ErrKeyRemoved), errors.Is(err, context.Canceled):
		return fmt.Sprintf("Key %d was removed — cancelled, %s. Insert it again.", serial, undone)
	case errors.Is(err, ErrPINBlocked):
		return fmt.Sprintf("✗ The PIN of key %d is blocked — %s. Unblock it with the PUK (ykman piv access unblock-pin).", serial, undone)
	}
	return fmt.Sprintf("✗ Could not use key %d: %v — %s. Re-insert it and try again.", serial, err, undone)
}
