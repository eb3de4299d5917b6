package runbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxErrors caps how many problems one Parse reports.
const maxErrors = 50

var (
	idRe        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	secretRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	fmKeyRe     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	checkRe     = regexp.MustCompile(`^- \[ \] (.*)$`)
	directiveRe = regexp.MustCompile(`^- ([A-Z][A-Za-z-]*): ?(.*)$`)
	// nearCheckRe catches list items that look like tick boxes but are not
	// exactly "- [ ] text".
	nearCheckRe = regexp.MustCompile(`^\s*[-*+]\s*\[.{0,2}\]`)
	// nearDirectiveRe catches lines that look like a directive anywhere in
	// the file, in any spelling; exact directives are matched first.
	nearDirectiveRe = regexp.MustCompile(`(?i)^\s*(?:[-*+]\s*)?[*_]{0,2}(reveals?|evidence|confirms?|confirmation|secrets?)[*_]{0,2}\s*:`)
)

const confirmBoth = "both-custodians"

// parser holds the state of one Parse call.
type parser struct {
	name  string
	errs  ErrorList
	rb    *Runbook
	ids   map[string]int // step id -> heading line
	cur   *stepBuilder
	fence string // closing marker of the open code fence, or ""
	fLine int    // line the open fence started on
}

type stepBuilder struct {
	step      Step
	body      []string
	checklist bool // a checklist item has been seen; only items may follow
	seen      map[string]int
}

func (p *parser) errorf(line int, hint, format string, args ...any) {
	if len(p.errs) >= maxErrors {
		return
	}
	p.errs = append(p.errs, &ParseError{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// Parse parses and validates a runbook. name is used in errors and kept in
// Runbook.Name. It returns an ErrorList listing every problem found, each
// with its line; it never panics on any input.
func Parse(name string, data []byte) (*Runbook, error) {
	p := &parser{name: name, ids: map[string]int{}}
	sum := sha256.Sum256(data)
	p.rb = &Runbook{Name: name, SHA256: hex.EncodeToString(sum[:]), Source: bytes.Clone(data)}
	if len(data) > MaxFileSize {
		p.errorf(0, "split the runbook or check that this is the right file", "file is %d bytes, larger than the %d byte limit", len(data), MaxFileSize)
		return nil, p.errs
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
		if !utf8.ValidString(lines[i]) {
			p.errorf(i+1, "save the file as UTF-8", "line is not valid UTF-8")
		} else if strings.ContainsRune(lines[i], 0) {
			p.errorf(i+1, "remove the NUL byte; runbooks are plain text", "line contains a NUL byte")
		}
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "\uFEFF") {
		p.errorf(1, "save the file as UTF-8 without a byte order mark", "file starts with a byte order mark")
		return nil, p.errs
	}
	start := p.frontMatter(lines)
	for i := start; i < len(lines); i++ {
		p.line(i+1, lines[i])
	}
	if p.fence != "" {
		p.errorf(p.fLine, "close it with a matching fence line", "code fence is never closed")
	}
	p.finishStep()
	if len(p.rb.Steps) == 0 && len(p.errs) == 0 {
		p.errorf(max(len(lines), 1), "add at least one step: a heading '## <id>: <title>' followed by instructions", "runbook has no steps")
	}
	if len(p.rb.Steps) > MaxSteps {
		p.errorf(p.rb.Steps[MaxSteps].Line, "split the runbook", "runbook has %d steps, more than the %d allowed", len(p.rb.Steps), MaxSteps)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.rb, nil
}

// frontMatter parses the leading `---` block and returns the index of the
// first line after it.
func (p *parser) frontMatter(lines []string) int {
	const hint = "start the file with '---', then 'title: ...' and 'version: ...' lines, then '---'"
	if len(lines) == 0 || strings.TrimRight(lines[0], " \t") != "---" {
		p.errorf(1, hint, "runbook does not start with a front matter block")
		return 0
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if strings.TrimRight(lines[i], " \t") == "---" {
			end = i
			break
		}
	}
	if end < 0 {
		p.errorf(1, "add a closing '---' line after the title and version", "front matter block is never closed")
		return len(lines)
	}
	seen := map[string]int{}
	for i := 1; i < end; i++ {
		ln, l := i+1, lines[i]
		if strings.TrimSpace(l) == "" {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !fmKeyRe.MatchString(k) {
			p.errorf(ln, "write one 'key: value' per line", "front matter line is not 'key: value'")
			continue
		}
		if prev, dup := seen[k]; dup {
			p.errorf(ln, fmt.Sprintf("keep only one (the first is on line %d)", prev), "front matter key %q given twice", k)
			continue
		}
		seen[k] = ln
		switch {
		case v == "":
			p.errorf(ln, "give it a value on the same line", "front matter key %q is empty", k)
			continue
		case strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "'"):
			p.errorf(ln, "remove the quotes; values are taken literally to the end of the line", "front matter value of %q is quoted", k)
			continue
		case v == "|" || v == ">" || strings.HasPrefix(v, "|-") || strings.HasPrefix(v, ">-"):
			p.errorf(ln, "write the value on one line", "front matter value of %q is a multi-line block", k)
			continue
		}
		switch k {
		case "title":
			p.rb.Title = v
		case "version":
			p.rb.Version = v
		case "description":
			p.rb.Description = v
		default:
			p.errorf(ln, "use only title, version and description", "unknown front matter key %q", k)
		}
	}
	if _, ok := seen["title"]; !ok {
		p.errorf(1, "add a 'title: ...' line to the front matter", "front matter has no title")
	}
	if _, ok := seen["version"]; !ok {
		p.errorf(1, "add a 'version: ...' line to the front matter (bump it on every change)", "front matter has no version")
	}
	return end + 1
}

// fenceMarker returns the fence string a line opens, or "".
func fenceMarker(l string) string {
	t := strings.TrimLeft(l, " ")
	if len(l)-len(t) > 3 {
		return ""
	}
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(t) && t[n] == c {
			n++
		}
		if n >= 3 {
			return t[:n]
		}
	}
	return ""
}

// line handles one body line (1-based number ln).
func (p *parser) line(ln int, l string) {
	if p.fence != "" {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, p.fence) && strings.Trim(t, p.fence[:1]) == "" {
			p.fence = ""
		}
		p.body(ln, l)
		return
	}
	if m := fenceMarker(l); m != "" {
		if p.cur != nil && p.cur.checklist {
			p.afterChecklist(ln)
			return
		}
		p.fence, p.fLine = m, ln
		p.body(ln, l)
		return
	}
	if level, indent := headingLevel(l); level > 0 {
		if indent {
			p.errorf(ln, "start headings at the beginning of the line", "indented heading")
			return
		}
		switch {
		case level == 2:
			p.finishStep()
			p.startStep(ln, strings.TrimSpace(l[2:]))
			return
		case level == 1 && p.cur != nil:
			p.errorf(ln, "use '## <id>: <title>' for a new step or '###' for a heading inside a step", "level-1 heading inside step %q", p.cur.step.ID)
			return
		case p.cur != nil && p.cur.checklist:
			p.afterChecklist(ln)
			return
		}
		p.body(ln, l)
		return
	}
	if m := checkRe.FindStringSubmatch(l); m != nil {
		p.check(ln, strings.TrimSpace(m[1]))
		return
	}
	if m := directiveRe.FindStringSubmatch(l); m != nil {
		switch m[1] {
		case "Reveal", "Evidence", "Confirm":
			p.directive(ln, m[1], strings.TrimSpace(m[2]))
			return
		}
		if p.cur != nil && p.cur.checklist {
			p.errorf(ln, "use '- Reveal: name', '- Evidence: prompt' or '- Confirm: both-custodians', or make it a check '- [ ] text'", "unknown directive %q", m[1])
			return
		}
	}
	if nearCheckRe.MatchString(l) {
		if strings.HasPrefix(l, "- [x]") || strings.HasPrefix(l, "- [X]") {
			p.errorf(ln, "write checks unticked as '- [ ] text'; the operator ticks them during the session", "check is already ticked in the file")
		} else {
			p.errorf(ln, "write checks exactly as '- [ ] text' at the start of the line", "malformed check item")
		}
		return
	}
	if m := nearDirectiveRe.FindStringSubmatch(l); m != nil {
		p.errorf(ln, "write directives exactly as '- Reveal: name', '- Evidence: prompt' or '- Confirm: both-custodians'", "malformed %q directive", m[1])
		return
	}
	if p.cur != nil && p.cur.checklist {
		if strings.TrimSpace(l) == "" {
			return
		}
		p.afterChecklist(ln)
		return
	}
	p.body(ln, l)
}

func (p *parser) afterChecklist(ln int) {
	p.errorf(ln, "move instructions above the step's first checklist item, or start a new step with '## <id>: <title>'", "text after the checklist of step %q", p.cur.step.ID)
}

// headingLevel returns the ATX heading level of l (0 if none) and whether it
// is indented.
func headingLevel(l string) (int, bool) {
	t := strings.TrimLeft(l, " ")
	indent := len(l) - len(t)
	if indent > 3 {
		return 0, false
	}
	n := 0
	for n < len(t) && t[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (n < len(t) && t[n] != ' ' && t[n] != '\t') {
		return 0, false
	}
	return n, indent > 0
}

// body appends an instruction line to the current step (or the preamble).
func (p *parser) body(ln int, l string) {
	if p.cur == nil {
		return // preamble: free Markdown, not part of any step
	}
	p.cur.body = append(p.cur.body, l)
}

func (p *parser) startStep(ln int, h string) {
	id, title, ok := strings.Cut(h, ":")
	id, title = strings.TrimSpace(id), strings.TrimSpace(title)
	p.cur = &stepBuilder{step: Step{ID: id, Title: title, Line: ln}, seen: map[string]int{}}
	if !ok {
		p.errorf(ln, "write step headings as '## <id>: <title>', e.g. '## declare: Declare the incident'", "step heading has no id")
		return
	}
	if !idRe.MatchString(id) {
		p.errorf(ln, "use lowercase letters, digits and hyphens, at most 64, e.g. 'restore-sso'", "step id %q has invalid characters or length", id)
	} else if prev, dup := p.ids[id]; dup {
		p.errorf(ln, fmt.Sprintf("rename one of them (the first is on line %d)", prev), "duplicate step id %q", id)
	} else {
		p.ids[id] = ln
	}
	if title == "" {
		p.errorf(ln, "add a title after the colon", "step %q has an empty title", id)
	}
}

func (p *parser) finishStep() {
	b := p.cur
	if b == nil {
		return
	}
	p.cur = nil
	lo, hi := 0, len(b.body)
	for lo < hi && strings.TrimSpace(b.body[lo]) == "" {
		lo++
	}
	for hi > lo && strings.TrimSpace(b.body[hi-1]) == "" {
		hi--
	}
	if lo == hi {
		p.errorf(b.step.Line, "write what the operator must do between the heading and the checklist", "step %q has no instructions", b.step.ID)
	}
	b.step.Instructions = strings.Join(b.body[lo:hi], "\n")
	p.rb.Steps = append(p.rb.Steps, b.step)
}

// item registers a checklist item; it reports false (after recording an
// error) when the item is outside a step.
func (p *parser) item(ln int, what string) bool {
	if p.cur == nil {
		p.errorf(ln, "put checklist items under a step heading '## <id>: <title>'", "%s before the first step", what)
		return false
	}
	p.cur.checklist = true
	return true
}

func (p *parser) dup(ln int, key, what, value string) bool {
	if prev, ok := p.cur.seen[key+"\x00"+value]; ok {
		p.errorf(ln, fmt.Sprintf("remove one of them (the first is on line %d)", prev), "%s %q appears twice in step %q", what, value, p.cur.step.ID)
		return true
	}
	p.cur.seen[key+"\x00"+value] = ln
	return false
}

func (p *parser) check(ln int, text string) {
	if !p.item(ln, "check") {
		return
	}
	if text == "" {
		p.errorf(ln, "say what the operator must check", "empty check item")
		return
	}
	if !p.dup(ln, "check", "check", text) {
		p.cur.step.Checks = append(p.cur.step.Checks, text)
	}
}

func (p *parser) directive(ln int, key, v string) {
	if !p.item(ln, key+" directive") {
		return
	}
	s := &p.cur.step
	switch key {
	case "Reveal":
		if !secretRe.MatchString(v) {
			p.errorf(ln, "name one vault secret per line: letters, digits, '.', '_' or '-', e.g. '- Reveal: aws-root-password'", "invalid secret name %q", v)
			return
		}
		if !p.dup(ln, key, "secret", v) {
			s.Reveals = append(s.Reveals, v)
			s.revealLines = append(s.revealLines, ln)
		}
	case "Evidence":
		if v == "" {
			p.errorf(ln, "write the question the operator must answer, e.g. '- Evidence: Incident ticket URL'", "empty evidence prompt")
			return
		}
		if !p.dup(ln, key, "evidence prompt", v) {
			s.Evidence = append(s.Evidence, v)
		}
	case "Confirm":
		if v != confirmBoth {
			p.errorf(ln, "the only value is 'both-custodians'", "unknown confirm value %q", v)
			return
		}
		if !p.dup(ln, key, "confirm", v) {
			s.BothConfirm = true
		}
	}
}
