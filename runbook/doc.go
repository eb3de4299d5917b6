// Package runbook reads, validates and steps through break-glass runbooks.
//
// # Why Markdown with a tiny front matter
//
// A runbook is reviewed in git by people who are not Go programmers, and read
// under stress on the day everything else is broken. Markdown renders as a
// readable document on any git forge (task lists become tick boxes), diffs
// line by line in code review, and needs no tooling to read on paper. YAML
// would need a parser dependency, has famous footguns (`no` becomes false,
// indentation mistakes silently change structure) and renders as a wall of
// text on a forge. The format below is a strict subset of CommonMark that we
// parse ourselves, line by line, so every error can name its file and line.
//
// # Format
//
//	---
//	title: Cloud root-account recovery
//	version: 3
//	description: Reach the AWS console as root when SSO is down.
//	---
//
//	# Any heading and preamble prose (shown to the operator, not a step)
//
//	## declare: Declare the incident
//
//	Instructions in Markdown: paragraphs, lists, code fences, ### headings.
//
//	- [ ] Incident ticket opened
//	- [ ] Incident channel created
//	- Evidence: Incident ticket URL
//	- Reveal: aws-root-password
//	- Confirm: both-custodians
//
// Rules, each enforced with a file:line error:
//
//   - The file starts with a front matter block between two `---` lines. Each
//     line inside is `key: value`; keys are title (required), version
//     (required) and description (optional); unknown or repeated keys are
//     errors.
//   - Each step starts with a level-2 heading `## <id>: <title>`. The id is
//     lowercase letters, digits and hyphens (at most 64, starting with a letter
//     or digit) and unique in the file; the title is not empty. Text before the
//     first step is preamble.
//   - A step's body starts with its instructions (at least one non-blank line
//     of Markdown). It ends with a checklist: a Markdown list whose items are
//     checks `- [ ] text`, or directives `- Reveal: secret-name`,
//     `- Evidence: prompt` and `- Confirm: both-custodians`. Once the checklist
//     has started, only checklist items and blank lines may follow until the
//     next step heading.
//   - Unknown directives (`- Foo: x` inside the checklist), near misses
//     anywhere (`Reveal: x` without the dash, `- reveals: x`), pre-ticked
//     checks `- [x]`, a secret revealed twice in one step, a repeated check or
//     evidence prompt in one step, and a file without steps are errors.
//   - Lines inside fenced code blocks (``` or ~~~) are instructions and are
//     never read as headings or directives.
//
// Directives are list items rather than bare `Key: value` lines because a
// forge joins consecutive bare lines into one paragraph; as list items they
// render one per line next to the tick boxes.
//
// # State
//
// [Progress] is the step state machine: order is enforced, a step completes
// only when every check is ticked, every evidence prompt answered and, if
// asked, two distinct custodians confirmed; skipping needs a reason. Every
// transition is an [Event], and replaying recorded events rebuilds the same
// state. The session engine built on it lives in package runbook/session.
package runbook
