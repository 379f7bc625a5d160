/* SPDX-License-Identifier: MIT */
/*
 * Xen transport: libxengnttab (gntdev, gntalloc) and libxenevtchn, see
 * include/nc2/xen.h for the model and what it can and cannot enforce.
 *
 * Bookkeeping:
 *  - region: cfg.grant_pages pages shared writable to the peer with one
 *    xengntshr_share_pages() call; refs[] holds each page's reference and
 *    byref[] the same pairs sorted by reference for revoke(). pg[] counts
 *    outstanding grants per page and remembers whether one was writable.
 *  - direct mode: gtab maps our own v1 grant table; grant/revoke edit the
 *    flags of the region's entries (grant_table.h protocol).
 *  - maps: one gntdev mapping per page, tracked in a maptrack
 *    (transports/common/maptrack.h) that turns a handle back into it.
 */
#define _DEFAULT_SOURCE 1
#define __XEN_TOOLS__   1

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xencall.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xentoollog.h>

#ifdef __linux__
#include <sys/ioctl.h>
#include <xen/sys/gntdev.h>
#endif

#include <nc2/version.h>

#include "xen_internal.h"

struct rpage {
	uint32_t grants; /* outstanding grants of this page */
	uint8_t rw;      /* one of them is writable */
	uint8_t alloc;   /* handed out by nc2_xen_alloc */
	uint8_t ended;   /* end_access done; the reference waits for revoke */
};

struct refidx {
	uint32_t ref, idx;
};

/* A xentoollog logger that keeps the libraries' last message instead of
 * printing it (the transport reports errors itself). */
struct xn_logger {
	xentoollog_logger vtable;
	struct nc2_xen *x;
};

struct nc2_xen {
	uint32_t peer;
	uint32_t flags;
	uint32_t caps;
	struct xn_logger log;
	xengnttab_handle *gt;
	xengntshr_handle *gs;
	xenevtchn_handle *xe;

	/* grantable region */
	uint8_t *region;
	uint32_t npages;
	uint32_t *refs;
	struct rpage *pg;
	struct refidx *byref;

	/* direct mode: our own grant table */
	xencall_handle *xc;
	xenforeignmemory_handle *fm;
	uint8_t *gtab;
	uint32_t gtab_frames;
	uint32_t gtab_entries;

	/* maps made through the ops: one gntdev mapping per page */
	mt_table maps;

	/* connection */
	int role; /* 0 none, NC2_ROLE_FRONTEND 1, NC2_ROLE_BACKEND 2 */
	uint32_t port;
	uint8_t *ctrl;     /* control page (either role) */
	uint8_t *payload;  /* frontend: its shared payload pages */
	uint8_t *ring_map; /* backend: the whole mapping */
	uint32_t ring_total;
	uint32_t ring_rp;
	int peer_seen;
	int peer_gone;

	int err_no;
	char err[XN_ERR_MAX];
	char lib_msg[XN_ERR_MAX];
	nc2_xen_stats st;
};

#define ROLE_FE 1
#define ROLE_BE 2

static _Thread_local char xn_open_err[XN_ERR_MAX];

/* ---- errors ------------------------------------------------------------- */

/* Append \p s to \p buf (capacity \p cap), truncating. */
static void xn_append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);
	while (n + 1 < cap && *s)
		buf[n++] = *s++;
	buf[n] = '\0';
}

void nc2_xen_fmt_error(char *buf, size_t cap, const char *call, int err_no, const char *detail)
{
	if (cap == 0)
		return;
	buf[0] = '\0';
	xn_append(buf, cap, call);
	if (err_no != 0) {
		char num[32];
		xn_append(buf, cap, ": ");
		xn_append(buf, cap, strerror(err_no));
		if (snprintf(num, sizeof(num), " (errno %d)", err_no) > 0)
			xn_append(buf, cap, num);
	}
	if (detail != NULL && *detail != '\0') {
		xn_append(buf, cap, ": ");
		xn_append(buf, cap, detail);
	}
}

/* Record a failed call and return \p code. */
static int xn_fail(nc2_xen *x, const char *call, int err_no, int code)
{
	x->err_no = err_no;
	nc2_xen_fmt_error(x->err, sizeof(x->err), call, err_no, x->lib_msg);
	x->lib_msg[0] = '\0';
	return code;
}

static void xn_log_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
			    const char *context, const char *format, va_list al)
{
	struct xn_logger *l = (struct xn_logger *)logger;
	(void)errnoval;
	(void)context;
	if (level < XTL_WARN || l->x == NULL)
		return;
	vsnprintf(l->x->lib_msg, sizeof(l->x->lib_msg), format, al);
}

static void xn_log_progress(xentoollog_logger *logger, const char *context, const char *doing_what,
			    int percent, unsigned long done, unsigned long total)
{
	(void)logger;
	(void)context;
	(void)doing_what;
	(void)percent;
	(void)done;
	(void)total;
}

static void xn_log_destroy(xentoollog_logger *logger)
{
	(void)logger;
}

/* errno of a failed map of the peer's grants -> status. */
static int map_errno(int e)
{
	switch (e) {
	case ENOMEM:
	case ENOSPC:
	case E2BIG:
		return NC2_ERR_NOSPACE;
	case EINVAL:
	case EPERM:
	case EACCES:
	case EFAULT:
	case ENOENT:
	case ESRCH:
		return NC2_ERR_PEER_GRANT;
	default:
		return NC2_ERR_TRANSPORT;
	}
}

/* Xen's grant copy status -> status. */
static int gntst_status(int16_t st)
{
	switch (st) {
	case GNTST_okay:
		return NC2_OK;
	case GNTST_general_error: /* Xen's answer for a revoked or read-only entry */
	case GNTST_bad_domain:
	case GNTST_bad_gntref:
	case GNTST_permission_denied:
	case GNTST_bad_page:
		return NC2_ERR_PEER_GRANT;
	case GNTST_bad_copy_arg:
		return NC2_ERR_INVALID_ARG;
	case GNTST_eagain:
		return NC2_ERR_AGAIN;
	case GNTST_no_space:
		return NC2_ERR_NOSPACE;
	default:
		return NC2_ERR_TRANSPORT;
	}
}

/* ---- own grant table (direct mode) -------------------------------------- */

static volatile uint16_t *gt_flags(nc2_xen *x, uint32_t ref)
{
	return (volatile uint16_t *)(void *)(x->gtab + (size_t)ref * sizeof(grant_entry_v1_t));
}

static uint16_t gt_load(volatile uint16_t *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static int gt_cas(volatile uint16_t *f, uint16_t expect, uint16_t want)
{
	return __atomic_compare_exchange_n(f, &expect, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* End access to \p ref unless Xen has it mapped (the kernel's
 * gnttab_end_foreign_access_ref_v1). */
static int gt_end(nc2_xen *x, uint32_t ref)
{
	volatile uint16_t *f = gt_flags(x, ref);
	for (;;) {
		uint16_t cur = gt_load(f);
		if (cur & (GTF_reading | GTF_writing))
			return NC2_ERR_AGAIN;
		if (gt_cas(f, cur, 0))
			return NC2_OK;
	}
}

static void gt_unmap(nc2_xen *x)
{
	if (x->gtab != NULL)
		xenforeignmemory_unmap(x->fm, x->gtab, x->gtab_frames);
	x->gtab = NULL;
	if (x->fm != NULL)
		xenforeignmemory_close(x->fm);
	x->fm = NULL;
	if (x->xc != NULL)
		xencall_close(x->xc);
	x->xc = NULL;
}

static int gt_op(nc2_xen *x, unsigned int cmd, void *buf)
{
	return xencall3(x->xc, __HYPERVISOR_grant_table_op, cmd, (uint64_t)(uintptr_t)buf, 1);
}

/*
 * Map our own grant table read-write and take the region's entries over:
 * check they are what gntalloc wrote (v1, permit_access to the peer,
 * writable), then end access to every one (granted on demand).
 * On failure leaves x in bookkeeping mode with the reason in x->err.
 */
static int gt_setup(nc2_xen *x)
{
	xen_pfn_t *frames = NULL;
	int *errs = NULL;
	int rc = NC2_ERR_UNSUPPORTED;

	x->xc = xencall_open(&x->log.vtable, 0);
	if (x->xc == NULL)
		return xn_fail(x, "direct grant table: xencall_open", errno, NC2_ERR_UNSUPPORTED);
	x->fm = xenforeignmemory_open(&x->log.vtable, 0);
	if (x->fm == NULL) {
		rc = xn_fail(x, "direct grant table: xenforeignmemory_open", errno, rc);
		goto out;
	}

	struct gnttab_get_version *gv = xencall_alloc_buffer(x->xc, sizeof(*gv));
	if (gv == NULL) {
		rc = xn_fail(x, "direct grant table: xencall_alloc_buffer", errno, rc);
		goto out;
	}
	memset(gv, 0, sizeof(*gv));
	gv->dom = DOMID_SELF;
	if (gt_op(x, GNTTABOP_get_version, gv) != 0 || gv->version != 1) {
		int e = errno;
		uint32_t v = gv->version;
		xencall_free_buffer(x->xc, gv);
		if (v != 1 && v != 0)
			rc = xn_fail(x, "direct grant table: not grant table v1", 0, rc);
		else
			rc = xn_fail(x, "direct grant table: GNTTABOP_get_version", e, rc);
		goto out;
	}
	xencall_free_buffer(x->xc, gv);

	struct gnttab_query_size *qs = xencall_alloc_buffer(x->xc, sizeof(*qs));
	if (qs == NULL) {
		rc = xn_fail(x, "direct grant table: xencall_alloc_buffer", errno, rc);
		goto out;
	}
	memset(qs, 0, sizeof(*qs));
	qs->dom = DOMID_SELF;
	int r = gt_op(x, GNTTABOP_query_size, qs);
	uint32_t nr = qs->nr_frames;
	int16_t qst = qs->status;
	xencall_free_buffer(x->xc, qs);
	if (r != 0 || qst != GNTST_okay || nr == 0) {
		rc = xn_fail(x, "direct grant table: GNTTABOP_query_size", errno, rc);
		goto out;
	}

	xen_pfn_t *hframes = xencall_alloc_buffer(x->xc, nr * sizeof(xen_pfn_t));
	struct gnttab_setup_table *su = xencall_alloc_buffer(x->xc, sizeof(*su));
	if (hframes == NULL || su == NULL) {
		if (hframes)
			xencall_free_buffer(x->xc, hframes);
		if (su)
			xencall_free_buffer(x->xc, su);
		rc = xn_fail(x, "direct grant table: xencall_alloc_buffer", errno, rc);
		goto out;
	}
	memset(su, 0, sizeof(*su));
	su->dom = DOMID_SELF;
	su->nr_frames = nr;
	set_xen_guest_handle(su->frame_list, hframes);
	r = gt_op(x, GNTTABOP_setup_table, su);
	int16_t sst = su->status;
	frames = calloc(nr, sizeof(*frames));
	errs = calloc(nr, sizeof(*errs));
	if (frames != NULL)
		memcpy(frames, hframes, nr * sizeof(*frames));
	xencall_free_buffer(x->xc, su);
	xencall_free_buffer(x->xc, hframes);
	if (r != 0 || sst != GNTST_okay) {
		rc = xn_fail(x, "direct grant table: GNTTABOP_setup_table", errno, rc);
		goto out;
	}
	if (frames == NULL || errs == NULL) {
		rc = xn_fail(x, "direct grant table", ENOMEM, rc);
		goto out;
	}
	x->gtab = xenforeignmemory_map(x->fm, DOMID_SELF, PROT_READ | PROT_WRITE, nr, frames, errs);
	if (x->gtab == NULL) {
		rc = xn_fail(x, "direct grant table: xenforeignmemory_map(DOMID_SELF)", errno, rc);
		goto out;
	}
	x->gtab_frames = nr;
	x->gtab_entries = nr * (XN_PAGE / (uint32_t)sizeof(grant_entry_v1_t));
	for (uint32_t i = 0; i < nr; i++) {
		if (errs[i] != 0) {
			rc = xn_fail(x, "direct grant table: mapping a frame", -errs[i], rc);
			goto out;
		}
	}
	/* Is this the table gntalloc wrote the region's entries into? */
	for (uint32_t i = 0; i < x->npages; i++) {
		uint32_t ref = x->refs[i];
		if (ref >= x->gtab_entries) {
			rc = xn_fail(x, "direct grant table: region reference beyond the table", 0,
				     rc);
			goto out;
		}
		const grant_entry_v1_t *e =
		    (const grant_entry_v1_t *)(const void *)(x->gtab + (size_t)ref * sizeof(*e));
		uint16_t fl = gt_load(gt_flags(x, ref));
		if ((fl & GTF_type_mask) != GTF_permit_access || (fl & GTF_readonly) ||
		    e->domid != x->peer) {
			rc = xn_fail(x, "direct grant table: entries do not match the region", 0,
				     rc);
			goto out;
		}
	}
	/* Take them over: nothing is granted until grant(). */
	for (uint32_t i = 0; i < x->npages; i++) {
		if (gt_end(x, x->refs[i]) != NC2_OK) {
			/* Someone maps a page nobody was told about: give up on
			 * direct mode and leave what we ended re-granted. */
			for (uint32_t j = 0; j < i; j++)
				__atomic_store_n(gt_flags(x, x->refs[j]),
						 (uint16_t)GTF_permit_access, __ATOMIC_RELEASE);
			rc = xn_fail(x, "direct grant table: region page mapped at open", 0, rc);
			goto out;
		}
	}
	rc = NC2_OK;
out:
	free(frames);
	free(errs);
	if (rc != NC2_OK)
		gt_unmap(x);
	return rc;
}

/* ---- region ------------------------------------------------------------- */

static int refidx_cmp(const void *a, const void *b)
{
	const struct refidx *p = a, *q = b;
	return p->ref < q->ref ? -1 : p->ref > q->ref;
}

/* Region page index of \p gref, or -1. */
static int64_t region_find(const nc2_xen *x, uint32_t gref)
{
	uint32_t lo = 0, hi = x->npages;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (x->byref[mid].ref == gref)
			return x->byref[mid].idx;
		if (x->byref[mid].ref < gref)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int region_index(const nc2_xen *x, const void *page, uint32_t *idx)
{
	if (x->region == NULL || page == NULL)
		return NC2_ERR_INVALID_ARG;
	uintptr_t base = (uintptr_t)x->region, p = (uintptr_t)page;
	if (p < base || p - base >= (uintptr_t)x->npages * XN_PAGE || (p - base) % XN_PAGE != 0)
		return NC2_ERR_INVALID_ARG;
	*idx = (uint32_t)((p - base) / XN_PAGE);
	return NC2_OK;
}

static int region_setup(nc2_xen *x, uint32_t pages)
{
	x->refs = calloc(pages, sizeof(*x->refs));
	x->pg = calloc(pages, sizeof(*x->pg));
	x->byref = calloc(pages, sizeof(*x->byref));
	if (x->refs == NULL || x->pg == NULL || x->byref == NULL)
		return xn_fail(x, "grantable region", ENOMEM, NC2_ERR_NOSPACE);
	x->region = xengntshr_share_pages(x->gs, x->peer, (int)pages, x->refs, 1);
	if (x->region == NULL) {
		int e = errno;
		return xn_fail(x, "xengntshr_share_pages (grantable region)", e,
			       e == ENOMEM || e == ENOSPC ? NC2_ERR_NOSPACE : NC2_ERR_TRANSPORT);
	}
	x->npages = pages;
	for (uint32_t i = 0; i < pages; i++)
		x->byref[i] = (struct refidx){.ref = x->refs[i], .idx = i};
	qsort(x->byref, pages, sizeof(*x->byref), refidx_cmp);
	return NC2_OK;
}

/* ---- transport ops ------------------------------------------------------ */

static int xn_grant(void *ctx, void *page, uint32_t flags, uint32_t *gref)
{
	nc2_xen *x = ctx;
	uint32_t idx;
	if (gref == NULL || (flags & ~NC2_GNT_FLAGS_KNOWN) != 0)
		return NC2_ERR_INVALID_ARG;
	int rc = region_index(x, page, &idx);
	if (rc != NC2_OK)
		return rc;
	struct rpage *p = &x->pg[idx];
	int ro = (flags & NC2_GNT_READONLY) != 0;
	if (p->grants == UINT32_MAX)
		return NC2_ERR_NOSPACE;
	/* The page's one reference is held, access ended, until its revoke:
	 * granting it again would reopen it to whoever still names it. */
	if (p->ended)
		return NC2_ERR_AGAIN;
	if (x->gtab != NULL) {
		volatile uint16_t *f = gt_flags(x, x->refs[idx]);
		if (p->grants == 0) {
			uint16_t v = (uint16_t)(GTF_permit_access | (ro ? GTF_readonly : 0u));
			/* Entry is not in use (we ended it): a plain store, after
			 * the page contents (release). */
			__atomic_store_n(f, v, __ATOMIC_RELEASE);
		} else if (!ro && !p->rw) {
			/* read-only -> writable: clear GTF_readonly atomically */
			__atomic_fetch_and(f, (uint16_t)~GTF_readonly, __ATOMIC_SEQ_CST);
		}
	}
	if (p->grants == 0)
		p->rw = 0;
	if (!ro)
		p->rw = 1;
	if (p->grants++ == 0)
		x->st.grants_active++;
	x->st.grants++;
	*gref = x->refs[idx];
	return NC2_OK;
}

static int xn_revoke(void *ctx, uint32_t gref)
{
	nc2_xen *x = ctx;
	int64_t i = region_find(x, gref);
	if (i < 0)
		return NC2_ERR_NOT_FOUND;
	struct rpage *p = &x->pg[i];
	if (p->grants == 0)
		return NC2_ERR_NOT_FOUND;
	if (p->grants == 1 && x->gtab != NULL && !p->ended) {
		int rc = gt_end(x, gref);
		if (rc != NC2_OK) {
			x->st.revoke_busy++;
			return rc;
		}
	}
	if (--p->grants == 0) {
		p->rw = 0;
		p->ended = 0;
		x->st.grants_active--;
	}
	x->st.revokes++;
	return NC2_OK;
}

/* End the peer's access now, keep the reference until revoke. With several
 * grants of the page outstanding they share the reference: all end. */
static int xn_end_access(void *ctx, uint32_t gref)
{
	nc2_xen *x = ctx;
	int64_t i = region_find(x, gref);
	if (i < 0 || x->pg[i].grants == 0)
		return NC2_ERR_NOT_FOUND;
	struct rpage *p = &x->pg[i];
	if (p->ended)
		return NC2_OK;
	if (x->gtab != NULL) {
		int rc = gt_end(x, gref);
		if (rc != NC2_OK) {
			x->st.revoke_busy++;
			return rc;
		}
	}
	p->ended = 1;
	x->st.ended++;
	return NC2_OK;
}

/*
 * One gntdev mapping (one VMA) per page: the grant cache evicts pages one by
 * one, and unmapping part of a multi-page gntdev mapping (a split VMA) is
 * the path PV kernels got wrong (Linux "xen/gntdev: Accommodate VMA
 * splitting", 2022). A map is a control-path call here; the core batches
 * only what it misses.
 */
static int map_one(nc2_xen *x, nc2_map_op *op)
{
	int rw = !(op->flags & NC2_GNT_READONLY);
	if ((op->flags & ~NC2_GNT_FLAGS_KNOWN) != 0)
		return NC2_ERR_INVALID_ARG;
	if (x->peer_gone)
		return NC2_ERR_PEER_GONE;
	void *a = xengnttab_map_grant_ref(x->gt, x->peer, op->gref,
					  rw ? PROT_READ | PROT_WRITE : PROT_READ);
	if (a == NULL) {
		int e = errno;
		return xn_fail(x, "xengnttab_map_grant_ref", e, map_errno(e));
	}
	mt_entry *m = mt_add(&x->maps, 0, rw, op->gref, a);
	if (m == NULL) {
		xengnttab_unmap(x->gt, a, 1);
		return NC2_ERR_NOSPACE;
	}
	x->st.map_pages++;
	op->addr = a;
	op->handle = m->handle;
	return NC2_OK;
}

static int xn_map(void *ctx, nc2_map_op *ops, uint32_t n)
{
	nc2_xen *x = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		int rc = map_one(x, &ops[i]);
		if (rc != NC2_OK) {
			ops[i].addr = NULL;
			ops[i].handle = 0;
		}
		ops[i].status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

static int xn_unmap(void *ctx, nc2_map_op *ops, uint32_t n)
{
	nc2_xen *x = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		mt_entry *m = mt_find(&x->maps, ops[i].handle, ops[i].addr);
		int rc = NC2_ERR_INVALID_ARG; /* unknown, stale or repeated */
		if (m != NULL && xengnttab_unmap(x->gt, m->addr, 1) != 0) {
			rc = xn_fail(x, "xengnttab_unmap", errno, NC2_ERR_TRANSPORT);
		} else if (m != NULL) {
			mt_remove(&x->maps, m);
			x->st.unmap_pages++;
			rc = NC2_OK;
		}
		ops[i].status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

/* Check one end of a copy; returns the segment flag bit or an error. */
static int copy_end_check(const nc2_copy_end *e, uint16_t len)
{
	if (e->local != NULL)
		return 0;
	if ((uint32_t)e->offset + len > XN_PAGE)
		return NC2_ERR_INVALID_ARG;
	return 1;
}

static int xn_copy(void *ctx, nc2_copy_op *ops, uint32_t n)
{
	nc2_xen *x = ctx;
	int ret = NC2_OK;
	if (n == 0)
		return NC2_OK;
	if (ops == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t cap = n < XN_BATCH_MAX ? n : XN_BATCH_MAX;
	xengnttab_grant_copy_segment_t *segs = calloc(cap, sizeof(*segs));
	uint32_t *which = calloc(cap, sizeof(*which));
	if (segs == NULL || which == NULL) {
		free(segs);
		free(which);
		for (uint32_t i = 0; i < n; i++)
			ops[i].status = NC2_ERR_NOSPACE;
		return NC2_ERR_NOSPACE;
	}
	uint32_t i = 0;
	while (i < n) {
		uint32_t k = 0;
		for (; i < n && k < cap; i++) {
			nc2_copy_op *op = &ops[i];
			int s = copy_end_check(&op->src, op->len);
			int d = copy_end_check(&op->dst, op->len);
			if (s < 0 || d < 0) {
				op->status = NC2_ERR_INVALID_ARG;
				continue;
			}
			if (x->peer_gone && (s || d)) {
				op->status = NC2_ERR_PEER_GONE;
				continue;
			}
			if (op->len == 0) {
				op->status = NC2_OK;
				continue;
			}
			if (!s && !d) {
				memmove(op->dst.local, op->src.local, op->len);
				op->status = NC2_OK;
				continue;
			}
			xengnttab_grant_copy_segment_t *g = &segs[k];
			memset(g, 0, sizeof(*g));
			if (s) {
				g->source.foreign.ref = op->src.gref;
				g->source.foreign.offset = op->src.offset;
				g->source.foreign.domid = (uint16_t)x->peer;
				g->flags |= GNTCOPY_source_gref;
			} else {
				g->source.virt = op->src.local;
			}
			if (d) {
				g->dest.foreign.ref = op->dst.gref;
				g->dest.foreign.offset = op->dst.offset;
				g->dest.foreign.domid = (uint16_t)x->peer;
				g->flags |= GNTCOPY_dest_gref;
			} else {
				g->dest.virt = op->dst.local;
			}
			g->len = op->len;
			which[k++] = i;
		}
		if (k == 0)
			continue;
		x->st.copy_calls++;
		x->st.copy_segs += k;
		if (xengnttab_grant_copy(x->gt, k, segs) != 0) {
			int e = errno;
			int rc = xn_fail(x, "xengnttab_grant_copy", e,
					 e == EFAULT || e == EINVAL ? NC2_ERR_INVALID_ARG
								    : NC2_ERR_TRANSPORT);
			for (uint32_t j = 0; j < k; j++)
				ops[which[j]].status = rc;
			x->st.copy_failed += k;
			continue;
		}
		for (uint32_t j = 0; j < k; j++) {
			ops[which[j]].status = gntst_status(segs[j].status);
			if (segs[j].status != GNTST_okay)
				x->st.copy_failed++;
		}
	}
	free(segs);
	free(which);
	for (i = 0; i < n; i++)
		if (ops[i].status != NC2_OK && ret == NC2_OK)
			ret = ops[i].status;
	return ret;
}

/* Refresh peer_gone from the peer's alive byte. */
static void check_alive(nc2_xen *x)
{
	if (x->peer_gone || x->ctrl == NULL)
		return;
	uint32_t off = x->role == ROLE_FE ? NC2_XEN_ALIVE_BE : NC2_XEN_ALIVE_FE;
	uint8_t v = __atomic_load_n(x->ctrl + off, __ATOMIC_ACQUIRE);
	/* A frontend cannot tell "not attached yet" from "gone" by the alive
	 * byte alone: the backend's attached byte says which. */
	if (x->role == ROLE_FE && __atomic_load_n(x->ctrl + NC2_XEN_ATTACHED_BE, __ATOMIC_ACQUIRE))
		x->peer_seen = 1;
	if (v)
		x->peer_seen = 1;
	else if (x->peer_seen)
		x->peer_gone = 1;
}

static int xn_notify(void *ctx)
{
	nc2_xen *x = ctx;
	check_alive(x);
	if (x->peer_gone)
		return NC2_ERR_PEER_GONE;
	if (x->role == 0)
		return NC2_ERR_STATE;
	if (xenevtchn_notify(x->xe, x->port) != 0)
		return xn_fail(x, "xenevtchn_notify", errno, NC2_ERR_TRANSPORT);
	x->st.notifies++;
	return NC2_OK;
}

static int xn_poll_fd(void *ctx)
{
	nc2_xen *x = ctx;
	int fd = xenevtchn_fd(x->xe);
	return fd >= 0 ? fd : NC2_ERR_UNSUPPORTED;
}

static int xn_peer(void *ctx, nc2_peer_id *id)
{
	nc2_xen *x = ctx;
	if (id == NULL)
		return NC2_ERR_INVALID_ARG;
	memset(id, 0, sizeof(*id));
	id->domid = x->peer;
	return NC2_OK;
}

static const nc2_transport_ops xn_ops = {
    .version = NC2_TRANSPORT_OPS_VERSION,
    .size = sizeof(nc2_transport_ops),
    .grant = xn_grant,
    .revoke = xn_revoke,
    .map = xn_map,
    .unmap = xn_unmap,
    .copy = xn_copy,
    .notify = xn_notify,
    .poll_fd = xn_poll_fd,
    .peer = xn_peer,
    .end_access = xn_end_access,
};

/* ---- open / close ------------------------------------------------------- */

void nc2_xen_config_default(nc2_xen_config *cfg, uint32_t peer_domid)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->struct_size = sizeof(*cfg);
	cfg->peer_domid = peer_domid;
}

const char *nc2_xen_open_error(void)
{
	return xn_open_err;
}

int nc2_xen_open(const nc2_xen_config *cfg, nc2_xen **out, nc2_transport *t)
{
	xn_open_err[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (cfg == NULL || out == NULL || t == NULL)
		return NC2_ERR_INVALID_ARG;
	if (cfg->struct_size < sizeof(*cfg))
		return NC2_ERR_VERSION;
	if (cfg->peer_domid >= DOMID_FIRST_RESERVED || (cfg->flags & ~NC2_XEN_F_NO_DIRECT) != 0 ||
	    cfg->grant_pages > (1u << 20))
		return NC2_ERR_INVALID_ARG;
	nc2_xen *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NC2_ERR_NOSPACE;
	x->peer = cfg->peer_domid;
	x->flags = cfg->flags;
	mt_init(&x->maps);
	x->log.vtable.vmessage = xn_log_vmessage;
	x->log.vtable.progress = xn_log_progress;
	x->log.vtable.destroy = xn_log_destroy;
	x->log.x = x;

	int rc = NC2_OK;
	x->gt = xengnttab_open(&x->log.vtable, 0);
	if (x->gt == NULL) {
		rc = xn_fail(x, "xengnttab_open (/dev/xen/gntdev)", errno, NC2_ERR_TRANSPORT);
		goto fail;
	}
	x->xe = xenevtchn_open(&x->log.vtable, 0);
	if (x->xe == NULL) {
		rc = xn_fail(x, "xenevtchn_open (/dev/xen/evtchn)", errno, NC2_ERR_TRANSPORT);
		goto fail;
	}
	if (cfg->grant_pages > 0) {
		x->gs = xengntshr_open(&x->log.vtable, 0);
		if (x->gs == NULL) {
			rc = xn_fail(x, "xengntshr_open (/dev/xen/gntalloc)", errno,
				     NC2_ERR_TRANSPORT);
			goto fail;
		}
		if ((rc = region_setup(x, cfg->grant_pages)) != NC2_OK)
			goto fail;
		if (!(cfg->flags & NC2_XEN_F_NO_DIRECT)) {
			if (gt_setup(x) == NC2_OK)
				x->caps |= NC2_XEN_CAP_REVOKE | NC2_XEN_CAP_READONLY;
			/* else: bookkeeping mode; x->err says why */
		} else {
			(void)xn_fail(x, "direct grant table: disabled by NC2_XEN_F_NO_DIRECT", 0,
				      0);
		}
	}
	memset(t, 0, sizeof(*t));
	t->ops = &xn_ops;
	t->ctx = x;
	*out = x;
	return NC2_OK;
fail:
	xn_open_err[0] = '\0';
	xn_append(xn_open_err, sizeof(xn_open_err), x->err);
	nc2_xen_close(x);
	return rc;
}

void nc2_xen_close(nc2_xen *x)
{
	if (x == NULL)
		return;
	if (x->role != 0)
		(void)nc2_xen_disconnect(x);
	for (uint32_t i = 0; i < x->maps.nr; i++)
		if (x->maps.e[i].used)
			(void)xengnttab_unmap(x->gt, x->maps.e[i].addr, 1);
	mt_fini(&x->maps);
	/* The region: the kernel ends each grant when the peer no longer
	 * maps it (gnttab_end_foreign_access defers otherwise). */
	if (x->region != NULL)
		xengntshr_unshare(x->gs, x->region, x->npages);
	gt_unmap(x);
	free(x->refs);
	free(x->pg);
	free(x->byref);
	if (x->gs != NULL)
		xengntshr_close(x->gs);
	if (x->xe != NULL)
		xenevtchn_close(x->xe);
	if (x->gt != NULL)
		xengnttab_close(x->gt);
	free(x);
}

uint32_t nc2_xen_caps(const nc2_xen *x)
{
	return x != NULL ? x->caps : 0;
}

uint32_t nc2_xen_peer_domid(const nc2_xen *x)
{
	return x != NULL ? x->peer : 0;
}

int nc2_xen_last_errno(const nc2_xen *x)
{
	return x != NULL ? x->err_no : 0;
}

const char *nc2_xen_last_error(const nc2_xen *x)
{
	return x != NULL ? x->err : "";
}

/* ---- grantable memory --------------------------------------------------- */

void *nc2_xen_alloc(nc2_xen *x, uint32_t pages)
{
	if (x == NULL || pages == 0 || pages > x->npages)
		return NULL;
	for (uint32_t i = 0; i + pages <= x->npages; i++) {
		uint32_t j = 0;
		while (j < pages && !x->pg[i + j].alloc)
			j++;
		if (j == pages) {
			for (j = 0; j < pages; j++)
				x->pg[i + j].alloc = 1;
			x->st.region_used += pages;
			uint8_t *p = x->region + (size_t)i * XN_PAGE;
			memset(p, 0, (size_t)pages * XN_PAGE);
			return p;
		}
		i += j; /* skip past the allocated page that stopped us */
	}
	return NULL;
}

int nc2_xen_free(nc2_xen *x, void *p, uint32_t pages)
{
	uint32_t idx;
	if (x == NULL || region_index(x, p, &idx) != NC2_OK || pages > x->npages - idx)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t j = 0; j < pages; j++)
		if (!x->pg[idx + j].alloc || x->pg[idx + j].grants != 0)
			return NC2_ERR_STATE;
	for (uint32_t j = 0; j < pages; j++)
		x->pg[idx + j].alloc = 0;
	x->st.region_used -= pages;
	return NC2_OK;
}

/* ---- connection --------------------------------------------------------- */

uint32_t nc2_xen_ring_pages(uint32_t order)
{
	if (order < NC2_RING_ORDER_MIN || order > NC2_XEN_RING_ORDER_MAX)
		return 0;
	return order <= 12 ? 1u : 1u << (order - 12u);
}

static void fill_view(nc2_ring_mem *view, uint8_t *ctrl, uint8_t *payload, uint32_t rp,
		      uint32_t order)
{
	if (view == NULL)
		return;
	view->ctrl = ctrl;
	view->payload[0] = payload;
	view->payload[1] = payload + (size_t)rp * XN_PAGE;
	view->order[0] = order;
	view->order[1] = order;
}

int nc2_xen_front_connect(nc2_xen *x, uint32_t order, nc2_xen_conn *conn, nc2_ring_mem *view)
{
	if (x == NULL || conn == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t rp = nc2_xen_ring_pages(order);
	if (rp == 0)
		return NC2_ERR_INVALID_ARG;
	if (x->role != 0)
		return NC2_ERR_STATE;
	if (x->gs == NULL) {
		x->gs = xengntshr_open(&x->log.vtable, 0);
		if (x->gs == NULL)
			return xn_fail(x, "xengntshr_open (/dev/xen/gntalloc)", errno,
				       NC2_ERR_TRANSPORT);
	}
	memset(conn, 0, sizeof(*conn));
	xenevtchn_port_or_error_t port = xenevtchn_bind_unbound_port(x->xe, x->peer);
	if (port < 0)
		return xn_fail(x, "xenevtchn_bind_unbound_port", errno, NC2_ERR_TRANSPORT);
	uint8_t *ctrl = xengntshr_share_page_notify(x->gs, x->peer, &conn->refs[0], 1,
						    NC2_XEN_ALIVE_FE, (evtchn_port_t)port);
	if (ctrl == NULL) {
		int e = errno;
		xenevtchn_unbind(x->xe, (evtchn_port_t)port);
		return xn_fail(x, "xengntshr_share_page_notify (ring control)", e,
			       e == ENOMEM || e == ENOSPC ? NC2_ERR_NOSPACE : NC2_ERR_TRANSPORT);
	}
	uint8_t *payload = xengntshr_share_pages(x->gs, x->peer, (int)(2u * rp), &conn->refs[1], 1);
	if (payload == NULL) {
		int e = errno;
		xengntshr_unshare(x->gs, ctrl, 1);
		xenevtchn_unbind(x->xe, (evtchn_port_t)port);
		return xn_fail(x, "xengntshr_share_pages (ring payload)", e,
			       e == ENOMEM || e == ENOSPC ? NC2_ERR_NOSPACE : NC2_ERR_TRANSPORT);
	}
	memset(ctrl, 0, XN_PAGE);
	nc2_ring_ctrl_init(ctrl);
	__atomic_store_n(ctrl + NC2_XEN_ALIVE_FE, (uint8_t)1, __ATOMIC_RELEASE);
	conn->order = order;
	conn->nr_refs = 1u + 2u * rp;
	conn->evtchn = (uint32_t)port;
	x->role = ROLE_FE;
	x->port = (uint32_t)port;
	x->ctrl = ctrl;
	x->payload = payload;
	x->ring_rp = rp;
	x->ring_total = 1u + 2u * rp;
	x->peer_seen = 0;
	x->peer_gone = 0;
	x->st.ring_mapped = x->ring_total;
	x->caps |= NC2_XEN_CAP_UNMAP_NOTIFY;
	fill_view(view, ctrl, payload, rp, order);
	return NC2_OK;
}

/* Arm unmap-notify on the backend's ring mapping (byte + event). */
static int arm_back_notify(nc2_xen *x)
{
#ifdef __linux__
	struct ioctl_gntdev_get_offset_for_vaddr q;
	memset(&q, 0, sizeof(q));
	q.vaddr = (uint64_t)(uintptr_t)x->ring_map;
	if (ioctl(xengnttab_fd(x->gt), IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &q) != 0)
		return xn_fail(x, "ioctl(IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR)", errno,
			       NC2_ERR_TRANSPORT);
	struct ioctl_gntdev_unmap_notify un;
	memset(&un, 0, sizeof(un));
	un.index = q.offset + NC2_XEN_ALIVE_BE;
	un.action = UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT;
	un.event_channel_port = x->port;
	if (ioctl(xengnttab_fd(x->gt), IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &un) != 0)
		return xn_fail(x, "ioctl(IOCTL_GNTDEV_SET_UNMAP_NOTIFY)", errno, NC2_ERR_TRANSPORT);
	return NC2_OK;
#else
	(void)x;
	return NC2_ERR_UNSUPPORTED;
#endif
}

int nc2_xen_back_connect(nc2_xen *x, const nc2_xen_conn *conn, nc2_ring_mem *view)
{
	if (x == NULL || conn == NULL)
		return NC2_ERR_INVALID_ARG;
	if (x->role != 0)
		return NC2_ERR_STATE;
	uint32_t rp = nc2_xen_ring_pages(conn->order);
	if (rp == 0 || conn->nr_refs != 1u + 2u * rp)
		return xn_fail(x, "ring geometry", 0, NC2_ERR_PEER_SETUP);
	xenevtchn_port_or_error_t port =
	    xenevtchn_bind_interdomain(x->xe, x->peer, (evtchn_port_t)conn->evtchn);
	if (port < 0)
		return xn_fail(x, "xenevtchn_bind_interdomain", errno, NC2_ERR_PEER_SETUP);
	uint32_t refs[NC2_XEN_RING_REFS_MAX];
	memcpy(refs, conn->refs, (size_t)conn->nr_refs * sizeof(refs[0]));
	uint8_t *base = xengnttab_map_domain_grant_refs(x->gt, conn->nr_refs, x->peer, refs,
							PROT_READ | PROT_WRITE);
	if (base == NULL) {
		int e = errno;
		xenevtchn_unbind(x->xe, (evtchn_port_t)port);
		return xn_fail(x, "xengnttab_map_domain_grant_refs (ring)", e,
			       map_errno(e) == NC2_ERR_NOSPACE ? NC2_ERR_NOSPACE
							       : NC2_ERR_PEER_SETUP);
	}
	x->role = ROLE_BE;
	x->port = (uint32_t)port;
	x->ring_map = base;
	x->ctrl = base;
	x->ring_rp = rp;
	x->ring_total = conn->nr_refs;
	x->peer_gone = 0;
	x->peer_seen = 0;
	x->st.ring_mapped = x->ring_total;
	if (arm_back_notify(x) == NC2_OK)
		x->caps |= NC2_XEN_CAP_UNMAP_NOTIFY;
	else
		x->caps &= ~NC2_XEN_CAP_UNMAP_NOTIFY;
	__atomic_store_n(base + NC2_XEN_ALIVE_BE, (uint8_t)1, __ATOMIC_RELEASE);
	__atomic_store_n(base + NC2_XEN_ATTACHED_BE, (uint8_t)1, __ATOMIC_RELEASE);
	check_alive(x);
	fill_view(view, base, base + XN_PAGE, rp, conn->order);
	return NC2_OK;
}

int nc2_xen_disconnect(nc2_xen *x)
{
	if (x == NULL)
		return NC2_ERR_INVALID_ARG;
	if (x->role == 0)
		return NC2_ERR_STATE;
	int rc = NC2_OK;
	uint32_t own = x->role == ROLE_FE ? NC2_XEN_ALIVE_FE : NC2_XEN_ALIVE_BE;
	__atomic_store_n(x->ctrl + own, (uint8_t)0, __ATOMIC_RELEASE);
	if (!x->peer_gone)
		(void)xenevtchn_notify(x->xe, x->port);
	if (x->role == ROLE_FE) {
		if (xengntshr_unshare(x->gs, x->payload, 2u * x->ring_rp) != 0)
			rc = xn_fail(x, "xengntshr_unshare (ring payload)", errno,
				     NC2_ERR_TRANSPORT);
		if (xengntshr_unshare(x->gs, x->ctrl, 1) != 0)
			rc = xn_fail(x, "xengntshr_unshare (ring control)", errno,
				     NC2_ERR_TRANSPORT);
	} else {
		if (xengnttab_unmap(x->gt, x->ring_map, x->ring_total) != 0)
			rc = xn_fail(x, "xengnttab_unmap (ring)", errno, NC2_ERR_TRANSPORT);
	}
	if (xenevtchn_unbind(x->xe, (evtchn_port_t)x->port) != 0 && rc == NC2_OK)
		rc = xn_fail(x, "xenevtchn_unbind", errno, NC2_ERR_TRANSPORT);
	x->role = 0;
	x->ctrl = NULL;
	x->payload = NULL;
	x->ring_map = NULL;
	x->ring_total = 0;
	x->st.ring_mapped = 0;
	return rc;
}

/* ---- events ------------------------------------------------------------- */

int nc2_xen_fd(nc2_xen *x)
{
	if (x == NULL)
		return NC2_ERR_INVALID_ARG;
	return xn_poll_fd(x);
}

int nc2_xen_ack(nc2_xen *x)
{
	if (x == NULL)
		return NC2_ERR_INVALID_ARG;
	int n = 0;
	struct pollfd pfd = {.fd = xenevtchn_fd(x->xe), .events = POLLIN};
	/* xenevtchn_pending() may block on an empty queue: poll first. */
	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		xenevtchn_port_or_error_t p = xenevtchn_pending(x->xe);
		if (p < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return xn_fail(x, "xenevtchn_pending", errno, NC2_ERR_TRANSPORT);
		}
		if (xenevtchn_unmask(x->xe, (evtchn_port_t)p) != 0)
			return xn_fail(x, "xenevtchn_unmask", errno, NC2_ERR_TRANSPORT);
		n++;
	}
	x->st.events += (uint64_t)n;
	check_alive(x);
	return n;
}

int nc2_xen_wait(nc2_xen *x, int timeout_ms)
{
	if (x == NULL)
		return NC2_ERR_INVALID_ARG;
	struct pollfd pfd = {.fd = xenevtchn_fd(x->xe), .events = POLLIN};
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0) {
		if (errno == EINTR)
			return 0;
		return xn_fail(x, "poll (event channel fd)", errno, NC2_ERR_TRANSPORT);
	}
	if (r == 0) {
		check_alive(x);
		return 0;
	}
	return nc2_xen_ack(x);
}

int nc2_xen_peer_alive(nc2_xen *x)
{
	if (x == NULL)
		return NC2_ERR_INVALID_ARG;
	check_alive(x);
	return x->peer_gone ? NC2_ERR_PEER_GONE : NC2_OK;
}

void nc2_xen_set_peer_gone(nc2_xen *x)
{
	if (x != NULL)
		x->peer_gone = 1;
}

void nc2_xen_get_stats(const nc2_xen *x, nc2_xen_stats *s)
{
	if (s == NULL)
		return;
	if (x == NULL) {
		memset(s, 0, sizeof(*s));
		return;
	}
	*s = x->st;
	s->maps_active = x->maps.active;
	s->region_pages = x->npages;
}
