package ledger

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"breakglass/audit"
	"breakglass/vault"
)

// StatusFormat identifies the JSON of Status. Fields are only ever added
// under this format; a renamed or removed field gets a new format.
const StatusFormat = "breakglass-ledger-status/1"

// DefaultDrillInterval is the drill interval of a vault whose signed policy
// does not state one.
const DefaultDrillInterval = 90 * 24 * time.Hour

// Status is what the ledger knows, re-verified: `breakglass ledger status
// --json` prints it. Times are RFC 3339 UTC; lists are never null.
type Status struct {
	Format    string        `json:"format"`    // StatusFormat
	Generated string        `json:"generated"` // when this status was computed
	Ledger    LedgerInfo    `json:"ledger"`
	Vaults    []VaultStatus `json:"vaults"`     // in order of first import
	Reviewers []Reviewer    `json:"reviewers"`  // enrolled reviewers whose enrolment verifies now
	OpenItems []OpenItem    `json:"open_items"` // every open item of every vault, and announcements no report matches
	Notes     []string      `json:"notes"`      // limits of what could be checked
}

// LedgerInfo identifies the ledger state the status was computed from.
type LedgerInfo struct {
	Entries int    `json:"entries"`
	Head    string `json:"head"` // hash of the last index entry
}

// VaultStatus is one vault and its sessions: every roster version of its
// chain is the same vault, keyed by the first version's fingerprint.
type VaultStatus struct {
	Fingerprint   string       `json:"fingerprint"` // of the first roster version (as on the first custodian card)
	RosterDigest  string       `json:"roster_digest"`
	Verified      bool         `json:"verified"` // every imported copy verified again now
	Problem       string       `json:"problem"`  // why not, when not verified
	Copies        int          `json:"copies"`   // vault files imported of any roster version
	Threshold     int          `json:"threshold"`
	Custodians    int          `json:"custodians"`
	DrillInterval int          `json:"drill_interval_days"`
	DrillSource   string       `json:"drill_interval_source"` // "policy" or "default: …"
	LastDrill     string       `json:"last_drill"`            // end of the newest verified drill, "" if none
	DrillDue      string       `json:"drill_due"`
	Seals         []SealRecord `json:"seals"` // newest seal record of each secret seen
	Sessions      []Session    `json:"sessions"`

	// CurrentFingerprint and RosterVersion are the newest copy's roster
	// (after a rekey, no longer Fingerprint's).
	CurrentFingerprint string `json:"current_fingerprint"`
	RosterVersion      int    `json:"roster_version"`
}

// Session is one imported report, as re-verified now.
type Session struct {
	ID            string          `json:"id"`
	Entry         uint64          `json:"entry"` // the index entry that imported it
	Mode          string          `json:"mode"`  // "live", "drill" or "rekey"
	Started       string          `json:"started"`
	Ended         string          `json:"ended"`
	Outcome       string          `json:"outcome"` // "completed" or "aborted"
	AbortReason   string          `json:"abort_reason"`
	Operator      string          `json:"operator"`
	Ticket        string          `json:"ticket"`
	WhatBroke     string          `json:"what_broke"`
	Custodians    []SessionSigner `json:"custodians"`
	Revealed      []Reveal        `json:"revealed"` // credentials shown (live) or checked (drill)
	AnnounceCode  string          `json:"announce_code"`
	AnnouncedBy   string          `json:"announced_by"` // "" when no announcement matches
	Review        *ReviewStatus   `json:"review"`       // the latest review, null if none
	Verified      bool            `json:"verified"`
	NonProduction bool            `json:"non_production"`
	Failed        []string        `json:"failed"` // failed checks, when not verified
	// RosterVersion is the roster version the report was signed under (0
	// when it did not verify); Rekey what a rekey session changed.
	RosterVersion int          `json:"roster_version"`
	Rekey         *RekeyStatus `json:"rekey"` // null unless mode rekey
}

// SessionSigner is a custodian of the session's quorum.
type SessionSigner struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Serial uint32 `json:"serial"`
}

// Reveal is one credential decrypted in a session.
type Reveal struct {
	Name      string `json:"name"`
	Step      string `json:"step"`
	Mode      string `json:"mode"` // "show" (must be rotated) or "check" (drill)
	Time      string `json:"time"`
	SealedAt  string `json:"sealed_at"`  // the version revealed, when the report records it
	RotatedAt string `json:"rotated_at"` // the first seal after the reveal seen in an imported vault, "" if none
}

// ReviewStatus is the latest review of a session.
type ReviewStatus struct {
	Entry    uint64 `json:"entry"`
	Time     string `json:"time"`
	Reviewer string `json:"reviewer"`
	Decision string `json:"decision"`
	Note     string `json:"note"`
	// Signed is true only when the review's signature verified now with
	// the attested key of a reviewer enrolled in this ledger (SignedBy).
	Signed   bool      `json:"signed"`
	SignedBy *Reviewer `json:"signed_by"` // null unless Signed
	// Flag is "" for a verified signed review, FlagUnsigned for the
	// auditor's statement alone, FlagBadSignature when a recorded signature
	// does not verify (the review then does not count: the session is
	// open as unreviewed and as review-signature-invalid).
	Flag    string `json:"flag"`
	Problem string `json:"problem"` // why the signature does not verify
}

// Review flags.
const (
	FlagUnsigned     = "unsigned review"
	FlagBadSignature = "review signature does not verify"
)

// Reviewer is a reviewer enrolled in the ledger (reviewer.enrolled).
type Reviewer struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Serials []uint32 `json:"serials"`
	Entry   uint64   `json:"entry"`
}

// Open item kinds.
const (
	OpenUnrotated      = "unrotated"                // a revealed credential no imported vault shows re-sealed since
	OpenUnreviewed     = "unreviewed"               // a session with no review
	OpenFollowUp       = "follow-up"                // the latest review asked for a follow-up
	OpenDrillOverdue   = "drill-overdue"            // no verified drill within the drill interval
	OpenNoReport       = "announce-without-report"  // an announced code no imported report matches
	OpenNoAnnouncement = "report-without-announce"  // a report whose code was never announced
	OpenRollback       = "rollback"                 // a secret version older than one already seen was revealed
	OpenNotVerified    = "not-verified"             // a stored report, vault or reviewer enrolment no longer verifies
	OpenBadReview      = "review-signature-invalid" // a signed review whose signature does not verify now
)

// OpenItem is something an auditor must act on.
type OpenItem struct {
	Kind    string `json:"kind"`
	Vault   string `json:"vault"`   // fingerprint, "" for an announcement no report matches
	Session string `json:"session"` // "" when not about one session
	Secret  string `json:"secret"`  // for unrotated and rollback
	Since   string `json:"since"`   // when the item became open
	Detail  string `json:"detail"`  // one sentence for a person
}

// drillInterval is the one place that reads a vault's drill interval: the
// roster's signed policy, or the default for a roster that states none.
func drillInterval(v *vault.Vault) (time.Duration, string) {
	if v == nil {
		return DefaultDrillInterval, "default: no verified vault copy states the policy"
	}
	d, stated := v.Roster.Policy.DrillInterval()
	if !stated {
		return d, "default: the vault's signed policy states no drill interval"
	}
	return d, "the vault's signed policy"
}

// ledgerState is the index decoded.
type ledgerState struct {
	vaults    map[string][]vaultCopy // by fingerprint, import order
	order     []string               // fingerprints in first-import order
	reports   []reportRef
	reviews   map[string]reviewRef
	announced map[string]announcement // by canonical code
	codes     []string                // announced codes in order
}

type vaultCopy struct {
	entry uint64
	data  VaultData
}

type reportRef struct {
	entry uint64
	data  ReportData
}

type reviewRef struct {
	entry uint64
	time  string
	data  ReviewData
}

type announcement struct {
	by, time string
	entry    uint64
}

func (l *Ledger) state() (*ledgerState, error) {
	s := &ledgerState{vaults: map[string][]vaultCopy{}, reviews: map[string]reviewRef{}, announced: map[string]announcement{}}
	for _, e := range l.entries {
		var err error
		switch e.Type {
		case TypeVaultImported:
			var d VaultData
			if err = json.Unmarshal(e.Data, &d); err == nil {
				k := d.vaultKey()
				if _, ok := s.vaults[k]; !ok {
					s.order = append(s.order, k)
				}
				s.vaults[k] = append(s.vaults[k], vaultCopy{e.Seq, d})
			}
		case TypeReportImported:
			var d ReportData
			if err = json.Unmarshal(e.Data, &d); err == nil {
				s.reports = append(s.reports, reportRef{e.Seq, d})
			}
		case TypeReview:
			var d ReviewData
			if err = json.Unmarshal(e.Data, &d); err == nil {
				s.reviews[d.Session] = reviewRef{e.Seq, e.Time, d}
			}
		case TypeAnnounce:
			var d AnnounceData
			if err = json.Unmarshal(e.Data, &d); err == nil {
				s.announced[d.Code] = announcement{d.By, e.Time, e.Seq}
				s.codes = append(s.codes, d.Code)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("ledger entry %d (%s): %w", e.Seq, e.Type, err)
		}
	}
	return s, nil
}

// Status re-verifies every stored vault and report and computes the
// sessions and open items as of the ledger's clock.
func (l *Ledger) Status() (*Status, error) {
	s, err := l.state()
	if err != nil {
		return nil, err
	}
	now := l.cfg.now()
	seq, head := l.Head()
	st := &Status{Format: StatusFormat, Generated: now.Format(time.RFC3339), Ledger: LedgerInfo{Entries: int(seq), Head: head},
		Vaults: []VaultStatus{}, Reviewers: []Reviewer{}, OpenItems: []OpenItem{}, Notes: statusNotes()}
	rs, probs := l.reviewers(0)
	for _, r := range rs {
		st.Reviewers = append(st.Reviewers, Reviewer{ID: r.c.ID, Name: r.c.Name, Serials: r.c.Serials(), Entry: r.entry})
	}
	for _, p := range probs {
		st.OpenItems = append(st.OpenItems, OpenItem{Kind: OpenNotVerified, Since: now.Format(time.RFC3339), Detail: p.Error()})
	}
	matched := map[string]bool{}
	for _, fp := range s.order {
		vs, items := l.vaultStatus(s, fp, now, matched)
		st.Vaults = append(st.Vaults, vs)
		st.OpenItems = append(st.OpenItems, items...)
	}
	for _, c := range s.codes {
		if a := s.announced[c]; !matched[c] {
			st.OpenItems = append(st.OpenItems, OpenItem{Kind: OpenNoReport, Since: a.time,
				Detail: fmt.Sprintf("code %s was announced to %s (entry %d) but no imported report has it: a use whose report is missing", formatCode(c), a.by, a.entry)})
		}
	}
	return st, nil
}

func statusNotes() []string {
	return []string{
		"a seal record is attributed (sealed_by, version) only when its signature verifies against the vault's roster; an unattributed one is listed as such",
		"a review is signed only when made with --serial on the YubiKey of a reviewer enrolled in this ledger (ledger reviewer add); others are flagged \"unsigned review\"",
		"rollbacks are found from the sealed version each report records for a reveal (reports from consoles before that was recorded carry none)",
	}
}

func formatCode(c string) string {
	if len(c) == 10 {
		return c[:5] + "-" + c[5:]
	}
	return c
}

// vaultStatus builds one vault's status and open items.
func (l *Ledger) vaultStatus(s *ledgerState, fp string, now time.Time, matched map[string]bool) (VaultStatus, []OpenItem) {
	copies := s.vaults[fp]
	newest := newestCopy(copies).data
	vs := VaultStatus{Fingerprint: fp, RosterDigest: newest.RosterDigest, CurrentFingerprint: newest.Fingerprint, RosterVersion: newest.version(),
		Copies: len(copies), Threshold: newest.Threshold,
		Custodians: newest.Custodians, Seals: newestSeals(copies), Sessions: []Session{}}
	var items []OpenItem
	p, err := l.reverifyCopies(copies)
	if err != nil {
		vs.Problem = err.Error()
		items = append(items, OpenItem{Kind: OpenNotVerified, Vault: fp, Since: now.Format(time.RFC3339), Detail: err.Error()})
	}
	vs.Verified = err == nil
	interval, source := drillInterval(nil)
	if p != nil {
		interval, source = drillInterval(p.v)
	}
	vs.DrillInterval, vs.DrillSource = int(interval/(24*time.Hour)), source
	sessions := l.sessions(s, fp, p)
	slices.SortStableFunc(sessions, func(a, b *sessionRecord) int {
		ta, _ := parseTime(a.Started)
		tb, _ := parseTime(b.Started)
		return ta.Compare(tb)
	})
	seen := seenVersions(copies, sessions)
	for _, sr := range sessions {
		markRotations(sr, copies)
		items = append(items, sessionItems(fp, sr, s, matched)...)
		items = append(items, detectRollbacks(fp, sr, seen)...)
		vs.Sessions = append(vs.Sessions, sr.Session)
	}
	var drillItem *OpenItem
	vs.LastDrill, vs.DrillDue, drillItem = drillDue(fp, copies, sessions, interval, now)
	if drillItem != nil {
		items = append(items, *drillItem)
	}
	return vs, items
}

// sessions re-verifies the vault's reports, on every core: they are
// independent, and verification is most of what status costs.
func (l *Ledger) sessions(s *ledgerState, fp string, p *pinned) []*sessionRecord {
	var refs []reportRef
	for _, r := range s.reports {
		if r.data.vaultKey() == fp {
			refs = append(refs, r)
		}
	}
	out := make([]*sessionRecord, len(refs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, r := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			out[i] = l.session(r, p, s)
			<-sem
		}()
	}
	wg.Wait()
	return out
}

// reverifyCopies re-verifies every imported copy of a vault and returns the
// newest (newestCopy).
func (l *Ledger) reverifyCopies(copies []vaultCopy) (*pinned, error) {
	var p *pinned
	newest := newestCopy(copies).entry
	for _, c := range copies {
		raw, err := l.object(c.data.Object)
		var cp *pinned
		if err == nil {
			cp, err = l.verifyVault(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("vault copy of entry %d no longer verifies: %v", c.entry, err)
		}
		if c.entry == newest {
			p = cp
		}
	}
	return p, nil
}

// newestSeals is the newest seal record of each secret over every copy.
func newestSeals(copies []vaultCopy) []SealRecord {
	best := map[string]SealRecord{}
	for _, c := range copies {
		for _, r := range c.data.Seals {
			if b, ok := best[r.Name]; !ok || r.SealedAt > b.SealedAt {
				best[r.Name] = r
			}
		}
	}
	out := []SealRecord{}
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range best {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, best[n])
	}
	return out
}

// sessionRecord is a Session with the decoded report.
type sessionRecord struct {
	Session
	report *audit.Report
}
