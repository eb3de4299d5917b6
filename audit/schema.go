package audit

import (
	_ "embed"
	"slices"
)

//go:embed report.schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of the report payload, for
// importers. A copy is kept at testdata/audit/report.schema.json.
func Schema() []byte { return slices.Clone(schema) }
