package vault

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"breakglass/hardware"
	attestation "breakglass/internal/attest"
	"breakglass/vault/pivp256"
)

// PluginVersion is written as the OU of enrolled slot certificates, in
// age-plugin-yubikey's convention (it shows it as the creating version).
const PluginVersion = "breakglass"

// EnrolOptions tune EnrolCustodian. The zero value is the default.
type EnrolOptions struct {
	// ID is the custodian's roster ID; default: the name lower-cased with
	// spaces as "-" and other characters dropped.
	ID string
	// PIN is the token's PIN: the new decryption key signs its own
	// age-plugin-yubikey certificate, which needs PIN and touch.
	PIN string
	// Slot is the retired slot for the decryption key; 0 takes the first
	// empty one (like age-plugin-yubikey --generate).
	Slot hardware.Slot
	// SignSlot is the slot for the signing key; 0 means 9c.
	SignSlot hardware.Slot
	// ReplaceSignKey allows replacing a key already in SignSlot.
	ReplaceSignKey bool
	// Verify are the attestation roots; the attestation of both new keys is
	// verified before EnrolCustodian returns.
	Verify VerifyOptions
	// Now is the enrolment time (certificate notBefore); zero means time.Now.
	Now time.Time
	// Minimum is the PIN and touch policy the keys are generated with and
	// that their attestations must state; nil means DefaultKeyPolicies.
	// A minimum that allows "never" is refused.
	Minimum *KeyPolicies
}

// EnrolCustodian generates a custodian's keys on tok and returns their roster
// entry: a P-256 decryption key in the first free retired slot (PIN once,
// touch always) carrying a self-signed certificate in age-plugin-yubikey's
// convention, so the stock plugin can open the custodian's share; and a P-256
// signing key in slot 9c (PIN always, touch always) — the policies of
// opts.Minimum, by default DefaultKeyPolicies. Both are attested and the
// attestations verified against opts.Verify before returning, including the
// attested policies: a token that generated a weaker key than asked is
// refused (*PolicyError) and no custodian entry is returned.
func EnrolCustodian(ctx context.Context, tok hardware.Token, mgmt hardware.ManagementKey, name string, opts EnrolOptions) (Custodian, error) {
	name, id, err := enrolIdentity(name, opts.ID)
	if err != nil {
		return Custodian{}, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	min, err := enrolMinimum(opts.Minimum)
	if err != nil {
		return Custodian{}, err
	}
	dpin, dtouch, _ := min.Decrypt.parse() // validated above
	spin, stouch, _ := min.Sign.parse()
	serial := tok.Serial()
	slot, err := decryptSlot(ctx, tok, opts.Slot)
	if err != nil {
		return Custodian{}, err
	}
	signSlot := opts.SignSlot
	if signSlot == 0 {
		signSlot = hardware.SlotSignature
	}
	if !opts.ReplaceSignKey {
		if err := refuseUsedSignSlot(ctx, tok, serial, signSlot); err != nil {
			return Custodian{}, err
		}
	}

	dkey, err := generateDecryptKey(ctx, tok, serial, mgmt, slot, name, opts.PIN, now, dpin, dtouch)
	if err != nil {
		return Custodian{}, err
	}
	spub, err := tok.GenerateKey(ctx, mgmt, signSlot, hardware.GenerateOptions{Algorithm: "P-256", PIN: spin, Touch: stouch})
	if err != nil {
		return Custodian{}, fmt.Errorf("generating signing key in slot %s of YubiKey %d: %w", signSlot, serial, err)
	}
	spki, err := x509.MarshalPKIXPublicKey(spub)
	if err != nil {
		return Custodian{}, fmt.Errorf("encoding signing key of YubiKey %d: %w", serial, err)
	}
	recipient, err := recipientFromECDSA(dkey)
	if err != nil {
		return Custodian{}, err
	}
	k := Key{
		Serial: serial,
		Role:   "primary",
		Decrypt: DecryptKey{Slot: Slot(slot), Recipient: recipient.String(),
			PIN: min.Decrypt.PIN, Touch: min.Decrypt.Touch},
		Sign: SignKey{Slot: Slot(signSlot), PublicKey: spki},
	}
	if k.Decrypt.Attestation, err = attest(ctx, tok, slot); err != nil {
		return Custodian{}, err
	}
	if k.Sign.Attestation, err = attest(ctx, tok, signSlot); err != nil {
		return Custodian{}, err
	}
	return enrolledCustodian(opts.Verify, id, name, k, min)
}

// enrolIdentity trims name and returns it with the custodian id (given, or
// derived from the name), both checked.
func enrolIdentity(name, id string) (string, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", "", errors.New("enrolling custodian: name is empty")
	}
	if id == "" {
		id = idFromName(name)
	}
	if !validID(id) {
		return "", "", fmt.Errorf("enrolling custodian: id %q must be 1-64 characters of a-z 0-9 . _ -", id)
	}
	return name, id, nil
}

// enrolMinimum returns the minimum key policies: minimum, checked, or the
// defaults when nil.
func enrolMinimum(minimum *KeyPolicies) (KeyPolicies, error) {
	if minimum == nil {
		return DefaultKeyPolicies(), nil
	}
	if err := validateMinimum("minimum key policy", minimum); err != nil {
		return KeyPolicies{}, fmt.Errorf("enrolling custodian: %w", err)
	}
	return *minimum, nil
}

// refuseUsedSignSlot refuses a signing slot that already holds a key.
func refuseUsedSignSlot(ctx context.Context, tok hardware.Token, serial uint32, signSlot hardware.Slot) error {
	if _, err := tok.KeyInfo(ctx, signSlot); err == nil {
		return fmt.Errorf("enrolling on YubiKey %d: slot %s already holds a key; pass the option to replace it only if nothing else uses it", serial, signSlot)
	} else if !errors.Is(err, hardware.ErrSlotEmpty) {
		return fmt.Errorf("enrolling on YubiKey %d: reading slot %s: %w", serial, signSlot, err)
	}
	return nil
}

// generateDecryptKey generates the P-256 decryption key in slot and stores
// the age-plugin-yubikey certificate next to it.
func generateDecryptKey(ctx context.Context, tok hardware.Token, serial uint32, mgmt hardware.ManagementKey, slot hardware.Slot, name, pin string, now time.Time, dpin hardware.PINPolicy, dtouch hardware.TouchPolicy) (*ecdsa.PublicKey, error) {
	dpub, err := tok.GenerateKey(ctx, mgmt, slot, hardware.GenerateOptions{Algorithm: "P-256", PIN: dpin, Touch: dtouch})
	if err != nil {
		return nil, fmt.Errorf("generating decryption key in slot %s of YubiKey %d: %w", slot, serial, err)
	}
	dkey, ok := dpub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("generating decryption key in slot %s of YubiKey %d: got a %T, want a P-256 key", slot, serial, dpub)
	}
	cert, err := pluginCertificate(ctx, tok, slot, dkey, name, pin, now, dpin, dtouch)
	if err != nil {
		return nil, fmt.Errorf("writing age-plugin-yubikey certificate in slot %s of YubiKey %d: %w", slot, serial, err)
	}
	if err := tok.SetCertificate(ctx, mgmt, slot, cert); err != nil {
		return nil, fmt.Errorf("storing certificate in slot %s of YubiKey %d: %w", slot, serial, err)
	}
	return dkey, nil
}

// enrolledCustodian makes the custodian of the new key k, stating the
// attested decryption policy, and verifies both keys' attestation against
// min under verify.
func enrolledCustodian(verify VerifyOptions, id, name string, k Key, min KeyPolicies) (Custodian, error) {
	// The roster's stated decryption policy is the attested one, never
	// what was asked for.
	if r, _, err := verify.attestedUse(k, UseDecrypt); err == nil && r.HasPolicy {
		k.Decrypt.PIN, k.Decrypt.Touch = r.PIN.String(), r.Touch.String()
	}
	c := Custodian{ID: id, Name: name, Keys: []Key{k}}
	if err := verify.verifyKeyUse(c, k, UseDecrypt, min); err != nil {
		return Custodian{}, fmt.Errorf("verifying attestation of slot %s of YubiKey %d: %w", hardware.Slot(k.Decrypt.Slot), k.Serial, err)
	}
	if err := verify.verifyKeyUse(c, k, UseSign, min); err != nil {
		return Custodian{}, fmt.Errorf("verifying attestation of slot %s of YubiKey %d: %w", hardware.Slot(k.Sign.Slot), k.Serial, err)
	}
	if err := validateCustodian("custodian", c); err != nil {
		return Custodian{}, err
	}
	return c, nil
}

func idFromName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func decryptSlot(ctx context.Context, tok hardware.Token, want hardware.Slot) (hardware.Slot, error) {
	if want != 0 {
		if !want.Retired() {
			return 0, fmt.Errorf("enrolling: slot %s is not a retired slot 82..95", want)
		}
		return want, nil
	}
	for s := hardware.SlotRetiredFirst; s <= hardware.SlotRetiredLast; s++ {
		_, err := tok.KeyInfo(ctx, s)
		if errors.Is(err, hardware.ErrSlotEmpty) {
			return s, nil
		}
		if err != nil {
			return 0, fmt.Errorf("enrolling: reading slot %s of YubiKey %d: %w", s, tok.Serial(), err)
		}
	}
	return 0, fmt.Errorf("enrolling: YubiKey %d has no empty retired slot (82..95)", tok.Serial())
}

func recipientFromECDSA(k *ecdsa.PublicKey) (*pivp256.Recipient, error) {
	e, err := k.ECDH()
	if err != nil {
		return nil, fmt.Errorf("decryption key: %w", err)
	}
	return pivp256.NewRecipient(e)
}

func attest(ctx context.Context, tok hardware.Token, slot hardware.Slot) (Attestation, error) {
	a, err := tok.Attest(ctx, slot)
	if err != nil {
		return Attestation{}, fmt.Errorf("attesting slot %s of YubiKey %d: %w", slot, tok.Serial(), err)
	}
	if a.Device == nil || a.Slot == nil {
		return Attestation{}, fmt.Errorf("attesting slot %s of YubiKey %d: %w: incomplete attestation", slot, tok.Serial(), ErrAttestation)
	}
	return Attestation{Device: a.Device.Raw, Slot: a.Slot.Raw}, nil
}

// pluginCertificate makes the self-signed slot certificate age-plugin-yubikey
// expects: O=age-plugin-yubikey, OU=<version>, CN=<name>, random 20-byte
// serial, notAfter 9999-12-31T23:59:59Z, policy extension [pin, touch],
// signed by the slot key itself (PIN and touch needed).
func pluginCertificate(ctx context.Context, tok hardware.Token, slot hardware.Slot, pub *ecdsa.PublicKey, name, pin string, now time.Time, pinPolicy hardware.PINPolicy, touch hardware.TouchPolicy) (*x509.Certificate, error) {
	sn := make([]byte, 20)
	if _, err := io.ReadFull(rand.Reader, sn); err != nil {
		return nil, err
	}
	sn[0] &= 0x7f
	subject := pkix.Name{
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("age-plugin-yubikey")}},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(PluginVersion)}},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(name)}},
		},
	}
	tmpl := &x509.Certificate{
		SerialNumber:       new(big.Int).SetBytes(sn),
		Subject:            subject,
		Issuer:             subject,
		NotBefore:          now.UTC().Truncate(time.Second),
		NotAfter:           time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		SignatureAlgorithm: x509.ECDSAWithSHA256,
		// [pin, touch] in the Yubico policy extension, as age-plugin-yubikey writes it.
		ExtraExtensions: []pkix.Extension{{Id: attestation.OIDPolicy,
			Value: []byte{byte(pinPolicy), byte(touch)}}},
	}
	signer := &tokenSigner{ctx: ctx, tok: tok, slot: slot, pub: pub, pin: pin}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// tokenSigner is a crypto.Signer over one slot of a token.
type tokenSigner struct {
	ctx  context.Context
	tok  hardware.Token
	slot hardware.Slot
	pub  *ecdsa.PublicKey
	pin  string
}

func (s *tokenSigner) Public() crypto.PublicKey { return s.pub }

func (s *tokenSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return s.tok.Sign(s.ctx, s.slot, digest, s.pin)
}

// custodianFile is the on-disk form of one enrolment record.
type custodianFile struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Custodian Custodian `json:"custodian"`
}

const custodianFormat = "breakglass-custodian"

// WriteCustodianFile writes c (public keys and attestations only) to path
// atomically, for "vault init" to read. An existing file is kept as
// path+".prev".
func WriteCustodianFile(path string, c Custodian) error {
	if err := validateCustodian("custodian", c); err != nil {
		return fmt.Errorf("writing custodian file %q: %w", path, err)
	}
	b, err := json.MarshalIndent(custodianFile{custodianFormat, 1, c}, "", "  ")
	if err != nil {
		return fmt.Errorf("writing custodian file %q: %w", path, err)
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("writing custodian file %q: %w", path, err)
	}
	return nil
}

// LoadCustodianFile strictly reads a file written by WriteCustodianFile.
func LoadCustodianFile(path string) (Custodian, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Custodian{}, fmt.Errorf("reading custodian file %q: %w", path, err)
	}
	c, err := ParseCustodian(data)
	if err != nil {
		return Custodian{}, fmt.Errorf("reading custodian file %q: %w", path, err)
	}
	return c, nil
}

// ParseCustodian strictly parses the contents of a custodian file: no
// unknown fields, nothing after the object, format and version checked,
// every key's recipient, public key and attestation well formed.
func ParseCustodian(data []byte) (Custodian, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f custodianFile
	if err := dec.Decode(&f); err != nil {
		return Custodian{}, &FieldError{Field: "file", Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Custodian{}, fieldErr("file", "unexpected data after the object")
	}
	if f.Format != custodianFormat || f.Version != 1 {
		return Custodian{}, fieldErr("format", "not a version 1 breakglass custodian file")
	}
	if err := validateCustodian("custodian", f.Custodian); err != nil {
		return Custodian{}, err
	}
	return f.Custodian, nil
}

// AgeIdentityFile returns the age-plugin-yubikey identity file text for key
// of custodian c ("age -d -i FILE" with the plugin opens the key's share).
func AgeIdentityFile(c Custodian, k Key, created time.Time) (string, error) {
	r, err := pivp256.ParseRecipient(k.Decrypt.Recipient)
	if err != nil {
		return "", err
	}
	return pivp256.IdentityFile{Recipient: r, Serial: k.Serial, Slot: uint8(k.Decrypt.Slot), Name: c.Name,
		Created: created, PIN: k.Decrypt.PIN, Touch: k.Decrypt.Touch}.String(), nil
}
