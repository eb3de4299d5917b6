package audit

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"breakglass/internal/attest"
	"breakglass/vault"
)

func checkRootLabel(label string, nonProd bool) error {
	test := strings.HasPrefix(label, "TEST/non-production: ")
	switch {
	case test && !nonProd:
		return errors.New("the report was made with a non-production attestation root; it is not evidence of a real session (accept only with the non-production option)")
	case !test && nonProd:
		return errors.New("the report claims the Yubico root but is being verified against non-production roots")
	case !test && label != "yubico":
		return fmt.Errorf("unknown attestation root %q", label)
	}
	return nil
}

// attestSigner checks a signer's x5c chain (slot, device, intermediates)
// by internal/attest under opts.Trust and returns the attested serial,
// which it requires.
func attestSigner(chain []*x509.Certificate, opts VerifyOptions) (uint32, string, error) {
	if len(chain) < 2 {
		return 0, "", fmt.Errorf("x5c holds %d certificates, want the slot and device certificates: %w", len(chain), attest.ErrIncomplete)
	}
	r, err := opts.Trust.Verify(chain[0], chain[1], chain[2:]...)
	if err != nil {
		return 0, "", err
	}
	if !r.HasSerial {
		return 0, "", fmt.Errorf("the slot certificate has no YubiKey serial: %w", attest.ErrMalformed)
	}
	return r.Serial, fmt.Sprintf("YubiKey %d, chain to %q", r.Serial, r.Root().Subject.CommonName), nil
}

// errNotPinned fails the checks that need the pinned roster when it is
// missing or did not verify.
var errNotPinned = errors.New("not checked: no verified pinned roster (see the pinned roster check)")

func orUnknown(fp string) string {
	if fp == "" {
		return "(not a roster digest)"
	}
	return fp
}

// listedCustodian checks that the signature's kid is a custodian the
// report lists (one of its quorum). Which key signed is the pinned
// roster's business (enrolledSigner): a custodian may sign with any of
// their enrolled keys.
func listedCustodian(rep *Report, s parsedSig) error {
	if !slices.ContainsFunc(rep.Custodians, func(c Custodian) bool { return c.ID == s.kid }) {
		return fmt.Errorf("kid %q is not a custodian listed in the report", s.kid)
	}
	return nil
}

// enrolledSigner checks one signature against the pinned roster: kid is a
// roster custodian, the x5c[0] key is the signing key of one of that
// custodian's enrolled keys (primary or backup), and the attested serial is
// that key's serial.
func enrolledSigner(r *vault.Roster, s parsedSig, serial uint32, attested bool) (string, error) {
	i := slices.IndexFunc(r.Custodians, func(c vault.Custodian) bool { return c.ID == s.kid })
	if i < 0 {
		return "", fmt.Errorf("kid %q is not a custodian of the pinned roster", s.kid)
	}
	c := r.Custodians[i]
	for _, k := range c.Keys {
		pub, err := x509.ParsePKIXPublicKey(k.Sign.PublicKey)
		if err != nil || !attest.SamePublicKey(pub, s.chain[0].PublicKey) {
			continue
		}
		switch {
		case !attested:
			return "", errors.New("serial unknown: attestation failed")
		case serial != k.Serial:
			return "", fmt.Errorf("the key is %s's enrolled %s signing key of YubiKey %d, but the attestation says YubiKey %d", c.ID, k.Role, k.Serial, serial)
		}
		return fmt.Sprintf("%s's enrolled %s key, YubiKey %d", c.ID, k.Role, k.Serial), nil
	}
	return "", fmt.Errorf("the signing key is none of custodian %q's enrolled signing keys", c.ID)
}

// checkListed checks every custodian the report lists against the pinned
// roster: id, name, and serial, signing key and attestation of one of
// their enrolled keys.
func checkListed(rep *Report, r *vault.Roster) error {
	var errs []error
	for _, lc := range rep.Custodians {
		i := slices.IndexFunc(r.Custodians, func(c vault.Custodian) bool { return c.ID == lc.ID })
		if i < 0 {
			errs = append(errs, fmt.Errorf("%q is not on the pinned roster", lc.ID))
			continue
		}
		c := r.Custodians[i]
		k := slices.IndexFunc(c.Keys, func(k vault.Key) bool { return k.Serial == lc.Serial })
		switch {
		case c.Name != lc.Name:
			errs = append(errs, fmt.Errorf("%q is enrolled as %q, the report says %q", c.ID, c.Name, lc.Name))
		case k < 0:
			errs = append(errs, fmt.Errorf("YubiKey %d is not one of %q's enrolled keys", lc.Serial, c.ID))
		case base64.StdEncoding.EncodeToString(c.Keys[k].Sign.PublicKey) != lc.SigningKey:
			errs = append(errs, fmt.Errorf("%q's signing key for YubiKey %d differs from the roster", c.ID, lc.Serial))
		case len(lc.Attestation) < 2 || lc.Attestation[0] != base64.StdEncoding.EncodeToString(c.Keys[k].Sign.Attestation.Slot) ||
			lc.Attestation[1] != base64.StdEncoding.EncodeToString(c.Keys[k].Sign.Attestation.Device):
			errs = append(errs, fmt.Errorf("%q's attestation for YubiKey %d differs from the roster", c.ID, lc.Serial))
		}
	}
	return errors.Join(errs...)
}

// distinctSigners refuses the same key or YubiKey signing twice (a copied
// signature) and reports a custodian who signed with two of their keys:
// that is allowed and counts once.
func distinctSigners(sigs []parsedSig) (string, error) {
	seen := map[string]int{}
	perKid := map[string]int{}
	var dups, twice []string
	for i, s := range sigs {
		if s.err != nil {
			continue
		}
		perKid[s.kid]++
		if perKid[s.kid] == 2 {
			twice = append(twice, s.kid)
		}
		keys := []string{"key " + s.x5c[0]}
		if x, err := attest.ParseExtensions(s.chain[0]); err == nil && x.HasSerial {
			keys = append(keys, fmt.Sprintf("YubiKey %d", x.Serial))
		}
		for _, k := range keys {
			if j, ok := seen[k]; ok {
				dups = append(dups, fmt.Sprintf("signatures %d and %d are by the same %s", j+1, i+1, strings.SplitN(k, " ", 2)[0]))
			}
			seen[k] = i
		}
	}
	if len(dups) > 0 {
		return "", fmt.Errorf("one key signs once: %s", strings.Join(dups, "; "))
	}
	if len(twice) > 0 {
		return fmt.Sprintf("no key or YubiKey signed twice; %s signed with more than one of their keys and count once", strings.Join(twice, ", ")), nil
	}
	return "no custodian, serial or key signed twice", nil
}

func checkThreshold(rep *Report, signed map[string]bool, need int) error {
	var missing []string
	for _, q := range rep.Quorum {
		if !signed[q.Custodian] && !slices.Contains(missing, q.Custodian) {
			missing = append(missing, q.Custodian)
		}
	}
	var errs []error
	if len(signed) < need {
		errs = append(errs, fmt.Errorf("%d distinct custodians with valid signatures, %d needed", len(signed), need))
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("quorum custodians without a valid signature: %s", strings.Join(missing, ", ")))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
