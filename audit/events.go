package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"breakglass/internal/events"
)

// Event types the report is built from: names of the one journal schema,
// internal/events, under audit's identifiers. BuildReport reads them back
// through the internal/events data structs, and a verifier checks that the
// report's lists say exactly what the journal says. Other event types are
// kept in the journal only.
const (
	TypeStation           = events.StationInfo        // data StationData
	TypeStarted           = events.SessionStarted     // data events.Started
	TypeDeclared          = events.SessionDeclared    // data events.Declared
	TypeQuorumCustodian   = events.QuorumCustodian    // data events.CustodianEvent
	TypeReauthorised      = events.WindowReauthorised // data events.Reauthorised
	TypeSecretRevealed    = events.SecretRevealed     // data events.Reveal; names only, never values
	TypeSecretChecked     = events.SecretChecked      // data events.Reveal
	TypeStepCheck         = events.StepCheck          // kept in the journal, not in the timeline
	TypeCloseoutAnswered  = events.CloseOutAnswered   // data events.CloseOutAnswer; the last answer wins
	TypeCloseoutCompleted = events.CloseOutCompleted  // ends the session
	TypeAborted           = events.SessionAborted     // ends the session; data events.Aborted
)

// Session modes.
const (
	ModeLive  = "live"
	ModeDrill = "drill"
	ModeRekey = "rekey" // breakglass vault rekey: see Report.Rekey
)

// StationData is the data of a station.info event.
type StationData = events.StationData

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
