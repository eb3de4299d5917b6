package piv

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
)

// Token is one YubiKey, identified by serial, reached through its Station.
// Every method finds the key's reader, opens it for that one operation and
// closes it. It implements hardware.Token.
type Token struct {
	serial uint32
	st     *Station
	touch  *hardware.TouchCache // the Station's, for this serial
}

var (
	_ hardware.Token     = (*Token)(nil)
	_ hardware.Sessioner = (*Token)(nil)
)

// Serial is the serial the token was opened by.
func (t *Token) Serial() uint32 { return t.serial }

// do runs f in one card session on the token's key, after checking the
// serial of the card in the reader (locate may not have talked to it: see
// Station.locate). If ctx ends first, do returns at once; the card session
// ends when f does, and the next operation waits for it. Errors are mapped (see mapErr) and say what was
// being done on which key. A key no longer connected is hardware.ErrRemoved.
func (t *Token) do(ctx context.Context, what string, f func(yk *gopiv.YubiKey) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	reader, release, err := t.st.locate(ctx, t.serial)
	if err != nil {
		if errors.Is(err, hardware.ErrNotFound) {
			err = &classified{hardware.ErrRemoved, err}
		}
		return fmt.Errorf("%s on YubiKey %d: %w", what, t.serial, err)
	}
	done := make(chan error, 1)
	go func() {
		defer release()
		yk, err := openReader(reader)
		if err == nil {
			sn, serr := yk.Serial()
			if err = t.sameSerial(reader, sn, serr); err == nil {
				err = f(yk)
			}
			yk.Close()
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%s on YubiKey %d: %w", what, t.serial, mapErr(err))
	}
	return nil
}

// sameSerial checks the serial read from the card in reader; on a
// mismatch the station forgets what it knew of the reader.
func (t *Token) sameSerial(reader string, sn uint32, err error) error {
	if err != nil {
		return fmt.Errorf("reading the serial: %w", err)
	}
	if sn != t.serial {
		t.st.forget(reader)
		return &classified{hardware.ErrRemoved, fmt.Errorf("the reader now holds YubiKey %d", sn)}
	}
	return nil
}

// withReader runs f with the key's reader locked, without opening it; f
// uses our own PC/SC connection (raw.go). Errors as for do.
func (t *Token) withReader(ctx context.Context, what string, f func(reader string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	reader, release, err := t.st.locate(ctx, t.serial)
	if err != nil {
		if errors.Is(err, hardware.ErrNotFound) {
			err = &classified{hardware.ErrRemoved, err}
		}
		return fmt.Errorf("%s on YubiKey %d: %w", what, t.serial, err)
	}
	defer release()
	if err := f(reader); err != nil {
		return fmt.Errorf("%s on YubiKey %d: %w", what, t.serial, err)
	}
	return nil
}

// Info reads the key's reader, serial, firmware, form factor and PIN
// retries. PINRetries is RetriesUnknown if the PIN is verified in the card's
// current session.
func (t *Token) Info(ctx context.Context) (hardware.Info, error) {
	var in hardware.Info
	err := t.withReader(ctx, "reading key information", func(reader string) error {
		var err error
		if in, err = rawInfo(reader); err != nil {
			return err
		}
		return t.sameSerial(reader, in.Serial, nil)
	})
	if err != nil {
		return hardware.Info{}, err
	}
	return in, nil
}

// VerifyPIN checks pin; a wrong PIN is a *hardware.PINError with the
// attempts left (errors.Is ErrPINBlocked when none).
func (t *Token) VerifyPIN(ctx context.Context, pin string) error {
	return t.do(ctx, "verifying PIN", func(yk *gopiv.YubiKey) error {
		return yk.VerifyPIN(pin)
	})
}

// pivSlot converts a hardware slot to piv-go's key and object references.
func pivSlot(s hardware.Slot) (gopiv.Slot, error) {
	switch s {
	case hardware.SlotAuthentication:
		return gopiv.SlotAuthentication, nil
	case hardware.SlotSignature:
		return gopiv.SlotSignature, nil
	case hardware.SlotKeyManagement:
		return gopiv.SlotKeyManagement, nil
	case hardware.SlotCardAuth:
		return gopiv.SlotCardAuthentication, nil
	}
	if ps, ok := gopiv.RetiredKeyManagementSlot(uint32(s)); ok {
		return ps, nil
	}
	return gopiv.Slot{}, fmt.Errorf("slot %s is not a PIV key slot (9a, 9c, 9d, 9e, 82-95)", s)
}

var algorithmNames = map[gopiv.Algorithm]string{
	gopiv.AlgorithmEC256:   "P-256",
	gopiv.AlgorithmEC384:   "P-384",
	gopiv.AlgorithmEd25519: "Ed25519",
	gopiv.AlgorithmX25519:  "X25519",
	gopiv.AlgorithmRSA1024: "RSA-1024",
	gopiv.AlgorithmRSA2048: "RSA-2048",
	gopiv.AlgorithmRSA3072: "RSA-3072",
	gopiv.AlgorithmRSA4096: "RSA-4096",
}

// keyInfo converts piv-go's slot metadata. piv-go's policy constants are
// the wire values for never/once/always and never/always/cached, as are
// hardware's.
func keyInfo(slot hardware.Slot, ki gopiv.KeyInfo) hardware.KeyInfo {
	name, ok := algorithmNames[ki.Algorithm]
	if !ok {
		name = fmt.Sprintf("algorithm(%d)", int(ki.Algorithm))
	}
	return hardware.KeyInfo{
		Slot:      slot,
		Algorithm: name,
		PIN:       hardware.PINPolicy(ki.PINPolicy),
		Touch:     hardware.TouchPolicy(ki.TouchPolicy),
		Generated: ki.Origin == gopiv.OriginGenerated,
		Public:    ki.PublicKey,
	}
}

// KeyInfo reads the metadata of slot's key (firmware 5.3 or later);
// hardware.ErrSlotEmpty if the slot has no key.
func (t *Token) KeyInfo(ctx context.Context, slot hardware.Slot) (hardware.KeyInfo, error) {
	ps, err := pivSlot(slot)
	if err != nil {
		return hardware.KeyInfo{}, err
	}
	var out hardware.KeyInfo
	err = t.do(ctx, "reading slot "+slot.String(), func(yk *gopiv.YubiKey) error {
		ki, err := yk.KeyInfo(ps)
		if err != nil {
			return err
		}
		out = keyInfo(slot, ki)
		return nil
	})
	return out, err
}

// Slots reads the metadata of every used key slot (9a, 9c, 9d, 9e, 82-95)
// in one card session, in that order. It is an optional ability beyond
// hardware.Token, used to list a key quickly.
func (t *Token) Slots(ctx context.Context) ([]hardware.KeyInfo, error) {
	var out []hardware.KeyInfo
	err := t.do(ctx, "reading slots", func(yk *gopiv.YubiKey) error {
		for _, s := range AllSlots() {
			ps, _ := pivSlot(s)
			ki, err := yk.KeyInfo(ps)
			if errors.Is(err, gopiv.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading slot %s: %w", s, err)
			}
			out = append(out, keyInfo(s, ki))
		}
		return nil
	})
	return out, err
}

// AllSlots lists every PIV key slot in display order: 9a 9c 9d 9e 82..95.
func AllSlots() []hardware.Slot {
	out := []hardware.Slot{hardware.SlotAuthentication, hardware.SlotSignature, hardware.SlotKeyManagement, hardware.SlotCardAuth}
	for s := hardware.SlotRetiredFirst; s <= hardware.SlotRetiredLast; s++ {
		out = append(out, s)
	}
	return out
}

// Certificate reads the certificate stored for slot; hardware.ErrSlotEmpty if none.
func (t *Token) Certificate(ctx context.Context, slot hardware.Slot) (*x509.Certificate, error) {
	ps, err := pivSlot(slot)
	if err != nil {
		return nil, err
	}
	var cert *x509.Certificate
	err = t.do(ctx, "reading the certificate of slot "+slot.String(), func(yk *gopiv.YubiKey) error {
		cert, err = yk.Certificate(ps)
		return err
	})
	return cert, err
}

// Attest returns the device (f9) certificate and the attestation of slot's
// key; hardware.ErrSlotEmpty if the slot has no key (or an imported one,
// which the card will not attest).
func (t *Token) Attest(ctx context.Context, slot hardware.Slot) (hardware.Attestation, error) {
	ps, err := pivSlot(slot)
	if err != nil {
		return hardware.Attestation{}, err
	}
	var a hardware.Attestation
	err = t.do(ctx, "attesting slot "+slot.String(), func(yk *gopiv.YubiKey) error {
		var err error
		if a.Slot, err = yk.Attest(ps); err != nil {
			return err
		}
		if a.Device, err = yk.AttestationCertificate(); err != nil {
			return fmt.Errorf("reading the device attestation certificate: %w", err)
		}
		return nil
	})
	return a, err
}

// privateKey makes slot's key usable in this session, doing the PIN step
// its policy needs here (not inside piv-go's key operation) so that the
// touch prompt can follow an accepted PIN: policy never, nothing; once,
// nothing if verified says the PIN was verified earlier in this session,
// else VERIFY (with no PIN, piv-go checks the card's own state); always,
// VERIFY. ki is the slot's metadata.
func privateKey(yk *gopiv.YubiKey, ps gopiv.Slot, ki gopiv.KeyInfo, pin string, verified bool) (*gopiv.ECDSAPrivateKey, error) {
	pub, ok := ki.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("slot %s holds a %s key, not an EC key", ps, algorithmNames[ki.Algorithm])
	}
	auth := gopiv.KeyAuth{PINPolicy: gopiv.PINPolicyNever} // the PIN step is done below
	switch {
	case ki.PINPolicy == gopiv.PINPolicyNever, ki.PINPolicy == gopiv.PINPolicyOnce && verified:
	case pin != "":
		if err := yk.VerifyPIN(pin); err != nil {
			return nil, err
		}
	case ki.PINPolicy == gopiv.PINPolicyAlways:
		return nil, &classified{hardware.ErrSecurityStatus, errors.New("the slot needs the PIN for every use")}
	default:
		auth.PINPolicy = ki.PINPolicy // no PIN given: piv-go asks the card whether it is verified
	}
	k, err := yk.PrivateKey(ps, pub, auth)
	if err != nil {
		return nil, err
	}
	return k.(*gopiv.ECDSAPrivateKey), nil
}

// ecdh runs the key agreement of slot's key (metadata ki) with peer in
// this session: PIN step, then the touch prompt if the key will wait for a
// touch, then GENERAL AUTHENTICATE.
func (t *Token) ecdh(ctx context.Context, yk *gopiv.YubiKey, ps gopiv.Slot, ki gopiv.KeyInfo, peer *ecdh.PublicKey, pin string, verified bool) ([]byte, error) {
	k, err := privateKey(yk, ps, ki, pin, verified)
	if err != nil {
		return nil, err
	}
	return hardware.Touching(ctx, t.touch, hardware.TouchPolicy(ki.TouchPolicy), func() ([]byte, error) { return k.ECDH(peer) })
}

// ECDH computes the P-256 shared secret (x coordinate) of slot's key and
// peer, verifying pin in the same session if the PIN policy needs it. It
// blocks while the key waits for a touch, calling the touch prompt first.
func (t *Token) ECDH(ctx context.Context, slot hardware.Slot, peer *ecdh.PublicKey, pin string) ([]byte, error) {
	ps, err := pivSlot(slot)
	if err != nil {
		return nil, err
	}
	if peer == nil || peer.Curve() != ecdh.P256() {
		return nil, fmt.Errorf("ECDH with slot %s: peer key is not a P-256 key", slot)
	}
	var shared []byte
	err = t.do(ctx, "key agreement with slot "+slot.String(), func(yk *gopiv.YubiKey) error {
		ki, err := yk.KeyInfo(ps)
		if err != nil {
			return err
		}
		shared, err = t.ecdh(ctx, yk, ps, ki, peer, pin, false)
		return err
	})
	return shared, err
}

// Sign signs digest (SHA-256 for P-256) with slot's key, verifying pin in
// the same session if needed, and returns an ASN.1 DER ECDSA signature. It
// blocks while the key waits for a touch.
func (t *Token) Sign(ctx context.Context, slot hardware.Slot, digest []byte, pin string) ([]byte, error) {
	ps, err := pivSlot(slot)
	if err != nil {
		return nil, err
	}
	var sig []byte
	err = t.do(ctx, "signing with slot "+slot.String(), func(yk *gopiv.YubiKey) error {
		ki, err := yk.KeyInfo(ps)
		if err != nil {
			return err
		}
		k, err := privateKey(yk, ps, ki, pin, false)
		if err != nil {
			return err
		}
		sig, err = hardware.Touching(ctx, t.touch, hardware.TouchPolicy(ki.TouchPolicy), func() ([]byte, error) {
			return k.Sign(rand.Reader, digest, crypto.SHA256)
		})
		return err
	})
	return sig, err
}

var algorithms = map[string]gopiv.Algorithm{
	"P-256": gopiv.AlgorithmEC256, "P-384": gopiv.AlgorithmEC384,
	"Ed25519": gopiv.AlgorithmEd25519, "X25519": gopiv.AlgorithmX25519,
	"RSA-2048": gopiv.AlgorithmRSA2048,
}

// keyOptions converts GenerateOptions; default policies are the YubiKey's
// own defaults for the slot (9c: PIN always, 9e: PIN never, else once;
// touch never).
func keyOptions(slot hardware.Slot, o hardware.GenerateOptions) (gopiv.Key, error) {
	alg, ok := algorithms[o.Algorithm]
	if !ok {
		return gopiv.Key{}, fmt.Errorf("algorithm %q is not supported (use P-256)", o.Algorithm)
	}
	k := gopiv.Key{Algorithm: alg, PINPolicy: gopiv.PINPolicy(o.PIN), TouchPolicy: gopiv.TouchPolicy(o.Touch)}
	if o.PIN == hardware.PINPolicyDefault {
		switch slot {
		case hardware.SlotSignature:
			k.PINPolicy = gopiv.PINPolicyAlways
		case hardware.SlotCardAuth:
			k.PINPolicy = gopiv.PINPolicyNever
		default:
			k.PINPolicy = gopiv.PINPolicyOnce
		}
	}
	if o.Touch == hardware.TouchPolicyDefault {
		k.TouchPolicy = gopiv.TouchPolicyNever
	}
	if k.PINPolicy < gopiv.PINPolicyNever || k.PINPolicy > gopiv.PINPolicyAlways {
		return gopiv.Key{}, fmt.Errorf("PIN policy %s is not supported", o.PIN)
	}
	if k.TouchPolicy < gopiv.TouchPolicyNever || k.TouchPolicy > gopiv.TouchPolicyCached {
		return gopiv.Key{}, fmt.Errorf("touch policy %s is not supported", o.Touch)
	}
	return k, nil
}

// managementKey resolves mgmt in this session: the key itself, or the
// PIN-protected key read with the PIN (which verifies the PIN).
func managementKey(yk *gopiv.YubiKey, serial uint32, mgmt hardware.ManagementKey) ([]byte, error) {
	if mgmt.Key != nil {
		return mgmt.Key, nil
	}
	if mgmt.PIN == "" {
		return nil, &classified{hardware.ErrSecurityStatus, errors.New("no management key or PIN given")}
	}
	m, err := yk.Metadata(mgmt.PIN)
	if err != nil {
		return nil, fmt.Errorf("reading the PIN-protected management key: %w", err)
	}
	if m.ManagementKey == nil {
		return nil, &classified{hardware.ErrSecurityStatus,
			fmt.Errorf("YubiKey %d has no PIN-protected management key; give the management key instead", serial)}
	}
	return *m.ManagementKey, nil
}

// GenerateKey creates a key in slot (replacing any there) with opts and
// returns its public key. mgmt is the management key or the PIN of a
// PIN-protected one; a refused management key is hardware.ErrSecurityStatus.
func (t *Token) GenerateKey(ctx context.Context, mgmt hardware.ManagementKey, slot hardware.Slot, opts hardware.GenerateOptions) (crypto.PublicKey, error) {
	ps, err := pivSlot(slot)
	if err != nil {
		return nil, err
	}
	ko, err := keyOptions(slot, opts)
	if err != nil {
		return nil, err
	}
	var pub crypto.PublicKey
	err = t.do(ctx, "generating a key in slot "+slot.String(), func(yk *gopiv.YubiKey) error {
		key, err := managementKey(yk, t.serial, mgmt)
		if err != nil {
			return err
		}
		pub, err = yk.GenerateKey(key, ps, ko)
		return err
	})
	return pub, err
}

// SetCertificate stores cert in slot's certificate object.
func (t *Token) SetCertificate(ctx context.Context, mgmt hardware.ManagementKey, slot hardware.Slot, cert *x509.Certificate) error {
	ps, err := pivSlot(slot)
	if err != nil {
		return err
	}
	if cert == nil {
		return fmt.Errorf("storing a certificate in slot %s: no certificate given", slot)
	}
	return t.do(ctx, "storing the certificate of slot "+slot.String(), func(yk *gopiv.YubiKey) error {
		key, err := managementKey(yk, t.serial, mgmt)
		if err != nil {
			return err
		}
		return yk.SetCertificate(key, ps, cert)
	})
}
