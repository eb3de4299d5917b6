package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// IndexFormat is the data of the first index entry (TypeCreated).
const IndexFormat = "breakglass-ledger/1"

// ZeroHash is the prev of the first index entry.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// hashDomain separates index entry hashes from the session journal's.
const hashDomain = "breakglass-ledger-entry-v1\n"

// Index entry types.
const (
	TypeCreated        = "ledger.created"    // {format}
	TypeVaultImported  = "vault.imported"    // VaultData
	TypeReportImported = "report.imported"   // ReportData
	TypeReview         = "review.recorded"   // ReviewData
	TypeAnnounce       = "announce.recorded" // AnnounceData
	TypeReviewer       = "reviewer.enrolled" // ReviewerData
)

// Entry is one line of the index, ledger.jsonl. Field order is the canonical
// encoding: each line is exactly json.Marshal(Entry). Hash is SHA-256 hex of
// hashDomain followed by the canonical encoding without the hash field, so it
// covers Prev, the previous entry's hash, and with it the whole index.
type Entry struct {
	Seq  uint64          `json:"seq"`  // 1, 2, 3… in file order
	Time string          `json:"time"` // UTC, RFC 3339 with nanoseconds
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"` // a JSON object
	Prev string          `json:"prev"` // the previous entry's Hash, ZeroHash for the first
	Hash string          `json:"hash"`
}

type hashInput struct {
	Seq  uint64          `json:"seq"`
	Time string          `json:"time"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	Prev string          `json:"prev"`
}

// ComputeHash returns the hash e must carry.
func (e Entry) ComputeHash() string {
	b, err := json.Marshal(hashInput{e.Seq, e.Time, e.Type, e.Data, e.Prev})
	if err != nil {
		// Data that does not re-encode can never have a valid hash.
		return "unencodable"
	}
	sum := sha256.Sum256(append([]byte(hashDomain), b...))
	return hex.EncodeToString(sum[:])
}

// newEntry builds the entry that follows prev (nil for the first).
func newEntry(prev *Entry, at, typ string, data any) (Entry, []byte, error) {
	d, err := json.Marshal(data)
	if err != nil {
		return Entry{}, nil, fmt.Errorf("encoding %s entry: %w", typ, err)
	}
	e := Entry{Seq: 1, Time: at, Type: typ, Data: d, Prev: ZeroHash}
	if prev != nil {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	e.Hash = e.ComputeHash()
	line, err := json.Marshal(e)
	if err != nil {
		return Entry{}, nil, fmt.Errorf("encoding %s entry: %w", typ, err)
	}
	return e, append(line, '\n'), nil
}

// maxLine bounds one index line; a report entry is a few hundred bytes.
const maxLine = 1 << 20

// ParseIndex decodes the index file strictly: one canonical JSON Entry per
// line, every line ending in a newline. It does not check the chain (see
// CheckChain); a line that does not decode is a Problem of kind "malformed"
// (or "torn" for a final line without its newline) and is left out.
func ParseIndex(b []byte) ([]Entry, []Problem) {
	var entries []Entry
	var probs []Problem
	for n := 1; len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			probs = append(probs, Problem{Kind: KindTorn, What: fmt.Sprintf("index line %d", n),
				Detail: "the last line has no newline: a write was interrupted or the file was cut"})
			break
		}
		line := b[:i]
		b = b[i+1:]
		e, err := parseLine(line)
		var nc *notCanonicalError
		switch {
		case errors.As(err, &nc):
			probs = append(probs, Problem{Kind: KindEdited, What: describe(e), Detail: "index line " + fmt.Sprint(n) + " is not in canonical encoding (edited by hand?)"})
		case err != nil:
			probs = append(probs, Problem{Kind: KindMalformed, What: fmt.Sprintf("index line %d", n), Detail: err.Error()})
			continue
		}
		entries = append(entries, e)
	}
	return entries, probs
}

func parseLine(line []byte) (Entry, error) {
	if len(line) > maxLine {
		return Entry{}, fmt.Errorf("line longer than %d bytes", maxLine)
	}
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("not an index entry: %v", err)
	}
	if dec.More() {
		return Entry{}, errors.New("data after the entry")
	}
	if len(e.Data) == 0 || e.Data[0] != '{' {
		return Entry{}, errors.New("data is not a JSON object")
	}
	canon, err := json.Marshal(e)
	if err != nil || !bytes.Equal(canon, line) {
		return e, &notCanonicalError{}
	}
	return e, nil
}

// notCanonicalError: the line decodes but is not json.Marshal's encoding.
type notCanonicalError struct{}

func (*notCanonicalError) Error() string { return "not in canonical encoding" }
