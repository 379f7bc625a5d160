/* SPDX-License-Identifier: MIT */
/*
 * The backend's sticky grant-mapping cache. Layout in the caller's memory
 * (8-aligned):
 *
 *   struct nc2_gcache | entries[capacity] | hash table (uint32_t[tsize])
 *
 * The hash table maps gref -> entry index by open addressing with linear
 * probing; tsize is a power of two >= 2 * capacity, so the load stays at or
 * below one half and every probe sequence reaches an empty slot. Deletion
 * shifts later members of the cluster back (no tombstones), so lookups never
 * slow down with churn.
 *
 * Every entry in use is in the hash table and is in exactly one of these
 * states:
 *   - pinned (pins > 0), off the LRU list;
 *   - unpinned and cached: on the LRU list (head = most recently put).
 * Unused entries are on a free list threaded through `next`. An entry marked
 * E_UAP (mapped while the cache was at its limit) does not count as cached
 * and is unmapped at its last put, as is one marked E_PENDING (UNGRANT
 * arrived while pinned); neither ever enters the LRU list.
 *
 * Grant references come from the peer: they are only used as hash keys and
 * handed to the transport, never as indices.
 */
#include <string.h>

#include <nc2/gcache.h>

#include "compiler.h"
#include "layout.h"

#define NIL 0xffffffffu

enum {
	E_RO = 1u << 0,      /* mapped read-only */
	E_PENDING = 1u << 1, /* UNGRANT arrived while pinned: drop at last put */
	E_UAP = 1u << 2,     /* not cached (over the limit): unmap at last put */
	E_LRU = 1u << 3,     /* on the LRU list */
};

struct entry {
	void *addr;
	uint64_t handle;
	uint32_t gref;
	uint32_t flags;
	uint32_t pins;
	uint32_t prev, next; /* LRU links; `next` also links the free list */
};

#define NC2_GCACHE_PAGE 4096u /* grant granularity (NC2_PAGE_SIZE) */

struct nc2_gcache {
	nc2_transport *tp;
	struct entry *e;
	uint32_t *table; /* entry index or NIL */
	uint32_t capacity, limit, mask;
	uint32_t cached; /* entries in use without E_UAP */
	uint32_t pinned; /* entries with pins > 0 */
	uint32_t lru_head, lru_tail, free_head;
	uint64_t hits, misses, evictions, ungrants, map_failures;
};

/* ---- layout ---------------------------------------------------------------- */

struct layout {
	size_t entries, table, total;
	uint32_t tsize;
};

static int compute_layout(uint32_t capacity, struct layout *l)
{
	if (capacity == 0 || capacity > NC2_GCACHE_MAX_CAPACITY)
		return NC2_ERR_INVALID_ARG;
	uint32_t tsize = 2;
	while (tsize < 2u * capacity) /* capacity <= 65536: no overflow */
		tsize <<= 1;
	l->tsize = tsize;
	l->entries = nc2_align8(sizeof(struct nc2_gcache));
	l->table = nc2_align8(nc2_add_size(l->entries, (size_t)capacity * sizeof(struct entry)));
	l->total = nc2_align8(nc2_add_size(l->table, (size_t)tsize * sizeof(uint32_t)));
	if (l->entries == 0 || l->table == 0 || l->total == 0)
		return NC2_ERR_INVALID_ARG;
	return NC2_OK;
}

size_t nc2_gcache_footprint(uint32_t capacity)
{
	struct layout l;
	return compute_layout(capacity, &l) == NC2_OK ? l.total : 0;
}

int nc2_gcache_init(nc2_gcache **out, void *mem, size_t len, uint32_t capacity, nc2_transport *t)
{
	struct layout l;

	if (out == NULL || mem == NULL || ((uintptr_t)mem & 7u) != 0)
		return NC2_ERR_INVALID_ARG;
	int rc = nc2_transport_check(t);
	if (rc < 0)
		return rc;
	rc = compute_layout(capacity, &l);
	if (rc < 0)
		return rc;
	if (len < l.total)
		return NC2_ERR_NOSPACE;

	uint8_t *base = mem;
	nc2_gcache *c = mem;
	memset(c, 0, sizeof(*c));
	c->tp = t;
	c->e = (struct entry *)(void *)(base + l.entries);
	c->table = (uint32_t *)(void *)(base + l.table);
	c->capacity = capacity;
	c->limit = capacity;
	c->mask = l.tsize - 1u;
	c->lru_head = c->lru_tail = NIL;
	memset(c->e, 0, (size_t)capacity * sizeof(struct entry));
	for (uint32_t i = 0; i < capacity; i++) {
		c->e[i].prev = NIL;
		c->e[i].next = i + 1u < capacity ? i + 1u : NIL;
	}
	c->free_head = 0;
	memset(c->table, 0xff, (size_t)l.tsize * sizeof(uint32_t));
	*out = c;
	return NC2_OK;
}

/* ---- hash table ------------------------------------------------------------ */

/* A full-avalanche mix: grant references are often small and sequential. */
static inline uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* Entry index for \p gref, or NIL; its table position in *pos. */
static inline uint32_t ht_find(const nc2_gcache *c, uint32_t gref, uint32_t *pos)
{
	uint32_t i = hash32(gref) & c->mask;
	for (;;) {
		uint32_t s = c->table[i];
		if (s == NIL || c->e[s].gref == gref) {
			*pos = i;
			return s;
		}
		i = (i + 1u) & c->mask;
	}
}

static void ht_insert(nc2_gcache *c, uint32_t idx)
{
	uint32_t i = hash32(c->e[idx].gref) & c->mask;
	while (c->table[i] != NIL)
		i = (i + 1u) & c->mask;
	c->table[i] = idx;
}

/* Backward-shift deletion: move each later cluster member whose home slot
 * does not lie cyclically in (hole, j] into the hole. */
static void ht_remove_at(nc2_gcache *c, uint32_t hole)
{
	uint32_t j = hole;
	for (;;) {
		j = (j + 1u) & c->mask;
		uint32_t s = c->table[j];
		if (s == NIL)
			break;
		uint32_t home = hash32(c->e[s].gref) & c->mask;
		if (((j - home) & c->mask) >= ((j - hole) & c->mask)) {
			c->table[hole] = s;
			hole = j;
		}
	}
	c->table[hole] = NIL;
}

/* ---- LRU list -------------------------------------------------------------- */

static void lru_push_head(nc2_gcache *c, uint32_t idx)
{
	struct entry *e = &c->e[idx];
	e->prev = NIL;
	e->next = c->lru_head;
	if (c->lru_head != NIL)
		c->e[c->lru_head].prev = idx;
	else
		c->lru_tail = idx;
	c->lru_head = idx;
	e->flags |= E_LRU;
}

static void lru_unlink(nc2_gcache *c, uint32_t idx)
{
	struct entry *e = &c->e[idx];
	if (e->prev != NIL)
		c->e[e->prev].next = e->next;
	else
		c->lru_head = e->next;
	if (e->next != NIL)
		c->e[e->next].prev = e->prev;
	else
		c->lru_tail = e->prev;
	e->prev = e->next = NIL;
	e->flags &= ~(uint32_t)E_LRU;
}

/* Move entry \p idx, on the list but not its head, to the head: an idle hit.
 * Neither end can be NIL here (idx has a predecessor, the head is another
 * entry), so this is lru_unlink() + lru_push_head() without their tests. */
static inline void lru_touch(nc2_gcache *c, uint32_t idx)
{
	struct entry *e = &c->e[idx];
	c->e[e->prev].next = e->next;
	if (e->next != NIL)
		c->e[e->next].prev = e->prev;
	else
		c->lru_tail = e->prev;
	e->prev = NIL;
	e->next = c->lru_head;
	c->e[c->lru_head].prev = idx;
	c->lru_head = idx;
}

/* ---- transport ------------------------------------------------------------- */

/* One status for a batch of one: the op's own status first. */
static int op_status(int rc, const nc2_map_op *op)
{
	if (op->status < 0)
		return op->status;
	return rc < 0 ? rc : NC2_OK;
}

static int unmap_entry(nc2_gcache *c, const struct entry *e)
{
	nc2_map_op op = {.gref = e->gref,
			 .flags = (e->flags & E_RO) ? NC2_GNT_READONLY : 0u,
			 .addr = e->addr,
			 .handle = e->handle,
			 .status = NC2_OK};
	int rc = nc2_tp_unmap(c->tp, &op, 1);
	return op_status(rc, &op);
}

/* Unmap an unpinned entry and return it to the free list. The entry is
 * dropped even if the unmap fails; the failure is returned. */
static int remove_entry(nc2_gcache *c, uint32_t idx, uint32_t pos)
{
	struct entry *e = &c->e[idx];
	int rc = unmap_entry(c, e);
	if (rc < 0) {
		/* Still mapped: keep it, unpinned and cached at the LRU head,
		 * so that a later flush (fini) unmaps it instead of leaking. */
		if (e->flags & E_LRU)
			lru_unlink(c, idx);
		if (e->flags & E_UAP)
			c->cached++;
		e->flags &= ~(uint32_t)(E_UAP | E_PENDING);
		lru_push_head(c, idx);
		return rc;
	}
	ht_remove_at(c, pos);
	if (e->flags & E_LRU)
		lru_unlink(c, idx);
	if (!(e->flags & E_UAP))
		c->cached--;
	e->flags = 0;
	e->addr = NULL;
	e->next = c->free_head;
	c->free_head = idx;
	return rc;
}

static int remove_by_index(nc2_gcache *c, uint32_t idx)
{
	uint32_t pos;
	(void)ht_find(c, c->e[idx].gref, &pos);
	return remove_entry(c, idx, pos);
}

/* Evict the least recently used unpinned entry (the caller checked there
 * is one). */
static int evict_lru(nc2_gcache *c)
{
	c->evictions++;
	return remove_by_index(c, c->lru_tail);
}

/* Evict until the cached entries fit the limit or only pinned ones remain.
 * \return entries evicted, or the first unmap error. */
static int enforce_limit(nc2_gcache *c)
{
	int n = 0;
	while (c->cached > c->limit && c->lru_tail != NIL) {
		int rc = evict_lru(c);
		if (rc < 0)
			return rc; /* kept; retried by a later evict or flush */
		n++;
	}
	return n;
}

/* ---- API ------------------------------------------------------------------- */

int nc2_gcache_set_limit(nc2_gcache *c, uint32_t limit)
{
	if (c == NULL)
		return NC2_ERR_INVALID_ARG;
	c->limit = limit < c->capacity ? limit : c->capacity;
	return enforce_limit(c);
}

static int get_miss(nc2_gcache *c, uint32_t gref, uint32_t ro, void **page)
{
	c->misses++;
	/* Make room within the limit; at most one eviction unless the limit
	 * was lowered under pinned entries. */
	while (c->cached >= c->limit && c->lru_tail != NIL) {
		int rc = evict_lru(c);
		if (rc < 0)
			return rc;
	}
	/* Every slot taken (some by unmap-at-put entries): reuse an unpinned
	 * one rather than fail. */
	if (c->free_head == NIL && c->lru_tail != NIL) {
		int rc = evict_lru(c);
		if (rc < 0)
			return rc;
	}
	if (c->free_head == NIL)
		return NC2_ERR_NOSPACE; /* every entry is pinned */

	nc2_map_op op = {.gref = gref,
			 .flags = ro ? NC2_GNT_READONLY : 0u,
			 .addr = NULL,
			 .handle = 0,
			 .status = NC2_OK};
	int rc = op_status(nc2_tp_map(c->tp, &op, 1), &op);
	if (rc < 0) {
		c->map_failures++;
		return rc;
	}

	uint32_t idx = c->free_head;
	struct entry *e = &c->e[idx];
	c->free_head = e->next;
	e->gref = gref;
	e->addr = op.addr;
	e->handle = op.handle;
	e->pins = 1;
	e->prev = e->next = NIL;
	e->flags = ro ? E_RO : 0u;
	if (c->cached >= c->limit)
		e->flags |= E_UAP;
	else
		c->cached++;
	c->pinned++;
	ht_insert(c, idx);
	*page = op.addr;
	return NC2_OK;
}

int nc2_gcache_get(nc2_gcache *c, uint32_t gref, uint32_t flags, void **page)
{
	if (c == NULL || page == NULL || (flags & ~(NC2_GNT_FLAGS_KNOWN | NC2_GCACHE_NOEVICT)) != 0)
		return NC2_ERR_INVALID_ARG;
	uint32_t ro = flags & NC2_GNT_READONLY;
	uint32_t pos;
	uint32_t idx = ht_find(c, gref, &pos);
	if (idx == NIL) {
		/* The caller has a cheaper way than evicting someone else. */
		if ((flags & NC2_GCACHE_NOEVICT) && c->cached >= c->limit)
			return NC2_ERR_AGAIN;
		return get_miss(c, gref, ro, page);
	}

	struct entry *e = &c->e[idx];
	if (e->flags & E_PENDING)
		return NC2_ERR_PEER_GRANT; /* used after its UNGRANT */
	if (!ro && (e->flags & E_RO)) {
		/* Read-only mapping, writable access wanted: remap if nobody
		 * holds the read-only one. */
		if (e->pins != 0)
			return NC2_ERR_STATE;
		int rc = remove_entry(c, idx, pos);
		if (rc < 0)
			return rc;
		return get_miss(c, gref, ro, page);
	}
	if (e->pins == UINT32_MAX)
		return NC2_ERR_LIMIT;
	if (e->pins++ == 0) {
		lru_unlink(c, idx);
		c->pinned++;
	}
	c->hits++;
	*page = e->addr;
	return NC2_OK;
}

int nc2_gcache_put(nc2_gcache *c, uint32_t gref)
{
	if (c == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t pos;
	uint32_t idx = ht_find(c, gref, &pos);
	if (idx == NIL || c->e[idx].pins == 0)
		return NC2_ERR_NOT_FOUND;
	struct entry *e = &c->e[idx];
	if (--e->pins != 0)
		return 0;
	c->pinned--;
	if (e->flags & (E_PENDING | E_UAP)) {
		int acked = (e->flags & E_PENDING) != 0;
		int rc = remove_entry(c, idx, pos);
		if (acked)
			c->ungrants++;
		return rc < 0 ? rc : acked;
	}
	lru_push_head(c, idx);
	/* Over the limit only if it was lowered while this was pinned. */
	int rc = enforce_limit(c);
	return rc < 0 ? rc : 0;
}

int nc2_gcache_ungrant(nc2_gcache *c, uint32_t gref)
{
	if (c == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t pos;
	uint32_t idx = ht_find(c, gref, &pos);
	if (idx == NIL)
		return 1;
	if (c->e[idx].pins != 0) {
		c->e[idx].flags |= E_PENDING;
		return 0;
	}
	int rc = remove_entry(c, idx, pos);
	c->ungrants++;
	return rc < 0 ? rc : 1;
}

int nc2_gcache_flush(nc2_gcache *c)
{
	if (c == NULL)
		return NC2_ERR_INVALID_ARG;
	int n = 0, first = NC2_OK;
	/* Each entry once: one whose unmap fails goes back to the head. */
	for (uint32_t left = c->cached; left && c->lru_tail != NIL; left--) {
		int rc = remove_by_index(c, c->lru_tail);
		if (rc < 0 && first == NC2_OK)
			first = rc;
		n += rc == NC2_OK;
	}
	return first < 0 ? first : n;
}

void nc2_gcache_get_stats(const nc2_gcache *c, nc2_gcache_stats *s)
{
	if (c == NULL || s == NULL)
		return;
	s->hits = c->hits;
	s->misses = c->misses;
	s->evictions = c->evictions;
	s->ungrants = c->ungrants;
	s->map_failures = c->map_failures;
	s->entries = c->cached;
	s->pinned = c->pinned;
	s->limit = c->limit;
}

/* Copy between local and a mapped page; the caller checked the bounds. */
static inline void page_copy(void *page, uint32_t off, void *local, uint32_t len, int to_page)
{
	if (to_page)
		nc2_copy_data((uint8_t *)page + off, local, len);
	else
		nc2_copy_data(local, (const uint8_t *)page + off, len);
}

/* nc2_gcache_copy() through get and put: a miss, or an entry that is
 * pinned, pending or read-only for a write. Out of line, so that the
 * common case (an idle hit) needs fewer registers saved. */
NC2_SLOWPATH static int copy_pinned(nc2_gcache *c, uint32_t gref, uint32_t flags, uint32_t off,
				    void *local, uint32_t len, int to_page)
{
	void *page;
	int rc = nc2_gcache_get(c, gref, flags, &page);
	if (rc < 0)
		return rc;
	page_copy(page, off, local, len, to_page);
	/* get refused an entry with an UNGRANT pending and nothing runs in
	 * between to mark one, so put never completes an un-grant here. */
	rc = nc2_gcache_put(c, gref);
	return rc < 0 ? rc : 0;
}

int nc2_gcache_copy(nc2_gcache *c, uint32_t gref, uint32_t flags, uint32_t off, void *local,
		    uint32_t len, int to_page)
{
	if (c == NULL || local == NULL || off > NC2_GCACHE_PAGE || len > NC2_GCACHE_PAGE - off)
		return NC2_ERR_INVALID_ARG;
	uint32_t pos;
	uint32_t idx = ht_find(c, gref, &pos);
	struct entry *e = idx != NIL ? &c->e[idx] : NULL;
	if (e == NULL || e->pins != 0 || (e->flags & E_PENDING) || (to_page && (e->flags & E_RO)))
		return copy_pinned(c, gref, flags, off, local, len, to_page);
	/* Hit on an idle entry: one lookup and an LRU touch, no pin. */
	if (c->lru_head != idx)
		lru_touch(c, idx);
	c->hits++;
	page_copy(e->addr, off, local, len, to_page);
	return 0;
}
