package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Helpers the end-to-end tests share.

// check runs breakglass (with --attestation-root, except for journal
// commands), logs what it printed, and reports an exit status other than
// wantCode or an output lacking any of wants as an error. It returns stdout.
func (d *demoStation) check(t *testing.T, what string, wantCode int, args []string, wants ...string) string {
	t.Helper()
	if args[0] != "journal" {
		args = append(args, "--attestation-root", d.root)
	}
	stdout, stderr, code := d.run(t, "", args...)
	t.Logf("%s: exit %d\n%s%s", what, code, stdout, stderr)
	if code != wantCode {
		t.Errorf("%s: exit %d, want %d", what, code, wantCode)
	}
	for _, w := range wants {
		if !strings.Contains(stdout+stderr, w) {
			t.Errorf("%s: output lacks %q", what, w)
		}
	}
	return stdout
}

// countKey counts the custodian of key serial on the custodians screen:
// it waits until the selection has left the custodians already counted
// (the screen keeps a counted key's PIN field until the keys are
// rescanned), selects serial, types its PIN and waits for the count. It
// returns the custodian's name.
func (c *tmuxConsole) countKey(d *demoStation, serial uint32, counted ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if m := reSelected.FindStringSubmatch(c.screen()); m != nil && !slices.Contains(counted, m[1]) {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no uncounted custodian selected (counted %q):\n%s", counted, c.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.selectKey(serial)
	name, _ := c.selectedKey()
	c.typeText(d.pins[serial])
	c.keys("Enter")
	// The last count of a quorum opens the runbook at once.
	c.waitMatch(regexp.MustCompile(`✓ ` + regexp.QuoteMeta(name) + ` counted|Runbook — step 1 of`))
	return name
}
