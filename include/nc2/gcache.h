/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/gcache.h
 * The backend's cache of sticky grant mappings.
 *
 * Maps peer grants through the transport and keeps them mapped while the
 * number of entries stays within the limit the backend advertised
 * (SET_GRANT_CACHE), evicting the least recently used unpinned entry when
 * full. An entry is pinned between get and put so it is never unmapped under
 * a user. UNGRANT from the frontend drops an entry now, or at its last put if
 * pinned; either way the caller learns when the UNGRANT_ACK may be sent.
 * Lookup, insert, touch and evict are O(1). Fixed capacity; no allocation.
 *
 * If the transport fails an unmap, the entry is dropped anyway (the cache
 * never retries) and the error is returned by whichever call did the unmap.
 */
#ifndef NC2_GCACHE_H
#define NC2_GCACHE_H

#include <nc2/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_GCACHE_MAX_CAPACITY 65536u

typedef struct nc2_gcache nc2_gcache;

/** misses counts every get without a usable mapping (also those that then
 * fail); evictions only entries dropped for the limit or for room; ungrants
 * the un-grants completed (acks due); entries the cached entries (not the
 * unmap-at-put ones); pinned the entries with a pin. */
typedef struct nc2_gcache_stats {
	uint64_t hits, misses, evictions, ungrants, map_failures;
	uint32_t entries, pinned, limit;
} nc2_gcache_stats;

/** Octets for a cache of \p capacity (1..65536) entries; 0 if invalid. */
NC2_API size_t nc2_gcache_footprint(uint32_t capacity);

/** Initialise in \p mem (8-aligned); limit starts at capacity. */
NC2_API int nc2_gcache_init(nc2_gcache **out, void *mem, size_t len, uint32_t capacity,
			    nc2_transport *t);

/** Change the advertised limit (clamped to capacity); evicts unpinned LRU
 * entries down to it. \return entries evicted, or a transport error. */
NC2_API int nc2_gcache_set_limit(nc2_gcache *c, uint32_t limit);

/**
 * Get the mapping of \p gref (flags: NC2_GNT_READONLY), pinning it. On a miss
 * the grant is mapped through the transport; if the cache is at its limit the
 * LRU unpinned entry is evicted first; with a limit of 0, or everything
 * pinned, the mapping is still made but marked to be unmapped at put. A
 * read-only mapping asked for writable is remapped if unpinned.
 * \return NC2_OK, NC2_ERR_TRANSPORT / the transport's status (map, or the
 *  unmap of an evicted entry, failed), NC2_ERR_NOSPACE (every slot pinned),
 *  NC2_ERR_STATE (writable wanted, pinned read-only), NC2_ERR_PEER_GRANT
 *  (\p gref used after its UNGRANT), NC2_ERR_LIMIT (pin count overflow).
 */
NC2_API int nc2_gcache_get(nc2_gcache *c, uint32_t gref, uint32_t flags, void **page);

/** nc2_gcache_get() flag: on a miss with the cache at its limit, return
 * NC2_ERR_AGAIN instead of evicting (the caller grant-copies instead). */
#define NC2_GCACHE_NOEVICT (1u << 16)

/**
 * Copy \p len octets between \p local and offset \p off of \p gref's page
 * (to_page: into the page), through the cache: get, copy, put in one call,
 * with a single lookup when the entry is cached and idle. flags as for get
 * (NC2_GNT_READONLY, NC2_GCACHE_NOEVICT).
 * \return 0, or an error from get (NC2_ERR_AGAIN with NOEVICT: nothing
 *  copied; NC2_ERR_PEER_GRANT for a grant used after its UNGRANT).
 */
NC2_API int nc2_gcache_copy(nc2_gcache *c, uint32_t gref, uint32_t flags, uint32_t off, void *local,
			    uint32_t len, int to_page);

/** Unpin. \return 1 when this completed a deferred un-grant of \p gref (send
 * UNGRANT_ACK now), 0 otherwise, NC2_ERR_NOT_FOUND if not pinned. If the
 * cache is above its limit (lowered while entries were pinned), the last put
 * evicts down to it. */
NC2_API int nc2_gcache_put(nc2_gcache *c, uint32_t gref);

/** UNGRANT: \return 1 if \p gref is unmapped (or was never cached): ack now;
 * 0 if pinned: the ack is due when nc2_gcache_put() returns 1. */
NC2_API int nc2_gcache_ungrant(nc2_gcache *c, uint32_t gref);

/** Unmap every unpinned entry (teardown). \return entries unmapped, or the
 * first transport error (all entries are still attempted). */
NC2_API int nc2_gcache_flush(nc2_gcache *c);

NC2_API void nc2_gcache_get_stats(const nc2_gcache *c, nc2_gcache_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* NC2_GCACHE_H */
