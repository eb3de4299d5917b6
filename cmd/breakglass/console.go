package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"breakglass/audit"
	"breakglass/runbook"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

func init() {
	register(command{
		name:    "console",
		summary: "open the break-glass console: preflight, quorum, runbook, close-out, signed report",
		run:     runConsole,
	})
}

// consoleOptions are the flags of "breakglass console".
type consoleOptions struct {
	Vault           string
	Runbook         string
	StateDir        string // journals live here, on the station's disk
	ExportDir       string // the signed report goes here (removable media)
	AttestationRoot string
	Drill           bool
	Window          time.Duration
	DemoPINs        string // "Name=PIN,Name=PIN": shown in the DEMO banner
	Resume          string // session id to resume
	AbortSession    string // session id to close out as aborted
	AbortReason     string
}

const consoleUsage = `Usage: breakglass console --vault FILE --runbook FILE [flags]

Opens the break-glass console. It checks the station (preflight), records
the operator's declaration, counts the custodians' YubiKeys until the vault's
quorum is met, walks the runbook revealing each credential only at its step,
asks the close-out questions, has the custodians sign the report on their
keys and writes it to --export.

Every event is appended to a hash-chained journal in --state-dir and
fsynced before the screen moves on. If the console is killed, run it again:
it finds the unfinished session and offers to resume it or close it out as
aborted (--resume ID / --abort ID --reason TEXT for scripts).

Examples:
  breakglass console --vault /media/usb/vault.json --runbook runbooks/cloud-root-recovery.md --export /media/usb/reports
  breakglass console --drill --vault vault.json --runbook drill.md --export reports/
  breakglass console --vault vault.json --runbook rb.md --abort 20261123T0301Z-1a2b3c --reason "laptop battery died"

Flags:
`

func defaultStateDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "breakglass")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "breakglass")
	}
	return "breakglass-state"
}

func runConsole(ctx context.Context, e *env, args []string) int {
	var o consoleOptions
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, consoleUsage); fs.PrintDefaults() }
	fs.StringVar(&o.Vault, "vault", "", "vault `FILE` (required)")
	fs.StringVar(&o.Runbook, "runbook", "", "runbook `FILE` (required)")
	fs.StringVar(&o.StateDir, "state-dir", defaultStateDir(e.getenv), "`DIR` for session journals")
	fs.StringVar(&o.ExportDir, "export", "", "`DIR` for the signed report (required; removable media)")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production; shown on every screen)")
	fs.BoolVar(&o.Drill, "drill", false, "drill: secrets are decrypted and checked, never shown")
	fs.DurationVar(&o.Window, "window", time.Hour, "how long a quorum keeps the vault unlocked")
	fs.StringVar(&o.DemoPINs, "demo-pins", "", "DEMO only: `NAME=PIN,...` shown in a demo banner")
	fs.StringVar(&o.Resume, "resume", "", "resume the unfinished session `ID`")
	fs.StringVar(&o.AbortSession, "abort", "", "close out the unfinished session `ID` as aborted (needs --reason)")
	fs.StringVar(&o.AbortReason, "reason", "", "why the session is aborted")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var problems []string
	if o.Vault == "" {
		problems = append(problems, "--vault FILE is required")
	}
	if o.Runbook == "" {
		problems = append(problems, "--runbook FILE is required")
	}
	if o.ExportDir == "" && o.AbortSession == "" {
		problems = append(problems, "--export DIR is required (where the signed report is written)")
	}
	if o.AbortSession != "" && strings.TrimSpace(o.AbortReason) == "" {
		problems = append(problems, "--abort needs --reason TEXT")
	}
	if o.Resume != "" && o.AbortSession != "" {
		problems = append(problems, "--resume and --abort exclude each other")
	}
	if o.Window < time.Minute {
		problems = append(problems, "--window must be at least 1m")
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(e.stderr, "breakglass console:", p)
		}
		fmt.Fprintln(e.stderr, `Run "breakglass console -h" for help.`)
		return 2
	}
	if err := o.exec(ctx, e); err != nil {
		fmt.Fprintln(e.stderr, "breakglass console:", err)
		return 1
	}
	return 0
}

// unfinished is a journal whose session neither locked nor aborted.
type unfinished struct {
	id      string
	path    string
	phase   session.Phase
	state   session.State
	last    string
	entries []audit.Entry
}

// findUnfinished scans the state directory for sessions that did not end.
// A journal that cannot be read is an error: it is never skipped silently.
func findUnfinished(dir string) ([]unfinished, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []unfinished
	for _, p := range paths {
		entries, err := audit.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w — it is kept as is; inspect it with 'breakglass journal verify %s'", p, err, p)
		}
		s, err := session.Resume(session.Config{Recorder: discardRecorder{}, Now: time.Now}, recordedEvents(entries))
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", p, err)
		}
		if ph := s.Phase(); ph == session.PhaseLocked || ph == session.PhaseAborted {
			continue
		}
		u := unfinished{id: strings.TrimSuffix(filepath.Base(p), ".journal"), path: p, phase: s.Phase(), state: s.State(), entries: entries}
		if len(entries) > 0 {
			u.last = entries[len(entries)-1].Time
		}
		out = append(out, u)
	}
	return out, nil
}

type discardRecorder struct{}

func (discardRecorder) Append(string, string, any) error {
	return errors.New("read-only session view")
}

func recordedEvents(entries []audit.Entry) []session.RecordedEvent {
	ev := make([]session.RecordedEvent, len(entries))
	for i, en := range entries {
		ev[i] = session.RecordedEvent{Actor: en.Actor, Type: en.Type, Data: en.Data}
	}
	return ev
}

func (o *consoleOptions) exec(ctx context.Context, e *env) error {
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		return err
	}
	v, err := vault.Load(o.Vault)
	if err != nil {
		return err
	}
	rb, err := runbook.ParseFile(o.Runbook)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating state directory %s: %w", o.StateDir, err)
	}
	if o.ExportDir != "" {
		// A missing report directory is created; one that cannot be is a
		// preflight failure with the reason, not a crash here.
		_ = os.MkdirAll(o.ExportDir, 0o700)
	}
	open, err := findUnfinished(o.StateDir)
	if err != nil {
		return err
	}
	if o.Resume == "" && o.AbortSession == "" && len(open) > 0 {
		choice, err := askUnfinished(e, open[0])
		if err != nil {
			return err
		}
		o.Resume, o.AbortSession, o.AbortReason = choice.resume, choice.abort, choice.reason
		if choice.quit {
			return nil
		}
	}

	if o.AbortSession == "" && (e.stdinFile == nil || !term.IsTerminal(int(e.stdinFile.Fd()))) {
		// Checked before any journal is created: a session that cannot be
		// shown must not be left behind as an unfinished one.
		return errors.New("the console needs a terminal: run it on the station's screen or in a terminal window (standard input is not a terminal)")
	}
	eng := &consoleEngine{
		station: newStation(), vault: v, vaultPath: o.Vault, trust: trust, testRoot: testRoot,
		demo: o.DemoPINs != "", now: time.Now, binary: hashExecutable(), exportDir: o.ExportDir,
		guards: e.guards, acked: map[string]string{},
	}
	start := ui.StartPreflight
	switch {
	case o.AbortSession != "" || o.Resume != "":
		id := o.Resume + o.AbortSession
		var u *unfinished
		for i := range open {
			if open[i].id == id {
				u = &open[i]
			}
		}
		if u == nil {
			return fmt.Errorf("no unfinished session %q in %s", id, o.StateDir)
		}
		j, _, err := audit.Open(u.path, audit.Config{})
		if err != nil {
			return err
		}
		defer j.Close()
		s, err := session.Resume(session.Config{Runbook: rb, Recorder: journalRecorder{j}, Now: time.Now}, recordedEvents(u.entries))
		if err != nil {
			return fmt.Errorf("resuming %s with runbook %s: %w", id, o.Runbook, err)
		}
		if o.AbortSession != "" {
			if err := s.Abort("operator", o.AbortReason); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Session %s closed out as aborted; its journal %s keeps every recorded event.\n", id, u.path)
			return nil
		}
		eng.journal, eng.sess, eng.sessionID = j, s, id
		start = resumeStart(s.Phase())
	default:
		id := newSessionID(time.Now())
		path := filepath.Join(o.StateDir, id+".journal")
		station := audit.StationData{BinaryVersion: eng.binary.Version, BinarySHA256: eng.binary.SHA256,
			VaultFingerprint: v.Fingerprint(), AttestationRoot: attestationRootLabel(o.AttestationRoot)}
		j, err := audit.Create(path, id, station, audit.Config{})
		if err != nil {
			return fmt.Errorf("creating the session journal: %w", err)
		}
		defer j.Close()
		if _, err := j.Append("breakglass", audit.TypeStation, station); err != nil {
			return err
		}
		if _, err := j.Append("breakglass", eventProcessGuards, map[string]any{"guards": e.guards.Summary()}); err != nil {
			return err
		}
		s, err := session.New(session.Config{Runbook: rb, Recorder: journalRecorder{j}, Now: time.Now,
			Threshold: v.Roster.Policy.Threshold, Window: o.Window, Drill: o.Drill})
		if err != nil {
			return err
		}
		eng.journal, eng.sess, eng.sessionID = j, s, id
	}
	eng.unlock = v.Unlocker(trust)
	if start == ui.StartReauthorise {
		eng.reauthOn = true
	}

	err = ui.Run(ctx, eng, ui.Options{In: e.stdinFile, Out: e.stdout, DemoPINs: parseDemoPINs(o.DemoPINs),
		ExportDir: o.ExportDir, Start: start})
	sum := eng.Lock()
	switch {
	case errors.Is(err, ui.ErrQuit):
		fmt.Fprintf(e.stdout, "Console closed. Secrets wiped. Every recorded event is in %s.\nRun the same command again to resume session %s or close it out as aborted.\n",
			eng.journal.Path(), eng.sessionID)
		return nil
	case err != nil:
		return fmt.Errorf("%w (journal %s keeps every recorded event)", err, eng.journal.Path())
	}
	fmt.Fprintf(e.stdout, "Session %s locked. Secrets wiped.\n", eng.sessionID)
	for _, f := range sum.Exported {
		fmt.Fprintf(e.stdout, "  %s  sha256 %s\n", f.Path, f.SHA256)
	}
	if len(sum.Revealed) > 0 {
		fmt.Fprintf(e.stdout, "Rotate now (revealed in this session): %s\n", strings.Join(sum.Revealed, ", "))
	}
	return nil
}

// resumeStart is the screen a resumed session opens on. Nothing of the
// unlocked vault survives a restart, so a session resumed in its steps
// needs the custodians again.
func resumeStart(p session.Phase) ui.Start {
	switch p {
	case session.PhaseQuorum:
		return ui.StartQuorum
	case session.PhaseSteps:
		return ui.StartReauthorise
	case session.PhaseCloseOut:
		return ui.StartCloseOut
	case session.PhaseSign:
		return ui.StartSign
	}
	return ui.StartPreflight
}

type unfinishedChoice struct {
	resume, abort, reason string
	quit                  bool
}

// askUnfinished asks on the terminal what to do with an unfinished session.
func askUnfinished(e *env, u unfinished) (unfinishedChoice, error) {
	desc := fmt.Sprintf("Unfinished session %s: operator %q, ticket %q, stopped in %s, last event %s.",
		u.id, u.state.Declaration.Operator, u.state.Declaration.Ticket, u.phase, u.last)
	if e.stdinFile == nil || !term.IsTerminal(int(e.stdinFile.Fd())) {
		return unfinishedChoice{}, fmt.Errorf("%s\nResume it with --resume %s, or close it out with --abort %s --reason TEXT", desc, u.id, u.id)
	}
	fmt.Fprintln(e.stdout, desc)
	r := bufio.NewReader(e.stdin)
	for {
		fmt.Fprint(e.stdout, "[r] resume it   [a] close it out as aborted   [q] quit: ")
		line, err := r.ReadString('\n')
		if err != nil && err != io.EOF {
			return unfinishedChoice{}, err
		}
		switch strings.TrimSpace(strings.ToLower(line)) {
		case "r":
			return unfinishedChoice{resume: u.id}, nil
		case "a":
			fmt.Fprint(e.stdout, "Why is it aborted? ")
			reason, _ := r.ReadString('\n')
			if reason = strings.TrimSpace(reason); reason == "" {
				fmt.Fprintln(e.stdout, "A reason is required.")
				continue
			}
			return unfinishedChoice{abort: u.id, reason: reason}, nil
		case "q":
			return unfinishedChoice{quit: true}, nil
		}
		if err == io.EOF {
			return unfinishedChoice{}, errors.New("no answer on standard input")
		}
	}
}

func newSessionID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func parseDemoPINs(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

func attestationRootLabel(rootPEM string) string {
	if rootPEM == "" {
		return "yubico"
	}
	subj := rootPEM
	if b, err := os.ReadFile(rootPEM); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				subj = c.Subject.String()
			}
		}
	}
	return "TEST/non-production: " + subj
}
