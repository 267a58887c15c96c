#!/usr/bin/env bash
# Runs every check CI runs: go vet, then all tests (unit, integration with a
# real in-process server, and end-to-end with real carrier processes).
# Usage: ./scripts/test.sh   (from anywhere in the repo)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== go vet ./..."
go vet ./...
# test/chart is a module of its own (the Helm SDK's dependencies stay out of
# the product's go.mod); it tests charts/carrier.
(cd test/chart && go vet ./...)
# test/kube/nodeagent is a module of its own too (virtual-kubelet's
# dependencies); the tests build it through kubetest.NodeAgent.
(cd test/kube/nodeagent && go vet ./...)

# iptables/iproute2 for the fault-injection tests (test/nemesis) and buildah
# for the image test (test/image); never fails.
./scripts/install-test-deps.sh

# kube-apiserver and etcd for the envtest tests (test/kube, the operator's):
# scripts/kube-assets.sh reuses its cache (instant) or builds kube-apiserver
# (minutes; it says so and how long it took). A KUBEBUILDER_ASSETS already set
# is used as it is. When the assets cannot be made the run goes on, says so
# here and at the end, and those tests skip with the reason.
log=$(mktemp)
kube_log=$(mktemp)
trap 'rm -f "$log" "$kube_log"' EXIT
kube_warning=""
if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
  set +e
  ./scripts/kube-assets.sh 2>&1 | tee "$kube_log" | grep --line-buffered '^kube-assets: '
  kube_status=${PIPESTATUS[0]}
  set -e
  if [ "$kube_status" -eq 0 ]; then
    KUBEBUILDER_ASSETS=$(tail -n 1 "$kube_log")
    export KUBEBUILDER_ASSETS
  else
    reason=$(grep '^kube-assets: ' "$kube_log" | tail -n 1)
    reason=${reason#kube-assets: }
    kube_warning="WARNING: no Kubernetes control plane, the envtest tests skip: ${reason:-scripts/kube-assets.sh exited $kube_status}"
    echo "== $kube_warning"
    if grep -q -v '^kube-assets: ' "$kube_log"; then
      echo "== the rest of what scripts/kube-assets.sh printed:"
      grep -v '^kube-assets: ' "$kube_log" || true
    fi
    export CARRIER_KUBE_ASSETS_ERROR="${reason:-scripts/kube-assets.sh exited $kube_status}"
  fi
fi

# -v so that skips are visible: the whole output goes to a log, the summary
# prints each package's result, every failure, and every skipped test with
# its reason (a missing tool must not turn a suite off unnoticed).
echo "== go test ./..."
status=0
go test -count=1 -timeout 20m -v ./... >"$log" 2>&1 || status=$?
(cd test/chart && go test -count=1 -timeout 10m -v ./...) >>"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "== failures (output of the failing tests follows the package list)"
  grep -v -E '^(=== (RUN|PAUSE|CONT|NAME) | *--- PASS: )' "$log" || true
else
  grep -E '^(ok|FAIL|\?) ' "$log" || true
fi
echo "== skipped tests"
awk -f scripts/skips.awk "$log" | sort || true
if [ -n "$kube_warning" ]; then
  echo "== $kube_warning"
fi
exit "$status"
