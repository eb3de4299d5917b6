package audit_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// An auditor can check a report with any JOSE library and the standard
// library, pinning the vault by the fingerprint on the custodian card. This
// is the whole check with go-jose alone: each signature, its YubiKey
// attestation chain, the embedded roster against the pin, and each signer
// against that roster. The journal's hash chain, the attested serials and
// policies, the roster's own signatures and the threshold are what
// `breakglass verify` adds on top.
func Example_auditorWithGoJOSE() {
	jws, _ := os.ReadFile("../testdata/audit/report.jws")
	rootPEM, _ := os.ReadFile("../testdata/audit/root.pem") // Yubico's PIV CA in production
	card, _ := os.ReadFile("../testdata/audit/vault-fingerprint.txt")
	blk, _ := pem.Decode(rootPEM)
	root, _ := x509.ParseCertificate(blk.Bytes)

	obj, err := jose.ParseSignedJSON(string(jws), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The payload's roster: its digest is SHA-256 of the canonical bytes
	// the custodians signed, and the card fingerprint is its first 10 bytes.
	var payload struct {
		Roster struct {
			Canonical []byte `json:"canonical"`
			Digest    string `json:"digest"`
		} `json:"roster"`
	}
	json.Unmarshal(obj.UnsafePayloadWithoutVerification(), &payload)
	sum := sha256.Sum256(payload.Roster.Canonical)
	pin := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(string(card)), "-", ""))
	fmt.Println("roster digest matches its bytes:", hex.EncodeToString(sum[:]) == payload.Roster.Digest)
	fmt.Println("roster is the pinned one:", strings.HasPrefix(payload.Roster.Digest, pin) && len(pin) == 20)
	type key struct {
		Sign struct {
			PublicKey []byte `json:"public_key"` // PKIX DER
		} `json:"sign"`
	}
	type custodian struct {
		ID   string `json:"id"`
		Keys []key  `json:"keys"` // primary and backups
	}
	var roster struct {
		Roster struct {
			Custodians []custodian `json:"custodians"`
		} `json:"roster"`
	}
	_, body, _ := bytes.Cut(payload.Roster.Canonical, []byte("\n")) // after "breakglass-vault-roster-v1"
	json.Unmarshal(body, &roster)

	var raw struct {
		Signatures []struct {
			Protected string `json:"protected"`
		} `json:"signatures"`
	}
	json.Unmarshal(jws, &raw)
	for i, sig := range obj.Signatures {
		hb, _ := base64.RawURLEncoding.DecodeString(raw.Signatures[i].Protected)
		var hdr struct {
			X5c [][]byte `json:"x5c"` // standard base64 DER: slot cert, device (f9) cert
		}
		json.Unmarshal(hb, &hdr)
		slot, err1 := x509.ParseCertificate(hdr.X5c[0])
		dev, err2 := x509.ParseCertificate(hdr.X5c[1])
		if err1 != nil || err2 != nil {
			fmt.Println(sig.Protected.KeyID, "x5c:", err1, err2)
			continue
		}
		// YubiKey device certificates are not marked as CAs, so
		// x509.Verify refuses them: check the two links directly.
		chainErr := root.CheckSignature(dev.SignatureAlgorithm, dev.RawTBSCertificate, dev.Signature)
		if chainErr == nil {
			chainErr = dev.CheckSignature(slot.SignatureAlgorithm, slot.RawTBSCertificate, slot.Signature)
		}
		one := *obj
		one.Signatures = []jose.Signature{sig}
		_, err := one.Verify(slot.PublicKey)
		// The signer must be enrolled in the pinned roster: kid is a
		// custodian there and the key is one of their signing keys.
		spki, _ := x509.MarshalPKIXPublicKey(slot.PublicKey)
		enrolled := slices.ContainsFunc(roster.Roster.Custodians, func(c custodian) bool {
			return c.ID == sig.Protected.KeyID && slices.ContainsFunc(c.Keys, func(k key) bool { return bytes.Equal(k.Sign.PublicKey, spki) })
		})
		fmt.Println(sig.Protected.KeyID, "signature ok:", err == nil, "attestation chain ok:", chainErr == nil, "enrolled:", enrolled)
	}
	// Output:
	// roster digest matches its bytes: true
	// roster is the pinned one: true
	// alice signature ok: true attestation chain ok: true enrolled: true
	// bob signature ok: true attestation chain ok: true enrolled: true
}
