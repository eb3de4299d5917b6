package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"breakglass/hardware"
	"breakglass/vault"
)

// quorum collects the shares of a quorum of a vault's roster on the
// station: for every command that opens a vault (vault check, vault rekey).
type quorum struct {
	st          hardware.Station
	src         pinSource
	confirmLast bool
	// counted, when set, is told of each custodian counted, with the key
	// they used (vault rekey journals it); its error stops the collection.
	counted func(c vault.Custodian, serial uint32) error
	// refused, when set, is told of each key not counted and why.
	refused func(serial uint32, err error)
}

// collect adds shares to u until the quorum is reached: from the keys in
// order, or on a terminal (interactive) from each key inserted. A key that
// is not counted is reported (as cmd) and skipped. An error means the
// collection could not go on; a quorum not reached is u.Open's to say.
func (q quorum) collect(ctx context.Context, e *env, cmd string, u *vault.Unlock, order []uint32, interactive bool) error {
	for {
		have, need := u.Needed()
		if have >= need {
			return nil
		}
		var serial uint32
		if interactive {
			s, err := nextInsertedKey(ctx, e, q.st, u)
			if err != nil {
				return err
			}
			serial = s
		} else {
			if len(order) == 0 {
				return nil
			}
			serial, order = order[0], order[1:]
		}
		c, err := addShare(ctx, e, q.st, q.src, u, serial, q.confirmLast)
		if err != nil {
			printf(e.stdout, "✗ YubiKey %d not counted\n", serial)
			printErr(e.stderr, cmd, err)
			if q.refused != nil {
				q.refused(serial, err)
			}
			continue
		}
		if q.counted != nil {
			if err := q.counted(c, serial); err != nil {
				return err
			}
		}
	}
}

// keyOrder is the scripted order of keys: serials (--serials), else the
// serials with a PIN file (--pin-file), in roster order.
func keyOrder(serials []uint32, pins pinFileFlag, v *vault.Vault) []uint32 {
	if len(serials) > 0 {
		return slices.Clone(serials)
	}
	var out []uint32
	for _, c := range v.Roster.Custodians {
		for _, s := range c.Serials() {
			if _, ok := pins[s]; ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// nextInsertedKey asks for the next custodian's key on the terminal and
// returns a connected roster key of a custodian not yet counted.
func nextInsertedKey(ctx context.Context, e *env, st hardware.Station, u *vault.Unlock) (uint32, error) {
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
// counts their share; it returns whose share it was.
func addShare(ctx context.Context, e *env, st hardware.Station, src pinSource, u *vault.Unlock, serial uint32, confirmLast bool) (vault.Custodian, error) {
	tok, err := openCustodianKey(ctx, st, serial)
	if err != nil {
		return vault.Custodian{}, err
	}
	c, err := u.Identify(ctx, tok)
	if err != nil {
		return c, fmt.Errorf("YubiKey %d: %w", serial, err)
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
		return c, fmt.Errorf("%s's share (YubiKey %d): %w", c.Name, serial, err)
	}
	have, need := u.Needed()
	printf(e.stdout, "✓ %s counted (%d of %d)\n", c.Name, have, need)
	return c, nil
}

// pickKey picks the key custodian c uses: the first of theirs in serials
// (--serials), else chooseKey (a --pin-file key, or ask on the terminal to
// purpose).
func pickKey(ctx context.Context, e *env, st hardware.Station, src pinSource, serials []uint32, c vault.Custodian, purpose string) (uint32, error) {
	for _, s := range serials {
		if slices.Contains(c.Serials(), s) {
			return s, nil
		}
	}
	if len(serials) > 0 {
		return 0, fmt.Errorf("none of their keys (%s) is in --serials", joinSerials(c.Serials()))
	}
	return chooseKey(ctx, e, st, src, c, purpose)
}
