package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// straceCall is one system call from an `strace -f` log, with an
// interrupted call ("<unfinished ...>") joined to its "resumed" end.
type straceCall struct {
	pid  string
	text string // e.g. `socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3`
}

var (
	reStracePID     = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	reStraceResumed = regexp.MustCompile(`^<\.\.\. \w+ resumed>\s?(.*)$`)
	reStraceFamily  = regexp.MustCompile(`^socket\((AF_\w+),`)
)

// parseStrace reads an `strace -f -o FILE` log into calls.
func parseStrace(log string) []straceCall {
	var calls []straceCall
	pending := map[string]string{}
	for _, line := range strings.Split(log, "\n") {
		m := reStracePID.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, rest := m[1], m[2]
		if strings.HasPrefix(rest, "+++ ") || strings.HasPrefix(rest, "--- ") {
			continue // exits and signals, not calls
		}
		if head, ok := strings.CutSuffix(rest, " <unfinished ...>"); ok {
			pending[pid] = head
			continue
		}
		if r := reStraceResumed.FindStringSubmatch(rest); r != nil {
			rest = pending[pid] + r[1]
			delete(pending, pid)
		}
		calls = append(calls, straceCall{pid: pid, text: rest})
	}
	return calls
}

// succeeded reports whether the call returned a non-negative value.
func (c straceCall) succeeded() bool {
	i := strings.LastIndex(c.text, ") = ")
	return i >= 0 && !strings.HasPrefix(c.text[i+len(") = "):], "-")
}

// TestConsoleAirGapStrace runs the real console under strace through
// preflight, declaration, quorum and the reveal of a secret: it never opens
// an IPv4 or IPv6 socket, and it does reach the keys over pcscd's unix
// socket (so the trace proves it saw the session's traffic).
func TestConsoleAirGapStrace(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through pcscd")
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace is needed for the air-gap test (make deps installs it): %v", err)
	}
	d := newDemoStation(t, 0)
	state, export := t.TempDir(), t.TempDir()
	trace := filepath.Join(t.TempDir(), "strace.log")
	argv := append([]string{strace, "-f", "-e", "trace=socket,connect", "-o", trace, d.bin},
		d.consoleArgs(state, export)...)
	c := d.startTmux(t, 80, 24, argv...)

	c.passPreflight()
	c.declare("Dana Operator", "INC-4243", "air-gap trace")
	c.countCustodian(d, c.countCustodian(d))
	c.completeStep(1)
	c.step(2)
	c.selectItem("aws-root-password")
	c.keys("v")
	if s := c.waitFor("[SHOWN] aws-root-password", wait); !strings.Contains(s, demoSecrets[0]) {
		t.Fatalf("password not revealed under strace:\n%s", s)
	}
	c.quit()
	if code := c.exitCode(wait); code != 0 {
		t.Fatalf("console under strace exit %d:\n%s", code, c.scrollback())
	}

	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatalf("reading the strace log: %v", err)
	}
	pcscd, families := 0, map[string]int{}
	for _, call := range parseStrace(string(b)) {
		if m := reStraceFamily.FindStringSubmatch(call.text); m != nil {
			families[m[1]]++
		}
		switch {
		case strings.HasPrefix(call.text, "socket(AF_INET,"), strings.HasPrefix(call.text, "socket(AF_INET6,"):
			if call.succeeded() {
				t.Errorf("pid %s opened an IP socket: %s", call.pid, call.text)
			} else {
				t.Errorf("pid %s tried to open an IP socket (refused, but it should not try): %s", call.pid, call.text)
			}
		case strings.HasPrefix(call.text, "connect(") && !strings.Contains(call.text, "sa_family=AF_UNIX"):
			t.Errorf("pid %s connected outside a unix socket: %s", call.pid, call.text)
		case strings.HasPrefix(call.text, "connect(") && strings.Contains(call.text, `sun_path="`+d.st.Socket()+`"`) && call.succeeded():
			pcscd++
		}
	}
	if pcscd == 0 {
		t.Errorf("no successful connect to pcscd's socket %s in the trace: it proves nothing\n%s", d.st.Socket(), b)
	}
	t.Logf("%d connections to pcscd; sockets opened by family: %v", pcscd, families)
}

// TestConsoleAirGapNetns runs the console in a fresh network namespace (only
// a loopback that is down): preflight passes the air-gap check, and the keys
// are still reached over pcscd's unix socket. "unshare -n" alone keeps the
// host's /sys mounted, whose class/net lists the host's interfaces, so the
// check must not trust /sys over the process's own namespace.
func TestConsoleAirGapNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through pcscd")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux) is needed: %v", err)
	}
	cases := []struct {
		name string
		wrap []string // runs BIN console ARGS...
	}{
		{"own_sysfs", []string{unshare, "-n", "-m", "sh", "-c", `mount -t sysfs sysfs /sys && exec "$0" "$@"`}},
		{"host_sysfs", []string{unshare, "-n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDemoStation(t, 0)
			state, export := t.TempDir(), t.TempDir()
			argv := append(append(append([]string{}, tc.wrap...), d.bin), d.consoleArgs(state, export)...)
			c := d.startTmux(t, 80, 24, argv...)

			s := c.waitFor("network air gap", wait)
			if !strings.Contains(s, "✓ PASS  network air gap") {
				t.Fatalf("network air gap does not pass in an empty network namespace (if it names the host's "+
					"interfaces, they come from /sys/class/net, which shows the namespace sysfs was mounted in; "+
					"/proc/net/dev is the process's own):\n%s", s)
			}
			c.selectItem("network air gap")
			c.waitFor("no live network interface", wait)
			for _, w := range c.passPreflight() {
				if w == "network air gap" {
					t.Errorf("network air gap had to be acknowledged in an empty network namespace")
				}
			}
			c.declare("Dana Operator", "INC-4244", "air-gap netns")
			// pcscd is reached over its unix socket: every key is listed
			// (waitFor: the first key scan runs after the screen appears).
			for _, k := range []string{"key 10000001  ✓ Alice Example", "key 10000002  ✓ Bob Example", "key 10000003  ✓ Carol Example"} {
				c.waitFor(k, wait)
			}
			c.quit()
			if code := c.exitCode(wait); code != 0 {
				t.Fatalf("console in a network namespace exit %d:\n%s", code, c.scrollback())
			}
		})
	}
}

// TestConsoleAirGapParseStrace checks the trace reader the air-gap test relies on,
// including a call interrupted by another thread and resumed.
func TestConsoleAirGapParseStrace(t *testing.T) {
	log := `101 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3
102 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP <unfinished ...>
101 connect(3, {sa_family=AF_UNIX, sun_path="/run/pcscd.comm"}, 110) = 0
102 <... socket resumed>) = -1 EACCES (Permission denied)
103 +++ exited with 0 +++
`
	tests := []struct {
		name      string
		index     int
		prefix    string
		succeeded bool
	}{
		{"unix socket", 0, "socket(AF_UNIX,", true},
		{"unix connect", 1, "connect(3, {sa_family=AF_UNIX", true},
		{"refused inet socket joined", 2, "socket(AF_INET, SOCK_STREAM", false},
	}
	calls := parseStrace(log)
	if len(calls) != 3 {
		t.Fatalf("parseStrace gave %d calls, want 3: %q", len(calls), calls)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := calls[tt.index]
			if !strings.HasPrefix(c.text, tt.prefix) || c.succeeded() != tt.succeeded {
				t.Errorf("call %d = %q (succeeded %v), want prefix %q succeeded %v", tt.index, c.text, c.succeeded(), tt.prefix, tt.succeeded)
			}
		})
	}
	if !strings.HasSuffix(calls[2].text, "IPPROTO_IP) = -1 EACCES (Permission denied)") {
		t.Errorf("resumed call not joined: %q", calls[2].text)
	}
}

// assertNoSecretsUnder fails for every file under dir holding a demo secret
// (see secretsUnder), and when dir holds no file at all.
func assertNoSecretsUnder(t *testing.T, dir string) {
	t.Helper()
	found, n, err := secretsUnder(dir)
	if err != nil {
		t.Fatalf("scanning %s: %v", dir, err)
	}
	for _, f := range found {
		t.Error(f)
	}
	if n == 0 {
		t.Errorf("no files under %s: the scan proves nothing", dir)
	}
}

// secretsUnder scans every file under dir for the demo secrets, in the
// clear and inside a JWS payload (base64url). It returns one finding per
// secret and file, and the number of files read.
func secretsUnder(dir string) (found []string, files int, err error) {
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		texts := []string{string(b)}
		var jws struct {
			Payload string `json:"payload"`
		}
		if json.Unmarshal(b, &jws) == nil && jws.Payload != "" {
			pl, err := base64.RawURLEncoding.DecodeString(jws.Payload)
			if err != nil {
				return fmt.Errorf("%s: JWS payload is not base64url: %w", p, err)
			}
			texts = append(texts, string(pl))
		}
		for _, sec := range demoSecrets {
			for _, txt := range texts {
				if strings.Contains(txt, sec) {
					found = append(found, fmt.Sprintf("secret %q found in %s", sec, p))
					break
				}
			}
		}
		return nil
	})
	return found, files, err
}

// TestConsoleJourneyE2ESecretScan proves the invariant-3 scan can fail: it
// finds a secret in the clear and one hidden in a JWS payload.
func TestConsoleJourneyE2ESecretScan(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"note":"` + demoSecrets[1] + `"}`))
	tests := []struct {
		name  string
		files map[string]string
		want  int
	}{
		{"clean", map[string]string{"a.json": `{"payload":"e30"}`, "b.md": "nothing here"}, 0},
		{"in the clear", map[string]string{"journal": "x " + demoSecrets[0] + " y"}, 1},
		{"inside a JWS payload", map[string]string{"r.jws.json": `{"payload":"` + payload + `"}`}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			found, n, err := secretsUnder(dir)
			if err != nil || n != len(tt.files) || len(found) != tt.want {
				t.Errorf("secretsUnder = %q, %d files, %v; want %d findings in %d files", found, n, err, tt.want, len(tt.files))
			}
		})
	}
}
