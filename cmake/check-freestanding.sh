#!/bin/sh
# SPDX-License-Identifier: MIT
# The core library must build freestanding: compile every lib/*.c with
# -ffreestanding -fno-builtin and allow no undefined symbol except the four
# the compiler itself may emit calls to (memcpy, memmove, memset, memcmp).
#
# usage: check-freestanding.sh CC NM SOURCE_DIR BINARY_DIR WORK_DIR
# Compiled separately from the build, so no sanitizer or coverage flags.
set -eu
LC_ALL=C
export LC_ALL

if [ $# -ne 5 ]; then
	echo "usage: $0 CC NM SOURCE_DIR BINARY_DIR WORK_DIR" >&2
	exit 2
fi
cc=$1
nm=$2
src=$3
bin=$4
work=$5
allowed="memcpy memmove memset memcmp"

rm -rf "$work"
mkdir -p "$work"

nobj=0
for c in "$src"/lib/*.c; do
	[ -e "$c" ] || continue
	o="$work/$(basename "$c" .c).o"
	echo "+ $cc -std=c11 -ffreestanding -fno-builtin -fno-stack-protector -O2 -c $c"
	"$cc" -std=c11 -ffreestanding -fno-builtin -fno-stack-protector -O2 \
		-fvisibility=hidden -DNC2_BUILDING \
		-I"$src/include" -I"$bin/include" -I"$src/lib" \
		-c "$c" -o "$o"
	nobj=$((nobj + 1))
done
if [ "$nobj" -eq 0 ]; then
	echo "freestanding: no sources in $src/lib" >&2
	exit 1
fi

# Undefined symbols per object (informational), then those no object of the
# library defines: the library's external dependencies, checked against the
# allow-list.
for o in "$work"/*.o; do
	echo "$(basename "$o") needs: $("$nm" -u "$o" | awk '{ print $NF }' | sort -u | tr '\n' ' ')"
done
for o in "$work"/*.o; do "$nm" --defined-only "$o"; done | awk 'NF >= 3 { print $NF }' |
	sort -u >"$work/defined.txt"
for o in "$work"/*.o; do "$nm" -u "$o"; done | awk '{ print $NF }' | sort -u >"$work/undefined.txt"
ext=$(comm -23 "$work/undefined.txt" "$work/defined.txt" | tr '\n' ' ')
echo "external symbols of the $nobj objects: ${ext:-(none)}"
echo "allowed: $allowed"

bad=""
for s in $ext; do
	ok=0
	for a in $allowed; do
		[ "$s" = "$a" ] && ok=1
	done
	[ "$ok" -eq 1 ] || bad="$bad $s"
done

if [ -n "$bad" ]; then
	echo "freestanding: FAIL, disallowed undefined symbols:" >&2
	for b in $bad; do
		users=""
		for o in "$work"/*.o; do
			if "$nm" -u "$o" | awk '{ print $NF }' | grep -qx "$b"; then
				users="$users $(basename "$o" .o).c"
			fi
		done
		echo "  $b (used by:$users)" >&2
	done
	exit 1
fi
echo "freestanding: OK"
