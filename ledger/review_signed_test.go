package ledger

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/hardware"
	"breakglass/vault"
)

// tokSigner signs reviews on a test vault's virtual YubiKey; serial, when
// set, is claimed instead of the token's own (a key posing as another).
type tokSigner struct {
	tok    hardware.Token
	serial uint32
	calls  int
}

func (s *tokSigner) Serial() uint32 {
	if s.serial != 0 {
		return s.serial
	}
	return s.tok.Serial()
}

func (s *tokSigner) SignDigest(ctx context.Context, d []byte) ([]byte, error) {
	s.calls++
	return s.tok.Sign(ctx, hardware.SlotSignature, d, hardware.DefaultPIN)
}

// fakeSigner returns sig and err whatever it is asked to sign.
type fakeSigner struct {
	serial uint32
	sig    []byte
	err    error
}

func (s fakeSigner) Serial() uint32                                     { return s.serial }
func (s fakeSigner) SignDigest(context.Context, []byte) ([]byte, error) { return s.sig, s.err }

// enrolment is the custodian file "breakglass enrol" writes for custodian id
// of the home vault.
func enrolment(t *testing.T, id string) []byte {
	t.Helper()
	c, ok := getWorld(t).home.V.Custodian(id)
	if !ok {
		t.Fatalf("no custodian %s", id)
	}
	p := filepath.Join(t.TempDir(), id+".custodian.json")
	if err := vault.WriteCustodianFile(p, c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reviewLedger is a ledger with session S-1 imported and carol enrolled
// as a reviewer.
func reviewLedger(t *testing.T) (*Ledger, string) {
	t.Helper()
	w := getWorld(t)
	l, dir := newLedger(t, &testClock{day(3, 1)})
	mustImport(t, l, "s1.jws", w.report(t, w.home, sessionSpec{id: "S-1", start: day(2, 1)}), Pin{VaultFile: w.home.Raw})
	if _, err := l.AddReviewer(enrolment(t, "carol")); err != nil {
		t.Fatal(err)
	}
	return l, dir
}

func TestAddReviewer(t *testing.T) {
	w := getWorld(t)
	l, dir := reviewLedger(t)
	st := statusJSON(t, l)
	if len(st.Reviewers) != 1 || st.Reviewers[0].ID != "carol" || st.Reviewers[0].Serials[0] != w.home.V.Roster.Custodians[2].Keys[0].Serial {
		t.Fatalf("reviewers %+v, want carol with her YubiKey", st.Reviewers)
	}

	carol := enrolment(t, "carol")
	var edited map[string]any
	if err := json.Unmarshal(carol, &edited); err != nil {
		t.Fatal(err)
	}
	edited["custodian"].(map[string]any)["keys"].([]any)[0].(map[string]any)["sign"].(map[string]any)["public_key"] =
		w.home.V.Roster.Custodians[0].Keys[0].Sign.PublicKey // alice's key under carol's attestation
	forged, err := json.Marshal(edited)
	if err != nil {
		t.Fatal(err)
	}
	renamed := []byte(strings.Replace(string(carol), `"id": "carol"`, `"id": "carol-2"`, 1))
	tests := []struct {
		name string
		l    *Ledger
		raw  []byte
		want error
	}{
		{"the same reviewer again", l, carol, ErrDuplicate},
		{"her YubiKey under another id", l, renamed, ErrDuplicate},
		{"not an enrolment record", l, []byte(`{"format":"nope"}`), ErrReviewerInvalid},
		{"a signing key its attestation does not name", l, forged, ErrReviewerInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, dir)
			_, err := tc.l.AddReviewer(tc.raw)
			var re *RefusedError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) {
				t.Fatalf("AddReviewer = %v, want a refusal wrapping %v", err, tc.want)
			}
			sameSnapshot(t, before, snapshot(t, dir))
		})
	}

	// Under Yubico's roots alone, the TEST-attested record is refused.
	l.Close()
	yubico, err := Open(Config{Dir: dir, Now: (&testClock{day(3, 1)}).Now}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer yubico.Close()
	before := snapshot(t, dir)
	if _, err := yubico.AddReviewer(enrolment(t, "bob")); !errors.Is(err, ErrReviewerInvalid) || !errors.Is(err, vault.ErrAttestation) && !strings.Contains(err.Error(), "attest") {
		t.Fatalf("AddReviewer under Yubico roots = %v, want an attestation refusal", err)
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestSignedReview(t *testing.T) {
	w := getWorld(t)
	l, dir := reviewLedger(t)
	carolSerial := w.home.V.Roster.Custodians[2].Keys[0].Serial
	ctx := context.Background()

	junk := make([]byte, 72)
	rand.Read(junk)
	tests := []struct {
		name string
		s    ReviewSigner
		want error
	}{
		{"a key not enrolled as a reviewer", &tokSigner{tok: w.home.Toks["alice"]}, ErrNotReviewer},
		{"another key posing as the reviewer's", &tokSigner{tok: w.home.Toks["alice"], serial: carolSerial}, ErrReviewSignature},
		{"a signature that is not one", fakeSigner{serial: carolSerial, sig: junk}, ErrReviewSignature},
		{"the key fails", fakeSigner{serial: carolSerial, err: hardware.ErrPINBlocked}, hardware.ErrPINBlocked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, dir)
			if _, err := l.SignedReview(ctx, "S-1", DecisionAccepted, "looks fine", tc.s); !errors.Is(err, tc.want) {
				t.Fatalf("SignedReview = %v, want %v", err, tc.want)
			}
			sameSnapshot(t, before, snapshot(t, dir))
		})
	}
	if _, err := l.SignedReview(ctx, "S-404", DecisionAccepted, "x", &tokSigner{tok: w.home.Toks["carol"]}); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("review of an unknown session = %v, want ErrUnknownSession", err)
	}

	s := &tokSigner{tok: w.home.Toks["carol"]}
	e, err := l.SignedReview(ctx, "S-1", DecisionAccepted, "justified by INC-S-1", s)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls != 1 {
		t.Errorf("the key signed %d times, want once", s.calls)
	}
	var d ReviewData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatal(err)
	}
	if !d.Signed || d.ReviewerID != "carol" || d.Reviewer != "Carol" || d.Serial != carolSerial || d.Ledger != l.Entries()[0].Hash || len(d.Signature) == 0 {
		t.Errorf("recorded review %+v: want signed by carol's key, bound to this ledger", d)
	}
	st := statusJSON(t, l)
	rv := st.Vaults[0].Sessions[0].Review
	if rv == nil || !rv.Signed || rv.SignedBy == nil || rv.SignedBy.ID != "carol" || rv.Flag != "" {
		t.Fatalf("review in status %+v, want signed by carol", rv)
	}
	if k := openKinds(st, "S-1"); k[OpenUnreviewed] != 0 || k[OpenBadReview] != 0 {
		t.Errorf("open items of S-1 %v: a signed accepted review closes the session", k)
	}

	// A later unsigned review supersedes it and is flagged.
	if _, err := l.Review("S-1", "Rita", DecisionAccepted, "again"); err != nil {
		t.Fatal(err)
	}
	rv = statusJSON(t, l).Vaults[0].Sessions[0].Review
	if rv.Signed || rv.Flag != FlagUnsigned || rv.SignedBy != nil {
		t.Errorf("unsigned review in status %+v, want flagged %q", rv, FlagUnsigned)
	}
}

// rechain rewrites entry seq's data with edit and recomputes every hash
// after it and the head: a rewrite of the whole directory, which the
// integrity check cannot see, but a review signature can.
func rechain(t *testing.T, dir string, seq uint64, edit func(d *ReviewData)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, indexFile))
	if err != nil {
		t.Fatal(err)
	}
	entries, probs := ParseIndex(b)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var out []byte
	for i := range entries {
		e := &entries[i]
		if e.Seq == seq {
			var d ReviewData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			edit(&d)
			if e.Data, err = json.Marshal(d); err != nil {
				t.Fatal(err)
			}
		}
		if i > 0 {
			e.Prev = entries[i-1].Hash
		}
		e.Hash = e.ComputeHash()
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, line...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, indexFile), out, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeHead(dir, entries[len(entries)-1]); err != nil {
		t.Fatal(err)
	}
}

func TestReviewSignatureVerifiedAtStatus(t *testing.T) {
	w := getWorld(t)
	tests := []struct {
		name string
		edit func(d *ReviewData)
	}{
		{"the note changed", func(d *ReviewData) { d.Note = "nothing to see" }},
		{"follow-up made accepted", func(d *ReviewData) { d.Decision = DecisionAccepted }},
		{"claimed by a reviewer never enrolled", func(d *ReviewData) { d.ReviewerID, d.Reviewer = "mallory", "Mallory" }},
		{"claimed for another ledger", func(d *ReviewData) { d.Ledger = ZeroHash }},
		{"claimed for another report", func(d *ReviewData) { d.Report = ZeroHash }},
		{"an unsigned review marked signed", func(d *ReviewData) { d.Signature = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, dir := reviewLedger(t)
			e, err := l.SignedReview(context.Background(), "S-1", DecisionFollowUp, "rotate the key", &tokSigner{tok: w.home.Toks["carol"]})
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			rechain(t, dir, e.Seq, tc.edit)
			l = reopen(t, dir, &testClock{day(3, 2)}) // the integrity check passes: the chain is consistent
			st := statusJSON(t, l)
			rv := st.Vaults[0].Sessions[0].Review
			if rv == nil || rv.Signed || rv.SignedBy != nil || rv.Flag != FlagBadSignature || rv.Problem == "" {
				t.Fatalf("review in status %+v, want flagged %q", rv, FlagBadSignature)
			}
			if k := openKinds(st, "S-1"); k[OpenBadReview] != 1 || k[OpenUnreviewed] != 1 {
				t.Errorf("open items of S-1 %v, want %s and %s", k, OpenBadReview, OpenUnreviewed)
			}
			var buf strings.Builder
			if err := l.Export(&buf); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), FlagBadSignature) {
				t.Errorf("export does not flag the review:\n%s", buf.String())
			}
		})
	}
}

// TestReviewerObjectTamperDetected: the enrolment record is an object like
// reports and vaults; editing or deleting it is named before anything else.
func TestReviewerObjectTamperDetected(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(path string) error
		kind string
	}{
		{"edited", func(p string) error { return os.WriteFile(p, []byte("{}"), 0o600) }, KindEdited},
		{"deleted", os.Remove, KindDeleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, dir := reviewLedger(t)
			var obj string
			for _, e := range l.Entries() {
				if e.Type == TypeReviewer {
					obj, _ = objectRef(e)
				}
			}
			l.Close()
			if err := tc.do(filepath.Join(dir, objectsDir, obj)); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Config{Dir: dir, Trust: getWorld(t).trust}, false)
			var te *TamperError
			if !errors.As(err, &te) || !hasProblem(te, tc.kind, "enrolment of reviewer carol") {
				t.Fatalf("Open = %v, want the reviewer's enrolment %s", err, tc.kind)
			}
		})
	}
}
