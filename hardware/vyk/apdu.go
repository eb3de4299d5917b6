package vyk

// Status words the card answers.
const (
	swOK              uint16 = 0x9000
	swWrongLength     uint16 = 0x6700
	swLastCmdExpected uint16 = 0x6883
	swSecurity        uint16 = 0x6982
	swBlocked         uint16 = 0x6983
	swConditions      uint16 = 0x6985
	swWrongData       uint16 = 0x6a80
	swNotFound        uint16 = 0x6a82
	swNoSpace         uint16 = 0x6a84
	swWrongP1P2       uint16 = 0x6a86
	swRefNotFound     uint16 = 0x6a88
	swWrongParams     uint16 = 0x6b00
	swINS             uint16 = 0x6d00
	swCLA             uint16 = 0x6e00
	swUnknown         uint16 = 0x6f00
)

// command is one parsed command APDU.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int // expected length; 0 when absent or "maximum"
}

// sw encodes a bare status word.
func sw(s uint16) []byte { return []byte{byte(s >> 8), byte(s)} }

// parseAPDU decodes short (case 1–4) and extended (case 2E–4E) APDUs.
func parseAPDU(b []byte) (command, uint16) {
	if len(b) < 4 {
		return command{}, swWrongLength
	}
	cmd := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	if cmd.cla != 0x00 && cmd.cla != 0x10 {
		return command{}, swCLA
	}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2 short
		cmd.le = int(body[0])
	case body[0] != 0: // case 3/4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			cmd.le = int(body[1+lc])
		default:
			return command{}, swWrongLength
		}
		cmd.data = body[1 : 1+lc]
	default: // extended: 00 then two length bytes
		if len(body) < 3 {
			return command{}, swWrongLength
		}
		n := int(body[1])<<8 | int(body[2])
		if len(body) == 3 { // case 2E
			cmd.le = n
			break
		}
		if n == 0 {
			return command{}, swWrongLength
		}
		switch len(body) {
		case 3 + n:
		case 5 + n:
			cmd.le = int(body[3+n])<<8 | int(body[4+n])
		default:
			return command{}, swWrongLength
		}
		cmd.data = body[3 : 3+n]
	}
	return cmd, 0
}

// transmit handles transport-level concerns (chaining, GET RESPONSE) and
// dispatches complete commands.
func (c *Card) transmit(raw []byte) []byte {
	cmd, bad := parseAPDU(raw)
	if bad != 0 {
		c.chain, c.pending = nil, nil
		return sw(bad)
	}
	if cmd.ins == 0xc0 && cmd.cla == 0x00 {
		return c.getResponse(cmd)
	}
	c.pending = nil
	if ch := c.chain; ch != nil && (ch.ins != cmd.ins || ch.p1 != cmd.p1 || ch.p2 != cmd.p2) {
		c.chain = nil
		return sw(swLastCmdExpected)
	}
	if cmd.cla == 0x10 {
		if c.chain == nil {
			c.chain = &chain{ins: cmd.ins, p1: cmd.p1, p2: cmd.p2}
		}
		if len(c.chain.data)+len(cmd.data) > maxChain {
			c.chain = nil
			return sw(swWrongLength)
		}
		c.chain.data = append(c.chain.data, cmd.data...)
		return sw(swOK)
	}
	if c.chain != nil {
		cmd.data = append(c.chain.data, cmd.data...)
		c.chain = nil
	}
	data, s := c.dispatch(cmd)
	if s != swOK {
		return sw(s)
	}
	return c.respond(data)
}

// respond sends up to 256 bytes and keeps the rest for GET RESPONSE.
func (c *Card) respond(data []byte) []byte {
	if len(data) <= 256 {
		return append(append([]byte(nil), data...), 0x90, 0x00)
	}
	c.pending = append([]byte(nil), data[256:]...)
	left := len(c.pending)
	if left > 255 {
		left = 0
	}
	return append(append([]byte(nil), data[:256]...), 0x61, byte(left))
}

// getResponse serves the next part of a long response.
func (c *Card) getResponse(cmd command) []byte {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		c.pending = nil
		return sw(swWrongP1P2)
	}
	if c.pending == nil {
		return sw(swConditions)
	}
	data := c.pending
	c.pending = nil
	n := 256
	if cmd.le > 0 && cmd.le < n {
		n = cmd.le
	}
	if len(data) <= n {
		return append(data, 0x90, 0x00)
	}
	c.pending = data[n:]
	left := len(c.pending)
	if left > 255 {
		left = 0
	}
	return append(append([]byte(nil), data[:n]...), 0x61, byte(left))
}

// dispatch routes a complete command to the selected applet.
func (c *Card) dispatch(cmd command) ([]byte, uint16) {
	if cmd.ins == 0xa4 {
		return c.selectApplet(cmd)
	}
	switch c.applet {
	case appPIV:
		return c.piv(cmd)
	case appMgmt:
		return c.management(cmd)
	}
	return nil, swINS
}
