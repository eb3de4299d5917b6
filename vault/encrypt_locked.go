package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"

	"filippo.io/age"
	"github.com/awnumar/memguard"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// encryptLocked encrypts plain (in locked memory) to r as a standard age v1
// file, the mirror of decryptLocked: the header and payload nonce are
// written by the age library itself (age.Encrypt of nothing, its file key
// captured as it is wrapped), and each STREAM chunk is sealed in place in a
// locked scratch buffer, so the plaintext is never copied to ordinary
// memory. Only the ciphertext leaves locked memory. The stock age CLI
// opens the result.
func encryptLocked(plain []byte, r age.Recipient) ([]byte, error) {
	cap := &fileKeyCapture{r: r}
	defer cap.destroy()
	var empty bytes.Buffer
	w, err := age.Encrypt(&empty, cap)
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if cap.key == nil {
		return nil, errors.New("encrypting: the age library wrapped no file key")
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(empty.Bytes()))
	if err != nil {
		return nil, err
	}
	// age.Encrypt of nothing is header, 16-byte nonce, one empty last chunk.
	if empty.Len() != len(hdr)+payloadNonceSize+chacha20poly1305.Overhead {
		return nil, errors.New("encrypting: unexpected age output for an empty file")
	}
	nonce := empty.Bytes()[len(hdr) : len(hdr)+payloadNonceSize]
	var key [chacha20poly1305.KeySize]byte
	_, err = io.ReadFull(hkdf.New(sha256.New, cap.key.Bytes(), nonce, []byte("payload")), key[:])
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key[:])
	clear(key[:])
	if err != nil {
		return nil, err
	}
	chunks := max((len(plain)+payloadChunk-1)/payloadChunk, 1)
	out := make([]byte, 0, len(hdr)+payloadNonceSize+len(plain)+chunks*chacha20poly1305.Overhead)
	out = append(append(out, hdr...), nonce...)
	scratch := memguard.NewBuffer(payloadEncChunk)
	defer scratch.Destroy()
	var cn [chacha20poly1305.NonceSize]byte
	for i := 0; i < chunks; i++ {
		chunk := plain[i*payloadChunk : min((i+1)*payloadChunk, len(plain))]
		if i == chunks-1 {
			cn[len(cn)-1] = 1
		}
		buf := scratch.Bytes()[:len(chunk)]
		copy(buf, chunk)
		sealed := aead.Seal(buf[:0], cn[:], buf, nil) // in place, in locked memory
		out = append(out, sealed...)
		for j := len(cn) - 2; j >= 0; j-- {
			cn[j]++
			if cn[j] != 0 {
				break
			}
		}
	}
	return out, nil
}

// fileKeyCapture is an age.Recipient that keeps a locked copy of the file
// key it is asked to wrap, then wraps it with r.
type fileKeyCapture struct {
	r   age.Recipient
	key *memguard.LockedBuffer
}

func (c *fileKeyCapture) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	if c.key != nil {
		return nil, errors.New("encrypting: file key wrapped twice")
	}
	c.key = memguard.NewBuffer(len(fileKey))
	copy(c.key.Bytes(), fileKey)
	return c.r.Wrap(fileKey)
}

func (c *fileKeyCapture) destroy() {
	if c.key != nil {
		c.key.Destroy()
	}
}
