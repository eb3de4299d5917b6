package console

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"breakglass/hardware"
	"breakglass/runbook/session"
	"breakglass/ui"
)

// minExportFree is the free space preflight wants at the report destination.
const minExportFree = 16 << 20

// checks collects preflight results in display order.
type checks []ui.Check

func (c *checks) add(name string, st ui.Status, detail string) {
	*c = append(*c, ui.Check{Name: name, Status: st, Detail: detail})
}

// Preflight runs the station checks, in the order the screen shows them.
func (s *Service) Preflight(ctx context.Context) []ui.Check {
	var c checks
	s.checkProcess(&c)
	s.checkVault(&c)
	s.checkStation(ctx, &c)
	s.mu.Lock()
	s.preflight = c
	s.mu.Unlock()
	return c
}

// checkProcess: the binary, the air gap and the process protections.
func (s *Service) checkProcess(c *checks) {
	if b := s.cfg.Binary; b.Err != nil {
		c.add("breakglass binary", ui.Warn, fmt.Sprintf("version %s; checksum unknown: %v", b.Version, b.Err))
	} else {
		c.add("breakglass binary", ui.Pass, fmt.Sprintf("version %s, sha256 %s", b.Version, b.SHA256))
	}
	ns, err := s.cfg.NetState()
	switch {
	case err != nil:
		c.add("network air gap", ui.Warn, fmt.Sprintf("cannot read network state: %v", err))
	case ns.AirGapped():
		c.add("network air gap", ui.Pass, ns.String())
	default:
		c.add("network air gap", ui.Warn, ns.String()+" — this station should be air-gapped: unplug the cable / turn off Wi-Fi, or acknowledge why not")
	}
	st := ui.Warn
	if s.cfg.Guards.Protected {
		st = ui.Pass
	}
	c.add("process protections", st, strings.Join(s.cfg.Guards.Summary, "; "))
}

// checkVault: the roster signatures, the attestation root and the runbook's secrets.
func (s *Service) checkVault(c *checks) {
	v := s.vault
	if err := v.VerifyRoster(s.cfg.Trust); err != nil {
		c.add("vault roster signatures", ui.Fail, fmt.Sprintf("%s: %v — do not use this vault; get the signed copy from the security team", s.cfg.VaultPath, err))
	} else {
		detail := fmt.Sprintf("fingerprint %s — compare with the custodian card; %d-of-%d, signed by every custodian",
			v.Fingerprint(), v.Roster.Policy.Threshold, len(v.Roster.Custodians))
		if prev, ok := v.Previous(); ok {
			detail += fmt.Sprintf("; roster version %d, rekeyed on %s from %s (endorsed by a quorum of it)",
				v.Roster.Number(), v.Roster.Created.UTC().Format("2006-01-02"), prev.ComputeFingerprint())
		}
		c.add("vault roster signatures", ui.Pass, detail)
	}
	if s.cfg.TestRoot {
		c.add("attestation root", ui.Warn, "TEST attestation root given by --attestation-root: keys are NOT proven genuine YubiKeys; the report will say non-production")
	} else {
		c.add("attestation root", ui.Pass, "Yubico PIV attestation roots (built in)")
	}
	rb := s.cfg.Runbook
	var missing []string
	for _, name := range rb.Secrets() {
		if _, ok := v.Secret(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		c.add("runbook", ui.Fail, fmt.Sprintf("%s names secrets the vault lacks: %s — seal them or fix the runbook", rb.Name, strings.Join(missing, ", ")))
	} else {
		c.add("runbook", ui.Pass, fmt.Sprintf("%q, %d steps, sha256 %s", rb.Title, len(rb.Steps), rb.SHA256))
	}
}

// checkStation: the smart card service, the report destination and the journal.
func (s *Service) checkStation(ctx context.Context, c *checks) {
	listed, err := s.cfg.Station.Keys(ctx)
	switch {
	case errors.Is(err, hardware.ErrNoService):
		c.add("smart card service", ui.Fail, "pcscd is not running: start it (systemctl start pcscd) and run breakglass again")
	case err != nil:
		c.add("smart card service", ui.Fail, err.Error())
	case len(listed) == 0:
		c.add("smart card service", ui.Warn, "pcscd is running but no YubiKey is inserted yet")
	default:
		c.add("smart card service", ui.Pass, fmt.Sprintf("pcscd running, %d YubiKey(s) inserted", len(listed)))
	}
	dir := s.cfg.ExportDir
	if free, err := checkWritable(dir); err != nil {
		c.add("report destination", ui.Fail, fmt.Sprintf("%s: %v — insert writable removable media or choose --export DIR", dir, err))
	} else if free < minExportFree {
		c.add("report destination", ui.Fail, fmt.Sprintf("%s has only %d KiB free — free space or choose --export DIR", dir, free>>10))
	} else {
		c.add("report destination", ui.Pass, fmt.Sprintf("%s writable, %d MiB free", dir, free>>20))
	}
	c.add("journal", ui.Pass, s.journal.Path()+" (hash-chained, fsynced)")
}

// checkWritable proves dir accepts a file (create, fsync, remove) and
// returns its free space in bytes.
func checkWritable(dir string) (uint64, error) {
	f, err := os.CreateTemp(dir, ".breakglass-write-test-*")
	if err != nil {
		return 0, fmt.Errorf("not writable: %w", err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	serr := f.Sync()
	f.Close()
	os.Remove(name)
	if err := errors.Join(werr, serr); err != nil {
		return 0, fmt.Errorf("writing a test file: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading free space: %w", err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// AcknowledgeWarning journals the operator's reason for going on despite a warning.
func (s *Service) AcknowledgeWarning(name, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("give a reason for going on despite this warning")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record("operator", eventWarningAcknowledged, "the acknowledgement", map[string]string{"check": name, "reason": reason}); err != nil {
		return err
	}
	s.acked[name] = reason
	return nil
}

// ConfirmClock journals the operator's clock confirmation.
func (s *Service) ConfirmClock(shown time.Time, correct bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := map[string]any{"shown": shown.UTC().Format(time.RFC3339), "correct": correct}
	if err := s.record("operator", eventClockConfirmed, "the clock confirmation", data); err != nil {
		return err
	}
	// A wrong clock is recorded like a right one; the preflight screen then
	// blocks until the clock is set and confirmed.
	s.clockOK = correct
	return nil
}

// Declare records the preflight (once every warning is acknowledged) and the declaration.
func (s *Service) Declare(d ui.Declaration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess.Phase() == session.PhasePreflight {
		checks := make([]session.PreflightCheck, 0, len(s.preflight)+1)
		for _, ch := range s.preflight {
			pc := session.PreflightCheck{Name: ch.Name, OK: ch.Status == ui.Pass, Detail: ch.Detail}
			if ch.Status == ui.Warn {
				if reason, ok := s.acked[ch.Name]; ok {
					pc.Advisory = true
					pc.Detail += " — acknowledged: " + reason
				}
			}
			checks = append(checks, pc)
		}
		checks = append(checks, session.PreflightCheck{Name: "clock confirmed by operator", OK: s.clockOK})
		have := func(name string) bool { _, ok := s.vault.Secret(name); return ok }
		if err := s.sess.Preflight(checks, have); err != nil {
			return fmt.Errorf("preflight: %w", err)
		}
	}
	return s.sess.Declare(d.Operator, d.Ticket, d.WhatBroke)
}
