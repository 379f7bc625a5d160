/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/ring.h
 * The NetChannel2 byte ring: one direction of a ring pair.
 *
 * Shared layout (docs/PROTOCOL.md, "Ring pair"): a 256-octet control block
 * holding two 128-octet ring controls (ring 0: frontend -> backend, ring 1:
 * backend -> frontend), and one power-of-two payload area per ring.
 *
 *   ring control (128 octets), little-endian u32 fields:
 *      0        4           8 ...   64       68           72          76 ... 128
 *   +--------+------------+-----+--------+------------+-----------+-----+
 *   |  prod  | cons_event |  0  |  cons  | prod_event | wake_lazy |  0  |
 *   +--------+------------+-----+--------+------------+-----------+-----+
 *    producer's cache line        consumer's cache line
 *
 * The producer side (nc2_ring_prod) reserves space, writes messages in
 * place (inserting PAD at the wrap), commits them privately and publishes
 * them in a batch with nc2_ring_push(). The consumer side (nc2_ring_cons)
 * copies each message once into private memory, validating the indices and
 * the header, and publishes consumption in a batch with nc2_ring_finish().
 * Both report whether the peer needs a notification; neither notifies.
 * Geometry is a private copy fixed at init and never re-read.
 *
 * Threading: one producer context per nc2_ring_prod and one consumer
 * context per nc2_ring_cons; the two may run concurrently.
 */
#ifndef NC2_RING_H
#define NC2_RING_H

#include <nc2/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_RING_CTRL_SIZE      256u /* both ring controls */
#define NC2_RING_CTRL_STRIDE    128u
#define NC2_RING_OFF_PROD       0
#define NC2_RING_OFF_CONS_EVENT 4
#define NC2_RING_OFF_CONS       64
#define NC2_RING_OFF_PROD_EVENT 68
#define NC2_RING_OFF_WAKE_LAZY  72
#define NC2_RING_ORDER_MIN      8u
#define NC2_RING_ORDER_MAX      24u

/** Shared ring memory as seen by one endpoint (set up by the transport). */
typedef struct nc2_ring_mem {
	uint8_t *ctrl;       /**< NC2_RING_CTRL_SIZE octets */
	uint8_t *payload[2]; /**< [0]: ring 0 (fe->be), [1]: ring 1 (be->fe) */
	uint32_t order[2];   /**< log2 of each payload area */
} nc2_ring_mem;

typedef struct nc2_ring_prod {
	uint8_t *ctrl;     /**< this ring's 128-octet control (shared) */
	uint8_t *payload;  /**< payload area (shared) */
	uint32_t size;     /**< private copy of the geometry */
	uint32_t max_msg;  /**< min(65528, size / 2) */
	uint32_t prod_pvt; /**< end of committed, unpublished messages */
	uint32_t prod_pub; /**< last published producer index */
	uint32_t cons;     /**< last validated consumer index */
	uint32_t reserved; /**< octets reserved, not yet committed (0 or msg) */
	uint32_t ev_base;  /**< prod_pub at the last event test */
	uint32_t eager;    /**< an eager message was committed since that test */
	uint32_t pf;       /**< ring lines asked for up to here (as prod_pvt) */
	int err;           /**< sticky peer error (0 while healthy) */
} nc2_ring_prod;

typedef struct nc2_ring_cons {
	uint8_t *ctrl;
	const uint8_t *payload;
	uint32_t size;
	uint32_t max_msg;
	uint32_t cons_pvt;  /**< next message to read */
	uint32_t cons_pub;  /**< last published consumer index */
	uint32_t prod;      /**< last validated producer index */
	uint32_t wake_lazy; /**< our last published wake_lazy */
	int err;            /**< sticky peer error (0 while healthy) */
} nc2_ring_cons;

/** Zero both ring controls of a ring pair (done by the memory provider). */
NC2_API void nc2_ring_ctrl_init(uint8_t *ctrl_block);

/**
 * Attach to one direction. \p ctrl is the 128-octet ring control (ctrl_block
 * + 128 * ring), \p payload the ring's area of 2^order octets.
 * Indices start from the values currently in the control (normally 0).
 * \return NC2_OK, NC2_ERR_INVALID_ARG (order out of range, NULL, unaligned),
 *  NC2_ERR_PEER_RING_INDEX (initial indices inconsistent).
 */
NC2_API int nc2_ring_prod_init(nc2_ring_prod *r, uint8_t *ctrl, uint8_t *payload, uint32_t order);
NC2_API int nc2_ring_cons_init(nc2_ring_cons *r, uint8_t *ctrl, const uint8_t *payload,
			       uint32_t order);

/**
 * Reserve \p size octets (multiple of 8, 8..max_msg) for one message and
 * return where to write it. Inserts a PAD first if the message would wrap.
 * At most one reservation is open at a time.
 * \return NC2_OK, NC2_ERR_AGAIN (not enough space; cons_event is armed so
 *  the consumer will notify when it frees some), NC2_ERR_INVALID_ARG,
 *  NC2_ERR_PEER_RING_INDEX (the peer's cons index is impossible).
 */
NC2_API int nc2_ring_reserve(nc2_ring_prod *r, uint32_t size, uint8_t **slot);

/** Commit the open reservation (the message is written). Not yet visible. */
NC2_API void nc2_ring_commit(nc2_ring_prod *r);

/**
 * Commit the open reservation as a lazy message (PROTOCOL.md 2.7): one the
 * consumer need not be woken for unless it set wake_lazy. Publishing only
 * lazy messages tests the event index when wake_lazy is set or when more
 * than half a ring was published since the last test; otherwise the test
 * is postponed to the next push that needs one, which covers the skipped
 * range, so no wake-up is lost.
 */
NC2_API void nc2_ring_commit_lazy(nc2_ring_prod *r);

/**
 * Grow the last committed message, at \p msg and \p size octets long, by
 * \p more (a multiple of 8) octets that directly follow it, so a sender can
 * append to a message until it is published (batching). Only while it is
 * unpublished, nothing was reserved after it, and the octets are free and
 * before the end of the ring; the caller then writes them and fixes the
 * message's header.
 * \return NC2_OK, NC2_ERR_AGAIN (not possible: start a new message), or the
 *  ring's sticky peer error.
 */
NC2_API int nc2_ring_extend(nc2_ring_prod *r, const uint8_t *msg, uint32_t size, uint32_t more);

/**
 * How many octets nc2_ring_extend() would accept now for the message at
 * \p msg of \p size octets (a multiple of 8; 0 when it cannot grow). Valid
 * until the next call on this producer, so a sender can write entries after
 * the message and extend it once, by their total, before it reserves or
 * publishes anything else.
 */
NC2_API uint32_t nc2_ring_extend_room(const nc2_ring_prod *r, const uint8_t *msg, uint32_t size);

/** Octets that could be reserved now without waiting (refreshes cons). */
NC2_API int nc2_ring_space(nc2_ring_prod *r);

/**
 * Publish committed messages. \return 1 if the peer must be notified,
 * 0 if not (its prod_event says it is not waiting, or only lazy messages
 * went out and it did not ask for them).
 */
NC2_API int nc2_ring_push(nc2_ring_prod *r);

/**
 * Copy the next message into \p buf (cap >= max_msg recommended) and
 * advance the private consumer index. PAD messages are skipped.
 * \return the message size (> 0), NC2_ERR_AGAIN (empty), NC2_ERR_NOSPACE
 *  (buf smaller than the message; nothing consumed), or
 *  NC2_ERR_PEER_RING_INDEX / NC2_ERR_PEER_MSG_SIZE.
 */
NC2_API int nc2_ring_next(nc2_ring_cons *r, uint8_t *buf, size_t cap);

/** Publish consumption. \return 1 if the peer must be notified, else 0. */
NC2_API int nc2_ring_finish(nc2_ring_cons *r);

/**
 * Before sleeping: arm prod_event = cons + 1, then re-check.
 * \return 1 if messages are pending (do not sleep), 0 if empty,
 *  or NC2_ERR_PEER_RING_INDEX.
 */
NC2_API int nc2_ring_final_check(nc2_ring_cons *r);

/**
 * Consumer: ask (\p on != 0) or stop asking to be woken for lazy messages.
 * Call before nc2_ring_final_check(), whose fence orders the store before
 * the re-read of prod. Writes shared memory only when the value changes.
 */
NC2_API void nc2_ring_wake_lazy(nc2_ring_cons *r, int on);

/** Unconsumed octets visible to the consumer (after validating prod). */
NC2_API int nc2_ring_pending(nc2_ring_cons *r);

#ifdef __cplusplus
}
#endif

#endif /* NC2_RING_H */
