package vault

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"slices"

	"breakglass/hardware"
)

// Previous returns the roster version this vault's roster replaced
// (structurally parsed; VerifyRoster verifies it), or false for a first
// roster.
func (v *Vault) Previous() (*Vault, bool) {
	if len(v.Chain) == 0 {
		return nil, false
	}
	old, err := parseRosterRecord(v.Chain[len(v.Chain)-1])
	return old, err == nil
}

// RekeySigner says what one SignRekey signature counted as.
type RekeySigner struct {
	Custodian Custodian
	Serial    uint32
	Member    bool // signed the new roster as one of its custodians
	Endorser  bool // endorsed it as a custodian of the previous version
}

// SignRekey has the YubiKey tok sign the rekeyed roster (PIN and touch as
// the slot requires) after checking that its signing slot holds the key
// enrolled for it. One signature counts as a custodian's signature of the
// new roster if tok is enrolled in it, and as an endorsement if tok is
// enrolled in the previous version; a key in neither is refused. Signing
// again replaces the earlier signature.
func (v *Vault) SignRekey(ctx context.Context, tok hardware.Token, pin string) (RekeySigner, error) {
	prev, ok := v.Previous()
	if !ok {
		return RekeySigner{}, errors.New("signing the rekeyed roster: this vault has no previous roster version")
	}
	serial := tok.Serial()
	nc, nk, member := v.KeyBySerial(serial)
	oc, ok2, endorser := prev.KeyBySerial(serial)
	if !member && !endorser {
		return RekeySigner{}, &NotOnRosterError{Serial: serial}
	}
	k, c := nk, nc
	if !member {
		k, c = ok2, oc
	}
	want, err := signingKey(k.Sign.PublicKey)
	if err != nil {
		return RekeySigner{}, err
	}
	info, err := tok.KeyInfo(ctx, k.Sign.Slot.PIV())
	if err != nil {
		return RekeySigner{}, fmt.Errorf("reading signing key in slot %s of YubiKey %d: %w", k.Sign.Slot.PIV(), serial, err)
	}
	if !samePublicKey(info.Public, want) || (member && endorser && !bytes.Equal(nk.Sign.PublicKey, ok2.Sign.PublicKey)) {
		return RekeySigner{}, &KeyMismatchError{Serial: serial, What: fmt.Sprintf("signing key in slot %s differs from the roster", k.Sign.Slot.PIV())}
	}
	digest := v.RosterDigest()
	sig, err := tok.Sign(ctx, k.Sign.Slot.PIV(), digest[:], pin)
	if err != nil {
		return RekeySigner{}, fmt.Errorf("signing the rekeyed roster on YubiKey %d: %w", serial, err)
	}
	if !ecdsa.VerifyASN1(want, digest[:], sig) {
		return RekeySigner{}, fmt.Errorf("signing the rekeyed roster on YubiKey %d: %w: the key returned a signature that does not verify", serial, ErrRosterSignature)
	}
	put := func(list []Signature, id string) []Signature {
		s := Signature{Custodian: id, Serial: serial, Signature: sig}
		i := slices.IndexFunc(list, func(x Signature) bool { return x.Custodian == id })
		if i >= 0 {
			list[i] = s
			return list
		}
		return append(list, s)
	}
	if member {
		v.Signatures = put(v.Signatures, nc.ID)
	}
	if endorser {
		v.Endorsements = put(v.Endorsements, oc.ID)
	}
	return RekeySigner{Custodian: c, Serial: serial, Member: member, Endorser: endorser}, nil
}

// RekeyProgress is who still has to sign a rekeyed roster.
type RekeyProgress struct {
	Unsigned []Custodian // custodians of the new roster who have not signed it
	Endorsed []string    // custodians of the previous version who endorsed it
	Need     int         // endorsements needed (the previous threshold)
}

// Done reports whether the rekeyed roster has every signature it needs.
func (p RekeyProgress) Done() bool { return len(p.Unsigned) == 0 && len(p.Endorsed) >= p.Need }

// RekeyProgress says who still has to sign or endorse v's roster.
func (v *Vault) RekeyProgress() RekeyProgress {
	p := RekeyProgress{Unsigned: v.Unsigned(), Endorsed: []string{}}
	if prev, ok := v.Previous(); ok {
		p.Need = prev.Roster.Policy.Threshold
	}
	for _, e := range v.Endorsements {
		if !slices.Contains(p.Endorsed, e.Custodian) {
			p.Endorsed = append(p.Endorsed, e.Custodian)
		}
	}
	return p
}
