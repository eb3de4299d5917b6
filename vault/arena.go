package vault

import (
	"sync"

	"github.com/awnumar/memguard"
)

// arenaSize is the locked arena an Opened vault carves its plaintexts from:
// room for a few maximum-size secrets at once. A request that does not fit
// gets a locked buffer of its own (still locked and wiped, only slower).
const arenaSize = 4*(MaxSecretSize+4096) + 64<<10

// arena is one locked, guarded region (a single memguard buffer: mmap,
// MADV_DONTDUMP, mlock and guard pages paid once per session) from which
// plaintexts are allocated first-fit. Freed spans are wiped at once.
type arena struct {
	mu   sync.Mutex
	buf  *memguard.LockedBuffer
	free []span // sorted by offset, coalesced
}

type span struct{ off, n int }

func newArena(size int) *arena {
	return &arena{buf: memguard.NewBuffer(size), free: []span{{0, size}}}
}

// alloc returns a wiped slice of n bytes in locked memory (ok false when
// the arena is full or destroyed).
func (a *arena) alloc(n int) (off int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n <= 0 || !a.buf.IsAlive() {
		return 0, false
	}
	for i, f := range a.free {
		if f.n >= n {
			off = f.off
			if f.n == n {
				a.free = append(a.free[:i], a.free[i+1:]...)
			} else {
				a.free[i] = span{f.off + n, f.n - n}
			}
			return off, true
		}
	}
	return 0, false
}

// release wipes [off, off+n) and returns it to the free list.
func (a *arena) release(off, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.buf.IsAlive() {
		return
	}
	memguard.WipeBytes(a.buf.Bytes()[off : off+n])
	i := 0
	for i < len(a.free) && a.free[i].off < off {
		i++
	}
	a.free = append(a.free, span{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = span{off, n}
	// Coalesce with the neighbours.
	if i+1 < len(a.free) && a.free[i].off+a.free[i].n == a.free[i+1].off {
		a.free[i].n += a.free[i+1].n
		a.free = append(a.free[:i+1], a.free[i+2:]...)
	}
	if i > 0 && a.free[i-1].off+a.free[i-1].n == a.free[i].off {
		a.free[i-1].n += a.free[i].n
		a.free = append(a.free[:i], a.free[i+1:]...)
	}
}

// destroy wipes and unmaps the whole arena: every Plaintext from it is dead.
func (a *arena) destroy() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf.Destroy()
	a.free = nil
}

func (a *arena) alive() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.IsAlive()
}

// Plaintext is a secret's value in locked memory: a span of the opened
// vault's arena (or, when the arena is full, a locked buffer of its own).
// Destroy wipes it; Lock wipes every Plaintext of the vault at once.
type Plaintext struct {
	mu   sync.Mutex
	a    *arena // nil: own buffer
	own  *memguard.LockedBuffer
	off  int
	cap  int // bytes reserved
	voff int // where the value starts in the span
	n    int // bytes of value
	dead bool
}

// newPlaintext reserves size bytes of locked memory in a, or a buffer of
// its own when a is full.
func newPlaintext(a *arena, size int) *Plaintext {
	if off, ok := a.alloc(size); ok {
		return &Plaintext{a: a, off: off, cap: size}
	}
	return &Plaintext{own: memguard.NewBuffer(size), cap: size}
}

// space is the whole reserved span.
func (p *Plaintext) space() []byte {
	if p.a != nil {
		return p.a.buf.Bytes()[p.off : p.off+p.cap]
	}
	return p.own.Bytes()
}

// Bytes is the value, in locked memory; nil once destroyed. Do not keep
// the slice beyond the Plaintext's life and do not copy it to the heap.
func (p *Plaintext) Bytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.aliveLocked() {
		return nil
	}
	return p.space()[p.voff : p.voff+p.n]
}

// Size is the value's length in bytes (0 once destroyed).
func (p *Plaintext) Size() int { return len(p.Bytes()) }

// IsAlive reports whether the value is still there (not destroyed, vault
// not locked).
func (p *Plaintext) IsAlive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.aliveLocked()
}

func (p *Plaintext) aliveLocked() bool {
	if p.dead {
		return false
	}
	if p.a != nil {
		return p.a.alive()
	}
	return p.own.IsAlive()
}

// Destroy wipes the value. It is safe to call more than once.
func (p *Plaintext) Destroy() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return
	}
	p.dead = true
	if p.a != nil {
		p.a.release(p.off, p.cap)
		return
	}
	p.own.Destroy()
}
