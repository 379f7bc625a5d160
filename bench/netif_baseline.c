/* SPDX-License-Identifier: MIT */
/*
 * The netif baseline (see netif_baseline.h): Xen's public io/ring.h and
 * io/netif.h rings, driven the way mainline netfront/netback drive them,
 * over the nc2 transport.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Latest interface: ring.h then leaves xen_mb/xen_rmb/xen_wmb to us. */
#define __XEN_TOOLS__ 1
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/netif.h>

#include "netif_baseline.h"

/* The same primitives lib/barrier.h gives libnc2's ring: a full fence for
 * the event-index handshake, acquire/release for publishing indices. */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#define ETH_HLEN 14u
#define NO_ID    0xffffu

struct tx_slot { /* frontend: one TX request id in flight */
	uint64_t cookie;
	uint32_t gref;
	uint16_t next_free;
	uint8_t in_use;
	uint8_t last; /* last fragment: its response completes the packet */
};

struct rx_slot { /* frontend: one posted rx page */
	uint8_t *page;
	uint32_t gref; /* 0: not granted (being refilled) */
};

struct nb_front {
	nc2_transport *t;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	uint32_t ring_gref[2];
	struct tx_slot txs[NB_RING_SLOTS];
	uint32_t tx_free, tx_free_count; /* id freelist (netfront's tx_skb_freelist) */
	struct rx_slot rxs[NB_RING_SLOTS];
	uint16_t refill[NB_RING_SLOTS]; /* rx ids to re-post */
	uint32_t nr_refill;
	uint64_t tx_packets, rx_packets, tx_slots, rx_slots, notify_needed, errors;
};

struct nb_back {
	nc2_transport *t;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	nc2_map_op ring_map[2];
	uint64_t tx_packets, rx_packets, tx_slots, rx_slots, notify_needed, errors;
};

size_t nb_front_size(void)
{
	return sizeof(struct nb_front);
}

size_t nb_back_size(void)
{
	return sizeof(struct nb_back);
}

/* ring.h's size computation trips -Wconversion; keep it in one place. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
static void front_rings_init(nb_front *f, uint8_t *pages)
{
	netif_tx_sring_t *txs = (netif_tx_sring_t *)(void *)pages;
	netif_rx_sring_t *rxs = (netif_rx_sring_t *)(void *)(pages + NB_PAGE);
	XEN_FRONT_RING_INIT(&f->tx, txs, NB_PAGE);
	XEN_FRONT_RING_INIT(&f->rx, rxs, NB_PAGE);
}

static void back_rings_init(nb_back *b, void *tx_page, void *rx_page)
{
	BACK_RING_INIT(&b->tx, (netif_tx_sring_t *)tx_page, NB_PAGE);
	BACK_RING_INIT(&b->rx, (netif_rx_sring_t *)rx_page, NB_PAGE);
}
#pragma GCC diagnostic pop

/* ---- frontend ------------------------------------------------------------ */

static int rx_post(nb_front *f, uint16_t id)
{
	struct rx_slot *s = &f->rxs[id];
	int rc = nc2_tp_grant(f->t, s->page, 0, &s->gref);
	if (rc < 0) {
		s->gref = 0;
		return rc;
	}
	netif_rx_request_t *req = RING_GET_REQUEST(&f->rx, f->rx.req_prod_pvt);
	req->id = id;
	req->gref = s->gref;
	f->rx.req_prod_pvt++;
	return NC2_OK;
}

int nb_front_init(nb_front *f, nc2_transport *t, uint8_t *ring_pages, uint8_t *rx_pages,
		  uint32_t ring_gref[2])
{
	memset(f, 0, sizeof(*f));
	f->t = t;
	front_rings_init(f, ring_pages);
	if (RING_SIZE(&f->tx) != NB_RING_SLOTS || RING_SIZE(&f->rx) != NB_RING_SLOTS)
		return NC2_ERR_STATE;
	for (uint32_t i = 0; i < 2; i++) {
		int rc = nc2_tp_grant(t, ring_pages + (size_t)i * NB_PAGE, 0, &f->ring_gref[i]);
		if (rc < 0)
			return rc;
		ring_gref[i] = f->ring_gref[i];
	}
	for (uint32_t i = 0; i < NB_RING_SLOTS; i++) {
		f->txs[i].next_free = (uint16_t)(i + 1 < NB_RING_SLOTS ? i + 1 : NO_ID);
		f->rxs[i].page = rx_pages + (size_t)i * NB_PAGE;
	}
	f->tx_free = 0;
	f->tx_free_count = NB_RING_SLOTS;
	for (uint16_t i = 0; i < NB_RING_SLOTS; i++) {
		int rc = rx_post(f, i);
		if (rc < 0)
			return rc;
	}
	return NC2_OK;
}

static uint16_t tx_id_get(nb_front *f)
{
	uint16_t id = (uint16_t)f->tx_free;
	f->tx_free = f->txs[id].next_free;
	f->tx_free_count--;
	f->txs[id].in_use = 1;
	return id;
}

static void tx_id_put(nb_front *f, uint16_t id)
{
	f->txs[id].in_use = 0;
	f->txs[id].next_free = (uint16_t)f->tx_free;
	f->tx_free = id;
	f->tx_free_count++;
}

int nb_front_send(nb_front *f, const nc2_pkt *pkt)
{
	if (pkt->len < ETH_HLEN || pkt->len > XEN_NETIF_MAX_TX_SIZE)
		return NC2_ERR_LIMIT;
	uintptr_t a = (uintptr_t)pkt->data, end = a + pkt->len;
	uint32_t slots = (uint32_t)((end - 1) / NB_PAGE - a / NB_PAGE) + 1;
	if (slots > NB_MAX_SLOTS)
		return NC2_ERR_LIMIT;
	if (slots > RING_FREE_REQUESTS(&f->tx) || slots > f->tx_free_count)
		return NC2_ERR_AGAIN;

	RING_IDX prod = f->tx.req_prod_pvt;
	uint16_t ids[NB_MAX_SLOTS];
	for (uint32_t i = 0; a < end; i++) {
		uintptr_t page = a & ~(uintptr_t)(NB_PAGE - 1);
		uintptr_t stop = page + NB_PAGE < end ? page + NB_PAGE : end;
		uint16_t id = ids[i] = tx_id_get(f);
		struct tx_slot *s = &f->txs[id];
		int rc = nc2_tp_grant(f->t, (void *)page, NC2_GNT_READONLY, &s->gref);
		if (rc < 0) {
			tx_id_put(f, id);
			while (i--) {
				nc2_tp_revoke(f->t, f->txs[ids[i]].gref);
				tx_id_put(f, ids[i]);
			}
			return rc;
		}
		s->cookie = pkt->cookie;
		s->last = stop == end;
		netif_tx_request_t *req = RING_GET_REQUEST(&f->tx, prod + i);
		req->gref = s->gref;
		req->offset = (uint16_t)(a - page);
		req->id = id;
		/* First request: the whole packet; its own share is what the
		 * following requests leave over. */
		req->size = (uint16_t)(i == 0 ? pkt->len : stop - a);
		req->flags =
		    (uint16_t)((stop == end ? 0u : NETTXF_more_data) |
			       (i == 0 ? pkt->flags & (NETTXF_csum_blank | NETTXF_data_validated)
				       : 0u));
		a = stop;
	}
	f->tx.req_prod_pvt = prod + slots;
	f->tx_slots += slots;
	f->tx_packets++;
	return NC2_OK;
}

int nb_front_tx_done(nb_front *f, uint64_t *cookies, uint32_t n)
{
	uint32_t k = 0;
	for (;;) {
		RING_IDX prod = f->tx.sring->rsp_prod;
		xen_rmb(); /* responses after the index */
		if (RING_RESPONSE_PROD_OVERFLOW(&f->tx, prod))
			return NC2_ERR_PEER_RING_INDEX;
		RING_IDX cons = f->tx.rsp_cons;
		if (cons == prod)
			break;
		for (; cons != prod; cons++) {
			netif_tx_response_t rsp;
			RING_COPY_RESPONSE(&f->tx, cons, &rsp);
			if (rsp.id >= NB_RING_SLOTS || !f->txs[rsp.id].in_use)
				return NC2_ERR_PEER_BAD_ID;
			struct tx_slot *s = &f->txs[rsp.id];
			if (s->last && k >= n)
				break;
			if (rsp.status != NETIF_RSP_OKAY)
				f->errors++;
			/* netfront: gnttab_end_foreign_access_ref; a grant the
			 * backend still maps is a bug. */
			int rc = nc2_tp_revoke(f->t, s->gref);
			if (rc < 0)
				return rc == NC2_ERR_AGAIN ? NC2_ERR_PEER_GRANT : rc;
			if (s->last)
				cookies[k++] = s->cookie;
			tx_id_put(f, rsp.id);
		}
		f->tx.rsp_cons = cons;
		if (cons != prod)
			break; /* cookies full */
	}
	return (int)k;
}

int nb_front_rx_poll(nb_front *f, nc2_rxbuf *bufs, uint32_t n)
{
	uint32_t got = 0;
	int rc = NC2_OK;
	for (;;) {
		RING_IDX prod = f->rx.sring->rsp_prod;
		xen_rmb();
		if (RING_RESPONSE_PROD_OVERFLOW(&f->rx, prod))
			return NC2_ERR_PEER_RING_INDEX;
		RING_IDX cons = f->rx.rsp_cons;
		if (cons == prod || got >= n)
			break;
		while (cons != prod && got < n) {
			/* One packet: responses up to the one without more_data.
			 * The backend publishes whole packets. */
			nc2_rxbuf *rb = &bufs[got];
			netif_rx_response_t rsp;
			uint32_t at = 0, k = 0;
			int bad = 0;
			do {
				if (cons + k == prod || k >= NB_MAX_SLOTS)
					return NC2_ERR_PEER_BAD_FRAG;
				RING_COPY_RESPONSE(&f->rx, cons + k, &rsp);
				if (rsp.id >= NB_RING_SLOTS || f->rxs[rsp.id].gref == 0)
					return NC2_ERR_PEER_BAD_ID;
				struct rx_slot *s = &f->rxs[rsp.id];
				rc = nc2_tp_revoke(f->t, s->gref);
				if (rc < 0)
					return rc == NC2_ERR_AGAIN ? NC2_ERR_PEER_GRANT : rc;
				s->gref = 0;
				f->refill[f->nr_refill++] = rsp.id;
				int32_t status = rsp.status;
				uint32_t len = status < 0 ? 0 : (uint32_t)status;
				if (status < 0 || rsp.offset + len > NB_PAGE ||
				    at + len > rb->cap) {
					bad = 1;
				} else {
					memcpy(rb->buf + at, s->page + rsp.offset, len);
					at += len;
				}
				k++;
			} while (rsp.flags & NETRXF_more_data);
			cons += k;
			f->rx_slots += k;
			if (bad) {
				f->errors++;
				continue;
			}
			rb->len = at;
			rb->flags = 0;
			rb->csum_start = rb->csum_offset = 0;
			rb->seg_type = 0;
			rb->mss = 0;
			rb->queue = 0;
			got++;
			f->rx_packets++;
		}
		f->rx.rsp_cons = cons;
	}
	/* Re-post what was consumed (netfront: xennet_alloc_rx_buffers grants
	 * a page per request). */
	while (f->nr_refill) {
		rc = rx_post(f, f->refill[f->nr_refill - 1]);
		if (rc < 0)
			return rc;
		f->nr_refill--;
	}
	return (int)got;
}

int nb_front_flush(nb_front *f)
{
	int a = 0, b = 0;
	if (f->tx.req_prod_pvt != f->tx.sring->req_prod)
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->tx, a);
	if (f->rx.req_prod_pvt != f->rx.sring->req_prod)
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->rx, b);
	if (a || b)
		f->notify_needed++;
	return a || b;
}

int nb_front_prepare_wait(nb_front *f)
{
	unsigned int a, b;
	RING_FINAL_CHECK_FOR_RESPONSES(&f->tx, a);
	RING_FINAL_CHECK_FOR_RESPONSES(&f->rx, b);
	return a || b;
}

int nb_front_fini(nb_front *f)
{
	int first = NC2_OK, rc;
	for (uint32_t i = 0; i < NB_RING_SLOTS; i++) {
		if (f->txs[i].in_use) {
			if ((rc = nc2_tp_revoke(f->t, f->txs[i].gref)) < 0 && first == NC2_OK)
				first = rc;
			tx_id_put(f, (uint16_t)i);
		}
		if (f->rxs[i].gref) {
			if ((rc = nc2_tp_revoke(f->t, f->rxs[i].gref)) < 0 && first == NC2_OK)
				first = rc;
			f->rxs[i].gref = 0;
		}
	}
	for (uint32_t i = 0; i < 2; i++) {
		if (f->ring_gref[i] && (rc = nc2_tp_revoke(f->t, f->ring_gref[i])) < 0 &&
		    first == NC2_OK)
			first = rc;
		f->ring_gref[i] = 0;
	}
	return first;
}

void nb_front_stats(const nb_front *f, nb_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->tx_packets = f->tx_packets;
	s->rx_packets = f->rx_packets;
	s->tx_slots = f->tx_slots;
	s->rx_slots = f->rx_slots;
	s->notify_needed = f->notify_needed;
	s->errors = f->errors;
	s->grants = f->t->calls[NC2_TP_GRANT];
	s->revokes = f->t->calls[NC2_TP_REVOKE];
	s->maps = f->t->calls[NC2_TP_MAP];
	s->unmaps = f->t->calls[NC2_TP_UNMAP];
	s->copy_ops = f->t->calls[NC2_TP_COPY];
}

/* ---- backend ------------------------------------------------------------- */

int nb_back_init(nb_back *b, nc2_transport *t, const uint32_t ring_gref[2])
{
	memset(b, 0, sizeof(*b));
	b->t = t;
	b->ring_map[0] = (nc2_map_op){.gref = ring_gref[0]};
	b->ring_map[1] = (nc2_map_op){.gref = ring_gref[1]};
	int rc = nc2_tp_map(t, b->ring_map, 2);
	if (rc < 0)
		return rc;
	back_rings_init(b, b->ring_map[0].addr, b->ring_map[1].addr);
	if (RING_SIZE(&b->tx) != NB_RING_SLOTS || RING_SIZE(&b->rx) != NB_RING_SLOTS)
		return NC2_ERR_STATE;
	return NC2_OK;
}

/* Responses for the \p slots requests of one packet, in slot order. */
static void tx_respond(nb_back *b, const netif_tx_request_t *req, uint32_t slots, int16_t status)
{
	for (uint32_t i = 0; i < slots; i++) {
		netif_tx_response_t *rsp = RING_GET_RESPONSE(&b->tx, b->tx.rsp_prod_pvt);
		rsp->id = req[i].id;
		rsp->status = status;
		b->tx.rsp_prod_pvt++;
	}
}

int nb_back_tx_poll(nb_back *b, nc2_rxbuf *bufs, uint32_t n)
{
	uint32_t got = 0;
	while (got < n) {
		RING_IDX prod = b->tx.sring->req_prod;
		xen_rmb(); /* requests after the index */
		if (RING_REQUEST_PROD_OVERFLOW(&b->tx, prod))
			return NC2_ERR_PEER_RING_INDEX;
		RING_IDX cons = b->tx.req_cons;
		uint32_t avail = prod - cons;
		if (avail == 0)
			break;

		/* xenvif_count_requests: a whole packet must be on the ring,
		 * within the slot limit, sizes consistent, fragments inside
		 * their page. Violations are fatal, as in netback. */
		netif_tx_request_t req[NB_MAX_SLOTS];
		uint16_t len[NB_MAX_SLOTS];
		RING_COPY_REQUEST(&b->tx, cons, &req[0]);
		if (req[0].flags & NETTXF_extra_info)
			return NC2_ERR_PEER_PROTO; /* never sent by this frontend */
		uint32_t slots = 1, rest = req[0].size;
		while (req[slots - 1].flags & NETTXF_more_data) {
			if (slots >= avail || slots >= NB_MAX_SLOTS)
				return NC2_ERR_PEER_LIMIT;
			RING_COPY_REQUEST(&b->tx, cons + slots, &req[slots]);
			if (req[slots].size > rest)
				return NC2_ERR_PEER_BAD_FRAG;
			rest -= req[slots].size;
			len[slots] = req[slots].size;
			slots++;
		}
		len[0] = (uint16_t)rest;
		for (uint32_t i = 0; i < slots; i++)
			if ((uint32_t)req[i].offset + len[i] > NB_PAGE)
				return NC2_ERR_PEER_BAD_FRAG;
		b->tx.req_cons = cons + slots;
		b->tx_slots += slots;

		nc2_rxbuf *rb = &bufs[got];
		if (req[0].size < ETH_HLEN || req[0].size > rb->cap) {
			b->errors++;
			tx_respond(b, req, slots, NETIF_RSP_ERROR);
			continue;
		}
		/* One batch of maps for the packet's fragments (netback's gop
		 * batching), copy, one batch of unmaps: no mapping cache. */
		nc2_map_op ops[NB_MAX_SLOTS];
		for (uint32_t i = 0; i < slots; i++)
			ops[i] = (nc2_map_op){.gref = req[i].gref, .flags = NC2_GNT_READONLY};
		int rc = nc2_tp_map(b->t, ops, slots);
		uint32_t at = 0, mapped = 0;
		for (uint32_t i = 0; i < slots; i++) {
			if (ops[i].status != NC2_OK)
				continue;
			if (rc == NC2_OK)
				memcpy(rb->buf + at, (const uint8_t *)ops[i].addr + req[i].offset,
				       len[i]);
			at += len[i];
			ops[mapped++] = ops[i];
		}
		if (mapped)
			nc2_tp_unmap(b->t, ops, mapped);
		if (rc != NC2_OK) {
			b->errors++;
			tx_respond(b, req, slots, NETIF_RSP_ERROR);
			continue;
		}
		tx_respond(b, req, slots, NETIF_RSP_OKAY);
		rb->len = at;
		rb->flags = 0;
		rb->csum_start = rb->csum_offset = 0;
		rb->seg_type = 0;
		rb->mss = 0;
		rb->queue = 0;
		got++;
		b->tx_packets++;
	}
	return (int)got;
}

int nb_back_rx_send(nb_back *b, const nc2_pkt *pkt)
{
	uint32_t needed = (pkt->len + NB_PAGE - 1) / NB_PAGE;
	if (pkt->len < ETH_HLEN || needed > NB_MAX_SLOTS)
		return NC2_ERR_LIMIT;
	/* xenvif_rx_ring_slots_available: enough requests, or arm req_event
	 * for the number still missing. */
	for (;;) {
		RING_IDX prod = b->rx.sring->req_prod;
		xen_rmb();
		if (RING_REQUEST_PROD_OVERFLOW(&b->rx, prod))
			return NC2_ERR_PEER_RING_INDEX;
		if (prod - b->rx.req_cons >= needed)
			break;
		b->rx.sring->req_event = b->rx.req_cons + needed;
		xen_mb();
		if (b->rx.sring->req_prod == prod)
			return NC2_ERR_AGAIN;
	}
	RING_IDX cons = b->rx.req_cons;
	nc2_copy_op ops[NB_MAX_SLOTS];
	uint16_t ids[NB_MAX_SLOTS];
	uint32_t at = 0;
	for (uint32_t i = 0; i < needed; i++) {
		netif_rx_request_t req;
		RING_COPY_REQUEST(&b->rx, cons + i, &req);
		uint32_t l = pkt->len - at < NB_PAGE ? pkt->len - at : NB_PAGE;
		ids[i] = req.id;
		ops[i] = (nc2_copy_op){
		    .src = {.local = (void *)(uintptr_t)(pkt->data + at)},
		    .dst = {.gref = req.gref, .offset = 0},
		    .len = (uint16_t)l,
		};
		at += l;
	}
	b->rx.req_cons = cons + needed;
	int rc = nc2_tp_copy(b->t, ops, needed);
	for (uint32_t i = 0; i < needed; i++) {
		netif_rx_response_t *rsp = RING_GET_RESPONSE(&b->rx, b->rx.rsp_prod_pvt);
		rsp->id = ids[i];
		rsp->offset = 0;
		rsp->flags = (uint16_t)(i + 1 < needed ? NETRXF_more_data : 0u);
		rsp->status = (int16_t)(ops[i].status == NC2_OK ? ops[i].len : NETIF_RSP_ERROR);
		b->rx.rsp_prod_pvt++;
	}
	b->rx_slots += needed;
	if (rc != NC2_OK) {
		b->errors++;
		return rc;
	}
	b->rx_packets++;
	return NC2_OK;
}

int nb_back_flush(nb_back *b)
{
	int x = 0, y = 0;
	if (b->tx.rsp_prod_pvt != b->tx.sring->rsp_prod)
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->tx, x);
	if (b->rx.rsp_prod_pvt != b->rx.sring->rsp_prod)
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->rx, y);
	if (x || y)
		b->notify_needed++;
	return x || y;
}

int nb_back_prepare_wait(nb_back *b)
{
	unsigned int work;
	RING_FINAL_CHECK_FOR_REQUESTS(&b->tx, work);
	return work != 0;
}

int nb_back_fini(nb_back *b)
{
	if (b->ring_map[0].addr == NULL)
		return NC2_OK;
	int rc = nc2_tp_unmap(b->t, b->ring_map, 2);
	b->ring_map[0].addr = b->ring_map[1].addr = NULL;
	return rc;
}

void nb_back_stats(const nb_back *b, nb_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->tx_packets = b->tx_packets;
	s->rx_packets = b->rx_packets;
	s->tx_slots = b->tx_slots;
	s->rx_slots = b->rx_slots;
	s->notify_needed = b->notify_needed;
	s->errors = b->errors;
	s->grants = b->t->calls[NC2_TP_GRANT];
	s->revokes = b->t->calls[NC2_TP_REVOKE];
	s->maps = b->t->calls[NC2_TP_MAP];
	s->unmaps = b->t->calls[NC2_TP_UNMAP];
	s->copy_ops = b->t->calls[NC2_TP_COPY];
}
