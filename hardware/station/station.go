// Package station runs a private PC/SC test station: its own pcscd, in its
// own mount namespace, with virtual YubiKeys (cmd/virtual-yubikey) plugged
// into vsmartcard-vpcd readers. The system's pcscd and /run/pcscd are never
// touched; Close ends only the processes the Station started, by pid.
//
// Clients reach the private pcscd through PCSCLITE_CSOCK_NAME (see Env):
// pass Env to child processes (ykman, yubico-piv-tool, breakglass), or set
// it in the test process before its first PC/SC call (libpcsclite reads it
// once).
//
// Layout: key i gets its own reader.conf.d entry on TCP port BasePort+2i
// (vpcd opens two readers per entry; the second stays empty) with its own
// copy of the vpcd driver (the driver keeps its readers in globals, so two
// entries may not share one loaded copy), and a distinct reader name, so
// that ykman treats every key as a separate device:
//
//	key 1  "Yubico YubiKey OTP+FIDO+CCID 00 00"
//	key 2  "Yubico YubiKey FIDO+CCID 00 00"
//	key 3  "Yubico YubiKey OTP+CCID 00 00"
//	key 4  "Yubico YubiKey CCID 00 00"
//
// pcscd 1.9 has /run/pcscd compiled in (only the client library honours
// PCSCLITE_CSOCK_NAME), so the station bind-mounts its own directory over
// /run in a private mount namespace. Root gets one with unshare -m; any
// other user gets a user namespace too (unshare -U -r -m: root inside, the
// caller's own uid outside), which needs unprivileged user namespaces
// (user.max_user_namespaces > 0, and kernel.unprivileged_userns_clone = 1
// where that sysctl exists). Either way it needs the Debian packages
// pcscd, vsmartcard-vpcd and yubikey-manager (ykman is how the station
// checks what pcscd sees).
package station

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxKeys is how many keys one station holds (one distinct ykman device
// type per key).
const MaxKeys = 4

// readerNames are the FRIENDLYNAMEs of the readers, by key index.
var readerNames = [MaxKeys]string{
	"Yubico YubiKey OTP+FIDO+CCID",
	"Yubico YubiKey FIDO+CCID",
	"Yubico YubiKey OTP+CCID",
	"Yubico YubiKey CCID",
}

// DriverPath is the vsmartcard-vpcd reader driver pcscd loads.
var DriverPath = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

// ErrUnavailable wraps every failure caused by the machine lacking what a
// station needs (a program, the vpcd driver, permission to unshare).
var ErrUnavailable = errors.New("test station unavailable")

// KeySpec describes one virtual YubiKey.
type KeySpec struct {
	Serial     uint32        // device serial, non-zero and unique in the station
	StateFile  string        // "" = fresh card, not saved; else loaded if it exists and saved on change
	TouchDelay time.Duration // simulated touch delay for touch-policy keys
}

// Options configure Start.
type Options struct {
	// Dir holds the station's files (conf, run, lib, logs). Required; it
	// is created if missing and not removed by Close.
	Dir string
	// Keys are the virtual YubiKeys, 1..MaxKeys.
	Keys []KeySpec
	// BasePort is the first vpcd TCP port; the station uses 2*len(Keys)
	// consecutive ports. 0 picks free ones.
	BasePort int
	// VirtualYubiKeyBin is the built cmd/virtual-yubikey. "" builds it
	// with `go build` into Dir/bin (the working directory must be inside
	// the breakglass module).
	VirtualYubiKeyBin string
	// RunDir is mounted over /run for pcscd, so its socket is
	// RunDir/pcscd/pcscd.comm. "" = Dir/run. libpcsclite reads
	// PCSCLITE_CSOCK_NAME once per process, so in-process clients can only
	// follow successive stations that share one RunDir (ForTest does that).
	RunDir string
	// PCSCDDebug runs pcscd with --debug --apdu (pcscd.log grows quickly).
	PCSCDDebug bool
}

// Station is a running private pcscd with its virtual keys. Methods are
// safe for concurrent use.
type Station struct {
	dir, conf, run, sock string
	debug                bool

	mu      sync.Mutex
	pcscd   *proc
	keys    []*key
	closed  bool
	onClose func() // run once by the first Close (ForTest's bookkeeping)
}

type key struct {
	spec   KeySpec
	port   int
	reader string
	proc   *proc
	pulled bool
}

// Start writes the reader configuration, starts pcscd and the keys, and
// returns once pcscd lists every key (checked with `ykman list --serials`)
// or ctx ends. On error everything started is stopped again.
func Start(ctx context.Context, o Options) (*Station, error) {
	if err := check(o); err != nil {
		return nil, err
	}
	s := &Station{debug: o.PCSCDDebug, dir: o.Dir, conf: filepath.Join(o.Dir, "conf"), run: o.RunDir}
	if s.run == "" {
		s.run = filepath.Join(o.Dir, "run")
	}
	s.sock = filepath.Join(s.run, "pcscd", "pcscd.comm")
	for _, d := range []string{s.conf, filepath.Join(s.run, "pcscd"), filepath.Join(o.Dir, "lib")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating station directory %q: %w", d, err)
		}
	}
	base := o.BasePort
	if base == 0 {
		var err error
		if base, err = freePorts(2 * len(o.Keys)); err != nil {
			return nil, err
		}
	}
	for i, spec := range o.Keys {
		s.keys = append(s.keys, &key{spec: spec, port: base + 2*i, reader: readerNames[i] + " 00 00"})
	}
	if err := s.writeConf(); err != nil {
		return nil, err
	}
	bin := o.VirtualYubiKeyBin
	if bin == "" {
		var err error
		if bin, err = buildVirtualYubiKey(ctx, filepath.Join(o.Dir, "bin")); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := s.startPCSCD(ctx); err != nil {
		return nil, err
	}
	for _, k := range s.keys {
		if err := s.startKey(bin, k); err != nil {
			return nil, err
		}
	}
	if err := s.WaitForKeys(ctx, s.Serials()...); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// startPCSCD runs pcscd in a private mount namespace in which Dir/run is
// mounted over /run, so its socket lands in Dir/run/pcscd, and waits for
// the socket. Not as root, the mount namespace belongs to a new user
// namespace in which the caller is root (see unshareArgs). The caller holds
// no lock.
func (s *Station) startPCSCD(ctx context.Context) error {
	os.Remove(s.sock)
	flags := ""
	if s.debug {
		flags = " --debug --apdu"
	}
	pcscd, err := lookPath("pcscd")
	if err != nil {
		return fmt.Errorf("starting pcscd: %w: %w", ErrUnavailable, err)
	}
	cmd := exec.Command("unshare", append(unshareArgs(os.Geteuid()), "sh", "-c",
		`mount --bind "$1" /run && exec "$3" --foreground`+flags+` --config "$2"`, "sh", s.run, s.conf, pcscd)...)
	logPath := filepath.Join(s.dir, "pcscd.log")
	p, err := spawn(cmd, logPath)
	if err != nil {
		return fmt.Errorf("starting pcscd: %w", err)
	}
	s.mu.Lock()
	s.pcscd = p
	s.mu.Unlock()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(s.sock); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for pcscd socket %q: %w; see %s", s.sock, ctx.Err(), logPath)
		case <-p.done:
			log, _ := os.ReadFile(logPath)
			err := fmt.Errorf("pcscd exited: %v: %s", p.err, strings.TrimSpace(string(log)))
			if strings.Contains(string(log), "unshare") || strings.Contains(string(log), "mount") {
				err = fmt.Errorf("%w: %w (%s)", ErrUnavailable, err, namespaceHint(os.Geteuid()))
			}
			return fmt.Errorf("starting pcscd: %w", err)
		case <-tick.C:
		}
	}
}

func (s *Station) startKey(bin string, k *key) error {
	args := []string{"--port", strconv.Itoa(k.port), "--serial", strconv.FormatUint(uint64(k.spec.Serial), 10), "-v"}
	if k.spec.StateFile != "" {
		args = append(args, "--state", k.spec.StateFile)
	}
	if k.spec.TouchDelay > 0 {
		args = append(args, "--touch-delay", k.spec.TouchDelay.String())
	}
	p, err := spawn(exec.Command(bin, args...), filepath.Join(s.dir, fmt.Sprintf("key-%d.log", k.spec.Serial)))
	if err != nil {
		return fmt.Errorf("starting virtual YubiKey %d: %w", k.spec.Serial, err)
	}
	s.mu.Lock()
	k.proc = p
	s.mu.Unlock()
	return nil
}

// Env returns the environment entries that point PC/SC clients at this
// station's pcscd: PCSCLITE_CSOCK_NAME=RunDir/pcscd/pcscd.comm.
func (s *Station) Env() []string { return []string{"PCSCLITE_CSOCK_NAME=" + s.sock} }

// Socket returns the path of the station's pcscd socket.
func (s *Station) Socket() string { return s.sock }

// Dir returns the station's directory (logs: pcscd.log, key-SERIAL.log).
func (s *Station) Dir() string { return s.dir }

// Serials returns the serials of the station's keys, in Options.Keys order.
func (s *Station) Serials() []uint32 {
	out := make([]uint32, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.spec.Serial
	}
	return out
}

// Reader returns the PC/SC reader name the key with serial is in, or "".
func (s *Station) Reader(serial uint32) string {
	if k := s.key(serial); k != nil {
		return k.reader
	}
	return ""
}

// Port returns the vpcd TCP port of the key with serial, or 0.
func (s *Station) Port(serial uint32) int {
	if k := s.key(serial); k != nil {
		return k.port
	}
	return 0
}

// KeyPID returns the process id of the key's virtual-yubikey (SIGUSR1
// pulls it out, SIGUSR2 inserts it), or 0.
func (s *Station) KeyPID(serial uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.key(serial); k != nil && k.proc != nil {
		return k.proc.cmd.Process.Pid
	}
	return 0
}

func (s *Station) key(serial uint32) *key {
	for _, k := range s.keys {
		if k.spec.Serial == serial {
			return k
		}
	}
	return nil
}

// Pull takes the key out (SIGUSR1 to its process). It returns once the
// signal is sent; use WaitForKeys to wait until pcscd notices.
func (s *Station) Pull(serial uint32) error { return s.signalKey(serial, syscall.SIGUSR1, true) }

// Insert puts a pulled key back (SIGUSR2 to its process).
func (s *Station) Insert(serial uint32) error { return s.signalKey(serial, syscall.SIGUSR2, false) }

func (s *Station) signalKey(serial uint32, sig syscall.Signal, pulled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(serial)
	if k == nil || k.proc == nil {
		return fmt.Errorf("signalling virtual YubiKey %d: not in this station", serial)
	}
	if k.proc.exited() {
		return fmt.Errorf("signalling virtual YubiKey %d: it exited (%v); see %s", serial, k.proc.err, filepath.Join(s.dir, fmt.Sprintf("key-%d.log", serial)))
	}
	if err := k.proc.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signalling virtual YubiKey %d: %w", serial, err)
	}
	k.pulled = pulled
	return nil
}

// Inserted returns the serials of keys not pulled out, in key order.
func (s *Station) Inserted() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint32
	for _, k := range s.keys {
		if !k.pulled {
			out = append(out, k.spec.Serial)
		}
	}
	return out
}

// ListSerials asks pcscd, through `ykman list --serials`, which YubiKeys it
// sees, sorted.
func (s *Station) ListSerials(ctx context.Context) ([]uint32, error) {
	cmd := exec.CommandContext(ctx, "ykman", "list", "--serials")
	cmd.Env = append(os.Environ(), s.Env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("running ykman list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var got []uint32
	for _, f := range strings.Fields(string(out)) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("reading ykman list output %q: %w", f, err)
		}
		got = append(got, uint32(n))
	}
	slices.Sort(got)
	return got, nil
}

// WaitForKeys polls ListSerials until pcscd sees exactly the given serials
// (in any order), or ctx ends; the error then says what was last seen.
func (s *Station) WaitForKeys(ctx context.Context, serials ...uint32) error {
	want := slices.Clone(serials)
	slices.Sort(want)
	var last []uint32
	var lastErr error
	for {
		last, lastErr = s.ListSerials(ctx)
		if lastErr == nil && slices.Equal(last, want) {
			return nil
		}
		if err := s.dead(); err != nil {
			return fmt.Errorf("waiting for keys %v: %w", want, err)
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for keys %v (pcscd sees %v, last error %v): %w; logs in %s", want, last, lastErr, ctx.Err(), s.dir)
		case <-t.C:
		}
	}
}

// dead reports a station process that exited on its own.
func (s *Station) dead() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pcscd != nil && s.pcscd.exited() {
		return fmt.Errorf("pcscd exited: %v; see %s", s.pcscd.err, filepath.Join(s.dir, "pcscd.log"))
	}
	for _, k := range s.keys {
		if k.proc != nil && k.proc.exited() {
			return fmt.Errorf("virtual YubiKey %d exited: %v; see %s", k.spec.Serial, k.proc.err, filepath.Join(s.dir, fmt.Sprintf("key-%d.log", k.spec.Serial)))
		}
	}
	return nil
}

// StopPCSCD stops the station's pcscd (SIGTERM, by pid); the keys keep
// trying to reconnect. It is a no-op if pcscd is not running.
func (s *Station) StopPCSCD() error {
	s.mu.Lock()
	p := s.pcscd
	s.pcscd = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.stop(); err != nil && !isSignalExit(err) {
		return fmt.Errorf("stopping pcscd: %w", err)
	}
	return nil
}

// RestartPCSCD stops pcscd if it runs, starts it again and waits until it
// sees every key that is not pulled out.
func (s *Station) RestartPCSCD(ctx context.Context) error {
	if err := s.StopPCSCD(); err != nil {
		return err
	}
	if err := s.startPCSCD(ctx); err != nil {
		return err
	}
	return s.WaitForKeys(ctx, s.Inserted()...)
}

// Close stops the keys (SIGTERM; each must exit 0) and pcscd. It ends only
// processes this Station started. Calling it again does nothing.
func (s *Station) Close() error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	var procs []*proc
	var names []string
	for _, k := range s.keys {
		if k.proc != nil {
			procs = append(procs, k.proc)
			names = append(names, fmt.Sprintf("virtual YubiKey %d", k.spec.Serial))
			k.proc = nil
		}
	}
	s.mu.Unlock()
	var errs []error
	for i, p := range procs {
		if err := p.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", names[i], err))
		}
	}
	if err := s.StopPCSCD(); err != nil {
		errs = append(errs, err)
	}
	if first && s.onClose != nil {
		s.onClose()
	}
	return errors.Join(errs...)
}

var _ io.Closer = (*Station)(nil)
