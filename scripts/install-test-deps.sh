#!/usr/bin/env bash
# Installs the system tools the tests use, from Debian's packages: iptables
# (partitions) and iproute2 (tc netem, ip) for the fault-injection tests
# (test/nemesis), and buildah for the container image (scripts/image.sh,
# test/image). Idempotent and quiet: does nothing when they are present.
# When it cannot install (not root, no apt-get, apt fails) it says why and
# exits 0; the tests that need a missing tool then skip, naming it.
# Usage: ./scripts/install-test-deps.sh [TOOL...]   (default: all of them)
set -uo pipefail

declare -A tool_pkg=([iptables]=iptables [tc]=iproute2 [ip]=iproute2 [buildah]=buildah)

tools=("$@")
if [ ${#tools[@]} -eq 0 ]; then
	tools=("${!tool_pkg[@]}")
fi
missing=()
for tool in "${tools[@]}"; do
	if [ -z "${tool_pkg[$tool]:-}" ]; then
		echo "install-test-deps: unknown tool $tool (known: ${!tool_pkg[*]})"
		exit 0
	fi
	command -v "$tool" >/dev/null 2>&1 || missing+=("${tool_pkg[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')

if [ "$(id -u)" -ne 0 ]; then
	echo "install-test-deps: not root, cannot install: $pkgs(tests needing them will skip)"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: no apt-get, cannot install: $pkgs(tests needing them will skip)"
	exit 0
fi

echo "install-test-deps: installing $pkgs"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null 2>&1; then
	echo "install-test-deps: apt-get update failed (tests needing $pkgs will skip)"
	exit 0
fi
# shellcheck disable=SC2086 # word splitting of the package list is intended
if ! apt-get install -y -qq --no-install-recommends $pkgs >/dev/null 2>&1; then
	echo "install-test-deps: apt-get install $pkgs failed (tests needing them will skip)"
fi
exit 0
