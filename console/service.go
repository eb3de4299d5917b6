// Package console is the application service the break-glass console's
// screens drive: preflight, the custodians' quorum and its re-authorisation,
// the runbook steps and the credentials they reveal, the close-out
// questions, and the report the custodians sign on their YubiKeys.
//
// A Service is built with New from explicit inputs (Config): the vault, the
// runbook, the YubiKey station, the attestation trust, what the process did
// to protect itself, the network state, the binary's identity and a clock.
// It records every security-relevant event in the session's hash-chained
// journal before it reports success; an event that cannot be recorded is
// returned as an error and nothing of the operation takes effect on screen.
//
// *Service implements ui.Engine. Its methods are safe for concurrent use:
// a hardware operation (waiting for a PIN or a touch) never blocks the
// methods the screen reads.
package console

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/awnumar/memguard"

	"breakglass/audit"
	"breakglass/hardware"
	"breakglass/internal/netstate"
	"breakglass/runbook"
	"breakglass/runbook/session"
	"breakglass/ui"
	"breakglass/vault"
)

// Config is everything a Service depends on. Vault, VaultPath, Runbook,
// Station and StateDir (for a new session) are required.
type Config struct {
	Vault     *vault.Vault     // the loaded vault
	VaultPath string           // where Vault was loaded from; a reveal marks the secret burned there
	Runbook   *runbook.Runbook // the runbook the session follows
	Station   hardware.Station // the station's YubiKeys

	// Trust checks custodian keys' attestations. TestRoot says Trust holds a
	// test root instead of Yubico's: every screen and the report say so.
	Trust    vault.VerifyOptions
	TestRoot bool
	// AttestationRoot labels the trust in the journal's station record:
	// "yubico", or "TEST/non-production: " and the test root's subject.
	AttestationRoot string

	Guards   Guards                         // the process protections main applied
	NetState func() (netstate.State, error) // reads the air gap; nil means netstate.System
	Binary   Binary                         // the running binary, for preflight and the report
	Now      func() time.Time               // the clock; nil means time.Now

	StateDir  string        // where a new session's journal is created
	ExportDir string        // where the signed report is written (removable media)
	Window    time.Duration // how long a quorum keeps the vault unlocked
	Drill     bool          // secrets are decrypted and checked, never shown
	Demo      bool          // demo PINs are shown: every screen says DEMO

	// Resume, if set, continues this unfinished session (see FindUnfinished)
	// in its journal instead of starting a new one in StateDir.
	Resume *Unfinished
}

// Guards is what the process did to protect itself at start-up, as plain
// data: one line per guard (journaled and shown by preflight), and whether
// every protection preflight requires is on.
type Guards struct {
	Summary   []string
	Protected bool // core dumps off and IP networking denied
}

// Binary identifies the running binary. Err says why SHA256 is unknown.
type Binary struct {
	Version string
	SHA256  string
	Err     error
}

// journal is the part of *audit.Journal the service writes through.
type journal interface {
	Append(actor, typ string, data any) (audit.Entry, error)
	Head() string
	Entries() []audit.Entry
	Path() string
	Close() error
}

// Service adapts a session (runbook/session), the vault, the journal and
// the YubiKeys to the screens (ui.Engine).
//
// Locking: mu guards the session, the unlock state and everything the
// screens read; it is never held during a hardware operation. hw serialises
// the hardware operations (a YubiKey is opened exclusively, and vault.Unlock
// is not safe for concurrent use), so a touch wait never freezes the screen.
type Service struct {
	hw sync.Mutex
	mu sync.Mutex

	cfg       Config
	vault     *vault.Vault
	journal   journal
	auth      *audit.Journal // the same journal, for its authentication (journalmac.go)
	sess      *session.Session
	sessionID string
	start     ui.Start

	preflight []ui.Check // last shown
	acked     map[string]string
	clockOK   bool

	unlock    *vault.Unlock
	opened    *vault.Opened
	reauth    []session.Custodian // custodians counted towards a re-authorisation
	reauthOn  bool
	expiryErr error // the window's expiry could not be journaled yet

	revealed []interface{ Destroy() } // revealed plaintexts and TOTP seeds (locked memory), wiped on lock

	jkey     *memguard.LockedBuffer // the journal key while a quorum's key is held; wiped at lock and close
	tampered error                  // the journal failed a check: nothing more is signed
	resumed  bool                   // resumed after the vault was opened; the key is not recovered yet

	lastTry map[uint32]bool // serials whose custodian confirmed the last PIN try (pin.go)
	retries map[uint32]int  // each key's PIN retries, as last read

	payload  []byte // report payload, fixed at the first signature
	signers  []audit.ReportSigner
	exported []ui.ExportedFile
	lockErr  error // the session's end could not be journaled
}

var _ ui.Engine = (*Service)(nil)

// New starts a new session (a fresh journal in cfg.StateDir, recording the
// station and the process guards) or, with cfg.Resume set, continues an
// unfinished one. The caller must Close the Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Vault == nil, cfg.Runbook == nil, cfg.Station == nil:
		return nil, errors.New("console: vault, runbook and station are required")
	case cfg.VaultPath == "":
		return nil, errors.New("console: the vault's path is required")
	case cfg.Resume == nil && cfg.StateDir == "":
		return nil, errors.New("console: a state directory is required for a new session")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NetState == nil {
		cfg.NetState = netstate.System
	}
	s := &Service{cfg: cfg, vault: cfg.Vault, acked: map[string]string{}, start: ui.StartPreflight,
		lastTry: map[uint32]bool{}, retries: map[uint32]int{}}
	var err error
	if cfg.Resume != nil {
		err = s.resume(*cfg.Resume)
	} else {
		err = s.begin()
	}
	if err != nil {
		return nil, err
	}
	s.unlock = s.vault.Unlocker(cfg.Trust)
	s.reauthOn = s.start == ui.StartReauthorise || s.start == ui.StartReauthoriseCloseOut || s.start == ui.StartReauthoriseSign
	return s, nil
}

// recorder adapts the service's journal to session.Recorder.
type recorder struct{ s *Service }

func (r recorder) Append(actor, typ string, data any) error {
	_, err := r.s.journal.Append(actor, typ, data)
	return err
}

// record appends an event the service records itself; what names it in
// the error ("the acknowledgement").
func (s *Service) record(actor, typ, what string, data any) error {
	if _, err := s.journal.Append(actor, typ, data); err != nil {
		return &RecordError{What: what, Err: err}
	}
	return nil
}

// Start is the screen the session opens on: preflight for a new session,
// the phase it stopped in for a resumed one.
func (s *Service) Start() ui.Start { return s.start }

// SessionID is the session's id (its journal's file name without ".journal").
func (s *Service) SessionID() string { return s.sessionID }

// JournalPath is the session journal's file.
func (s *Service) JournalPath() string { return s.journal.Path() }

// Close closes the journal and wipes the journal key. Every recorded event
// is already durable.
func (s *Service) Close() error {
	s.mu.Lock()
	s.dropJournalKeyLocked()
	s.mu.Unlock()
	return s.journal.Close()
}

// Finish is Lock for the command that ran the screens: it also returns the
// error, if any, that kept the session's end from being recorded (the
// session then stays resumable).
func (s *Service) Finish() (ui.Summary, error) {
	sum := s.Lock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return sum, s.lockErr
}

// Mode reports the banners.
func (s *Service) Mode() ui.Mode {
	return ui.Mode{Demo: s.cfg.Demo, TestRoot: s.cfg.TestRoot, Drill: s.sess.Drill()}
}

// Fingerprint is the vault fingerprint custodians compare with their card.
func (s *Service) Fingerprint() string { return s.vault.Fingerprint() }

// Runbook names the runbook with its hash prefix, so it can be compared with the reviewed copy.
func (s *Service) Runbook() string {
	rb := s.sess.Runbook()
	return fmt.Sprintf("%s (v%s, sha256 %s…)", rb.Title, rb.Version, rb.SHA256[:16])
}
