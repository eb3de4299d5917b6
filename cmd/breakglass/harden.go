package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hardenProcess turns off core dumps and ptrace attach for the life of the
// process, so a crash cannot write revealed secrets to disk (invariant 3).
// Failure is reported but not fatal: the preflight screen shows it.
func hardenProcess(e *env) {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		fmt.Fprintf(e.stderr, "breakglass: warning: cannot disable core dumps: %v\n", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintf(e.stderr, "breakglass: warning: cannot mark process non-dumpable: %v\n", err)
	}
}
