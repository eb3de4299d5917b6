#!/usr/bin/env bash
# demo-setup.sh DIR — prepare the demo vault on a running virtual station.
#
# Needs: PCSCLITE_CSOCK_NAME pointing at a station's pcscd with the virtual
# YubiKeys 10000001..10000003, the built binary at $BIN/breakglass, and ykman.
# It changes each key's PIN and PUK from the factory values, enrols
# "Alice Example", "Bob Example" and "Carol Example", creates the 2-of-3 vault
# DIR/vault.json and seals three demo secrets (signed by Alice on YubiKey
# 10000001), trusting the TEST attestation
# root (testdata/attestation-root.pem). Every step is skipped when its result
# already exists, so it can be rerun after a failure; if DIR/vault.json exists
# nothing is done at all.
#
# Demo PINs (virtual keys only, never real ones): 111111 / 222222 / 333333,
# PUKs 11111111 / 22222222 / 33333333. They are kept in DIR/pins (mode 600).
set -euo pipefail
D=${1:?usage: demo-setup.sh DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:?set BIN to the directory holding the built breakglass}
: "${PCSCLITE_CSOCK_NAME:?set PCSCLITE_CSOCK_NAME to the station pcscd socket (see the station Env)}"
export PCSCLITE_CSOCK_NAME
ROOT_PEM=${ATTESTATION_ROOT:-$root/testdata/attestation-root.pem}
# The test-root warning is printed once below, not by every command.
bg() { "$BIN/breakglass" "$@" 2> >(grep -v '^WARNING: TEST ATTESTATION ROOT' >&2); }
echo "demo-setup: trusting the TEST attestation root $ROOT_PEM (virtual keys; never for production)"

if [ -e "$D/vault.json" ]; then
  echo "demo-setup: $D/vault.json exists; nothing to do"
  exit 0
fi
mkdir -p "$D/custodians" "$D/pins"
chmod 700 "$D/pins"

names=("Alice Example" "Bob Example" "Carol Example")
ids=(alice-example bob-example carol-example)
files=()
pinflags=()
for i in 1 2 3; do
  serial=1000000$i
  pin=$i$i$i$i$i$i
  puk=$pin$i$i
  pinfile=$D/pins/$serial.pin
  if [ ! -e "$pinfile" ]; then
    echo "demo-setup: YubiKey $serial: PIN and PUK changed from the factory values"
    ykman --device "$serial" piv access change-pin -P 123456 -n "$pin" >/dev/null
    ykman --device "$serial" piv access change-puk -p 12345678 -n "$puk" >/dev/null
    (umask 077; printf '%s\n' "$pin" > "$pinfile")
  fi
  file=$D/custodians/${ids[$((i-1))]}.custodian.json
  if [ ! -e "$file" ]; then
    bg enrol --name "${names[$((i-1))]}" --serial "$serial" --pin-file "$pinfile" \
      --protect-mgmt-key --out "$D/custodians" --attestation-root "$ROOT_PEM" >/dev/null
    echo "demo-setup: enrolled ${names[$((i-1))]} on YubiKey $serial"
  fi
  files+=("$file")
  pinflags+=(--pin-file "$serial=$pinfile")
done

# The vault is built beside its final name and moved in place only when the
# secrets are sealed, so a failed run leaves no half-made DIR/vault.json.
tmp=$D/vault.json.setup
rm -f "$tmp" "$tmp.prev"
bg vault init --threshold 2 --out "$tmp" --attestation-root "$ROOT_PEM" "${pinflags[@]}" "${files[@]}" > "$D/custodian-card.txt"
# Alice seals the demo secrets: each seal record is signed on her (virtual)
# YubiKey, so the console shows "sealed by Alice Example on …, version 1".
sealer=10000001
seal() { bg seal --vault "$tmp" --name "$1" --kind "$2" --serial "$sealer" --pin-file "$sealer=$D/pins/$sealer.pin" \
  --attestation-root "$ROOT_PEM" >/dev/null; }
printf '%s' 'Demo-Only-Pa55word!' | seal aws-root-password password
printf '%s' 'otpauth://totp/AWS:root?secret=JBSWY3DPEHPK3PXP&issuer=AWS' | seal aws-root-totp totp
printf '%s\n' 'demo-a1b2-c3d4' 'demo-e5f6-g7h8' 'demo-i9j0-k1l2' 'demo-m3n4-o5p6' | seal aws-root-recovery-codes recovery-codes
rm -f "$tmp.prev"
mv "$tmp" "$D/vault.json"
echo "demo-setup: wrote $D/vault.json (2 of 3; card in $D/custodian-card.txt)"
grep -E '^(Fingerprint|Quorum):' "$D/custodian-card.txt" | sed 's/^/demo-setup:   /'
