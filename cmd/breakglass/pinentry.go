package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/term"

	"breakglass/hardware"
	"breakglass/vault"
)

// pinFileFlag collects repeated "--pin-file SERIAL=FILE" flags: the PIN of
// the YubiKey with SERIAL is in FILE. It implements flag.Value.
type pinFileFlag map[uint32]string

func (p pinFileFlag) String() string {
	var parts []string
	for s, f := range p {
		parts = append(parts, fmt.Sprintf("%d=%s", s, f))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Set parses one SERIAL=FILE; a serial given twice is an error.
func (p pinFileFlag) Set(v string) error {
	serial, file, ok := strings.Cut(v, "=")
	if !ok || file == "" {
		return fmt.Errorf("want SERIAL=FILE (e.g. 10000001=alice.pin), got %q", v)
	}
	n, err := strconv.ParseUint(serial, 10, 32)
	if err != nil || n == 0 {
		return fmt.Errorf("serial %q is not a YubiKey serial number", serial)
	}
	if _, dup := p[uint32(n)]; dup {
		return fmt.Errorf("serial %d given twice", n)
	}
	p[uint32(n)] = file
	return nil
}

// Serials lists the serials with a PIN file, in ascending order.
func (p pinFileFlag) Serials() []uint32 {
	out := make([]uint32, 0, len(p))
	for s := range p {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// errNoPIN: no PIN file was given for a key and there is no terminal to ask on.
var errNoPIN = errors.New("no PIN available")

// readPINFile reads the PIN in path (one line; the trailing newline is
// trimmed). A file readable by group or others gets a warning on warn.
func readPINFile(path string, warn io.Writer) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("reading PIN file %q: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(warn, "warning: PIN file %s is readable by other users: chmod 600 it\n", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading PIN file %q: %w", path, err)
	}
	pin := strings.TrimRight(string(b), "\r\n")
	if pin == "" || strings.ContainsAny(pin, "\r\n") {
		return "", fmt.Errorf("reading PIN file %q: it must hold the PIN on one line", path)
	}
	return pin, nil
}

// stdinIsTerminal reports whether the command may prompt: its stdin is a
// terminal. Tests replace it.
var stdinIsTerminal = func(e *env) bool {
	return e.stdinFile != nil && term.IsTerminal(int(e.stdinFile.Fd()))
}

// readMasked reads one line from the terminal without echoing it. Tests
// replace it.
var readMasked = func(e *env) ([]byte, error) {
	b, err := term.ReadPassword(int(e.stdinFile.Fd()))
	fmt.Fprintln(e.stderr)
	return b, err
}

// readLine reads one line from r a byte at a time (so nothing after the
// line is consumed), without the line ending.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	var c [1]byte
	for {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return strings.TrimRight(b.String(), "\r"), nil
			}
			b.WriteByte(c[0])
			if b.Len() > 4096 {
				return "", errors.New("input line too long")
			}
		}
		if err == io.EOF && b.Len() > 0 {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// askYesNo asks question on the terminal and returns true only for an
// explicit "y" or "yes".
func askYesNo(e *env, question string) (bool, error) {
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	ans, err := readLine(e.stdin)
	if err != nil {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	ans = strings.ToLower(strings.TrimSpace(ans))
	return ans == "y" || ans == "yes", nil
}

// waitForEnter shows msg and waits for Enter on the terminal.
func waitForEnter(e *env, msg string) error {
	fmt.Fprintf(e.stderr, "%s and press Enter ", msg)
	if _, err := readLine(e.stdin); err != nil {
		return fmt.Errorf("waiting for Enter: %w", err)
	}
	return nil
}

// pinPrompt is the text shown before a custodian types their PIN; retries
// below zero (unknown) are not shown.
func pinPrompt(name string, serial uint32, retries int) string {
	switch {
	case retries < 0:
		return fmt.Sprintf("PIN for %s (serial %d): ", name, serial)
	case retries == 1:
		return fmt.Sprintf("PIN for %s (serial %d), 1 attempt left: ", name, serial)
	}
	return fmt.Sprintf("PIN for %s (serial %d), %d attempts left: ", name, serial, retries)
}

// pinSource finds PINs: from the --pin-file of the serial when there is one,
// else by a masked prompt on the terminal.
type pinSource struct {
	files pinFileFlag
	e     *env
}

// pin returns the PIN for the key with serial belonging to name; retries
// (or -1) is shown in the prompt. errNoPIN when there is neither a PIN file
// nor a terminal.
func (s pinSource) pin(name string, serial uint32, retries int) (string, error) {
	if f, ok := s.files[serial]; ok {
		fmt.Fprintf(s.e.stderr, "%s(read from %s)\n", pinPrompt(name, serial, retries), f)
		return readPINFile(f, s.e.stderr)
	}
	if !stdinIsTerminal(s.e) {
		return "", fmt.Errorf("%w for YubiKey %d (%s): give --pin-file %d=FILE or run on a terminal", errNoPIN, serial, name, serial)
	}
	fmt.Fprint(s.e.stderr, pinPrompt(name, serial, retries))
	b, err := readMasked(s.e)
	if err != nil {
		return "", fmt.Errorf("reading the PIN: %w", err)
	}
	pin := string(b)
	clear(b)
	if pin == "" {
		return "", fmt.Errorf("%w for YubiKey %d: the PIN is empty", errNoPIN, serial)
	}
	return pin, nil
}

// touchPrompt is the "touch your key" line for hardware.WithTouchPrompt.
func touchPrompt(w io.Writer, serial uint32) func() {
	return func() { fmt.Fprintf(w, "Touch your YubiKey now (serial %d)…\n", serial) }
}

// withPIN runs op with the PIN of tok (custodian name), showing the PIN
// attempts left before each try. With one attempt left it proceeds only when
// confirmLast is set or the custodian answers "y" on the terminal, and passes
// confirmed=true to op. A wrong PIN typed at the terminal is asked again;
// a wrong PIN from a file is returned at once.
func withPIN(ctx context.Context, src pinSource, tok hardware.Token, name string, confirmLast bool, op func(pin string, confirmed bool) error) error {
	serial := tok.Serial()
	for {
		retries := -1
		if in, err := tok.Info(ctx); err == nil {
			retries = in.PINRetries
		} else if errors.Is(err, hardware.ErrRemoved) || errors.Is(err, hardware.ErrNotFound) {
			return fmt.Errorf("reading YubiKey %d: %w", serial, err)
		}
		if retries == 0 {
			return fmt.Errorf("YubiKey %d (%s): %w", serial, name, hardware.ErrPINBlocked)
		}
		confirmed := confirmLast
		_, fromFile := src.files[serial]
		if retries == 1 && !confirmed {
			if fromFile || !stdinIsTerminal(src.e) {
				return fmt.Errorf("YubiKey %d (%s): %w", serial, name, &vault.LastPINRetryError{Serial: serial})
			}
			ok, err := askYesNo(src.e, fmt.Sprintf("YubiKey %d (%s) has ONE PIN attempt left; a wrong PIN blocks it. Try it?", serial, name))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("YubiKey %d (%s): %w", serial, name, &vault.LastPINRetryError{Serial: serial})
			}
			confirmed = true
		}
		pin, err := src.pin(name, serial, retries)
		if err != nil {
			return err
		}
		err = op(pin, confirmed)
		var pe *hardware.PINError
		if errors.As(err, &pe) && !fromFile && stdinIsTerminal(src.e) && pe.Retries > 0 {
			fmt.Fprintf(src.e.stderr, "Wrong PIN for YubiKey %d: %d attempts left.\n", serial, pe.Retries)
			continue
		}
		return err
	}
}
