package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"breakglass/hardware"
	"breakglass/vault"
)

func init() {
	register(command{
		name:    "vault check",
		summary: "drill: open the vault with a quorum and check every secret decrypts, showing none",
		run:     runVaultCheck,
	})
}

// vaultCheckOptions are the flags of "breakglass vault check".
type vaultCheckOptions struct {
	File            string
	Each            bool
	PINFiles        pinFileFlag
	Serials         serialList
	ConfirmLast     bool
	AttestationRoot string
}

const vaultCheckUsage = `Usage: breakglass vault check FILE [--each] [flags]

A drill that proves the vault still opens, without showing any secret.

By default custodians present their keys one at a time (PIN and touch) until
the quorum is reached; the vault is opened and every sealed secret is
decrypted and checked for its kind, then wiped. It prints ✓ or ✗ per secret
and a verdict.

--each instead has EVERY custodian, one at a time, prove that their own
share decrypts with their key; shares are not combined.

The PIN attempts left are shown before each attempt; with one attempt left
the PIN is tried only after an explicit "y" (or --confirm-last-retry).

Flags:
  --each                   check every custodian's share instead of a quorum
  --pin-file SERIAL=FILE   PIN of the key with SERIAL (repeatable; scripts)
  --serials N,N,...        the keys to use, in order (scripts; default: the
                           --pin-file keys, or ask on the terminal)
  --confirm-last-retry     try a PIN even if only one attempt is left
  --attestation-root PEM   trust this (TEST) attestation root instead of Yubico's

Exit status: 0 only if everything checked passes.

Examples:
  breakglass vault check vault.json
  breakglass vault check vault.json --each
  breakglass vault check vault.json --serials 10000001,10000003 --pin-file 10000001=alice.pin --pin-file 10000003=carol.pin
`

// serialList is a comma-separated list of YubiKey serials (flag.Value).
type serialList []uint32

func (l *serialList) String() string {
	var s []string
	for _, n := range *l {
		s = append(s, strconv.FormatUint(uint64(n), 10))
	}
	return strings.Join(s, ",")
}

func (l *serialList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a YubiKey serial number", f)
		}
		if slices.Contains(*l, uint32(n)) {
			return fmt.Errorf("serial %d given twice", n)
		}
		*l = append(*l, uint32(n))
	}
	return nil
}

func runVaultCheck(ctx context.Context, e *env, args []string) int {
	o := vaultCheckOptions{PINFiles: pinFileFlag{}}
	fs := flag.NewFlagSet("vault check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, vaultCheckUsage) }
	fs.BoolVar(&o.Each, "each", false, "")
	fs.Var(o.PINFiles, "pin-file", "")
	fs.Var(&o.Serials, "serials", "")
	fs.BoolVar(&o.ConfirmLast, "confirm-last-retry", false, "")
	fs.StringVar(&o.AttestationRoot, "attestation-root", "", "")
	pos, err := parseAnyOrder(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "breakglass vault check: give exactly one vault FILE")
		return 2
	}
	o.File = pos[0]
	return o.exec(ctx, e)
}

func (o *vaultCheckOptions) exec(ctx context.Context, e *env) int {
	trust, testRoot, err := loadTrust(o.AttestationRoot)
	if err != nil {
		printf(e.stderr, "breakglass vault check: %v\nGive a PEM file holding the attestation root certificate.\n", err)
		return 2
	}
	printTestRootWarning(e.stderr, testRoot, o.AttestationRoot)
	v, err := vault.Load(o.File)
	if err != nil {
		printErr(e.stderr, "vault check", err)
		return 1
	}
	if err := v.VerifyRoster(trust); err != nil {
		printErr(e.stderr, "vault check", fmt.Errorf("vault %s: %w\n  DRILL FAILED: the roster does not verify", o.File, err))
		return 1
	}
	for _, s := range o.Serials {
		if _, _, ok := v.KeyBySerial(s); !ok {
			printf(e.stderr, "breakglass vault check: --serials: YubiKey %d is not on the roster of %s (breakglass vault inspect lists the keys)\n", s, o.File)
			return 2
		}
	}
	printf(e.stdout, "Drill on %s — fingerprint %s — quorum %d of %d\n", o.File, v.Fingerprint(), v.Roster.Policy.Threshold, v.Roster.Policy.Custodians)
	st := newStation()
	src := pinSource{files: o.PINFiles, e: e}
	if o.Each {
		return o.checkEach(ctx, e, st, src, v, trust)
	}
	return o.checkQuorum(ctx, e, st, src, v, trust)
}

// checkQuorum collects shares until the threshold, opens the vault and
// checks every secret.
func (o *vaultCheckOptions) checkQuorum(ctx context.Context, e *env, st hardware.Station, src pinSource, v *vault.Vault, trust vault.VerifyOptions) int {
	u := v.Unlocker(trust)
	defer u.Abort()
	order := o.keyOrder(v)
	interactive := len(order) == 0 && stdinIsTerminal(e)
	if len(order) == 0 && !interactive {
		fmt.Fprintln(e.stderr, "breakglass vault check: no keys to use: give --serials and --pin-file SERIAL=FILE, or run on a terminal")
		return 2
	}
	for {
		have, need := u.Needed()
		if have >= need {
			break
		}
		var serial uint32
		if interactive {
			s, err := o.nextInsertedKey(ctx, e, st, u)
			if err != nil {
				printErr(e.stderr, "vault check", err)
				return 1
			}
			serial = s
		} else {
			if len(order) == 0 {
				break
			}
			serial, order = order[0], order[1:]
		}
		if err := addShare(ctx, e, st, src, u, serial, o.ConfirmLast); err != nil {
			printf(e.stdout, "✗ YubiKey %d not counted\n", serial)
			printErr(e.stderr, "vault check", err)
		}
	}
	opened, err := u.Open()
	var qe *vault.QuorumError
	if errors.As(err, &qe) {
		printf(e.stdout, "✗ quorum not reached: %d of %d custodians presented a key\nDRILL FAILED: the vault did not open\n", qe.Have, qe.Need)
		return 1
	}
	if err != nil {
		printErr(e.stderr, "vault check", err)
		fmt.Fprintln(e.stdout, "DRILL FAILED: the vault did not open")
		return 1
	}
	defer opened.Lock()
	var names []string
	for _, c := range opened.Custodians() {
		names = append(names, c.Name)
	}
	printf(e.stdout, "✓ vault opened by %s\n", strings.Join(names, " and "))
	failed := 0
	for _, s := range v.Secrets {
		if err := opened.Check(s.Name); err != nil {
			failed++
			printf(e.stdout, "✗ %s (%s): %v\n", s.Name, s.Kind, err)
			continue
		}
		printf(e.stdout, "✓ %s (%s)\n", s.Name, s.Kind)
	}
	if failed > 0 {
		printf(e.stdout, "DRILL FAILED: %d of %d secrets did not decrypt or parse: re-seal them\n", failed, len(v.Secrets))
		return 1
	}
	if len(v.Secrets) == 0 {
		fmt.Fprintln(e.stdout, "DRILL PASSED: the vault opens (no secret is sealed yet)")
		return 0
	}
	printf(e.stdout, "DRILL PASSED: the vault opens with %d of %d custodians and all %d secrets decrypt and parse\n",
		v.Roster.Policy.Threshold, v.Roster.Policy.Custodians, len(v.Secrets))
	var ids []string
	for _, c := range opened.Custodians() {
		ids = append(ids, c.ID)
	}
	o.recordDrill(e, v, vault.Drill{At: vaultNow().UTC(), Kind: vault.DrillQuorum, Custodians: ids, Passed: true})
	return 0
}

// recordDrill writes a passed drill into the vault file, so "vault inspect"
// can say when the vault was last proven to open. A vault on read-only
// media is not an error: the drill still passed, and it says so.
func (o *vaultCheckOptions) recordDrill(e *env, v *vault.Vault, d vault.Drill) {
	v.RecordDrill(d)
	if err := v.Save(o.File); err != nil {
		printf(e.stderr, "note: the drill passed but could not be recorded in %s: %v\n", o.File, err)
	}
}

// keyOrder is the scripted order of keys: --serials, else the --pin-file
// serials in roster order.
func (o *vaultCheckOptions) keyOrder(v *vault.Vault) []uint32 {
	if len(o.Serials) > 0 {
		return slices.Clone(o.Serials)
	}
	var out []uint32
	for _, c := range v.Roster.Custodians {
		for _, s := range c.Serials() {
			if _, ok := o.PINFiles[s]; ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// nextInsertedKey asks for the next custodian's key on the terminal and
// returns a connected roster key of a custodian not yet counted.
func (o *vaultCheckOptions) nextInsertedKey(ctx context.Context, e *env, st hardware.Station, u *vault.Unlock) (uint32, error) {
	for {
		have, need := u.Needed()
		var names []string
		for _, c := range u.Remaining() {
			names = append(names, c.Name)
		}
		if err := waitForEnter(e, fmt.Sprintf("Custodians counted: %d of %d. Next custodian (%s): insert your key", have, need, strings.Join(names, ", "))); err != nil {
			return 0, err
		}
		listed, err := st.Keys(ctx)
		if err != nil {
			return 0, fmt.Errorf("listing YubiKeys: %w", err)
		}
		for _, c := range u.Remaining() {
			for _, s := range c.Serials() {
				for _, l := range listed {
					if l.Err == nil && l.Info.Serial == s {
						return s, nil
					}
				}
			}
		}
		fmt.Fprintln(e.stderr, "No key of a custodian still needed is connected.")
	}
}

// addShare identifies the key with serial, asks its custodian's PIN and
// counts their share.
func addShare(ctx context.Context, e *env, st hardware.Station, src pinSource, u *vault.Unlock, serial uint32, confirmLast bool) error {
	tok, err := openCustodianKey(ctx, st, serial)
	if err != nil {
		return err
	}
	c, err := u.Identify(ctx, tok)
	if err != nil {
		return fmt.Errorf("YubiKey %d: %w", serial, err)
	}
	printf(e.stderr, "YubiKey %d belongs to %s.\n", serial, c.Name)
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(e.stderr, serial))
	err = withPIN(ctx, src, tok, c.Name, confirmLast, func(pin string, confirmed bool) error {
		if confirmed {
			u.ConfirmLastPINRetry(serial)
		}
		return u.AddShare(tctx, tok, pin)
	})
	if err != nil {
		return fmt.Errorf("%s's share (YubiKey %d): %w", c.Name, serial, err)
	}
	have, need := u.Needed()
	printf(e.stdout, "✓ %s counted (%d of %d)\n", c.Name, have, need)
	return nil
}

// checkEach has every custodian prove their own share decrypts.
func (o *vaultCheckOptions) checkEach(ctx context.Context, e *env, st hardware.Station, src pinSource, v *vault.Vault, trust vault.VerifyOptions) int {
	u := v.Unlocker(trust)
	defer u.Abort()
	failed := 0
	for _, c := range v.Roster.Custodians {
		serial, err := o.eachKey(ctx, e, st, src, c)
		if err == nil {
			err = checkOneShare(ctx, e, st, src, u, c, serial, o.ConfirmLast)
		}
		if err != nil {
			failed++
			printf(e.stdout, "✗ %s: %v\n", c.Name, err)
			if h := hardwareHint(err); h != "" {
				printf(e.stdout, "    what to do: %s\n", h)
			}
			continue
		}
		printf(e.stdout, "✓ %s: share decrypts with YubiKey %d\n", c.Name, serial)
	}
	if failed > 0 {
		printf(e.stdout, "DRILL FAILED: %d of %d custodians could not prove their share\n", failed, len(v.Roster.Custodians))
		return 1
	}
	printf(e.stdout, "DRILL PASSED: all %d custodians' shares decrypt\n", len(v.Roster.Custodians))
	ids := make([]string, 0, len(v.Roster.Custodians))
	for _, c := range v.Roster.Custodians {
		ids = append(ids, c.ID)
	}
	o.recordDrill(e, v, vault.Drill{At: vaultNow().UTC(), Kind: vault.DrillEach, Custodians: ids, Passed: true})
	return 0
}

// eachKey picks the key custodian c uses in --each: the first of theirs in
// --serials, else chooseKey (a --pin-file key, or ask on the terminal).
func (o *vaultCheckOptions) eachKey(ctx context.Context, e *env, st hardware.Station, src pinSource, c vault.Custodian) (uint32, error) {
	for _, s := range o.Serials {
		if slices.Contains(c.Serials(), s) {
			return s, nil
		}
	}
	if len(o.Serials) > 0 {
		return 0, fmt.Errorf("none of their keys (%s) is in --serials", joinSerials(c.Serials()))
	}
	return chooseKey(ctx, e, st, src, c, "check your share")
}

func checkOneShare(ctx context.Context, e *env, st hardware.Station, src pinSource, u *vault.Unlock, c vault.Custodian, serial uint32, confirmLast bool) error {
	tok, err := openCustodianKey(ctx, st, serial)
	if err != nil {
		return err
	}
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(e.stderr, serial))
	return withPIN(ctx, src, tok, c.Name, confirmLast, func(pin string, confirmed bool) error {
		if confirmed {
			u.ConfirmLastPINRetry(serial)
		}
		return u.CheckShare(tctx, tok, pin)
	})
}
