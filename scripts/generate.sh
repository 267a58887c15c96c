#!/usr/bin/env bash
# Regenerates the operator's generated files with controller-gen:
#   operator/api/v1alpha1/zz_generated.deepcopy.go  (DeepCopy methods)
#   operator/config/crd/*.yaml                     (the CustomResourceDefinitions)
#   charts/carrier/crds/*.yaml                     (a copy, for the Helm chart)
# controller-gen is pinned in operator/tools/go.mod, a module of its own, so that
# controller-tools and its dependencies never enter the product's go.mod; it is
# built from the module cache (or the module proxy) on every run, which Go's build
# cache makes quick after the first time.
# Usage: ./scripts/generate.sh [DIR]
#   DIR given: write the files under DIR (DIR/deepcopy, DIR/crd) instead of in the
#   tree; the staleness test (operator/api/v1alpha1/generated_test.go) compares them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

deepcopy_out=operator/api/v1alpha1
crd_out=operator/config/crd
if [ $# -ge 1 ]; then
	mkdir -p "$1/deepcopy" "$1/crd"
	deepcopy_out=$1/deepcopy
	crd_out=$1/crd
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd operator/tools && go build -o "$bin/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen)

"$bin/controller-gen" object paths=./operator/api/... output:object:dir="$deepcopy_out"
# Only the CRDs are wanted: stale ones of renamed kinds must not survive.
rm -f "$crd_out"/carrier.dev_*.yaml
"$bin/controller-gen" crd paths=./operator/api/... output:crd:dir="$crd_out"

# The Helm chart installs the same CRDs (test/chart checks they match).
if [ $# -eq 0 ]; then
	rm -f charts/carrier/crds/carrier.dev_*.yaml
	cp "$crd_out"/carrier.dev_*.yaml charts/carrier/crds/
fi
