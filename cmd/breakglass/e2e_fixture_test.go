package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/hardware/station"
)

// demoStation is a private pcscd with three virtual YubiKeys (serials
// 10000001-10000003) prepared by testdata/scripts/demo-setup.sh exactly as
// `make demo` does: PINs 111111/222222/333333, three custodians enrolled, a
// 2-of-3 vault with the three demo secrets sealed.
type demoStation struct {
	st      *station.Station
	dir     string // demo directory: vault.json, custodians/, pins/
	bin     string // the breakglass binary
	repo    string
	vault   string
	runbook string
	root    string // TEST attestation root PEM
	env     []string
	pins    map[uint32]string
}

// demoSecrets are the values demo-setup.sh seals; no artefact may contain them.
var demoSecrets = []string{
	"Demo-Only-Pa55word!", // aws-root-password
	"JBSWY3DPEHPK3PXP",    // aws-root-totp seed
	"demo-a1b2-c3d4",      // aws-root-recovery-codes
	"demo-m3n4-o5p6",
}

// demoSerials are the demo station's virtual YubiKeys.
var demoSerials = []uint32{10000001, 10000002, 10000003}

// demoSnapshot is the demo state after demo-setup.sh, made once per test
// binary: each key's virtual-YubiKey state file (keys/SERIAL.state) and
// the demo directory (demo/). demo-setup.sh is the slow part of every
// end-to-end test (ykman, three enrolments with attestation, a signed vault,
// three signed seals); every later station starts from a copy of this
// exact state instead of repeating it.
var demoSnapshot struct {
	sync.Mutex
	dir string // "" until made
}

// removeDemoSnapshot deletes the snapshot (TestMain, after every test).
func removeDemoSnapshot() {
	demoSnapshot.Lock()
	defer demoSnapshot.Unlock()
	if demoSnapshot.dir != "" {
		os.RemoveAll(demoSnapshot.dir)
	}
}

// newDemoStation starts the station with the demo state: the first time by
// running demo-setup.sh (as make demo does) and keeping a snapshot of the
// result, afterwards from a copy of that snapshot. touch is the simulated
// touch delay of every key.
func newDemoStation(t *testing.T, touch time.Duration) *demoStation {
	t.Helper()
	return newDemoStationKeys(t,
		station.KeySpec{Serial: 10000001, TouchDelay: touch},
		station.KeySpec{Serial: 10000002, TouchDelay: touch},
		station.KeySpec{Serial: 10000003, TouchDelay: touch})
}

// newDemoStationKeys is newDemoStation with the station's keys given:
// 10000001-10000003 (set up by demo-setup.sh, or copied from the snapshot)
// and any others (fresh).
func newDemoStationKeys(t *testing.T, keys ...station.KeySpec) *demoStation {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test through pcscd")
	}
	demoSnapshot.Lock()
	defer demoSnapshot.Unlock()
	d := &demoStation{dir: t.TempDir(), bin: e2eBinary(t),
		pins: map[uint32]string{10000001: "111111", 10000002: "222222", 10000003: "333333"}}
	keysDir := t.TempDir()
	if demoSnapshot.dir != "" {
		copyTree(t, filepath.Join(demoSnapshot.dir, "keys"), keysDir)
		copyTree(t, filepath.Join(demoSnapshot.dir, "demo"), d.dir)
	}
	specs := slices.Clone(keys)
	for i := range specs {
		if slices.Contains(demoSerials, specs[i].Serial) {
			specs[i].StateFile = filepath.Join(keysDir, fmt.Sprintf("%d.state", specs[i].Serial))
		}
	}
	d.st = station.ForTest(t, specs...)
	var err error
	if d.repo, err = filepath.Abs("../.."); err != nil {
		t.Fatal(err)
	}
	d.vault = filepath.Join(d.dir, "vault.json")
	d.runbook = filepath.Join(d.repo, "testdata", "runbooks", "cloud-root-recovery.md")
	d.root = filepath.Join(d.repo, "testdata", "attestation-root.pem")
	d.env = append(append(os.Environ(), d.st.Env()...), "BIN="+filepath.Dir(d.bin))
	if demoSnapshot.dir != "" {
		return d
	}
	cmd := exec.Command(filepath.Join(d.repo, "testdata", "scripts", "demo-setup.sh"), d.dir)
	cmd.Env = d.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("demo-setup.sh: %v\n%s", err, out)
	}
	snap, err := os.MkdirTemp("", "breakglass-e2e-demo-")
	if err != nil {
		t.Fatal(err)
	}
	copyTree(t, keysDir, filepath.Join(snap, "keys"))
	copyTree(t, d.dir, filepath.Join(snap, "demo"))
	demoSnapshot.dir = snap
	return d
}

// copyTree copies the regular files and directories under src into dst,
// keeping their permissions.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := e.Info()
		if err != nil {
			return err
		}
		if e.IsDir() {
			return os.MkdirAll(to, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// run runs the breakglass binary with the station's environment.
func (d *demoStation) run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(d.bin, args...)
	cmd.Env = d.env
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running breakglass %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// consoleArgs are the console flags `make demo` uses, with the given
// state and export directories.
func (d *demoStation) consoleArgs(state, export string, extra ...string) []string {
	return append([]string{"console", "--vault", d.vault, "--runbook", d.runbook,
		"--state-dir", state, "--export", export, "--attestation-root", d.root}, extra...)
}

// tmuxConsole is a real terminal (tmux, 80x24 unless resized) running a command.
type tmuxConsole struct {
	t       *testing.T
	name    string
	socket  string
	logFile string
}

// startTmux runs argv in a detached tmux session on a private tmux server.
// The command's exit status is written to the log file when it ends.
func (d *demoStation) startTmux(t *testing.T, w, h int, argv ...string) *tmuxConsole {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed for the console e2e tests (make deps installs it): %v", err)
	}
	dir := t.TempDir()
	c := &tmuxConsole{t: t, name: "bg", socket: filepath.Join(dir, "tmux.sock"), logFile: filepath.Join(dir, "exit")}
	var q []string
	for _, a := range argv {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	script := fmt.Sprintf("%s; echo $? > %s; sleep 3600", strings.Join(q, " "), c.logFile)
	args := []string{"-S", c.socket, "new-session", "-d", "-s", c.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "sh", "-c", script}
	cmd := exec.Command("tmux", args...)
	cmd.Env = append(d.env, "TERM=xterm-256color", "NO_COLOR=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", c.socket, "kill-server").Run() })
	return c
}

func (c *tmuxConsole) tmux(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", c.socket}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names ("Enter", "Down", "Space", "C-c", "y").
func (c *tmuxConsole) keys(keys ...string) {
	c.t.Helper()
	c.tmux(append([]string{"send-keys", "-t", c.name}, keys...)...)
}

// typeText types literal text.
func (c *tmuxConsole) typeText(s string) {
	c.t.Helper()
	c.tmux("send-keys", "-t", c.name, "-l", s)
}

// screen is the visible pane.
func (c *tmuxConsole) screen() string {
	c.t.Helper()
	return c.tmux("capture-pane", "-p", "-t", c.name)
}

// scrollback is the pane with its whole history.
func (c *tmuxConsole) scrollback() string {
	c.t.Helper()
	return c.tmux("capture-pane", "-p", "-S", "-", "-t", c.name)
}

// waitFor polls the screen until it contains want, failing with the last
// screen after timeout. It waits on a condition; it asserts no timing.
func (c *tmuxConsole) waitFor(want string, timeout time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := c.screen()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("screen never showed %q; last screen:\n%s", want, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exportFieldRE is the export dialog's focused directory field. The field
// keeps the end of a value wider than the screen visible and marks the cut
// with "…" ("› Export to directory: …/reports▏"), so a test cannot wait for
// the whole path once it is long (a long $TMPDIR makes t.TempDir long).
var exportFieldRE = regexp.MustCompile(`› Export to directory: (…?)(.*)▏`)

// waitExportField waits until the export directory field shows dir, whole
// or as its visible end, and returns the screen.
func (c *tmuxConsole) waitExportField(dir string) string {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := c.screen()
		if m := exportFieldRE.FindStringSubmatch(s); m != nil {
			if m[1] == "" && m[2] == dir || m[1] == "…" && m[2] != "" && strings.HasSuffix(dir, m[2]) {
				return s
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the export field never showed %q (whole, or its end after …); last screen:\n%s", dir, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exitCode waits for the command to end and returns its exit status.
func (c *tmuxConsole) exitCode(timeout time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(c.logFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			var code int
			fmt.Sscan(string(b), &code)
			return code
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("command did not end; last screen:\n%s", c.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
