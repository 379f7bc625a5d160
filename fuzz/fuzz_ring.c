/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for nc2/ring.h: a hostile peer on either side of a ring.
 *
 * Input layout (RING_HDR_SIZE octets, then the rest):
 *   [0]       ring order: 8 + b % 5 (256 .. 4096 octets)
 *   [1]       bit 0: small receive buffer, 8 * (1 + bits 4-7) octets;
 *             bit 1: finish after every message; bit 2: final_check and
 *             pending whenever the ring looks empty
 *   [2..5]    initial cons, LE
 *   [6]       number of prod values, b % 9 (n)
 *   [7..]     n prod values, LE u32, each an offset from the initial cons
 *   rest      the ring image (repeated to fill the payload area), and the
 *             producer-side script
 *
 * Consumer pass: the control holds cons and the first prod value, the
 * payload the image; nc2_ring_next drains it into an exactly sized private
 * buffer, and whenever it reports AGAIN the peer publishes the next prod
 * value. A reference model (written from the ring rules in nc2-rules.md /
 * docs/PROTOCOL.md, not from lib/ring.c) predicts every result exactly;
 * independently of it, every message returned lies within the ring and
 * within what was produced, has a size in [8, max_msg] that is a multiple of
 * 8 and equals the size in its copied header, and peer errors are sticky.
 *
 * Producer pass: the same rest, read as a script of (op, arg) pairs:
 * reserve/commit (eager or lazy), push (its event test predicted from
 * PROTOCOL.md 2.7, lazy messages and wake_lazy included), space, an honest
 * consumer (the real nc2_ring_cons on the same ring, checking every
 * message), and hostile cons values. Every
 * reservation lies inside the ring and inside the space the consumer has
 * released, a PAD is written exactly when needed, nothing else in the
 * payload is written, and impossible cons values are reported (sticky).
 */
#include <string.h>

#include <nc2/ring.h>
#include <nc2/wire.h>

#include "fuzz.h"

#define RING_HDR_FIXED 7
#define RING_MAX_PRODS 8
#define RING_MAX_CALLS 20000

struct ring_img {
	uint8_t *ctrl;
	uint8_t *payload;
	uint32_t order;
	uint32_t size;
	uint32_t mask;
	uint32_t max_msg;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void set_idx(struct ring_img *g, uint32_t off, uint32_t v)
{
	put32(g->ctrl + off, v);
}

static uint32_t get_idx(const struct ring_img *g, uint32_t off)
{
	return fz_le32(g->ctrl + off);
}

static int img_alloc(struct ring_img *g, uint32_t order)
{
	g->order = order;
	g->size = 1u << order;
	g->mask = g->size - 1u;
	g->max_msg = g->size / 2u < NC2_MSG_MAX_SIZE ? g->size / 2u : NC2_MSG_MAX_SIZE;
	g->ctrl = aligned_alloc(64, NC2_RING_CTRL_SIZE);
	g->payload = aligned_alloc(64, g->size); /* exactly sized: ASan sees overreads */
	if (g->ctrl == NULL || g->payload == NULL) {
		free(g->ctrl);
		free(g->payload);
		return -1;
	}
	nc2_ring_ctrl_init(g->ctrl);
	return 0;
}

static void img_free(struct ring_img *g)
{
	free(g->ctrl);
	free(g->payload);
}

/* ---- consumer pass ------------------------------------------------------ */

/* Reference consumer: the rules, stepped one call at a time. */
struct ref_cons {
	uint32_t cons_pvt, cons_pub, prod;
	int err;
};

/* prod may move forward by whole messages, at most a ring beyond the
 * published cons (which also rejects moving back behind what was read). */
static int ref_prod_ok(const struct ref_cons *m, uint32_t prod, uint32_t size)
{
	return (prod % 8u) == 0 &&
	       (uint64_t)(uint32_t)(prod - m->prod) + (uint32_t)(m->prod - m->cons_pub) <= size;
}

static int ref_next(struct ref_cons *m, const struct ring_img *g, uint32_t shared_prod, size_t cap,
		    uint32_t *msg_start)
{
	if (m->err)
		return m->err;
	for (;;) {
		if (m->cons_pvt == m->prod) {
			if (!ref_prod_ok(m, shared_prod, g->size))
				return m->err = NC2_ERR_PEER_RING_INDEX;
			m->prod = shared_prod;
			if (m->cons_pvt == m->prod)
				return NC2_ERR_AGAIN;
		}
		uint32_t pos = m->cons_pvt & g->mask;
		const uint8_t *h = g->payload + pos;
		uint32_t sz = fz_le16(h + NC2_HDR_OFF_SIZE);
		if (sz < 8 || sz % 8 != 0 || sz > m->prod - m->cons_pvt || pos + sz > g->size ||
		    sz > g->max_msg)
			return m->err = NC2_ERR_PEER_MSG_SIZE;
		if (h[NC2_HDR_OFF_TYPE] == NC2_MSG_PAD) {
			if (h[NC2_HDR_OFF_FLAGS] != 0)
				return m->err = NC2_ERR_PEER_RESERVED;
			m->cons_pvt += sz;
			continue;
		}
		if (sz > cap)
			return NC2_ERR_NOSPACE;
		*msg_start = m->cons_pvt;
		m->cons_pvt += sz;
		return (int)sz;
	}
}

static void check_sticky_cons(nc2_ring_cons *c, uint8_t *buf, size_t cap, int err)
{
	FUZZ_CHECK(nc2_is_peer_error(err));
	FUZZ_CHECK(c->err == err);
	FUZZ_CHECK(nc2_ring_next(c, buf, cap) == err);
	FUZZ_CHECK(nc2_ring_pending(c) == err);
	FUZZ_CHECK(nc2_ring_final_check(c) == err);
	FUZZ_CHECK(nc2_ring_finish(c) == err);
}

static void consumer_pass(uint32_t order, uint8_t flags, uint32_t cons0, const uint32_t *prods,
			  uint32_t nprod, const uint8_t *rest, size_t rest_len)
{
	struct ring_img g;
	if (img_alloc(&g, order) != 0)
		return;
	for (uint32_t i = 0; i < g.size; i++)
		g.payload[i] = rest_len ? rest[i % rest_len] : 0;

	size_t small = 8u * (1u + (flags >> 4));
	size_t cap = (flags & 1u) ? small : g.max_msg;
	uint8_t *buf = malloc(cap);       /* exactly sized: ASan sees overruns */
	uint8_t *big = malloc(g.max_msg); /* for a message the small one refuses */
	FUZZ_CHECK(buf != NULL && big != NULL);

	uint32_t k = 0;
	uint32_t prod = cons0 + (nprod ? prods[k++] : 0u);
	set_idx(&g, NC2_RING_OFF_CONS, cons0);
	set_idx(&g, NC2_RING_OFF_PROD, prod);

	nc2_ring_cons c;
	int rc = nc2_ring_cons_init(&c, g.ctrl, g.payload, order);
	int init_bad = cons0 % 8u != 0 || prod % 8u != 0 || (uint32_t)(prod - cons0) > g.size;
	if (init_bad) {
		FUZZ_CHECK(rc == NC2_ERR_PEER_RING_INDEX);
		check_sticky_cons(&c, buf, cap, rc);
		goto out;
	}
	FUZZ_CHECK(rc == NC2_OK);
	FUZZ_CHECK(c.max_msg == g.max_msg);
	FUZZ_CHECK(get_idx(&g, NC2_RING_OFF_PROD_EVENT) == cons0 + 1u);

	struct ref_cons m = {cons0, cons0, prod, 0};
	for (int calls = 0; calls < RING_MAX_CALLS; calls++) {
		uint32_t start = 0;
		int want = ref_next(&m, &g, prod, cap, &start);
		rc = nc2_ring_next(&c, buf, cap);
		FUZZ_CHECK(rc == want);
		if (rc == NC2_ERR_NOSPACE) {
			/* The header was judged from the copy: it is in buf. */
			FUZZ_CHECK(fz_le16(buf + NC2_HDR_OFF_SIZE) > cap);
			want = ref_next(&m, &g, prod, g.max_msg, &start);
			rc = nc2_ring_next(&c, big, g.max_msg);
			FUZZ_CHECK(rc == want && rc > 0);
		}
		if (rc > 0) {
			const uint8_t *got = (uint32_t)rc > cap ? big : buf;
			uint32_t n = (uint32_t)rc;
			FUZZ_CHECK(n >= NC2_MSG_MIN_SIZE && n <= c.max_msg && n % 8u == 0);
			FUZZ_CHECK(fz_le16(got + NC2_HDR_OFF_SIZE) == n);
			FUZZ_CHECK(got[NC2_HDR_OFF_TYPE] != NC2_MSG_PAD);
			/* Where it came from: inside the ring, inside what was produced. */
			FUZZ_CHECK(c.cons_pvt == m.cons_pvt && c.cons_pvt - n == start);
			FUZZ_CHECK((start & g.mask) + n <= g.size);
			FUZZ_CHECK(memcmp(got, g.payload + (start & g.mask), n) == 0);
			FUZZ_CHECK(c.cons_pvt - cons0 <= c.prod - cons0);
			FUZZ_CHECK(c.prod - c.cons_pub <= g.size);
			if (flags & 2u) {
				uint32_t old = m.cons_pub,
					 ev = get_idx(&g, NC2_RING_OFF_CONS_EVENT);
				int fin = nc2_ring_finish(&c);
				FUZZ_CHECK(fin == ((uint32_t)(ev - old - 1u) < m.cons_pvt - old));
				m.cons_pub = m.cons_pvt;
				FUZZ_CHECK(get_idx(&g, NC2_RING_OFF_CONS) == m.cons_pub);
			}
			continue;
		}
		if (rc != NC2_ERR_AGAIN) {
			check_sticky_cons(&c, buf, cap, rc);
			break;
		}
		FUZZ_CHECK(c.cons_pvt == m.cons_pvt && c.prod == m.prod);
		if (flags & 4u) {
			FUZZ_CHECK(nc2_ring_pending(&c) == 0);
			FUZZ_CHECK(nc2_ring_final_check(&c) == 0);
			FUZZ_CHECK(get_idx(&g, NC2_RING_OFF_PROD_EVENT) == m.cons_pvt + 1u);
		}
		if (k == nprod)
			break;
		prod = cons0 + prods[k++]; /* the peer publishes more (or lies) */
		set_idx(&g, NC2_RING_OFF_PROD, prod);
	}
out:
	free(buf);
	free(big);
	img_free(&g);
}

/* ---- producer pass ------------------------------------------------------ */

#define QUEUE_LEN 4096u /* > messages in flight: a 4096 ring holds 512 */

static void fill_msg(uint8_t *p, uint32_t size, uint32_t seq)
{
	p[0] = (uint8_t)(1u + seq % 254u);
	p[1] = 0;
	p[2] = (uint8_t)size;
	p[3] = (uint8_t)(size >> 8);
	for (uint32_t i = 4; i < size; i++)
		p[i] = (uint8_t)(seq + i);
}

static int msg_ok(const uint8_t *p, uint32_t size, uint32_t seq)
{
	if (p[0] != (uint8_t)(1u + seq % 254u) || p[1] != 0 || fz_le16(p + 2) != size)
		return 0;
	for (uint32_t i = 4; i < size; i++)
		if (p[i] != (uint8_t)(seq + i))
			return 0;
	return 1;
}

static void check_sticky_prod(nc2_ring_prod *p, int err)
{
	uint8_t *slot;
	FUZZ_CHECK(nc2_is_peer_error(err));
	FUZZ_CHECK(p->err == err);
	FUZZ_CHECK(nc2_ring_reserve(p, 8, &slot) == err);
	FUZZ_CHECK(nc2_ring_space(p) == err);
	FUZZ_CHECK(nc2_ring_push(p) == err);
}

static void producer_pass(uint32_t order, uint32_t idx0, const uint8_t *script, size_t len)
{
	struct ring_img g;
	if (img_alloc(&g, order) != 0)
		return;
	uint8_t *shadow = malloc(g.size);
	uint8_t *buf = malloc(g.max_msg);
	uint32_t *q = malloc(QUEUE_LEN * sizeof(*q)); /* sizes of messages in flight */
	FUZZ_CHECK(shadow != NULL && buf != NULL && q != NULL);
	memset(g.payload, 0x5a, g.size);
	memset(shadow, 0x5a, g.size);

	idx0 &= ~7u;
	set_idx(&g, NC2_RING_OFF_PROD, idx0);
	set_idx(&g, NC2_RING_OFF_CONS, idx0);
	nc2_ring_prod p;
	nc2_ring_cons c;
	FUZZ_CHECK(nc2_ring_prod_init(&p, g.ctrl, g.payload, order) == NC2_OK);
	FUZZ_CHECK(nc2_ring_cons_init(&c, g.ctrl, g.payload, order) == NC2_OK);

	uint32_t seq = 0, q_head = 0, q_tail = 0; /* q[q_head..q_tail): committed */
	uint32_t seq_read = 0;
	int hostile = 0; /* a raw cons was written: the real consumer stops */
	int err = 0;
	/* PROTOCOL.md 2.7, lazy messages: prod at the last event test, and
	 * whether a test is owed (eager message, or the ring was too full). */
	uint32_t ev_base = idx0;
	int owed = 0, raw_wake = 0; /* raw_wake: wake_lazy written behind c */

	for (size_t i = 0; i + 1 < len && !err; i += 2) {
		uint8_t op = script[i], arg = script[i + 1];
		switch (op % 6u) {
		case 0:
		case 1: {
			uint32_t size = 8u * (1u + arg % (g.max_msg / 8u));
			uint32_t pvt = p.prod_pvt, cons = p.cons;
			uint32_t shared_cons = get_idx(&g, NC2_RING_OFF_CONS);
			uint8_t *slot = NULL;
			int rc = nc2_ring_reserve(&p, size, &slot);
			if (rc == NC2_ERR_PEER_RING_INDEX) {
				/* Only for a cons that really is impossible. */
				FUZZ_CHECK(shared_cons % 8u != 0 ||
					   shared_cons - cons > p.prod_pub - cons);
				err = rc;
				break;
			}
			uint32_t tail = g.size - (pvt & g.mask);
			uint32_t need = size > tail ? tail + size : size;
			if (rc == NC2_ERR_AGAIN) {
				owed = 1;
				FUZZ_CHECK(p.prod_pvt == pvt);
				FUZZ_CHECK(need > g.size - (pvt - p.cons));
				FUZZ_CHECK(get_idx(&g, NC2_RING_OFF_CONS_EVENT) == p.cons + 1u);
				break;
			}
			FUZZ_CHECK(rc == NC2_OK);
			FUZZ_CHECK(slot >= g.payload && slot + size <= g.payload + g.size);
			uint32_t off = (uint32_t)(slot - g.payload);
			FUZZ_CHECK(off % 8u == 0);
			FUZZ_CHECK(p.cons - cons <= p.prod_pub - cons); /* validated */
			FUZZ_CHECK(pvt + need - p.cons <= g.size);      /* released space only */
			if (size > tail) {
				FUZZ_CHECK(off == 0 && p.prod_pvt == pvt + tail);
				uint8_t *h = shadow + (pvt & g.mask);
				h[0] = NC2_MSG_PAD;
				h[1] = 0;
				h[2] = (uint8_t)tail;
				h[3] = (uint8_t)(tail >> 8);
			} else {
				FUZZ_CHECK(off == (pvt & g.mask) && p.prod_pvt == pvt);
			}
			/* Anything the library wrote is exactly the PAD header. */
			FUZZ_CHECK(memcmp(g.payload, shadow, g.size) == 0);
			if (op & 0x80u)
				break; /* abandoned: the next reserve replaces it */
			fill_msg(slot, size, seq);
			memcpy(shadow + off, slot, size);
			if (op & 0x40u) {
				nc2_ring_commit_lazy(&p);
			} else {
				nc2_ring_commit(&p);
				owed = 1;
			}
			q[q_tail++ % QUEUE_LEN] = size;
			seq++;
			break;
		}
		case 2: {
			if (op & 0x40u) { /* the consumer's flag, any value */
				set_idx(&g, NC2_RING_OFF_WAKE_LAZY, arg & 0x80u ? arg : 0u);
				raw_wake = 1;
			}
			uint32_t old = p.prod_pub, nw = p.prod_pvt;
			uint32_t ev = get_idx(&g, NC2_RING_OFF_PROD_EVENT);
			int test = (nw != old || ev_base != nw) &&
				   (owed || nw - ev_base > g.size / 2u ||
				    get_idx(&g, NC2_RING_OFF_WAKE_LAZY) != 0);
			if (nw == old && !owed)
				test = 0;
			int rc = nc2_ring_push(&p);
			FUZZ_CHECK(rc == (test && (uint32_t)(ev - ev_base - 1u) < nw - ev_base));
			FUZZ_CHECK(get_idx(&g, NC2_RING_OFF_PROD) == nw);
			if (test) {
				ev_base = nw;
				owed = 0;
			}
			break;
		}
		case 3: {
			if (hostile)
				break;
			/* The real consumer reads up to arg % 8 + 1 messages. */
			for (uint32_t n = 0; n <= arg % 8u; n++) {
				int rc = nc2_ring_next(&c, buf, g.max_msg);
				if (rc == NC2_ERR_AGAIN)
					break;
				FUZZ_CHECK(rc > 0 && q_head != q_tail);
				FUZZ_CHECK((uint32_t)rc == q[q_head % QUEUE_LEN]);
				FUZZ_CHECK(msg_ok(buf, (uint32_t)rc, seq_read));
				q_head++;
				seq_read++;
			}
			if (arg & 0x80u) {
				FUZZ_CHECK(nc2_ring_finish(&c) >= 0);
			} else if (arg & 0x40u) {
				nc2_ring_wake_lazy(&c, arg & 0x20u);
				FUZZ_CHECK(raw_wake || get_idx(&g, NC2_RING_OFF_WAKE_LAZY) ==
							   (arg & 0x20u ? 1u : 0u));
				FUZZ_CHECK(nc2_ring_final_check(&c) >= 0);
			}
			break;
		}
		case 4: {
			/* Hostile cons: near the last value the producer accepted,
			 * or near what it published. */
			uint32_t d = arg < 128u ? arg : (uint32_t)arg - 256u; /* -128..127 */
			uint32_t v = p.cons + d * 4u;
			if ((op >> 3) % 4u == 0)
				v = p.prod_pub + d;
			set_idx(&g, NC2_RING_OFF_CONS, v);
			hostile = 1;
			break;
		}
		default: {
			uint32_t last = p.cons, shared_cons = get_idx(&g, NC2_RING_OFF_CONS);
			int bad = shared_cons % 8u != 0 || shared_cons - last > p.prod_pub - last;
			int rc = nc2_ring_space(&p);
			if (bad) {
				FUZZ_CHECK(rc == NC2_ERR_PEER_RING_INDEX);
				err = rc;
				break;
			}
			FUZZ_CHECK(rc >= 0 && (uint32_t)rc <= g.max_msg && rc % 8 == 0);
			uint32_t free_oct = g.size - (p.prod_pvt - p.cons);
			FUZZ_CHECK((uint32_t)rc <= free_oct);
			break;
		}
		}
		/* The published window never exceeds the ring. */
		FUZZ_CHECK(p.prod_pvt - p.cons <= g.size);
	}
	if (err)
		check_sticky_prod(&p, err);
	FUZZ_CHECK(memcmp(g.payload, shadow, g.size) == 0);

	free(shadow);
	free(buf);
	free(q);
	img_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < RING_HDR_FIXED)
		return 0;
	uint32_t order = 8u + data[0] % 5u;
	uint8_t flags = data[1];
	uint32_t cons0 = fz_le32(data + 2);
	uint32_t nprod = data[6] % (RING_MAX_PRODS + 1u);
	size_t hdr = RING_HDR_FIXED + 4u * (size_t)nprod;
	if (size < hdr)
		return 0;
	uint32_t prods[RING_MAX_PRODS];
	for (uint32_t i = 0; i < nprod; i++)
		prods[i] = fz_le32(data + RING_HDR_FIXED + 4u * i);
	const uint8_t *rest = data + hdr;
	size_t rest_len = size - hdr;

	consumer_pass(order, flags, cons0, prods, nprod, rest, rest_len);
	producer_pass(order, cons0, rest, rest_len);
	return 0;
}
