/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/shm.h
 * Shared-memory transport (Linux): two processes on one host talk
 * NetChannel2 with Xen-like grant semantics over memfd regions.
 *
 * Rendezvous. A channel is named by a UUID. The backend listens on the path
 * socket <run_dir>/<uuid>.sock (SOCK_SEQPACKET; a path, not an abstract
 * name, so the two sides may live in different network namespaces); the
 * frontend connects to it. run_dir defaults to NC2_SHM_RUN_DIR and is
 * created 0700 when missing. Both sides check the peer's credentials
 * (SO_PEERCRED) against a policy: by default the peer's uid must equal our
 * effective uid.
 *
 * Memory. Each side owns one memfd region, sealed F_SEAL_SHRINK |
 * F_SEAL_GROW | F_SEAL_SEAL before it is handed over:
 *
 *   page 0                     header (NC2_SHM_HDR_*), written once
 *   pages 1 .. T               grant table: NC2_SHM_GNT_SIZE-octet entries,
 *                              entry g at octet g * NC2_SHM_GNT_SIZE of the
 *                              table (entry 0 unused: refs are never 0),
 *                              T = NC2_SHM_GT_PAGES(grant_entries)
 *   (frontend only) ring pair  1 control page (NC2_RING_CTRL_SIZE used) and
 *                              NC2_SHM_RING_AREA_PAGES(order) pages for each
 *                              of the two payload areas
 *   grant_pages pages          grantable memory (nc2_shm_grant_mem())
 *
 * The layout is canonical: given the owner's role, grant_entries,
 * ring_order and grant_pages every offset is determined, and a receiver
 * refuses a region whose declared offsets differ, whose memfd is smaller
 * than declared or lacks F_SEAL_SHRINK|F_SEAL_GROW (so it can never shrink
 * under us and SIGBUS us), or which exceeds its max_peer_pages.
 *
 * Each side maps its own region read-write and the peer's region twice:
 * read-write (for RW grants and the grant table counters) and read-only
 * (what a read-only map returns, so a stray write through an RO mapping
 * faults as under Xen). Grant references index the owner's grant table;
 * map and copy read one entry at a time into private memory, validate it
 * (in use, granted to us, flags known, page < grant_pages, write access only
 * through RW grants) and then take an in-use count on it with one 64-bit
 * compare-and-swap over {flags, gen, map_ro, map_rw}, so a map never races
 * with a revoke. The owner's revoke swaps the entry to free only while both
 * counters are zero and otherwise fails with NC2_ERR_AGAIN; a grant copy
 * holds a count for the duration of the copy, as Xen does. The owner keeps
 * its own private copy of every entry and never trusts its shared table
 * except for the counters. Error codes are those of the loopback model:
 * unusable grant -> NC2_ERR_PEER_GRANT, copy outside the page ->
 * NC2_ERR_INVALID_ARG, revoke while mapped -> NC2_ERR_AGAIN, unknown ref ->
 * NC2_ERR_NOT_FOUND, bad map handle -> NC2_ERR_INVALID_ARG. The optional
 * end_access op ends the peer's access (NC2_ERR_AGAIN while mapped) and
 * keeps the reference allocated until revoke.
 *
 * LIMIT (no hypervisor): the peer holds the memfd of our whole region, so it
 * can read and write any page of it, granted or not, and can scribble over
 * our grant table and ring. The grant table gives Xen's semantics to a
 * cooperating peer and catches bugs (ours and its); it is not isolation.
 * What is guaranteed: only the region is ever shared (a peer never sees any
 * other memory of ours), every value read from the peer's memory is
 * validated before use, and a lying peer cannot crash or hang us — it gets a
 * clear error and a failed channel. Put nothing in the region that the peer
 * must not see.
 *
 * Notifications. Each side creates an eventfd (non-blocking) for its own
 * wakeups and sends it to the peer: notify writes 1 to the peer's eventfd,
 * poll_fd is our own eventfd, nc2_shm_ack_events() drains it. After the
 * handshake the control socket stays open only to detect the peer's death
 * (POLLHUP / POLLRDHUP; see nc2_shm_ctrl_fd()). Once the peer is known dead,
 * map, copy and notify return NC2_ERR_PEER_GONE, unmap still succeeds, and
 * revoke ignores the dead peer's in-use counts so the survivor can release
 * everything.
 *
 * Handshake. Fixed-size NC2_SHM_MSG_SIZE-octet messages, explicit
 * little-endian fields at the NC2_SHM_MSG_* offsets:
 *
 *   frontend -> backend  CONNECT {uuid, features, ring_order, geometry}
 *                        + fds [memfd, eventfd]
 *   backend -> frontend  ACCEPT  {uuid, features, ring_order (echo),
 *                                 geometry} + fds [memfd, eventfd]
 *   frontend -> backend  READY   {uuid}, no fds
 *
 * Each receiver validates everything before it maps anything; any deviation
 * closes every received fd, answers nothing further and fails with:
 * NC2_ERR_PEER_PROTO (wrong size, magic, type or order, a repeated message,
 * data after READY), NC2_ERR_PEER_VERSION (version), NC2_ERR_PEER_RESERVED
 * (reserved field not zero), NC2_ERR_PEER_SETUP (uuid, geometry, ring order,
 * fd count or type, MSG_CTRUNC, memfd size or seals, credentials refused by
 * the policy), NC2_ERR_PEER_GONE (EOF, reset, or no message within
 * handshake_timeout_ms). Every wait is bounded. Each side keeps its own
 * validated copy of both geometries and never re-reads them from shared
 * memory. A listener keeps listening after any failed or finished peer.
 *
 * Threading: one connection or listener is used by one thread at a time.
 * System call failures return NC2_ERR_TRANSPORT with errno preserved.
 */
#ifndef NC2_SHM_H
#define NC2_SHM_H

#include <nc2/channel.h>
#include <nc2/ring.h>
#include <nc2/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_SHM_RUN_DIR   "/run/nc2"
#define NC2_SHM_PAGE_SIZE 4096u
#define NC2_SHM_VERSION   1u /* handshake and region layout version */

/* ---- limits ---------------------------------------------------------- */
#define NC2_SHM_MAX_GRANT_ENTRIES (1u << 20)
#define NC2_SHM_MAX_PAGES         (1u << 20) /* 4 GiB region */
#define NC2_SHM_DEFAULT_TIMEOUT   5000u      /* handshake, milliseconds */

/* ---- region layout ------------------------------------------------------ */
/** Pages of a grant table with \p entries entries (refs 1..entries). */
#define NC2_SHM_GT_PAGES(entries)                                                              \
	((uint32_t)((((uint64_t)(entries) + 1u) * NC2_SHM_GNT_SIZE + NC2_SHM_PAGE_SIZE - 1u) / \
		    NC2_SHM_PAGE_SIZE))
/** Pages of one ring payload area of 2^order octets (at least one page). */
#define NC2_SHM_RING_AREA_PAGES(order) ((order) <= 12u ? 1u : 1u << ((order)-12u))

/* Header page: little-endian u32 fields. */
#define NC2_SHM_HDR_MAGIC         0x5232434eu /* "NC2R" */
#define NC2_SHM_HDR_OFF_MAGIC     0
#define NC2_SHM_HDR_OFF_VERSION   4
#define NC2_SHM_HDR_OFF_ROLE      8 /* NC2_ROLE_* of the owner */
#define NC2_SHM_HDR_OFF_PAGES     12
#define NC2_SHM_HDR_OFF_ENTRIES   16
#define NC2_SHM_HDR_OFF_ORDER     20 /* 0 in a backend region */
#define NC2_SHM_HDR_OFF_RING_PAGE 24 /* 0 in a backend region */
#define NC2_SHM_HDR_OFF_GNT_PAGE  28
#define NC2_SHM_HDR_OFF_GNT_PAGES 32

/* Grant table entry (16 octets). Octets 0..7 form one 64-bit word that is
 * only ever updated by compare-and-swap; the fields inside it are
 * little-endian. */
#define NC2_SHM_GNT_SIZE       16u
#define NC2_SHM_GNT_OFF_FLAGS  0  /* u16 NC2_SHM_GTF_* (owner) */
#define NC2_SHM_GNT_OFF_GEN    2  /* u16 generation, bumped per grant (owner) */
#define NC2_SHM_GNT_OFF_MAP_RO 4  /* u16 read-only maps/copies in use (mapper) */
#define NC2_SHM_GNT_OFF_MAP_RW 6  /* u16 read-write maps/copies in use (mapper) */
#define NC2_SHM_GNT_OFF_PAGE   8  /* u32 index into the grantable pages */
#define NC2_SHM_GNT_OFF_TO     12 /* u16 NC2_ROLE_* the entry is granted to */
#define NC2_SHM_GNT_OFF_RSVD   14 /* u16 zero */
#define NC2_SHM_GTF_INUSE      (1u << 0)
#define NC2_SHM_GTF_READONLY   (1u << 1)
#define NC2_SHM_GTF_STICKY     (1u << 2)
#define NC2_SHM_GTF_KNOWN      0x7u

/* ---- handshake messages ----------------------------------------------- */
#define NC2_SHM_MSG_SIZE          64u
#define NC2_SHM_MSG_MAGIC         0x5332434eu /* "NC2S" */
#define NC2_SHM_MSG_CONNECT       1u
#define NC2_SHM_MSG_ACCEPT        2u
#define NC2_SHM_MSG_READY         3u
#define NC2_SHM_MSG_OFF_MAGIC     0  /* u32 */
#define NC2_SHM_MSG_OFF_VERSION   4  /* u16 NC2_SHM_VERSION */
#define NC2_SHM_MSG_OFF_TYPE      6  /* u16 NC2_SHM_MSG_CONNECT/ACCEPT/READY */
#define NC2_SHM_MSG_OFF_UUID      8  /* 16 octets */
#define NC2_SHM_MSG_OFF_FEATURES  24 /* u32 sender's feature bitmap */
#define NC2_SHM_MSG_OFF_ORDER     28 /* u32 ring order (ACCEPT: echo) */
#define NC2_SHM_MSG_OFF_PAGES     32 /* u32 sender's region pages */
#define NC2_SHM_MSG_OFF_ENTRIES   36 /* u32 sender's grant entries */
#define NC2_SHM_MSG_OFF_GT_PAGE   40 /* u32 first grant table page (1) */
#define NC2_SHM_MSG_OFF_RING_PAGE 44 /* u32 ring control page (0 in ACCEPT) */
#define NC2_SHM_MSG_OFF_GNT_PAGE  48 /* u32 first grantable page */
#define NC2_SHM_MSG_OFF_GNT_PAGES 52 /* u32 grantable pages */
#define NC2_SHM_MSG_OFF_PAGE_SIZE 56 /* u32 NC2_SHM_PAGE_SIZE */
#define NC2_SHM_MSG_OFF_RSVD      60 /* u32 zero */
/* READY carries magic, version, type and uuid; every other octet is zero. */

/* ---- configuration ---------------------------------------------------- */
/* nc2_shm_config.flags: credentials policy (default: peer uid == our euid). */
#define NC2_SHM_ANY_UID   (1u << 0) /**< accept a peer of any uid */
#define NC2_SHM_MATCH_UID (1u << 1) /**< the peer's uid must equal peer_uid */

typedef struct nc2_shm_config {
	uint32_t struct_size;          /**< sizeof(nc2_shm_config) */
	uint32_t role;                 /**< NC2_ROLE_FRONTEND (connects) or _BACKEND (listens) */
	uint8_t uuid[16];              /**< channel name; the nil UUID is refused */
	const char *run_dir;           /**< NULL: NC2_SHM_RUN_DIR */
	uint32_t ring_order;           /**< frontend: ring order NC2_RING_ORDER_MIN..MAX;
					  backend: 0 = accept any, else the order required */
	uint32_t grant_pages;          /**< grantable pages in our region, >= 1 */
	uint32_t grant_entries;        /**< our grant table entries, 1..NC2_SHM_MAX_GRANT_ENTRIES */
	uint32_t features;             /**< bitmap sent to the peer (e.g. NC2_FEATURE_*) */
	uint32_t flags;                /**< NC2_SHM_ANY_UID, NC2_SHM_MATCH_UID */
	uint32_t peer_uid;             /**< with NC2_SHM_MATCH_UID */
	uint32_t handshake_timeout_ms; /**< 0: NC2_SHM_DEFAULT_TIMEOUT */
	uint32_t max_peer_pages;       /**< largest peer region we map; 0: NC2_SHM_MAX_PAGES */
} nc2_shm_config;

/** Defaults for \p role: run_dir NULL, ring order 15 (frontend) or 0
 * (backend), 1024 (frontend) or 16 (backend) grantable pages, 4096 or 256
 * grant entries, features NC2_FEATURE_ALL, same-uid policy. uuid is zero:
 * set it. */
NC2_API void nc2_shm_config_default(nc2_shm_config *cfg, uint32_t role);

/** Credentials policy of \p cfg applied to a peer of uid \p peer_uid (our
 * euid is the reference by default). \return NC2_OK or NC2_ERR_PEER_SETUP. */
NC2_API int nc2_shm_cred_check(const nc2_shm_config *cfg, uint32_t peer_uid);

/** UUID text (36 characters, any case) to octets. \return NC2_OK or
 * NC2_ERR_INVALID_ARG. */
NC2_API int nc2_shm_uuid_parse(const char *text, uint8_t uuid[16]);
/** Octets to lower-case UUID text; \p text holds 37 octets. */
NC2_API void nc2_shm_uuid_unparse(const uint8_t uuid[16], char text[37]);

/** The socket path of \p cfg: <run_dir>/<uuid>.sock. \return NC2_OK or
 * NC2_ERR_INVALID_ARG (does not fit \p cap or a sockaddr_un). */
NC2_API int nc2_shm_socket_path(const nc2_shm_config *cfg, char *buf, size_t cap);

/* ---- rendezvous ------------------------------------------------------- */
typedef struct nc2_shm_listener nc2_shm_listener;
typedef struct nc2_shm nc2_shm; /**< one connected endpoint */

/**
 * Backend: create run_dir if missing and listen on <run_dir>/<uuid>.sock.
 * A stale socket file (nobody accepts on it) is replaced; a live one is not.
 * Liveness is probed by connecting (the only test that works across network
 * namespaces): a live listener sees the probe as a peer that hangs up at
 * once (NC2_ERR_PEER_GONE from its accept).
 * \return NC2_OK, NC2_ERR_INVALID_ARG (config), NC2_ERR_VERSION
 *  (struct_size), NC2_ERR_STATE (a listener is alive on that path, or the
 *  path is not a socket), NC2_ERR_NOSPACE, NC2_ERR_TRANSPORT.
 */
NC2_API int nc2_shm_listen(const nc2_shm_config *cfg, nc2_shm_listener **out);

/**
 * Backend: wait up to \p timeout_ms for a frontend (0: poll once, < 0:
 * forever), then run the handshake (bounded by handshake_timeout_ms).
 * \return NC2_OK and a connection, NC2_ERR_AGAIN (no peer yet), a peer
 *  error (see the file comment; the listener stays usable), NC2_ERR_NOSPACE
 *  or NC2_ERR_TRANSPORT.
 */
NC2_API int nc2_shm_accept(nc2_shm_listener *l, int timeout_ms, nc2_shm **out);

/** Close the listening socket and remove its socket file (if still ours).
 * Connections already accepted are not affected. */
NC2_API void nc2_shm_listener_close(nc2_shm_listener *l);

/**
 * Frontend: connect to <run_dir>/<uuid>.sock, retrying for up to
 * \p timeout_ms while no backend listens (0: try once), then run the
 * handshake (bounded by handshake_timeout_ms).
 * \return NC2_OK and a connection, NC2_ERR_AGAIN (no backend listening),
 *  NC2_ERR_INVALID_ARG, NC2_ERR_VERSION, a peer error, NC2_ERR_NOSPACE,
 *  NC2_ERR_TRANSPORT.
 */
NC2_API int nc2_shm_connect(const nc2_shm_config *cfg, int timeout_ms, nc2_shm **out);

/** Release everything: our maps of the peer's grants, mappings, fds.
 * Safe after the peer died (its sealed memfd keeps our mappings valid). */
NC2_API void nc2_shm_close(nc2_shm *s);

/* ---- a connection ----------------------------------------------------- */
/** The transport for nc2_channel_init(); valid until nc2_shm_close(). */
NC2_API nc2_transport *nc2_shm_transport(nc2_shm *s);
/** This side's view of the ring pair (in the frontend's region; the
 * frontend zeroed the control block before handing it over). */
NC2_API const nc2_ring_mem *nc2_shm_rings(const nc2_shm *s);
/** Our grantable pages (page-aligned): carve the channel's grant_mem and
 * the frontend's TX packet memory from here. */
NC2_API uint8_t *nc2_shm_grant_mem(nc2_shm *s, size_t *len);
NC2_API uint32_t nc2_shm_peer_features(const nc2_shm *s);
/** Our eventfd (the transport's poll_fd): readable when the peer notified. */
NC2_API int nc2_shm_event_fd(const nc2_shm *s);
/** Drain our eventfd. \return notifications counted (0 if none) or
 * NC2_ERR_TRANSPORT. */
NC2_API int nc2_shm_ack_events(nc2_shm *s);
/** The control socket, to watch for POLLRDHUP/POLLHUP (peer death) in an
 * event loop; then call nc2_shm_peer_alive(). Never read or write it. */
NC2_API int nc2_shm_ctrl_fd(const nc2_shm *s);
/**
 * Check without blocking whether the peer is still there.
 * \return NC2_OK, NC2_ERR_PEER_GONE (hung up or died) or NC2_ERR_PEER_PROTO
 *  (sent something after the handshake). Both are sticky.
 */
NC2_API int nc2_shm_peer_alive(nc2_shm *s);

/* ---- inspection (tests, leak checks) --------------------------------- */
NC2_API uint32_t nc2_shm_grants_active(const nc2_shm *s); /**< our grants in use */
NC2_API uint32_t nc2_shm_maps_active(const nc2_shm *s);   /**< peer grants we map */

typedef struct nc2_shm_grant_info {
	uint32_t flags;  /**< NC2_GNT_READONLY, NC2_GNT_STICKY */
	uint32_t page;   /**< index into our grantable pages */
	uint32_t map_ro; /**< in-use counts, as the peer maintains them */
	uint32_t map_rw;
	uint32_t ended; /**< 1 after end_access: the peer can no longer use it */
} nc2_shm_grant_info;

/** Inspect our grant \p gref. \return NC2_OK or NC2_ERR_NOT_FOUND. */
NC2_API int nc2_shm_grant_info_get(const nc2_shm *s, uint32_t gref, nc2_shm_grant_info *info);

#ifdef __cplusplus
}
#endif

#endif /* NC2_SHM_H */
