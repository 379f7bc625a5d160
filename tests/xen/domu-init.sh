#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the test domU: load the Xen device modules and run the libnc2
# frontend (nc2-xen-front); its output goes to the console, which dom0's
# xenconsoled logs and the dom0 init copies to the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
up() { cut -d' ' -f1 /proc/uptime; }
echo "DOMU: init at uptime $(up)s"
for m in xen-evtchn xen-gntdev xen-gntalloc; do
	insmod /lib/modules/$m.ko || echo "DOMU: insmod $m failed"
done
# Linux 6.1.x restricts privcmd in a domU to a device model's target domain
# unless told otherwise (no lockdown here); the transport's direct grant
# table mode needs two hypercalls on DOMID_SELF and a mapping of its own
# grant table frames.
insmod /lib/modules/xen-privcmd.ko unrestricted=1 || echo "DOMU: insmod xen-privcmd failed"
MALLOC_CHECK_=3 /bin/nc2-xen-front
echo "DOMU: frontend exited with $? at uptime $(up)s"
dmesg | grep -E "segfault|general protection|traps:|Bad page|BUG|WARNING|implicitly unmap" | sed 's/^/DOMU: kernel: /'
poweroff -f
