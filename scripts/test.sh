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

echo "== go test ./..."
go test -count=1 -timeout 20m ./...
