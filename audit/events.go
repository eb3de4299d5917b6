package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Event types the report is built from. All but TypeStation are recorded
// by the session engine (breakglass/runbook/session, whose constants and
// JSON field names these mirror; audit does not import it). BuildReport
// reads them back and a verifier checks that the report's lists say exactly
// what the journal says. Other event types are kept in the journal only.
const (
	// TypeStation: the station's identity, recorded by the command at session
	// start (StationData).
	TypeStation = "station.info"
	// TypeStarted: runbook {name, sha256}, threshold, drill.
	TypeStarted = "session.started"
	// TypeDeclared: operator, ticket, what_broke.
	TypeDeclared = "session.declared"
	// TypeQuorumCustodian: {id, serial} of a custodian accepted into the quorum.
	TypeQuorumCustodian = "quorum.custodian"
	// TypeReauthorised: a fresh quorum, {custodians: [{id, serial}]}.
	TypeReauthorised = "window.reauthorised"
	// TypeSecretRevealed (live) and TypeSecretChecked (drill): {name, step,
	// sealed_at (optional)}; names only, never values.
	TypeSecretRevealed = "secret.revealed"
	TypeSecretChecked  = "secret.checked"
	// Step events (prefix "step."): {step, text, custodian}; step.check
	// ticks are kept in the journal but not in the timeline.
	TypeStepCheck = "step.check"
	// TypeCloseoutAnswered: {question, yes_no, text}; a later answer to the
	// same question replaces an earlier one.
	TypeCloseoutAnswered = "closeout.answered"
	// TypeCloseoutCompleted and TypeAborted end the session ({by, reason}
	// for an abort). The report is built after one of them.
	TypeCloseoutCompleted = "closeout.completed"
	TypeAborted           = "session.aborted"
)

// Session modes.
const (
	ModeLive  = "live"
	ModeDrill = "drill"
)

// StationData is the data of a station.info event.
type StationData struct {
	BinaryVersion    string `json:"binary_version"`
	BinarySHA256     string `json:"binary_sha256"`
	VaultFingerprint string `json:"vault_fingerprint"`
	// AttestationRoot is "yubico", or "TEST/non-production: <subject>" when
	// a test root was allowed by an explicit flag.
	AttestationRoot string `json:"attestation_root"`
}

// The parts of the session engine's event data the report uses.
type (
	startedData struct {
		Runbook struct {
			Name   string `json:"name"`
			SHA256 string `json:"sha256"`
		} `json:"runbook"`
		Threshold int  `json:"threshold"`
		Drill     bool `json:"drill"`
	}
	declaredData struct {
		Operator  string `json:"operator"`
		Ticket    string `json:"ticket"`
		WhatBroke string `json:"what_broke"`
	}
	custodianRef struct {
		ID     string `json:"id"`
		Serial uint32 `json:"serial"`
	}
	reauthData struct {
		Custodians []custodianRef `json:"custodians"`
	}
	revealData struct {
		Name     string `json:"name"`
		Step     string `json:"step"`
		SealedAt string `json:"sealed_at"`
	}
	stepData struct {
		Step      string `json:"step"`
		Text      string `json:"text"`
		Custodian string `json:"custodian"`
	}
	abortData struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
	}
)

// ErrSecretField is returned by Append for data with a field whose name
// says it holds a secret (pin, password, seed, plaintext…). Journal data
// names secrets; it never carries them.
var ErrSecretField = errors.New("event data has a field that would hold a secret")

// secretNames are field names refused anywhere in event data.
var secretNames = map[string]bool{
	"pin": true, "puk": true, "password": true, "passphrase": true, "passcode": true,
	"plaintext": true, "secret": true, "secret_value": true, "value": true, "seed": true,
	"otp": true, "totp": true, "code": true, "share": true, "private_key": true,
	"privatekey": true, "identity": true, "management_key": true, "mgmt_key": true,
	"key_material": true, "token": true,
}

// checkNoSecrets walks a JSON document and refuses secret-named fields.
func checkNoSecrets(b []byte) error {
	type frame struct{ obj, wantKey bool }
	dec := json.NewDecoder(bytes.NewReader(b))
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("checking event data: %w", err)
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if key, ok := tok.(string); ok {
				if secretNames[strings.ToLower(strings.ReplaceAll(key, "-", "_"))] {
					return fmt.Errorf("%w: %q", ErrSecretField, key)
				}
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
