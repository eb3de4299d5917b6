package ui

import (
	"context"
	"slices"
	"sync"
	"time"

	"breakglass/internal/inert"
)

// This file is the one choke point for untrusted text: every string the
// Engine returns (custodian names, key readers, runbook titles and
// instructions, evidence, answers, check details, errors) comes from a file,
// a key or a report, so the console sees the Engine only through
// inertEngine, which renders each string inert (internal/inert) before any
// screen holds it. One-line fields use inert.Line, blocks (instructions)
// inert.Text. Secret values are not touched: they are shown as they are,
// and copying them would leave plaintext in ordinary memory.
//
// Strings the screens pass back to the Engine (a confirming custodian's
// name, a warning's name, a question id) are mapped back to the engine's own
// spelling, so a name with a control character still works.

// inertEngine wraps eng unless it is already wrapped.
func inertEngine(eng Engine) Engine {
	if _, ok := eng.(*inertEng); ok {
		return eng
	}
	return &inertEng{Engine: eng, back: map[string]string{}}
}

type inertEng struct {
	Engine
	mu   sync.Mutex
	back map[string]string // inert spelling → engine's spelling
}

// line renders s inert and remembers how to map it back.
func (x *inertEng) line(s string) string {
	l := inert.Line(s)
	if l != s {
		x.mu.Lock()
		x.back[l] = s
		x.mu.Unlock()
	}
	return l
}

func (x *inertEng) orig(s string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if o, ok := x.back[s]; ok {
		return o
	}
	return s
}

func (x *inertEng) lines(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = x.line(s)
	}
	return out
}

// inertErr shows an engine error inert and keeps its chain for errors.Is/As.
type inertErr struct{ err error }

func (e inertErr) Error() string { return inert.Line(e.err.Error()) }
func (e inertErr) Unwrap() error { return e.err }

func safeErr(err error) error {
	if err == nil {
		return nil
	}
	return inertErr{err}
}

func (x *inertEng) Preflight(ctx context.Context) []Check {
	cs := slices.Clone(x.Engine.Preflight(ctx))
	for i := range cs {
		cs[i].Name, cs[i].Detail = x.line(cs[i].Name), x.line(cs[i].Detail)
	}
	return cs
}

func (x *inertEng) AcknowledgeWarning(name, reason string) error {
	return safeErr(x.Engine.AcknowledgeWarning(x.orig(name), reason))
}

func (x *inertEng) Runbook() string             { return x.line(x.Engine.Runbook()) }
func (x *inertEng) Fingerprint() string         { return x.line(x.Engine.Fingerprint()) }
func (x *inertEng) Declare(d Declaration) error { return safeErr(x.Engine.Declare(d)) }

// AnnounceCode is checked by the screen to be letters and digits; inert
// here all the same, so a refused code is shown safely in the error.
func (x *inertEng) AnnounceCode() (string, error) {
	c, err := x.Engine.AnnounceCode()
	return x.line(c), safeErr(err)
}

func (x *inertEng) RecordAnnouncement(by string, at time.Time, reached bool, note string) error {
	return safeErr(x.Engine.RecordAnnouncement(by, at, reached, note))
}

func (x *inertEng) quorum(q QuorumState) QuorumState {
	q.Counted = x.custodians(q.Counted)
	q.Remaining = x.lines(q.Remaining)
	return q
}

func (x *inertEng) custodians(cs []Custodian) []Custodian {
	out := make([]Custodian, len(cs))
	for i, c := range cs {
		out[i] = Custodian{Name: x.line(c.Name), Serial: c.Serial}
	}
	return out
}

func (x *inertEng) Quorum() QuorumState      { return x.quorum(x.Engine.Quorum()) }
func (x *inertEng) Reauthorise() QuorumState { return x.quorum(x.Engine.Reauthorise()) }

func (x *inertEng) ConnectedKeys(ctx context.Context) ([]KeySeen, error) {
	ks, err := x.Engine.ConnectedKeys(ctx)
	ks = slices.Clone(ks)
	for i := range ks {
		ks[i].Reader, ks[i].Custodian = x.line(ks[i].Reader), x.line(ks[i].Custodian)
		if ks[i].Refusal != nil {
			ks[i].Refusal = safeErr(ks[i].Refusal)
		}
	}
	return ks, safeErr(err)
}

func (x *inertEng) AddCustodian(ctx context.Context, serial uint32, pin string) (QuorumState, error) {
	q, err := x.Engine.AddCustodian(ctx, serial, pin)
	return x.quorum(q), safeErr(err)
}

func (x *inertEng) ConfirmLastPINTry(serial uint32) error {
	return safeErr(x.Engine.ConfirmLastPINTry(serial))
}

func (x *inertEng) Steps() []StepView {
	ss := slices.Clone(x.Engine.Steps())
	for i := range ss {
		s := &ss[i]
		s.ID, s.Title, s.Instructions = x.line(s.ID), x.line(s.Title), inert.Text(s.Instructions)
		s.Checks = append([]Item(nil), s.Checks...)
		for j := range s.Checks {
			s.Checks[j].Text = x.line(s.Checks[j].Text)
		}
		s.Evidence = append([]Evidence(nil), s.Evidence...)
		for j := range s.Evidence {
			s.Evidence[j].Prompt, s.Evidence[j].Answer = x.line(s.Evidence[j].Prompt), x.line(s.Evidence[j].Answer)
		}
		s.Secrets, s.Confirmers, s.Confirmed = x.lines(s.Secrets), x.lines(s.Confirmers), x.lines(s.Confirmed)
	}
	return ss
}

func (x *inertEng) Tick(step, check int) error { return safeErr(x.Engine.Tick(step, check)) }
func (x *inertEng) Answer(step, ev int, text string) error {
	return safeErr(x.Engine.Answer(step, ev, text))
}
func (x *inertEng) Confirm(ctx context.Context, step int, who, pin string) error {
	return safeErr(x.Engine.Confirm(ctx, step, x.orig(who), pin))
}
func (x *inertEng) Complete(step int) error { return safeErr(x.Engine.Complete(step)) }
func (x *inertEng) Skip(step int, reason string) error {
	return safeErr(x.Engine.Skip(step, reason))
}

func (x *inertEng) Reveal(ctx context.Context, step int, name string) (Secret, error) {
	s, err := x.Engine.Reveal(ctx, step, x.orig(name))
	s.Name = x.line(s.Name)
	return s, safeErr(err)
}

func (x *inertEng) CloseOutQuestions() []Question { return x.questions(x.Engine.CloseOutQuestions()) }

func (x *inertEng) questions(qs []Question) []Question {
	qs = slices.Clone(qs)
	for i := range qs {
		qs[i].ID, qs[i].Text, qs[i].Answer = x.line(qs[i].ID), x.line(qs[i].Text), x.line(qs[i].Answer)
	}
	return qs
}

func (x *inertEng) AnswerCloseOut(id, text string) error {
	return safeErr(x.Engine.AnswerCloseOut(x.orig(id), text))
}
func (x *inertEng) MustRotate() []string { return x.lines(x.Engine.MustRotate()) }

func (x *inertEng) SignSummary(ctx context.Context) (SignSummary, error) {
	m, err := x.Engine.SignSummary(ctx)
	m.Session, m.Vault, m.Runbook = x.line(m.Session), x.line(m.Vault), x.line(m.Runbook)
	m.Incident = Declaration{Operator: x.line(m.Incident.Operator), Ticket: x.line(m.Incident.Ticket),
		WhatBroke: x.line(m.Incident.WhatBroke)}
	a := &m.Announcement
	a.Code, a.By, a.Note = x.line(a.Code), x.line(a.By), x.line(a.Note)
	m.Custodians = x.custodians(m.Custodians)
	m.Revealed = x.lines(m.Revealed)
	m.Skipped, m.Confirmations = slices.Clone(m.Skipped), slices.Clone(m.Confirmations)
	for i := range m.Skipped {
		s := &m.Skipped[i]
		s.Step, s.Title, s.Reason = x.line(s.Step), x.line(s.Title), x.line(s.Reason)
	}
	for i := range m.Confirmations {
		c := &m.Confirmations[i]
		c.Step, c.Title, c.Custodian = x.line(c.Step), x.line(c.Title), x.line(c.Custodian)
	}
	m.Answers = x.questions(m.Answers)
	return m, safeErr(err)
}

func (x *inertEng) Sign(ctx context.Context, serial uint32, pin string) error {
	return safeErr(x.Engine.Sign(ctx, serial, pin))
}

func (x *inertEng) Export(ctx context.Context, dir string) ([]ExportedFile, error) {
	fs, err := x.Engine.Export(ctx, dir)
	return x.files(fs), safeErr(err)
}

func (x *inertEng) files(fs []ExportedFile) []ExportedFile {
	fs = slices.Clone(fs)
	for i := range fs {
		fs[i].Path, fs[i].SHA256 = x.line(fs[i].Path), x.line(fs[i].SHA256)
	}
	return fs
}

func (x *inertEng) Lock() Summary {
	s := x.Engine.Lock()
	s.Exported, s.Revealed = x.files(s.Exported), x.lines(s.Revealed)
	return s
}
