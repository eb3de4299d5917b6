package audit

import "breakglass/vault"

// RekeyInfo is the roster version a rekey session wrote: the journal's
// vault.rekeyed event, and the new roster record itself (canonical bytes,
// its custodians' signatures, the endorsements of the session's quorum),
// set by the command after BuildReport. The quorum that signs the report is
// of the OLD roster (Roster): they authorised the change.
type RekeyInfo struct {
	Seq            uint64             `json:"seq"`
	Time           string             `json:"time"`
	OldFingerprint string             `json:"old_fingerprint"`
	NewFingerprint string             `json:"new_fingerprint"`
	Version        int                `json:"version"`
	VaultKey       string             `json:"vault_key"` // "new" or "reshared"
	Reason         string             `json:"reason"`
	Added          []string           `json:"added"`
	Removed        []string           `json:"removed"`
	KeysAdded      []uint32           `json:"keys_added"`
	KeysRemoved    []uint32           `json:"keys_removed"`
	ThresholdFrom  int                `json:"threshold_from"`
	ThresholdTo    int                `json:"threshold_to"`
	NewDigest      string             `json:"new_roster_digest"`
	NewRoster      vault.RosterRecord `json:"new_roster"`
}
