/* SPDX-License-Identifier: MIT */
/* Xen transport internals (include/nc2/xen.h); shared by xen.c and xs.c. */
#ifndef NC2_XEN_INTERNAL_H
#define NC2_XEN_INTERNAL_H

#include <stdint.h>

#include <nc2/xen.h>

#include "../common/maptrack.h"

#define XN_PAGE      4096u
#define XN_ERR_MAX   192u
#define XN_BATCH_MAX 1024u /* segments handed to the kernel in one grant copy call */

/* Error text shared by the transport and the xenstore helper. */
void nc2_xen_fmt_error(char *buf, size_t cap, const char *call, int err_no, const char *detail);

#endif /* NC2_XEN_INTERNAL_H */
