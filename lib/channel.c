/* SPDX-License-Identifier: MIT */
/*
 * One NetChannel2 endpoint. Everything the peer sends is read through
 * nc2_ring_next() (a private copy), decoded, validated against what this end
 * negotiated and only then acted on. Replies that must not be lost (FINISH,
 * UNGRANT_ACK, RETURN_BUFFERS, settings, buffer posts) are queued in fixed
 * arrays and written by refill() as ring space allows, so a full ring delays
 * them instead of dropping them; when a reply queue is full, the incoming
 * message stays stashed and is handled on a later poll (backpressure).
 */
#include <string.h>

#include <nc2/bufid.h>
#include <nc2/channel.h>
#include <nc2/gcache.h>
#include <nc2/version.h>

#include "compiler.h"
#include "ring_pf.h"
#include "layout.h"
#include "packet.h"
#include "le.h"

#define TX_MAX_GRANTS         17u /* pages a 64 KiB payload can touch */
#define ACKQ_CAP              64u
#define MCAST_CAP             64u
#define SMALL_MAX_DEFAULT     128u
#define HDR_COPY_DEFAULT      64u
#define NONE                  0xffffffffu
#define POST_BATCH            64u
#define MAX_OUTSTANDING_POSTS 1024u /* PROTOCOL.md 7.2 */

/* Outcome of handling one incoming message. */
#define H_DONE   0
#define H_PACKET 1
#define H_WAIT   2

enum gpage_state { GP_FREE, GP_GRANTED, GP_UNGRANTING, GP_REVOKED };

struct gpage { /* frontend: a page of grant_mem or tx_mem it granted */
	uint8_t *addr;
	uint32_t gref;
	uint8_t state;
	uint8_t sticky;
	uint8_t ro; /* header pool and tx_mem: the backend only reads them */
};

enum rxb_state { RXB_UNPOSTED, RXB_POSTED, RXB_RETURNED, RXB_LENT };

struct rxb { /* frontend: one RX buffer */
	uint8_t *addr;
	uint32_t gpage;
	uint32_t next; /* unposted FIFO link */
	uint16_t off, len;
	uint8_t queue, state;
};

struct fe_queue {
	uint32_t head, tail, count; /* unposted FIFO */
	uint8_t created;
};

struct posted { /* backend: one buffer the frontend posted */
	uint32_t buf_id, gref, next;
	uint16_t off, len, flags;
};

struct be_queue {
	uint32_t head, tail, count;
	uint32_t peak; /* most buffers held: "running low" is relative to it */
	uint32_t buf_size;
	uint16_t vlan;
	uint8_t mac[6];
	uint8_t exists, flags;
};

struct lent { /* backend: a packet lent in place, FINISH owed at release */
	uint32_t id, gref, next;
	uint8_t used;
};

struct tx_slot {
	uint64_t cookie;
	uint64_t deadline; /* backend receiver_copy: when to give up */
	uint32_t nr_grefs;
	uint32_t grefs[TX_MAX_GRANTS];
	uint8_t deferred, expired;
};

struct nc2_channel {
	nc2_channel_config cfg;
	nc2_transport *t;
	nc2_ring_prod tx;
	nc2_ring_cons rx;
	int state;
	int err;

	/* negotiated */
	uint8_t got_hello, got_max_packets;
	uint32_t features;
	uint32_t nr_rxq;
	uint32_t peer_max_packets, peer_max_frags, peer_offloads, peer_cache;
	uint32_t my_offloads;  /* what we enabled in SET_OFFLOAD */
	uint32_t cache_limit;  /* backend: advertised grant cache size */
	nc2_limits rxlim;      /* what we accept, fixed at HELLO */
	uint32_t settings_due; /* bit per settings message not yet written */

	/* incoming message snapshot (stashed while H_STALL) */
	uint32_t stash_len;
	nc2_msg stash_m;     /* the stash, decoded once */
	uint32_t stash_done; /* progress in the stash: FINISH_PACKETS ids handled,
				SMALL_PACKETS octets of entries delivered,
				POSTED_PACKETS entries delivered */
	uint8_t *msg;

	/* SMALL_PACKETS or POSTED_PACKETS (batch_type) message still open at
	 * the end of the TX ring: octets and entries written, octets committed
	 * to the ring (batch_end() adds the rest), and the room the ring gave
	 * it (0: not asked yet) */
	uint8_t *batch;
	uint32_t batch_size, batch_count, batch_ring, batch_room;
	uint8_t batch_type;

	/* TX in flight (ids handed to the peer) and completions */
	nc2_bufid *txids;
	struct tx_slot *slots;
	uint64_t *cq;
	uint32_t cq_cap, cq_head, cq_tail;

	/* replies owed to the peer */
	uint32_t *finq;
	uint32_t finq_len;
	uint64_t finq_seen[4]; /* a bit per id hash in finq and lent: most ids skip the scan */
	uint32_t *ackq;        /* ACKQ_CAP taken at once + one deferred per lent packet */
	uint32_t ackq_len;

	/* frontend */
	struct gpage *gpages;
	uint32_t nr_gpages, nr_pool_pages, pool_slot, pool_per_page;
	uint32_t tx_gpage0; /* gpages[tx_gpage0...]: cfg.tx_mem, page by page */
	struct rxb *rxbs;
	uint32_t nr_rxbs;
	uint32_t *rx_slot_buf; /* rx bufid slot -> rxb index */
	nc2_bufid *rxids;
	struct fe_queue fq[NC2_CHANNEL_MAX_RXQ];
	uint32_t queues_created, ungrants_due, reclaim_due;

	/* backend */
	struct posted *posted;
	uint32_t posted_free, ret_head, ret_tail, posted_count;
	struct be_queue bq[NC2_MAX_RX_QUEUES];
	uint64_t low_queues; /* bit q: queue q is running low (queue_level) */
	nc2_gcache *gcache;
	struct lent *lent; /* max_packets entries; outstanding like finq */
	uint32_t lent_free, lent_count;
	uint8_t mcast[MCAST_CAP][6];
	uint32_t nr_mcast;
	uint8_t has_default;
	uint8_t nr_bq;     /* queues created (never destroyed) */
	uint8_t steer_one; /* 1 + the only queue, when it takes every frame */

	uint64_t now; /* last nc2_channel_tick() */
	nc2_channel_stats st;
};

#define SET_MAX_PACKETS_DUE (1u << 0)
#define SET_MAX_FRAGS_DUE   (1u << 1)
#define SET_OFFLOAD_DUE     (1u << 2)
#define SET_CACHE_DUE       (1u << 3)

/* ---- memory layout ---------------------------------------------------- */

struct layout {
	size_t chan, msg, txids, slots, cq, finq, ackq, gpages, rxbs, rx_slot_buf, rxids, posted,
	    lent, gcache, total;
};

static uint32_t total_rx_bufs(const nc2_channel_config *c)
{
	uint32_t n = 0;
	for (uint32_t q = 0; q < c->nr_rxq; q++)
		n += c->rxq[q].nr_bufs;
	return n;
}

static uint32_t pool_slot_size(const nc2_channel_config *c)
{
	return (uint32_t)nc2_align8(c->hdr_copy);
}

static uint32_t rx_pages(const nc2_channel_config *c)
{
	uint32_t pages = 0;
	for (uint32_t q = 0; q < c->nr_rxq; q++) {
		uint32_t per = NC2_PAGE_SIZE / c->rxq[q].buf_size;
		pages += (c->rxq[q].nr_bufs + per - 1) / per;
	}
	return pages;
}

static uint32_t pool_pages(const nc2_channel_config *c)
{
	uint32_t per = NC2_PAGE_SIZE / pool_slot_size(c);
	return (c->tx_slots + per - 1) / per;
}

static uint32_t tx_mem_pages(const nc2_channel_config *c)
{
	return (uint32_t)(c->tx_mem_len / NC2_PAGE_SIZE);
}

static int config_ok(const nc2_channel_config *c)
{
	if (c == NULL || c->struct_size < sizeof(*c))
		return 0;
	if (c->role != NC2_ROLE_FRONTEND && c->role != NC2_ROLE_BACKEND)
		return 0;
	if (c->max_frags == 0 || c->max_frags > NC2_MAX_FRAGS_LIMIT || c->tx_slots == 0 ||
	    c->tx_slots > NC2_BUFID_MAX_CAPACITY || c->max_packets > NC2_BUFID_MAX_CAPACITY ||
	    c->small_max > NC2_MAX_INLINE_BYTES || (c->features & ~NC2_FEATURE_ALL) ||
	    (c->max_ring_order &&
	     (c->max_ring_order < NC2_RING_ORDER_MIN || c->max_ring_order > NC2_RING_ORDER_MAX)) ||
	    (c->offloads & ~NC2_OFFLOAD_ALL))
		return 0;
	if (c->role == NC2_ROLE_FRONTEND) {
		if (c->hdr_copy < 8 || c->hdr_copy > NC2_MAX_INLINE_BYTES || c->nr_rxq == 0 ||
		    c->nr_rxq > NC2_CHANNEL_MAX_RXQ)
			return 0;
		uint32_t defaults = 0;
		for (uint32_t q = 0; q < c->nr_rxq; q++) {
			const nc2_rxq_config *r = &c->rxq[q];
			if (r->buf_size < NC2_MIN_RX_BUF_SIZE || r->buf_size > NC2_PAGE_SIZE ||
			    r->nr_bufs == 0 || r->nr_bufs > NC2_BUFID_MAX_CAPACITY ||
			    r->vlan > NC2_VLAN_MAX || (r->mac[0] & 1))
				return 0;
			defaults += r->is_default ? 1u : 0u;
		}
		if (defaults > 1 || total_rx_bufs(c) > NC2_BUFID_MAX_CAPACITY)
			return 0;
		if (c->tx_mem_len > NC2_CHANNEL_MAX_TX_MEM || (c->tx_mem_len % NC2_PAGE_SIZE) ||
		    (c->tx_mem_len &&
		     (c->tx_mem == NULL || ((uintptr_t)c->tx_mem & (NC2_PAGE_SIZE - 1)))))
			return 0;
	} else {
		if (c->max_posted == 0 || c->max_posted > (1u << 20) ||
		    c->gcache_entries > NC2_GCACHE_MAX_CAPACITY || c->max_rx_queues == 0 ||
		    c->max_rx_queues > NC2_MAX_RX_QUEUES)
			return 0;
	}
	return 1;
}

/* Completion queue: room for every in-flight packet and as many inline
 * ones; a power of two so the hot path masks instead of dividing. */
static uint32_t cq_cap(const nc2_channel_config *c)
{
	uint32_t n = 1;
	while (n < 2u * c->tx_slots)
		n <<= 1;
	return n;
}

/* The largest message the peer can put on a ring of max_ring_order. */
static uint32_t msg_cap(const nc2_channel_config *c)
{
	uint32_t order = c->max_ring_order ? c->max_ring_order : NC2_RING_ORDER_MAX;
	uint32_t half = 1u << (order - 1u);
	return half < NC2_MSG_MAX_SIZE ? half : NC2_MSG_MAX_SIZE;
}

static size_t plan(const nc2_channel_config *c, struct layout *l)
{
	size_t off = 0;
	memset(l, 0, sizeof(*l));
	if (!config_ok(c))
		return 0;
#define TAKE(field, bytes)                                    \
	do {                                                  \
		l->field = off;                               \
		off = nc2_align8(nc2_add_size(off, (bytes))); \
	} while (0)
	TAKE(chan, sizeof(struct nc2_channel));
	TAKE(msg, msg_cap(c));
	TAKE(txids, nc2_bufid_footprint(c->tx_slots));
	TAKE(slots, sizeof(struct tx_slot) * c->tx_slots);
	TAKE(cq, sizeof(uint64_t) * cq_cap(c));
	TAKE(finq, sizeof(uint32_t) * (c->max_packets ? c->max_packets : 1u));
	TAKE(ackq, sizeof(uint32_t) * (ACKQ_CAP + (size_t)c->max_packets));
	if (c->role == NC2_ROLE_FRONTEND) {
		uint32_t nb = total_rx_bufs(c);
		TAKE(gpages, sizeof(struct gpage) *
				 ((size_t)pool_pages(c) + rx_pages(c) + tx_mem_pages(c)));
		TAKE(rxbs, sizeof(struct rxb) * nb);
		TAKE(rx_slot_buf, sizeof(uint32_t) * nb);
		TAKE(rxids, nc2_bufid_footprint(nb));
	} else {
		TAKE(posted, sizeof(struct posted) * c->max_posted);
		TAKE(lent, sizeof(struct lent) * (c->max_packets ? c->max_packets : 1u));
		if (c->gcache_entries)
			TAKE(gcache, nc2_gcache_footprint(c->gcache_entries));
	}
#undef TAKE
	l->total = off;
	return off;
}

size_t nc2_channel_footprint(const nc2_channel_config *cfg)
{
	struct layout l;
	return plan(cfg, &l);
}

size_t nc2_channel_grant_mem_size(const nc2_channel_config *cfg)
{
	if (!config_ok(cfg) || cfg->role != NC2_ROLE_FRONTEND)
		return 0;
	return (size_t)(pool_pages(cfg) + rx_pages(cfg)) * NC2_PAGE_SIZE;
}

void nc2_channel_config_default(nc2_channel_config *cfg, uint32_t role)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->struct_size = sizeof(*cfg);
	cfg->role = role;
	cfg->features = NC2_FEATURE_CSUM | NC2_FEATURE_TSO4 | NC2_FEATURE_TSO6 |
			NC2_FEATURE_STICKY | NC2_FEATURE_MCAST | NC2_FEATURE_DEFERRED_COPY |
			NC2_FEATURE_FINISH_BATCH | NC2_FEATURE_SMALL_BATCH |
			NC2_FEATURE_LAZY_POSTS | NC2_FEATURE_POSTED_BATCH |
			(role == NC2_ROLE_BACKEND ? 0u : NC2_FEATURE_LRO);
	cfg->offloads = NC2_OFFLOAD_CSUM;
	cfg->max_frags = 18;
	cfg->max_packets = 256;
	cfg->tx_slots = 256;
	cfg->small_max = SMALL_MAX_DEFAULT;
	cfg->hdr_copy = HDR_COPY_DEFAULT;
	if (role == NC2_ROLE_FRONTEND) {
		cfg->nr_rxq = 1;
		cfg->rxq[0].buf_size = 2048;
		cfg->rxq[0].nr_bufs = 256;
		cfg->rxq[0].is_default = 1;
	} else {
		cfg->max_posted = 1024;
		cfg->gcache_entries = 256;
		cfg->max_rx_queues = NC2_CHANNEL_MAX_RXQ;
		cfg->deferred_timeout = 0;
	}
}

/* ---- state helpers ---------------------------------------------------- */

static int fail(nc2_channel *ch, int err)
{
	if (ch->state != NC2_CH_FAILED) {
		ch->state = NC2_CH_FAILED;
		ch->err = err;
	}
	return ch->err;
}

static int is_fe(const nc2_channel *ch)
{
	return ch->cfg.role == NC2_ROLE_FRONTEND;
}

/* An open batch grows in private (batch_entry()); the ring learns of the
 * entries appended, all at once, here, before anything else is reserved on
 * or published from the TX ring. It cannot run out of room: the batch took
 * at most what nc2_ring_extend_room() gave, and nothing else used the ring
 * since. */
NC2_SLOWPATH static int batch_end(nc2_channel *ch)
{
	uint8_t *b = ch->batch;
	ch->batch = NULL;
	int rc = nc2_ring_extend(&ch->tx, b, ch->batch_ring, ch->batch_size - ch->batch_ring);
	if (rc < 0)
		return rc;
	nc2_put_le16(b + NC2_HDR_OFF_SIZE, (uint16_t)ch->batch_size);
	nc2_put_le16(b + NC2_SMALLS_OFF_COUNT, (uint16_t)ch->batch_count);
	return NC2_OK;
}

static inline int batch_close(nc2_channel *ch)
{
	if (ch->batch == NULL)
		return NC2_OK;
	if (ch->batch_size != ch->batch_ring)
		return batch_end(ch);
	ch->batch = NULL; /* nothing appended: the ring has it all */
	return NC2_OK;
}

/* Every reservation on the TX ring goes through here (batch first). */
static inline int tx_reserve(nc2_channel *ch, uint32_t size, uint8_t **slot)
{
	int rc = batch_close(ch);
	return rc < 0 ? rc : nc2_ring_reserve(&ch->tx, size, slot);
}

static int tx_space(nc2_channel *ch)
{
	int rc = batch_close(ch);
	return rc < 0 ? rc : nc2_ring_space(&ch->tx);
}

/* Write one fixed-size message; NC2_ERR_AGAIN when the ring is full. */
static int put_msg(nc2_channel *ch, const nc2_msg *m, uint32_t size)
{
	uint8_t *slot;
	uint8_t tmp[32];
	int rc = tx_reserve(ch, size, &slot);
	if (rc < 0)
		return rc;
	/* Encode privately: the encoder re-reads its output to check it. */
	rc = nc2_msg_encode(m, tmp, sizeof(tmp));
	if (rc < 0)
		return rc;
	memcpy(slot, tmp, size);
	nc2_ring_commit(&ch->tx);
	ch->st.msgs_sent++;
	return NC2_OK;
}

static int put_u32(nc2_channel *ch, uint8_t type, uint32_t v)
{
	uint8_t *slot;
	/* Hot (FINISH_PACKET): written in place; the layout is fixed and v
	 * needs no validation for the types sent this way. */
	int rc = tx_reserve(ch, NC2_U32_MSG_SIZE, &slot);
	if (rc < 0)
		return rc;
	slot[NC2_HDR_OFF_TYPE] = type;
	slot[NC2_HDR_OFF_FLAGS] = 0;
	nc2_put_le16(slot + NC2_HDR_OFF_SIZE, NC2_U32_MSG_SIZE);
	nc2_put_le32(slot + NC2_U32_MSG_OFF_VALUE, v);
	nc2_ring_commit(&ch->tx);
	ch->st.msgs_sent++;
	return NC2_OK;
}

/* An UNGRANT waited for a mapping that is now unpinned: ack it. Room: an
 * UNGRANT is taken only with fewer than ACKQ_CAP acks queued, and only a
 * lent packet holds a pin across calls, so at most max_packets wait. */
static void ack_due(nc2_channel *ch, uint32_t gref)
{
	if (ch->ackq_len < ACKQ_CAP + ch->cfg.max_packets)
		ch->ackq[ch->ackq_len++] = gref;
}

/* The id's bit in finq_seen: set, and whether it already was. */
static int seen_add(nc2_channel *ch, uint32_t id)
{
	uint32_t h = (id * 0x9e3779b1u) >> 24;
	uint64_t bit = 1ull << (h & 63), was = ch->finq_seen[h >> 6] & bit;
	ch->finq_seen[h >> 6] |= bit;
	return was != 0;
}

/* FINISH the newest ids of finq: as many as one FINISH_PACKETS holds when
 * negotiated and worth it, else one FINISH_PACKET. */
static int put_finish(nc2_channel *ch)
{
	uint32_t k = 1;
	if ((ch->features & NC2_FEATURE_FINISH_BATCH) && ch->finq_len > 1) {
		uint32_t space = (uint32_t)tx_space(ch);
		uint32_t max = ch->tx.max_msg < space ? ch->tx.max_msg : space;
		if (max >= NC2_FINISH_OFF_IDS + 8u) {
			k = (max - NC2_FINISH_OFF_IDS) / 4u;
			k = k < ch->finq_len ? k : ch->finq_len;
		}
	}
	const uint32_t *ids = &ch->finq[ch->finq_len - k];
	if (k == 1) {
		int rc = put_u32(ch, NC2_MSG_FINISH_PACKET, ids[0]);
		if (rc < 0)
			return rc;
	} else {
		uint8_t *slot;
		uint32_t size = (NC2_FINISH_OFF_IDS + 4u * k + 7u) & ~7u;
		int rc = tx_reserve(ch, size, &slot);
		if (rc < 0)
			return rc; /* cannot happen: space was checked */
		nc2_finish_encode(slot, size, ids, k);
		nc2_ring_commit(&ch->tx);
		ch->st.msgs_sent++;
	}
	ch->finq_len -= k;
	ch->st.finish_sent += k;
	return NC2_OK;
}

static int complete(nc2_channel *ch, uint64_t cookie)
{
	ch->cq[ch->cq_tail & (ch->cq_cap - 1u)] = cookie;
	ch->cq_tail++;
	return NC2_OK;
}

static int cq_full(const nc2_channel *ch)
{
	return ch->cq_tail - ch->cq_head >= ch->cq_cap;
}

/* Room for one more send's completion on top of every one already owed. */
static inline int cq_room(const nc2_channel *ch)
{
	return ch->cq_tail - ch->cq_head + nc2_bufid_in_flight(ch->txids) < ch->cq_cap;
}

/* ---- init --------------------------------------------------------------- */

/* Frontend: append RX buffer \p b to its queue's list of unposted buffers. */
static void requeue_rxb(nc2_channel *ch, uint32_t b)
{
	struct rxb *r = &ch->rxbs[b];
	struct fe_queue *fq = &ch->fq[r->queue];
	r->state = RXB_UNPOSTED;
	r->next = NONE;
	if (fq->tail == NONE)
		fq->head = b;
	else
		ch->rxbs[fq->tail].next = b;
	fq->tail = b;
	fq->count++;
}

static void carve_frontend(nc2_channel *ch)
{
	const nc2_channel_config *c = &ch->cfg;
	uint8_t *mem = c->grant_mem;
	uint32_t pg = 0;

	ch->nr_pool_pages = pool_pages(c);
	ch->pool_slot = pool_slot_size(c);
	ch->pool_per_page = NC2_PAGE_SIZE / ch->pool_slot;
	for (; pg < ch->nr_pool_pages; pg++) {
		ch->gpages[pg].addr = mem + (size_t)pg * NC2_PAGE_SIZE;
		ch->gpages[pg].ro = 1;
	}
	uint32_t b = 0;
	for (uint32_t q = 0; q < c->nr_rxq; q++) {
		uint32_t per = NC2_PAGE_SIZE / c->rxq[q].buf_size;
		ch->fq[q].head = ch->fq[q].tail = NONE;
		ch->fq[q].count = 0;
		for (uint32_t i = 0; i < c->rxq[q].nr_bufs; i++, b++) {
			if (i % per == 0) {
				ch->gpages[pg].addr = mem + (size_t)pg * NC2_PAGE_SIZE;
				pg++;
			}
			struct rxb *r = &ch->rxbs[b];
			r->gpage = pg - 1;
			r->off = (uint16_t)((i % per) * c->rxq[q].buf_size);
			r->len = (uint16_t)c->rxq[q].buf_size;
			r->addr = ch->gpages[pg - 1].addr + r->off;
			r->queue = (uint8_t)q;
			requeue_rxb(ch, b);
		}
	}
	ch->nr_rxbs = b;
	ch->tx_gpage0 = pg;
	for (uint32_t i = 0; i < tx_mem_pages(c); i++, pg++) {
		ch->gpages[pg].addr = c->tx_mem + (size_t)i * NC2_PAGE_SIZE;
		ch->gpages[pg].ro = 1;
	}
	ch->nr_gpages = pg;
}

int nc2_channel_init(nc2_channel **out, void *mem, size_t len, const nc2_channel_config *cfg,
		     nc2_transport *t, const nc2_ring_mem *rings)
{
	struct layout l;
	if (out == NULL || mem == NULL || rings == NULL || ((uintptr_t)mem & 7u))
		return NC2_ERR_INVALID_ARG;
	*out = NULL;
	if (cfg != NULL && cfg->struct_size < sizeof(*cfg))
		return NC2_ERR_VERSION;
	if (plan(cfg, &l) == 0)
		return NC2_ERR_INVALID_ARG;
	if (len < l.total)
		return NC2_ERR_NOSPACE;
	int rc = nc2_transport_check(t);
	if (rc < 0)
		return rc;
	if (cfg->role == NC2_ROLE_FRONTEND &&
	    (cfg->grant_mem == NULL || ((uintptr_t)cfg->grant_mem & (NC2_PAGE_SIZE - 1)) ||
	     cfg->grant_mem_len < nc2_channel_grant_mem_size(cfg)))
		return NC2_ERR_INVALID_ARG;

	uint8_t *base = mem;
	memset(base, 0, l.total);
	nc2_channel *ch = (nc2_channel *)(void *)(base + l.chan);
	ch->cfg = *cfg;
	ch->cfg.struct_size = sizeof(*cfg);
	ch->t = t;
	ch->msg = base + l.msg;
	ch->slots = (struct tx_slot *)(void *)(base + l.slots);
	ch->cq = (uint64_t *)(void *)(base + l.cq);
	ch->cq_cap = cq_cap(cfg);
	ch->finq = (uint32_t *)(void *)(base + l.finq);
	ch->ackq = (uint32_t *)(void *)(base + l.ackq);
	ch->peer_max_frags = 1; /* protocol default until SET_MAX_FRAGMENTS */
	ch->cache_limit = cfg->gcache_entries;
	rc = nc2_bufid_init(&ch->txids, base + l.txids, l.slots - l.txids, cfg->tx_slots);
	if (rc < 0)
		return rc;

	int fe = cfg->role == NC2_ROLE_FRONTEND;
	/* The memory provider zeroed the control block before handing the ring
	 * over (PROTOCOL.md 2.1); zeroing it here would race a backend that
	 * attached first. The memory provider (frontend) produces on ring 0. */
	rc = nc2_ring_prod_init(&ch->tx, rings->ctrl + (fe ? 0 : NC2_RING_CTRL_STRIDE),
				rings->payload[fe ? 0 : 1], rings->order[fe ? 0 : 1]);
	if (rc == NC2_OK)
		rc = nc2_ring_cons_init(&ch->rx, rings->ctrl + (fe ? NC2_RING_CTRL_STRIDE : 0),
					rings->payload[fe ? 1 : 0], rings->order[fe ? 1 : 0]);
	if (rc < 0)
		return nc2_is_peer_error(rc) ? NC2_ERR_PEER_SETUP : rc;
	if (ch->rx.max_msg > msg_cap(cfg))
		return NC2_ERR_INVALID_ARG; /* ring larger than cfg->max_ring_order */

	if (fe) {
		ch->gpages = (struct gpage *)(void *)(base + l.gpages);
		ch->rxbs = (struct rxb *)(void *)(base + l.rxbs);
		ch->rx_slot_buf = (uint32_t *)(void *)(base + l.rx_slot_buf);
		rc = nc2_bufid_init(&ch->rxids, base + l.rxids, l.total - l.rxids,
				    total_rx_bufs(cfg));
		if (rc < 0)
			return rc;
		carve_frontend(ch);
	} else {
		ch->posted = (struct posted *)(void *)(base + l.posted);
		ch->lent = (struct lent *)(void *)(base + l.lent);
		for (uint32_t i = 0; i < cfg->max_packets; i++)
			ch->lent[i].next = i + 1 < cfg->max_packets ? i + 1 : NONE;
		ch->lent_free = cfg->max_packets ? 0 : NONE;
		for (uint32_t i = 0; i < cfg->max_posted; i++)
			ch->posted[i].next = i + 1 < cfg->max_posted ? i + 1 : NONE;
		ch->posted_free = 0;
		ch->ret_head = ch->ret_tail = NONE;
		for (uint32_t q = 0; q < NC2_MAX_RX_QUEUES; q++)
			ch->bq[q].head = ch->bq[q].tail = NONE;
		if (cfg->gcache_entries) {
			rc = nc2_gcache_init(&ch->gcache, base + l.gcache, l.total - l.gcache,
					     cfg->gcache_entries, t);
			if (rc < 0)
				return rc;
		}
	}
	ch->state = NC2_CH_INIT;
	*out = ch;
	return NC2_OK;
}

/* ---- outgoing control (refill) ------------------------------------------ */

static int hello(nc2_channel *ch)
{
	nc2_msg m = {.type = NC2_MSG_HELLO, .size = NC2_HELLO_SIZE};
	m.u.hello.version_min = NC2_PROTO_VERSION_MIN;
	m.u.hello.version_max = NC2_PROTO_VERSION;
	m.u.hello.features = ch->cfg.features;
	m.u.hello.max_rx_queues = (uint16_t)(is_fe(ch) ? ch->cfg.nr_rxq : ch->cfg.max_rx_queues);
	return put_msg(ch, &m, NC2_HELLO_SIZE);
}

int nc2_channel_connect(nc2_channel *ch)
{
	if (ch == NULL)
		return NC2_ERR_INVALID_ARG;
	if (ch->state == NC2_CH_FAILED)
		return ch->err;
	if (ch->state != NC2_CH_INIT)
		return NC2_ERR_STATE;
	int rc = hello(ch);
	if (rc < 0)
		return rc == NC2_ERR_AGAIN ? rc : fail(ch, rc);
	ch->state = NC2_CH_CONNECTING;
	return NC2_OK;
}

static int send_settings(nc2_channel *ch)
{
	int rc = NC2_OK;
	if (ch->settings_due & SET_MAX_PACKETS_DUE) {
		if ((rc = put_u32(ch, NC2_MSG_SET_MAX_PACKETS, ch->cfg.max_packets)) < 0)
			return rc;
		ch->settings_due &= ~SET_MAX_PACKETS_DUE;
	}
	if (ch->settings_due & SET_MAX_FRAGS_DUE) {
		if ((rc = put_u32(ch, NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET, ch->cfg.max_frags)) < 0)
			return rc;
		ch->settings_due &= ~SET_MAX_FRAGS_DUE;
	}
	if (ch->settings_due & SET_OFFLOAD_DUE) {
		nc2_msg m = {.type = NC2_MSG_SET_OFFLOAD, .size = NC2_SET_OFFLOAD_SIZE};
		m.u.offload.csum = (ch->my_offloads & NC2_OFFLOAD_CSUM) ? 1 : 0;
		m.u.offload.tso4 = (ch->my_offloads & NC2_OFFLOAD_TSO4) ? 1 : 0;
		m.u.offload.tso6 = (ch->my_offloads & NC2_OFFLOAD_TSO6) ? 1 : 0;
		m.u.offload.lro = (ch->my_offloads & NC2_OFFLOAD_LRO) ? 1 : 0;
		if ((rc = put_msg(ch, &m, NC2_SET_OFFLOAD_SIZE)) < 0)
			return rc;
		ch->settings_due &= ~SET_OFFLOAD_DUE;
	}
	if (ch->settings_due & SET_CACHE_DUE) {
		uint32_t n = (ch->features & NC2_FEATURE_STICKY) ? ch->cache_limit : 0;
		if ((rc = put_u32(ch, NC2_MSG_SET_GRANT_CACHE, n)) < 0)
			return rc;
		ch->settings_due &= ~SET_CACHE_DUE;
	}
	return NC2_OK;
}

/* Frontend: grant every page of grant_mem once (pool and RX buffers). */
static int grant_pages(nc2_channel *ch)
{
	uint32_t sticky = (ch->features & NC2_FEATURE_STICKY) ? NC2_GNT_STICKY : 0;
	for (uint32_t i = 0; i < ch->nr_gpages; i++) {
		struct gpage *g = &ch->gpages[i];
		if (g->state != GP_FREE)
			continue;
		uint32_t fl = g->ro ? NC2_GNT_READONLY | sticky : sticky;
		int rc = nc2_tp_grant(ch->t, g->addr, fl, &g->gref);
		if (rc < 0)
			return rc;
		g->state = GP_GRANTED;
		g->sticky = sticky ? 1 : 0;
	}
	return NC2_OK;
}

static int create_queues(nc2_channel *ch)
{
	for (; ch->queues_created < ch->nr_rxq; ch->queues_created++) {
		const nc2_rxq_config *r = &ch->cfg.rxq[ch->queues_created];
		nc2_msg m = {.type = NC2_MSG_CREATE_RX_QUEUE, .size = NC2_CREATE_RX_QUEUE_SIZE};
		m.u.rxq.queue = (uint8_t)ch->queues_created;
		m.u.rxq.flags = r->is_default ? NC2_RXQ_FLAG_DEFAULT : 0;
		m.u.rxq.vlan = r->vlan;
		m.u.rxq.buf_size = r->buf_size;
		memcpy(m.u.rxq.mac, r->mac, 6);
		int rc = put_msg(ch, &m, NC2_CREATE_RX_QUEUE_SIZE);
		if (rc < 0)
			return rc;
		ch->fq[ch->queues_created].created = 1;
	}
	return NC2_OK;
}

/* Frontend: post unposted buffers of each queue in batches. */
static int post_buffers(nc2_channel *ch)
{
	for (uint32_t q = 0; q < ch->nr_rxq; q++) {
		struct fe_queue *fq = &ch->fq[q];
		while (fq->head != NONE) {
			uint32_t space = (uint32_t)tx_space(ch);
			uint32_t max = ch->tx.max_msg < space ? ch->tx.max_msg : space;
			if (max < NC2_POST_OFF_ENTRIES + NC2_POST_ENTRY_SIZE)
				return NC2_ERR_AGAIN;
			uint32_t n = (max - NC2_POST_OFF_ENTRIES) / NC2_POST_ENTRY_SIZE;
			uint32_t out = nc2_bufid_in_flight(ch->rxids);
			if (out >= MAX_OUTSTANDING_POSTS)
				return NC2_OK; /* PROTOCOL.md 7.2; the rest wait unposted */
			if (n > MAX_OUTSTANDING_POSTS - out)
				n = MAX_OUTSTANDING_POSTS - out;
			if (n > POST_BATCH)
				n = POST_BATCH;
			uint32_t k = n < fq->count ? n : fq->count;
			uint8_t *slot;
			uint32_t size = NC2_POST_OFF_ENTRIES + k * NC2_POST_ENTRY_SIZE;
			int rc = tx_reserve(ch, size, &slot);
			if (rc < 0)
				return rc;
			/* Written in place, no encoder's check: offsets and lengths
			 * are carve_frontend()'s, within their pages. Ids are taken
			 * only once the message is sure to go out. */
			post_hdr_put(slot, size, (uint8_t)q, k);
			uint32_t b = fq->head;
			for (uint32_t i = 0; i < k; i++, b = ch->rxbs[b].next) {
				struct rxb *r = &ch->rxbs[b];
				const struct gpage *g = &ch->gpages[r->gpage];
				nc2_post_buf pb = {.gref = g->gref,
						   .offset = r->off,
						   .length = r->len,
						   .flags = g->sticky ? NC2_POST_FLAG_STICKY : 0};
				if (nc2_bufid_alloc(ch->rxids, &pb.buf_id) < 0)
					return NC2_ERR_STATE; /* one id per buffer: cannot run out
							       */
				ch->rx_slot_buf[nc2_bufid_index(pb.buf_id)] = b;
				r->state = RXB_POSTED;
				post_entry_put(
				    slot + NC2_POST_OFF_ENTRIES + i * NC2_POST_ENTRY_SIZE, &pb);
			}
			fq->head = b;
			fq->count -= k;
			if (b == NONE)
				fq->tail = NONE;
			/* The backend says when it runs low (PROTOCOL.md 7.2). */
			if (ch->features & NC2_FEATURE_LAZY_POSTS)
				nc2_ring_commit_lazy(&ch->tx);
			else
				nc2_ring_commit(&ch->tx);
			ch->st.msgs_sent++;
			ch->st.buffers_posted += k;
			ch->st.rx_buffers_posted += k;
		}
	}
	return NC2_OK;
}

/* Backend: return buffers queued for return, in batches. */
static int return_buffers(nc2_channel *ch)
{
	while (ch->ret_head != NONE) {
		uint32_t space = (uint32_t)tx_space(ch);
		uint32_t max = ch->tx.max_msg < space ? ch->tx.max_msg : space;
		if (max < 16)
			return NC2_ERR_AGAIN;
		uint32_t n = (max - NC2_RETURN_OFF_IDS) / 4u, k = 0;
		uint32_t ids[256];
		if (n > 256)
			n = 256;
		while (ch->ret_head != NONE && k < n) {
			uint32_t e = ch->ret_head;
			ids[k++] = ch->posted[e].buf_id;
			ch->ret_head = ch->posted[e].next;
			ch->posted[e].next = ch->posted_free;
			ch->posted_free = e;
			ch->posted_count--;
		}
		if (ch->ret_head == NONE)
			ch->ret_tail = NONE;
		uint8_t *slot;
		uint32_t size = (NC2_RETURN_OFF_IDS + 4u * k + 7u) & ~7u;
		int rc = tx_reserve(ch, size, &slot);
		if (rc < 0)
			return rc; /* cannot happen: space was checked */
		rc = nc2_return_encode(slot, size, ids, k);
		if (rc < 0)
			return rc;
		nc2_ring_commit(&ch->tx);
		ch->st.msgs_sent++;
		ch->st.buffers_returned += k;
	}
	return NC2_OK;
}

/* Frontend teardown: UNGRANT every sticky page, RECLAIM all buffers. */
static int send_teardown(nc2_channel *ch)
{
	if (ch->reclaim_due) {
		int rc = put_u32(ch, NC2_MSG_RECLAIM_BUFFERS, NC2_RECLAIM_ALL);
		if (rc < 0)
			return rc;
		ch->reclaim_due = 0;
	}
	for (; ch->ungrants_due < ch->nr_gpages; ch->ungrants_due++) {
		struct gpage *g = &ch->gpages[ch->ungrants_due];
		if (g->state != GP_GRANTED || !g->sticky)
			continue;
		int rc = put_u32(ch, NC2_MSG_UNGRANT, g->gref);
		if (rc < 0)
			return rc;
		g->state = GP_UNGRANTING;
	}
	return NC2_OK;
}

/* Nothing owed to the peer: refill() would write nothing. Checked first
 * because refill runs on every poll and flush. */
static int refill_idle(const nc2_channel *ch)
{
	if (ch->finq_len || ch->ackq_len)
		return 0;
	if (!ch->got_hello)
		return 1;
	if (ch->settings_due)
		return 0;
	if (!is_fe(ch))
		return ch->ret_head == NONE;
	if (ch->queues_created < ch->nr_rxq || ch->state == NC2_CH_CLOSING)
		return 0;
	for (uint32_t q = 0; q < ch->nr_rxq; q++)
		if (ch->fq[q].head != NONE)
			return 0;
	return 1;
}

/* Out of line: it saves many registers, and most calls find nothing due. */
NC2_SLOWPATH static int refill(nc2_channel *ch)
{
	int rc;
	/* Completions first: they free the peer's resources. */
	while (ch->finq_len) {
		if ((rc = put_finish(ch)) < 0)
			return rc;
	}
	/* Bits only go when the queue is empty: a stale bit costs a scan, never
	 * a missed duplicate. Lent packets stay outstanding. */
	memset(ch->finq_seen, 0, sizeof(ch->finq_seen));
	for (uint32_t i = 0; ch->lent_count && i < ch->cfg.max_packets; i++)
		if (ch->lent[i].used)
			seen_add(ch, ch->lent[i].id);
	/* Returned buffers before un-grant acks: the frontend may revoke a page
	 * once acked, which must not happen while a buffer in it is posted. */
	if (!is_fe(ch) && (rc = return_buffers(ch)) < 0)
		return rc;
	while (ch->ackq_len) {
		if ((rc = put_u32(ch, NC2_MSG_UNGRANT_ACK, ch->ackq[ch->ackq_len - 1])) < 0)
			return rc;
		ch->ackq_len--;
	}
	if (!ch->got_hello)
		return NC2_OK;
	if ((rc = send_settings(ch)) < 0)
		return rc;
	if (is_fe(ch)) {
		if ((rc = create_queues(ch)) < 0)
			return rc;
		if (ch->state == NC2_CH_CLOSING)
			return send_teardown(ch);
		return post_buffers(ch);
	}
	return NC2_OK;
}

static int refill_soft(nc2_channel *ch)
{
	if (refill_idle(ch))
		return NC2_OK;
	int rc = refill(ch);
	return rc == NC2_ERR_AGAIN ? NC2_OK : rc;
}

static void maybe_closed(nc2_channel *ch);

/* ---- incoming ------------------------------------------------------------ */

static uint32_t offload_bits(const struct nc2_msg_offload *o)
{
	return (o->csum ? NC2_OFFLOAD_CSUM : 0u) | (o->tso4 ? NC2_OFFLOAD_TSO4 : 0u) |
	       (o->tso6 ? NC2_OFFLOAD_TSO6 : 0u) | (o->lro ? NC2_OFFLOAD_LRO : 0u);
}

/* Offload bit -> the feature that must have been negotiated for it. */
static uint32_t offloads_allowed(uint32_t features)
{
	return ((features & NC2_FEATURE_CSUM) ? NC2_OFFLOAD_CSUM : 0u) |
	       ((features & NC2_FEATURE_TSO4) ? NC2_OFFLOAD_TSO4 : 0u) |
	       ((features & NC2_FEATURE_TSO6) ? NC2_OFFLOAD_TSO6 : 0u) |
	       ((features & NC2_FEATURE_LRO) ? NC2_OFFLOAD_LRO : 0u);
}

static void rx_limits(const nc2_channel *ch, nc2_limits *l);

static int on_hello(nc2_channel *ch, const struct nc2_msg_hello *h)
{
	if (ch->got_hello)
		return NC2_ERR_PEER_PROTO;
	uint16_t v = h->version_max < NC2_PROTO_VERSION ? h->version_max : NC2_PROTO_VERSION;
	uint16_t lo =
	    h->version_min > NC2_PROTO_VERSION_MIN ? h->version_min : NC2_PROTO_VERSION_MIN;
	if (v < lo)
		return NC2_ERR_PEER_VERSION;
	ch->got_hello = 1;
	ch->features = ch->cfg.features & h->features;
	uint32_t mine = is_fe(ch) ? ch->cfg.nr_rxq : ch->cfg.max_rx_queues;
	ch->nr_rxq = h->max_rx_queues < mine ? h->max_rx_queues : mine;
	ch->my_offloads = ch->cfg.offloads & offloads_allowed(ch->features);
	if (!is_fe(ch))
		ch->my_offloads &= ~NC2_OFFLOAD_LRO; /* LRO is the frontend's request */
	ch->settings_due = SET_MAX_PACKETS_DUE | SET_MAX_FRAGS_DUE | SET_OFFLOAD_DUE |
			   (!is_fe(ch) && (ch->features & NC2_FEATURE_STICKY) ? SET_CACHE_DUE : 0u);
	ch->state = NC2_CH_CONNECTED;
	rx_limits(ch, &ch->rxlim);
	if (is_fe(ch))
		return grant_pages(ch);
	return NC2_OK;
}

/* What this end accepts in PACKETs from the peer. */
static void rx_limits(const nc2_channel *ch, nc2_limits *l)
{
	l->max_frags = ch->cfg.max_frags;
	l->max_packet_bytes = NC2_MAX_PACKET_BYTES;
	l->offloads = ch->my_offloads;
	l->features = ch->features;
	if (is_fe(ch))
		l->packet_types = 1u << NC2_PACKET_TYPE_pre_posted | 1u << NC2_PACKET_TYPE_small |
				  ((ch->features & NC2_FEATURE_DEFERRED_COPY)
				       ? 1u << NC2_PACKET_TYPE_receiver_copy
				       : 0u);
	else
		l->packet_types = 1u << NC2_PACKET_TYPE_receiver_copy |
				  1u << NC2_PACKET_TYPE_receiver_map | 1u << NC2_PACKET_TYPE_small;
}

static void rx_meta(nc2_rxbuf *rb, uint8_t flags, uint16_t csum_start, uint16_t csum_offset,
		    uint8_t seg_type, uint16_t mss, uint32_t len)
{
	rb->rx_flags &= NC2_RXBUF_LEND;
	rb->data = rb->buf;
	rb->len = len;
	rb->flags = flags;
	rb->csum_start = csum_start;
	rb->csum_offset = csum_offset;
	rb->seg_type = seg_type;
	rb->mss = mss;
	rb->queue = 0;
}

/* One batch of grant copies, counted. */
static int grant_copy(nc2_channel *ch, nc2_copy_op *ops, uint32_t nops)
{
	ch->st.copy_ops++;
	ch->st.copy_segs += nops;
	return nc2_tp_copy(ch->t, ops, nops);
}

/* Copy granted fragments (and a sticky header through the cache). */
static int pull_granted(nc2_channel *ch, const nc2_msg *m, uint8_t *dst)
{
	const struct nc2_msg_packet *p = &m->u.packet;
	nc2_copy_op ops[NC2_MAX_FRAGS_LIMIT];
	uint32_t nops = 0, at = p->prefix_size;
	int bad = 0;

	memcpy(dst, p->prefix, p->prefix_size);
	for (uint32_t i = 0; i < p->nr_frags; i++) {
		nc2_frag f;
		nc2_packet_frag(m, i, &f);
		if ((f.flags & NC2_FRAG_STICKY) && ch->gcache) {
			int rc = nc2_gcache_copy(ch->gcache, f.ref, NC2_GNT_READONLY, f.off,
						 dst + at, f.size, 0);
			if (rc < 0)
				bad = 1;
		} else {
			nc2_copy_op *o = &ops[nops++];
			o->src.local = NULL;
			o->src.gref = f.ref;
			o->src.offset = f.off;
			o->dst.local = dst + at;
			o->dst.gref = 0;
			o->dst.offset = 0;
			o->len = f.size;
		}
		at += f.size;
	}
	if (nops && grant_copy(ch, ops, nops) < 0)
		bad = 1;
	return bad ? NC2_ERR_TRANSPORT : NC2_OK;
}

/* Frontend: consume the posted buffer that \p f names, its octets at \p at
 * in rb's buffer (\p fits) or lent in place (\p lend: the whole packet). */
static NC2_INLINE int take_posted(nc2_channel *ch, const nc2_frag *f, nc2_rxbuf *rb, uint32_t at,
				  int lend, int fits)
{
	uint32_t slot;
	/* Consumed, whatever follows: a peer error below fails the channel. */
	int rc = nc2_bufid_take(ch->rxids, f->ref, &slot);
	if (rc < 0)
		return rc;
	uint32_t b = ch->rx_slot_buf[slot];
	struct rxb *r = &ch->rxbs[b];
	/* Only the owner knows the buffer's length. */
	if (!nc2_range_ok(f->off, f->size, r->len))
		return NC2_ERR_PEER_BAD_FRAG;
	if (lend) {
		rb->data = r->addr + f->off;
		rb->token = b;
		rb->rx_flags |= NC2_RXBUF_LENT;
		r->state = RXB_LENT;
		ch->st.rx_lent++;
	} else if (fits) {
		memcpy(rb->buf + at, r->addr + f->off, f->size);
	}
	ch->st.rx_buffers_posted--;
	rb->queue = r->queue;
	/* Back on the queue's unposted list; refill() posts it again. */
	if (!lend)
		requeue_rxb(ch, b);
	return NC2_OK;
}

/* Frontend: a pre_posted packet names our buffers; consume and repost them,
 * or lend the one buffer that holds the whole packet. */
static int pull_posted(nc2_channel *ch, const nc2_msg *m, nc2_rxbuf *rb, uint32_t total)
{
	const struct nc2_msg_packet *p = &m->u.packet;
	uint32_t at = p->prefix_size;
	int lend = p->nr_frags == 1 && p->prefix_size == 0 && (rb->rx_flags & NC2_RXBUF_LEND);
	int fits = lend || total <= rb->cap;

	if (fits)
		memcpy(rb->buf, p->prefix, p->prefix_size);
	for (uint32_t i = 0; i < p->nr_frags; i++) {
		nc2_frag f;
		nc2_packet_frag(m, i, &f);
		int rc = take_posted(ch, &f, rb, at, lend, fits);
		if (rc < 0)
			return rc;
		at += f.size;
	}
	return fits ? NC2_OK : NC2_ERR_NOSPACE;
}

/* Backend: a packet in one sticky fragment is lent where it lies, in its
 * cached mapping, pinned until nc2_channel_rx_release(), which makes its
 * FINISH due. \return 1 if lent, 0 to copy it instead. */
static int lend_granted(nc2_channel *ch, const nc2_msg *m, nc2_rxbuf *rb)
{
	const struct nc2_msg_packet *p = &m->u.packet;
	if (!(rb->rx_flags & NC2_RXBUF_LEND) || ch->gcache == NULL || p->nr_frags != 1 ||
	    p->prefix_size != 0 || ch->lent_free == NONE)
		return 0;
	nc2_frag f;
	nc2_packet_frag(m, 0, &f);
	void *page;
	if (!(f.flags & NC2_FRAG_STICKY) ||
	    nc2_gcache_get(ch->gcache, f.ref, NC2_GNT_READONLY, &page) < 0)
		return 0; /* the copy path reports an unusable grant */
	uint32_t e = ch->lent_free;
	ch->lent_free = ch->lent[e].next;
	ch->lent[e] = (struct lent){.id = p->id, .gref = f.ref, .next = NONE, .used = 1};
	ch->lent_count++;
	rb->data = (const uint8_t *)page + f.off;
	rb->token = e;
	rb->rx_flags |= NC2_RXBUF_LENT;
	ch->st.rx_lent++;
	return 1;
}

static int on_packet(nc2_channel *ch, const nc2_msg *m, nc2_rxbuf *rb)
{
	const struct nc2_msg_packet *p = &m->u.packet;
	uint32_t total;

	int rc = nc2_packet_validate(m, &ch->rxlim, &total);
	if (rc < 0)
		return rc;
	int finish =
	    p->type == NC2_PACKET_TYPE_receiver_copy || p->type == NC2_PACKET_TYPE_receiver_map;
	if (finish) {
		/* Outstanding here = received, FINISH not yet written: queued
		 * or lent. */
		if (seen_add(ch, p->id)) {
			for (uint32_t i = 0; i < ch->finq_len; i++)
				if (ch->finq[i] == p->id)
					return NC2_ERR_PEER_BAD_ID;
			for (uint32_t i = 0; ch->lent_count && i < ch->cfg.max_packets; i++)
				if (ch->lent[i].used && ch->lent[i].id == p->id)
					return NC2_ERR_PEER_BAD_ID;
		}
		if (ch->finq_len + ch->lent_count >= ch->cfg.max_packets)
			return NC2_ERR_PEER_LIMIT; /* more in flight than SET_MAX_PACKETS allowed */
	}

	rx_meta(rb, p->flags, p->csum_start, p->csum_offset, p->seg_type, p->mss, total);
	if (finish && lend_granted(ch, m, rb)) {
		ch->st.rx_granted++;
		ch->st.rx_packets++;
		ch->st.rx_bytes += total;
		return 1; /* FINISHed when released */
	}
	if (p->type == NC2_PACKET_TYPE_pre_posted) {
		rc = pull_posted(ch, m, rb, total);
		if (rc == NC2_ERR_NOSPACE) {
			ch->st.drop_too_big++;
			return 0;
		}
		if (rc < 0)
			return rc;
		ch->st.rx_pre_posted++;
	} else if (total > rb->cap) {
		ch->st.drop_too_big++;
		rc = 0;
		goto out;
	} else if (p->type == NC2_PACKET_TYPE_small) {
		memcpy(rb->buf, p->prefix, p->prefix_size);
		ch->st.rx_small++;
	} else {
		if (pull_granted(ch, m, rb->buf) < 0) {
			/* Unusable grant: the packet is lost, counted, still FINISHed. */
			if (p->type == NC2_PACKET_TYPE_receiver_copy && is_fe(ch))
				ch->st.drop_deferred_expired++;
			else
				ch->st.drop_copy_failed++;
			rc = 0;
			goto out;
		}
		if (p->type == NC2_PACKET_TYPE_receiver_copy)
			ch->st.rx_deferred++;
		else
			ch->st.rx_granted++;
	}
	ch->st.rx_packets++;
	ch->st.rx_bytes += total;
	rc = 1;
out:
	if (finish)
		ch->finq[ch->finq_len++] = p->id;
	return rc;
}

static int on_finish(nc2_channel *ch, uint32_t id)
{
	uint32_t slot;
	int rc = nc2_bufid_lookup(ch->txids, id, &slot);
	if (rc < 0)
		return rc;
	struct tx_slot *s = &ch->slots[slot];
	for (uint32_t i = 0; i < s->nr_grefs; i++) {
		rc = nc2_tp_revoke(ch->t, s->grefs[i]);
		if (rc == NC2_ERR_AGAIN)
			return NC2_ERR_PEER_GRANT; /* FINISHed but still mapped */
		if (rc < 0)
			return rc;
	}
	s->nr_grefs = 0;
	nc2_bufid_free(ch->txids, id);
	ch->st.finish_received++;
	if (s->expired)
		return NC2_OK; /* completed when it timed out */
	return complete(ch, s->cookie);
}

/* Backend: note whether queue \p qi is running low, down to a quarter of the
 * most buffers it held (or never had any): then buffer posts should wake us
 * (PROTOCOL.md 7.2). Kept per change so prepare_wait only tests a word. */
static void queue_level(nc2_channel *ch, uint32_t qi)
{
	if (!(ch->features & NC2_FEATURE_LAZY_POSTS))
		return; /* low_queues stays 0: nobody reads wake_lazy */
	const struct be_queue *q = &ch->bq[qi];
	uint64_t bit = (uint64_t)1 << qi;
	if (q->count <= q->peak / 4u)
		ch->low_queues |= bit;
	else
		ch->low_queues &= ~bit;
}

static int on_post(nc2_channel *ch, const nc2_msg *m)
{
	const struct nc2_msg_post *p = &m->u.post;
	if (p->queue >= NC2_MAX_RX_QUEUES || !ch->bq[p->queue].exists)
		return NC2_ERR_PEER_BAD_VALUE;
	struct be_queue *q = &ch->bq[p->queue];
	if (ch->cfg.max_posted - ch->posted_count < p->count)
		return NC2_ERR_PEER_LIMIT;
	for (uint32_t i = 0; i < p->count; i++) {
		nc2_post_buf b;
		post_entry_get(m, i, &b);
		if (b.length > q->buf_size)
			return NC2_ERR_PEER_BAD_FRAG;
		if ((b.flags & NC2_POST_FLAG_STICKY) && !(ch->features & NC2_FEATURE_STICKY))
			return NC2_ERR_PEER_OFFLOAD;
	}
	for (uint32_t i = 0; i < p->count; i++) {
		nc2_post_buf b;
		post_entry_get(m, i, &b);
		uint32_t e = ch->posted_free;
		struct posted *pe = &ch->posted[e];
		ch->posted_free = pe->next;
		pe->buf_id = b.buf_id;
		pe->gref = b.gref;
		pe->off = b.offset;
		pe->len = b.length;
		pe->flags = b.flags;
		/* Newest first: the buffer the frontend gave back last is the
		 * one most likely still in cache (the reuse order of DPDK's
		 * mempool cache and Linux's page_pool). */
		pe->next = q->head;
		q->head = e;
		if (q->tail == NONE)
			q->tail = e;
		q->count++;
		ch->posted_count++;
	}
	if (q->count > q->peak)
		q->peak = q->count;
	queue_level(ch, p->queue);
	ch->st.buffers_posted += p->count;
	return NC2_OK;
}

/* Backend: move every buffer of queue \p qi to the return list. */
static void reclaim_queue(nc2_channel *ch, uint32_t qi)
{
	struct be_queue *q = &ch->bq[qi];
	if (q->head != NONE) {
		if (ch->ret_tail == NONE)
			ch->ret_head = q->head;
		else
			ch->posted[ch->ret_tail].next = q->head;
		ch->ret_tail = q->tail;
	}
	q->head = q->tail = NONE;
	q->count = q->peak = 0;
	queue_level(ch, qi);
}

static int on_reclaim(nc2_channel *ch, uint32_t v)
{
	if (v == NC2_RECLAIM_ALL) {
		for (uint32_t q = 0; q < NC2_MAX_RX_QUEUES; q++)
			if (ch->bq[q].exists)
				reclaim_queue(ch, q);
		return NC2_OK;
	}
	if (!ch->bq[v].exists)
		return NC2_ERR_PEER_BAD_VALUE;
	reclaim_queue(ch, v);
	return NC2_OK;
}

static const uint8_t zero_mac[6];

static int mac_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 6) == 0;
}

static int on_rxq(nc2_channel *ch, const struct nc2_msg_rxq *r)
{
	if (r->queue >= ch->nr_rxq || ch->bq[r->queue].exists ||
	    ((r->flags & NC2_RXQ_FLAG_DEFAULT) && ch->has_default))
		return NC2_ERR_PEER_BAD_VALUE;
	struct be_queue *q = &ch->bq[r->queue];
	q->exists = 1;
	q->flags = r->flags;
	q->vlan = r->vlan;
	q->buf_size = r->buf_size;
	memcpy(q->mac, r->mac, 6);
	q->head = q->tail = NONE;
	queue_level(ch, r->queue);
	if (r->flags & NC2_RXQ_FLAG_DEFAULT)
		ch->has_default = 1;
	/* A lone default queue without MAC or VLAN filter: steer() would
	 * pick it for every frame, so the send path skips steer(). */
	ch->nr_bq++;
	ch->steer_one = ch->nr_bq == 1 && (r->flags & NC2_RXQ_FLAG_DEFAULT) && r->vlan == 0 &&
				mac_eq(q->mac, zero_mac)
			    ? (uint8_t)(r->queue + 1u)
			    : 0;
	return NC2_OK;
}

static int on_returned(nc2_channel *ch, const nc2_msg *m)
{
	for (uint32_t i = 0; i < m->u.ret.count; i++) {
		uint32_t id = nc2_return_id(m, i), slot;
		int rc = nc2_bufid_take(ch->rxids, id, &slot);
		if (rc < 0)
			return rc;
		struct rxb *r = &ch->rxbs[ch->rx_slot_buf[slot]];
		ch->st.rx_buffers_posted--;
		ch->st.buffers_returned++;
		r->state = RXB_RETURNED;
		if (ch->state != NC2_CH_CLOSING)
			requeue_rxb(ch, ch->rx_slot_buf[slot]); /* the backend shed it */
	}
	return NC2_OK;
}

static int on_ungrant_ack(nc2_channel *ch, uint32_t gref)
{
	for (uint32_t i = 0; i < ch->nr_gpages; i++) {
		struct gpage *g = &ch->gpages[i];
		if (g->state == GP_UNGRANTING && g->gref == gref) {
			int rc = nc2_tp_revoke(ch->t, gref);
			if (rc == NC2_ERR_AGAIN)
				return NC2_ERR_PEER_GRANT; /* acked but still mapped */
			if (rc < 0)
				return rc;
			g->state = GP_REVOKED;
			ch->st.ungrants++;
			return NC2_OK;
		}
	}
	return NC2_ERR_PEER_BAD_ID;
}

static int on_mcast(nc2_channel *ch, const struct nc2_msg_mcast *mc)
{
	uint32_t i;
	for (i = 0; i < ch->nr_mcast; i++)
		if (memcmp(ch->mcast[i], mc->mac, 6) == 0)
			break;
	if (mc->op == NC2_MCAST_OP_ADD && i == ch->nr_mcast) {
		if (ch->nr_mcast == MCAST_CAP)
			return NC2_ERR_PEER_LIMIT;
		memcpy(ch->mcast[ch->nr_mcast++], mc->mac, 6);
	} else if (mc->op == NC2_MCAST_OP_DEL && i < ch->nr_mcast) {
		memcpy(ch->mcast[i], ch->mcast[--ch->nr_mcast], 6);
	}
	return NC2_OK;
}

/* Handle one decoded message: H_DONE, H_PACKET (delivered into rb), H_WAIT
 * (a reply queue is full: keep the message stashed) or a peer error. */

/* Every message but PACKET (see nc2_channel_poll()). Out of line: its many
 * cases save registers that the packet path does not need. */
NC2_SLOWPATH static int handle(nc2_channel *ch, const nc2_msg *m)
{
	int fe = is_fe(ch);

	if (!ch->got_hello && m->type != NC2_MSG_HELLO)
		return NC2_ERR_PEER_PROTO;
	switch (m->type) {
	case NC2_MSG_HELLO:
		return on_hello(ch, &m->u.hello);
	case NC2_MSG_FINISH_PACKET:
		if (cq_full(ch))
			return H_WAIT;
		return on_finish(ch, m->u.value);
	case NC2_MSG_FINISH_PACKETS:
		if (!(ch->features & NC2_FEATURE_FINISH_BATCH))
			return NC2_ERR_PEER_PROTO;
		/* Resumable: a full completion queue stops it mid-way. */
		for (; ch->stash_done < m->u.ret.count; ch->stash_done++) {
			if (cq_full(ch))
				return H_WAIT;
			int rc = on_finish(ch, nc2_get_le32(m->u.ret.ids + 4u * ch->stash_done));
			if (rc < 0)
				return rc;
		}
		ch->stash_done = 0;
		return H_DONE;
	case NC2_MSG_SET_MAX_PACKETS:
		if (ch->got_max_packets)
			return NC2_ERR_PEER_PROTO;
		ch->got_max_packets = 1;
		ch->peer_max_packets = m->u.value;
		return H_DONE;
	case NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET:
		ch->peer_max_frags = m->u.value;
		return H_DONE;
	case NC2_MSG_SET_OFFLOAD: {
		uint32_t bits = offload_bits(&m->u.offload);
		if (bits & ~offloads_allowed(ch->features))
			return NC2_ERR_PEER_OFFLOAD;
		if ((bits & NC2_OFFLOAD_LRO) && fe)
			return NC2_ERR_PEER_PROTO; /* only a frontend asks for LRO */
		ch->peer_offloads = bits;
		return H_DONE;
	}
	case NC2_MSG_POST_BUFFERS:
		return fe ? NC2_ERR_PEER_PROTO : on_post(ch, m);
	case NC2_MSG_RETURN_BUFFERS:
		return fe ? on_returned(ch, m) : NC2_ERR_PEER_PROTO;
	case NC2_MSG_CREATE_RX_QUEUE:
		return fe ? NC2_ERR_PEER_PROTO : on_rxq(ch, &m->u.rxq);
	case NC2_MSG_RECLAIM_BUFFERS:
		return fe ? NC2_ERR_PEER_PROTO : on_reclaim(ch, m->u.value);
	case NC2_MSG_SET_GRANT_CACHE:
		if (!fe || !(ch->features & NC2_FEATURE_STICKY))
			return NC2_ERR_PEER_PROTO;
		ch->peer_cache = m->u.value;
		return H_DONE;
	case NC2_MSG_UNGRANT: {
		if (fe || !(ch->features & NC2_FEATURE_STICKY))
			return NC2_ERR_PEER_PROTO;
		if (ch->ackq_len >= ACKQ_CAP)
			return H_WAIT;
		int rc = ch->gcache ? nc2_gcache_ungrant(ch->gcache, m->u.value) : 1;
		if (rc < 0)
			return rc;
		if (rc == 1)
			ch->ackq[ch->ackq_len++] = m->u.value;
		ch->st.ungrants++;
		return H_DONE;
	}
	case NC2_MSG_UNGRANT_ACK:
		if (!fe || !(ch->features & NC2_FEATURE_STICKY))
			return NC2_ERR_PEER_PROTO;
		return on_ungrant_ack(ch, m->u.value);
	case NC2_MSG_MCAST:
		if (fe || !(ch->features & NC2_FEATURE_MCAST))
			return NC2_ERR_PEER_PROTO;
		return on_mcast(ch, &m->u.mcast);
	default:
		/* BYPASS_* need the BYPASS feature, which v1 never offers. */
		return NC2_ERR_PEER_PROTO;
	}
}

static int check_usable(const nc2_channel *ch)
{
	if (ch->state == NC2_CH_FAILED)
		return ch->err;
	if (ch->state == NC2_CH_INIT)
		return NC2_ERR_STATE;
	return NC2_OK;
}

/* SMALL_PACKETS: each entry is checked and delivered as the small PACKET
 * it stands for; resumable when pkts run out. */
static int on_smalls(nc2_channel *ch, const nc2_msg *m, nc2_rxbuf *pkts, uint32_t n, uint32_t *got)
{
	if (!ch->got_hello || !(ch->features & NC2_FEATURE_SMALL_BATCH))
		return NC2_ERR_PEER_PROTO;
	uint32_t end = (uint32_t)m->size - NC2_SMALLS_OFF_ENTRIES;
	while (ch->stash_done < end) {
		if (*got >= n)
			return H_WAIT;
		nc2_small e;
		uint32_t next =
		    ch->stash_done + small_entry_get(m->u.smalls.entries + ch->stash_done, &e);
		int rc = small_rules(&e, &ch->rxlim);
		if (rc < 0)
			return rc;
		ch->stash_done = next;
		nc2_rxbuf *rb = &pkts[*got];
		if (e.len > rb->cap) {
			ch->st.drop_too_big++;
			continue;
		}
		rx_meta(rb, e.flags, e.csum_start, e.csum_offset, 0, 0, e.len);
		memcpy(rb->buf, e.data, e.len);
		ch->st.rx_small++;
		ch->st.rx_packets++;
		ch->st.rx_bytes += e.len;
		(*got)++;
	}
	ch->stash_done = 0;
	return H_DONE;
}

/* POSTED_PACKETS (frontend): each entry is checked and delivered as the
 * pre_posted PACKET of one fragment it stands for; resumable as above. */
static int on_posteds(nc2_channel *ch, const nc2_msg *m, nc2_rxbuf *pkts, uint32_t n, uint32_t *got)
{
	if (!ch->got_hello || !is_fe(ch) || !(ch->features & NC2_FEATURE_POSTED_BATCH))
		return NC2_ERR_PEER_PROTO;
	for (; ch->stash_done < m->u.posteds.count; ch->stash_done++) {
		if (*got >= n)
			return H_WAIT;
		nc2_posted e;
		posted_entry_get(m->u.posteds.entries + ch->stash_done * NC2_POSTED_ENT_SIZE, &e);
		int rc = posted_rules(&e, &ch->rxlim);
		if (rc < 0)
			return rc;
		nc2_rxbuf *rb = &pkts[*got];
		rx_meta(rb, e.flags, 0, 0, 0, 0, e.len);
		const nc2_frag f = {.ref = e.buf_id, .size = e.len};
		int lend = (rb->rx_flags & NC2_RXBUF_LEND) != 0;
		int fits = lend || e.len <= rb->cap;
		if ((rc = take_posted(ch, &f, rb, 0, lend, fits)) < 0)
			return rc;
		if (!fits) {
			ch->st.drop_too_big++;
			continue;
		}
		ch->st.rx_pre_posted++;
		ch->st.rx_packets++;
		ch->st.rx_bytes += e.len;
		(*got)++;
	}
	ch->stash_done = 0;
	return H_DONE;
}

int nc2_channel_poll(nc2_channel *ch, nc2_rxbuf *pkts, uint32_t n)
{
	if (ch == NULL || (n && pkts == NULL))
		return NC2_ERR_INVALID_ARG;
	int rc = check_usable(ch);
	if (rc < 0)
		return rc;
	uint32_t got = 0;
	for (;;) {
		const nc2_msg *m = &ch->stash_m;
		if (ch->stash_len == 0) {
			rc = nc2_ring_next(&ch->rx, ch->msg, ch->rx.max_msg);
			if (rc == NC2_ERR_AGAIN)
				break;
			if (rc < 0)
				return fail(ch, rc);
			ch->stash_len = (uint32_t)rc;
			ch->st.msgs_received++;
			rc = nc2_msg_decode(&ch->stash_m, ch->msg, ch->stash_len);
			if (rc < 0)
				return fail(ch, rc);
		}
		if (m->type == NC2_MSG_PACKET) {
			if (got >= n)
				break; /* no buffer left: the packet waits in the stash */
			rc = ch->got_hello ? on_packet(ch, m, &pkts[got]) : NC2_ERR_PEER_PROTO;
		} else if (m->type == NC2_MSG_SMALL_PACKETS || m->type == NC2_MSG_POSTED_PACKETS) {
			rc = m->type == NC2_MSG_SMALL_PACKETS ? on_smalls(ch, m, pkts, n, &got)
							      : on_posteds(ch, m, pkts, n, &got);
			if (rc == H_WAIT)
				break; /* no buffer left: the rest waits in the stash */
		} else {
			rc = handle(ch, m);
			if (rc == H_WAIT) {
				/* A reply queue is full: write replies out, then retry once. */
				rc = refill_soft(ch);
				if (rc == NC2_OK)
					rc = handle(ch, m);
				if (rc == H_WAIT)
					break;
			}
		}
		if (rc < 0)
			return fail(ch, rc);
		ch->stash_len = 0;
		if (rc == H_PACKET)
			got++;
	}
	rc = refill_soft(ch);
	if (rc < 0)
		return fail(ch, rc);
	maybe_closed(ch);
	return (int)got;
}

/* ---- sending ---------------------------------------------------------- */

/* Fill the fixed PACKET fields of \p pkt and check its offloads against
 * what the peer enabled (the same rules the peer will apply). */
static int tx_meta(const nc2_channel *ch, const nc2_pkt *pkt, struct nc2_msg_packet *p)
{
	if (pkt->flags & ~(uint32_t)(NC2_PACKET_FLAG_csum_blank | NC2_PACKET_FLAG_data_validated))
		return NC2_ERR_INVALID_ARG;
	if (pkt->len < NC2_MIN_PACKET_BYTES || pkt->len > NC2_MAX_PACKET_BYTES)
		return NC2_ERR_LIMIT;
	*p = (struct nc2_msg_packet){.flags = (uint8_t)pkt->flags,
				     .seg_type = pkt->seg_type,
				     .mss = pkt->mss,
				     .csum_start = pkt->csum_start,
				     .csum_offset = pkt->csum_offset};
	if (offload_none(p))
		return NC2_OK;
	int rc = nc2_offload_validate(p, ch->peer_offloads, pkt->len);
	if (rc == NC2_ERR_PEER_OFFLOAD)
		return NC2_ERR_UNSUPPORTED;
	return rc < 0 ? NC2_ERR_INVALID_ARG : NC2_OK;
}

/* Turn an open reservation into PAD so an aborted send leaves the ring valid. */
static void abandon(nc2_channel *ch, uint8_t *slot, uint32_t size)
{
	nc2_msg pad = {.type = NC2_MSG_PAD, .size = (uint16_t)size};
	nc2_msg_encode(&pad, slot, size);
	nc2_ring_commit(&ch->tx);
}

/* send_small(): the frame went into the SMALL_PACKETS message already on
 * the ring (no new message). */
#define SENT_APPENDED 3

/* Take \p esz octets for one more entry of the \p type batch still open on
 * the ring. \return where the caller writes the entry, or NULL when a new
 * message must be opened (none or another type open, count full, or no room
 * after it). */
static inline uint8_t *batch_entry(nc2_channel *ch, uint8_t type, uint32_t esz)
{
	uint32_t want = ch->batch_size - ch->batch_ring + esz;
	if (ch->batch == NULL || ch->batch_type != type || ch->batch_count >= 0xffffu)
		return NULL;
	if (want > ch->batch_room) {
		/* Asked here, not at open: a batch of one costs nothing
		 * extra. Again only when out of room (then it closes). */
		ch->batch_room = nc2_ring_extend_room(&ch->tx, ch->batch, ch->batch_ring);
		if (want > ch->batch_room)
			return NULL;
	}
	uint8_t *at = ch->batch + ch->batch_size;
	ch->batch_size += esz;
	ch->batch_count++;
	ring_prefetch(&ch->tx, want);
	return at;
}

/* The \p type message of one entry, \p size octets, just committed at
 * \p slot, stays open for more entries until batch_close(). */
static inline void batch_open(nc2_channel *ch, uint8_t type, uint8_t *slot, uint32_t size)
{
	ch->batch = slot;
	ch->batch_type = type;
	ch->batch_size = ch->batch_ring = size;
	ch->batch_count = 1;
	ch->batch_room = 0; /* asked at the first append */
}

/* Give back the last entry batch_entry() took, unwritten. */
static inline void batch_unentry(nc2_channel *ch, uint32_t esz)
{
	ch->batch_size -= esz;
	ch->batch_count--;
}

/* Append inline frame \p e (\p esz octets) to an open SMALL_PACKETS.
 * \return 1, or 0 when a new message must be opened. */
static inline int small_append(nc2_channel *ch, const nc2_small *e, uint32_t esz)
{
	uint8_t *at = batch_entry(ch, NC2_MSG_SMALL_PACKETS, esz);
	if (at == NULL)
		return 0;
	small_entry_put(at, e);
	ch->st.tx_small++;
	return 1;
}

/* Inline frames: with SMALL_BATCH, entries of a SMALL_PACKETS message that
 * grows until it is published; else one small PACKET each. */
static int send_small(nc2_channel *ch, const nc2_pkt *pkt, struct nc2_msg_packet *p, uint32_t size)
{
	uint8_t *slot;
	if ((ch->features & NC2_FEATURE_SMALL_BATCH) &&
	    p->seg_type == NC2_PACKET_SEGMENTATION_TYPE_none) {
		nc2_small e = {.len = (uint16_t)pkt->len,
			       .flags = p->flags,
			       .csum_start = p->csum_start,
			       .csum_offset = p->csum_offset,
			       .data = pkt->data};
		uint32_t esz = NC2_SMALL_ENT_SIZE(pkt->len);
		if (small_append(ch, &e, esz))
			return SENT_APPENDED;
		size = NC2_SMALLS_OFF_ENTRIES + esz;
		int rc = tx_reserve(ch, size, &slot);
		if (rc < 0)
			return rc;
		batch_hdr_put(slot, NC2_MSG_SMALL_PACKETS, size, 1);
		small_entry_put(slot + NC2_SMALLS_OFF_ENTRIES, &e);
		nc2_ring_commit(&ch->tx);
		batch_open(ch, NC2_MSG_SMALL_PACKETS, slot, size);
		ch->st.tx_small++;
		return NC2_OK;
	}
	p->type = NC2_PACKET_TYPE_small;
	p->prefix_size = (uint16_t)pkt->len;
	int rc = tx_reserve(ch, size, &slot);
	if (rc < 0)
		return rc;
	nc2_packet_encode(slot, size, p, NULL, pkt->data);
	nc2_ring_commit(&ch->tx);
	ch->st.tx_small++;
	return NC2_OK;
}

/* Payload granted page by page, FINISHed by the peer. The frontend puts the
 * header in its sticky pool (receiver_map), or, for a packet in tx_mem,
 * names the pages granted at connect; the backend defers the copy to the
 * frontend (receiver_copy) with a deadline. */
static int send_granted(nc2_channel *ch, const nc2_pkt *pkt, struct nc2_msg_packet *p)
{
	nc2_frag frags[TX_MAX_GRANTS + 1];
	uint32_t id, nf = 0;
	int fe = is_fe(ch);
	uintptr_t txm = (uintptr_t)ch->cfg.tx_mem, in = (uintptr_t)pkt->data - txm;
	int in_txm = fe && in < ch->cfg.tx_mem_len && pkt->len <= ch->cfg.tx_mem_len - in;
	int use_pool =
	    fe && !in_txm && (ch->features & NC2_FEATURE_STICKY) && ch->peer_max_frags >= 2;
	uint32_t h = use_pool ? (pkt->len < ch->cfg.hdr_copy ? pkt->len : ch->cfg.hdr_copy) : 0;

	uintptr_t a = (uintptr_t)(pkt->data + h), end = (uintptr_t)(pkt->data + pkt->len);
	uint32_t chunks =
	    end > a ? (uint32_t)(((end - 1) / NC2_PAGE_SIZE) - a / NC2_PAGE_SIZE) + 1 : 0;
	if (chunks > TX_MAX_GRANTS || chunks + (use_pool ? 1u : 0u) > ch->peer_max_frags ||
	    packet_msg_size(chunks + (use_pool ? 1u : 0u), 0) > ch->tx.max_msg)
		return NC2_ERR_LIMIT;
	if (nc2_bufid_in_flight(ch->txids) >= ch->peer_max_packets)
		return NC2_ERR_AGAIN;
	uint8_t *slot;
	uint32_t size = packet_msg_size(chunks + (use_pool ? 1u : 0u), 0);
	int rc = tx_reserve(ch, size, &slot);
	if (rc < 0)
		return rc;
	rc = nc2_bufid_alloc(ch->txids, &id);
	if (rc < 0) {
		abandon(ch, slot, size);
		return rc;
	}
	uint32_t idx = nc2_bufid_index(id);
	struct tx_slot *s = &ch->slots[idx];
	s->cookie = pkt->cookie;
	s->nr_grefs = 0;
	s->deferred = (uint8_t)!fe;
	s->expired = 0;
	s->deadline = ch->now + ch->cfg.deferred_timeout;
	if (use_pool) {
		uint32_t pg = idx / ch->pool_per_page,
			 off = (idx % ch->pool_per_page) * ch->pool_slot;
		memcpy(ch->gpages[pg].addr + off, pkt->data, h);
		frags[nf++] = (nc2_frag){.ref = ch->gpages[pg].gref,
					 .off = (uint16_t)off,
					 .size = (uint16_t)h,
					 .flags = NC2_FRAG_STICKY};
	}
	while (a < end) {
		uintptr_t page = a & ~(uintptr_t)(NC2_PAGE_SIZE - 1);
		uintptr_t stop = page + NC2_PAGE_SIZE < end ? page + NC2_PAGE_SIZE : end;
		nc2_frag *f = &frags[nf++];
		*f = (nc2_frag){.off = (uint16_t)(a - page), .size = (uint16_t)(stop - a)};
		if (in_txm) {
			const struct gpage *g =
			    &ch->gpages[ch->tx_gpage0 + (uint32_t)((page - txm) / NC2_PAGE_SIZE)];
			f->ref = g->gref;
			f->flags = g->sticky ? NC2_FRAG_STICKY : 0;
		} else {
			rc = nc2_tp_grant(ch->t, (void *)page, NC2_GNT_READONLY, &f->ref);
			if (rc < 0)
				goto undo;
			s->grefs[s->nr_grefs++] = f->ref;
		}
		a = stop;
	}
	p->type = fe ? NC2_PACKET_TYPE_receiver_map : NC2_PACKET_TYPE_receiver_copy;
	p->id = id;
	p->nr_frags = (uint16_t)nf;
	nc2_packet_encode(slot, size, p, frags, NULL);
	nc2_ring_commit(&ch->tx);
	if (fe)
		ch->st.tx_granted++;
	else
		ch->st.tx_deferred++;
	return 1; /* completes on FINISH_PACKET */
undo:
	while (s->nr_grefs)
		nc2_tp_revoke(ch->t, s->grefs[--s->nr_grefs]);
	nc2_bufid_free(ch->txids, id);
	abandon(ch, slot, size);
	return rc;
}

/* Backend: the queue for a frame, by destination MAC and VLAN. Group and
 * unmatched frames go to the default queue. Among matching queues, the
 * smallest class that holds the frame in one buffer wins; failing that the
 * largest class with buffers. */
static int steer(const nc2_channel *ch, const uint8_t *frame, uint32_t len)
{
	uint16_t vid = 0;
	int best = -1, big = -1, dflt = -1, matched = 0;

	if (len >= 16 && frame[12] == 0x81 && frame[13] == 0x00)
		vid = (uint16_t)(((frame[14] << 8) | frame[15]) & 0x0fff);
	for (uint32_t q = 0; q < ch->nr_rxq; q++) {
		const struct be_queue *bq = &ch->bq[q];
		if (!bq->exists)
			continue;
		if (bq->vlan && bq->vlan != vid)
			continue; /* VLAN test, the default queue's too */
		if (bq->flags & NC2_RXQ_FLAG_DEFAULT)
			dflt = (int)q;
		if ((frame[0] & 1) || mac_eq(bq->mac, zero_mac) || !mac_eq(bq->mac, frame))
			continue;
		matched = 1; /* a matching queue without buffers means drop */
		if (bq->count == 0)
			continue;
		if (bq->buf_size >= len && (best < 0 || bq->buf_size < ch->bq[best].buf_size))
			best = (int)q;
		if (big < 0 || bq->buf_size > ch->bq[big].buf_size)
			big = (int)q;
	}
	return best >= 0 ? best : big >= 0 ? big : matched ? -1 : dflt;
}

static uint32_t pop_posted(nc2_channel *ch, struct be_queue *q)
{
	uint32_t e = q->head;
	q->head = ch->posted[e].next;
	if (q->head == NONE)
		q->tail = NONE;
	q->count--;
	return e;
}

/* The \p n posted buffers first..last (linked, popped) went out: their
 * entries are free again. */
static inline void posted_used(nc2_channel *ch, uint32_t first, uint32_t last, uint32_t n)
{
	ch->posted[last].next = ch->posted_free;
	ch->posted_free = first;
	ch->posted_count -= n;
	ch->st.tx_pre_posted++;
}

/* Grant copies batched per call: enough for a 9000 B frame in 2 KiB
 * buffers; a larger frame takes more calls. */
#define POSTED_COPY_BATCH 8u

/* Backend: fill posted buffers and send a pre_posted packet. */
static NC2_INLINE int send_posted(nc2_channel *ch, const nc2_pkt *pkt, struct nc2_msg_packet *p)
{
	int qi = ch->steer_one ? ch->steer_one - 1 : steer(ch, pkt->data, pkt->len);
	if (qi < 0 || ch->bq[qi].count == 0) {
		ch->st.drop_no_buffer++;
		return 2;
	}
	struct be_queue *q = &ch->bq[qi];
	/* Buffers needed, by the length each was posted with (<= buf_size):
	 * usually the first holds the whole frame. */
	uint32_t n = 1, left = 0;
	if (ch->posted[q->head].len < pkt->len) {
		n = 0;
		left = pkt->len;
		for (uint32_t e = q->head; e != NONE && left && n <= NC2_MAX_FRAGS_LIMIT;
		     e = ch->posted[e].next, n++)
			left -= left < ch->posted[e].len ? left : ch->posted[e].len;
	}
	if (left && n <= NC2_MAX_FRAGS_LIMIT) {
		ch->st.drop_no_buffer++;
		return 2;
	}
	if (n > ch->peer_max_frags || n > NC2_MAX_FRAGS_LIMIT ||
	    packet_msg_size(n, 0) > ch->tx.max_msg)
		return NC2_ERR_LIMIT;
	/* A frame in one buffer without offload metadata is one entry of a
	 * POSTED_PACKETS batch: the open one (ent), else a new one. */
	int entry = n == 1 && (ch->features & NC2_FEATURE_POSTED_BATCH) && offload_none(p);
	uint8_t *slot = NULL, *ent = NULL;
	uint32_t size = 0;
	int rc;
	if (!entry ||
	    (ent = batch_entry(ch, NC2_MSG_POSTED_PACKETS, NC2_POSTED_ENT_SIZE)) == NULL) {
		size =
		    entry ? NC2_POSTEDS_OFF_ENTRIES + NC2_POSTED_ENT_SIZE : packet_msg_size(n, 0);
		if ((rc = tx_reserve(ch, size, &slot)) < 0)
			return rc;
	}

	nc2_frag frags[NC2_MAX_FRAGS_LIMIT];
	nc2_copy_op ops[POSTED_COPY_BATCH];
	/* The n buffers taken stay linked first..last in queue order
	 * (pop_posted() leaves their links alone): one splice frees them. */
	uint32_t first = q->head, last = first, nops = 0, at = 0;
	int bad = 0;
	for (uint32_t i = 0; i < n; i++) {
		last = pop_posted(ch, q);
		const struct posted *pe = &ch->posted[last];
		uint32_t len = pkt->len - at < pe->len ? pkt->len - at : pe->len;
		const uint8_t *src = pkt->data + at;
		frags[i] = (nc2_frag){.ref = pe->buf_id, .off = 0, .size = (uint16_t)len};
		at += len;
		if (bad)
			continue;
		if ((pe->flags & NC2_POST_FLAG_STICKY) && ch->gcache) {
			/* Map RX buffers only while the cache has room: evicting the
			 * header pool to save one grant copy is a bad trade. */
			rc = nc2_gcache_copy(ch->gcache, pe->gref, NC2_GCACHE_NOEVICT, pe->off,
					     (void *)(uintptr_t)src, len, 1);
			if (rc == NC2_ERR_PEER_GRANT)
				return fail(ch, rc);
			if (rc >= 0)
				continue;
			if (rc != NC2_ERR_AGAIN) {
				bad = 1;
				continue;
			}
		}
		if (nops == POSTED_COPY_BATCH) {
			rc = grant_copy(ch, ops, nops);
			nops = 0;
			/* A posted buffer must stay writable while it is posted. */
			if (rc == NC2_ERR_PEER_GRANT)
				return fail(ch, rc);
			if (rc < 0) {
				bad = 1;
				continue;
			}
		}
		ops[nops++] = (nc2_copy_op){.src = {.local = (void *)(uintptr_t)src},
					    .dst = {.gref = pe->gref, .offset = pe->off},
					    .len = (uint16_t)len};
	}
	queue_level(ch, (uint32_t)qi);
	if (nops && !bad) {
		rc = grant_copy(ch, ops, nops);
		if (rc == NC2_ERR_PEER_GRANT)
			return fail(ch, rc);
		if (rc < 0)
			bad = 1;
	}
	if (bad) {
		/* The copy itself failed: give the buffers back, count the drop. */
		if (ch->ret_tail == NONE)
			ch->ret_head = first;
		else
			ch->posted[ch->ret_tail].next = first;
		ch->ret_tail = last;
		ch->posted[last].next = NONE;
		ch->st.drop_copy_failed++;
		if (ent != NULL) /* the entry taken is not written: give it back */
			batch_unentry(ch, NC2_POSTED_ENT_SIZE);
		else
			abandon(ch, slot, size);
		return 2;
	}
	posted_used(ch, first, last, n);
	if (entry) {
		const nc2_posted e = {
		    .buf_id = frags[0].ref, .len = (uint16_t)pkt->len, .flags = p->flags};
		if (ent != NULL) {
			posted_entry_put(ent, &e);
			return SENT_APPENDED;
		}
		batch_hdr_put(slot, NC2_MSG_POSTED_PACKETS, size, 1);
		posted_entry_put(slot + NC2_POSTEDS_OFF_ENTRIES, &e);
		nc2_ring_commit(&ch->tx);
		batch_open(ch, NC2_MSG_POSTED_PACKETS, slot, size);
		return NC2_OK;
	}
	p->type = NC2_PACKET_TYPE_pre_posted;
	p->nr_frags = (uint16_t)n;
	nc2_packet_encode(slot, size, p, frags, NULL);
	nc2_ring_commit(&ch->tx);
	return NC2_OK;
}

/* Backend: the frame goes by deferred copy (receiver_copy), if the frontend
 * takes that; needs end_access: see nc2_channel_tick(). */
static inline int defers(const nc2_channel *ch, const nc2_pkt *pkt)
{
	return !is_fe(ch) && (pkt->tx_flags & NC2_PKT_GRANTABLE) &&
	       (ch->features & NC2_FEATURE_DEFERRED_COPY) && ch->cfg.deferred_timeout &&
	       ch->peer_max_packets && nc2_tp_has_end_access(ch->t);
}

/* Backend, most frames of a burst of large ones: \p pkt (no offload, longer
 * than an inline frame) into the head buffer of the only queue, through its
 * cached mapping, as one more entry of the POSTED_PACKETS open on the ring.
 * The outcome send_posted() would reach, without its general steps.
 * \return 1 if sent, 0 for the general path. */
static NC2_INLINE int posted_append(nc2_channel *ch, const nc2_pkt *pkt)
{
	if (ch->batch_type != NC2_MSG_POSTED_PACKETS || !ch->steer_one || defers(ch, pkt))
		return 0;
	uint32_t qi = ch->steer_one - 1u;
	struct be_queue *q = &ch->bq[qi];
	if (q->count == 0)
		return 0;
	uint32_t e = q->head;
	const struct posted *pe = &ch->posted[e];
	/* The buffer's length (at most a page, PROTOCOL.md 5.6) bounds the frame. */
	if (pe->len < pkt->len || !(pe->flags & NC2_POST_FLAG_STICKY) || ch->gcache == NULL)
		return 0;
	uint8_t *ent = batch_entry(ch, NC2_MSG_POSTED_PACKETS, NC2_POSTED_ENT_SIZE);
	if (ent == NULL)
		return 0;
	int rc = nc2_gcache_copy(ch->gcache, pe->gref, NC2_GCACHE_NOEVICT, pe->off,
				 (void *)(uintptr_t)pkt->data, pkt->len, 1);
	if (rc < 0) {
		/* send_posted() meets the same error and knows what it means. */
		batch_unentry(ch, NC2_POSTED_ENT_SIZE);
		return 0;
	}
	const nc2_posted en = {
	    .buf_id = pe->buf_id, .len = (uint16_t)pkt->len, .flags = (uint8_t)pkt->flags};
	posted_entry_put(ent, &en);
	pop_posted(ch, q);
	posted_used(ch, e, e, 1);
	queue_level(ch, qi);
	return 1;
}

/* A packet went out. The peer holds nothing of an inline or pre_posted one
 * (\p done); only the frontend reports those (its embedder waits for every
 * cookie). */
static inline void tx_counted(nc2_channel *ch, const nc2_pkt *pkt, int done)
{
	ch->st.tx_packets++;
	ch->st.tx_bytes += pkt->len;
	if (done && is_fe(ch))
		complete(ch, pkt->cookie);
}

int nc2_channel_send(nc2_channel *ch, const nc2_pkt *pkt)
{
	struct nc2_msg_packet p;

	if (ch == NULL || pkt == NULL || pkt->data == NULL)
		return NC2_ERR_INVALID_ARG;
	/* Most frames of a burst: no offload, appended to the batch already
	 * open (so connected, its feature on, settings sent): an inline frame
	 * to SMALL_PACKETS (the room check is the general path's), a backend's
	 * larger one to POSTED_PACKETS. Anything else takes the general path. */
	int rc;
	if (ch->batch != NULL && ch->state == NC2_CH_CONNECTED &&
	    pkt->len >= NC2_MIN_PACKET_BYTES &&
	    ((pkt->flags & ~(uint32_t)NC2_PACKET_FLAG_data_validated) | pkt->seg_type | pkt->mss |
	     pkt->csum_start | pkt->csum_offset) == 0) {
		if (pkt->len <= ch->cfg.small_max) {
			const nc2_small e = {.len = (uint16_t)pkt->len,
					     .flags = (uint8_t)pkt->flags,
					     .data = pkt->data};
			rc = cq_room(ch) && small_append(ch, &e, NC2_SMALL_ENT_SIZE(pkt->len));
		} else {
			rc = posted_append(ch, pkt);
		}
		if (rc) {
			tx_counted(ch, pkt, 1);
			return NC2_OK;
		}
	}
	rc = check_usable(ch);
	if (rc < 0)
		return rc;
	/* Until the peer's settings arrive there is nothing to send against. */
	if (ch->state == NC2_CH_CONNECTING ||
	    (ch->state == NC2_CH_CONNECTED && !ch->got_max_packets && is_fe(ch)))
		return NC2_ERR_AGAIN;
	if (ch->state != NC2_CH_CONNECTED)
		return NC2_ERR_STATE;
	/* Our settings must precede our first packet. */
	if (ch->settings_due) {
		if ((rc = refill(ch)) < 0 && rc != NC2_ERR_AGAIN)
			return fail(ch, rc);
		if (ch->settings_due)
			return NC2_ERR_AGAIN;
	}
	rc = tx_meta(ch, pkt, &p);
	if (rc < 0)
		return rc;
	if (!cq_room(ch))
		return NC2_ERR_AGAIN;

	/* Inline only if the PACKET fits the ring (M = size / 2 for small rings). */
	uint32_t small = packet_msg_size(0, pkt->len);
	if (pkt->len <= ch->cfg.small_max && small <= ch->tx.max_msg)
		rc = send_small(ch, pkt, &p, small);
	else if (is_fe(ch))
		rc = send_granted(ch, pkt, &p);
	else {
		/* Deferred copy when the frontend takes it, else its buffers. */
		rc = defers(ch, pkt) ? send_granted(ch, pkt, &p) : NC2_ERR_LIMIT;
		if (rc == NC2_ERR_LIMIT)
			rc = send_posted(ch, pkt, &p);
	}
	if (rc < 0)
		return rc == NC2_ERR_AGAIN || !nc2_is_peer_error(rc) ? rc : fail(ch, rc);
	if (rc == 2)
		return 1; /* dropped, counted; nothing written */
	if (rc == SENT_APPENDED)
		rc = NC2_OK;
	else
		ch->st.msgs_sent++;
	tx_counted(ch, pkt, rc == NC2_OK);
	return NC2_OK;
}

int nc2_channel_tx_done(nc2_channel *ch, uint64_t *cookies, uint32_t n)
{
	if (ch == NULL || (n && cookies == NULL))
		return NC2_ERR_INVALID_ARG;
	uint32_t k = 0;
	while (k < n && ch->cq_head != ch->cq_tail) {
		cookies[k++] = ch->cq[ch->cq_head & (ch->cq_cap - 1u)];
		ch->cq_head++;
	}
	return (int)k;
}

int nc2_channel_rx_release(nc2_channel *ch, const uint32_t *tokens, uint32_t n)
{
	if (ch == NULL || (n && tokens == NULL))
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t t = tokens[i];
		if (is_fe(ch)) {
			if (t >= ch->nr_rxbs || ch->rxbs[t].state != RXB_LENT)
				return NC2_ERR_INVALID_ARG;
			requeue_rxb(ch, t); /* posted by the next refill() */
			continue;
		}
		if (t >= ch->cfg.max_packets || !ch->lent[t].used)
			return NC2_ERR_INVALID_ARG;
		struct lent *l = &ch->lent[t];
		/* 1: an UNGRANT waited for this mapping; acked by refill(). */
		if (nc2_gcache_put(ch->gcache, l->gref) == 1)
			ack_due(ch, l->gref);
		ch->finq[ch->finq_len++] = l->id; /* room: finq_len + lent_count <= max */
		l->used = 0;
		l->next = ch->lent_free;
		ch->lent_free = t;
		ch->lent_count--;
	}
	return NC2_OK;
}

int nc2_channel_flush(nc2_channel *ch)
{
	if (ch == NULL)
		return NC2_ERR_INVALID_ARG;
	if (ch->state == NC2_CH_FAILED)
		return ch->err;
	int rc = refill_soft(ch);
	if (rc == NC2_OK)
		rc = batch_close(ch); /* published: closed for appending */
	if (rc < 0)
		return fail(ch, rc);
	int a = nc2_ring_push(&ch->tx);
	int b = nc2_ring_finish(&ch->rx);
	if (a < 0 || b < 0)
		return fail(ch, a < 0 ? a : b);
	ch->st.flushes++;
	if (a || b) {
		ch->st.notify_needed++;
		return 1;
	}
	ch->st.notify_suppressed++;
	return 0;
}

int nc2_channel_prepare_wait(nc2_channel *ch)
{
	if (ch == NULL)
		return NC2_ERR_INVALID_ARG;
	if (ch->state == NC2_CH_FAILED)
		return ch->err;
	if (ch->stash_len)
		return 1;
	/* Backend with LAZY_POSTS only: elsewhere low_queues stays 0. */
	if ((ch->low_queues != 0) != ch->rx.wake_lazy)
		nc2_ring_wake_lazy(&ch->rx, ch->low_queues != 0);
	int rc = nc2_ring_final_check(&ch->rx);
	return rc < 0 ? fail(ch, rc) : rc;
}

int nc2_channel_tick(nc2_channel *ch, uint64_t now)
{
	if (ch == NULL)
		return NC2_ERR_INVALID_ARG;
	if (ch->state == NC2_CH_FAILED)
		return ch->err;
	ch->now = now;
	if (is_fe(ch))
		return 0;
	uint32_t pos = 0, id, n = 0;
	while (nc2_bufid_next_in_flight(ch->txids, &pos, &id) == NC2_OK) {
		struct tx_slot *s = &ch->slots[nc2_bufid_index(id)];
		if (!s->deferred || s->expired || now < s->deadline)
			continue;
		/* End the frontend's access so the sender's memory is free again;
		 * the references stay allocated (not reusable) until FINISH, so a
		 * late copy fails instead of reading whatever is granted next. */
		for (uint32_t g = 0; g < s->nr_grefs; g++) {
			int rc = nc2_tp_end_access(ch->t, s->grefs[g]);
			if (rc == NC2_ERR_AGAIN)
				return fail(ch, NC2_ERR_PEER_GRANT); /* mapped a copy-only grant */
			if (rc < 0)
				return rc;
		}
		s->expired = 1;
		complete(ch, s->cookie);
		ch->st.drop_deferred_expired++;
		n++;
	}
	return (int)n;
}

int nc2_channel_set_cache_size(nc2_channel *ch, uint32_t entries)
{
	if (ch == NULL || is_fe(ch))
		return NC2_ERR_INVALID_ARG;
	int rc = check_usable(ch);
	if (rc < 0)
		return rc;
	if (entries > ch->cfg.gcache_entries)
		entries = ch->cfg.gcache_entries;
	if (ch->gcache) {
		rc = nc2_gcache_set_limit(ch->gcache, entries);
		if (rc < 0)
			return rc;
	}
	ch->cache_limit = entries;
	if (ch->got_hello && (ch->features & NC2_FEATURE_STICKY))
		ch->settings_due |= SET_CACHE_DUE;
	return refill_soft(ch);
}

/* ---- teardown ----------------------------------------------------------- */

static int gpages_settled(const nc2_channel *ch)
{
	for (uint32_t i = 0; i < ch->nr_gpages; i++)
		if (ch->gpages[i].state == GP_UNGRANTING)
			return 0;
	return 1;
}

/* CLOSING -> CLOSED once nothing is owed in either direction. */
static void maybe_closed(nc2_channel *ch)
{
	if (ch->state != NC2_CH_CLOSING || nc2_bufid_in_flight(ch->txids) || ch->finq_len ||
	    ch->ackq_len || ch->lent_count)
		return;
	if (is_fe(ch)) {
		if (ch->reclaim_due || ch->ungrants_due < ch->nr_gpages ||
		    nc2_bufid_in_flight(ch->rxids) || !gpages_settled(ch))
			return;
	} else if (ch->ret_head != NONE) {
		return;
	}
	ch->state = NC2_CH_CLOSED;
}

int nc2_channel_shutdown(nc2_channel *ch)
{
	if (ch == NULL)
		return NC2_ERR_INVALID_ARG;
	int rc = check_usable(ch);
	if (rc < 0)
		return rc;
	if (ch->state == NC2_CH_CLOSING || ch->state == NC2_CH_CLOSED)
		return NC2_OK;
	if (!ch->got_hello) {
		ch->state = NC2_CH_CLOSED; /* nothing was ever shared */
		return NC2_OK;
	}
	ch->state = NC2_CH_CLOSING;
	if (is_fe(ch)) {
		ch->reclaim_due = 1;
		ch->ungrants_due = 0;
	} else {
		for (uint32_t q = 0; q < NC2_MAX_RX_QUEUES; q++)
			if (ch->bq[q].exists)
				reclaim_queue(ch, q);
	}
	rc = refill_soft(ch);
	if (rc < 0)
		return fail(ch, rc);
	maybe_closed(ch);
	return NC2_OK;
}

int nc2_channel_fini(nc2_channel *ch)
{
	int first = NC2_OK;
	if (ch == NULL)
		return NC2_ERR_INVALID_ARG;
	/* Payload grants of packets never FINISHed. */
	uint32_t pos = 0, id;
	while (nc2_bufid_next_in_flight(ch->txids, &pos, &id) == NC2_OK) {
		struct tx_slot *s = &ch->slots[nc2_bufid_index(id)];
		while (s->nr_grefs) {
			int rc = nc2_tp_revoke(ch->t, s->grefs[s->nr_grefs - 1]);
			if (rc < 0) {
				if (first == NC2_OK)
					first = rc;
				break;
			}
			s->nr_grefs--;
		}
	}
	if (is_fe(ch)) {
		for (uint32_t i = 0; i < ch->nr_gpages; i++) {
			struct gpage *g = &ch->gpages[i];
			if (g->state != GP_GRANTED && g->state != GP_UNGRANTING)
				continue;
			/* NC2_ERR_AGAIN: the peer still maps it; call fini again later. */
			int rc = nc2_tp_revoke(ch->t, g->gref);
			if (rc < 0) {
				if (first == NC2_OK)
					first = rc;
				continue;
			}
			g->state = GP_REVOKED;
		}
	} else if (ch->gcache) {
		/* Packets still lent: their mappings go too (the caller is done). */
		for (uint32_t i = 0; ch->lent_count && i < ch->cfg.max_packets; i++)
			if (ch->lent[i].used && nc2_gcache_put(ch->gcache, ch->lent[i].gref) >= 0) {
				ch->lent[i].used = 0;
				ch->lent_count--;
			}
		int rc = nc2_gcache_flush(ch->gcache);
		if (rc < 0 && first == NC2_OK)
			first = rc;
	}
	return first;
}

enum nc2_channel_state nc2_channel_state(const nc2_channel *ch)
{
	return (enum nc2_channel_state)ch->state;
}

int nc2_channel_error(const nc2_channel *ch)
{
	return ch->state == NC2_CH_FAILED ? ch->err : NC2_OK;
}

void nc2_channel_get_stats(const nc2_channel *ch, nc2_channel_stats *s)
{
	*s = ch->st;
	s->tx_in_flight = nc2_bufid_in_flight(ch->txids);
	s->grants = ch->t->calls[NC2_TP_GRANT];
	s->revokes = ch->t->calls[NC2_TP_REVOKE];
	s->maps = ch->t->calls[NC2_TP_MAP];
	s->unmaps = ch->t->calls[NC2_TP_UNMAP];
	if (ch->gcache) {
		nc2_gcache_stats g;
		nc2_gcache_get_stats(ch->gcache, &g);
		s->cache_hits = g.hits;
		s->cache_misses = g.misses;
		s->cache_evictions = g.evictions;
	}
}

void nc2_channel_limits(const nc2_channel *ch, nc2_limits *rx, nc2_limits *tx)
{
	if (rx)
		rx_limits(ch, rx);
	if (tx) {
		tx->max_frags = ch->peer_max_frags;
		tx->max_packet_bytes = NC2_MAX_PACKET_BYTES;
		tx->offloads = ch->peer_offloads;
		tx->features = ch->features;
		tx->packet_types = 0;
	}
}
