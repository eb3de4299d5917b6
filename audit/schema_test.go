package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Every field a report payload can carry is described by the schema, at
// the same place, and the schema names no field the payload lacks: an
// importer validating against it (additionalProperties false) accepts
// every real report, of every mode.
func TestSchemaDescribesEveryReportField(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(Schema(), &root); err != nil {
		t.Fatal(err)
	}
	defs, _ := root["$defs"].(map[string]any)
	resolve := func(n map[string]any) map[string]any {
		for {
			ref, ok := n["$ref"].(string)
			if !ok {
				return n
			}
			n, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
	}
	var walk func(path string, typ reflect.Type, node map[string]any)
	walk = func(path string, typ reflect.Type, node map[string]any) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
			if it, ok := node["items"].(map[string]any); ok {
				node = resolve(it)
			}
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() == "time" {
			return
		}
		props, ok := node["properties"].(map[string]any)
		if !ok {
			t.Errorf("%s: the schema has no properties for %s", path, typ)
			return
		}
		seen := map[string]bool{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			seen[name] = true
			sub, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s.%s is in the payload but not in the schema", path, name)
				continue
			}
			walk(path+"."+name, f.Type, resolve(sub))
		}
		for name := range props {
			if !seen[name] {
				t.Errorf("%s.%s is in the schema but not in the payload (%s)", path, name, typ)
			}
		}
	}
	walk("report", reflect.TypeOf(Report{}), root)
}
