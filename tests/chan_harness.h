/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture for the channel tests (check_channel.c, check_hostile.c):
 * a loopback world with a frontend domain (ring memory, grant memory, TX
 * payload area) and a backend domain, one channel per side (or a side played
 * by hand through raw ring access), a pump that flushes and polls both sides
 * until nothing moves, frames whose every octet is checked on arrival, and a
 * teardown that reports leaks.
 *
 * Header-only, static inline, test use only. A pair is heap-allocated and
 * never moved: each side's transport points into it.
 */
#ifndef NC2_CHAN_HARNESS_H
#define NC2_CHAN_HARNESS_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nc2/channel.h>
#include <nc2/loopback.h>
#include <nc2/version.h>

#include "testutil.h"

#define CH_PAGE     4096u
#define CH_BURST    32u
#define CH_RXCAP    65536u
#define CH_FE       0
#define CH_BE       1
#define CH_ROUNDS   20000u /* rounds before a pump gives up (no hang) */
#define CH_EXP_CAP  8192u  /* expected frames queued per direction */
#define CH_BE_SLOTS 8u     /* backend grantable TX slots of 18 pages */
#define CH_BE_PAGES (CH_BE_SLOTS * 18u)

/* ---- transport wrapper: counts elements per op, forwards to loopback ---- */

typedef struct ch_wrap {
	nc2_transport *lo;
	uint64_t elems[NC2_TP_NR_OPS]; /* elements since the last reset */
} ch_wrap;

static inline int ch_w_grant(void *ctx, void *page, uint32_t flags, uint32_t *gref)
{
	ch_wrap *w = ctx;
	w->elems[NC2_TP_GRANT]++;
	return w->lo->ops->grant(w->lo->ctx, page, flags, gref);
}

static inline int ch_w_revoke(void *ctx, uint32_t gref)
{
	ch_wrap *w = ctx;
	w->elems[NC2_TP_REVOKE]++;
	return w->lo->ops->revoke(w->lo->ctx, gref);
}

static inline int ch_w_map(void *ctx, nc2_map_op *ops, uint32_t n)
{
	ch_wrap *w = ctx;
	w->elems[NC2_TP_MAP] += n;
	return w->lo->ops->map(w->lo->ctx, ops, n);
}

static inline int ch_w_unmap(void *ctx, nc2_map_op *ops, uint32_t n)
{
	ch_wrap *w = ctx;
	w->elems[NC2_TP_UNMAP] += n;
	return w->lo->ops->unmap(w->lo->ctx, ops, n);
}

static inline int ch_w_copy(void *ctx, nc2_copy_op *ops, uint32_t n)
{
	ch_wrap *w = ctx;
	w->elems[NC2_TP_COPY] += n;
	return w->lo->ops->copy(w->lo->ctx, ops, n);
}

static inline int ch_w_notify(void *ctx)
{
	ch_wrap *w = ctx;
	w->elems[NC2_TP_NOTIFY]++;
	return w->lo->ops->notify(w->lo->ctx);
}

static inline int ch_w_peer(void *ctx, nc2_peer_id *id)
{
	ch_wrap *w = ctx;
	return w->lo->ops->peer(w->lo->ctx, id);
}

static inline int ch_w_end_access(void *ctx, uint32_t gref)
{
	ch_wrap *w = ctx;
	w->elems[NC2_TP_END_ACCESS]++;
	return w->lo->ops->end_access(w->lo->ctx, gref);
}

static inline const nc2_transport_ops *ch_wrap_ops(void)
{
	static const nc2_transport_ops ops = {
	    .version = NC2_TRANSPORT_OPS_VERSION,
	    .size = sizeof(nc2_transport_ops),
	    .grant = ch_w_grant,
	    .revoke = ch_w_revoke,
	    .map = ch_w_map,
	    .unmap = ch_w_unmap,
	    .copy = ch_w_copy,
	    .notify = ch_w_notify,
	    .poll_fd = NULL,
	    .peer = ch_w_peer,
	    .end_access = ch_w_end_access,
	};
	return &ops;
}

/* ---- frames ------------------------------------------------------------- */

/* Payload octet i of frame seq is ch_ptab()[ch_poff(seq) + i]: a random
 * table read at a per-frame offset, so a shifted, swapped or stale octet
 * shows, and frames are built and checked with memcpy/memcmp. */
static inline const uint8_t *ch_ptab(void)
{
	static uint8_t tab[2 * 65536 + 64];
	static int ready;
	if (!ready) {
		tu_rng r;
		tu_rng_seed(&r, 0x9a77e7);
		tu_fill(&r, tab, sizeof(tab));
		ready = 1;
	}
	return tab;
}

static inline uint32_t ch_poff(uint32_t seq)
{
	return (seq * 40503u + (seq >> 16)) & 0xffffu;
}

/* dst, src, [802.1Q tag], ethertype 0x88b5, [seq LE32 when untagged and
 * len >= 18], pattern. len >= 14 (>= 18 when tagged). */
static inline void ch_frame(uint8_t *b, uint32_t len, const uint8_t *dst, const uint8_t *src,
			    uint16_t vlan, uint32_t seq)
{
	uint32_t h = 12;
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	if (vlan) {
		b[12] = 0x81;
		b[13] = 0x00;
		b[14] = (uint8_t)(vlan >> 8);
		b[15] = (uint8_t)vlan;
		h = 16;
	}
	b[h] = 0x88;
	b[h + 1] = 0xb5;
	h += 2;
	if (!vlan && len >= 18) {
		tu_put32(b + 14, seq);
		h = 18;
	}
	if (len > h)
		memcpy(b + h, ch_ptab() + ch_poff(seq) + h, len - h);
}

typedef struct ch_expect {
	uint32_t seq, len;
	uint32_t flags;
	uint16_t csum_start, csum_offset;
	uint16_t vlan;
	uint8_t seg_type;
	uint16_t mss;
	int queue; /* frontend: RX queue it must arrive on, -1 = any */
	uint8_t dst[6], src[6];
} ch_expect;

/* ---- the pair ------------------------------------------------------------ */

struct ch_pair;
typedef void (*ch_flush_hook)(struct ch_pair *p, int side);
typedef void (*ch_rx_hook)(struct ch_pair *p, int side, const nc2_rxbuf *rb);

typedef struct ch_side {
	nc2_transport lo; /* loopback endpoint: faults, events */
	nc2_transport t;  /* what the channel uses: ch_wrap over lo */
	ch_wrap wrap;
	nc2_channel *ch; /* NULL when the side is played by hand */
	void *mem;
	nc2_rxbuf rx[CH_BURST];
	uint8_t *rxmem;
	uint64_t notifies, notify_errs;
	uint64_t rx_count, done_count, bad, skipped;
	int no_txdone; /* pump leaves completions alone */
	int hold_lent; /* pump keeps lent buffers in held[] (the test releases them) */
	uint64_t lent_count;
	uint32_t held[CH_EXP_CAP];
	uint32_t nheld;
	int lossy; /* receiver: expected frames may be dropped */
	ch_expect *exp;
	uint32_t exp_head, exp_tail;
} ch_side;

typedef struct ch_pair {
	nc2_lo_world *w;
	uint16_t fe_dom, be_dom;
	uint32_t order, ring_pages, gm_pages, tx_pages;
	nc2_ring_mem fview, bview;
	nc2_channel_config fcfg, bcfg;
	ch_side side[2];
	uint8_t *fe_ram;
	uint8_t *txmem; /* frontend TX payload area (grantable) */
	uint32_t slot_pages, nslots;
	uint8_t *slot_busy;
	uint8_t *bsend;    /* backend TX scratch */
	uint8_t *be_txmem; /* backend grantable TX slots (its domain RAM) */
	uint8_t be_slot_busy[CH_BE_SLOTS];
	uint8_t *scratch;
	uint8_t fe_mac[6], be_mac[6];
	ch_flush_hook on_flush;
	ch_rx_hook on_rx;
	void *user;
	int fini_rc[2];
	int fini_tries[2];
	int freed;
} ch_pair;

static inline uint32_t ch_lo_ring_pages(uint32_t order)
{
	return order <= 12 ? 1u : 1u << (order - 12);
}

static inline void *ch_alloc64(size_t n)
{
	void *m = aligned_alloc(64, (n + 63) & ~(size_t)63);
	ck_assert_ptr_nonnull(m);
	return m;
}

/*
 * Build a world, rings of 2^order, and a channel for each config given
 * (NULL: that side is played by hand). tx_pages of grantable frontend
 * memory follow the grant memory, cut into slots of slot_pages; a frontend
 * config with tx_mem_len gets tx_mem pointed at them.
 */
static inline ch_pair *ch_pair_new(const nc2_channel_config *fcfg, const nc2_channel_config *bcfg,
				   uint32_t order, uint32_t tx_pages, uint32_t slot_pages)
{
	ch_pair *p = calloc(1, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	static const uint8_t fm[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
	static const uint8_t bm[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};
	memcpy(p->fe_mac, fm, 6);
	memcpy(p->be_mac, bm, 6);
	p->order = order;
	p->ring_pages = 1 + 2 * ch_lo_ring_pages(order);
	if (fcfg) {
		p->fcfg = *fcfg;
		nc2_channel_config sz = *fcfg;
		sz.tx_mem_len = 0; /* a tx_mem asked for is pointed at txmem below */
		size_t gm = nc2_channel_grant_mem_size(&sz);
		ck_assert_uint_gt(gm, 0);
		p->gm_pages = (uint32_t)(gm / CH_PAGE);
	} else {
		p->gm_pages = 64; /* for a hand-played frontend's own grants */
	}
	if (bcfg)
		p->bcfg = *bcfg;
	p->tx_pages = tx_pages;
	p->slot_pages = slot_pages ? slot_pages : 1;
	p->nslots = tx_pages / p->slot_pages;
	p->slot_busy = calloc(p->nslots + 1, 1);
	p->w = nc2_lo_world_create(4, 1);
	ck_assert_ptr_nonnull(p->w);
	ck_assert_int_eq(nc2_lo_domain_create(p->w, CH_BE_PAGES, 64, &p->be_dom), NC2_OK);
	ck_assert_int_eq(
	    nc2_lo_domain_create(p->w, p->ring_pages + p->gm_pages + tx_pages, 16384, &p->fe_dom),
	    NC2_OK);
	p->fe_ram = nc2_lo_domain_mem(p->w, p->fe_dom, NULL);
	p->be_txmem = nc2_lo_domain_mem(p->w, p->be_dom, NULL);
	p->txmem = p->fe_ram + (size_t)(p->ring_pages + p->gm_pages) * CH_PAGE;
	ck_assert_int_eq(nc2_lo_transport_open(p->w, p->fe_dom, p->be_dom, &p->side[CH_FE].lo),
			 NC2_OK);
	ck_assert_int_eq(nc2_lo_transport_open(p->w, p->be_dom, p->fe_dom, &p->side[CH_BE].lo),
			 NC2_OK);
	ck_assert_int_eq(
	    nc2_lo_ring_setup(p->w, p->fe_dom, p->be_dom, 0, order, &p->fview, &p->bview), NC2_OK);
	p->bsend = ch_alloc64(CH_RXCAP + CH_PAGE);
	p->scratch = ch_alloc64(CH_RXCAP + CH_PAGE);
	for (int s = 0; s < 2; s++) {
		ch_side *d = &p->side[s];
		d->wrap.lo = &d->lo;
		d->t.ops = ch_wrap_ops();
		d->t.ctx = &d->wrap;
		d->exp = calloc(CH_EXP_CAP, sizeof(ch_expect));
		ck_assert_ptr_nonnull(d->exp);
		const nc2_channel_config *c = s == CH_FE ? fcfg : bcfg;
		if (c == NULL)
			continue;
		d->rxmem = ch_alloc64((size_t)CH_BURST * CH_RXCAP);
		for (uint32_t i = 0; i < CH_BURST; i++)
			d->rx[i] =
			    (nc2_rxbuf){.buf = d->rxmem + (size_t)i * CH_RXCAP, .cap = CH_RXCAP};
		nc2_channel_config cc = *c;
		if (s == CH_FE) {
			cc.grant_mem = p->fe_ram + (size_t)p->ring_pages * CH_PAGE;
			cc.grant_mem_len = (size_t)p->gm_pages * CH_PAGE;
			if (cc.tx_mem_len) {
				ck_assert_uint_le(cc.tx_mem_len, (size_t)tx_pages * CH_PAGE);
				cc.tx_mem = p->txmem;
			}
			p->fcfg = cc;
		}
		size_t fp = nc2_channel_footprint(&cc);
		ck_assert_uint_gt(fp, 0);
		d->mem = ch_alloc64(fp);
		ck_assert_int_eq(nc2_channel_init(&d->ch, d->mem, fp, &cc, &d->t,
						  s == CH_FE ? &p->fview : &p->bview),
				 NC2_OK);
	}
	return p;
}

static inline nc2_channel *ch_fe(ch_pair *p)
{
	return p->side[CH_FE].ch;
}

static inline nc2_channel *ch_be(ch_pair *p)
{
	return p->side[CH_BE].ch;
}

static inline nc2_channel_stats ch_stats(ch_pair *p, int s)
{
	nc2_channel_stats st;
	nc2_channel_get_stats(p->side[s].ch, &st);
	return st;
}

/* ---- expectations -------------------------------------------------------- */

static inline uint32_t ch_exp_pending(const ch_pair *p, int s)
{
	return p->side[s].exp_tail - p->side[s].exp_head;
}

static inline void ch_expect_push(ch_pair *p, int s, const ch_expect *e)
{
	ch_side *d = &p->side[s];
	ck_assert_uint_lt(d->exp_tail - d->exp_head, CH_EXP_CAP);
	d->exp[d->exp_tail++ % CH_EXP_CAP] = *e;
}

/* Check a received frame against the next expectation (in-order delivery;
 * a lossy receiver may skip expectations of dropped frames). */
static inline void ch_verify(ch_pair *p, int s, const nc2_rxbuf *rb)
{
	ch_side *d = &p->side[s];
	if (d->lossy && rb->len >= 18 && !(rb->data[12] == 0x81 && rb->data[13] == 0)) {
		uint32_t seq = tu_get32(rb->data + 14);
		while (d->exp_head != d->exp_tail && d->exp[d->exp_head % CH_EXP_CAP].seq != seq) {
			d->exp_head++;
			d->skipped++;
		}
	}
	ck_assert_msg(d->exp_head != d->exp_tail, "side %d: unexpected frame of %u octets", s,
		      rb->len);
	const ch_expect *e = &d->exp[d->exp_head++ % CH_EXP_CAP];
	ck_assert_msg(rb->len == e->len, "side %d seq %u: len %u, want %u", s, e->seq, rb->len,
		      e->len);
	ck_assert_uint_eq(rb->flags, e->flags);
	ck_assert_uint_eq(rb->csum_start, e->csum_start);
	ck_assert_uint_eq(rb->csum_offset, e->csum_offset);
	ck_assert_uint_eq(rb->seg_type, e->seg_type);
	ck_assert_uint_eq(rb->mss, e->mss);
	if (e->queue >= 0)
		ck_assert_msg(rb->queue == e->queue, "seq %u: queue %u, want %d", e->seq, rb->queue,
			      e->queue);
	ch_frame(p->scratch, e->len, e->dst, e->src, e->vlan, e->seq);
	if (memcmp(rb->data, p->scratch, e->len) != 0)
		TU_ASSERT_BYTES(rb->data, p->scratch, e->len);
}

/* ---- pump ----------------------------------------------------------------- */

static inline int ch_flush_side(ch_pair *p, int s)
{
	ch_side *d = &p->side[s];
	int rc = nc2_channel_flush(d->ch);
	if (p->on_flush)
		p->on_flush(p, s);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		d->notifies++;
		if (nc2_tp_notify(&d->t) < 0)
			d->notify_errs++;
	}
	return rc;
}

static inline void ch_collect_done(ch_pair *p, int s)
{
	ch_side *d = &p->side[s];
	uint64_t done[CH_BURST];
	int n;
	while ((n = nc2_channel_tx_done(d->ch, done, CH_BURST)) > 0) {
		for (int i = 0; i < n; i++) {
			if (s == CH_FE && done[i] < p->nslots)
				p->slot_busy[done[i]] = 0;
			if (s == CH_BE && done[i] < CH_BE_SLOTS)
				p->be_slot_busy[done[i]] = 0;
		}
		d->done_count += (uint64_t)n;
	}
}

/* Poll one side once; received frames are verified (or given to on_rx). */
static inline int ch_poll_side(ch_pair *p, int s)
{
	ch_side *d = &p->side[s];
	int rc = nc2_channel_poll(d->ch, d->rx, CH_BURST);
	if (rc < 0)
		return rc;
	ck_assert_int_le(rc, (int)CH_BURST);
	uint32_t lent[CH_BURST], nl = 0;
	for (int i = 0; i < rc; i++) {
		d->rx_count++;
		if (p->on_rx)
			p->on_rx(p, s, &d->rx[i]);
		else
			ch_verify(p, s, &d->rx[i]);
		if (d->rx[i].rx_flags & NC2_RXBUF_LENT)
			lent[nl++] = d->rx[i].token;
	}
	/* Lent buffers go back at once, unless the test holds them. */
	if (nl && !d->hold_lent)
		ck_assert_int_eq(nc2_channel_rx_release(d->ch, lent, nl), NC2_OK);
	for (uint32_t i = 0; d->hold_lent && i < nl; i++) {
		ck_assert_uint_lt(d->nheld, CH_EXP_CAP);
		d->held[d->nheld++] = lent[i];
	}
	d->lent_count += nl;
	if (!d->no_txdone)
		ch_collect_done(p, s);
	return rc;
}

static inline uint64_t ch_activity(ch_pair *p)
{
	uint64_t a = 0;
	for (int s = 0; s < 2; s++) {
		if (p->side[s].ch == NULL)
			continue;
		nc2_channel_stats st = ch_stats(p, s);
		a += st.msgs_sent + st.msgs_received + p->side[s].done_count;
	}
	return a;
}

/* One round: frontend flush, backend poll + flush, frontend poll. Real
 * sides only. \return 1 if anything moved, 0 if not, or the first error. */
static inline int ch_round(ch_pair *p)
{
	uint64_t before = ch_activity(p);
	int rc;
	ch_side *f = &p->side[CH_FE], *b = &p->side[CH_BE];
	if (f->ch && (rc = ch_flush_side(p, CH_FE)) < 0)
		return rc;
	if (b->ch && (rc = ch_poll_side(p, CH_BE)) < 0)
		return rc;
	if (b->ch && (rc = ch_flush_side(p, CH_BE)) < 0)
		return rc;
	if (f->ch && (rc = ch_poll_side(p, CH_FE)) < 0)
		return rc;
	if (f->ch && (rc = ch_flush_side(p, CH_FE)) < 0)
		return rc;
	return ch_activity(p) != before;
}

/* Rounds until two in a row move nothing. \return NC2_OK or the first error. */
static inline int ch_pump(ch_pair *p)
{
	int quiet = 0;
	for (uint32_t i = 0; i < CH_ROUNDS; i++) {
		int rc = ch_round(p);
		if (rc < 0)
			return rc;
		quiet = rc ? 0 : quiet + 1;
		if (quiet >= 2)
			return NC2_OK;
	}
	ck_abort_msg("pump: no quiescence after %u rounds", CH_ROUNDS);
	return NC2_ERR_STATE;
}

static inline void ch_pump_ok(ch_pair *p)
{
	int rc = ch_pump(p);
	ck_assert_msg(rc == NC2_OK, "pump: %s (%d)", nc2_strerror(rc), rc);
}

/* Connect whichever sides are real and pump until quiet. */
static inline void ch_connect(ch_pair *p)
{
	for (int s = 0; s < 2; s++)
		if (p->side[s].ch)
			ck_assert_int_eq(nc2_channel_connect(p->side[s].ch), NC2_OK);
	if (p->side[CH_FE].ch && p->side[CH_BE].ch) {
		ch_pump_ok(p);
		ck_assert_int_eq(nc2_channel_state(ch_fe(p)), NC2_CH_CONNECTED);
		ck_assert_int_eq(nc2_channel_state(ch_be(p)), NC2_CH_CONNECTED);
	}
}

/* ---- sending -------------------------------------------------------------- */

/* A free frontend TX slot, or -1. */
static inline int ch_slot(ch_pair *p)
{
	for (uint32_t i = 0; i < p->nslots; i++)
		if (!p->slot_busy[i])
			return (int)i;
	return -1;
}

static inline uint8_t *ch_slot_mem(ch_pair *p, uint32_t slot)
{
	return p->txmem + (size_t)slot * p->slot_pages * CH_PAGE;
}

typedef struct ch_tx {
	uint32_t len, seq;
	uint16_t vlan;
	uint32_t off;       /* frontend: start offset inside the slot */
	int queue;          /* expected RX queue at the frontend */
	const uint8_t *dst; /* default: the peer's MAC */
	uint32_t flags;
	uint16_t csum_start, csum_offset;
	uint8_t seg_type;
	uint16_t mss;
	int grantable; /* backend: data in its grantable RAM (NC2_PKT_GRANTABLE) */
} ch_tx;

/*
 * Build frame tx on side s and send it; on NC2_OK the peer expects it.
 * Frontend frames live in a TX slot (cookie = slot) until completed.
 * \return nc2_channel_send()'s result, or NC2_ERR_NOSPACE when no TX slot
 *  is free.
 */
static inline int ch_send(ch_pair *p, int s, const ch_tx *tx)
{
	uint8_t *buf;
	int slot = -1;
	const uint8_t *src = s == CH_FE ? p->fe_mac : p->be_mac;
	const uint8_t *dst = tx->dst ? tx->dst : (s == CH_FE ? p->be_mac : p->fe_mac);
	if (s == CH_FE) {
		slot = ch_slot(p);
		if (slot < 0)
			return NC2_ERR_NOSPACE;
		ck_assert_uint_le(tx->off + tx->len, p->slot_pages * CH_PAGE);
		buf = ch_slot_mem(p, (uint32_t)slot) + tx->off;
	} else if (tx->grantable) {
		for (uint32_t i = 0; i < CH_BE_SLOTS && slot < 0; i++)
			if (!p->be_slot_busy[i])
				slot = (int)i;
		if (slot < 0)
			return NC2_ERR_NOSPACE;
		ck_assert_uint_le(tx->off + tx->len, 18 * CH_PAGE);
		buf = p->be_txmem + (size_t)slot * 18 * CH_PAGE + tx->off;
	} else {
		buf = p->bsend + tx->off;
	}
	ch_frame(buf, tx->len, dst, src, tx->vlan, tx->seq);
	nc2_pkt pkt = {.data = buf,
		       .len = tx->len,
		       .flags = tx->flags,
		       .csum_start = tx->csum_start,
		       .csum_offset = tx->csum_offset,
		       .seg_type = tx->seg_type,
		       .mss = tx->mss,
		       .cookie = slot >= 0 ? (uint64_t)slot : 0xbe00000000ull + tx->seq,
		       .tx_flags = tx->grantable ? NC2_PKT_GRANTABLE : 0u};
	int rc = nc2_channel_send(p->side[s].ch, &pkt);
	if (rc == NC2_OK) {
		if (slot >= 0 && s == CH_FE)
			p->slot_busy[slot] = 1;
		if (slot >= 0 && s == CH_BE)
			p->be_slot_busy[slot] = 1;
		ch_expect e = {.seq = tx->seq,
			       .len = tx->len,
			       .flags = tx->flags,
			       .csum_start = tx->csum_start,
			       .csum_offset = tx->csum_offset,
			       .vlan = tx->vlan,
			       .seg_type = tx->seg_type,
			       .mss = tx->mss,
			       .queue = s == CH_BE ? tx->queue : -1};
		memcpy(e.dst, dst, 6);
		memcpy(e.src, src, 6);
		ch_expect_push(p, 1 - s, &e);
	}
	return rc;
}

/* Send, pumping while the channel says AGAIN (or no TX slot is free). */
static inline void ch_send_ok(ch_pair *p, int s, const ch_tx *tx)
{
	for (uint32_t i = 0; i < 1000; i++) {
		int rc = ch_send(p, s, tx);
		if (rc == NC2_OK)
			return;
		ck_assert_msg(rc == NC2_ERR_AGAIN || rc == NC2_ERR_NOSPACE,
			      "send seq %u len %u: %s (%d)", tx->seq, tx->len, nc2_strerror(rc),
			      rc);
		ch_pump_ok(p);
	}
	ck_abort_msg("send seq %u: no progress", tx->seq);
}

/* As ch_send_ok, but a backend drop (no buffer yet) is retried too. */
static inline void ch_send_retry(ch_pair *p, int s, const ch_tx *tx)
{
	for (uint32_t i = 0; i < 1000; i++) {
		int rc = ch_send(p, s, tx);
		if (rc == NC2_OK)
			return;
		ck_assert_msg(
		    rc == NC2_ERR_AGAIN || rc == NC2_ERR_NOSPACE || (s == CH_BE && rc == 1),
		    "send seq %u len %u: %s (%d)", tx->seq, tx->len, nc2_strerror(rc), rc);
		ch_pump_ok(p);
	}
	ck_abort_msg("send seq %u: no progress", tx->seq);
}

/* ---- teardown ------------------------------------------------------------- */

/* Shut both sides down and pump until both are CLOSED. */
static inline void ch_close(ch_pair *p)
{
	for (int s = 0; s < 2; s++)
		if (p->side[s].ch)
			ck_assert_int_eq(nc2_channel_shutdown(p->side[s].ch), NC2_OK);
	ch_pump_ok(p);
	for (int s = 0; s < 2; s++)
		if (p->side[s].ch)
			ck_assert_msg(nc2_channel_state(p->side[s].ch) == NC2_CH_CLOSED,
				      "side %d state %d after shutdown", s,
				      nc2_channel_state(p->side[s].ch));
}

/* fini, retried while it reports an error (at most 3 calls). */
static inline void ch_fini_side(ch_pair *p, int s)
{
	ch_side *d = &p->side[s];
	p->fini_rc[s] = NC2_OK;
	if (d->ch == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		int rc = nc2_channel_fini(d->ch);
		p->fini_tries[s]++;
		if (i == 0)
			p->fini_rc[s] = rc;
		if (rc == NC2_OK)
			break;
	}
}

/* fini (backend first), ring teardown, close, destroy; frees the pair.
 * \return the number of grants and mappings leaked. */
static inline int ch_pair_free(ch_pair *p)
{
	ch_fini_side(p, CH_BE);
	ch_fini_side(p, CH_FE);
	int rt = nc2_lo_ring_teardown(p->w, p->fe_dom, p->be_dom, 0, p->order);
	nc2_lo_transport_close(&p->side[CH_FE].lo);
	nc2_lo_transport_close(&p->side[CH_BE].lo);
	int leaks = nc2_lo_world_destroy(p->w);
	for (int s = 0; s < 2; s++) {
		free(p->side[s].mem);
		free(p->side[s].rxmem);
		free(p->side[s].exp);
	}
	free(p->bsend);
	free(p->scratch);
	free(p->slot_busy);
	free(p);
	return rt == NC2_OK ? leaks : leaks + 1000;
}

/* After ch_close: nothing outstanding, fini clean, no leaks; frees p. */
static inline void ch_release_ok(ch_pair *p)
{
	for (int s = 0; s < 2; s++)
		ck_assert_msg(ch_exp_pending(p, s) == 0,
			      "side %d: %u expected frames never arrived", s, ch_exp_pending(p, s));
	int rc[2];
	ch_fini_side(p, CH_BE);
	ch_fini_side(p, CH_FE);
	rc[0] = p->fini_rc[CH_FE];
	rc[1] = p->fini_rc[CH_BE];
	/* Already released: ch_pair_free's second fini must be a no-op. */
	int leaks = ch_pair_free(p);
	ck_assert_int_eq(rc[0], NC2_OK);
	ck_assert_int_eq(rc[1], NC2_OK);
	ck_assert_int_eq(leaks, 0);
}

/* The usual end of a test: orderly close, nothing outstanding, no leaks. */
static inline void ch_finish(ch_pair *p)
{
	ch_close(p);
	ch_release_ok(p);
}

/* ---- raw ring access (hand-played peers, snooping) ------------------------ */

typedef struct raw_ring {
	uint8_t *ctrl; /* this ring's 128-octet control */
	uint8_t *payload;
	uint32_t size;
	uint32_t prod; /* producer: next write position */
	uint32_t cons; /* consumer / snooper: next read position */
	uint32_t pads; /* PAD messages skipped by raw_next */
} raw_ring;

static inline void raw_attach(raw_ring *r, const nc2_ring_mem *m, int ring)
{
	r->ctrl = m->ctrl + NC2_RING_CTRL_STRIDE * (uint32_t)ring;
	r->payload = m->payload[ring];
	r->size = 1u << m->order[ring];
	r->prod = tu_get32(r->ctrl + NC2_RING_OFF_PROD);
	r->cons = tu_get32(r->ctrl + NC2_RING_OFF_CONS);
}

static inline uint32_t raw_shared_prod(const raw_ring *r)
{
	return tu_get32(r->ctrl + NC2_RING_OFF_PROD);
}

static inline uint32_t raw_shared_cons(const raw_ring *r)
{
	return tu_get32(r->ctrl + NC2_RING_OFF_CONS);
}

static inline uint32_t raw_space(const raw_ring *r)
{
	return r->size - (r->prod - raw_shared_cons(r));
}

/* Write one message (size multiple of 8), with a PAD first if it would
 * wrap. Not yet published. */
static inline void raw_put(raw_ring *r, const uint8_t *msg, uint32_t len)
{
	uint32_t pos = r->prod & (r->size - 1);
	uint32_t tail = r->size - pos;
	uint32_t need = len > tail ? tail + len : len;
	ck_assert_msg(need <= raw_space(r), "raw_put: %u octets, %u free", need, raw_space(r));
	if (len > tail) {
		memset(r->payload + pos, 0, tail);
		r->payload[pos] = NC2_MSG_PAD;
		tu_put16(r->payload + pos + 2, (uint16_t)tail);
		r->prod += tail;
		pos = 0;
	}
	memcpy(r->payload + pos, msg, len);
	r->prod += len;
}

static inline void raw_publish(raw_ring *r)
{
	tu_put32(r->ctrl + NC2_RING_OFF_PROD, r->prod);
}

static inline void raw_send(raw_ring *r, const uint8_t *msg, uint32_t len)
{
	raw_put(r, msg, len);
	raw_publish(r);
}

/* Next message between our cons and the shared prod into buf (PAD skipped).
 * \return its size, or 0 when there is none. Does not publish cons. */
static inline uint32_t raw_next(raw_ring *r, uint8_t *buf, uint32_t cap)
{
	for (;;) {
		uint32_t prod = raw_shared_prod(r);
		if (r->cons == prod)
			return 0;
		uint32_t pos = r->cons & (r->size - 1);
		uint32_t size = tu_get16(r->payload + pos + 2);
		ck_assert_msg(size >= 8 && size % 8 == 0 && size <= prod - r->cons &&
				  pos + size <= r->size && size <= cap,
			      "raw_next: bad message size %u at %u", size, r->cons);
		if (r->payload[pos] == NC2_MSG_PAD) {
			r->pads++;
			r->cons += size;
			continue;
		}
		memcpy(buf, r->payload + pos, size);
		r->cons += size;
		return size;
	}
}

static inline void raw_consume_publish(raw_ring *r)
{
	tu_put32(r->ctrl + NC2_RING_OFF_CONS, r->cons);
}

/* ---- message builders ------------------------------------------------------ */

static inline uint32_t raw_hello(uint8_t *b, uint16_t vmin, uint16_t vmax, uint32_t features,
				 uint16_t queues)
{
	nc2_msg m = {.type = NC2_MSG_HELLO, .size = NC2_HELLO_SIZE};
	m.u.hello.version_min = vmin;
	m.u.hello.version_max = vmax;
	m.u.hello.features = features;
	m.u.hello.max_rx_queues = queues;
	int rc = nc2_msg_encode(&m, b, NC2_HELLO_SIZE);
	ck_assert_int_eq(rc, NC2_HELLO_SIZE);
	return NC2_HELLO_SIZE;
}

static inline uint32_t raw_u32(uint8_t *b, uint8_t type, uint32_t v)
{
	memset(b, 0, 8);
	b[0] = type;
	tu_put16(b + 2, 8);
	tu_put32(b + 4, v);
	return 8;
}

static inline uint32_t raw_offload(uint8_t *b, uint8_t csum, uint8_t tso4, uint8_t tso6,
				   uint8_t lro)
{
	memset(b, 0, 8);
	b[0] = NC2_MSG_SET_OFFLOAD;
	tu_put16(b + 2, 8);
	b[4] = csum;
	b[5] = tso4;
	b[6] = tso6;
	b[7] = lro;
	return 8;
}

static inline uint32_t raw_rxq(uint8_t *b, uint8_t queue, uint8_t flags, uint16_t vlan,
			       uint32_t buf_size, const uint8_t *mac)
{
	nc2_msg m = {.type = NC2_MSG_CREATE_RX_QUEUE, .size = NC2_CREATE_RX_QUEUE_SIZE};
	m.u.rxq.queue = queue;
	m.u.rxq.flags = flags;
	m.u.rxq.vlan = vlan;
	m.u.rxq.buf_size = buf_size;
	if (mac)
		memcpy(m.u.rxq.mac, mac, 6);
	int rc = nc2_msg_encode(&m, b, NC2_CREATE_RX_QUEUE_SIZE);
	ck_assert_int_eq(rc, NC2_CREATE_RX_QUEUE_SIZE);
	return NC2_CREATE_RX_QUEUE_SIZE;
}

/* A PACKET; frags may be NULL when nr is 0, prefix NULL when plen is 0. */
static inline uint32_t raw_packet(uint8_t *b, size_t cap, uint8_t type, uint32_t id, uint8_t flags,
				  const nc2_frag *frags, uint32_t nr, const uint8_t *prefix,
				  uint16_t plen)
{
	struct nc2_msg_packet pk;
	memset(&pk, 0, sizeof(pk));
	pk.id = id;
	pk.type = type;
	pk.flags = flags;
	pk.nr_frags = (uint16_t)nr;
	pk.prefix_size = plen;
	int rc = nc2_packet_encode(b, cap, &pk, frags, prefix);
	ck_assert_msg(rc > 0, "packet encode: %d", rc);
	return (uint32_t)rc;
}

#endif /* NC2_CHAN_HARNESS_H */
