package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"breakglass/hardware/station"
)

// TestMain runs the guard child (airgap_test.go) or, under the name
// "breakglass", the real command, as testscript scripts call it; otherwise
// the tests, as root: not as root, first in a user namespace (see
// inUserNamespace).
func TestMain(m *testing.M) {
	if dir := os.Getenv(guardChildEnv); dir != "" {
		os.Exit(guardChild(dir))
	}
	if filepath.Base(os.Args[0]) != "breakglass" && os.Geteuid() != 0 {
		os.Exit(inUserNamespace())
	}
	testscript.Main(cleanupAfter{m}, map[string]func(){"breakglass": main})
}

// cleanupAfter runs the tests, then removes what the end-to-end fixtures
// shared between tests (the demo snapshot).
type cleanupAfter struct{ m *testing.M }

func (c cleanupAfter) Run() int {
	defer removeDemoSnapshot()
	return c.m.Run()
}

// inUserNamespace runs this test binary again under unshare --user
// --map-root-user --mount and returns its exit status. The end-to-end tests
// here do what needs root: mount tmpfs media (full and read-only disks),
// strace the console after it made itself non-dumpable, unshare -n; in a
// user namespace of its own an unprivileged user may do all of them, with
// mounts private to the tests. Files stay owned by the user outside. Where
// user namespaces are not allowed the package fails, saying so.
func inUserNamespace() int {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cmd/breakglass tests: not root, and unshare (util-linux) is missing: %v\n", err)
		return 1
	}
	cmd := exec.Command(unshare, append([]string{"--user", "--map-root-user", "--mount", "--propagation", "private", "--", os.Args[0]}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() != 0 {
			fmt.Fprintf(os.Stderr, "cmd/breakglass tests: run as uid %d inside unshare -U -r -m (needs unprivileged user namespaces: "+
				"sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1 where it exists); exit %d\n", os.Geteuid(), ee.ExitCode())
		}
		return max(ee.ExitCode(), 1)
	default:
		fmt.Fprintf(os.Stderr, "cmd/breakglass tests: running the tests in a user namespace: %v\n", err)
		return 1
	}
}

// TestScript runs the command-line contract of every subcommand:
// testdata/script/*.txt. Scripts see
//
//	$REPO      the repository root (testdata/vault/sample.json, …)
//	$TESTROOT  the TEST attestation root of the virtual YubiKeys
//	$BIN       the directory holding the breakglass command (for demo-setup.sh)
//
// and commands of their own: "exits N PROG ARGS..." runs PROG like exec and
// requires exit status N (2 is a usage error, 1 a refusal), "station N"
// starts a private pcscd with N virtual YubiKeys (serials 10000001…) for
// the rest of the script, and "demo-setup" prepares the demo vault on it in
// $WORK/demo.
func TestScript(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bg, err := exec.LookPath("breakglass")
	if err != nil {
		t.Fatalf("testscript.Main did not put breakglass in $PATH: %v", err)
	}
	dir := filepath.Join("testdata", "script")
	if scripts, _ := filepath.Glob(filepath.Join(dir, "*.txt")); len(scripts) == 0 {
		t.Fatalf("no scripts in %s", dir)
	}
	vyk := virtualYubiKeyBin(t.TempDir())
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			e.Setenv("REPO", repo)
			e.Setenv("TESTROOT", filepath.Join(repo, "testdata", "attestation-root.pem"))
			e.Setenv("BIN", filepath.Dir(bg))
			e.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":      cmdExits,
			"station":    func(ts *testscript.TestScript, neg bool, args []string) { cmdStation(ts, neg, args, vyk) },
			"demo-setup": cmdDemoSetup,
		},
	})
}

// cmdExits is "exits N PROG ARGS...": exec PROG, which must exit with
// status N; its output is then checked with stdout and stderr as usual.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit status", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: running %s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdStation is "station N": a private pcscd with N virtual YubiKeys
// (serials 10000001…, factory PINs), PCSCLITE_CSOCK_NAME set for the rest
// of the script and the station stopped when it ends. It fails, saying
// what is missing, where a station cannot start. Scripts skip it in -short
// mode with "[short] skip" before it.
func cmdStation(ts *testscript.TestScript, neg bool, args []string, vyk func() (string, error)) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: station N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > station.MaxKeys {
		ts.Fatalf("station: %q is not a key count 1..%d", args[0], station.MaxKeys)
	}
	if testing.Short() {
		ts.Fatalf("station in -short mode: put [short] skip before it")
	}
	bin, err := vyk()
	if err != nil {
		ts.Fatalf("station: %v", err)
	}
	// The socket lives under a short directory of its own: a unix socket
	// path is limited to 108 bytes and $WORK can be long.
	run, err := os.MkdirTemp("", "bgs")
	if err != nil {
		ts.Fatalf("station: %v", err)
	}
	o := station.Options{Dir: ts.MkAbs(".station"), RunDir: run, VirtualYubiKeyBin: bin}
	for i := range n {
		o.Keys = append(o.Keys, station.KeySpec{Serial: uint32(10000001 + i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := station.Start(ctx, o)
	if err != nil {
		os.RemoveAll(run)
		ts.Fatalf("starting the PC/SC test station (make deps installs what it needs): %v", err)
	}
	ts.Setenv("PCSCLITE_CSOCK_NAME", st.Socket())
	ts.Defer(func() {
		if err := st.Close(); err != nil {
			ts.Logf("closing the PC/SC test station: %v", err)
		}
		os.RemoveAll(run)
	})
}

// cmdDemoSetup is "demo-setup": testdata/scripts/demo-setup.sh $WORK/demo
// on the script's station (three keys): PINs 111111/222222/333333, Alice,
// Bob and Carol enrolled, a 2-of-3 vault demo/vault.json with three secrets.
func cmdDemoSetup(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: demo-setup")
	}
	if ts.Getenv("PCSCLITE_CSOCK_NAME") == "" {
		ts.Fatalf("demo-setup: run station 3 first")
	}
	cmd := exec.Command(filepath.Join(ts.Getenv("REPO"), "testdata", "scripts", "demo-setup.sh"), ts.MkAbs("demo"))
	cmd.Dir = ts.MkAbs(".")
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "BIN", "PCSCLITE_CSOCK_NAME"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("demo-setup.sh: %v\n%s", err, out)
	}
}

// virtualYubiKeyBin returns a function giving $BREAKGLASS_BIN/virtual-yubikey
// when it exists (make test sets BREAKGLASS_BIN), else cmd/virtual-yubikey
// built into dir on first use, once for all scripts.
func virtualYubiKeyBin(dir string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		if d := os.Getenv("BREAKGLASS_BIN"); d != "" {
			if bin := filepath.Join(d, "virtual-yubikey"); vtFileExists(bin) {
				return bin, nil
			}
		}
		bin := filepath.Join(dir, "virtual-yubikey")
		out, err := exec.Command("go", "build", "-o", bin, "breakglass/cmd/virtual-yubikey").CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("building virtual-yubikey: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return bin, nil
	})
}
