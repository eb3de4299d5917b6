package main

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// processGuards records what the process did to protect itself at start-up,
// so preflight can show it and the journal can record it.
type processGuards struct {
	NoCoreDump   error // nil: RLIMIT_CORE is 0 and the process is not dumpable
	Seccomp      error // nil: a seccomp filter refuses every socket family but AF_UNIX, and io_uring
	Landlock     error // nil: TCP bind/connect denied by Landlock
	LandlockABI  int   // Landlock ABI version the kernel reported (0 = none)
	MemoryLocked error // nil: mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT): no page can be swapped
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
		line("sockets other than AF_UNIX and io_uring refused (seccomp)", g.Seccomp),
		line(fmt.Sprintf("network denied (landlock ABI %d)", g.LandlockABI), g.Landlock),
		line("all memory locked, never swapped (mlockall)", g.MemoryLocked),
	}
}

// NetworkDenied reports whether at least one mechanism stops the process
// from opening an IP socket.
func (g processGuards) NetworkDenied() bool { return g.Seccomp == nil || g.Landlock == nil }

// applyProcessGuards is called once from main, before any subcommand runs:
// core dumps off and not dumpable for the life of the process (invariant 3),
// and every socket but AF_UNIX denied to the whole process (invariant 6). Every
// failure is kept, not fatal: preflight shows it and the journal records it.
func applyProcessGuards() processGuards {
	var g processGuards
	g.NoCoreDump = disableCoreDumps()
	g.MemoryLocked = lockAllMemory()
	// no_new_privs is required by both seccomp and landlock for an unprivileged
	// process, and costs nothing: breakglass never execs a setuid program.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		err = fmt.Errorf("setting no_new_privs: %w", err)
		g.Seccomp, g.Landlock = err, err
		return g
	}
	g.Seccomp = denySockets()
	g.LandlockABI, g.Landlock = landlockDenyTCP()
	return g
}

// lockAllMemory locks every page of the process, present and future, in
// RAM (mlockall with MCL_ONFAULT: a page is locked when first touched, so
// the Go runtime's reserved address space costs nothing), so no page that
// ever held a secret can be written to swap. RLIMIT_MEMLOCK's soft limit is
// raised to the hard one first. With a finite limit the Go heap must stay
// under it (a locked mmap over the limit fails and the runtime dies), so the
// GC's soft memory limit is set to half of it. Failing to lock is not
// fatal: preflight then WARNs (process protections) and needs an
// acknowledged reason, and the journal records the guard line; a
// break-glass console that refuses to start on a station with a low
// memlock limit would fail the emergency it exists for, and memguard's
// buffers are still locked on their own.
func lockAllMemory() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim)
	}
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		return fmt.Errorf("mlockall (RLIMIT_MEMLOCK %s; needs unlimited or CAP_IPC_LOCK): %w", memlockString(lim.Cur), err)
	}
	if lim.Cur != unix.RLIM_INFINITY && !hasCapIPCLock() {
		debug.SetMemoryLimit(int64(lim.Cur / 2))
	}
	return nil
}

func memlockString(n uint64) string {
	if n == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprintf("%d KiB", n/1024)
}

// hasCapIPCLock reports whether the process has CAP_IPC_LOCK in its
// effective set (then RLIMIT_MEMLOCK does not apply).
func hasCapIPCLock() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_IPC_LOCK/32].Effective&(1<<(unix.CAP_IPC_LOCK%32)) != 0
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

// x32SyscallBit marks an x32-ABI system call on amd64: the same audit
// architecture as x86-64 with other numbers, so the filter refuses it
// outright rather than let socket(2) through under another number.
const x32SyscallBit = 0x40000000

// seccompFilter is the BPF program denySockets installs: socket(2) and
// socketpair(2) fail with EACCES for every family but AF_UNIX (pcscd's
// socket); io_uring_setup, io_uring_enter and io_uring_register fail with
// EACCES (an io_uring can open sockets without socket(2)); an x32 system
// call fails with EACCES; a system call of another architecture kills the
// process. Everything else is allowed.
func seccompFilter(arch uint32) []unix.SockFilter {
	const (
		ldW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		deny  = unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)
		allow = unix.SECCOMP_RET_ALLOW
	)
	// struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (its low word
	// on little endian; the kernel reads the family as an int).
	// Jumps are relative to the next instruction; the labels are the
	// instruction numbers in the comments.
	return []unix.SockFilter{
		/* 0 */ {Code: ldW, K: 4},
		/* 1 */ {Code: jeq, Jt: 1, Jf: 0, K: arch},
		/* 2 */ {Code: ret, K: unix.SECCOMP_RET_KILL_PROCESS}, // foreign architecture
		/* 3 */ {Code: ldW, K: 0},
		/* 4 */ {Code: jge, Jt: 8, Jf: 0, K: x32SyscallBit}, // → 13 deny
		/* 5 */ {Code: jeq, Jt: 5, Jf: 0, K: uint32(unix.SYS_SOCKET)}, // → 11 family
		/* 6 */ {Code: jeq, Jt: 4, Jf: 0, K: uint32(unix.SYS_SOCKETPAIR)}, // → 11 family
		/* 7 */ {Code: jeq, Jt: 5, Jf: 0, K: uint32(unix.SYS_IO_URING_SETUP)}, // → 13 deny
		/* 8 */ {Code: jeq, Jt: 4, Jf: 0, K: uint32(unix.SYS_IO_URING_ENTER)}, // → 13 deny
		/* 9 */ {Code: jeq, Jt: 3, Jf: 0, K: uint32(unix.SYS_IO_URING_REGISTER)}, // → 13 deny
		/* 10 */ {Code: ret, K: allow},
		/* 11 family */ {Code: ldW, K: 16},
		/* 12 */ {Code: jeq, Jt: 1, Jf: 0, K: unix.AF_UNIX}, // → 14 allow
		/* 13 deny */ {Code: ret, K: deny},
		/* 14 */ {Code: ret, K: allow},
	}
}

// denySockets installs seccompFilter on every thread of the process.
func denySockets() error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return fmt.Errorf("seccomp filter not built for %s", runtime.GOARCH)
	}
	prog := seccompFilter(arch)
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
