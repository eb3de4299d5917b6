package events_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/audit"
	"breakglass/internal/events"
)

// TestEveryTypeHasData: the schema lists each documented event, each with a
// data struct, and the step events share the step prefix.
func TestEveryTypeHasData(t *testing.T) {
	want := []string{
		events.JournalCreated, events.JournalRepaired, events.StationInfo, events.ProcessGuards,
		events.PreflightWarningAcknowledged, events.PreflightClockConfirmed, events.SessionStarted,
		events.PreflightCompleted, events.SessionDeclared, events.QuorumCustodian, events.QuorumPINRejected,
		events.SecretRevealed, events.SecretChecked, events.SecretCheckResult, events.VaultMarkRevealedFailed,
		events.WindowExpired, events.WindowReauthorised, events.StepCheck, events.StepEvidence,
		events.StepConfirmed, events.StepCompleted, events.StepSkipped, events.StepConfirmationSigned,
		events.CloseOutAnswered, events.CloseOutCompleted, events.ReportSigned, events.ReportExported,
		events.SessionLocked, events.SessionAborted,
		events.JournalAuthenticated, events.JournalTamperDetected, events.SessionResumed, events.SessionAnnounced, events.QuorumLastPINTryConfirmed, events.VaultRekeyed,
	}
	got := events.Types()
	slices.Sort(got)
	sorted := slices.Clone(want)
	slices.Sort(sorted)
	if !slices.Equal(got, sorted) || len(slices.Compact(slices.Clone(sorted))) != len(want) {
		t.Fatalf("Types() = %q\nwant the %d distinct declared types %q", got, len(want), sorted)
	}
	for _, typ := range want {
		d, ok := events.New(typ)
		if !ok || reflect.ValueOf(d).Kind() != reflect.Pointer || reflect.ValueOf(d).Elem().Kind() != reflect.Struct {
			t.Errorf("New(%q) = %T, %v; want a pointer to a struct", typ, d, ok)
		}
		if strings.HasPrefix(typ, events.StepPrefix) != strings.HasPrefix(typ, "step.") {
			t.Errorf("%q and StepPrefix disagree", typ)
		}
	}
	if _, ok := events.New("note.custom"); ok {
		t.Error(`New("note.custom") claims an undeclared type`)
	}
}

// TestEveryDataIsRecordable appends every event's data, zero and filled,
// to a real journal: each encodes as a JSON object and has no field named
// like a secret (audit refuses those), and reads back through the same
// struct unchanged, strictly.
func TestEveryDataIsRecordable(t *testing.T) {
	j, err := audit.Create(filepath.Join(t.TempDir(), "journal.jsonl"), "S-1", nil, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, typ := range events.Types() {
		if typ == events.JournalCreated {
			continue // only the journal writes it, first
		}
		t.Run(typ, func(t *testing.T) {
			d, _ := events.New(typ)
			fill(reflect.ValueOf(d).Elem())
			e, err := j.Append("test", typ, d)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			back, _ := events.New(typ)
			dec := json.NewDecoder(strings.NewReader(string(e.Data)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(back); err != nil {
				t.Fatalf("decoding %s strictly: %v", e.Data, err)
			}
			if !reflect.DeepEqual(back, d) {
				t.Errorf("round trip changed the data:\n got %+v\nwant %+v", back, d)
			}
		})
	}
}

// fill sets every settable field of v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && v.Type().Field(i).Tag.Get("json") != "-" {
				fill(v.Field(i))
			}
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeFor[events.Phase]() {
			v.SetInt(int64(events.PhaseSteps))
			return
		}
		v.SetInt(3)
	case reflect.Uint32:
		v.SetUint(7)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Interface:
		v.Set(reflect.ValueOf("x"))
	}
}

func TestPhaseText(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    events.Phase
		wantErr bool
	}{
		{"first", "preflight", events.PhasePreflight, false},
		{"middle", "closeout", events.PhaseCloseOut, false},
		{"last", "aborted", events.PhaseAborted, false},
		{"unknown", "lunch", 0, true},
		{"empty", "", 0, true},
		{"case matters", "Steps", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p events.Phase
			err := p.UnmarshalText([]byte(tc.text))
			if (err != nil) != tc.wantErr || p != tc.want {
				t.Fatalf("UnmarshalText(%q) = %v, %v", tc.text, p, err)
			}
			if err == nil {
				if b, _ := p.MarshalText(); string(b) != tc.text {
					t.Errorf("MarshalText = %q, want %q", b, tc.text)
				}
			}
		})
	}
	if s := events.Phase(99).String(); s != "Phase(99)" {
		t.Errorf("Phase(99) = %q", s)
	}
	var a events.Aborted
	if err := json.Unmarshal([]byte(`{"phase":"nope"}`), &a); err == nil {
		t.Errorf("an aborted event with an unknown phase decoded: %+v", a)
	}
}
