package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"breakglass/audit"
)

// mountTmpfs mounts a tmpfs with the given options on a fresh directory and
// unmounts it (lazily: a killed console may still hold a file) in cleanup.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting a tmpfs on %s (the fault tests run as root): %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// remount makes a mounted tmpfs read-only or writable again ("ro", "rw").
// It changes the mount, not the file system (remount,bind): a plain
// remount passes the tmpfs's uid= option back, which a user namespace
// (where the tests run when not root) refuses with EINVAL. Writes fail
// with EROFS either way.
func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,bind,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remounting %s %s: %v\n%s", dir, opts, err, out)
	}
}

// fillDisk writes zeros to path until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("creating filler: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s stopped with %v, want ENOSPC", path, err)
	}
}

// flat is the screen with every run of white space made one space, so
// messages wrapped over lines can be searched.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// waitFlat waits until the screen, white space collapsed, contains want.
func (c *tmuxConsole) waitFlat(want string) string {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := c.screen()
		if strings.Contains(flat(s), want) {
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("screen never showed %q; last screen:\n%s", want, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dirNames lists a directory's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("listing %s: %v", dir, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestFaultKillAndResume kills the console mid-runbook and resumes the
// session: the custodians re-authorise and the operator is back on the same
// step with the earlier ticks kept; the report exports and verifies. Before
// that, a session left at the custodians is refused without a terminal and
// closed out with --abort, and is then never offered again.
func TestFaultKillAndResume(t *testing.T) {
	d := newDemoStation(t, 0)
	state, export := t.TempDir(), t.TempDir()

	// A session quit at the custodians stays unfinished.
	c := startFaultConsole(t, d, state, export)
	c.toCustodians()
	c.quitConsole()
	var first string
	for id := range stateJournals(t, state) {
		first = id
	}
	out, errOut, code := d.run(t, "", d.consoleArgs(state, export)...)
	if code != 1 || !strings.Contains(errOut, "Unfinished session "+first) ||
		!strings.Contains(errOut, "--resume "+first) || !strings.Contains(errOut, "--abort "+first) {
		t.Errorf("console without a terminal and an unfinished session: exit %d, want 1 naming --resume/--abort %s:\n%s%s",
			code, first, out, errOut)
	}
	out, errOut, code = d.run(t, "", d.consoleArgs(state, export, "--abort", first, "--reason", "fault drill: abandoned")...)
	if code != 0 || !strings.Contains(out, "Session "+first+" closed out as aborted") {
		t.Fatalf("--abort %s: exit %d\n%s%s", first, code, out, errOut)
	}
	if j := stateJournals(t, state)[first]; j[len(j)-1].Type != "session.aborted" ||
		!strings.Contains(string(j[len(j)-1].Data), "fault drill: abandoned") {
		t.Errorf("aborted journal ends with %s %s, want session.aborted with the reason", j[len(j)-1].Type, j[len(j)-1].Data)
	}

	// A new session, killed with SIGKILL after two ticks of step 1.
	pidFile := filepath.Join(t.TempDir(), "pid")
	c = d.startTmux(t, 80, 24, append([]string{"sh", "-c", `echo $$ > "$0"; exec "$@"`, pidFile, d.bin},
		d.consoleArgs(state, export)...)...)
	if s := c.waitFor("Preflight", wait); strings.Contains(s, "Unfinished") {
		t.Errorf("the aborted session is offered again:\n%s", s)
	}
	c.toCustodians()
	c.countCustodian(d)
	c.countCustodian(d)
	s := c.step(1)
	var ticked []string
	for range 2 {
		next := nextLine(s)
		m := reTick.FindStringSubmatch(next)
		if m == nil {
			t.Fatalf("step 1 does not ask for a tick: %q\n%s", next, s)
		}
		c.selectItem(m[1])
		c.keys("Space")
		s = c.waitNext(next)
		ticked = append(ticked, m[1])
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the console (pid %d): %v", pid, err)
	}
	if code := c.exitCode(wait); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("killed console exit %d, want %d", code, 128+int(syscall.SIGKILL))
	}
	var second string
	for id, j := range stateJournals(t, state) {
		if id != first {
			second = id
			if n := len(ofType(j, "step.check")); n != 2 {
				t.Errorf("killed session's journal holds %d ticks, want 2", n)
			}
		}
	}

	// Started again, the console offers the killed session only.
	c = startFaultConsole(t, d, state, export)
	s = c.waitFor("[r] resume it", wait)
	t.Logf("screen on the restart after SIGKILL:\n%s", s)
	if !strings.Contains(flat(s), "Unfinished session "+second) || strings.Contains(s, first) {
		t.Errorf("resume prompt does not name the killed session %s (and only it):\n%s", second, s)
	}
	c.typeText("r")
	c.keys("Enter")
	c.waitFor("Re-authorise", wait)
	c.waitFor("Quorum  0 of 2 counted", wait)
	// At 80x24 the re-authorisation banner pushes the "✓ … counted" notice
	// below the screen, so the count is read from the quorum line.
	for i := 1; i <= 2; i++ {
		_, sn := c.selectedKey()
		c.typeText(d.pins[sn])
		c.keys("Enter")
		if i == 1 {
			c.waitFor("Quorum  1 of 2 counted", wait)
		}
	}
	s = c.step(1)
	for _, tk := range ticked {
		if !strings.Contains(s, "[✓] "+tk) {
			t.Errorf("tick %q of the killed session is not kept:\n%s", tk, s)
		}
	}
	c.completeStep(1)
	c.finishRunbook(2)
	c.closeOut()
	c.signRest(d, 1)
	c.exportLockVerify(d, export)

	j := stateJournals(t, state)[second]
	if n := len(ofType(j, "step.check", `"declare"`)); n != 3 {
		t.Errorf("resumed journal holds %d ticks of step 1, want 3 (none repeated)", n)
	}
	if n := len(ofType(j, "window.reauthorised")); n != 1 {
		t.Errorf("resumed journal holds %d re-authorisations, want 1", n)
	}
	if j[len(j)-1].Type != "session.locked" {
		t.Errorf("resumed journal ends with %s, want session.locked", j[len(j)-1].Type)
	}

	// Nothing is left to resume.
	c = startFaultConsole(t, d, state, t.TempDir())
	if s := c.waitFor("Preflight", wait); strings.Contains(s, "Unfinished") {
		t.Errorf("a finished session is offered again:\n%s", s)
	}
	c.quitConsole()
}

// TestFaultDiskFullJournal fills the state directory's disk mid-runbook:
// the evidence cannot be recorded, the screen says why and it is not shown
// as recorded; once space is freed the same Enter records it and the journal
// verifies with nothing lost.
func TestFaultDiskFullJournal(t *testing.T) {
	d := newDemoStation(t, 0)
	state, export := mountTmpfs(t, "size=256k,mode=0700"), t.TempDir()
	c := d.startTmux(t, 160, 50, append([]string{d.bin}, d.consoleArgs(state, export)...)...)
	c.toCustodians()
	c.countCustodian(d)
	c.countCustodian(d)
	c.step(1)
	before := onlyJournal(t, state)

	filler := filepath.Join(state, "filler")
	fillDisk(t, filler)
	// tmpfs allocates whole pages: the journal's last page may still have
	// room for a short entry. Evidence longer than that room (3-byte runes)
	// must fail to append.
	var journal string
	for id := range stateJournals(t, state) {
		journal = filepath.Join(state, id+".journal")
	}
	fi, err := os.Stat(journal)
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	room := (page - fi.Size()%page) % page
	answer := strings.Repeat("€", int(room/3)+40)

	c.selectItem("Incident ticket URL")
	c.keys("Enter")
	c.waitFor("Next: type the evidence", wait)
	c.typeText(answer)
	c.waitFor("€€€€€€▏", wait)
	c.keys("Enter")
	s := c.waitFor("Could not record the evidence", wait)
	t.Logf("screen with the disk full:\n%s", s)
	for _, want := range []string{"no space left on device", "the event was not recorded", "free space"} {
		if !strings.Contains(flat(s), want) {
			t.Errorf("disk-full error lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "✓ €") {
		t.Errorf("evidence shown as recorded although the journal write failed:\n%s", s)
	}
	after := onlyJournal(t, state)
	if len(after) != len(before) {
		t.Errorf("journal grew from %d to %d entries while the disk was full", len(before), len(after))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.keys("Enter")
	c.waitFlat("Incident ticket URL: ✓ €€€")
	if s := c.screen(); strings.Contains(s, "Could not record") {
		t.Errorf("the error stays after the evidence was recorded:\n%s", s)
	}
	c.quitConsole()
	if names := dirNames(t, state); len(names) != 1 || !strings.HasSuffix(names[0], ".journal") {
		t.Errorf("state directory holds %q, want only the journal", names)
	}
	entries := onlyJournal(t, state)
	if got := ofType(entries, "step.evidence", answer); len(got) != 1 {
		t.Errorf("journal holds %d copies of the evidence, want 1", len(got))
	}
	if len(entries) < len(before)+1 {
		t.Errorf("journal has %d entries, fewer than the %d before the fault plus the evidence", len(entries), len(before))
	}
}

// TestFaultExportReadOnlyAndFull exports to a medium that turned read-only,
// then to one that is full: each fails with a clear message and leaves no
// file, not even a temporary one; the prefilled directory edited to a
// writable one then receives a report that verifies.
func TestFaultExportReadOnlyAndFull(t *testing.T) {
	d := newDemoStation(t, 0)
	state := t.TempDir()
	media := mountTmpfs(t, "size=24m,mode=0700") // preflight wants 16 MiB free
	c := startFaultConsole(t, d, state, media)
	c.toCustodians()
	c.countCustodian(d)
	c.countCustodian(d)
	c.completeStep(1)
	c.finishRunbook(2)
	c.closeOut()
	c.signRest(d, 1)
	c.waitExportField(media)

	remount(t, media, "ro")
	c.keys("Enter")
	s := c.waitFor("Could not write the report", wait)
	t.Logf("screen exporting to a read-only medium:\n%s", s)
	for _, want := range []string{"read-only file system", "nothing was left on the medium", "choose another directory"} {
		if !strings.Contains(flat(s), want) {
			t.Errorf("read-only export error lacks %q:\n%s", want, s)
		}
	}
	if names := dirNames(t, media); len(names) != 0 {
		t.Errorf("read-only export left %q", names)
	}

	remount(t, media, "rw")
	fillDisk(t, filepath.Join(media, "filler"))
	c.keys("Enter")
	t.Logf("screen exporting to a full medium:\n%s", c.waitFlat("no space left on device"))
	if names := dirNames(t, media); len(names) != 1 || names[0] != "filler" {
		t.Errorf("full export left %q beside the filler", names)
	}
	if n := len(ofType(onlyJournal(t, state), "report.exported")); n != 0 {
		t.Errorf("journal records %d exports although none was written", n)
	}

	good := filepath.Join(t.TempDir(), "reports")
	c.keys("C-u")
	c.waitFor("› Export to directory: ▏", wait)
	c.typeText(good)
	c.keys("Enter")
	report := c.lockAndVerify(d, good)
	if filepath.Dir(report) != good {
		t.Errorf("report written to %s, want %s", report, good)
	}
	if n := len(ofType(onlyJournal(t, state), "report.exported", good)); n != 1 {
		t.Errorf("journal records %d exports to %s, want 1", n, good)
	}
}

// TestFaultClockBackwardsJournal: the system clock cannot be stepped safely
// in a test, so the journal gets a clock that jumps back (and back past the
// journal's creation, and back again after a reopen). Wall times are
// recorded as they were; mono never decreases; the chain verifies.
func TestFaultClockBackwardsJournal(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		clock      []time.Time // Create's start, its first entry, then one per Append
		reopen     []time.Time // Open's reading, then one per Append after reopening
		steadyWall bool        // no entry's wall time is before the previous one's
	}{
		{name: "one hour back", clock: []time.Time{t0, t0, t0.Add(time.Second), t0.Add(-time.Hour), t0.Add(-time.Hour + time.Second)}},
		{name: "back before the journal was created", clock: []time.Time{t0, t0, t0.Add(time.Minute), t0.Add(-24 * time.Hour)}},
		{name: "back then forward", clock: []time.Time{t0, t0, t0.Add(-time.Minute), t0.Add(time.Hour)}},
		{name: "back across a reopen", clock: []time.Time{t0, t0, t0.Add(time.Minute)},
			reopen: []time.Time{t0.Add(-time.Hour), t0.Add(-time.Hour), t0.Add(-2 * time.Hour)}},
		// Create reads the clock for its start and again for the first
		// entry: a step back in between must not give that entry a
		// negative mono offset.
		{name: "back between creation and the first entry", clock: []time.Time{t0, t0.Add(-time.Minute), t0},
			steadyWall: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.journal")
			clock := func(ts []time.Time) func() time.Time {
				i := 0
				return func() time.Time {
					now := ts[min(i, len(ts)-1)]
					i++
					return now
				}
			}
			j, err := audit.Create(path, "s", map[string]string{"station": "test"}, audit.Config{Now: clock(tt.clock)})
			if err != nil {
				t.Fatal(err)
			}
			for i := 2; i < len(tt.clock); i++ {
				if _, err := j.Append("operator", "test.event", map[string]int{"n": i}); err != nil {
					t.Fatalf("append %d: %v", i, err)
				}
			}
			j.Close()
			if len(tt.reopen) > 0 {
				j, _, err := audit.Open(path, audit.Config{Now: clock(tt.reopen)})
				if err != nil {
					t.Fatalf("reopening: %v", err)
				}
				for i := 1; i < len(tt.reopen); i++ {
					if _, err := j.Append("operator", "test.event", map[string]int{"after reopen": i}); err != nil {
						t.Fatalf("append after reopen %d: %v", i, err)
					}
				}
				j.Close()
			}
			entries, err := audit.ReadFile(path)
			if err != nil {
				t.Fatalf("journal with a clock going back does not verify: %v", err)
			}
			if err := audit.Verify(entries); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wentBack := false
			for i := 1; i < len(entries); i++ {
				if entries[i].Mono < entries[i-1].Mono {
					t.Errorf("entry %d mono %d < entry %d mono %d", i+1, entries[i].Mono, i, entries[i-1].Mono)
				}
				prev, err1 := entries[i-1].WallTime()
				cur, err2 := entries[i].WallTime()
				if err1 != nil || err2 != nil {
					t.Fatalf("wall times: %v %v", err1, err2)
				}
				wentBack = wentBack || cur.Before(prev)
			}
			if entries[0].Mono < 0 {
				t.Errorf("first entry's mono offset %d is negative", entries[0].Mono)
			}
			if wentBack == tt.steadyWall {
				t.Errorf("entries going back in wall time: %v, want %v; wall times %v", wentBack, !tt.steadyWall, wallTimes(entries))
			}
		})
	}
}

func wallTimes(entries []audit.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Time)
	}
	return out
}
