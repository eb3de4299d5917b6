package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"breakglass/internal/inert"
	"breakglass/vault"
)

// printPlan says, for people, what the rekey changes, what becomes of the
// vault's identity and who must take part, before anyone types a PIN.
func (o *vaultRekeyOptions) printPlan(e *env, old *vault.Vault, plan *vault.RekeyPlan) {
	w := e.stdout
	ch, nr := plan.Change(), plan.Roster()
	op := old.Roster.Policy
	printf(w, "Rekey of %s — fingerprint %s — roster version %d, quorum %d of %d\n", o.Vault, old.Fingerprint(), old.Roster.Number(), op.Threshold, op.Custodians)
	fmt.Fprintln(w, "Changes:")
	for _, id := range ch.Added {
		c := custodianByID(nr.Custodians, id)
		printf(w, "  + custodian %s, YubiKey %s\n", c.String(), joinSerials(c.Serials()))
	}
	for _, id := range ch.Removed {
		c := custodianByID(old.Roster.Custodians, id)
		printf(w, "  - custodian %s, YubiKey %s (leaves with all their keys)\n", c.String(), joinSerials(c.Serials()))
	}
	for _, s := range ch.KeysAdded {
		if c, ok := keyOwner(nr.Custodians, s); ok && !slices.Contains(ch.Added, c.ID) {
			printf(w, "  + YubiKey %d for %s (backup key)\n", s, c.String())
		}
	}
	for _, s := range ch.KeysRemoved {
		if c, ok := keyOwner(old.Roster.Custodians, s); ok && !slices.Contains(ch.Removed, c.ID) {
			printf(w, "  - YubiKey %d of %s\n", s, c.String())
		}
	}
	if ch.ThresholdFrom != ch.ThresholdTo {
		printf(w, "  threshold %d → %d\n", ch.ThresholdFrom, ch.ThresholdTo)
	}
	if ch.Reason != "" {
		printf(w, "  reason: %s\n", ch.Reason)
	}
	printf(w, "New roster (version %d): %d of %d custodians — %s\n", nr.Number(), nr.Policy.Threshold, nr.Policy.Custodians, names(nr.Custodians))
	if nr.Policy.Threshold == nr.Policy.Custodians {
		printf(w, "WARNING: %d of %d — every custodian is needed: if anyone's keys are lost or they cannot come, the vault cannot be opened. Consider adding a custodian (--add) or backup keys (--add-key).\n",
			nr.Policy.Threshold, nr.Policy.Custodians)
	}
	if plan.NewIdentity() {
		printf(w, "NEW VAULT IDENTITY: every secret (%d) is re-encrypted to a new vault key; the old shares open nothing afterwards.\n", len(old.Secrets))
	} else {
		fmt.Fprintln(w, "Same vault identity, RESHARED: every custodian gets a fresh share; the secrets are not re-encrypted.")
	}
	fmt.Fprintln(w, "Who takes part:")
	printf(w, "  1. %d custodians of the CURRENT roster (%s) authorise it: PIN and touch to open their share;\n", op.Threshold, names(old.Roster.Custodians))
	printf(w, "  2. every custodian of the NEW roster signs it (%s); the quorum's signatures also endorse it (%d needed);\n", names(nr.Custodians), op.Threshold)
	fmt.Fprintln(w, "  3. the quorum signs the rekey report.")
	printf(w, "Nothing is written until every signature verifies; %s is never changed.\n", o.Vault)
}

// errNotConfirmed: the operator did not type REKEY.
var errNotConfirmed = errors.New("the rekey was not confirmed (type REKEY to go on)")

// confirm asks for a typed "REKEY" on a terminal, unless keys come from
// PIN files (scripts). It also asks who the operator is, when not given.
func (o *vaultRekeyOptions) confirm(e *env) error {
	if !stdinIsTerminal(e) {
		return nil
	}
	if o.Operator == "" {
		fmt.Fprint(e.stderr, "Operator (your name, journaled): ")
		name, err := readLine(e.stdin)
		if err != nil {
			return fmt.Errorf("reading the operator's name: %w", err)
		}
		if o.Operator = strings.TrimSpace(name); o.Operator == "" {
			return errors.New("no operator named: the rekey is journaled under the operator's name")
		}
		if err := checkOperator(o.Operator); err != nil {
			return err
		}
	}
	if len(o.PINFiles) > 0 {
		return nil
	}
	fmt.Fprint(e.stderr, "Type REKEY to go on: ")
	ans, err := readLine(e.stdin)
	if err != nil {
		return fmt.Errorf("reading the confirmation: %w", err)
	}
	if strings.TrimSpace(ans) != "REKEY" {
		return errNotConfirmed
	}
	return nil
}

func custodianByID(cs []vault.Custodian, id string) vault.Custodian {
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	return vault.Custodian{ID: id, Name: id}
}

func keyOwner(cs []vault.Custodian, serial uint32) (vault.Custodian, bool) {
	for _, c := range cs {
		if slices.Contains(c.Serials(), serial) {
			return c, true
		}
	}
	return vault.Custodian{}, false
}

// checkOperator refuses an operator name that is not plain text.
func checkOperator(name string) error {
	if !inert.Safe(name) || len(name) > 200 {
		return errors.New("--operator: give a plain name of at most 200 characters, without control or invisible characters")
	}
	return nil
}

// names lists the custodians' names, comma-separated.
func names(cs []vault.Custodian) string {
	n := make([]string, len(cs))
	for i, c := range cs {
		n[i] = c.Name
	}
	return strings.Join(n, ", ")
}
