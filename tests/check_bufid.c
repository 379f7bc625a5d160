/* SPDX-License-Identifier: MIT */
/* Free-buffer id tables (nc2/bufid.h). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nc2/bufid.h>

#include "testutil.h"

#define CANARY 0xa5u

/*
 * Check's own assertions make a system call each even when they pass
 * (_mark_point), which makes million-assertion loops slow; these only call
 * into Check on failure (and the failure names the calling line).
 */
#define T_EQ(got, want)                                                                       \
	do {                                                                                  \
		long long t_g_ = (long long)(got), t_w_ = (long long)(want);                  \
		if (t_g_ != t_w_)                                                             \
			ck_abort_msg("%s == %lld, want %s == %lld", #got, t_g_, #want, t_w_); \
	} while (0)
#define T_TRUE(cond)                                       \
	do {                                               \
		if (!(cond))                               \
			ck_abort_msg("failed: %s", #cond); \
	} while (0)
#define T_MSG(cond, ...)                           \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* A table in malloc'd memory with canary octets after the footprint. */
struct tbl {
	nc2_bufid *t;
	uint8_t *mem;
	size_t fp;
};

static void tbl_open(struct tbl *x, uint32_t cap)
{
	x->fp = nc2_bufid_footprint(cap);
	T_TRUE(x->fp > 0);
	x->mem = malloc(x->fp + 64);
	ck_assert_ptr_nonnull(x->mem);
	memset(x->mem, CANARY, x->fp + 64);
	T_EQ(nc2_bufid_init(&x->t, x->mem, x->fp, cap), NC2_OK);
	ck_assert_ptr_eq((void *)x->t, (void *)x->mem);
}

static void tbl_close(struct tbl *x)
{
	for (size_t i = 0; i < 64; i++)
		T_MSG(x->mem[x->fp + i] == CANARY, "wrote past the footprint at +%zu", i);
	free(x->mem);
}

static uint32_t gen_of(uint32_t id)
{
	return id >> 16;
}

/* Next generation after g, as documented: +1, skipping 0. */
static uint32_t next_gen(uint32_t g)
{
	g = (g + 1u) & 0xffffu;
	return g == 0 ? 1u : g;
}

/* ---- footprint and init ----------------------------------------------------- */

START_TEST(test_footprint)
{
	T_EQ(nc2_bufid_footprint(0), 0);
	T_EQ(nc2_bufid_footprint(NC2_BUFID_MAX_CAPACITY + 1u), 0);
	T_EQ(nc2_bufid_footprint(UINT32_MAX), 0);
	size_t prev = 0;
	static const uint32_t caps[] = {1, 2, 3, 63, 64, 65, 127, 128, 129, 1000, 65535, 65536};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t fp = nc2_bufid_footprint(caps[i]);
		T_TRUE(fp > 0);
		T_EQ(fp % 8, 0);
		T_TRUE(fp >= prev);
		/* At least a bit, a generation and a stack slot per id. */
		T_TRUE(fp >= (size_t)caps[i] * 4 + ((size_t)caps[i] + 7) / 8);
		prev = fp;
	}
}
END_TEST

START_TEST(test_init_errors)
{
	size_t fp = nc2_bufid_footprint(16);
	uint64_t *mem = calloc(1, fp + 16);
	nc2_bufid *t = NULL;
	ck_assert_ptr_nonnull(mem);
	T_EQ(nc2_bufid_init(NULL, mem, fp, 16), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_init(&t, NULL, fp, 16), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_init(&t, (uint8_t *)mem + 4, fp, 16), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_init(&t, mem, fp, 0), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_init(&t, mem, fp, NC2_BUFID_MAX_CAPACITY + 1u), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_init(&t, mem, fp - 1, 16), NC2_ERR_NOSPACE);
	T_EQ(nc2_bufid_init(&t, mem, 0, 16), NC2_ERR_NOSPACE);
	ck_assert_ptr_null(t);
	T_EQ(nc2_bufid_init(&t, mem, fp, 16), NC2_OK);
	ck_assert_ptr_eq((void *)t, (void *)mem);
	T_EQ(nc2_bufid_capacity(t), 16);
	T_EQ(nc2_bufid_in_flight(t), 0);
	free(mem);
}
END_TEST

START_TEST(test_null_args)
{
	struct tbl x;
	uint32_t id = 0, pos = 0;
	tbl_open(&x, 4);
	T_EQ(nc2_bufid_alloc(NULL, &id), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_alloc(x.t, NULL), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_free(NULL, 0x10000u), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_take(NULL, 0x10000u, &id), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_lookup(NULL, 0x10000u, &id), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_next_in_flight(NULL, &pos, &id), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_next_in_flight(x.t, NULL, &id), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_next_in_flight(x.t, &pos, NULL), NC2_ERR_INVALID_ARG);
	T_EQ(nc2_bufid_in_flight(NULL), 0);
	T_EQ(nc2_bufid_capacity(NULL), 0);
	/* A lookup may skip the index output. */
	T_EQ(nc2_bufid_alloc(x.t, &id), NC2_OK);
	T_EQ(nc2_bufid_lookup(x.t, id, NULL), NC2_OK);
	/* So may a take; a second take of the same id is refused. */
	T_EQ(nc2_bufid_take(x.t, id, NULL), NC2_OK);
	T_EQ(nc2_bufid_take(x.t, id, NULL), NC2_ERR_PEER_BAD_ID);
	tbl_close(&x);
}
END_TEST

/* ---- alloc / free ----------------------------------------------------------- */

static const uint32_t alloc_caps[] = {1, 2, 63, 64, 65, 1000, 4096, 65536};
#define N_ALLOC_CAPS (int)(sizeof(alloc_caps) / sizeof(alloc_caps[0]))

START_TEST(test_alloc_all_then_again)
{
	uint32_t cap = alloc_caps[_i];
	struct tbl x;
	uint32_t *ids = malloc(sizeof(uint32_t) * cap);
	uint8_t *seen = calloc(cap, 1);
	ck_assert_ptr_nonnull(ids);
	ck_assert_ptr_nonnull(seen);
	tbl_open(&x, cap);

	for (uint32_t n = 0; n < cap; n++) {
		uint32_t id = 0, idx = 0xdead;
		T_EQ(nc2_bufid_alloc(x.t, &id), NC2_OK);
		T_TRUE(id != 0);
		T_TRUE(gen_of(id) != 0);
		idx = nc2_bufid_index(id);
		T_TRUE(idx < cap);
		T_MSG(!seen[idx], "index %u handed out twice", idx);
		seen[idx] = 1;
		uint32_t got = 0xdead;
		T_EQ(nc2_bufid_lookup(x.t, id, &got), NC2_OK);
		T_EQ(got, idx);
		ids[n] = id;
		T_EQ(nc2_bufid_in_flight(x.t), n + 1);
	}
	uint32_t id = 0x12345678u;
	T_EQ(nc2_bufid_alloc(x.t, &id), NC2_ERR_AGAIN);
	T_EQ(id, 0x12345678u); /* untouched on failure */
	T_EQ(nc2_bufid_alloc(x.t, &id), NC2_ERR_AGAIN);
	T_EQ(nc2_bufid_in_flight(x.t), cap);

	/* One back, one out again; then still exhausted. */
	T_EQ(nc2_bufid_free(x.t, ids[cap / 2]), NC2_OK);
	T_EQ(nc2_bufid_alloc(x.t, &id), NC2_OK);
	T_EQ(nc2_bufid_index(id), nc2_bufid_index(ids[cap / 2]));
	T_TRUE(id != ids[cap / 2]);
	T_EQ(nc2_bufid_alloc(x.t, &id), NC2_ERR_AGAIN);
	tbl_close(&x);
	free(ids);
	free(seen);
}
END_TEST

START_TEST(test_free_random_order)
{
	uint32_t cap = alloc_caps[_i];
	struct tbl x;
	tu_rng r;
	uint32_t *ids = malloc(sizeof(uint32_t) * cap);
	ck_assert_ptr_nonnull(ids);
	tu_rng_seed(&r, 0xb0f1d000u + cap);
	tbl_open(&x, cap);

	for (int round = 0; round < 3; round++) {
		for (uint32_t n = 0; n < cap; n++)
			T_EQ(nc2_bufid_alloc(x.t, &ids[n]), NC2_OK);
		/* Fisher-Yates: the peer returns ids in any order. */
		for (uint32_t n = cap; n > 1; n--) {
			uint32_t k = tu_range(&r, 0, n - 1);
			uint32_t tmp = ids[k];
			ids[k] = ids[n - 1];
			ids[n - 1] = tmp;
		}
		for (uint32_t n = 0; n < cap; n++) {
			T_EQ(nc2_bufid_free(x.t, ids[n]), NC2_OK);
			T_EQ(nc2_bufid_in_flight(x.t), cap - n - 1);
			/* Gone: lookup and a second free both refuse it. */
			T_EQ(nc2_bufid_lookup(x.t, ids[n], NULL), NC2_ERR_PEER_BAD_ID);
		}
		for (uint32_t n = 0; n < cap; n++)
			T_EQ(nc2_bufid_free(x.t, ids[n]), NC2_ERR_PEER_BAD_ID);
		T_EQ(nc2_bufid_in_flight(x.t), 0);
	}
	tbl_close(&x);
	free(ids);
}
END_TEST

START_TEST(test_duplicate_free)
{
	struct tbl x;
	uint32_t a, b;
	tbl_open(&x, 8);
	T_EQ(nc2_bufid_alloc(x.t, &a), NC2_OK);
	T_EQ(nc2_bufid_alloc(x.t, &b), NC2_OK);
	T_EQ(nc2_bufid_free(x.t, a), NC2_OK);
	T_EQ(nc2_bufid_free(x.t, a), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_free(x.t, a), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_in_flight(x.t), 1);
	/* The refused frees did not push the slot twice: only 7 allocs fit. */
	uint32_t id;
	for (int n = 0; n < 7; n++)
		T_EQ(nc2_bufid_alloc(x.t, &id), NC2_OK);
	T_EQ(nc2_bufid_alloc(x.t, &id), NC2_ERR_AGAIN);
	T_EQ(nc2_bufid_lookup(x.t, b, NULL), NC2_OK);
	tbl_close(&x);
}
END_TEST

/* take = free that names the slot: once per id, the index left alone when
 * refused, and the slot reused like a freed one. */
START_TEST(test_take)
{
	struct tbl x;
	uint32_t a, b, idx = 77, again;
	tbl_open(&x, 4);
	T_EQ(nc2_bufid_alloc(x.t, &a), NC2_OK);
	T_EQ(nc2_bufid_alloc(x.t, &b), NC2_OK);
	T_EQ(nc2_bufid_take(x.t, b, &idx), NC2_OK);
	T_EQ(idx, nc2_bufid_index(b));
	T_EQ(nc2_bufid_in_flight(x.t), 1);
	idx = 77;
	T_EQ(nc2_bufid_take(x.t, b, &idx), NC2_ERR_PEER_BAD_ID);
	T_EQ(idx, 77);
	T_EQ(nc2_bufid_lookup(x.t, a, NULL), NC2_OK);
	T_EQ(nc2_bufid_alloc(x.t, &again), NC2_OK); /* b's slot, a new generation */
	T_EQ(nc2_bufid_index(again), nc2_bufid_index(b));
	T_EQ(nc2_bufid_take(x.t, b, &idx), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_take(x.t, again, &idx), NC2_OK);
	tbl_close(&x);
}
END_TEST

START_TEST(test_stale_id)
{
	struct tbl x;
	uint32_t a, a2;
	tbl_open(&x, 1);
	T_EQ(nc2_bufid_alloc(x.t, &a), NC2_OK);
	T_EQ(nc2_bufid_free(x.t, a), NC2_OK);
	T_EQ(nc2_bufid_alloc(x.t, &a2), NC2_OK);
	T_EQ(nc2_bufid_index(a2), nc2_bufid_index(a));
	T_EQ(gen_of(a2), next_gen(gen_of(a)));
	/* The slot is in flight again, but under a new generation. */
	T_EQ(nc2_bufid_lookup(x.t, a, NULL), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_free(x.t, a), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_in_flight(x.t), 1);
	/* Any other generation is refused too. */
	for (uint32_t g = 0; g <= 0xffffu; g++)
		if (g != gen_of(a2))
			T_EQ(nc2_bufid_free(x.t, (g << 16) | nc2_bufid_index(a2)),
			     NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_free(x.t, a2), NC2_OK);
	tbl_close(&x);
}
END_TEST

START_TEST(test_out_of_range)
{
	struct tbl x;
	uint32_t id;
	tbl_open(&x, 100);
	for (int n = 0; n < 100; n++)
		T_EQ(nc2_bufid_alloc(x.t, &id), NC2_OK);
	/* Generation 1 is what every slot has now; indices past the end fail. */
	static const uint32_t idx[] = {100, 101, 127, 128, 1000, 0xfffe, 0xffff};
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		for (uint32_t g = 0; g < 4; g++) {
			uint32_t bad = idx[i] | g << 16;
			T_EQ(nc2_bufid_lookup(x.t, bad, NULL), NC2_ERR_PEER_BAD_ID);
			T_EQ(nc2_bufid_free(x.t, bad), NC2_ERR_PEER_BAD_ID);
		}
	}
	T_EQ(nc2_bufid_free(x.t, UINT32_MAX), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_in_flight(x.t), 100);
	tbl_close(&x);
}
END_TEST

START_TEST(test_id_zero)
{
	struct tbl x;
	uint32_t id;
	tbl_open(&x, 4);
	T_EQ(nc2_bufid_lookup(x.t, 0, NULL), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_free(x.t, 0), NC2_ERR_PEER_BAD_ID);
	/* Slot 0 in flight: id 0 (its index with generation 0) still fails. */
	for (int n = 0; n < 4; n++) {
		T_EQ(nc2_bufid_alloc(x.t, &id), NC2_OK);
		T_TRUE(id != 0);
	}
	T_EQ(nc2_bufid_lookup(x.t, 0, NULL), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_free(x.t, 0), NC2_ERR_PEER_BAD_ID);
	for (uint32_t i = 0; i < 4; i++)
		T_EQ(nc2_bufid_free(x.t, i), NC2_ERR_PEER_BAD_ID);
	T_EQ(nc2_bufid_in_flight(x.t), 4);
	tbl_close(&x);
}
END_TEST

START_TEST(test_generation_wrap)
{
	struct tbl x;
	uint32_t id, prev = 0, g = 0;
	tbl_open(&x, 1);
	for (uint32_t n = 0; n < 70000; n++) {
		T_EQ(nc2_bufid_alloc(x.t, &id), NC2_OK);
		T_EQ(nc2_bufid_index(id), 0);
		g = next_gen(g);
		T_EQ(gen_of(id), g);
		T_TRUE(id != 0);
		T_TRUE(id != prev);
		if (prev != 0)
			T_EQ(nc2_bufid_lookup(x.t, prev, NULL), NC2_ERR_PEER_BAD_ID);
		T_EQ(nc2_bufid_free(x.t, id), NC2_OK);
		T_EQ(nc2_bufid_free(x.t, id), NC2_ERR_PEER_BAD_ID);
		prev = id;
	}
	/* Generation 0xffff was followed by 1, never 0. */
	T_EQ(g, 70000u - 65535u);
	tbl_close(&x);
}
END_TEST

/* ---- next_in_flight --------------------------------------------------------- */

/* Iterate from *pos and compare with the ids recorded per index (0 = free). */
static void check_iter(const nc2_bufid *t, const uint32_t *want, uint32_t cap, uint32_t start)
{
	uint32_t pos = start, id, expect_idx = start;
	for (;;) {
		while (expect_idx < cap && want[expect_idx] == 0)
			expect_idx++;
		int rc = nc2_bufid_next_in_flight(t, &pos, &id);
		if (expect_idx >= cap) {
			T_EQ(rc, NC2_ERR_NOT_FOUND);
			break;
		}
		T_EQ(rc, NC2_OK);
		T_EQ(id, want[expect_idx]);
		T_EQ(pos, expect_idx + 1);
		expect_idx++;
	}
	/* Done stays done. */
	T_EQ(nc2_bufid_next_in_flight(t, &pos, &id), NC2_ERR_NOT_FOUND);
}

START_TEST(test_next_in_flight)
{
	static const uint32_t caps[] = {1, 5, 64, 65, 130, 65536};
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		uint32_t cap = caps[c];
		struct tbl x;
		uint32_t *want = calloc(cap, sizeof(uint32_t));
		uint32_t *all = malloc(sizeof(uint32_t) * cap);
		ck_assert_ptr_nonnull(want);
		ck_assert_ptr_nonnull(all);
		tbl_open(&x, cap);
		check_iter(x.t, want, cap, 0);

		for (uint32_t n = 0; n < cap; n++)
			T_EQ(nc2_bufid_alloc(x.t, &all[n]), NC2_OK);
		for (uint32_t n = 0; n < cap; n++)
			want[nc2_bufid_index(all[n])] = all[n];
		check_iter(x.t, want, cap, 0);

		/* Keep word-boundary neighbours and a sparse few. */
		for (uint32_t n = 0; n < cap; n++) {
			uint32_t i = nc2_bufid_index(all[n]);
			int keep = i == 0 || i == 62 || i == 63 || i == 64 || i == 127 ||
				   i == 128 || i == cap - 1 || i % 1000 == 7;
			if (!keep) {
				T_EQ(nc2_bufid_free(x.t, all[n]), NC2_OK);
				want[i] = 0;
			}
		}
		check_iter(x.t, want, cap, 0);
		static const uint32_t starts[] = {1, 63, 64, 65, 128, 129, 1000};
		for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++)
			if (starts[s] <= cap)
				check_iter(x.t, want, cap, starts[s]);
		/* Past the end. */
		uint32_t pos = cap, id;
		T_EQ(nc2_bufid_next_in_flight(x.t, &pos, &id), NC2_ERR_NOT_FOUND);
		pos = UINT32_MAX;
		T_EQ(nc2_bufid_next_in_flight(x.t, &pos, &id), NC2_ERR_NOT_FOUND);

		/* Teardown idiom: free everything the iterator yields. */
		pos = 0;
		while (nc2_bufid_next_in_flight(x.t, &pos, &id) == NC2_OK)
			T_EQ(nc2_bufid_free(x.t, id), NC2_OK);
		T_EQ(nc2_bufid_in_flight(x.t), 0);
		tbl_close(&x);
		free(want);
		free(all);
	}
}
END_TEST

/* ---- random operations against a reference model ---------------------------- */

/* Independent model: per slot, in flight or not and the last generation. */
struct model {
	uint32_t cap;
	uint8_t *busy;
	uint16_t *gen;
	uint32_t *out; /* ids in flight, unordered */
	uint32_t nout;
	uint32_t *old; /* ring of recently freed ids */
	uint32_t nold;
};

static int model_valid(const struct model *m, uint32_t id)
{
	uint32_t i = id & 0xffffu;
	return i < m->cap && m->busy[i] && m->gen[i] == (id >> 16);
}

static void run_random(uint32_t cap, uint64_t seed, uint32_t ops)
{
	struct tbl x;
	struct model m;
	tu_rng r;
	tu_rng_seed(&r, seed);
	tbl_open(&x, cap);
	m.cap = cap;
	m.busy = calloc(cap, 1);
	m.gen = calloc(cap, sizeof(uint16_t));
	m.out = malloc(sizeof(uint32_t) * cap);
	m.old = calloc(64, sizeof(uint32_t));
	m.nout = m.nold = 0;
	ck_assert(m.busy && m.gen && m.out && m.old);

	for (uint32_t n = 0; n < ops; n++) {
		uint32_t op = tu_range(&r, 0, 99), id, idx;
		/* Bias towards a full table half the time, an empty one otherwise. */
		uint32_t alloc_pct = (n / 5000) % 2 ? 60 : 40;
		if (op < alloc_pct) {
			int rc = nc2_bufid_alloc(x.t, &id);
			if (m.nout == cap) {
				T_EQ(rc, NC2_ERR_AGAIN);
				continue;
			}
			T_EQ(rc, NC2_OK);
			idx = id & 0xffffu;
			T_TRUE(idx < cap);
			T_MSG(!m.busy[idx], "slot %u handed out while in flight", idx);
			m.gen[idx] = (uint16_t)next_gen(m.gen[idx]);
			T_EQ(id >> 16, m.gen[idx]);
			m.busy[idx] = 1;
			m.out[m.nout++] = id;
		} else if (op < 90) {
			if (m.nout == 0)
				continue;
			uint32_t k = tu_range(&r, 0, m.nout - 1);
			id = m.out[k];
			uint32_t got;
			T_EQ(nc2_bufid_lookup(x.t, id, &got), NC2_OK);
			T_EQ(got, id & 0xffffu);
			T_EQ(nc2_bufid_free(x.t, id), NC2_OK);
			m.busy[id & 0xffffu] = 0;
			m.out[k] = m.out[--m.nout];
			m.old[m.nold++ % 64] = id;
		} else {
			/* A peer's id: stale, near-miss or arbitrary. */
			switch (tu_range(&r, 0, 3)) {
			case 0:
				id = m.old[tu_range(&r, 0, 63)];
				break;
			case 1:
				id = m.nout ? m.out[tu_range(&r, 0, m.nout - 1)] ^
						  (1u << tu_range(&r, 0, 31))
					    : tu_u32(&r);
				break;
			case 2:
				id = tu_range(&r, 0, cap + 2) | tu_range(&r, 0, 3) << 16;
				break;
			default:
				id = tu_u32(&r);
				break;
			}
			int want = model_valid(&m, id) ? NC2_OK : NC2_ERR_PEER_BAD_ID;
			T_EQ(nc2_bufid_lookup(x.t, id, NULL), want);
			T_EQ(nc2_bufid_free(x.t, id), want);
			if (want == NC2_OK) {
				m.busy[id & 0xffffu] = 0;
				for (uint32_t k = 0; k < m.nout; k++)
					if (m.out[k] == id) {
						m.out[k] = m.out[--m.nout];
						break;
					}
			}
		}
		T_EQ(nc2_bufid_in_flight(x.t), m.nout);
		if (n % 4096 == 0) {
			/* Full iteration agrees with the model. */
			uint32_t pos = 0, cnt = 0;
			while (nc2_bufid_next_in_flight(x.t, &pos, &id) == NC2_OK) {
				T_TRUE(model_valid(&m, id));
				cnt++;
			}
			T_EQ(cnt, m.nout);
		}
	}
	tbl_close(&x);
	free(m.busy);
	free(m.gen);
	free(m.out);
	free(m.old);
}

START_TEST(test_random_vs_model)
{
	static const uint32_t caps[] = {1, 3, 64, 100, 1024};
	run_random(caps[_i], 0x5eed0000u + (uint64_t)_i, 200000);
}
END_TEST

static Suite *bufid_suite(void)
{
	Suite *s = suite_create("bufid");
	TCase *tc = tcase_create("basic");
	tcase_add_test(tc, test_footprint);
	tcase_add_test(tc, test_init_errors);
	tcase_add_test(tc, test_null_args);
	tcase_add_test(tc, test_duplicate_free);
	tcase_add_test(tc, test_take);
	tcase_add_test(tc, test_stale_id);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_id_zero);
	tcase_add_test(tc, test_generation_wrap);
	tcase_add_test(tc, test_next_in_flight);
	suite_add_tcase(s, tc);

	tc = tcase_create("alloc");
	tcase_add_loop_test(tc, test_alloc_all_then_again, 0, N_ALLOC_CAPS);
	tcase_add_loop_test(tc, test_free_random_order, 0, N_ALLOC_CAPS);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_random_vs_model, 0, 5);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(bufid_suite());
}
