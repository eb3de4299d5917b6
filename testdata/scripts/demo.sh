#!/usr/bin/env bash
# make demo: a private pcscd with three virtual YubiKeys, three demo
# custodians enrolled in a 2-of-3 demo vault, and the console on the sample
# runbook. Everything lives under build/demo; the system pcscd is untouched.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$root/build/bin}
D=${DEMO_DIR:-$root/build/demo}
mkdir -p "$D"

# The station runs its own pcscd in a private mount namespace: as root, or
# as any user where unprivileged user namespaces are allowed (unshare -U -r
# -m); if neither works its log below says what is missing.

: > "$D/station.env"
"$BIN/station" --dir "$D/station" --keys 3 --touch-delay "${TOUCH_DELAY:-1500ms}" > "$D/station.env" 2> "$D/station.log" &
spid=$!
cleanup() { kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 600); do
  [ -s "$D/station.env" ] && break
  if ! kill -0 "$spid" 2>/dev/null; then
    echo "make demo: the virtual station did not start; its log:" >&2; cat "$D/station.log" >&2; exit 1
  fi
  sleep 0.1
done
[ -s "$D/station.env" ] || { echo "make demo: the virtual station did not come up in 60 s; see $D/station.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$D/station.env"
export PCSCLITE_CSOCK_NAME

BIN="$BIN" "$root/testdata/scripts/demo-setup.sh" "$D"

cat <<MSG

  breakglass DEMO: three virtual YubiKeys are inserted (10000001-10000003).
  Custodians and PINs (any two unlock the 2-of-3 vault):
    Alice Example 111111 · Bob Example 222222 · Carol Example 333333
  Touch is simulated: after the PIN, the key "waits for a touch" briefly.
  Follow the "Next:" line at the bottom of each screen.
  The signed report goes to build/demo/export; verify it afterwards with:
    build/bin/breakglass verify \\
      --attestation-root testdata/attestation-root.pem \\
      --vault build/demo/vault.json build/demo/export/*.jws.json

MSG
if [ ! -t 0 ]; then
  echo "make demo: standard input is not a terminal; the station and vault are ready in $D, not opening the console." >&2
  exit 0
fi
read -r -p "Press Enter to open the console... " _
"$BIN/breakglass" console \
  --vault "$D/vault.json" \
  --runbook "$root/testdata/runbooks/cloud-root-recovery.md" \
  --state-dir "$D/state" \
  --export "$D/export" \
  --attestation-root "$root/testdata/attestation-root.pem" \
  --demo-pins "Alice Example=111111,Bob Example=222222,Carol Example=333333"
