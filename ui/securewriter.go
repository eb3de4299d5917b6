package ui

import (
	"io"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/awnumar/memguard"
	"github.com/charmbracelet/x/ansi"
)

// A revealed secret is never put in a view, a string or the renderer's
// cells: the view holds one Private Use Area placeholder per terminal cell
// of the secret (U+E000 + k), and secureOutput, the io.Writer around the
// program's output, swaps each placeholder for the secret's bytes, read
// from the locked buffer at the moment of the write, into one reused
// locked scratch buffer that goes to the terminal in a single write. The
// renderer diffs and redraws placeholders like any text; only the kernel's
// tty buffer ever sees the real bytes.
const (
	phBase = 0xE000
	phSize = 0xF8FF - phBase + 1 // 6400 placeholders: the BMP Private Use Area
)

// phSpan is what one placeholder stands for: bytes [off, end) of a
// secret's value (a grapheme's runes; end == off for the second cell of a
// wide character).
type phSpan struct{ off, end int }

// phSlot is one shown secret's run of placeholders.
type phSlot struct {
	base  int // first placeholder index
	value func() []byte
	spans []phSpan
}

// secureOutput is the placeholder table and the writer that resolves it.
type secureOutput struct {
	mu      sync.Mutex
	w       io.Writer
	slots   map[int]*phSlot // by base
	used    [phSize]bool
	pending [3]byte // an incomplete UTF-8 sequence held from the last Write
	npend   int
	scratch *memguard.LockedBuffer
}

func newSecureOutput(w io.Writer) *secureOutput {
	return &secureOutput{w: w, slots: map[int]*phSlot{}}
}

// output is the writer to give the program: it keeps the terminal's Fd
// (and Read, Close) so the program still sees a terminal.
func (o *secureOutput) output() io.Writer {
	if f, ok := o.w.(ttyFile); ok {
		return secureFile{o, f}
	}
	return o
}

type ttyFile interface {
	io.ReadWriteCloser
	Fd() uintptr
}

type secureFile struct {
	*secureOutput
	f ttyFile
}

func (s secureFile) Read(p []byte) (int, error) { return s.f.Read(p) }
func (s secureFile) Close() error               { return s.f.Close() }
func (s secureFile) Fd() uintptr                { return s.f.Fd() }

// register gives value (read now, to lay out the placeholders, and at each
// write) a run of placeholders and returns the text to put in the view in
// its stead: placeholders, with the value's newlines as newlines, its
// control characters as a visible "?" and trailing newlines dropped. ok is
// false when the secret has more cells than the table has room for.
func (o *secureOutput) register(value func() []byte) (text string, slot int, ok bool) {
	v := value()
	for len(v) > 0 && v[len(v)-1] == '\n' {
		v = v[:len(v)-1]
	}
	var spans []phSpan
	var lay []rune // placeholder layout: -1 newline, -2 "?", else span index
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRune(v[i:])
		switch {
		case r == '\n':
			lay = append(lay, -1)
		case r == utf8.RuneError && n <= 1, unicode.IsControl(r):
			lay = append(lay, -2)
		case r < utf8.RuneSelf:
			spans = append(spans, phSpan{i, i + 1})
			lay = append(lay, rune(len(spans)-1))
		default:
			w := ansi.StringWidth(string(v[i : i+n]))
			if w == 0 && len(spans) > 0 && spans[len(spans)-1].end == i {
				spans[len(spans)-1].end = i + n // a combining mark joins its base
				break
			}
			spans = append(spans, phSpan{i, i + n})
			lay = append(lay, rune(len(spans)-1))
			if w == 2 {
				spans = append(spans, phSpan{i + n, i + n})
				lay = append(lay, rune(len(spans)-1))
			}
		}
		i += n
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	base, ok := o.reserve(len(spans))
	if !ok {
		return "", 0, false
	}
	o.slots[base] = &phSlot{base: base, value: value, spans: spans}
	out := make([]rune, len(lay))
	for i, l := range lay {
		switch l {
		case -1:
			out[i] = '\n'
		case -2:
			out[i] = '?'
		default:
			out[i] = rune(phBase + base + int(l))
		}
	}
	return string(out), base, true
}

// reserve finds n free placeholders in a row (first fit).
func (o *secureOutput) reserve(n int) (int, bool) {
	run := 0
	for i := range o.used {
		if o.used[i] {
			run = 0
			continue
		}
		if run++; run == max(n, 1) {
			start := i - run + 1
			for j := start; j <= i; j++ {
				o.used[j] = true
			}
			return start, true
		}
	}
	return 0, false
}

// release forgets slot; once it returns, no write reads its value any more.
func (o *secureOutput) release(slot int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.slots[slot]
	if !ok {
		return
	}
	for j := s.base; j < s.base+max(len(s.spans), 1); j++ {
		o.used[j] = false
	}
	delete(o.slots, slot)
}

// lookup is the slot and span of placeholder index k.
func (o *secureOutput) lookup(k int) (*phSlot, int) {
	for base, s := range o.slots {
		if k >= base && k < base+len(s.spans) {
			return s, k - base
		}
	}
	return nil, 0
}

// Write resolves the placeholders in p and writes the result in one write.
func (o *secureOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.slots) == 0 && o.npend == 0 {
		return o.w.Write(p)
	}
	// Placeholders are 3 bytes; a secret's bytes for one are at most a
	// grapheme's, so 4 bytes per input byte is always enough room.
	need := 4*(len(p)+o.npend) + 64
	if o.scratch == nil || o.scratch.Size() < need {
		if o.scratch != nil {
			o.scratch.Destroy()
		}
		o.scratch = memguard.NewBuffer(max(need, 64<<10))
	}
	out := o.scratch.Bytes()
	n := 0
	in := p
	if o.npend > 0 {
		// p is the renderer's output: placeholders, never a secret, so
		// joining it to the held bytes in ordinary memory is harmless.
		in = append(append(make([]byte, 0, o.npend+len(p)), o.pending[:o.npend]...), p...)
		o.npend = 0
	}
	for i := 0; i < len(in); {
		c := in[i]
		if c != 0xEE && c != 0xEF {
			j := i + 1
			for j < len(in) && in[j] != 0xEE && in[j] != 0xEF {
				j++
			}
			n += copy(out[n:], in[i:j])
			i = j
			continue
		}
		if !utf8.FullRune(in[i:]) {
			o.npend = copy(o.pending[:], in[i:])
			break
		}
		_, size := utf8.DecodeRune(in[i:])
		n += o.resolve(out[n:], in[i:i+size])
		i += size
	}
	_, err := o.w.Write(out[:n])
	memguard.WipeBytes(out[:n])
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// resolve writes the bytes standing for the UTF-8 sequence seq into out: a
// placeholder's secret bytes ("?" if its secret is gone), else seq itself.
func (o *secureOutput) resolve(out, seq []byte) int {
	r, _ := utf8.DecodeRune(seq)
	k := int(r) - phBase
	if k < 0 || k >= phSize {
		return copy(out, seq)
	}
	s, i := o.lookup(k)
	if s == nil {
		return copy(out, seq)
	}
	v := s.value()
	sp := s.spans[i]
	if sp.end > len(v) {
		return copy(out, "?")
	}
	return copy(out, v[sp.off:sp.end])
}

// close wipes and frees the scratch buffer.
func (o *secureOutput) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.scratch != nil {
		o.scratch.Destroy()
		o.scratch = nil
	}
	clear(o.slots)
}
