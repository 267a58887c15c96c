#!/usr/bin/env bash
# Builds the release binaries, carrier and carrier-operator, into OUTDIR:
# static (CGO_ENABLED=0), -trimpath, stripped (-s -w), with the version and
# revision stamped into main.version and main.revision (-ldflags -X).
#
# The version and revision come from the environment when VERSION and
# REVISION are set (the Dockerfile passes them in as build arguments, since
# its build context has no .git), else from git:
#   version: the nearest tag vX.Y.Z without its "v" (git describe: 0.2.0,
#            0.2.0-3-gabc123def456, with "-dirty" for uncommitted changes);
#            without a tag, the unstamped default of cmd/carrier/version.go
#            plus the commit: 0.1.0-dev.g<12 hex>[.dirty]
#   revision: the full commit id.
# With neither, it builds 0.1.0-dev, revision "unknown", and says so.
# GOOS and GOARCH from the environment pick the platform, as for go build.
#
# Usage: scripts/build.sh OUTDIR
#        scripts/build.sh --print-version   (prints VERSION=… and REVISION=…)
set -euo pipefail

say() { echo "build: $*" >&2; }

usage() {
	echo "usage: scripts/build.sh OUTDIR | --print-version" >&2
	exit 2
}
[ $# -eq 1 ] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# default_version is the version an unstamped build reports.
default_version() {
	sed -n 's/^[[:space:]]*version[[:space:]]*=[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p' \
		"$root/cmd/carrier/version.go" | head -n 1
}

in_git() {
	command -v git >/dev/null 2>&1 && git -C "$root" rev-parse --git-dir >/dev/null 2>&1
}

git_version() {
	local described rev dirty=""
	if described=$(git -C "$root" describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		echo "${described#v}"
		return
	fi
	rev=$(git -C "$root" rev-parse --short=12 HEAD)
	if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
		dirty=".dirty"
	fi
	echo "$(default_version).g$rev$dirty"
}

version=${VERSION:-}
revision=${REVISION:-}
if [ -z "$version" ] || [ -z "$revision" ]; then
	if in_git; then
		version=${version:-$(git_version)}
		revision=${revision:-$(git -C "$root" rev-parse HEAD)}
	else
		version=${version:-$(default_version)}
		revision=${revision:-unknown}
		say "no git checkout and VERSION/REVISION not set: stamping version $version, revision $revision"
	fi
fi
# The version ends up in image tags and labels: keep it to their characters.
if ! [[ $version =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
	say "version '$version' is not usable as an image tag (letters, digits, _ . -)"
	exit 1
fi

if [ "$1" = "--print-version" ]; then
	echo "VERSION=$version"
	echo "REVISION=$revision"
	exit 0
fi
case "$1" in -*) usage ;; esac

mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$root"
ldflags="-s -w -X main.version=$version -X main.revision=$revision"
for cmd in carrier carrier-operator; do
	# -buildvcs=false: the revision is stamped above; Go's own VCS stamping
	# would fail in a build context without .git or without git.
	CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out/$cmd" "./cmd/$cmd"
done
say "built carrier and carrier-operator $version ($revision) into $out"
