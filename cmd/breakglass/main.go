// Command breakglass is the offline break-glass console: it unlocks emergency
// credentials only with a quorum of custodians' YubiKeys, walks the operator
// through a runbook, and exports a report signed on the custodians' keys.
//
// Usage: breakglass COMMAND [flags]. Run "breakglass help" for the list.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/awnumar/memguard"
)

// env is what a subcommand may touch of the outside world. Tests build one
// with buffers; main builds it from the process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// stdinFile is the terminal (or nil) for masked prompts and the console.
	stdinFile *os.File
	// guards is what main did to protect the process (core dumps, network).
	guards processGuards
}

// command is one subcommand, registered from its own file with register.
type command struct {
	name    string // "keys", "vault init"
	summary string // one line for "breakglass help"
	run     func(ctx context.Context, e *env, args []string) int
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("breakglass: duplicate command " + c.name) // programming error at init, never input
	}
	commands[c.name] = c
}

func main() {
	guards := applyProcessGuards()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv, stdinFile: os.Stdin, guards: guards,
	})
	stop()
	memguard.Purge() // wipe every locked buffer (revealed secrets, vault key) on every exit path
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process exit code:
// 0 success, 1 the operation failed, 2 usage error.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(e.stdout)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(e.stdout, "breakglass", version())
		return 0
	}
	// Two-word commands ("vault init") first, then one-word ones.
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c.run(ctx, e, args[2:])
		}
	}
	if c, ok := commands[args[0]]; ok {
		return c.run(ctx, e, args[1:])
	}
	fmt.Fprintf(e.stderr, "breakglass: unknown command %q\n", strings.Join(args[:min(2, len(args))], " "))
	fmt.Fprintln(e.stderr, `Run "breakglass help" for the list of commands.`)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "breakglass — offline break-glass console (quorum of YubiKeys, runbook, signed report)")
	fmt.Fprintln(w, "\nUsage: breakglass COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  version          print the version")
	fmt.Fprintln(w, "\nRun \"breakglass COMMAND -h\" for a command's flags.")
}

// version is the module version from build info (a pseudo-version names
// the commit and "+dirty" an uncommitted tree), else the VCS revision.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "(devel)"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}
