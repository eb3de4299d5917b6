package piv

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
)

// Session runs f in one piv-go connection and transaction on the token's
// key (SELECT and GET VERSION from piv-go's Open, then GET SERIAL to prove
// the reader still holds this key, see do), so a custodian's unlock is one
// card session. It implements hardware.Sessioner; if ctx ends first, Session
// returns at once and the card session ends when f does (see do).
func (t *Token) Session(ctx context.Context, f func(s hardware.Session) error) error {
	return t.do(ctx, "card session", func(yk *gopiv.YubiKey) error {
		return f(&session{t: t, yk: yk, ctx: ctx, slots: map[hardware.Slot]gopiv.KeyInfo{}})
	})
}

// session is one hardware.Session over an open piv-go YubiKey.
type session struct {
	t        *Token
	yk       *gopiv.YubiKey
	ctx      context.Context
	verified bool
	slots    map[hardware.Slot]gopiv.KeyInfo // metadata read in this session
}

var _ hardware.Session = (*session)(nil)

// PINRetries sends an empty VERIFY. piv-go reports the retries as an
// AuthErr, a blocked PIN as status 6983, and a verified PIN (9000) with an
// unwrapped error of its own, which is the only other error it returns
// that mapErr does not classify as a PC/SC failure.
func (s *session) PINRetries() (int, error) {
	if s.verified {
		return RetriesUnknown, nil
	}
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.yk.Retries()
	if err == nil {
		return n, nil
	}
	var ae gopiv.AuthErr
	var se statusErr
	switch m := mapErr(err); {
	case errors.As(err, &ae):
		return ae.Retries, nil
	case errors.As(err, &se) && se.Status() == 0x6983:
		return 0, nil
	case errors.As(err, &se):
		return 0, fmt.Errorf("reading PIN retries: %w", m)
	case m != err: // classified: removed, no service, busy
		return 0, fmt.Errorf("reading PIN retries: %w", m)
	}
	return RetriesUnknown, nil
}

func (s *session) meta(slot hardware.Slot) (gopiv.Slot, gopiv.KeyInfo, error) {
	ps, err := pivSlot(slot)
	if err != nil {
		return gopiv.Slot{}, gopiv.KeyInfo{}, err
	}
	if ki, ok := s.slots[slot]; ok {
		return ps, ki, nil
	}
	if err := s.ctx.Err(); err != nil {
		return ps, gopiv.KeyInfo{}, err
	}
	ki, err := s.yk.KeyInfo(ps)
	if err != nil {
		return ps, gopiv.KeyInfo{}, fmt.Errorf("reading slot %s: %w", slot, mapErr(err))
	}
	s.slots[slot] = ki
	return ps, ki, nil
}

func (s *session) KeyInfo(slot hardware.Slot) (hardware.KeyInfo, error) {
	_, ki, err := s.meta(slot)
	if err != nil {
		return hardware.KeyInfo{}, err
	}
	return keyInfo(slot, ki), nil
}

func (s *session) ECDH(slot hardware.Slot, peer *ecdh.PublicKey, pin string) ([]byte, error) {
	if peer == nil || peer.Curve() != ecdh.P256() {
		return nil, fmt.Errorf("ECDH with slot %s: peer key is not a P-256 key", slot)
	}
	ps, ki, err := s.meta(slot)
	if err != nil {
		return nil, err
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	out, err := s.t.ecdh(s.ctx, s.yk, ps, ki, peer, pin, s.verified)
	if err != nil {
		return nil, fmt.Errorf("key agreement with slot %s: %w", slot, mapErr(err))
	}
	if ki.PINPolicy != gopiv.PINPolicyNever {
		s.verified = true // the PIN step passed and stays passed in this session
	}
	return out, nil
}
