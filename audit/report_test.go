package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/attest"
)

func journalBytes(entries []Entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		line, _ := json.Marshal(e)
		b.Write(append(line, '\n'))
	}
	return b.Bytes()
}

// TestTestdata keeps testdata/audit in step: a signed sample report and its
// test root, the journal it embeds, and the Markdown rendering. Run with
// -update to regenerate (new keys, so report.jws changes).
func TestTestdata(t *testing.T) {
	jwsPath, rootPath := filepath.Join(testdataDir, "report.jws"), filepath.Join(testdataDir, "root.pem")
	if *update {
		f := newFixture(t)
		writePEM(t, rootPath, f.pki.root)
		j := journalBytes(f.entries)
		for name, b := range map[string][]byte{
			"report.jws": f.jws, "journal.jsonl": j, "journal-torn.jsonl": j[:len(j)-40],
			"report.md": RenderMarkdown(f.report), "report.schema.json": Schema(),
		} {
			if err := WriteFileAtomic(filepath.Join(testdataDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	jws, err := os.ReadFile(jwsPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := VerifyReportFile(jwsPath, VerifyOptions{Trust: loadTrust(t, rootPath), NonProduction: true})
	if err != nil {
		var out strings.Builder
		v.Print(&out)
		t.Fatalf("committed sample report does not verify: %v\n%s", err, out.String())
	}
	payload, _, _ := parseJWS(jws)
	if again, _ := MarshalPayload(v.Report); !bytes.Equal(again, payload) {
		t.Error("payload does not re-encode to the signed bytes")
	}
	md, err := os.ReadFile(filepath.Join(testdataDir, "report.md"))
	if err != nil || !bytes.Equal(md, RenderMarkdown(v.Report)) {
		t.Errorf("report.md differs from RenderMarkdown (run go test -update): %v", err)
	}
	j, err := ReadFile(filepath.Join(testdataDir, "journal.jsonl"))
	if err != nil || !slices.EqualFunc(j, v.Report.Journal.Entries, entryEqual) {
		t.Errorf("journal.jsonl is not the report's journal: %v", err)
	}
}

func loadTrust(t testing.TB, path string) *attest.Trust {
	t.Helper()
	tr, err := attest.LoadTestTrust(path)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestSchemaMatchesTestdata(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testdataDir, "report.schema.json"))
	if err != nil || !bytes.Equal(b, Schema()) {
		t.Fatalf("testdata/audit/report.schema.json differs from Schema() (run go test -update): %v", err)
	}
}

// TestSchemaDescribesPayload checks that every object in a real payload has
// exactly the properties the schema lists as required.
func TestSchemaDescribesPayload(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(Schema(), &schema); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	var payload map[string]any
	if err := json.Unmarshal(f.payload, &payload); err != nil {
		t.Fatal(err)
	}
	defs := schema["$defs"].(map[string]any)
	var walk func(path string, s map[string]any, v any)
	walk = func(path string, s map[string]any, v any) {
		if ref, ok := s["$ref"].(string); ok {
			s = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		switch v := v.(type) {
		case map[string]any:
			props, _ := s["properties"].(map[string]any)
			if props == nil {
				return // free-form object (entry data)
			}
			var req, have []string
			for _, r := range s["required"].([]any) {
				req = append(req, r.(string))
			}
			for k := range v {
				have = append(have, k)
				ps, ok := props[k].(map[string]any)
				if !ok {
					t.Errorf("%s.%s is not in the schema", path, k)
					continue
				}
				walk(path+"."+k, ps, v[k])
			}
			slices.Sort(req)
			slices.Sort(have)
			if !slices.Equal(req, have) {
				t.Errorf("%s: payload has %v, schema requires %v", path, have, req)
			}
		case []any:
			items, _ := s["items"].(map[string]any)
			for _, it := range v {
				if items != nil {
					walk(path+"[]", items, it)
				}
			}
		}
	}
	walk("$", schema, payload)
}

func TestBuildReport(t *testing.T) {
	f := newFixture(t)
	r := f.report
	if r.Session.ID != "S-2026-0001" || r.Session.Operator != "Olga Operator" || r.Session.Ended == "" {
		t.Errorf("session %+v", r.Session)
	}
	if !slices.Equal(r.MustRotate, []string{"aws-root-totp", "db-root"}) || len(r.Revealed) != 2 {
		t.Errorf("must rotate %v, revealed %v", r.MustRotate, r.Revealed)
	}
	if len(r.Closeout) != 2 || r.Closeout[0].Text != "IdP certificate expired" || r.Session.Outcome != "completed" || r.Session.Threshold != 2 {
		t.Errorf("closeout %v session %+v", r.Closeout, r.Session)
	}
	if len(r.Quorum) != 2 || r.Custodians[0].ID != "alice" || len(r.Timeline) != 4 || r.Timeline[3].Event != "skipped" || r.Timeline[3].Detail != "not needed" {
		t.Errorf("quorum %v timeline %v", r.Quorum, r.Timeline)
	}
	again, err := BuildReport(f.entries, []Custodian{f.custodians[0].record(t), f.custodians[1].record(t)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := MarshalPayload(again); !bytes.Equal(b, f.payload) {
		t.Error("payload depends on the order custodians are given in")
	}
	if bytes.Contains(f.payload, []byte("null")) {
		t.Error("payload has a null; lists must be empty arrays")
	}
}

func TestBuildReportRefuses(t *testing.T) {
	f := newFixture(t)
	recs := []Custodian{f.custodians[0].record(t), f.custodians[1].record(t)}
	wrongSerial := slices.Clone(recs)
	wrongSerial[1].Serial = 1
	for _, tc := range []struct {
		name       string
		entries    []Entry
		custodians []Custodian
	}{
		{"session not closed", f.entries[:len(f.entries)-1], recs},
		{"broken chain", slices.Delete(slices.Clone(f.entries), 3, 4), recs},
		{"custodian missing", f.entries, recs[:1]},
		{"custodian serial differs", f.entries, wrongSerial},
		{"custodian twice", f.entries, append(slices.Clone(recs), recs[0])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := BuildReport(tc.entries, tc.custodians); err == nil {
				t.Error("BuildReport accepted it")
			}
		})
	}
}

func TestRenderMarkdownEscapes(t *testing.T) {
	f := newFixture(t)
	md := string(RenderMarkdown(f.report))
	for _, want := range []string{"NON-PRODUCTION", "SSO is down \\| \\<b\\>hard\\</b\\>", "- [ ] db-root", "INC-42"} {
		if !strings.Contains(md, want) {
			t.Errorf("rendering lacks %q", want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.jws")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteFileAtomic(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Errorf("file holds %q, want %q", b, content)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() != 0 { // root ignores directory permissions
		if err := WriteFileAtomic(p, []byte("third"), 0o600); err == nil {
			t.Error("writing into a read-only directory succeeded")
		}
		if b, _ := os.ReadFile(p); string(b) != "second, longer" {
			t.Errorf("failed write changed the file to %q", b)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

// TestDrillAbortedReauthorised covers a drill that checked a secret, lost
// its window, was reauthorised by another custodian and then aborted.
func TestDrillAbortedReauthorised(t *testing.T) {
	pki := newPKI(t, "Test Attestation Root")
	a, b, c := pki.custodian(t, "alice", "A", 1), pki.custodian(t, "bob", "B", 2), pki.custodian(t, "carol", "C", 3)
	j, err := Create(filepath.Join(t.TempDir(), "j.jsonl"), "D-1", nil, Config{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, ev := range []struct {
		actor, typ string
		data       any
	}{
		{"breakglass", TypeStation, StationData{BinaryVersion: "v1", VaultFingerprint: "fp", AttestationRoot: "TEST/non-production: Test Attestation Root"}},
		{"system", TypeStarted, obj{"runbook": obj{"name": "rb", "sha256": "11"}, "threshold": 2, "drill": true}},
		{"operator", TypeDeclared, obj{"operator": "op", "ticket": "DRILL-1", "what_broke": "nothing: drill"}},
		{"alice", TypeQuorumCustodian, obj{"id": "alice", "serial": 1}},
		{"bob", TypeQuorumCustodian, obj{"id": "bob", "serial": 2}},
		{"operator", TypeSecretChecked, obj{"name": "db-root", "step": "login", "mode": "check"}},
		{"system", "window.expired", obj{}},
		{"operator", TypeReauthorised, obj{"custodians": []obj{{"id": "alice", "serial": 1}, {"id": "carol", "serial": 3}}}},
		{"operator", TypeAborted, obj{"by": "operator", "reason": "drill time over"}},
	} {
		if _, err := j.Append(ev.actor, ev.typ, ev.data); err != nil {
			t.Fatal(err)
		}
	}
	recs := []Custodian{a.record(t), b.record(t), c.record(t)}
	r, err := BuildReport(j.Entries(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Session.Mode != ModeDrill || r.Session.Outcome != "aborted" || r.Session.AbortReason != "operator: drill time over" {
		t.Errorf("session %+v", r.Session)
	}
	if len(r.MustRotate) != 0 || len(r.Revealed) != 1 || r.Revealed[0].Mode != "check" || len(r.Quorum) != 4 {
		t.Errorf("must rotate %v revealed %v quorum %v", r.MustRotate, r.Revealed, r.Quorum)
	}
	p, _ := MarshalPayload(r)
	signers := []ReportSigner{a.signer(), b.signer(), c.signer()}
	jws, err := SignReport(p, signers)
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Trust: pki.trust, NonProduction: true}
	mustVerifyOK(t, jws, opts)
	// carol joined the quorum, so her signature is required.
	jws2, _ := SignReport(p, signers[:2])
	mustFail(t, "carol did not sign", jws2, opts, "threshold")
}
