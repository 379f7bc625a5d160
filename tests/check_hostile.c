/* SPDX-License-Identifier: MIT */
/*
 * Hostile peers: the test plays one end by hand, writing raw octets and
 * indices into the shared ring pair, and drives the real channel on the
 * other end. Every protocol violation must fail the channel with the exact
 * error; the failure must be sticky (every later call returns it, nothing
 * more is read or written on the rings), and fini must release everything.
 * Then a fixed-seed randomized peer mixes garbage, raw indices and valid
 * messages with one mutated field.
 *
 * Tests marked BUG document a defect in lib/channel.c and fail until fixed.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nc2/channel.h>
#include <nc2/loopback.h>

#include "chan_harness.h"
#include "testutil.h"

#define HMAX_BUFS  2048u
#define HMAX_IDS   256u
#define HMAX_GRANT 64u

typedef struct hbuf {
	uint32_t id, gref;
	uint16_t off, len;
	uint8_t queue, live;
} hbuf;

/* One hand-played end facing one real channel. */
typedef struct hostile {
	ch_pair *p;
	int real; /* CH_FE or CH_BE: the side with a channel */
	int hand; /* the other one */
	raw_ring tx, rx;
	uint8_t m[NC2_MSG_MAX_SIZE];
	int rx_broken; /* the real side's ring stopped making sense (hostile grants) */
	/* what the real frontend posted (hand backend) */
	hbuf bufs[HMAX_BUFS];
	uint32_t nbufs;
	/* pre_posted frames seen (PACKET or POSTED_PACKETS entry), the last one's size */
	uint32_t pp_total, pp_nfrags, pp_count;
	uint32_t pkt_ids[HMAX_IDS], npkt; /* receiver_map/copy ids the real side sent */
	uint32_t ungrants[HMAX_IDS], nungrant;
	uint32_t finishes[HMAX_IDS], nfinish; /* FINISHes the real side sent */
	/* hand frontend's view of the negotiation */
	uint32_t features, nq, qmask, has_default, qsize[8];
	/* grants the hand frontend made of its own pages */
	uint32_t grefs[HMAX_GRANT], ngrefs;
	uint8_t *gpage[HMAX_GRANT];
} hostile;

static hostile *H; /* the test's fixture (one per forked test) */

static nc2_channel *hch(void)
{
	return H->p->side[H->real].ch;
}

/* Read whatever the real side published; keep what a peer would need. */
static void h_drain(void)
{
	hostile *h = H;
	for (;;) {
		uint32_t prod = raw_shared_prod(&h->rx);
		if (h->rx_broken || h->rx.cons == prod)
			break;
		uint32_t pos = h->rx.cons & (h->rx.size - 1);
		uint32_t size = tu_get16(h->rx.payload + pos + 2);
		if (size < 8 || size % 8 || size > prod - h->rx.cons || pos + size > h->rx.size) {
			h->rx_broken = 1; /* only with hostile grants into the rings */
			break;
		}
		memcpy(h->m, h->rx.payload + pos, size);
		h->rx.cons += size;
		if (h->m[0] == NC2_MSG_PAD)
			continue;
		nc2_msg m;
		if (nc2_msg_decode(&m, h->m, size) != NC2_OK) {
			h->rx_broken = 1;
			break;
		}
		if (m.type == NC2_MSG_POST_BUFFERS) {
			for (uint32_t i = 0; i < m.u.post.count && h->nbufs < HMAX_BUFS; i++) {
				nc2_post_buf b;
				nc2_post_entry(&m, i, &b);
				h->bufs[h->nbufs++] = (hbuf){.id = b.buf_id,
							     .gref = b.gref,
							     .off = b.offset,
							     .len = b.length,
							     .queue = m.u.post.queue,
							     .live = 1};
			}
		} else if (m.type == NC2_MSG_PACKET &&
			   m.u.packet.type == NC2_PACKET_TYPE_pre_posted) {
			h->pp_count++;
			h->pp_nfrags = m.u.packet.nr_frags;
			h->pp_total = m.u.packet.prefix_size;
			for (uint32_t i = 0; i < m.u.packet.nr_frags; i++) {
				nc2_frag f;
				nc2_packet_frag(&m, i, &f);
				h->pp_total += f.size;
			}
		} else if (m.type == NC2_MSG_POSTED_PACKETS) {
			for (uint32_t i = 0; i < m.u.posteds.count; i++) {
				nc2_posted e;
				nc2_posted_entry(&m, i, &e);
				h->pp_count++;
				h->pp_nfrags = 1;
				h->pp_total = e.len;
			}
		} else if (m.type == NC2_MSG_PACKET && m.u.packet.id && h->npkt < HMAX_IDS) {
			h->pkt_ids[h->npkt++] = m.u.packet.id;
		} else if (m.type == NC2_MSG_UNGRANT && h->nungrant < HMAX_IDS) {
			h->ungrants[h->nungrant++] = m.u.value;
		} else if (m.type == NC2_MSG_FINISH_PACKET && h->nfinish < HMAX_IDS) {
			h->finishes[h->nfinish++] = m.u.value;
		} else if (m.type == NC2_MSG_FINISH_PACKETS) {
			for (uint32_t i = 0; i < m.u.ret.count && h->nfinish < HMAX_IDS; i++)
				h->finishes[h->nfinish++] = nc2_return_id(&m, i);
		}
	}
	raw_consume_publish(&h->rx);
}

static void h_send(const uint8_t *msg, uint32_t len)
{
	raw_send(&H->tx, msg, len);
}

static void h_u32(uint8_t type, uint32_t v)
{
	uint8_t b[8];
	raw_u32(b, type, v);
	h_send(b, 8);
}

static int h_poll(void)
{
	ch_side *d = &H->p->side[H->real];
	return nc2_channel_poll(d->ch, d->rx, CH_BURST);
}

static int h_flush(void)
{
	int rc = nc2_channel_flush(hch());
	h_drain();
	return rc;
}

/* Poll until the real side has nothing more to say; must stay healthy. */
static void h_settle(void)
{
	for (int i = 0; i < 8; i++) {
		int rc = h_poll();
		ck_assert_msg(rc >= 0, "settle: poll %s (%d)", nc2_strerror(rc), rc);
		rc = h_flush();
		ck_assert_msg(rc >= 0, "settle: flush %s (%d)", nc2_strerror(rc), rc);
	}
}

/* A hand frontend facing a real backend. Hand HELLO only if hello. */
static void hf_new(const nc2_channel_config *bcfg, uint32_t order, uint32_t features,
		   uint16_t queues, int hello)
{
	H = calloc(1, sizeof(*H));
	ck_assert_ptr_nonnull(H);
	H->p = ch_pair_new(NULL, bcfg, order, 4, 1);
	H->real = CH_BE;
	H->hand = CH_FE;
	H->features = features;
	H->nq = queues;
	raw_attach(&H->tx, &H->p->fview, 0);
	raw_attach(&H->rx, &H->p->fview, 1);
	ck_assert_int_eq(nc2_channel_connect(hch()), NC2_OK);
	ck_assert_int_ge(h_flush(), 0);
	if (hello) {
		uint8_t b[16];
		h_send(b, raw_hello(b, 1, 1, features, queues));
		h_u32(NC2_MSG_SET_MAX_PACKETS, 64);
		h_u32(NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET, 18);
		h_send(b, raw_offload(b, 0, 0, 0, 0));
		h_settle();
		ck_assert_int_eq(nc2_channel_state(hch()), NC2_CH_CONNECTED);
	}
}

static void hf_default(void)
{
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	hf_new(&b, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 4, 1);
}

/* A hand backend facing a real frontend; HELLO and settings if hello. */
static void hb_new(const nc2_channel_config *fcfg, uint32_t order, uint32_t features, int hello)
{
	H = calloc(1, sizeof(*H));
	ck_assert_ptr_nonnull(H);
	H->p = ch_pair_new(fcfg, NULL, order, 16, 1);
	H->real = CH_FE;
	H->hand = CH_BE;
	H->features = features;
	raw_attach(&H->tx, &H->p->fview, 1);
	raw_attach(&H->rx, &H->p->fview, 0);
	ck_assert_int_eq(nc2_channel_connect(hch()), NC2_OK);
	ck_assert_int_ge(h_flush(), 0);
	if (hello) {
		uint8_t b[16];
		h_send(b, raw_hello(b, 1, 1, features, 8));
		h_u32(NC2_MSG_SET_MAX_PACKETS, 256);
		h_u32(NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET, 18);
		h_send(b, raw_offload(b, (features & NC2_FEATURE_CSUM) ? 1 : 0, 0, 0, 0));
		if (features & NC2_FEATURE_STICKY)
			h_u32(NC2_MSG_SET_GRANT_CACHE, 64);
		h_settle();
		ck_assert_int_eq(nc2_channel_state(hch()), NC2_CH_CONNECTED);
	}
}

static void hb_default(void)
{
	nc2_channel_config f;
	nc2_channel_config_default(&f, NC2_ROLE_FRONTEND);
	f.rxq[0].nr_bufs = 32;
	hb_new(&f, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS & ~NC2_FEATURE_LRO, 1);
	ck_assert_uint_eq(H->nbufs, 32);
}

/* A page of the hand frontend's own memory, granted to the backend. */
static uint32_t hf_grant(uint32_t flags)
{
	hostile *h = H;
	ck_assert_uint_lt(h->ngrefs, HMAX_GRANT);
	uint8_t *page =
	    h->p->fe_ram + (size_t)(h->p->ring_pages + h->ngrefs) * CH_PAGE; /* grant area */
	uint32_t gref;
	ck_assert_int_eq(nc2_tp_grant(&h->p->side[CH_FE].lo, page, flags, &gref), NC2_OK);
	h->gpage[h->ngrefs] = page;
	h->grefs[h->ngrefs++] = gref;
	return gref;
}

/* Release everything; fini (retried), teardown, no leaks. */
static void h_free(void)
{
	hostile *h = H;
	/* Backend first: its mappings of the hand frontend's pages go. */
	if (h->real == CH_BE) {
		ch_fini_side(h->p, CH_BE);
		for (uint32_t i = 0; i < h->ngrefs; i++)
			ck_assert_int_eq(nc2_tp_revoke(&h->p->side[CH_FE].lo, h->grefs[i]), NC2_OK);
	}
	int leaks = ch_pair_free(h->p);
	ck_assert_int_eq(leaks, 0);
	free(h);
	H = NULL;
}

/* The failure is exact and sticky: every call returns it, nothing more is
 * read from or written to the rings; then everything is released. */
static void h_expect_failed(int err)
{
	nc2_channel *ch = hch();
	ck_assert_msg(nc2_channel_state(ch) == NC2_CH_FAILED, "state %d, want FAILED",
		      nc2_channel_state(ch));
	ck_assert_int_eq(nc2_channel_error(ch), err);
	const char *txt = nc2_strerror(err);
	ck_assert_ptr_nonnull(txt);
	ck_assert_uint_gt(strlen(txt), 0);
	ck_assert_str_ne(txt, nc2_strerror(-12345));

	nc2_channel_stats st0;
	nc2_channel_get_stats(ch, &st0);
	uint32_t my_prod = raw_shared_prod(&H->rx), my_cons = raw_shared_cons(&H->tx);
	uint32_t peer_prod = raw_shared_prod(&H->tx);
	/* More valid input from the peer must not be looked at. */
	if (peer_prod - raw_shared_cons(&H->tx) <= H->tx.size - 16 && H->tx.prod == peer_prod) {
		uint8_t b[8];
		raw_u32(b, NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET, 4);
		raw_send(&H->tx, b, 8);
	}
	uint8_t frame[64];
	memset(frame, 0xab, sizeof(frame));
	nc2_pkt pkt = {.data = frame, .len = 60};
	ck_assert_int_eq(nc2_channel_poll(ch, NULL, 0), err);
	ck_assert_int_eq(h_poll(), err);
	ck_assert_int_eq(nc2_channel_send(ch, &pkt), err);
	ck_assert_int_eq(nc2_channel_flush(ch), err);
	ck_assert_int_eq(nc2_channel_prepare_wait(ch), err);
	ck_assert_int_eq(nc2_channel_shutdown(ch), err);
	ck_assert_int_eq(nc2_channel_connect(ch), err);
	ck_assert_int_eq(nc2_channel_tick(ch, 1000000), err);
	if (H->real == CH_BE)
		ck_assert_int_eq(nc2_channel_set_cache_size(ch, 1), err);
	ck_assert_int_eq(h_poll(), err);
	ck_assert_int_eq(nc2_channel_state(ch), NC2_CH_FAILED);
	ck_assert_int_eq(nc2_channel_error(ch), err);
	nc2_channel_stats st1;
	nc2_channel_get_stats(ch, &st1);
	ck_assert_uint_eq(st1.msgs_received, st0.msgs_received);
	ck_assert_uint_eq(st1.msgs_sent, st0.msgs_sent);
	ck_assert_uint_eq(raw_shared_prod(&H->rx), my_prod);
	ck_assert_uint_eq(raw_shared_cons(&H->tx), my_cons);
	h_free();
}

/* Poll once: must fail with exactly err, stickily. */
static void h_poll_fails(int err)
{
	int rc = h_poll();
	ck_assert_msg(rc == err, "poll: got %s (%d), want %s (%d)", nc2_strerror(rc), rc,
		      nc2_strerror(err), err);
	h_expect_failed(err);
}

static uint32_t pkt_small(uint8_t *b, uint32_t id, uint8_t flags, uint16_t len)
{
	uint8_t frame[256];
	memset(frame, 0x5a, sizeof(frame));
	memset(frame, 0xff, 6);
	return (uint32_t)tu_build_packet(b, id, NC2_PACKET_TYPE_small, flags, 0, len, 0, 0, 0, NULL,
					 0, frame);
}

static uint32_t pkt_frags(uint8_t *b, uint8_t type, uint32_t id, const nc2_frag *f, uint32_t n)
{
	return (uint32_t)tu_build_packet(b, id, type, 0, 0, 0, 0, 0, 0, f, n, NULL);
}

/* ======================================================================== */
/* Ring-level violations (hand frontend, real backend)                      */
/* ======================================================================== */

START_TEST(test_prod_far_ahead)
{
	hf_default();
	tu_put32(H->tx.ctrl + NC2_RING_OFF_PROD, raw_shared_cons(&H->tx) + H->tx.size + 8);
	h_poll_fails(NC2_ERR_PEER_RING_INDEX);
}
END_TEST

/* The channel fails while a SMALL_PACKETS message it is still growing sits
 * unpublished on its ring: a send after that must report the failure, not
 * append to the batch (nc2_channel_send's append path). */
START_TEST(test_prod_far_ahead_batch_open)
{
	hf_default();
	uint8_t frame[64];
	memset(frame, 0xab, sizeof(frame));
	nc2_pkt pkt = {.data = frame, .len = 60};
	ck_assert_int_eq(nc2_channel_send(hch(), &pkt), NC2_OK); /* opens the batch */
	ck_assert_int_eq(nc2_channel_send(hch(), &pkt), NC2_OK); /* appends to it */
	tu_put32(H->tx.ctrl + NC2_RING_OFF_PROD, raw_shared_cons(&H->tx) + H->tx.size + 8);
	h_poll_fails(NC2_ERR_PEER_RING_INDEX);
}
END_TEST

START_TEST(test_prod_unaligned)
{
	hf_default();
	tu_put32(H->tx.ctrl + NC2_RING_OFF_PROD, H->tx.prod + 4);
	h_poll_fails(NC2_ERR_PEER_RING_INDEX);
}
END_TEST

START_TEST(test_prod_backwards)
{
	hf_default();
	tu_put32(H->tx.ctrl + NC2_RING_OFF_PROD, H->tx.prod - 8);
	h_poll_fails(NC2_ERR_PEER_RING_INDEX);
}
END_TEST

/* Header sizes 0, 4, 12; more than was published; more than M (2048 for
 * a 4096 ring); running past the end of the ring. */
START_TEST(test_msg_size)
{
	hf_default();
	raw_ring *r = &H->tx;
	uint8_t *slot = r->payload + (r->prod & (r->size - 1));
	uint32_t publish = 8;
	switch (_i) {
	case 0:
	case 1:
	case 2: {
		static const uint16_t sz[] = {0, 4, 12};
		memset(slot, 0, 16);
		slot[0] = NC2_MSG_SET_MAX_PACKETS;
		tu_put16(slot + 2, sz[_i]);
		publish = 16;
		break;
	}
	case 3:
		raw_u32(slot, NC2_MSG_FINISH_PACKET, 1);
		tu_put16(slot + 2, 64); /* only 16 published */
		publish = 16;
		break;
	case 4:
		memset(slot, 0, 2056);
		slot[0] = NC2_MSG_PAD;
		tu_put16(slot + 2, 2056);
		publish = 2056;
		break;
	case 5: {
		/* Move to 16 octets before the end, then claim 24. */
		while ((r->prod & (r->size - 1)) != r->size - 16) {
			uint8_t pad[8] = {NC2_MSG_PAD, 0, 8, 0};
			raw_put(r, pad, 8);
		}
		raw_publish(r);
		ck_assert_int_ge(h_poll(), 0);
		ck_assert_int_ge(h_flush(), 0);
		slot = r->payload + (r->prod & (r->size - 1));
		memset(slot, 0, 16);
		slot[0] = NC2_MSG_HELLO;
		tu_put16(slot + 2, 24);
		memset(r->payload, 0, 16); /* what would follow after the wrap */
		publish = 32;
		break;
	}
	}
	r->prod += publish;
	raw_publish(r);
	h_poll_fails(NC2_ERR_PEER_MSG_SIZE);
}
END_TEST

START_TEST(test_msg_type)
{
	static const uint8_t types[] = {0, 27, 100, 254};
	hf_default();
	uint8_t b[8];
	raw_u32(b, types[_i], 0);
	h_send(b, 8);
	h_poll_fails(NC2_ERR_PEER_MSG_TYPE);
}
END_TEST

/* ======================================================================== */
/* Sequencing and roles                                                     */
/* ======================================================================== */

START_TEST(test_packet_before_hello)
{
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	hf_new(&b, 12, 0, 1, 0);
	uint8_t m[512];
	if (_i == 0)
		h_send(m, pkt_small(m, 0, 0, 60));
	else
		h_u32(NC2_MSG_SET_MAX_PACKETS, 4);
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

START_TEST(test_second_hello)
{
	if (_i == 0)
		hf_default();
	else
		hb_default();
	uint8_t b[16];
	h_send(b, raw_hello(b, 1, 1, NC2_FEATURE_CSUM, 1));
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

/* Version: no common version is PEER_VERSION, a malformed HELLO BAD_VALUE. */
START_TEST(test_version)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, _i < 3 ? NC2_ROLE_FRONTEND : NC2_ROLE_BACKEND);
	static const uint16_t vmin[] = {2, 2, 0, 2}, vmax[] = {2, 5, 1, 2};
	static const int want[] = {NC2_ERR_PEER_VERSION, NC2_ERR_PEER_VERSION,
				   NC2_ERR_PEER_BAD_VALUE, NC2_ERR_PEER_VERSION};
	if (_i < 3)
		hb_new(&c, 12, 0, 0);
	else
		hf_new(&c, 12, 0, 1, 0);
	uint8_t b[16];
	raw_hello(b, 1, 1, NC2_FEATURE_CSUM, 1);
	tu_put16(b + NC2_HELLO_OFF_VERSION_MIN, vmin[_i]);
	tu_put16(b + NC2_HELLO_OFF_VERSION_MAX, vmax[_i]);
	h_send(b, 16);
	h_poll_fails(want[_i]);
}
END_TEST

START_TEST(test_set_max_packets_twice)
{
	/* The fixtures already sent one. */
	if (_i == 0)
		hf_default();
	else
		hb_default();
	h_u32(NC2_MSG_SET_MAX_PACKETS, 4);
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

/* Messages only the other role may send (BYPASS_* is never negotiated). */
START_TEST(test_wrong_role_to_backend)
{
	hf_default();
	uint8_t b[64];
	uint32_t ids[2] = {1, 2};
	switch (_i) {
	case 0:
		h_send(b, (uint32_t)nc2_return_encode(b, sizeof(b), ids, 2));
		break;
	case 1:
		h_u32(NC2_MSG_SET_GRANT_CACHE, 4);
		break;
	case 2:
		h_u32(NC2_MSG_UNGRANT_ACK, 1);
		break;
	case 3:
		h_u32(NC2_MSG_BYPASS_DISABLE, 1);
		break;
	case 4:
		h_u32(NC2_MSG_BYPASS_FRONTEND_READY, 5); /* frontend's, but no BYPASS */
		break;
	case 5: {
		memset(b, 0, 16);
		b[0] = NC2_MSG_SUGGEST_BYPASS;
		tu_put16(b + 2, 16);
		b[4] = 0x02;
		h_send(b, 16);
		break;
	}
	}
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

START_TEST(test_wrong_role_to_frontend)
{
	hb_default();
	uint8_t b[64];
	switch (_i) {
	case 0: {
		nc2_post_buf pb = {.buf_id = 1, .gref = 1, .offset = 0, .length = 100};
		h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, &pb, 1));
		break;
	}
	case 1:
		h_send(b, raw_rxq(b, 0, 0, 0, 2048, NULL));
		break;
	case 2:
		h_u32(NC2_MSG_RECLAIM_BUFFERS, NC2_RECLAIM_ALL);
		break;
	case 3:
		h_u32(NC2_MSG_UNGRANT, 1);
		break;
	case 4: {
		nc2_msg m = {.type = NC2_MSG_MCAST, .size = NC2_MCAST_SIZE};
		memcpy(m.u.mcast.mac, (uint8_t[6]){0x01, 0, 0x5e, 0, 0, 1}, 6);
		m.u.mcast.op = NC2_MCAST_OP_ADD;
		ck_assert_int_eq(nc2_msg_encode(&m, b, sizeof(b)), 16);
		h_send(b, 16);
		break;
	}
	case 5:
		h_u32(NC2_MSG_BYPASS_DISABLED, 1);
		break;
	case 6:
		h_u32(NC2_MSG_BYPASS_DETACHED, 1);
		break;
	}
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

/* ======================================================================== */
/* PACKET validation at the backend                                          */
/* ======================================================================== */

START_TEST(test_too_many_frags)
{
	hf_default();
	nc2_frag f[19];
	for (uint32_t i = 0; i < 19; i++)
		f[i] = (nc2_frag){.ref = 9000 + i, .off = 0, .size = 100};
	h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 1, f, 19));
	h_poll_fails(NC2_ERR_PEER_TOO_MANY_FRAGS);
}
END_TEST

START_TEST(test_frag_crosses_page)
{
	hf_default();
	nc2_frag f = {.ref = hf_grant(NC2_GNT_READONLY), .off = 4000, .size = 200};
	h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 1, &f, 1));
	h_poll_fails(NC2_ERR_PEER_BAD_FRAG);
}
END_TEST

START_TEST(test_csum_without_offload)
{
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	b.offloads = 0;
	hf_new(&b, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1, 1);
	uint8_t frame[60];
	memset(frame, 1, sizeof(frame));
	size_t n = tu_build_packet(H->m, 0, NC2_PACKET_TYPE_small, NC2_PACKET_FLAG_csum_blank, 0,
				   60, 0, 14, 16, NULL, 0, frame);
	h_send(H->m, (uint32_t)n);
	h_poll_fails(NC2_ERR_PEER_OFFLOAD);
}
END_TEST

/* Types the backend never accepts; a small packet with an id. */
START_TEST(test_bad_packet_type)
{
	hf_default();
	if (_i == 0) {
		nc2_frag f = {.ref = 1, .off = 0, .size = 100};
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_pre_posted, 0, &f, 1));
		h_poll_fails(NC2_ERR_PEER_BAD_VALUE);
	} else {
		h_send(H->m, pkt_small(H->m, 7, 0, 60));
		h_poll_fails(NC2_ERR_PEER_RESERVED);
	}
}
END_TEST

/* SET_MAX_PACKETS 4: a fifth unfinished receiver_map is over the limit. */
START_TEST(test_over_max_packets)
{
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	b.max_packets = 4;
	hf_new(&b, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1, 1);
	uint32_t g = hf_grant(NC2_GNT_READONLY);
	for (uint32_t i = 0; i < 5; i++) {
		nc2_frag f = {.ref = g, .off = 0, .size = 100};
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 100 + i, &f, 1));
	}
	h_poll_fails(NC2_ERR_PEER_LIMIT);
}
END_TEST

/* Exactly at the limit is fine, and FINISHes make room again. */
START_TEST(test_at_max_packets)
{
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	b.max_packets = 4;
	hf_new(&b, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1, 1);
	uint32_t g = hf_grant(NC2_GNT_READONLY);
	memset(H->gpage[0], 0x42, CH_PAGE);
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 4; i++) {
			nc2_frag f = {.ref = g, .off = (uint16_t)(i * 100), .size = 100};
			h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 100 + i, &f, 1));
		}
		ck_assert_int_eq(h_poll(), 4);
		ck_assert_int_ge(h_flush(), 0);
	}
	ck_assert_uint_eq(H->nfinish, 12);
	ck_assert_uint_eq(ch_stats(H->p, CH_BE).rx_granted, 12);
	h_free();
}
END_TEST

/* Regression: PROTOCOL.md 6.8 (C): "receiver_copy/receiver_map whose id is
 * already outstanding -> NC2_ERR_PEER_BAD_ID". on_packet() never checks:
 * the duplicate is accepted and FINISHed twice. (Loop 1: the frontend
 * receiving receiver_copy, same defect.) */
START_TEST(test_duplicate_packet_id)
{
	if (_i == 0) {
		hf_default();
		uint32_t g = hf_grant(NC2_GNT_READONLY);
		nc2_frag f = {.ref = g, .off = 0, .size = 100};
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 77, &f, 1));
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 77, &f, 1));
	} else {
		hb_default();
		nc2_frag f = {.ref = 5000, .off = 0, .size = 100};
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_copy, 77, &f, 1));
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_copy, 77, &f, 1));
	}
	h_poll_fails(NC2_ERR_PEER_BAD_ID);
}
END_TEST

/* SMALL_PACKETS from the hand frontend: each entry is checked as the small
 * PACKET it stands for; good entries resume across polls with few buffers. */
START_TEST(test_small_packets_to_backend)
{
	uint32_t features = NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS;
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	hf_new(&b, 12, _i == 0 ? features & ~NC2_FEATURE_SMALL_BATCH : features, 1, 1);
	uint8_t frame[64];
	memset(frame, 0x5a, sizeof(frame));
	nc2_small e[3] = {
	    {.len = 60, .data = frame}, {.len = 64, .data = frame}, {.len = 14, .data = frame}};
	if (_i == 1)
		e[1].len = 10; /* shorter than an Ethernet header */
	if (_i == 2)
		e[1].flags = 0x80;
	if (_i == 3) {
		e[1].flags = NC2_PACKET_FLAG_csum_blank;
		e[1].csum_start = 63; /* the 2-octet field would end past the frame */
	}
	int size = nc2_smalls_encode(H->m, sizeof(H->m), e, 3);
	ck_assert_int_gt(size, 0);
	h_send(H->m, (uint32_t)size);
	static const int want[] = {NC2_ERR_PEER_PROTO, NC2_ERR_PEER_PACKET_SIZE,
				   NC2_ERR_PEER_RESERVED, NC2_ERR_PEER_BAD_CSUM};
	if (_i < 4) {
		h_poll_fails(want[_i]);
		return;
	}
	ch_side *d = &H->p->side[H->real];
	ck_assert_int_eq(nc2_channel_poll(hch(), d->rx, 2), 2);
	ck_assert_uint_eq(d->rx[0].len, 60);
	ck_assert_uint_eq(d->rx[1].len, 64);
	ck_assert_int_eq(memcmp(d->rx[1].data, frame, 64), 0);
	ck_assert_int_eq(nc2_channel_poll(hch(), d->rx, 2), 1);
	ck_assert_uint_eq(d->rx[0].len, 14);
	ck_assert_int_eq(nc2_channel_poll(hch(), d->rx, 2), 0);
	ck_assert_uint_eq(ch_stats(H->p, H->real).rx_small, 3);
	h_free();
}
END_TEST

/* A packet lent by the backend is outstanding until released: its id
 * again is a duplicate, and it counts against max_packets. */
START_TEST(test_lent_still_outstanding)
{
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	b.max_packets = 2;
	hf_new(&b, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1, 1);
	ch_side *d = &H->p->side[H->real];
	for (uint32_t i = 0; i < CH_BURST; i++)
		d->rx[i].rx_flags = NC2_RXBUF_LEND;
	uint32_t g = hf_grant(NC2_GNT_READONLY | NC2_GNT_STICKY);
	nc2_frag f = {.ref = g, .off = 0, .size = 100, .flags = NC2_FRAG_STICKY};
	h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 77, &f, 1));
	ck_assert_int_eq(h_poll(), 1);
	ck_assert(d->rx[0].rx_flags & NC2_RXBUF_LENT);
	ck_assert_int_ge(h_flush(), 0);
	ck_assert_uint_eq(H->nfinish, 0); /* held: no FINISH yet */
	if (_i == 0) {
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 77, &f, 1));
		h_poll_fails(NC2_ERR_PEER_BAD_ID);
	} else {
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 78, &f, 1));
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 79, &f, 1));
		h_poll_fails(NC2_ERR_PEER_LIMIT);
	}
}
END_TEST

/* ======================================================================== */
/* Control messages at the backend                                          */
/* ======================================================================== */

START_TEST(test_finish_unknown_to_backend)
{
	hf_default();
	h_u32(NC2_MSG_FINISH_PACKET, _i == 0 ? 1u : 0x00010000u);
	h_poll_fails(NC2_ERR_PEER_BAD_ID);
}
END_TEST

/* A deferred receiver_copy from the real backend, FINISHed twice. */
START_TEST(test_finish_twice_to_backend)
{
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	b.deferred_timeout = 1000;
	hf_new(&b, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1, 1);
	uint8_t *data = H->p->be_txmem;
	memset(data, 0x33, 1000);
	nc2_pkt pkt = {.data = data, .len = 1000, .cookie = 9, .tx_flags = NC2_PKT_GRANTABLE};
	ck_assert_int_eq(nc2_channel_send(hch(), &pkt), NC2_OK);
	ck_assert_int_ge(h_flush(), 0);
	ck_assert_uint_eq(H->npkt, 1);
	h_u32(NC2_MSG_FINISH_PACKET, H->pkt_ids[0]);
	ck_assert_int_ge(h_poll(), 0);
	uint64_t c = 0;
	ck_assert_int_eq(nc2_channel_tx_done(hch(), &c, 1), 1);
	ck_assert_uint_eq(c, 9);
	h_u32(NC2_MSG_FINISH_PACKET, H->pkt_ids[0]);
	h_poll_fails(NC2_ERR_PEER_BAD_ID);
}
END_TEST

START_TEST(test_post_bad_queue)
{
	hf_default();
	uint8_t b[64];
	h_send(b, raw_rxq(b, 0, NC2_RXQ_FLAG_DEFAULT, 0, 2048, NULL));
	nc2_post_buf pb = {.buf_id = 1, .gref = hf_grant(0), .offset = 0, .length = 2048};
	h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 1, &pb, 1));
	h_poll_fails(NC2_ERR_PEER_BAD_VALUE);
}
END_TEST

/* max_posted 8: posting a ninth buffer (in one message or in two). */
START_TEST(test_post_over_capacity)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_BACKEND);
	c.max_posted = 8;
	hf_new(&c, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1, 1);
	uint8_t b[256];
	h_send(b, raw_rxq(b, 0, NC2_RXQ_FLAG_DEFAULT, 0, 2048, NULL));
	uint32_t g = hf_grant(0);
	nc2_post_buf pb[9];
	for (uint32_t i = 0; i < 9; i++)
		pb[i] = (nc2_post_buf){.buf_id = i + 1, .gref = g, .offset = 0, .length = 2048};
	if (_i == 0) {
		h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, pb, 9));
	} else {
		h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, pb, 8));
		ck_assert_int_ge(h_poll(), 0);
		h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, pb + 8, 1));
	}
	h_poll_fails(NC2_ERR_PEER_LIMIT);
}
END_TEST

/* Entry longer than the queue's class; STICKY without the feature. */
START_TEST(test_post_bad_entry)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_BACKEND);
	hf_new(&c, 12, _i == 0 ? NC2_FEATURE_STICKY : NC2_FEATURE_CSUM, 1, 1);
	uint8_t b[64];
	h_send(b, raw_rxq(b, 0, NC2_RXQ_FLAG_DEFAULT, 0, 1024, NULL));
	nc2_post_buf pb = {.buf_id = 1, .gref = hf_grant(0), .offset = 0, .length = 1024};
	if (_i == 0)
		pb.length = 1025;
	else
		pb.flags = NC2_POST_FLAG_STICKY;
	h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, &pb, 1));
	h_poll_fails(_i == 0 ? NC2_ERR_PEER_BAD_FRAG : NC2_ERR_PEER_OFFLOAD);
}
END_TEST

/* Queue number beyond the negotiated count, twice the same, two defaults. */
START_TEST(test_rxq_bad)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_BACKEND);
	hf_new(&c, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 2, 1);
	uint8_t b[64];
	if (_i == 0) {
		h_send(b, raw_rxq(b, 2, 0, 0, 2048, NULL));
	} else {
		h_send(b, raw_rxq(b, 0, NC2_RXQ_FLAG_DEFAULT, 0, 2048, NULL));
		ck_assert_int_ge(h_poll(), 0);
		h_send(b, raw_rxq(b, _i == 1 ? 0 : 1, NC2_RXQ_FLAG_DEFAULT, 0, 2048, NULL));
	}
	h_poll_fails(NC2_ERR_PEER_BAD_VALUE);
}
END_TEST

START_TEST(test_reclaim_unknown_queue)
{
	hf_default();
	h_u32(NC2_MSG_RECLAIM_BUFFERS, _i == 0 ? 3u : 64u);
	h_poll_fails(NC2_ERR_PEER_BAD_VALUE);
}
END_TEST

/* UNGRANT and MCAST need their features. */
START_TEST(test_feature_gated)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_BACKEND);
	hf_new(&c, 12, NC2_FEATURE_CSUM, 1, 1);
	if (_i == 0) {
		h_u32(NC2_MSG_UNGRANT, 1);
	} else {
		uint8_t b[16] = {NC2_MSG_MCAST,   0, 16, 0, 0x01, 0x00, 0x5e, 0, 0, 1,
				 NC2_MCAST_OP_ADD};
		h_send(b, 16);
	}
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

START_TEST(test_mcast_over_limit)
{
	hf_default();
	for (uint32_t i = 0; i < 65; i++) {
		uint8_t b[16] = {
		    NC2_MSG_MCAST,   0, 16, 0, 0x01, 0x00, 0x5e, 0, (uint8_t)(i >> 8), (uint8_t)i,
		    NC2_MCAST_OP_ADD};
		h_send(b, 16);
	}
	h_poll_fails(NC2_ERR_PEER_LIMIT);
}
END_TEST

/* SET_OFFLOAD enabling an offload whose feature was not negotiated. */
START_TEST(test_offload_not_negotiated)
{
	if (_i == 0) {
		nc2_channel_config c;
		nc2_channel_config_default(&c, NC2_ROLE_BACKEND);
		hf_new(&c, 12, NC2_FEATURE_CSUM | NC2_FEATURE_TSO4, 1, 1);
	} else {
		nc2_channel_config c;
		nc2_channel_config_default(&c, NC2_ROLE_FRONTEND);
		hb_new(&c, 12, NC2_FEATURE_CSUM, 1);
	}
	uint8_t b[8];
	h_send(b, raw_offload(b, 1, 0, 1, 0));
	h_poll_fails(NC2_ERR_PEER_OFFLOAD);
}
END_TEST

/* A posted buffer whose grant the backend cannot write: the frontend broke
 * its promise (PROTOCOL.md 11.4), the channel fails with PEER_GRANT. */
START_TEST(test_post_bad_grant)
{
	hf_default();
	uint8_t b[64];
	h_send(b, raw_rxq(b, 0, NC2_RXQ_FLAG_DEFAULT, 0, 2048, NULL));
	uint32_t g = _i == 0 ? 9999u : hf_grant(NC2_GNT_READONLY);
	nc2_post_buf pb = {.buf_id = 1, .gref = g, .offset = 0, .length = 2048};
	h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, &pb, 1));
	ck_assert_int_ge(h_poll(), 0);
	uint8_t frame[1000];
	memset(frame, 0xff, sizeof(frame));
	nc2_pkt pkt = {.data = frame, .len = 1000};
	ck_assert_int_eq(nc2_channel_send(hch(), &pkt), NC2_ERR_PEER_GRANT);
	h_expect_failed(NC2_ERR_PEER_GRANT);
}
END_TEST

/* Regression: PROTOCOL.md 8.3: a buffer is used for a frame only if its length
 * holds what is put in it; otherwise the frame is spread over several
 * buffers. send_posted() sizes the frame by the queue's buf_size and then
 * cuts each piece to the posted length, so a 150-octet frame posted into
 * 100-octet buffers of a 2048 queue goes out truncated to 100 octets. */
START_TEST(test_short_posted_buffers)
{
	hf_default();
	uint8_t b[128];
	h_send(b, raw_rxq(b, 0, NC2_RXQ_FLAG_DEFAULT, 0, 2048, NULL));
	uint32_t g = hf_grant(0);
	nc2_post_buf pb[2] = {{.buf_id = 1, .gref = g, .offset = 0, .length = 100},
			      {.buf_id = 2, .gref = g, .offset = 100, .length = 100}};
	h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, pb, 2));
	h_u32(NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET, 4);
	h_settle();
	uint8_t frame[150];
	for (uint32_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7 + 1);
	memset(frame, 0xff, 6);
	nc2_pkt pkt = {.data = frame, .len = sizeof(frame)};
	int rc = nc2_channel_send(hch(), &pkt);
	ck_assert_msg(rc == NC2_OK || rc == 1, "send: %d", rc);
	ck_assert_int_ge(h_flush(), 0);
	if (rc == NC2_OK) {
		ck_assert_uint_eq(H->pp_count, 1);
		ck_assert_msg(H->pp_total == 150,
			      "pre_posted PACKET carries %u of 150 octets (%u frags)", H->pp_total,
			      H->pp_nfrags);
		/* Either buffer may come first (the backend picks). */
		const uint8_t *pg = H->gpage[0];
		int first0 = memcmp(pg, frame, 100) == 0 && memcmp(pg + 100, frame + 100, 50) == 0;
		int first1 = memcmp(pg + 100, frame, 100) == 0 && memcmp(pg, frame + 100, 50) == 0;
		ck_assert_msg(first0 || first1, "the frame is not in the two buffers");
	}
	h_free();
}
END_TEST

/* Regression: PROTOCOL.md 4.3: "Until a setting arrives, the default applies";
 * SET_MAX_PACKETS (default 0) only limits receiver_copy/receiver_map
 * packets. A frontend that relies on the defaults (it SHOULD, not MUST,
 * send settings) never gets a single packet: nc2_channel_send() answers
 * NC2_ERR_AGAIN forever until SET_MAX_PACKETS arrives, even for inline and
 * pre_posted frames. */
START_TEST(test_backend_waits_for_settings)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_BACKEND);
	hf_new(&c, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1, 0);
	uint8_t b[64];
	h_send(b, raw_hello(b, 1, 1, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1));
	h_send(b, raw_rxq(b, 0, NC2_RXQ_FLAG_DEFAULT, 0, 2048, NULL));
	nc2_post_buf pb = {.buf_id = 1, .gref = hf_grant(0), .offset = 0, .length = 2048};
	h_send(b, (uint32_t)nc2_post_encode(b, sizeof(b), 0, &pb, 1));
	h_settle();
	uint8_t frame[1000];
	memset(frame, 0xff, sizeof(frame));
	nc2_pkt pkt = {.data = frame, .len = 60};
	int rc = nc2_channel_send(hch(), &pkt);
	ck_assert_msg(rc == NC2_OK, "inline frame to a frontend on default settings: %s (%d)",
		      nc2_strerror(rc), rc);
	pkt.len = 1000;
	rc = nc2_channel_send(hch(), &pkt);
	ck_assert_msg(rc == NC2_OK, "pre_posted frame to a frontend on default settings: %s (%d)",
		      nc2_strerror(rc), rc);
	ck_assert_int_ge(h_flush(), 0);
	ck_assert_uint_eq(H->pp_count, 1);
	h_free();
}
END_TEST

/* Attaching to rings whose indices are already impossible: PEER_SETUP. */
START_TEST(test_attach_bad_indices)
{
	ch_pair *p = ch_pair_new(NULL, NULL, 12, 4, 1);
	nc2_channel_config b;
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	size_t fp = nc2_channel_footprint(&b);
	uint8_t *mem = ch_alloc64(fp);
	nc2_channel *ch;
	static const uint32_t off[] = {NC2_RING_OFF_PROD, NC2_RING_OFF_PROD,
				       NC2_RING_CTRL_STRIDE + NC2_RING_OFF_CONS};
	static const uint32_t val[] = {4, 4096 + 8, 8};
	tu_put32(p->bview.ctrl + off[_i], val[_i]);
	ck_assert_int_eq(nc2_channel_init(&ch, mem, fp, &b, &p->side[CH_BE].t, &p->bview),
			 NC2_ERR_PEER_SETUP);
	tu_put32(p->bview.ctrl + off[_i], 0);
	ck_assert_int_eq(nc2_channel_init(&ch, mem, fp, &b, &p->side[CH_BE].t, &p->bview), NC2_OK);
	ck_assert_int_eq(nc2_channel_fini(ch), NC2_OK);
	free(mem);
	ck_assert_int_eq(ch_pair_free(p), 0);
}
END_TEST

/* ======================================================================== */
/* The frontend's buffer ids (hand backend, real frontend)                  */
/* ======================================================================== */

static uint32_t pre_posted(uint8_t *m, const uint32_t *ids, const uint16_t *off,
			   const uint16_t *size, uint32_t n)
{
	nc2_frag f[8];
	for (uint32_t i = 0; i < n; i++)
		f[i] = (nc2_frag){.ref = ids[i], .off = off ? off[i] : 0, .size = size[i]};
	return pkt_frags(m, NC2_PACKET_TYPE_pre_posted, 0, f, n);
}

/* A valid pre_posted packet naming the first live buffer is delivered. */
static uint32_t deliver_first(void)
{
	uint32_t id = H->bufs[0].id;
	uint16_t sz = 100;
	h_send(H->m, pre_posted(H->m, &id, NULL, &sz, 1));
	ck_assert_int_eq(h_poll(), 1);
	ck_assert_uint_eq(H->p->side[CH_FE].rx[0].len, 100);
	return id;
}

/* Unknown id; stale (its slot re-posted under a new generation); already
 * consumed earlier in the same batch; twice in one packet. */
START_TEST(test_pre_posted_bad_id)
{
	hb_default();
	uint16_t sz[2] = {100, 100};
	uint32_t ids[2];
	switch (_i) {
	case 0:
		ids[0] = 0x00ff0000u | 999u;
		h_send(H->m, pre_posted(H->m, ids, NULL, sz, 1));
		break;
	case 1: {
		uint32_t old = deliver_first();
		ck_assert_int_ge(h_flush(), 0); /* re-posted: new id for the slot */
		ck_assert_uint_eq(H->nbufs, 33);
		ck_assert_uint_eq(H->bufs[32].id & 0xffffu, old & 0xffffu);
		ck_assert_uint_ne(H->bufs[32].id, old);
		ids[0] = old;
		h_send(H->m, pre_posted(H->m, ids, NULL, sz, 1));
		break;
	}
	case 2:
		ids[0] = H->bufs[3].id;
		h_send(H->m, pre_posted(H->m, ids, NULL, sz, 1));
		h_send(H->m, pre_posted(H->m, ids, NULL, sz, 1));
		break;
	case 3:
		ids[0] = ids[1] = H->bufs[4].id;
		h_send(H->m, pre_posted(H->m, ids, NULL, sz, 2));
		break;
	case 4: {
		/* Returned, then named in a packet. */
		uint8_t b[16];
		ids[0] = H->bufs[5].id;
		h_send(b, (uint32_t)nc2_return_encode(b, sizeof(b), ids, 1));
		ck_assert_int_ge(h_poll(), 0);
		h_send(H->m, pre_posted(H->m, ids, NULL, sz, 1));
		break;
	}
	}
	h_poll_fails(NC2_ERR_PEER_BAD_ID);
}
END_TEST

/* A fragment outside its buffer; a STICKY pre_posted fragment. */
START_TEST(test_pre_posted_bad_frag)
{
	hb_default();
	uint32_t id = H->bufs[0].id;
	static const uint16_t off[] = {0, 2000, 2040, 0};
	static const uint16_t size[] = {2049, 100, 16, 10};
	if (_i < 3) {
		h_send(H->m, pre_posted(H->m, &id, &off[_i], &size[_i], 1));
	} else {
		nc2_frag f = {.ref = id, .off = 0, .size = 100, .flags = NC2_FRAG_STICKY};
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_pre_posted, 0, &f, 1));
	}
	h_poll_fails(NC2_ERR_PEER_BAD_FRAG);
}
END_TEST

/* Exactly filling a buffer is fine; multi-buffer packets are reassembled. */
START_TEST(test_pre_posted_edges)
{
	hb_default();
	uint32_t ids[3] = {H->bufs[0].id, H->bufs[1].id, H->bufs[2].id};
	uint16_t off[3] = {0, 48, 0}, size[3] = {2048, 2000, 1};
	h_send(H->m, pre_posted(H->m, ids, off, size, 3));
	ck_assert_int_eq(h_poll(), 1);
	nc2_rxbuf *rb = &H->p->side[CH_FE].rx[0];
	ck_assert_uint_eq(rb->len, 4049);
	ck_assert_uint_eq(rb->queue, 0);
	/* Consumed buffers are re-posted by the same poll, under new ids. */
	ck_assert_uint_eq(ch_stats(H->p, CH_FE).rx_buffers_posted, 32);
	ck_assert_int_ge(h_flush(), 0);
	ck_assert_uint_eq(H->nbufs, 35);
	for (uint32_t i = 32; i < 35; i++)
		ck_assert_uint_ne(H->bufs[i].id, ids[i - 32]);
	ck_assert_uint_eq(ch_stats(H->p, CH_FE).buffers_posted, 35);
	h_free();
}
END_TEST

/* POSTED_PACKETS of n entries from the hand backend. */
static void h_posteds(const uint32_t *ids, const uint16_t *len, uint8_t flags, uint32_t n)
{
	nc2_posted e[4];
	for (uint32_t i = 0; i < n; i++)
		e[i] = (nc2_posted){.buf_id = ids[i], .len = len[i], .flags = flags};
	h_send(H->m, (uint32_t)nc2_posteds_encode(H->m, sizeof(H->m), e, n));
}

/* Each entry is the pre_posted PACKET of one fragment it stands for: ids
 * taken in order (a poll of one frame at a time resumes inside the
 * message), a whole buffer, the shortest frame, flags passed on; every
 * buffer is consumed and re-posted under a new id. */
START_TEST(test_posted_packets_deliver)
{
	hb_default();
	const uint32_t ids[3] = {H->bufs[0].id, H->bufs[1].id, H->bufs[2].id};
	const uint16_t len[3] = {2048, 1500, 14};
	h_posteds(ids, len, NC2_PACKET_FLAG_data_validated, 3);
	ch_side *d = &H->p->side[CH_FE];
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_int_eq(nc2_channel_poll(d->ch, d->rx, 1), 1);
		ck_assert_uint_eq(d->rx[0].len, len[i]);
		ck_assert_uint_eq(d->rx[0].flags, NC2_PACKET_FLAG_data_validated);
	}
	ck_assert_int_eq(h_poll(), 0);
	nc2_channel_stats st = ch_stats(H->p, CH_FE);
	ck_assert_uint_eq(st.rx_pre_posted, 3);
	ck_assert_uint_eq(st.rx_packets, 3);
	ck_assert_uint_eq(st.rx_bytes, 2048 + 1500 + 14);
	ck_assert_int_ge(h_flush(), 0);
	ck_assert_uint_eq(H->nbufs, 35);
	for (uint32_t i = 32; i < 35; i++)
		ck_assert_uint_ne(H->bufs[i].id, ids[i - 32]);
	h_free();
}
END_TEST

/* A lying POSTED_PACKETS: unknown id, an id twice in one message, longer
 * than its buffer, shorter than a frame, unknown flags, POSTED_BATCH not
 * negotiated, sent to the backend. */
START_TEST(test_posted_packets_bad)
{
	static const int err[] = {NC2_ERR_PEER_BAD_ID,   NC2_ERR_PEER_BAD_ID,
				  NC2_ERR_PEER_BAD_FRAG, NC2_ERR_PEER_PACKET_SIZE,
				  NC2_ERR_PEER_RESERVED, NC2_ERR_PEER_PROTO,
				  NC2_ERR_PEER_PROTO};
	uint32_t ids[2] = {0x00ff0000u | 999u, 0};
	uint16_t len[2] = {100, 100};
	uint8_t flags = 0;
	if (_i == 5) {
		nc2_channel_config f;
		nc2_channel_config_default(&f, NC2_ROLE_FRONTEND);
		hb_new(&f, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS & ~NC2_FEATURE_POSTED_BATCH,
		       1);
	} else if (_i == 6) {
		hf_default();
	} else {
		hb_default();
	}
	if (_i >= 1 && _i != 6)
		ids[0] = ids[1] = H->bufs[0].id;
	len[0] = _i == 2 ? 2049 : _i == 3 ? 13 : 100;
	flags = _i == 4 ? 0x10 : 0;
	h_posteds(ids, len, flags, _i == 1 ? 2 : 1);
	h_poll_fails(err[_i]);
}
END_TEST

/* RETURN_BUFFERS: unposted id, returned twice, repeated in one message. */
START_TEST(test_return_bad_id)
{
	hb_default();
	uint8_t b[32];
	uint32_t ids[2];
	switch (_i) {
	case 0:
		ids[0] = 0x00050000u | 40u;
		h_send(b, (uint32_t)nc2_return_encode(b, sizeof(b), ids, 1));
		break;
	case 1:
		ids[0] = H->bufs[2].id;
		h_send(b, (uint32_t)nc2_return_encode(b, sizeof(b), ids, 1));
		ck_assert_int_ge(h_poll(), 0);
		h_send(b, (uint32_t)nc2_return_encode(b, sizeof(b), ids, 1));
		break;
	case 2:
		ids[0] = ids[1] = H->bufs[2].id;
		h_send(b, (uint32_t)nc2_return_encode(b, sizeof(b), ids, 2));
		break;
	case 3:
		ids[0] = deliver_first(); /* consumed, not outstanding */
		h_send(b, (uint32_t)nc2_return_encode(b, sizeof(b), ids, 1));
		break;
	}
	h_poll_fails(NC2_ERR_PEER_BAD_ID);
}
END_TEST

/* FINISH at the frontend: never sent, and twice. */
START_TEST(test_finish_bad_to_frontend)
{
	hb_default();
	if (_i == 0) {
		h_u32(NC2_MSG_FINISH_PACKET, 1);
	} else {
		uint8_t *data = H->p->txmem;
		memset(data, 0x44, 3000);
		nc2_pkt pkt = {.data = data, .len = 3000, .cookie = 5};
		ck_assert_int_eq(nc2_channel_send(hch(), &pkt), NC2_OK);
		ck_assert_int_ge(h_flush(), 0);
		ck_assert_uint_eq(H->npkt, 1);
		h_u32(NC2_MSG_FINISH_PACKET, H->pkt_ids[0]);
		ck_assert_int_ge(h_poll(), 0);
		uint64_t c = 0;
		ck_assert_int_eq(nc2_channel_tx_done(hch(), &c, 1), 1);
		ck_assert_uint_eq(c, 5);
		h_u32(NC2_MSG_FINISH_PACKET, H->pkt_ids[0]);
	}
	h_poll_fails(NC2_ERR_PEER_BAD_ID);
}
END_TEST

/* FINISH_PACKETS from the hand backend: ids in any order complete; a
 * repeated or unknown id, or the message without FINISH_BATCH, fails the
 * channel. */
START_TEST(test_finish_batch_to_frontend)
{
	uint32_t features = NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS & ~NC2_FEATURE_LRO;
	nc2_channel_config f;
	nc2_channel_config_default(&f, NC2_ROLE_FRONTEND);
	f.rxq[0].nr_bufs = 32;
	hb_new(&f, 12, _i == 3 ? features & ~NC2_FEATURE_FINISH_BATCH : features, 1);
	uint8_t *data = H->p->txmem;
	memset(data, 0x45, 3 * CH_PAGE);
	for (uint32_t i = 0; i < 3; i++) {
		nc2_pkt pkt = {.data = data + i * CH_PAGE, .len = 1000, .cookie = 10 + i};
		ck_assert_int_eq(nc2_channel_send(hch(), &pkt), NC2_OK);
	}
	ck_assert_int_ge(h_flush(), 0);
	ck_assert_uint_eq(H->npkt, 3);
	uint32_t ids[3] = {H->pkt_ids[2], H->pkt_ids[0], H->pkt_ids[1]};
	if (_i == 1)
		ids[2] = ids[1];
	if (_i == 2)
		ids[2] = 0x7777;
	uint8_t b[24];
	ck_assert_int_eq(nc2_finish_encode(b, sizeof(b), ids, 3), 24);
	h_send(b, 24);
	if (_i == 0) {
		ck_assert_int_ge(h_poll(), 0);
		uint64_t c[4];
		ck_assert_int_eq(nc2_channel_tx_done(hch(), c, 4), 3);
		ck_assert_uint_eq(c[0], 12);
		ck_assert_uint_eq(c[1], 10);
		ck_assert_uint_eq(c[2], 11);
		ck_assert_uint_eq(ch_stats(H->p, H->real).finish_received, 3);
		h_free();
		return;
	}
	h_poll_fails(_i == 3 ? NC2_ERR_PEER_PROTO : NC2_ERR_PEER_BAD_ID);
}
END_TEST

/* UNGRANT_ACK: never un-granted; acked twice during teardown. */
START_TEST(test_ungrant_ack_bad)
{
	hb_default();
	if (_i == 0) {
		h_u32(NC2_MSG_UNGRANT_ACK, H->bufs[0].gref);
	} else {
		ck_assert_int_eq(nc2_channel_shutdown(hch()), NC2_OK);
		ck_assert_int_ge(h_flush(), 0);
		ck_assert_uint_gt(H->nungrant, 0);
		h_u32(NC2_MSG_UNGRANT_ACK, H->ungrants[0]);
		ck_assert_int_ge(h_poll(), 0);
		h_u32(NC2_MSG_UNGRANT_ACK, H->ungrants[0]);
	}
	h_poll_fails(NC2_ERR_PEER_BAD_ID);
}
END_TEST

/* Packet types the frontend never accepts; STICKY from the backend. */
START_TEST(test_frontend_bad_packets)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_FRONTEND);
	c.rxq[0].nr_bufs = 8;
	if (_i == 2)
		c.offloads = 0;
	hb_new(&c, 12,
	       _i == 1 ? NC2_FEATURE_CSUM | NC2_FEATURE_STICKY
		       : NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS & ~NC2_FEATURE_LRO,
	       1);
	nc2_frag f = {.ref = 5000, .off = 0, .size = 100};
	switch (_i) {
	case 0: /* receiver_map is frontend -> backend only */
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_map, 3, &f, 1));
		h_poll_fails(NC2_ERR_PEER_BAD_VALUE);
		break;
	case 1: /* receiver_copy without DEFERRED_COPY */
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_copy, 3, &f, 1));
		h_poll_fails(NC2_ERR_PEER_BAD_VALUE);
		break;
	case 2: /* csum_blank, frontend enabled no offload */
		h_send(H->m, (uint32_t)tu_build_packet(H->m, 0, NC2_PACKET_TYPE_small,
						       NC2_PACKET_FLAG_csum_blank, 0, 60, 0, 14, 16,
						       NULL, 0, H->m + 4096));
		h_poll_fails(NC2_ERR_PEER_OFFLOAD);
		break;
	}
}
END_TEST

/* receiver_copy beyond the frontend's SET_MAX_PACKETS. */
START_TEST(test_frontend_over_max_packets)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_FRONTEND);
	c.rxq[0].nr_bufs = 8;
	c.max_packets = 2;
	hb_new(&c, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS & ~NC2_FEATURE_LRO, 1);
	for (uint32_t i = 0; i < 3; i++) {
		nc2_frag f = {.ref = 5000 + i, .off = 0, .size = 100};
		h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_copy, 10 + i, &f, 1));
	}
	h_poll_fails(NC2_ERR_PEER_LIMIT);
}
END_TEST

/* Expired receiver_copy (its grant is gone): a drop, not an error. */
START_TEST(test_frontend_copy_fails_is_drop)
{
	hb_default();
	nc2_frag f = {.ref = 5000, .off = 0, .size = 100};
	h_send(H->m, pkt_frags(H->m, NC2_PACKET_TYPE_receiver_copy, 10, &f, 1));
	ck_assert_int_eq(h_poll(), 0);
	ck_assert_uint_eq(ch_stats(H->p, CH_FE).drop_deferred_expired, 1);
	ck_assert_int_ge(h_flush(), 0);
	ck_assert_uint_eq(H->nfinish, 1);
	ck_assert_uint_eq(H->finishes[0], 10);
	ck_assert_int_eq(nc2_channel_state(hch()), NC2_CH_CONNECTED);
	h_free();
}
END_TEST

/* Regression: SET_GRANT_CACHE is "backend only, only with STICKY negotiated"
 * (PROTOCOL.md 5.19: "C: wrong role or STICKY not negotiated ->
 * NC2_ERR_PEER_PROTO"); handle() accepts it without STICKY. */
START_TEST(test_grant_cache_without_sticky)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_FRONTEND);
	c.rxq[0].nr_bufs = 8;
	hb_new(&c, 12, NC2_FEATURE_CSUM, 1);
	h_u32(NC2_MSG_SET_GRANT_CACHE, 16);
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

/* lro == 1 from the backend, even with LRO negotiated. */
START_TEST(test_lro_from_backend)
{
	nc2_channel_config c;
	nc2_channel_config_default(&c, NC2_ROLE_FRONTEND);
	c.rxq[0].nr_bufs = 8;
	hb_new(&c, 12, NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS, 1);
	uint8_t b[8];
	h_send(b, raw_offload(b, 1, 0, 0, 1));
	h_poll_fails(NC2_ERR_PEER_PROTO);
}
END_TEST

/* The consumer's index (cons of ring 0, written by the hand backend)
 * beyond what was produced, unaligned, or backwards: the frontend catches
 * it the next time it needs space (re-posting a consumed buffer). */
START_TEST(test_cons_bad)
{
	hb_default();
	uint32_t cons = raw_shared_cons(&H->rx);
	/* Beyond prod; unaligned; behind everything validated so far. */
	uint32_t bad = _i == 0 ? cons + 64 : _i == 1 ? cons - 4 : 0xfffffff8u;
	tu_put32(H->rx.ctrl + NC2_RING_OFF_CONS, bad);
	uint32_t id = H->bufs[0].id;
	uint16_t sz = 100;
	h_send(H->m, pre_posted(H->m, &id, NULL, &sz, 1));
	int rc = h_poll();
	if (rc >= 0)
		rc = nc2_channel_flush(hch());
	ck_assert_int_eq(rc, NC2_ERR_PEER_RING_INDEX);
	h_expect_failed(NC2_ERR_PEER_RING_INDEX);
}
END_TEST

/* ======================================================================== */
/* Randomized hostile peer                                                   */
/* ======================================================================== */

static int rand_rc_ok(int rc, int n)
{
	return (rc >= 0 && rc <= n) || nc2_is_peer_error(rc);
}

/* A live (posted, not yet named) buffer, marked used; or a random id. */
static uint32_t take_buf(tu_rng *r, uint16_t *len)
{
	hostile *h = H;
	*len = 2048;
	if (h->nbufs && tu_range(r, 0, 15)) {
		uint32_t start = tu_range(r, 0, h->nbufs - 1);
		for (uint32_t k = 0; k < h->nbufs; k++) {
			hbuf *b = &h->bufs[(start + k) % h->nbufs];
			if (b->live) {
				b->live = 0;
				*len = b->len;
				return b->id;
			}
		}
	}
	return h->nbufs && tu_range(r, 0, 1) ? h->bufs[tu_range(r, 0, h->nbufs - 1)].id : tu_u32(r);
}

/* Take one of n recorded values (removing it), or a random one. */
static uint32_t take_u32(tu_rng *r, uint32_t *v, uint32_t *n, uint32_t rnd_max)
{
	if (*n && tu_range(r, 0, 15)) {
		uint32_t i = tu_range(r, 0, *n - 1);
		uint32_t x = v[i];
		v[i] = v[--*n];
		return x;
	}
	return tu_range(r, 0, rnd_max);
}

/* A created queue of the hand frontend (or a random number, rarely). */
static uint8_t some_queue(tu_rng *r)
{
	hostile *h = H;
	if (h->qmask && tu_range(r, 0, 15)) {
		for (;;) {
			uint32_t q = tu_range(r, 0, 7);
			if (h->qmask & (1u << q))
				return (uint8_t)q;
		}
	}
	return (uint8_t)tu_range(r, 0, 3);
}

/* Index drawn with the given weights. */
static uint32_t pick(tu_rng *r, const uint8_t *w, uint32_t n)
{
	uint32_t sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += w[i];
	uint32_t x = tu_range(r, 0, sum - 1);
	for (uint32_t i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

/* A valid-looking message for the hand side to send, weighted towards what
 * a peer would send at this point, so sessions get deep before failing. */
static uint32_t rand_msg(tu_rng *r, uint8_t *m)
{
	hostile *h = H;
	/* hand fe: hello, max_packets, max_frags, offload, rxq, post, small,
	 * granted, finish, reclaim, ungrant, mcast, pad */
	static const uint8_t wf[13] = {1, 1, 4, 3, 6, 14, 20, 20, 6, 2, 3, 4, 4};
	/* hand be: hello, max_packets, max_frags, offload, cache, small,
	 * pre_posted x2, return, finish, ungrant_ack, receiver_copy, pad */
	static const uint8_t wb[13] = {1, 1, 4, 3, 3, 15, 20, 20, 6, 8, 5, 5, 4};
	uint32_t k = pick(r, h->hand == CH_FE ? wf : wb, 13);
	/* Mostly replace what makes no sense now by an inline packet. */
	int pointless;
	if (h->hand == CH_FE)
		pointless = (k == 5 && !h->qmask) || (k == 8 && !h->npkt) ||
			    (k == 10 && !(h->features & NC2_FEATURE_STICKY)) ||
			    (k == 11 && !(h->features & NC2_FEATURE_MCAST));
	else
		pointless = (k == 9 && !h->npkt) || (k == 10 && !h->nungrant) ||
			    (k == 11 && !(h->features & NC2_FEATURE_DEFERRED_COPY));
	if (pointless && tu_range(r, 0, 15))
		k = h->hand == CH_FE ? (h->qmask ? 6 : 4) : 5;
	uint8_t frame[256];
	tu_fill(r, frame, sizeof(frame));
	memset(frame, 0xff, 6);
	if (h->hand == CH_FE) {
		switch (k) {
		case 0:
			return raw_hello(m, 1, 1, tu_u32(r) & 0xff, (uint16_t)tu_range(r, 1, 8));
		case 1:
			return raw_u32(m, NC2_MSG_SET_MAX_PACKETS, tu_range(r, 0, 300));
		case 2:
			return raw_u32(m, NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET, tu_range(r, 1, 20));
		case 3: {
			uint32_t ok = tu_range(r, 0, 15) ? h->features : 0xff;
			return raw_offload(m,
					   (uint8_t)((ok & NC2_FEATURE_CSUM) && tu_range(r, 0, 1)),
					   (uint8_t)((ok & NC2_FEATURE_TSO4) && tu_range(r, 0, 1)),
					   (uint8_t)((ok & NC2_FEATURE_TSO6) && tu_range(r, 0, 1)),
					   (uint8_t)(!tu_range(r, 0, 15)));
		}
		case 4: {
			static const uint32_t bs[] = {64, 512, 2048, 4096};
			uint32_t q = tu_range(r, 0, 3);
			for (uint32_t t = 0; t < 8 && tu_range(r, 0, 15); t++) {
				q = tu_range(r, 0, h->nq ? h->nq - 1 : 0);
				if (!(h->qmask & (1u << q)))
					break;
			}
			int dflt = !h->has_default || !tu_range(r, 0, 15);
			uint32_t size = bs[tu_range(r, 0, 3)];
			if (q < 8 && !(h->qmask & (1u << q)) && q < h->nq) {
				h->qmask |= 1u << q;
				h->qsize[q] = size;
				h->has_default |= (uint32_t)dflt;
			}
			return raw_rxq(m, (uint8_t)q, dflt ? NC2_RXQ_FLAG_DEFAULT : 0,
				       (uint16_t)(tu_range(r, 0, 3) ? 0 : tu_range(r, 1, 10)), size,
				       tu_range(r, 0, 1) ? h->p->fe_mac : NULL);
		}
		case 5: {
			nc2_post_buf pb[4];
			uint32_t n = tu_range(r, 1, 4);
			uint8_t q = some_queue(r);
			uint32_t cls = q < 8 && h->qsize[q] ? h->qsize[q] : 2048;
			for (uint32_t i = 0; i < n; i++) {
				uint32_t g = tu_range(r, 0, 31) == 0
						 ? tu_range(r, 0, 40) /* may name ring pages */
						 : h->grefs[tu_range(r, 0, h->ngrefs - 1)];
				uint16_t off =
				    (uint16_t)(tu_range(r, 0, 1) ? 0 : tu_range(r, 0, 4096 - cls));
				uint16_t len =
				    (uint16_t)(tu_range(r, 0, 3) ? cls : tu_range(r, 1, cls));
				pb[i] = (nc2_post_buf){
				    .buf_id = tu_u32(r),
				    .gref = g,
				    .offset = off,
				    .length = len,
				    .flags = (uint16_t)((h->features & NC2_FEATURE_STICKY) &&
							tu_range(r, 0, 1))};
			}
			return (uint32_t)nc2_post_encode(m, NC2_MSG_MAX_SIZE, q, pb, n);
		}
		case 6:
			return (uint32_t)tu_build_packet(m, 0, NC2_PACKET_TYPE_small, 0, 0,
							 (uint16_t)tu_range(r, 14, 96), 0, 0, 0,
							 NULL, 0, frame);
		case 7: {
			nc2_frag f[3];
			uint32_t n = tu_range(r, 1, 3);
			for (uint32_t i = 0; i < n; i++) {
				uint16_t off = (uint16_t)tu_range(r, 0, 4000);
				f[i] = (nc2_frag){
				    .ref = h->grefs[tu_range(r, 0, h->ngrefs - 1)],
				    .off = off,
				    .size = (uint16_t)tu_range(r, 1, 4096u - off),
				    .flags = (uint8_t)((h->features & NC2_FEATURE_STICKY) &&
						       tu_range(r, 0, 1))};
			}
			return pkt_frags(m,
					 tu_range(r, 0, 1) ? NC2_PACKET_TYPE_receiver_map
							   : NC2_PACKET_TYPE_receiver_copy,
					 tu_u32(r), f, n);
		}
		case 8:
			return raw_u32(m, NC2_MSG_FINISH_PACKET,
				       take_u32(r, h->pkt_ids, &h->npkt, 0xffffffffu));
		case 9:
			return raw_u32(m, NC2_MSG_RECLAIM_BUFFERS,
				       tu_range(r, 0, 1) ? NC2_RECLAIM_ALL : some_queue(r));
		case 10:
			return raw_u32(m, NC2_MSG_UNGRANT, h->grefs[tu_range(r, 0, h->ngrefs - 1)]);
		case 11: {
			uint8_t b[16] = {NC2_MSG_MCAST,
					 0,
					 16,
					 0,
					 0x01,
					 0x00,
					 0x5e,
					 0,
					 0,
					 (uint8_t)tu_range(r, 0, 3),
					 (uint8_t)tu_range(r, 1, 2)};
			memcpy(m, b, 16);
			return 16;
		}
		default: {
			uint32_t n = 8 * tu_range(r, 1, 8);
			memset(m, 0, n);
			m[0] = NC2_MSG_PAD;
			tu_put16(m + 2, (uint16_t)n);
			return n;
		}
		}
	}
	switch (k) {
	case 0:
		return raw_hello(m, 1, 1, tu_u32(r) & 0xff, (uint16_t)tu_range(r, 1, 8));
	case 1:
		return raw_u32(m, NC2_MSG_SET_MAX_PACKETS, tu_range(r, 0, 300));
	case 2:
		return raw_u32(m, NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET, tu_range(r, 1, 20));
	case 3: {
		uint32_t ok = tu_range(r, 0, 15) ? h->features : 0xff;
		return raw_offload(m, (uint8_t)((ok & NC2_FEATURE_CSUM) && tu_range(r, 0, 1)),
				   (uint8_t)((ok & NC2_FEATURE_TSO4) && tu_range(r, 0, 1)),
				   (uint8_t)((ok & NC2_FEATURE_TSO6) && tu_range(r, 0, 1)), 0);
	}
	case 4:
		return raw_u32(m, NC2_MSG_SET_GRANT_CACHE, tu_range(r, 0, 64));
	case 5:
		return (uint32_t)tu_build_packet(m, 0, NC2_PACKET_TYPE_small, 0, 0,
						 (uint16_t)tu_range(r, 14, 96), 0, 0, 0, NULL, 0,
						 frame);
	case 6:
	case 7: {
		uint32_t ids[3];
		uint16_t off[3], size[3];
		uint32_t n = tu_range(r, 1, 3);
		for (uint32_t i = 0; i < n; i++) {
			uint16_t len;
			ids[i] = take_buf(r, &len);
			off[i] = (uint16_t)tu_range(r, 0, len - 1u);
			size[i] = (uint16_t)tu_range(r, 1, (uint32_t)len - off[i]);
			if (tu_range(r, 0, 15) == 0)
				size[i] = (uint16_t)(size[i] + 1); /* one past the end */
		}
		return pre_posted(m, ids, off, size, n);
	}
	case 8: {
		uint32_t ids[4], n = tu_range(r, 1, 4);
		uint16_t len;
		for (uint32_t i = 0; i < n; i++)
			ids[i] = take_buf(r, &len);
		return (uint32_t)nc2_return_encode(m, NC2_MSG_MAX_SIZE, ids, n);
	}
	case 9:
		return raw_u32(m, NC2_MSG_FINISH_PACKET,
			       take_u32(r, h->pkt_ids, &h->npkt, 0xffffffffu));
	case 10:
		return raw_u32(m, NC2_MSG_UNGRANT_ACK, take_u32(r, h->ungrants, &h->nungrant, 300));
	case 11: {
		nc2_frag f = {.ref = tu_range(r, 0, 400), .off = 0, .size = 100};
		return pkt_frags(m, NC2_PACKET_TYPE_receiver_copy, tu_u32(r), &f, 1);
	}
	default: {
		uint32_t n = 8 * tu_range(r, 1, 8);
		memset(m, 0, n);
		m[0] = NC2_MSG_PAD;
		tu_put16(m + 2, (uint16_t)n);
		return n;
	}
	}
}

/* Outcome counts, printed with CH_VERBOSE=1 (to see what the mix reaches). */
static struct {
	uint32_t sessions, failed, err[20], rx_pkts, sends_ok, connected;
} rs;

/* One hostile session against a real side; every result checked. */
static void rand_session(uint64_t seed, int real)
{
	tu_rng r;
	tu_rng_seed(&r, seed);
	uint32_t order = tu_range(&r, 8, 12);
	nc2_channel_config c;
	nc2_channel_config_default(&c, real == CH_FE ? NC2_ROLE_FRONTEND : NC2_ROLE_BACKEND);
	c.small_max = 96;
	c.deferred_timeout = tu_range(&r, 0, 1) ? 5 : 0;
	if (tu_range(&r, 0, 1))
		c.max_packets = tu_range(&r, 1, 8);
	if (real == CH_FE) {
		c.rxq[0].nr_bufs = 16;
		c.tx_slots = 16;
		hb_new(&c, order, tu_u32(&r) & 0xff, tu_range(&r, 0, 7) != 0);
	} else {
		c.gcache_entries = tu_range(&r, 1, 4);
		c.max_posted = 64;
		hf_new(&c, order, tu_u32(&r) & 0xff, (uint16_t)tu_range(&r, 1, 4),
		       tu_range(&r, 0, 7) != 0);
		for (uint32_t i = 0; i < 4; i++)
			hf_grant(tu_range(&r, 0, 1) ? NC2_GNT_STICKY : 0);
	}
	hostile *h = H;
	nc2_channel *ch = hch();
	rs.sessions++;
	rs.connected += nc2_channel_state(ch) == NC2_CH_CONNECTED;
	char where[96];
	snprintf(where, sizeof(where), "seed %llu real %s", (unsigned long long)seed,
		 real == CH_FE ? "fe" : "be");
	uint64_t now = 0;
	/* A third of the sessions are gentle: rare mutations, no raw garbage,
	 * so they live long enough to reach teardown and the deeper states. */
	int gentle = tu_range(&r, 0, 2) == 0;
	uint32_t steps = tu_range(&r, 1, gentle ? 300 : 120);
	for (uint32_t s = 0; s < steps; s++) {
		uint32_t act = tu_range(&r, 0, 99);
		uint32_t room = h->tx.size - (h->tx.prod - raw_shared_cons(&h->tx));
		if (gentle && act >= 60 && act < 66)
			act = 0;
		if (act < 60) {
			uint32_t n = rand_msg(&r, h->m);
			if (tu_range(&r, 0, gentle ? 99 : 9) == 0)
				h->m[tu_range(&r, 0, n - 1)] = (uint8_t)tu_u32(&r); /* mutate */
			uint32_t pos = h->tx.prod & (h->tx.size - 1);
			uint32_t need = n > h->tx.size - pos ? h->tx.size - pos + n : n;
			if (n <= h->tx.size / 2 && need <= room)
				raw_send(&h->tx, h->m, n);
		} else if (act < 61) {
			/* Garbage octets, then a prod covering some of them. */
			uint32_t n = tu_range(&r, 1, 64);
			uint32_t pos = h->tx.prod & (h->tx.size - 1);
			for (uint32_t i = 0; i < n && pos + i < h->tx.size; i++)
				h->tx.payload[pos + i] = (uint8_t)tu_u32(&r);
			uint32_t adv = tu_range(&r, 0, 1) ? (n + 7u) & ~7u : tu_range(&r, 0, 72);
			if (adv <= room && pos + adv <= h->tx.size) {
				h->tx.prod += adv;
				raw_publish(&h->tx);
			}
		} else if (act < 62) {
			if (tu_range(&r, 0, 1)) /* any prod */
				tu_put32(h->tx.ctrl + NC2_RING_OFF_PROD, tu_u32(&r));
			else /* any cons */
				tu_put32(h->rx.ctrl + NC2_RING_OFF_CONS, tu_u32(&r));
			h->rx_broken = 1;
		} else if (act < 66) {
			tu_put32(h->tx.ctrl + NC2_RING_OFF_PROD_EVENT, tu_u32(&r));
			tu_put32(h->rx.ctrl + NC2_RING_OFF_CONS_EVENT, tu_u32(&r));
		} else if (act < 84) {
			/* The real side sends. */
			uint32_t len =
			    tu_range(&r, 0, 1) ? tu_range(&r, 14, 96) : tu_range(&r, 97, 4000);
			uint8_t *data = real == CH_FE ? h->p->txmem : h->p->be_txmem;
			tu_fill(&r, data, len);
			if (tu_range(&r, 0, 1))
				memcpy(data, h->p->fe_mac, 6);
			else
				memset(data, 0xff, 6);
			nc2_pkt pkt = {.data = data,
				       .len = len,
				       .cookie = s,
				       .tx_flags = tu_range(&r, 0, 1) ? NC2_PKT_GRANTABLE : 0u};
			int rc = nc2_channel_send(ch, &pkt);
			rs.sends_ok += rc == NC2_OK;
			/* INVALID_ARG on a 2^8 ring: see test_ring_tiny_frag_limit in
			 * check_channel.c (a PACKET larger than the ring carries). */
			ck_assert_msg(rc == NC2_OK || rc == 1 || rc == NC2_ERR_AGAIN ||
					  (rc == NC2_ERR_INVALID_ARG && order == 8) ||
					  rc == NC2_ERR_LIMIT || rc == NC2_ERR_UNSUPPORTED ||
					  rc == NC2_ERR_STATE || nc2_is_peer_error(rc),
				      "%s step %u: send %s (%d)", where, s, nc2_strerror(rc), rc);
		} else if (act < 86) {
			now += tu_range(&r, 0, 10);
			int rc = nc2_channel_tick(ch, now);
			ck_assert_msg(rc >= 0 || nc2_is_peer_error(rc), "%s: tick %d", where, rc);
		} else if (act < 88 && real == CH_BE) {
			int rc = nc2_channel_set_cache_size(ch, tu_range(&r, 0, 8));
			ck_assert_msg(rc >= 0 || rc == NC2_ERR_STATE || nc2_is_peer_error(rc),
				      "%s: set_cache_size %d", where, rc);
		} else if (act < 90) {
			int rc = nc2_channel_shutdown(ch);
			ck_assert_msg(rc == NC2_OK || rc == NC2_ERR_STATE || nc2_is_peer_error(rc),
				      "%s: shutdown %d", where, rc);
		} else {
			int rc = nc2_channel_prepare_wait(ch);
			ck_assert_msg(rc == 0 || rc == 1 || nc2_is_peer_error(rc),
				      "%s: prepare_wait %d", where, rc);
		}
		/* The real side runs. */
		int rc = h_poll();
		ck_assert_msg(rand_rc_ok(rc, CH_BURST), "%s step %u: poll %s (%d)", where, s,
			      nc2_strerror(rc), rc);
		if (rc > 0)
			rs.rx_pkts += (uint32_t)rc;
		int f = nc2_channel_flush(ch);
		ck_assert_msg(f == 0 || f == 1 || nc2_is_peer_error(f), "%s: flush %d", where, f);
		uint64_t cookies[CH_BURST];
		ck_assert_int_ge(nc2_channel_tx_done(ch, cookies, CH_BURST), 0);
		if (!h->rx_broken && tu_range(&r, 0, 3))
			h_drain();
		if (nc2_channel_state(ch) == NC2_CH_FAILED) {
			int err = nc2_channel_error(ch);
			ck_assert_msg(nc2_is_peer_error(err), "%s: failed with %d", where, err);
			rs.failed++;
			rs.err[(uint32_t)(NC2_ERR_PEER_PROTO - err) % 20]++;
			if (rc < 0)
				ck_assert_int_eq(rc, err);
			h_expect_failed(err);
			return;
		}
	}
	h_free();
}

START_TEST(test_random_hostile)
{
	int real = _i % 2 ? CH_FE : CH_BE;
	memset(&rs, 0, sizeof(rs));
	for (uint32_t i = 0; i < 1500; i++)
		rand_session(0x5eed0000ull + (uint64_t)_i * 1000003u + i, real);
	if (getenv("CH_VERBOSE")) {
		fprintf(stderr,
			"random %d (real %s): %u sessions, %u connected at start, %u failed,"
			" %u packets received, %u sends ok; errors -100..-116:",
			_i, real == CH_FE ? "fe" : "be", rs.sessions, rs.connected, rs.failed,
			rs.rx_pkts, rs.sends_ok);
		for (int e = 0; e < 17; e++)
			fprintf(stderr, " %u", rs.err[e]);
		fprintf(stderr, "\n");
	}
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc;

	tc = tcase_create("ring");
	tcase_add_test(tc, test_prod_far_ahead);
	tcase_add_test(tc, test_prod_far_ahead_batch_open);
	tcase_add_test(tc, test_prod_unaligned);
	tcase_add_test(tc, test_prod_backwards);
	tcase_add_loop_test(tc, test_msg_size, 0, 6);
	tcase_add_loop_test(tc, test_msg_type, 0, 4);
	tcase_add_loop_test(tc, test_cons_bad, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("sequence");
	tcase_add_loop_test(tc, test_packet_before_hello, 0, 2);
	tcase_add_loop_test(tc, test_second_hello, 0, 2);
	tcase_add_loop_test(tc, test_version, 0, 4);
	tcase_add_loop_test(tc, test_set_max_packets_twice, 0, 2);
	tcase_add_loop_test(tc, test_wrong_role_to_backend, 0, 6);
	tcase_add_loop_test(tc, test_wrong_role_to_frontend, 0, 7);
	tcase_add_loop_test(tc, test_feature_gated, 0, 2);
	tcase_add_loop_test(tc, test_offload_not_negotiated, 0, 2);
	tcase_add_test(tc, test_grant_cache_without_sticky);
	tcase_add_test(tc, test_lro_from_backend);
	suite_add_tcase(s, tc);

	tc = tcase_create("backend");
	tcase_add_test(tc, test_too_many_frags);
	tcase_add_test(tc, test_frag_crosses_page);
	tcase_add_test(tc, test_csum_without_offload);
	tcase_add_loop_test(tc, test_bad_packet_type, 0, 2);
	tcase_add_test(tc, test_over_max_packets);
	tcase_add_test(tc, test_at_max_packets);
	tcase_add_loop_test(tc, test_duplicate_packet_id, 0, 2);
	tcase_add_loop_test(tc, test_finish_unknown_to_backend, 0, 2);
	tcase_add_test(tc, test_finish_twice_to_backend);
	tcase_add_test(tc, test_post_bad_queue);
	tcase_add_loop_test(tc, test_post_over_capacity, 0, 2);
	tcase_add_loop_test(tc, test_post_bad_entry, 0, 2);
	tcase_add_loop_test(tc, test_rxq_bad, 0, 3);
	tcase_add_loop_test(tc, test_reclaim_unknown_queue, 0, 2);
	tcase_add_test(tc, test_mcast_over_limit);
	tcase_add_loop_test(tc, test_post_bad_grant, 0, 2);
	tcase_add_test(tc, test_short_posted_buffers);
	tcase_add_test(tc, test_backend_waits_for_settings);
	tcase_add_loop_test(tc, test_attach_bad_indices, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("frontend");
	tcase_add_loop_test(tc, test_pre_posted_bad_id, 0, 5);
	tcase_add_loop_test(tc, test_pre_posted_bad_frag, 0, 4);
	tcase_add_test(tc, test_pre_posted_edges);
	tcase_add_test(tc, test_posted_packets_deliver);
	tcase_add_loop_test(tc, test_posted_packets_bad, 0, 7);
	tcase_add_loop_test(tc, test_return_bad_id, 0, 4);
	tcase_add_loop_test(tc, test_finish_bad_to_frontend, 0, 2);
	tcase_add_loop_test(tc, test_finish_batch_to_frontend, 0, 4);
	tcase_add_loop_test(tc, test_lent_still_outstanding, 0, 2);
	tcase_add_loop_test(tc, test_small_packets_to_backend, 0, 5);
	tcase_add_loop_test(tc, test_ungrant_ack_bad, 0, 2);
	tcase_add_loop_test(tc, test_frontend_bad_packets, 0, 3);
	tcase_add_test(tc, test_frontend_over_max_packets);
	tcase_add_test(tc, test_frontend_copy_fails_is_drop);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random_hostile, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(hostile_suite());
}
