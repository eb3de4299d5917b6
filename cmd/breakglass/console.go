package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"breakglass/console"
	"breakglass/runbook"
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
	resume, quit, err := o.chooseSession(e)
	if err != nil || quit {
		return err
	}
	if o.AbortSession != "" {
		if err := console.Abort(*resume, rb, o.AbortReason, time.Now); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Session %s closed out as aborted; its journal %s keeps every recorded event.\n", resume.ID, resume.Path)
		return nil
	}
	svc, err := console.New(console.Config{
		Vault: v, VaultPath: o.Vault, Runbook: rb, Station: newStation(),
		Trust: trust, TestRoot: testRoot, AttestationRoot: attestationRootLabel(o.AttestationRoot),
		Guards: console.Guards{Summary: e.guards.Summary(), Protected: e.guards.NetworkDenied() && e.guards.NoCoreDump == nil && e.guards.MemoryLocked == nil},
		Binary: hashExecutable(), Now: time.Now,
		StateDir: o.StateDir, ExportDir: o.ExportDir, Window: o.Window, Drill: o.Drill, Demo: o.DemoPINs != "",
		Resume: resume,
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	err = ui.Run(ctx, svc, ui.Options{In: e.stdinFile, Out: e.stdout, DemoPINs: parseDemoPINs(o.DemoPINs),
		ExportDir: o.ExportDir, Start: svc.Start()})
	sum, lockErr := svc.Finish()
	if lockErr != nil {
		return fmt.Errorf("%w (journal %s keeps every recorded event; run the same command again to resume session %s)",
			errors.Join(err, lockErr), svc.JournalPath(), svc.SessionID())
	}
	return reportEnd(e, svc, sum, err)
}

// chooseSession finds the unfinished sessions in the state directory and
// returns the one --resume or --abort names, or, when neither is given, asks
// on the terminal what to do with the first (quit: the operator chose to
// leave). With neither flag and no unfinished session it returns nil: a new
// session starts. Anything but an abort needs a terminal.
func (o *consoleOptions) chooseSession(e *env) (resume *console.Unfinished, quit bool, err error) {
	open, err := console.FindUnfinished(o.StateDir)
	if err != nil {
		return nil, false, err
	}
	if o.Resume == "" && o.AbortSession == "" && len(open) > 0 {
		choice, err := askUnfinished(e, open[0])
		if err != nil {
			return nil, false, err
		}
		o.Resume, o.AbortSession, o.AbortReason = choice.resume, choice.abort, choice.reason
		if choice.quit {
			return nil, true, nil
		}
	}
	if o.AbortSession == "" && (e.stdinFile == nil || !term.IsTerminal(int(e.stdinFile.Fd()))) {
		// Checked before any journal is created: a session that cannot be
		// shown must not be left behind as an unfinished one.
		return nil, false, errors.New("the console needs a terminal: run it on the station's screen or in a terminal window (standard input is not a terminal)")
	}
	if id := o.Resume + o.AbortSession; id != "" {
		for i := range open {
			if open[i].ID == id {
				resume = &open[i]
			}
		}
		if resume == nil {
			return nil, false, fmt.Errorf("no unfinished session %q in %s", id, o.StateDir)
		}
	}
	return resume, false, nil
}

// reportEnd tells the operator how the console ended.
func reportEnd(e *env, svc *console.Service, sum ui.Summary, err error) error {
	switch {
	case errors.Is(err, ui.ErrQuit):
		fmt.Fprintf(e.stdout, "Console closed. Secrets wiped. Every recorded event is in %s.\nRun the same command again to resume session %s or close it out as aborted.\n",
			svc.JournalPath(), svc.SessionID())
		return nil
	case err != nil:
		return fmt.Errorf("%w (journal %s keeps every recorded event)", err, svc.JournalPath())
	}
	fmt.Fprintf(e.stdout, "Session %s locked. Secrets wiped.\n", svc.SessionID())
	for _, f := range sum.Exported {
		fmt.Fprintf(e.stdout, "  %s  sha256 %s\n", f.Path, f.SHA256)
	}
	if len(sum.Revealed) > 0 {
		fmt.Fprintf(e.stdout, "Rotate now (revealed in this session): %s\n", strings.Join(sum.Revealed, ", "))
	}
	return nil
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

// hashExecutable identifies the running binary: its version and the
// SHA-256 `make release` prints.
func hashExecutable() console.Binary {
	b := console.Binary{Version: version()}
	p, err := os.Executable()
	if err != nil {
		b.Err = err
		return b
	}
	f, err := os.Open(p)
	if err != nil {
		b.Err = err
		return b
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Err = err
		return b
	}
	b.SHA256 = hex.EncodeToString(h.Sum(nil))
	return b
}
