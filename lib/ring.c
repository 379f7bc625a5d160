/* SPDX-License-Identifier: MIT */
/*
 * The NetChannel2 byte ring (nc2/ring.h): one producer and one consumer per
 * direction, free-running u32 byte indices, PAD at the wrap, Xen-style event
 * indices. Everything read from shared memory is peer data: indices are
 * validated on every load, message headers are copied once into private
 * memory and validated there, and the first violation is sticky.
 *
 * Memory-ordering pairs (the labels used at every use site):
 *
 *   P1 push: store-release prod           <-> C1 next/pending/final_check:
 *                                                load-acquire prod
 *      (message octets are written before prod; read after it)
 *   C2 finish: store-release cons         <-> P2 reserve/space: load-acquire cons
 *      (our copies out of the ring finish before the producer reuses them)
 *   P3 push: full fence between storing prod and reading prod_event
 *      (and wake_lazy)                    <-> C3 final_check: full fence between
 *                                                storing prod_event (and, before it,
 *                                                wake_lazy) and re-reading prod
 *   C4 finish: full fence between storing cons and reading cons_event
 *                                         <-> P4 reserve: full fence between storing
 *                                                cons_event and re-reading cons
 *
 * P3/C3 and C4/P4 are the event-index handshakes: of the two sides at least
 * one sees the other's store, so either the producer notifies or the
 * consumer finds the new messages (and the same for space).
 */
#include <string.h>

#include <nc2/ring.h>
#include <nc2/wire.h>

#include "barrier.h"
#include "compiler.h"
#include "le.h"
#include "ring_pf.h"

/* ---- shared index fields: u32 little-endian, 4-aligned -------------------- */

static inline uint32_t le32_host(uint32_t v)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
#endif
	return v;
}

static inline const uint32_t *ctrl_word(const uint8_t *ctrl, uint32_t off)
{
	return (const uint32_t *)(const void *)(ctrl + off);
}

static inline uint32_t *ctrl_word_w(uint8_t *ctrl, uint32_t off)
{
	return (uint32_t *)(void *)(ctrl + off);
}

static inline uint32_t ctrl_load_acquire(const uint8_t *ctrl, uint32_t off)
{
	return le32_host(nc2_load_acquire_u32(ctrl_word(ctrl, off)));
}

static inline uint32_t ctrl_load_once(const uint8_t *ctrl, uint32_t off)
{
	return le32_host(nc2_load_once_u32(ctrl_word(ctrl, off)));
}

static inline void ctrl_store_release(uint8_t *ctrl, uint32_t off, uint32_t v)
{
	nc2_store_release_u32(ctrl_word_w(ctrl, off), le32_host(v));
}

static inline void ctrl_store_once(uint8_t *ctrl, uint32_t off, uint32_t v)
{
	nc2_store_once_u32(ctrl_word_w(ctrl, off), le32_host(v));
}

/* Notify iff the event index lies in (old, new] (Xen's RING_PUSH rule). */
static inline int need_event(uint32_t new_idx, uint32_t event, uint32_t old_idx)
{
	return (uint32_t)(new_idx - event) < (uint32_t)(new_idx - old_idx);
}

static uint32_t max_msg_for(uint32_t size)
{
	return size / 2u < NC2_MSG_MAX_SIZE ? size / 2u : NC2_MSG_MAX_SIZE;
}

void nc2_ring_ctrl_init(uint8_t *ctrl_block)
{
	if (ctrl_block != NULL)
		memset(ctrl_block, 0, NC2_RING_CTRL_SIZE);
}

static int check_geometry(const uint8_t *ctrl, const uint8_t *payload, uint32_t order)
{
	if (ctrl == NULL || payload == NULL || order < NC2_RING_ORDER_MIN ||
	    order > NC2_RING_ORDER_MAX)
		return NC2_ERR_INVALID_ARG;
	/* Index words need natural alignment for single-copy atomicity;
	 * messages are 8-aligned in the payload area. */
	if (((uintptr_t)ctrl & 3u) != 0 || ((uintptr_t)payload & 7u) != 0)
		return NC2_ERR_INVALID_ARG;
	return NC2_OK;
}

/* Initial indices: both 8-aligned and at most one ring apart. */
static int check_initial(uint32_t prod, uint32_t cons, uint32_t size)
{
	if (((prod | cons) & 7u) != 0 || (uint32_t)(prod - cons) > size)
		return NC2_ERR_PEER_RING_INDEX;
	return NC2_OK;
}

/* ---- producer ------------------------------------------------------------ */

int nc2_ring_prod_init(nc2_ring_prod *r, uint8_t *ctrl, uint8_t *payload, uint32_t order)
{
	if (r == NULL)
		return NC2_ERR_INVALID_ARG;
	memset(r, 0, sizeof(*r));
	int rc = check_geometry(ctrl, payload, order);
	if (rc != NC2_OK) {
		r->err = rc; /* an unusable struct stays unusable */
		return rc;
	}
	r->ctrl = ctrl;
	r->payload = payload;
	r->size = 1u << order;
	r->max_msg = max_msg_for(r->size);
	/* Our own index: only we write it. */
	uint32_t prod = ctrl_load_once(ctrl, NC2_RING_OFF_PROD);
	/* P2: acquire cons; pairs with C2 (store-release of cons in nc2_ring_finish). */
	uint32_t cons = ctrl_load_acquire(ctrl, NC2_RING_OFF_CONS);
	rc = check_initial(prod, cons, r->size);
	if (rc != NC2_OK) {
		r->err = rc;
		return rc;
	}
	r->prod_pvt = prod;
	r->prod_pub = prod;
	r->ev_base = prod;
	r->pf = prod & ~(RING_PF_LINE - 1u); /* whole lines: see nc2_ring_prefetch_to() */
	r->cons = cons;
	return NC2_OK;
}

/*
 * Load and validate the consumer's index. It may only move forward, by
 * whole messages, and never past what we published:
 * (cons - last) <= (prod_pub - last).
 */
static int prod_refresh_cons(nc2_ring_prod *r)
{
	/* P2: acquire cons; pairs with C2 (store-release in nc2_ring_finish):
	 * the consumer's reads of the octets it released are done. */
	uint32_t cons = ctrl_load_acquire(r->ctrl, NC2_RING_OFF_CONS);
	if ((cons & 7u) != 0 || (uint32_t)(cons - r->cons) > (uint32_t)(r->prod_pub - r->cons)) {
		r->err = NC2_ERR_PEER_RING_INDEX;
		return r->err;
	}
	r->cons = cons;
	return NC2_OK;
}

/* Octets a message of \p size needs at \p prod: itself, plus a PAD filling
 * the tail when it would cross the end of the ring. */
static inline uint32_t prod_need(const nc2_ring_prod *r, uint32_t prod, uint32_t size)
{
	uint32_t tail = r->size - (prod & (r->size - 1u));
	return size > tail ? tail + size : size;
}

static inline uint32_t prod_free(const nc2_ring_prod *r)
{
	return r->size - (uint32_t)(r->prod_pvt - r->cons);
}

/*
 * nc2_ring_reserve() when the message does not fit before the end of the
 * ring or in the space known to be free: refresh cons, maybe arm an event,
 * and write a PAD for the tail. Out of line, so that the common case needs
 * no registers saved.
 */
NC2_SLOWPATH static int reserve_slow(nc2_ring_prod *r, uint32_t size, uint8_t **slot, uint32_t pos,
				     uint32_t tail)
{
	/* pos and tail stay valid: only this side moves prod_pvt. */
	uint32_t need = prod_need(r, r->prod_pvt, size);
	if (need > prod_free(r)) {
		int rc = prod_refresh_cons(r);
		if (rc != NC2_OK)
			return rc;
		while (need > prod_free(r)) {
			/*
			 * Ask for an event on any progress: cons_event = cons + 1
			 * lies in (old, new] of every finish that moves cons on
			 * from here. Then look once more. If cons moved meanwhile
			 * but not far enough, the event we armed may already be
			 * behind it, so arm again from the new value; cons only
			 * moves forward towards prod_pub, so this ends.
			 */
			uint32_t seen = r->cons;
			ctrl_store_once(r->ctrl, NC2_RING_OFF_CONS_EVENT, seen + 1u);
			/* P4: store cons_event before re-reading cons; pairs with C4
			 * (fence between storing cons and reading cons_event in
			 * nc2_ring_finish). */
			nc2_fence_full();
			rc = prod_refresh_cons(r);
			if (rc != NC2_OK)
				return rc;
			if (r->cons == seen) {
				/* We wait for the consumer, so it must be woken for
				 * whatever we publish, lazy or not. */
				r->eager = 1;
				return NC2_ERR_AGAIN;
			}
		}
	}

	if (size > tail) {
		/* PAD of exactly the tail; tail < size <= 65528 fits u16. It is
		 * published by the release store of prod in nc2_ring_push (P1). */
		uint8_t *pad = r->payload + pos;
		pad[NC2_HDR_OFF_TYPE] = NC2_MSG_PAD;
		pad[NC2_HDR_OFF_FLAGS] = 0;
		nc2_put_le16(pad + NC2_HDR_OFF_SIZE, (uint16_t)tail);
		r->prod_pvt += tail;
		pos = 0;
	}
	r->reserved = size;
	*slot = r->payload + pos;
	return NC2_OK;
}

/* Only whole lines the consumer is known to be done with (below cons +
 * size): asking for one it may still read would pull it away from it. */
NC2_SLOWPATH void nc2_ring_prefetch_to(nc2_ring_prod *r, uint32_t end)
{
	uint32_t lim = (r->cons + r->size) & ~(RING_PF_LINE - 1u), pf = r->pf;
	if ((int32_t)(end - lim) > 0)
		end = lim;
	if ((int32_t)(r->prod_pvt - pf) > 0)
		pf = r->prod_pvt & ~(RING_PF_LINE - 1u); /* behind: start here */
	for (; (int32_t)(end - pf) > 0; pf += RING_PF_LINE)
		nc2_prefetch_w(r->payload + (pf & (r->size - 1u)));
	r->pf = pf;
}

/*
 * An open reservation that was never committed is abandoned by the next
 * reserve (that is how a caller cancels one); a PAD already written for it
 * stays, as PAD is always valid in front of a message at offset 0.
 */
int nc2_ring_reserve(nc2_ring_prod *r, uint32_t size, uint8_t **slot)
{
	if (r->err != 0)
		return r->err;
	if (slot == NULL || size < NC2_MSG_MIN_SIZE || size > r->max_msg || (size & 7u) != 0)
		return NC2_ERR_INVALID_ARG;
	r->reserved = 0;

	uint32_t pos = r->prod_pvt & (r->size - 1u);
	uint32_t tail = r->size - pos;
	/* Common case: it fits before the end, in space already known free. */
	if (size <= tail && size <= prod_free(r)) {
		r->reserved = size;
		*slot = r->payload + pos;
		ring_prefetch(r, size);
		return NC2_OK;
	}
	return reserve_slow(r, size, slot, pos, tail);
}

static inline void commit(nc2_ring_prod *r, uint32_t eager)
{
	if (r->err != 0)
		return;
	r->prod_pvt += r->reserved;
	r->reserved = 0;
	r->eager |= eager;
}

void nc2_ring_commit(nc2_ring_prod *r)
{
	commit(r, 1);
}

void nc2_ring_commit_lazy(nc2_ring_prod *r)
{
	commit(r, 0);
}

uint32_t nc2_ring_extend_room(const nc2_ring_prod *r, const uint8_t *msg, uint32_t size)
{
	if (r->err != 0)
		return 0;
	uint32_t pos = r->prod_pvt & (r->size - 1u);
	/* The last message committed (it ends at prod_pvt: pos - size can only
	 * wrap when it does not), not yet published, no reservation open. The
	 * room is what lies before the end of the ring in the space already
	 * known free (the peer's index is not read), and below max_msg. */
	if ((uintptr_t)msg != (uintptr_t)r->payload + (uint32_t)(pos - size) || size > pos ||
	    (uint32_t)(r->prod_pvt - r->prod_pub) < size || r->reserved != 0 || size > r->max_msg)
		return 0;
	uint32_t room = r->size - pos, free_oct = prod_free(r);
	room = free_oct < room ? free_oct : room;
	return r->max_msg - size < room ? r->max_msg - size : room;
}

int nc2_ring_extend(nc2_ring_prod *r, const uint8_t *msg, uint32_t size, uint32_t more)
{
	if (r->err != 0)
		return r->err;
	if ((more & 7u) != 0 || more > nc2_ring_extend_room(r, msg, size))
		return NC2_ERR_AGAIN;
	r->prod_pvt += more;
	return NC2_OK;
}

/*
 * The largest message nc2_ring_reserve() would accept right now (it may need
 * a PAD), capped at max_msg; 0 when even the smallest does not fit. An open
 * reservation is ignored, as reserve would replace it.
 */
int nc2_ring_space(nc2_ring_prod *r)
{
	if (r->err != 0)
		return r->err;
	int rc = prod_refresh_cons(r);
	if (rc != NC2_OK)
		return rc;
	uint32_t free_oct = prod_free(r);
	uint32_t tail = r->size - (r->prod_pvt & (r->size - 1u));
	uint32_t best = free_oct;
	if (free_oct > tail)
		best = free_oct - tail > tail ? free_oct - tail : tail;
	return (int)(best < r->max_msg ? best : r->max_msg);
}

int nc2_ring_push(nc2_ring_prod *r)
{
	if (r->err != 0)
		return r->err;
	uint32_t new_idx = r->prod_pvt;
	if (new_idx != r->prod_pub) {
		/* P1: message octets before prod; pairs with C1 (load-acquire
		 * of prod in cons_refresh_prod). */
		ctrl_store_release(r->ctrl, NC2_RING_OFF_PROD, new_idx);
		r->prod_pub = new_idx;
	} else if (!r->eager || r->ev_base == new_idx) {
		return 0; /* nothing new, or nothing that must wake the consumer */
	}
	/* P3: prod store before the prod_event and wake_lazy loads; pairs with
	 * C3 (fence between storing them and re-reading prod in final_check). */
	nc2_fence_full();
	/* Only lazy messages since the last test: skip it unless the consumer
	 * asked for them or half a ring went by (which bounds what a sleeping
	 * consumer leaves unread and keeps new - ev_base from wrapping). A
	 * producer short of space set eager (reserve_slow). */
	if (!r->eager && (uint32_t)(new_idx - r->ev_base) <= r->size / 2u &&
	    ctrl_load_once(r->ctrl, NC2_RING_OFF_WAKE_LAZY) == 0)
		return 0;
	/* The test covers every octet published since the last one. */
	uint32_t event = ctrl_load_once(r->ctrl, NC2_RING_OFF_PROD_EVENT);
	uint32_t base = r->ev_base;
	r->ev_base = new_idx;
	r->eager = 0;
	return need_event(new_idx, event, base);
}

/* ---- consumer ------------------------------------------------------------ */

int nc2_ring_cons_init(nc2_ring_cons *r, uint8_t *ctrl, const uint8_t *payload, uint32_t order)
{
	if (r == NULL)
		return NC2_ERR_INVALID_ARG;
	memset(r, 0, sizeof(*r));
	int rc = check_geometry(ctrl, payload, order);
	if (rc != NC2_OK) {
		r->err = rc;
		return rc;
	}
	r->ctrl = ctrl;
	r->payload = payload;
	r->size = 1u << order;
	r->max_msg = max_msg_for(r->size);
	/* Our own index: only we write it. */
	uint32_t cons = ctrl_load_once(ctrl, NC2_RING_OFF_CONS);
	/* C1: acquire prod; pairs with P1 (store-release in nc2_ring_push). */
	uint32_t prod = ctrl_load_acquire(ctrl, NC2_RING_OFF_PROD);
	rc = check_initial(prod, cons, r->size);
	if (rc != NC2_OK) {
		r->err = rc;
		return rc;
	}
	r->cons_pvt = cons;
	r->cons_pub = cons;
	r->prod = prod;
	/* A fresh consumer waits for anything (the zeroed control would only
	 * notify when prod crosses 0). Any pending messages were seen above or
	 * are found by nc2_ring_next / nc2_ring_final_check. */
	ctrl_store_once(ctrl, NC2_RING_OFF_PROD_EVENT, cons + 1u);
	ctrl_store_once(ctrl, NC2_RING_OFF_WAKE_LAZY, 0);
	return NC2_OK;
}

/*
 * Load and validate the producer's index. It may only move forward, by
 * whole messages, and never more than a ring beyond what we published:
 * prod in [last prod, cons_pub + size]. This covers (prod - cons) > size
 * and also a prod moving backwards (below the messages already consumed).
 */
static int cons_refresh_prod(nc2_ring_cons *r)
{
	/* C1: acquire prod; pairs with P1 (store-release in nc2_ring_push): the
	 * octets of every message before prod are visible. */
	uint32_t prod = ctrl_load_acquire(r->ctrl, NC2_RING_OFF_PROD);
	uint32_t room = (uint32_t)(r->cons_pub + r->size - r->prod);
	if ((prod & 7u) != 0 || (uint32_t)(prod - r->prod) > room) {
		r->err = NC2_ERR_PEER_RING_INDEX;
		return r->err;
	}
	r->prod = prod;
	return NC2_OK;
}

/*
 * Check the header of the message at cons (!= prod, so at least the header
 * was produced), copying it once into buf. \return the message's size (to
 * copy with take()), or 0 after skipping a PAD, or a peer error (sticky).
 */
static inline int next_hdr(nc2_ring_cons *r, uint8_t *buf, uint32_t cons)
{
	uint32_t pos = cons & (r->size - 1u);
	/*
	 * Copy the header once, as one untorn load the compiler may not
	 * repeat (a double fetch would let the peer change the size after
	 * it was checked); everything below uses the copy in buf. Plain
	 * READ_ONCE: the octets are already ordered after prod by C1.
	 */
	uint32_t hdr = nc2_load_once_u32((const uint32_t *)(const void *)(r->payload + pos));
	memcpy(buf, &hdr, NC2_HDR_SIZE);
	/* The header's fields, decoded from the copy as one LE word. */
	uint32_t h = nc2_get_le32(buf);
	uint32_t size = (h >> (8 * NC2_HDR_OFF_SIZE)) & 0xffffu;
	uint32_t type = (h >> (8 * NC2_HDR_OFF_TYPE)) & 0xffu;
	uint32_t flags = (h >> (8 * NC2_HDR_OFF_FLAGS)) & 0xffu;
	/* Largest size allowed here: what was produced, what is left
	 * before the end, max_msg. Each is >= 8 and a multiple of 8. */
	uint32_t lim = r->prod - cons;
	uint32_t tail = r->size - pos;
	lim = tail < lim ? tail : lim;
	lim = r->max_msg < lim ? r->max_msg : lim;
	if ((uint32_t)(size - NC2_MSG_MIN_SIZE) > lim - NC2_MSG_MIN_SIZE || (size & 7u) != 0) {
		r->err = NC2_ERR_PEER_MSG_SIZE;
		return r->err;
	}
	if (type == NC2_MSG_PAD) {
		/* Header flags are reserved on every message, PAD too. */
		if (flags != 0) {
			r->err = NC2_ERR_PEER_RESERVED;
			return r->err;
		}
		r->cons_pvt = cons + size; /* body not copied */
		return 0;
	}
	return (int)size;
}

/* Copy the body of the message of \p size (checked by next_hdr) at cons. */
static inline int take(nc2_ring_cons *r, uint8_t *buf, size_t cap, uint32_t cons, int size)
{
	if ((uint32_t)size > cap)
		return NC2_ERR_NOSPACE;
	const uint8_t *src = r->payload + (cons & (r->size - 1u));
	r->cons_pvt = cons + (uint32_t)size;
	memcpy(buf + NC2_HDR_SIZE, src + NC2_HDR_SIZE, (uint32_t)size - NC2_HDR_SIZE);
	return size;
}

/* Whether a message starts at cons (refreshing prod when none is known):
 * NC2_OK, NC2_ERR_AGAIN, or the peer error of an impossible prod. */
static inline int cons_ready(nc2_ring_cons *r, uint32_t cons)
{
	if (cons != r->prod)
		return NC2_OK;
	int rc = cons_refresh_prod(r);
	if (rc != NC2_OK)
		return rc;
	return cons == r->prod ? NC2_ERR_AGAIN : NC2_OK;
}

/* nc2_ring_next() after a PAD. */
NC2_SLOWPATH static int next_slow(nc2_ring_cons *r, uint8_t *buf, size_t cap)
{
	for (;;) {
		uint32_t cons = r->cons_pvt;
		int rc = cons_ready(r, cons);
		if (rc != NC2_OK)
			return rc;
		int size = next_hdr(r, buf, cons);
		if (size != 0)
			return size < 0 ? size : take(r, buf, cap, cons, size);
	}
}

int nc2_ring_next(nc2_ring_cons *r, uint8_t *buf, size_t cap)
{
	if (r->err != 0)
		return r->err;
	if (buf == NULL || cap < NC2_MSG_MIN_SIZE)
		return NC2_ERR_INVALID_ARG;
	/* The loop of next_slow() unrolled once: in the common case the first
	 * message is not a PAD. */
	uint32_t cons = r->cons_pvt;
	int rc = cons_ready(r, cons);
	if (rc != NC2_OK)
		return rc;
	int size = next_hdr(r, buf, cons);
	if (size > 0)
		return take(r, buf, cap, cons, size);
	if (size < 0)
		return size;
	return next_slow(r, buf, cap);
}

int nc2_ring_finish(nc2_ring_cons *r)
{
	if (r->err != 0)
		return r->err;
	uint32_t old_idx = r->cons_pub;
	uint32_t new_idx = r->cons_pvt;
	if (new_idx == old_idx)
		return 0;
	/* C2: our copies out of the ring before cons; pairs with P2 (load-acquire
	 * of cons in prod_refresh_cons) before the producer reuses the space. */
	ctrl_store_release(r->ctrl, NC2_RING_OFF_CONS, new_idx);
	r->cons_pub = new_idx;
	/* C4: cons store before the cons_event load; pairs with P4 (fence between
	 * storing cons_event and re-reading cons in nc2_ring_reserve). */
	nc2_fence_full();
	uint32_t event = ctrl_load_once(r->ctrl, NC2_RING_OFF_CONS_EVENT);
	return need_event(new_idx, event, old_idx);
}

int nc2_ring_final_check(nc2_ring_cons *r)
{
	if (r->err != 0)
		return r->err;
	if (r->prod != r->cons_pvt)
		return 1; /* already seen, not yet consumed */
	int rc = cons_refresh_prod(r);
	if (rc != NC2_OK)
		return rc;
	if (r->prod != r->cons_pvt)
		return 1;
	/* Any new message is worth an event: prod_event = cons + 1. Ordered
	 * before the re-read of prod by the fence below. */
	ctrl_store_once(r->ctrl, NC2_RING_OFF_PROD_EVENT, r->cons_pvt + 1u);
	/* C3: prod_event store before re-reading prod; pairs with P3 (fence
	 * between storing prod and reading prod_event in nc2_ring_push). */
	nc2_fence_full();
	rc = cons_refresh_prod(r);
	if (rc != NC2_OK)
		return rc;
	return r->prod != r->cons_pvt;
}

void nc2_ring_wake_lazy(nc2_ring_cons *r, int on)
{
	uint32_t v = on ? 1u : 0u;
	if (r->err != 0 || v == r->wake_lazy)
		return;
	r->wake_lazy = v;
	/* Ordered before the re-read of prod by C3 in nc2_ring_final_check. */
	ctrl_store_once(r->ctrl, NC2_RING_OFF_WAKE_LAZY, v);
}

int nc2_ring_pending(nc2_ring_cons *r)
{
	if (r->err != 0)
		return r->err;
	int rc = cons_refresh_prod(r);
	if (rc != NC2_OK)
		return rc;
	return (int)(r->prod - r->cons_pvt);
}
