package vault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"filippo.io/age"
)

// benchSecrets is the size of the decrypt-all benchmark (issue 10, "Locked
// memory without the toll": a drill over 2,000 secrets).
const benchSecrets = 2000

func benchValue(i int) []byte { return []byte(fmt.Sprintf("bench-secret-%04d-Xy9!", i)) }

// BenchmarkDecryptAll decrypts every one of 2,000 sealed passwords, once
// per iteration; ns/secret is the figure to compare.
//
//   - vault-check: what a drill does (Opened.Check: the age header opened
//     with the locked identity, whose public key is computed once; the
//     payload decrypted in place into the session's locked arena;
//     validation without copies).
//   - vault-reveal: what a reveal does (Opened.Reveal, then Destroy).
//   - age: the age library decrypting the same-sized files to an ordinary
//     X25519 identity in one process (io.ReadAll, no locked memory): the
//     floor the issue measures against (target: within 1.5x).
func BenchmarkDecryptAll(b *testing.B) {
	w := newWorld(b)
	names := make([]string, benchSecrets)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%04d", i)
		if err := w.v.Seal(names[i], KindPassword, benchValue(i), testNow); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
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
	defer o.Lock()

	perSecret := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSecrets), "ns/secret")
	}
	b.Run("vault-check", func(b *testing.B) {
		for b.Loop() {
			for _, n := range names {
				if err := o.Check(n); err != nil {
					b.Fatal(err)
				}
			}
		}
		perSecret(b)
	})
	b.Run("vault-reveal", func(b *testing.B) {
		for b.Loop() {
			for _, n := range names {
				buf, err := o.Reveal(n)
				if err != nil {
					b.Fatal(err)
				}
				buf.Destroy()
			}
		}
		perSecret(b)
	})

	// The same plaintexts (header included) sealed to an ordinary identity.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	files := make([][]byte, benchSecrets)
	for i := range files {
		var buf bytes.Buffer
		wr, err := age.Encrypt(&buf, id.Recipient())
		if err != nil {
			b.Fatal(err)
		}
		wr.Write(secretHeader(names[i], KindPassword))
		wr.Write(benchValue(i))
		if err := wr.Close(); err != nil {
			b.Fatal(err)
		}
		files[i] = buf.Bytes()
	}
	b.Run("age", func(b *testing.B) {
		for b.Loop() {
			for _, f := range files {
				r, err := age.Decrypt(bytes.NewReader(f), id)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadAll(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		perSecret(b)
	})
}
