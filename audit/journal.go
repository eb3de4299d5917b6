package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"breakglass/internal/atomicfile"
	"breakglass/internal/events"
)

// Config holds what a Journal needs from its environment. The zero value
// uses the system clock.
type Config struct {
	// Now returns the current time. Its monotonic reading (if any) gives the
	// entries' mono offsets; tests inject a fake clock. Nil means time.Now.
	Now func() time.Time
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// journalFile is the part of *os.File a Journal writes through; tests
// replace it to simulate a full or read-only disk.
type journalFile interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Journal appends entries to one journal file. It is safe for concurrent use.
type Journal struct {
	mu      sync.Mutex
	path    string
	f       journalFile
	cfg     Config
	size    int64     // bytes of complete, fsynced lines
	start   time.Time // clock reading that mono offsets count from
	base    int64     // mono of the last entry when the journal was opened
	entries []Entry
	broken  error // set when the file's state is unknown; Append refuses
}

// Event types written by the journal itself (internal/events).
const (
	TypeJournalCreated  = events.JournalCreated  // data CreatedData
	TypeJournalRepaired = events.JournalRepaired // data RepairedData
)

// CreatedData is the data of the first entry of every journal.
type CreatedData = events.JournalCreatedData

// Create makes a new journal at path (which must not exist; mode 0600), fsyncs
// it and its directory, and writes the first entry, a journal.created event
// naming the session, with genesis data (nil allowed; never a secret).
func Create(path, session string, genesis any, cfg Config) (*Journal, error) {
	if session == "" {
		return nil, fmt.Errorf("creating journal %q: empty session id", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating journal %q: %w", path, err)
	}
	j := &Journal{path: path, f: f, cfg: cfg, start: cfg.now()}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("creating journal %q: %w", path, err)
	}
	if _, err := j.Append("breakglass", TypeJournalCreated, CreatedData{Session: session, Genesis: genesis}); err != nil {
		f.Close()
		os.Remove(path) // nothing was recorded; let the caller retry with the same path
		return nil, err
	}
	return j, nil
}

// Open opens an existing journal to resume a session. It parses and verifies
// every line; on damage it returns the verified entries before it and a
// *CorruptError (no Journal), and leaves the file untouched. Mono offsets of
// new entries continue from the last one.
func Open(path string, cfg Config) (*Journal, []Entry, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening journal %q: %w", path, err)
	}
	entries, err := Parse(f)
	if err != nil {
		f.Close()
		return nil, entries, fmt.Errorf("opening journal %q: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, entries, fmt.Errorf("opening journal %q: %w", path, err)
	}
	return resume(path, f, entries, st.Size(), cfg), entries, nil
}

// resume makes a Journal appending after entries, which fill size bytes.
func resume(path string, f journalFile, entries []Entry, size int64, cfg Config) *Journal {
	j := &Journal{path: path, f: f, cfg: cfg, start: cfg.now(), entries: entries, size: size}
	if n := len(entries); n > 0 {
		j.base = entries[n-1].Mono
	}
	return j
}

// RepairedData is the data of a journal.repaired event.
type RepairedData = events.JournalRepairedData

// OpenRepair is Open for a journal whose only damage is a torn final line
// (a write interrupted by a crash: Append had not returned, so no caller
// was told the event was recorded). It copies the torn bytes to
// PATH.torn-<sha256 prefix> and fsyncs that, truncates the journal to the
// last complete line, then appends a journal.repaired event with the removed
// bytes' length and SHA-256, so the repair is itself evidence. A last line
// that lacks only its newline but is a complete entry chaining to the one
// before it is not torn: it is kept and the newline added (see
// completeLastLine). Any other
// damage, including a torn first line (the journal was never started: begin
// a new session), is returned as from Open and nothing is changed. For an
// undamaged journal it behaves like Open.
func OpenRepair(path string, cfg Config) (*Journal, []Entry, error) {
	j, entries, err := Open(path, cfg)
	var ce *CorruptError
	if err == nil || !errors.As(err, &ce) || !ce.Torn || ce.Line == 1 && !ce.Complete {
		return j, entries, err
	}
	if ce.Complete {
		return completeLastLine(path, cfg)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, entries, fmt.Errorf("repairing journal %q: %w", path, err)
	}
	torn := make([]byte, ce.Bytes)
	if _, err := f.ReadAt(torn, ce.Offset); err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, entries, fmt.Errorf("repairing journal %q: reading line %d: %w", path, ce.Line, err)
	}
	sum := sha256.Sum256(torn)
	sumHex := hex.EncodeToString(sum[:])
	saved := path + ".torn-" + sumHex[:16]
	if err := atomicfile.Write(saved, torn, 0o600); err != nil {
		f.Close()
		return nil, entries, fmt.Errorf("repairing journal %q: keeping the torn line: %w", path, err)
	}
	if err := f.Truncate(ce.Offset); err != nil {
		f.Close()
		return nil, entries, fmt.Errorf("repairing journal %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, entries, fmt.Errorf("repairing journal %q: %w", path, err)
	}
	j = resume(path, f, entries, ce.Offset, cfg)
	e, err := j.Append("breakglass", TypeJournalRepaired, RepairedData{
		Line: ce.Line, Offset: ce.Offset, RemovedBytes: ce.Bytes, RemovedSHA256: sumHex,
		SavedAs: filepath.Base(saved), Reason: ce.Reason,
	})
	if err != nil {
		j.Close()
		return nil, entries, err
	}
	return j, append(entries, e), nil
}

// completeLastLine is OpenRepair for a journal whose last entry is whole
// and chained but lacks its newline: the entry is kept (it was recorded;
// removing it would lose an event, such as the one closing the session),
// the newline is appended and fsynced, and the journal is opened as Open
// does. No event is added, so the entries and head hash are unchanged.
func completeLastLine(path string, cfg Config) (*Journal, []Entry, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("repairing journal %q: %w", path, err)
	}
	_, werr := f.Write([]byte{'\n'})
	if werr == nil {
		werr = f.Sync()
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("repairing journal %q: adding the last entry's newline: %w", path, werr)
	}
	return Open(path, cfg)
}

// ErrJournalBroken is returned by Append after a failure that left the file
// in an unknown state (fsync or truncate failed). Reopen the journal.
var ErrJournalBroken = errors.New("journal is in an unknown state after a failed write; reopen it")

// Append records one event: it marshals data (a struct or map that becomes a
// JSON object, or nil), writes the line in a single write and fsyncs before
// returning. If the write fails (disk full, read-only) the file is truncated
// back to its last complete line, the error is returned, and Append may be
// retried once the cause is fixed. Data with a field named like a secret is
// refused with ErrSecretField.
func (j *Journal) Append(actor, typ string, data any) (Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.broken != nil {
		return Entry{}, fmt.Errorf("appending %q to journal %q: %w", typ, j.path, j.broken)
	}
	if j.f == nil {
		return Entry{}, fmt.Errorf("appending %q to journal %q: journal is closed", typ, j.path)
	}
	if actor == "" || typ == "" {
		return Entry{}, fmt.Errorf("appending to journal %q: actor and type must not be empty", j.path)
	}
	raw, err := encodeData(data)
	if err != nil {
		return Entry{}, fmt.Errorf("appending %q to journal %q: %w", typ, j.path, err)
	}
	now := j.cfg.now()
	mono := j.base + int64(now.Sub(j.start))
	e := Entry{
		Seq: uint64(len(j.entries) + 1), Time: now.UTC().Format(time.RFC3339Nano),
		Mono: mono, Actor: actor, Type: typ, Data: raw, Prev: j.head(),
	}
	floor := j.base
	if n := len(j.entries); n > 0 {
		floor = j.entries[n-1].Mono
	}
	if e.Mono < floor {
		e.Mono = floor // a clock that went back must not break the chain
	}
	if e.Hash, err = e.ComputeHash(); err != nil {
		return Entry{}, err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return Entry{}, fmt.Errorf("appending %q to journal %q: %w", typ, j.path, err)
	}
	line = append(line, '\n')
	if len(line) > MaxLineBytes {
		return Entry{}, fmt.Errorf("appending %q to journal %q: entry is %d bytes, the limit is %d", typ, j.path, len(line), MaxLineBytes)
	}
	n, werr := j.f.Write(line)
	if werr == nil && n != len(line) {
		werr = io.ErrShortWrite
	}
	if werr == nil {
		werr = j.f.Sync()
		if werr != nil {
			werr = fmt.Errorf("fsync: %w", werr)
		}
	}
	if werr != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.broken = fmt.Errorf("%w: %v (truncate: %v)", ErrJournalBroken, werr, terr)
		} else if serr := j.f.Sync(); serr != nil {
			j.broken = fmt.Errorf("%w: %v (fsync after truncate: %v)", ErrJournalBroken, werr, serr)
		}
		return Entry{}, fmt.Errorf("appending %q to journal %q: %w; the event was not recorded, free space or fix the disk and retry", typ, j.path, werr)
	}
	j.size += int64(len(line))
	j.entries = append(j.entries, e)
	return e, nil
}

func (j *Journal) head() string {
	if n := len(j.entries); n > 0 {
		return j.entries[n-1].Hash
	}
	return ZeroHash
}

// Head returns the hash of the last entry.
func (j *Journal) Head() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.head()
}

// Len returns the number of entries.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries)
}

// Entries returns a copy of every entry recorded so far.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, len(j.entries))
	for i, e := range j.entries {
		e.Data = bytes.Clone(e.Data)
		out[i] = e
	}
	return out
}

// EventRecorder adapts a Journal to interfaces that record events with
// Append(actor, typ, data) error, such as runbook/session.Recorder.
type EventRecorder struct{ Journal *Journal }

// Append records one event durably; see Journal.Append.
func (r EventRecorder) Append(actor, typ string, data any) error {
	_, err := r.Journal.Append(actor, typ, data)
	return err
}

// Path returns the journal file's path.
func (j *Journal) Path() string { return j.path }

// Close closes the file. Entries are already durable; Close adds nothing.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// encodeData marshals event data, which must be nil or encode as a JSON
// object with no field named like a secret.
func encodeData(data any) (json.RawMessage, error) {
	if data == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encoding event data: %w", err)
	}
	if string(b) == "null" { // a nil map or pointer
		b = []byte("{}")
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("event data must encode as a JSON object")
	}
	if err := checkNoSecrets(b); err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}
