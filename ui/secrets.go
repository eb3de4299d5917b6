package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// RevealEngine is what the secrets panel needs.
type RevealEngine interface {
	// Reveal decrypts the named credential of step. The caller shows it only
	// on request and calls Secret.Wipe when it hides it again.
	Reveal(ctx context.Context, step int, name string) (Secret, error)
}

// shown is a revealed secret and when it hides itself.
type shown struct {
	s      Secret
	hideAt time.Time
	// text stands for the value in the view when drawn through Run's
	// secureOutput (placeholders of slot), so no string holds the secret.
	text string
	slot int
	ph   bool
}

// secretsPanel shows the credentials of the current step: masked by default,
// revealed on a key press, hidden (and wiped) again after Options.RevealFor
// or when the step, the window or the session ends.
type secretsPanel struct {
	e     *env
	eng   RevealEngine
	step  int
	shown map[string]shown
	op    hwOp
	opFor string
	err   string
}

func newSecretsPanel(e *env, eng RevealEngine) secretsPanel {
	return secretsPanel{e: e, eng: eng, shown: map[string]shown{}}
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
	p.opFor, p.err = name, ""
	eng := p.eng
	return launch(&p.op, p.e, 0, func(ctx context.Context) (Secret, error) {
		return eng.Reveal(ctx, step, name)
	})
}

func (p *secretsPanel) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case hwResult[Secret]:
		if !p.op.finish(msg.op) {
			if msg.err == nil && msg.val.Wipe != nil {
				msg.val.Wipe()
			}
			return nil
		}
		name := p.opFor
		if msg.err != nil {
			p.err = fmt.Sprintf("✗ Could not open %q: %v. The step is unchanged; press v to try again.", name, msg.err)
			return nil
		}
		sh := shown{s: msg.val, hideAt: p.e.now.Add(p.e.opts.RevealFor)}
		if p.e.out != nil && msg.val.Value != nil && msg.val.Kind != TOTPSeed && !p.e.mode.Drill {
			var ok bool
			if sh.text, sh.slot, ok = p.e.out.register(msg.val.Value); !ok {
				// More cells than there are placeholders: not drawn at all
				// rather than drawn from an ordinary string.
				sh.text, sh.slot = "(too long to show on this screen)", -1
			}
			sh.ph = true
		}
		p.shown[name] = sh
		if p.e.mode.Drill {
			// Drill: it decrypted and parsed; it is never shown.
			p.hide(name)
			p.shown[name] = shown{hideAt: p.e.now.Add(p.e.opts.RevealFor)}
		}
	case tickMsg:
		for name, s := range p.shown {
			if !p.e.now.Before(s.hideAt) {
				p.hide(name)
			}
		}
	case touchMsg, spinMsg:
		return p.op.update(p.e, msg)
	}
	return nil
}

func (p *secretsPanel) hide(name string) {
	if s, ok := p.shown[name]; ok && s.ph {
		p.e.out.release(s.slot) // no write reads the value after this
	}
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
	case s.ph:
		return head + "\n" + hang(st.Secret.Render(s.text), width, "    ") + sealed
	case s.s.Value != nil:
		v := strings.TrimRight(string(s.s.Value()), "\n")
		return head + "\n" + hang(st.Secret.Render(v), width, "    ") + sealed
	}
	return head + sealed
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}
