#!/bin/sh
# SPDX-License-Identifier: MIT
# Make sure the Debian packages needed to build and test libnc2 are present.
# As root, installs the missing ones; otherwise prints the apt-get line to
# run and exits non-zero. The package list lives here and only here.
set -eu

# Build: toolchain, CMake, pkg-config, make.
# Tests: Check; clang + compiler-rt for libFuzzer and the sanitizers;
#        valgrind; clang-format for the format test.
# Transports: Xen gnttab/evtchn headers, libuuid.
# Real traffic (TAP + network namespaces): iproute2, ping, iperf3.
NC2_DEB_PACKAGES="
	cmake
	make
	pkg-config
	gcc
	g++
	check
	uuid-dev
	libxen-dev
	clang
	libclang-rt-14-dev
	clang-format
	valgrind
	iproute2
	iputils-ping
	iperf3
"

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system (no dpkg-query); make sure these are installed:"
	# shellcheck disable=SC2086 # one word per package
	printf '  %s\n' $NC2_DEB_PACKAGES
	exit 0
fi

missing=""
for p in $NC2_DEB_PACKAGES; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all build dependencies are installed"
	exit 0
fi

echo "deps: missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # one word per package
	apt-get update && apt-get install -y --no-install-recommends $missing
	echo "deps: installed:$missing"
else
	echo "deps: run this as root, then retry:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
