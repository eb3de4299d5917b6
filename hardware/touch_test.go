package hardware

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTouching walks one key's touch cache through a clock the test moves:
// the prompt is called exactly when the key will wait for a touch.
func TestTouching(t *testing.T) {
	now := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	c := &TouchCache{Now: func() time.Time { return now }}
	prompts := 0
	ctx := WithTouchPrompt(context.Background(), func() { prompts++ })
	refused := errors.New("refused")
	steps := []struct {
		name    string
		advance time.Duration
		policy  TouchPolicy
		err     error
		want    int
	}{
		{"never", 0, TouchPolicyNever, nil, 0},
		{"default (the YubiKey's: never)", 0, TouchPolicyDefault, nil, 0},
		{"cached, first use", 0, TouchPolicyCached, refused, 1},
		{"cached, first use failed, so still not cached", time.Second, TouchPolicyCached, nil, 1},
		{"cached, within the cache", 14 * time.Second, TouchPolicyCached, nil, 0},
		{"always, even within the cache", 0, TouchPolicyAlways, nil, 1},
		{"cached, 14s after the always touch", 14 * time.Second, TouchPolicyCached, nil, 0},
		{"cached, cache expired", time.Second, TouchPolicyCached, nil, 1},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		prompts = 0
		ran := false
		_, err := Touching(ctx, c, st.policy, func() (int, error) { ran = true; return 0, st.err })
		if !ran || !errors.Is(err, st.err) {
			t.Fatalf("%s: op ran %v, error %v; want ran, %v", st.name, ran, err, st.err)
		}
		if prompts != st.want {
			t.Errorf("%s: %d prompts, want %d", st.name, prompts, st.want)
		}
	}
	PromptTouch(context.Background()) // no prompt in the context: nothing happens
}
