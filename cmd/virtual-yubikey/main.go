// Command virtual-yubikey is a virtual YubiKey 5 plugged into pcscd through
// vsmartcard-vpcd, for tests and demonstrations. Its keys and PINs are not
// protected: never use it for a real secret.
//
// Usage:
//
//	virtual-yubikey --port PORT --serial N [--firmware V] [--test-root R] [--state FILE] [--touch-delay D] [--apdu-log FILE]
//
// It connects to the vpcd reader listening on 127.0.0.1:PORT (pcscd loads
// the reader from a reader.conf.d entry with CHANNELID PORT) and answers as
// the card hardware/vyk implements, with device serial N. It reconnects
// whenever pcscd is absent or restarts.
//
// --firmware picks the YubiKey 5 modelled: 5.4.3 (default, the most common
// in the field) or 5.7.4 (adds RSA-3072/4096, Ed25519, X25519 and an AES-192
// factory management key). Either way the f9 device key is RSA-2048, as on
// real keys, issued under a TEST ONLY hierarchy in testdata/attestation:
// --test-root test (P-256 attestation-root.pem, default for 5.4.3), 2018
// (RSA yubico-2018-style-root.pem, the shape of real keys before 5.7.4) or
// 2024 (RSA yubico-2024-style-root.pem through two intermediates, the shape
// of 5.7.4 and later; default for 5.7.4). A saved --state keeps the
// firmware and device key it was created with; a --firmware that differs
// from the saved one is refused.
//
// With --state FILE the card is loaded from FILE if it exists (its serial
// must match N) and saved to FILE atomically after every change, so keys,
// PINs and certificates survive a restart. FILE holds private keys in the
// clear and is written with mode 0600.
//
// Signals:
//
//	SIGTERM, SIGINT  disconnect and exit 0
//	SIGUSR1          pull the key out (disconnect and stay out)
//	SIGUSR2          insert the key again
//
// On startup it prints one line to stderr: "virtual YubiKey serial N on
// vpcd port P". Exit status: 0 after a signal to stop, 1 on failure (the
// state file cannot be read or saved), 2 on bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"breakglass/hardware/vpcd"
	"breakglass/hardware/vyk"
	"breakglass/internal/atomicfile"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// options are the command's flags.
type options struct {
	port       int
	serial     uint64
	state      string
	touchDelay time.Duration
	verbose    bool
	firmware   string
	testRoot   string
	apduLog    string
}

const usage = `usage: virtual-yubikey --port PORT --serial N [--firmware V] [--test-root R] [--state FILE] [--touch-delay D] [--apdu-log FILE]

A virtual YubiKey 5 for tests and demos, plugged into pcscd through the
vsmartcard-vpcd reader listening on 127.0.0.1:PORT. Never use it for a real
secret: its state file holds private keys in the clear.

Examples:
  virtual-yubikey --port 35963 --serial 10000001
  virtual-yubikey --port 35963 --serial 10000001 --state key1.json --touch-delay 2s
  virtual-yubikey --port 35963 --serial 10000001 --firmware 5.7.4

Signals:
  SIGTERM, SIGINT   disconnect and exit 0
  SIGUSR1           pull the key out (disconnect, stay out)
  SIGUSR2           insert the key again

Flags:
`

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("virtual-yubikey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.port, "port", 0, "vpcd reader TCP `port` on 127.0.0.1 (required)")
	fs.Uint64Var(&o.serial, "serial", 0, "device serial `number`, 1..4294967295 (required)")
	fs.StringVar(&o.state, "state", "", "load the card from `FILE` if it exists; save it there after every change")
	fs.DurationVar(&o.touchDelay, "touch-delay", 0, "simulated touch: delay answers of touch-policy keys by `D`")
	fs.BoolVar(&o.verbose, "v", false, "log connection events to stderr")
	fs.StringVar(&o.firmware, "firmware", vyk.DefaultProfile, "YubiKey 5 firmware `profile`: "+vyk.ProfileNames())
	fs.StringVar(&o.testRoot, "test-root", "", "TEST ONLY attestation hierarchy `R`: test, 2018 or 2024 (default: the profile's)")
	fs.StringVar(&o.apduLog, "apdu-log", os.Getenv("VIRTUAL_YUBIKEY_APDU_LOG"),
		"append one line per APDU (serial CLA INS P1 P2 SW, never the data) to `FILE`; default $VIRTUAL_YUBIKEY_APDU_LOG")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.port <= 0 || o.port > 65535:
		return o, errors.New("--port must be a TCP port 1..65535 (the CHANNELID of the vpcd reader)")
	case o.serial == 0 || o.serial > 0xFFFFFFFF:
		return o, errors.New("--serial must be 1..4294967295")
	case o.touchDelay < 0:
		return o, errors.New("--touch-delay must not be negative")
	}
	if _, err := vyk.ProfileConfig(o.firmware, o.testRoot); err != nil {
		return o, fmt.Errorf("--firmware %q --test-root %q: %w", o.firmware, o.testRoot, err)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "virtual-yubikey: %v\nrun virtual-yubikey -h for usage\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	presence := vpcd.NewPresence(true)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	card, err := openCard(o)
	if err != nil {
		fmt.Fprintf(stderr, "virtual-yubikey: %v\n", err)
		return 1
	}
	saveErr := make(chan error, 1)
	if o.state != "" {
		if err := persistState(card, o.state, saveErr); err != nil {
			fmt.Fprintf(stderr, "virtual-yubikey: %v\n", err)
			return 1
		}
	}

	opts := vpcd.Options{Presence: presence}
	if o.verbose {
		opts.Logf = func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
	}
	var wire vpcd.Card = card
	if o.apduLog != "" {
		f, err := os.OpenFile(o.apduLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "virtual-yubikey: opening the APDU log: %v\n", err)
			return 1
		}
		defer f.Close()
		wire = vpcd.LogAPDUs(card, f, fmt.Sprint(o.serial))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	addr := fmt.Sprintf("127.0.0.1:%d", o.port)
	go func() { served <- vpcd.Serve(ctx, addr, wire, opts) }()
	fmt.Fprintf(stderr, "virtual YubiKey serial %d on vpcd port %d\n", o.serial, o.port)
	return serveUntilDone(o, stderr, sigs, presence, saveErr, served, cancel)
}

// persistState saves the card's state to path now and after every change;
// a failed save after the first is sent (once) on saveErr.
func persistState(card *vyk.Card, path string, saveErr chan<- error) error {
	save := func() error {
		st, err := card.MarshalState()
		if err != nil {
			return fmt.Errorf("encoding card state: %w", err)
		}
		return writeAtomic(path, st)
	}
	if err := save(); err != nil {
		return err
	}
	card.OnChange(func() {
		if err := save(); err != nil {
			select {
			case saveErr <- err:
			default:
			}
		}
	})
	return nil
}

// serveUntilDone pulls and inserts the card on SIGUSR1 and SIGUSR2 until
// the server ends or a save fails (then it stops the server), and returns
// the exit status.
func serveUntilDone(o options, stderr io.Writer, sigs <-chan os.Signal, presence *vpcd.Presence, saveErr, served <-chan error, cancel context.CancelFunc) int {
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGUSR1 {
				presence.Pull()
			} else {
				presence.Insert()
			}
		case err := <-saveErr:
			cancel()
			<-served
			fmt.Fprintf(stderr, "virtual-yubikey: saving the card (serial %d): %v; the last change is lost\n", o.serial, err)
			return 1
		case err := <-served:
			if err != nil {
				fmt.Fprintf(stderr, "virtual-yubikey: %v\n", err)
				return 1
			}
			return 0
		}
	}
}

// openCard loads the card from o.state if that file exists, else makes a
// factory-fresh one.
func openCard(o options) (*vyk.Card, error) {
	cfg, err := vyk.ProfileConfig(o.firmware, o.testRoot)
	if err != nil {
		return nil, err
	}
	cfg.Serial, cfg.TouchDelay = uint32(o.serial), o.touchDelay
	if o.state != "" {
		st, err := os.ReadFile(o.state)
		switch {
		case err == nil:
			c, err := vyk.Load(cfg, st)
			if err != nil {
				return nil, fmt.Errorf("loading card state %q: %w (delete the file to start a fresh card)", o.state, err)
			}
			return c, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("reading card state %q: %w", o.state, err)
		}
	}
	c, err := vyk.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating card serial %d: %w", o.serial, err)
	}
	return c, nil
}

// writeAtomic replaces path with data (mode 0600) by internal/atomicfile:
// a crash leaves either the old or the new content, never a mix.
func writeAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("saving card state: %w", err)
	}
	return nil
}
