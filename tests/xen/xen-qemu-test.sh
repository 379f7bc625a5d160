#!/bin/bash
# SPDX-License-Identifier: MIT
# Boot a real Xen 4.17 hypervisor with a Debian 6.1 PV dom0 under QEMU (TCG)
# and run libnc2's Xen tests in it; verdicts are read from the serial console.
#
#   1. conformance: the transport conformance suite on the Xen transport,
#      two dom0 processes (domid 0 as the peer)             [nc2-xen-conf]
#   2. traffic: a PV domU (`xl create`) whose initramfs holds nc2-xen-front
#      connects through xenstore to nc2-xen-back in dom0; packets of 64..9000
#      octets go both ways, every byte verified, counters printed
#   3. destroy: a second domU is destroyed mid-transfer; the backend must see
#      it, fail the channel, release every grant mapping (the domain must
#      disappear: no zombie), and serve a third domU normally
#
# usage: xen-qemu-test.sh BIN_DIR WORK_DIR
#   BIN_DIR   where nc2-xen-conf, nc2-xen-back, nc2-xen-front were built
#   WORK_DIR  scratch and cache (downloads are kept in WORK_DIR/cache, or in
#             $NC2_XEN_QEMU_CACHE)
# env: NC2_XEN_STEPS   "conf traffic destroy" (default: all three)
#      NC2_XEN_QEMU_TIMEOUT  seconds for the VM (default 240; about 40 on an idle
#                            2-core host, a shared host may need more)
#      NC2_XEN_PACKETS       packets per direction in step 2 (default 2000)
#      NC2_XEN_QEMU_ACCEL    QEMU's -accel value (default tcg)
#      NC2_XEN_QEMU_CPU      QEMU's -cpu value (default max,-smap,-xsave)
#      NC2_XEN_DOMU_OPTS     extra domU kernel arguments, e.g. nc2direct=0 (the
#                            frontend without its direct grant-table mode)
# Exit: 0 all verdicts PASS, 1 a failure, 77 (skip) when QEMU or the Debian
# packages cannot be had here, with the reason.
#
# Nothing is installed on the system: Debian packages are fetched with
# `apt-get download` and unpacked with `dpkg -x` under the cache directory
# (QEMU too, with the libraries it lacks, when qemu-system-x86_64 is absent).
set -u
set -o pipefail

BIN=${1:?usage: $0 BIN_DIR WORK_DIR}
W=${2:?usage: $0 BIN_DIR WORK_DIR}
BIN=$(cd "$BIN" && pwd)
mkdir -p "$W"
W=$(cd "$W" && pwd)
CACHE=${NC2_XEN_QEMU_CACHE:-$W/cache}
STEPS=${NC2_XEN_STEPS:-conf traffic destroy}
VM_TIMEOUT=${NC2_XEN_QEMU_TIMEOUT:-240}
PACKETS=${NC2_XEN_PACKETS:-2000}
ACCEL=${NC2_XEN_QEMU_ACCEL:-tcg}
CPU_MODEL=${NC2_XEN_QEMU_CPU:-max,-smap,-xsave}
# Speculation mitigations only cost time under TCG (a test VM runs nothing
# untrusted): off in Xen and in both kernels.
XEN_OPTS=${NC2_XEN_OPTS-spec-ctrl=no}
LINUX_OPTS=${NC2_LINUX_OPTS-mitigations=off}
mkdir -p "$CACHE"
T0=$(date +%s.%N)

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	exit 1
}
since() { echo "$(date +%s.%N) $1" | awk '{printf "%.1f", $1 - $2}'; }

for p in nc2-xen-conf nc2-xen-back nc2-xen-front; do
	[ -x "$BIN/$p" ] || fail "$BIN/$p was not built"
done
for t in gzip awk ldd; do
	command -v $t >/dev/null || skip "host tool $t is missing"
done

# A fresh machine may have no package lists yet: as root, refresh them once
# (no package is installed) before giving up.
APT_UPDATED=0
apt_refresh() {
	[ $APT_UPDATED = 0 ] && [ "$(id -u)" = 0 ] || return 1
	APT_UPDATED=1
	echo "xen-qemu: apt-get update (package lists missing or stale)"
	apt-get update -qq >/dev/null 2>&1
}

# apt-get download into $1 (package names follow); quiet unless it fails.
fetch() {
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && apt-get -o APT::Sandbox::User=root download "$@") >"$dir/apt.log" 2>&1 && return 0
	apt_refresh || return 1
	(cd "$dir" && apt-get -o APT::Sandbox::User=root download "$@") >"$dir/apt.log" 2>&1
}

# ---- QEMU -------------------------------------------------------------------
QEMU=$(command -v qemu-system-x86_64 || true)
QEMU_ARGS=()
QEMU_ENV=()
if [ -z "$QEMU" ]; then
	Q=$CACHE/qemu
	if [ ! -e "$Q/complete" ]; then
		command -v apt-get >/dev/null && command -v dpkg >/dev/null ||
			skip "qemu-system-x86_64 is not installed and there is no apt-get/dpkg to fetch it"
		echo "xen-qemu: fetching QEMU (qemu-system-x86 and the libraries it lacks)"
		rm -rf "$Q"
		fetch "$Q/debs" qemu-system-x86 qemu-system-data seabios ||
			skip "qemu-system-x86_64 is not installed and apt-get download failed: $(tail -n 2 "$Q/debs/apt.log")"
		for f in "$Q"/debs/*.deb; do dpkg -x "$f" "$Q/root" || fail "dpkg -x $f"; done
		# Add the Depends that are not installed, round by round, until ldd
		# finds every library.
		want="qemu-system-x86"
		seen=" qemu-system-x86 qemu-system-data seabios "
		for round in 1 2 3 4 5 6; do
			libdirs=$(find "$Q/root" -name '*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
			missing=$(LD_LIBRARY_PATH=$libdirs ldd "$Q/root/usr/bin/qemu-system-x86_64" |
				awk '/not found/{print $1}')
			[ -z "$missing" ] && break
			new=""
			for p in $want; do
				for d in $(apt-cache depends "$p" 2>/dev/null | awk '/^  Depends: [^<]/{print $2}'); do
					case "$seen" in *" $d "*) continue ;; esac
					seen="$seen$d "
					case "$(dpkg-query -W -f='${Status}' "$d" 2>/dev/null)" in
					*" installed") continue ;;
					esac
					new="$new $d"
				done
			done
			[ -n "$new" ] || skip "cannot find packages for QEMU's libraries:" $missing
			# shellcheck disable=SC2086
			fetch "$Q/debs" $new || skip "apt-get download of QEMU's libraries failed"
			for d in $new; do for f in "$Q"/debs/"${d}"_*.deb; do dpkg -x "$f" "$Q/root"; done; done
			want=$new
		done
		[ -z "$missing" ] || skip "QEMU still lacks libraries:" $missing
		echo "$libdirs" >"$Q/complete"
	fi
	QEMU=$Q/root/usr/bin/qemu-system-x86_64
	QEMU_ENV=(LD_LIBRARY_PATH="$(cat "$Q/complete")" QEMU_MODULE_DIR="$Q/root/usr/lib/x86_64-linux-gnu/qemu")
	QEMU_ARGS=(-L "$Q/root/usr/share/qemu" -L "$Q/root/usr/share/seabios")
fi
env "${QEMU_ENV[@]}" "$QEMU" --version >/dev/null 2>&1 || skip "$QEMU does not run"

# ---- Xen, the kernel, the tools ---------------------------------------------
X=$CACHE/xen
# The archive keeps only the current kernel ABI: resolve it, never pin it.
kabi() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-//p' | head -n1; }
KV=$(kabi)
[ -n "$KV" ] || [ -e "$X/complete" ] || ! apt_refresh || KV=$(kabi)
[ -n "$KV" ] || KV=$(cat "$X/kernel-abi" 2>/dev/null || true)
[ -n "$KV" ] || skip "cannot resolve the kernel ABI (apt-cache depends linux-image-amd64; run apt-get update)"
if [ ! -e "$X/complete" ] || [ "$(cat "$X/kernel-abi" 2>/dev/null)" != "$KV" ]; then
	echo "xen-qemu: fetching Xen 4.17, linux-image-$KV and the tools"
	rm -rf "$X"
	fetch "$X/debs" xen-hypervisor-4.17-amd64 "linux-image-$KV" libxengnttab1 libxenevtchn1 \
		libxentoollog1 libxentoolcore1 libxencall1 libxenforeignmemory1 libxendevicemodel1 \
		libxenstore4 libxenmisc4.17 libxenhypfs1 libyajl2 xen-utils-4.17 xenstore-utils \
		busybox-static || skip "apt-get download of the Xen packages failed: $(tail -n 2 "$X/debs/apt.log")"
	for f in "$X"/debs/*.deb; do dpkg -x "$f" "$X/root" || fail "dpkg -x $f"; done
	# QEMU's multiboot loader wants the plain ELF
	zcat "$X/root/boot/xen-4.17-amd64.gz" >"$X/xen" || fail "no xen-4.17-amd64.gz"
	# The bzImage's XZ payload, pre-extracted: saves Xen ~3 s of TCG in dom0
	# boot and libxenguest ~4 s per `xl create` (domU kernel gzip'd ELF).
	if command -v python3 >/dev/null && python3 -c 'import lzma' 2>/dev/null; then
		python3 - "$X/root/boot/vmlinuz-$KV" "$X/vmlinux" <<'EOP' || fail "extracting vmlinux"
import lzma, sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"\xfd7zXZ\x00")
open(sys.argv[2], "wb").write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[i:]))
EOP
		gzip -1 -c "$X/vmlinux" >"$X/vmlinux.gz"
	else
		cp "$X/root/boot/vmlinuz-$KV" "$X/vmlinux"
		cp "$X/root/boot/vmlinuz-$KV" "$X/vmlinux.gz"
	fi
	echo "$KV" >"$X/kernel-abi"
	touch "$X/complete"
fi
R=$X/root
L=$R/usr/lib/x86_64-linux-gnu
XB=$R/usr/lib/xen-4.17/bin
M=$R/lib/modules/$KV/kernel/drivers
BB=$R/bin/busybox
echo "xen-qemu: packages ready after $(since "$T0") s (kernel $KV)"

# ---- initramfs --------------------------------------------------------------
RUN=$W/run
rm -rf "$RUN"
mkdir -p "$RUN"

# Copy the libraries \$@ need (the unpacked Xen libraries first, then the host's:
# both are Debian 12) into the initramfs tree $1.
copy_libs() {
	local root=$1
	shift
	mkdir -p "$root/lib/x86_64-linux-gnu" "$root/lib64"
	LD_LIBRARY_PATH=$L ldd "$@" | awk '/=> \//{print $3}' | sort -u | while read -r l; do
		cp -L "$l" "$root/lib/x86_64-linux-gnu/"
	done
	cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
	# glibc dlopen()s libgcc_s for pthread_cancel (libxl, libxenstore's thread)
	cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$root/lib/x86_64-linux-gnu/"
}

# newc archive of directory $1 into $2 (gzip'd when $3 = gz). dom0's is left
# uncompressed: it holds the already compressed domU kernel, and inflating
# it again would only cost TCG time.
mkcpio() {
	if [ "${3:-}" = gz ]; then
		(cd "$1" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 >"$2")
	else
		(cd "$1" && find . | "$BB" cpio -o -H newc 2>/dev/null >"$2")
	fi
}

# domU: busybox, the frontend, the Xen device modules
D=$RUN/domu
mkdir -p "$D"/{bin,proc,sys,dev,tmp,lib/modules}
cp "$BB" "$D/bin/"
cp "$BIN/nc2-xen-front" "$D/bin/"
copy_libs "$D" "$BIN/nc2-xen-front"
for m in xen/xen-evtchn xen/xen-gntdev xen/xen-gntalloc xen/xen-privcmd; do
	cp "$M/$m.ko" "$D/lib/modules/"
done
cp "$(dirname "$0")/domu-init.sh" "$D/init"
chmod +x "$D/init"
mkcpio "$D" "$RUN/domu-initrd.gz" gz

# dom0: busybox, xenstored, xen-init-dom0, xenconsoled, xl, the tests
I=$RUN/dom0
mkdir -p "$I"/{bin,proc,sys,dev,tmp,run,usr/bin,lib/modules,etc/xen,var/lib/xen,var/log/xen/console,var/lib/xenstored,var/lock,domu}
ln -s ../run "$I/var/run"
cp "$BB" "$I/bin/"
mkdir -p "$I/usr/lib/xen-4.17/bin"
XBINS="xl xenstored xenconsoled xen-init-dom0 libxl-save-helper"
for b in $XBINS; do cp "$XB/$b" "$I/usr/lib/xen-4.17/bin/"; done
cp "$R/usr/bin/xenstore" "$I/usr/bin/"
for n in read write ls list rm exists chmod; do ln -s xenstore "$I/usr/bin/xenstore-$n"; done
for p in nc2-xen-conf nc2-xen-back nc2-xen-front; do cp "$BIN/$p" "$I/usr/bin/"; done
# shellcheck disable=SC2086
copy_libs "$I" $(for b in $XBINS; do echo "$XB/$b"; done) "$R/usr/bin/xenstore" \
	"$BIN/nc2-xen-conf" "$BIN/nc2-xen-back"
for m in xen/xen-evtchn xen/xen-gntdev xen/xen-gntalloc xen/xen-privcmd xen/xenfs/xenfs; do
	cp "$M/$m.ko" "$I/lib/modules/"
done
: >"$I/etc/xen/xl.conf"
# The domU kernel as a plain ELF: libxenguest copies it instead of inflating
# 65 MB in dom0 userspace under TCG on every `xl create`.
cp "$X/vmlinux" "$I/domu/vmlinuz"
cp "$RUN/domu-initrd.gz" "$I/domu/initrd.gz"
cp "$(dirname "$0")/dom0-init.sh" "$I/init"
chmod +x "$I/init"
echo "$STEPS" >"$I/etc/nc2-steps"
echo "$PACKETS" >"$I/etc/nc2-packets"
echo "$LINUX_OPTS" >"$I/etc/nc2-linux-opts"
echo "${NC2_XEN_DOMU_OPTS:-}" >"$I/etc/nc2-domu-opts"
mkcpio "$I" "$RUN/dom0-initrd.cpio"
echo "xen-qemu: initramfs built after $(since "$T0") s" \
	"(dom0 $(du -k "$RUN/dom0-initrd.cpio" | cut -f1) KiB, domU $(du -k "$RUN/domu-initrd.gz" | cut -f1) KiB)"

# ---- boot -------------------------------------------------------------------
LOG=$W/serial.log
# Prefix each line with the seconds since QEMU started (no fork per line).
stamp() {
	local t0=${EPOCHREALTIME/./} now l
	while IFS= read -r l; do
		l=${l%$'\r'}
		now=${EPOCHREALTIME/./}
		printf '%4d.%02d %s\n' $(((now - t0) / 1000000)) $((((now - t0) / 10000) % 100)) "$l"
	done
}
TB=$(date +%s.%N)
# -cpu max,-smap: with SMAP, Xen PV dom0 dies at its first instructions under
# TCG. -xsave: with XSAVE exposed, guest processes' register state went
# wrong now and then (corrupted frames and heaps, busybox crashes: see
# README.md); without it, no boot here showed any of that.
# -no-reboot: a crashing dom0 ends QEMU. The outer timeout bounds hangs.
timeout --kill-after=5 "$VM_TIMEOUT" env "${QEMU_ENV[@]}" "$QEMU" "${QEMU_ARGS[@]}" \
	-accel "$ACCEL" -cpu "$CPU_MODEL" -m 1536 -smp 2 \
	-nographic -nodefaults -serial stdio -no-reboot -net none -monitor none \
	-kernel "$X/xen" -append "console=com1 com1=115200,8n1 dom0_mem=512M,max:512M $XEN_OPTS" \
	-initrd "$X/vmlinux console=hvc0 panic=-1 quiet $LINUX_OPTS,$RUN/dom0-initrd.cpio" </dev/null \
	2>&1 | stamp | tee "$LOG" |
	grep --line-buffered -E 'NC2|CONF|conformance|DOMU|FRONT|BACK|XL|Panic|panic|BUG|Oops|S5 state'
qrc=$?
BOOT=$(since "$TB")
# CPU seconds of QEMU (all children so far; the rest is negligible): the
# host may be shared, wall time alone says little.
times >"$W/times"
CPU=$(tail -n 1 "$W/times" | awk '{ split($1, a, "m"); split($2, b, "m"); printf "%.1f", a[1] * 60 + a[2] + b[1] * 60 + b[2] }')
echo "xen-qemu: VM ran $BOOT s (QEMU start to exit, $CPU s CPU), total $(since "$T0") s"
if [ "$(tail -n 1 "$LOG" | grep -c 'S5 state')" = 0 ] && ! grep -q 'NC2: done' "$LOG"; then
	echo "xen-qemu: the VM did not finish (timeout ${VM_TIMEOUT}s or crash); last lines:"
	tail -n 30 "$LOG"
fi

# ---- verdicts -------------------------------------------------------------
status=0
expect=$STEPS
case " $STEPS " in *" destroy "*) expect="$expect reconnect" ;; esac
for step in $expect; do
	line=$(grep -E "NC2-RESULT $step (PASS|FAIL)" "$LOG" | tail -n 1)
	if [ -z "$line" ]; then
		echo "xen-qemu: step $step: no verdict on the serial console"
		status=1
	elif echo "$line" | grep -q "NC2-RESULT $step PASS"; then
		echo "xen-qemu: step $step: ${line#*NC2-RESULT }"
	else
		echo "xen-qemu: step $step: ${line#*NC2-RESULT }"
		status=1
	fi
done
[ $status = 0 ] && echo "xen-qemu: PASS (boot to verdict $BOOT s)" || echo "xen-qemu: FAIL (serial log: $LOG)"
# The emulated machine is not perfect (dom0's busybox applets crash now and
# then, see dom0-init.sh): one more boot, reported as such; the test fails
# when the second boot fails too.
if [ $status != 0 ] && [ -z "${NC2_XEN_RETRY_OF:-}" ]; then
	cp "$LOG" "$W/serial.attempt1.log"
	echo "xen-qemu: attempt 1 FAILED (its serial log: $W/serial.attempt1.log); booting once more"
	NC2_XEN_RETRY_OF=1 exec bash "$0" "$@"
fi
[ -n "${NC2_XEN_RETRY_OF:-}" ] && echo "xen-qemu: this was attempt 2 (attempt 1 failed)"
exit $status
