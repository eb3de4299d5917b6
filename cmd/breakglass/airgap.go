package main

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// processGuards records what the process did to protect itself at start-up,
// so preflight can show it and the journal can record it.
type processGuards struct {
	NoCoreDump  error // nil: RLIMIT_CORE is 0 and the process is not dumpable
	Seccomp     error // nil: socket(AF_INET|AF_INET6) is refused by a seccomp filter
	Landlock    error // nil: TCP bind/connect denied by Landlock
	LandlockABI int   // Landlock ABI version the kernel reported (0 = none)
}

// Summary is one line per guard, for preflight and the journal.
func (g processGuards) Summary() []string {
	line := func(name string, err error) string {
		if err == nil {
			return name + ": on"
		}
		return name + ": OFF (" + err.Error() + ")"
	}
	return []string{
		line("core dumps disabled", g.NoCoreDump),
		line("network sockets refused (seccomp)", g.Seccomp),
		line(fmt.Sprintf("network denied (landlock ABI %d)", g.LandlockABI), g.Landlock),
	}
}

// NetworkDenied reports whether at least one mechanism stops the process
// from opening an IP socket.
func (g processGuards) NetworkDenied() bool { return g.Seccomp == nil || g.Landlock == nil }

// applyProcessGuards is called once from main, before any subcommand runs:
// core dumps off and not dumpable for the life of the process (invariant 3),
// and IP networking denied to the whole process (invariant 6). Every
// failure is kept, not fatal: preflight shows it and the journal records it.
func applyProcessGuards() processGuards {
	var g processGuards
	g.NoCoreDump = disableCoreDumps()
	// no_new_privs is required by both seccomp and landlock for an unprivileged
	// process, and costs nothing: breakglass never execs a setuid program.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		err = fmt.Errorf("setting no_new_privs: %w", err)
		g.Seccomp, g.Landlock = err, err
		return g
	}
	g.Seccomp = denyIPSockets()
	g.LandlockABI, g.Landlock = landlockDenyTCP()
	return g
}

func disableCoreDumps() error {
	var errs []error
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		errs = append(errs, fmt.Errorf("RLIMIT_CORE: %w", err))
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		errs = append(errs, fmt.Errorf("PR_SET_DUMPABLE: %w", err))
	}
	return errors.Join(errs...)
}

// denyIPSockets installs a seccomp filter on every thread that makes
// socket(2) fail with EACCES for AF_INET and AF_INET6. Unix sockets (pcscd)
// and netlink (reading interface state for preflight) stay allowed.
func denyIPSockets() error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return fmt.Errorf("seccomp filter not built for %s", runtime.GOARCH)
	}
	const (
		ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
		deny = unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)
	)
	// struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (low word on little endian).
	prog := []unix.SockFilter{
		{Code: ldW, K: 4},
		{Code: jeq, Jt: 1, Jf: 0, K: arch},
		{Code: ret, K: unix.SECCOMP_RET_KILL_PROCESS}, // a foreign-arch syscall: refuse outright
		{Code: ldW, K: 0},
		{Code: jeq, Jt: 0, Jf: 4, K: uint32(unix.SYS_SOCKET)},
		{Code: ldW, K: 16},
		{Code: jeq, Jt: 1, Jf: 0, K: unix.AF_INET},
		{Code: jeq, Jt: 0, Jf: 1, K: unix.AF_INET6},
		{Code: ret, K: deny},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("installing seccomp filter: %w", errno)
	}
	return nil
}

// landlockDenyTCP restricts the process with a Landlock ruleset that handles
// TCP bind and connect and allows none (Landlock ABI 4 and later).
func landlockDenyTCP() (abi int, err error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, fmt.Errorf("landlock unavailable: %w", errno)
	}
	abi = int(v)
	if abi < 4 {
		return abi, fmt.Errorf("landlock ABI %d has no network rules (needs 4)", abi)
	}
	attr := struct{ fs, net uint64 }{net: unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return abi, fmt.Errorf("creating landlock ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return abi, fmt.Errorf("enforcing landlock ruleset: %w", errno)
	}
	return abi, nil
}
