package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseReport must accept and refuse exactly what ParsePayload does, give
// the same report, and the chain verdict Verify gives; the signed report
// must take its fast path.

// payloadEdits are non-canonical or tampered variants of a report payload:
// each must get from parseReport what ParsePayload gives.
func payloadEdits(t testing.TB, p []byte) map[string][]byte {
	t.Helper()
	j := bytes.Index(p, journalMarker)
	e := bytes.Index(p, entriesMarker)
	first := bytes.Index(p, []byte(`{"seq":1,`))
	second := bytes.Index(p, []byte(`,{"seq":2,`))
	if j < 0 || e < 0 || first < 0 || second < 0 {
		t.Fatal("payload has no journal entries where expected")
	}
	rep := func(old, new string, n int) []byte { return bytes.Replace(p, []byte(old), []byte(new), n) }
	entry1 := p[first:second]
	var e1 map[string]json.RawMessage
	if err := json.Unmarshal(entry1, &e1); err != nil {
		t.Fatal(err)
	}
	reordered, _ := json.Marshal(e1) // map keys sorted: actor, data, hash, mono, …
	spliced := func(span []byte) []byte {
		out := append(bytes.Clone(p[:first]), span...)
		return append(out, p[second:]...)
	}
	edited := func(edit func(e *Entry)) []byte {
		var en Entry
		if err := json.Unmarshal(entry1, &en); err != nil {
			t.Fatal(err)
		}
		edit(&en)
		en.Hash, _ = en.ComputeHash()
		b, _ := json.Marshal(en)
		return spliced(b)
	}
	return map[string][]byte{
		"as signed":                  p,
		"entry fields reordered":     spliced(reordered),
		"entry with a space":         spliced(bytes.Replace(entry1, []byte(`,"time"`), []byte(`, "time"`), 1)),
		"space inside entry data":    spliced(bytes.Replace(entry1, []byte(`"data":{"`), []byte(`"data":{ "`), 1)),
		"entry duplicate key":        spliced(bytes.Replace(entry1, []byte(`{"seq":1,`), []byte(`{"seq":1,"seq":1,`), 1)),
		"entry unknown field":        spliced(bytes.Replace(entry1, []byte(`{"seq":1,`), []byte(`{"seq":1,"x":1,`), 1)),
		"entry escaped char":         spliced(bytes.Replace(entry1, []byte(`"actor":"b`), []byte(`"actor":"\u0062`), 1)),
		"entry edited, hash redone":  edited(func(e *Entry) { e.Actor = "mallory" }),
		"entry data edited, redone":  edited(func(e *Entry) { e.Data = json.RawMessage(`{"session":"S-other"}`) }),
		"entry non-UTC time, redone": edited(func(e *Entry) { e.Time = strings.Replace(e.Time, "Z", "+00:00", 1) }),
		"space before first entry":   rep(`"entries":[{`, `"entries":[ {`, 1),
		"space between entries":      rep(`,{"seq":2,`, `, {"seq":2,`, 1),
		"newline after an entry":     rep(`,{"seq":2,`, "\n"+`,{"seq":2,`, 1),
		"entries emptied":            append(append(bytes.Clone(p[:e+len(entriesMarker)]), ']'), p[bytes.Index(p[e:], []byte(`]}`))+e+1:]...),
		"entries null":               append(append(bytes.Clone(p[:e+len(entriesMarker)-1]), "null"...), p[bytes.Index(p[e:], []byte(`]}`))+e+1:]...),
		"entry removed":              spliced(nil),
		"entry duplicated":           spliced(append(bytes.Clone(entry1), p[first-1:second]...)),
		"journal duplicate key":      rep(`,"journal":{`, `,"journal":{"head":"x"},"journal":{`, 1),
		"journal member unknown":     rep(`,"journal":{"head":`, `,"journal":{"x":1,"head":`, 1),
		"entries duplicate key":      rep(`,"entries":[`, `,"entries":[],"entries":[`, 1),
		"space in report":            rep(`{"format":`, `{ "format":`, 1),
		"trailing data":              append(bytes.Clone(p), ` {}`...),
		"trailing newline":           append(bytes.Clone(p), '\n'),
		"journal marker in a string": rep(`"what_broke":"`, `"what_broke":"\",\"journal\":{\"head\":\"`, 1),
		"journal marker raw":         rep(`"what_broke":"`, `"what_broke":",`+string(journalMarker), 1),
		"entries marker in a string": rep(`"what_broke":"`, `"what_broke":"\",\"entries\":[`, 1),
		"no journal":                 p[:j],
		"truncated in entries":       p[:first+10],
	}
}

// TestParseReportAgrees compares parseReport with ParsePayload and Verify
// on the signed payload and its edits, and checks that the fixture's own
// payload takes the fast path.
func TestParseReportAgrees(t *testing.T) {
	f := newFixture(t)
	if _, ok := parseReportFast(f.payload); !ok {
		t.Fatal("the fixture's payload does not take the fast path")
	}
	for name, p := range payloadEdits(t, f.payload) {
		t.Run(name, func(t *testing.T) { assertParseAgrees(t, p) })
	}
}

func assertParseAgrees(t *testing.T, p []byte) {
	t.Helper()
	want, werr := ParsePayload(p)
	got := parseReport(p)
	if (werr == nil) != (got.err == nil) || errors.Is(werr, ErrNotCanonical) != errors.Is(got.err, ErrNotCanonical) ||
		(want == nil) != (got.rep == nil) {
		t.Fatalf("ParsePayload: %v (report %v); parseReport: %v (report %v)", werr, want != nil, got.err, got.rep != nil)
	}
	if want == nil {
		return
	}
	a, err1 := MarshalPayload(want)
	b, err2 := MarshalPayload(got.rep)
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Fatal("parseReport's report differs from ParsePayload's")
	}
	if !got.chained {
		return
	}
	if got.err != nil {
		t.Fatal("the fast path returned a report that is not canonical")
	}
	verr := Verify(want.Journal.Entries)
	if fmt.Sprint(verr) != fmt.Sprint(got.chainErr) {
		t.Fatalf("chain: Verify says %v, parseReport %v", verr, got.chainErr)
	}
}

// TestVerifyRefusesResignedNonCanonical: edits of the payload that keep
// every value but change the encoding, and an entry edited with its hash
// recomputed, signed by the real keys, are refused by VerifyReport.
func TestVerifyRefusesResignedNonCanonical(t *testing.T) {
	f := newFixture(t)
	for name, p := range payloadEdits(t, f.payload) {
		switch name {
		case "as signed", "no journal", "truncated in entries":
			continue
		}
		t.Run(name, func(t *testing.T) {
			mustFail(t, name, f.sign(t, p), f.opts(), "payload", "journal", "report built from journal", "session matches journal")
		})
	}
}

// FuzzParseReport holds parseReport to ParsePayload and Verify on any
// payload, seeded with the committed sample report's payload and its edits.
func FuzzParseReport(f *testing.F) {
	jws, err := os.ReadFile(filepath.Join(testdataDir, "report.jws"))
	if err != nil {
		f.Fatal(err)
	}
	p, _, err := parseJWS(jws)
	if err != nil {
		f.Fatal(err)
	}
	seeds := payloadEdits(f, p)
	if len(seeds) == 0 {
		f.Fatal("no seeds")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) { assertParseAgrees(t, b) })
}
