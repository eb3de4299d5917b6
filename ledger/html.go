package ledger

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"breakglass/internal/inert"
)

//go:embed status.html.tmpl
var statusHTML string

// page is the view the HTML template renders.
type page struct {
	*Status
	Vaults []pageVault
	Loose  []OpenItem // open items of no vault (announcements no report matches)
	Counts []kindCount
}

type pageVault struct {
	VaultStatus
	Items    []OpenItem // the vault's items that are not about one session
	Sessions []pageSession
}

type pageSession struct {
	Session
	Items []OpenItem
}

type kindCount struct {
	Kind  string
	Count int
}

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"t":     inert.Line, // every string from a report or the index is made inert, then HTML-escaped
	"date":  func(s string) string { return strings.Replace(strings.TrimSuffix(shortTime(s), "Z"), "T", " ", 1) },
	"lower": strings.ToLower,
}).Parse(statusHTML))

func shortTime(s string) string {
	if t, ok := parseTime(s); ok {
		return t.UTC().Format("2006-01-02T15:04Z")
	}
	return s
}

// WriteHTML renders st as one self-contained HTML page: inline CSS, no
// script, no external reference; every string is HTML-escaped (and control
// characters made visible) by the template.
func WriteHTML(w io.Writer, st *Status) error {
	p := page{Status: st}
	counts := map[string]int{}
	var order []string
	for _, it := range st.OpenItems {
		if counts[it.Kind] == 0 {
			order = append(order, it.Kind)
		}
		counts[it.Kind]++
		if it.Vault == "" {
			p.Loose = append(p.Loose, it)
		}
	}
	for _, k := range order {
		p.Counts = append(p.Counts, kindCount{k, counts[k]})
	}
	for _, v := range st.Vaults {
		pv := pageVault{VaultStatus: v}
		for _, it := range st.OpenItems {
			if it.Vault == v.Fingerprint && it.Session == "" {
				pv.Items = append(pv.Items, it)
			}
		}
		for _, s := range v.Sessions {
			ps := pageSession{Session: s}
			for _, it := range st.OpenItems {
				if it.Vault == v.Fingerprint && it.Session == s.ID {
					ps.Items = append(ps.Items, it)
				}
			}
			pv.Sessions = append(pv.Sessions, ps)
		}
		p.Vaults = append(p.Vaults, pv)
	}
	if err := statusTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("writing the HTML status: %w", err)
	}
	return nil
}
