#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each.
# `make test` runs it short with an execution count (default 20000x): a
# duration-based -fuzztime can fail with a bare "context deadline exceeded"
# and no crasher under CPU load, a race in Go 1.26's fuzz coordinator
# (golang/go#75804, fixed in Go 1.27). `make fuzz` runs long.
set -euo pipefail
cd "$(dirname "$0")/../.."
t=${FUZZTIME:-20000x}
n=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $f ($t)"
    go test -run='^$' -fuzz="^$f\$" -fuzztime="$t" -fuzzminimizetime=1s "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; exit 1; }
    n=$((n+1))
  done
done
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets ran ($t each), no failures"
