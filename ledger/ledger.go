// Package ledger is the auditor's record of every use of a breakglass vault:
// a directory on the auditor's machine holding each imported report and
// vault file, content-addressed, and an append-only, hash-chained index.
//
// Layout of DIR:
//
//	ledger.jsonl  the index: one Entry per line, canonical JSON, each with
//	              seq, time, type, data, prev (the previous entry's hash) and
//	              hash (SHA-256 over a domain line and the entry without hash)
//	head          {"seq":N,"hash":"…"}: the last entry, so a cut tail is seen
//	objects/HEX   each imported report (JWS), vault file and reviewer enrolment
//	              record, named by its SHA-256
//
// Contract:
//   - Every operation first re-checks the whole directory (every entry's
//     hash, number and link, the head, every object's content, nothing
//     extra) and refuses with a *TamperError naming what was edited,
//     deleted, reordered or added. A rewrite of the whole directory with
//     consistent hashes is not detectable from inside it: note the head an
//     import prints, or keep a copy elsewhere.
//   - A report is imported only after audit.VerifyReport passes against a
//     pinned vault (a vault file, verified completely, or the fingerprint of
//     a vault already in the ledger) and its vault fingerprint is that
//     vault's: a report that fails, belongs to another vault or is already
//     in the ledger is refused, and a refusal adds nothing. No report is
//     verified against an unpinned roster.
//   - Status re-verifies every stored vault and report before relying on
//     them and lists every session and the open items. Its JSON
//     (StatusFormat) is described by status.schema.json; Export writes one
//     Event per line (EventSchema), described by export.schema.json. Both
//     formats only ever gain fields.
//   - A reviewer is enrolled (AddReviewer) from the enrolment record
//     "breakglass enrol" wrote, its keys' attestations verified with the
//     same trust as vaults, and stored as an object. A review signed on an
//     enrolled reviewer's YubiKey (SignedReview) covers a domain-separated
//     ReviewRecord binding this ledger, the exact report, the key and the
//     time; a key not enrolled or a signature that does not verify is
//     refused. Status verifies every signed review again and flags one that
//     does not verify (the review then does not count); a review recorded
//     without a key (Review) is the auditor's statement, flagged "unsigned
//     review".
//   - Announcements are recorded as the on-call states them. An announce
//     code is checked (internal/announce) before it is recorded and matched
//     with the code derived from each report.
//   - Status is computed as of the configured clock (Config.Now), so an
//     auditor may ask what is open as of another time (status --now); the
//     commands that write entries always run on the real clock.
//   - Nothing here holds a secret: reports and vault files carry names and
//     ciphertexts only.
package ledger

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"breakglass/audit"
	"breakglass/vault"
)

// Trust is the auditor's trust inputs; nothing is fetched.
type Trust struct {
	// Report holds the attestation inputs for reports (Roots,
	// NonProduction, AttestationCheck). Its Roster is ignored: the ledger
	// sets it from the pinned vault.
	Report audit.VerifyOptions
	// Vault holds the attestation inputs for a vault's roster.
	Vault vault.VerifyOptions
}

// Config is what a Ledger needs.
type Config struct {
	Dir   string
	Trust Trust
	// Now is the clock (for entry times, drill deadlines); nil is time.Now.
	Now func() time.Time
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// Ledger is an open, integrity-checked ledger directory. It holds an
// exclusive lock on the index until Close.
type Ledger struct {
	cfg     Config
	lock    *os.File // nil while fresh
	entries []Entry
	fresh   []byte // the first index line of a ledger not yet on disk
}

// Open checks the ledger in cfg.Dir and locks it. With create, a missing or
// empty directory is a new ledger, written to disk only when its first
// record is (so a refused first import leaves nothing behind).
func Open(cfg Config, create bool) (*Ledger, error) {
	if cfg.Dir == "" {
		return nil, errors.New("no ledger directory given (--ledger DIR)")
	}
	if create {
		if fresh, err := isFresh(cfg.Dir); err != nil || fresh {
			return newFresh(cfg), err
		}
	}
	lock, err := os.OpenFile(filepath.Join(cfg.Dir, indexFile), os.O_RDONLY, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(cfg.Dir); serr != nil {
			return nil, fmt.Errorf("opening ledger %q: no such directory (import a report or vault to create it)", cfg.Dir)
		}
		_, cerr := check(cfg.Dir) // names the missing index
		return nil, cerr
	case err != nil:
		return nil, fmt.Errorf("opening ledger %q: %w", cfg.Dir, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("opening ledger %q: another ledger command is using it (%v): try again when it has finished", cfg.Dir, err)
	}
	entries, err := check(cfg.Dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &Ledger{cfg: cfg, lock: lock, entries: entries}, nil
}

// Close releases the lock. The Ledger must not be used after.
func (l *Ledger) Close() error {
	if l.lock == nil {
		return nil
	}
	return l.lock.Close()
}

// Entries returns a copy of the index.
func (l *Ledger) Entries() []Entry { return append([]Entry(nil), l.entries...) }

// Head returns the last entry's seq and hash: note them to detect later a
// rewrite of the whole directory.
func (l *Ledger) Head() (uint64, string) {
	e := l.entries[len(l.entries)-1]
	return e.Seq, e.Hash
}

// isFresh reports whether dir does not exist or is empty.
func isFresh(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("opening ledger %q: %w", dir, err)
	}
	return len(ents) == 0, nil
}

// newFresh is a ledger that exists only in memory until materialize.
func newFresh(cfg Config) *Ledger {
	e, line, _ := newEntry(nil, cfg.now().Format(time.RFC3339Nano), TypeCreated, map[string]string{"format": IndexFormat})
	return &Ledger{cfg: cfg, entries: []Entry{e}, fresh: line}
}

// materialize writes a fresh ledger's directory, objects/, first entry and
// head, and takes the lock; it does nothing for a ledger already on disk.
func (l *Ledger) materialize() error {
	if l.fresh == nil {
		return nil
	}
	dir := l.cfg.Dir
	if err := os.MkdirAll(filepath.Join(dir, objectsDir), 0o700); err != nil {
		return fmt.Errorf("creating ledger %q: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, indexFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating ledger %q: %w (was it created by another command meanwhile?)", dir, err)
	}
	_, err = f.Write(l.fresh)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = writeHead(dir, l.entries[0])
	}
	if err == nil {
		l.lock, err = os.OpenFile(filepath.Join(dir, indexFile), os.O_RDONLY, 0)
	}
	if err == nil {
		err = unix.Flock(int(l.lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		return fmt.Errorf("creating ledger %q: %w", dir, err)
	}
	l.fresh = nil
	return nil
}

// appendEntry writes one entry: the line in one write, fsynced, then the head.
func (l *Ledger) appendEntry(typ string, data any) (Entry, error) {
	if err := l.materialize(); err != nil {
		return Entry{}, err
	}
	prev := l.entries[len(l.entries)-1]
	e, line, err := newEntry(&prev, l.cfg.now().Format(time.RFC3339Nano), typ, data)
	if err != nil {
		return Entry{}, err
	}
	path := filepath.Join(l.cfg.Dir, indexFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return Entry{}, fmt.Errorf("appending to ledger index %q: %w", path, err)
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.Write(line)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if st != nil {
			_ = f.Truncate(st.Size()) // leave the index as it was
		}
		f.Close()
		return Entry{}, fmt.Errorf("appending to ledger index %q: %w (nothing was recorded)", path, err)
	}
	if err := f.Close(); err != nil {
		return Entry{}, fmt.Errorf("appending to ledger index %q: %w", path, err)
	}
	if err := writeHead(l.cfg.Dir, e); err != nil {
		return Entry{}, fmt.Errorf("%w (entry %d is in the index; the next command will report it as added after the head)", err, e.Seq)
	}
	l.entries = append(l.entries, e)
	return e, nil
}

func writeHead(dir string, e Entry) error {
	b := fmt.Appendf(nil, "{\"seq\":%d,\"hash\":%q}\n", e.Seq, e.Hash)
	if err := writeFileAtomic(filepath.Join(dir, headFile), b); err != nil {
		return fmt.Errorf("writing ledger head: %w", err)
	}
	return nil
}

// putObject stores b under its SHA-256 and returns the name.
func (l *Ledger) putObject(b []byte) (string, error) {
	if err := l.materialize(); err != nil {
		return "", err
	}
	h := sha256Hex(b)
	path := filepath.Join(l.cfg.Dir, objectsDir, h)
	if existing, err := os.ReadFile(path); err == nil && sha256Hex(existing) == h {
		return h, nil
	}
	if err := writeFileAtomic(path, b); err != nil {
		return "", fmt.Errorf("storing object %s: %w", short(h), err)
	}
	return h, nil
}

// removeObject undoes putObject when the entry could not be written.
func (l *Ledger) removeObject(h string) {
	_ = os.Remove(filepath.Join(l.cfg.Dir, objectsDir, h))
}

// object reads a stored object, checking its content against its name.
func (l *Ledger) object(h string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(l.cfg.Dir, objectsDir, h))
	if err != nil {
		return nil, fmt.Errorf("reading ledger object %s: %w", short(h), err)
	}
	if sha256Hex(b) != h {
		return nil, &TamperError{Dir: l.cfg.Dir, Problems: []Problem{{KindEdited, "object " + short(h), "its content no longer matches its SHA-256 name"}}}
	}
	return b, nil
}

// writeFileAtomic writes path through a temporary file in the same
// directory: write, fsync, rename, fsync the directory.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
