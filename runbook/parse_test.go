package runbook

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated testdata files")

const testdataDir = "../testdata/runbooks"

func TestParseSample(t *testing.T) {
	rb, err := ParseFile(filepath.Join(testdataDir, "cloud-root-recovery.md"))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if rb.Title != "Cloud root-account recovery after an SSO outage" || rb.Version != "4" || rb.Description == "" {
		t.Errorf("front matter = %q %q %q", rb.Title, rb.Version, rb.Description)
	}
	var ids []string
	for _, s := range rb.Steps {
		ids = append(ids, s.ID)
		if s.Instructions == "" || s.Title == "" || s.Line == 0 {
			t.Errorf("step %q incomplete: %+v", s.ID, s)
		}
	}
	wantIDs := []string{"declare", "root-signin", "recovery-codes", "restore-sso", "rotate-root", "sign-out", "check-logging"}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("ids = %q, want %q", ids, wantIDs)
	}
	if got, want := rb.Secrets(), []string{"aws-root-password", "aws-root-totp", "aws-root-recovery-codes"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Secrets() = %q, want %q", got, want)
	}
	_, s, ok := rb.Step("root-signin")
	if !ok || len(s.Checks) != 2 || len(s.Evidence) != 1 || s.BothConfirm {
		t.Errorf("root-signin = %+v", s)
	}
	_, s, _ = rb.Step("recovery-codes")
	if !s.BothConfirm {
		t.Errorf("recovery-codes should need both custodians")
	}
	_, s, _ = rb.Step("check-logging")
	if !strings.Contains(s.Instructions, "aws cloudtrail lookup-events") {
		t.Errorf("code fence lost from instructions: %q", s.Instructions)
	}
	if len(rb.SHA256) != 64 || len(rb.Source) == 0 {
		t.Errorf("SHA256 %q, source %d bytes", rb.SHA256, len(rb.Source))
	}
}

func TestParseMinimal(t *testing.T) {
	rb, err := ParseFile(filepath.Join(testdataDir, "minimal.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{{ID: "only", Title: "The only step", Instructions: "Do the one thing.", Line: 6}}
	if !reflect.DeepEqual(rb.Steps, want) {
		t.Errorf("steps = %+v, want %+v", rb.Steps, want)
	}
}

// TestParseInvalidFiles checks every file in testdata/runbooks/invalid is
// rejected at the expected line with the expected problem.
func TestParseInvalidFiles(t *testing.T) {
	cases := map[string]struct {
		line int
		msg  string
	}{
		"duplicate-id.md":         {10, `duplicate step id "one"`},
		"bad-id.md":               {6, `step id "Restore_SSO" has invalid characters`},
		"empty-title.md":          {6, `step "first" has an empty title`},
		"no-instructions.md":      {6, `step "first" has no instructions`},
		"unknown-directive.md":    {11, `unknown directive "Approve"`},
		"secret-twice.md":         {11, `secret "aws-root-password" appears twice`},
		"no-steps.md":             {8, "runbook has no steps"},
		"no-front-matter.md":      {1, "does not start with a front matter block"},
		"unknown-key.md":          {4, `unknown front matter key "owner"`},
		"ticked-check.md":         {10, "already ticked"},
		"text-after-checklist.md": {12, "text after the checklist"},
		"near-miss-reveal.md":     {10, `malformed "Reveal" directive`},
		"bad-confirm.md":          {10, `unknown confirm value "one-custodian"`},
		"unclosed-fence.md":       {10, "code fence is never closed"},
	}
	files, err := filepath.Glob(filepath.Join(testdataDir, "invalid", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid runbooks found: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, ok := cases[name]
		if !ok {
			t.Errorf("%s has no expectation in this table", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			rb, err := ParseFile(f)
			if err == nil {
				t.Fatalf("parsed invalid runbook: %+v", rb)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v is not an ErrorList", err)
			}
			for _, e := range list {
				if e.Line == want.line && strings.Contains(e.Msg, want.msg) {
					if e.File != f || e.Hint == "" {
						t.Errorf("error %q lacks file or hint", e)
					}
					return
				}
			}
			t.Errorf("got %v, want line %d: %s", err, want.line, want.msg)
		})
	}
	if len(files) != len(cases) {
		t.Errorf("%d invalid files, %d expectations", len(files), len(cases))
	}
}

const validHead = "---\ntitle: T\nversion: 1\n---\n"

// TestParseErrors covers rules with inline inputs; line is where the
// reported problem must be.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"missing title", "---\nversion: 1\n---\n## a: A\nx\n", 1, "no title"},
		{"missing version", "---\ntitle: T\n---\n## a: A\nx\n", 1, "no version"},
		{"unclosed front matter", "---\ntitle: T\n", 1, "never closed"},
		{"quoted value", "---\ntitle: \"T\"\nversion: 1\n---\n## a: A\nx\n", 2, "quoted"},
		{"duplicate key", "---\ntitle: T\ntitle: U\nversion: 1\n---\n## a: A\nx\n", 3, "given twice"},
		{"not key value", "---\ntitle T\nversion: 1\n---\n## a: A\nx\n", 2, "not 'key: value'"},
		{"block value", "---\ntitle: T\nversion: 1\ndescription: |\n---\n## a: A\nx\n", 4, "multi-line"},
		{"heading without id", validHead + "## Declare\nx\n", 5, "has no id"},
		{"empty file", "", 1, "does not start with a front matter"},
		{"bom", "\uFEFF" + validHead + "## a: A\nx\n", 1, "byte order mark"},
		{"invalid utf8", validHead + "## a: A\nx\xff\n", 6, "not valid UTF-8"},
		{"nul", validHead + "## a: A\nx\x00\n", 6, "NUL"},
		{"check before step", validHead + "- [ ] x\n## a: A\nx\n", 5, "before the first step"},
		{"reveal before step", validHead + "- Reveal: s\n## a: A\nx\n", 5, "before the first step"},
		{"h1 in step", validHead + "## a: A\nx\n# B\n", 7, "level-1 heading"},
		{"indented heading", validHead + "  ## a: A\nx\n", 5, "indented heading"},
		{"empty check", validHead + "## a: A\nx\n- [ ] \n", 7, "empty check"},
		{"duplicate check", validHead + "## a: A\nx\n- [ ] c\n- [ ] c\n", 8, `check "c" appears twice`},
		{"duplicate evidence", validHead + "## a: A\nx\n- Evidence: e\n- Evidence: e\n", 8, "evidence prompt"},
		{"empty evidence", validHead + "## a: A\nx\n- Evidence:\n", 7, "empty evidence"},
		{"two secrets one line", validHead + "## a: A\nx\n- Reveal: a, b\n", 7, "invalid secret name"},
		{"lowercase directive", validHead + "## a: A\nx\n- reveal: s\n", 7, "malformed"},
		{"star check", validHead + "## a: A\nx\n* [ ] c\n", 7, "malformed check"},
		{"heading after checklist", validHead + "## a: A\nx\n- [ ] c\n### more\n", 8, "text after the checklist"},
		{"plain bullet after checklist", validHead + "## a: A\nx\n- [ ] c\n- and this\n", 8, "text after the checklist"},
		{"fence after checklist", validHead + "## a: A\nx\n- [ ] c\n```\n", 8, "text after the checklist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rb, err := Parse("rb.md", []byte(tc.src))
			if err == nil {
				t.Fatalf("accepted: %+v", rb)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v is not a non-empty ErrorList", err)
			}
			for _, e := range list {
				if e.Line == tc.line && strings.Contains(e.Msg, tc.msg) {
					if !strings.HasPrefix(e.Error(), "rb.md:") {
						t.Errorf("error %q does not start with the file name", e)
					}
					return
				}
			}
			t.Errorf("got %v, want line %d: %s", err, tc.line, tc.msg)
		})
	}
}

// TestParseAccepts covers inputs that look odd but are valid.
func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name, src string
		want      Step
	}{
		{"crlf", "---\r\ntitle: T\r\nversion: 1\r\n---\r\n## a: A\r\nx\r\n- [ ] c\r\n", Step{ID: "a", Title: "A", Instructions: "x", Checks: []string{"c"}, Line: 5}},
		{"prose bullet with colon", validHead + "## a: A\n- Note: call the vendor\n", Step{ID: "a", Title: "A", Instructions: "- Note: call the vendor", Line: 5}},
		{"directives in fence", validHead + "## a: A\n```\n## b: B\n- Reveal: x\n```\n", Step{ID: "a", Title: "A", Instructions: "```\n## b: B\n- Reveal: x\n```", Line: 5}},
		{"title with colon", validHead + "## a: Sign in: root\nx\n", Step{ID: "a", Title: "Sign in: root", Instructions: "x", Line: 5}},
		{"subheading", validHead + "## a: A\n### Why\nx\n\n- Confirm: both-custodians\n", Step{ID: "a", Title: "A", Instructions: "### Why\nx", BothConfirm: true, Line: 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rb, err := Parse("rb.md", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if len(rb.Steps) != 1 || !reflect.DeepEqual(rb.Steps[0], tc.want) {
				t.Errorf("steps = %#v, want %#v", rb.Steps, tc.want)
			}
		})
	}
}

func TestCheckSecrets(t *testing.T) {
	rb, err := ParseFile(filepath.Join(testdataDir, "cloud-root-recovery.md"))
	if err != nil {
		t.Fatal(err)
	}
	vault := map[string]bool{"aws-root-password": true, "aws-root-totp": true, "aws-root-recovery-codes": true}
	if err := rb.CheckSecrets(func(n string) bool { return vault[n] }); err != nil {
		t.Errorf("complete vault rejected: %v", err)
	}
	delete(vault, "aws-root-totp")
	delete(vault, "aws-root-recovery-codes")
	err = rb.CheckSecrets(func(n string) bool { return vault[n] })
	var me *MissingSecretsError
	if !errors.As(err, &me) {
		t.Fatalf("CheckSecrets = %v, want *MissingSecretsError", err)
	}
	want := []MissingSecret{{"aws-root-totp", "root-signin", 45}, {"aws-root-recovery-codes", "recovery-codes", 57}}
	if !reflect.DeepEqual(me.Missing, want) {
		t.Errorf("missing = %+v, want %+v", me.Missing, want)
	}
	if !errors.Is(rb.CheckSecrets(nil), ErrNoSecretLookup) {
		t.Errorf("nil lookup accepted")
	}
}

func TestParseFileErrors(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.md"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile(missing) = %v, want ErrNotExist", err)
	}
}

func TestParseErrorFormat(t *testing.T) {
	cases := []struct {
		name string
		err  *ParseError
		want string
	}{
		{"with line", &ParseError{File: "rb.md", Line: 7, Msg: "empty check item", Hint: "say what to check"}, "rb.md:7: empty check item; say what to check"},
		{"whole file", &ParseError{File: "rb.md", Msg: "file is too big", Hint: "split it"}, "rb.md: file is too big; split it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
	_, err := Parse("big.md", make([]byte, MaxFileSize+1))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 0 || !strings.Contains(pe.Msg, "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

// TestCheckSecretsHandBuilt covers runbooks built in code, without the
// parser's per-directive lines: the step line is reported.
func TestCheckSecretsHandBuilt(t *testing.T) {
	rb := &Runbook{Name: "code", Steps: []Step{{ID: "a", Line: 3, Reveals: []string{"x", "y"}}}}
	var me *MissingSecretsError
	if err := rb.CheckSecrets(func(n string) bool { return n == "x" }); !errors.As(err, &me) {
		t.Fatalf("CheckSecrets = %v", err)
	}
	if want := []MissingSecret{{"y", "a", 3}}; !reflect.DeepEqual(me.Missing, want) {
		t.Errorf("missing = %+v, want %+v", me.Missing, want)
	}
}
