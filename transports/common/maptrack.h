/* SPDX-License-Identifier: MIT */
/*
 * Private to the transports that model Xen grant tables in software
 * (loopback, shm): the mapper's maptrack, the table Xen keeps per domain of
 * the grant mappings it holds, which turns a handle back into a mapping.
 *
 * Handle: [63:48] tag (the granter's domid, 0 where there is one peer) |
 * [47] read-write | [46:24] a generation bumped on every map | [23:0] slot
 * + 1, so a stale or forged handle fails mt_find() and 0 is never valid.
 * The table grows by doubling (mapping is a control-path operation in
 * these transports; the core never calls it per packet on a cache hit).
 */
#ifndef NC2_TRANSPORTS_MAPTRACK_H
#define NC2_TRANSPORTS_MAPTRACK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nc2/common.h>

#define MT_SLOT_MASK 0xffffffull
#define MT_GEN_MASK  0x7fffffu
#define MT_MAX       0xffffffu /* slots: what the handle's slot field holds */
#define MT_NONE      UINT32_MAX

typedef struct mt_entry {
	uint64_t handle; /* as returned to the mapper */
	void *addr;      /* the mapped page */
	uint32_t gref;
	uint32_t next_free; /* free list link (MT_NONE ends it) */
	uint16_t tag;       /* handle tag: loopback's granter domid */
	uint16_t gen;       /* the grant's generation when mapped (shm) */
	uint8_t rw;
	uint8_t used;
} mt_entry;

typedef struct mt_table {
	mt_entry *e;
	uint32_t nr;     /* slots allocated */
	uint32_t free;   /* head of the free list */
	uint32_t active; /* slots in use */
	uint32_t gen;    /* bumped on every map */
} mt_table;

static inline void mt_init(mt_table *t)
{
	memset(t, 0, sizeof(*t));
	t->free = MT_NONE;
}

static inline void mt_fini(mt_table *t)
{
	free(t->e);
	mt_init(t);
}

/* Record a new mapping. \return the entry, NULL when the table cannot grow
 * (NC2_ERR_NOSPACE for the caller). */
static inline mt_entry *mt_add(mt_table *t, uint16_t tag, int rw, uint32_t gref, void *addr)
{
	if (t->free == MT_NONE) {
		uint32_t old = t->nr;
		if (old >= MT_MAX)
			return NULL;
		uint32_t nr = old ? old * 2u : 16u;
		if (nr > MT_MAX)
			nr = MT_MAX;
		mt_entry *e = realloc(t->e, (size_t)nr * sizeof(*e));
		if (e == NULL)
			return NULL;
		memset(e + old, 0, (size_t)(nr - old) * sizeof(*e));
		/* Chain the new slots so the lowest comes first. */
		for (uint32_t i = nr; i-- > old;) {
			e[i].next_free = t->free;
			t->free = i;
		}
		t->e = e;
		t->nr = nr;
	}
	uint32_t slot = t->free;
	mt_entry *m = &t->e[slot];
	t->free = m->next_free;
	t->gen++;
	*m = (mt_entry){.handle = ((uint64_t)tag << 48) | ((uint64_t)(rw ? 1u : 0u) << 47) |
				  ((uint64_t)(t->gen & MT_GEN_MASK) << 24) | (uint64_t)(slot + 1u),
			.addr = addr,
			.gref = gref,
			.next_free = MT_NONE,
			.tag = tag,
			.rw = (uint8_t)(rw ? 1u : 0u),
			.used = 1};
	t->active++;
	return m;
}

/* The live entry of \p handle mapped at \p addr, or NULL. */
static inline mt_entry *mt_find(mt_table *t, uint64_t handle, const void *addr)
{
	uint64_t low = handle & MT_SLOT_MASK;
	if (low == 0 || low > t->nr)
		return NULL;
	mt_entry *m = &t->e[low - 1u];
	return m->used && m->handle == handle && m->addr == addr ? m : NULL;
}

static inline void mt_remove(mt_table *t, mt_entry *m)
{
	uint32_t slot = (uint32_t)(m - t->e);
	memset(m, 0, sizeof(*m));
	m->next_free = t->free;
	t->free = slot;
	t->active--;
}

#endif /* NC2_TRANSPORTS_MAPTRACK_H */
