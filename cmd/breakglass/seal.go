package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"breakglass/vault"
)

func init() {
	register(command{
		name:    "seal",
		summary: "seal (or rotate) a secret into the vault; needs no custodian",
		run:     runSeal,
	})
}

// sealOptions are the flags of "breakglass seal".
type sealOptions struct {
	Vault           string
	Name            string
	Kind            vault.Kind
	AttestationRoot string
}

const sealUsage = `Usage: breakglass seal --vault FILE --name NAME --kind KIND [--attestation-root PEM]

Seals a secret into the vault: it is encrypted to the vault key, which only
a quorum of custodians can rebuild, so sealing needs no custodian. Sealing
a name that exists is a rotation: the new value replaces the old one and a
"revealed" mark is cleared.

The secret is read from standard input when it is a pipe, or typed twice at
a masked prompt on a terminal. It is never echoed, logged or written
anywhere but sealed. A trailing newline is dropped for password and totp.

The vault's roster signatures and attestations are verified first, so a
secret is never sealed to a tampered vault key.

Kinds:
  password         a password (one line)
  totp             an otpauth://totp/ URI or a base32 TOTP seed
  recovery-codes   recovery codes, one per line (on a terminal: separated by spaces)
  text             free text or a key

Examples:
  breakglass seal --vault vault.json --name aws-root-password --kind password
  pass show aws/root | breakglass seal --vault vault.json --name aws-root-password --kind password
  breakglass seal --vault vault.json --name aws-root-recovery-codes --kind recovery-codes < codes.txt
`

func runSeal(ctx context.Context, e *env, args []string) int {
	var o sealOptions
	var kind string
	fs := flag.NewFlagSet("seal", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, sealUsage) }
	fs.StringVar(&o.Vault, "vault", "", "")
	fs.StringVar(&o.Name, "name", "", "")
	fs.StringVar(&kind, "kind", "", "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.Kind = vault.Kind(kind)
	switch {
	case fs.NArg() > 0:
		printf(e.stderr, "breakglass seal: unexpected argument %q (the secret is read from standard input, never from the command line)\n", fs.Arg(0))
		return 2
	case o.Vault == "":
		fmt.Fprintln(e.stderr, "breakglass seal: --vault FILE is required")
		return 2
	case o.Name == "":
		fmt.Fprintln(e.stderr, "breakglass seal: --name NAME is required: the name the runbook uses for this secret")
		return 2
	case !o.Kind.Valid():
		printf(e.stderr, "breakglass seal: --kind %q is not a kind: use password, totp, recovery-codes or text\n", kind)
		return 2
	}
	return o.exec(ctx, e)
}

func (o *sealOptions) exec(_ context.Context, e *env) int {
	fail := func(err error) int { printErr(e.stderr, "seal", err); return 1 }
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		printf(e.stderr, "breakglass seal: %v\nGive a PEM file holding the attestation root certificate.\n", err)
		return 2
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	v, err := vault.Load(o.Vault)
	if err != nil {
		return fail(err)
	}
	if err := v.VerifyRoster(trust); err != nil {
		return fail(fmt.Errorf("vault %s: %w\n  refusing to seal to a vault whose roster does not verify: check the file (breakglass vault inspect %s)", o.Vault, err, o.Vault))
	}
	secret, err := readSecretInput(e, o.Name, o.Kind)
	if err != nil {
		return fail(err)
	}
	defer clear(secret)
	prev, existed := v.Secret(o.Name)
	var prevKind vault.Kind
	if existed {
		prevKind = prev.Kind
	}
	if err := v.Seal(o.Name, o.Kind, secret, vaultNow()); err != nil {
		if errors.Is(err, vault.ErrInvalidSecret) {
			return fail(fmt.Errorf("%w\n  nothing was sealed: give a valid %s", err, o.Kind))
		}
		return fail(fmt.Errorf("%w\n  nothing was sealed", err))
	}
	if err := v.Save(o.Vault); err != nil {
		return fail(fmt.Errorf("%w\n  nothing was sealed; the vault file is unchanged", err))
	}
	s, _ := v.Secret(o.Name)
	if !existed {
		printf(e.stdout, "Sealed %s (%s) into %s.\n", o.Name, o.Kind, o.Vault)
		return 0
	}
	printf(e.stdout, "Rotated %s (%s) in %s: rotation %d", o.Name, o.Kind, o.Vault, s.Rotations)
	if s.PreviousSealedAt != nil {
		printf(e.stdout, ", previous value sealed %s", s.PreviousSealedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintln(e.stdout, ".")
	if prevKind != o.Kind {
		printf(e.stdout, "Note: the kind changed from %s to %s: check the runbook steps that use it.\n", prevKind, o.Kind)
	}
	return 0
}

// readSecretInput reads the secret: typed twice at a masked prompt on a
// terminal, else all of stdin (at most vault.MaxSecretSize bytes).
func readSecretInput(e *env, name string, kind vault.Kind) ([]byte, error) {
	if stdinIsTerminal(e) {
		hint := ""
		if kind == vault.KindRecoveryCodes {
			hint = ", codes separated by spaces"
		}
		printf(e.stderr, "Secret for %s (%s%s): ", name, kind, hint)
		a, err := readMasked(e)
		if err != nil {
			return nil, fmt.Errorf("reading the secret: %w", err)
		}
		printf(e.stderr, "Again, to confirm: ")
		b, err := readMasked(e)
		defer clear(b)
		if err != nil {
			clear(a)
			return nil, fmt.Errorf("reading the secret: %w", err)
		}
		if !bytes.Equal(a, b) {
			clear(a)
			return nil, errors.New("the two entries differ: nothing was sealed; run the command again")
		}
		if kind == vault.KindRecoveryCodes {
			codes := bytes.Join(bytes.Fields(a), []byte("\n"))
			clear(a)
			a = codes
		}
		return a, nil
	}
	// One buffer, read into in place, so no copy of the secret is left
	// behind in memory by a growing slice.
	buf := make([]byte, vault.MaxSecretSize+1)
	n, err := io.ReadFull(e.stdin, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		clear(buf)
		return nil, fmt.Errorf("reading the secret from standard input: %w", err)
	}
	if n > vault.MaxSecretSize {
		clear(buf)
		return nil, fmt.Errorf("the secret on standard input is larger than %d bytes: nothing was sealed", vault.MaxSecretSize)
	}
	buf = buf[:n]
	if kind == vault.KindPassword || kind == vault.KindTOTP {
		n := len(buf)
		if n > 0 && buf[n-1] == '\n' {
			n--
			if n > 0 && buf[n-1] == '\r' {
				n--
			}
		}
		clear(buf[n:])
		buf = buf[:n]
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: standard input is empty: pipe the secret in, or run on a terminal to type it", vault.ErrInvalidSecret)
	}
	return buf, nil
}
