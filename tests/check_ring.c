/* SPDX-License-Identifier: MIT */
/*
 * The byte ring (nc2/ring.h): geometry and arguments, PAD at every offset,
 * batching, the event-index rule, full ring, final check, free-running
 * indices across 2^32, hostile peers on both sides (sticky errors), random
 * images and indices, and a two-thread stress test with real event waits.
 *
 * Everything the tests know about the shared layout comes from the header
 * (offsets) and the rules; the ring image is built and inspected with the
 * tests' own little-endian helpers, never with the library's.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nc2/ring.h>
#include <nc2/wire.h>

#include "ring_pf.h"
#include "testutil.h"

/* ---- rig: one ring direction in a malloc'd control block + payload ------ */

struct rig {
	uint8_t *block;   /* NC2_RING_CTRL_SIZE octets, both controls */
	uint8_t *ctrl;    /* the control of the ring under test */
	uint8_t *payload; /* 2^order octets */
	uint32_t order;
	uint32_t size;
	uint32_t mask;
	nc2_ring_prod p;
	nc2_ring_cons c;
};

static uint32_t get_idx(const struct rig *g, uint32_t off)
{
	return tu_get32(g->ctrl + off);
}

static void set_idx(struct rig *g, uint32_t off, uint32_t v)
{
	tu_put32(g->ctrl + off, v);
}

/* Allocate and zero; ring 0 or 1 of the pair; indices preset, no init. */
static void rig_alloc(struct rig *g, uint32_t order, int ring, uint32_t prod, uint32_t cons)
{
	memset(g, 0, sizeof(*g));
	g->order = order;
	g->size = 1u << order;
	g->mask = g->size - 1u;
	g->block = aligned_alloc(64, NC2_RING_CTRL_SIZE);
	g->payload = aligned_alloc(64, g->size < 64 ? 64 : g->size);
	ck_assert_ptr_nonnull(g->block);
	ck_assert_ptr_nonnull(g->payload);
	memset(g->block, 0xee, NC2_RING_CTRL_SIZE);
	nc2_ring_ctrl_init(g->block);
	memset(g->payload, 0xa5, g->size);
	g->ctrl = g->block + NC2_RING_CTRL_STRIDE * (uint32_t)ring;
	set_idx(g, NC2_RING_OFF_PROD, prod);
	set_idx(g, NC2_RING_OFF_CONS, cons);
}

static void rig_open(struct rig *g, uint32_t order, uint32_t idx)
{
	rig_alloc(g, order, 0, idx, idx);
	ck_assert_int_eq(nc2_ring_prod_init(&g->p, g->ctrl, g->payload, order), NC2_OK);
	ck_assert_int_eq(nc2_ring_cons_init(&g->c, g->ctrl, g->payload, order), NC2_OK);
}

static void rig_close(struct rig *g)
{
	free(g->block);
	free(g->payload);
	g->block = g->payload = NULL;
}

/* ---- messages: header + deterministic body from a sequence number ------- */

static uint8_t msg_type(uint32_t seq)
{
	return (uint8_t)(1u + seq % 254u); /* never PAD */
}

static void make_msg(uint8_t *dst, uint32_t size, uint32_t seq)
{
	dst[0] = msg_type(seq);
	dst[1] = 0;
	tu_put16(dst + 2, (uint16_t)size);
	for (uint32_t i = 4; i < size; i++)
		dst[i] = (uint8_t)(seq * 31u + i * 7u + 3u);
}

/* Event rule, written the other way round: the event index is one of the
 * values in (old, new]. */
static int ref_event(uint32_t old_idx, uint32_t new_idx, uint32_t event)
{
	return (uint32_t)(event - old_idx - 1u) < (uint32_t)(new_idx - old_idx);
}

static int produce(struct rig *g, uint32_t size, uint32_t seq)
{
	uint8_t *slot = NULL;
	int rc = nc2_ring_reserve(&g->p, size, &slot);
	if (rc != NC2_OK)
		return rc;
	ck_assert_ptr_nonnull(slot);
	ck_assert(slot >= g->payload && slot + size <= g->payload + g->size);
	make_msg(slot, size, seq);
	nc2_ring_commit(&g->p);
	return NC2_OK;
}

static void consume_expect(struct rig *g, uint32_t size, uint32_t seq)
{
	uint8_t buf[NC2_MSG_MAX_SIZE], want[NC2_MSG_MAX_SIZE];
	int n = nc2_ring_next(&g->c, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)size);
	make_msg(want, size, seq);
	TU_ASSERT_BYTES(buf, want, size);
}

/* Write a raw header into the ring image at index \p idx. */
static void put_hdr(struct rig *g, uint32_t idx, uint8_t type, uint16_t size)
{
	uint8_t *h = g->payload + (idx & g->mask);
	h[0] = type;
	h[1] = 0;
	tu_put16(h + 2, size);
}

/* ---- init, geometry, arguments ----------------------------------------- */

START_TEST(test_ctrl_init)
{
	uint8_t *b = aligned_alloc(64, 512);
	ck_assert_ptr_nonnull(b);
	memset(b, 0xff, 512);
	nc2_ring_ctrl_init(b);
	for (uint32_t i = 0; i < NC2_RING_CTRL_SIZE; i++)
		ck_assert_uint_eq(b[i], 0);
	for (uint32_t i = NC2_RING_CTRL_SIZE; i < 512; i++)
		ck_assert_uint_eq(b[i], 0xff);
	nc2_ring_ctrl_init(NULL); /* harmless */
	free(b);
}
END_TEST

START_TEST(test_init_args)
{
	struct rig g;
	uint8_t *slot;
	uint8_t buf[64];
	rig_alloc(&g, 8, 0, 0, 0);
	nc2_ring_prod p;
	nc2_ring_cons c;

	ck_assert_int_eq(nc2_ring_prod_init(NULL, g.ctrl, g.payload, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_cons_init(NULL, g.ctrl, g.payload, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_prod_init(&p, NULL, g.payload, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_cons_init(&c, NULL, g.payload, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_prod_init(&p, g.ctrl, NULL, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_cons_init(&c, g.ctrl, NULL, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_prod_init(&p, g.ctrl, g.payload, 7), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_cons_init(&c, g.ctrl, g.payload, 7), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_prod_init(&p, g.ctrl, g.payload, 25), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_cons_init(&c, g.ctrl, g.payload, 25), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_prod_init(&p, g.ctrl + 2, g.payload, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_cons_init(&c, g.ctrl + 1, g.payload, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_prod_init(&p, g.ctrl, g.payload + 4, 8), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_cons_init(&c, g.ctrl, g.payload + 1, 8), NC2_ERR_INVALID_ARG);
	/* A struct whose init failed refuses to work. */
	ck_assert_int_eq(nc2_ring_reserve(&p, 8, &slot), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_push(&p), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_space(&p), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_next(&c, buf, sizeof(buf)), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_finish(&c), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_pending(&c), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_final_check(&c), NC2_ERR_INVALID_ARG);

	/* Inconsistent initial indices. */
	static const uint32_t bad[][2] = {
	    {264, 0}, {4, 0}, {0, 4}, {0, 8}, {12, 4}, {0x80000000u, 0}, {0xfffffff8u, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_idx(&g, NC2_RING_OFF_PROD, bad[i][0]);
		set_idx(&g, NC2_RING_OFF_CONS, bad[i][1]);
		ck_assert_int_eq(nc2_ring_prod_init(&p, g.ctrl, g.payload, 8),
				 NC2_ERR_PEER_RING_INDEX);
		ck_assert_int_eq(nc2_ring_cons_init(&c, g.ctrl, g.payload, 8),
				 NC2_ERR_PEER_RING_INDEX);
		ck_assert_int_eq(nc2_ring_reserve(&p, 8, &slot), NC2_ERR_PEER_RING_INDEX);
		ck_assert_int_eq(nc2_ring_next(&c, buf, sizeof(buf)), NC2_ERR_PEER_RING_INDEX);
	}
	/* Valid extremes: full ring, across 2^32. */
	static const uint32_t good[][2] = {
	    {256, 0}, {0, 0}, {0x10, 0xfffffff0u}, {0xfffffff8u, 0xfffffff8u}, {128, 0xffffff80u},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		set_idx(&g, NC2_RING_OFF_PROD, good[i][0]);
		set_idx(&g, NC2_RING_OFF_CONS, good[i][1]);
		ck_assert_int_eq(nc2_ring_prod_init(&p, g.ctrl, g.payload, 8), NC2_OK);
		ck_assert_int_eq(nc2_ring_cons_init(&c, g.ctrl, g.payload, 8), NC2_OK);
		/* A fresh consumer asks for an event on anything. */
		ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD_EVENT), good[i][1] + 1u);
	}
	rig_close(&g);
}
END_TEST

START_TEST(test_max_msg)
{
	static const uint32_t orders[] = {8, 9, 12, 16, 17, 20, 24};
	static const uint32_t want[] = {128, 256, 2048, 32768, 65528, 65528, 65528};
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		struct rig g;
		rig_open(&g, orders[i], 0);
		ck_assert_uint_eq(g.p.max_msg, want[i]);
		ck_assert_uint_eq(g.c.max_msg, want[i]);
		ck_assert_uint_eq(g.p.size, 1u << orders[i]);
		ck_assert_int_eq(nc2_ring_space(&g.p), (int)want[i]);
		uint8_t *slot;
		ck_assert_int_eq(nc2_ring_reserve(&g.p, want[i] + 8u, &slot), NC2_ERR_INVALID_ARG);
		ck_assert_int_eq(produce(&g, want[i], 7), NC2_OK);
		ck_assert_int_eq(nc2_ring_push(&g.p), 1);
		consume_expect(&g, want[i], 7);
		rig_close(&g);
	}
}
END_TEST

START_TEST(test_basic_and_stride)
{
	for (int ring = 0; ring < 2; ring++) {
		struct rig g;
		uint8_t buf[256];
		rig_alloc(&g, 8, ring, 0, 0);
		ck_assert_int_eq(nc2_ring_prod_init(&g.p, g.ctrl, g.payload, 8), NC2_OK);
		ck_assert_int_eq(nc2_ring_cons_init(&g.c, g.ctrl, g.payload, 8), NC2_OK);
		ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_AGAIN);
		ck_assert_int_eq(produce(&g, 16, 1), NC2_OK);
		/* Committed is not published. */
		ck_assert_int_eq(nc2_ring_pending(&g.c), 0);
		ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_AGAIN);
		ck_assert_int_eq(nc2_ring_push(&g.p), 1);
		ck_assert_uint_eq(tu_get32(g.block + 128u * (uint32_t)ring + 0), 16);
		ck_assert_uint_eq(tu_get32(g.block + 128u * (uint32_t)(1 - ring) + 0), 0);
		ck_assert_int_eq(nc2_ring_pending(&g.c), 16);
		consume_expect(&g, 16, 1);
		ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_AGAIN);
		ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS), 0); /* not yet finished */
		ck_assert_int_eq(nc2_ring_finish(&g.c), 0);           /* cons_event is 0 */
		ck_assert_uint_eq(tu_get32(g.block + 128u * (uint32_t)ring + 64), 16);
		/* The other ring's control and the reserved words are untouched. */
		for (uint32_t i = 0; i < NC2_RING_CTRL_STRIDE; i++)
			ck_assert_uint_eq(g.block[128u * (uint32_t)(1 - ring) + i], 0);
		for (uint32_t i = 8; i < 64; i++)
			ck_assert_uint_eq(g.ctrl[i], 0);
		for (uint32_t i = 72; i < 128; i++)
			ck_assert_uint_eq(g.ctrl[i], 0);
		rig_close(&g);
	}
}
END_TEST

START_TEST(test_reserve_args)
{
	struct rig g;
	uint8_t *slot;
	rig_open(&g, 8, 0);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 0, &slot), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 4, &slot), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 12, &slot), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 136, &slot), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 0xfffffff8u, &slot), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 8, NULL), NC2_ERR_INVALID_ARG);
	/* Not sticky. */
	ck_assert_int_eq(produce(&g, 8, 1), NC2_OK);
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	consume_expect(&g, 8, 1);
	rig_close(&g);
}
END_TEST

START_TEST(test_reserve_replace_and_commit)
{
	struct rig g;
	uint8_t *s1, *s2;
	uint8_t buf[256];
	rig_open(&g, 8, 0);
	/* Commit without a reservation does nothing. */
	nc2_ring_commit(&g.p);
	ck_assert_int_eq(nc2_ring_push(&g.p), 0);
	/* A second reserve replaces the open reservation. */
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 64, &s1), NC2_OK);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 8, &s2), NC2_OK);
	ck_assert_ptr_eq(s1, s2);
	make_msg(s2, 8, 5);
	nc2_ring_commit(&g.p);
	nc2_ring_commit(&g.p); /* second commit: nothing open */
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD), 8);
	consume_expect(&g, 8, 5);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_AGAIN);
	rig_close(&g);
}
END_TEST

START_TEST(test_next_args_nospace)
{
	struct rig g;
	uint8_t buf[256];
	rig_open(&g, 8, 0);
	ck_assert_int_eq(produce(&g, 64, 3), NC2_OK);
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	ck_assert_int_eq(nc2_ring_next(&g.c, NULL, 64), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, 4), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, 7), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, 56), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, 63), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_ring_pending(&g.c), 64); /* nothing consumed */
	memset(buf, 0xcc, sizeof(buf));
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, 64), 64);
	ck_assert_uint_eq(buf[64], 0xcc); /* nothing beyond the message */
	ck_assert_int_eq(nc2_ring_pending(&g.c), 0);
	rig_close(&g);
}
END_TEST

/* nc2_ring_extend(): only the last committed, unpublished message grows,
 * by whole 8-octet steps, inside the free space before the ring's end and
 * max_msg; the consumer then reads it at its grown size. */
START_TEST(test_extend)
{
	struct rig g;
	uint8_t *s1, *s2;
	rig_open(&g, 8, 0); /* 256 octets, max_msg 128 */
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 16, &s1), NC2_OK);
	nc2_ring_commit(&g.p);
	/* Room: min(before the end 240, free 240, max_msg - 16 = 112). */
	ck_assert_uint_eq(nc2_ring_extend_room(&g.p, s1, 16), 112);
	ck_assert_uint_eq(nc2_ring_extend_room(&g.p, s1, 8), 0);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 16, 4), NC2_ERR_AGAIN); /* not x8 */
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 8, 8), NC2_ERR_AGAIN); /* does not end at prod */
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 16, 120), NC2_ERR_AGAIN); /* > max_msg */
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 16, 16), NC2_OK);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 32, 32), NC2_OK);
	ck_assert_uint_eq(nc2_ring_extend_room(&g.p, s1, 64), 64);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 64, 72), NC2_ERR_AGAIN);
	make_msg(s1, 64, 1);
	/* Open reservation after it: no. Committed message after it: no. */
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 8, &s2), NC2_OK);
	ck_assert_uint_eq(nc2_ring_extend_room(&g.p, s1, 64), 0);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 64, 8), NC2_ERR_AGAIN);
	make_msg(s2, 8, 2);
	nc2_ring_commit(&g.p);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 64, 8), NC2_ERR_AGAIN);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s2, 8, 8), NC2_OK);
	make_msg(s2, 16, 2);
	/* Published: no longer. */
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s2, 16, 8), NC2_ERR_AGAIN);
	consume_expect(&g, 64, 1);
	consume_expect(&g, 16, 2);
	ck_assert_int_eq(nc2_ring_finish(&g.c), 0);
	/* Up to the end of the ring (80 used, 176 left) and not across it. */
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 120, &s1), NC2_OK);
	nc2_ring_commit(&g.p);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s1, 120, 8), NC2_OK);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 48, &s2), NC2_OK);
	nc2_ring_commit(&g.p);
	ck_assert_ptr_eq(s2, g.payload + 208);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s2, 48, 8), NC2_ERR_AGAIN); /* ends the ring */
	ck_assert_uint_eq(nc2_ring_extend_room(&g.p, s2, 48), 0);
	rig_close(&g);

	/* The free space known to the producer binds: 120 octets consumed of
	 * 256 produced, a message of 8 after the wrap may take 112 more. */
	rig_open(&g, 8, 0);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 120, &s1), NC2_OK);
	make_msg(s1, 120, 1);
	nc2_ring_commit(&g.p);
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	consume_expect(&g, 120, 1);
	nc2_ring_finish(&g.c);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 120, &s1), NC2_OK);
	make_msg(s1, 120, 2);
	nc2_ring_commit(&g.p);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 16, &s1), NC2_OK);
	make_msg(s1, 16, 3);
	nc2_ring_commit(&g.p);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 8, &s2), NC2_OK); /* cons refreshed */
	ck_assert_ptr_eq(s2, g.payload);
	nc2_ring_commit(&g.p);
	ck_assert_uint_eq(nc2_ring_extend_room(&g.p, s2, 8), 112);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s2, 8, 120), NC2_ERR_AGAIN);
	ck_assert_int_eq(nc2_ring_extend(&g.p, s2, 8, 112), NC2_OK);
	make_msg(s2, 120, 4);
	ck_assert_uint_eq(nc2_ring_extend_room(&g.p, s2, 120), 0); /* ring full */
	nc2_ring_push(&g.p);
	consume_expect(&g, 120, 2);
	consume_expect(&g, 16, 3);
	consume_expect(&g, 120, 4);
	rig_close(&g);
}
END_TEST

/* ---- PAD at every offset ------------------------------------------------ */

/*
 * Ring of 256, message sizes 8..128, every 8-aligned start, indices near 0
 * and near 2^32. Each round produces up to four messages in one batch (until
 * AGAIN), checks against an independent model where each goes and whether a
 * PAD precedes it, pushes, and consumes them with their bytes intact.
 */
START_TEST(test_wrap_every_offset)
{
	static const uint32_t bases[] = {0, 0xffffff00u};
	uint8_t buf[256];
	uint32_t seq = 0;

	for (size_t b = 0; b < 2; b++) {
		for (uint32_t msz = 8; msz <= 128; msz += 8) {
			for (uint32_t start = 0; start < 256; start += 8) {
				struct rig g;
				uint32_t idx0 = bases[b] + start;
				rig_open(&g, 8, idx0);
				uint32_t cons = idx0, model = idx0;
				int pads = 0;
				for (int round = 0; round < 3; round++) {
					uint32_t first_seq = seq, old_prod = model;
					int k = 0, again = 0;
					while (k < 4) {
						uint32_t pos = model & 255u, tail = 256u - pos;
						int pad = msz > tail;
						uint32_t need = pad ? tail + msz : msz;
						uint32_t free_oct = 256u - (model - cons);
						uint8_t *slot = NULL;
						uint8_t before[4];
						memcpy(before, g.payload + pos, 4);
						int rc = nc2_ring_reserve(&g.p, msz, &slot);
						if (need > free_oct) {
							ck_assert_int_eq(rc, NC2_ERR_AGAIN);
							/* No PAD written for a failed reserve. */
							TU_ASSERT_BYTES(g.payload + pos, before, 4);
							ck_assert_uint_eq(
							    get_idx(&g, NC2_RING_OFF_CONS_EVENT),
							    cons + 1u);
							again = 1;
							break;
						}
						ck_assert_int_eq(rc, NC2_OK);
						if (pad) {
							const uint8_t *h = g.payload + pos;
							ck_assert_uint_eq(h[0], NC2_MSG_PAD);
							ck_assert_uint_eq(h[1], 0);
							ck_assert_uint_eq(tu_get16(h + 2), tail);
							model += tail;
							pads++;
						}
						ck_assert_ptr_eq(slot, g.payload + (model & 255u));
						make_msg(slot, msz, seq++);
						nc2_ring_commit(&g.p);
						model += msz;
						k++;
					}
					ck_assert_int_ge(k, 1);
					uint32_t ev = get_idx(&g, NC2_RING_OFF_PROD_EVENT);
					ck_assert_int_eq(nc2_ring_push(&g.p),
							 ref_event(old_prod, model, ev));
					ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD), model);
					ck_assert_int_eq(nc2_ring_pending(&g.c),
							 (int)(model - cons));
					for (int i = 0; i < k; i++)
						consume_expect(&g, msz, first_seq + (uint32_t)i);
					ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)),
							 NC2_ERR_AGAIN);
					ck_assert_uint_eq(g.c.cons_pvt, model);
					uint32_t cev = get_idx(&g, NC2_RING_OFF_CONS_EVENT);
					int fin = nc2_ring_finish(&g.c);
					ck_assert_int_eq(fin, ref_event(cons, model, cev));
					if (again)
						ck_assert_int_eq(fin, 1);
					ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS), model);
					ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
					cons = model;
				}
				/* A PAD is needed exactly when a message crosses the end;
				 * with msz dividing 256 and a start on a multiple of msz,
				 * never. */
				if (256u % msz == 0 && start % msz == 0)
					ck_assert_int_eq(pads, 0);
				rig_close(&g);
			}
		}
	}
}
END_TEST

/* A PAD's body is never copied: a large PAD with a small buffer is fine,
 * and PAD is accepted anywhere a message is. */
START_TEST(test_pad_skip_small_buf)
{
	struct rig g;
	uint8_t buf[16];
	rig_open(&g, 8, 0);
	put_hdr(&g, 0, NC2_MSG_PAD, 120);
	make_msg(g.payload + 120, 16, 9);
	put_hdr(&g, 136, NC2_MSG_PAD, 8);
	put_hdr(&g, 144, NC2_MSG_PAD, 112);
	set_idx(&g, NC2_RING_OFF_PROD, 256);
	memset(buf, 0xcc, sizeof(buf));
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), 16);
	uint8_t want[16];
	make_msg(want, 16, 9);
	TU_ASSERT_BYTES(buf, want, 16);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_AGAIN);
	ck_assert_uint_eq(g.c.cons_pvt, 256);
	ck_assert_int_eq(nc2_ring_finish(&g.c), 0);
	rig_close(&g);
}
END_TEST

/* ---- batching ------------------------------------------------------------ */

START_TEST(test_batch)
{
	static const uint32_t bases[] = {0, 0xffffff00u, 0x7ffff000u};
	uint8_t buf[4096];
	for (size_t b = 0; b < 3; b++) {
		struct rig g;
		tu_rng rng;
		tu_rng_seed(&rng, 0xba7c4 + b);
		rig_open(&g, 12, bases[b]);
		uint32_t seq_p = 0, seq_c = 0;
		uint32_t sizes[4096];
		for (int round = 0; round < 200; round++) {
			uint32_t limit = tu_range(&rng, 1, 600);
			uint32_t k = 0;
			while (k < limit) {
				uint32_t sz = 8u * tu_range(&rng, 1, 64);
				if (tu_range(&rng, 0, 20) == 0)
					sz = g.p.max_msg;
				int rc = produce(&g, sz, seq_p);
				if (rc == NC2_ERR_AGAIN)
					break;
				ck_assert_int_eq(rc, NC2_OK);
				sizes[seq_p % 4096] = sz;
				seq_p++;
				k++;
			}
			uint32_t old_prod = get_idx(&g, NC2_RING_OFF_PROD);
			uint32_t ev = get_idx(&g, NC2_RING_OFF_PROD_EVENT);
			int push = nc2_ring_push(&g.p);
			ck_assert_int_eq(push, k ? ref_event(old_prod, g.p.prod_pvt, ev) : 0);
			ck_assert_int_eq(nc2_ring_push(&g.p), 0); /* nothing new */
			/* Drain part or all of it. */
			uint32_t take = tu_range(&rng, 0, 3) ? seq_p - seq_c : (seq_p - seq_c) / 2;
			for (uint32_t i = 0; i < take; i++, seq_c++)
				consume_expect(&g, sizes[seq_c % 4096], seq_c);
			if (seq_c == seq_p)
				ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)),
						 NC2_ERR_AGAIN);
			uint32_t old_cons = get_idx(&g, NC2_RING_OFF_CONS);
			uint32_t cev = get_idx(&g, NC2_RING_OFF_CONS_EVENT);
			int fin = nc2_ring_finish(&g.c);
			ck_assert_int_eq(fin, take ? ref_event(old_cons, g.c.cons_pvt, cev) : 0);
		}
		ck_assert_uint_gt(seq_p, 1000);
		rig_close(&g);
	}
}
END_TEST

/* ---- event rule ---------------------------------------------------------- */

START_TEST(test_event_push)
{
	static const uint32_t bases[] = {0, 0xffffffc0u};
	for (size_t b = 0; b < 2; b++) {
		struct rig g;
		tu_rng rng;
		tu_rng_seed(&rng, 0xe7e27 + b);
		rig_open(&g, 8, bases[b]);
		uint32_t seq = 0;
		for (int it = 0; it < 2000; it++) {
			uint32_t old_idx = g.p.prod_pub;
			uint32_t n = tu_range(&rng, 1, 4), total = 0;
			for (uint32_t i = 0; i < n; i++) {
				uint32_t sz = 8u * tu_range(&rng, 1, 6);
				ck_assert_int_eq(produce(&g, sz, seq++), NC2_OK);
				total += sz;
			}
			uint32_t new_idx = g.p.prod_pvt;
			/* An event index anywhere around the step, including the
			 * odd values a consumer arms (cons + 1). */
			uint32_t ev = old_idx + tu_range(&rng, 0, 160) - 32u;
			set_idx(&g, NC2_RING_OFF_PROD_EVENT, ev);
			int want = ref_event(old_idx, new_idx, ev);
			ck_assert_int_eq(nc2_ring_push(&g.p), want);
			ck_assert_int_eq(nc2_ring_push(&g.p), 0);
			/* Explicit boundaries: ev == new notifies, ev == old does not. */
			ck_assert_int_eq(ref_event(old_idx, new_idx, new_idx), 1);
			ck_assert_int_eq(ref_event(old_idx, new_idx, old_idx), 0);
			ck_assert_int_eq(ref_event(old_idx, new_idx, old_idx + 1u), 1);
			ck_assert_int_eq(ref_event(old_idx, new_idx, new_idx + 1u), 0);
			/* Drain so the ring never fills. */
			uint8_t buf[256];
			int got;
			uint32_t sum = 0;
			while ((got = nc2_ring_next(&g.c, buf, sizeof(buf))) > 0)
				sum += (uint32_t)got;
			ck_assert_int_eq(got, NC2_ERR_AGAIN);
			ck_assert_uint_le(sum, total);
			nc2_ring_finish(&g.c);
		}
		rig_close(&g);
	}
}
END_TEST

static int produce_lazy(struct rig *g, uint32_t size, uint32_t seq)
{
	uint8_t *slot = NULL;
	int rc = nc2_ring_reserve(&g->p, size, &slot);
	if (rc != NC2_OK)
		return rc;
	make_msg(slot, size, seq);
	nc2_ring_commit_lazy(&g->p);
	return NC2_OK;
}

static void drain(struct rig *g)
{
	uint8_t buf[NC2_MSG_MAX_SIZE];
	while (nc2_ring_next(&g->c, buf, sizeof(buf)) > 0)
		;
	nc2_ring_finish(&g->c);
}

/* Eager messages, pushed and consumed, until prod is at ring offset \p off. */
static void advance_to(struct rig *g, uint32_t off, uint32_t *seq)
{
	uint32_t gap;
	while ((gap = (off - g->p.prod_pvt) & g->mask) != 0) {
		uint32_t tail = g->size - (g->p.prod_pvt & g->mask);
		uint32_t n = gap < tail ? gap : tail; /* never a PAD */
		ck_assert_int_eq(produce(g, n > 64 ? 64 : n, (*seq)++), NC2_OK);
		nc2_ring_push(&g->p);
		drain(g);
	}
}

/* Lazy messages (PROTOCOL.md 2.7): no event unless wake_lazy is set, half a
 * ring went by or the producer waits for space; the next test covers the
 * octets skipped. */
START_TEST(test_event_lazy)
{
	static const uint32_t bases[] = {0, 0xffffff80u};
	for (size_t b = 0; b < 2; b++) {
		struct rig g;
		rig_open(&g, 8, bases[b]); /* 256 octets, max_msg 128 */
		uint32_t base = bases[b], seq = 0;
		ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_WAKE_LAZY), 0);
		/* The consumer sleeps (prod_event = cons + 1); lazy: no event. */
		ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
		ck_assert_int_eq(produce_lazy(&g, 16, seq++), NC2_OK);
		ck_assert_int_eq(nc2_ring_push(&g.p), 0);
		ck_assert_int_eq(produce_lazy(&g, 24, seq++), NC2_OK);
		ck_assert_int_eq(nc2_ring_push(&g.p), 0);
		ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD), base + 40);
		/* An eager message: the test covers the skipped octets too (the
		 * event, base + 1, lies before this message). */
		ck_assert_int_eq(produce(&g, 8, seq++), NC2_OK);
		ck_assert_int_eq(nc2_ring_push(&g.p), 1);
		ck_assert_int_eq(nc2_ring_push(&g.p), 0);
		drain(&g);

		/* wake_lazy: lazy messages wake the consumer. */
		nc2_ring_wake_lazy(&g.c, 1);
		ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_WAKE_LAZY), 1);
		ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
		ck_assert_int_eq(produce_lazy(&g, 8, seq++), NC2_OK);
		ck_assert_int_eq(nc2_ring_push(&g.p), 1);
		drain(&g);
		nc2_ring_wake_lazy(&g.c, 0);
		ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_WAKE_LAZY), 0);

		/* Half a ring of lazy octets since the last test: tested. */
		advance_to(&g, 0, &seq);
		ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
		for (int i = 0; i < 4; i++) {
			ck_assert_int_eq(produce_lazy(&g, 32, seq++), NC2_OK);
			ck_assert_int_eq(nc2_ring_push(&g.p), 0);
		}
		ck_assert_int_eq(produce_lazy(&g, 8, seq++), NC2_OK); /* 136 > 128 */
		ck_assert_int_eq(nc2_ring_push(&g.p), 1);
		drain(&g);

		/* A producer short of space needs the consumer: after AGAIN the
		 * push tests the event even with nothing new. Put prod at
		 * offset 120 (tail 136), publish 16 lazy octets (tail 120), then
		 * ask for 128: with the PAD it needs 248 of the 240 free. */
		advance_to(&g, 120, &seq);
		ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
		ck_assert_int_eq(produce_lazy(&g, 16, seq++), NC2_OK);
		ck_assert_int_eq(nc2_ring_push(&g.p), 0);
		uint8_t *slot;
		ck_assert_int_eq(nc2_ring_reserve(&g.p, 128, &slot), NC2_ERR_AGAIN);
		ck_assert_int_eq(nc2_ring_push(&g.p), 1);
		ck_assert_int_eq(nc2_ring_push(&g.p), 0);
		drain(&g);
		ck_assert_int_eq(g.p.err, 0);
		ck_assert_int_eq(g.c.err, 0);
		rig_close(&g);
	}
}
END_TEST

START_TEST(test_event_finish)
{
	static const uint32_t bases[] = {0, 0xffffffc0u};
	for (size_t b = 0; b < 2; b++) {
		struct rig g;
		tu_rng rng;
		tu_rng_seed(&rng, 0xf1215 + b);
		rig_open(&g, 8, bases[b]);
		uint32_t seq = 0;
		uint8_t buf[256];
		for (int it = 0; it < 2000; it++) {
			uint32_t n = tu_range(&rng, 1, 4);
			for (uint32_t i = 0; i < n; i++)
				ck_assert_int_eq(produce(&g, 8u * tu_range(&rng, 1, 6), seq++),
						 NC2_OK);
			nc2_ring_push(&g.p);
			uint32_t old_idx = g.c.cons_pub;
			uint32_t m = tu_range(&rng, 1, n);
			for (uint32_t i = 0; i < m; i++)
				ck_assert_int_gt(nc2_ring_next(&g.c, buf, sizeof(buf)), 0);
			uint32_t new_idx = g.c.cons_pvt;
			uint32_t ev = old_idx + tu_range(&rng, 0, 160) - 32u;
			set_idx(&g, NC2_RING_OFF_CONS_EVENT, ev);
			ck_assert_int_eq(nc2_ring_finish(&g.c), ref_event(old_idx, new_idx, ev));
			ck_assert_int_eq(nc2_ring_finish(&g.c), 0);
			while (nc2_ring_next(&g.c, buf, sizeof(buf)) > 0)
				;
			set_idx(&g, NC2_RING_OFF_CONS_EVENT, g.c.cons_pub + 1u);
			int moved = g.c.cons_pvt != g.c.cons_pub;
			ck_assert_int_eq(nc2_ring_finish(&g.c), moved);
		}
		rig_close(&g);
	}
}
END_TEST

/* push/finish with nothing new return 0 and touch no shared memory. */
START_TEST(test_nothing_new_untouched)
{
	struct rig g;
	uint8_t snap_c[NC2_RING_CTRL_SIZE], snap_p[256];
	rig_open(&g, 8, 0x40);
	ck_assert_int_eq(produce(&g, 16, 1), NC2_OK);
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	consume_expect(&g, 16, 1);
	nc2_ring_finish(&g.c);
	/* Event indices that would notify on any step, and a poisoned prod/cons
	 * that would show up if either were rewritten. */
	set_idx(&g, NC2_RING_OFF_PROD_EVENT, g.p.prod_pub);
	set_idx(&g, NC2_RING_OFF_CONS_EVENT, g.c.cons_pub);
	set_idx(&g, NC2_RING_OFF_PROD, 0xdeadbeefu);
	set_idx(&g, NC2_RING_OFF_CONS, 0xfeedface);
	memcpy(snap_c, g.block, sizeof(snap_c));
	memcpy(snap_p, g.payload, sizeof(snap_p));
	ck_assert_int_eq(nc2_ring_push(&g.p), 0);
	ck_assert_int_eq(nc2_ring_finish(&g.c), 0);
	nc2_ring_commit(&g.p);
	ck_assert_int_eq(nc2_ring_push(&g.p), 0);
	TU_ASSERT_BYTES(g.block, snap_c, sizeof(snap_c));
	TU_ASSERT_BYTES(g.payload, snap_p, sizeof(snap_p));
	rig_close(&g);
}
END_TEST

/* ---- full ring, space ---------------------------------------------------- */

START_TEST(test_full_ring)
{
	struct rig g;
	uint8_t *slot;
	uint8_t buf[256];
	rig_open(&g, 8, 0);
	set_idx(&g, NC2_RING_OFF_CONS_EVENT, 0x12345678u);
	for (uint32_t i = 0; i < 32; i++)
		ck_assert_int_eq(produce(&g, 8, i), NC2_OK);
	/* Space is checked before anything else is touched. */
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS_EVENT), 0x12345678u);
	ck_assert_int_eq(nc2_ring_space(&g.p), 0);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 8, &slot), NC2_ERR_AGAIN);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS_EVENT), 1); /* cons + 1 */
	ck_assert_uint_eq(g.p.prod_pvt, 256);
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD), 256);
	ck_assert_int_eq(nc2_ring_pending(&g.c), 256);
	consume_expect(&g, 8, 0);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 8, &slot), NC2_ERR_AGAIN); /* not finished */
	ck_assert_int_eq(nc2_ring_finish(&g.c), 1);                        /* crossed cons_event */
	ck_assert_int_eq(nc2_ring_space(&g.p), 8);
	ck_assert_int_eq(produce(&g, 8, 32), NC2_OK);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 8, &slot), NC2_ERR_AGAIN);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS_EVENT), 9);
	ck_assert_int_eq(nc2_ring_push(&g.p), 0); /* consumer has not armed since */
	for (uint32_t i = 1; i <= 32; i++)
		consume_expect(&g, 8, i);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_AGAIN);
	ck_assert_int_eq(nc2_ring_finish(&g.c), 1);
	ck_assert_int_eq(nc2_ring_space(&g.p), 128);

	/* A consumer that already made room: reserve refreshes cons first and
	 * does not arm. */
	for (uint32_t i = 0; i < 32; i++)
		ck_assert_int_eq(produce(&g, 8, 100 + i), NC2_OK);
	nc2_ring_push(&g.p);
	consume_expect(&g, 8, 100);
	consume_expect(&g, 8, 101);
	set_idx(&g, NC2_RING_OFF_CONS_EVENT, 0x55);
	ck_assert_int_eq(nc2_ring_finish(&g.c), 0);
	ck_assert_int_eq(produce(&g, 16, 200), NC2_OK);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS_EVENT), 0x55);
	rig_close(&g);
}
END_TEST

/* Not enough room for PAD + message: AGAIN, and no PAD is written; a message
 * that fits in the tail still goes. */
START_TEST(test_again_with_pad)
{
	struct rig g;
	uint8_t *slot;
	rig_open(&g, 8, 200);
	/* 156 octets in flight: free 100, pos 200 + 0 ... produce to pos 100. */
	ck_assert_int_eq(produce(&g, 56, 0), NC2_OK); /* 200..255, no PAD */
	ck_assert_int_eq(produce(&g, 96, 1), NC2_OK); /* 0..95 */
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);     /* prod = 352 */
	consume_expect(&g, 56, 0);
	ck_assert_int_eq(nc2_ring_finish(&g.c), 0);    /* cons = 256: free = 160 */
	ck_assert_int_eq(produce(&g, 104, 2), NC2_OK); /* 96..199: prod 456 */
	/* pos 200, tail 56, in flight 200, free 56. */
	uint8_t before[8];
	memcpy(before, g.payload + 200, 8);
	ck_assert_int_eq(nc2_ring_space(&g.p), 56);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 64, &slot), NC2_ERR_AGAIN);
	TU_ASSERT_BYTES(g.payload + 200, before, 8);
	ck_assert_uint_eq(g.p.prod_pvt, 456);
	ck_assert_int_eq(nc2_ring_reserve(&g.p, 56, &slot), NC2_OK);
	ck_assert_ptr_eq(slot, g.payload + 200);
	rig_close(&g);

	/* Space with a PAD in the way: the best of "fits in the tail" and
	 * "after a PAD". */
	rig_open(&g, 8, 200);
	ck_assert_int_eq(nc2_ring_space(&g.p), 128); /* 256 free: max(56, 200) capped */
	ck_assert_int_eq(produce(&g, 8, 0), NC2_OK); /* pos 208, tail 48, free 248 */
	ck_assert_int_eq(nc2_ring_space(&g.p), 128);
	rig_close(&g);
}
END_TEST

/* space() is exact: reserve(space) succeeds, reserve(space + 8) does not. */
START_TEST(test_space_exact)
{
	tu_rng rng;
	tu_rng_seed(&rng, 0x59ace);
	for (int it = 0; it < 3000; it++) {
		struct rig g;
		uint32_t idx = 8u * tu_u32(&rng);
		rig_open(&g, 8, idx);
		uint32_t fill = tu_range(&rng, 0, 30), seq = 0;
		for (uint32_t i = 0; i < fill; i++) {
			if (produce(&g, 8u * tu_range(&rng, 1, 4), seq++) != NC2_OK)
				break;
		}
		int sp = nc2_ring_space(&g.p);
		ck_assert_int_ge(sp, 0);
		ck_assert_int_le(sp, 128);
		ck_assert_int_eq(sp % 8, 0);
		uint8_t *slot;
		uint32_t saved_pvt = g.p.prod_pvt;
		if (sp > 0) {
			ck_assert_int_eq(nc2_ring_reserve(&g.p, (uint32_t)sp, &slot), NC2_OK);
			/* Undo (the PAD it may have written is private). */
			g.p.prod_pvt = saved_pvt;
			g.p.reserved = 0;
		}
		if (sp < 128)
			ck_assert_int_eq(nc2_ring_reserve(&g.p, (uint32_t)sp + 8u, &slot),
					 NC2_ERR_AGAIN);
		rig_close(&g);
	}
}
END_TEST

/* ---- final check --------------------------------------------------------- */

START_TEST(test_final_check)
{
	struct rig g;
	uint8_t buf[256];
	rig_open(&g, 8, 0xfffffff0u);
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD_EVENT), 0xfffffff1u);
	ck_assert_int_eq(produce(&g, 8, 0), NC2_OK);
	ck_assert_int_eq(produce(&g, 24, 1), NC2_OK);
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	ck_assert_int_eq(nc2_ring_push(&g.p), 0);
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 1);
	consume_expect(&g, 8, 0);
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 1);
	consume_expect(&g, 24, 1);
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
	/* 8 at 240, PAD 8 at 248, 24 at 0: cons 0x18. Armed at the private
	 * consumer index, not the published one. */
	ck_assert_uint_eq(g.c.cons_pvt, 0x18);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD_EVENT), 0x19);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS), 0xfffffff0u);
	/* A producer that pushes after the arm must notify. */
	ck_assert_int_eq(produce(&g, 8, 2), NC2_OK);
	ck_assert_int_eq(nc2_ring_push(&g.p), 1);
	/* Pushed between the consumer's last look and its final check: seen. */
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 1);
	consume_expect(&g, 8, 2);
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
	/* cons_event is still 0, which lies in (old, new] across 2^32. */
	ck_assert_int_eq(nc2_ring_finish(&g.c), 1);
	rig_close(&g);

	/* Only a PAD pending: final_check says 1, next skips it and says AGAIN,
	 * then the ring is empty. */
	rig_open(&g, 8, 0xffffffc8u);
	uint32_t c0 = g.c.cons_pvt; /* position 200 */
	uint32_t tail = 256u - (c0 & 255u);
	put_hdr(&g, c0, NC2_MSG_PAD, (uint16_t)tail);
	set_idx(&g, NC2_RING_OFF_PROD, c0 + tail);
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 1);
	ck_assert_int_eq(nc2_ring_pending(&g.c), (int)tail);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_AGAIN);
	ck_assert_int_eq(nc2_ring_pending(&g.c), 0);
	ck_assert_int_eq(nc2_ring_final_check(&g.c), 0);
	ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD_EVENT), c0 + tail + 1u);
	rig_close(&g);
}
END_TEST

/* ---- free-running indices across 2^32 ---------------------------------- */

START_TEST(test_index_wrap_2_32)
{
	static const uint32_t bases[] = {0xffffff00u, 0xfffffff8u, 0x7fffff00u};
	for (size_t b = 0; b < 3; b++) {
		struct rig g;
		tu_rng rng;
		tu_rng_seed(&rng, 0x2032 + b);
		rig_open(&g, 8, bases[b]);
		uint32_t seq_p = 0, seq_c = 0, sizes[64];
		uint32_t expect_prod = bases[b], expect_cons = bases[b];
		for (int it = 0; it < 20000; it++) {
			uint32_t sz = 8u * tu_range(&rng, 1, 16);
			int rc = produce(&g, sz, seq_p);
			if (rc == NC2_OK) {
				uint32_t pos = g.p.prod_pvt - sz;
				ck_assert_uint_eq(pos & 255u, (g.p.prod_pvt - sz) & 255u);
				sizes[seq_p % 64] = sz;
				seq_p++;
			} else {
				ck_assert_int_eq(rc, NC2_ERR_AGAIN);
			}
			if (rc != NC2_OK || tu_range(&rng, 0, 3) == 0) {
				nc2_ring_push(&g.p);
				expect_prod = g.p.prod_pvt;
				ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_PROD), expect_prod);
				uint32_t take = tu_range(&rng, 0, seq_p - seq_c);
				for (uint32_t i = 0; i < take; i++, seq_c++)
					consume_expect(&g, sizes[seq_c % 64], seq_c);
				nc2_ring_finish(&g.c);
				expect_cons = g.c.cons_pvt;
				ck_assert_uint_eq(get_idx(&g, NC2_RING_OFF_CONS), expect_cons);
				ck_assert_uint_le(expect_prod - expect_cons, 256);
			}
		}
		/* The indices really went round. */
		ck_assert_uint_gt(seq_c, 1000);
		ck_assert(g.c.cons_pvt - bases[b] > 0x100u * 10u);
		ck_assert(b == 2 || g.c.cons_pvt < bases[b]);
		rig_close(&g);
	}
}
END_TEST

/* ---- hostile producer (consumer side) ----------------------------------- */

static void assert_cons_failed(struct rig *g, int code)
{
	uint8_t buf[256];
	ck_assert_int_eq(nc2_ring_next(&g->c, buf, sizeof(buf)), code);
	ck_assert_int_eq(nc2_ring_next(&g->c, buf, sizeof(buf)), code);
	ck_assert_int_eq(nc2_ring_pending(&g->c), code);
	ck_assert_int_eq(nc2_ring_final_check(&g->c), code);
	ck_assert_int_eq(nc2_ring_finish(&g->c), code);
	ck_assert_int_eq(g->c.err, code);
	/* A later repair by the peer does not help. */
	set_idx(g, NC2_RING_OFF_PROD, g->c.cons_pvt);
	ck_assert_int_eq(nc2_ring_next(&g->c, buf, sizeof(buf)), code);
	ck_assert_int_eq(nc2_ring_pending(&g->c), code);
}

/* Which entry point first sees the bad index. */
enum { VIA_NEXT, VIA_PENDING, VIA_FINAL, VIA_N };

static int cons_poke(struct rig *g, int via)
{
	uint8_t buf[256];
	switch (via) {
	case VIA_NEXT:
		return nc2_ring_next(&g->c, buf, sizeof(buf));
	case VIA_PENDING:
		return nc2_ring_pending(&g->c);
	default:
		return nc2_ring_final_check(&g->c);
	}
}

START_TEST(test_hostile_prod_index)
{
	static const uint32_t bases[] = {0, 0xffffff80u};
	for (size_t b = 0; b < 2; b++) {
		for (int via = 0; via < VIA_N; via++) {
			/* prod - cons > size, unaligned, far away, behind cons. */
			static const uint32_t deltas[] = {264, 512, 0x80000000u, 4,
							  12,  257, 0xfffffff8u, 0xfffff000u};
			for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
				struct rig g;
				rig_open(&g, 8, bases[b]);
				set_idx(&g, NC2_RING_OFF_PROD, bases[b] + deltas[d]);
				ck_assert_int_eq(cons_poke(&g, via), NC2_ERR_PEER_RING_INDEX);
				assert_cons_failed(&g, NC2_ERR_PEER_RING_INDEX);
				rig_close(&g);
			}
			/* After consuming: prod behind the private index, and prod
			 * more than a ring beyond the published cons. */
			for (int k = 0; k < 3; k++) {
				struct rig g;
				rig_open(&g, 8, bases[b]);
				for (uint32_t i = 0; i < 4; i++)
					ck_assert_int_eq(produce(&g, 32, i), NC2_OK);
				nc2_ring_push(&g.p);
				consume_expect(&g, 32, 0);
				consume_expect(&g, 32, 1);
				if (k == 2)
					nc2_ring_finish(&g.c);
				consume_expect(&g, 32, 2);
				consume_expect(&g, 32, 3); /* cons_pvt = base + 128 */
				uint32_t bad = k == 0 ? bases[b] + 64 : bases[b] + 120;
				if (k == 2) /* published cons base + 64: limit base + 320 */
					bad = bases[b] + 328;
				set_idx(&g, NC2_RING_OFF_PROD, bad);
				ck_assert_int_eq(cons_poke(&g, via), NC2_ERR_PEER_RING_INDEX);
				assert_cons_failed(&g, NC2_ERR_PEER_RING_INDEX);
				rig_close(&g);
			}
			/* prod moving backwards while still ahead of cons is
			 * impossible too. */
			{
				struct rig g;
				rig_open(&g, 8, bases[b]);
				for (uint32_t i = 0; i < 4; i++)
					ck_assert_int_eq(produce(&g, 32, i), NC2_OK);
				nc2_ring_push(&g.p);
				ck_assert_int_eq(nc2_ring_pending(&g.c), 128);
				set_idx(&g, NC2_RING_OFF_PROD, bases[b] + 64);
				ck_assert_int_eq(cons_poke(&g, VIA_PENDING),
						 NC2_ERR_PEER_RING_INDEX);
				assert_cons_failed(&g, NC2_ERR_PEER_RING_INDEX);
				rig_close(&g);
			}
		}
		/* Boundaries that are fine: exactly one ring after finishing. */
		struct rig g;
		rig_open(&g, 8, bases[b]);
		for (uint32_t i = 0; i < 8; i++)
			ck_assert_int_eq(produce(&g, 32, i), NC2_OK);
		ck_assert_int_eq(nc2_ring_push(&g.p), 1);
		ck_assert_int_eq(nc2_ring_pending(&g.c), 256);
		for (uint32_t i = 0; i < 8; i++)
			consume_expect(&g, 32, i);
		nc2_ring_finish(&g.c);
		for (uint32_t i = 0; i < 8; i++)
			ck_assert_int_eq(produce(&g, 32, 8 + i), NC2_OK);
		nc2_ring_push(&g.p);
		ck_assert_int_eq(nc2_ring_pending(&g.c), 256);
		rig_close(&g);
	}
}
END_TEST

struct bad_msg {
	uint32_t start;  /* initial cons = prod offset in the ring */
	uint32_t avail;  /* prod - cons */
	uint8_t type;    /* header type */
	uint16_t size;   /* header size */
	int want;        /* expected result of next() */
	const char *why; /* for the failure message */
};

START_TEST(test_hostile_msg_size)
{
	static const struct bad_msg cases[] = {
	    {0, 16, 1, 0, NC2_ERR_PEER_MSG_SIZE, "size 0"},
	    {0, 16, 1, 4, NC2_ERR_PEER_MSG_SIZE, "size 4"},
	    {0, 16, 1, 12, NC2_ERR_PEER_MSG_SIZE, "size 12"},
	    {0, 16, 1, 15, NC2_ERR_PEER_MSG_SIZE, "size 15"},
	    {0, 16, 1, 24, NC2_ERR_PEER_MSG_SIZE, "size > prod - cons"},
	    {0, 256, 1, 0xfff8, NC2_ERR_PEER_MSG_SIZE, "huge size"},
	    {0, 256, 1, 136, NC2_ERR_PEER_MSG_SIZE, "size > max_msg"},
	    {240, 32, 1, 24, NC2_ERR_PEER_MSG_SIZE, "crosses the end"},
	    {248, 256, 1, 16, NC2_ERR_PEER_MSG_SIZE, "crosses the end, full"},
	    {0, 16, NC2_MSG_PAD, 0, NC2_ERR_PEER_MSG_SIZE, "PAD size 0"},
	    {0, 16, NC2_MSG_PAD, 4, NC2_ERR_PEER_MSG_SIZE, "PAD size 4"},
	    {0, 16, NC2_MSG_PAD, 12, NC2_ERR_PEER_MSG_SIZE, "PAD size 12"},
	    {0, 16, NC2_MSG_PAD, 32, NC2_ERR_PEER_MSG_SIZE, "PAD size > prod - cons"},
	    {240, 32, NC2_MSG_PAD, 24, NC2_ERR_PEER_MSG_SIZE, "PAD crosses the end"},
	    {0, 256, NC2_MSG_PAD, 256, NC2_ERR_PEER_MSG_SIZE, "PAD > max_msg"},
	    /* Fine: exactly the available octets, exactly to the end. */
	    {0, 16, 1, 16, 16, "size == prod - cons"},
	    {240, 32, 1, 16, 16, "ends at the ring end"},
	    {0, 256, 1, 128, 128, "size == max_msg"},
	};
	static const uint32_t bases[] = {0, 0xffffff00u};
	for (size_t b = 0; b < 2; b++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct bad_msg *t = &cases[i];
			for (int via = 0; via < 2; via++) {
				struct rig g;
				uint8_t buf[256];
				uint32_t c0 = bases[b] + t->start;
				rig_open(&g, 8, c0);
				put_hdr(&g, c0, t->type, t->size);
				set_idx(&g, NC2_RING_OFF_PROD, c0 + t->avail);
				/* via 1: the size check comes before the cap check. */
				size_t cap = via ? 8 : sizeof(buf);
				int rc = nc2_ring_next(&g.c, buf, cap);
				int want = t->want;
				if (via && want > 8)
					want = NC2_ERR_NOSPACE;
				ck_assert_msg(rc == want, "%s: got %d want %d", t->why, rc, want);
				if (want == NC2_ERR_PEER_MSG_SIZE) {
					ck_assert_uint_eq(g.c.cons_pvt, c0);
					assert_cons_failed(&g, NC2_ERR_PEER_MSG_SIZE);
				}
				rig_close(&g);
			}
		}
	}
}
END_TEST

/* Header flags are reserved on PAD too, though its body is never read. */
START_TEST(test_pad_flags)
{
	struct rig g;
	uint8_t buf[256];
	rig_open(&g, 8, 0);
	put_hdr(&g, 0, NC2_MSG_PAD, 16);
	g.payload[NC2_HDR_OFF_FLAGS] = 0x01;
	set_idx(&g, NC2_RING_OFF_PROD, 24);
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_PEER_RESERVED);
	assert_cons_failed(&g, NC2_ERR_PEER_RESERVED);
	rig_close(&g);
}
END_TEST

/* The header is validated from the private copy: the buffer holds exactly
 * the header that was judged. */
START_TEST(test_header_copied_once)
{
	struct rig g;
	uint8_t buf[256];
	rig_open(&g, 8, 0);
	put_hdr(&g, 0, 7, 12);
	set_idx(&g, NC2_RING_OFF_PROD, 64);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(nc2_ring_next(&g.c, buf, sizeof(buf)), NC2_ERR_PEER_MSG_SIZE);
	ck_assert_uint_eq(buf[0], 7);
	ck_assert_uint_eq(tu_get16(buf + 2), 12);
	for (size_t i = 4; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0); /* no body copied */
	rig_close(&g);
}
END_TEST

/* ---- hostile consumer (producer side) ----------------------------------- */

static void assert_prod_failed(struct rig *g, int code)
{
	uint8_t *slot;
	ck_assert_int_eq(nc2_ring_reserve(&g->p, 8, &slot), code);
	ck_assert_int_eq(nc2_ring_space(&g->p), code);
	ck_assert_int_eq(nc2_ring_push(&g->p), code);
	nc2_ring_commit(&g->p);
	ck_assert_int_eq(nc2_ring_push(&g->p), code);
	ck_assert_int_eq(g->p.err, code);
	set_idx(g, NC2_RING_OFF_CONS, g->p.prod_pub);
	ck_assert_int_eq(nc2_ring_reserve(&g->p, 8, &slot), code);
	ck_assert_int_eq(nc2_ring_space(&g->p), code);
}

START_TEST(test_hostile_cons_index)
{
	static const uint32_t bases[] = {0, 0xffffffe0u};
	for (size_t b = 0; b < 2; b++) {
		/* State: published 128 (base..base+128), consumer published 64,
		 * 32 more committed but not pushed. */
		static const int32_t offs[] = {56, -8, 136, 160, 68, 2, 0x40000000, -0x1000};
		for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
			for (int via = 0; via < 2; via++) {
				struct rig g;
				uint8_t *slot;
				uint32_t base = bases[b];
				rig_open(&g, 8, base);
				for (uint32_t i = 0; i < 4; i++)
					ck_assert_int_eq(produce(&g, 32, i), NC2_OK);
				nc2_ring_push(&g.p);
				consume_expect(&g, 32, 0);
				consume_expect(&g, 32, 1);
				nc2_ring_finish(&g.c);
				ck_assert_int_eq(nc2_ring_space(&g.p),
						 128); /* cons now base + 64 */
				ck_assert_int_eq(produce(&g, 32, 4), NC2_OK);
				/* 56: backwards; -8: before the start; 136, 160: past
				 * prod_pub (136 is within the unpushed part); 68, 2:
				 * unaligned. */
				set_idx(&g, NC2_RING_OFF_CONS, base + (uint32_t)offs[k]);
				if (via == 0) {
					ck_assert_int_eq(nc2_ring_space(&g.p),
							 NC2_ERR_PEER_RING_INDEX);
				} else {
					/* reserve only looks when short of space. */
					int rc = NC2_OK;
					for (int i = 0; i < 40 && rc == NC2_OK; i++) {
						rc = nc2_ring_reserve(&g.p, 32, &slot);
						if (rc == NC2_OK)
							nc2_ring_commit(&g.p);
					}
					ck_assert_int_eq(rc, NC2_ERR_PEER_RING_INDEX);
				}
				assert_prod_failed(&g, NC2_ERR_PEER_RING_INDEX);
				rig_close(&g);
			}
		}
		/* Fine: cons unchanged, cons == prod_pub. */
		struct rig g;
		rig_open(&g, 8, bases[b]);
		for (uint32_t i = 0; i < 4; i++)
			ck_assert_int_eq(produce(&g, 32, i), NC2_OK);
		nc2_ring_push(&g.p);
		ck_assert_int_eq(produce(&g, 32, 4), NC2_OK);
		ck_assert_int_eq(nc2_ring_space(&g.p), 96);
		set_idx(&g, NC2_RING_OFF_CONS, bases[b] + 128);
		ck_assert_int_eq(nc2_ring_space(&g.p), 128);
		ck_assert_uint_eq(g.p.cons, bases[b] + 128);
		rig_close(&g);
	}
}
END_TEST

/* ---- random images and indices ----------------------------------------- */

/* Fill the image with a chain of plausible headers (some PAD, some broken). */
static void random_chain(tu_rng *rng, uint8_t *img, uint32_t size, uint32_t from)
{
	uint32_t mask = size - 1u, at = from & ~7u, left = size;
	while (left >= 8) {
		uint32_t pos = at & mask, tail = size - pos;
		uint32_t sz = 8u * tu_range(rng, 1, 20);
		uint8_t type = (uint8_t)tu_range(rng, 1, 40);
		if (tu_range(rng, 0, 5) == 0) {
			type = NC2_MSG_PAD;
			sz = tail;
		}
		if (sz > tail)
			sz = tail;
		if (tu_range(rng, 0, 60) == 0)
			sz = tu_range(rng, 0, 300); /* broken */
		img[pos] = type;
		img[pos + 1] = (uint8_t)tu_range(rng, 0, 1);
		tu_put16(img + pos + 2, (uint16_t)sz);
		uint32_t step = sz < 8 ? 8 : (sz + 7u) & ~7u;
		if (step > left)
			break;
		at += step;
		left -= step;
	}
}

static int is_peer_ring_err(int rc)
{
	return rc == NC2_ERR_PEER_RING_INDEX || rc == NC2_ERR_PEER_MSG_SIZE ||
	       rc == NC2_ERR_PEER_RESERVED; /* PAD with header flags set */
}

START_TEST(test_random_consumer)
{
	tu_rng rng;
	tu_rng_seed(&rng, 0xc0ffee);
	uint8_t *buf = malloc(70000);
	ck_assert_ptr_nonnull(buf);
	unsigned long msgs = 0, errs = 0;
	for (int it = 0; it < 20000; it++) {
		struct rig g;
		uint32_t order = tu_range(&rng, 8, 10);
		rig_alloc(&g, order, 0, 0, 0);
		tu_fill(&rng, g.payload, g.size);
		uint32_t cons0 = tu_range(&rng, 0, 7) ? 8u * tu_u32(&rng) : tu_u32(&rng);
		if (tu_range(&rng, 0, 1))
			random_chain(&rng, g.payload, g.size, cons0);
		uint32_t prod = cons0 + 8u * tu_range(&rng, 0, g.size / 8u + 1u);
		if (tu_range(&rng, 0, 9) == 0)
			prod = tu_u32(&rng);
		set_idx(&g, NC2_RING_OFF_CONS, cons0);
		set_idx(&g, NC2_RING_OFF_PROD, prod);
		int rc = nc2_ring_cons_init(&g.c, g.ctrl, g.payload, order);
		int init_bad = (cons0 & 7u) || (prod & 7u) || (uint32_t)(prod - cons0) > g.size;
		if (init_bad) {
			ck_assert_int_eq(rc, NC2_ERR_PEER_RING_INDEX);
			rig_close(&g);
			continue;
		}
		ck_assert_int_eq(rc, NC2_OK);
		int last = 0;
		for (int step = 0; step < 400; step++) {
			size_t cap = tu_range(&rng, 0, 3) ? 70000 : tu_range(&rng, 8, 200);
			uint32_t before = g.c.cons_pvt;
			rc = nc2_ring_next(&g.c, buf, cap);
			if (rc > 0) {
				uint32_t n = (uint32_t)rc;
				msgs++;
				ck_assert_uint_ge(n, 8);
				ck_assert_uint_le(n, g.c.max_msg);
				ck_assert_uint_eq(n % 8, 0);
				ck_assert_uint_le(n, cap);
				ck_assert_uint_eq(tu_get16(buf + 2), n);
				ck_assert_uint_ne(buf[0], NC2_MSG_PAD);
				uint32_t start = g.c.cons_pvt - n;
				ck_assert_uint_le((uint32_t)(start - before), g.size);
				ck_assert_uint_le((start & g.mask) + n, g.size);
				TU_ASSERT_BYTES(buf, g.payload + (start & g.mask), n);
				ck_assert_uint_le(g.c.cons_pvt - cons0, g.c.prod - cons0);
				ck_assert_uint_le(g.c.prod - g.c.cons_pub, g.size);
			} else if (rc == NC2_ERR_NOSPACE) {
				ck_assert_uint_lt(cap, g.c.max_msg);
			} else if (rc == NC2_ERR_AGAIN) {
				/* The hostile peer moves prod, or we publish and stop. */
				uint32_t r = tu_range(&rng, 0, 5);
				if (r == 0)
					break;
				if (r == 1)
					nc2_ring_finish(&g.c);
				if (r == 2)
					nc2_ring_final_check(&g.c);
				uint32_t np = g.c.prod + 8u * tu_range(&rng, 0, 40);
				if (tu_range(&rng, 0, 6) == 0)
					np = tu_u32(&rng);
				if (tu_range(&rng, 0, 3) == 0) /* rewrite what follows */
					random_chain(&rng, g.payload, g.size, g.c.cons_pvt);
				set_idx(&g, NC2_RING_OFF_PROD, np);
			} else {
				ck_assert_msg(is_peer_ring_err(rc), "unexpected %d", rc);
				last = rc;
				errs++;
				break;
			}
		}
		if (last != 0) {
			ck_assert_int_eq(nc2_ring_next(&g.c, buf, 70000), last);
			ck_assert_int_eq(nc2_ring_pending(&g.c), last);
		}
		rig_close(&g);
	}
	free(buf);
	/* The generator reaches both outcomes. */
	ck_assert_uint_gt(msgs, 10000);
	ck_assert_uint_gt(errs, 1000);
}
END_TEST

/* The producer asks for the lines it is about to write and RING_PF_AHEAD
 * more, each once, only whole lines the consumer has released; a hint that
 * changes nothing else (lib/ring_pf.h). */
START_TEST(test_prefetch_window)
{
	struct rig g;
	uint8_t *slot;
	rig_open(&g, 12, 40);         /* mid-line start */
	ck_assert_uint_eq(g.p.pf, 0); /* its line */
	ck_assert_int_eq(produce(&g, 32, 0), NC2_OK);
	/* From the line of prod (0), past 40 + 32 + AHEAD, then AHEAD more. */
	uint32_t want = 40u + 32u + 2u * RING_PF_AHEAD;
	ck_assert_uint_eq(g.p.pf, (want + RING_PF_LINE - 1u) & ~(RING_PF_LINE - 1u));
	uint32_t pf = g.p.pf;
	ck_assert_int_eq(produce(&g, 32, 1), NC2_OK); /* still RING_PF_AHEAD ahead */
	ck_assert_uint_eq(g.p.pf, pf);
	/* Up to the consumer: with nothing consumed the window stops at the
	 * last whole line below cons + size. */
	for (uint32_t i = 2; nc2_ring_reserve(&g.p, 64, &slot) == NC2_OK; i++) {
		make_msg(slot, 64, i);
		nc2_ring_commit(&g.p);
		ck_assert_int_le((int32_t)(g.p.pf - (40u + g.size)), 0);
	}
	ck_assert_uint_eq(g.p.pf, (40u + g.size) & ~(RING_PF_LINE - 1u));
	rig_close(&g);
}
END_TEST

START_TEST(test_random_producer)
{
	tu_rng rng;
	tu_rng_seed(&rng, 0xbadc0de);
	unsigned long oks = 0, errs = 0;
	for (int it = 0; it < 3000; it++) {
		struct rig g;
		uint32_t order = tu_range(&rng, 8, 10);
		uint32_t idx = 8u * tu_u32(&rng);
		rig_open(&g, order, idx);
		uint32_t good_cons = idx; /* what an honest consumer has published */
		int failed = 0;
		for (int step = 0; step < 300 && !failed; step++) {
			uint32_t op = tu_range(&rng, 0, 9);
			uint8_t *slot = NULL;
			if (op <= 4) {
				uint32_t sz = 8u * tu_range(&rng, 1, g.p.max_msg / 8u);
				uint32_t pvt = g.p.prod_pvt;
				int rc = nc2_ring_reserve(&g.p, sz, &slot);
				if (rc == NC2_OK) {
					oks++;
					uint32_t off = (uint32_t)(slot - g.payload);
					ck_assert_uint_eq(off % 8, 0);
					ck_assert_uint_le(off + sz, g.size);
					ck_assert_uint_eq(off, g.p.prod_pvt & g.mask);
					/* Either in place, or after a PAD of the tail. */
					uint32_t tail = g.size - (pvt & g.mask);
					if (sz > tail) {
						ck_assert_uint_eq(g.p.prod_pvt, pvt + tail);
						ck_assert_uint_eq(g.payload[pvt & g.mask],
								  NC2_MSG_PAD);
					} else {
						ck_assert_uint_eq(g.p.prod_pvt, pvt);
					}
					/* Never over what the consumer has not released,
					 * nor asks for such a line. */
					ck_assert_uint_le(g.p.prod_pvt + sz - g.p.cons, g.size);
					ck_assert_int_le((int32_t)(g.p.pf - g.p.cons),
							 (int32_t)g.size);
					memset(slot, 0x11, sz);
					tu_put16(slot + 2, (uint16_t)sz);
					nc2_ring_commit(&g.p);
				} else {
					/* Every cons value left in place is valid. */
					ck_assert_int_eq(rc, NC2_ERR_AGAIN);
				}
			} else if (op <= 6) {
				int rc = nc2_ring_push(&g.p);
				ck_assert(rc == 0 || rc == 1);
			} else if (op == 7) {
				/* Honest progress. */
				uint32_t adv =
				    8u * tu_range(&rng, 0, (g.p.prod_pub - good_cons) / 8u);
				good_cons += adv;
				set_idx(&g, NC2_RING_OFF_CONS, good_cons);
			} else if (op == 8) {
				int rc = nc2_ring_space(&g.p);
				ck_assert_int_ge(rc, 0);
				ck_assert_int_le(rc, (int)g.p.max_msg);
			} else if (tu_range(&rng, 0, 3) == 0) {
				/* Hostile value: anything. */
				uint32_t v = tu_range(&rng, 0, 1)
						 ? tu_u32(&rng)
						 : good_cons + tu_range(&rng, 0, 64) - 32u;
				set_idx(&g, NC2_RING_OFF_CONS, v);
				uint32_t last = g.p.cons;
				int bad = (v & 7u) ||
					  (uint32_t)(v - last) > (uint32_t)(g.p.prod_pub - last);
				int rc = nc2_ring_space(&g.p);
				if (bad) {
					ck_assert_int_eq(rc, NC2_ERR_PEER_RING_INDEX);
					failed = rc;
				} else {
					ck_assert_int_ge(rc, 0);
					good_cons = v;
				}
			}
		}
		if (failed) {
			errs++;
			assert_prod_failed(&g, failed);
		}
		rig_close(&g);
	}
	ck_assert_uint_gt(oks, 10000);
	ck_assert_uint_gt(errs, 100);
}
END_TEST

/* ---- two threads ----------------------------------------------------------- */

#define STRESS_MSGS  1000000u
#define WAIT_SECONDS 20

struct stress {
	struct rig g;
	atomic_int bell_cons; /* producer -> consumer notification */
	atomic_int bell_prod; /* consumer -> producer notification */
	atomic_int abort_flag;
	unsigned long prod_waits, cons_waits, prod_notifies, cons_notifies;
	const char *fail_p; /* written by the producer thread only */
	const char *fail_c; /* written by the consumer thread only */
	uint32_t size_mod;  /* message sizes 8 .. 8 * size_mod, and max_msg */
	int lazy;           /* two in three messages lazy, wake_lazy toggled */
};

static uint32_t stress_size(const struct stress *s, uint32_t seq)
{
	uint32_t h = seq * 2654435761u;
	h ^= h >> 15;
	if ((h & 1023u) == 0)
		return s->g.c.max_msg;
	return 8u * (1u + (h >> 3) % s->size_mod);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* [0..3] header, [4..7] seq, body words from (seq, i), last 4: checksum. */
static void stress_fill(uint8_t *m, uint32_t size, uint32_t seq)
{
	m[0] = msg_type(seq);
	m[1] = 0;
	tu_put16(m + 2, (uint16_t)size);
	tu_put32(m + 4, seq);
	uint32_t sum = seq;
	for (uint32_t i = 8; i + 8 <= size; i += 8) {
		uint64_t w = mix64(((uint64_t)seq << 20) ^ i);
		memcpy(m + i, &w, 8);
		sum = sum * 31u + (uint32_t)w + (uint32_t)(w >> 32);
	}
	if (size >= 16)
		tu_put32(m + size - 4, sum);
}

static int stress_check(const uint8_t *m, uint32_t size, uint32_t seq)
{
	if (m[0] != msg_type(seq) || m[1] != 0 || tu_get16(m + 2) != size || tu_get32(m + 4) != seq)
		return 0;
	uint32_t sum = seq;
	for (uint32_t i = 8; i + 8 <= size; i += 8) {
		uint64_t w = mix64(((uint64_t)seq << 20) ^ i), got;
		memcpy(&got, m + i, 8);
		if (i + 8 == size) /* last word: high half is the checksum */
			got = (got & 0xffffffffu) | (w & 0xffffffff00000000ull);
		if (got != w)
			return 0;
		sum = sum * 31u + (uint32_t)w + (uint32_t)(w >> 32);
	}
	return size < 16 || tu_get32(m + size - 4) == sum;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep until rung. A lost wakeup shows as a timeout. */
static int wait_bell(struct stress *s, atomic_int *bell)
{
	double deadline = now_s() + WAIT_SECONDS;
	while (!atomic_exchange(bell, 0)) {
		if (atomic_load(&s->abort_flag))
			return -1;
		if (now_s() > deadline)
			return -1;
		sched_yield();
	}
	return 0;
}

static void stress_fail(struct stress *s, const char **slot, const char *why)
{
	if (*slot == NULL)
		*slot = why;
	atomic_store(&s->abort_flag, 1);
}

static void *stress_producer(void *arg)
{
	struct stress *s = arg;
	nc2_ring_prod *p = &s->g.p;
	uint32_t seq = 0, batch = 0;
	while (seq < STRESS_MSGS && !atomic_load(&s->abort_flag)) {
		uint32_t size = stress_size(s, seq);
		uint8_t *slot;
		int rc = nc2_ring_reserve(p, size, &slot);
		if (rc == NC2_OK) {
			stress_fill(slot, size, seq);
			/* The last message is eager: it must wake the consumer. */
			if (s->lazy && seq % 3u != 0 && seq + 1 < STRESS_MSGS)
				nc2_ring_commit_lazy(p);
			else
				nc2_ring_commit(p);
			seq++;
			if (++batch >= 1u + (seq % 13u)) {
				batch = 0;
				rc = nc2_ring_push(p);
				if (rc == 1) {
					s->prod_notifies++;
					atomic_store(&s->bell_cons, 1);
				} else if (rc != 0) {
					stress_fail(s, &s->fail_p, "producer: push failed");
				}
			}
			continue;
		}
		if (rc != NC2_ERR_AGAIN) {
			stress_fail(s, &s->fail_p, "producer: reserve failed");
			break;
		}
		/* Full: publish what we have (the consumer cannot free space for
		 * unpublished messages), then sleep until the consumer's event;
		 * reserve has armed cons_event. */
		batch = 0;
		rc = nc2_ring_push(p);
		if (rc == 1) {
			s->prod_notifies++;
			atomic_store(&s->bell_cons, 1);
		}
		s->prod_waits++;
		if (wait_bell(s, &s->bell_prod) != 0) {
			stress_fail(s, &s->fail_p,
				    "producer: lost wakeup (no event from the consumer)");
			break;
		}
	}
	if (nc2_ring_push(p) == 1)
		atomic_store(&s->bell_cons, 1);
	return NULL;
}

static void *stress_consumer(void *arg)
{
	struct stress *s = arg;
	nc2_ring_cons *c = &s->g.c;
	uint8_t *buf = malloc(NC2_MSG_MAX_SIZE);
	uint32_t seq = 0;
	if (buf == NULL) {
		stress_fail(s, &s->fail_c, "consumer: malloc");
		return NULL;
	}
	while (seq < STRESS_MSGS && !atomic_load(&s->abort_flag)) {
		int n = nc2_ring_next(c, buf, NC2_MSG_MAX_SIZE);
		if (n > 0) {
			if ((uint32_t)n != stress_size(s, seq) ||
			    !stress_check(buf, (uint32_t)n, seq)) {
				stress_fail(s, &s->fail_c,
					    "consumer: wrong message (order or content)");
				break;
			}
			seq++;
			if (seq % 7u == 0 && nc2_ring_finish(c) == 1) {
				s->cons_notifies++;
				atomic_store(&s->bell_prod, 1);
			}
			continue;
		}
		if (n != NC2_ERR_AGAIN) {
			stress_fail(s, &s->fail_c, "consumer: next failed");
			break;
		}
		if (nc2_ring_finish(c) == 1) {
			s->cons_notifies++;
			atomic_store(&s->bell_prod, 1);
		}
		if (s->lazy)
			nc2_ring_wake_lazy(c, (seq >> 10) & 1u);
		int fc = nc2_ring_final_check(c);
		if (fc == 1)
			continue;
		if (fc != 0) {
			stress_fail(s, &s->fail_c, "consumer: final_check failed");
			break;
		}
		s->cons_waits++;
		if (wait_bell(s, &s->bell_cons) != 0) {
			stress_fail(s, &s->fail_c,
				    "consumer: lost wakeup (no event from the producer)");
			break;
		}
	}
	if (nc2_ring_finish(c) == 1)
		atomic_store(&s->bell_prod, 1);
	free(buf);
	return NULL;
}

/*
 * 1M messages of varying size, sequence numbers and checksums, batched
 * pushes and finishes, and real sleeps: a thread that gets AGAIN waits for
 * the other's notification (push/finish returning 1), so a lost wakeup in
 * the event handshake shows as a timeout. _i = 0: ring of 4096, sizes up to
 * 512 and max_msg; _i = 1: ring of 256, sizes 8..128, almost always full;
 * _i = 2, 3: the same with two in three messages lazy and the consumer
 * switching wake_lazy every 1024 messages.
 */
START_TEST(test_two_threads)
{
	struct stress *s = calloc(1, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	/* Start near 2^32 so the indices wrap during the run. */
	rig_open(&s->g, _i % 2 == 0 ? 12 : 8, 0xfffff000u);
	s->size_mod = _i % 2 == 0 ? 64 : 16;
	s->lazy = _i >= 2;
	atomic_init(&s->bell_cons, 0);
	atomic_init(&s->bell_prod, 0);
	atomic_init(&s->abort_flag, 0);
	pthread_t tp, tc;
	ck_assert_int_eq(pthread_create(&tc, NULL, stress_consumer, s), 0);
	ck_assert_int_eq(pthread_create(&tp, NULL, stress_producer, s), 0);
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	ck_assert_msg(s->fail_p == NULL, "%s", s->fail_p ? s->fail_p : "");
	ck_assert_msg(s->fail_c == NULL, "%s", s->fail_c ? s->fail_c : "");
	ck_assert_uint_eq(s->g.c.cons_pvt, s->g.p.prod_pub);
	ck_assert_uint_eq(get_idx(&s->g, NC2_RING_OFF_CONS), s->g.p.prod_pub);
	ck_assert_int_eq(s->g.p.err, 0);
	ck_assert_int_eq(s->g.c.err, 0);
	rig_close(&s->g);
	free(s);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("api");
	tcase_add_test(tc, test_ctrl_init);
	tcase_add_test(tc, test_init_args);
	tcase_add_test(tc, test_max_msg);
	tcase_add_test(tc, test_basic_and_stride);
	tcase_add_test(tc, test_reserve_args);
	tcase_add_test(tc, test_reserve_replace_and_commit);
	tcase_add_test(tc, test_extend);
	tcase_add_test(tc, test_next_args_nospace);
	suite_add_tcase(s, tc);

	tc = tcase_create("wrap");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_wrap_every_offset);
	tcase_add_test(tc, test_pad_skip_small_buf);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_index_wrap_2_32);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_event_push);
	tcase_add_test(tc, test_event_lazy);
	tcase_add_test(tc, test_event_finish);
	tcase_add_test(tc, test_nothing_new_untouched);
	tcase_add_test(tc, test_full_ring);
	tcase_add_test(tc, test_again_with_pad);
	tcase_add_test(tc, test_space_exact);
	tcase_add_test(tc, test_final_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hostile_prod_index);
	tcase_add_test(tc, test_hostile_msg_size);
	tcase_add_test(tc, test_pad_flags);
	tcase_add_test(tc, test_header_copied_once);
	tcase_add_test(tc, test_hostile_cons_index);
	tcase_add_test(tc, test_random_consumer);
	tcase_add_test(tc, test_random_producer);
	tcase_add_test(tc, test_prefetch_window);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_two_threads, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(ring_suite());
}
