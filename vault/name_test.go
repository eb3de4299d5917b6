package vault

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// A custodian name is shown to custodians and printed on the vault card:
// a name that could move the cursor, recolour or reorder text is refused
// when the vault or a custodian file is read, before anything prints it.
func TestCustodianNameMustBePlainText(t *testing.T) {
	data, err := os.ReadFile("../testdata/vault/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"Alice\x1b[5A\r\x1b[2KFingerprint:  AAAA-AAAA-AAAA-AAAA-AAAA",
		"Alice\u202eelpmaxE",
		"Ali\u200bce",
		"Alice\nBob",
	} {
		c := v.Roster.Custodians[0]
		c.Name = name
		err := validateCustodian("roster.custodians[0]", c)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("name %q: err = %v, want a format error", name, err)
			continue
		}
		if strings.ContainsAny(err.Error(), "\x1b\r\n\u202e\u200b") {
			t.Errorf("the refusal of %q echoes the raw characters: %q", name, err)
		}
	}
	if err := validateCustodian("roster.custodians[0]", v.Roster.Custodians[0]); err != nil {
		t.Errorf("a plain name is refused: %v", err)
	}
}
