package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"breakglass/hardware"
	"breakglass/vault"
)

// checkQuorum collects shares until the threshold, opens the vault and
// checks every secret.
func (o *vaultCheckOptions) checkQuorum(ctx context.Context, e *env, st hardware.Station, src pinSource, v *vault.Vault, trust vault.VerifyOptions) int {
	u := v.Unlocker(trust)
	defer u.Abort()
	order := keyOrder(o.Serials, o.PINFiles, v)
	interactive := len(order) == 0 && stdinIsTerminal(e)
	if len(order) == 0 && !interactive {
		fmt.Fprintln(e.stderr, "breakglass vault check: no keys to use: give --serials and --pin-file SERIAL=FILE, or run on a terminal")
		return 2
	}
	q := quorum{st: st, src: src, confirmLast: o.ConfirmLast}
	if err := q.collect(ctx, e, "vault check", u, order, interactive); err != nil {
		printErr(e.stderr, "vault check", err)
		return 1
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
