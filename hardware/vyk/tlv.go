package vyk

import "errors"

// errTLV reports malformed BER-TLV input.
var errTLV = errors.New("malformed TLV")

// tlv is one parsed BER-TLV element. Tag holds the tag bytes as an integer
// (0x5c, 0x7f49, 0x5fc105).
type tlv struct {
	tag uint32
	val []byte
}

// parseTLVs splits b into consecutive BER-TLV elements. It accepts one- to
// three-byte tags and one- to three-byte lengths (BER, so non-minimal lengths
// are tolerated on input) and fails on truncation.
func parseTLVs(b []byte) ([]tlv, error) {
	var out []tlv
	for len(b) > 0 {
		t, v, rest, err := readTLV(b)
		if err != nil {
			return nil, err
		}
		out = append(out, tlv{tag: t, val: v})
		b = rest
	}
	return out, nil
}

// readTLV reads one element from b.
func readTLV(b []byte) (tag uint32, val, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errTLV
	}
	i := 0
	tag = uint32(b[i])
	i++
	if b[0]&0x1f == 0x1f {
		for {
			if i >= len(b) || i > 3 {
				return 0, nil, nil, errTLV
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, errTLV
	}
	n := int(b[i])
	i++
	if n >= 0x80 {
		k := n & 0x7f
		if k == 0 || k > 3 || i+k > len(b) {
			return 0, nil, nil, errTLV
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	}
	if n > len(b)-i {
		return 0, nil, nil, errTLV
	}
	return tag, b[i : i+n], b[i+n:], nil
}

// find returns the value of the first element with tag.
func find(ts []tlv, tag uint32) ([]byte, bool) {
	for _, t := range ts {
		if t.tag == tag {
			return t.val, true
		}
	}
	return nil, false
}

// derLen encodes n as a DER-minimal length.
func derLen(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x100:
		return []byte{0x81, byte(n)}
	case n < 0x10000:
		return []byte{0x82, byte(n >> 8), byte(n)}
	default:
		return []byte{0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

// tagBytes encodes a tag integer as its 1–3 wire bytes.
func tagBytes(tag uint32) []byte {
	switch {
	case tag > 0xffff:
		return []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	case tag > 0xff:
		return []byte{byte(tag >> 8), byte(tag)}
	default:
		return []byte{byte(tag)}
	}
}

// enc encodes one TLV with a DER-minimal length; vals are concatenated.
func enc(tag uint32, vals ...[]byte) []byte {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	out := append(tagBytes(tag), derLen(n)...)
	for _, v := range vals {
		out = append(out, v...)
	}
	return out
}
