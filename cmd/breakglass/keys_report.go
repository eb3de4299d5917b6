package main

import (
	"context"
	"errors"

	"breakglass/hardware"
	"breakglass/hardware/piv"
	"breakglass/internal/attest"
)

// keyReport is one YubiKey in the output; JSON field names are the contract
// of `breakglass keys --json`.
type keyReport struct {
	Reader     string       `json:"reader"`
	Serial     uint32       `json:"serial,omitempty"`
	Firmware   string       `json:"firmware,omitempty"`
	FormFactor string       `json:"form_factor,omitempty"`
	PINRetries *int         `json:"pin_retries,omitempty"`
	Warnings   []string     `json:"warnings,omitempty"` // factory PIN or management key still set
	Slots      []slotReport `json:"slots"`
	Error      string       `json:"error,omitempty"`
}

type slotReport struct {
	Slot        string `json:"slot"`
	Algorithm   string `json:"algorithm"`
	PINPolicy   string `json:"pin_policy"`
	TouchPolicy string `json:"touch_policy"`
	Generated   bool   `json:"generated"`
	Attestation string `json:"attestation"`      // one of the verdicts; "FAILED" when it failed
	Reason      string `json:"reason,omitempty"` // why it failed
}

// report reads one listed key's slots and attestations.
func (o *keysOptions) report(ctx context.Context, l hardware.Listed) keyReport {
	r := keyReport{Reader: l.Info.Reader, Slots: []slotReport{}}
	if l.Err != nil {
		r.Error = "could not read the card: " + l.Err.Error()
		return r
	}
	in := l.Info
	r.Serial, r.Firmware, r.FormFactor = in.Serial, in.Firmware, in.FormFactor
	if in.PINRetries >= 0 {
		r.PINRetries = &in.PINRetries
	}
	tok, err := o.station.Open(ctx, in.Serial)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Warnings = factoryWarnings(ctx, tok)
	infos, err := slotInfos(ctx, tok)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	for _, ki := range infos {
		sr := slotReport{
			Slot: ki.Slot.String(), Algorithm: ki.Algorithm, Generated: ki.Generated,
			PINPolicy: ki.PIN.String(), TouchPolicy: ki.Touch.String(),
		}
		sr.Attestation, sr.Reason = o.verdict(ctx, tok, ki)
		r.Slots = append(r.Slots, sr)
	}
	return r
}

// factoryWarnings says which factory secrets the key still uses, when the
// token can tell (PIV metadata, firmware 5.3+); unknown is no warning.
func factoryWarnings(ctx context.Context, tok hardware.Token) []string {
	var w []string
	if m, ok := tok.(interface {
		PINMetadata(context.Context) (piv.Metadata, error)
	}); ok {
		if md, err := m.PINMetadata(ctx); err == nil && md.Default {
			w = append(w, "the PIN is the factory default: change it (ykman piv access change-pin)")
		}
	}
	if m, ok := tok.(interface {
		UsesDefaultManagementKey(context.Context) (bool, error)
	}); ok {
		if d, err := m.UsesDefaultManagementKey(ctx); err == nil && d {
			w = append(w, "the management key is the factory default: enrolment replaces it with a PIN-protected one")
		}
	}
	return w
}

// slotInfos lists the used slots, in one card session when the token can.
func slotInfos(ctx context.Context, tok hardware.Token) ([]hardware.KeyInfo, error) {
	if s, ok := tok.(interface {
		Slots(context.Context) ([]hardware.KeyInfo, error)
	}); ok {
		return s.Slots(ctx)
	}
	var out []hardware.KeyInfo
	for _, slot := range piv.AllSlots() {
		ki, err := tok.KeyInfo(ctx, slot)
		if errors.Is(err, hardware.ErrSlotEmpty) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ki)
	}
	return out, nil
}

// verdict attests one slot: the first verifier whose roots the chain
// reaches decides (a chain that does not reach a verifier's roots,
// attest.ErrUntrusted, is tried with the next); the attestation must then be
// well formed and for this key, serial and slot.
func (o *keysOptions) verdict(ctx context.Context, tok hardware.Token, ki hardware.KeyInfo) (verdict, reason string) {
	if !ki.Generated {
		return verdictNone, ""
	}
	a, err := tok.Attest(ctx, ki.Slot)
	if errors.Is(err, hardware.ErrSlotEmpty) {
		return verdictNone, ""
	}
	if err != nil {
		return verdictFailed, err.Error()
	}
	var chainErr error
	for _, v := range o.verifiers {
		at, err := v.VerifyKey(a, tok.Serial(), ki.Slot, ki.Public)
		switch {
		case errors.Is(err, attest.ErrUntrusted):
			if chainErr == nil {
				chainErr = err
			}
			continue
		case err != nil:
			return verdictFailed, err.Error()
		case at.TestRoot:
			return verdictTestRoot, ""
		}
		return verdictGenuine, ""
	}
	issuers := "Yubico"
	if len(o.verifiers) > 1 {
		issuers = "Yubico or the given test root"
	}
	if chainErr == nil {
		chainErr = errors.New("no attestation root configured")
	}
	return verdictFailed, "not issued by " + issuers + ": " + chainErr.Error()
}
