package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxLineBytes bounds one journal line; longer lines are reported as corrupt.
const MaxLineBytes = 1 << 20

// CorruptError reports the first damaged line of a journal file. Every line
// before it parsed and verified.
type CorruptError struct {
	Line   int    // 1-based line number
	Offset int64  // byte offset where the line starts
	Reason string // what is wrong, for people
	// Torn is true when the damage is only an incomplete final line (no
	// newline at end of file), the trace of a write interrupted by a crash
	// or power loss. OpenRepair can remove such a line; nothing else.
	Torn bool
	// Bytes is the number of bytes from Offset to the end of the file.
	Bytes int64
	// Complete is true when the final line lacks only its newline: it is a
	// canonical entry that chains to the one before it (a crash after the
	// entry's bytes but before its newline reached the disk). OpenRepair
	// keeps such an entry and adds the newline. Complete implies Torn.
	Complete bool
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal line %d (byte %d): %s", e.Line, e.Offset, e.Reason)
}

// ReadFile reads and verifies the journal at path; see Parse.
func ReadFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading journal %q: %w", path, err)
	}
	defer f.Close()
	entries, err := Parse(f)
	if err != nil {
		return entries, fmt.Errorf("reading journal %q: %w", path, err)
	}
	return entries, nil
}

// Parse reads a journal strictly: every line must be a canonical Entry ending
// in a newline, and the chain must verify (see Verify). On the first problem
// it returns the entries before it and a *CorruptError with the line number.
// An empty input is a *CorruptError too: a journal always has its first entry.
func Parse(r io.Reader) ([]Entry, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		entries []Entry
		offset  int64
		prev    = &Entry{Hash: ZeroHash}
	)
	for line := 1; ; line++ {
		b, err := readLine(br)
		if err == io.EOF && len(b) == 0 {
			if line == 1 {
				return nil, &CorruptError{Line: 1, Reason: "journal is empty (its first entry was never written)", Torn: true}
			}
			return entries, nil
		}
		bad := func(torn bool, format string, a ...any) ([]Entry, error) {
			rest := int64(len(b))
			if !torn {
				n, _ := io.Copy(io.Discard, br)
				rest += n
			}
			return entries, &CorruptError{Line: line, Offset: offset, Reason: fmt.Sprintf(format, a...), Torn: torn, Bytes: rest}
		}
		switch {
		case errors.Is(err, errLineTooLong):
			return bad(false, "line is longer than %d bytes", MaxLineBytes)
		case err == io.EOF:
			if e, derr := decodeEntry(b); derr == nil && verifyNextLine(prev, &e, uint64(line), line == 1, b) == nil {
				return entries, &CorruptError{Line: line, Offset: offset, Torn: true, Complete: true, Bytes: int64(len(b)),
					Reason: "last entry is complete but lacks its newline (a write was interrupted just before it)"}
			}
			return bad(true, "incomplete last line (%d bytes, no newline): a write was interrupted", len(b))
		case err != nil:
			return entries, fmt.Errorf("reading journal line %d: %w", line, err)
		}
		e, derr := decodeEntry(b[:len(b)-1])
		if derr != nil {
			return bad(false, "%v", derr)
		}
		if verr := verifyNextLine(prev, &e, uint64(line), line == 1, b[:len(b)-1]); verr != nil {
			var ce *ChainError
			if errors.As(verr, &ce) {
				return bad(false, "%s", ce.Reason)
			}
			return bad(false, "%v", verr)
		}
		entries = append(entries, e)
		prev = &entries[len(entries)-1]
		offset += int64(len(b))
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns one line including its '\n', or the final bytes and io.EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	for {
		chunk, err := br.ReadSlice('\n')
		buf.Write(chunk)
		if buf.Len() > MaxLineBytes {
			return buf.Bytes(), errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return buf.Bytes(), err
	}
}
