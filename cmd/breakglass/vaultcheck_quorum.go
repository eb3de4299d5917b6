package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"breakglass/hardware"
	"breakglass/vault"
)

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
	if code := o.collectShares(ctx, e, st, src, u, order, interactive); code != 0 {
		return code
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
	failed := checkSecrets(e, v, opened)
	if failed > 0 {
		printf(e.stdout, "DRILL FAILED: %d of %d secrets are unattributed, did not verify, decrypt or parse: re-seal them\n", failed, len(v.Secrets))
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

// collectShares adds shares until the quorum is reached: from the keys in
// order, or on a terminal (interactive) from each key inserted. A key that
// is not counted is reported and skipped. A non-zero code is the exit
// status.
func (o *vaultCheckOptions) collectShares(ctx context.Context, e *env, st hardware.Station, src pinSource, u *vault.Unlock, order []uint32, interactive bool) int {
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
	return 0
}

// checkSecrets checks every secret's seal record and that it decrypts and
// parses, printing one line each, and returns how many failed.
func checkSecrets(e *env, v *vault.Vault, opened *vault.Opened) int {
	failed := 0
	for _, s := range v.Secrets {
		a, err := v.VerifySeal(s.Name)
		if err != nil {
			failed++
			printf(e.stdout, "✗ %s (%s): %v\n", s.Name, s.Kind, err)
			continue
		}
		if err := opened.Check(s.Name); err != nil {
			failed++
			printf(e.stdout, "✗ %s (%s): %v\n", s.Name, s.Kind, err)
			continue
		}
		printf(e.stdout, "✓ %s (%s): %s\n", s.Name, s.Kind, a.String())
	}
	return failed
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
