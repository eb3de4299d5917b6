package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"breakglass/hardware"
	"breakglass/internal/attest"
	"breakglass/internal/inert"
	"breakglass/ledger"
	"breakglass/vault"
)

func runLedgerReview(ctx context.Context, e *env, args []string) int {
	o := ledgerOptions{PINFiles: pinFileFlag{}}
	var serial uint
	pos, code, ok := ledgerFlags(e, "review", &o, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Reviewer, "reviewer", "", "who reviewed the session (`NAME`); with --serial, the enrolled name is recorded")
		fs.StringVar(&o.Decision, "decision", "", "accepted (closes the session) or follow-up")
		fs.StringVar(&o.Note, "note", "", "the review's finding (`TEXT`)")
		fs.UintVar(&serial, "serial", 0, "sign the review on this enrolled reviewer's YubiKey (`SERIAL`)")
		fs.Var(o.PINFiles, "pin-file", "its PIN from a file (`SERIAL=FILE`); else asked on the terminal")
		fs.BoolVar(&o.ConfirmLast, "confirm-last-retry", false, "try the PIN even if only one attempt is left")
		fs.StringVar(&o.AttestationRoot, "attestation-root", "", "TEST attestation root `PEM` (non-production)")
	})
	if !ok {
		return code
	}
	o.Serial = uint32(serial)
	switch {
	case len(pos) != 1 || o.Note == "" || (o.Decision != ledger.DecisionAccepted && o.Decision != ledger.DecisionFollowUp):
		fmt.Fprintln(e.stderr, "breakglass ledger review: give one SESSION, --decision accepted|follow-up, --note TEXT and --serial SERIAL (signed) or --reviewer NAME (unsigned)")
		return 2
	case serial == 0 && o.Reviewer == "":
		fmt.Fprintln(e.stderr, "breakglass ledger review: give --serial SERIAL to sign the review on your enrolled YubiKey, or --reviewer NAME to record an unsigned review")
		return 2
	case uint(o.Serial) != serial:
		fmt.Fprintf(e.stderr, "breakglass ledger review: --serial %d is not a YubiKey serial\n", serial)
		return 2
	}
	o.Session = pos[0]
	l, ok := o.openLedger(e, "review", o.Serial != 0, false)
	if !ok {
		return 1
	}
	defer l.Close()
	if o.Serial == 0 {
		en, err := l.Review(o.Session, o.Reviewer, o.Decision, o.Note)
		if err != nil {
			printLedgerErr(e.stderr, "review", err)
			return 1
		}
		fmt.Fprintf(e.stdout, "recorded review of %s (entry %d): %s by %s — unsigned review (sign it with --serial on a YubiKey enrolled with \"breakglass ledger reviewer add\")\n",
			inert.Line(o.Session), en.Seq, o.Decision, inert.Line(o.Reviewer))
		return 0
	}
	rk, err := l.Reviewer(o.Serial)
	if err != nil {
		printLedgerErr(e.stderr, "review", fmt.Errorf("%w: nothing was recorded", err))
		return 1
	}
	if o.Reviewer != "" && o.Reviewer != rk.Name && o.Reviewer != rk.ID {
		fmt.Fprintf(e.stderr, "breakglass ledger review: YubiKey %d is enrolled to reviewer %s (%s), not %q: nothing was recorded\n",
			o.Serial, inert.Line(rk.Name), inert.Line(rk.ID), inert.Line(o.Reviewer))
		return 1
	}
	tok, err := openCustodianKey(ctx, newStation(), o.Serial)
	if err != nil {
		printLedgerErr(e.stderr, "review", fmt.Errorf("%w: nothing was recorded", err))
		return 1
	}
	s := &tokenReviewSigner{tok: tok, key: rk, src: pinSource{files: o.PINFiles, e: e}, confirmLast: o.ConfirmLast, e: e}
	en, err := l.SignedReview(ctx, o.Session, o.Decision, o.Note, s)
	if err != nil {
		printLedgerErr(e.stderr, "review", err)
		if h := hardwareHint(err); h != "" {
			fmt.Fprintln(e.stderr, "  what to do: "+h)
		}
		return 1
	}
	fmt.Fprintf(e.stdout, "recorded review of %s (entry %d): %s by %s, signed on YubiKey %d; signature verified with the enrolled key\n",
		inert.Line(o.Session), en.Seq, o.Decision, inert.Line(rk.Name), o.Serial)
	return 0
}

// tokenReviewSigner signs a review on a reviewer's YubiKey through the
// station, as "breakglass seal --serial" signs a seal record: the key in the
// signing slot must be the enrolled one (checked before any PIN), then the
// PIN (file or masked prompt, the last attempt only when confirmed) and the
// touch the slot's policy asks for.
type tokenReviewSigner struct {
	tok         hardware.Token
	key         ledger.ReviewerKey
	src         pinSource
	confirmLast bool
	e           *env
}

var _ ledger.ReviewSigner = (*tokenReviewSigner)(nil)

func (s *tokenReviewSigner) Serial() uint32 { return s.tok.Serial() }

func (s *tokenReviewSigner) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	slot := s.key.Key.Sign.Slot.PIV()
	info, err := s.tok.KeyInfo(ctx, slot)
	if err != nil {
		return nil, fmt.Errorf("reading signing key in slot %s of YubiKey %d: %w", slot, s.tok.Serial(), err)
	}
	if !attest.SamePublicKey(info.Public, s.key.Public) {
		return nil, fmt.Errorf("YubiKey %d does not hold the key reviewer %s enrolled: the signing key in slot %s differs (reset or re-enrolled?): enrol the reviewer again (breakglass ledger reviewer add)", s.tok.Serial(), s.key.ID, slot)
	}
	tctx := hardware.WithTouchPrompt(ctx, touchPrompt(s.e.stderr, s.tok.Serial()))
	var sig []byte
	err = withPIN(ctx, s.src, s.tok, s.key.Name, s.confirmLast, func(pin string, confirmed bool) error {
		if err := vault.CheckPINRetries(ctx, s.tok, confirmed); err != nil {
			return err
		}
		var err error
		sig, err = s.tok.Sign(tctx, slot, digest, pin)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(sig) == 0 {
		return nil, errors.New("the key returned no signature")
	}
	return sig, nil
}
