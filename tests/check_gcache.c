/* SPDX-License-Identifier: MIT */
/*
 * Sticky grant-mapping cache (nc2/gcache.h), unit-tested against a fake
 * transport defined here: map hands out addresses from an array, unmap
 * checks that it undoes a live map, and either can be told to fail. The real
 * transports are tested elsewhere.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nc2/gcache.h>
#include <nc2/version.h>

#include "testutil.h"

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

/* ---- fake transport --------------------------------------------------------- */

struct fake_map {
	int live;
	uint32_t gref, flags;
	uint64_t handle;
};

struct fake {
	nc2_transport tp;
	nc2_transport_ops ops;
	uint32_t np;          /* mapping slots (and pages) */
	uint64_t (*pages)[8]; /* page k lives at pages[k] */
	struct fake_map *map; /* per slot */
	uint32_t *free_slots; /* stack */
	uint32_t *bucket;     /* gref index: first slot of each chain */
	uint32_t *chain;      /* next slot in the chain, per slot */
	uint32_t bshift;
	uint32_t nr_free;
	uint32_t live; /* mappings currently live */
	uint64_t seq;  /* handle generation */
	uint64_t map_calls, unmap_calls;
	uint64_t fail_map_at; /* fail the map call with this number (1-based); 0 never */
	int fail_map_rc;
	uint64_t fail_unmap_at; /* likewise for unmap: the mapping stays */
	int fail_unmap_rc;
	uint32_t last_unmapped;
	uint32_t nr_unmapped_since; /* unmaps since fake_mark() */
};

static struct fake *fake_of(void *ctx)
{
	return ctx;
}

#define NONE UINT32_MAX

static uint32_t fake_bucket(const struct fake *f, uint32_t gref)
{
	return (gref * 0x9e3779b1u) >> f->bshift;
}

/* Slot of the live mapping of gref, or NONE. */
static uint32_t fake_find(const struct fake *f, uint32_t gref)
{
	for (uint32_t s = f->bucket[fake_bucket(f, gref)]; s != NONE; s = f->chain[s])
		if (f->map[s].gref == gref)
			return s;
	return NONE;
}

static int fake_map_op(void *ctx, nc2_map_op *ops, uint32_t n)
{
	struct fake *f = fake_of(ctx);
	f->map_calls++;
	T_EQ(n, 1); /* the cache maps one grant at a time */
	if (f->fail_map_at == f->map_calls) {
		ops[0].status = f->fail_map_rc;
		return f->fail_map_rc;
	}
	T_TRUE((ops[0].flags & ~NC2_GNT_READONLY) == 0);
	if (fake_find(f, ops[0].gref) != NONE)
		ck_abort_msg("gref %u mapped twice", ops[0].gref);
	T_TRUE(f->nr_free > 0);
	uint32_t s = f->free_slots[--f->nr_free];
	uint32_t b = fake_bucket(f, ops[0].gref);
	f->chain[s] = f->bucket[b];
	f->bucket[b] = s;
	f->map[s].live = 1;
	f->map[s].gref = ops[0].gref;
	f->map[s].flags = ops[0].flags;
	f->map[s].handle = (uint64_t)s | ++f->seq << 32;
	f->pages[s][0] = ops[0].gref; /* the "page contents" name their grant */
	ops[0].addr = f->pages[s];
	ops[0].handle = f->map[s].handle;
	ops[0].status = NC2_OK;
	f->live++;
	return NC2_OK;
}

static int fake_unmap_op(void *ctx, nc2_map_op *ops, uint32_t n)
{
	struct fake *f = fake_of(ctx);
	f->unmap_calls++;
	T_EQ(n, 1);
	uint32_t s = (uint32_t)ops[0].handle;
	if (s >= f->np || !f->map[s].live || f->map[s].handle != ops[0].handle)
		ck_abort_msg("unmap of gref %u: handle %#llx is not a live mapping", ops[0].gref,
			     (unsigned long long)ops[0].handle);
	T_EQ(ops[0].gref, f->map[s].gref);
	T_EQ(ops[0].flags, f->map[s].flags);
	T_TRUE(ops[0].addr == (void *)f->pages[s]);
	if (f->fail_unmap_at == f->unmap_calls) {
		ops[0].status = f->fail_unmap_rc;
		return f->fail_unmap_rc;
	}
	f->map[s].live = 0;
	uint32_t *link = &f->bucket[fake_bucket(f, ops[0].gref)];
	while (*link != s)
		link = &f->chain[*link];
	*link = f->chain[s];
	f->free_slots[f->nr_free++] = s;
	f->live--;
	f->last_unmapped = ops[0].gref;
	f->nr_unmapped_since++;
	ops[0].status = NC2_OK;
	return NC2_OK;
}

static int fake_grant(void *ctx, void *page, uint32_t flags, uint32_t *gref)
{
	(void)ctx;
	(void)page;
	(void)flags;
	(void)gref;
	return NC2_ERR_UNSUPPORTED;
}

static int fake_revoke(void *ctx, uint32_t gref)
{
	(void)ctx;
	(void)gref;
	return NC2_ERR_UNSUPPORTED;
}

static int fake_notify(void *ctx)
{
	(void)ctx;
	return NC2_OK;
}

static struct fake *fake_new(uint32_t np)
{
	struct fake *f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	f->np = np;
	f->pages = calloc(np, sizeof(*f->pages));
	f->map = calloc(np, sizeof(*f->map));
	f->free_slots = malloc(sizeof(uint32_t) * np);
	uint32_t nb = 1, bits = 0;
	while (nb < np) {
		nb <<= 1;
		bits++;
	}
	f->bshift = 32 - (bits ? bits : 1);
	f->bucket = malloc(sizeof(uint32_t) * 2 * nb);
	f->chain = malloc(sizeof(uint32_t) * np);
	ck_assert(f->pages && f->map && f->free_slots && f->bucket && f->chain);
	memset(f->bucket, 0xff, sizeof(uint32_t) * 2 * nb);
	for (uint32_t i = 0; i < np; i++)
		f->free_slots[i] = np - 1 - i;
	f->nr_free = np;
	f->ops.version = NC2_TRANSPORT_OPS_VERSION;
	f->ops.size = sizeof(f->ops);
	f->ops.grant = fake_grant;
	f->ops.revoke = fake_revoke;
	f->ops.map = fake_map_op;
	f->ops.unmap = fake_unmap_op;
	f->ops.notify = fake_notify;
	f->tp.ops = &f->ops;
	f->tp.ctx = f;
	f->last_unmapped = UINT32_MAX;
	return f;
}

static void fake_free(struct fake *f)
{
	free(f->pages);
	free(f->map);
	free(f->free_slots);
	free(f->bucket);
	free(f->chain);
	free(f);
}

static int fake_is_live(const struct fake *f, uint32_t gref)
{
	return fake_find(f, gref) != NONE;
}

/* Live mapping of gref: its flags, or -1. */
static int fake_flags(const struct fake *f, uint32_t gref)
{
	uint32_t s = fake_find(f, gref);
	return s == NONE ? -1 : (int)f->map[s].flags;
}

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
	struct fake *f;
	nc2_gcache *c;
	uint8_t *mem;
	size_t fp;
};

#define CANARY_LEN 64

static void fx_open(struct fx *x, uint32_t cap, uint32_t np)
{
	size_t fp = nc2_gcache_footprint(cap);
	ck_assert_uint_gt(fp, 0);
	x->f = fake_new(np);
	x->fp = fp;
	x->mem = aligned_alloc(8, fp + CANARY_LEN); /* fp is a multiple of 8 */
	ck_assert_ptr_nonnull(x->mem);
	memset(x->mem, 0x5a, fp + CANARY_LEN);
	ck_assert_int_eq(nc2_gcache_init(&x->c, x->mem, fp, cap, &x->f->tp), NC2_OK);
}

static void fx_close(struct fx *x)
{
	for (size_t i = 0; i < CANARY_LEN; i++)
		if (x->mem[x->fp + i] != 0x5a)
			ck_abort_msg("wrote past the footprint at +%zu", i);
	free(x->mem);
	fake_free(x->f);
}

static nc2_gcache_stats stats(const struct fx *x)
{
	nc2_gcache_stats s;
	memset(&s, 0xee, sizeof(s));
	nc2_gcache_get_stats(x->c, &s);
	return s;
}

/* get + check the page is the one the fake mapped for gref. */
static void get_ok(struct fx *x, uint32_t gref, uint32_t flags)
{
	void *p = NULL;
	T_EQ(nc2_gcache_get(x->c, gref, flags, &p), NC2_OK);
	T_TRUE(p != NULL);
	T_EQ(((uint64_t *)p)[0], gref);
}

static void get_put(struct fx *x, uint32_t gref)
{
	get_ok(x, gref, 0);
	T_EQ(nc2_gcache_put(x->c, gref), 0);
}

/* ---- init ------------------------------------------------------------------- */

START_TEST(test_footprint_init)
{
	ck_assert_uint_eq(nc2_gcache_footprint(0), 0);
	ck_assert_uint_eq(nc2_gcache_footprint(NC2_GCACHE_MAX_CAPACITY + 1u), 0);
	ck_assert_uint_eq(nc2_gcache_footprint(UINT32_MAX), 0);
	size_t prev = 0;
	for (uint32_t cap = 1; cap <= NC2_GCACHE_MAX_CAPACITY; cap *= 2) {
		size_t fp = nc2_gcache_footprint(cap);
		ck_assert_uint_eq(fp % 8, 0);
		ck_assert_uint_gt(fp, prev);
		/* An entry plus two hash slots per capacity at least. */
		ck_assert_uint_ge(fp, (size_t)cap * (24 + 8));
		prev = fp;
	}

	struct fake *f = fake_new(4);
	size_t fp = nc2_gcache_footprint(4);
	uint64_t *mem = calloc(1, fp + 8);
	nc2_gcache *c = NULL;
	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(nc2_gcache_init(NULL, mem, fp, 4, &f->tp), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_init(&c, NULL, fp, 4, &f->tp), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_init(&c, (uint8_t *)mem + 4, fp, 4, &f->tp),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_init(&c, mem, fp, 0, &f->tp), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_init(&c, mem, fp, NC2_GCACHE_MAX_CAPACITY + 1u, &f->tp),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_init(&c, mem, fp - 1, 4, &f->tp), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_gcache_init(&c, mem, fp, 4, NULL), NC2_ERR_INVALID_ARG);
	/* A transport without a usable ops table is refused. */
	nc2_transport bad = f->tp;
	bad.ops = NULL;
	ck_assert_int_eq(nc2_gcache_init(&c, mem, fp, 4, &bad), NC2_ERR_INVALID_ARG);
	nc2_transport_ops no_map = f->ops;
	no_map.map = NULL;
	bad.ops = &no_map;
	ck_assert_int_eq(nc2_gcache_init(&c, mem, fp, 4, &bad), NC2_ERR_INVALID_ARG);
	ck_assert_ptr_null(c);

	ck_assert_int_eq(nc2_gcache_init(&c, mem, fp, 4, &f->tp), NC2_OK);
	nc2_gcache_stats s;
	nc2_gcache_get_stats(c, &s);
	ck_assert_uint_eq(s.limit, 4);
	ck_assert_uint_eq(s.entries, 0);
	ck_assert_uint_eq(s.pinned, 0);
	ck_assert_uint_eq(s.hits + s.misses + s.evictions + s.ungrants + s.map_failures, 0);
	ck_assert_uint_eq(f->map_calls + f->unmap_calls, 0);
	free(mem);
	fake_free(f);
}
END_TEST

START_TEST(test_bad_args)
{
	struct fx x;
	void *p;
	fx_open(&x, 4, 8);
	ck_assert_int_eq(nc2_gcache_get(NULL, 1, 0, &p), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_get(x.c, 1, 0, NULL), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_get(x.c, 1, 1u << 5, &p), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_put(NULL, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_ungrant(NULL, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_set_limit(NULL, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_gcache_flush(NULL), NC2_ERR_INVALID_ARG);
	nc2_gcache_get_stats(NULL, NULL); /* no crash */
	nc2_gcache_get_stats(x.c, NULL);
	/* STICKY is a known grant flag and does not matter for mapping. */
	get_ok(&x, 1, NC2_GNT_STICKY);
	ck_assert_int_eq(x.f->map[0].flags, 0);
	/* put of something never got, or not pinned */
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), NC2_ERR_NOT_FOUND);
	ck_assert_uint_eq(stats(&x).entries, 1);
	ck_assert_uint_eq(x.f->live, 1);
	ck_assert_uint_eq(x.f->tp.calls[NC2_TP_MAP], x.f->map_calls);
	fx_close(&x);
}
END_TEST

/* ---- hits, misses, LRU ------------------------------------------------------ */

START_TEST(test_hit_miss)
{
	struct fx x;
	void *p1, *p2;
	fx_open(&x, 4, 8);
	ck_assert_int_eq(nc2_gcache_get(x.c, 77, 0, &p1), NC2_OK);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.misses, 1);
	ck_assert_uint_eq(s.hits, 0);
	ck_assert_uint_eq(s.entries, 1);
	ck_assert_uint_eq(s.pinned, 1);
	/* A second get while pinned shares the mapping. */
	ck_assert_int_eq(nc2_gcache_get(x.c, 77, 0, &p2), NC2_OK);
	ck_assert_ptr_eq(p1, p2);
	ck_assert_uint_eq(x.f->map_calls, 1);
	ck_assert_int_eq(nc2_gcache_put(x.c, 77), 0);
	ck_assert_uint_eq(stats(&x).pinned, 1);
	ck_assert_int_eq(nc2_gcache_put(x.c, 77), 0);
	s = stats(&x);
	ck_assert_uint_eq(s.pinned, 0);
	ck_assert_uint_eq(s.entries, 1);
	/* Sticky: still mapped, next get is a hit with the same page. */
	ck_assert_uint_eq(x.f->live, 1);
	ck_assert_int_eq(nc2_gcache_get(x.c, 77, 0, &p2), NC2_OK);
	ck_assert_ptr_eq(p1, p2);
	s = stats(&x);
	ck_assert_uint_eq(s.hits, 2);
	ck_assert_uint_eq(s.misses, 1);
	ck_assert_uint_eq(s.evictions, 0);
	ck_assert_uint_eq(x.f->map_calls, 1);
	ck_assert_uint_eq(x.f->unmap_calls, 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 77), 0);
	fx_close(&x);
}
END_TEST

START_TEST(test_evict_lru)
{
	struct fx x;
	fx_open(&x, 4, 8);
	for (uint32_t g = 0; g < 4; g++)
		get_put(&x, 100 + g);
	ck_assert_uint_eq(x.f->unmap_calls, 0);
	/* Full: the least recently used (100) goes. */
	get_put(&x, 104);
	ck_assert_uint_eq(x.f->last_unmapped, 100);
	ck_assert_uint_eq(stats(&x).evictions, 1);
	get_put(&x, 105);
	ck_assert_uint_eq(x.f->last_unmapped, 101);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.evictions, 2);
	ck_assert_uint_eq(s.misses, 6);
	ck_assert_uint_eq(s.entries, 4);
	ck_assert_uint_eq(x.f->live, 4);
	ck_assert(!fake_is_live(x.f, 100) && !fake_is_live(x.f, 101));
	fx_close(&x);
}
END_TEST

START_TEST(test_lru_touch)
{
	struct fx x;
	fx_open(&x, 4, 8);
	for (uint32_t g = 0; g < 4; g++)
		get_put(&x, g);
	/* Touch 0 and 1: now 2 is the oldest, then 3, 0, 1. */
	get_put(&x, 0);
	get_put(&x, 1);
	get_put(&x, 10);
	ck_assert_uint_eq(x.f->last_unmapped, 2);
	get_put(&x, 11);
	ck_assert_uint_eq(x.f->last_unmapped, 3);
	get_put(&x, 12);
	ck_assert_uint_eq(x.f->last_unmapped, 0);
	/* A pinned entry is not on the LRU list; its put counts as the touch. */
	get_ok(&x, 1, 0);
	get_put(&x, 10);
	get_put(&x, 13); /* oldest unpinned: 11 */
	ck_assert_uint_eq(x.f->last_unmapped, 11);
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	get_put(&x, 14); /* 12 */
	ck_assert_uint_eq(x.f->last_unmapped, 12);
	get_put(&x, 15); /* 10 */
	ck_assert_uint_eq(x.f->last_unmapped, 10);
	ck_assert(fake_is_live(x.f, 1));
	ck_assert_uint_eq(stats(&x).hits, 4);
	fx_close(&x);
}
END_TEST

/* nc2_gcache_copy()'s idle hit touches the LRU list too, at its tail and in
 * its middle. */
START_TEST(test_copy_lru_touch)
{
	struct fx x;
	fx_open(&x, 4, 8);
	for (uint32_t g = 0; g < 4; g++)
		get_put(&x, g);
	/* Copy from the oldest (0), then from 2: now 1 is the oldest, then 3, 0, 2. */
	static const uint32_t touch[] = {0, 2}, evicted[] = {1, 3, 0, 2};
	for (uint32_t i = 0; i < 2; i++) {
		uint64_t v = 0;
		T_EQ(nc2_gcache_copy(x.c, touch[i], 0, 0, &v, sizeof(v), 0), 0);
		T_EQ(v, touch[i]);
	}
	for (uint32_t i = 0; i < 4; i++) {
		get_put(&x, 10 + i);
		ck_assert_uint_eq(x.f->last_unmapped, evicted[i]);
	}
	ck_assert_uint_eq(stats(&x).hits, 2);
	fx_close(&x);
}
END_TEST

START_TEST(test_set_limit)
{
	struct fx x;
	fx_open(&x, 8, 16);
	for (uint32_t g = 0; g < 8; g++)
		get_put(&x, g);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 3), 5);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.limit, 3);
	ck_assert_uint_eq(s.entries, 3);
	ck_assert_uint_eq(s.evictions, 5);
	ck_assert_uint_eq(x.f->live, 3);
	for (uint32_t g = 0; g < 8; g++)
		ck_assert_int_eq(fake_is_live(x.f, g), g >= 5);
	/* Now the cache holds 3. */
	get_put(&x, 20);
	ck_assert_uint_eq(x.f->last_unmapped, 5);
	ck_assert_uint_eq(stats(&x).entries, 3);
	/* Raising the limit evicts nothing; it is clamped to the capacity. */
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 1000), 0);
	ck_assert_uint_eq(stats(&x).limit, 8);
	for (uint32_t g = 30; g < 35; g++)
		get_put(&x, g);
	ck_assert_uint_eq(stats(&x).entries, 8);
	ck_assert_uint_eq(stats(&x).evictions, 6);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 8), 0);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 0), 8);
	ck_assert_uint_eq(x.f->live, 0);
	ck_assert_uint_eq(stats(&x).entries, 0);
	fx_close(&x);
}
END_TEST

/* ---- pinning ---------------------------------------------------------------- */

START_TEST(test_pinned_never_evicted)
{
	struct fx x;
	fx_open(&x, 8, 16);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 4), 0);
	for (uint32_t g = 0; g < 4; g++)
		get_ok(&x, g, 0);
	/* At the limit with everything pinned: mapped, but not cached. */
	get_ok(&x, 4, 0);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.entries, 4);
	ck_assert_uint_eq(s.pinned, 5);
	ck_assert_uint_eq(s.evictions, 0);
	ck_assert_uint_eq(x.f->live, 5);
	ck_assert_uint_eq(x.f->unmap_calls, 0);
	/* It is shared while pinned, and unmapped at its last put. */
	get_ok(&x, 4, 0);
	ck_assert_uint_eq(x.f->map_calls, 5);
	ck_assert_int_eq(nc2_gcache_put(x.c, 4), 0);
	ck_assert(fake_is_live(x.f, 4));
	ck_assert_int_eq(nc2_gcache_put(x.c, 4), 0);
	ck_assert(!fake_is_live(x.f, 4));
	ck_assert_uint_eq(x.f->live, 4);
	/* Nor does a lower limit, a flush or an ungrant touch pinned entries. */
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 0), 0);
	ck_assert_int_eq(nc2_gcache_flush(x.c), 0);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 0), 0);
	ck_assert_uint_eq(x.f->live, 4);
	ck_assert_uint_eq(x.f->unmap_calls, 1);
	s = stats(&x);
	ck_assert_uint_eq(s.entries, 4);
	ck_assert_uint_eq(s.pinned, 4);
	/* Above the limit: each put drops the entry rather than keep it. */
	ck_assert_int_eq(nc2_gcache_put(x.c, 0), 1); /* pending ungrant */
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	ck_assert(!fake_is_live(x.f, 1));
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 1), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), 0);
	ck_assert(!fake_is_live(x.f, 2));
	ck_assert_int_eq(nc2_gcache_put(x.c, 3), 0);
	ck_assert(fake_is_live(x.f, 3)); /* within the limit again: kept */
	s = stats(&x);
	ck_assert_uint_eq(s.entries, 1);
	ck_assert_uint_eq(s.pinned, 0);
	ck_assert_uint_eq(s.evictions, 2);
	ck_assert_uint_eq(s.ungrants, 1);
	fx_close(&x);
}
END_TEST

START_TEST(test_nospace)
{
	struct fx x;
	void *p = NULL;
	fx_open(&x, 2, 8);
	get_ok(&x, 1, 0);
	get_ok(&x, 2, 0);
	ck_assert_int_eq(nc2_gcache_get(x.c, 3, 0, &p), NC2_ERR_NOSPACE);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(x.f->map_calls, 2); /* not even tried */
	/* Slots taken by unmap-at-put entries are no different. */
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), 0);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 1), 1);
	get_ok(&x, 3, 0); /* over the limit, all cached pinned: unmap at put */
	ck_assert_uint_eq(stats(&x).entries, 1);
	ck_assert_int_eq(nc2_gcache_get(x.c, 4, 0, &p), NC2_ERR_NOSPACE);
	/* Raising the limit does not make room either: both slots pinned. */
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 2), 0);
	ck_assert_int_eq(nc2_gcache_get(x.c, 4, 0, &p), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_gcache_put(x.c, 3), 0);
	ck_assert(!fake_is_live(x.f, 3));
	get_put(&x, 4); /* within the raised limit: cached */
	ck_assert(fake_is_live(x.f, 4));
	ck_assert_uint_eq(stats(&x).entries, 2);
	fx_close(&x);
}
END_TEST

/* Slots full of unmap-at-put entries and an unpinned cached one: the
 * unpinned one makes room instead of NOSPACE. */
START_TEST(test_reuse_unpinned_when_slots_full)
{
	struct fx x;
	fx_open(&x, 3, 8);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 1), 0);
	get_ok(&x, 1, 0);
	get_ok(&x, 2, 0); /* unmap at put */
	get_ok(&x, 3, 0); /* unmap at put */
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 3), 0);
	/* 1 unpinned (cached), 2 and 3 pinned: a miss evicts 1. */
	get_ok(&x, 4, 0);
	ck_assert_uint_eq(x.f->last_unmapped, 1);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.entries, 1);
	ck_assert_uint_eq(s.evictions, 1);
	ck_assert_uint_eq(x.f->live, 3);
	fx_close(&x);
}
END_TEST

/* ---- ungrant ---------------------------------------------------------------- */

START_TEST(test_ungrant_unpinned)
{
	struct fx x;
	fx_open(&x, 4, 8);
	get_put(&x, 5);
	get_put(&x, 6);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 5), 1);
	ck_assert(!fake_is_live(x.f, 5));
	ck_assert(fake_is_live(x.f, 6));
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.ungrants, 1);
	ck_assert_uint_eq(s.entries, 1);
	ck_assert_uint_eq(s.evictions, 0);
	/* Granted again later: a fresh miss. */
	get_put(&x, 5);
	ck_assert_uint_eq(stats(&x).misses, 3);
	ck_assert_uint_eq(x.f->map_calls, 3);
	fx_close(&x);
}
END_TEST

START_TEST(test_ungrant_pinned)
{
	struct fx x;
	void *p = NULL;
	fx_open(&x, 4, 8);
	get_ok(&x, 5, 0);
	get_ok(&x, 5, 0);
	/* A copy through a pinned entry leaves the pins as they were. */
	uint64_t v = 0;
	ck_assert_int_eq(nc2_gcache_copy(x.c, 5, 0, 0, &v, sizeof(v), 0), 0);
	ck_assert_uint_eq(stats(&x).pinned, 1);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 5), 0);
	/* After the UNGRANT a copy is refused like a get, so it never
	 * completes the un-grant (its contract: 0 or an error). */
	ck_assert_int_eq(nc2_gcache_copy(x.c, 5, 0, 0, &v, sizeof(v), 1), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 5), 0); /* repeated: still deferred */
	ck_assert(fake_is_live(x.f, 5));
	ck_assert_uint_eq(stats(&x).ungrants, 0);
	/* Using a grant after its UNGRANT is the peer's fault. */
	ck_assert_int_eq(nc2_gcache_get(x.c, 5, 0, &p), NC2_ERR_PEER_GRANT);
	ck_assert(nc2_is_peer_error(NC2_ERR_PEER_GRANT));
	ck_assert_int_eq(nc2_gcache_put(x.c, 5), 0);
	ck_assert(fake_is_live(x.f, 5));
	ck_assert_int_eq(nc2_gcache_put(x.c, 5), 1); /* last put: ack now */
	ck_assert(!fake_is_live(x.f, 5));
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.ungrants, 1);
	ck_assert_uint_eq(s.entries, 0);
	ck_assert_uint_eq(s.pinned, 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 5), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 5), 1);
	/* Pending ungrant on an unmap-at-put entry: acked at its put too. */
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 0), 0);
	get_ok(&x, 9, 0);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 9), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 9), 1);
	ck_assert_uint_eq(x.f->live, 0);
	ck_assert_uint_eq(stats(&x).ungrants, 2);
	fx_close(&x);
}
END_TEST

START_TEST(test_ungrant_unknown)
{
	struct fx x;
	fx_open(&x, 4, 8);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 1234), 1);
	get_put(&x, 1);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 1234), 1);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 0), 1);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, UINT32_MAX), 1);
	ck_assert_uint_eq(x.f->unmap_calls, 0);
	ck_assert_uint_eq(stats(&x).ungrants, 0);
	ck_assert(fake_is_live(x.f, 1));
	fx_close(&x);
}
END_TEST

/* ---- failures --------------------------------------------------------------- */

START_TEST(test_map_failure)
{
	struct fx x;
	void *p = NULL;
	fx_open(&x, 4, 8);
	x.f->fail_map_at = 1;
	x.f->fail_map_rc = NC2_ERR_PEER_GRANT;
	ck_assert_int_eq(nc2_gcache_get(x.c, 7, 0, &p), NC2_ERR_PEER_GRANT);
	ck_assert_ptr_null(p);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.map_failures, 1);
	ck_assert_uint_eq(s.entries, 0);
	ck_assert_uint_eq(s.pinned, 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 7), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 7), 1);
	ck_assert_uint_eq(x.f->unmap_calls, 0);
	get_put(&x, 7);
	ck_assert_uint_eq(stats(&x).entries, 1);

	/* At the limit: the eviction happens, the map fails, nothing is left
	 * of the new grant. */
	for (uint32_t g = 10; g < 13; g++)
		get_put(&x, g);
	x.f->fail_map_at = x.f->map_calls + 1;
	x.f->fail_map_rc = NC2_ERR_TRANSPORT;
	ck_assert_int_eq(nc2_gcache_get(x.c, 20, 0, &p), NC2_ERR_TRANSPORT);
	ck_assert_uint_eq(x.f->last_unmapped, 7);
	s = stats(&x);
	ck_assert_uint_eq(s.map_failures, 2);
	ck_assert_uint_eq(s.entries, 3);
	ck_assert_uint_eq(x.f->live, 3);
	fx_close(&x);
}
END_TEST

static int fail_maps_hook(void *user, enum nc2_tp_op op)
{
	int *n = user;
	if (op == NC2_TP_MAP && *n > 0) {
		(*n)--;
		return NC2_ERR_TRANSPORT;
	}
	return NC2_OK;
}

START_TEST(test_fault_hook)
{
	struct fx x;
	void *p = NULL;
	int fails = 2;
	fx_open(&x, 2, 8);
	x.f->tp.fault = fail_maps_hook;
	x.f->tp.fault_user = &fails;
	ck_assert_int_eq(nc2_gcache_get(x.c, 1, 0, &p), NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_gcache_get(x.c, 1, NC2_GNT_READONLY, &p), NC2_ERR_TRANSPORT);
	ck_assert_uint_eq(x.f->map_calls, 0);
	ck_assert_uint_eq(stats(&x).map_failures, 2);
	get_put(&x, 1);
	ck_assert_uint_eq(x.f->tp.calls[NC2_TP_MAP], 3);
	fx_close(&x);
}
END_TEST

START_TEST(test_unmap_failure)
{
	struct fx x;
	void *p = NULL;
	fx_open(&x, 2, 8);
	get_put(&x, 1);
	get_put(&x, 2);
	/* A failed unmap keeps the entry (it is still mapped) for a retry. */
	x.f->fail_unmap_at = x.f->unmap_calls + 1;
	x.f->fail_unmap_rc = NC2_ERR_TRANSPORT;
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 1), NC2_ERR_TRANSPORT);
	ck_assert_uint_eq(stats(&x).entries, 2);
	ck_assert_uint_eq(x.f->live, 2);
	/* Eviction failing fails the get; no map is attempted. */
	x.f->fail_unmap_at = x.f->unmap_calls + 1;
	ck_assert_int_eq(nc2_gcache_get(x.c, 3, 0, &p), NC2_ERR_TRANSPORT);
	ck_assert_uint_eq(x.f->map_calls, 2);
	ck_assert_uint_eq(stats(&x).entries, 2);
	/* flush reports the first failure and keeps that entry; a second
	 * flush releases it: nothing leaks. */
	x.f->fail_unmap_at = x.f->unmap_calls + 1;
	ck_assert_int_eq(nc2_gcache_flush(x.c), NC2_ERR_TRANSPORT);
	ck_assert_uint_eq(stats(&x).entries, 1);
	ck_assert_uint_eq(x.f->live, 1);
	ck_assert_int_eq(nc2_gcache_flush(x.c), 1);
	ck_assert_uint_eq(stats(&x).entries, 0);
	ck_assert_uint_eq(x.f->live, 0);
	fx_close(&x);
}
END_TEST

/* ---- flush, read-only, edge sizes ------------------------------------------- */

START_TEST(test_flush)
{
	struct fx x;
	fx_open(&x, 8, 16);
	for (uint32_t g = 0; g < 6; g++)
		get_put(&x, g);
	get_ok(&x, 2, 0);
	get_ok(&x, 7, 0);
	ck_assert_int_eq(nc2_gcache_flush(x.c), 5);
	ck_assert_uint_eq(x.f->live, 2);
	ck_assert(fake_is_live(x.f, 2) && fake_is_live(x.f, 7));
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.entries, 2);
	ck_assert_uint_eq(s.evictions, 0);
	ck_assert_int_eq(nc2_gcache_flush(x.c), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 7), 0);
	ck_assert_int_eq(nc2_gcache_flush(x.c), 2);
	ck_assert_uint_eq(x.f->live, 0);
	ck_assert_uint_eq(x.f->map_calls, x.f->unmap_calls);
	ck_assert_uint_eq(stats(&x).entries, 0);
	/* Usable after a flush. */
	get_put(&x, 1);
	ck_assert_uint_eq(stats(&x).entries, 1);
	fx_close(&x);
}
END_TEST

START_TEST(test_readonly)
{
	struct fx x;
	void *p = NULL;
	fx_open(&x, 4, 8);
	get_ok(&x, 1, NC2_GNT_READONLY);
	ck_assert_int_eq(fake_flags(x.f, 1), (int)NC2_GNT_READONLY);
	/* Pinned read-only, wanted writable: refused. */
	ck_assert_int_eq(nc2_gcache_get(x.c, 1, 0, &p), NC2_ERR_STATE);
	get_ok(&x, 1, NC2_GNT_READONLY); /* read-only is fine */
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	/* Unpinned: remapped writable. */
	get_ok(&x, 1, 0);
	ck_assert_int_eq(fake_flags(x.f, 1), 0);
	ck_assert_uint_eq(x.f->map_calls, 2);
	ck_assert_uint_eq(x.f->unmap_calls, 1);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.entries, 1);
	ck_assert_uint_eq(s.evictions, 0);
	ck_assert_uint_eq(s.misses, 2);
	ck_assert_uint_eq(s.hits, 1);
	/* A writable mapping serves read-only gets. */
	get_ok(&x, 1, NC2_GNT_READONLY);
	ck_assert_uint_eq(x.f->map_calls, 2);
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	/* A failed writable remap leaves nothing behind. */
	get_put(&x, 2);
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 2), 1);
	get_ok(&x, 2, NC2_GNT_READONLY);
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), 0);
	x.f->fail_map_at = x.f->map_calls + 1;
	x.f->fail_map_rc = NC2_ERR_PEER_GRANT;
	ck_assert_int_eq(nc2_gcache_get(x.c, 2, 0, &p), NC2_ERR_PEER_GRANT);
	ck_assert(!fake_is_live(x.f, 2));
	ck_assert_uint_eq(stats(&x).entries, 1);
	fx_close(&x);
}
END_TEST

START_TEST(test_capacity_one)
{
	struct fx x;
	void *p = NULL;
	fx_open(&x, 1, 4);
	get_put(&x, 1);
	get_put(&x, 1);
	get_put(&x, 2);
	ck_assert_uint_eq(x.f->last_unmapped, 1);
	get_ok(&x, 2, 0);
	ck_assert_int_eq(nc2_gcache_get(x.c, 3, 0, &p), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_gcache_ungrant(x.c, 2), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), 1);
	ck_assert_uint_eq(x.f->live, 0);
	get_put(&x, 3);
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.entries, 1);
	ck_assert_uint_eq(s.hits, 2);
	ck_assert_uint_eq(s.misses, 4); /* 1, 2, 3 (NOSPACE), 3 */
	ck_assert_uint_eq(s.evictions, 1);
	fx_close(&x);
}
END_TEST

START_TEST(test_noevict)
{
	struct fx x;
	void *page;
	fx_open(&x, 4, 8);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 2), 0);
	get_ok(&x, 1, 0);
	get_ok(&x, 2, 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), 0);
	/* Full: a miss with NOEVICT maps nothing and evicts nothing. */
	ck_assert_int_eq(nc2_gcache_get(x.c, 3, NC2_GCACHE_NOEVICT, &page), NC2_ERR_AGAIN);
	ck_assert_uint_eq(x.f->live, 2);
	ck_assert_uint_eq(stats(&x).evictions, 0);
	/* A hit is still a hit. */
	ck_assert_int_eq(nc2_gcache_get(x.c, 2, NC2_GCACHE_NOEVICT, &page), NC2_OK);
	ck_assert_int_eq(nc2_gcache_put(x.c, 2), 0);
	/* With room again, NOEVICT maps and caches. */
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 3), 0);
	ck_assert_int_eq(nc2_gcache_get(x.c, 3, NC2_GCACHE_NOEVICT, &page), NC2_OK);
	ck_assert_int_eq(nc2_gcache_put(x.c, 3), 0);
	ck_assert_uint_eq(stats(&x).entries, 3);
	ck_assert_int_eq(nc2_gcache_flush(x.c), 3);
	fx_close(&x);
}
END_TEST

START_TEST(test_limit_zero)
{
	struct fx x;
	fx_open(&x, 4, 8);
	ck_assert_int_eq(nc2_gcache_set_limit(x.c, 0), 0);
	for (int round = 0; round < 3; round++) {
		get_ok(&x, 1, 0);
		get_ok(&x, 1, 0); /* shared while pinned */
		get_ok(&x, 2, 0);
		ck_assert_uint_eq(x.f->live, 2);
		nc2_gcache_stats s = stats(&x);
		ck_assert_uint_eq(s.entries, 0);
		ck_assert_uint_eq(s.pinned, 2);
		ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
		ck_assert_int_eq(nc2_gcache_put(x.c, 1), 0);
		ck_assert_int_eq(nc2_gcache_put(x.c, 2), 0);
		ck_assert_uint_eq(x.f->live, 0);
	}
	nc2_gcache_stats s = stats(&x);
	ck_assert_uint_eq(s.evictions, 0);
	ck_assert_uint_eq(s.misses, 6);
	ck_assert_uint_eq(s.hits, 3);
	ck_assert_int_eq(nc2_gcache_flush(x.c), 0);
	fx_close(&x);
}
END_TEST

/* Many entries and colliding keys: exercises probing and backward-shift
 * deletion at full capacity. */
START_TEST(test_full_capacity_hash)
{
	const uint32_t cap = NC2_GCACHE_MAX_CAPACITY;
	struct fx x;
	tu_rng r;
	tu_rng_seed(&r, 0x6ca4e);
	fx_open(&x, cap, cap + 1);
	uint32_t *keys = malloc(sizeof(uint32_t) * cap);
	ck_assert_ptr_nonnull(keys);
	for (uint32_t i = 0; i < cap; i++)
		keys[i] = i % 2 ? i * 4096u : tu_u32(&r) | 1u; /* odd: never equals an even key */
	for (uint32_t i = 0; i < cap; i++) {
		void *p;
		int rc = nc2_gcache_get(x.c, keys[i], 0, &p);
		T_EQ(rc, NC2_OK);
		T_EQ(((uint64_t *)p)[0], keys[i]);
		T_EQ(nc2_gcache_put(x.c, keys[i]), 0);
	}
	nc2_gcache_stats s = stats(&x);
	T_EQ(s.entries + s.hits, cap); /* a repeated random key would be a hit */
	T_EQ(x.f->live, s.entries);
	/* Drop every other one, then everything must still be found. */
	for (uint32_t i = 0; i < cap; i += 2)
		T_EQ(nc2_gcache_ungrant(x.c, keys[i]), 1);
	uint64_t maps = x.f->map_calls;
	for (uint32_t i = 1; i < cap; i += 2) {
		get_ok(&x, keys[i], 0);
		T_EQ(nc2_gcache_put(x.c, keys[i]), 0);
	}
	T_EQ(x.f->map_calls, maps);
	for (uint32_t i = 0; i < cap; i += 2)
		T_EQ(nc2_gcache_put(x.c, keys[i]), NC2_ERR_NOT_FOUND);
	T_EQ(nc2_gcache_flush(x.c), (int)(cap / 2));
	T_EQ(x.f->live, 0);
	free(keys);
	fx_close(&x);
}
END_TEST

/* ---- random operations against a reference model ---------------------------- */

/*
 * Independent model of the documented behaviour: per gref, whether it is
 * cached, its pins and flags; LRU order by the time of the last put.
 */
struct ment {
	int present, ro, pending, uap;
	uint32_t pins;
	uint64_t stamp;
};

struct model {
	uint32_t cap, limit, ngref;
	struct ment *e;
	uint64_t clock;
	uint64_t hits, misses, evictions, ungrants, map_failures;
};

static uint32_t m_count(const struct model *m, int cached_only)
{
	uint32_t n = 0;
	for (uint32_t g = 0; g < m->ngref; g++)
		if (m->e[g].present && (!cached_only || !m->e[g].uap))
			n++;
	return n;
}

static uint32_t m_pinned(const struct model *m)
{
	uint32_t n = 0;
	for (uint32_t g = 0; g < m->ngref; g++)
		n += m->e[g].present && m->e[g].pins > 0;
	return n;
}

static uint32_t m_uap(const struct model *m)
{
	return m_count(m, 0) - m_count(m, 1);
}

/* Least recently put unpinned entry, or UINT32_MAX. */
static uint32_t m_lru(const struct model *m)
{
	uint32_t best = UINT32_MAX;
	for (uint32_t g = 0; g < m->ngref; g++) {
		const struct ment *e = &m->e[g];
		if (e->present && e->pins == 0 &&
		    (best == UINT32_MAX || e->stamp < m->e[best].stamp))
			best = g;
	}
	return best;
}

static void m_drop(struct model *m, uint32_t g)
{
	memset(&m->e[g], 0, sizeof(m->e[g]));
}

static int m_enforce(struct model *m)
{
	int n = 0;
	uint32_t g;
	while (m_count(m, 1) > m->limit && (g = m_lru(m)) != UINT32_MAX) {
		m_drop(m, g);
		m->evictions++;
		n++;
	}
	return n;
}

/* *mapped: whether the model expects a map call (so a scheduled failure
 * applies). */
static int m_get(struct model *m, uint32_t g, int ro, int fail, int *mapped)
{
	struct ment *e = &m->e[g];
	*mapped = 0;
	if (e->present) {
		if (e->pending)
			return NC2_ERR_PEER_GRANT;
		if (!ro && e->ro) {
			if (e->pins)
				return NC2_ERR_STATE;
			m_drop(m, g);
		} else {
			e->pins++;
			m->hits++;
			return NC2_OK;
		}
	}
	m->misses++;
	uint32_t v;
	while (m_count(m, 1) >= m->limit && (v = m_lru(m)) != UINT32_MAX) {
		m_drop(m, v);
		m->evictions++;
	}
	if (m_count(m, 0) == m->cap && (v = m_lru(m)) != UINT32_MAX) {
		m_drop(m, v);
		m->evictions++;
	}
	if (m_count(m, 0) == m->cap)
		return NC2_ERR_NOSPACE;
	*mapped = 1;
	if (fail) {
		m->map_failures++;
		return NC2_ERR_PEER_GRANT;
	}
	e->uap = m_count(m, 1) >= m->limit;
	e->present = 1;
	e->ro = ro;
	e->pins = 1;
	e->pending = 0;
	return NC2_OK;
}

static int m_put(struct model *m, uint32_t g)
{
	struct ment *e = &m->e[g];
	if (!e->present || e->pins == 0)
		return NC2_ERR_NOT_FOUND;
	if (--e->pins)
		return 0;
	if (e->pending || e->uap) {
		int acked = e->pending;
		m_drop(m, g);
		m->ungrants += (uint64_t)acked;
		return acked;
	}
	e->stamp = ++m->clock;
	m_enforce(m);
	return 0;
}

static int m_ungrant(struct model *m, uint32_t g)
{
	struct ment *e = &m->e[g];
	if (!e->present)
		return 1;
	if (e->pins) {
		e->pending = 1;
		return 0;
	}
	m_drop(m, g);
	m->ungrants++;
	return 1;
}

static int m_flush(struct model *m)
{
	int n = 0;
	for (uint32_t g = 0; g < m->ngref; g++)
		if (m->e[g].present && m->e[g].pins == 0) {
			m_drop(m, g);
			n++;
		}
	return n;
}

/* Gref numbers used on the wire: spread out so they hash unlike indices. */
static uint32_t wire_gref(uint32_t g)
{
	return g * 2654435761u + 12345u;
}

static void m_check(const struct model *m, const struct fx *x, uint64_t op)
{
	nc2_gcache_stats s = stats(x);
	T_EQ(s.hits, m->hits);
	T_EQ(s.misses, m->misses);
	T_EQ(s.evictions, m->evictions);
	T_EQ(s.ungrants, m->ungrants);
	T_EQ(s.map_failures, m->map_failures);
	T_EQ(s.entries, m_count(m, 1));
	T_EQ(s.pinned, m_pinned(m));
	T_EQ(s.limit, m->limit);
	/* The invariant: live mappings == cached entries + unmap-at-put ones. */
	T_EQ(x->f->live, s.entries + m_uap(m));
	/* And they are exactly the model's grants, with the model's access. */
	for (uint32_t g = 0; g < m->ngref; g++) {
		int fl = fake_flags(x->f, wire_gref(g));
		if (!m->e[g].present) {
			if (fl != -1)
				ck_abort_msg("op %llu: gref %u mapped, model has none",
					     (unsigned long long)op, g);
		} else {
			if (fl != (m->e[g].ro ? (int)NC2_GNT_READONLY : 0))
				ck_abort_msg("op %llu: gref %u flags %d, model ro=%d",
					     (unsigned long long)op, g, fl, m->e[g].ro);
		}
	}
}

static void run_random(uint32_t cap, uint32_t ngref, uint64_t seed, uint32_t ops)
{
	struct fx x;
	struct model m;
	tu_rng r;
	tu_rng_seed(&r, seed);
	fx_open(&x, cap, ngref + 1);
	memset(&m, 0, sizeof(m));
	m.cap = m.limit = cap;
	m.ngref = ngref;
	m.e = calloc(ngref, sizeof(*m.e));
	ck_assert_ptr_nonnull(m.e);

	for (uint32_t n = 0; n < ops; n++) {
		uint32_t op = tu_range(&r, 0, 999);
		uint32_t g = tu_range(&r, 0, ngref - 1);
		if (op < 380) {
			int ro = (int)tu_range(&r, 0, 1);
			int fail = tu_range(&r, 0, 19) == 0, mapped;
			if (fail) {
				x.f->fail_map_at = x.f->map_calls + 1;
				x.f->fail_map_rc = NC2_ERR_PEER_GRANT;
			}
			uint64_t calls = x.f->map_calls;
			int want = m_get(&m, g, ro, fail, &mapped);
			void *p = NULL;
			int rc = nc2_gcache_get(x.c, wire_gref(g), ro ? NC2_GNT_READONLY : 0, &p);
			T_EQ(rc, want);
			T_EQ(x.f->map_calls - calls, (uint64_t)mapped);
			x.f->fail_map_at = 0;
			if (rc == NC2_OK)
				T_EQ(((uint64_t *)p)[0], wire_gref(g));
		} else if (op < 800) {
			/* Mostly puts of something pinned. */
			if (tu_range(&r, 0, 9) != 0) {
				for (uint32_t k = 0; k < ngref; k++) {
					uint32_t h = (g + k) % ngref;
					if (m.e[h].pins) {
						g = h;
						break;
					}
				}
			}
			int want = m_put(&m, g);
			T_EQ(nc2_gcache_put(x.c, wire_gref(g)), want);
		} else if (op < 900) {
			int want = m_ungrant(&m, g);
			T_EQ(nc2_gcache_ungrant(x.c, wire_gref(g)), want);
		} else if (op < 990) {
			uint32_t lim = tu_range(&r, 0, cap + 2);
			m.limit = lim < cap ? lim : cap;
			int want = m_enforce(&m);
			T_EQ(nc2_gcache_set_limit(x.c, lim), want);
		} else {
			int want = m_flush(&m);
			T_EQ(nc2_gcache_flush(x.c), want);
		}
		m_check(&m, &x, n);
	}

	/* Teardown: unpin everything, flush, nothing left mapped. */
	for (uint32_t g = 0; g < ngref; g++)
		while (m.e[g].pins)
			T_EQ(nc2_gcache_put(x.c, wire_gref(g)), m_put(&m, g));
	T_EQ(nc2_gcache_flush(x.c), m_flush(&m));
	m_check(&m, &x, ops);
	T_EQ(x.f->live, 0);
	T_EQ(x.f->map_calls - m.map_failures, x.f->unmap_calls);
	free(m.e);
	fx_close(&x);
}

static const struct {
	uint32_t cap, ngref;
} random_cfg[] = {
    {1, 3}, {2, 5}, {8, 24}, {16, 20}, {32, 96},
};
#define N_RANDOM_CFG (int)(sizeof(random_cfg) / sizeof(random_cfg[0]))

START_TEST(test_random_vs_model)
{
	run_random(random_cfg[_i].cap, random_cfg[_i].ngref, 0x9cac4e00u + (uint64_t)_i, 100000);
}
END_TEST

static Suite *gcache_suite(void)
{
	Suite *s = suite_create("gcache");
	TCase *tc = tcase_create("basic");
	tcase_add_test(tc, test_footprint_init);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_hit_miss);
	tcase_add_test(tc, test_evict_lru);
	tcase_add_test(tc, test_lru_touch);
	tcase_add_test(tc, test_copy_lru_touch);
	tcase_add_test(tc, test_set_limit);
	tcase_add_test(tc, test_flush);
	tcase_add_test(tc, test_readonly);
	tcase_add_test(tc, test_capacity_one);
	tcase_add_test(tc, test_limit_zero);
	tcase_add_test(tc, test_noevict);
	suite_add_tcase(s, tc);

	tc = tcase_create("pin");
	tcase_add_test(tc, test_pinned_never_evicted);
	tcase_add_test(tc, test_nospace);
	tcase_add_test(tc, test_reuse_unpinned_when_slots_full);
	tcase_add_test(tc, test_ungrant_unpinned);
	tcase_add_test(tc, test_ungrant_pinned);
	tcase_add_test(tc, test_ungrant_unknown);
	suite_add_tcase(s, tc);

	tc = tcase_create("failure");
	tcase_add_test(tc, test_map_failure);
	tcase_add_test(tc, test_fault_hook);
	tcase_add_test(tc, test_unmap_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("stress");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_full_capacity_hash);
	tcase_add_loop_test(tc, test_random_vs_model, 0, N_RANDOM_CFG);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(gcache_suite());
}
