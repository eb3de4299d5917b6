package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"breakglass/hardware"
	"breakglass/internal/attest"
	"breakglass/vault"
)

// testRootWarning is printed by every command run with --attestation-root.
const testRootWarning = "WARNING: TEST ATTESTATION ROOT — not for production: keys attested by %s are trusted instead of Yubico's roots."

// loadTrust returns the attestation trust used to check custodian keys:
// the Yubico roots built into breakglass (internal/attest) when rootPEM is
// "", otherwise only the roots in the PEM file rootPEM, and then testRoot is
// true and the caller must say so (printTestRootWarning). Nothing is fetched.
func loadTrust(rootPEM string) (opts vault.VerifyOptions, testRoot bool, err error) {
	if rootPEM == "" {
		return vault.VerifyOptions{Trust: attest.Yubico()}, false, nil
	}
	t, err := attest.LoadTestTrust(rootPEM)
	if err != nil {
		return vault.VerifyOptions{}, false, fmt.Errorf("loading attestation root %q: %w", rootPEM, err)
	}
	return vault.VerifyOptions{Trust: t}, true, nil
}

// printTestRootWarning prints the test-root warning line when testRoot.
func printTestRootWarning(w io.Writer, testRoot bool, rootPEM string) {
	if testRoot {
		fmt.Fprintf(w, testRootWarning+"\n", rootPEM)
	}
}

// parseAnyOrder parses fs over args allowing flags after positional
// arguments ("vault inspect FILE --json"); it returns the positionals.
// "--" ends flag parsing.
func parseAnyOrder(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// openCustodianKey opens the YubiKey with serial on st, turning the
// station's errors into what the user must do.
func openCustodianKey(ctx context.Context, st hardware.Station, serial uint32) (hardware.Token, error) {
	tok, err := st.Open(ctx, serial)
	switch {
	case err == nil:
		return tok, nil
	case errors.Is(err, hardware.ErrNotFound):
		return nil, fmt.Errorf("YubiKey %d is not connected: insert it (\"breakglass keys\" lists the connected keys): %w", serial, err)
	case errors.Is(err, hardware.ErrNoService):
		return nil, fmt.Errorf("the smart card service (pcscd) is not running: start it (systemctl start pcscd.socket) and try again: %w", err)
	}
	return nil, fmt.Errorf("opening YubiKey %d: %w", serial, err)
}

// hardwareHint says what to do about a token error, or "".
func hardwareHint(err error) string {
	var pe *hardware.PINError
	var lr *vault.LastPINRetryError
	var nr *vault.NotOnRosterError
	var ac *vault.AlreadyCountedError
	var km *vault.KeyMismatchError
	switch {
	case errors.As(err, &nr):
		return "this YubiKey is not on the vault's roster: present an enrolled custodian key (breakglass vault inspect lists them)"
	case errors.As(err, &ac):
		return "each custodian counts once, whichever of their keys they use: the next custodian must present their own key"
	case errors.As(err, &km):
		return "the key no longer holds the enrolled key (reset or re-enrolled?): use another custodian, then re-create the vault for this one"
	case errors.Is(err, vault.ErrBadShare):
		return "the share in the vault file is damaged or was swapped: restore the vault file from a good copy"
	case errors.Is(err, hardware.ErrPINBlocked):
		return "the PIN is blocked: unblock it with the PUK (ykman piv access unblock-pin) before trying again"
	case errors.As(err, &lr):
		return "only one PIN attempt is left: confirm explicitly (--confirm-last-retry, or answer y at the prompt) or unblock/reset the PIN with the PUK first"
	case errors.As(err, &pe):
		return "check the PIN and try again"
	case errors.Is(err, hardware.ErrRemoved):
		return "the key was pulled out: insert it again and rerun the command"
	case errors.Is(err, hardware.ErrNotFound):
		return "insert the key (\"breakglass keys\" lists the connected keys)"
	case errors.Is(err, hardware.ErrSecurityStatus):
		return "the key refused the management key or PIN: give the right --mgmt-key (hex) or PIN"
	case errors.Is(err, vault.ErrAttestation):
		return "the key is not attested by a trusted root: is it a genuine YubiKey, and is --attestation-root right?"
	}
	return ""
}

// printErr prints "breakglass CMD: err" and, when known, what to do.
func printErr(w io.Writer, cmd string, err error) {
	fmt.Fprintf(w, "breakglass %s: %v\n", cmd, err)
	if h := hardwareHint(err); h != "" {
		fmt.Fprintf(w, "  what to do: %s\n", h)
	}
}
