/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/loopback.h
 * Loopback transport: an in-process, deterministic model of Xen's grant
 * tables and event channels, so both ends of a channel (and hostile peers,
 * and faults) can run in one process.
 *
 * A world holds several domains. Each domain owns page-aligned "RAM" and a
 * grant table whose entries carry flags (in use, read-only, sticky,
 * transitive) and in-use map counts. Map and copy check permissions exactly
 * as Xen does: the grant must exist, be granted to the mapping domain,
 * read-only grants refuse writable maps and copies into them, offsets and
 * lengths must stay inside the page. Revoking a mapped grant is refused
 * (NC2_ERR_AGAIN), like gnttab_end_foreign_access on a busy entry.
 * Transitive grants let a domain pass on access to a page granted to it.
 *
 * Faults are injected per world: fail the Nth call of an op kind (or the Nth
 * element inside batches), drop or delay notifications. A seed makes every
 * random choice replayable. Not thread-safe: one world per thread.
 */
#ifndef NC2_LOOPBACK_H
#define NC2_LOOPBACK_H

#include <nc2/ring.h>
#include <nc2/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc2_lo_world nc2_lo_world;

/** A world of up to \p max_domains domains; \p seed drives random faults. */
NC2_API nc2_lo_world *nc2_lo_world_create(uint32_t max_domains, uint64_t seed);
/** Frees everything; reports (returns) the number of grants still active or
 * mapped, so a test can assert nothing leaked. */
NC2_API int nc2_lo_world_destroy(nc2_lo_world *w);

/** Create a domain with \p pages pages of RAM and \p grant_entries grant
 * table entries. \return NC2_OK and the new domid. */
NC2_API int nc2_lo_domain_create(nc2_lo_world *w, uint32_t pages, uint32_t grant_entries,
				 uint16_t *domid);
/** The domain's RAM (page-aligned) and its length. */
NC2_API uint8_t *nc2_lo_domain_mem(nc2_lo_world *w, uint16_t domid, size_t *len);

/** Open a transport endpoint for \p local talking to \p peer. */
NC2_API int nc2_lo_transport_open(nc2_lo_world *w, uint16_t local, uint16_t peer, nc2_transport *t);
NC2_API void nc2_lo_transport_close(nc2_transport *t);

/**
 * Set up a ring pair the way a frontend and backend would: ring memory is
 * taken from \p fe's RAM at page offset \p fe_page (1 control page, then
 * 2^order octets per ring, order >= 12 rounded to pages), granted to \p be and
 * mapped by \p be. Fills each side's view.
 */
NC2_API int nc2_lo_ring_setup(nc2_lo_world *w, uint16_t fe, uint16_t be, uint32_t fe_page,
			      uint32_t order, nc2_ring_mem *fe_view, nc2_ring_mem *be_view);
/** Undo nc2_lo_ring_setup (unmap in be, revoke in fe). */
NC2_API int nc2_lo_ring_teardown(nc2_lo_world *w, uint16_t fe, uint16_t be, uint32_t fe_page,
				 uint32_t order);

/** Grant to the transport's peer a transitive grant onto \p src_gref, which
 * \p src_domid granted to the transport's local domain. */
NC2_API int nc2_lo_grant_transitive(nc2_transport *t, uint16_t src_domid, uint32_t src_gref,
				    uint32_t *gref);

/** Notifications received by this endpoint and not yet taken; take resets. */
NC2_API uint32_t nc2_lo_events_take(nc2_transport *t);

/* ---- faults ---------------------------------------------------------- */
/** Fail the \p nth (1-based, counted from now) element of \p op on this
 * endpoint with \p err. Elements are counted individually (a batch of k
 * advances the count by k); the failing element gets status \p err and the
 * call returns \p err, the other elements of the batch still succeed.
 * notify counts calls. 0 disarms. */
NC2_API void nc2_lo_fail_nth(nc2_transport *t, enum nc2_tp_op op, uint64_t nth, int err);
/** Drop the next \p count notifications sent by this endpoint. */
NC2_API void nc2_lo_drop_notify(nc2_transport *t, uint32_t count);
/** Hold notifications sent by this endpoint until nc2_lo_release_notify(). */
NC2_API void nc2_lo_delay_notify(nc2_transport *t, int on);
NC2_API uint32_t nc2_lo_release_notify(nc2_transport *t);

/* ---- inspection (tests, leak checks) --------------------------------- */
NC2_API uint32_t nc2_lo_grants_active(nc2_lo_world *w, uint16_t domid); /* granted by domid */
NC2_API uint32_t nc2_lo_maps_active(nc2_lo_world *w, uint16_t domid);   /* mapped by domid */

#define NC2_LO_GNT_TRANSITIVE (1u << 31) /**< nc2_lo_grant_info flag */

/** One grant entry as the model holds it. */
typedef struct nc2_lo_grant_info {
	uint32_t flags;  /**< NC2_GNT_READONLY, NC2_GNT_STICKY, NC2_LO_GNT_TRANSITIVE */
	uint16_t to;     /**< domain it is granted to */
	uint32_t map_ro; /**< read-only maps in use */
	uint32_t map_rw; /**< read-write maps in use */
} nc2_lo_grant_info;

/** Inspect grant \p gref of \p domid. \return NC2_OK or NC2_ERR_NOT_FOUND. */
NC2_API int nc2_lo_grant_info_get(nc2_lo_world *w, uint16_t domid, uint32_t gref,
				  nc2_lo_grant_info *info);

#ifdef __cplusplus
}
#endif

#endif /* NC2_LOOPBACK_H */
