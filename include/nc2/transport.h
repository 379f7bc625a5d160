/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/transport.h
 * The transport ABI: how the core reaches shared memory and events.
 *
 * A transport connects one local endpoint to one peer and offers Xen grant
 * table semantics: grant local pages to the peer (optionally read-only or
 * sticky) and revoke them; map and unmap the peer's grants (batched); grant
 * copy between local memory and peer grants (batched, either direction, or
 * grant to grant); notify the peer; a pollable fd for the embedder's loop;
 * the peer's identity. Ring memory setup and rendezvous are the transport's
 * own business and are not part of this vtable.
 *
 * Versioning: ops->version is NC2_TRANSPORT_OPS_VERSION of the transport's
 * build and ops->size its sizeof(nc2_transport_ops). Methods are only ever
 * appended; the core never calls a method beyond ops->size. Optional methods
 * may be NULL: copy (the core falls back to map + memcpy + unmap), poll_fd,
 * peer.
 *
 * Every call from the core goes through the nc2_tp_* wrappers below, where
 * a test may install a fault hook.
 */
#ifndef NC2_TRANSPORT_H
#define NC2_TRANSPORT_H

#include <nc2/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_GNT_READONLY    (1u << 0) /**< peer may only read the page */
#define NC2_GNT_STICKY      (1u << 1) /**< peer may keep the page mapped */
#define NC2_GNT_FLAGS_KNOWN 0x3u

/** One map or unmap request; batched in arrays. */
typedef struct nc2_map_op {
	uint32_t gref;   /**< in: peer grant reference */
	uint32_t flags;  /**< in: NC2_GNT_READONLY for a read-only mapping */
	void *addr;      /**< out (map) / in (unmap): page address */
	uint64_t handle; /**< out (map) / in (unmap): transport's handle */
	int status;      /**< out: NC2_OK or a negative NC2_ERR_* */
} nc2_map_op;

/** One end of a grant copy: local memory, or (local == NULL) a peer grant. */
typedef struct nc2_copy_end {
	void *local;
	uint32_t gref;
	uint16_t offset; /**< within the granted page */
} nc2_copy_end;

/** One grant copy segment; never crosses a page on the grant side. */
typedef struct nc2_copy_op {
	nc2_copy_end src;
	nc2_copy_end dst;
	uint16_t len;
	int status; /**< out: NC2_OK or a negative NC2_ERR_* */
} nc2_copy_op;

typedef struct nc2_peer_id {
	uint32_t domid;   /**< Xen domain id, or pid/uid-derived id elsewhere */
	uint8_t uuid[16]; /**< channel UUID when the transport has one */
} nc2_peer_id;

typedef struct nc2_transport_ops {
	uint32_t version; /**< NC2_TRANSPORT_OPS_VERSION */
	uint32_t size;    /**< sizeof(nc2_transport_ops) in the transport's build */
	/* Grant the page at \p page (page-aligned, in grantable memory). */
	int (*grant)(void *ctx, void *page, uint32_t flags, uint32_t *gref);
	/* Revoke a grant; NC2_ERR_AGAIN while the peer still has it mapped. */
	int (*revoke)(void *ctx, uint32_t gref);
	/* Batched map/unmap: per-op status; returns NC2_OK only if all succeeded. */
	int (*map)(void *ctx, nc2_map_op *ops, uint32_t n);
	int (*unmap)(void *ctx, nc2_map_op *ops, uint32_t n);
	/* Optional batched grant copy; same status convention. */
	int (*copy)(void *ctx, nc2_copy_op *ops, uint32_t n);
	int (*notify)(void *ctx);
	int (*poll_fd)(void *ctx);               /**< optional: fd readable on peer events */
	int (*peer)(void *ctx, nc2_peer_id *id); /**< optional */
	/* Optional: end the peer's access to a grant but keep the reference
	 * allocated until revoke, so it cannot be handed out again while a
	 * message naming it may still be read (Xen: end_foreign_access_ref
	 * before free_grant_reference). NC2_ERR_AGAIN while mapped. */
	int (*end_access)(void *ctx, uint32_t gref);
} nc2_transport_ops;

enum nc2_tp_op {
	NC2_TP_GRANT,
	NC2_TP_REVOKE,
	NC2_TP_MAP,
	NC2_TP_UNMAP,
	NC2_TP_COPY,
	NC2_TP_NOTIFY,
	NC2_TP_END_ACCESS,
	NC2_TP_NR_OPS
};

/** Test hook: called before every op; a negative return fails the op. */
typedef int (*nc2_fault_fn)(void *user, enum nc2_tp_op op);

/** A transport instance as the core sees it. The transport fills ops/ctx. */
typedef struct nc2_transport {
	const nc2_transport_ops *ops;
	void *ctx;
	nc2_fault_fn fault; /**< NULL in production */
	void *fault_user;
	uint64_t calls[NC2_TP_NR_OPS]; /**< per-op call counts (for stats) */
} nc2_transport;

/** Check that \p t carries a usable ops table (version, size, required ops). */
NC2_API int nc2_transport_check(const nc2_transport *t);

NC2_API int nc2_tp_grant(nc2_transport *t, void *page, uint32_t flags, uint32_t *gref);
NC2_API int nc2_tp_revoke(nc2_transport *t, uint32_t gref);
NC2_API int nc2_tp_map(nc2_transport *t, nc2_map_op *ops, uint32_t n);
NC2_API int nc2_tp_unmap(nc2_transport *t, nc2_map_op *ops, uint32_t n);
/** Grant copy; falls back to map + memcpy + unmap without a copy op (then
 * grant-to-grant copies are NC2_ERR_UNSUPPORTED). */
NC2_API int nc2_tp_copy(nc2_transport *t, nc2_copy_op *ops, uint32_t n);
NC2_API int nc2_tp_notify(nc2_transport *t);
/** Pollable fd, or NC2_ERR_UNSUPPORTED. */
NC2_API int nc2_tp_poll_fd(nc2_transport *t);
NC2_API int nc2_tp_peer(nc2_transport *t, nc2_peer_id *id);
/** End access, keep the reference (see end_access); NC2_ERR_UNSUPPORTED
 * without the op. */
NC2_API int nc2_tp_end_access(nc2_transport *t, uint32_t gref);
/** Non-zero when the transport implements end_access. */
NC2_API int nc2_tp_has_end_access(const nc2_transport *t);

#ifdef __cplusplus
}
#endif

#endif /* NC2_TRANSPORT_H */
