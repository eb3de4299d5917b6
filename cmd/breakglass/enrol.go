package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"breakglass/hardware"
	"breakglass/internal/inert"
	"breakglass/vault"
)

func init() {
	register(command{
		name:    "enrol",
		summary: "prepare a custodian's YubiKey: attested decryption and signing keys, custodian file",
		run:     runEnrol,
	})
}

// vaultNow is the clock of the vault commands; tests replace it.
var vaultNow = time.Now

// enrolOptions are the flags of "breakglass enrol".
type enrolOptions struct {
	Name            string
	ID              string
	Serial          uint32
	Slot            hardware.Slot
	SignSlot        hardware.Slot
	ReplaceSignKey  bool
	MgmtKeyHex      string
	PINFile         string
	Out             string
	AttestationRoot string
	BackupOf        string
	ProtectMgmtKey  bool
	ConfirmLast     bool
}

const enrolUsage = `Usage: breakglass enrol --name NAME --serial N [flags]

Prepares one custodian's YubiKey for the vault. It generates, on the key:
  - a P-256 decryption key in the first free retired slot (82..95), PIN once,
    touch always, with an age-plugin-yubikey certificate, so the custodian's
    share also opens with the stock "age" CLI and age-plugin-yubikey;
  - a P-256 signing key in slot 9c, PIN always, touch always, for the roster
    and the reports.
Both keys are attested and the attestations verified before anything is
written. It then writes NAME.custodian.json (public keys and attestations
only) into --out and prints the age-plugin-yubikey identity.

A key still using the factory PIN or PUK is refused: change them first.
The management key is the factory one unless --mgmt-key is given (or the key
already has a PIN-protected one); --protect-mgmt-key (or "y" at the prompt)
then replaces the factory key by a random PIN-protected one, as ykman does.

Flags:
  --name NAME              custodian's display name (required unless --backup-of)
  --serial N               YubiKey serial (required; "breakglass keys" lists them)
  --id ID                  roster ID (default: from the name, "alice-example")
  --slot 82                retired slot for the decryption key (default: first free)
  --sign-slot 9c           slot for the signing key
  --replace-sign-key       replace a key already in the signing slot
  --mgmt-key HEX           management key (default: factory key, or PIN-protected)
  --protect-mgmt-key       replace the factory management key by a PIN-protected one
  --pin-file FILE          read the PIN from FILE (scripts); default: prompt
  --confirm-last-retry     try the PIN even if only one attempt is left
  --out DIR                where to write the custodian file (default ".")
  --backup-of FILE         enrol a backup key for the custodian in FILE (same ID)
  --attestation-root PEM   trust this (TEST) attestation root instead of Yubico's

Examples:
  breakglass enrol --name "Alice Example" --serial 10000001
  breakglass enrol --backup-of alice-example.custodian.json --serial 10000004
  breakglass enrol --name "Bob Example" --serial 10000002 --pin-file bob.pin --out custodians
`

// slotFlag parses a slot written in hex ("82", "9c") into a hardware.Slot.
type slotFlag struct{ s *hardware.Slot }

func (f slotFlag) String() string {
	if f.s == nil || *f.s == 0 {
		return ""
	}
	return f.s.String()
}

func (f slotFlag) Set(v string) error {
	n, err := strconv.ParseUint(v, 16, 8)
	if err != nil || !hardware.Slot(n).Valid() {
		return fmt.Errorf("%q is not a PIV key slot (9a 9c 9d 9e 82..95)", v)
	}
	*f.s = hardware.Slot(n)
	return nil
}

func runEnrol(ctx context.Context, e *env, args []string) int {
	var o enrolOptions
	fs := flag.NewFlagSet("enrol", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, enrolUsage) }
	var serial uint64
	fs.StringVar(&o.Name, "name", "", "")
	fs.StringVar(&o.ID, "id", "", "")
	fs.Uint64Var(&serial, "serial", 0, "")
	fs.Var(slotFlag{&o.Slot}, "slot", "")
	fs.Var(slotFlag{&o.SignSlot}, "sign-slot", "")
	fs.BoolVar(&o.ReplaceSignKey, "replace-sign-key", false, "")
	fs.StringVar(&o.MgmtKeyHex, "mgmt-key", "", "")
	fs.BoolVar(&o.ProtectMgmtKey, "protect-mgmt-key", false, "")
	fs.StringVar(&o.PINFile, "pin-file", "", "")
	fs.BoolVar(&o.ConfirmLast, "confirm-last-retry", false, "")
	fs.StringVar(&o.Out, "out", ".", "")
	fs.StringVar(&o.BackupOf, "backup-of", "", "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		printf(e.stderr, "breakglass enrol: unexpected argument %q\n", fs.Arg(0))
		return 2
	case serial == 0 || serial > 1<<32-1:
		fmt.Fprintln(e.stderr, "breakglass enrol: --serial is required: the YubiKey's serial number (\"breakglass keys\" lists the connected keys)")
		return 2
	case o.Name == "" && o.BackupOf == "":
		fmt.Fprintln(e.stderr, "breakglass enrol: --name is required: the custodian's name as it should appear on the roster")
		return 2
	case o.BackupOf != "" && o.ID != "":
		fmt.Fprintln(e.stderr, "breakglass enrol: --id cannot be used with --backup-of: a backup key keeps the custodian's ID")
		return 2
	case o.Slot != 0 && !o.Slot.Retired():
		printf(e.stderr, "breakglass enrol: --slot %s: the decryption key goes in a retired slot 82..95\n", o.Slot)
		return 2
	}
	o.Serial = uint32(serial)
	return o.exec(ctx, e)
}

func (o *enrolOptions) exec(ctx context.Context, e *env) int {
	fail := func(err error) int { printErr(e.stderr, "enrol", err); return 1 }
	trust, testRoot, mgmt, code := o.preflight(e)
	if code != 0 {
		return code
	}
	name, id, prior, err := o.identity()
	if err != nil {
		return fail(err)
	}

	st := newStation()
	tok, err := openCustodianKey(ctx, st, o.Serial)
	if err != nil {
		return fail(err)
	}
	pin, err := o.unlockKey(ctx, e, tok, name)
	if err != nil {
		return fail(err)
	}
	admin, hasAdmin := tok.(mgmtKeyAdmin)
	mgmt, defaultMgmt, err := o.chooseMgmtKey(ctx, admin, hasAdmin, mgmt, pin)
	if err != nil {
		return fail(err)
	}

	printf(e.stderr, "Generating the decryption and signing keys on YubiKey %d: touch it each time it blinks.\n", o.Serial)
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(e.stderr, o.Serial))
	now := vaultNow()
	c, err := vault.EnrolCustodian(tctx, tok, mgmt, name, vault.EnrolOptions{
		ID: id, PIN: pin, Slot: o.Slot, SignSlot: o.SignSlot, ReplaceSignKey: o.ReplaceSignKey,
		Verify: trust, Now: now,
	})
	if err != nil {
		return fail(fmt.Errorf("%w\n  no custodian file was written", err))
	}
	// The policies shown are the attested ones (EnrolCustodian refused
	// anything below the default minimum).
	pol, err := trust.AttestedPolicies(c.Keys[0])
	if err != nil {
		return fail(fmt.Errorf("reading the attested policies of YubiKey %d: %w\n  no custodian file was written", o.Serial, err))
	}
	path, err := o.writeCustodian(e, c, prior)
	if err != nil {
		return fail(err)
	}
	o.printEnrolled(e, c, prior, pol, testRoot, path, now)
	return o.protectMgmtKey(ctx, e, tok, admin, hasAdmin, defaultMgmt, pin)
}

// preflight checks the inputs that need no YubiKey: the trust root, the
// --mgmt-key and the output directory. A non-zero code is the exit status
// (the message is printed).
func (o *enrolOptions) preflight(e *env) (trust vault.VerifyOptions, testRoot bool, mgmt hardware.ManagementKey, code int) {
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		printf(e.stderr, "breakglass enrol: %v\nGive a PEM file holding the attestation root certificate.\n", err)
		return trust, testRoot, mgmt, 2
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	if o.MgmtKeyHex != "" {
		k, err := hex.DecodeString(o.MgmtKeyHex)
		if err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
			fmt.Fprintln(e.stderr, "breakglass enrol: --mgmt-key must be 32, 48 or 64 hex digits (an AES-128/192/256 or 3DES key)")
			return trust, testRoot, mgmt, 2
		}
		mgmt.Key = k
	}
	if fi, err := os.Stat(o.Out); err != nil || !fi.IsDir() {
		printf(e.stderr, "breakglass enrol: output directory %q does not exist: create it or give another --out\n", o.Out)
		return trust, testRoot, mgmt, 2
	}
	return trust, testRoot, mgmt, 0
}

// identity returns the custodian's name and id: from the flags, or for
// --backup-of from that custodian file (prior), which the flags must agree
// with.
func (o *enrolOptions) identity() (name, id string, prior *vault.Custodian, err error) {
	name, id = o.Name, o.ID
	if o.BackupOf == "" {
		return name, id, nil, nil
	}
	c, err := vault.LoadCustodianFile(o.BackupOf)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w\n  --backup-of must be a custodian file written by \"breakglass enrol\"", err)
	}
	if name != "" && name != c.Name {
		return "", "", nil, fmt.Errorf("--name %q differs from the name %q in %s: leave --name out for a backup key", name, c.Name, o.BackupOf)
	}
	if slices.Contains(c.Serials(), o.Serial) {
		return "", "", nil, fmt.Errorf("YubiKey %d is already a key of %s in %s: a backup must be another YubiKey", o.Serial, c, o.BackupOf)
	}
	return c.Name, c.ID, &c, nil
}

// writeCustodian writes c to its file in --out (a backup key gets its own
// name) and returns the path.
func (o *enrolOptions) writeCustodian(e *env, c vault.Custodian, prior *vault.Custodian) (string, error) {
	file := c.ID + ".custodian.json"
	if prior != nil {
		file = fmt.Sprintf("%s.backup-%d.custodian.json", c.ID, o.Serial)
	}
	path := filepath.Join(o.Out, file)
	if _, err := os.Lstat(path); err == nil {
		printf(e.stderr, "note: %s existed; the old one is kept as %s.prev\n", path, path)
	}
	if err := vault.WriteCustodianFile(path, c); err != nil {
		return "", err
	}
	return path, nil
}

// printEnrolled reports the enrolment on stdout, with the
// age-plugin-yubikey identity when one can be made.
func (o *enrolOptions) printEnrolled(e *env, c vault.Custodian, prior *vault.Custodian, pol vault.KeyPolicies, testRoot bool, path string, now time.Time) {
	k := c.Keys[0]
	trustNote := "genuine YubiKey (Yubico root)"
	if testRoot {
		trustNote = "TEST root (not production)"
	}
	printf(e.stdout, "Enrolled %s on YubiKey %d", c, o.Serial)
	if prior != nil {
		printf(e.stdout, " as a backup key (with %d)", prior.Serials()[0])
	}
	printf(e.stdout, "\n  decryption key: slot %s (%s, attested) %s\n", k.Decrypt.Slot.PIV(), pol.Decrypt.String(), k.Decrypt.Recipient)
	printf(e.stdout, "  signing key:    slot %s (%s, attested)\n", k.Sign.Slot.PIV(), pol.Sign.String())
	printf(e.stdout, "  attestation:    both keys verified, %s\n", trustNote)
	printf(e.stdout, "Wrote %s: give it to whoever runs \"breakglass vault init\".\n", path)
	if id, err := vault.AgeIdentityFile(c, k, now); err == nil {
		fmt.Fprintf(e.stdout, "\nage-plugin-yubikey identity (save it to open your share with the stock age CLI):\n%s", inert.Text(id))
	}
}
