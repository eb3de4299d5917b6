package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/awnumar/memguard"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/runbook"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// Journal event types the console records itself, beside the engine's.
const (
	eventWarningAcknowledged = "preflight.warning_acknowledged"
	eventClockConfirmed      = "preflight.clock_confirmed"
	eventVaultMarkFailed     = "vault.mark_revealed_failed"
	eventReportExported      = "report.exported"
	eventProcessGuards       = "process.guards"
	eventPINRejected         = "quorum.pin_rejected"
)

// consoleEngine adapts a session (runbook/session), the vault, the journal
// and the YubiKeys to the ui.Engine interface.
//
// Locking: mu guards the session, the unlock state and everything the View
// reads; it is never held during a hardware operation. hw serialises the
// hardware operations (a YubiKey is opened exclusively, and vault.Unlock is
// not safe for concurrent use), so a touch wait never freezes the screen.
type consoleEngine struct {
	hw sync.Mutex
	mu sync.Mutex

	station   hardware.Station
	vault     *vault.Vault
	vaultPath string
	trust     vault.VerifyOptions
	testRoot  bool
	demo      bool
	journal   *audit.Journal
	sess      *session.Session
	sessionID string
	now       func() time.Time
	binary    binaryInfo
	exportDir string
	guards    processGuards

	preflight []ui.Check // last shown
	acked     map[string]string
	clockOK   bool

	unlock   *vault.Unlock
	opened   *vault.Opened
	reauth   []session.Custodian // custodians counted towards a re-authorisation
	reauthOn bool

	revealed []*memguard.LockedBuffer // wiped on lock

	payload  []byte // report payload, fixed at the first signature
	signers  []audit.ReportSigner
	exported []ui.ExportedFile
}

// binaryInfo identifies the running binary for preflight and the report.
type binaryInfo struct {
	Version string
	SHA256  string
	Err     error
}

var _ ui.Engine = (*consoleEngine)(nil)

// recorder adapts the journal to session.Recorder.
type journalRecorder struct{ j *audit.Journal }

func (r journalRecorder) Append(actor, typ string, data any) error {
	_, err := r.j.Append(actor, typ, data)
	return err
}

// Mode reports the banners.
func (c *consoleEngine) Mode() ui.Mode {
	return ui.Mode{Demo: c.demo, TestRoot: c.testRoot, Drill: c.sess.Drill()}
}

// Fingerprint is the vault fingerprint custodians compare with their card.
func (c *consoleEngine) Fingerprint() string { return c.vault.Fingerprint() }

// Runbook names the runbook with its hash prefix, so it can be compared with the reviewed copy.
func (c *consoleEngine) Runbook() string {
	rb := c.sess.Runbook()
	return fmt.Sprintf("%s (v%s, sha256 %s…)", rb.Title, rb.Version, rb.SHA256[:16])
}

// AcknowledgeWarning journals the operator's reason for going on despite a warning.
func (c *consoleEngine) AcknowledgeWarning(name, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("give a reason for going on despite this warning")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.journal.Append("operator", eventWarningAcknowledged, map[string]string{"check": name, "reason": reason}); err != nil {
		return fmt.Errorf("recording the acknowledgement: %w", err)
	}
	c.acked[name] = reason
	return nil
}

// ConfirmClock journals the operator's clock confirmation.
func (c *consoleEngine) ConfirmClock(shown time.Time, correct bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	data := map[string]any{"shown": shown.UTC().Format(time.RFC3339), "correct": correct}
	if _, err := c.journal.Append("operator", eventClockConfirmed, data); err != nil {
		return fmt.Errorf("recording the clock confirmation: %w", err)
	}
	// A wrong clock is recorded like a right one; the preflight screen then
	// blocks until the clock is set and confirmed.
	c.clockOK = correct
	return nil
}

// Declare records the preflight (once every warning is acknowledged) and the declaration.
func (c *consoleEngine) Declare(d ui.Declaration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess.Phase() == session.PhasePreflight {
		checks := make([]session.PreflightCheck, 0, len(c.preflight)+1)
		for _, ch := range c.preflight {
			pc := session.PreflightCheck{Name: ch.Name, OK: ch.Status == ui.Pass, Detail: ch.Detail}
			if ch.Status == ui.Warn {
				if reason, ok := c.acked[ch.Name]; ok {
					pc.Advisory = true
					pc.Detail += " — acknowledged: " + reason
				}
			}
			checks = append(checks, pc)
		}
		checks = append(checks, session.PreflightCheck{Name: "clock confirmed by operator", OK: c.clockOK})
		have := func(name string) bool { _, ok := c.vault.Secret(name); return ok }
		if err := c.sess.Preflight(checks, have); err != nil {
			return fmt.Errorf("preflight: %w", err)
		}
	}
	return c.sess.Declare(d.Operator, d.Ticket, d.WhatBroke)
}

// Quorum reports the progress towards the quorum (or the re-authorisation).
func (c *consoleEngine) Quorum() ui.QuorumState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.quorumLocked()
}

func (c *consoleEngine) quorumLocked() ui.QuorumState {
	q := ui.QuorumState{Need: c.vault.Roster.Policy.Threshold}
	counted := c.sess.Quorum()
	if c.reauthOn {
		counted = c.reauth
	}
	seen := map[string]bool{}
	for _, cu := range counted {
		q.Counted = append(q.Counted, ui.Custodian{Name: cu.Name, Serial: cu.Serial})
		seen[cu.ID] = true
	}
	q.Have = len(q.Counted)
	for _, cu := range c.vault.Roster.Custodians {
		if !seen[cu.ID] {
			q.Remaining = append(q.Remaining, cu.Name)
		}
	}
	return q
}

// ConnectedKeys lists inserted keys with their roster names and, where the
// key can already be refused, why.
func (c *consoleEngine) ConnectedKeys(ctx context.Context) ([]ui.KeySeen, error) {
	listed, err := c.station.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing YubiKeys: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	counted := map[string]bool{}
	for _, cu := range c.countedLocked() {
		counted[cu.ID] = true
	}
	var out []ui.KeySeen
	for _, l := range listed {
		if l.Err != nil {
			continue
		}
		k := ui.KeySeen{Serial: l.Info.Serial, Reader: l.Info.Reader, PINRetries: l.Info.PINRetries}
		cu, _, ok := c.vault.KeyBySerial(l.Info.Serial)
		switch {
		case !ok:
			k.Refusal = fmt.Errorf("serial %d is not enrolled in this vault: %w", l.Info.Serial, ui.ErrNotOnRoster)
		case counted[cu.ID]:
			k.Custodian = cu.Name
			k.Refusal = fmt.Errorf("%s is already counted: %w", cu.Name, ui.ErrAlreadyCounted)
		default:
			k.Custodian = cu.Name
		}
		out = append(out, k)
	}
	return out, nil
}

func (c *consoleEngine) countedLocked() []session.Custodian {
	if c.reauthOn {
		return c.reauth
	}
	return c.sess.Quorum()
}

// AddCustodian identifies the key against the roster (slot key, attestation),
// decrypts its share with the PIN (the custodian touches the key) and counts
// the custodian. The quorum's last custodian opens the vault.
func (c *consoleEngine) AddCustodian(ctx context.Context, serial uint32, pin string) (ui.QuorumState, error) {
	c.hw.Lock()
	defer c.hw.Unlock()
	tok, err := c.station.Open(ctx, serial)
	if err != nil {
		return c.Quorum(), uiError(err)
	}
	c.mu.Lock()
	u := c.unlock
	c.mu.Unlock()
	cu, err := u.Identify(ctx, tok)
	if err != nil {
		return c.Quorum(), uiError(err)
	}
	// The console asked the custodian to confirm a last PIN try before calling us.
	u.ConfirmLastPINRetry(serial)
	if err := u.AddShare(ctx, tok, pin); err != nil {
		c.recordRefusal(cu.ID, serial, err)
		return c.Quorum(), uiError(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := session.Custodian{ID: cu.ID, Name: cu.Name, Serial: serial}
	if c.reauthOn {
		c.reauth = append(c.reauth, sc)
		if len(c.reauth) >= c.vault.Roster.Policy.Threshold {
			if err := c.sess.Reauthorise(c.reauth); err != nil {
				return c.quorumLocked(), err
			}
			if err := c.openLocked(); err != nil {
				return c.quorumLocked(), err
			}
			q := c.quorumLocked()
			c.reauthOn, c.reauth = false, nil
			return q, nil
		}
		return c.quorumLocked(), nil
	}
	unlocked, err := c.sess.AddCustodian(sc)
	if err != nil {
		return c.quorumLocked(), err
	}
	if unlocked {
		if err := c.openLocked(); err != nil {
			return c.quorumLocked(), err
		}
	}
	return c.quorumLocked(), nil
}

// recordRefusal journals a wrong PIN or a blocked key (never the PIN):
// an auditor sees every failed attempt, not only the successes.
func (c *consoleEngine) recordRefusal(custodian string, serial uint32, err error) {
	var pe *hardware.PINError
	data := map[string]any{"custodian": custodian, "serial": serial}
	switch {
	case errors.As(err, &pe):
		data["reason"], data["retries_left"] = "wrong PIN", pe.Retries
	case errors.Is(err, hardware.ErrPINBlocked):
		data["reason"] = "PIN blocked"
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.journal.Append(custodian, eventPINRejected, data)
}

// openLocked combines the collected shares into an opened vault.
func (c *consoleEngine) openLocked() error {
	o, err := c.unlock.Open()
	if err != nil {
		return fmt.Errorf("opening the vault with the custodians' shares: %w", err)
	}
	c.opened = o
	return nil
}

// uiError maps domain errors onto the sentinels the screens branch on,
// keeping the domain message.
func uiError(err error) error {
	var pe *hardware.PINError
	var nr *vault.NotOnRosterError
	var ac *vault.AlreadyCountedError
	var km *vault.KeyMismatchError
	switch {
	case errors.As(err, &pe) && pe.Retries > 0:
		return fmt.Errorf("%w", &ui.WrongPINError{Retries: pe.Retries})
	case errors.Is(err, hardware.ErrPINBlocked):
		return fmt.Errorf("%v: %w", err, ui.ErrPINBlocked)
	case errors.Is(err, hardware.ErrRemoved), errors.Is(err, hardware.ErrNotFound):
		return fmt.Errorf("%v: %w", err, ui.ErrKeyRemoved)
	case errors.As(err, &nr):
		return fmt.Errorf("%v: %w", err, ui.ErrNotOnRoster)
	case errors.As(err, &ac), errors.Is(err, session.ErrDuplicateKey):
		return fmt.Errorf("%v: %w", err, ui.ErrAlreadyCounted)
	case errors.As(err, &km):
		return fmt.Errorf("%v: %w", err, ui.ErrWrongSlotKey)
	case errors.Is(err, vault.ErrAttestation):
		return fmt.Errorf("%v: %w", err, ui.ErrAttestationFailed)
	}
	return err
}

// Reauthorise locks and wipes after the window expired and starts counting a fresh quorum.
func (c *consoleEngine) Reauthorise() ui.QuorumState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.sess.ExpireWindow(); err != nil {
		// The expiry could not be journaled; the lock below still happens.
		_ = err
	}
	c.wipeLocked()
	c.unlock = c.vault.Unlocker(c.trust)
	c.reauthOn, c.reauth = true, nil
	return c.quorumLocked()
}

// WindowExpires is when the current unlock window ends.
func (c *consoleEngine) WindowExpires() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess.Phase() != session.PhaseSteps {
		return time.Time{} // nothing is unlocked outside the runbook steps
	}
	return c.sess.WindowExpires()
}

// wipeLocked destroys every revealed secret and the opened vault key.
func (c *consoleEngine) wipeLocked() {
	for _, b := range c.revealed {
		b.Destroy()
	}
	c.revealed = nil
	if c.opened != nil {
		c.opened.Lock()
		c.opened = nil
	}
}

// Steps returns the runbook with the session's progress.
func (c *consoleEngine) Steps() []ui.StepView {
	c.mu.Lock()
	defer c.mu.Unlock()
	rb := c.sess.Runbook()
	st := c.sess.State()
	views := make([]ui.StepView, len(rb.Steps))
	for i, s := range rb.Steps {
		v := ui.StepView{ID: s.ID, Title: s.Title, Instructions: s.Instructions, Secrets: s.Reveals}
		var ss runbook.StepState
		if i < len(st.Steps) {
			ss = st.Steps[i]
		}
		switch ss.Status {
		case runbook.Done:
			v.State = ui.StepDone
		case runbook.Skipped:
			v.State = ui.StepSkipped
		case runbook.Current:
			v.State = ui.StepCurrent
		}
		for j, chk := range s.Checks {
			v.Checks = append(v.Checks, ui.Item{Text: chk, Done: j < len(ss.Ticked) && ss.Ticked[j]})
		}
		for j, p := range s.Evidence {
			ev := ui.Evidence{Prompt: p}
			if j < len(ss.Answers) {
				ev.Answer = ss.Answers[j]
			}
			v.Evidence = append(v.Evidence, ev)
		}
		if s.BothConfirm {
			for _, cu := range c.countedLocked() {
				v.Confirmers = append(v.Confirmers, cu.Name)
			}
			v.Confirmed = c.namesLocked(ss.Confirmed)
		}
		views[i] = v
	}
	return views
}

// namesLocked turns custodian ids into roster names.
func (c *consoleEngine) namesLocked(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if cu, ok := c.vault.Custodian(id); ok {
			out = append(out, cu.Name)
		} else {
			out = append(out, id)
		}
	}
	return out
}

// Current is the index of the step to do now.
func (c *consoleEngine) Current() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.sess.Progress().Current(); ok {
		return i
	}
	return len(c.sess.Runbook().Steps)
}

func (c *consoleEngine) stepID(i int) (string, error) {
	steps := c.sess.Runbook().Steps
	if i < 0 || i >= len(steps) {
		return "", fmt.Errorf("no step %d", i+1)
	}
	return steps[i].ID, nil
}

// withStep runs f on step i's id under the lock.
func (c *consoleEngine) withStep(i int, f func(id string) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, err := c.stepID(i)
	if err != nil {
		return err
	}
	return f(id)
}

// Tick records a ticked check.
func (c *consoleEngine) Tick(step, check int) error {
	return c.withStep(step, func(id string) error { return c.sess.Tick(id, check, true) })
}

// Answer records evidence.
func (c *consoleEngine) Answer(step, evidence int, text string) error {
	return c.withStep(step, func(id string) error { return c.sess.Answer(id, evidence, text) })
}

// Confirm records a custodian's confirmation of a step, proven on their own
// key: the key's signing slot signs a digest naming the session, the step,
// the custodian and the journal head (PIN, then touch). The signature is
// checked against the roster and journaled, so the confirmation is evidence
// an auditor can check, not an operator's keypress.
func (c *consoleEngine) Confirm(ctx context.Context, step int, name, pin string) error {
	c.hw.Lock()
	defer c.hw.Unlock()
	c.mu.Lock()
	stepID, err := c.stepID(step)
	var who session.Custodian
	found := false
	for _, cu := range c.countedLocked() {
		if cu.Name == name {
			who, found = cu, true
		}
	}
	head := c.journal.Head()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s is not in the current quorum", name)
	}
	_, key, ok := c.vault.KeyBySerial(who.Serial)
	if !ok {
		return fmt.Errorf("serial %d is not enrolled in this vault: %w", who.Serial, ui.ErrNotOnRoster)
	}
	tok, err := c.station.Open(ctx, who.Serial)
	if err != nil {
		return uiError(fmt.Errorf("%s's key %d: %w", name, who.Serial, err))
	}
	// The last PIN try is never spent on a confirmation.
	if err := vault.CheckPINRetries(ctx, tok, false); err != nil {
		return uiError(fmt.Errorf("%w — unblock or confirm the last try at a drill first", err))
	}
	digest := audit.ConfirmationDigest(c.sessionID, stepID, who.ID, who.Serial, head)
	sig, err := tok.Sign(ctx, key.Sign.Slot.PIV(), digest[:], pin)
	if err != nil {
		c.recordRefusal(who.ID, who.Serial, err)
		return uiError(err)
	}
	pub, _, err := signingMaterial(key)
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return fmt.Errorf("%s's key %d signed with a key that is not the enrolled one: %w", name, who.Serial, ui.ErrWrongSlotKey)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.journal.Append(who.ID, audit.TypeConfirmationSigned, audit.ConfirmationData{
		Step: stepID, Custodian: who.ID, Serial: who.Serial, JournalHead: head,
		Digest: hex.EncodeToString(digest[:]), Signature: sig,
	}); err != nil {
		return fmt.Errorf("recording the confirmation: %w", err)
	}
	return c.sess.Confirm(stepID, who.ID)
}

// Complete finishes a step. After the last step the vault is locked and
// wiped: close-out and signing need no secret.
func (c *consoleEngine) Complete(step int) error {
	return c.withStep(step, func(id string) error { return c.afterStep(c.sess.Complete(id)) })
}

// Skip skips a step with a reason.
func (c *consoleEngine) Skip(step int, reason string) error {
	return c.withStep(step, func(id string) error { return c.afterStep(c.sess.Skip(id, reason)) })
}

func (c *consoleEngine) afterStep(err error) error {
	if err == nil && c.sess.Phase() != session.PhaseSteps {
		c.wipeLocked()
	}
	return err
}

// Reveal records and decrypts one credential of the current step. In a drill
// it is decrypted and parsed but its value is never returned.
func (c *consoleEngine) Reveal(ctx context.Context, step int, name string) (ui.Secret, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, err := c.stepID(step)
	if err != nil {
		return ui.Secret{}, err
	}
	if c.opened == nil {
		return ui.Secret{}, errors.New("the vault is locked: the custodians must re-authorise")
	}
	sec, ok := c.vault.Secret(name)
	if !ok {
		return ui.Secret{}, fmt.Errorf("the vault has no secret %q", name)
	}
	r, err := c.sess.Reveal(id, name)
	if err != nil {
		return ui.Secret{}, err
	}
	out := ui.Secret{Name: name, Kind: uiKind(sec.Kind)}
	if r.Mode == session.ModeCheck {
		cerr := c.opened.Check(name)
		detail := "decrypted and parsed"
		if cerr != nil {
			detail = cerr.Error()
		}
		if err := c.sess.CheckResult(name, cerr == nil, detail); err != nil {
			return ui.Secret{}, err
		}
		if cerr != nil {
			return ui.Secret{}, fmt.Errorf("drill: %w", cerr)
		}
		return out, nil
	}
	buf, err := c.opened.Reveal(name)
	if err != nil {
		_ = c.sess.CheckResult(name, false, err.Error())
		return ui.Secret{}, err
	}
	if err := c.sess.CheckResult(name, true, "decrypted"); err != nil {
		buf.Destroy()
		return ui.Secret{}, err
	}
	c.markRevealedLocked(name)
	c.revealed = append(c.revealed, buf)
	out.Value = buf.Bytes
	out.Wipe = buf.Destroy
	if sec.Kind == vault.KindTOTP {
		if _, period, err := vault.TOTPCode(buf.Bytes(), c.now()); err == nil {
			out.TOTP = totpGen{buf: buf, period: period}
		}
	}
	return out, nil
}

// markRevealedLocked marks the secret burned in the vault file (until it is
// sealed again). A vault on read-only media cannot be marked: that is
// journaled, and the report's must-rotate list still names it.
func (c *consoleEngine) markRevealedLocked(name string) {
	if err := c.vault.MarkRevealed(name, c.sessionID, c.now()); err == nil {
		err = c.vault.Save(c.vaultPath)
		if err == nil {
			return
		}
		_, _ = c.journal.Append("breakglass", eventVaultMarkFailed, map[string]string{"name": name, "error": err.Error()})
	}
}

type totpGen struct {
	buf    *memguard.LockedBuffer
	period time.Duration
}

func (t totpGen) Code(now time.Time) string {
	if !t.buf.IsAlive() {
		return "------"
	}
	code, _, err := vault.TOTPCode(t.buf.Bytes(), now)
	if err != nil {
		return "??????"
	}
	return code
}
func (t totpGen) Period() time.Duration { return t.period }

func uiKind(k vault.Kind) ui.SecretKind {
	switch k {
	case vault.KindTOTP:
		return ui.TOTPSeed
	case vault.KindRecoveryCodes:
		return ui.RecoveryCodes
	case vault.KindPassword:
		return ui.Password
	}
	return ui.FreeText
}

// CloseOutQuestions are the engine's questions; yes/no ones say how to answer.
func (c *consoleEngine) CloseOutQuestions() []ui.Question {
	c.mu.Lock()
	defer c.mu.Unlock()
	answers := map[string]session.CloseOutAnswer{}
	for _, a := range c.sess.State().CloseOut {
		answers[a.Question] = a
	}
	out := make([]ui.Question, 0, len(session.Questions))
	for _, q := range session.Questions {
		uq := ui.Question{ID: q.ID, Text: q.Prompt}
		if q.ID == session.QWhatBroke {
			if d := c.sess.State().Declaration.WhatBroke; d != "" {
				uq.Text += fmt.Sprintf(" (declared at the start: %q — confirm or correct it)", d)
			}
		}
		if q.YesNo {
			uq.Text += ` Answer "no", or "yes: " and the details.`
		}
		if a, ok := answers[q.ID]; ok {
			uq.Answer = a.Text
			if a.YesNo != "" {
				uq.Answer = strings.TrimSuffix(a.YesNo+": "+a.Text, ": ")
			}
		}
		out = append(out, uq)
	}
	return out
}

// AnswerCloseOut records one answer.
func (c *consoleEngine) AnswerCloseOut(id, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	yesNo := false
	for _, q := range session.Questions {
		if q.ID == id {
			yesNo = q.YesNo
		}
	}
	if !yesNo {
		return c.sess.AnswerCloseOut(id, "", text)
	}
	t := strings.TrimSpace(text)
	low := strings.ToLower(t)
	switch {
	case low == "no" || strings.HasPrefix(low, "no:") || strings.HasPrefix(low, "no "):
		return c.sess.AnswerCloseOut(id, "no", strings.TrimSpace(strings.TrimLeft(t[2:], ": ")))
	case strings.HasPrefix(low, "yes"):
		detail := strings.TrimSpace(strings.TrimLeft(t[3:], ": "))
		if detail == "" {
			return errors.New(`say what after "yes:" — which identity, key, role or logging change, and whether it was undone`)
		}
		return c.sess.AnswerCloseOut(id, "yes", detail)
	}
	return errors.New(`answer "no", or "yes: " followed by the details`)
}

// MustRotate lists the credentials revealed in this session.
func (c *consoleEngine) MustRotate() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.sess.MustRotate() {
		out = append(out, r.Name)
	}
	return out
}

// Sign has one custodian sign the report on their key (PIN, then touch).
// The payload is fixed at the first signature: the journal up to the end
// of the close-out.
func (c *consoleEngine) Sign(ctx context.Context, serial uint32, pin string) error {
	c.hw.Lock()
	defer c.hw.Unlock()
	c.mu.Lock()
	if c.sess.Phase() == session.PhaseCloseOut {
		if err := c.sess.FinishCloseOut(); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	cu, key, ok := c.vault.KeyBySerial(serial)
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("serial %d is not enrolled in this vault: %w", serial, ui.ErrNotOnRoster)
	}
	if c.payload == nil {
		p, err := c.buildPayloadLocked()
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("building the report: %w", err)
		}
		c.payload = p
	}
	payload := c.payload
	c.mu.Unlock()

	tok, err := c.station.Open(ctx, serial)
	if err != nil {
		return uiError(err)
	}
	if err := vault.CheckPINRetries(ctx, tok, true); err != nil {
		return uiError(err)
	}
	signer, err := reportSigner(cu, key)
	if err != nil {
		return err
	}
	var digest, der []byte
	signer.Sign = func(d []byte) ([]byte, error) {
		sig, err := tok.Sign(ctx, key.Sign.Slot.PIV(), d, pin)
		digest, der = d, sig
		return sig, err
	}
	if _, err := audit.SignReport(payload, []audit.ReportSigner{signer}); err != nil {
		return uiError(err)
	}
	// The card's signature is kept for Export, which assembles every
	// custodian's signature into one JWS over the same payload.
	signer.Sign = func(d []byte) ([]byte, error) {
		if !bytes.Equal(d, digest) {
			return nil, fmt.Errorf("custodian %s signed a different report", cu.Name)
		}
		return der, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.sess.RecordSignature(cu.ID, serial, hex.EncodeToString(digest)); err != nil {
		return uiError(err)
	}
	c.signers = append(c.signers, signer)
	return nil
}

// reportSigner describes a custodian's signing key for the JWS.
func reportSigner(cu vault.Custodian, key vault.Key) (audit.ReportSigner, error) {
	pub, chain, err := signingMaterial(key)
	if err != nil {
		return audit.ReportSigner{}, fmt.Errorf("custodian %s's signing key in the vault: %w", cu.Name, err)
	}
	return audit.ReportSigner{KeyID: cu.ID, Public: pub, Chain: chain}, nil
}

// signingMaterial parses a roster signing key and its attestation chain
// (slot certificate first, then the device certificate).
func signingMaterial(key vault.Key) (*ecdsa.PublicKey, []*x509.Certificate, error) {
	pk, err := x509.ParsePKIXPublicKey(key.Sign.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing public key: %w", err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("public key is %T, not P-256", pk)
	}
	slotCert, err := x509.ParseCertificate(key.Sign.Attestation.Slot)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing slot attestation: %w", err)
	}
	device, err := x509.ParseCertificate(key.Sign.Attestation.Device)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing device attestation: %w", err)
	}
	return pub, []*x509.Certificate{slotCert, device}, nil
}
