#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every libFuzzer target built in BUILD_DIR/fuzz for NC2_FUZZ_SECONDS
# (default 60) seconds each, starting from a scratch copy of its seed corpus
# fuzz/corpus/<target> so the source tree is never written to.
# Fails if any fuzzer exits non-zero (crash, leak, UB, timeout, OOM).
#
# usage: run-fuzzers.sh [BUILD_DIR]   (default build-fuzz), from the source root
set -eu

build=${1:-build-fuzz}
secs=${NC2_FUZZ_SECONDS:-60}
src=$(pwd)

if [ ! -f "$src/fuzz/CMakeLists.txt" ]; then
	echo "run-fuzzers: no fuzz/CMakeLists.txt, nothing to run"
	exit 0
fi

if [ ! -d "$build" ]; then
	echo "run-fuzzers: no build tree $build (build with: make fuzz)" >&2
	exit 1
fi
build=$(cd "$build" && pwd)
targets=""
for f in "$build"/fuzz/fuzz_*; do
	if [ ! -f "$f" ] || [ ! -x "$f" ]; then
		continue
	fi
	targets="$targets $f"
done
if [ -z "$targets" ]; then
	echo "run-fuzzers: no fuzz_* executables in $build/fuzz (build with: make fuzz)" >&2
	exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nc2-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

failed=""
npass=0
nfail=0
summary=""
for exe in $targets; do
	name=$(basename "$exe")
	work="$tmp/$name"
	mkdir -p "$work/corpus" "$work/artifacts"
	seeds="$src/fuzz/corpus/$name"
	if [ -d "$seeds" ]; then
		cp -R "$seeds/." "$work/corpus/"
	else
		echo "run-fuzzers: $name has no seed corpus ($seeds)"
	fi
	nseeds=$(find "$work/corpus" -type f | wc -l)
	echo "=== $name: ${secs}s from $nseeds seed(s)"
	rc=0
	(cd "$work" && "$exe" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "$work/corpus") >"$work/log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		tail -n 12 "$work/log"
	else
		cat "$work/log"
	fi
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" |
		grep -o '[0-9]*$' | tail -n 1)
	summary="$summary
  $name: rc=$rc execs=${execs:-?} corpus=$(find "$work/corpus" -type f | wc -l)"
	if [ "$rc" -eq 0 ]; then
		npass=$((npass + 1))
	else
		nfail=$((nfail + 1))
		failed="$failed $name"
		echo "run-fuzzers: $name FAILED (exit $rc); artifacts:"
		for a in "$work"/artifacts/*; do
			[ -f "$a" ] || continue
			echo "  $(basename "$a"): $(od -An -tx1 -v "$a" | head -c 600 | tr -s ' \n' ' ')"
		done
	fi
done

echo "=== fuzz summary (${secs}s each):$summary"
if [ -n "$failed" ]; then
	echo "run-fuzzers: failed:$failed" >&2
fi
echo "fuzz: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
