package piv

import (
	"errors"
	"strings"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
)

// ErrBusy reports that a key's reader is held by another program (PC/SC
// sharing violation). The key is still connected; retry once the other
// program (ykman, gpg-agent, a browser) has let go of it.
var ErrBusy = errors.New("YubiKey is in use by another program")

// classified is a PC/SC or card error mapped to one of the hardware
// sentinels while keeping the original detail.
type classified struct {
	kind error
	err  error
}

func (e *classified) Error() string { return e.kind.Error() + ": " + e.err.Error() }

func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }

// pcscMessages maps the fixed texts piv-go gives PC/SC return codes (its
// scErr type is unexported, so its message is all we can see) to the
// sentinel callers branch on.
var pcscMessages = []struct {
	text string // substring of piv-go's pcscErrMsgs entry
	kind error
}{
	{"resource manager is not running", hardware.ErrNoService},        // 0x8010001D SCARD_E_NO_SERVICE
	{"resource manager has shut down", hardware.ErrNoService},         // 0x8010001E SCARD_E_SERVICE_STOPPED
	{"no Smart Card is currently in the device", hardware.ErrRemoved}, // 0x8010000C SCARD_E_NO_SMARTCARD
	{"smart card has been removed", hardware.ErrRemoved},              // 0x80100069 SCARD_W_REMOVED_CARD
	{"power has been removed from the smart card", hardware.ErrRemoved},
	{"specified reader name is not recognized", hardware.ErrRemoved},            // 0x80100009 SCARD_E_UNKNOWN_READER
	{"reader is not currently available", hardware.ErrRemoved},                  // 0x80100017 SCARD_E_READER_UNAVAILABLE
	{"cannot find a smart card reader", hardware.ErrRemoved},                    // 0x8010002E SCARD_E_NO_READERS_AVAILABLE
	{"smart card has been reset", hardware.ErrRemoved},                          // 0x80100068 SCARD_W_RESET_CARD: session state lost
	{"supplied handle was invalid", hardware.ErrRemoved},                        // 0x80100003: handle died with the card
	{"not responding to a reset", hardware.ErrRemoved},                          // 0x80100066 SCARD_W_UNRESPONSIVE_CARD
	{"other connections outstanding", ErrBusy},                                  // 0x8010000B SCARD_E_SHARING_VIOLATION
	{"scard response too short: 0", hardware.ErrRemoved},                        // no status word at all: the card went away mid-command (vpcd)
	{"attempt was made to end a non-existent transaction", hardware.ErrRemoved}, // 0x80100016 SCARD_E_NOT_TRANSACTED: the card went away mid-transmit (as raw.go)
}

// statusErr is piv-go's (unexported) APDU error, which exposes its status word.
type statusErr interface{ Status() uint16 }

// mapErr turns a piv-go error into the hardware package's contract:
// *hardware.PINError for a wrong PIN, hardware.ErrSlotEmpty for an absent
// key or object, ErrRemoved/ErrNoService for PC/SC trouble, ErrBusy for a
// key held elsewhere and ErrSecurityStatus for a missing PIN or a refused
// management key. The original error stays in the chain. nil stays nil.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var (
		done *classified
		pe   *pcscError
		pin  *hardware.PINError
	)
	if errors.As(err, &done) || errors.As(err, &pe) || errors.As(err, &pin) {
		return err // already mapped
	}
	var ae gopiv.AuthErr
	if errors.As(err, &ae) {
		return &hardware.PINError{Retries: ae.Retries}
	}
	if errors.Is(err, gopiv.ErrNotFound) {
		return &classified{hardware.ErrSlotEmpty, err}
	}
	var se statusErr
	if errors.As(err, &se) && se.Status() == 0x6982 {
		return &classified{hardware.ErrSecurityStatus, err}
	}
	msg := err.Error()
	for _, m := range pcscMessages {
		if strings.Contains(msg, m.text) {
			return &classified{m.kind, err}
		}
	}
	switch {
	case strings.Contains(msg, "pin required but wasn't provided"),
		strings.Contains(msg, "security status not satisfied"), // piv-go sometimes wraps with %v
		strings.Contains(msg, "invalid management key length"),
		strings.Contains(msg, "challenge failed"):
		return &classified{hardware.ErrSecurityStatus, err}
	}
	return err
}

// isNoCard reports whether err means the reader is there but holds no card
// (or the card vanished): such a reader is skipped, not reported.
func isNoCard(err error) bool {
	return errors.Is(err, hardware.ErrRemoved)
}
