package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

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
		if len(args) > 0 {
			msg = fmt.Sprintf(msg, args...)
		}
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
	// Only AF_UNIX (issue 10 item 10): every other family is refused by the
	// filter itself (EACCES), not by a missing privilege or module.
	if g.Seccomp != nil {
		return fail("seccomp filter not installed: " + g.Seccomp.Error())
	}
	for _, fam := range []struct {
		name     string
		domain   int
		typ      int
		protocol int
	}{
		{"AF_PACKET", unix.AF_PACKET, unix.SOCK_DGRAM, 0},
		{"AF_VSOCK", unix.AF_VSOCK, unix.SOCK_STREAM, 0},
		{"AF_NETLINK", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE},
		{"AF_INET", unix.AF_INET, unix.SOCK_DGRAM, 0},
		{"AF_INET6", unix.AF_INET6, unix.SOCK_STREAM, 0},
		{"AF_BLUETOOTH", unix.AF_BLUETOOTH, unix.SOCK_STREAM, 0},
		{"AF_XDP", unix.AF_XDP, unix.SOCK_RAW, 0},
	} {
		if fd, err := unix.Socket(fam.domain, fam.typ, fam.protocol); !errors.Is(err, unix.EACCES) {
			if err == nil {
				unix.Close(fd)
			}
			return fail("socket(%s) = %v, want EACCES from the filter", fam.name, err)
		}
		if fds, err := unix.Socketpair(fam.domain, fam.typ, fam.protocol); !errors.Is(err, unix.EACCES) {
			if err == nil {
				unix.Close(fds[0])
				unix.Close(fds[1])
			}
			return fail("socketpair(%s) = %v, want EACCES from the filter", fam.name, err)
		}
	}
	var params [120]byte // struct io_uring_params
	if fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0); errno != unix.EACCES {
		if errno == 0 {
			unix.Close(int(fd))
		}
		return fail("io_uring_setup = %v, want EACCES from the filter", errno)
	}
	if runtime.GOARCH == "amd64" {
		// socket(2) under its x32 number must not slip past the filter.
		if fd, _, errno := unix.Syscall(unix.SYS_SOCKET|x32SyscallBit, unix.AF_INET, unix.SOCK_DGRAM, 0); errno != unix.EACCES {
			if errno == 0 {
				unix.Close(int(fd))
			}
			return fail("x32 socket = %v, want EACCES from the filter", errno)
		}
	}
	// pcscd is reached over a unix socket: that must still work.
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		return fail("unix socket refused: " + err.Error())
	}
	ln.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fail("socketpair(AF_UNIX) refused: " + err.Error())
	}
	unix.Close(fds[0])
	unix.Close(fds[1])
	// Preflight's network state is read from /proc and /sys, no socket.
	if _, err := os.ReadFile("/proc/net/dev"); err != nil {
		return fail("reading /proc/net/dev behind the guards: " + err.Error())
	}
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
