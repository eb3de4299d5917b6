package main

import (
	"os"
	"testing"
	"time"
	"fmt"
)

func TestExploreJourney(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	d := newDemoStation(t, 0)
	state, export := "/tmp/explore/state", "/tmp/explore/export"
	os.MkdirAll(state, 0o700)
	os.MkdirAll(export, 0o700)
	argv := append([]string{d.bin}, d.consoleArgs(state, export)...)
	if os.Getenv("EXPLORE") == "netns" {
		argv = append([]string{"unshare", "-n"}, argv...)
	}
	c := d.startTmux(t, 80, 24, argv...)
	os.WriteFile("/tmp/explore/info", []byte(fmt.Sprintf("SOCK=%s\nDIR=%s\nBIN=%s\nVAULT=%s\nROOT=%s\n", c.socket, d.dir, d.bin, d.vault, d.root)), 0o600)
	for {
		if _, err := os.Stat("/tmp/explore/stop"); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
}
