package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"breakglass/audit"
)

func init() {
	register(command{name: "journal verify", summary: "check a session journal's hash chain; name the first damaged line", run: runJournalVerify})
	register(command{name: "journal repair", summary: "remove a torn last line (crash mid-write), keeping its bytes and recording the repair", run: runJournalRepair})
}

const journalUsage = `Usage: breakglass journal verify FILE
       breakglass journal repair FILE

verify reads a session journal (STATE-DIR/SESSION.journal), checks every
line's hash chain and prints the entry count and head hash, or the first
damaged line and what is wrong with it. Exit 0 only if the whole journal is
intact.

repair is for a journal whose last line was cut off by a crash during a
write (no caller was ever told that event was recorded). It copies the torn
bytes to FILE.torn-<hash>, removes them, and appends a journal.repaired
event saying so. A last entry that is complete and chained but lacks only
its newline is kept: repair adds the newline. Any other damage is refused
and the file is left untouched.
`

func runJournalVerify(_ context.Context, e *env, args []string) int {
	path, code := journalArg("journal verify", e, args)
	if code >= 0 {
		return code
	}
	entries, err := audit.ReadFile(path)
	if err == nil {
		err = audit.Verify(entries)
	}
	if err != nil {
		printf(e.stderr, "✗ %s: %v\n", path, err)
		var ce *audit.CorruptError
		if errors.As(err, &ce) && ce.Complete {
			printf(e.stderr, "  The last entry is whole but lacks its newline: 'breakglass journal repair %s' adds it and keeps the entry.\n", path)
		} else if errors.As(err, &ce) && ce.Torn {
			printf(e.stderr, "  The last line was cut off by a crash: 'breakglass journal repair %s' keeps its bytes aside and records the repair.\n", path)
		}
		return 1
	}
	head := audit.ZeroHash
	if n := len(entries); n > 0 {
		head = entries[n-1].Hash
	}
	printf(e.stdout, "✓ %s: %d entries, hash chain intact, head %s\n", path, len(entries), head)
	return 0
}

func runJournalRepair(_ context.Context, e *env, args []string) int {
	path, code := journalArg("journal repair", e, args)
	if code >= 0 {
		return code
	}
	j, entries, err := audit.OpenRepair(path, audit.Config{})
	if err != nil {
		printf(e.stderr, "✗ %s: %v\n  Nothing was changed.\n", path, err)
		return 1
	}
	defer j.Close()
	printf(e.stdout, "✓ %s: %d entries, hash chain intact, head %s\n", path, len(entries), j.Head())
	return 0
}

// journalArg parses the single FILE argument; code is -1 to go on.
func journalArg(name string, e *env, args []string) (string, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, journalUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", 0
		}
		return "", 2
	}
	if fs.NArg() != 1 {
		printf(e.stderr, "breakglass %s: give exactly one journal FILE\n", name)
		fs.Usage()
		return "", 2
	}
	return fs.Arg(0), -1
}
