package console

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"breakglass/hardware"
	"breakglass/internal/events"
	"breakglass/ui"
)

func retriesOf(t *testing.T, eng *Service, serial uint32) int {
	t.Helper()
	keys, err := eng.ConnectedKeys(context.Background())
	must(t, err)
	for _, k := range keys {
		if k.Serial == serial {
			return k.PINRetries
		}
	}
	t.Fatalf("key %d not connected", serial)
	return 0
}

func rejections(t *testing.T, eng *Service) []events.PINRejectedData {
	t.Helper()
	var out []events.PINRejectedData
	for _, e := range eng.journal.Entries() {
		if e.Type == eventPINRejected {
			var d events.PINRejectedData
			must(t, json.Unmarshal(e.Data, &d))
			out = append(out, d)
		}
	}
	return out
}

// TestLastPINTryAtQuorum: the last try is refused before the PIN is sent
// until the custodian confirms it; the confirmation is journaled and allows
// exactly one attempt; the blocking attempt and the refusal of a blocked key
// are journaled.
func TestLastPINTryAtQuorum(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, false)
	toQuorum(t, eng)
	ctx := context.Background()
	sn := f.serials[0]
	var wp *ui.WrongPINError
	for range 2 {
		if _, err := eng.AddCustodian(ctx, sn, "999999"); !errors.As(err, &wp) {
			t.Fatalf("wrong PIN: %v", err)
		}
	}
	if _, err := eng.AddCustodian(ctx, sn, hardware.DefaultPIN); !errors.Is(err, ui.ErrLastPINTry) {
		t.Fatalf("last try unconfirmed: %v, want ErrLastPINTry", err)
	}
	if r := retriesOf(t, eng, sn); r != 1 {
		t.Fatalf("retries after the refused last try = %d, want 1 (the PIN must not be sent)", r)
	}
	must(t, eng.ConfirmLastPINTry(sn))
	if n := countType(eng, events.QuorumLastPINTryConfirmed); n != 1 {
		t.Fatalf("%d last-try confirmations journaled, want 1", n)
	}
	if _, err := eng.AddCustodian(ctx, sn, "999999"); !errors.Is(err, ui.ErrPINBlocked) {
		t.Fatalf("wrong last try: %v, want ErrPINBlocked", err)
	}
	if _, err := eng.AddCustodian(ctx, sn, hardware.DefaultPIN); !errors.Is(err, ui.ErrPINBlocked) {
		t.Fatalf("blocked key: %v, want ErrPINBlocked", err)
	}
	rs := rejections(t, eng)
	if len(rs) != 4 {
		t.Fatalf("%d refusals journaled, want 4 (two wrong, the blocking one, the blocked key): %+v", len(rs), rs)
	}
	if b := rs[2]; b.Reason != "wrong PIN" || b.RetriesLeft == nil || *b.RetriesLeft != 0 || b.Operation != pinOpUnlock {
		t.Errorf("blocking attempt journaled as %+v", b)
	}
	if b := rs[3]; b.Reason != "PIN blocked" {
		t.Errorf("blocked key journaled as %+v", b)
	}
	for _, e := range eng.journal.Entries() {
		if strings.Contains(string(e.Data), "999999") || strings.Contains(string(e.Data), hardware.DefaultPIN) {
			t.Errorf("a PIN is in the journal: %s %s", e.Type, e.Data)
		}
	}
}

// TestLastPINTryAtSign: the report signature follows the same rule; a
// wrong PIN at signing is journaled too.
func TestLastPINTryAtSign(t *testing.T) {
	f := newJourneyFixture(t)
	eng := f.engine(t, false)
	toSteps(t, f, eng)
	ctx := context.Background()
	runSteps(t, eng, map[string][]byte{})
	for _, q := range eng.CloseOutQuestions() {
		ans := "answer"
		if strings.Contains(q.Text, `"no"`) {
			ans = "no"
		}
		must(t, eng.AnswerCloseOut(q.ID, ans))
	}
	sn := f.serials[0]
	before := len(rejections(t, eng))
	var wp *ui.WrongPINError
	for range 2 {
		if err := eng.Sign(ctx, sn, "999999"); !errors.As(err, &wp) {
			t.Fatalf("wrong PIN at signing: %v", err)
		}
	}
	if n := len(rejections(t, eng)) - before; n != 2 {
		t.Errorf("%d wrong PINs at signing journaled, want 2", n)
	}
	if err := eng.Sign(ctx, sn, hardware.DefaultPIN); !errors.Is(err, ui.ErrLastPINTry) {
		t.Fatalf("last try at signing unconfirmed: %v, want ErrLastPINTry", err)
	}
	if r := retriesOf(t, eng, sn); r != 1 {
		t.Fatalf("retries = %d, want 1", r)
	}
	must(t, eng.ConfirmLastPINTry(sn))
	must(t, eng.Sign(ctx, sn, hardware.DefaultPIN))
	if n := countType(eng, events.ReportSigned); n != 1 {
		t.Errorf("%d signatures journaled, want 1", n)
	}
}
