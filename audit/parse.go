package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
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

// reportPayload is a strictly parsed report payload (see parseReport).
type reportPayload struct {
	rep *Report
	err error // as ParsePayload's: ErrNotCanonical with rep set, or nil
	// chained is set when chainErr is Verify(rep.Journal.Entries), computed
	// while parsing; otherwise the caller runs Verify.
	chained  bool
	chainErr error
}

// parseReport is ParsePayload for the verifier, and Verify of the
// embedded journal alongside. It accepts and refuses exactly what
// ParsePayload does; parseReportFast decides most payloads without
// re-encoding the whole document, and when it cannot, ParsePayload
// decides and gives the reason.
func parseReport(payload []byte) reportPayload {
	if p, ok := parseReportFast(payload); ok {
		return p
	}
	rep, err := ParsePayload(payload)
	return reportPayload{rep: rep, err: err}
}

// journalMarker starts the embedded journal in a canonical payload
// (Report.Journal, whose first member is head); entriesMarker follows its
// count. They only locate the entries: parseReportFast proves the place.
var (
	journalMarker = []byte(`,"journal":{"head":"`)
	entriesMarker = []byte(`,"entries":[`)
)

// parseReportFast checks a payload in two parts, which together are the
// whole-document check of ParsePayload (strict decoding, and the
// re-encoding equal to the payload):
//
//   - the journal's entries array, element by element: each is strictly
//     decoded (unknown fields refused) and must be the canonical encoding
//     of its Entry (json.Marshal, as a journal file's line must be),
//     separated by single commas; each entry's hash is computed from those
//     bytes (hashCanonical) and the chain verified as Verify does;
//   - the rest: the payload with the entries array replaced by [] must
//     pass ParsePayload itself, and re-encoding that report with no
//     entries (null) must change exactly those two bytes, which proves the
//     [] is where Report.Journal.Entries is encoded.
//
// json.Marshal encodes a struct member by member and a slice element by
// element, so the payload is then exactly MarshalPayload of the report
// with the entries put back: canonical, as ParsePayload requires. Any
// other shape, a non-canonical entry, or a failure of the rest returns
// !ok, and ParsePayload decides (and explains) instead.
func parseReportFast(payload []byte) (reportPayload, bool) {
	j := bytes.Index(payload, journalMarker)
	if j < 0 {
		return reportPayload{}, false
	}
	k := bytes.Index(payload[j+len(journalMarker):], entriesMarker)
	if k < 0 {
		return reportPayload{}, false
	}
	start := j + len(journalMarker) + k + len(entriesMarker) - 1 // the '['
	entries, end, chainErr, ok := parseEntriesArray(payload[start:], entriesCap(payload[j+len(journalMarker):j+len(journalMarker)+k], len(payload)-start))
	if !ok {
		return reportPayload{}, false
	}
	end += start // just after the ']'
	rest := make([]byte, 0, len(payload)-(end-start)+2)
	rest = append(append(append(rest, payload[:start]...), "[]"...), payload[end:]...)
	rep, err := ParsePayload(rest)
	if err != nil || rep.Journal.Entries == nil || len(rep.Journal.Entries) != 0 {
		return reportPayload{}, false
	}
	rep.Journal.Entries = nil
	null, err := MarshalPayload(rep)
	if err != nil || len(null) != len(rest)+2 || !bytes.Equal(null[:start], rest[:start]) ||
		string(null[start:start+4]) != "null" || !bytes.Equal(null[start+4:], rest[start+2:]) {
		return reportPayload{}, false
	}
	rep.Journal.Entries = entries
	return reportPayload{rep: rep, chained: true, chainErr: chainErr}, true
}

// entriesCap is the capacity to allocate for the entries: the journal's
// count (the text between the markers is head","count":N), bounded by the
// number of entries that fit in the rest of the payload. Only a size hint.
func entriesCap(b []byte, rest int) int {
	_, after, ok := bytes.Cut(b, []byte(`","count":`))
	n, err := strconv.Atoi(string(after))
	if !ok || err != nil || n < 0 {
		return 0
	}
	return min(n, rest/minEntryBytes)
}

// minEntryBytes is less than any canonical entry's length (its prev and
// hash alone are 128 hex digits).
const minEntryBytes = 128

// parseEntriesArray decodes b's leading JSON array of canonical entries,
// verifying their chain, and returns them, the index just after the
// array, and the chain's first error (as Verify's). ok is false unless
// every element is a canonical Entry and the array has no spacing. n is
// the expected number of entries (a capacity hint).
func parseEntriesArray(b []byte, n int) (entries []Entry, end int, chainErr error, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if t, err := dec.Token(); err != nil || t != json.Delim('[') || dec.InputOffset() != 1 {
		return nil, 0, nil, false
	}
	pos := int64(1) // where the next element (or its comma) must start
	prev := &Entry{Hash: ZeroHash}
	entries = make([]Entry, 0, n) // [] decodes to an empty slice, not nil
	for i := 0; dec.More(); i++ {
		if dec.InputOffset() != pos {
			return nil, 0, nil, false
		}
		if i > 0 {
			if b[pos] != ',' {
				return nil, 0, nil, false
			}
			pos++
		}
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return nil, 0, nil, false
		}
		next := dec.InputOffset()
		line := b[pos:next]
		if canonicalEntry(&e, line) != nil {
			return nil, 0, nil, false
		}
		if chainErr == nil {
			chainErr = verifyNextLine(prev, &e, uint64(i+1), i == 0, line)
		}
		entries = append(entries, e)
		prev = &entries[len(entries)-1]
		pos = next
	}
	if dec.InputOffset() != pos {
		return nil, 0, nil, false
	}
	if t, err := dec.Token(); err != nil || t != json.Delim(']') {
		return nil, 0, nil, false
	}
	if len(entries) == 0 {
		chainErr = ErrEmptyJournal
	}
	return entries, int(pos) + 1, chainErr, true
}
