package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"breakglass/hardware"
	"breakglass/vault"
)

func init() {
	register(command{
		name:    "seal",
		summary: "seal (or rotate) a secret into the vault, signed on your YubiKey; needs no quorum",
		run:     runSeal,
	})
}

// sealOptions are the flags of "breakglass seal".
type sealOptions struct {
	Vault           string
	Name            string
	Kind            vault.Kind
	Serial          uint32
	PINFiles        pinFileFlag
	ConfirmLast     bool
	AttestationRoot string
	Pin             string // --vault-fingerprint
}

const sealUsage = `Usage: breakglass seal --vault FILE --name NAME --kind KIND --serial SERIAL [--pin-file SERIAL=FILE] [--attestation-root PEM]

Seals a secret into the vault: it is encrypted to the vault key, which only
a quorum of custodians can rebuild, so sealing needs no quorum — but it
needs the sealer: one custodian signs the seal record (vault, name, kind,
version, ciphertext hash, date, who, link to the previous version) on
their enrolled YubiKey (signing key, slot 9c: PIN and touch). The console
reveals only values whose seal record verifies and shows "sealed by NAME
on DATE, version N". Sealing a name that exists is a rotation: the new
value replaces the old one as version N+1, linked to the old record, and
a "revealed" mark is cleared.

The secret is read from standard input when it is a pipe, or typed twice at
a masked prompt on a terminal. It is never echoed, logged or written
anywhere but sealed. A trailing newline is dropped for password and totp.

The vault's roster signatures and attestations are verified first, so a
secret is never sealed to a tampered vault key.

Flags:
  --serial SERIAL          your YubiKey (a custodian key listed by "vault inspect")
  --pin-file SERIAL=FILE   its PIN from a file (scripts); else asked on the terminal
  --confirm-last-retry     try the PIN even if only one attempt is left
  --vault-fingerprint FP   the fingerprint on your custodian card: refuse a vault
                           file that is not that roster or a later version of it
                           (an old copy of the file put back after a rekey would
                           seal to a key the old shares still open)
  --attestation-root PEM   trust this (TEST) attestation root instead of Yubico's

Kinds:
  password         a password (one line)
  totp             an otpauth://totp/ URI or a base32 TOTP seed
  recovery-codes   recovery codes, one per line (on a terminal: separated by spaces)
  text             free text or a key

Examples:
  breakglass seal --vault vault.json --name aws-root-password --kind password --serial 10000001
  pass show aws/root | breakglass seal --vault vault.json --name aws-root-password --kind password --serial 10000001
  breakglass seal --vault vault.json --name aws-root-recovery-codes --kind recovery-codes --serial 10000001 < codes.txt
`

func runSeal(ctx context.Context, e *env, args []string) int {
	o := sealOptions{PINFiles: pinFileFlag{}}
	var kind string
	var serial uint
	fs := flag.NewFlagSet("seal", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, sealUsage) }
	fs.StringVar(&o.Vault, "vault", "", "")
	fs.StringVar(&o.Name, "name", "", "")
	fs.StringVar(&kind, "kind", "", "")
	fs.UintVar(&serial, "serial", 0, "")
	fs.Var(o.PINFiles, "pin-file", "")
	fs.BoolVar(&o.ConfirmLast, "confirm-last-retry", false, "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	fs.StringVar(&o.Pin, "vault-fingerprint", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.Kind = vault.Kind(kind)
	o.Serial = uint32(serial)
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
	case serial == 0 || uint(o.Serial) != serial:
		fmt.Fprintln(e.stderr, "breakglass seal: --serial SERIAL is required: the YubiKey you sign the seal with (a custodian key listed by \"breakglass vault inspect\")")
		return 2
	}
	return o.exec(ctx, e)
}

func (o *sealOptions) exec(ctx context.Context, e *env) int {
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
	if o.Pin != "" {
		pin, err := vault.ParsePin(o.Pin)
		if err != nil {
			return fail(err)
		}
		if vault.VersionIndex(v.Versions(), pin) < 0 {
			return fail(fmt.Errorf("vault %s is roster version %d, fingerprint %s, and does not descend from the fingerprint %s you gave: it is an older copy or another vault\n  nothing was sealed: get the current vault file from the security team", o.Vault, v.Roster.Number(), v.Fingerprint(), o.Pin))
		}
	}
	printf(e.stderr, "Vault %s: fingerprint %s, roster version %d, %d of %d — compare with your custodian card.\n",
		o.Vault, v.Fingerprint(), v.Roster.Number(), v.Roster.Policy.Threshold, v.Roster.Policy.Custodians)
	sealer, _, ok := v.KeyBySerial(o.Serial)
	if !ok {
		return fail(fmt.Errorf("%w\n  nothing was sealed: seal with a custodian's YubiKey (breakglass vault inspect %s lists them)", &vault.NotOnRosterError{Serial: o.Serial}, o.Vault))
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
	if err := vault.ValidateSecret(o.Kind, secret); err != nil {
		return fail(fmt.Errorf("sealing %q: %w\n  nothing was sealed: give a valid %s", o.Name, err, o.Kind))
	}
	tok, err := openCustodianKey(ctx, newStation(), o.Serial)
	if err != nil {
		return fail(fmt.Errorf("%w\n  nothing was sealed", err))
	}
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(e.stderr, o.Serial))
	src := pinSource{files: o.PINFiles, e: e}
	var a vault.Attribution
	err = withPIN(ctx, src, tok, sealer.Name, o.ConfirmLast, func(pin string, confirmed bool) error {
		if err := vault.CheckPINRetries(ctx, tok, confirmed); err != nil {
			return err
		}
		var err error
		a, err = v.SealSigned(tctx, tok, pin, o.Name, o.Kind, secret, vaultNow())
		return err
	})
	if err != nil {
		if errors.Is(err, vault.ErrInvalidSecret) {
			return fail(fmt.Errorf("%w\n  nothing was sealed: give a valid %s", err, o.Kind))
		}
		return fail(fmt.Errorf("%s sealing on YubiKey %d: %w\n  nothing was sealed; the vault file is unchanged", sealer.Name, o.Serial, err))
	}
	if err := v.Save(o.Vault); err != nil {
		return fail(fmt.Errorf("%w\n  nothing was sealed; the vault file is unchanged", err))
	}
	s, _ := v.Secret(o.Name)
	if !existed {
		printf(e.stdout, "Sealed %s (%s) into %s: %s.\n", o.Name, o.Kind, o.Vault, a)
		return 0
	}
	printf(e.stdout, "Rotated %s (%s) in %s: %s", o.Name, o.Kind, o.Vault, a)
	if s.PreviousSealedAt != nil {
		printf(e.stdout, "; previous value sealed %s", s.PreviousSealedAt.UTC().Format("2006-01-02 15:04 UTC"))
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
