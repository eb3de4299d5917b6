package piv

// A minimal PC/SC client of our own, used where piv-go cannot be: probing
// readers (piv-go's Open leaks an exclusive card handle when the card is
// pulled mid-open or is not a PIV card, which would lock the reader until
// the process exits) and reading the YubiKey metadata piv-go does not
// expose (PIN, PUK and management-key "default" flags). Every connection is
// shared, inside one transaction, and always fully released.

// #cgo linux pkg-config: libpcsclite
// #include <stdlib.h>
// #include <PCSC/winscard.h>
// #include <PCSC/wintypes.h>
import "C"

import (
	"fmt"
	"unsafe"

	"breakglass/hardware"
)

// pcscError is a PC/SC return code from our own calls.
type pcscError struct {
	op string
	rc uint32
}

var pcscNames = map[uint32]string{
	0x80100009: "the reader is not known (SCARD_E_UNKNOWN_READER)",
	0x8010000B: "the card is in use by another program (SCARD_E_SHARING_VIOLATION)",
	0x8010000C: "no card in the reader (SCARD_E_NO_SMARTCARD)",
	0x80100016: "the card session ended (SCARD_E_NOT_TRANSACTED)",
	0x80100017: "the reader is not available (SCARD_E_READER_UNAVAILABLE)",
	0x8010001D: "pcscd is not running (SCARD_E_NO_SERVICE)",
	0x8010001E: "pcscd has shut down (SCARD_E_SERVICE_STOPPED)",
	0x8010002E: "no smart card reader (SCARD_E_NO_READERS_AVAILABLE)",
	0x80100066: "the card does not respond (SCARD_W_UNRESPONSIVE_CARD)",
	0x80100067: "the card is unpowered (SCARD_W_UNPOWERED_CARD)",
	0x80100068: "the card was reset (SCARD_W_RESET_CARD)",
	0x80100069: "the card was removed (SCARD_W_REMOVED_CARD)",
}

func (e *pcscError) Error() string {
	if n, ok := pcscNames[e.rc]; ok {
		return e.op + ": " + n
	}
	return fmt.Sprintf("%s: PC/SC error 0x%08x", e.op, e.rc)
}

// Unwrap classifies the code like mapErr does for piv-go's errors.
func (e *pcscError) Unwrap() error {
	switch e.rc {
	case 0x8010001D, 0x8010001E:
		return hardware.ErrNoService
	case 0x8010000B:
		return ErrBusy
	case 0x80100009, 0x8010000C, 0x80100016, 0x80100017, 0x8010002E, 0x80100066, 0x80100067, 0x80100068, 0x80100069, 0x80100003:
		// 80100016: seen when the card goes away in the middle of a transaction.
		return hardware.ErrRemoved
	}
	return nil
}

func check(op string, rc C.LONG) error {
	if rc == C.SCARD_S_SUCCESS {
		return nil
	}
	return &pcscError{op: op, rc: uint32(rc)}
}

// rawCard is one shared connection with an open transaction.
type rawCard struct {
	ctx C.SCARDCONTEXT
	h   C.SCARDHANDLE
}

// rawOpen connects to the card in reader (shared, T=1) and begins a
// transaction. The caller must call close.
func rawOpen(reader string) (*rawCard, error) {
	var c rawCard
	connections.Add(1)
	if err := check("connecting to pcscd", C.SCardEstablishContext(C.SCARD_SCOPE_SYSTEM, nil, nil, &c.ctx)); err != nil {
		return nil, err
	}
	name := C.CString(reader)
	defer C.free(unsafe.Pointer(name))
	var proto C.DWORD
	if err := check("connecting to the card", C.SCardConnect(c.ctx, name, C.SCARD_SHARE_SHARED, C.SCARD_PROTOCOL_T1, &c.h, &proto)); err != nil {
		C.SCardReleaseContext(c.ctx)
		return nil, err
	}
	if err := check("starting a card transaction", C.SCardBeginTransaction(c.h)); err != nil {
		C.SCardDisconnect(c.h, C.SCARD_LEAVE_CARD)
		C.SCardReleaseContext(c.ctx)
		return nil, err
	}
	return &c, nil
}

func (c *rawCard) close() {
	C.SCardEndTransaction(c.h, C.SCARD_LEAVE_CARD)
	C.SCardDisconnect(c.h, C.SCARD_LEAVE_CARD)
	C.SCardReleaseContext(c.ctx)
}

// transmit sends one short APDU and collects 61xx-chained response data.
func (c *rawCard) transmit(apdu []byte) ([]byte, uint16, error) {
	var out []byte
	buf := make([]byte, 258)
	for {
		n := C.DWORD(len(buf))
		rc := C.SCardTransmit(c.h, C.SCARD_PCI_T1, (*C.BYTE)(unsafe.Pointer(&apdu[0])), C.DWORD(len(apdu)), nil,
			(*C.BYTE)(unsafe.Pointer(&buf[0])), &n)
		if err := check("talking to the card", rc); err != nil {
			return nil, 0, err
		}
		if n < 2 || int(n) > len(buf) {
			return nil, 0, fmt.Errorf("talking to the card: malformed response of %d bytes", n)
		}
		out = append(out, buf[:n-2]...)
		sw := uint16(buf[n-2])<<8 | uint16(buf[n-1])
		if buf[n-2] != 0x61 {
			return out, sw, nil
		}
		if len(out) > 1<<16 {
			return nil, 0, fmt.Errorf("talking to the card: response too long")
		}
		apdu = []byte{0x00, 0xc0, 0x00, 0x00, 0x00}
	}
}

// cmd transmits and requires 9000.
func (c *rawCard) cmd(what string, apdu []byte) ([]byte, error) {
	data, sw, err := c.transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if sw != 0x9000 {
		return nil, fmt.Errorf("%s: card answered %04x", what, sw)
	}
	return data, nil
}

var (
	selectPIV  = []byte{0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08}
	selectMgmt = []byte{0x00, 0xa4, 0x04, 0x00, 0x08, 0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
)

// rawSerial selects the PIV applet and reads the serial (firmware 5+).
func (c *rawCard) serial() (uint32, error) {
	if _, err := c.cmd("selecting the PIV applet", selectPIV); err != nil {
		return 0, err
	}
	b, err := c.cmd("reading the serial", []byte{0x00, 0xf8, 0x00, 0x00, 0x00})
	if err != nil {
		return 0, err
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("reading the serial: %d bytes, want 4", len(b))
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// rawProbe reads the serial of the PIV card in reader, releasing it fully
// whatever happens.
func rawProbe(reader string) (uint32, error) {
	c, err := rawOpen(reader)
	if err != nil {
		return 0, fmt.Errorf("reader %q: %w", reader, err)
	}
	defer c.close()
	sn, err := c.serial()
	if err != nil {
		return 0, fmt.Errorf("reader %q: %w", reader, err)
	}
	return sn, nil
}

// tlvs parses simple one-byte-tag TLVs (lengths up to 0xFF with 81),
// returning tag -> value; malformed input yields an error, never a panic.
func tlvs(b []byte) (map[byte][]byte, error) {
	out := map[byte][]byte{}
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("truncated TLV")
		}
		tag, n, hdr := b[0], int(b[1]), 2
		if n == 0x81 {
			if len(b) < 3 {
				return nil, fmt.Errorf("truncated TLV length")
			}
			n, hdr = int(b[2]), 3
		} else if n > 0x7f {
			return nil, fmt.Errorf("unsupported TLV length byte %02x", n)
		}
		if len(b) < hdr+n {
			return nil, fmt.Errorf("TLV %02x longer than its data", tag)
		}
		out[tag] = b[hdr : hdr+n]
		b = b[hdr+n:]
	}
	return out, nil
}

// rawInfo reads a key's identity over our own connection: serial,
// firmware, PIN retries and form factor.
func rawInfo(reader string) (hardware.Info, error) {
	c, err := rawOpen(reader)
	if err != nil {
		return hardware.Info{}, fmt.Errorf("reader %q: %w", reader, err)
	}
	defer c.close()
	in := hardware.Info{Reader: reader}
	if in.Serial, err = c.serial(); err != nil {
		return hardware.Info{}, fmt.Errorf("reader %q: %w", reader, err)
	}
	v, err := c.cmd("reading the firmware version", []byte{0x00, 0xfd, 0x00, 0x00, 0x00})
	if err != nil || len(v) != 3 {
		return hardware.Info{}, fmt.Errorf("reader %q: reading the firmware version: %v", reader, err)
	}
	in.Firmware = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	_, sw, err := c.transmit([]byte{0x00, 0x20, 0x00, 0x80})
	if err != nil {
		return hardware.Info{}, fmt.Errorf("reader %q: reading PIN retries: %w", reader, err)
	}
	switch {
	case sw&0xfff0 == 0x63c0:
		in.PINRetries = int(sw & 0xf)
	case sw == 0x6983:
		in.PINRetries = 0
	case sw == 0x9000:
		in.PINRetries = RetriesUnknown
	default:
		return hardware.Info{}, fmt.Errorf("reader %q: reading PIN retries: card answered %04x", reader, sw)
	}
	// The form factor is optional: keys without the management applet have none.
	if _, err := c.cmd("selecting the management applet", selectMgmt); err == nil {
		if b, err := c.cmd("reading device info", []byte{0x00, 0x1d, 0x00, 0x00, 0x00}); err == nil && len(b) > 1 {
			if t, err := tlvs(b[1:]); err == nil && len(t[0x04]) == 1 {
				in.FormFactor = formFactorNameByte(t[0x04][0])
			}
		}
	}
	return in, nil
}

// Metadata is what a YubiKey (firmware 5.3+) says about its PIN, PUK or
// management key: whether it is still the factory default and, for PIN and
// PUK, the attempts left out of the total.
type Metadata struct {
	Default bool
	Retries int // attempts left (PIN and PUK only)
	Total   int // attempts allowed (PIN and PUK only)
}

// metadata reads GET METADATA (F7) for reference p2: 80 PIN, 81 PUK, 9B
// management key.
func (c *rawCard) metadata(p2 byte) (Metadata, error) {
	if _, err := c.cmd("selecting the PIV applet", selectPIV); err != nil {
		return Metadata{}, err
	}
	b, err := c.cmd("reading metadata", []byte{0x00, 0xf7, 0x00, p2, 0x00})
	if err != nil {
		return Metadata{}, err
	}
	t, err := tlvs(b)
	if err != nil {
		return Metadata{}, fmt.Errorf("reading metadata: %w", err)
	}
	d, ok := t[0x05]
	if !ok || len(d) != 1 {
		return Metadata{}, fmt.Errorf("reading metadata: no default flag in the answer")
	}
	m := Metadata{Default: d[0] == 1}
	if r, ok := t[0x06]; ok && len(r) == 2 {
		m.Total, m.Retries = int(r[0]), int(r[1])
	}
	return m, nil
}

// readerState is what pcscd says about a reader without talking to its
// card: whether a card is present, and pcsc-lite's per-reader event
// counter (upper 16 bits of dwEventState), which changes whenever a card
// is inserted or removed.
type readerState struct {
	present bool
	events  uint32
}

// readerStates asks pcscd for the state of readers (SCardGetStatusChange
// with a zero timeout). No APDU reaches any card, so polling this never
// disturbs another program's session.
func readerStates(readers []string) (map[string]readerState, error) {
	out := map[string]readerState{}
	if len(readers) == 0 {
		return out, nil
	}
	var ctx C.SCARDCONTEXT
	if err := check("connecting to pcscd", C.SCardEstablishContext(C.SCARD_SCOPE_SYSTEM, nil, nil, &ctx)); err != nil {
		return nil, err
	}
	defer C.SCardReleaseContext(ctx)
	states := make([]C.SCARD_READERSTATE, len(readers))
	for i, r := range readers {
		name := C.CString(r)
		defer C.free(unsafe.Pointer(name))
		states[i].szReader = name
		states[i].dwCurrentState = C.SCARD_STATE_UNAWARE
	}
	rc := C.SCardGetStatusChange(ctx, 0, &states[0], C.DWORD(len(states)))
	if err := check("reading reader states", rc); err != nil {
		return nil, err
	}
	for i, r := range readers {
		ev := uint32(states[i].dwEventState)
		if ev&C.SCARD_STATE_UNKNOWN != 0 {
			continue // reader vanished meanwhile
		}
		out[r] = readerState{present: ev&C.SCARD_STATE_PRESENT != 0, events: ev >> 16}
	}
	return out, nil
}
