package tokentest_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"breakglass/hardware"
	"breakglass/hardware/tokentest"
	"breakglass/hardware/vyk"
)

// TestVirtualYubiKey runs the conformance suite against the in-process
// virtual YubiKey (no pcscd).
func TestVirtualYubiKey(t *testing.T) {
	tokentest.Run(t, func(t *testing.T) hardware.Token {
		card, err := vyk.New(vyk.Config{
			Serial: 10000000 + rand.Uint32N(89999999),
			Sleep:  func(time.Duration) {}, // touch never waits in tests
		})
		if err != nil {
			t.Fatalf("vyk.New: %v", err)
		}
		return vyk.NewToken(card)
	})
}
