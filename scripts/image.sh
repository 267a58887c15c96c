#!/usr/bin/env bash
# Builds the container image from the Dockerfile with buildah, without a
# Docker engine and without pulling anything:
#
# 1. buildah: installed from Debian's packages when missing
#    (scripts/install-test-deps.sh buildah). When it cannot be installed, or
#    cannot build here (it tries an empty container and its mount first),
#    the script says why and exits 3, so that a caller can tell "no buildah
#    here" from a failed build.
# 2. The build stage's base (the Dockerfile's GO_IMAGE, golang:1.26-bookworm
#    by default) cannot be pulled here, so a local stand-in with the same
#    shape is assembled from this machine's own Go toolchain: Go in
#    /usr/local/go, GOPATH /go, HOME /root, and the few programs the build
#    stage runs (bash, sh, coreutils, sed, grep) with their shared libraries
#    and the CA bundle. It is committed as localhost/carrier-go-base:<go
#    version>-<recipe> and reused; it is made again only when missing.
# 3. buildah bud --isolation chroot with GO_IMAGE set to the stand-in, and
#    VERSION and REVISION from scripts/build.sh --print-version (the build
#    context has no .git). The host's Go module and build caches are
#    mounted into the RUN steps (--volume), so a warm machine neither
#    downloads nor recompiles what it already has.
#
# It prints the image name last, alone on its line; messages go to stderr.
# Usage: scripts/image.sh [IMAGE]   (default localhost/carrier:<version>)
# Environment: IMAGE_GO_BASE to use another build-stage base instead of the
# stand-in (for example a golang image already in local storage).
set -euo pipefail
shopt -s inherit_errexit # also inside $(standin_base)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "image: $*" >&2; }
fail() {
	say "$*"
	exit 1
}

# The stand-in's recipe: bump when the list below changes, so that machines
# with an older stand-in make the new one.
recipe=1
tools=(bash dash env cat cp mv rm ln ls mkdir chmod chown touch dirname basename
	head tail sort tr wc uname id readlink realpath sed grep find xargs)

ensure_buildah() {
	local out
	if ! command -v buildah >/dev/null 2>&1; then
		out=$("$root/scripts/install-test-deps.sh" buildah 2>&1) || true
		if ! command -v buildah >/dev/null 2>&1; then
			say "buildah is not installed and could not be: ${out:-no reason given}"
			exit 3
		fi
	fi
	# Installed but unusable (rootless without subordinate ids, no storage):
	# what the build does first, on an empty container.
	local probe reason
	if ! out=$(buildah from --name "carrier-probe-$$" scratch 2>&1) || ! probe=$(tail -n 1 <<<"$out") ||
		! out=$(buildah mount "$probe" 2>&1); then
		if [ -n "${probe:-}" ]; then buildah rm "$probe" >/dev/null 2>&1 || true; fi
		reason=$(grep -i 'error' <<<"$out" | tail -n 1 || true)
		say "buildah cannot build here: ${reason:-$(tail -n 1 <<<"$out")}"
		exit 3
	fi
	buildah rm "$probe" >/dev/null
}

# standin_base prints the stand-in's name, making it first when missing.
standin_base() {
	local goversion name
	goversion=$(go env GOVERSION) || fail "go env GOVERSION failed"
	name="localhost/carrier-go-base:$goversion-$recipe"
	if buildah inspect --type image "$name" >/dev/null 2>&1; then
		echo "$name"
		return
	fi
	say "making the build-stage base $name from this machine's Go toolchain (once)"
	local goroot mnt
	goroot=$(go env GOROOT)
	# Called in a subshell ($(standin_base)): the working container goes when
	# it exits, whatever happened; the committed image stays.
	ctr=$(buildah from --name "carrier-go-base-$$" scratch)
	trap 'buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
	mnt=$(buildah mount "$ctr")
	standin_rootfs "$mnt" "$goroot"
	buildah umount "$ctr" >/dev/null
	buildah config --env PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env GOPATH=/go --env HOME=/root --env GOTOOLCHAIN=local --env "GOLANG_VERSION=${goversion#go}" \
		--workingdir /go --label "org.opencontainers.image.description=stand-in for the Go build image, from the local toolchain" \
		"$ctr"
	buildah commit --quiet "$ctr" "$name" >/dev/null
	echo "$name"
}

# standin_rootfs fills the stand-in's root filesystem at $1 with Go ($2) and
# the build stage's programs, their libraries and the CA bundle.
standin_rootfs() {
	local dst=$1 goroot=$2 paths=() t p
	for d in bin lib lib64 sbin; do
		if [ -L "/$d" ]; then # merged /usr, as on the host: bin -> usr/bin, …
			mkdir -p "$dst/$(readlink "/$d")"
			ln -s "$(readlink "/$d")" "$dst/$d"
		fi
	done
	for t in "${tools[@]}"; do
		p=$(command -v "$t") || fail "the stand-in needs $t, which this machine lacks"
		paths+=("$(readlink -f "$p")")
	done
	# Shared libraries, as the dynamic loader names them (with the loader).
	while read -r p; do
		paths+=("$p")
	done < <(ldd "${paths[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u)
	paths+=(/etc/ssl/certs/ca-certificates.crt)
	# -h: copy what symlinks point to, at the path given.
	tar -C / -chf - "${paths[@]#/}" | tar -C "$dst" -xf -
	ln -sf dash "$dst/usr/bin/sh"
	mkdir -p "$dst/etc" "$dst/root" "$dst/go/bin" "$dst/tmp" "$dst/usr/local/go"
	chmod 1777 "$dst/tmp"
	echo "root:x:0:0:root:/root:/bin/bash" >"$dst/etc/passwd"
	echo "root:x:0:" >"$dst/etc/group"
	# GOROOT without its own test suite.
	tar -C "$goroot" --exclude=./test -cf - . | tar -C "$dst/usr/local/go" -xf -
}

ensure_buildah
command -v go >/dev/null 2>&1 || fail "no go on PATH: the build-stage base is made from the local Go toolchain"

eval "$("$root/scripts/build.sh" --print-version)"
image=${1:-localhost/carrier:$VERSION}
if [ -n "${IMAGE_GO_BASE:-}" ]; then
	base=$IMAGE_GO_BASE
else
	base=$(standin_base)
fi
modcache=$(go env GOMODCACHE)
gocache=$(go env GOCACHE)
mkdir -p "$modcache" "$gocache"

say "building $image ($VERSION, $REVISION) on $base"
start=$(date +%s)
buildah bud --isolation chroot --pull=never --quiet \
	--build-arg "GO_IMAGE=$base" --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" \
	--volume "$modcache:/go/pkg/mod" --volume "$gocache:/root/.cache/go-build" \
	--tag "$image" --file "$root/Dockerfile" "$root" >/dev/null
say "built $image in $(($(date +%s) - start)) s"
echo "$image"
