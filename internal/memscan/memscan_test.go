package memscan

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// testSecret derives a 64-byte value at run time so that the value itself
// is not in the test binary (which would count as a File copy).
func testSecret(label string) []byte {
	sum := sha256.Sum256([]byte("memscan test secret " + label))
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum[:])
	return out
}

var (
	heapSink   [][]byte
	lockedSink []byte
)

// TestMain runs the helper roles: MEMSCAN_ROLE=child holds known values
// (two heap copies of "heap", one mlocked copy of "locked", none of
// "absent") and waits on stdin; MEMSCAN_ROLE=scanner scans the pid in
// MEMSCAN_PID and prints the counts as JSON (to scan as another uid).
func TestMain(m *testing.M) {
	switch os.Getenv("MEMSCAN_ROLE") {
	case "child":
		a := make([]byte, 64)
		hex.Encode(a, func() []byte { s := sha256.Sum256([]byte("memscan test secret heap")); return s[:] }())
		b := make([]byte, 64)
		copy(b, a)
		heapSink = [][]byte{a, b}
		mem, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			fmt.Println("mmap:", err)
			os.Exit(2)
		}
		// A secure buffer as memcall makes it: MADV_DONTDUMP, then mlock.
		if err := syscall.Madvise(mem, 16 /* MADV_DONTDUMP */); err != nil {
			fmt.Println("madvise:", err)
			os.Exit(2)
		}
		if err := syscall.Mlock(mem); err != nil {
			fmt.Println("mlock:", err)
			os.Exit(2)
		}
		hex.Encode(mem, func() []byte { s := sha256.Sum256([]byte("memscan test secret locked")); return s[:] }())
		lockedSink = mem
		runtime.GC()
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		runtime.KeepAlive(heapSink)
		os.Exit(0)
	case "scanner":
		pid, _ := strconv.Atoi(os.Getenv("MEMSCAN_PID"))
		res, err := Scan(pid, secrets())
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		json.NewEncoder(os.Stdout).Encode(res.Counts)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func secrets() []Secret {
	return []Secret{{"heap", testSecret("heap")}, {"locked", testSecret("locked")}, {"absent", testSecret("absent")}}
}

// startChild runs the test binary as the holding child, as uid if uid >= 0.
func startChild(t *testing.T, exe string, uid int) int {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "MEMSCAN_ROLE=child")
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("child: %q", line)
	}
	return cmd.Process.Pid
}

func checkCounts(t *testing.T, counts map[string]map[Region]int) {
	t.Helper()
	if got := counts["heap"][Heap]; got != 2 {
		t.Errorf("heap value: %d copies in the heap, want 2 (%v)", got, counts["heap"])
	}
	if got := counts["locked"][Locked]; got != 1 {
		t.Errorf("locked value: %d copies in locked memory, want 1 (%v)", got, counts["locked"])
	}
	for _, name := range []string{"heap", "locked", "absent"} {
		total := 0
		for _, n := range counts[name] {
			total += n
		}
		want := map[string]int{"heap": 2, "locked": 1, "absent": 0}[name]
		if total != want {
			t.Errorf("%s: %d copies in all, want %d (%v)", name, total, want, counts[name])
		}
	}
}

// TestScanChild scans a child of the same user holding known values.
func TestScanChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pid := startChild(t, exe, -1)
	res, err := Scan(pid, secrets())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pid %d: %d mappings, %d bytes read, %d skipped\n%s", pid, res.Mappings, res.Bytes, res.Skipped, res.Table())
	checkCounts(t, res.Counts)
	if res.AllLocked {
		t.Errorf("AllLocked without mlockall")
	}
}

// TestScanUnprivileged scans, as an unprivileged user, a child that user
// owns (the scanner runs as uid 65534 too). Runs only as root (it needs to
// switch to that user); as a non-root user TestScanChild already is this case.
func TestScanUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("TestScanChild covers the unprivileged case when not root")
	}
	const nobody = 65534
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary must be executable by that user.
	dir, err := os.MkdirTemp("", "memscan")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	copyExe := filepath.Join(dir, "memscan.test")
	if err := os.WriteFile(copyExe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	pid := startChild(t, copyExe, nobody)
	cmd := exec.Command(copyExe)
	cmd.Env = append(os.Environ(), "MEMSCAN_ROLE=scanner", "MEMSCAN_PID="+strconv.Itoa(pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scanner as uid %d: %v\n%s", nobody, err, out)
	}
	var counts map[string]map[Region]int
	if err := json.Unmarshal(out, &counts); err != nil {
		t.Fatalf("scanner output: %v\n%s", err, out)
	}
	checkCounts(t, counts)

	// A process of another user is refused with ErrPermission.
	other := startChild(t, copyExe, -1) // root's
	cmd = exec.Command(copyExe)
	cmd.Env = append(os.Environ(), "MEMSCAN_ROLE=scanner", "MEMSCAN_PID="+strconv.Itoa(other))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "cannot read the process's memory") && !strings.Contains(string(out), "permission denied") {
		t.Errorf("scanning root's process as uid %d: %s", nobody, out)
	}
}

func TestParseSmaps(t *testing.T) {
	const smaps = `7f0000000000-7f0000001000 rw-p 00000000 00:00 0 
Size:                  4 kB
Locked:                4 kB
VmFlags: rd wr mr mw me lo ac sd dd 
7f0000001000-7f0000002000 ---p 00000000 00:00 0 
Locked:                0 kB
VmFlags: mr mw me ac sd 
c000000000-c000400000 rw-p 00000000 00:00 0 
Locked:                0 kB
VmFlags: rd wr mr mw me ac sd 
c000400000-c000800000 rw-p 00000000 00:00 0 
Locked:             4096 kB
VmFlags: rd wr mr mw me lo ac sd 
55d0-55e0 rw-p 00000000 00:00 0                          [heap]
7ffc0000-7ffd0000 rw-p 00000000 00:00 0                          [stack]
400000-500000 r--p 00000000 08:01 1234                       /usr/bin/x y
`
	maps, err := parseSmaps(strings.NewReader(smaps))
	if err != nil {
		t.Fatal(err)
	}
	// The mlockall'ed Go heap (lo, not dd) is still Heap.
	want := []Region{Locked, Guard, Heap, Heap, Heap, Stack, File}
	if len(maps) != len(want) {
		t.Fatalf("%d mappings, want %d", len(maps), len(want))
	}
	for i, m := range maps {
		if m.Region != want[i] {
			t.Errorf("mapping %d (%s %q): %s, want %s", i, m.Perms, m.Path, m.Region, want[i])
		}
	}
	if maps[6].Path != "/usr/bin/x y" {
		t.Errorf("path %q", maps[6].Path)
	}
}

func TestCountAcrossChunks(t *testing.T) {
	v := []byte("abcabc")
	if n := countIn([]byte("xxabcabcabc"), v, 0); n != 2 {
		t.Errorf("overlapping: %d", n)
	}
	// An occurrence wholly inside the carried prefix was counted before.
	if n := countIn([]byte("abcabq"), []byte("abcab"), 5); n != 0 {
		t.Errorf("inside carry counted: %d", n)
	}
	if n := countIn([]byte("cabcabq"), []byte("abcab"), 4); n != 1 {
		t.Errorf("ending after carry: %d", n)
	}
}
