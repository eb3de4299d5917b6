package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// fakeEngine is the whole Engine for flow tests, composed of one small fake
// per screen interface; a screen test needs only its part. Every recorded
// call is kept for assertions.
type fakeEngine struct {
	*fakeKeys
	*fakeSteps
	*fakeSession
	mode Mode
}

var errFake = errors.New("disk full")

func newFake() *fakeEngine {
	k := newFakeKeys()
	return &fakeEngine{fakeKeys: k, fakeSteps: newFakeSteps(k, 2), fakeSession: newFakeSession()}
}

func (f *fakeEngine) Mode() Mode { return f.mode }

func (f *fakeEngine) Lock() Summary {
	f.locked = true
	return Summary{Exported: f.files, Revealed: f.MustRotate(), Wiped: true}
}

// SignSummary is built from what the fakes recorded, as the report would be.
func (f *fakeEngine) SignSummary(context.Context) (SignSummary, error) {
	if f.summaryErr != nil {
		return SignSummary{}, f.summaryErr
	}
	m := SignSummary{Session: "2026-11-23T0300Z-7Q4M", Vault: f.Fingerprint(), Runbook: f.Runbook(),
		Declared: t0, Custodians: slices.Clone(f.everCounted), Revealed: f.MustRotate(), Answers: f.CloseOutQuestions()}
	if f.declared != nil {
		m.Incident = *f.declared
	}
	if n := len(f.announced); n > 0 {
		a := f.announced[n-1]
		m.Announcement = Announcement{Code: fakeCode, By: a.by, At: a.at, Reached: a.reached, Note: a.note}
	}
	for _, s := range f.steps {
		if s.State == StepSkipped {
			m.Skipped = append(m.Skipped, SkippedStep{Step: s.ID, Title: s.Title, Reason: f.skipped[s.ID]})
		}
		for _, who := range s.Confirmed {
			for serial, name := range f.roster {
				if name == who {
					m.Confirmations = append(m.Confirmations, StepConfirmation{Step: s.ID, Title: s.Title, Custodian: who, Serial: serial})
				}
			}
		}
	}
	return m, nil
}

// fakeSession is the preflight, declaration, close-out and sign parts.
type fakeSession struct {
	checks      []Check
	acks        map[string]string
	clock       []bool
	declared    *Declaration
	announced   []announcement
	codeValue   string // "" means fakeCode
	codeErr     error
	announceErr error
	questions   []Question
	exportDir   string
	files       []ExportedFile
	locked      bool
	summaryErr  error
}

func newFakeSession() *fakeSession {
	return &fakeSession{
		checks: []Check{
			{"Network", Pass, "no interface up except loopback"},
			{"Vault signature", Pass, "fingerprint 3F2A 9C1B 77D0 E4A5"},
			{"Report destination", Warn, "/media/usb is not removable media; use a USB stick if you can"},
			{"PC/SC service", Pass, "pcscd 2.0.3"},
		},
		acks: map[string]string{},
		questions: []Question{
			{ID: "what-broke", Text: "What broke?"},
			{ID: "what-done", Text: "What was done?"},
			{ID: "restored", Text: "How was normal access restored?"},
			{ID: "created", Text: `Was any identity, key or role created? If yes, which, and was it removed? Answer "no", or "yes: " and the details.`},
		},
	}
}

func (f *fakeSession) Preflight(context.Context) []Check { return slices.Clone(f.checks) }
func (f *fakeSession) AcknowledgeWarning(name, reason string) error {
	f.acks[name] = reason
	return nil
}
func (f *fakeSession) ConfirmClock(_ time.Time, ok bool) error {
	f.clock = append(f.clock, ok)
	return nil
}
func (f *fakeSession) Runbook() string             { return "aws-root-recovery v3 (sha256 9f2c…41aa)" }
func (f *fakeSession) Declare(d Declaration) error { f.declared = &d; return nil }

// announcement is one RecordAnnouncement call.
type announcement struct {
	by      string
	at      time.Time
	reached bool
	note    string
}

// fakeCode is the announce code of every fake session, as internal/announce
// would make one: Crockford-style letters and digits, check character last.
const fakeCode = "7K3Q9XM24H"

func (f *fakeSession) AnnounceCode() (string, error) {
	if f.codeErr != nil {
		return "", f.codeErr
	}
	if f.codeValue != "" {
		return f.codeValue, nil
	}
	return fakeCode, nil
}

func (f *fakeSession) RecordAnnouncement(by string, at time.Time, reached bool, note string) error {
	if f.announceErr != nil {
		return f.announceErr
	}
	f.announced = append(f.announced, announcement{by, at, reached, note})
	return nil
}

func (f *fakeSession) CloseOutQuestions() []Question { return slices.Clone(f.questions) }
func (f *fakeSession) AnswerCloseOut(id, text string) error {
	for i := range f.questions {
		if f.questions[i].ID == id {
			f.questions[i].Answer = text
			return nil
		}
	}
	return fmt.Errorf("no question %q", id)
}

func (f *fakeSession) Export(_ context.Context, dir string) ([]ExportedFile, error) {
	if dir == "/readonly" {
		return nil, fmt.Errorf("creating %q: %w", dir+"/report.jws.json", errFake)
	}
	f.exportDir = dir
	f.files = []ExportedFile{
		{Path: dir + "/breakglass-INC-4711.jws.json", SHA256: "5b1e0c9a2f7d4e8b6a3c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a"},
		{Path: dir + "/breakglass-INC-4711.md", SHA256: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"},
	}
	return f.files, nil
}

var _ Engine = (*fakeEngine)(nil)
