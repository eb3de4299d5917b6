package main

import (
	"encoding/base32"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"breakglass/internal/memscan"
)

// memSecrets are the demo secrets the memory test counts, by name. The
// TOTP seed is counted both as the sealed base32 text and as the decoded
// key bytes an HOTP computation uses.
func memSecrets(t *testing.T) []memscan.Secret {
	raw, err := base32.StdEncoding.DecodeString(demoSecrets[1])
	if err != nil {
		t.Fatalf("decoding the demo TOTP seed: %v", err)
	}
	return []memscan.Secret{
		{Name: "password", Value: []byte(demoSecrets[0])},
		{Name: "totp-seed (base32)", Value: []byte(demoSecrets[1])},
		{Name: "totp-seed (key bytes)", Value: raw},
		{Name: "recovery-code (never shown)", Value: []byte(demoSecrets[2])},
	}
}

// consolePid is the pid of the program tmux's shell runs (the shell's
// only child).
func (c *tmuxConsole) consolePid() int {
	c.t.Helper()
	sh, err := strconv.Atoi(strings.TrimSpace(c.tmux("list-panes", "-t", c.name, "-F", "#{pane_pid}")))
	if err != nil {
		c.t.Fatalf("tmux pane pid: %v", err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh, sh))
	if err != nil {
		c.t.Fatalf("children of the pane's shell: %v", err)
	}
	kids := strings.Fields(string(b))
	if len(kids) != 1 {
		c.t.Fatalf("the pane's shell has children %q, want the console alone", kids)
	}
	pid, _ := strconv.Atoi(kids[0])
	return pid
}

type memPhase struct {
	name string
	res  *memscan.Result
}

// TestSecretsInMemoryE2E measures invariant 3 on the real console in tmux
// with the demo vault: it reveals the password and the TOTP code at step 2,
// scans the console's memory (/proc/PID/mem, internal/memscan), hides both,
// scans again at once and a few seconds later, then finishes the session
// (steps, close-out, two signatures, export) and scans on the Locked screen,
// the last moment the process is alive after the lock; on the way it scans
// at step 4 and on the sign screen to show how long copies linger. It logs the copies
// of each demo secret per phase and per kind of mapping (never a value).
//
// TARGETS (issue 10, "Secrets only where they must be"): every anonymous
// mapping locked (mlockall) at every scan; after hide no copy outside the
// secure buffers (memscan's Locked: locked and MADV_DONTDUMP, so the
// mlockall'ed Go heap does not count as locked); on the Locked screen no
// copy at all. The baseline console (before mlockall, the locked arena,
// the locked TOTP and the placeholder renderer) failed the last two with
// hundreds of heap copies of the password.
func TestSecretsInMemoryE2E(t *testing.T) {
	d := newDemoStation(t, 0)
	state, export := t.TempDir(), t.TempDir()
	c := d.startTmux(t, 80, 24, append([]string{d.bin}, d.consoleArgs(state, export)...)...)
	secrets := memSecrets(t)
	var phases []memPhase
	scan := func(name string) *memscan.Result {
		t.Helper()
		pid := c.consolePid()
		res, err := memscan.Scan(pid, secrets)
		if err != nil {
			// The console makes itself non-dumpable (airgap.go), so only
			// root or CAP_SYS_PTRACE can read its memory, even as its owner.
			t.Fatalf("scanning the console (pid %d) at %s: %v (run this test as root or with CAP_SYS_PTRACE)", pid, name, err)
		}
		phases = append(phases, memPhase{name, res})
		return res
	}
	defer func() { t.Logf("copies of each demo secret in the console's memory:\n%s", memTable(phases, secrets)) }()

	c.passPreflight()
	c.declare("Dana Operator", "INC-4242", "SSO outage: IdP certificate expired")
	first := c.countCustodian(d)
	c.countCustodian(d, first)
	c.completeStep(1)

	c.step(2)
	before := scan("unlocked, nothing shown")
	c.selectItem("aws-root-password")
	c.keys("v")
	c.waitFor("[SHOWN] aws-root-password", wait)
	c.selectItem("aws-root-totp")
	c.keys("v")
	c.waitMatch(regexp.MustCompile(`\[SHOWN\] aws-root-totp[^\n]*\n\s+code (\d{6})\b`))
	time.Sleep(3 * time.Second) // a few frames of the live code and countdown
	scan("both shown, 3 s")

	c.selectItem("aws-root-password")
	c.keys("v")
	c.waitFor("[hidden] aws-root-password", wait)
	c.selectItem("aws-root-totp")
	c.keys("v")
	c.waitFor("[hidden] aws-root-totp", wait)
	hidden := scan("hidden, at once")
	time.Sleep(5 * time.Second)
	hiddenLater := scan("hidden, 5 s later")

	c.completeStep(2)
	c.step(3)
	c.keys("s")
	c.waitFor("Type skip:", wait) // skipping is behind a typed word
	c.typeText("skip")
	c.keys("Enter")
	c.waitFor("type why this step is skipped", wait)
	c.typeText("the TOTP code worked")
	c.keys("Enter")
	c.step(4)
	scan("step 4 (two steps on)")
	for n := 4; n <= 7; n++ {
		c.completeStep(n)
	}
	c.closeOut()
	c.waitFor("Signatures  0 of 2 signed", wait)
	scan("sign screen")
	// The custodians read what they sign (to its end) before any PIN.
	for range 8 {
		c.keys("PageDown")
	}
	c.waitFor("press enter to sign it", wait)
	c.keys("Enter")
	for i := 1; i <= 2; i++ {
		m := c.waitMatch(regexp.MustCompile(`Next: (\w+ Example): type your PIN`))
		c.typeText(demoPINByName[m[1]])
		c.keys("Enter")
		c.waitFor("Signatures  "+strconv.Itoa(i)+" of 2 signed", wait)
	}
	c.waitFor("› Export to directory: "+export, wait)
	c.keys("Enter")
	c.waitFor("✓ Written:", wait)
	c.keys("Enter")
	c.waitFor("Session locked. Secrets wiped", wait)
	locked := scan("Locked screen")
	c.keys("q")
	if code := c.exitCode(wait); code != 0 {
		t.Errorf("console exit %d:\n%s", code, c.scrollback())
	}

	// The scanner must see the secrets where they certainly are; otherwise
	// zeros below would prove nothing.
	if phases[1].res.Total("password") == 0 || phases[1].res.Total("totp-seed (key bytes)")+phases[1].res.Total("totp-seed (base32)") == 0 {
		t.Fatalf("the scan found no copy of a secret that was on screen: the scanner is blind")
	}
	_ = before

	// TARGETS.
	assertAllLocked(t, phases)
	for _, s := range secrets {
		for _, p := range []*memscan.Result{hidden, hiddenLater} {
			if n := p.Outside(s.Name); n != 0 {
				t.Errorf("TARGET after hide: %s has %d copies outside locked memory (want 0)", s.Name, n)
				break
			}
		}
		if n := locked.Total(s.Name); n != 0 {
			t.Errorf("TARGET at lock: %s has %d copies in memory (want 0)", s.Name, n)
		}
	}
}

// assertAllLocked: no page of the console can be swapped (mlockall), at
// every scan.
func assertAllLocked(t *testing.T, phases []memPhase) {
	t.Helper()
	if why := cannotLockAll(); why != "" {
		// The console cannot lock all its memory here; preflight shows
		// that as a warning the operator must acknowledge (the journey
		// acknowledges it). The copy counts above are still asserted.
		t.Logf("mlockall target not checked: %s; the console warns at preflight instead", why)
		return
	}
	for _, p := range phases {
		if !p.res.AllLocked {
			t.Errorf("TARGET mlockall: at %s some anonymous mapping is not locked", p.name)
			return
		}
	}
}

// cannotLockAll says why this process's children cannot mlockall their
// whole memory ("" if they can): not root (no CAP_IPC_LOCK) and a finite
// RLIMIT_MEMLOCK.
func cannotLockAll() string {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return "RLIMIT_MEMLOCK unreadable: " + err.Error()
	}
	if os.Geteuid() == 0 && !inChildUserNamespace() {
		return ""
	}
	if lim.Cur == unix.RLIM_INFINITY {
		return ""
	}
	return fmt.Sprintf("not root and RLIMIT_MEMLOCK is %d KiB", lim.Cur/1024)
}

// inChildUserNamespace reports whether this process runs in a user namespace
// other than the initial one (root there has no CAP_IPC_LOCK on the host).
func inChildUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// memTable formats the phases as one row per phase and secret with the
// copies per region.
func memTable(phases []memPhase, secrets []memscan.Secret) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-28s %6s", "phase", "secret", "total")
	for _, r := range memscan.Regions {
		fmt.Fprintf(&b, " %7s", r)
	}
	b.WriteString("\n")
	for _, p := range phases {
		for _, s := range secrets {
			fmt.Fprintf(&b, "%-24s %-28s %6d", p.name, s.Name, p.res.Total(s.Name))
			for _, r := range memscan.Regions {
				fmt.Fprintf(&b, " %7d", p.res.Counts[s.Name][r])
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%-24s (%d mappings, %.1f MiB read, all locked: %v)\n", "", p.res.Mappings, float64(p.res.Bytes)/(1<<20), p.res.AllLocked)
	}
	return b.String()
}

// TestSecretsInMemoryRelockE2E is the lock measurement without the heap
// churn of a whole session: with --window 1m it reveals and hides the
// password and the TOTP code at step 2 right after the quorum, then waits
// for the unlock window to expire (the engine wipes every secret and the
// vault key and asks the custodians again, the process staying alive) and
// scans on the re-authorise screen. On the Locked screen at the end of
// TestSecretsInMemoryE2E the figures are low partly because the later
// steps, the close-out and the signatures happened to reuse the freed
// memory; here nothing does.
//
// TARGETS as in TestSecretsInMemoryE2E: all memory locked, 0 outside the
// secure buffers after hide, 0 anywhere once relocked.
func TestSecretsInMemoryRelockE2E(t *testing.T) {
	d := newDemoStation(t, 0)
	state, export := t.TempDir(), t.TempDir()
	c := d.startTmux(t, 80, 24, append([]string{d.bin}, d.consoleArgs(state, export, "--window", "1m")...)...)
	secrets := memSecrets(t)
	var phases []memPhase
	scan := func(name string) *memscan.Result {
		t.Helper()
		pid := c.consolePid()
		res, err := memscan.Scan(pid, secrets)
		if err != nil {
			t.Fatalf("scanning the console (pid %d) at %s: %v (run this test as root or with CAP_SYS_PTRACE)", pid, name, err)
		}
		phases = append(phases, memPhase{name, res})
		return res
	}
	defer func() { t.Logf("copies of each demo secret in the console's memory:\n%s", memTable(phases, secrets)) }()

	c.passPreflight()
	c.declare("Dana Operator", "INC-4243", "SSO outage: IdP certificate expired")
	first := c.countCustodian(d)
	c.countCustodian(d, first)
	c.completeStep(1)
	c.step(2)
	c.selectItem("aws-root-password")
	c.keys("v")
	c.waitFor("[SHOWN] aws-root-password", wait)
	c.selectItem("aws-root-totp")
	c.keys("v")
	c.waitMatch(regexp.MustCompile(`\[SHOWN\] aws-root-totp[^\n]*\n\s+code (\d{6})\b`))
	time.Sleep(3 * time.Second)
	shown := scan("both shown, 3 s")
	c.selectItem("aws-root-password")
	c.keys("v")
	c.waitFor("[hidden] aws-root-password", wait)
	c.selectItem("aws-root-totp")
	c.keys("v")
	c.waitFor("[hidden] aws-root-totp", wait)
	hidden := scan("hidden, at once")
	c.waitFor("Re-authorise — unlock window expired", 90*time.Second)
	relocked := scan("window expired, relocked")
	time.Sleep(5 * time.Second)
	later := scan("relocked, 5 s later")

	if shown.Total("password") == 0 {
		t.Fatalf("the scan found no copy of the password on screen: the scanner is blind")
	}
	assertAllLocked(t, phases)
	for _, s := range secrets {
		if n := hidden.Outside(s.Name); n != 0 {
			t.Errorf("TARGET after hide: %s has %d copies outside locked memory (want 0)", s.Name, n)
		}
		for _, p := range []*memscan.Result{relocked, later} {
			if n := p.Total(s.Name); n != 0 {
				t.Errorf("TARGET at lock: %s has %d copies in memory (want 0)", s.Name, n)
				break
			}
		}
	}
}
