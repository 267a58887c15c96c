#!/usr/bin/env bash
# Runs every check CI runs: go vet, then all tests (unit, integration with a
# real in-process server, and end-to-end with real carrier processes).
# Usage: ./scripts/test.sh   (from anywhere in the repo)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== go vet ./..."
go vet ./...

# iptables/iproute2 for the fault-injection tests (test/nemesis); never fails.
./scripts/install-test-deps.sh

# -v so that skips are visible: the whole output goes to a log, the summary
# prints each package's result, every failure, and every skipped test with
# its reason (a missing tool must not turn a suite off unnoticed).
echo "== go test ./..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -count=1 -timeout 20m -v ./... >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "== failures (output of the failing tests follows the package list)"
  grep -v -E '^(=== (RUN|PAUSE|CONT|NAME) | *--- PASS: )' "$log" || true
else
  grep -E '^(ok|FAIL|\?) ' "$log" || true
fi
echo "== skipped tests"
awk -f scripts/skips.awk "$log" | sort || true
exit "$status"
