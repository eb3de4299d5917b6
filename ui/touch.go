package ui

import "context"

type touchNoticeKey struct{}

// WithTouchNotice returns a context carrying f. An Engine method that may wait
// for a touch (AddCustodian, Confirm, Sign) calls TouchNotice(ctx)() the moment
// the key starts waiting for one — after the PIN is accepted, and only when
// the slot's touch policy needs a touch — so the screen shows "touch your
// key" exactly then. f must be safe to call from any goroutine, and is called
// at most once per operation.
func WithTouchNotice(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, touchNoticeKey{}, f)
}

// TouchNotice returns the function WithTouchNotice put in ctx, or one that
// does nothing.
func TouchNotice(ctx context.Context) func() {
	if f, ok := ctx.Value(touchNoticeKey{}).(func()); ok && f != nil {
		return f
	}
	return func() {}
}
