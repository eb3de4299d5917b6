// Package attest is breakglass's one YubiKey PIV attestation checker: one
// chain rule, one validity-time rule, one table of Yubico extension OIDs and
// one parser of the attested PIN and touch policies. vault (enrolment,
// roster and unlock), audit (report verification), hardware/piv and the
// keys command all verify through Trust.Verify.
//
// # Chain rule
//
// A PIV attestation is two certificates read from the key: the slot
// certificate (from YubiKey's ATTEST instruction; it certifies the slot's
// public key) and the device certificate (object f9, the key's attestation
// key, certified by Yubico at manufacture). The chain is
//
//	slot → device → zero or more intermediates → root
//
// The slot certificate must be issued and signed by the device certificate
// itself (not by any other certificate of the pool), and the device
// certificate must chain to one of the Trust's roots through its
// intermediates (the Trust's own, plus any the caller passes with the
// attestation, such as x5c entries after the second). Device certificates
// of some YubiKey 4 and early 5 keys carry no basicConstraints; like piv-go
// we treat such a device certificate as a CA (on a copy: the caller's
// certificate is never modified). Yubico's U2F root (2014–2018 keys) is
// marked pathlen 0, which would forbid the device certificate below it;
// as piv-go does, our copy of it allows one CA below. RSA (2048 and up) and
// ECDSA certificates are accepted at every level.
//
// The roots are Yubico's by default (Yubico, built from the certificates in
// yubico/, whose sources and SHA-256 are in yubico/README.md). A test root
// is used only when a caller builds a Trust with NewTestTrust, and every
// Result from it says TestRoot, so it is shown and recorded as
// non-production.
//
// # Validity-time rule
//
// A chain is checked at one instant, the moment the attestation says it was
// made: the later of the slot and device certificates' NotBefore (Result
// CheckedAt). Every certificate of the chain must be valid at that instant.
// The station's clock and the date of verification play no part, because:
//
//   - the station is air-gapped and may have a dead clock battery; a verdict
//     that depends on its clock would fail, or pass, for the wrong reason on
//     the day it is needed;
//   - an auditor verifies a report, and enrolment is re-checked, years after
//     the attestation was made; the fact attested (this key was generated
//     inside this YubiKey) does not expire, so checking at "now" or at the
//     report's time would make genuine evidence unverifiable once any
//     certificate expires;
//   - it still refuses a certificate issued outside its issuer's validity
//     (an issuer must have been valid when what it issued became valid), and
//     it gives vault, unlock, audit and keys the same verdict for the same
//     certificates on any machine on any date.
//
// What dates the use of a key is the signed journal and report, not the
// attestation.
//
// # Extensions
//
// The Yubico extensions under 1.3.6.1.4.1.41482.3 (OIDFirmware,
// OIDSerial, OIDPolicy, OIDFormFactor, OIDFIPS, OIDCSPN) are declared here
// only; other packages that need an extension value read it from a Result
// or with ParseExtensions.
package attest
