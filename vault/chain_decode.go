package vault

// DecodeRosterRecord returns the roster a record holds, with every
// structural check made but no signature, endorsement or attestation
// verified: for showing a roster history (vault inspect), never for
// trusting it (VerifyChain, VerifyRosterRecord).
func DecodeRosterRecord(rec RosterRecord) (*Roster, error) {
	v, err := parseRosterRecord(rec)
	if err != nil {
		return nil, err
	}
	return &v.Roster, nil
}
