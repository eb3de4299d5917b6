//go:build unix

package audit

import "syscall"

// processCPU returns the CPU time (user and system) the process has used so
// far, in nanoseconds: a benchmark's cost on a machine shared with other
// work, where wall time also counts waiting for a CPU.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
