#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of dom0 in the Xen-under-QEMU test (xen-qemu-test.sh). Runs the steps
# listed in /etc/nc2-steps and prints one "NC2-RESULT <step> PASS|FAIL ..."
# line per verdict on the serial console, then powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/lib/xen-4.17/bin
set -o pipefail
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm /dev/pts /run/xen /run/xenstored
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "NC2: $* (uptime $(up)s)"; }
result() {
	step=$1 verdict=$2
	shift 2
	echo "NC2-RESULT $step $verdict $*"
}
STEPS=" $(cat /etc/nc2-steps) "
N=$(cat /etc/nc2-packets)
has() { case "$STEPS" in *" $1 "*) return 0 ;; esac; return 1; }
# Busybox applets in this VM crash now and then (NULL TLS pointer or heap
# list, always the same two addresses, whether or not libnc2 runs), so
# verdicts are decided with shell builtins, not `echo | grep`.
contains() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
# waitfor FILE PATTERN SECONDS
waitfor() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

say "dom0 init, hypervisor: $(cat /sys/hypervisor/type 2>/dev/null)"
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
	insmod /lib/modules/$m.ko || say "insmod $m failed"
done
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen

# ---- 1. conformance suite, two dom0 processes, domid 0 as the peer ----------
if has conf; then
	t=$(up)
	nc2-xen-conf >/tmp/conf.log 2>&1
	rc=$?
	cat /tmp/conf.log
	for try in 1 2 3; do
		sum=$(grep '^conformance-xen: [0-9]' /tmp/conf.log | tail -n 1) && break
	done
	if [ $rc = 0 ] && contains "$sum" ' 0 failed'; then
		result conf PASS "${sum#conformance-xen: } ($(grep 'grant mode' /tmp/conf.log | sed 's/.*grant mode //'); ${t}s..$(up)s uptime)"
	else
		result conf FAIL "rc=$rc ${sum:-no summary}"
	fi
fi

# ---- 2./3. domUs through xenstore -----------------------------------------
if has traffic || has destroy; then
	xenstored --pid-file /run/xenstored.pid
	i=0
	while [ ! -S /run/xenstored/socket ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	xen-init-dom0 >/dev/null || say "xen-init-dom0 failed"
	xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
	: >/tmp/back.log
	(nc2-xen-back serve 2>&1 | tee -a /tmp/back.log) &
	say "xenstored, xenconsoled and nc2-xen-back running"

	# domu NAME PACKETS: create paused, add the vif2 device (the toolstack
	# part a vif2 device type in xl would do), unpause. Prints the domid.
	domu() {
		cat >/etc/xen/$1.cfg <<EOC
name = "$1"
type = "pv"
kernel = "/domu/vmlinuz"
ramdisk = "/domu/initrd.gz"
extra = "console=hvc0 quiet $(cat /etc/nc2-linux-opts) $(cat /etc/nc2-domu-opts) nc2count=$2"
memory = 128
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
EOC
		t1=$(up)
		if ! xl create -p /etc/xen/$1.cfg >/tmp/xl-$1.log 2>&1; then
			sed "s/^/XL: /" /tmp/xl-$1.log >&2
			return 1
		fi
		t2=$(up)
		id=$(xl domid $1)
		nc2-xen-back add $id >&2 || return 1
		say "xl create -p $1: ${t1}s..${t2}s" >&2
		(tail -F /var/log/xen/console/guest-$1.log 2>/dev/null |
			while IFS= read -r l; do echo "[$1] $l"; done) >&2 &
		xl unpause $1 >&2
		echo $id
	}
	# gone ID: wait until the domain has left the hypervisor (no zombie:
	# a dying domain stays while anybody still maps its pages)
	gone() {
		i=0
		while [ $i -lt 100 ]; do
			xl list | awk 'NR > 1 { print $2 }' | grep -qx "$1" || return 0
			sleep 0.1
			i=$((i + 1))
		done
		xl list >&2
		return 1
	}
	# verdict STEP NAME ID SESSION: one orderly session, verdict from both ends
	verdict() {
		log=/var/log/xen/console/guest-$2.log
		if ! waitfor $log "FRONT: RESULT .* session $4:" 90; then
			result $1 FAIL "domain $3: no frontend verdict for session $4"
			return
		fi
		waitcount /tmp/back.log "domid $3: CLOSED" $4 10
		# fixed-string greps, retried (see contains above)
		for try in 1 2 3; do
			fr=$(grep -F "FRONT: RESULT" $log | grep -F "session $4:" | tail -n 1)
			br=$(grep -F "domid $3: CLOSED" /tmp/back.log | sed -n "$4p")
			[ -n "$fr" ] && [ -n "$br" ] && break
			say "verdict $1: try $try: frontend line '$fr', backend line '$br'; $(free | awk 'NR == 2 { print "free " $4 " KiB" }')"
			sleep 1
		done
		if contains "$fr" 'RESULT PASS' && contains "$br" 'CLOSED CLEAN'; then
			result $1 PASS "domain $3: frontend: ${fr#*: }; backend: ${br#*CLOSED CLEAN: } (by $(up)s uptime)"
		else
			result $1 FAIL "domain $3: frontend: ${fr:-none}; backend: ${br:-none}"
		fi
	}
	# waitcount FILE PATTERN COUNT SECONDS
	waitcount() {
		i=0
		while [ $i -lt $(($4 * 10)) ]; do
			[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
			sleep 0.1
			i=$((i + 1))
		done
		return 1
	}

	# One domU for steps 2 and 3: session 1 moves N packets each way and
	# closes; session 2 (same device, xenbus reconnect) runs until the
	# domain is destroyed under it. A second domU must then work.
	counts=""
	has traffic && counts=$N
	has destroy && counts="${counts:+$counts,}0"
	t=$(up)
	id=$(domu nc2fe1 $counts) || id=""
	if [ -z "$id" ]; then
		has traffic && result traffic FAIL "xl create failed"
		has destroy && result destroy FAIL "xl create failed"
	else
		say "nc2fe1 is domain $id (xl create -p + vif2 device + unpause: $(echo "$(up) $t" | awk '{printf "%.2f", $1 - $2}')s)"
		has traffic && verdict traffic nc2fe1 $id 1
	fi
	if [ -n "$id" ] && has destroy; then
		n=1
		has traffic && n=2
		if ! waitcount /tmp/back.log "domid $id: traffic flowing" $n 90; then
			result destroy FAIL "domain $id: traffic of session $n never started"
		else
			sleep 1
			td=$(up)
			xl destroy nc2fe1
			say "xl destroy nc2fe1 (domain $id) mid-transfer returned"
			waitfor /tmp/back.log "domid $id: PEER GONE" 10
			for try in 1 2 3; do
				br=$(grep -F "domid $id: PEER GONE" /tmp/back.log | tail -n 1) && break
			done
			if contains "$br" 'RELEASED' && gone $id; then
				result destroy PASS "domain $id destroyed at ${td}s mid-transfer; backend: ${br#*: PEER GONE }; the domain left the hypervisor (no zombie) by $(up)s"
			else
				result destroy FAIL "domain $id: backend: ${br:-no PEER GONE report}; $(xl list | tr '\n' ' ')"
			fi
		fi
		t=$(up)
		id2=$(domu nc2fe2 $N) || id2=""
		if [ -z "$id2" ]; then
			result reconnect FAIL "xl create failed"
		else
			say "nc2fe2 is domain $id2 (xl create -p + vif2 device + unpause: $(echo "$(up) $t" | awk '{printf "%.2f", $1 - $2}')s)"
			verdict reconnect nc2fe2 $id2 1
			gone $id2 || say "domain $id2 still listed after poweroff"
		fi
	fi
	say "backend log: $(grep -c . /tmp/back.log) lines; xl list: $(xl list | awk 'NR > 1 {print $1}' | tr '\n' ' ')"
fi

# Crashed processes (the kernel logs them below the console level of "quiet").
dmesg | grep -E "segfault|general protection|traps:|Bad page|BUG|WARNING|implicitly unmap" | sed 's/^/NC2: dom0 kernel: /'
say "done"
echo "NC2: done"
grep -q nc2shell /proc/cmdline && setsid cttyhack sh
poweroff -f
