package vault

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"breakglass/hardware"
)

// present runs the tokens through AddShare in order and returns each error.
func present(u *Unlock, toks ...*fakeToken) []error {
	var errs []error
	for _, tok := range toks {
		errs = append(errs, u.AddShare(context.Background(), tok, testPIN))
	}
	return errs
}

func TestQuorum(t *testing.T) {
	w := newWorld(t)
	v := w.reload(t)
	k := w.toks
	tests := []struct {
		name    string
		keys    []*fakeToken
		wantErr []error // per key; nil = accepted
		opens   bool
	}{
		{"one custodian alone", []*fakeToken{k["alice"]}, []error{nil}, false},
		{"two distinct custodians", []*fakeToken{k["alice"], k["bob"]}, []error{nil, nil}, true},
		{"backup key and another custodian", []*fakeToken{k["alice-backup"], k["carol"]}, []error{nil, nil}, true},
		{"same key twice", []*fakeToken{k["bob"], k["bob"]}, []error{nil, &AlreadyCountedError{}}, false},
		{"primary then backup of one person", []*fakeToken{k["alice"], k["alice-backup"]}, []error{nil, &AlreadyCountedError{}}, false},
		{"three custodians", []*fakeToken{k["carol"], k["bob"], k["alice"]}, []error{nil, nil, nil}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := v.Unlocker(w.ca.opts())
			for i, err := range present(u, tc.keys...) {
				var ac *AlreadyCountedError
				switch {
				case tc.wantErr[i] == nil && err != nil:
					t.Fatalf("key %d refused: %v", i, err)
				case tc.wantErr[i] != nil && !errors.As(err, &ac):
					t.Fatalf("key %d: err = %v, want AlreadyCountedError", i, err)
				case ac != nil && ac.Custodian.ID != "alice" && ac.Custodian.ID != "bob":
					t.Errorf("AlreadyCountedError names %q", ac.Custodian.ID)
				}
			}
			o, err := u.Open()
			if !tc.opens {
				var qe *QuorumError
				if !errors.As(err, &qe) || qe.Have != 1 || qe.Need != 2 || !errors.Is(err, ErrQuorum) {
					t.Fatalf("Open = %v, want QuorumError{1 of 2}", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer o.Lock()
			for _, s := range testSecrets {
				buf, err := o.Reveal(s.name)
				if err != nil {
					t.Fatalf("Reveal(%s): %v", s.name, err)
				}
				if got := string(buf.Bytes()); got != s.secret {
					t.Errorf("Reveal(%s) returned the wrong value", s.name)
				}
				buf.Destroy()
				if err := o.Check(s.name); err != nil {
					t.Errorf("Check(%s): %v", s.name, err)
				}
			}
		})
	}
}

func TestNeededAndRemaining(t *testing.T) {
	w := newWorld(t)
	u := w.v.Unlocker(w.ca.opts())
	if have, need := u.Needed(); have != 0 || need != 2 {
		t.Fatalf("Needed = %d,%d", have, need)
	}
	c, err := u.Identify(context.Background(), w.toks["alice-backup"])
	if err != nil || c.ID != "alice" {
		t.Fatalf("Identify(alice-backup) = %v, %v", c, err)
	}
	if have, _ := u.Needed(); have != 0 {
		t.Error("Identify counted a custodian")
	}
	present(u, w.toks["alice-backup"])
	rem := u.Remaining()
	if len(rem) != 2 || rem[0].ID != "bob" || rem[1].ID != "carol" {
		t.Errorf("Remaining = %v, want bob, carol", rem)
	}
	if have, _ := u.Needed(); have != 1 {
		t.Errorf("have = %d after one share", have)
	}
	if _, err := u.Identify(context.Background(), w.toks["alice"]); !errors.As(err, new(*AlreadyCountedError)) {
		t.Errorf("Identify(alice primary) after backup = %v, want AlreadyCountedError", err)
	}
}

func TestIdentifyRefusesWrongKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	stranger := newFakeToken(t, w.ca, 9999)
	enrol(t, w.ca, stranger, "mallory", "Mallory")

	// Same serial as bob, but a different key in slot 82 (a reset key, or a clone).
	impostor := newFakeToken(t, w.ca, 2001)
	enrol(t, w.ca, impostor, "bob", "Bob Baker")

	// Carol's genuine key, but the Unlock trusts another root than the
	// one her roster attestation chains to.
	rogueCA := newTestCA(t, "rogue")

	empty := newFakeToken(t, w.ca, 1001) // alice's serial, nothing enrolled

	tests := []struct {
		name  string
		tok   *fakeToken
		roots *testCA // default w.ca
		check func(t *testing.T, err error)
	}{
		{"not on roster", stranger, nil, func(t *testing.T, err error) {
			var e *NotOnRosterError
			if !errors.As(err, &e) || e.Serial != 9999 || !strings.Contains(err.Error(), "9999") {
				t.Errorf("err = %v, want NotOnRosterError naming 9999", err)
			}
		}},
		{"different slot key", impostor, nil, func(t *testing.T, err error) {
			var e *KeyMismatchError
			if !errors.As(err, &e) || e.Serial != 2001 || !strings.Contains(e.What, "slot 82") {
				t.Errorf("err = %v, want KeyMismatchError naming slot 82", err)
			}
		}},
		{"empty slot", empty, nil, func(t *testing.T, err error) {
			var e *KeyMismatchError
			if !errors.As(err, &e) || !strings.Contains(e.What, "empty") {
				t.Errorf("err = %v, want KeyMismatchError saying the slot is empty", err)
			}
		}},
		{"roster attestation under another root", w.toks["carol"], rogueCA, func(t *testing.T, err error) {
			if !errors.Is(err, ErrAttestation) {
				t.Errorf("err = %v, want ErrAttestation", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roots := w.ca
			if tc.roots != nil {
				roots = tc.roots
			}
			u := w.v.Unlocker(roots.opts())
			_, err := u.Identify(ctx, tc.tok)
			tc.check(t, err)
			err = u.AddShare(ctx, tc.tok, testPIN)
			tc.check(t, err)
			if tc.tok.ecdhCalls != 0 {
				t.Errorf("ECDH was attempted on a refused key")
			}
			if have, _ := u.Needed(); have != 0 {
				t.Errorf("refused key was counted")
			}
		})
	}
}

// TestUnlockDoesNotReattest: the roster's attestation is the evidence; a
// key's own attestation is never read at unlock (it is static data any card
// could replay, see the README), so a card whose slot key and share match
// is counted whatever it would attest, and each key's roster attestation is
// verified once per Unlock.
func TestUnlockDoesNotReattest(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	rogue := newFakeToken(t, newTestCA(t, "rogue"), 3001) // carol's serial and keys, another root
	rogue.slots = w.toks["carol"].slots
	opts := w.ca.opts()
	u := w.v.Unlocker(opts)
	if _, err := u.Identify(ctx, rogue); err != nil {
		t.Fatalf("Identify: %v", err)
	}
	// From here on, no chain verifies: AddShare and CheckShare succeed only
	// if the roster attestation is not verified again in this Unlock.
	u.opts = newTestCA(t, "nobody").opts()
	if err := u.AddShare(ctx, rogue, testPIN); err != nil {
		t.Fatalf("AddShare: %v", err)
	}
	if err := u.CheckShare(ctx, rogue, testPIN); err != nil {
		t.Fatalf("CheckShare: %v", err)
	}
	if rogue.attestCalls != 0 {
		t.Errorf("the card was asked for its attestation %d times, want 0", rogue.attestCalls)
	}
}

func TestWrongPINNotCounted(t *testing.T) {
	w := newWorld(t)
	u := w.v.Unlocker(w.ca.opts())
	err := u.AddShare(context.Background(), w.toks["bob"], "000000")
	var pe *hardware.PINError
	if !errors.As(err, &pe) || pe.Retries != 2 {
		t.Fatalf("AddShare with wrong PIN = %v, want PINError with 2 retries", err)
	}
	if have, _ := u.Needed(); have != 0 {
		t.Error("custodian counted after a wrong PIN")
	}
	if err := u.AddShare(context.Background(), w.toks["bob"], testPIN); err != nil {
		t.Fatalf("retry with right PIN: %v", err)
	}
}

func TestCheckShareEach(t *testing.T) {
	w := newWorld(t)
	v := w.reload(t)
	u := v.Unlocker(w.ca.opts())
	for name, tok := range w.toks {
		if err := u.CheckShare(context.Background(), tok, testPIN); err != nil {
			t.Errorf("CheckShare(%s): %v", name, err)
		}
	}
	if have, _ := u.Needed(); have != 0 {
		t.Error("CheckShare counted custodians")
	}
	if _, err := u.Open(); !errors.Is(err, ErrQuorum) {
		t.Errorf("Open after only checks = %v, want ErrQuorum", err)
	}
}

func TestOpenedLockAndRevealErrors(t *testing.T) {
	w := newWorld(t)
	u := w.v.Unlocker(w.ca.opts())
	present(u, w.toks["alice"], w.toks["carol"])
	o, err := u.Open()
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Custodians(); len(got) != 2 || got[0].ID != "alice" || got[1].ID != "carol" {
		t.Errorf("Custodians = %v", got)
	}
	if _, err := o.Reveal("nope"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Reveal(nope) = %v, want ErrNoSecret", err)
	}
	// A secret sealed after opening (write-only sealing) is readable too.
	if err := w.v.Seal("late", KindPassword, []byte("late-pw"), testNow); err != nil {
		t.Fatal(err)
	}
	if buf, err := o.Reveal("late"); err != nil || string(buf.Bytes()) != "late-pw" {
		t.Errorf("Reveal(late) = %v", err)
	}
	o.Lock()
	if _, err := o.Reveal("db-root"); !errors.Is(err, ErrLocked) {
		t.Errorf("Reveal after Lock = %v, want ErrLocked", err)
	}
	// Shares were wiped by Open: the Unlock starts from zero.
	if have, _ := u.Needed(); have != 0 {
		t.Errorf("have = %d after Open", have)
	}
}

func TestSealRotationAndRevealed(t *testing.T) {
	w := newWorld(t)
	v := w.v
	at := testNow.Add(time.Hour)
	if err := v.MarkRevealed("db-root", "sess-1", at); err != nil {
		t.Fatal(err)
	}
	s, _ := v.Secret("db-root")
	if !s.Burned() || s.LastRevealed.Session != "sess-1" {
		t.Fatalf("secret not burned after MarkRevealed: %+v", s.LastRevealed)
	}
	if err := v.MarkRevealed("nope", "sess-1", at); !errors.Is(err, ErrNoSecret) {
		t.Errorf("MarkRevealed(nope) = %v", err)
	}
	later := testNow.Add(48 * time.Hour)
	if err := v.Seal("db-root", KindPassword, []byte("new password"), later); err != nil {
		t.Fatal(err)
	}
	s, _ = v.Secret("db-root")
	if s.Rotations != 1 || s.PreviousSealedAt == nil || !s.PreviousSealedAt.Equal(testNow) || !s.SealedAt.Equal(later) || s.Burned() {
		t.Errorf("after rotation: %+v", s)
	}
	v2 := w.reload(t)
	u := v2.Unlocker(w.ca.opts())
	present(u, w.toks["bob"], w.toks["carol"])
	o, err := u.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Lock()
	if buf, err := o.Reveal("db-root"); err != nil || string(buf.Bytes()) != "new password" {
		t.Errorf("Reveal after rotation: %v", err)
	}
}

func TestSealValidation(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name, sname string
		kind        Kind
		secret      string
	}{
		{"empty password", "p", KindPassword, ""},
		{"bad totp seed", "t", KindTOTP, "not base32 !!"},
		{"short totp seed", "t", KindTOTP, "GEZDGNBV"},
		{"hotp uri", "t", KindTOTP, "otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=1"},
		{"blank recovery codes", "r", KindRecoveryCodes, "\n  \n"},
		{"unknown kind", "x", Kind("pin"), "1234"},
		{"bad name", "Has Spaces", KindText, "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.v.Secrets)
			err := w.v.Seal(tc.sname, tc.kind, []byte(tc.secret), testNow)
			if err == nil {
				t.Fatal("Seal accepted an invalid value")
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error echoes the secret: %v", err)
			}
			if len(w.v.Secrets) != before {
				t.Error("refused Seal added a secret")
			}
		})
	}
}

func TestTOTPCode(t *testing.T) {
	// RFC 6238 appendix B, SHA-1: seed "12345678901234567890".
	at := time.Unix(59, 0)
	tests := []struct {
		name, secret, code string
	}{
		{"otpauth uri with 8 digits", "otpauth://totp/Example:ops?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&digits=8", "94287082"},
		{"bare seed, lower case with spaces", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", "287082"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, period, err := TOTPCode([]byte(tc.secret), at)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || period != 30*time.Second {
				t.Errorf("code %s period %v, want %s 30s", code, period, tc.code)
			}
		})
	}
	if _, _, err := TOTPCode([]byte("nope"), at); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("TOTPCode(nope) = %v", err)
	}
}

func TestLastPINRetryNeedsConfirmation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := w.toks["bob"]
	u := w.v.Unlocker(w.ca.opts())
	for i := 0; i < 2; i++ {
		if err := u.AddShare(ctx, bob, "000000"); !errors.As(err, new(*hardware.PINError)) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	var last *LastPINRetryError
	if err := u.AddShare(ctx, bob, testPIN); !errors.As(err, &last) || last.Serial != 2001 {
		t.Fatalf("AddShare with one retry left = %v, want LastPINRetryError", err)
	}
	if bob.retries != 1 {
		t.Fatalf("PIN was tried without confirmation (retries %d)", bob.retries)
	}
	u.ConfirmLastPINRetry(2001)
	if err := u.AddShare(ctx, bob, testPIN); err != nil {
		t.Fatalf("AddShare after confirmation: %v", err)
	}
	bob.retries = 0
	if err := CheckPINRetries(ctx, bob, true); !errors.Is(err, hardware.ErrPINBlocked) {
		t.Errorf("CheckPINRetries on a blocked PIN = %v", err)
	}
}
