package vpcd

import "sync"

// Presence says whether a card is in its reader. Pull takes it out (Serve
// closes its connection and does not reconnect); Insert puts it back. The
// zero value is not usable; use NewPresence. Safe for concurrent use.
type Presence struct {
	mu       sync.Mutex
	inserted bool
	changed  chan struct{} // closed and replaced on every change
}

// NewPresence returns a Presence starting inserted or pulled out.
func NewPresence(inserted bool) *Presence {
	return &Presence{inserted: inserted, changed: make(chan struct{})}
}

// Pull takes the card out of the reader. Pulling a pulled card does nothing.
func (p *Presence) Pull() { p.set(false) }

// Insert puts the card back. Inserting an inserted card does nothing.
func (p *Presence) Insert() { p.set(true) }

// Inserted reports whether the card is in the reader.
func (p *Presence) Inserted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inserted
}

func (p *Presence) set(in bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inserted == in {
		return
	}
	p.inserted = in
	close(p.changed)
	p.changed = make(chan struct{})
}

// state returns the current presence and a channel closed at the next change.
func (p *Presence) state() (bool, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inserted, p.changed
}
