package ui

import (
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// A screen needs only its own small interface: these tests drive one screen
// with a fake of just that interface, without the root model.

func screenEnv() *env {
	return &env{ctx: context.Background(), keys: DefaultKeyMap(), st: DefaultStyles(),
		opts: Options{Now: func() time.Time { return t0 }}, now: t0, md: newMarkdown(),
		after: func(time.Duration, func(time.Time) tea.Msg) tea.Cmd { return nil }}
}

// declareOnly is the whole DeclareEngine.
type declareOnly struct{ got []Declaration }

func (d *declareOnly) Runbook() string             { return "drill v1" }
func (d *declareOnly) Declare(x Declaration) error { d.got = append(d.got, x); return nil }

func TestDeclareScreenAlone(t *testing.T) {
	eng := &declareOnly{}
	s := newDeclare(screenEnv(), eng)
	s.setSize(80, 20)
	var done bool
	for _, k := range []string{"D", "a", "n", "a", "enter", "I", "N", "C", "enter", "S", "S", "O", "enter"} {
		if cmd := s.update(keyMsg(k)); cmd != nil {
			_, done = cmd().(declaredMsg)
		}
	}
	if !done || len(eng.got) != 1 || eng.got[0] != (Declaration{Operator: "Dana", Ticket: "INC", WhatBroke: "SSO"}) {
		t.Fatalf("declared %v, done %v", eng.got, done)
	}
}

// closeOutOnly is the whole CloseOutEngine.
type closeOutOnly struct{ answers map[string]string }

func (c *closeOutOnly) CloseOutQuestions() []Question {
	return []Question{{ID: "q1", Text: "What broke?"}}
}
func (c *closeOutOnly) AnswerCloseOut(id, text string) error {
	c.answers[id] = text
	return nil
}
func (c *closeOutOnly) MustRotate() []string { return []string{"root password"} }

func TestCloseOutScreenAlone(t *testing.T) {
	eng := &closeOutOnly{answers: map[string]string{}}
	s := newCloseOut(screenEnv(), eng)
	s.setSize(80, 20)
	for _, k := range []string{"enter", "c", "e", "r", "t", "enter"} {
		s.update(keyMsg(k))
	}
	if eng.answers["q1"] != "cert" {
		t.Fatalf("answers %v", eng.answers)
	}
	cmd := s.update(keyMsg("n"))
	if cmd == nil {
		t.Fatal("no close-out done message")
	}
	if _, ok := cmd().(closeOutDoneMsg); !ok {
		t.Fatal("close-out did not finish")
	}
}
