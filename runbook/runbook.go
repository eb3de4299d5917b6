package runbook

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// MaxFileSize is the largest runbook file Parse accepts, in bytes.
const MaxFileSize = 4 << 20

// MaxSteps is the largest number of steps a runbook may have.
const MaxSteps = 10000

// Runbook is a parsed, validated runbook. Parse never returns a Runbook that
// breaks the rules in the package documentation.
type Runbook struct {
	// Title, Version and Description come from the front matter. Title and
	// Version are never empty.
	Title, Version, Description string
	// Steps are in file order; there is at least one.
	Steps []Step
	// SHA256 is the lowercase hex SHA-256 of Source.
	SHA256 string
	// Source is the exact file content the runbook was parsed from.
	Source []byte
	// Name is the file name given to Parse, used in error messages.
	Name string
}

// Step is one section of a runbook.
type Step struct {
	// ID is unique in the runbook: lowercase letters, digits and hyphens.
	ID string
	// Title is the heading text after the id; never empty.
	Title string
	// Instructions is the step's Markdown body without its checklist, with
	// surrounding blank lines trimmed; never empty.
	Instructions string
	// Checks are the texts of the `- [ ]` items, in order, distinct.
	Checks []string
	// Reveals are the vault names of secrets revealed at this step, distinct.
	Reveals []string
	// Evidence are the evidence prompts the operator must answer, distinct.
	Evidence []string
	// BothConfirm is set by `- Confirm: both-custodians`: two distinct
	// custodians must confirm the step before it completes.
	BothConfirm bool
	// Line is the 1-based line of the step heading.
	Line int

	revealLines []int // line of each Reveals entry; may be nil for hand-built steps
}

// Step returns the step with the given id and its index, or false.
func (r *Runbook) Step(id string) (int, *Step, bool) {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return i, &r.Steps[i], true
		}
	}
	return -1, nil, false
}

// Secrets returns every secret name revealed anywhere in the runbook, once
// each, in order of first appearance.
func (r *Runbook) Secrets() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range r.Steps {
		for _, n := range s.Reveals {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// ParseError is one problem in a runbook file, at a line. Error() reads
// "file:line: what is wrong; what to do" ("file: ..." when Line is 0).
type ParseError struct {
	File string // file name as given to Parse
	Line int    // 1-based line; 0 when the problem is the whole file
	Msg  string // what is wrong
	Hint string // what to do about it
}

func (e *ParseError) Error() string {
	s := fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	if e.Line <= 0 {
		s = fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// ErrorList is every ParseError found in one file, in line order. Parse
// returns it (never an empty one) when the file is invalid; errors.As finds
// each *ParseError in it.
type ErrorList []*ParseError

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// ParseFile reads and parses the runbook at path. A read failure is returned
// wrapped; a format problem is an ErrorList.
func ParseFile(path string) (*Runbook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading runbook %q: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading runbook %q: %w", path, err)
	}
	if st.Size() > MaxFileSize {
		return nil, ErrorList{{File: path, Msg: fmt.Sprintf("file is %d bytes, larger than the %d byte limit", st.Size(), MaxFileSize), Hint: "split the runbook or check that this is the right file"}}
	}
	data := make([]byte, st.Size())
	if _, err := readFull(f, data); err != nil {
		return nil, fmt.Errorf("reading runbook %q: %w", path, err)
	}
	return Parse(path, data)
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// MissingSecret is one secret a runbook reveals that the vault lacks.
type MissingSecret struct {
	Name   string // vault name of the secret
	StepID string // step that reveals it
	Line   int    // line of the Reveal directive (or of the step heading)
}

// MissingSecretsError lists every secret the runbook reveals but the vault
// lacks. CheckSecrets returns it; use errors.As to read the list.
type MissingSecretsError struct {
	Runbook string // runbook file name
	Missing []MissingSecret
}

func (e *MissingSecretsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runbook %q reveals %d secret(s) the vault does not hold; seal them into the vault or fix the names in the runbook:", e.Runbook, len(e.Missing))
	for _, m := range e.Missing {
		fmt.Fprintf(&b, "\n%s:%d: step %q reveals %q, not in the vault", e.Runbook, m.Line, m.StepID, m.Name)
	}
	return b.String()
}

// ErrNoSecretLookup is returned by CheckSecrets when have is nil.
var ErrNoSecretLookup = errors.New("no vault lookup given to check runbook secrets against")

// CheckSecrets is the preflight check that every secret the runbook reveals
// exists in the vault: have reports whether the vault holds a name. It
// returns nil, or a *MissingSecretsError naming every missing secret with its
// step and line.
func (r *Runbook) CheckSecrets(have func(name string) bool) error {
	if have == nil {
		return ErrNoSecretLookup
	}
	var missing []MissingSecret
	for _, s := range r.Steps {
		for i, n := range s.Reveals {
			if have(n) {
				continue
			}
			line := s.Line
			if i < len(s.revealLines) {
				line = s.revealLines[i]
			}
			missing = append(missing, MissingSecret{Name: n, StepID: s.ID, Line: line})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &MissingSecretsError{Runbook: r.Name, Missing: missing}
}
