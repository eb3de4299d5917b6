package vyk

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/x509"
	"errors"
	"fmt"

	"breakglass/hardware"
)

// token is the in-process hardware.Token over a Card.
type token struct {
	c     *Card
	touch hardware.TouchCache
}

var (
	_ hardware.Token     = (*token)(nil)
	_ hardware.Sessioner = (*token)(nil)
)

// NewToken returns a hardware.Token that drives c with real APDUs, the way
// piv-go drives a YubiKey: each operation selects the PIV applet (which
// forgets earlier PIN verification), runs as one atomic transaction on the
// card, and maps status words to the hardware package's errors.
func NewToken(c *Card) hardware.Token {
	return &token{c: c, touch: hardware.TouchCache{Now: c.cfg.Now}}
}

// run executes f in one transaction after selecting the PIV applet.
func (t *token) run(ctx context.Context, f func(cl *client) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	t.c.transact(func(tx func([]byte) []byte) {
		cl := &client{tx: tx}
		if err = cl.selectPIV(); err != nil {
			err = fmt.Errorf("selecting the PIV applet: %w", err)
			return
		}
		err = f(cl)
	})
	return err
}

// Serial returns the card's serial.
func (t *token) Serial() uint32 { return t.c.Serial() }

var formFactors = map[byte]string{
	0x01: "USB-A keychain", 0x02: "USB-A nano", 0x03: "USB-C keychain",
	0x04: "USB-C nano", 0x05: "USB-C/Lightning keychain",
}

// Info reads version, serial, PIN retries and form factor.
func (t *token) Info(ctx context.Context) (hardware.Info, error) {
	info := hardware.Info{Reader: "virtual YubiKey (in-process)"}
	err := t.run(ctx, func(cl *client) error {
		v, err := cl.do(0xfd, 0, 0, nil)
		if err != nil || len(v) != 3 {
			return fmt.Errorf("reading firmware version: %w", errors.Join(err, errors.New("malformed answer")))
		}
		info.Firmware = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
		s, err := cl.do(0xf8, 0, 0, nil)
		if err != nil || len(s) != 4 {
			return fmt.Errorf("reading serial: %w", errors.Join(err, errors.New("malformed answer")))
		}
		info.Serial = uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
		_, err = cl.do(0x20, 0x00, 0x80, nil)
		var pe *hardware.PINError
		switch {
		case errors.As(err, &pe):
			info.PINRetries = pe.Retries
		case errors.Is(err, hardware.ErrPINBlocked):
			info.PINRetries = 0
		default:
			return fmt.Errorf("reading PIN retries: %w", errors.Join(err, errors.New("unexpected answer")))
		}
		if _, err := cl.do(0xa4, 0x04, 0x00, aidManagement); err == nil {
			if di, err := cl.do(0x1d, 0, 0, nil); err == nil && len(di) > 0 {
				if ff, ok := find(mustTLVs(di[1:]), 0x04); ok && len(ff) == 1 {
					info.FormFactor = formFactors[ff[0]]
				}
			}
		}
		return nil
	})
	if err != nil {
		return hardware.Info{}, fmt.Errorf("reading key %d: %w", t.c.Serial(), err)
	}
	return info, nil
}

// VerifyPIN checks pin; a wrong PIN is a *hardware.PINError.
func (t *token) VerifyPIN(ctx context.Context, pin string) error {
	err := t.run(ctx, func(cl *client) error { return cl.verifyPIN(pin) })
	if err != nil {
		return fmt.Errorf("verifying the PIN of key %d: %w", t.c.Serial(), err)
	}
	return nil
}

// KeyInfo reads slot metadata; ErrSlotEmpty if the slot has no key.
func (t *token) KeyInfo(ctx context.Context, slot hardware.Slot) (hardware.KeyInfo, error) {
	var ki hardware.KeyInfo
	err := t.run(ctx, func(cl *client) (err error) {
		ki, _, err = cl.keyInfo(slot)
		return err
	})
	if err != nil {
		return hardware.KeyInfo{}, fmt.Errorf("reading slot %s of key %d: %w", slot, t.c.Serial(), err)
	}
	return ki, nil
}

// Certificate reads slot's certificate; ErrSlotEmpty if none.
func (t *token) Certificate(ctx context.Context, slot hardware.Slot) (*x509.Certificate, error) {
	obj, ok := slotObject(byte(slot))
	if !ok {
		return nil, fmt.Errorf("reading certificate: slot %s is not a key slot", slot)
	}
	var cert *x509.Certificate
	err := t.run(ctx, func(cl *client) (err error) {
		cert, err = cl.certificate(obj)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the certificate in slot %s of key %d: %w", slot, t.c.Serial(), err)
	}
	return cert, nil
}

// Attest returns the slot attestation and the f9 device certificate.
func (t *token) Attest(ctx context.Context, slot hardware.Slot) (hardware.Attestation, error) {
	var a hardware.Attestation
	err := t.run(ctx, func(cl *client) error {
		der, err := cl.do(0xf9, byte(slot), 0x00, nil)
		var se *statusError
		if errors.As(err, &se) && se.sw == swWrongData {
			ki, _, merr := cl.keyInfo(slot)
			switch {
			case merr != nil:
				return merr
			case !ki.Generated:
				return errors.New("the key in this slot was imported, so the device cannot attest it")
			}
			return fmt.Errorf("this device cannot attest %s keys", ki.Algorithm)
		}
		if err != nil {
			return err
		}
		if a.Slot, err = x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("parsing the slot attestation: %w", err)
		}
		if a.Device, err = cl.certificate(objAttestation); err != nil {
			return fmt.Errorf("reading the device attestation certificate: %w", err)
		}
		return nil
	})
	if err != nil {
		return hardware.Attestation{}, fmt.Errorf("attesting slot %s of key %d: %w", slot, t.c.Serial(), err)
	}
	return a, nil
}

// keyOp runs a GENERAL AUTHENTICATE on slot in cl's transaction after the
// PIN step its policy needs, calling the touch prompt right before the
// command when the key will wait for a touch. ki is the slot's metadata.
func (t *token) keyOp(ctx context.Context, cl *client, ki hardware.KeyInfo, alg byte, pin string, pinDone bool, tlv []byte) ([]byte, error) {
	if !(pinDone && ki.PIN == hardware.PINPolicyOnce) {
		if err := cl.pinStep(ki.PIN, pin); err != nil {
			return nil, err
		}
	}
	return hardware.Touching(ctx, &t.touch, ki.Touch, func() ([]byte, error) {
		resp, err := cl.do(0x87, alg, byte(ki.Slot), enc(0x7c, []byte{0x82, 0x00}, tlv))
		if err != nil {
			return nil, err
		}
		tag, inner, _, err := readTLV(resp)
		if err != nil || tag != 0x7c {
			return nil, errors.New("malformed answer")
		}
		tag, out, _, err := readTLV(inner)
		if err != nil || tag != 0x82 {
			return nil, errors.New("malformed answer")
		}
		return out, nil
	})
}

// checkAgreement refuses a key agreement between alg's key and peer.
func checkAgreement(alg byte, peer *ecdh.PublicKey) error {
	if peer == nil {
		return errors.New("key agreement needs a peer public key")
	}
	want := map[byte]ecdh.Curve{algP256: ecdh.P256(), algP384: ecdh.P384(), algX25519: ecdh.X25519()}[alg]
	if want == nil || peer.Curve() != want {
		return fmt.Errorf("the %s key in this slot cannot agree with a %v peer key", algNames[alg], peer.Curve())
	}
	return nil
}

// ECDH computes the shared secret between slot's key and peer.
func (t *token) ECDH(ctx context.Context, slot hardware.Slot, peer *ecdh.PublicKey, pin string) ([]byte, error) {
	var out []byte
	err := t.run(ctx, func(cl *client) error {
		ki, alg, err := cl.keyInfo(slot)
		if err != nil {
			return err
		}
		if err := checkAgreement(alg, peer); err != nil {
			return err
		}
		out, err = t.keyOp(ctx, cl, ki, alg, pin, false, enc(0x85, peer.Bytes()))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("key agreement with slot %s of key %d: %w", slot, t.c.Serial(), err)
	}
	return out, nil
}

// Sign signs digest with slot's key (ASN.1 DER ECDSA for EC keys).
func (t *token) Sign(ctx context.Context, slot hardware.Slot, digest []byte, pin string) ([]byte, error) {
	var out []byte
	err := t.run(ctx, func(cl *client) error {
		ki, alg, err := cl.keyInfo(slot)
		if err != nil {
			return err
		}
		if alg == algX25519 {
			return errors.New("an X25519 key cannot sign")
		}
		out, err = t.keyOp(ctx, cl, ki, alg, pin, false, enc(0x81, digest))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signing with slot %s of key %d: %w", slot, t.c.Serial(), err)
	}
	return out, nil
}

// Session runs f in one transaction on the card: PIV applet selected once,
// serial read once. It implements hardware.Sessioner.
func (t *token) Session(ctx context.Context, f func(s hardware.Session) error) error {
	err := t.run(ctx, func(cl *client) error {
		sn, err := cl.do(0xf8, 0, 0, nil)
		if err != nil || len(sn) != 4 {
			return fmt.Errorf("reading serial: %w", errors.Join(err, errors.New("malformed answer")))
		}
		if got := uint32(sn[0])<<24 | uint32(sn[1])<<16 | uint32(sn[2])<<8 | uint32(sn[3]); got != t.c.Serial() {
			return fmt.Errorf("the card answers as serial %d: %w", got, hardware.ErrRemoved)
		}
		return f(&session{t: t, cl: cl, ctx: ctx, slots: map[hardware.Slot]slotMeta{}})
	})
	if err != nil {
		return fmt.Errorf("card session on key %d: %w", t.c.Serial(), err)
	}
	return nil
}

// slotMeta is a slot's metadata read in a session.
type slotMeta struct {
	ki  hardware.KeyInfo
	alg byte
}

// session is one hardware.Session over a transaction of the card.
type session struct {
	t        *token
	cl       *client
	ctx      context.Context
	verified bool
	slots    map[hardware.Slot]slotMeta
}

var _ hardware.Session = (*session)(nil)

func (s *session) PINRetries() (int, error) {
	if s.verified {
		return hardware.RetriesUnknown, nil
	}
	_, err := s.cl.do(0x20, 0x00, 0x80, nil)
	var pe *hardware.PINError
	switch {
	case err == nil:
		return hardware.RetriesUnknown, nil
	case errors.As(err, &pe):
		return pe.Retries, nil
	case errors.Is(err, hardware.ErrPINBlocked):
		return 0, nil
	}
	return 0, fmt.Errorf("reading PIN retries: %w", err)
}

func (s *session) meta(slot hardware.Slot) (slotMeta, error) {
	if m, ok := s.slots[slot]; ok {
		return m, nil
	}
	ki, alg, err := s.cl.keyInfo(slot)
	if err != nil {
		return slotMeta{}, fmt.Errorf("reading slot %s: %w", slot, err)
	}
	m := slotMeta{ki: ki, alg: alg}
	s.slots[slot] = m
	return m, nil
}

func (s *session) KeyInfo(slot hardware.Slot) (hardware.KeyInfo, error) {
	m, err := s.meta(slot)
	return m.ki, err
}

func (s *session) ECDH(slot hardware.Slot, peer *ecdh.PublicKey, pin string) ([]byte, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.meta(slot)
	if err != nil {
		return nil, err
	}
	if err := checkAgreement(m.alg, peer); err != nil {
		return nil, fmt.Errorf("key agreement with slot %s: %w", slot, err)
	}
	out, err := s.t.keyOp(s.ctx, s.cl, m.ki, m.alg, pin, s.verified, enc(0x85, peer.Bytes()))
	if err == nil && m.ki.PIN != hardware.PINPolicyNever {
		s.verified = true // the PIN step passed and stays passed in this transaction
	}
	if err != nil {
		return nil, fmt.Errorf("key agreement with slot %s: %w", slot, err)
	}
	return out, nil
}

// algByName maps GenerateOptions.Algorithm to the wire; "" means P-256.
var algByName = map[string]byte{"": algP256, "P-256": algP256, "P-384": algP384, "Ed25519": algEd25519, "X25519": algX25519}

// GenerateKey creates a key in slot with opts' policies.
func (t *token) GenerateKey(ctx context.Context, mgmt hardware.ManagementKey, slot hardware.Slot, opts hardware.GenerateOptions) (crypto.PublicKey, error) {
	alg, ok := algByName[opts.Algorithm]
	if !ok {
		return nil, fmt.Errorf("generating a key: algorithm %q is not one of P-256, P-384, Ed25519, X25519", opts.Algorithm)
	}
	var pub crypto.PublicKey
	err := t.run(ctx, func(cl *client) error {
		if err := cl.authenticate(mgmt); err != nil {
			return err
		}
		tmpl := enc(0x80, []byte{alg})
		if opts.PIN != hardware.PINPolicyDefault {
			tmpl = append(tmpl, enc(0xaa, []byte{byte(opts.PIN)})...)
		}
		if opts.Touch != hardware.TouchPolicyDefault {
			tmpl = append(tmpl, enc(0xab, []byte{byte(opts.Touch)})...)
		}
		resp, err := cl.do(0x47, 0x00, byte(slot), enc(0xac, tmpl))
		if err != nil {
			return err
		}
		tag, inner, _, err := readTLV(resp)
		if err != nil || tag != 0x7f49 {
			return errors.New("malformed answer")
		}
		point, ok := find(mustTLVs(inner), 0x86)
		if !ok {
			return errors.New("malformed answer")
		}
		pub, err = parsePublic(alg, point)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("generating a key in slot %s of key %d: %w", slot, t.c.Serial(), err)
	}
	return pub, nil
}

// SetCertificate stores cert in slot's certificate object.
func (t *token) SetCertificate(ctx context.Context, mgmt hardware.ManagementKey, slot hardware.Slot, cert *x509.Certificate) error {
	obj, ok := slotObject(byte(slot))
	if !ok || cert == nil {
		return fmt.Errorf("storing a certificate: slot %s or certificate invalid", slot)
	}
	err := t.run(ctx, func(cl *client) error {
		if err := cl.authenticate(mgmt); err != nil {
			return err
		}
		_, err := cl.do(0xdb, 0x3f, 0xff, append(enc(0x5c, tagBytes(obj)), enc(0x53, certObject(cert.Raw))...))
		return err
	})
	if err != nil {
		return fmt.Errorf("storing the certificate in slot %s of key %d: %w", slot, t.c.Serial(), err)
	}
	return nil
}
