#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each.
# `make test` runs it short with an execution count (default 20000x): a
# duration-based -fuzztime can fail with a bare "context deadline exceeded"
# and no crasher under CPU load, a race in Go 1.26's fuzz coordinator
# (golang/go#75804, fixed in Go 1.27). `make fuzz` runs long.
# FUZZPARALLEL, when set, is passed as -parallel: the number of fuzz
# workers (default GOMAXPROCS), e.g. FUZZPARALLEL=1 on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
t=${FUZZTIME:-20000x}
par=${FUZZPARALLEL:+-parallel=$FUZZPARALLEL}

# Fuzz inputs that become files (the journal round trip writes, fsyncs and
# reopens a journal for every input) run three to six times faster on
# tmpfs than on a disk, which they would also wear. So when /dev/shm is a
# writable tmpfs with room for the workers' shared memory (100 MiB each),
# the fuzz processes get it as TMPDIR; the go command keeps building in
# the usual place (GOTMPDIR), where a test binary always fits.
shm_avail_kib() { df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}'; }
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(shm_avail_kib)" -ge $((1024 * 1024)) ] 2>/dev/null; then
  export GOTMPDIR=${GOTMPDIR:-${TMPDIR:-/tmp}}
  export TMPDIR=/dev/shm
fi

# crasher prints the failing input the fuzzer wrote, in full, so that a
# finding can be reproduced from the CI log alone: the corpus file as is,
# a hex dump, and a base64 line to recreate it byte for byte.
crasher() {
  local dir=$1 pkg=$2 f=$3 rel file found=0
  for rel in $(grep -o 'testdata/fuzz/[^ ]*' /tmp/fuzz.$$.log | sort -u); do
    file=$dir/$rel
    [ -f "$file" ] || continue
    echo "fuzz: ---- failing input $rel ($(wc -c <"$file") bytes) ----"
    cat "$file"
    echo "fuzz: ---- hex ----"
    od -A x -t x1z -v "$file"
    echo "fuzz: ---- to reproduce: ----"
    echo "mkdir -p $(dirname "${dir#"$PWD"/}/$rel") && echo '$(base64 -w0 "$file")' | base64 -d > ${dir#"$PWD"/}/$rel"
    echo "go test -run='^$f/$(basename "$rel")\$' $pkg"
    found=1
  done
  [ $found = 1 ] || echo "fuzz: $pkg $f failed without writing a failing input (see the log above)"
}
n=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $f ($t)"
    go test -run='^$' -fuzz="^$f\$" -fuzztime="$t" -fuzzminimizetime=1s $par "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; crasher "$dir" "$pkg" "$f"; exit 1; }
    n=$((n+1))
  done
done
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets ran ($t each), no failures"
