package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"

	"breakglass/console"
)

type unfinishedChoice struct {
	resume, abort, reason string
	quit                  bool
}

// askUnfinished asks on the terminal what to do with an unfinished session.
func askUnfinished(e *env, u console.Unfinished) (unfinishedChoice, error) {
	desc := fmt.Sprintf("Unfinished session %s: operator %q, ticket %q, stopped in %s, last event %s.",
		u.ID, u.State.Declaration.Operator, u.State.Declaration.Ticket, u.Phase, u.Last)
	if e.stdinFile == nil || !term.IsTerminal(int(e.stdinFile.Fd())) {
		return unfinishedChoice{}, fmt.Errorf("%s\nResume it with --resume %s, or close it out with --abort %s --reason TEXT", desc, u.ID, u.ID)
	}
	fmt.Fprintln(e.stdout, desc)
	r := bufio.NewReader(e.stdin)
	for {
		fmt.Fprint(e.stdout, "[r] resume it   [a] close it out as aborted   [q] quit: ")
		line, err := r.ReadString('\n')
		if err != nil && err != io.EOF {
			return unfinishedChoice{}, err
		}
		switch strings.TrimSpace(strings.ToLower(line)) {
		case "r":
			return unfinishedChoice{resume: u.ID}, nil
		case "a":
			fmt.Fprint(e.stdout, "Why is it aborted? ")
			reason, _ := r.ReadString('\n')
			if reason = strings.TrimSpace(reason); reason == "" {
				fmt.Fprintln(e.stdout, "A reason is required.")
				continue
			}
			return unfinishedChoice{abort: u.ID, reason: reason}, nil
		case "q":
			return unfinishedChoice{quit: true}, nil
		}
		if err == io.EOF {
			return unfinishedChoice{}, errors.New("no answer on standard input")
		}
	}
}
