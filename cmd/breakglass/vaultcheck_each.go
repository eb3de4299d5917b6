package main

import (
	"context"

	"breakglass/hardware"
	"breakglass/vault"
)

// checkEach has every custodian prove their own share decrypts.
func (o *vaultCheckOptions) checkEach(ctx context.Context, e *env, st hardware.Station, src pinSource, v *vault.Vault, trust vault.VerifyOptions) int {
	u := v.Unlocker(trust)
	defer u.Abort()
	failed := 0
	for _, c := range v.Roster.Custodians {
		serial, err := pickKey(ctx, e, st, src, o.Serials, c, "check your share")
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
