package ui

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// fakeKeys is the station and the quorum: a roster, inserted keys with PINs
// and retries, and the one PIN path every key operation goes through.
type fakeKeys struct {
	need        int
	roster      map[uint32]string
	pins        map[uint32]string
	retries     map[uint32]int
	attFail     map[uint32]bool
	keys        []uint32 // inserted
	counted     []Custodian
	everCounted []Custodian
	expires     time.Time
	windows     int
	reauths     int
	pinTries    []string        // PINs tried, in order
	lastOK      map[uint32]bool // ConfirmLastPINTry recorded, not yet used
	lastConfirm []uint32        // ConfirmLastPINTry calls, in order
	signed      []uint32
}

func newFakeKeys() *fakeKeys {
	return &fakeKeys{
		need:    2,
		roster:  map[uint32]string{11111111: "Alice Ng", 22222222: "Bob Okafor", 33333333: "Carol Diaz"},
		pins:    map[uint32]string{11111111: "123456", 22222222: "654321", 33333333: "111111"},
		retries: map[uint32]int{11111111: 3, 22222222: 3, 33333333: 3},
		attFail: map[uint32]bool{},
		lastOK:  map[uint32]bool{},
	}
}

func (f *fakeKeys) isCounted(serial uint32) bool {
	return slices.ContainsFunc(f.counted, func(c Custodian) bool { return c.Serial == serial })
}

func (f *fakeKeys) Quorum() QuorumState {
	q := QuorumState{Have: len(f.counted), Need: f.need, Counted: slices.Clone(f.counted)}
	for _, serial := range []uint32{11111111, 22222222, 33333333} {
		if !f.isCounted(serial) {
			q.Remaining = append(q.Remaining, f.roster[serial])
		}
	}
	return q
}

func (f *fakeKeys) ConnectedKeys(context.Context) ([]KeySeen, error) {
	var out []KeySeen
	for _, s := range f.keys {
		k := KeySeen{Serial: s, Reader: "Yubico YubiKey OTP+FIDO+CCID 00", Custodian: f.roster[s], PINRetries: f.retries[s]}
		if k.Custodian == "" {
			k.Refusal = ErrNotOnRoster
		} else if f.isCounted(s) {
			k.Refusal = ErrAlreadyCounted
		}
		out = append(out, k)
	}
	return out, nil
}

func (f *fakeKeys) ConfirmLastPINTry(serial uint32) error {
	f.lastOK[serial] = true
	f.lastConfirm = append(f.lastConfirm, serial)
	return nil
}

// usePIN is the fake's one PIN path: removed key, blocked, unconfirmed last
// try, wrong PIN; then it waits for a touch.
func (f *fakeKeys) usePIN(ctx context.Context, serial uint32, pin string) error {
	f.pinTries = append(f.pinTries, pin)
	last := f.lastOK[serial]
	delete(f.lastOK, serial)
	switch {
	case !slices.Contains(f.keys, serial):
		return fmt.Errorf("opening key %d: %w", serial, ErrKeyRemoved)
	case f.retries[serial] == 0:
		return ErrPINBlocked
	case f.retries[serial] == 1 && !last:
		return fmt.Errorf("key %d: %w", serial, ErrLastPINTry)
	case pin != f.pins[serial]:
		f.retries[serial]--
		return fmt.Errorf("verifying PIN: %w", &WrongPINError{Retries: f.retries[serial]})
	}
	f.retries[serial] = 3
	TouchNotice(ctx)()
	return nil
}

func (f *fakeKeys) AddCustodian(ctx context.Context, serial uint32, pin string) (QuorumState, error) {
	switch {
	case slices.Contains(f.keys, serial) && f.roster[serial] == "":
		return f.Quorum(), ErrNotOnRoster
	case f.isCounted(serial):
		return f.Quorum(), ErrAlreadyCounted
	}
	if err := f.usePIN(ctx, serial, pin); err != nil {
		return f.Quorum(), err
	}
	if f.attFail[serial] {
		return f.Quorum(), fmt.Errorf("checking key %d: %w", serial, ErrAttestationFailed)
	}
	c := Custodian{Name: f.roster[serial], Serial: serial}
	f.counted = append(f.counted, c)
	f.everCounted = append(f.everCounted, c)
	if len(f.counted) >= f.need && f.expires.IsZero() {
		f.windows++
		f.expires = t0.Add(time.Duration(f.windows) * time.Hour)
	}
	return f.Quorum(), nil
}

func (f *fakeKeys) Reauthorise() QuorumState {
	f.reauths++
	f.counted = nil
	f.expires = time.Time{}
	return f.Quorum()
}
func (f *fakeKeys) WindowExpires() time.Time { return f.expires }
func (f *fakeKeys) Fingerprint() string      { return "2095-85F9-A036-2283-CC52" }

func (f *fakeKeys) Sign(ctx context.Context, serial uint32, pin string) error {
	if err := f.usePIN(ctx, serial, pin); err != nil {
		return err
	}
	f.signed = append(f.signed, serial)
	return nil
}
