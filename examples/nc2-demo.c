/* SPDX-License-Identifier: MIT */
/*
 * nc2-demo: a frontend and a backend in one process over the loopback
 * transport. Packets of mixed sizes go both ways; every byte is checked on
 * arrival; then a table of what happened.
 *
 *   nc2-demo [packets-per-direction]
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nc2/channel.h>
#include <nc2/loopback.h>

#define RING_ORDER   15
#define TX_BUFS      32
#define TX_BUF_PAGES 17 /* a 65536-octet packet at any page offset */
#define PAGE         4096u
#define BURST        32

static const uint8_t fe_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
static const uint8_t be_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};
static const uint32_t sizes[] = {60,   64,   100,  128,  129,  256,   512,   1024,
				 1514, 2048, 3000, 4096, 9014, 16384, 30000, 65535};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct side {
	nc2_transport t;
	nc2_channel *ch;
	void *mem;
	uint64_t notifies;
};

static _Noreturn void die(const char *what, int rc)
{
	fprintf(stderr, "nc2-demo: %s: %s (%d)\n", what, nc2_strerror(rc), rc);
	exit(1);
}

/* Frame: dst MAC, src MAC, ethertype 0x88b5 (local experimental), then a
 * byte pattern derived from the sequence number. */
static void fill(uint8_t *p, uint32_t len, const uint8_t *dst, const uint8_t *src, uint32_t seq)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = 0x88;
	p[13] = 0xb5;
	for (uint32_t i = 14; i < len; i++)
		p[i] = (uint8_t)(seq * 31u + i * 7u + (i >> 8));
	if (len >= 18)
		memcpy(p + 14, &seq, 4);
}

static int verify(const uint8_t *p, uint32_t len, uint32_t *seq_out)
{
	uint32_t seq = 0;
	if (len < 18)
		return 0;
	memcpy(&seq, p + 14, 4);
	for (uint32_t i = 18; i < len; i++)
		if (p[i] != (uint8_t)(seq * 31u + i * 7u + (i >> 8)))
			return 0;
	*seq_out = seq;
	return 1;
}

static void flush(struct side *s)
{
	int rc = nc2_channel_flush(s->ch);
	if (rc < 0)
		die("flush", rc);
	if (rc > 0) {
		s->notifies++;
		if ((rc = nc2_tp_notify(&s->t)) < 0)
			die("notify", rc);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	uint32_t want = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 20000;
	nc2_lo_world *w = nc2_lo_world_create(4, 1);
	uint16_t be_dom, fe_dom;
	nc2_channel_config fcfg, bcfg;
	struct side fe = {0}, be = {0};
	int rc;

	nc2_channel_config_default(&fcfg, NC2_ROLE_FRONTEND);
	nc2_channel_config_default(&bcfg, NC2_ROLE_BACKEND);
	fcfg.nr_rxq = 2;
	fcfg.rxq[0] = (nc2_rxq_config){.buf_size = 2048, .nr_bufs = 512, .is_default = 1};
	fcfg.rxq[1] = (nc2_rxq_config){.buf_size = 4096, .nr_bufs = 256};
	memcpy(fcfg.rxq[0].mac, fe_mac, 6);
	memcpy(fcfg.rxq[1].mac, fe_mac, 6);
	size_t gm = nc2_channel_grant_mem_size(&fcfg);
	uint32_t ring_pages = 1 + 2 * ((1u << RING_ORDER) / PAGE);
	uint32_t gm_pages = (uint32_t)(gm / PAGE);
	uint32_t fe_pages = ring_pages + gm_pages + TX_BUFS * TX_BUF_PAGES;

	if (w == NULL)
		die("world", NC2_ERR_NOSPACE);
	if ((rc = nc2_lo_domain_create(w, 16, 64, &be_dom)) < 0 ||
	    (rc = nc2_lo_domain_create(w, fe_pages, 4096, &fe_dom)) < 0)
		die("domain", rc);
	size_t ram_len;
	uint8_t *ram = nc2_lo_domain_mem(w, fe_dom, &ram_len);
	fcfg.grant_mem = ram + (size_t)ring_pages * PAGE;
	fcfg.grant_mem_len = gm;
	uint8_t *txmem = fcfg.grant_mem + gm;

	nc2_ring_mem fview, bview;
	if ((rc = nc2_lo_transport_open(w, fe_dom, be_dom, &fe.t)) < 0 ||
	    (rc = nc2_lo_transport_open(w, be_dom, fe_dom, &be.t)) < 0)
		die("transport", rc);
	if ((rc = nc2_lo_ring_setup(w, fe_dom, be_dom, 0, RING_ORDER, &fview, &bview)) < 0)
		die("ring setup", rc);
	fe.mem = aligned_alloc(64, (nc2_channel_footprint(&fcfg) + 63) & ~(size_t)63);
	be.mem = aligned_alloc(64, (nc2_channel_footprint(&bcfg) + 63) & ~(size_t)63);
	if ((rc = nc2_channel_init(&fe.ch, fe.mem, nc2_channel_footprint(&fcfg), &fcfg, &fe.t,
				   &fview)) < 0)
		die("frontend init", rc);
	if ((rc = nc2_channel_init(&be.ch, be.mem, nc2_channel_footprint(&bcfg), &bcfg, &be.t,
				   &bview)) < 0)
		die("backend init", rc);
	if ((rc = nc2_channel_connect(fe.ch)) < 0 || (rc = nc2_channel_connect(be.ch)) < 0)
		die("connect", rc);

	static uint8_t rxmem[2][BURST][65536];
	nc2_rxbuf frx[BURST], brx[BURST];
	for (int i = 0; i < BURST; i++) {
		frx[i] = (nc2_rxbuf){.buf = rxmem[0][i], .cap = 65536};
		brx[i] = (nc2_rxbuf){.buf = rxmem[1][i], .cap = 65536};
	}
	static uint8_t bsend[65536];
	uint32_t busy = 0; /* bitmap of frontend TX buffers in flight */
	uint32_t f_sent = 0, f_got = 0, b_sent = 0, b_got = 0, b_dropped = 0, bad = 0;
	uint64_t f_bytes = 0, b_bytes = 0;
	double t0 = now_s();

	for (uint64_t iter = 0; f_got < want || b_got + b_dropped < want; iter++) {
		/* frontend -> backend */
		for (int k = 0; k < BURST && f_sent < want; k++) {
			uint32_t slot = (uint32_t)__builtin_ctz(~busy);
			if (busy == 0xffffffffu)
				break;
			uint32_t len = sizes[f_sent % NSIZES];
			/* Vary the start offset so payloads straddle pages. */
			uint8_t *buf =
			    txmem + (size_t)slot * TX_BUF_PAGES * PAGE + (f_sent % 64) * 8;
			if (len > 65536 - (f_sent % 64) * 8)
				len = 65536 - (f_sent % 64) * 8;
			fill(buf, len, be_mac, fe_mac, f_sent);
			nc2_pkt p = {.data = buf, .len = len, .cookie = slot};
			rc = nc2_channel_send(fe.ch, &p);
			if (rc == NC2_ERR_AGAIN)
				break;
			if (rc < 0)
				die("frontend send", rc);
			busy |= 1u << slot;
			f_sent++;
			f_bytes += len;
		}
		flush(&fe);
		/* backend receives, then sends its own traffic */
		rc = nc2_channel_poll(be.ch, brx, BURST);
		if (rc < 0)
			die("backend poll", rc);
		for (int i = 0; i < rc; i++) {
			uint32_t seq = 0;
			if (!verify(brx[i].buf, brx[i].len, &seq) ||
			    brx[i].len != (sizes[seq % NSIZES] > 65536 - (seq % 64) * 8
					       ? 65536 - (seq % 64) * 8
					       : sizes[seq % NSIZES]))
				bad++;
			f_got++;
		}
		for (int k = 0; k < BURST && b_sent < want; k++) {
			uint32_t len = sizes[b_sent % NSIZES];
			if (len > 4096 * 8)
				len = 4096 * 8; /* spread over at most 8 posted buffers */
			fill(bsend, len, fe_mac, be_mac, b_sent);
			nc2_pkt p = {.data = bsend, .len = len, .cookie = b_sent};
			rc = nc2_channel_send(be.ch, &p);
			if (rc == NC2_ERR_AGAIN)
				break;
			if (rc < 0)
				die("backend send", rc);
			if (rc == 1) {
				b_dropped++;
				b_sent++;
				continue;
			}
			b_sent++;
			b_bytes += len;
		}
		uint64_t done[BURST];
		int nd = nc2_channel_tx_done(be.ch, done, BURST);
		(void)nd;
		flush(&be);
		/* frontend receives, collects completions */
		rc = nc2_channel_poll(fe.ch, frx, BURST);
		if (rc < 0)
			die("frontend poll", rc);
		for (int i = 0; i < rc; i++) {
			uint32_t seq = 0, len;
			if (!verify(frx[i].buf, frx[i].len, &seq))
				bad++;
			len = sizes[seq % NSIZES] > 4096 * 8 ? 4096 * 8 : sizes[seq % NSIZES];
			if (frx[i].len != len)
				bad++;
			b_got++;
		}
		while ((nd = nc2_channel_tx_done(fe.ch, done, BURST)) > 0)
			for (int i = 0; i < nd; i++)
				busy &= ~(1u << done[i]);
		flush(&fe);
		if (iter > 100u * want)
			die("no progress", NC2_ERR_STATE);
	}
	double dt = now_s() - t0;

	/* Orderly teardown: buffers come back, sticky grants are un-granted. */
	nc2_channel_shutdown(fe.ch);
	nc2_channel_shutdown(be.ch);
	for (int i = 0; i < 1000 && (nc2_channel_state(fe.ch) != NC2_CH_CLOSED ||
				     nc2_channel_state(be.ch) != NC2_CH_CLOSED);
	     i++) {
		flush(&fe);
		if ((rc = nc2_channel_poll(be.ch, NULL, 0)) < 0)
			die("backend close", rc);
		flush(&be);
		if ((rc = nc2_channel_poll(fe.ch, NULL, 0)) < 0)
			die("frontend close", rc);
	}

	nc2_channel_stats fs, bs;
	nc2_channel_get_stats(fe.ch, &fs);
	nc2_channel_get_stats(be.ch, &bs);
	printf("libnc2 demo: frontend (dom %u) <-> backend (dom %u) over loopback, ring 2^%d\n",
	       fe_dom, be_dom, RING_ORDER);
	printf("%-26s %14s %14s\n", "", "fe -> be", "be -> fe");
	printf("%-26s %14u %14u\n", "packets sent", f_sent, b_sent);
	printf("%-26s %14u %14u\n", "packets received", f_got, b_got);
	printf("%-26s %14u %14u\n", "dropped (counted)", 0u, b_dropped);
	printf("%-26s %14" PRIu64 " %14" PRIu64 "\n", "bytes", f_bytes, b_bytes);
	printf("%-26s %14.3f %14.3f\n", "Mpps", f_got / dt / 1e6, b_got / dt / 1e6);
	printf("%-26s %14.3f %14.3f\n", "Gbit/s", (double)f_bytes * 8 / dt / 1e9,
	       (double)b_bytes * 8 / dt / 1e9);
	printf("%-26s %14.4f %14.4f\n", "notifications / packet",
	       f_sent ? (double)fe.notifies / f_sent : 0.0,
	       b_sent ? (double)be.notifies / b_sent : 0.0);
	printf("%-26s %14" PRIu64 " %14" PRIu64 "\n", "inline (small) packets", fs.tx_small,
	       bs.tx_small);
	printf("%-26s %14" PRIu64 " %14" PRIu64 "\n", "granted / pre_posted", fs.tx_granted,
	       bs.tx_pre_posted);
	printf("%-26s %14" PRIu64 " %14" PRIu64 "\n", "grant copy calls (segs)", bs.copy_ops,
	       bs.copy_segs);
	printf("%-26s %14" PRIu64 " %14" PRIu64 "\n", "maps / unmaps (backend)", bs.maps,
	       bs.unmaps);
	printf("%-26s %14" PRIu64 " %14" PRIu64 "\n", "cache hits / misses", bs.cache_hits,
	       bs.cache_misses);
	printf("%-26s %14" PRIu64 " %14" PRIu64 "\n", "grants / revokes (fe)", fs.grants,
	       fs.revokes);
	printf("%-26s %14s %14s\n", "channel state",
	       nc2_channel_state(fe.ch) == NC2_CH_CLOSED ? "closed" : "NOT CLOSED",
	       nc2_channel_state(be.ch) == NC2_CH_CLOSED ? "closed" : "NOT CLOSED");

	int leak1 = nc2_channel_fini(be.ch), leak2 = nc2_channel_fini(fe.ch);
	nc2_lo_transport_close(&fe.t);
	nc2_lo_transport_close(&be.t);
	nc2_lo_ring_teardown(w, fe_dom, be_dom, 0, RING_ORDER);
	int leaks = nc2_lo_world_destroy(w);
	free(fe.mem);
	free(be.mem);
	printf("%-26s %14d\n", "bytes verified, bad pkts", (int)bad);
	printf("%-26s %14d\n", "grants+maps leaked", leaks);
	if (bad || leaks || leak1 || leak2 || f_got != want || b_got + b_dropped != want) {
		printf("FAIL\n");
		return 1;
	}
	printf("OK: every byte verified both ways, nothing leaked\n");
	return 0;
}
