package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/runbook/session"
	"breakglass/ui"
)

// minExportFree is the free space preflight wants at the report destination.
const minExportFree = 16 << 20

// Preflight runs the station checks, in the order the screen shows them.
func (c *consoleEngine) Preflight(ctx context.Context) []ui.Check {
	var checks []ui.Check
	add := func(name string, st ui.Status, detail string) {
		checks = append(checks, ui.Check{Name: name, Status: st, Detail: detail})
	}

	if c.binary.Err != nil {
		add("breakglass binary", ui.Warn, fmt.Sprintf("version %s; checksum unknown: %v", c.binary.Version, c.binary.Err))
	} else {
		add("breakglass binary", ui.Pass, fmt.Sprintf("version %s, sha256 %s", c.binary.Version, c.binary.SHA256))
	}

	ns, err := readNetState(systemRoot)
	switch {
	case err != nil:
		add("network air gap", ui.Warn, fmt.Sprintf("cannot read network state: %v", err))
	case ns.AirGapped():
		add("network air gap", ui.Pass, ns.String())
	default:
		add("network air gap", ui.Warn, ns.String()+" — this station should be air-gapped: unplug the cable / turn off Wi-Fi, or acknowledge why not")
	}
	if c.guards.NetworkDenied() && c.guards.NoCoreDump == nil {
		add("process protections", ui.Pass, strings.Join(c.guards.Summary(), "; "))
	} else {
		add("process protections", ui.Warn, strings.Join(c.guards.Summary(), "; "))
	}

	if err := c.vault.VerifyRoster(c.trust); err != nil {
		add("vault roster signatures", ui.Fail, fmt.Sprintf("%s: %v — do not use this vault; get the signed copy from the security team", c.vaultPath, err))
	} else {
		add("vault roster signatures", ui.Pass, fmt.Sprintf("fingerprint %s — compare with the custodian card; %d-of-%d, signed by every custodian",
			c.vault.Fingerprint(), c.vault.Roster.Policy.Threshold, len(c.vault.Roster.Custodians)))
	}
	if c.testRoot {
		add("attestation root", ui.Warn, "TEST attestation root given by --attestation-root: keys are NOT proven genuine YubiKeys; the report will say non-production")
	} else {
		add("attestation root", ui.Pass, "Yubico PIV attestation roots (built in)")
	}

	rb := c.sess.Runbook()
	var missing []string
	for _, name := range rb.Secrets() {
		if _, ok := c.vault.Secret(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		add("runbook", ui.Fail, fmt.Sprintf("%s names secrets the vault lacks: %s — seal them or fix the runbook", rb.Name, strings.Join(missing, ", ")))
	} else {
		add("runbook", ui.Pass, fmt.Sprintf("%q, %d steps, sha256 %s", rb.Title, len(rb.Steps), rb.SHA256))
	}

	listed, err := c.station.Keys(ctx)
	switch {
	case errors.Is(err, hardware.ErrNoService):
		add("smart card service", ui.Fail, "pcscd is not running: start it (systemctl start pcscd) and run breakglass again")
	case err != nil:
		add("smart card service", ui.Fail, err.Error())
	case len(listed) == 0:
		add("smart card service", ui.Warn, "pcscd is running but no YubiKey is inserted yet")
	default:
		add("smart card service", ui.Pass, fmt.Sprintf("pcscd running, %d YubiKey(s) inserted", len(listed)))
	}

	if free, err := checkWritable(c.exportDir); err != nil {
		add("report destination", ui.Fail, fmt.Sprintf("%s: %v — insert writable removable media or choose --export DIR", c.exportDir, err))
	} else if free < minExportFree {
		add("report destination", ui.Fail, fmt.Sprintf("%s has only %d KiB free — free space or choose --export DIR", c.exportDir, free>>10))
	} else {
		add("report destination", ui.Pass, fmt.Sprintf("%s writable, %d MiB free", c.exportDir, free>>20))
	}
	add("journal", ui.Pass, c.journal.Path()+" (hash-chained, fsynced)")

	c.mu.Lock()
	c.preflight = checks
	c.mu.Unlock()
	return checks
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

// buildPayloadLocked derives the report from the journal so far and the
// roster entries of the custodians who took part.
func (c *consoleEngine) buildPayloadLocked() ([]byte, error) {
	var custodians []audit.Custodian
	seen := map[uint32]bool{}
	st := c.sess.State()
	quorums := [][]session.Custodian{st.Quorum}
	for _, r := range st.Reauthorisations {
		quorums = append(quorums, r.Custodians)
	}
	for _, q := range quorums {
		for _, sc := range q {
			if seen[sc.Serial] {
				continue
			}
			seen[sc.Serial] = true
			cu, key, ok := c.vault.KeyBySerial(sc.Serial)
			if !ok {
				return nil, fmt.Errorf("serial %d is not in the vault roster", sc.Serial)
			}
			pub, chain, err := signingMaterial(key)
			if err != nil {
				return nil, fmt.Errorf("custodian %s: %w", cu.Name, err)
			}
			ac, err := audit.NewCustodian(cu.ID, cu.Name, sc.Serial, pub, chain)
			if err != nil {
				return nil, err
			}
			custodians = append(custodians, ac)
		}
	}
	r, err := audit.BuildReport(c.journal.Entries(), custodians)
	if err != nil {
		return nil, err
	}
	return audit.MarshalPayload(r)
}

// Export writes the signed report (JWS JSON) and its Markdown rendering into
// dir, atomically, after verifying the assembled JWS as an auditor would.
func (c *consoleEngine) Export(ctx context.Context, dir string) ([]ui.ExportedFile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.signers) < c.vault.Roster.Policy.Threshold {
		return nil, fmt.Errorf("%d of %d custodian signatures: %w", len(c.signers), c.vault.Roster.Policy.Threshold, session.ErrNotEnoughSigners)
	}
	jws, err := audit.SignReport(c.payload, c.signers)
	if err != nil {
		return nil, fmt.Errorf("assembling the signed report: %w", err)
	}
	r, err := audit.ParsePayload(c.payload)
	if err != nil {
		return nil, err
	}
	base := "breakglass-report-" + c.sessionID
	files := []struct {
		name string
		data []byte
	}{
		{base + ".jws.json", jws},
		{base + ".md", audit.RenderMarkdown(r)},
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	// All or nothing: if the second file cannot be written, the first is
	// removed again, so the medium never holds half an export.
	var out []ui.ExportedFile
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := audit.WriteFileAtomic(p, f.data, 0o644); err != nil {
			for _, w := range out {
				os.Remove(w.Path)
			}
			return nil, fmt.Errorf("%w — nothing was left on the medium; free space or choose another directory and export again", err)
		}
		sum := sha256.Sum256(f.data)
		out = append(out, ui.ExportedFile{Path: p, SHA256: hex.EncodeToString(sum[:])})
	}
	if _, err := c.journal.Append("operator", eventReportExported, map[string]any{"files": out}); err != nil {
		return out, fmt.Errorf("recording the export: %w", err)
	}
	c.exported = out
	return out, nil
}

// Lock ends the session and wipes every secret.
func (c *consoleEngine) Lock() ui.Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess.Phase() == session.PhaseSign {
		_ = c.sess.Lock() // refused without enough signatures: the session stays resumable
	}
	c.wipeLocked()
	if c.unlock != nil {
		c.unlock.Abort()
	}
	var revealed []string
	for _, r := range c.sess.MustRotate() {
		revealed = append(revealed, r.Name)
	}
	return ui.Summary{Exported: c.exported, Revealed: revealed, Wiped: true}
}

// hashExecutable returns the SHA-256 of the running binary, the checksum
// `make release` prints.
func hashExecutable() binaryInfo {
	b := binaryInfo{Version: version()}
	p, err := os.Executable()
	if err != nil {
		b.Err = err
		return b
	}
	f, err := os.Open(p)
	if err != nil {
		b.Err = err
		return b
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Err = err
		return b
	}
	b.SHA256 = hex.EncodeToString(h.Sum(nil))
	return b
}

var _ = time.Now
