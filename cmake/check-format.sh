#!/bin/sh
# SPDX-License-Identifier: MIT
# clang-format --dry-run -Werror over the project's C sources.
# usage: check-format.sh SOURCE_DIR [CLANG_FORMAT]
# Exits 77 (ctest SKIP_RETURN_CODE) when clang-format is not installed.
set -eu

src=${1:?usage: $0 SOURCE_DIR [CLANG_FORMAT]}
cf=${2:-}
if [ -z "$cf" ] || ! command -v "$cf" >/dev/null 2>&1; then
	cf=$(command -v clang-format 2>/dev/null || true)
fi
if [ -z "$cf" ]; then
	echo "clang-format not found: skipping"
	exit 77
fi
"$cf" --version

cd "$src"
dirs=""
for d in lib include tests fuzz transports examples bench; do
	[ -d "$d" ] && dirs="$dirs $d"
done
# shellcheck disable=SC2086 # word splitting of $dirs is intended
files=$(find $dirs -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) |
	LC_ALL=C sort)
if [ -z "$files" ]; then
	echo "no C files to check"
	exit 0
fi
n=$(echo "$files" | wc -l)
echo "checking $n files"
# shellcheck disable=SC2086 # file names have no spaces in this tree
"$cf" --dry-run -Werror $files
echo "clang_format: OK"
