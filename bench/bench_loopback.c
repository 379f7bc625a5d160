/* SPDX-License-Identifier: MIT */
/*
 * nc2-bench: libnc2 against the classic netif rings, both over the loopback
 * transport, doing the same work: move S octets per packet from one
 * domain's memory into a buffer of the other and return the completion.
 *
 *   tx: the frontend sends from its (grantable) RAM, the backend receives
 *       into private buffers (libnc2: inline / header pool + grant copy;
 *       netif: a request and a grant per fragment, map + memcpy + unmap).
 *   rx: the backend sends from private memory into buffers the frontend
 *       posted, the frontend delivers into private buffers (libnc2:
 *       pre_posted through the grant cache; netif: a grant per rx slot,
 *       grant copy, revoke + re-grant + re-post).
 *
 * Each burst is one event-loop iteration per side: the sender reaps
 * completions, sends up to B packets, flushes (notifying when told to) and
 * arms its events; the receiver takes up to B packets, flushes and arms.
 *
 * Modes:
 *   nc2-bench [options]        timed table: packets/s, median of --runs
 *                              alternating runs of --secs each (ratios are
 *                              what matters: the machine may be noisy)
 *   nc2-bench --quick          smoke test: a few packets of many sizes and
 *                              offsets through both, every byte checked,
 *                              nothing leaked; no timing
 *   nc2-bench --count N --impl nc2|netif --dir tx|rx --size S --batch B
 *                              run exactly N packets inside
 *                              nc2bench_measure() (for callgrind
 *                              --toggle-collect; see run-callgrind.sh)
 * Options: --dir tx|rx|both, --size S, --batch B (restrict the table),
 *   --runs R, --secs T, --offset O (payload page offset), --ring-order K,
 *   --instr FILE (instructions per packet from run-callgrind.sh),
 *   --hypercall-ns NS (model a hypercall: busy-wait NS ns in every map,
 *   unmap, grant copy and notify call, for both implementations alike;
 *   grant and revoke stay free, as they are grant-table writes on Xen).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nc2/channel.h>
#include <nc2/loopback.h>

#include "netif_baseline.h"

#define PAGE         4096u
#define MAX_BATCH    32u
#define NR_TX_BUFS   MAX_BATCH /* packets a sender may have in flight */
#define TX_BUF_PAGES 17u       /* 65535 octets at any page offset */
#define RX_CAP       65536u
#define RX_BUFS      256u /* frontend RX buffers (libnc2) / rx slots (netif) */
#define MAX_SPIN     1000u

enum { IMPL_NC2, IMPL_NETIF, NR_IMPL };
enum { DIR_TX, DIR_RX, NR_DIR };

static const char *const impl_name[NR_IMPL] = {"nc2", "netif"};
static const char *const dir_name[NR_DIR] = {"tx", "rx"};
static const uint32_t table_sizes[] = {64, 1500, 9000};
static const uint32_t table_batches[] = {1, 32};
#define NR_TSIZES   (sizeof(table_sizes) / sizeof(table_sizes[0]))
#define NR_TBATCHES (sizeof(table_batches) / sizeof(table_batches[0]))

static const uint8_t fe_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
static const uint8_t be_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};

struct opts {
	int quick;
	uint64_t count;
	int impl, dir; /* -1: all */
	uint32_t size, batch;
	uint32_t runs;
	double secs;
	uint32_t offset;
	uint32_t ring_order;
	const char *instr;
	uint32_t hypercall_ns;
};

struct ctx {
	int impl;
	uint32_t offset;
	int verify;
	nc2_lo_world *w;
	uint16_t fe_dom, be_dom;
	nc2_transport fe_t, be_t;
	/* libnc2 */
	nc2_channel_config fcfg, bcfg;
	nc2_channel *fe, *be;
	void *fe_mem, *be_mem;
	uint32_t ring_order;
	/* netif */
	nb_front *nf;
	nb_back *nb;
	/* buffers */
	uint8_t *txbuf[NR_TX_BUFS]; /* frontend RAM: TX payloads */
	uint8_t *bsend[NR_TX_BUFS]; /* backend private: RX payloads */
	uint8_t *private_mem;
	nc2_rxbuf rx[MAX_BATCH]; /* receiver's private buffers */
	uint32_t free_ids[NR_TX_BUFS], nfree;
	/* accounting */
	uint64_t notify_fe, notify_be; /* notifications sent by each side */
	uint64_t seq_tx, seq_rx;       /* verify mode: next sent / expected */
	uint64_t bad, drops;
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "nc2-bench: %s: %s (%d)\n", what, nc2_strerror(rc), rc);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The transport fault hook runs before every transport call of both
 * implementations: with --hypercall-ns it charges a modelled hypercall to
 * the calls that are hypercalls on Xen (one per batch). */
static uint32_t hypercall_ns;

static int hypercall_hook(void *user, enum nc2_tp_op op)
{
	(void)user;
	if (op == NC2_TP_MAP || op == NC2_TP_UNMAP || op == NC2_TP_COPY || op == NC2_TP_NOTIFY) {
		double end = now_s() + (double)hypercall_ns * 1e-9;
		while (now_s() < end)
			;
	}
	return NC2_OK;
}

/* ---- payload pattern (verify mode) ------------------------------------- */

static uint8_t pat(uint64_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8) + (i >> 16));
}

static void fill(uint8_t *p, uint32_t len, const uint8_t *dst, const uint8_t *src, uint64_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = pat(seq, i);
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = 0x88;
	p[13] = 0xb5;
}

static int check(const nc2_rxbuf *rb, uint32_t len, uint64_t seq)
{
	if (rb->len != len)
		return 0;
	for (uint32_t i = 14; i < len; i++)
		if (rb->buf[i] != pat(seq, i))
			return 0;
	return 1;
}

/* ---- libnc2 side -------------------------------------------------------- */

static void nc2_fe_flush(struct ctx *c)
{
	int rc = nc2_channel_flush(c->fe);
	if (rc < 0)
		die("frontend flush", rc);
	if (rc > 0) {
		c->notify_fe++;
		if ((rc = nc2_tp_notify(&c->fe_t)) < 0)
			die("notify", rc);
	}
}

static void nc2_be_flush(struct ctx *c)
{
	int rc = nc2_channel_flush(c->be);
	if (rc < 0)
		die("backend flush", rc);
	if (rc > 0) {
		c->notify_be++;
		if ((rc = nc2_tp_notify(&c->be_t)) < 0)
			die("notify", rc);
	}
}

static void nc2_setup(struct ctx *c)
{
	int rc;
	nc2_channel_config_default(&c->fcfg, NC2_ROLE_FRONTEND);
	nc2_channel_config_default(&c->bcfg, NC2_ROLE_BACKEND);
	/* The message snapshot is sized for the rings actually used. */
	c->fcfg.max_ring_order = c->bcfg.max_ring_order = c->ring_order;
	/* RX buffers: one page each, as many as netif has rx slots. */
	c->fcfg.nr_rxq = 1;
	c->fcfg.rxq[0] = (nc2_rxq_config){.buf_size = PAGE, .nr_bufs = RX_BUFS, .is_default = 1};
	size_t gm = nc2_channel_grant_mem_size(&c->fcfg);
	uint32_t rp = c->ring_order <= 12 ? 1u : 1u << (c->ring_order - 12);
	uint32_t ring_pages = 1 + 2 * rp;
	uint32_t fe_pages = ring_pages + (uint32_t)(gm / PAGE) + NR_TX_BUFS * TX_BUF_PAGES;

	c->w = nc2_lo_world_create(2, 1);
	if (c->w == NULL)
		die("world", NC2_ERR_NOSPACE);
	if ((rc = nc2_lo_domain_create(c->w, 16, 64, &c->be_dom)) < 0 ||
	    (rc = nc2_lo_domain_create(c->w, fe_pages, 4096, &c->fe_dom)) < 0)
		die("domain", rc);
	uint8_t *ram = nc2_lo_domain_mem(c->w, c->fe_dom, NULL);
	c->fcfg.grant_mem = ram + (size_t)ring_pages * PAGE;
	c->fcfg.grant_mem_len = gm;
	uint8_t *tx = c->fcfg.grant_mem + gm;
	for (uint32_t i = 0; i < NR_TX_BUFS; i++)
		c->txbuf[i] = tx + (size_t)i * TX_BUF_PAGES * PAGE;
	/* The TX buffers are recycled: register them as tx_mem (granted once,
	 * sticky) and let the backend's cache keep every sticky page mapped,
	 * as a vhost-user backend maps all of guest memory once. */
	c->fcfg.tx_mem = tx;
	c->fcfg.tx_mem_len = (size_t)NR_TX_BUFS * TX_BUF_PAGES * PAGE;
	c->bcfg.gcache_entries = (uint32_t)((gm + c->fcfg.tx_mem_len) / PAGE);

	nc2_ring_mem fview, bview;
	if ((rc = nc2_lo_transport_open(c->w, c->fe_dom, c->be_dom, &c->fe_t)) < 0 ||
	    (rc = nc2_lo_transport_open(c->w, c->be_dom, c->fe_dom, &c->be_t)) < 0)
		die("transport", rc);
	if ((rc = nc2_lo_ring_setup(c->w, c->fe_dom, c->be_dom, 0, c->ring_order, &fview, &bview)) <
	    0)
		die("ring setup", rc);
	size_t ffp = nc2_channel_footprint(&c->fcfg), bfp = nc2_channel_footprint(&c->bcfg);
	c->fe_mem = aligned_alloc(64, (ffp + 63) & ~(size_t)63);
	c->be_mem = aligned_alloc(64, (bfp + 63) & ~(size_t)63);
	if (c->fe_mem == NULL || c->be_mem == NULL)
		die("alloc", NC2_ERR_NOSPACE);
	if ((rc = nc2_channel_init(&c->fe, c->fe_mem, ffp, &c->fcfg, &c->fe_t, &fview)) < 0)
		die("frontend init", rc);
	if ((rc = nc2_channel_init(&c->be, c->be_mem, bfp, &c->bcfg, &c->be_t, &bview)) < 0)
		die("backend init", rc);
	if ((rc = nc2_channel_connect(c->fe)) < 0 || (rc = nc2_channel_connect(c->be)) < 0)
		die("connect", rc);
	/* Handshake: HELLO, settings, queue creation, buffer posts. */
	nc2_channel_stats bs;
	for (uint32_t i = 0; i < MAX_SPIN; i++) {
		nc2_fe_flush(c);
		if ((rc = nc2_channel_poll(c->be, NULL, 0)) < 0)
			die("backend connect", rc);
		nc2_be_flush(c);
		if ((rc = nc2_channel_poll(c->fe, NULL, 0)) < 0)
			die("frontend connect", rc);
		nc2_channel_get_stats(c->be, &bs);
		if (nc2_channel_state(c->fe) == NC2_CH_CONNECTED &&
		    nc2_channel_state(c->be) == NC2_CH_CONNECTED && bs.buffers_posted >= RX_BUFS)
			break;
	}
	nc2_fe_flush(c);
	if (nc2_channel_state(c->fe) != NC2_CH_CONNECTED ||
	    nc2_channel_state(c->be) != NC2_CH_CONNECTED)
		die("handshake did not complete", NC2_ERR_STATE);
}

static int nc2_teardown(struct ctx *c)
{
	int rc;
	nc2_channel_shutdown(c->fe);
	nc2_channel_shutdown(c->be);
	for (uint32_t i = 0; i < MAX_SPIN && (nc2_channel_state(c->fe) != NC2_CH_CLOSED ||
					      nc2_channel_state(c->be) != NC2_CH_CLOSED);
	     i++) {
		nc2_fe_flush(c);
		if ((rc = nc2_channel_poll(c->be, NULL, 0)) < 0)
			die("backend close", rc);
		nc2_be_flush(c);
		if ((rc = nc2_channel_poll(c->fe, NULL, 0)) < 0)
			die("frontend close", rc);
	}
	int closed =
	    nc2_channel_state(c->fe) == NC2_CH_CLOSED && nc2_channel_state(c->be) == NC2_CH_CLOSED;
	int e1 = nc2_channel_fini(c->be), e2 = nc2_channel_fini(c->fe);
	nc2_lo_transport_close(&c->fe_t);
	nc2_lo_transport_close(&c->be_t);
	int e3 = nc2_lo_ring_teardown(c->w, c->fe_dom, c->be_dom, 0, c->ring_order);
	int leaks = nc2_lo_world_destroy(c->w);
	free(c->fe_mem);
	free(c->be_mem);
	if (!closed || e1 || e2 || e3 || leaks) {
		fprintf(stderr,
			"nc2-bench: libnc2 teardown: closed %d fini %d/%d ring %d leaks %d\n",
			closed, e1, e2, e3, leaks);
		return 1;
	}
	return 0;
}

/* Frontend iteration: reap completions, send, flush, arm. Backend
 * iteration: receive, flush, arm. */
static uint32_t nc2_tx_burst(struct ctx *c, uint32_t size, uint32_t batch)
{
	uint64_t done[2 * NR_TX_BUFS];
	int rc, n;

	if ((rc = nc2_channel_poll(c->fe, NULL, 0)) < 0)
		die("frontend poll", rc);
	while ((n = nc2_channel_tx_done(c->fe, done, 2 * NR_TX_BUFS)) > 0)
		for (int i = 0; i < n; i++)
			c->free_ids[c->nfree++] = (uint32_t)done[i];
	for (uint32_t k = 0; k < batch && c->nfree; k++) {
		uint32_t id = c->free_ids[c->nfree - 1];
		uint8_t *buf = c->txbuf[id] + c->offset;
		if (c->verify)
			fill(buf, size, be_mac, fe_mac, c->seq_tx);
		nc2_pkt p = {.data = buf, .len = size, .cookie = id};
		rc = nc2_channel_send(c->fe, &p);
		if (rc == NC2_ERR_AGAIN)
			break;
		if (rc < 0)
			die("frontend send", rc);
		c->nfree--;
		c->seq_tx++;
	}
	nc2_fe_flush(c);
	nc2_channel_prepare_wait(c->fe);

	rc = nc2_channel_poll(c->be, c->rx, batch);
	if (rc < 0)
		die("backend poll", rc);
	if (c->verify)
		for (int i = 0; i < rc; i++)
			c->bad += !check(&c->rx[i], size, c->seq_rx++);
	nc2_be_flush(c);
	nc2_channel_prepare_wait(c->be);
	return (uint32_t)rc;
}

static uint32_t nc2_rx_burst(struct ctx *c, uint32_t size, uint32_t batch)
{
	uint64_t done[2 * NR_TX_BUFS];
	int rc;

	/* Backend: buffer posts in, packets out (completions are immediate). */
	if ((rc = nc2_channel_poll(c->be, NULL, 0)) < 0)
		die("backend poll", rc);
	for (uint32_t k = 0; k < batch; k++) {
		uint8_t *buf = c->bsend[k];
		if (c->verify)
			fill(buf, size, fe_mac, be_mac, c->seq_tx);
		nc2_pkt p = {.data = buf, .len = size, .cookie = k};
		rc = nc2_channel_send(c->be, &p);
		if (rc == NC2_ERR_AGAIN)
			break;
		if (rc < 0)
			die("backend send", rc);
		if (rc == 1)
			c->drops++;
		c->seq_tx++;
	}
	while (nc2_channel_tx_done(c->be, done, 2 * NR_TX_BUFS) > 0)
		;
	nc2_be_flush(c);
	nc2_channel_prepare_wait(c->be);

	rc = nc2_channel_poll(c->fe, c->rx, batch);
	if (rc < 0)
		die("frontend poll", rc);
	if (c->verify)
		for (int i = 0; i < rc; i++)
			c->bad += !check(&c->rx[i], size, c->seq_rx++);
	nc2_fe_flush(c);
	nc2_channel_prepare_wait(c->fe);
	return (uint32_t)rc;
}

/* ---- netif side ----------------------------------------------------------- */

static void nb_fe_flush(struct ctx *c)
{
	if (nb_front_flush(c->nf)) {
		c->notify_fe++;
		int rc = nc2_tp_notify(&c->fe_t);
		if (rc < 0)
			die("notify", rc);
	}
}

static void nb_be_flush(struct ctx *c)
{
	if (nb_back_flush(c->nb)) {
		c->notify_be++;
		int rc = nc2_tp_notify(&c->be_t);
		if (rc < 0)
			die("notify", rc);
	}
}

static void netif_setup(struct ctx *c)
{
	int rc;
	uint32_t fe_pages = 2 + NB_RING_SLOTS + NR_TX_BUFS * TX_BUF_PAGES;
	c->w = nc2_lo_world_create(2, 1);
	if (c->w == NULL)
		die("world", NC2_ERR_NOSPACE);
	if ((rc = nc2_lo_domain_create(c->w, 16, 64, &c->be_dom)) < 0 ||
	    (rc = nc2_lo_domain_create(c->w, fe_pages, 4096, &c->fe_dom)) < 0)
		die("domain", rc);
	uint8_t *ram = nc2_lo_domain_mem(c->w, c->fe_dom, NULL);
	uint8_t *tx = ram + (size_t)(2 + NB_RING_SLOTS) * PAGE;
	for (uint32_t i = 0; i < NR_TX_BUFS; i++)
		c->txbuf[i] = tx + (size_t)i * TX_BUF_PAGES * PAGE;
	if ((rc = nc2_lo_transport_open(c->w, c->fe_dom, c->be_dom, &c->fe_t)) < 0 ||
	    (rc = nc2_lo_transport_open(c->w, c->be_dom, c->fe_dom, &c->be_t)) < 0)
		die("transport", rc);
	c->nf = aligned_alloc(64, (nb_front_size() + 63) & ~(size_t)63);
	c->nb = aligned_alloc(64, (nb_back_size() + 63) & ~(size_t)63);
	if (c->nf == NULL || c->nb == NULL)
		die("alloc", NC2_ERR_NOSPACE);
	uint32_t gref[2];
	if ((rc = nb_front_init(c->nf, &c->fe_t, ram, ram + 2 * PAGE, gref)) < 0)
		die("netif frontend init", rc);
	if ((rc = nb_back_init(c->nb, &c->be_t, gref)) < 0)
		die("netif backend init", rc);
	nb_fe_flush(c); /* publish the posted rx requests */
}

static int netif_teardown(struct ctx *c)
{
	nb_stats fs, bs;
	nb_front_stats(c->nf, &fs);
	nb_back_stats(c->nb, &bs);
	int e1 = nb_back_fini(c->nb), e2 = nb_front_fini(c->nf);
	nc2_lo_transport_close(&c->fe_t);
	nc2_lo_transport_close(&c->be_t);
	int leaks = nc2_lo_world_destroy(c->w);
	free(c->nf);
	free(c->nb);
	if (e1 || e2 || leaks || fs.errors || bs.errors) {
		fprintf(stderr,
			"nc2-bench: netif teardown: fini %d/%d leaks %d errors fe %" PRIu64
			" be %" PRIu64 "\n",
			e1, e2, leaks, fs.errors, bs.errors);
		return 1;
	}
	return 0;
}

static uint32_t netif_tx_burst(struct ctx *c, uint32_t size, uint32_t batch)
{
	uint64_t done[2 * NR_TX_BUFS];
	int rc, n;

	while ((n = nb_front_tx_done(c->nf, done, 2 * NR_TX_BUFS)) > 0)
		for (int i = 0; i < n; i++)
			c->free_ids[c->nfree++] = (uint32_t)done[i];
	if (n < 0)
		die("netif tx_done", n);
	for (uint32_t k = 0; k < batch && c->nfree; k++) {
		uint32_t id = c->free_ids[c->nfree - 1];
		uint8_t *buf = c->txbuf[id] + c->offset;
		if (c->verify)
			fill(buf, size, be_mac, fe_mac, c->seq_tx);
		nc2_pkt p = {.data = buf, .len = size, .cookie = id};
		rc = nb_front_send(c->nf, &p);
		if (rc == NC2_ERR_AGAIN)
			break;
		if (rc < 0)
			die("netif send", rc);
		c->nfree--;
		c->seq_tx++;
	}
	nb_fe_flush(c);
	nb_front_prepare_wait(c->nf);

	rc = nb_back_tx_poll(c->nb, c->rx, batch);
	if (rc < 0)
		die("netif backend poll", rc);
	if (c->verify)
		for (int i = 0; i < rc; i++)
			c->bad += !check(&c->rx[i], size, c->seq_rx++);
	nb_be_flush(c);
	nb_back_prepare_wait(c->nb);
	return (uint32_t)rc;
}

static uint32_t netif_rx_burst(struct ctx *c, uint32_t size, uint32_t batch)
{
	int rc;
	for (uint32_t k = 0; k < batch; k++) {
		uint8_t *buf = c->bsend[k];
		if (c->verify)
			fill(buf, size, fe_mac, be_mac, c->seq_tx);
		nc2_pkt p = {.data = buf, .len = size, .cookie = k};
		rc = nb_back_rx_send(c->nb, &p);
		if (rc == NC2_ERR_AGAIN)
			break;
		if (rc < 0)
			die("netif backend send", rc);
		c->seq_tx++;
	}
	nb_be_flush(c);
	nb_back_prepare_wait(c->nb);

	rc = nb_front_rx_poll(c->nf, c->rx, batch);
	if (rc < 0)
		die("netif frontend poll", rc);
	if (c->verify)
		for (int i = 0; i < rc; i++)
			c->bad += !check(&c->rx[i], size, c->seq_rx++);
	nb_fe_flush(c);
	nb_front_prepare_wait(c->nf);
	return (uint32_t)rc;
}

/* ---- common -------------------------------------------------------------- */

static void ctx_init(struct ctx *c, int impl, const struct opts *o)
{
	memset(c, 0, sizeof(*c));
	c->impl = impl;
	c->offset = o->offset;
	c->ring_order = o->ring_order;
	if (impl == IMPL_NC2)
		nc2_setup(c);
	else
		netif_setup(c);
	/* Page-aligned like the domains' RAM: the copies then run at the same
	 * source/destination distance modulo 4 KiB in both implementations
	 * (some CPUs' rep movsb is many times slower when the destination is a
	 * few octets ahead of the source modulo 4 KiB, as with malloc's +16). */
	c->private_mem = aligned_alloc(PAGE, (size_t)(NR_TX_BUFS + MAX_BATCH) * RX_CAP);
	if (hypercall_ns) {
		c->fe_t.fault = c->be_t.fault = hypercall_hook;
		c->fe_t.fault_user = c->be_t.fault_user = NULL;
	}
	if (c->private_mem == NULL)
		die("alloc", NC2_ERR_NOSPACE);
	memset(c->private_mem, 0, (size_t)(NR_TX_BUFS + MAX_BATCH) * RX_CAP);
	for (uint32_t i = 0; i < NR_TX_BUFS; i++) {
		c->bsend[i] = c->private_mem + (size_t)i * RX_CAP;
		c->free_ids[c->nfree++] = i;
	}
	for (uint32_t i = 0; i < MAX_BATCH; i++)
		c->rx[i] = (nc2_rxbuf){.buf = c->private_mem + (size_t)(NR_TX_BUFS + i) * RX_CAP,
				       .cap = RX_CAP};
}

static int ctx_fini(struct ctx *c)
{
	int rc = c->impl == IMPL_NC2 ? nc2_teardown(c) : netif_teardown(c);
	free(c->private_mem);
	return rc;
}

/* Fill every payload once (timed and counted runs do not touch payloads). */
static void ctx_prefill(struct ctx *c, uint32_t size)
{
	for (uint32_t i = 0; i < NR_TX_BUFS; i++) {
		fill(c->txbuf[i] + c->offset, size, be_mac, fe_mac, 0);
		fill(c->bsend[i], size, fe_mac, be_mac, 0);
	}
}

static uint32_t burst(struct ctx *c, int dir, uint32_t size, uint32_t batch)
{
	if (c->impl == IMPL_NC2)
		return dir == DIR_TX ? nc2_tx_burst(c, size, batch) : nc2_rx_burst(c, size, batch);
	return dir == DIR_TX ? netif_tx_burst(c, size, batch) : netif_rx_burst(c, size, batch);
}

/* Deliver exactly \p npkts packets (the last burst may be short). */
static uint64_t run_packets(struct ctx *c, int dir, uint32_t size, uint32_t batch, uint64_t npkts)
{
	uint64_t got = 0;
	uint32_t idle = 0;
	while (got < npkts) {
		uint32_t b = npkts - got < batch ? (uint32_t)(npkts - got) : batch;
		uint32_t n = burst(c, dir, size, b);
		got += n;
		idle = n ? 0 : idle + 1;
		if (idle > MAX_SPIN)
			die("no progress", NC2_ERR_STATE);
	}
	return got;
}

/* The region callgrind counts (--toggle-collect=nc2bench_measure). */
__attribute__((noinline)) uint64_t nc2bench_measure(struct ctx *c, int dir, uint32_t size,
						    uint32_t batch, uint64_t npkts);
__attribute__((noinline)) uint64_t nc2bench_measure(struct ctx *c, int dir, uint32_t size,
						    uint32_t batch, uint64_t npkts)
{
	return run_packets(c, dir, size, batch, npkts);
}

/* Complete what is in flight so the next case starts clean. */
static void drain(struct ctx *c, int dir, uint32_t size)
{
	for (uint32_t i = 0; i < 4; i++)
		burst(c, dir, size, 0);
	if (dir == DIR_TX && c->nfree != NR_TX_BUFS)
		die("TX buffers still in flight after drain", NC2_ERR_STATE);
}

struct tp_counts {
	uint64_t calls[NC2_TP_NR_OPS];
	uint64_t notify;
};

static void tp_snapshot(const struct ctx *c, struct tp_counts *s)
{
	for (int i = 0; i < NC2_TP_NR_OPS; i++)
		s->calls[i] = c->fe_t.calls[i] + c->be_t.calls[i];
	s->notify = c->notify_fe + c->notify_be;
}

/* Packets/s over at least \p secs; \p total accumulates the packets. */
static double timed_run(struct ctx *c, int dir, uint32_t size, uint32_t batch, double secs,
			uint64_t *total)
{
	uint32_t chunk = 256 / batch ? 256 / batch : 1; /* bursts between clock reads */
	uint64_t pkts = 0;
	double t0 = now_s(), t;
	do {
		for (uint32_t i = 0; i < chunk; i++)
			pkts += burst(c, dir, size, batch);
		t = now_s();
	} while (t - t0 < secs);
	if (total)
		*total += pkts;
	return (double)pkts / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- instruction counts from run-callgrind.sh ----------------------------- */

static double instr_tab[NR_DIR][NR_TSIZES][NR_TBATCHES][NR_IMPL];

static int tsize_index(uint32_t s)
{
	for (uint32_t i = 0; i < NR_TSIZES; i++)
		if (table_sizes[i] == s)
			return (int)i;
	return -1;
}

static int tbatch_index(uint32_t b)
{
	for (uint32_t i = 0; i < NR_TBATCHES; i++)
		if (table_batches[i] == b)
			return (int)i;
	return -1;
}

/* Lines: "dir size batch impl instr_per_packet"; '#' starts a comment. */
static void load_instr(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		char d[8], im[8];
		unsigned s, b;
		double v;
		if (line[0] == '#' || sscanf(line, "%7s %u %u %7s %lf", d, &s, &b, im, &v) != 5)
			continue;
		int di = strcmp(d, "tx") == 0 ? DIR_TX : strcmp(d, "rx") == 0 ? DIR_RX : -1;
		int ii = strcmp(im, "nc2") == 0     ? IMPL_NC2
			 : strcmp(im, "netif") == 0 ? IMPL_NETIF
						    : -1;
		int si = tsize_index(s), bi = tbatch_index(b);
		if (di >= 0 && ii >= 0 && si >= 0 && bi >= 0)
			instr_tab[di][si][bi][ii] = v;
	}
	fclose(f);
}

/* ---- modes -------------------------------------------------------------- */

static void footprint(const struct opts *o)
{
	nc2_channel_config f, b, fd, bd;
	nc2_channel_config_default(&f, NC2_ROLE_FRONTEND);
	nc2_channel_config_default(&b, NC2_ROLE_BACKEND);
	fd = f;
	bd = b;
	f.max_ring_order = b.max_ring_order = o->ring_order;
	f.rxq[0] = (nc2_rxq_config){.buf_size = PAGE, .nr_bufs = RX_BUFS, .is_default = 1};
	size_t ring = PAGE + 2 * ((size_t)1 << (o->ring_order < 12 ? 12 : o->ring_order));
	size_t ffp = nc2_channel_footprint(&f), bfp = nc2_channel_footprint(&b);
	size_t gm = nc2_channel_grant_mem_size(&f);
	size_t nfe = nb_front_size(), nbe = nb_back_size();
	size_t nring = 2 * PAGE, nrx = (size_t)NB_RING_SLOTS * PAGE;

	printf("\nPer-channel memory (octets)            %12s %12s\n", "libnc2", "netif");
	printf("  shared rings                         %12zu %12zu   %s\n", ring, nring,
	       "libnc2: ctrl page + 2 x 2^order; netif: tx + rx sring pages");
	printf("  frontend private state               %12zu %12zu   %s\n", ffp, nfe,
	       "nc2_channel_footprint / per-slot tables");
	printf("  backend private state                %12zu %12zu\n", bfp, nbe);
	printf("  frontend grantable buffers           %12zu %12zu   %s\n", gm, nrx,
	       "header pool + RX buffers / posted rx pages");
	printf("  total                                %12zu %12zu\n", ring + ffp + bfp + gm,
	       nring + nfe + nbe + nrx);
	printf("  without RX buffers                   %12zu %12zu\n",
	       ring + ffp + bfp + gm - (size_t)RX_BUFS * PAGE, nring + nfe + nbe);
	printf("  libnc2 default configs: frontend %zu, backend %zu, grant_mem %zu "
	       "(RX queue %u x %u)\n",
	       nc2_channel_footprint(&fd), nc2_channel_footprint(&bd),
	       nc2_channel_grant_mem_size(&fd), fd.rxq[0].nr_bufs, fd.rxq[0].buf_size);
}

static int mode_count(const struct opts *o)
{
	struct ctx c;
	if (o->impl < 0 || o->dir < 0 || o->size == 0 || o->batch == 0 || o->batch > MAX_BATCH) {
		fprintf(stderr, "nc2-bench: --count needs --impl, --dir, --size, --batch (1..%u)\n",
			MAX_BATCH);
		return 2;
	}
	ctx_init(&c, o->impl, o);
	ctx_prefill(&c, o->size);
	run_packets(&c, o->dir, o->size, o->batch, 4 * RX_BUFS); /* warm up */
	uint64_t got = nc2bench_measure(&c, o->dir, o->size, o->batch, o->count);
	drain(&c, o->dir, o->size);
	int rc = ctx_fini(&c);
	fprintf(stderr, "nc2-bench: %s %s size %u batch %u: %" PRIu64 " packets measured\n",
		impl_name[o->impl], dir_name[o->dir], o->size, o->batch, got);
	return rc;
}

/* Smoke test: sizes and offsets through both implementations, both ways,
 * every byte checked; teardown must leave nothing granted or mapped. */
static int mode_quick(const struct opts *o)
{
	static const uint32_t sizes[] = {14, 60, 64, 128, 129, 1500, 4096, 4097, 9000, 65535};
	static const uint32_t offsets[] = {0, 66, 4000};
	static const uint32_t batches[] = {1, 7, 32};
	int fails = 0;

	for (int im = 0; im < NR_IMPL; im++) {
		uint64_t pkts = 0;
		for (uint32_t oi = 0; oi < sizeof(offsets) / sizeof(offsets[0]); oi++) {
			struct opts oo = *o;
			struct ctx c;
			oo.offset = offsets[oi];
			ctx_init(&c, im, &oo);
			c.verify = 1;
			for (int d = 0; d < NR_DIR; d++)
				for (uint32_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
					for (uint32_t bi = 0; bi < 3; bi++) {
						/* Keep a burst within the posted RX buffers
						 * (libnc2 drops, not queues, without one). */
						uint32_t slots = (sizes[si] + PAGE - 1) / PAGE;
						uint32_t b = batches[bi];
						if (b * slots > RX_BUFS / 2)
							b = RX_BUFS / 2 / slots;
						c.seq_tx = c.seq_rx = 0;
						pkts +=
						    run_packets(&c, d, sizes[si], b, 3u * b + 5u);
						drain(&c, d, sizes[si]);
						if (c.seq_rx != c.seq_tx) {
							fprintf(stderr,
								"nc2-bench: %s %s size %u: sent "
								"%" PRIu64 ", received %" PRIu64
								"\n",
								impl_name[im], dir_name[d],
								sizes[si], c.seq_tx, c.seq_rx);
							fails++;
						}
					}
			if (c.bad || c.drops) {
				fprintf(stderr,
					"nc2-bench: %s offset %u: %" PRIu64 " corrupt, %" PRIu64
					" dropped\n",
					impl_name[im], offsets[oi], c.bad, c.drops);
				fails++;
			}
			fails += ctx_fini(&c);
		}
		printf("%-6s %8" PRIu64 " packets verified (tx and rx, %zu sizes, 3 offsets, "
		       "batches 1/7/32)\n",
		       impl_name[im], pkts, sizeof(sizes) / sizeof(sizes[0]));
	}
	footprint(o);
	printf(fails ? "FAIL\n" : "OK: every byte verified, nothing leaked\n");
	return fails ? 1 : 0;
}

static int mode_table(const struct opts *o)
{
	struct ctx c[NR_IMPL];
	double rate[NR_IMPL][64], ratio[64];
	uint32_t runs = o->runs > 64 ? 64 : o->runs;

	for (int im = 0; im < NR_IMPL; im++)
		ctx_init(&c[im], im, o);
	printf("libnc2 vs netif rings over the loopback transport (ring order %u, offset %u, "
	       "modelled hypercall %u ns)\n",
	       o->ring_order, o->offset, o->hypercall_ns);
	printf("packets/s: median of %u alternating runs of %.2f s; ratio: median of the "
	       "per-pair ratios\n",
	       runs, o->secs);
	printf("instr/pkt: callgrind (bench/run-callgrind.sh)%s\n\n",
	       o->instr ? "" : " -- not loaded, pass --instr FILE");
	printf("%-14s %13s %13s %6s %11s %11s %6s | %9s %9s %9s\n", "case", "libnc2 pkt/s",
	       "netif pkt/s", "ratio", "nc2 ins/pk", "netif ins/pk", "i-rat", "nc2 op/pk",
	       "netif op/pk", "ntfy/pk");

	double r64[NR_DIR][NR_TBATCHES] = {{0}}, r1500[NR_DIR][NR_TBATCHES] = {{0}};
	for (int d = 0; d < NR_DIR; d++) {
		if (o->dir >= 0 && o->dir != d)
			continue;
		for (uint32_t si = 0; si < NR_TSIZES; si++) {
			uint32_t size = table_sizes[si];
			if (o->size && o->size != size)
				continue;
			for (int im = 0; im < NR_IMPL; im++)
				ctx_prefill(&c[im], size);
			for (uint32_t bi = 0; bi < NR_TBATCHES; bi++) {
				uint32_t batch = table_batches[bi];
				if (o->batch && o->batch != batch)
					continue;
				struct tp_counts before[NR_IMPL], after[NR_IMPL];
				uint64_t pk[NR_IMPL] = {0, 0};
				for (int im = 0; im < NR_IMPL; im++) {
					timed_run(&c[im], d, size, batch, o->secs / 4,
						  NULL); /* warm */
					tp_snapshot(&c[im], &before[im]);
				}
				for (uint32_t r = 0; r < runs; r++) {
					for (int k = 0; k < NR_IMPL; k++) {
						int im = (int)((r + (uint32_t)k) % NR_IMPL);
						rate[im][r] = timed_run(&c[im], d, size, batch,
									o->secs, &pk[im]);
					}
					ratio[r] = rate[IMPL_NC2][r] / rate[IMPL_NETIF][r];
				}
				double op[NR_IMPL], nt[NR_IMPL];
				for (int im = 0; im < NR_IMPL; im++) {
					tp_snapshot(&c[im], &after[im]);
					uint64_t ops = 0;
					for (int i = 0; i < NC2_TP_NOTIFY; i++)
						ops += after[im].calls[i] - before[im].calls[i];
					op[im] = pk[im] ? (double)ops / (double)pk[im] : 0;
					nt[im] =
					    pk[im]
						? (double)(after[im].notify - before[im].notify) /
						      (double)pk[im]
						: 0;
				}
				double m_nc2 = median(rate[IMPL_NC2], runs);
				double m_nif = median(rate[IMPL_NETIF], runs);
				double m_rat = median(ratio, runs);
				if (size == 64)
					r64[d][bi] = m_rat;
				if (size == 1500)
					r1500[d][bi] = m_rat;
				char name[32], i1[16] = "-", i2[16] = "-", i3[16] = "-";
				snprintf(name, sizeof(name), "%s %5u B x%-2u", dir_name[d], size,
					 batch);
				double *iv = instr_tab[d][si][bi];
				if (iv[IMPL_NC2] > 0)
					snprintf(i1, sizeof(i1), "%.0f", iv[IMPL_NC2]);
				if (iv[IMPL_NETIF] > 0)
					snprintf(i2, sizeof(i2), "%.0f", iv[IMPL_NETIF]);
				if (iv[IMPL_NC2] > 0 && iv[IMPL_NETIF] > 0)
					snprintf(i3, sizeof(i3), "%.2f",
						 iv[IMPL_NETIF] / iv[IMPL_NC2]);
				printf("%-14s %13.0f %13.0f %6.2f %11s %11s %6s | %9.2f %9.2f "
				       "%4.2f/%4.2f\n",
				       name, m_nc2, m_nif, m_rat, i1, i2, i3, op[IMPL_NC2],
				       op[IMPL_NETIF], nt[IMPL_NC2], nt[IMPL_NETIF]);
				for (int im = 0; im < NR_IMPL; im++)
					drain(&c[im], d, size);
			}
		}
	}
	printf("\nratio = libnc2 / netif packets/s (> 1: libnc2 faster); i-rat = netif / "
	       "libnc2 instructions per packet.\n"
	       "op/pk = transport calls (grant, revoke, map, unmap, copy batches) per packet;"
	       " ntfy/pk = notifications per packet, libnc2/netif.\n");
	if ((o->dir < 0 || o->dir == DIR_TX) && !o->size && !o->batch) {
		int ok64 = r64[DIR_TX][0] >= 2.0 && r64[DIR_TX][1] >= 2.0;
		int ok1500 = r1500[DIR_TX][0] >= 1.0 && r1500[DIR_TX][1] >= 1.0;
		printf("target (tx): libnc2 >= 2x netif at 64 B: %s (x%.2f, x%.2f); "
		       "not slower at 1500 B: %s (x%.2f, x%.2f)\n",
		       ok64 ? "met" : "MISSED", r64[DIR_TX][0], r64[DIR_TX][1],
		       ok1500 ? "met" : "MISSED", r1500[DIR_TX][0], r1500[DIR_TX][1]);
	}
	footprint(o);
	int rc = 0;
	for (int im = 0; im < NR_IMPL; im++)
		rc |= ctx_fini(&c[im]);
	return rc;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: nc2-bench [--quick] [--count N --impl nc2|netif --dir tx|rx --size S "
	    "--batch B]\n"
	    "                 [--dir tx|rx|both] [--size S] [--batch B] [--runs R] "
	    "[--secs T]\n"
	    "                 [--offset O] [--ring-order K] [--instr FILE] [--hypercall-ns NS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.impl = -1, .dir = -1, .runs = 5, .secs = 0.3, .ring_order = 12};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quick") == 0) {
			o.quick = 1;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--count") == 0)
			o.count = strtoull(v, NULL, 0);
		else if (strcmp(a, "--impl") == 0)
			o.impl = strcmp(v, "nc2") == 0     ? IMPL_NC2
				 : strcmp(v, "netif") == 0 ? IMPL_NETIF
							   : -2;
		else if (strcmp(a, "--dir") == 0)
			o.dir = strcmp(v, "tx") == 0     ? DIR_TX
				: strcmp(v, "rx") == 0   ? DIR_RX
				: strcmp(v, "both") == 0 ? -1
							 : -2;
		else if (strcmp(a, "--size") == 0)
			o.size = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--batch") == 0)
			o.batch = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--runs") == 0)
			o.runs = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--secs") == 0)
			o.secs = strtod(v, NULL);
		else if (strcmp(a, "--offset") == 0)
			o.offset = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--ring-order") == 0)
			o.ring_order = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--instr") == 0)
			o.instr = v;
		else if (strcmp(a, "--hypercall-ns") == 0)
			o.hypercall_ns = (uint32_t)strtoul(v, NULL, 0);
		else
			usage();
	}
	if (o.impl == -2 || o.dir == -2 || o.runs == 0 || o.secs <= 0 || o.offset >= PAGE ||
	    o.ring_order < 12 || o.ring_order > 20 || o.size > 65535 || o.batch > MAX_BATCH)
		usage();
	if (o.instr)
		load_instr(o.instr);
	hypercall_ns = o.hypercall_ns;
	if (o.quick)
		return mode_quick(&o);
	if (o.count)
		return mode_count(&o);
	return mode_table(&o);
}
