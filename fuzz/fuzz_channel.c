/* SPDX-License-Identifier: MIT */
/*
 * fuzz_channel: a real channel (frontend or backend, chosen by the first
 * input octet) faces a peer played by the input. The input is a program:
 * write arbitrary message bytes into the peer's ring, set the peer's raw
 * producer index, poll, send, flush, tick. Whatever the peer does, the
 * channel must return a packet count or a documented error, stay failed
 * with the same error once failed, and release every grant at fini.
 */
#include <stdlib.h>
#include <string.h>

#include <nc2/channel.h>
#include <nc2/loopback.h>

#include "fuzz.h"

#define ORDER 12
#define NBUF  4

struct rig {
	nc2_lo_world *w;
	uint16_t fe_dom, be_dom;
	nc2_transport t, peer_t;
	nc2_ring_mem fv, bv;
	nc2_channel *ch;
	void *mem;
	nc2_ring_prod peer; /* the fuzzer's producer side */
	uint8_t *tx_data;   /* grantable packet data of the channel's domain */
	int fe;             /* channel under test is the frontend */
};

static int setup(struct rig *r, int fe)
{
	nc2_channel_config cfg;
	memset(r, 0, sizeof(*r));
	r->fe = fe;
	nc2_channel_config_default(&cfg, fe ? NC2_ROLE_FRONTEND : NC2_ROLE_BACKEND);
	cfg.tx_slots = 8;
	cfg.max_packets = 4;
	if (fe) {
		cfg.rxq[0].nr_bufs = 8;
	} else {
		cfg.max_posted = 16;
		cfg.gcache_entries = 4;
		cfg.deferred_timeout = 2;
	}
	size_t gm = nc2_channel_grant_mem_size(&cfg);
	uint32_t ring_pages = 1 + 2 * ((1u << ORDER) / 4096u);
	r->w = nc2_lo_world_create(2, 1);
	if (r->w == NULL || nc2_lo_domain_create(r->w, 32, 64, &r->be_dom) < 0 ||
	    nc2_lo_domain_create(r->w, ring_pages + (uint32_t)(gm / 4096u) + 17u, 256, &r->fe_dom) <
		0)
		return -1;
	uint16_t me = fe ? r->fe_dom : r->be_dom, other = fe ? r->be_dom : r->fe_dom;
	if (nc2_lo_transport_open(r->w, me, other, &r->t) < 0 ||
	    nc2_lo_transport_open(r->w, other, me, &r->peer_t) < 0 ||
	    nc2_lo_ring_setup(r->w, r->fe_dom, r->be_dom, 0, ORDER, &r->fv, &r->bv) < 0)
		return -1;
	size_t len;
	uint8_t *ram = nc2_lo_domain_mem(r->w, me, &len);
	if (fe) {
		cfg.grant_mem = ram + (size_t)ring_pages * 4096u;
		cfg.grant_mem_len = gm;
		r->tx_data = cfg.grant_mem + gm;
	} else {
		r->tx_data = ram;
	}
	size_t fp = nc2_channel_footprint(&cfg);
	r->mem = aligned_alloc(64, (fp + 63) & ~(size_t)63);
	if (r->mem == NULL ||
	    nc2_channel_init(&r->ch, r->mem, fp, &cfg, &r->t, fe ? &r->fv : &r->bv) < 0)
		return -1;
	/* The peer produces on the ring the channel consumes. */
	const nc2_ring_mem *pv = fe ? &r->bv : &r->fv;
	if (nc2_ring_prod_init(&r->peer, pv->ctrl + (fe ? NC2_RING_CTRL_STRIDE : 0),
			       pv->payload[fe ? 1 : 0], ORDER) < 0)
		return -1;
	return nc2_channel_connect(r->ch);
}

/* Optionally open with a well-formed HELLO and settings so the fuzzer starts
 * from a connected channel. */
static void greet(struct rig *r)
{
	nc2_msg m;
	uint8_t *slot;
	memset(&m, 0, sizeof(m));
	m.type = NC2_MSG_HELLO;
	m.size = NC2_HELLO_SIZE;
	m.u.hello.version_min = 1;
	m.u.hello.version_max = 1;
	m.u.hello.features = NC2_FEATURE_ALL & ~NC2_FEATURE_BYPASS;
	m.u.hello.max_rx_queues = 2;
	if (nc2_ring_reserve(&r->peer, NC2_HELLO_SIZE, &slot) == NC2_OK) {
		nc2_msg_encode(&m, slot, NC2_HELLO_SIZE);
		nc2_ring_commit(&r->peer);
	}
	uint8_t types[] = {NC2_MSG_SET_MAX_PACKETS, NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET};
	for (unsigned i = 0; i < sizeof(types); i++) {
		memset(&m, 0, sizeof(m));
		m.type = types[i];
		m.size = NC2_U32_MSG_SIZE;
		m.u.value = 4;
		if (nc2_ring_reserve(&r->peer, NC2_U32_MSG_SIZE, &slot) == NC2_OK) {
			nc2_msg_encode(&m, slot, NC2_U32_MSG_SIZE);
			nc2_ring_commit(&r->peer);
		}
	}
	nc2_ring_push(&r->peer);
}

static void teardown(struct rig *r)
{
	if (r->ch) {
		/* A failed channel may not be able to revoke what the (absent)
		 * peer never mapped: fini must still succeed here. */
		int rc = nc2_channel_fini(r->ch);
		FUZZ_CHECK(rc == NC2_OK);
	}
	nc2_lo_transport_close(&r->t);
	nc2_lo_transport_close(&r->peer_t);
	if (r->w) {
		nc2_lo_ring_teardown(r->w, r->fe_dom, r->be_dom, 0, ORDER);
		int leaks = nc2_lo_world_destroy(r->w);
		FUZZ_CHECK(leaks == 0);
	}
	free(r->mem);
}

static int known_error(int rc)
{
	return rc == NC2_ERR_AGAIN || rc == NC2_ERR_INVALID_ARG || rc == NC2_ERR_LIMIT ||
	       rc == NC2_ERR_UNSUPPORTED || rc == NC2_ERR_STATE || rc == NC2_ERR_TRANSPORT ||
	       (rc <= NC2_ERR_PEER_PROTO && rc >= NC2_ERR_PEER_SETUP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rxmem[NBUF][65536];
	struct rig r;
	size_t i = 0;

	if (size < 1)
		return 0;
	if (setup(&r, data[0] & 1) < 0) {
		teardown(&r);
		return 0;
	}
	if (data[i++] & 2)
		greet(&r);
	nc2_rxbuf rb[NBUF];
	for (int k = 0; k < NBUF; k++)
		rb[k] = (nc2_rxbuf){.buf = rxmem[k], .cap = 65536};
	int failed = 0;
	uint64_t now = 0;

	while (i < size) {
		uint8_t op = data[i++];
		int rc = NC2_OK;
		switch (op % 6) {
		case 0: { /* raw message bytes into the peer ring */
			uint32_t len = (i < size ? data[i++] : 0) * 8u;
			uint8_t *slot;
			if (len < 8 || nc2_ring_reserve(&r.peer, len, &slot) != NC2_OK)
				break;
			size_t take = size - i < len ? size - i : len;
			memset(slot, 0, len);
			memcpy(slot, data + i, take);
			i += take;
			nc2_ring_commit(&r.peer);
			nc2_ring_push(&r.peer);
			break;
		}
		case 1: { /* a lying producer index */
			if (size - i < 4)
				break;
			uint32_t v = fz_le32(data + i);
			i += 4;
			memcpy(r.peer.ctrl + NC2_RING_OFF_PROD, &v, 4);
			break;
		}
		case 2:
			rc = nc2_channel_poll(r.ch, rb, op >> 3 & 3u);
			FUZZ_CHECK(rc >= 0 || known_error(rc));
			FUZZ_CHECK(rc < 0 || rc <= (int)(op >> 3 & 3u));
			break;
		case 3: { /* the channel under test sends */
			uint32_t len = 14u + (i < size ? data[i++] : 0) * 40u;
			nc2_pkt p = {.data = r.tx_data, .len = len, .tx_flags = NC2_PKT_GRANTABLE};
			rc = nc2_channel_send(r.ch, &p);
			FUZZ_CHECK(rc >= 0 || known_error(rc));
			uint64_t done[8];
			nc2_channel_tx_done(r.ch, done, 8);
			break;
		}
		case 4:
			rc = nc2_channel_flush(r.ch);
			FUZZ_CHECK(rc >= 0 || known_error(rc));
			if (rc >= 0 && (op & 8u)) { /* about to sleep: arms, wake_lazy */
				rc = nc2_channel_prepare_wait(r.ch);
				FUZZ_CHECK(rc == 0 || rc == 1 || known_error(rc));
			}
			break;
		default:
			rc = nc2_channel_tick(r.ch, now += 1);
			FUZZ_CHECK(rc >= 0 || known_error(rc));
			break;
		}
		if (nc2_channel_state(r.ch) == NC2_CH_FAILED) {
			int err = nc2_channel_error(r.ch);
			FUZZ_CHECK(nc2_is_peer_error(err) || err == NC2_ERR_TRANSPORT);
			/* Sticky: every later call reports the same error. */
			FUZZ_CHECK(nc2_channel_poll(r.ch, rb, 1) == err);
			FUZZ_CHECK(nc2_channel_flush(r.ch) == err);
			failed = 1;
			break;
		}
	}
	(void)failed;
	teardown(&r);
	return 0;
}
