package attest

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"

	"breakglass/hardware"
)

// The Yubico PIV attestation extensions (arc 1.3.6.1.4.1.41482.3), as
// documented at https://developers.yubico.com/PIV/Introduction/PIV_attestation.html.
var (
	// OIDFirmware holds the firmware version: three bytes, major minor patch.
	OIDFirmware = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	// OIDSerial holds the YubiKey serial number: a DER INTEGER.
	OIDSerial = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	// OIDPolicy holds the slot's PIN and touch policy: two bytes (slot
	// certificates only).
	OIDPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	// OIDFormFactor holds the form factor: one byte.
	OIDFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
	// OIDFIPS is present on FIPS-certified YubiKeys.
	OIDFIPS = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 10}
	// OIDCSPN is present on CSPN-certified YubiKeys.
	OIDCSPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 11}
)

// slotCNPrefix starts the common name of a slot attestation certificate;
// the slot number in hex follows ("YubiKey PIV Attestation 9a").
const slotCNPrefix = "YubiKey PIV Attestation "

// Version is a YubiKey firmware version.
type Version struct{ Major, Minor, Patch uint8 }

// String formats v as "5.4.3".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// FormFactor is the attested form factor byte (0 when the certificate does
// not say). The high bit marks a FIPS model.
type FormFactor uint8

// Name names f ("USB-A keychain", "USB-C nano FIPS"); "" for 0 or a form
// factor this table does not know.
func (f FormFactor) Name() string {
	names := map[FormFactor]string{
		1: "USB-A keychain", 2: "USB-A nano", 3: "USB-C keychain", 4: "USB-C nano", 5: "USB-C/Lightning keychain",
	}
	n, ok := names[f&0x7f]
	switch {
	case !ok:
		return ""
	case f&0x80 != 0:
		return n + " FIPS"
	}
	return n
}

// String names f ("USB-A keychain"), "" for 0, or "form-factor(0x..)".
func (f FormFactor) String() string {
	if n := f.Name(); n != "" || f == 0 {
		return n
	}
	return fmt.Sprintf("form-factor(0x%02x)", uint8(f))
}

// Extensions are the Yubico extension values of one certificate. A field
// whose extension is absent is zero and its Has flag false.
type Extensions struct {
	Firmware    Version
	HasFirmware bool
	Serial      uint32
	HasSerial   bool
	PIN         hardware.PINPolicy
	Touch       hardware.TouchPolicy
	HasPolicy   bool
	FormFactor  FormFactor
	FIPS, CSPN  bool
}

// ParseExtensions reads the Yubico extensions of c. A malformed value (a
// wrong length, a negative or too large serial, a policy byte that is not a
// defined policy) fails with an *ExtensionError wrapping ErrMalformed.
func ParseExtensions(c *x509.Certificate) (Extensions, error) {
	var x Extensions
	for _, e := range c.Extensions {
		var err error
		switch {
		case e.Id.Equal(OIDFirmware):
			if len(e.Value) != 3 {
				err = fmt.Errorf("want 3 bytes, got %d", len(e.Value))
				break
			}
			x.Firmware, x.HasFirmware = Version{e.Value[0], e.Value[1], e.Value[2]}, true
		case e.Id.Equal(OIDSerial):
			var n int64
			rest, uerr := asn1.Unmarshal(e.Value, &n)
			switch {
			case uerr != nil:
				err = uerr
			case len(rest) != 0:
				err = fmt.Errorf("%d bytes after the integer", len(rest))
			case n < 0 || n > 1<<32-1:
				err = fmt.Errorf("serial %d out of range", n)
			default:
				x.Serial, x.HasSerial = uint32(n), true
			}
		case e.Id.Equal(OIDPolicy):
			x.PIN, x.Touch, err = parsePolicy(e.Value)
			x.HasPolicy = err == nil
		case e.Id.Equal(OIDFormFactor):
			if len(e.Value) != 1 {
				err = fmt.Errorf("want 1 byte, got %d", len(e.Value))
				break
			}
			x.FormFactor = FormFactor(e.Value[0])
		case e.Id.Equal(OIDFIPS):
			x.FIPS = true
		case e.Id.Equal(OIDCSPN):
			x.CSPN = true
		}
		if err != nil {
			return Extensions{}, &ExtensionError{OID: e.Id, Err: err}
		}
	}
	return x, nil
}

// parsePolicy decodes the two policy bytes. PIN: 1 never, 2 once, 3 always,
// 4 match-once, 5 match-always (biometric keys); touch: 1 never, 2 always,
// 3 cached. The values are the PIV wire values hardware's types use.
func parsePolicy(v []byte) (hardware.PINPolicy, hardware.TouchPolicy, error) {
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("want 2 bytes, got %d", len(v))
	}
	if v[0] < 1 || v[0] > 5 {
		return 0, 0, fmt.Errorf("unknown PIN policy 0x%02x", v[0])
	}
	if v[1] < 1 || v[1] > 3 {
		return 0, 0, fmt.Errorf("unknown touch policy 0x%02x", v[1])
	}
	return hardware.PINPolicy(v[0]), hardware.TouchPolicy(v[1]), nil
}

// slotOf reads the slot from a slot certificate's common name.
func slotOf(c *x509.Certificate) (hardware.Slot, bool) {
	hex, ok := strings.CutPrefix(c.Subject.CommonName, slotCNPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 8)
	if err != nil || !hardware.Slot(n).Valid() {
		return 0, false
	}
	return hardware.Slot(n), true
}
