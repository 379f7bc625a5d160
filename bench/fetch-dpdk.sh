#!/bin/sh
# SPDX-License-Identifier: MIT
#
# fetch-dpdk.sh DIR: unpack Debian's DPDK testpmd and the PMDs the shm
# benchmark compares against (memif, vhost, virtio-user, the ring mempool)
# under DIR, without installing anything system-wide:
#   apt-get download <pkg>  +  dpkg -x <deb> DIR/root
# The packages are found from the binaries themselves: dpdk-testpmd is in
# dpdk-dev, each PMD in its own librte-* package; then every shared library
# that ldd still reports "not found" is mapped to its Debian package
# (librte_foo_bar.so.23 -> librte-foo-bar23, libpcap.so.0.8 -> libpcap0.8,
# ...) and fetched, until nothing is missing.
#
# DIR must not be under a world-writable directory such as /tmp: DPDK's EAL
# refuses to load plugins (-d) from there. The benchmark uses
# <build>/dpdk. A finished DIR is reused (cache); delete it to refetch.
#
# Writes DIR/dpdk.env (sourced by run-shm-bench.sh):
#   DPDK_TESTPMD      path of dpdk-testpmd
#   DPDK_LIBDIR       for LD_LIBRARY_PATH
#   DPDK_PLUGINS      EAL arguments "-d <pmd.so> ..." for the PMD plugins
#   DPDK_VERSION      the package version
set -eu

DIR=${1:?usage: fetch-dpdk.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ENV="$DIR/dpdk.env"
ROOT="$DIR/root"
DEBS="$DIR/debs"
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
LIBDIR="$ROOT/usr/lib/$MA"
PMD_PKGS="librte-net-memif23 librte-net-vhost23 librte-net-virtio23 librte-mempool-ring23"
PMD_SOS="librte_net_memif.so.23 librte_net_vhost.so.23 librte_net_virtio.so.23 librte_mempool_ring.so.23"

if [ -f "$ENV" ] && . "$ENV" && [ -x "$DPDK_TESTPMD" ]; then
	echo "fetch-dpdk: using $DIR (DPDK $DPDK_VERSION; delete the directory to refetch)"
	exit 0
fi

case "$DIR" in
/tmp/* | /var/tmp/* | /dev/shm/*)
	echo "fetch-dpdk: warning: $DIR is under a world-writable directory;" \
		"EAL will refuse its plugins" >&2
	;;
esac
for t in apt-get dpkg ldd; do
	command -v $t >/dev/null || {
		echo "fetch-dpdk: $t not found (Debian/Ubuntu only)" >&2
		exit 1
	}
done

mkdir -p "$ROOT" "$DEBS"

# apt-get download needs the package lists (a fresh machine may have none).
if ! apt-cache show dpdk-dev >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "fetch-dpdk: no package lists know dpdk-dev: apt-get update"
		apt-get update -q >/dev/null
	else
		echo "fetch-dpdk: apt-cache does not know dpdk-dev; run apt-get update as root" >&2
		exit 1
	fi
fi

fetch() { # fetch PKG...: download (one apt-get call) and unpack, once each
	missing=""
	for p in "$@"; do
		[ -e "$DEBS/.$p" ] || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "fetch-dpdk: apt-get download$missing"
	# apt-get download writes into the current directory. As root it warns
	# that _apt cannot write there; harmless.
	(cd "$DEBS" && apt-get download -q $missing 2>&1 |
		grep -Ev '^(W: Download is performed unsandboxed|Get:|Fetched)' || true)
	for p in $missing; do
		deb=$(ls "$DEBS"/"${p}"_*.deb 2>/dev/null | head -n 1)
		if [ -z "$deb" ]; then
			echo "fetch-dpdk: apt-get download $p failed" \
				"(run apt-get update? is the package in this release?)" >&2
			exit 1
		fi
		dpkg -x "$deb" "$ROOT"
		: >"$DEBS/.$p"
	done
}

# soname -> Debian package name (the library packaging convention, plus the
# exceptions DPDK's dependencies need).
soname_pkg() {
	case "$1" in
	libmlx5.so.* | libmlx4.so.* | libefa.so.* | libhns.so.* | libmana.so.*)
		echo ibverbs-providers
		return
		;;
	esac
	base=${1%%.so.*}
	ver=${1#*.so.}
	case "$base" in
	librte_*) name=$(echo "$base" | tr _ -) ;;
	*) name=$base ;;
	esac
	case "$name" in
	*[0-9]) echo "$name-$ver" ;;
	*) echo "$name$ver" ;;
	esac
}

fetch dpdk-dev $PMD_PKGS
TESTPMD="$ROOT/usr/bin/dpdk-testpmd"
[ -x "$TESTPMD" ] || {
	echo "fetch-dpdk: dpdk-dev has no usr/bin/dpdk-testpmd" >&2
	exit 1
}

PLUGINS=""
for so in $PMD_SOS; do
	f="$LIBDIR/dpdk/pmds-23.0/$so"
	[ -e "$f" ] || {
		echo "fetch-dpdk: $f missing" >&2
		exit 1
	}
	PLUGINS="$PLUGINS -d $f"
done

# Resolve what the binaries still miss, a few rounds (each round may add
# libraries with needs of their own).
LDP="$LIBDIR:$LIBDIR/dpdk/pmds-23.0:$ROOT/lib/$MA"
round=0
while :; do
	missing=$(for f in "$TESTPMD" $(echo "$PLUGINS" | sed 's/-d //g'); do
		LD_LIBRARY_PATH="$LDP" ldd "$f" 2>/dev/null
	done | awk '/not found/ {print $1}' | sort -u)
	[ -z "$missing" ] && break
	round=$((round + 1))
	if [ $round -gt 8 ]; then
		echo "fetch-dpdk: still missing after 8 rounds: $missing" >&2
		exit 1
	fi
	pkgs=""
	for so in $missing; do
		p=$(soname_pkg "$so")
		if [ -e "$DEBS/.$p" ]; then
			echo "fetch-dpdk: $so still missing after fetching $p" >&2
			exit 1
		fi
		pkgs="$pkgs $p"
	done
	fetch $(echo $pkgs | tr ' ' '\n' | sort -u)
done

VERSION=$(dpkg-deb -f "$(ls "$DEBS"/dpdk-dev_*.deb | head -n 1)" Version)
cat >"$ENV.tmp" <<EOF
# written by bench/fetch-dpdk.sh
DPDK_TESTPMD='$TESTPMD'
DPDK_LIBDIR='$LDP'
DPDK_PLUGINS='$PLUGINS'
DPDK_VERSION='$VERSION'
EOF
mv "$ENV.tmp" "$ENV"
echo "fetch-dpdk: DPDK $VERSION ready in $DIR ($(ls "$DEBS"/*.deb | wc -l) packages)"
