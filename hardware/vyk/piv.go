package vyk

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Application identifiers.
var (
	aidPIV        = []byte{0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}
	aidManagement = []byte{0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
)

// Data objects with special handling.
const (
	objDiscovery   uint32 = 0x7e
	objBIT         uint32 = 0x7f61
	objPrinted     uint32 = 0x5fc109 // PIN-protected management key (ykman, piv-go)
	objFingerprint uint32 = 0x5fc103
	objFacial      uint32 = 0x5fc108
	objIris        uint32 = 0x5fc121
	objAttestation uint32 = 0x5fff01
)

// slotObject maps a key reference to its certificate data object.
func slotObject(slot byte) (uint32, bool) {
	switch slot {
	case 0x9a:
		return 0x5fc105, true
	case 0x9c:
		return 0x5fc10a, true
	case 0x9d:
		return 0x5fc10b, true
	case 0x9e:
		return 0x5fc101, true
	case 0xf9:
		return objAttestation, true
	}
	if slot >= 0x82 && slot <= 0x95 {
		return 0x5fc10d + uint32(slot-0x82), true
	}
	return 0, false
}

// keySlotValid reports whether slot can hold a user key.
func keySlotValid(slot byte) bool {
	_, ok := slotObject(slot)
	return ok && slot != 0xf9
}

// selectApplet handles SELECT by AID (P1 04).
func (c *Card) selectApplet(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x04 {
		return nil, swWrongP1P2
	}
	if len(cmd.data) == 0 {
		return nil, swWrongLength
	}
	switch {
	case len(cmd.data) >= 5 && bytes.HasPrefix(aidPIV, cmd.data):
		c.applet = appPIV
		c.clearSecurity()
		// Application property template: PIX + allocation authority AID.
		return enc(0x61, enc(0x4f, aidPIV[5:]), enc(0x79, enc(0x4f, aidPIV[:5]))), swOK
	case bytes.Equal(cmd.data, aidManagement):
		c.applet = appMgmt
		c.clearSecurity()
		v := c.cfg.Version
		return fmt.Appendf(nil, "%d.%d.%d", v[0], v[1], v[2]), swOK
	}
	return nil, swNotFound
}

// capPIV is the PIV bit of the management applet's capability masks
// (OTP 0001, U2F 0002, OpenPGP 0008, PIV 0010, OATH 0020, FIDO2 0200).
const capPIV = 0x0010

// management handles the YubiKey management applet (device info only).
func (c *Card) management(cmd command) ([]byte, uint16) {
	if cmd.ins != 0x1d {
		return nil, swINS
	}
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, swWrongP1P2
	}
	// Only the PIV application exists, so only PIV is supported and
	// enabled over USB; no NFC tags, so ykman shows no NFC row.
	const usb = capPIV
	var serial [4]byte
	binary.BigEndian.PutUint32(serial[:], c.cfg.Serial)
	v := c.cfg.Version
	info := bytes.Join([][]byte{
		enc(0x01, []byte{usb >> 8, usb & 0xff}),
		enc(0x02, serial[:]),
		enc(0x03, []byte{usb >> 8, usb & 0xff}),
		enc(0x04, []byte{0x01}), // USB-A keychain
		enc(0x05, v[:]),
		enc(0x0a, []byte{0x00}), // configuration not locked
	}, nil)
	return append([]byte{byte(len(info))}, info...), swOK
}

// piv dispatches a PIV applet command.
func (c *Card) piv(cmd command) ([]byte, uint16) {
	switch cmd.ins {
	case 0xfd: // GET VERSION
		v := c.cfg.Version
		return v[:], swOK
	case 0xf8: // GET SERIAL
		return binary.BigEndian.AppendUint32(nil, c.cfg.Serial), swOK
	case 0x20:
		return c.verify(cmd)
	case 0x24:
		return c.changeReference(cmd)
	case 0x2c:
		return c.resetRetryCounter(cmd)
	case 0xfa:
		return c.setRetries(cmd)
	case 0xfb:
		return c.resetApplet(cmd)
	case 0xff:
		return c.setManagementKey(cmd)
	case 0x87:
		return c.generalAuthenticate(cmd)
	case 0x47:
		return c.generate(cmd)
	case 0xfe:
		return c.importKey(cmd)
	case 0xf9:
		return c.attest(cmd)
	case 0xf7:
		return c.metadata(cmd)
	case 0xcb:
		return c.getData(cmd)
	case 0xdb:
		return c.putData(cmd)
	}
	return nil, swINS
}

// objectTag parses the 5C tag list of GET/PUT DATA.
func objectTag(v []byte) (uint32, bool) {
	if len(v) == 0 || len(v) > 3 {
		return 0, false
	}
	var t uint32
	for _, b := range v {
		t = t<<8 | uint32(b)
	}
	return t, true
}

// objectValid reports whether tag names a data object the card stores.
func objectValid(tag uint32) bool {
	return (tag >= 0x5fc101 && tag <= 0x5fc123) || (tag >= 0x5fff00 && tag <= 0x5fff15)
}

// objectNeedsPIN reports whether reading tag requires a verified PIN.
func objectNeedsPIN(tag uint32) bool {
	switch tag {
	case objPrinted, objFingerprint, objFacial, objIris:
		return true
	}
	return false
}

// getData handles GET DATA (P1P2 3FFF, data 5C tag).
func (c *Card) getData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3f || cmd.p2 != 0xff {
		return nil, swWrongP1P2
	}
	tag, val, rest, err := readTLV(cmd.data)
	if err != nil || tag != 0x5c || len(rest) != 0 {
		return nil, swWrongData
	}
	obj, ok := objectTag(val)
	if !ok {
		return nil, swWrongData
	}
	switch obj {
	case objDiscovery:
		return enc(0x7e, enc(0x4f, aidPIV), enc(0x5f2f, []byte{0x40, 0x00})), swOK
	case objBIT:
		return nil, swNotFound
	}
	if !objectValid(obj) {
		return nil, swNotFound
	}
	if objectNeedsPIN(obj) && !c.pinOK {
		return nil, swSecurity
	}
	content, ok := c.objects[obj]
	if !ok {
		return nil, swNotFound
	}
	return enc(0x53, content), swOK
}

// putData handles PUT DATA (P1P2 3FFF, data 5C tag 53 content). An empty
// content deletes the object.
func (c *Card) putData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3f || cmd.p2 != 0xff {
		return nil, swWrongP1P2
	}
	ts, err := parseTLVs(cmd.data)
	if err != nil || len(ts) != 2 || ts[0].tag != 0x5c || ts[1].tag != 0x53 {
		return nil, swWrongData
	}
	obj, ok := objectTag(ts[0].val)
	if !ok || !objectValid(obj) {
		return nil, swWrongData
	}
	if !c.mgmtOK {
		return nil, swSecurity
	}
	if len(ts[1].val) > maxObject {
		return nil, swNoSpace
	}
	if len(ts[1].val) == 0 {
		delete(c.objects, obj)
	} else {
		c.objects[obj] = append([]byte(nil), ts[1].val...)
	}
	c.changed = true
	return nil, swOK
}

// metadata handles GET METADATA (Yubico F7) for PIN, PUK, management key
// and key slots.
func (c *Card) metadata(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 {
		return nil, swWrongP1P2
	}
	b2 := func(b bool) []byte {
		if b {
			return []byte{1}
		}
		return []byte{0}
	}
	switch cmd.p2 {
	case 0x80:
		return bytes.Join([][]byte{
			enc(0x01, []byte{0xff}),
			enc(0x05, b2(bytes.Equal(c.pin, defaultPIN))),
			enc(0x06, []byte{byte(c.pinMax), byte(c.pinRetries)}),
		}, nil), swOK
	case 0x81:
		return bytes.Join([][]byte{
			enc(0x01, []byte{0xff}),
			enc(0x05, b2(bytes.Equal(c.puk, defaultPUK))),
			enc(0x06, []byte{byte(c.pukMax), byte(c.pukRetries)}),
		}, nil), swOK
	case 0x9b:
		touch := byte(0x01)
		if c.mgmt.touch {
			touch = 0x02
		}
		return bytes.Join([][]byte{
			enc(0x01, []byte{c.mgmt.alg}),
			enc(0x02, []byte{0x00, touch}),
			enc(0x05, b2(bytes.Equal(c.mgmt.key, defaultMgmt))),
		}, nil), swOK
	}
	if !keySlotValid(cmd.p2) && cmd.p2 != 0xf9 {
		return nil, swRefNotFound
	}
	k, ok := c.keys[cmd.p2]
	if !ok {
		return nil, swNotFound
	}
	pub, err := publicTemplate(k)
	if err != nil {
		return nil, swUnknown
	}
	return bytes.Join([][]byte{
		enc(0x01, []byte{k.alg}),
		enc(0x02, []byte{k.pin, k.touch}),
		enc(0x03, []byte{k.origin}),
		enc(0x04, pub),
	}, nil), swOK
}
