package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseJWSFast must accept only what the whole-document check
// (parseJWSFull) accepts, and parse it the same way; the signed report
// must take it.

// jwsEdits are variants of a JWS document: each must get from
// parseJWSFast either !ok or what parseJWSFull gives.
func jwsEdits(t testing.TB, jws []byte) map[string][]byte {
	t.Helper()
	var g jwsGeneral
	if err := json.Unmarshal(jws, &g); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(g.Payload)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(g jwsGeneral) []byte { b, _ := json.Marshal(g); return b }
	with := func(p string) []byte { h := g; h.Payload = p; return enc(h) }
	rep := func(old, new string) []byte { return bytes.Replace(jws, []byte(old), []byte(new), 1) }
	// A payload whose length leaves padding bits, with a bit set in them.
	short := base64.RawURLEncoding.EncodeToString(payload[:len(payload)/3*3-2]) // ends in 2 characters, 4 padding bits
	last := short[len(short)-1]
	return map[string][]byte{
		"as signed":                  jws,
		"trailing newline":           append(bytes.Clone(jws), '\n'),
		"two trailing newlines":      append(bytes.Clone(jws), '\n', '\n'),
		"padding bits set":           with(short[:len(short)-1] + string(otherB64(last))),
		"padded":                     with(g.Payload + strings.Repeat("=", (4-len(g.Payload)%4)%4)),
		"standard alphabet":          with(base64.RawStdEncoding.EncodeToString(payload)),
		"escaped newline in payload": rep(g.Payload[:40], g.Payload[:20]+`\n`+g.Payload[20:40]),
		"escaped char in payload":    rep(`{"payload":"`+g.Payload[:1], `{"payload":"\u00`+fmt.Sprintf("%02x", g.Payload[0])),
		"duplicate payload":          rep(`","signatures":`, `","payload":"","signatures":`),
		"duplicate payload first":    rep(`{"payload":"`, `{"payload":"AAAA","payload":"`),
		"space after prefix":         rep(`{"payload":"`, `{"payload": "`),
		"unknown member":             rep(`,"signatures":`, `,"x":1,"signatures":`),
		"unprotected header":         rep(`","signature":"`, `","header":{},"signature":"`),
		"signatures null":            append(bytes.Clone(jws[:bytes.Index(jws, []byte(`,"signatures":[`))]), `,"signatures":null}`...),
		"no signatures":              with(g.Payload)[:0],
		"payload unterminated":       jws[:len(jws)/2],
		"payload empty":              with(""),
	}
}

func TestParseJWSAgrees(t *testing.T) {
	f := newFixture(t)
	if _, _, ok := parseJWSFast(f.jws); !ok {
		t.Fatal("the fixture's JWS does not take the fast path")
	}
	for name, b := range jwsEdits(t, f.jws) {
		t.Run(name, func(t *testing.T) { assertJWSAgrees(t, b) })
	}
}

func assertJWSAgrees(t *testing.T, b []byte) {
	t.Helper()
	fdoc, fg, ok := parseJWSFast(b)
	doc, g, err := parseJWSFull(b)
	if !ok {
		return // parseJWSFull decides
	}
	if err != nil {
		t.Fatalf("the fast path accepted a document the whole-document check refuses: %v", err)
	}
	fg.Payload = g.Payload
	a, _ := json.Marshal(fg)
	c, _ := json.Marshal(g)
	if !bytes.Equal(fdoc.payload, doc.payload) || !bytes.Equal(fdoc.payloadB64, doc.payloadB64) || !bytes.Equal(a, c) {
		t.Fatal("the fast path parsed the document differently")
	}
}

// FuzzParseJWS holds parseJWSFast to parseJWSFull on any document, seeded
// with the committed sample report and its edits.
func FuzzParseJWS(f *testing.F) {
	jws, err := os.ReadFile(filepath.Join(testdataDir, "report.jws"))
	if err != nil {
		f.Fatal(err)
	}
	seeds := jwsEdits(f, jws)
	if len(seeds) == 0 {
		f.Fatal("no seeds")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) { assertJWSAgrees(t, b) })
}
