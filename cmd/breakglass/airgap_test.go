package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The guards are irreversible, so they are applied in a child copy of the
// test binary, which reports what it could and could not do.
const guardChildEnv = "BREAKGLASS_GUARD_CHILD"

// TestMain (script_test.go) runs guardChild when guardChildEnv is set.

// guardChild applies the guards and then tries what they must forbid and
// what they must still allow. Exit 0 only if all went as required.
func guardChild(dir string) int {
	g := applyProcessGuards()
	os.Stderr.WriteString(strings.Join(g.Summary(), "; ") + "\n")
	fail := func(msg string, args ...any) int {
		os.Stderr.WriteString(msg + "\n")
		return 1
	}
	if g.NoCoreDump != nil {
		return fail("core dumps: " + g.NoCoreDump.Error())
	}
	if !g.NetworkDenied() {
		return fail("no network guard took effect: " + strings.Join(g.Summary(), "; "))
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil || rl.Cur != 0 || rl.Max != 0 {
		return fail("RLIMIT_CORE not zero")
	}
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 0 {
		return fail("process still dumpable")
	}
	for _, network := range []string{"tcp4", "tcp6", "udp4"} {
		if ln, err := net.Listen(network, "localhost:0"); err == nil {
			ln.Close()
			return fail(network + " listen succeeded behind the guards")
		}
	}
	if c, err := net.Dial("tcp", "127.0.0.1:9"); err == nil || !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
		if c != nil {
			c.Close()
		}
		return fail("tcp dial not refused: %v", err)
	}
	// pcscd is reached over a unix socket: that must still work.
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		return fail("unix socket refused: " + err.Error())
	}
	ln.Close()
	return 0
}

// TestProcessGuards is invariant 6 (no network) and part of 3 (no core dump):
// after start-up the process cannot open an IP socket, can still reach
// pcscd's unix socket, and cannot dump core.
func TestProcessGuards(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), guardChildEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("guarded child failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
