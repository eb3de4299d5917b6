package audit_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	jose "github.com/go-jose/go-jose/v4"
)

// An auditor can check a report's signatures with any JOSE library. This is
// the whole check with go-jose alone; the journal's hash chain and the
// roster are what `breakglass verify` adds on top.
func Example_auditorWithGoJOSE() {
	jws, _ := os.ReadFile("../testdata/audit/report.jws")
	rootPEM, _ := os.ReadFile("../testdata/audit/root.pem") // Yubico's PIV CA in production
	blk, _ := pem.Decode(rootPEM)
	root, _ := x509.ParseCertificate(blk.Bytes)
	roots := x509.NewCertPool()
	roots.AddCert(root)

	obj, err := jose.ParseSignedJSON(string(jws), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, sig := range obj.Signatures {
		chains, err := sig.Protected.Certificates(x509.VerifyOptions{Roots: roots,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			fmt.Println(sig.Protected.KeyID, "attestation:", err)
			continue
		}
		one := *obj
		one.Signatures = []jose.Signature{sig}
		_, err = one.Verify(chains[0][0].PublicKey)
		fmt.Println(sig.Protected.KeyID, "signature ok:", err == nil)
	}
	// Output:
	// alice signature ok: true
	// bob signature ok: true
}
