#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-shm-bench.sh [BUILD_DIR] [nc2-bench-shm options...]
#
# The two-process shm benchmark (make bench-shm): builds nc2-bench-shm,
# fetches Debian's DPDK testpmd and PMDs under BUILD_DIR/dpdk when missing
# (bench/fetch-dpdk.sh; not under /tmp, EAL refuses plugins from a
# world-writable directory), then runs the table: libnc2 against DPDK memif
# (copy, zero-copy) and vhost-user <-> virtio-user (packed, split), a Unix
# SOCK_SEQPACKET pair and the netif-style baseline, alternating back to back,
# and ends with the line
#   shm-vs-peers: min ratio R (CASE)
# It takes 15-25 minutes. The machine should be otherwise idle: the script
# prints the load average and, with NC2_BENCH_WAIT=SECONDS, waits up to that
# long for the 1-minute load average to fall below NC2_BENCH_MAX_LOAD
# (default 0.5).
#
# Environment: NC2_BENCH_NO_DPDK=1 skips the DPDK peers (no fetch).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
[ $# -gt 0 ] && shift
case "$BUILD" in
/*) ;;
*) BUILD=$(pwd)/$BUILD ;;
esac

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD" --target nc2-bench-shm -j "${JOBS:-2}"
BIN="$BUILD/bench/nc2-bench-shm"
if [ ! -x "$BIN" ]; then
	echo "run-shm-bench: $BIN was not built (needs Linux, libuuid and libxen-dev's" \
		"xen/io/netif.h)" >&2
	exit 1
fi

NO_DPDK=""
if [ "${NC2_BENCH_NO_DPDK:-0}" = 1 ]; then
	NO_DPDK=--no-dpdk
elif sh "$SRC/bench/fetch-dpdk.sh" "$BUILD/dpdk"; then
	# shellcheck disable=SC1091 # written by fetch-dpdk.sh
	. "$BUILD/dpdk/dpdk.env"
	export DPDK_TESTPMD DPDK_LIBDIR DPDK_PLUGINS
	echo "run-shm-bench: DPDK $DPDK_VERSION"
else
	echo "run-shm-bench: DPDK could not be fetched: the table shows the DPDK peers as n/a" >&2
fi

load1() { cut -d' ' -f1 /proc/loadavg; }
max=${NC2_BENCH_MAX_LOAD:-0.5}
wait=${NC2_BENCH_WAIT:-0}
while [ "$wait" -gt 0 ] && awk -v l="$(load1)" -v m="$max" 'BEGIN { exit !(l > m) }'; do
	echo "run-shm-bench: load average $(load1) > $max, waiting (${wait} s left)"
	sleep 10
	wait=$((wait - 10))
done
echo "run-shm-bench: uptime: $(uptime)"
if awk -v l="$(load1)" 'BEGIN { exit !(l > 1.0) }'; then
	echo "run-shm-bench: WARNING: the machine is busy (load $(load1)); every figure" \
		"is lower and noisier than on an idle machine, the ratios less so"
fi

RUN="$BUILD/bench/nc2-bench-shm-run"
mkdir -p "$RUN"
chmod 700 "$RUN"
cd "$BUILD/bench"
echo "run-shm-bench: $BIN --table --run-dir $RUN $NO_DPDK $*"
# shellcheck disable=SC2086 # NO_DPDK is one word or none
exec "$BIN" --table --run-dir "$RUN" $NO_DPDK "$@"
