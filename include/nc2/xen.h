/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/xen.h
 * Xen transport: real grant tables and event channels, from Linux userspace
 * (libxengnttab for gntdev/gntalloc, libxenevtchn), plus a xenstore helper
 * for the connection parameters (libxenstore).
 *
 * One nc2_xen connects this domain to one peer domain (the peer may be the
 * same domain: two dom0 processes with domid 0 as the peer).
 *
 * ## What a Xen userspace can and cannot do, and what this transport does
 *
 * Granting. Linux userspace cannot grant arbitrary memory: gntalloc
 * (xengntshr_share_pages) grants pages it allocates itself, one reference
 * per page, to one domain, fixed at allocation. So grantable memory comes
 * from the transport: nc2_xen_open() shares a region of cfg.grant_pages
 * pages to the peer and nc2_xen_alloc() hands out pages of it. grant() of a
 * page of the region returns that page's reference; a page granted several
 * times at once is one reference, counted (revoked when the count drops to
 * 0; read-only only while every outstanding grant of it is read-only).
 * Pages outside the region are refused (NC2_ERR_INVALID_ARG).
 *
 * Revoke and read-only ("direct" mode, NC2_XEN_CAP_REVOKE/_READONLY). gntalloc
 * keeps a reference granted, writable, until the memory is freed. To give
 * grant()/revoke() their Xen meaning the transport maps this domain's own
 * v1 grant table (GNTTABOP_setup_table for DOMID_SELF through privcmd, then
 * a read-write foreign mapping of those frames, as the kernel itself does)
 * and edits the flags of its region's entries with the protocol of
 * xen/grant_table.h: grant writes GTF_permit_access (| GTF_readonly), revoke
 * clears it with a compare-and-swap that fails while Xen has set
 * GTF_reading/GTF_writing, i.e. while the peer maps the page (revoke returns
 * NC2_ERR_AGAIN, like gnttab_end_foreign_access_ref); end_access() does the
 * same but keeps the reference counted until revoke (a page whose access
 * was ended cannot be granted again before that: NC2_ERR_AGAIN). Xen then
 * refuses the peer's maps and copies of revoked or ended references and
 * writable maps and copies into read-only ones. The entries' domid and frame stay as gntalloc wrote
 * them; the kernel ends them normally when the region is freed.
 * This needs a PV domain with grant table v1, /dev/xen/privcmd and the
 * right to map own frames (dom0 and PV domUs have it; Linux 6.1.x restricts
 * privcmd in a domU to a device model's target domain unless xen-privcmd is
 * loaded with unrestricted=1, which kernel lockdown forbids). Where it is not
 * available (or NC2_XEN_F_NO_DIRECT), the transport falls back to
 * "bookkeeping" mode: grant/revoke only track the region's pages in the
 * transport, every page of the region stays granted writable to the peer
 * until close, revoke never sees the peer's mappings, and read-only is not
 * enforced by Xen. nc2_xen_caps() says which mode is in use, and
 * nc2_xen_last_error() why direct mode was not.
 *
 * Mapping. map() maps each batch with one xengnttab_map_grant_refs() call
 * per access mode (one gntdev map, one hypercall batch); per-op status comes
 * from retrying op by op when the batch fails. Ops of a batch may be
 * unmapped separately (partial munmap; the gntdev slot is released with the
 * last page). Ring pages are mapped with one xengnttab_map_domain_grant_refs()
 * call, so the backend sees them contiguous.
 *
 * Copy. copy() is xengnttab_grant_copy() (gntdev GRANT_COPY): batched, both
 * directions and grant to grant; offsets and lengths are checked first
 * (NC2_ERR_INVALID_ARG), Xen's per-segment status gives the rest
 * (unusable, read-only or revoked grant: NC2_ERR_PEER_GRANT).
 *
 * Events and liveness. Each connection has one interdomain event channel:
 * the frontend allocates an unbound port for the peer, the backend binds it.
 * poll_fd() is the xenevtchn fd; after it polls readable, nc2_xen_ack()
 * consumes and unmasks. Octets 256 and 257 of the ring's control page (after
 * the 256-octet protocol control block) are the frontend's and backend's
 * "alive" bytes: each side sets its own at connect, and the kernel clears
 * it and sends an event when that side's share (gntalloc) or mapping
 * (gntdev) of the page goes away, including when its process dies
 * (unmap-notify); octet 258 tells the frontend that a backend attached.
 * nc2_xen_peer_alive() and notify() then report NC2_ERR_PEER_GONE. A destroyed domain runs no such
 * cleanup: the backend learns of it from xenstore and calls nc2_xen_set_peer_gone().
 *
 * Errors. Failures of the Xen libraries become NC2_ERR_* codes; the errno
 * and the failing call are kept for nc2_xen_last_errno() /
 * nc2_xen_last_error(). Contract violations are NC2_ERR_INVALID_ARG, unusable
 * peer grants NC2_ERR_PEER_GRANT, a bad ring description NC2_ERR_PEER_SETUP,
 * exhausted kernel resources NC2_ERR_NOSPACE, anything else
 * NC2_ERR_TRANSPORT.
 *
 * Kernel limits to know: gntalloc allows 1024 shared pages per domain by
 * default (module parameter `limit`), gntdev 65536 mapped pages.
 *
 * Threading: one nc2_xen is used from one thread at a time.
 */
#ifndef NC2_XEN_H
#define NC2_XEN_H

#include <nc2/ring.h>
#include <nc2/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_XEN_PAGE_SIZE      4096u
/** Largest payload order per ring the connection helpers set up. */
#define NC2_XEN_RING_ORDER_MAX 20u
/** Ring references: the control page, then each ring's payload pages. */
#define NC2_XEN_RING_REFS_MAX  (1u + 2u * (1u << (NC2_XEN_RING_ORDER_MAX - 12u)))
/** Offsets in the control page of the frontend's and backend's alive bytes
 * and of the backend's "attached" byte (set at connect, never cleared). */
#define NC2_XEN_ALIVE_FE       256u
#define NC2_XEN_ALIVE_BE       257u
#define NC2_XEN_ATTACHED_BE    258u

typedef struct nc2_xen nc2_xen;

/** nc2_xen_config.flags */
#define NC2_XEN_F_NO_DIRECT (1u << 0) /**< never edit the own grant table */

typedef struct nc2_xen_config {
	uint32_t struct_size; /**< sizeof(nc2_xen_config) */
	uint32_t peer_domid;  /**< the other end (may be our own domid) */
	uint32_t grant_pages; /**< grantable region shared to the peer (0: none) */
	uint32_t flags;       /**< NC2_XEN_F_* */
} nc2_xen_config;

/** nc2_xen_caps() */
#define NC2_XEN_CAP_REVOKE       (1u << 0) /**< revoke ends access; AGAIN while mapped */
#define NC2_XEN_CAP_READONLY     (1u << 1) /**< read-only grants enforced by Xen */
#define NC2_XEN_CAP_UNMAP_NOTIFY (1u << 2) /**< both alive bytes are kernel-cleared */

/** Defaults: no region, direct mode when available. */
NC2_API void nc2_xen_config_default(nc2_xen_config *cfg, uint32_t peer_domid);

/**
 * Open the Xen devices, share the grantable region, and fill \p t.
 * \return NC2_OK, NC2_ERR_INVALID_ARG, NC2_ERR_VERSION (struct_size),
 *  NC2_ERR_NOSPACE, NC2_ERR_TRANSPORT (a device could not be opened: see
 *  nc2_xen_last_error()). On failure *out is NULL; \p t is untouched.
 */
NC2_API int nc2_xen_open(const nc2_xen_config *cfg, nc2_xen **out, nc2_transport *t);
/** Disconnect (if connected), unmap every mapping still held, free the
 * region (the kernel ends its grants once the peer unmaps) and close. */
NC2_API void nc2_xen_close(nc2_xen *x);

NC2_API uint32_t nc2_xen_caps(const nc2_xen *x);
NC2_API uint32_t nc2_xen_peer_domid(const nc2_xen *x);
/** errno of the last failed Xen library call (0 if none). */
NC2_API int nc2_xen_last_errno(const nc2_xen *x);
/** "call: strerror (errno N)" of the last failure, or "" (never NULL). */
NC2_API const char *nc2_xen_last_error(const nc2_xen *x);
/** The last failure of nc2_xen_open() in this thread (it has no handle). */
NC2_API const char *nc2_xen_open_error(void);

/* ---- grantable memory ---------------------------------------------- */

/** \p pages contiguous pages of the region, zeroed; NULL if none left. */
NC2_API void *nc2_xen_alloc(nc2_xen *x, uint32_t pages);
/** Give pages back to the region (they must not be granted any more). */
NC2_API int nc2_xen_free(nc2_xen *x, void *p, uint32_t pages);

/* ---- connection (ring pair and event channel) ---------------------- */

/** What a frontend publishes and a backend needs (besides the domids). */
typedef struct nc2_xen_conn {
	uint32_t order;   /**< log2 payload octets of each ring, 8..NC2_XEN_RING_ORDER_MAX */
	uint32_t nr_refs; /**< 1 + 2 * max(1, 2^(order-12)) */
	uint32_t evtchn;  /**< the frontend's port, unbound for the backend */
	uint32_t refs[NC2_XEN_RING_REFS_MAX]; /**< [0] control, ring 0's, ring 1's */
} nc2_xen_conn;

/** Pages of one ring's payload area for \p order (0 if out of range). */
NC2_API uint32_t nc2_xen_ring_pages(uint32_t order);

/**
 * Frontend: share the ring pages (zeroed control block, alive byte set,
 * unmap-notify armed) and allocate an unbound event channel port for the
 * peer. Fills \p conn for the backend and \p view for nc2_channel_init().
 * \return NC2_OK, NC2_ERR_INVALID_ARG, NC2_ERR_STATE (already connected),
 *  NC2_ERR_NOSPACE, NC2_ERR_TRANSPORT.
 */
NC2_API int nc2_xen_front_connect(nc2_xen *x, uint32_t order, nc2_xen_conn *conn,
				  nc2_ring_mem *view);
/**
 * Backend: map the frontend's ring pages contiguously in one call, arm
 * unmap-notify, set our alive byte and bind the event channel.
 * \return NC2_OK, NC2_ERR_PEER_SETUP (bad geometry, unusable references
 *  or port), NC2_ERR_STATE, NC2_ERR_NOSPACE, NC2_ERR_TRANSPORT.
 */
NC2_API int nc2_xen_back_connect(nc2_xen *x, const nc2_xen_conn *conn, nc2_ring_mem *view);
/** Undo *_connect: clear our alive byte, notify, unmap or unshare the ring,
 * unbind the port. Maps and grants made through the ops are not touched. */
NC2_API int nc2_xen_disconnect(nc2_xen *x);

/* ---- events and liveness ------------------------------------------- */

/** The event channel fd (poll for POLLIN), or a negative NC2_ERR_*. */
NC2_API int nc2_xen_fd(nc2_xen *x);
/** Consume pending events and unmask. \return events taken (>= 0) or error. */
NC2_API int nc2_xen_ack(nc2_xen *x);
/** Poll the fd up to \p timeout_ms (-1: forever) and ack.
 * \return events taken (> 0), 0 on timeout, or an error. */
NC2_API int nc2_xen_wait(nc2_xen *x, int timeout_ms);
/** NC2_OK while the peer is (as far as we know) there, NC2_ERR_PEER_GONE
 * once its alive byte went from set to clear or nc2_xen_set_peer_gone(). */
NC2_API int nc2_xen_peer_alive(nc2_xen *x);
/** The embedder learnt elsewhere (xenstore) that the peer is gone. */
NC2_API void nc2_xen_set_peer_gone(nc2_xen *x);

typedef struct nc2_xen_stats {
	uint32_t region_pages;  /**< grantable pages shared to the peer */
	uint32_t region_used;   /**< pages handed out by nc2_xen_alloc */
	uint32_t grants_active; /**< region pages currently granted */
	uint32_t maps_active;   /**< peer pages mapped through map() */
	uint32_t ring_mapped;   /**< ring pages mapped (backend) or shared (frontend) */
	uint64_t grants, revokes, revoke_busy, ended;
	uint64_t map_pages, unmap_pages; /**< one gntdev mapping per page */
	uint64_t copy_calls, copy_segs, copy_failed;
	uint64_t notifies, events;
} nc2_xen_stats;

NC2_API void nc2_xen_get_stats(const nc2_xen *x, nc2_xen_stats *s);

/* ---- xenstore helper (vif2-style device directories) ---------------- */

/** xenbus states, as in xen/io/xenbus.h. */
enum nc2_xenbus_state {
	NC2_XB_UNKNOWN = 0,
	NC2_XB_INITIALISING = 1,
	NC2_XB_INITWAIT = 2,
	NC2_XB_INITIALISED = 3,
	NC2_XB_CONNECTED = 4,
	NC2_XB_CLOSING = 5,
	NC2_XB_CLOSED = 6
};

typedef struct nc2_xen_xs nc2_xen_xs;

#define NC2_XEN_XS_PATH_MAX 128u

/** One device: both directories and both ends. */
typedef struct nc2_xen_xs_dev {
	uint32_t fe_domid, be_domid, handle;
	char fe_path[NC2_XEN_XS_PATH_MAX]; /**< /local/domain/<fe>/device/vif2/<handle> */
	char be_path[NC2_XEN_XS_PATH_MAX]; /**< /local/domain/<be>/backend/vif2/<fe>/<handle> */
} nc2_xen_xs_dev;

/** Connect to xenstored (dom0) or /dev/xen/xenbus (domU). */
NC2_API int nc2_xen_xs_open(nc2_xen_xs **out);
NC2_API void nc2_xen_xs_close(nc2_xen_xs *xs);
/** Pollable fd: readable when a watch fired. */
NC2_API int nc2_xen_xs_fd(nc2_xen_xs *xs);
/** This domain's id (the "domid" key of its home directory). */
NC2_API int nc2_xen_xs_domid(nc2_xen_xs *xs, uint32_t *domid);
NC2_API const char *nc2_xen_xs_last_error(const nc2_xen_xs *xs);

/** Fill both paths of a device from the ids. */
NC2_API void nc2_xen_xs_dev_init(nc2_xen_xs_dev *dev, uint32_t fe_domid, uint32_t be_domid,
				 uint32_t handle);

/**
 * Toolstack part (what libxl does for a vif): create both directories in
 * state Initialising with cross-references and permissions (each end owns
 * its directory, the other may read it). Userspace stand-in for a vif2
 * device type in xl; run it after `xl create -p`, before unpause.
 */
NC2_API int nc2_xen_xs_device_add(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev);
/** Remove both directories (after Closed, or for a domain that is gone). */
NC2_API int nc2_xen_xs_device_remove(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev);

/** Read the state key of \p dir. \return NC2_OK, NC2_ERR_PEER_GONE when the
 * directory is gone, NC2_ERR_PEER_SETUP for a malformed value. */
NC2_API int nc2_xen_xs_state(nc2_xen_xs *xs, const char *dir, enum nc2_xenbus_state *st);
NC2_API int nc2_xen_xs_set_state(nc2_xen_xs *xs, const char *dir, enum nc2_xenbus_state st);
/** Read or write an unsigned integer key of \p dir (ENOENT: NC2_ERR_NOT_FOUND). */
NC2_API int nc2_xen_xs_read_u32(nc2_xen_xs *xs, const char *dir, const char *key, uint32_t *val);
NC2_API int nc2_xen_xs_write_u32(nc2_xen_xs *xs, const char *dir, const char *key, uint32_t val);

/** Frontend: find device \p handle in our home directory (backend-id). */
NC2_API int nc2_xen_xs_front_find(nc2_xen_xs *xs, uint32_t handle, nc2_xen_xs_dev *dev);
/** Frontend: publish ring-order, ring-ref-N, event-channel and state
 * Initialised in one transaction. */
NC2_API int nc2_xen_xs_front_publish(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev,
				     const nc2_xen_conn *conn);
/** Backend: read and check what the frontend published.
 * \return NC2_OK, NC2_ERR_PEER_SETUP (missing or malformed keys). */
NC2_API int nc2_xen_xs_back_read(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev, nc2_xen_conn *conn);

/** Watch \p path (token is the path itself). */
NC2_API int nc2_xen_xs_watch(nc2_xen_xs *xs, const char *path);
NC2_API int nc2_xen_xs_unwatch(nc2_xen_xs *xs, const char *path);
/** Take one fired watch without blocking: copies the path that changed.
 * \return 1 (one taken), 0 (none pending), or an error. */
NC2_API int nc2_xen_xs_next_event(nc2_xen_xs *xs, char *path, size_t cap);
/** Backend: device directories under /local/domain/<self>/backend/vif2, as
 * (frontend domid, handle) pairs. \return how many (may exceed \p cap). */
NC2_API int nc2_xen_xs_back_list(nc2_xen_xs *xs, uint32_t be_domid, uint32_t *fe_domids,
				 uint32_t *handles, uint32_t cap);
/** Whether domain \p domid still exists (introduced to xenstore). */
NC2_API int nc2_xen_xs_domain_exists(nc2_xen_xs *xs, uint32_t domid);

#ifdef __cplusplus
}
#endif

#endif /* NC2_XEN_H */
