package vpcd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxPayload is the largest payload a frame can carry.
const MaxPayload = 0xFFFF

// ErrTooLong is returned for a payload that does not fit a frame.
var ErrTooLong = errors.New("vpcd payload longer than 65535 bytes")

// readFrame reads one frame into buf (which must hold MaxPayload bytes)
// and returns the payload, a slice of buf.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading frame length: %w", err)
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return nil, fmt.Errorf("reading %d-byte frame: %w", n, err)
	}
	return buf[:n], nil
}

// writeFrame writes payload as one frame in a single write.
func writeFrame(w io.Writer, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("writing %d-byte frame: %w", len(payload), ErrTooLong)
	}
	out := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(out, uint16(len(payload)))
	copy(out[2:], payload)
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("writing frame: %w", err)
	}
	return nil
}
