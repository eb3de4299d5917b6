package console

import (
	"errors"
	"fmt"
	"strings"

	"breakglass/runbook/session"
	"breakglass/ui"
)

// CloseOutQuestions are the session's questions; yes/no ones say how to answer.
func (s *Service) CloseOutQuestions() []ui.Question {
	s.mu.Lock()
	defer s.mu.Unlock()
	answers := map[string]session.CloseOutAnswer{}
	for _, a := range s.sess.State().CloseOut {
		answers[a.Question] = a
	}
	out := make([]ui.Question, 0, len(session.Questions))
	for _, q := range session.Questions {
		uq := ui.Question{ID: q.ID, Text: q.Prompt}
		if q.ID == session.QWhatBroke {
			if d := s.sess.State().Declaration.WhatBroke; d != "" {
				uq.Text += fmt.Sprintf(" (declared at the start: %q — confirm or correct it)", d)
			}
		}
		if q.YesNo {
			uq.Text += ` Answer "no", or "yes: " and the details.`
		}
		if a, ok := answers[q.ID]; ok {
			uq.Answer = a.Text
			if a.YesNo != "" {
				uq.Answer = strings.TrimSuffix(a.YesNo+": "+a.Text, ": ")
			}
		}
		out = append(out, uq)
	}
	return out
}

// AnswerCloseOut records one answer. A yes/no question takes "no" (with
// optional detail after "no:" or "no ") or "yes: " followed by the details.
func (s *Service) AnswerCloseOut(id, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	yesNo := false
	for _, q := range session.Questions {
		if q.ID == id {
			yesNo = q.YesNo
		}
	}
	if !yesNo {
		return s.sess.AnswerCloseOut(id, "", text)
	}
	verdict, detail, err := parseYesNo(text)
	if err != nil {
		return err
	}
	return s.sess.AnswerCloseOut(id, verdict, detail)
}

// parseYesNo reads a yes/no close-out answer: "no", "no: detail",
// "no detail", "yes: detail" or "yes detail" (case-insensitive); "yes"
// needs a detail.
func parseYesNo(text string) (verdict, detail string, err error) {
	t := strings.TrimSpace(text)
	low := strings.ToLower(t)
	switch {
	case low == "no" || strings.HasPrefix(low, "no:") || strings.HasPrefix(low, "no "):
		return "no", strings.TrimSpace(strings.TrimLeft(t[2:], ": ")), nil
	case strings.HasPrefix(low, "yes"):
		detail := strings.TrimSpace(strings.TrimLeft(t[3:], ": "))
		if detail == "" {
			return "", "", errors.New(`say what after "yes:" — which identity, key, role or logging change, and whether it was undone`)
		}
		return "yes", detail, nil
	}
	return "", "", errors.New(`answer "no", or "yes: " followed by the details`)
}

// MustRotate lists the credentials revealed in this session.
func (s *Service) MustRotate() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustRotateLocked()
}

func (s *Service) mustRotateLocked() []string {
	var out []string
	for _, r := range s.sess.MustRotate() {
		out = append(out, r.Name)
	}
	return out
}
