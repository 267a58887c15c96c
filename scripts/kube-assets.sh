#!/usr/bin/env bash
# Makes a folder usable as KUBEBUILDER_ASSETS for controller-runtime's envtest:
# kube-apiserver, kube-controller-manager and kube-scheduler, built from the
# k8s.io/kubernetes Go module by the helper module test/kube/apiserver, and etcd,
# from Debian's etcd-server package. The folder is a cache keyed by the
# Kubernetes version:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/carrier/kube/<version>/{kube-apiserver,kube-controller-manager,kube-scheduler,etcd}
# A cold cache builds them (minutes; it says so, and how long each took);
# a warm one only checks that both binaries are there, and prints nothing else.
# etcd-server is installed with apt-get when etcd is missing (root only).
# It prints the folder last, alone on its line, so that
#   export KUBEBUILDER_ASSETS=$(scripts/kube-assets.sh)
# works; messages go to stderr. On failure it says why and exits non-zero.
# Usage: ./scripts/kube-assets.sh   (from anywhere in the repo)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
helper="$root/test/kube/apiserver"

say() { echo "kube-assets: $*" >&2; }
fail() {
	say "$*"
	exit 1
}

[ -f "$helper/go.mod" ] || fail "no $helper/go.mod"

# The version comes from the helper module's go.mod, so bumping it there is all
# it takes to build (and cache) another one.
version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$helper/go.mod")
[ -n "$version" ] || fail "no k8s.io/kubernetes version in $helper/go.mod"

base=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
[ -n "$base" ] || fail "neither XDG_CACHE_HOME nor HOME is set: no place for the cache"
cache="$base/carrier/kube/$version"
mkdir -p "$cache" || fail "cannot create $cache"

# One build at a time per cache folder: a second run waits for the first and
# then finds the binary there.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache/.lock"
	flock 9
fi

# build NAME PACKAGE: builds one control plane binary of the helper module
# into the cache unless it is there.
build() {
	local name=$1 pkg=$2 out="$cache/$1"
	[ -x "$out" ] && return 0
	command -v go >/dev/null 2>&1 || fail "go is not on PATH: cannot build $name $version"
	say "building $name $version into $cache (cold cache: several minutes on 2 cores)"
	local start tmp
	start=$(date +%s)
	tmp="$out.tmp.$$"
	trap 'rm -f "$tmp"' EXIT
	# The helper module's go.sum pins every dependency; -mod=readonly refuses
	# to change it.
	if ! (cd "$helper" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg") >&2; then
		fail "go build of $name $version failed (see go's output)"
	fi
	"$tmp" --version >/dev/null 2>&1 || fail "the built $name does not run ($tmp --version failed)"
	mv -f "$tmp" "$out"
	trap - EXIT
	say "built $name $version in $(($(date +%s) - start)) s"
}

# Fill in the version the binaries report (/version, --version), as
# Kubernetes' own build does (hack/lib/version.sh).
minor=${version#v*.}
minor=${minor%%.*}
major=${version#v}
major=${major%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean"
done
# kube-apiserver for every envtest test; the controller manager and the
# scheduler for the tests that run Kubernetes' own controllers
# (kubetest.StartControllers). The three share most of their packages, so
# after the first the others build faster.
build kube-apiserver .
build kube-controller-manager ./controllermanager
build kube-scheduler ./scheduler

# etcd: Debian's etcd-server package puts it on PATH (/usr/bin/etcd).
etcd=$(command -v etcd 2>/dev/null || true)
if [ -z "$etcd" ]; then
	[ "$(id -u)" -eq 0 ] || fail "etcd is missing and this is not root: install Debian's etcd-server package"
	command -v apt-get >/dev/null 2>&1 || fail "etcd is missing and there is no apt-get to install etcd-server"
	say "installing etcd-server (etcd for envtest)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null 2>&1 || fail "apt-get update failed: cannot install etcd-server"
	apt-get install -y -qq --no-install-recommends etcd-server >/dev/null 2>&1 ||
		fail "apt-get install etcd-server failed"
	# The package's service is not wanted here: envtest starts its own etcd.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
	etcd=$(command -v etcd 2>/dev/null || true)
	[ -n "$etcd" ] || fail "etcd-server is installed but no etcd is on PATH"
fi
if [ "$(readlink "$cache/etcd" 2>/dev/null || true)" != "$etcd" ]; then
	ln -sfn "$etcd" "$cache/etcd" || fail "cannot link $etcd into $cache"
fi
"$cache/etcd" --version >/dev/null 2>&1 || fail "$cache/etcd does not run ($cache/etcd --version failed)"

echo "$cache"
