package station

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// check validates o and that the machine has what a station needs.
func check(o Options) error {
	if o.Dir == "" {
		return errors.New("starting test station: Options.Dir is empty")
	}
	if len(o.Keys) == 0 || len(o.Keys) > MaxKeys {
		return fmt.Errorf("starting test station: %d keys; a station holds 1 to %d", len(o.Keys), MaxKeys)
	}
	seen := map[uint32]bool{}
	for _, k := range o.Keys {
		if k.Serial == 0 || seen[k.Serial] {
			return fmt.Errorf("starting test station: serial %d is zero or repeated", k.Serial)
		}
		seen[k.Serial] = true
	}
	if o.BasePort < 0 || o.BasePort+2*len(o.Keys) > 65536 {
		return fmt.Errorf("starting test station: base port %d out of range", o.BasePort)
	}
	for _, p := range []string{"pcscd", "unshare", "ykman"} {
		if _, err := lookPath(p); err != nil {
			return fmt.Errorf("starting test station: %w: %s not found in $PATH or /usr/sbin (make deps installs it)", ErrUnavailable, p)
		}
	}
	if _, err := os.Stat(DriverPath); err != nil {
		return fmt.Errorf("starting test station: %w: vpcd driver: %w (install vsmartcard-vpcd; make deps)", ErrUnavailable, err)
	}
	return nil
}

// lookPath finds a program in $PATH, then in /usr/sbin and /sbin, which a
// non-root user's $PATH often lacks (Debian installs pcscd in /usr/sbin).
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err2 := exec.LookPath(filepath.Join(dir, name)); err2 == nil {
			return p, nil
		}
	}
	return "", err
}

// unshareArgs are the unshare(1) options that give pcscd a private mount
// namespace for the user euid: root needs only --mount; anyone else first
// gets a user namespace mapping them to root, in which mount --bind is
// allowed. Files pcscd creates stay owned by the caller outside.
func unshareArgs(euid int) []string {
	args := []string{"--mount", "--propagation", "private"}
	if euid != 0 {
		args = append([]string{"--user", "--map-root-user"}, args...)
	}
	return args
}

// namespaceHint says what a failed unshare or mount needs, for euid.
func namespaceHint(euid int) string {
	if euid == 0 {
		return "root needs CAP_SYS_ADMIN for unshare -m and mount --bind"
	}
	return "not root: unshare -U -r -m needs unprivileged user namespaces " +
		"(sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1 where it exists, " +
		"and no container seccomp or AppArmor rule refusing unshare); or run as root"
}

// freePorts finds n consecutive free TCP ports on 127.0.0.1.
func freePorts(n int) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding free ports: %w", err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+n > 65535 {
			continue
		}
		var ls []net.Listener
		free := true
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if free {
			return base, nil
		}
	}
	return 0, fmt.Errorf("finding %d consecutive free TCP ports on 127.0.0.1: none found", n)
}

// writeConf writes one reader.conf.d entry and one driver copy per key.
func (s *Station) writeConf() error {
	drv, err := os.ReadFile(DriverPath)
	if err != nil {
		return fmt.Errorf("reading vpcd driver %q: %w", DriverPath, err)
	}
	for i, k := range s.keys {
		lib := filepath.Join(s.dir, "lib", fmt.Sprintf("libifdvpcd-%d.so", i))
		if err := os.WriteFile(lib, drv, 0o755); err != nil {
			return fmt.Errorf("copying vpcd driver to %q: %w", lib, err)
		}
		entry := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n",
			readerNames[i], k.port, lib, k.port)
		p := filepath.Join(s.conf, fmt.Sprintf("vpcd-%d", i))
		if err := os.WriteFile(p, []byte(entry), 0o644); err != nil {
			return fmt.Errorf("writing reader configuration %q: %w", p, err)
		}
	}
	return nil
}

func buildVirtualYubiKey(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "virtual-yubikey")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "breakglass/cmd/virtual-yubikey")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building virtual-yubikey: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
