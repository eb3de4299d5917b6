package ledger

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

var htmlOut = flag.String("html", "", "also write the populated ledger's HTML page to this file (to look at it)")

// TestHTMLStructure parses the page and pins its structure: the open items
// section, one section per vault with a session timeline, every session's
// verdict, open sessions highlighted; no script, no external reference, and
// hostile strings from reports escaped.
func TestHTMLStructure(t *testing.T) {
	l, _ := populated(t, &testClock{day(6, 1)})
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, st); err != nil {
		t.Fatal(err)
	}
	if *htmlOut != "" {
		if err := os.WriteFile(*htmlOut, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	page := buf.String()
	ids, classes := parsePage(t, page)
	fp := getWorld(t).home.V.Fingerprint()
	for _, id := range []string{"open-items", "vault-" + fp, "session-S-1", "session-D-1", "session-S-2", "notes"} {
		if ids[id] != 1 {
			t.Errorf("section id=%q appears %d times, want 1", id, ids[id])
		}
	}
	// S-1 is closed; D-1 (unreviewed, unannounced) and S-2 are open.
	if classes["session"] != 3 || classes["session open"] != 2 || classes["timeline"] != 1 {
		t.Errorf("sessions %d, open %d, timelines %d; want 3, 2, 1", classes["session"], classes["session open"], classes["timeline"])
	}
	if classes["item"] != len(st.OpenItems) {
		t.Errorf("%d highlighted items, %d open items", classes["item"], len(st.OpenItems))
	}
	if n := strings.Count(page, `class="badge ok">verified`); n != 3 {
		t.Errorf("%d sessions shown verified, want 3", n)
	}
	for _, bad := range []string{"<script", "<img", "\x1b", "\u202e"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q unescaped", bad)
		}
	}
	if !strings.Contains(page, `INC-\x1b[2J\u202e`) {
		t.Errorf("control and bidi characters in the ticket are not made visible")
	}
	if !strings.Contains(page, "Mallory &lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(page, `&lt;img src=http://evil.example/x.png&gt;`) {
		t.Errorf("hostile operator and what-broke strings are not shown escaped")
	}
	if !strings.Contains(page, "(unsigned review)") || !strings.Contains(page, "drill-overdue") {
		t.Errorf("the page does not flag the unsigned review or the overdue drill")
	}
}

// parsePage parses the page as HTML, fails on any script, embedded object,
// event handler or external reference, and counts ids and classes.
func parsePage(t *testing.T, page string) (ids, classes map[string]int) {
	t.Helper()
	ids, classes = map[string]int{}, map[string]int{}
	dec := xml.NewDecoder(strings.NewReader(page))
	dec.Strict, dec.AutoClose, dec.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch strings.ToLower(el.Name.Local) {
		case "script", "iframe", "object", "embed", "link", "img", "base", "form":
			t.Errorf("the page has a <%s> element", el.Name.Local)
		}
		for _, a := range el.Attr {
			name, v := strings.ToLower(a.Name.Local), strings.ToLower(a.Value)
			if strings.HasPrefix(name, "on") || name == "src" || name == "href" || strings.Contains(v, "://") || strings.Contains(v, "url(") {
				t.Errorf("<%s %s=%q>: an event handler or external reference", el.Name.Local, a.Name.Local, a.Value)
			}
			switch name {
			case "id":
				ids[a.Value]++
			case "class":
				for _, c := range strings.Fields(a.Value) {
					classes[c]++
				}
				if strings.Contains(" "+a.Value+" ", " session ") && strings.Contains(" "+a.Value+" ", " open ") {
					classes["session open"]++
				}
			}
		}
	}
	return ids, classes
}
