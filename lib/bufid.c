/* SPDX-License-Identifier: MIT */
/*
 * Free-buffer id tables. Layout in the caller's memory (8-aligned):
 *
 *   struct nc2_bufid | in-flight bitmap (uint64_t words) | generations
 *   (uint16_t per slot) | free stack (uint16_t slot indices)
 *
 * The free stack holds exactly the slots whose in-flight bit is clear, so
 * alloc pops and free pushes in O(1). Ids from the peer are only trusted
 * after the range, in-flight and generation checks in check_id().
 */
#include <string.h>

#include <nc2/bufid.h>

#include "layout.h"

struct nc2_bufid {
	uint32_t capacity;
	uint32_t nr_free; /* entries on the free stack */
	uint32_t nr_words;
	uint64_t *in_flight; /* bit i set: slot i handed out */
	uint16_t *gen;       /* generation of the slot's current/last use */
	uint16_t *free_stack;
};

#define GEN_SHIFT 16u
#define IDX_MASK  0xffffu

struct layout {
	size_t bitmap, gen, stack, total;
};

static int compute_layout(uint32_t capacity, struct layout *l)
{
	if (capacity == 0 || capacity > NC2_BUFID_MAX_CAPACITY)
		return NC2_ERR_INVALID_ARG;
	/* capacity <= 65536 keeps every product far from overflow even with a
	 * 32-bit size_t; the checked additions keep it that way if the limit
	 * ever grows. */
	size_t words = ((size_t)capacity + 63u) / 64u;
	l->bitmap = nc2_align8(sizeof(struct nc2_bufid));
	l->gen = nc2_align8(nc2_add_size(l->bitmap, words * sizeof(uint64_t)));
	l->stack = nc2_add_size(l->gen, (size_t)capacity * sizeof(uint16_t));
	l->total = nc2_align8(nc2_add_size(l->stack, (size_t)capacity * sizeof(uint16_t)));
	if (l->bitmap == 0 || l->gen == 0 || l->stack == 0 || l->total == 0)
		return NC2_ERR_INVALID_ARG;
	return NC2_OK;
}

size_t nc2_bufid_footprint(uint32_t capacity)
{
	struct layout l;
	return compute_layout(capacity, &l) == NC2_OK ? l.total : 0;
}

int nc2_bufid_init(nc2_bufid **out, void *mem, size_t len, uint32_t capacity)
{
	struct layout l;

	if (out == NULL || mem == NULL || ((uintptr_t)mem & 7u) != 0)
		return NC2_ERR_INVALID_ARG;
	int rc = compute_layout(capacity, &l);
	if (rc < 0)
		return rc;
	if (len < l.total)
		return NC2_ERR_NOSPACE;

	uint8_t *base = mem;
	memset(base, 0, l.total);
	nc2_bufid *t = mem;
	t->capacity = capacity;
	t->nr_words = (capacity + 63u) / 64u;
	t->in_flight = (uint64_t *)(void *)(base + l.bitmap);
	t->gen = (uint16_t *)(void *)(base + l.gen);
	t->free_stack = (uint16_t *)(void *)(base + l.stack);
	/* Top of the stack is slot 0, so a fresh table hands out 0, 1, 2, ... */
	for (uint32_t i = 0; i < capacity; i++)
		t->free_stack[i] = (uint16_t)(capacity - 1u - i);
	t->nr_free = capacity;
	*out = t;
	return NC2_OK;
}

static int bit_test(const nc2_bufid *t, uint32_t i)
{
	return (int)((t->in_flight[i >> 6] >> (i & 63u)) & 1u);
}

int nc2_bufid_alloc(nc2_bufid *t, uint32_t *id)
{
	if (t == NULL || id == NULL)
		return NC2_ERR_INVALID_ARG;
	if (t->nr_free == 0)
		return NC2_ERR_AGAIN;
	uint32_t i = t->free_stack[--t->nr_free];
	uint16_t g = (uint16_t)(t->gen[i] + 1u);
	if (g == 0)
		g = 1; /* generation 0 never appears, so id 0 is never valid */
	t->gen[i] = g;
	t->in_flight[i >> 6] |= (uint64_t)1 << (i & 63u);
	*id = i | (uint32_t)g << GEN_SHIFT;
	return NC2_OK;
}

/* The only gate for ids of unknown origin. */
static int check_id(const nc2_bufid *t, uint32_t id)
{
	uint32_t i = id & IDX_MASK;
	if (i >= t->capacity || !bit_test(t, i) || t->gen[i] != (uint16_t)(id >> GEN_SHIFT))
		return NC2_ERR_PEER_BAD_ID;
	return NC2_OK;
}

int nc2_bufid_lookup(const nc2_bufid *t, uint32_t id, uint32_t *index)
{
	if (t == NULL)
		return NC2_ERR_INVALID_ARG;
	int rc = check_id(t, id);
	if (rc == NC2_OK && index != NULL)
		*index = id & IDX_MASK;
	return rc;
}

int nc2_bufid_take(nc2_bufid *t, uint32_t id, uint32_t *index)
{
	if (t == NULL)
		return NC2_ERR_INVALID_ARG;
	int rc = check_id(t, id);
	if (rc < 0)
		return rc;
	uint32_t i = id & IDX_MASK;
	t->in_flight[i >> 6] &= ~((uint64_t)1 << (i & 63u));
	/* The bit was set, so the slot is not on the stack and there is room. */
	t->free_stack[t->nr_free++] = (uint16_t)i;
	if (index != NULL)
		*index = i;
	return NC2_OK;
}

int nc2_bufid_free(nc2_bufid *t, uint32_t id)
{
	return nc2_bufid_take(t, id, NULL);
}

uint32_t nc2_bufid_in_flight(const nc2_bufid *t)
{
	return t == NULL ? 0 : t->capacity - t->nr_free;
}

uint32_t nc2_bufid_capacity(const nc2_bufid *t)
{
	return t == NULL ? 0 : t->capacity;
}

/* Index of the lowest set bit of a non-zero word. */
static uint32_t lowest_bit(uint64_t w)
{
#if defined(__GNUC__) || defined(__clang__)
	return (uint32_t)__builtin_ctzll(w);
#else
	/* clang-format off */
	static const uint8_t debruijn[64] = {
		0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,
		62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
		63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
		46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6,
	};
	/* clang-format on */
	return debruijn[((w & (0 - w)) * 0x03f79d71b4cb0a89ull) >> 58];
#endif
}

int nc2_bufid_next_in_flight(const nc2_bufid *t, uint32_t *pos, uint32_t *id)
{
	if (t == NULL || pos == NULL || id == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t p = *pos;
	if (p >= t->capacity)
		return NC2_ERR_NOT_FOUND;
	uint32_t w = p >> 6;
	/* Bits past capacity in the last word are never set. */
	uint64_t bits = t->in_flight[w] & (~(uint64_t)0 << (p & 63u));
	while (bits == 0) {
		if (++w >= t->nr_words) {
			*pos = t->capacity;
			return NC2_ERR_NOT_FOUND;
		}
		bits = t->in_flight[w];
	}
	uint32_t i = w * 64u + lowest_bit(bits);
	*id = i | (uint32_t)t->gen[i] << GEN_SHIFT;
	*pos = i + 1u;
	return NC2_OK;
}
