// Command station runs a private PC/SC test station (hardware/station): its
// own pcscd with virtual YubiKeys, for `make demo` and manual testing. It
// runs as root (unshare -m) or as any user where unprivileged user
// namespaces are allowed (unshare -U -r -m).
//
// Usage:
//
//	station --dir DIR [--keys N] [--serial-base S] [--touch-delay D]
//
// It starts N keys (default 3) with serials S+1 … S+N (default base
// 10000000), each saved in DIR/key-SERIAL.json so keys survive a restart,
// prints
//
//	export PCSCLITE_CSOCK_NAME=DIR/run/pcscd/pcscd.comm
//
// on stdout and one line per key on stderr, then stays in the foreground
// until SIGTERM or SIGINT, when it stops everything it started and exits 0.
// SIGUSR1 and SIGUSR2 sent to a key's own process (its pid is in the key's
// stderr line) pull it out and insert it. ykman needs --device SERIAL and
// yubico-piv-tool -r READER: every vpcd entry also opens an empty reader.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"breakglass/hardware/station"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("station", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "station `directory` (created if missing; key state is kept there)")
	n := fs.Int("keys", 3, fmt.Sprintf("number of virtual YubiKeys, 1..%d", station.MaxKeys))
	base := fs.Uint("serial-base", 10000000, "serials are base+1 … base+N")
	touch := fs.Duration("touch-delay", 2*time.Second, "simulated touch delay for touch-policy keys")
	bin := fs.String("virtual-yubikey", "", "path of the built virtual-yubikey (default: next to this program, else go build)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: station --dir DIR [--keys N]

Runs a private pcscd with N virtual YubiKeys until SIGTERM or SIGINT (root, or any user
with unprivileged user namespaces).
The export line appears on stdout once pcscd sees every key.

Example:
  station --dir /tmp/bg-station --keys 3 > /tmp/bg-station.env &
  # wait until /tmp/bg-station.env is not empty, then:
  . /tmp/bg-station.env && ykman --device 10000001 piv info
  kill -USR1 KEYPID   # pull a key out; kill -USR2 KEYPID puts it back

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dir == "" || *n < 1 || *n > station.MaxKeys || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "station: --dir is required and --keys must be 1..%d\n", station.MaxKeys)
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "station: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		fmt.Fprintf(stderr, "station: creating %q: %v\n", abs, err)
		return 1
	}
	o := station.Options{Dir: abs, VirtualYubiKeyBin: *bin}
	if o.VirtualYubiKeyBin == "" {
		if self, err := os.Executable(); err == nil {
			cand := filepath.Join(filepath.Dir(self), "virtual-yubikey")
			if _, err := os.Stat(cand); err == nil {
				o.VirtualYubiKeyBin = cand
			}
		}
	}
	for i := range *n {
		sn := uint32(*base) + uint32(i) + 1
		o.Keys = append(o.Keys, station.KeySpec{Serial: sn, StateFile: filepath.Join(abs, fmt.Sprintf("key-%d.json", sn)), TouchDelay: *touch})
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	s, err := station.Start(startCtx, o)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "station: %v\n", err)
		return 1
	}
	for _, sn := range s.Serials() {
		fmt.Fprintf(stderr, "station: YubiKey %d in reader %q (vpcd port %d, pid %d)\n", sn, s.Reader(sn), s.Port(sn), s.KeyPID(sn))
	}
	fmt.Fprintf(stdout, "export PCSCLITE_CSOCK_NAME=%s\n", s.Socket())
	<-ctx.Done()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "station: %v\n", err)
		return 1
	}
	return 0
}
