package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"breakglass/internal/inert"
)

// ErrQuit is returned by Run when the operator quit before the session was
// locked. Everything recorded so far is in the journal; the caller must still
// lock the session (wipe secrets) and tell the operator how to resume.
var ErrQuit = errors.New("console quit before the session was locked")

// Options configures the console.
type Options struct {
	// In and Out are the terminal; nil means the process's stdin/stdout.
	In  io.Reader
	Out io.Writer
	// Env is the environment used to detect colour support (NO_COLOR,
	// TERM); nil means os.Environ().
	Env []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DemoPINs maps custodian name to the PIN shown in the DEMO banner.
	DemoPINs map[string]string
	// ExportDir is the proposed directory for the signed report.
	ExportDir string
	// RevealFor is how long a revealed secret stays visible (default 30s).
	RevealFor time.Duration
	// Width and Height set the initial size (0: ask the terminal, else 80×24).
	Width, Height int
	// Start is the screen to open on (StartPreflight for a new session).
	Start Start
}

// env is what every screen shares: the one key map and styles struct, the
// clock and the counter for hardware operations. eng is the whole engine,
// for the root only: each screen is given its own small interface.
type env struct {
	ctx  context.Context
	eng  Engine
	keys KeyMap
	st   Styles
	opts Options
	mode Mode
	now  time.Time
	ops  int
	md   *markdown
	out  *secureOutput // Run's output: revealed secrets are drawn as placeholders it resolves; nil: as text
	// after schedules msg after d; tea.Tick in production, a recorder in tests.
	after func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd
}

func (e *env) nextOp() int { e.ops++; return e.ops }

// screen is one console screen: a model with its own help.KeyMap and size.
// A screen finishes by returning a typed message the root acts on.
type screen interface {
	help.KeyMap
	init() tea.Cmd
	update(tea.Msg) tea.Cmd
	view() string
	setSize(w, h int)
	// next is the one-line "Next: …" instruction for the operator.
	next() string
	// typing reports whether a text field has the keyboard (q and ? are text).
	typing() bool
	title() string
}

// tickMsg is the one-second clock that drives timers on every screen.
type tickMsg struct{ now time.Time }

func (e *env) tick() tea.Cmd {
	return e.after(time.Second, func(time.Time) tea.Msg { return tickMsg{now: e.opts.Now().UTC()} })
}

// Model is the root of the console: it owns the banners, the help bar and the
// quit confirmation, and forwards every other message to the active screen.
type Model struct {
	env      *env
	scr      screen
	resume   screen // the unlocked screen to return to after re-authorisation
	w, h     int
	full     bool
	quitting *gate // the quit confirmation, when open
	stray    bool  // text was typed with no field open: keys paused until esc
	aborted  bool
	locked   bool
	help     help.Model
}

// New builds the console model at the preflight screen.
func New(ctx context.Context, eng Engine, opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RevealFor <= 0 {
		opts.RevealFor = 30 * time.Second
	}
	eng = inertEngine(eng)
	e := &env{ctx: ctx, eng: eng, keys: DefaultKeyMap(), st: DefaultStyles(), opts: opts,
		mode: eng.Mode(), now: opts.Now().UTC(), md: newMarkdown(), after: tea.Tick}
	m := &Model{env: e, w: 80, h: 24, help: help.New()}
	m.help.Styles = e.st.Help
	if opts.Width > 0 && opts.Height > 0 {
		m.w, m.h = opts.Width, opts.Height
	}
	switch opts.Start {
	case StartAnnounce:
		m.scr = newAnnounce(e, eng)
	case StartQuorum:
		m.scr = newCustodians(e, eng, false)
	case StartReauthorise:
		m.scr = newCustodians(e, eng, true)
		m.resume = newRunbook(e, eng, eng)
	case StartReauthoriseCloseOut:
		m.scr = newCustodians(e, eng, true)
		m.resume = newCloseOut(e, eng)
	case StartReauthoriseSign:
		m.scr = newCustodians(e, eng, true)
		m.resume = newSign(e, eng)
	case StartCloseOut:
		m.scr = newCloseOut(e, eng)
	case StartSign:
		m.scr = newSign(e, eng)
	default:
		m.scr = newPreflight(e, eng)
	}
	m.resize()
	return m
}

// Run shows the console until the session is locked (nil) or the operator
// quits (ErrQuit). The terminal is restored on every path, including panics
// in the program (bubbletea recovers them) and ctx cancellation.
func Run(ctx context.Context, eng Engine, opts Options) error {
	m := New(ctx, eng, opts)
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.In != nil {
		popts = append(popts, tea.WithInput(opts.In))
	}
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	m.env.out = newSecureOutput(out)
	defer m.env.out.close()
	popts = append(popts, tea.WithOutput(m.env.out.output()))
	if opts.Env != nil {
		popts = append(popts, tea.WithEnvironment(opts.Env))
	}
	if opts.Width > 0 && opts.Height > 0 {
		popts = append(popts, tea.WithWindowSize(opts.Width, opts.Height))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	m.wipe()
	switch {
	case err != nil:
		return fmt.Errorf("running the console: %w", err)
	case m.aborted || !m.locked:
		return ErrQuit
	}
	return nil
}

// Init starts the clock and the first screen.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.env.tick(), m.scr.init()) }

// wipe hides any revealed secret held by the screens and cancels any
// pending hardware call.
func (m *Model) wipe() {
	for _, s := range []screen{m.scr, m.resume} {
		switch s := s.(type) {
		case *runbookScreen:
			s.secrets.hideAll()
			s.op.abort()
			if s.confirm != nil {
				s.confirm.take()
			}
		case *custodiansScreen:
			s.op.abort()
			if s.pin != nil {
				s.pin.take()
			}
		case *signScreen:
			s.op.abort()
			if s.pin != nil {
				s.pin.take()
			}
		}
	}
}

func (m *Model) resize() {
	m.help.SetWidth(m.w)
	m.scr.setSize(m.w, m.bodyHeight())
}

func (m *Model) switchTo(s screen) tea.Cmd {
	m.scr = s
	m.full = false
	m.resize()
	return s.init()
}

// Update handles the root keys and the screen transitions; everything else
// goes to the active screen.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tickMsg:
		m.env.now = msg.now
		if cmd := m.checkWindow(); cmd != nil {
			return m, tea.Batch(m.env.tick(), cmd)
		}
		return m, tea.Batch(m.env.tick(), m.scr.update(msg))
	case tea.KeyPressMsg:
		if cmd, done := m.rootKey(msg); done {
			return m, cmd
		}
	}
	if cmd, ok := m.transition(msg); ok {
		return m, cmd
	}
	return m, m.scr.update(msg)
}

// rootKey handles quit, its confirmation and help; done means consumed.
func (m *Model) rootKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.env.keys
	if m.quitting != nil {
		switch m.quitting.update(k, msg) {
		case gateYes:
			m.aborted = true
			m.wipe()
			return tea.Quit, true
		case gateNo:
			m.quitting = nil
		}
		return nil, true
	}
	if m.locked && key.Matches(msg, k.Quit, k.Enter) {
		return tea.Quit, true
	}
	if m.stray {
		if key.Matches(msg, k.Back) {
			m.stray = false
		}
		if msg.String() != "ctrl+c" {
			return nil, true
		}
	}
	if !m.locked && !m.scr.typing() && strayText(k, m.scr, msg) {
		m.stray = true
		return nil, true
	}
	if msg.String() == "ctrl+c" || (!m.scr.typing() && key.Matches(msg, k.Quit)) {
		m.quitting = newGate("quit", "quit the console")
		return nil, true
	}
	if !m.scr.typing() && key.Matches(msg, k.Help) {
		m.full = !m.full
		m.resize()
		return nil, true
	}
	return nil, false
}

// transition moves between screens on the messages screens finish with.
func (m *Model) transition(msg tea.Msg) (tea.Cmd, bool) {
	e := m.env
	switch msg := msg.(type) {
	case preflightDoneMsg:
		return m.switchTo(newDeclare(e, e.eng)), true
	case declaredMsg:
		return m.switchTo(newAnnounce(e, e.eng)), true
	case announcedMsg:
		return m.switchTo(newCustodians(e, e.eng, false)), true
	case quorumMetMsg:
		if m.resume != nil {
			s := m.resume
			m.resume = nil
			if r, ok := s.(*runbookScreen); ok {
				r.reload()
			}
			m.scr = s
			m.resize()
			return nil, true
		}
		return m.switchTo(newRunbook(e, e.eng, e.eng)), true
	case runbookDoneMsg:
		return m.switchTo(newCloseOut(e, e.eng)), true
	case closeOutDoneMsg:
		return m.switchTo(newSign(e, e.eng)), true
	case exportedMsg:
		m.locked = true
		m.wipe()
		return m.switchTo(newLocked(e, e.eng.Lock(), msg.files)), true
	}
	return nil, false
}

// checkWindow starts re-authorisation when the unlock window has expired.
func (m *Model) checkWindow() tea.Cmd {
	switch m.scr.(type) {
	case *runbookScreen, *closeOutScreen:
	default:
		return nil
	}
	exp := m.env.eng.WindowExpires()
	if exp.IsZero() || m.env.now.Before(exp) {
		return nil
	}
	m.wipe()
	m.env.eng.Reauthorise()
	m.resume = m.scr
	return m.switchTo(newCustodians(m.env, m.env.eng, true))
}

// header is the title line, the banners and the unlock window timer.
func (m *Model) header() string {
	e, st := m.env, m.env.st
	t := st.Title.Render("BREAKGLASS · " + m.scr.title())
	clock := e.now.UTC().Format("15:04:05Z")
	if exp := e.eng.WindowExpires(); !exp.IsZero() && m.unlocked() {
		left := exp.Sub(e.now).Truncate(time.Second)
		if left < 0 {
			left = 0
		}
		clock = fmt.Sprintf("window %s left · %s", fmtDur(left), clock)
	}
	gap := m.w - lipgloss.Width(t) - lipgloss.Width(clock)
	if gap < 1 {
		gap = 1
	}
	lines := []string{t + strings.Repeat(" ", gap) + clock}
	if e.mode.TestRoot {
		lines = append(lines, st.Banner.Render(" ! TEST ATTESTATION ROOT — NOT FOR PRODUCTION "))
	}
	if e.mode.Drill {
		lines = append(lines, st.Banner.Render(" DRILL — secrets are checked, never shown "))
	}
	if e.mode.Demo {
		lines = append(lines, st.Banner.Render(" DEMO ")+" PINs: "+demoPINs(e.opts.DemoPINs))
	}
	return fit(strings.Join(lines, "\n"), m.w)
}

func (m *Model) unlocked() bool {
	switch m.scr.(type) {
	case *runbookScreen, *closeOutScreen:
		return true
	}
	return false
}

func (m *Model) footer() string {
	k := m.env.keys
	next := "Next: " + m.scr.next()
	var keys help.KeyMap = m.scr
	right := []key.Binding{k.Help, k.Quit}
	switch {
	case m.quitting != nil:
		next = "Next: " + m.quitting.next()
		keys, right = bindings(m.quitting.help(k)), nil
	case m.stray:
		next = "Next: press esc — the keys are paused because text was typed with no field open"
		keys, right = bindings{withHelp(k.Back, "use the keys again")}, []key.Binding{k.QuitTyping}
	case m.locked:
		right = nil
	case m.scr.typing():
		right = []key.Binding{k.QuitTyping}
	}
	r := m.help.ShortHelpView(right)
	if r != "" {
		r = "  " + r
	}
	// The quit and help keys are always visible: the screen's keys give way.
	hm := m.help
	hm.SetWidth(max(m.w-lipgloss.Width(r), 10))
	h := fit(hm.ShortHelpView(keys.ShortHelp()), m.w-lipgloss.Width(r))
	if gap := m.w - lipgloss.Width(h) - lipgloss.Width(r); gap > 0 {
		h += strings.Repeat(" ", gap)
	}
	h += r
	if m.full && m.quitting == nil {
		groups := append(keys.FullHelp(), right)
		h = fit(m.help.FullHelpView(groups), m.w)
	}
	return wrap(m.env.st.Next.Render(next), m.w) + "\n" + h
}

func (m *Model) bodyHeight() int {
	return m.h - lipgloss.Height(m.header()) - lipgloss.Height(m.footer()) - 2
}

// View renders header, the active screen's body and the footer in the
// alternate screen.
func (m *Model) View() tea.View {
	head, foot := m.header(), m.footer()
	bh := m.h - lipgloss.Height(head) - lipgloss.Height(foot) - 2
	var body, pinned string
	if m.quitting != nil {
		body = quitText(m.env.st) + "\n\n" + m.quitting.view(m.env.st, m.w)
	} else {
		body = m.scr.view()
		if m.stray {
			body = strayNotice(m.env.st) + body
		}
		if p, ok := m.scr.(pinner); ok {
			pinned = wrap(p.pinned(), m.w)
		}
	}
	if pinned != "" {
		// What the operator is typing and the last error stay on screen;
		// the list above them gives way on a small terminal.
		ph := min(lipgloss.Height(pinned), bh)
		body = strings.TrimSuffix(clip(wrap(body, m.w), bh-ph), "\n") + "\n" + clip(pinned, ph)
	}
	body = clip(wrap(body, m.w), bh)
	if pad := bh - lipgloss.Height(body); pad > 0 {
		body += strings.Repeat("\n", pad)
	}
	v := tea.NewView(head + "\n\n" + body + "\n\n" + foot)
	v.AltScreen = true
	v.WindowTitle = "breakglass"
	return v
}

// pinner is a screen with a part (an open field, the last error) that must
// stay visible at the bottom of the body however long the rest is.
type pinner interface{ pinned() string }

func quitText(st Styles) string {
	return st.Warning.Render("Quit the console?") + "\n\n" +
		"Everything recorded so far (declaration, custodians, ticks, evidence)\n" +
		"is kept in the journal. Revealed secrets are wiped from the screen.\n" +
		"You can resume this session later or close it out."
}

func demoPINs(p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = inert.Line(n) + " " + inert.Line(p[n]) // names from the demo vault
	}
	return strings.Join(parts, " · ")
}

func fmtDur(d time.Duration) string {
	d = d.Truncate(time.Second)
	h, mnt, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, mnt, s)
	}
	return fmt.Sprintf("%02d:%02d", mnt, s)
}
