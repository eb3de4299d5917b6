package vault

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(fixtureDir, "sample.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnlock measures a 2-of-3 unlock with software tokens (the host
// side: attestation checks, age, Shamir, locked memory) and one reveal.
func BenchmarkUnlock(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	for b.Loop() {
		u := w.v.Unlocker(w.ca.opts())
		if err := u.AddShare(ctx, w.toks["alice"], testPIN); err != nil {
			b.Fatal(err)
		}
		if err := u.AddShare(ctx, w.toks["bob"], testPIN); err != nil {
			b.Fatal(err)
		}
		o, err := u.Open()
		if err != nil {
			b.Fatal(err)
		}
		buf, err := o.Reveal("db-root")
		if err != nil {
			b.Fatal(err)
		}
		buf.Destroy()
		o.Lock()
	}
}
