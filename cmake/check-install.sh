#!/bin/sh
# SPDX-License-Identifier: MIT
# Install a libnc2 build into a scratch prefix and check that a consumer can
# use it: tests/install built with find_package(nc2) (C and C++, shared and
# static), then consumer.c/consumer.cpp compiled by hand with pkg-config.
#
# usage: check-install.sh BUILD_DIR SOURCE_DIR WORK_DIR [CC]
# Environment: CXX (default c++), CMAKE (default cmake).
set -eu

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR WORK_DIR [CC]" >&2
	exit 2
fi
build=$1
src=$2
work=$3
cc=${4:-${CC:-cc}}
cxx=${CXX:-c++}
cmake=${CMAKE:-cmake}

rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

run() {
	echo "+ $*"
	"$@"
}

# 1. Install.
run "$cmake" --install "$build" --prefix "$prefix"

pc=$(find "$prefix" -name libnc2.pc | head -n 1)
if [ -z "$pc" ]; then
	echo "install_consumer: libnc2.pc was not installed" >&2
	exit 1
fi
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
echo "installed files:"
(cd "$prefix" && find . -type f -o -type l | LC_ALL=C sort | sed 's/^/  /')

# 2. CMake consumer via find_package(nc2).
run "$cmake" -S "$src/tests/install" -B "$work/consumer-build" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx"
run "$cmake" --build "$work/consumer-build"
ldpath="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for exe in consumer_c consumer_c_static consumer_cxx consumer_cxx_static; do
	run env LD_LIBRARY_PATH="$ldpath" "$work/consumer-build/$exe"
done

# 3. Hand-built consumers via pkg-config.
PKG_CONFIG_PATH="$pcdir"
export PKG_CONFIG_PATH
echo "pkg-config libnc2: $(pkg-config --modversion libnc2) $(pkg-config --cflags --libs libnc2)"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
run "$cc" -o "$work/pc_consumer_c" "$src/tests/install/consumer.c" $(pkg-config --cflags --libs libnc2)
# shellcheck disable=SC2046
run "$cxx" -o "$work/pc_consumer_cxx" "$src/tests/install/consumer.cpp" $(pkg-config --cflags --libs libnc2)
run env LD_LIBRARY_PATH="$ldpath" "$work/pc_consumer_c"
run env LD_LIBRARY_PATH="$ldpath" "$work/pc_consumer_cxx"

echo "install_consumer: OK"
