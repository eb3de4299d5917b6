package main

import (
	"strings"
	"testing"
	"time"
)

// TestConsoleOpensOnDemoStation is the smallest journey: the console under
// a real terminal shows preflight with the test-root banner and quits on
// confirmation, saying the journal keeps the session.
func TestConsoleOpensOnDemoStation(t *testing.T) {
	d := newDemoStation(t, 0)
	state, export := t.TempDir(), t.TempDir()
	c := d.startTmux(t, 80, 24, append([]string{d.bin}, d.consoleArgs(state, export)...)...)
	s := c.waitFor("Preflight", 20*time.Second)
	if !strings.Contains(s, "TEST ATTESTATION ROOT") {
		t.Errorf("no test-root banner on preflight:\n%s", s)
	}
	c.keys("q")
	c.waitFor("Quit the console?", 5*time.Second)
	c.typeText("quit")
	c.keys("Enter")
	if code := c.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("console exit %d:\n%s", code, c.scrollback())
	}
}
