package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestRunRestoresTerminal runs the real program on a pseudo-terminal, quits
// through the confirmation, and checks the alternate screen was entered and
// left again and that Run reports ErrQuit.
func TestRunRestoresTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty on this system: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// A deadlock guard only: the test never waits on it in the normal path.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// q, the word quit, then enter — sent as a CSI u sequence because the pty
	// is still in cooked mode (which turns \r into \n) until Run makes it raw.
	if _, err := io.WriteString(ptmx, "qquit\x1b[13u"); err != nil {
		t.Fatal(err)
	}
	err = Run(ctx, newFake(), Options{In: tty, Out: tty, Env: []string{"TERM=xterm-256color", "NO_COLOR=1"}})
	tty.Close()
	<-done
	if !errors.Is(err, ErrQuit) {
		t.Fatalf("Run = %v, want ErrQuit", err)
	}
	mu.Lock()
	defer mu.Unlock()
	s := out.String()
	for _, want := range []string{"\x1b[?1049h", "\x1b[?1049l", "Preflight"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	if sgrColour.MatchString(s) {
		t.Errorf("colour sent despite NO_COLOR: %q", sgrColour.FindString(s))
	}
}

// sgrColour matches an SGR sequence setting a foreground colour.
var sgrColour = regexp.MustCompile(`\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])(?:;[0-9;]*)?m`)
