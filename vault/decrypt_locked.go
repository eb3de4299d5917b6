package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"unicode/utf8"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// The age v1 payload (age-encryption.org/v1, "payload" section): a 16-byte
// nonce, then STREAM chunks of 64 KiB of plaintext sealed with
// ChaCha20-Poly1305 under HKDF-SHA256(file key, nonce, "payload"), the
// 12-byte chunk nonce being an 11-byte big-endian counter and a last-chunk
// flag byte. decryptLocked only reads this format (the header is parsed and
// unwrapped by the age library itself, ExtractHeader and DecryptHeader);
// sealing still uses age.Encrypt, so the stock age CLI opens every file.
const (
	payloadNonceSize = 16
	payloadChunk     = 64 << 10
	payloadEncChunk  = payloadChunk + chacha20poly1305.Overhead
)

var errPayload = errors.New("the age payload is truncated, damaged or has trailing data")

// payloadSize is the plaintext size of an age payload body (after the
// nonce) of n bytes, as age's STREAM defines it.
func payloadSize(n int) (int, error) {
	if n < chacha20poly1305.Overhead {
		return 0, errPayload
	}
	chunks := (n + payloadEncChunk - 1) / payloadEncChunk
	size := n - chunks*chacha20poly1305.Overhead
	// Only the first chunk may be empty.
	if chunks > 1 && n%payloadEncChunk == chacha20poly1305.Overhead {
		return 0, errPayload
	}
	return size, nil
}

// decryptLocked decrypts the age file ct with id straight into locked
// memory from a, refusing a plaintext over limit bytes. The plaintext never
// passes through an ordinary buffer: each chunk is opened in place in the
// Plaintext's span. Only the file key and the payload key are on the Go
// stack or heap, briefly (the file key is wiped; the AEAD's copy of the
// payload key is garbage the GC reclaims).
func decryptLocked(a *arena, ct []byte, id age.Identity, limit int) (*Plaintext, error) {
	hdr, err := age.ExtractHeader(bytes.NewReader(ct))
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(ct, hdr) {
		// Not the canonical encoding age writes: read it with the age
		// library's own reader (its buffers are ordinary memory).
		return decryptStock(a, ct, id, limit)
	}
	body := ct[len(hdr):]
	if len(body) < payloadNonceSize {
		return nil, errPayload
	}
	nonce, body := body[:payloadNonceSize], body[payloadNonceSize:]
	size, err := payloadSize(len(body))
	if err != nil {
		return nil, err
	}
	if size > limit {
		return nil, errTooLarge
	}
	fileKey, err := age.DecryptHeader(hdr, id)
	if err != nil {
		return nil, err
	}
	var key [chacha20poly1305.KeySize]byte
	_, err = io.ReadFull(hkdf.New(sha256.New, fileKey, nonce, []byte("payload")), key[:])
	clear(fileKey)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key[:])
	clear(key[:])
	if err != nil {
		return nil, err
	}
	p := newPlaintext(a, max(size, 1))
	out := p.space()
	var cn [chacha20poly1305.NonceSize]byte
	w := 0
	for first := true; ; first = false {
		if len(body) == 0 {
			p.Destroy()
			return nil, errPayload
		}
		n := min(len(body), payloadEncChunk)
		in := body[:n]
		body = body[n:]
		last := n < payloadEncChunk
		if last {
			if !first && n == chacha20poly1305.Overhead {
				p.Destroy()
				return nil, errPayload
			}
			cn[len(cn)-1] = 1
		}
		m := n - chacha20poly1305.Overhead
		dst := out[w : w : w+m] // exactly this chunk's room: Open never allocates
		_, err := aead.Open(dst, cn[:], in, nil)
		if err != nil && !last {
			last = true
			cn[len(cn)-1] = 1
			_, err = aead.Open(dst, cn[:], in, nil)
		}
		if err != nil {
			p.Destroy()
			return nil, errPayload
		}
		w += m
		if last {
			if len(body) != 0 {
				p.Destroy()
				return nil, errPayload
			}
			break
		}
		for i := len(cn) - 2; i >= 0; i-- {
			cn[i]++
			if cn[i] != 0 {
				break
			}
		}
	}
	p.n = w
	return p, nil
}

var errTooLarge = errors.New("the plaintext is larger than any sealed secret")

// decryptStock is decryptLocked for a file whose header is not in the
// canonical encoding: the age library's reader, read into locked memory.
func decryptStock(a *arena, ct []byte, id age.Identity, limit int) (*Plaintext, error) {
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		return nil, err
	}
	p := newPlaintext(a, limit+1)
	n, err := io.ReadFull(r, p.space())
	switch {
	case err == nil:
		p.Destroy()
		return nil, errTooLarge
	case !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		p.Destroy()
		return nil, err
	}
	p.n = n
	return p, nil
}

// validateLocked is ValidateSecret without copying the value to ordinary
// memory (drill checks): the same rules, a TOTP secret parsed by the
// locked parser.
func validateLocked(kind Kind, secret []byte) error {
	switch kind {
	case KindTOTP:
		t, err := NewLockedTOTP(secret)
		if err != nil {
			return err
		}
		t.Destroy()
		return nil
	case KindRecoveryCodes:
		// RecoveryCodes is non-empty exactly when some line has a
		// non-space character, i.e. when the whole value has one.
		if len(secret) == 0 || len(secret) > MaxSecretSize || !utf8.Valid(secret) || len(bytes.TrimSpace(secret)) == 0 {
			return ValidateSecret(kind, nil)
		}
		return nil
	}
	return ValidateSecret(kind, secret)
}
