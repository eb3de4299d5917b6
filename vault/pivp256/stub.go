package pivp256

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"filippo.io/age/plugin"
)

// Stub is what age-plugin-yubikey's identity string ("AGE-PLUGIN-YUBIKEY-1…")
// carries: which key to ask for, not the key itself.
type Stub struct {
	Serial uint32 // YubiKey serial
	Slot   uint8  // PIV retired slot, 0x82..0x95
	Tag    [4]byte
}

const stubSize = 9

// String encodes the stub: serial little-endian, slot byte, tag, as upper-case
// Bech32 with HRP "AGE-PLUGIN-YUBIKEY-".
func (s Stub) String() string {
	var b [stubSize]byte
	binary.LittleEndian.PutUint32(b[:4], s.Serial)
	b[4] = s.Slot
	copy(b[5:], s.Tag[:])
	return strings.ToUpper(plugin.EncodeIdentity(PluginName, b[:]))
}

// ParseStub decodes an "AGE-PLUGIN-YUBIKEY-1…" identity string.
func ParseStub(str string) (Stub, error) {
	name, data, err := plugin.ParseIdentity(str)
	if err != nil {
		return Stub{}, fmt.Errorf("parsing age-plugin-yubikey identity: %w", err)
	}
	if name != PluginName {
		return Stub{}, fmt.Errorf("parsing identity: it is for plugin %q, not %q", name, PluginName)
	}
	if len(data) != stubSize {
		return Stub{}, fmt.Errorf("parsing age-plugin-yubikey identity: payload is %d bytes, want %d", len(data), stubSize)
	}
	s := Stub{Serial: binary.LittleEndian.Uint32(data[:4]), Slot: data[4]}
	if s.Slot < 0x82 || s.Slot > 0x95 {
		return Stub{}, fmt.Errorf("parsing age-plugin-yubikey identity: slot %#02x is not a retired slot (82..95)", s.Slot)
	}
	copy(s.Tag[:], data[5:])
	return s, nil
}

// IdentityFile describes one key for the identity-file text that
// "age -d -i FILE" (with age-plugin-yubikey on PATH) reads.
type IdentityFile struct {
	Recipient *Recipient
	Serial    uint32
	Slot      uint8 // 0x82..0x95
	Name      string
	Created   time.Time
	PIN       string // "never", "once", "always"
	Touch     string // "never", "always", "cached"
}

// Stub returns the identity stub for f.
func (f IdentityFile) Stub() Stub {
	return Stub{Serial: f.Serial, Slot: f.Slot, Tag: f.Recipient.Tag()}
}

// String renders the identity file in age-plugin-yubikey's layout: comment
// lines, then the stub line. The slot is shown 1-based (0x82 is 1).
func (f IdentityFile) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#       Serial: %d, Slot: %d\n", f.Serial, int(f.Slot)-0x82+1)
	fmt.Fprintf(&b, "#         Name: %s\n", oneLine(f.Name))
	fmt.Fprintf(&b, "#      Created: %s\n", f.Created.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "#   PIN policy: %s\n", pinPolicyText(f.PIN))
	fmt.Fprintf(&b, "# Touch policy: %s\n", touchPolicyText(f.Touch))
	fmt.Fprintf(&b, "#    Recipient: %s\n", f.Recipient)
	fmt.Fprintf(&b, "%s\n", f.Stub())
	return b.String()
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

func pinPolicyText(p string) string {
	switch p {
	case "never":
		return "Never  (A PIN is NOT required to decrypt)"
	case "once":
		return "Once   (A PIN is required once per session, if set)"
	case "always":
		return "Always (A PIN is required for every decryption, if set)"
	}
	return p
}

func touchPolicyText(t string) string {
	switch t {
	case "never":
		return "Never  (A physical touch is NOT required to decrypt)"
	case "always":
		return "Always (A physical touch is required for every decryption)"
	case "cached":
		return "Cached (A physical touch is required for decryption, and is cached for 15 seconds)"
	}
	return t
}
