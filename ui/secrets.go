package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// revealMsg carries the result of Engine.Reveal for operation op.
type revealMsg struct {
	op     int
	name   string
	secret Secret
	err    error
}

// shown is a revealed secret and when it hides itself.
type shown struct {
	s      Secret
	hideAt time.Time
}

// secretsPanel shows the credentials of the current step: masked by default,
// revealed on a key press, hidden (and wiped) again after Options.RevealFor
// or when the step, the window or the session ends.
type secretsPanel struct {
	e     *env
	step  int
	shown map[string]shown
	op    hwOp
	opFor string
	err   string
}

func newSecretsPanel(e *env) secretsPanel {
	return secretsPanel{e: e, shown: map[string]shown{}}
}

// toggle reveals name, or hides it when it is showing.
func (p *secretsPanel) toggle(step int, name string) tea.Cmd {
	if _, ok := p.shown[name]; ok {
		p.hide(name)
		return nil
	}
	if p.op.pending {
		return nil
	}
	ctx, cancel := context.WithCancel(p.e.ctx)
	id := p.e.nextOp()
	p.opFor, p.err = name, ""
	eng := p.e.eng
	run := func() tea.Msg {
		s, err := eng.Reveal(ctx, step, name)
		return revealMsg{op: id, name: name, secret: s, err: err}
	}
	return tea.Batch(p.op.start(p.e, id, cancel), run)
}

func (p *secretsPanel) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case revealMsg:
		if !p.op.finish(msg.op) {
			if msg.err == nil && msg.secret.Wipe != nil {
				msg.secret.Wipe()
			}
			return nil
		}
		if msg.err != nil {
			p.err = fmt.Sprintf("✗ Could not open %q: %v. The step is unchanged; press v to try again.", msg.name, msg.err)
			return nil
		}
		p.shown[msg.name] = shown{s: msg.secret, hideAt: p.e.now.Add(p.e.opts.RevealFor)}
		if p.e.mode.Drill {
			// Drill: it decrypted and parsed; it is never shown.
			p.hide(msg.name)
			p.shown[msg.name] = shown{hideAt: p.e.now.Add(p.e.opts.RevealFor)}
		}
	case tickMsg:
		for name, s := range p.shown {
			if !p.e.now.Before(s.hideAt) {
				p.hide(name)
			}
		}
	case touchWaitMsg, spinMsg:
		return p.op.update(p.e, msg)
	}
	return nil
}

func (p *secretsPanel) hide(name string) {
	if s, ok := p.shown[name]; ok && s.s.Wipe != nil {
		s.s.Wipe()
	}
	delete(p.shown, name)
}

// hideAll hides and wipes every revealed secret.
func (p *secretsPanel) hideAll() {
	p.op.abort()
	for name := range p.shown {
		p.hide(name)
	}
}

func (p *secretsPanel) revealed(name string) bool { _, ok := p.shown[name]; return ok }

// view renders one credential line (and its value when revealed).
func (p *secretsPanel) view(name string, focused bool, width int) string {
	st := p.e.st
	mark := "  "
	if focused {
		mark = "› "
	}
	s, ok := p.shown[name]
	if !ok {
		line := mark + "[hidden] " + name + "  ••••••••  (v reveals)"
		if p.op.pending && p.opFor == name {
			line += "\n    " + p.op.view(st, "Opening…")
		}
		return line
	}
	left := s.hideAt.Sub(p.e.now)
	if p.e.mode.Drill {
		return mark + st.Pass.Render("✓ ") + name + "  decrypts and parses (drill: not shown)"
	}
	head := fmt.Sprintf("%s[SHOWN] %s · hides in %s", mark, name, fmtDur(left))
	sealed := "" // the verified seal, after the value
	if s.s.SealedBy != "" {
		sealed = "\n" + hang(fmt.Sprintf("sealed by %s on %s, version %d", s.s.SealedBy, s.s.SealedAt.UTC().Format("2006-01-02 15:04 UTC"), s.s.Version), width, "    ")
	}
	switch {
	case s.s.Kind == TOTPSeed && s.s.TOTP != nil:
		per := s.s.TOTP.Period()
		if per <= 0 {
			per = 30 * time.Second
		}
		rem := per - time.Duration(p.e.now.UnixNano()%int64(per))
		code := s.s.TOTP.Code(p.e.now)
		return head + "\n    code " + st.Secret.Render(code) + "  " + countdownBar(rem, per, min(width-16, 32)) + sealed
	case s.s.Value != nil:
		v := strings.TrimRight(string(s.s.Value()), "\n")
		return head + "\n" + hang(st.Secret.Render(v), width, "    ") + sealed
	}
	return head + sealed
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}
