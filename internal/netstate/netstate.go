// Package netstate reads what preflight reports about a station's air gap
// (live non-loopback interfaces, default routes) from /sys and /proc, so
// checking it opens no socket.
package netstate

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// State is what preflight reports about the station's air gap: live
// non-loopback interfaces and default routes.
type State struct {
	LiveInterfaces []string // non-loopback interfaces whose operstate is up (or unknown with carrier)
	DefaultRoutes  []string // "eth0 (IPv4)", "eth0 (IPv6)"
}

// AirGapped reports whether nothing could carry traffic off the station.
func (n State) AirGapped() bool { return len(n.LiveInterfaces) == 0 && len(n.DefaultRoutes) == 0 }

// String describes the state in one line for preflight and the journal.
func (n State) String() string {
	if n.AirGapped() {
		return "no live network interface and no default route"
	}
	var parts []string
	if len(n.LiveInterfaces) > 0 {
		parts = append(parts, "live interfaces: "+strings.Join(n.LiveInterfaces, ", "))
	}
	if len(n.DefaultRoutes) > 0 {
		parts = append(parts, "default routes: "+strings.Join(n.DefaultRoutes, ", "))
	}
	return strings.Join(parts, "; ")
}

// Read reads interface and route state below root ("/" in
// production, a fixture tree in tests).
func Read(root fs.FS) (State, error) {
	var n State
	links, err := fs.ReadDir(root, "sys/class/net")
	if err != nil {
		return n, fmt.Errorf("reading network interfaces: %w", err)
	}
	// /sys shows the network namespace it was mounted in, which need not
	// be this process's (unshare -n, containers); /proc/net/dev always is.
	// When the two disagree, every interface of ours but lo counts as live:
	// its state cannot be read, so it is not assumed down.
	ours, haveDev := procNetDev(root)
	sysfs := map[string]bool{}
	for _, l := range links {
		if _, err := fs.Stat(root, filepath.Join("sys/class/net", l.Name(), "operstate")); err == nil {
			sysfs[l.Name()] = true // an interface, not e.g. bonding_masters
		}
	}
	if haveDev && !sameNames(ours, sysfs) {
		for name := range ours {
			if name != "lo" {
				n.LiveInterfaces = append(n.LiveInterfaces, name)
			}
		}
		links = nil
	}
	for _, l := range links {
		name := l.Name()
		if name == "lo" {
			continue
		}
		state := readTrim(root, filepath.Join("sys/class/net", name, "operstate"))
		carrier := readTrim(root, filepath.Join("sys/class/net", name, "carrier"))
		if state == "up" || (state == "unknown" && carrier == "1") {
			n.LiveInterfaces = append(n.LiveInterfaces, name)
		}
	}
	sort.Strings(n.LiveInterfaces)
	if f, err := root.Open("proc/net/route"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fld := strings.Fields(sc.Text())
			// Iface Destination Gateway Flags ...; flag 0x1 = RTF_UP.
			if len(fld) >= 4 && fld[1] == "00000000" && fld[0] != "Iface" && hexFlagUp(fld[3]) {
				n.DefaultRoutes = append(n.DefaultRoutes, fld[0]+" (IPv4)")
			}
		}
		f.Close()
	}
	if f, err := root.Open("proc/net/ipv6_route"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fld := strings.Fields(sc.Text())
			// dst dstlen src srclen nexthop metric refcnt use flags iface
			if len(fld) == 10 && fld[0] == strings.Repeat("0", 32) && fld[1] == "00" && fld[9] != "lo" && hexFlagUp(fld[8]) {
				n.DefaultRoutes = append(n.DefaultRoutes, fld[9]+" (IPv6)")
			}
		}
		f.Close()
	}
	return n, nil
}

// procNetDev lists the interfaces of this process's network namespace from
// proc/net/dev; ok is false when it cannot be read.
func procNetDev(root fs.FS) (names map[string]bool, ok bool) {
	b, err := fs.ReadFile(root, "proc/net/dev")
	if err != nil {
		return nil, false
	}
	names = map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, _, found := strings.Cut(line, ":"); found && !strings.Contains(name, "|") {
			names[strings.TrimSpace(name)] = true
		}
	}
	return names, true
}

func sameNames(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func hexFlagUp(s string) bool {
	var v uint64
	_, err := fmt.Sscanf(s, "%x", &v)
	return err == nil && v&1 == 1
}

func readTrim(root fs.FS, name string) string {
	b, err := fs.ReadFile(root, name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// System reads the state of the running station (the root filesystem).
func System() (State, error) { return Read(os.DirFS("/")) }
