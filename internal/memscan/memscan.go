// Package memscan counts copies of known byte strings (secrets) in the live
// memory of a process, by mapping class, so tests can measure security
// invariant 3 ("after hide and at lock no copy remains in the process's
// memory"). It reads /proc/PID/smaps for the mappings and their flags and
// /proc/PID/mem for their contents.
//
// Permission: reading another process's /proc/PID/mem needs ptrace-read
// access (PTRACE_MODE_ATTACH_FSCREDS): root (CAP_SYS_PTRACE), or the same
// uid as the target when the target is dumpable and Yama's
// kernel.yama.ptrace_scope is 0, or 1 with the target a descendant of the
// scanner (a test's child, or its tmux-started grandchild, is not: tmux's
// server is re-parented to init). A process that made itself non-dumpable
// (prctl(PR_SET_DUMPABLE, 0), as core-dump hardening does) is readable only
// with CAP_SYS_PTRACE. Scan reports such failures as an error naming them.
//
// Nothing here ever returns or formats the secret's bytes: results carry the
// name given by the caller and counts.
package memscan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Region classifies a mapping.
type Region string

const (
	// Locked is a secure buffer: a mapping with pages locked in RAM (smaps
	// VmFlags "lo", or a non-zero Locked: size) and excluded from core
	// dumps (VmFlags "dd"): memguard's buffers are mmap'ed, madvised
	// MADV_DONTDUMP and mlock'ed, so this is where they live. After
	// mlockall(MCL_CURRENT|MCL_FUTURE) every mapping is locked; the Go heap
	// then stays Heap (it is never "dd"), and AllLocked says so.
	Locked Region = "locked"
	// Guard is a PROT_NONE mapping (memguard's guard pages; never readable).
	Guard Region = "guard"
	// Heap is the Go heap: anonymous read-write mappings not otherwise
	// classified, plus [heap] (the brk area, used by cgo's malloc).
	Heap Region = "heap"
	// Stack is [stack] and goroutine stacks cannot be told apart from the
	// Go heap by the kernel's view: Go allocates goroutine stacks from the
	// same spans. Only the main thread's [stack] (and [stack:TID]) land here.
	Stack Region = "stack"
	// File is a file-backed mapping (the binary's data and bss, libraries).
	File Region = "file"
	// Other is everything else ([vdso], [vvar], ...).
	Other Region = "other"
)

// Regions is the order Regions are reported in.
var Regions = []Region{Locked, Heap, Stack, File, Other}

// Mapping is one line of /proc/PID/smaps with what classification needs.
type Mapping struct {
	Start, End uint64
	Perms      string // "rw-p"
	Path       string // "" for anonymous, "[heap]", "/usr/bin/x"
	LockedKB   uint64
	VmFlags    []string
	Region     Region
}

// Secret is a named byte string to count. The name is what reports show.
type Secret struct {
	Name  string
	Value []byte
}

// Count is the copies of one secret in one region.
type Count struct {
	Name   string
	Region Region
	N      int
}

// Result is one scan.
type Result struct {
	Pid      int
	Counts   map[string]map[Region]int // secret name -> region -> copies
	Mappings int                       // mappings read
	Bytes    uint64                    // bytes read
	Skipped  int                       // mappings that could not be read (guard pages, vsyscall)
	// AllLocked is true when every readable anonymous mapping is locked
	// (mlockall in effect) or droppable (never swapped).
	AllLocked bool
}

// Total is the copies of name in every region.
func (r *Result) Total(name string) int {
	n := 0
	for _, c := range r.Counts[name] {
		n += c
	}
	return n
}

// Outside is the copies of name anywhere but in locked memory.
func (r *Result) Outside(name string) int { return r.Total(name) - r.Counts[name][Locked] }

// Table formats the result as "name region=N ..." lines: names and counts
// only, never a secret's value.
func (r *Result) Table() string {
	var names []string
	for n := range r.Counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%-26s total %4d", n, r.Total(n))
		for _, reg := range Regions {
			fmt.Fprintf(&b, "  %s %4d", reg, r.Counts[n][reg])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Maps reads and classifies /proc/PID/smaps.
func Maps(pid int) ([]Mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSmaps(f)
}

func parseSmaps(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if k := fields[0]; strings.HasSuffix(k, ":") {
			if len(out) == 0 {
				continue
			}
			m := &out[len(out)-1]
			switch k {
			case "Locked:":
				if len(fields) > 1 {
					m.LockedKB, _ = strconv.ParseUint(fields[1], 10, 64)
				}
			case "VmFlags:":
				m.VmFlags = fields[1:]
			}
			continue
		}
		// A mapping header: start-end perms offset dev inode [path]
		se := strings.SplitN(fields[0], "-", 2)
		if len(se) != 2 || len(fields) < 5 {
			continue
		}
		s, err1 := strconv.ParseUint(se[0], 16, 64)
		e, err2 := strconv.ParseUint(se[1], 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		m := Mapping{Start: s, End: e, Perms: fields[1]}
		if len(fields) >= 6 {
			m.Path = strings.Join(fields[5:], " ")
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Region = classify(&out[i])
	}
	return out, nil
}

func hasFlag(m *Mapping, f string) bool {
	for _, x := range m.VmFlags {
		if x == f {
			return true
		}
	}
	return false
}

func classify(m *Mapping) Region {
	switch {
	case !strings.HasPrefix(m.Perms, "r"):
		return Guard
	case (hasFlag(m, "lo") || m.LockedKB > 0) && hasFlag(m, "dd"):
		// A secure buffer: locked and excluded from core dumps (memcall's
		// Lock, used by memguard and the vault's arena, does both). Under
		// mlockall every mapping is locked, but the Go heap is never "dd":
		// a copy there is still outside the secure buffers.
		return Locked
	case m.Path == "[heap]" || m.Path == "":
		return Heap
	case strings.HasPrefix(m.Path, "[stack"):
		return Stack
	case strings.HasPrefix(m.Path, "/"):
		return File
	default:
		return Other
	}
}

// ErrPermission wraps a failure to read the target's memory.
var ErrPermission = errors.New("memscan: cannot read the process's memory (needs ptrace-read access: root/CAP_SYS_PTRACE, or same uid with kernel.yama.ptrace_scope=0 and a dumpable target)")

// Scan reads every readable mapping of pid and counts each secret in it.
// Overlapping occurrences are counted; an occurrence spanning two adjacent
// mappings is counted in neither (mappings are scanned separately).
func Scan(pid int, secrets []Secret) (*Result, error) {
	maps, err := Maps(pid)
	if err != nil {
		return nil, err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%w: %v", ErrPermission, err)
		}
		return nil, err
	}
	defer mem.Close()
	res := &Result{Pid: pid, Counts: map[string]map[Region]int{}}
	for _, s := range secrets {
		if len(s.Value) == 0 {
			return nil, fmt.Errorf("memscan: secret %q is empty", s.Name)
		}
		res.Counts[s.Name] = map[Region]int{}
	}
	anon, anonLocked := 0, 0
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	defer clear(buf)
	maxLen := 0
	for _, s := range secrets {
		maxLen = max(maxLen, len(s.Value))
	}
	readAny := false
	for i := range maps {
		m := &maps[i]
		if m.Region == Guard || m.Path == "[vsyscall]" || m.Path == "[vvar]" || strings.HasPrefix(m.Path, "[vvar") {
			res.Skipped++
			continue
		}
		if m.Path == "" || m.Path == "[heap]" {
			anon++
			// Locked, secure buffer or not. A droppable mapping ("dp",
			// MAP_DROPPABLE: the vDSO getrandom state) cannot be locked, and
			// need not be: the kernel discards its pages, never swaps them.
			if hasFlag(m, "lo") || m.LockedKB > 0 || hasFlag(m, "dp") {
				anonLocked++
			}
		}
		ok, err := scanMapping(mem, m, secrets, maxLen, buf, res)
		if err != nil {
			if errors.Is(err, os.ErrPermission) || errors.Is(err, errEIO) && !readAny {
				return nil, fmt.Errorf("%w: %v", ErrPermission, err)
			}
			res.Skipped++
			continue
		}
		if ok {
			readAny = true
			res.Mappings++
			res.Bytes += m.End - m.Start
		}
	}
	if !readAny {
		return nil, fmt.Errorf("%w: no mapping of pid %d could be read", ErrPermission, pid)
	}
	res.AllLocked = anon > 0 && anon == anonLocked
	return res, nil
}

var errEIO = errors.New("EIO")

// scanMapping reads m in chunks, keeping maxLen-1 bytes of overlap so an
// occurrence across a chunk boundary is counted once.
func scanMapping(mem *os.File, m *Mapping, secrets []Secret, maxLen int, buf []byte, res *Result) (bool, error) {
	keep := maxLen - 1
	carry := 0 // bytes at the start of buf carried from the previous chunk
	for off := m.Start; off < m.End; {
		n := min(uint64(len(buf)-carry), m.End-off)
		got, err := mem.ReadAt(buf[carry:carry+int(n)], int64(off))
		if got == 0 && err != nil {
			if off == m.Start {
				if pe, ok := err.(*os.PathError); ok && pe.Err.Error() == "input/output error" {
					return false, errEIO
				}
				return false, err
			}
			break // partially unreadable: count what was read
		}
		window := buf[:carry+got]
		for _, s := range secrets {
			res.Counts[s.Name][m.Region] += countIn(window, s.Value, carry)
		}
		off += uint64(got)
		// carry the tail
		if keep > 0 && len(window) > keep {
			copy(buf, window[len(window)-keep:])
			carry = keep
		} else {
			carry = 0
		}
	}
	return true, nil
}

// countIn counts occurrences of v in w that end after w[carry:] begins
// (those entirely inside the carried prefix were counted with the previous
// chunk).
func countIn(w, v []byte, carry int) int {
	n := 0
	for i := 0; ; {
		j := bytes.Index(w[i:], v)
		if j < 0 {
			return n
		}
		at := i + j
		if at+len(v) > carry {
			n++
		}
		i = at + 1
	}
}
