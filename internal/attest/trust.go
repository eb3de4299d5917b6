package attest

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// Trust is a set of attestation roots and the intermediates that may sit
// between a root and a device certificate. Build it with Yubico or
// NewTestTrust; a nil *Trust means Yubico(). A Trust is immutable and safe
// for concurrent use.
type Trust struct {
	roots, intermediates []*x509.Certificate
	test                 bool
	err                  error // why the built-in bundle is unusable (never for a test Trust)
}

//go:embed yubico/*.pem
var bundle embed.FS

// u2fRootSubjectCN names the 2014 U2F root whose pathlen 0 is relaxed (see
// the package doc).
const u2fRootSubjectCN = "Yubico U2F Root CA Serial 457200631"

var yubico = sync.OnceValue(func() *Trust {
	t := &Trust{}
	files, err := fs.Glob(bundle, "yubico/*.pem")
	if err != nil || len(files) == 0 {
		return &Trust{err: fmt.Errorf("built-in Yubico bundle is empty: %v", err)}
	}
	for _, f := range files {
		b, err := bundle.ReadFile(f)
		if err != nil {
			return &Trust{err: err}
		}
		certs, err := parsePEM(b)
		if err != nil {
			return &Trust{err: fmt.Errorf("built-in Yubico bundle %s: %w", f, err)}
		}
		for _, c := range certs {
			if isSelfSigned(c) {
				if c.Subject.CommonName == u2fRootSubjectCN && c.MaxPathLen == 0 {
					cc := *c
					cc.MaxPathLen, cc.MaxPathLenZero = 1, false
					c = &cc
				}
				t.roots = append(t.roots, c)
			} else {
				t.intermediates = append(t.intermediates, c)
			}
		}
	}
	return t
})

// Yubico returns the Trust of Yubico's published PIV attestation roots and
// intermediates, embedded in the binary (internal/attest/yubico: the 2016
// PIV root, the 2014 U2F root that certified keys made until 2018, and the
// 2024 Yubico Attestation Root 1 with its PIV intermediates). Nothing is
// fetched.
func Yubico() *Trust { return yubico() }

// NewTestTrust returns a non-production Trust: roots (at least one,
// self-signed CAs) and optional intermediates, for the virtual YubiKey's
// test CA. Every Result it gives has TestRoot set.
func NewTestTrust(roots, intermediates []*x509.Certificate) (*Trust, error) {
	if len(roots) == 0 {
		return nil, errors.New("test attestation trust: no root certificate")
	}
	for _, r := range roots {
		if r == nil || !r.IsCA {
			return nil, errors.New("test attestation trust: a root is not a CA certificate")
		}
	}
	for _, c := range intermediates {
		if c == nil {
			return nil, errors.New("test attestation trust: nil intermediate")
		}
	}
	return &Trust{roots: append([]*x509.Certificate(nil), roots...), intermediates: append([]*x509.Certificate(nil), intermediates...), test: true}, nil
}

// LoadTestTrust reads a PEM file of certificates as a test Trust: the
// self-signed ones are roots, the others intermediates. It fails on a file
// without a root, so a typo cannot silently trust nothing.
func LoadTestTrust(pemFile string) (*Trust, error) {
	b, err := os.ReadFile(pemFile)
	if err != nil {
		return nil, fmt.Errorf("reading attestation root %q: %w", pemFile, err)
	}
	certs, err := parsePEM(b)
	if err != nil {
		return nil, fmt.Errorf("reading attestation root %q: %w", pemFile, err)
	}
	var roots, inter []*x509.Certificate
	for _, c := range certs {
		if isSelfSigned(c) {
			roots = append(roots, c)
		} else {
			inter = append(inter, c)
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("reading attestation root %q: no self-signed root certificate in the file", pemFile)
	}
	t, err := NewTestTrust(roots, inter)
	if err != nil {
		return nil, fmt.Errorf("reading attestation root %q: %w", pemFile, err)
	}
	return t, nil
}

// orDefault resolves a nil Trust to Yubico().
func (t *Trust) orDefault() *Trust {
	if t == nil {
		return Yubico()
	}
	return t
}

// IsTest reports whether t is a non-production (test) Trust.
func (t *Trust) IsTest() bool { return t.orDefault().test }

// Label is how reports and screens name t: "yubico", or
// "TEST/non-production: <first root's subject>".
func (t *Trust) Label() string {
	t = t.orDefault()
	if !t.test {
		return "yubico"
	}
	return "TEST/non-production: " + t.roots[0].Subject.String()
}

// Roots returns a copy of t's root certificates.
func (t *Trust) Roots() []*x509.Certificate {
	return append([]*x509.Certificate(nil), t.orDefault().roots...)
}

// Intermediates returns a copy of t's intermediate certificates.
func (t *Trust) Intermediates() []*x509.Certificate {
	return append([]*x509.Certificate(nil), t.orDefault().intermediates...)
}

// parsePEM returns every CERTIFICATE block of b; none is an error.
func parsePEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignatureFrom(c) == nil
}
