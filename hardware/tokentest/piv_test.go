package tokentest_test

import (
	"context"
	"testing"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/hardware/station"
	"breakglass/hardware/tokentest"
)

// TestPIVThroughPCSCD runs the conformance suite against the production
// token (piv-go over PC/SC) talking to a virtual YubiKey through a private
// pcscd: the same code path as a real key on a real station. Each subtest
// starts from a factory reset of the key.
func TestPIVThroughPCSCD(t *testing.T) {
	const serial = 10000077
	st := station.ForTest(t, station.KeySpec{Serial: serial})
	t.Setenv("PCSCLITE_CSOCK_NAME", st.Socket()) // before this process's first PC/SC call
	pst := piv.NewStation()
	tok, err := pst.OpenToken(context.Background(), serial)
	if err != nil {
		t.Fatalf("opening YubiKey %d through pcscd: %v", serial, err)
	}
	tokentest.Run(t, func(t *testing.T) hardware.Token {
		if err := tok.ResetPIV(context.Background()); err != nil {
			t.Fatalf("resetting the virtual key: %v", err)
		}
		return tok
	})
}
