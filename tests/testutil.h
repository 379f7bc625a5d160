/* SPDX-License-Identifier: MIT */
/* Tiny helpers shared by the Check unit tests. Header-only, test use only. */
#ifndef NC2_TESTUTIL_H
#define NC2_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nc2/wire.h>

/* Fixed-seed xorshift64* PRNG: reproducible across platforms. */
typedef struct tu_rng {
	uint64_t s;
} tu_rng;

static inline void tu_rng_seed(tu_rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static inline uint64_t tu_rng_next(tu_rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline uint32_t tu_u32(tu_rng *r)
{
	return (uint32_t)(tu_rng_next(r) >> 32);
}

/* Uniform-enough value in [lo, hi] (inclusive). */
static inline uint32_t tu_range(tu_rng *r, uint32_t lo, uint32_t hi)
{
	uint64_t span = (uint64_t)hi - lo + 1;
	return lo + (uint32_t)((tu_rng_next(r) >> 16) % span);
}

static inline void tu_fill(tu_rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)tu_u32(r);
}

/* Little-endian stores/loads for building and patching buffers in tests. */
static inline void tu_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void tu_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t tu_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t tu_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* Index of the first differing octet, or -1 when equal. */
static inline long tu_first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* Assert that n octets at got equal those at want, naming the first difference. */
#define TU_ASSERT_BYTES(got, want, n)                                                        \
	do {                                                                                 \
		const uint8_t *tu_g_ = (got), *tu_w_ = (want);                               \
		long tu_d_ = tu_first_diff(tu_g_, tu_w_, (n));                               \
		ck_assert_msg(tu_d_ < 0, "octet %ld: got 0x%02x, want 0x%02x", tu_d_,        \
			      tu_d_ < 0 ? 0u : tu_g_[tu_d_], tu_d_ < 0 ? 0u : tu_w_[tu_d_]); \
	} while (0)

/*
 * Independent reference encoder for PACKET, written from the layout diagram
 * in nc2/wire.h with literal offsets. Used to build inputs and to cross-check
 * nc2_packet_encode(). Returns the message size.
 */
static inline size_t tu_build_packet(uint8_t *b, uint32_t id, uint8_t ptype, uint8_t pflags,
				     uint8_t seg, uint16_t prefix_size, uint16_t mss,
				     uint16_t csum_start, uint16_t csum_offset,
				     const nc2_frag *frags, uint32_t nr_frags,
				     const uint8_t *prefix)
{
	size_t size = 24 + 8 * (size_t)nr_frags + (((size_t)prefix_size + 7) & ~(size_t)7);
	memset(b, 0, size);
	b[0] = 2;
	tu_put16(b + 2, (uint16_t)size);
	tu_put32(b + 4, id);
	b[8] = ptype;
	b[9] = pflags;
	b[10] = seg;
	tu_put16(b + 12, prefix_size);
	tu_put16(b + 14, mss);
	tu_put16(b + 16, csum_start);
	tu_put16(b + 18, csum_offset);
	for (uint32_t i = 0; i < nr_frags; i++) {
		uint8_t *f = b + 24 + 8 * (size_t)i;
		uint16_t of = (uint16_t)(frags[i].off & 0x0fff);
		if (frags[i].flags & NC2_FRAG_STICKY)
			of |= 0x8000;
		tu_put16(f, frags[i].size);
		tu_put16(f + 2, of);
		tu_put32(f + 4, frags[i].ref);
	}
	if (prefix_size)
		memcpy(b + 24 + 8 * (size_t)nr_frags, prefix, prefix_size);
	return size;
}

/* Run a suite; EXIT_SUCCESS only when nothing failed. */
static inline int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* NC2_TESTUTIL_H */
