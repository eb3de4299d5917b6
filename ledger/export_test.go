package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestExportSchemaMatchesTestdata(t *testing.T) {
	b, err := os.ReadFile("export.schema.json")
	if err != nil || !bytes.Equal(b, ExportSchema()) || !json.Valid(b) {
		t.Fatalf("export.schema.json is not valid JSON or differs from ExportSchema(): %v", err)
	}
}

// TestExportFollowsSchema checks every exported line against the schema:
// exactly the required fields, each of its declared type and enum.
func TestExportFollowsSchema(t *testing.T) {
	l, _ := populated(t, &testClock{day(3, 1)})
	var buf bytes.Buffer
	if err := l.Export(&buf); err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(ExportSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		keys := slices.Sorted(func(y func(string) bool) {
			for k := range line {
				if !y(k) {
					return
				}
			}
		})
		if want := slices.Sorted(slices.Values(schema.Required)); !slices.Equal(keys, want) {
			t.Fatalf("line fields %v, schema requires %v", keys, want)
		}
		for k, v := range line {
			checkProperty(t, k, v, schema.Properties[k])
		}
		count[line["event"].(string)]++
		if strings.Contains(sc.Text(), "not-a-real-") || strings.Contains(sc.Text(), "rotated-db-root") {
			t.Fatalf("a secret value is in the export: %s", sc.Text())
		}
	}
	want := map[string]int{EventVaultImported: 2, EventSecretSealed: 2, EventSecretRotated: 1, EventSessionStarted: 3,
		EventSecretRevealed: 2, EventSecretChecked: 2, EventStepSkipped: 1, EventSessionEnded: 3, EventReviewRecorded: 1, EventAnnounceCode: 2}
	for ev, n := range want {
		if count[ev] != n {
			t.Errorf("%d %s events, want %d (all: %v)", count[ev], ev, n, count)
		}
	}
}

func checkProperty(t *testing.T, name string, v any, raw json.RawMessage) {
	t.Helper()
	var p struct {
		Type  string `json:"type"`
		Const any    `json:"const"`
		Enum  []any  `json:"enum"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("schema property %s: %v", name, err)
	}
	switch {
	case p.Const != nil && v != p.Const:
		t.Errorf("%s = %v, schema says %v", name, v, p.Const)
	case p.Enum != nil && !slices.Contains(p.Enum, v):
		t.Errorf("%s = %v, not in the schema's enum %v", name, v, p.Enum)
	case p.Type == "string":
		if _, ok := v.(string); !ok {
			t.Errorf("%s = %v, want a string", name, v)
		}
	case p.Type == "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) || f < 1 {
			t.Errorf("%s = %v, want a positive integer", name, v)
		}
	case p.Type == "boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("%s = %v, want a boolean", name, v)
		}
	}
}

// TestStatusSchemaDescribesStatus walks a real status document with the
// schema: every object has exactly the properties the schema requires, and
// every open item kind the code defines is in the schema's enum.
func TestStatusSchemaDescribesStatus(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(StatusSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	l, _ := populated(t, &testClock{day(6, 1)})
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(st)
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	walkSchema(t, "$", doc, schema, schema)
	kinds := schema["$defs"].(map[string]any)["open_item"].(map[string]any)["properties"].(map[string]any)["kind"].(map[string]any)["enum"].([]any)
	for _, k := range []string{OpenUnrotated, OpenUnreviewed, OpenFollowUp, OpenDrillOverdue, OpenNoReport, OpenNoAnnouncement, OpenRollback, OpenNotVerified} {
		if !slices.Contains(kinds, any(k)) {
			t.Errorf("open item kind %q is not in the schema", k)
		}
	}
}

func walkSchema(t *testing.T, path string, v any, s, root map[string]any) {
	t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		s = root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		if v == nil {
			return
		}
		s = alts[1].(map[string]any)
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		if len(req) != len(x) || len(props) != len(x) {
			t.Errorf("%s: %d fields, schema requires %d and describes %d", path, len(x), len(req), len(props))
		}
		for k, child := range x {
			ps, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("%s.%s is not in the schema", path, k)
				continue
			}
			walkSchema(t, path+"."+k, child, ps, root)
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, child := range x {
			walkSchema(t, fmt.Sprintf("%s[%d]", path, i), child, items, root)
		}
	default:
		if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
			t.Errorf("%s = %v, not in the schema's enum", path, v)
		}
	}
}
