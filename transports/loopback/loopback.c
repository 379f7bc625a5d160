/* SPDX-License-Identifier: MIT */
/*
 * Loopback transport: an in-process, deterministic model of Xen grant tables
 * and event channels (see include/nc2/loopback.h).
 *
 * Model:
 *  - A world holds up to max_domains domains, domids 0, 1, 2, ... in order
 *    of creation.
 *  - A domain owns page-aligned RAM, a grant table (refs 1..grant_entries;
 *    ref 0 is never handed out) with a LIFO free list, and a maptrack table
 *    recording the grants it has mapped.
 *  - A grant entry names the domain it is granted to, a frame of the
 *    granter's RAM (or, when transitive, a (domain, gref) it points at),
 *    flags and separate read-only / read-write map counts. Revoke is refused
 *    while either count is non-zero.
 *  - A map handle identifies one maptrack entry; it encodes the granting
 *    domid, the access mode, a per-domain generation and the slot, so stale
 *    or forged handles are refused (NC2_ERR_INVALID_ARG) without touching
 *    any counter.
 *  - Transport endpoints (local -> peer) are paired with an endpoint of the
 *    reverse direction in open order; notify delivers to the partner's
 *    pending event count (NC2_ERR_PEER_GONE without a partner).
 *
 * Error codes: caller contract violations (NULL, unknown flags, offsets
 * outside the page, bogus handles) are NC2_ERR_INVALID_ARG; grants of the
 * peer that cannot be used (missing, not granted to us, read-only, mapping a
 * transitive grant) are NC2_ERR_PEER_GRANT.
 *
 * No time, no threads, no randomness: every run is replayable. The seed is
 * recorded for fault modes that draw random choices.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nc2/loopback.h>
#include <nc2/version.h>

#include "lo_internal.h"

/* ---- helpers ------------------------------------------------------------ */

static lo_domain *lo_dom(nc2_lo_world *w, uint16_t domid)
{
	if (w == NULL || domid >= w->nr_domains)
		return NULL;
	return &w->domains[domid];
}

static lo_grant *lo_gnt(lo_domain *d, uint32_t gref)
{
	if (d == NULL || gref == 0 || gref > d->nr_grants)
		return NULL;
	if (!(d->grants[gref].flags & LO_GNT_INUSE))
		return NULL;
	return &d->grants[gref];
}

static uint8_t *lo_frame_addr(lo_domain *d, uint32_t frame)
{
	return d->ram + (size_t)frame * LO_PAGE_SIZE;
}

/* ---- grant table -------------------------------------------------------- */

/* Allocate a grant entry in \p d; returns its ref or 0 when the table is full. */
static uint32_t lo_gnt_alloc(lo_domain *d)
{
	uint32_t ref = d->free_head;
	if (ref == 0)
		return 0;
	d->free_head = d->grants[ref].next_free;
	memset(&d->grants[ref], 0, sizeof(d->grants[ref]));
	d->grants[ref].flags = LO_GNT_INUSE;
	d->grants_active++;
	return ref;
}

static void lo_gnt_free(lo_domain *d, uint32_t ref)
{
	memset(&d->grants[ref], 0, sizeof(d->grants[ref]));
	d->grants[ref].next_free = d->free_head;
	d->free_head = ref;
	d->grants_active--;
}

/* Grant the page at \p page of \p d's RAM to \p to. */
static int lo_grant_page(lo_domain *d, uint16_t to, const void *page, uint32_t flags,
			 uint32_t *gref)
{
	if (page == NULL || gref == NULL || (flags & ~NC2_GNT_FLAGS_KNOWN) != 0)
		return NC2_ERR_INVALID_ARG;
	uintptr_t base = (uintptr_t)d->ram;
	uintptr_t p = (uintptr_t)page;
	if (p < base || p - base >= (uintptr_t)d->pages * LO_PAGE_SIZE ||
	    (p - base) % LO_PAGE_SIZE != 0)
		return NC2_ERR_INVALID_ARG;
	uint32_t ref = lo_gnt_alloc(d);
	if (ref == 0)
		return NC2_ERR_NOSPACE;
	lo_grant *g = &d->grants[ref];
	if (flags & NC2_GNT_READONLY)
		g->flags |= LO_GNT_READONLY;
	if (flags & NC2_GNT_STICKY)
		g->flags |= LO_GNT_STICKY;
	g->to = to;
	g->frame = (uint32_t)((p - base) / LO_PAGE_SIZE);
	*gref = ref;
	return NC2_OK;
}

/* Revoke \p gref of \p d, which must be granted to \p to. */
static int lo_revoke_ref(lo_domain *d, uint16_t to, uint32_t gref)
{
	lo_grant *g = lo_gnt(d, gref);
	if (g == NULL || g->to != to)
		return NC2_ERR_NOT_FOUND;
	if (g->map_ro != 0 || g->map_rw != 0)
		return NC2_ERR_AGAIN;
	lo_gnt_free(d, gref);
	return NC2_OK;
}

/*
 * Resolve \p gref of domain \p granter for access by \p accessor (a copy):
 * the entry must be granted to \p accessor; a transitive entry is followed
 * to its source, which must be granted to the intermediate domain. \p write
 * asks for write access, refused if any entry on the way is read-only.
 */
static int lo_resolve(nc2_lo_world *w, uint16_t granter, uint32_t gref, uint16_t accessor,
		      int write, uint8_t **page)
{
	/* In use, and neither ended nor (for a write) read-only: one test. */
	const uint32_t want = LO_GNT_INUSE;
	const uint32_t mask = LO_GNT_INUSE | LO_GNT_ENDED | (write ? LO_GNT_READONLY : 0u);
	for (unsigned depth = 0; depth < LO_TRANS_DEPTH_MAX; depth++) {
		lo_domain *d = lo_dom(w, granter);
		/* gref in 1..nr_grants (ref 0 wraps to the top and fails). */
		if (d == NULL || gref - 1u >= d->nr_grants)
			return NC2_ERR_PEER_GRANT;
		const lo_grant *g = &d->grants[gref];
		if ((g->flags & mask) != want || g->to != accessor)
			return NC2_ERR_PEER_GRANT;
		if (!(g->flags & LO_GNT_TRANSITIVE)) {
			*page = lo_frame_addr(d, g->frame);
			return NC2_OK;
		}
		accessor = granter;
		granter = g->src_dom;
		gref = g->src_gref;
	}
	return NC2_ERR_PEER_GRANT;
}

/*
 * Map \p gref of \p granter into \p mapper. Xen refuses maps of transitive
 * grants (only copies may go through them).
 */
static int lo_map_one(nc2_lo_world *w, uint16_t mapper, uint16_t granter, uint32_t gref, int rw,
		      void **addr, uint64_t *handle)
{
	lo_domain *md = lo_dom(w, mapper);
	lo_domain *gd = lo_dom(w, granter);
	lo_grant *g = lo_gnt(gd, gref);
	if (md == NULL || g == NULL || g->to != mapper ||
	    (g->flags & (LO_GNT_TRANSITIVE | LO_GNT_ENDED)))
		return NC2_ERR_PEER_GRANT;
	if (rw && (g->flags & LO_GNT_READONLY))
		return NC2_ERR_PEER_GRANT;
	mt_entry *m = mt_add(&md->maps, granter, rw, gref, lo_frame_addr(gd, g->frame));
	if (m == NULL)
		return NC2_ERR_NOSPACE;
	if (rw)
		g->map_rw++;
	else
		g->map_ro++;
	*addr = m->addr;
	*handle = m->handle;
	return NC2_OK;
}

/* Unmap \p handle of \p mapper (a map of \p granter's grant at \p addr). */
static int lo_unmap_one(nc2_lo_world *w, uint16_t mapper, uint16_t granter, uint64_t handle,
			const void *addr)
{
	lo_domain *md = lo_dom(w, mapper);
	mt_entry *m = md != NULL ? mt_find(&md->maps, handle, addr) : NULL;
	if (m == NULL || m->tag != granter)
		return NC2_ERR_INVALID_ARG;
	lo_grant *g = lo_gnt(lo_dom(w, granter), m->gref);
	if (g == NULL)
		return NC2_ERR_INVALID_ARG; /* cannot happen: revoke refuses busy entries */
	if (m->rw) {
		if (g->map_rw == 0)
			return NC2_ERR_INVALID_ARG;
		g->map_rw--;
	} else {
		if (g->map_ro == 0)
			return NC2_ERR_INVALID_ARG;
		g->map_ro--;
	}
	mt_remove(&md->maps, m);
	return NC2_OK;
}

/* ---- faults ------------------------------------------------------------- */

/* Count one element of \p op; returns the injected error or NC2_OK. */
static int lo_fault(lo_ep *ep, enum nc2_tp_op op)
{
	lo_fail *f = &ep->fail[op];
	if (f->nth == 0)
		return NC2_OK;
	if (++f->seen != f->nth)
		return NC2_OK;
	f->nth = 0;
	f->seen = 0;
	return f->err;
}

/* ---- transport ops ------------------------------------------------------ */

static int lo_op_grant(void *ctx, void *page, uint32_t flags, uint32_t *gref)
{
	lo_ep *ep = ctx;
	int rc = lo_fault(ep, NC2_TP_GRANT);
	if (rc != NC2_OK)
		return rc;
	return lo_grant_page(lo_dom(ep->w, ep->local), ep->peer, page, flags, gref);
}

static int lo_op_revoke(void *ctx, uint32_t gref)
{
	lo_ep *ep = ctx;
	int rc = lo_fault(ep, NC2_TP_REVOKE);
	if (rc != NC2_OK)
		return rc;
	return lo_revoke_ref(lo_dom(ep->w, ep->local), ep->peer, gref);
}

static int lo_op_end_access(void *ctx, uint32_t gref)
{
	lo_ep *ep = ctx;
	int rc = lo_fault(ep, NC2_TP_END_ACCESS);
	if (rc != NC2_OK)
		return rc;
	lo_grant *g = lo_gnt(lo_dom(ep->w, ep->local), gref);
	if (g == NULL || g->to != ep->peer)
		return NC2_ERR_NOT_FOUND;
	if (g->map_ro != 0 || g->map_rw != 0)
		return NC2_ERR_AGAIN;
	g->flags |= LO_GNT_ENDED;
	return NC2_OK;
}

static int lo_op_map(void *ctx, nc2_map_op *ops, uint32_t n)
{
	lo_ep *ep = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		nc2_map_op *op = &ops[i];
		int rc = lo_fault(ep, NC2_TP_MAP);
		if (rc == NC2_OK && (op->flags & ~NC2_GNT_FLAGS_KNOWN) != 0)
			rc = NC2_ERR_INVALID_ARG;
		if (rc == NC2_OK)
			rc = lo_map_one(ep->w, ep->local, ep->peer, op->gref,
					!(op->flags & NC2_GNT_READONLY), &op->addr, &op->handle);
		if (rc != NC2_OK) {
			op->addr = NULL;
			op->handle = 0;
		}
		op->status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

static int lo_op_unmap(void *ctx, nc2_map_op *ops, uint32_t n)
{
	lo_ep *ep = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		nc2_map_op *op = &ops[i];
		int rc = lo_fault(ep, NC2_TP_UNMAP);
		if (rc == NC2_OK)
			rc = lo_unmap_one(ep->w, ep->local, ep->peer, op->handle, op->addr);
		op->status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

/* Resolve one end of a copy to a pointer. Offsets apply to grant ends only. */
static int lo_copy_end(lo_ep *ep, const nc2_copy_end *e, uint16_t len, int write, uint8_t **p)
{
	if (e->local != NULL) {
		*p = e->local;
		return NC2_OK;
	}
	if ((uint32_t)e->offset + len > LO_PAGE_SIZE)
		return NC2_ERR_INVALID_ARG;
	uint8_t *page;
	int rc = lo_resolve(ep->w, ep->peer, e->gref, ep->local, write, &page);
	if (rc != NC2_OK)
		return rc;
	*p = page + e->offset;
	return NC2_OK;
}

static int lo_op_copy(void *ctx, nc2_copy_op *ops, uint32_t n)
{
	lo_ep *ep = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		nc2_copy_op *op = &ops[i];
		uint8_t *src = NULL, *dst = NULL;
		int rc = lo_fault(ep, NC2_TP_COPY);
		if (rc == NC2_OK)
			rc = lo_copy_end(ep, &op->src, op->len, 0, &src);
		if (rc == NC2_OK)
			rc = lo_copy_end(ep, &op->dst, op->len, 1, &dst);
		if (rc == NC2_OK && op->len != 0)
			memmove(dst, src, op->len);
		op->status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

static int lo_op_notify(void *ctx)
{
	lo_ep *ep = ctx;
	int rc = lo_fault(ep, NC2_TP_NOTIFY);
	if (rc != NC2_OK)
		return rc;
	if (ep->partner == NULL)
		return NC2_ERR_PEER_GONE;
	if (ep->drop != 0) {
		ep->drop--;
		return NC2_OK;
	}
	if (ep->delay) {
		ep->held++;
		return NC2_OK;
	}
	ep->partner->events++;
	return NC2_OK;
}

static int lo_op_peer(void *ctx, nc2_peer_id *id)
{
	lo_ep *ep = ctx;
	if (id == NULL)
		return NC2_ERR_INVALID_ARG;
	memset(id, 0, sizeof(*id));
	id->domid = ep->peer;
	return NC2_OK;
}

static const nc2_transport_ops lo_ops = {
    .version = NC2_TRANSPORT_OPS_VERSION,
    .size = sizeof(nc2_transport_ops),
    .grant = lo_op_grant,
    .revoke = lo_op_revoke,
    .map = lo_op_map,
    .unmap = lo_op_unmap,
    .copy = lo_op_copy,
    .notify = lo_op_notify,
    .poll_fd = NULL,
    .peer = lo_op_peer,
    .end_access = lo_op_end_access,
};

/* The endpoint behind \p t, or NULL if \p t is not an open loopback transport. */
static lo_ep *lo_ep_of(nc2_transport *t)
{
	if (t == NULL || t->ops != &lo_ops || t->ctx == NULL)
		return NULL;
	return t->ctx;
}

/* ---- world and domains -------------------------------------------------- */

nc2_lo_world *nc2_lo_world_create(uint32_t max_domains, uint64_t seed)
{
	if (max_domains == 0 || max_domains > LO_MAX_DOMAINS)
		return NULL;
	nc2_lo_world *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->domains = calloc(max_domains, sizeof(*w->domains));
	if (w->domains == NULL) {
		free(w);
		return NULL;
	}
	w->max_domains = max_domains;
	w->seed = seed;
	return w;
}

int nc2_lo_world_destroy(nc2_lo_world *w)
{
	if (w == NULL)
		return 0;
	uint64_t leaks = 0;
	for (uint32_t i = 0; i < w->nr_domains; i++) {
		lo_domain *d = &w->domains[i];
		leaks += d->grants_active;
		leaks += d->maps.active;
		free(d->ram);
		free(d->grants);
		mt_fini(&d->maps);
	}
	while (w->rings != NULL) {
		lo_ring *r = w->rings;
		w->rings = r->next;
		free(r);
	}
	/* Endpoints still open: their transports must not be used any more. */
	while (w->eps != NULL) {
		lo_ep *ep = w->eps;
		w->eps = ep->next;
		free(ep);
	}
	free(w->domains);
	free(w);
	return leaks > INT32_MAX ? INT32_MAX : (int)leaks;
}

int nc2_lo_domain_create(nc2_lo_world *w, uint32_t pages, uint32_t grant_entries, uint16_t *domid)
{
	if (w == NULL || domid == NULL || pages == 0 || pages > LO_MAX_PAGES ||
	    grant_entries == 0 || grant_entries > LO_MAX_GRANTS)
		return NC2_ERR_INVALID_ARG;
	if (w->nr_domains >= w->max_domains)
		return NC2_ERR_NOSPACE;
	lo_domain *d = &w->domains[w->nr_domains];
	size_t bytes = (size_t)pages * LO_PAGE_SIZE;
	d->ram = aligned_alloc(LO_PAGE_SIZE, bytes);
	d->grants = calloc((size_t)grant_entries + 1u, sizeof(*d->grants));
	if (d->ram == NULL || d->grants == NULL) {
		free(d->ram);
		free(d->grants);
		memset(d, 0, sizeof(*d));
		return NC2_ERR_NOSPACE;
	}
	memset(d->ram, 0, bytes);
	d->pages = pages;
	d->nr_grants = grant_entries;
	/* Free list 1, 2, ..., grant_entries; ref 0 is never handed out. */
	for (uint32_t ref = grant_entries; ref >= 1; ref--) {
		d->grants[ref].next_free = d->free_head;
		d->free_head = ref;
	}
	mt_init(&d->maps);
	*domid = (uint16_t)w->nr_domains;
	w->nr_domains++;
	return NC2_OK;
}

uint8_t *nc2_lo_domain_mem(nc2_lo_world *w, uint16_t domid, size_t *len)
{
	lo_domain *d = lo_dom(w, domid);
	if (len != NULL)
		*len = d != NULL ? (size_t)d->pages * LO_PAGE_SIZE : 0;
	return d != NULL ? d->ram : NULL;
}

uint32_t nc2_lo_grants_active(nc2_lo_world *w, uint16_t domid)
{
	lo_domain *d = lo_dom(w, domid);
	return d != NULL ? d->grants_active : 0;
}

uint32_t nc2_lo_maps_active(nc2_lo_world *w, uint16_t domid)
{
	lo_domain *d = lo_dom(w, domid);
	return d != NULL ? d->maps.active : 0;
}

/* ---- endpoints ---------------------------------------------------------- */

/* Pair \p ep with the oldest unpaired endpoint of the reverse direction. */
static void lo_ep_pair(lo_ep *ep)
{
	for (lo_ep *o = ep->w->eps; o != NULL; o = o->next) {
		if (o != ep && o->partner == NULL && o->local == ep->peer && o->peer == ep->local) {
			o->partner = ep;
			ep->partner = o;
			return;
		}
	}
}

int nc2_lo_transport_open(nc2_lo_world *w, uint16_t local, uint16_t peer, nc2_transport *t)
{
	if (t == NULL || lo_dom(w, local) == NULL || lo_dom(w, peer) == NULL || local == peer)
		return NC2_ERR_INVALID_ARG;
	lo_ep *ep = calloc(1, sizeof(*ep));
	if (ep == NULL)
		return NC2_ERR_NOSPACE;
	ep->w = w;
	ep->local = local;
	ep->peer = peer;
	/* Append, so that pairing follows open order. */
	lo_ep **pp = &w->eps;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = ep;
	lo_ep_pair(ep);
	memset(t, 0, sizeof(*t));
	t->ops = &lo_ops;
	t->ctx = ep;
	return NC2_OK;
}

void nc2_lo_transport_close(nc2_transport *t)
{
	lo_ep *ep = lo_ep_of(t);
	if (ep == NULL)
		return;
	nc2_lo_world *w = ep->w;
	for (lo_ep **pp = &w->eps; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	}
	lo_ep *o = ep->partner;
	if (o != NULL) {
		o->partner = NULL;
		lo_ep_pair(o); /* another endpoint may be waiting for a partner */
	}
	free(ep);
	t->ops = NULL;
	t->ctx = NULL;
}

int nc2_lo_grant_transitive(nc2_transport *t, uint16_t src_domid, uint32_t src_gref, uint32_t *gref)
{
	lo_ep *ep = lo_ep_of(t);
	if (ep == NULL || gref == NULL)
		return NC2_ERR_INVALID_ARG;
	lo_grant *src = lo_gnt(lo_dom(ep->w, src_domid), src_gref);
	if (src == NULL || src->to != ep->local || src_domid == ep->local)
		return NC2_ERR_NOT_FOUND;
	lo_domain *d = lo_dom(ep->w, ep->local);
	uint32_t ref = lo_gnt_alloc(d);
	if (ref == 0)
		return NC2_ERR_NOSPACE;
	lo_grant *g = &d->grants[ref];
	g->flags |= LO_GNT_TRANSITIVE;
	g->to = ep->peer;
	g->src_dom = src_domid;
	g->src_gref = src_gref;
	*gref = ref;
	return NC2_OK;
}

uint32_t nc2_lo_events_take(nc2_transport *t)
{
	lo_ep *ep = lo_ep_of(t);
	if (ep == NULL)
		return 0;
	uint32_t n = ep->events;
	ep->events = 0;
	return n;
}

void nc2_lo_fail_nth(nc2_transport *t, enum nc2_tp_op op, uint64_t nth, int err)
{
	lo_ep *ep = lo_ep_of(t);
	if (ep == NULL || (unsigned)op >= NC2_TP_NR_OPS)
		return;
	lo_fail *f = &ep->fail[op];
	f->nth = nth;
	f->seen = 0;
	f->err = err < 0 ? err : NC2_ERR_TRANSPORT;
}

void nc2_lo_drop_notify(nc2_transport *t, uint32_t count)
{
	lo_ep *ep = lo_ep_of(t);
	if (ep != NULL)
		ep->drop = count;
}

void nc2_lo_delay_notify(nc2_transport *t, int on)
{
	lo_ep *ep = lo_ep_of(t);
	if (ep != NULL)
		ep->delay = on ? 1 : 0;
}

uint32_t nc2_lo_release_notify(nc2_transport *t)
{
	lo_ep *ep = lo_ep_of(t);
	if (ep == NULL)
		return 0;
	uint32_t n = ep->held;
	ep->held = 0;
	if (ep->partner != NULL)
		ep->partner->events += n;
	return n;
}

/* ---- ring setup --------------------------------------------------------- */

static uint32_t lo_ring_pages(uint32_t order)
{
	return order <= LO_PAGE_SHIFT ? 1u : 1u << (order - LO_PAGE_SHIFT);
}

static lo_ring *lo_ring_find(nc2_lo_world *w, uint16_t fe, uint16_t be, uint32_t fe_page,
			     uint32_t order, lo_ring ***link)
{
	for (lo_ring **pp = &w->rings; *pp != NULL; pp = &(*pp)->next) {
		lo_ring *r = *pp;
		if (r->fe == fe && r->be == be && r->fe_page == fe_page && r->order == order) {
			if (link != NULL)
				*link = pp;
			return r;
		}
	}
	return NULL;
}

/* Unmap and revoke what \p r still holds; slots done are zeroed. */
static int lo_ring_release(nc2_lo_world *w, lo_ring *r)
{
	lo_domain *fd = lo_dom(w, r->fe);
	int ret = NC2_OK;
	for (uint32_t i = 0; i < r->npages; i++) {
		lo_ring_slot *s = &r->slot[i];
		if (s->handle == 0)
			continue;
		int rc = lo_unmap_one(w, r->be, r->fe, s->handle, s->addr);
		if (rc == NC2_OK) {
			s->handle = 0;
			s->addr = NULL;
		} else if (ret == NC2_OK) {
			ret = rc;
		}
	}
	for (uint32_t i = 0; i < r->npages; i++) {
		lo_ring_slot *s = &r->slot[i];
		if (s->gref == 0)
			continue;
		int rc = lo_revoke_ref(fd, r->be, s->gref);
		if (rc == NC2_OK)
			s->gref = 0;
		else if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

int nc2_lo_ring_setup(nc2_lo_world *w, uint16_t fe, uint16_t be, uint32_t fe_page, uint32_t order,
		      nc2_ring_mem *fe_view, nc2_ring_mem *be_view)
{
	lo_domain *fd = lo_dom(w, fe);
	if (fd == NULL || lo_dom(w, be) == NULL || fe == be || order < NC2_RING_ORDER_MIN ||
	    order > NC2_RING_ORDER_MAX)
		return NC2_ERR_INVALID_ARG;
	uint32_t rp = lo_ring_pages(order);
	uint32_t npages = 1u + 2u * rp;
	if (fe_page >= fd->pages || fd->pages - fe_page < npages)
		return NC2_ERR_INVALID_ARG;
	for (lo_ring *o = w->rings; o != NULL; o = o->next) {
		if (o->fe == fe && fe_page < o->fe_page + o->npages &&
		    o->fe_page < fe_page + npages)
			return NC2_ERR_STATE; /* overlaps a ring already set up */
	}

	lo_ring *r = calloc(1, sizeof(*r) + (size_t)npages * sizeof(r->slot[0]));
	if (r == NULL)
		return NC2_ERR_NOSPACE;
	r->fe = fe;
	r->be = be;
	r->fe_page = fe_page;
	r->order = order;
	r->npages = npages;

	uint8_t *base = lo_frame_addr(fd, fe_page);
	int rc = NC2_OK;
	for (uint32_t i = 0; i < npages && rc == NC2_OK; i++)
		rc = lo_grant_page(fd, be, base + (size_t)i * LO_PAGE_SIZE, 0, &r->slot[i].gref);
	/* Control-plane maps: counted as be's maps, but no endpoint faults. */
	for (uint32_t i = 0; i < npages && rc == NC2_OK; i++)
		rc =
		    lo_map_one(w, be, fe, r->slot[i].gref, 1, &r->slot[i].addr, &r->slot[i].handle);
	/* The backend needs the pages virtually contiguous (one page each here). */
	for (uint32_t i = 1; i < npages && rc == NC2_OK; i++) {
		if ((uint8_t *)r->slot[i].addr !=
		    (uint8_t *)r->slot[0].addr + (size_t)i * LO_PAGE_SIZE)
			rc = NC2_ERR_PEER_SETUP;
	}
	if (rc != NC2_OK) {
		(void)lo_ring_release(w, r);
		free(r);
		return rc;
	}
	r->next = w->rings;
	w->rings = r;

	/* The memory provider zeroes both ring controls. */
	nc2_ring_ctrl_init(base);

	uint8_t *bbase = r->slot[0].addr;
	size_t ring_bytes = (size_t)rp * LO_PAGE_SIZE;
	if (fe_view != NULL) {
		fe_view->ctrl = base;
		fe_view->payload[0] = base + LO_PAGE_SIZE;
		fe_view->payload[1] = base + LO_PAGE_SIZE + ring_bytes;
		fe_view->order[0] = order;
		fe_view->order[1] = order;
	}
	if (be_view != NULL) {
		be_view->ctrl = bbase;
		be_view->payload[0] = bbase + LO_PAGE_SIZE;
		be_view->payload[1] = bbase + LO_PAGE_SIZE + ring_bytes;
		be_view->order[0] = order;
		be_view->order[1] = order;
	}
	return NC2_OK;
}

int nc2_lo_ring_teardown(nc2_lo_world *w, uint16_t fe, uint16_t be, uint32_t fe_page,
			 uint32_t order)
{
	if (w == NULL)
		return NC2_ERR_INVALID_ARG;
	lo_ring **link = NULL;
	lo_ring *r = lo_ring_find(w, fe, be, fe_page, order, &link);
	if (r == NULL)
		return NC2_ERR_NOT_FOUND;
	/* If be still maps a ring page through its endpoint, revoke fails with
	 * NC2_ERR_AGAIN; what was released stays released and a later call
	 * finishes the job. */
	int rc = lo_ring_release(w, r);
	if (rc != NC2_OK)
		return rc;
	*link = r->next;
	free(r);
	return NC2_OK;
}

int nc2_lo_grant_info_get(nc2_lo_world *w, uint16_t domid, uint32_t gref, nc2_lo_grant_info *info)
{
	if (info == NULL)
		return NC2_ERR_INVALID_ARG;
	lo_grant *g = lo_gnt(lo_dom(w, domid), gref);
	if (g == NULL)
		return NC2_ERR_NOT_FOUND;
	memset(info, 0, sizeof(*info));
	if (g->flags & LO_GNT_READONLY)
		info->flags |= NC2_GNT_READONLY;
	if (g->flags & LO_GNT_STICKY)
		info->flags |= NC2_GNT_STICKY;
	if (g->flags & LO_GNT_TRANSITIVE)
		info->flags |= NC2_LO_GNT_TRANSITIVE;
	info->to = g->to;
	info->map_ro = g->map_ro;
	info->map_rw = g->map_rw;
	return NC2_OK;
}
