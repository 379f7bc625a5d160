/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/channel.h
 * One NetChannel2 endpoint (frontend or backend role) over a transport.
 *
 * The channel is I/O-free: it never blocks, sleeps, allocates or notifies on
 * its own. The embedder sizes memory with nc2_channel_footprint(), inits
 * into it, and drives it from its event loop:
 *
 *   nc2_channel_connect()              send HELLO and settings
 *   loop:
 *     nc2_channel_poll(pkts, n)        handle control messages, receive packets
 *     nc2_channel_send(pkt)            transmit
 *     nc2_channel_tx_done(cookies, n)  frontend: which sends completed
 *     if (nc2_channel_flush() > 0)     publish; notify the peer if told to
 *         nc2_tp_notify(transport)
 *     before sleeping on the transport fd: nc2_channel_prepare_wait()
 *   nc2_channel_shutdown(), poll until NC2_CH_CLOSED, nc2_channel_fini()
 *
 * Frontend: TX packets of at most small_max octets travel inline (type
 * small); larger ones put their first hdr_copy octets in a slot of the
 * sticky-granted header pool and grant the rest of the payload page by page
 * (type receiver_map, read-only grants, revoked on FINISH_PACKET). Payload
 * memory must therefore be grantable by the transport. Packets that lie in
 * cfg->tx_mem skip all of that: its pages are granted once, sticky, so the
 * backend keeps them mapped in its cache and a packet is just references
 * into them (the way virtio and memif transmit from registered buffers).
 * RX buffers are carved
 * from cfg->grant_mem, granted once, posted per queue and re-posted as
 * packets are received.
 * Backend: received PACKETs are copied into the caller's buffers (header
 * pool through the grant cache, payload by batched grant copy) and FINISHed
 * in a batch. TX picks posted buffers by steering and size class, fills them
 * by grant copy (or through the cache for sticky buffers) and sends
 * pre_posted packets; with deferred copy it sends receiver_copy packets and
 * ends the receiver's access when it is slower than the timeout.
 *
 * Threading: a channel is used from one thread at a time.
 * Failure: a peer error puts the channel in NC2_CH_FAILED; every later call
 * returns that error until nc2_channel_fini().
 */
#ifndef NC2_CHANNEL_H
#define NC2_CHANNEL_H

#include <nc2/frag.h>
#include <nc2/ring.h>
#include <nc2/transport.h>
#include <nc2/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_ROLE_FRONTEND 1
#define NC2_ROLE_BACKEND  2

#define NC2_CHANNEL_MAX_RXQ    8u                /* RX queues a frontend config can describe */
#define NC2_CHANNEL_MAX_TX_MEM ((size_t)1 << 30) /* largest tx_mem_len */

/** One RX queue the frontend creates. */
typedef struct nc2_rxq_config {
	uint32_t buf_size;  /**< 64..4096: buffer size class of this queue */
	uint32_t nr_bufs;   /**< buffers carved from grant_mem and posted */
	uint16_t vlan;      /**< 0 = any */
	uint8_t mac[6];     /**< all-zero = match none (default queue only) */
	uint8_t is_default; /**< receives broadcast, multicast, unmatched */
} nc2_rxq_config;

typedef struct nc2_channel_config {
	uint32_t struct_size; /**< sizeof(nc2_channel_config) */
	uint32_t role;        /**< NC2_ROLE_* */
	uint32_t features;    /**< NC2_FEATURE_* offered in HELLO */
	uint32_t offloads;    /**< NC2_OFFLOAD_* we accept (SET_OFFLOAD) */
	uint32_t max_frags;   /**< fragments per packet we accept, 1..256 */
	uint32_t max_packets; /**< FINISH-able packets the peer may have in flight to us */
	uint32_t tx_slots;    /**< packets we may have in flight (>= 1) */
	uint32_t small_max;   /**< inline packets up to this many octets (<= 256) */
	uint32_t hdr_copy;    /**< frontend: header octets put in the pool (8..256) */
	/* frontend */
	uint32_t nr_rxq; /**< RX queues to create, 1..NC2_CHANNEL_MAX_RXQ */
	nc2_rxq_config rxq[NC2_CHANNEL_MAX_RXQ];
	uint8_t *grant_mem;   /**< page-aligned grantable memory */
	size_t grant_mem_len; /**< >= nc2_channel_grant_mem_size(cfg) */
	uint8_t *tx_mem;      /**< optional page-aligned grantable memory the
				 embedder sends from, granted once (read-only,
				 sticky when negotiated): packets inside it
				 need no grant, revoke or header-pool copy */
	size_t tx_mem_len;    /**< multiple of the page size, at most
				 NC2_CHANNEL_MAX_TX_MEM; 0 = no tx_mem */
	/* backend */
	uint32_t max_posted;       /**< posted buffers we track, >= 1 */
	uint32_t gcache_entries;   /**< grant cache capacity and advertised size */
	uint32_t max_rx_queues;    /**< queues we support, 1..64 */
	uint64_t deferred_timeout; /**< ticks (see nc2_channel_tick) a receiver_copy
				      packet may wait for FINISH; 0 = never defer */
	/* both */
	uint32_t max_ring_order; /**< largest payload order of the ring we
				      consume (sizes the message snapshot:
				      min(65528, 2^order / 2)); 0 = 24 */
} nc2_channel_config;

/** Fill \p cfg with defaults for \p role (features: all we implement). */
NC2_API void nc2_channel_config_default(nc2_channel_config *cfg, uint32_t role);

/** A packet to send. Frontend packets longer than small_max must lie in
 * grantable memory and stay untouched until their cookie completes. */
typedef struct nc2_pkt {
	const uint8_t *data;
	uint32_t len;
	uint32_t flags; /**< NC2_PACKET_FLAG_csum_blank / data_validated */
	uint16_t csum_start, csum_offset;
	uint8_t seg_type; /**< NC2_PACKET_SEGMENTATION_TYPE_* */
	uint16_t mss;
	uint64_t cookie;   /**< returned by nc2_channel_tx_done() */
	uint32_t tx_flags; /**< NC2_PKT_GRANTABLE */
} nc2_pkt;

/** nc2_pkt.tx_flags: data lies in memory the transport can grant. A backend
 * with deferred copy negotiated and a deferred_timeout then lets the
 * frontend copy the packet itself (receiver_copy); the data must stay
 * untouched until the cookie completes. */
#define NC2_PKT_GRANTABLE (1u << 0)

/** A receive buffer: the caller fills buf, cap and rx_flags, the channel
 * the rest. The packet is at data: buf, or with NC2_RXBUF_LENT a buffer the
 * channel lends. */
typedef struct nc2_rxbuf {
	uint8_t *buf;
	uint32_t cap;
	uint32_t rx_flags; /**< in: NC2_RXBUF_LEND (kept); out: NC2_RXBUF_LENT */
	const uint8_t *data;
	uint32_t token; /**< with NC2_RXBUF_LENT: for nc2_channel_rx_release() */
	uint32_t len;
	uint32_t flags; /**< packet flags as received */
	uint16_t csum_start, csum_offset;
	uint8_t seg_type;
	uint16_t mss;
	uint8_t queue; /**< frontend: RX queue the packet arrived on */
} nc2_rxbuf;

/** rx_flags in: instead of copying a packet that lies in one of its
 * buffers (a frontend's pre_posted packet in one posted buffer), the channel
 * may lend that buffer, as AF_XDP and memif zero-copy do. The lent octets
 * stay granted to the peer: a hostile peer can still change them, so treat
 * them as payload and copy what must not change under a check. */
#define NC2_RXBUF_LEND (1u << 0)
/** rx_flags out: data points into a lent buffer; give it back with
 * nc2_channel_rx_release(). It is not reposted meanwhile. */
#define NC2_RXBUF_LENT (1u << 1)

enum nc2_channel_state {
	NC2_CH_INIT,       /**< initialised, connect not called */
	NC2_CH_CONNECTING, /**< HELLO sent, peer's not yet seen */
	NC2_CH_CONNECTED,
	NC2_CH_CLOSING, /**< shutdown requested, buffers/grants draining */
	NC2_CH_CLOSED,  /**< everything returned; fini is clean */
	NC2_CH_FAILED
};

typedef struct nc2_channel_stats {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t tx_small, tx_granted, tx_pre_posted, tx_deferred;
	uint64_t rx_small, rx_granted, rx_pre_posted, rx_deferred;
	uint64_t drop_no_buffer, drop_too_big, drop_deferred_expired, drop_copy_failed;
	uint64_t deferred_fallback_copies;
	uint64_t msgs_sent, msgs_received, finish_sent, finish_received;
	uint64_t flushes, notify_needed, notify_suppressed;
	uint64_t grants, revokes, maps, unmaps, copy_ops, copy_segs;
	uint64_t cache_hits, cache_misses, cache_evictions, ungrants;
	uint64_t buffers_posted, buffers_returned;
	uint64_t rx_lent; /**< packets delivered in a lent buffer */
	uint32_t tx_in_flight, rx_buffers_posted;
} nc2_channel_stats;

typedef struct nc2_channel nc2_channel;

/** Octets of channel memory for \p cfg; 0 if cfg is invalid. */
NC2_API size_t nc2_channel_footprint(const nc2_channel_config *cfg);

/** Octets of grantable memory a frontend needs for \p cfg (header pool and
 * RX buffers); 0 for a backend. */
NC2_API size_t nc2_channel_grant_mem_size(const nc2_channel_config *cfg);

/**
 * Initialise a channel in \p mem (8-aligned, >= footprint). \p rings is this
 * endpoint's view of the ring pair; the frontend zeroes the control block.
 * \return NC2_OK, NC2_ERR_INVALID_ARG, NC2_ERR_NOSPACE, NC2_ERR_VERSION
 *  (config struct_size or transport ops version), NC2_ERR_PEER_SETUP.
 */
NC2_API int nc2_channel_init(nc2_channel **out, void *mem, size_t len,
			     const nc2_channel_config *cfg, nc2_transport *t,
			     const nc2_ring_mem *rings);

/** Queue HELLO. Settings follow once the peer's HELLO arrives. */
NC2_API int nc2_channel_connect(nc2_channel *ch);

/**
 * Process incoming messages: control messages are handled, up to \p n
 * packets are copied into \p pkts. With n == 0 only control messages before
 * the next packet are handled.
 * \return packets received (0..n), or an error (peer errors fail the channel).
 */
NC2_API int nc2_channel_poll(nc2_channel *ch, nc2_rxbuf *pkts, uint32_t n);

/**
 * Send one packet.
 * \return NC2_OK (queued; frontend non-inline packets complete through
 *  nc2_channel_tx_done), 1 (backend: dropped, counted — no posted buffer),
 *  NC2_ERR_AGAIN (ring full or too many in flight: retry after poll),
 *  NC2_ERR_LIMIT (too large or too many fragments for the peer),
 *  NC2_ERR_UNSUPPORTED (offload not enabled by the peer), NC2_ERR_STATE,
 *  NC2_ERR_TRANSPORT, or the failed state's error.
 */
NC2_API int nc2_channel_send(nc2_channel *ch, const nc2_pkt *pkt);

/** Collect up to \p n cookies of completed sends (frontend sends that
 * needed FINISH_PACKET or went inline; backend deferred sends). Works in any
 * state, also after failure, so the embedder can take its buffers back.
 * \return count. */
NC2_API int nc2_channel_tx_done(nc2_channel *ch, uint64_t *cookies, uint32_t n);

/** Give back \p n buffers lent by nc2_channel_poll() (NC2_RXBUF_LENT
 * tokens); they are posted again. \return NC2_OK, or NC2_ERR_INVALID_ARG at
 * the first token that is not lent (the ones before it are released). */
NC2_API int nc2_channel_rx_release(nc2_channel *ch, const uint32_t *tokens, uint32_t n);

/** Publish queued messages and consumption. \return 1 when the peer must be
 * notified (call nc2_tp_notify), 0 when not, or an error. */
NC2_API int nc2_channel_flush(nc2_channel *ch);

/** Before sleeping: arm events; a backend also tells the frontend whether
 * buffer posts should wake it (NC2_FEATURE_LAZY_POSTS: it runs low).
 * \return 1 if work is pending (don't sleep). */
NC2_API int nc2_channel_prepare_wait(nc2_channel *ch);

/** Backend: advance time for deferred-copy timeouts (any monotonic unit
 * matching cfg->deferred_timeout). A receiver_copy packet not FINISHed in
 * time has the frontend's access to its grants ended (the references stay
 * reserved until FINISH) and its cookie completed, so a slow receiver never
 * holds the sender's memory; the receiver's copy then fails and it counts
 * the packet as dropped (drop_deferred_expired).
 * \return packets that expired. */
NC2_API int nc2_channel_tick(nc2_channel *ch, uint64_t now);

/** Backend: change the advertised grant cache size (SET_GRANT_CACHE). */
NC2_API int nc2_channel_set_cache_size(nc2_channel *ch, uint32_t entries);

/** Start an orderly shutdown: frontend reclaims posted buffers and un-grants
 * sticky pages; backend returns buffers when asked. */
NC2_API int nc2_channel_shutdown(nc2_channel *ch);

/** Release every grant and mapping still held (after CLOSED, or to abandon a
 * failed channel). \return NC2_OK or the first transport error. */
NC2_API int nc2_channel_fini(nc2_channel *ch);

NC2_API enum nc2_channel_state nc2_channel_state(const nc2_channel *ch);
/** The error that failed the channel, or NC2_OK. */
NC2_API int nc2_channel_error(const nc2_channel *ch);
NC2_API void nc2_channel_get_stats(const nc2_channel *ch, nc2_channel_stats *s);
/** Negotiated parameters (valid once CONNECTED). */
NC2_API void nc2_channel_limits(const nc2_channel *ch, nc2_limits *rx, nc2_limits *tx);

#ifdef __cplusplus
}
#endif

#endif /* NC2_CHANNEL_H */
