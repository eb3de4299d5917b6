package piv

import (
	"errors"
	"fmt"
	"testing"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"breakglass/hardware"
)

// fakeStatus stands in for piv-go's unexported APDU error.
type fakeStatus uint16

func (f fakeStatus) Status() uint16 { return uint16(f) }
func (f fakeStatus) Error() string  { return fmt.Sprintf("smart card error %04x", uint16(f)) }

func TestMapErr(t *testing.T) {
	// Texts exactly as piv-go's pcscErrMsgs gives them.
	pcsc := func(text string) error { return fmt.Errorf("connecting to smart card: %w", errors.New(text)) }
	tests := []struct {
		name string
		in   error
		want error // sentinel errors.Is must find; nil: passed through unchanged
	}{
		{"not found", fmt.Errorf("command failed: %w", gopiv.ErrNotFound), hardware.ErrSlotEmpty},
		{"security status", fmt.Errorf("command failed: %w", fakeStatus(0x6982)), hardware.ErrSecurityStatus},
		{"flattened security status", errors.New("command failed: smart card error 6982: security status not satisfied"), hardware.ErrSecurityStatus},
		{"pin missing", errors.New("pin required but wasn't provided"), hardware.ErrSecurityStatus},
		{"mgmt key length", errors.New("authenticating with management key: invalid management key length: 16 bytes (expected 24)"), hardware.ErrSecurityStatus},
		{"no service", pcsc("the Smart card resource manager is not running"), hardware.ErrNoService},
		{"service stopped", pcsc("the Smart card resource manager has shut down"), hardware.ErrNoService},
		{"no card", pcsc("the operation requires a Smart Card, but no Smart Card is currently in the device"), hardware.ErrRemoved},
		{"card removed", pcsc("the smart card has been removed, so further communication is not possible"), hardware.ErrRemoved},
		{"reader gone", pcsc("the specified reader name is not recognized"), hardware.ErrRemoved},
		{"reader unavailable", pcsc("the specified reader is not currently available for use"), hardware.ErrRemoved},
		{"card gone mid-transmit", fmt.Errorf("transmitting request: %w", errors.New("an attempt was made to end a non-existent transaction")), hardware.ErrRemoved},
		{"sharing violation", pcsc("the smart card cannot be accessed because of other connections outstanding"), ErrBusy},
		{"other status", fmt.Errorf("x: %w", fakeStatus(0x6a80)), nil},
		{"unknown", errors.New("something else"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.in)
			if tc.want == nil {
				if got != tc.in {
					t.Errorf("mapErr(%v) = %v, want it unchanged", tc.in, got)
				}
				return
			}
			if !errors.Is(got, tc.want) {
				t.Errorf("mapErr(%v) = %v, want errors.Is %v", tc.in, got, tc.want)
			}
			if !errors.Is(got, tc.in) {
				t.Errorf("mapErr lost the original error %v", tc.in)
			}
		})
	}
}

func TestMapErrPIN(t *testing.T) {
	tests := []struct {
		name    string
		in      error
		retries int
		blocked bool
	}{
		{"two left", fmt.Errorf("verify pin: %w", gopiv.AuthErr{Retries: 2}), 2, false},
		{"one left", gopiv.AuthErr{Retries: 1}, 1, false},
		{"blocked", fmt.Errorf("verify pin: %w", gopiv.AuthErr{Retries: 0}), 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.in)
			var pe *hardware.PINError
			if !errors.As(got, &pe) || pe.Retries != tc.retries {
				t.Fatalf("mapErr(%v) = %#v, want *PINError{%d}", tc.in, got, tc.retries)
			}
			if errors.Is(got, hardware.ErrPINBlocked) != tc.blocked {
				t.Errorf("errors.Is(ErrPINBlocked) = %v, want %v", !tc.blocked, tc.blocked)
			}
		})
	}
	if mapErr(nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
}

func TestPivSlot(t *testing.T) {
	tests := []struct {
		slot    hardware.Slot
		key     uint32
		object  uint32
		wantErr bool
	}{
		{hardware.SlotAuthentication, 0x9a, 0x5fc105, false},
		{hardware.SlotSignature, 0x9c, 0x5fc10a, false},
		{hardware.SlotKeyManagement, 0x9d, 0x5fc10b, false},
		{hardware.SlotCardAuth, 0x9e, 0x5fc101, false},
		{0x82, 0x82, 0x5fc10d, false},
		{0x95, 0x95, 0x5fc120, false},
		{0x9b, 0, 0, true},
		{0xf9, 0, 0, true},
		{0x81, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.slot.String(), func(t *testing.T) {
			ps, err := pivSlot(tc.slot)
			if (err != nil) != tc.wantErr {
				t.Fatalf("pivSlot(%s) error = %v, wantErr %v", tc.slot, err, tc.wantErr)
			}
			if err == nil && (ps.Key != tc.key || ps.Object != tc.object) {
				t.Errorf("pivSlot(%s) = %x/%x, want %x/%x", tc.slot, ps.Key, ps.Object, tc.key, tc.object)
			}
		})
	}
	if n := len(AllSlots()); n != 24 {
		t.Errorf("AllSlots has %d slots, want 24", n)
	}
}

func TestKeyOptions(t *testing.T) {
	tests := []struct {
		name    string
		slot    hardware.Slot
		opts    hardware.GenerateOptions
		want    gopiv.Key
		wantErr bool
	}{
		{"explicit", 0x82, hardware.GenerateOptions{Algorithm: "P-256", PIN: hardware.PINPolicyOnce, Touch: hardware.TouchPolicyAlways},
			gopiv.Key{Algorithm: gopiv.AlgorithmEC256, PINPolicy: gopiv.PINPolicyOnce, TouchPolicy: gopiv.TouchPolicyAlways}, false},
		{"defaults 9c", hardware.SlotSignature, hardware.GenerateOptions{Algorithm: "P-256"},
			gopiv.Key{Algorithm: gopiv.AlgorithmEC256, PINPolicy: gopiv.PINPolicyAlways, TouchPolicy: gopiv.TouchPolicyNever}, false},
		{"defaults 9e", hardware.SlotCardAuth, hardware.GenerateOptions{Algorithm: "P-384"},
			gopiv.Key{Algorithm: gopiv.AlgorithmEC384, PINPolicy: gopiv.PINPolicyNever, TouchPolicy: gopiv.TouchPolicyNever}, false},
		{"defaults retired", 0x90, hardware.GenerateOptions{Algorithm: "P-256", Touch: hardware.TouchPolicyCached},
			gopiv.Key{Algorithm: gopiv.AlgorithmEC256, PINPolicy: gopiv.PINPolicyOnce, TouchPolicy: gopiv.TouchPolicyCached}, false},
		{"unknown algorithm", 0x82, hardware.GenerateOptions{Algorithm: "P-521"}, gopiv.Key{}, true},
		{"bad pin policy", 0x82, hardware.GenerateOptions{Algorithm: "P-256", PIN: 9}, gopiv.Key{}, true},
		{"bad touch policy", 0x82, hardware.GenerateOptions{Algorithm: "P-256", Touch: 7}, gopiv.Key{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keyOptions(tc.slot, tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("keyOptions error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("keyOptions = %+v, want %+v", got, tc.want)
			}
		})
	}
}
