/* SPDX-License-Identifier: MIT */
/* Xen transport internals (include/nc2/xen.h); shared by xen.c and xs.c. */
#ifndef NC2_XEN_INTERNAL_H
#define NC2_XEN_INTERNAL_H

#include <stdint.h>

#include <nc2/xen.h>

#define XN_PAGE      4096u
#define XN_ERR_MAX   192u
#define XN_BATCH_MAX 1024u /* ops handed to the kernel in one map/copy call */
#define XN_NO_SLOT   UINT32_MAX
#define XN_GEN_MASK  0xffffffu
#define XN_SLOT_BITS 24u
#define XN_SLOT_MASK ((1u << XN_SLOT_BITS) - 1u)
#define XN_PAGE_BITS 16u

/* Error text shared by the transport and the xenstore helper. */
void nc2_xen_fmt_error(char *buf, size_t cap, const char *call, int err_no, const char *detail);

#endif /* NC2_XEN_INTERNAL_H */
