#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per packet for libnc2 and the netif baseline, exactly, with
# callgrind: each case runs nc2-bench --count N and --count 2N under
# valgrind --tool=callgrind --toggle-collect=nc2bench_measure (only the
# measured loop is counted, after a warm-up) and reports
# (I(2N) - I(N)) / N, so fixed costs cancel.
#
# usage: run-callgrind.sh [-n N] [-o FILE] [-d tx|rx|both] [-t] [-k DIR] [NC2_BENCH]
#   -n N     packets in the short run (default 20000)
#   -o FILE  also write "dir size batch impl instr/pkt" lines (nc2-bench --instr)
#   -d DIR   direction(s) to count (default both)
#   -t       then run the timed table with these counts (nc2-bench --instr)
#   -k DIR   keep the callgrind output files (2N runs) in DIR for callgrind_annotate
#   NC2_BENCH  path of the nc2-bench binary (default: ./bench/nc2-bench)
set -eu

n=20000
out=
dirs="tx rx"
table=0
keep=
while getopts n:o:d:tk: opt; do
	case $opt in
	n) n=$OPTARG ;;
	o) out=$OPTARG ;;
	d) case $OPTARG in
		both) dirs="tx rx" ;;
		tx | rx) dirs=$OPTARG ;;
		*) echo "run-callgrind.sh: -d tx|rx|both" >&2; exit 2 ;;
	   esac ;;
	t) table=1 ;;
	k) keep=$OPTARG ;;
	*) sed -n '2,/^set -eu/p' "$0" | sed '$d' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
bench=${1:-./bench/nc2-bench}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "run-callgrind.sh: valgrind not found" >&2
	exit 77
fi
if [ ! -x "$bench" ]; then
	echo "run-callgrind.sh: $bench is not executable (build nc2-bench first)" >&2
	exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "$keep" ] && mkdir -p "$keep"
[ -z "$out" ] && out=$tmp/instr.txt

# count DIR SIZE BATCH IMPL PACKETS [KEEP_FILE]: collected instructions
count() {
	f=$tmp/cg.out
	valgrind --tool=callgrind --toggle-collect=nc2bench_measure \
		--callgrind-out-file="$f" "$bench" --count "$5" --impl "$4" \
		--dir "$1" --size "$2" --batch "$3" >"$tmp/stdout" 2>"$tmp/log" || {
		cat "$tmp/log" >&2
		echo "run-callgrind.sh: $4 $1 $2 x$3 failed" >&2
		exit 1
	}
	[ -n "${6:-}" ] && cp "$f" "$6"
	awk '/^totals:/ { print $2 }' "$f"
}

{
	echo "# instructions per packet (callgrind, (I(2N) - I(N)) / N, N = $n)"
	echo "# dir size batch impl instr_per_packet"
} >"$out"
printf '%-16s %12s %12s %8s\n' case "libnc2" "netif" "ratio"
for dir in $dirs; do
	for size in 64 1500 9000; do
		for batch in 1 32; do
			line=
			for impl in nc2 netif; do
				k=
				[ -n "$keep" ] && k=$keep/callgrind.$dir.$size.$batch.$impl
				c1=$(count "$dir" "$size" "$batch" "$impl" "$n")
				c2=$(count "$dir" "$size" "$batch" "$impl" $((2 * n)) "$k")
				v=$(awk -v a="$c1" -v b="$c2" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
				echo "$dir $size $batch $impl $v" >>"$out"
				line="$line $v"
			done
			# shellcheck disable=SC2086 # two numbers
			set -- $line
			printf '%-16s %12s %12s %8s\n' "$dir $size B x$batch" "$1" "$2" \
				"$(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }')"
		done
	done
done
echo "ratio = netif / libnc2 instructions per packet (> 1: libnc2 executes fewer)"

if [ "$table" = 1 ]; then
	echo
	"$bench" --instr "$out"
fi
