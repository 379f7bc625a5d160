/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/bufid.h
 * Free-buffer id tables: fixed capacity, O(1) alloc and free, an in-flight
 * bitmap and a per-slot generation, so an id the peer returns that was never
 * handed out, was already returned or belongs to an earlier use of the slot
 * is caught (NC2_ERR_PEER_BAD_ID) instead of corrupting state.
 *
 * Id layout: bits 0..15 slot index, bits 16..31 generation (never 0, so an
 * all-zero id is never valid). Callers keep per-slot data in their own
 * arrays indexed by nc2_bufid_index().
 */
#ifndef NC2_BUFID_H
#define NC2_BUFID_H

#include <nc2/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_BUFID_MAX_CAPACITY 65536u

typedef struct nc2_bufid nc2_bufid;

/** Octets needed for a table of \p capacity (1..65536) ids; 0 if invalid. */
NC2_API size_t nc2_bufid_footprint(uint32_t capacity);

/** Initialise a table in \p mem (8-aligned). All ids start free. */
NC2_API int nc2_bufid_init(nc2_bufid **out, void *mem, size_t len, uint32_t capacity);

/** Take a free id. \return NC2_OK or NC2_ERR_AGAIN (all in flight). */
NC2_API int nc2_bufid_alloc(nc2_bufid *t, uint32_t *id);

/** Check that \p id is in flight; give its slot index. NC2_ERR_PEER_BAD_ID. */
NC2_API int nc2_bufid_lookup(const nc2_bufid *t, uint32_t id, uint32_t *index);

/** Return an in-flight id (e.g. from the peer). NC2_ERR_PEER_BAD_ID if it is
 * out of range, not in flight, or stale. */
NC2_API int nc2_bufid_free(nc2_bufid *t, uint32_t id);

/** nc2_bufid_free() that also gives the freed id's slot index (may be NULL):
 * a peer's id checked once when it is consumed as it is looked up. */
NC2_API int nc2_bufid_take(nc2_bufid *t, uint32_t id, uint32_t *index);

/** Slot index of an id (no checking). */
static inline uint32_t nc2_bufid_index(uint32_t id)
{
	return id & 0xffffu;
}

NC2_API uint32_t nc2_bufid_in_flight(const nc2_bufid *t);
NC2_API uint32_t nc2_bufid_capacity(const nc2_bufid *t);

/** Iterate in-flight ids (teardown): returns the next in-flight id with slot
 * index >= *pos and advances *pos past it; NC2_ERR_NOT_FOUND when done. */
NC2_API int nc2_bufid_next_in_flight(const nc2_bufid *t, uint32_t *pos, uint32_t *id);

#ifdef __cplusplus
}
#endif

#endif /* NC2_BUFID_H */
