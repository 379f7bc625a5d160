/* SPDX-License-Identifier: MIT */
/*
 * nc2-bench-shm: libnc2 over the shm transport between two processes,
 * against the peers a user would pick instead, measured in the same run.
 *
 * Every trial runs a sender and a receiver as two processes pinned to two
 * CPUs (sched_setaffinity), busy-polling (or, with --event, sleeping on the
 * eventfd when idle). The frontend is the guest side (memif client,
 * virtio-user), the backend the switch side (memif server, vhost-user);
 * fe->be and be->fe are both measured.
 *
 *   libnc2        nc2_shm_listen/accept (backend) and nc2_shm_connect
 *                 (frontend), one nc2_channel each; fe->be: frontend TX
 *                 (inline up to small_max, else header pool + read-only
 *                 grants, FINISHed) into the backend's private buffers;
 *                 be->fe: backend TX into the buffers the frontend posted
 *                 (pre_posted, through the grant cache), delivered into
 *                 the frontend's private buffers. Every message and
 *                 descriptor is validated by the library.
 *   netif-style   bench/netif_baseline.c (Xen's io/ring.h + io/netif.h
 *                 fixed-slot rings, driven as netfront/netback do) over the
 *                 same shm transport: its rings and rx pages are granted
 *                 from the frontend's memfd region, TX grants are mapped and
 *                 copied by the backend process, rx by grant copy.
 *   unix          a Unix-domain SOCK_SEQPACKET socketpair, send()/recv().
 *   DPDK peers    memif (copy, zero-copy) and vhost-user <-> virtio-user
 *                 (packed, split) with dpdk-testpmd txonly -> rxonly (see
 *                 shm_testpmd.c), located through DPDK_TESTPMD,
 *                 DPDK_LIBDIR, DPDK_PLUGINS (bench/fetch-dpdk.sh).
 *
 * Work per packet: "hdr" (as testpmd's txonly/rxonly: the sender writes the
 * 42 octets of Ethernet/IPv4/UDP headers into a recycled buffer of its own,
 * the receiver releases its buffer unread) or "full" (every octet written
 * by the sender and read by the receiver).
 *
 * The host moves the two vCPUs between placements with very different
 * cache-line round trips; every trial is bracketed by a round-trip
 * measurement and a ratio only comes from a libnc2/peer pair run back to
 * back whose round trips are all in the same class.
 *
 * Modes:
 *   nc2-bench-shm --smoke          integrity only: libnc2 and netif-style
 *                                  over shm, both directions, mixed sizes,
 *                                  every octet checked, nothing leaked
 *                                  (exit 77 = SKIP without memfd/sockets)
 *   nc2-bench-shm --rtt            cache-line round trip, ns
 *   nc2-bench-shm --trial IMPL     one trial: IMPL = nc2 | netif | unix |
 *                                  memif | memif-zc | vhost-packed |
 *                                  vhost-split  (with --dir, --size,
 *                                  --pattern, --event)
 *   nc2-bench-shm [--table]        the full comparison table (long)
 * Options: --dir fe2be|be2fe, --size S, --pattern hdr|full, --event,
 *   --pairs N (valid pairs per ratio, default 3), --windows N (one-second
 *   windows per trial, default 2), --cpus A,B (frontend, backend),
 *   --run-dir DIR, --ring-order K (libnc2 ring, default 17: 128 KiB each way),
 *   --inflight N (libnc2 packets in flight, TX slots and posted RX buffers,
 *   64..1024, the protocol's limit on posted buffers; default 1024 like
 *   memif's default ring of 1024 slots), --keep-logs,
 *   --no-dpdk, --verbose (libnc2 counters per trial), --peers LIST
 *   (table: a comma-separated subset of memif, vhost-packed, memif-zc,
 *   vhost-split, unix, netif, event; --dir and --size restrict it too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nc2/channel.h>
#include <nc2/shm.h>

#include "netif_baseline.h"
#include "shm_bench.h"

#define PAGE         4096u
#define BURST        32u
#define MAX_POSTED   1024u             /* a frontend's outstanding buffers (PROTOCOL.md 7.2) */
#define MAX_TXB      (2u * MAX_POSTED) /* sender's recycled buffers: 2 x in flight */
#define TXB_STRIDE   2048u             /* two per page: 1500 octets never cross one */
#define V_NR_TXB     64u               /* verify runs: fewer, larger buffers */
#define V_TXB_STRIDE (4u * PAGE)       /* up to 16 KiB packets */
#define RX_CAP       16384u            /* receiver's private buffers */
#define FE_RX_BUF    2048u
#define NETIF_PAGES  (2u + NB_RING_SLOTS) /* netif rings + rx pages */
#define SETUP_LIMIT  10.0                 /* seconds for handshake and readiness */
#define DRAIN_LIMIT  5.0                  /* seconds for quiesce and teardown */
#define CHILD_ALARM  120u
#define HDR_LEN      42u

enum { IMPL_NC2, IMPL_NETIF, IMPL_UNIX, NR_IMPL };
static const char *const impl_name[NR_IMPL] = {"libnc2", "netif-style", "unix seqpacket"};

static const uint32_t mixed_sizes[] = {14,  60,   64,   127,  128,  129, 200,
				       256, 1500, 2048, 3000, 4097, 9000};
#define NR_MIXED (sizeof(mixed_sizes) / sizeof(mixed_sizes[0]))

/* ---- configuration of one trial --------------------------------------- */

struct tcfg {
	int impl, dir, pattern, event;
	uint32_t size;  /* 0: mixed sizes (verify runs) */
	uint64_t count; /* verify: exactly this many packets, every octet checked */
	double warm, wlen;
	int nwin;
	int cpu_fe, cpu_be;
	const char *run_dir;
	uint32_t ring_order;
	uint32_t inflight; /* packets in flight: libnc2 tx_slots/max_packets/RX buffers */
};

/* ---- shared control block (MAP_SHARED, set up before fork) -------------- */

struct side_out {
	int done, err; /* err: NC2_ERR_* or -errno */
	char msg[200];
	uint64_t sent, recv, bad, notifies, wakeups, timeouts, drops;
	uint32_t grants_left, maps_left;
	double cpu_share; /* CPU time / wall time from go to stop */
};

struct ctrl {
	_Alignas(64) _Atomic int go;
	_Alignas(64) _Atomic int stop;
	_Alignas(64) _Atomic int ready[2]; /* set up, handshake done */
	_Atomic int parked[2];             /* asleep until go (round trip measured) */
	_Atomic int listening;
	_Atomic int quiesced[2];
	_Atomic int closed[2];
	_Atomic int finished[2];
	_Atomic int netif_ready;
	uint32_t netif_gref[2];
	_Alignas(64) struct side_out out[2]; /* [0] frontend, [1] backend */
	double win[SB_MAX_WIN];
	int nwin;
	uint64_t win_pkts;
};

/* ---- one endpoint --------------------------------------------------------- */

struct ep {
	const struct tcfg *cfg;
	struct ctrl *c;
	struct side_out *out;
	int fe, sender, me;
	/* shm */
	nc2_shm *shm;
	nc2_transport *t;
	uint8_t *gm;
	size_t gmlen;
	/* libnc2 */
	nc2_channel *ch;
	void *chmem;
	/* netif */
	nb_front *nf;
	nb_back *nb;
	/* unix */
	int fd;
	/* buffers */
	uint8_t *txb;
	uint32_t ntxb, stride;
	uint32_t freeids[MAX_TXB], nfree;
	uint8_t *rxmem;
	nc2_rxbuf rx[BURST];
	uint8_t hdr[HDR_LEN];
	uint64_t seq; /* sender: next to send; receiver: next expected */
	uint64_t sink;
	int blocked; /* sender: the last burst could not send everything */
};

static const uint8_t fe_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
static const uint8_t be_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};

/* A system call failed: \p err is -errno. */
static void fail(struct ep *e, int err, const char *what)
{
	e->out->err = err ? err : -1;
	snprintf(e->out->msg, sizeof(e->out->msg), "%s %s: %s", e->fe ? "frontend" : "backend",
		 what, strerror(-err));
	atomic_store(&e->c->stop, 1);
	_exit(3);
}

/* A libnc2 call failed with \p err (NC2_ERR_*). */
static void nfail(struct ep *e, int err, const char *what)
{
	int saved = errno;
	e->out->err = err ? err : -1;
	snprintf(e->out->msg, sizeof(e->out->msg), "%s %s: %s (%d)%s%s",
		 e->fe ? "frontend" : "backend", what, nc2_strerror(err), err,
		 err == NC2_ERR_TRANSPORT ? ", errno: " : "",
		 err == NC2_ERR_TRANSPORT ? strerror(saved) : "");
	atomic_store(&e->c->stop, 1);
	_exit(3);
}

/* ---- packets --------------------------------------------------------------- */

static uint32_t pkt_size(const struct tcfg *cfg, uint64_t seq)
{
	return cfg->size ? cfg->size : mixed_sizes[seq % NR_MIXED];
}

static uint8_t pat(uint64_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8) + (i >> 16));
}

/* A plausible Ethernet/IPv4/UDP header (198.18.0.0/15, port 9), built once
 * per size like testpmd's txonly. */
static void build_hdr(uint8_t *h, const uint8_t *dst, const uint8_t *src, uint32_t len)
{
	uint32_t ip_len = len > 14 ? len - 14 : 0, udp_len = ip_len > 20 ? ip_len - 20 : 0;
	memset(h, 0, HDR_LEN);
	memcpy(h, dst, 6);
	memcpy(h + 6, src, 6);
	h[12] = 0x08;
	h[13] = 0x00;
	uint8_t *ip = h + 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 198, ip[13] = 18, ip[14] = 0, ip[15] = 1;
	ip[16] = 198, ip[17] = 18, ip[18] = 0, ip[19] = 2;
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	uint8_t *udp = ip + 20;
	udp[1] = 9;
	udp[3] = 9;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
}

static void fill(struct ep *e, uint8_t *buf, uint32_t len, uint64_t seq)
{
	if (e->cfg->count) { /* verify: seq in the source MAC, pattern after */
		memcpy(buf, e->fe ? be_mac : fe_mac, 6);
		for (int i = 0; i < 6; i++)
			buf[6 + i] = (uint8_t)(seq >> (8 * i));
		buf[12] = 0x88;
		buf[13] = 0xb5;
		for (uint32_t i = 14; i < len; i++)
			buf[i] = pat(seq, i);
		return;
	}
	if (len < HDR_LEN) {
		memcpy(buf, e->hdr, len);
		return;
	}
	if (e->cfg->pattern == SB_PAT_FULL)
		memset(buf + HDR_LEN, (int)(seq & 0xff), len - HDR_LEN);
	memcpy(buf, e->hdr, HDR_LEN); /* a constant size: a few stores, as txonly */
}

/* The receiver's work on one packet. */
static void consume(struct ep *e, const uint8_t *buf, uint32_t len)
{
	if (e->cfg->count) {
		uint64_t seq = e->seq++;
		int bad = len != pkt_size(e->cfg, seq);
		for (int i = 0; i < 6 && !bad; i++)
			bad = buf[6 + i] != (uint8_t)(seq >> (8 * i));
		for (uint32_t i = 14; i < len && !bad; i++)
			bad = buf[i] != pat(seq, i);
		if (bad && e->out->bad++ < 3)
			fprintf(stderr,
				"nc2-bench-shm: %s: packet %" PRIu64
				" corrupt (len %u, expected %u)\n",
				e->fe ? "frontend" : "backend", seq, len, pkt_size(e->cfg, seq));
		return;
	}
	e->seq++;
	if (e->cfg->pattern == SB_PAT_FULL) {
		uint64_t s = 0, w;
		uint32_t i = 0;
		for (; i + 8 <= len; i += 8) {
			memcpy(&w, buf + i, 8);
			s += w;
		}
		for (; i < len; i++)
			s += buf[i];
		e->sink += s;
	}
}

/* ---- libnc2 endpoint ------------------------------------------------------- */

static uint32_t tx_pages(const struct tcfg *cfg);

static void nc2_cfg(const struct ep *e, nc2_channel_config *cfg)
{
	nc2_channel_config_default(cfg, e->fe ? NC2_ROLE_FRONTEND : NC2_ROLE_BACKEND);
	cfg->max_ring_order = e->cfg->ring_order;
	cfg->tx_slots = e->cfg->inflight;
	cfg->max_packets = e->cfg->inflight;
	if (e->fe) {
		cfg->nr_rxq = 1;
		cfg->rxq[0] = (nc2_rxq_config){
		    .buf_size = FE_RX_BUF, .nr_bufs = e->cfg->inflight, .is_default = 1};
	} else {
		/* Map every RX buffer page, the header pool and tx_mem. */
		cfg->gcache_entries = e->cfg->inflight * FE_RX_BUF / PAGE + 64 + tx_pages(e->cfg);
		cfg->max_posted = MAX_POSTED; /* >= inflight, checked in main() */
	}
}

static void ep_flush(struct ep *e)
{
	int rc;
	if (e->cfg->impl == IMPL_NC2) {
		rc = nc2_channel_flush(e->ch);
		if (rc < 0)
			nfail(e, rc, "flush");
	} else {
		rc = e->fe ? nb_front_flush(e->nf) : nb_back_flush(e->nb);
	}
	if (rc > 0) {
		e->out->notifies++;
		if ((rc = nc2_tp_notify(e->t)) < 0)
			nfail(e, rc, "notify");
	}
}

/* Completed TX cookies back to the free list. */
static void reap(struct ep *e)
{
	uint64_t done[64];
	int n;
	if (e->cfg->impl == IMPL_NC2) {
		while ((n = nc2_channel_tx_done(e->ch, done, 64)) > 0)
			if (e->fe)
				for (int i = 0; i < n; i++)
					e->freeids[e->nfree++] = (uint32_t)done[i];
	} else if (e->fe) {
		while ((n = nb_front_tx_done(e->nf, done, 64)) > 0)
			for (int i = 0; i < n; i++)
				e->freeids[e->nfree++] = (uint32_t)done[i];
		if (n < 0)
			nfail(e, n, "netif tx_done");
	}
}

/* Buffer \p id: its slot, at one of 8 cache-line offsets so that the
 * headers of consecutive buffers do not all fall into one cache set (as
 * DPDK's 2176-octet mbufs do not); 448 + 1500 octets stay within a 2 KiB
 * slot, so a 1500 B packet never crosses a page. */
static uint8_t *tx_buf(const struct ep *e, uint32_t id)
{
	return e->txb + (size_t)id * e->stride + (id % 8u) * 64u;
}

/* One sender iteration: service, reap, send up to BURST, flush.
 * \return packets sent. */
static uint32_t send_burst(struct ep *e, uint64_t limit)
{
	int rc;
	uint32_t k = 0;
	if (e->cfg->impl == IMPL_NC2 && (rc = nc2_channel_poll(e->ch, NULL, 0)) < 0)
		nfail(e, rc, "poll");
	reap(e);
	e->blocked = 0;
	for (; k < BURST && e->seq < limit; k++) {
		uint32_t len = pkt_size(e->cfg, e->seq), id;
		uint8_t *buf;
		if (e->fe) {
			if (e->nfree == 0) {
				e->blocked = 1;
				break;
			}
			id = e->freeids[e->nfree - 1];
		} else {
			id = (uint32_t)(e->seq % e->ntxb);
		}
		buf = tx_buf(e, id);
		fill(e, buf, len, e->seq);
		nc2_pkt p = {.data = buf, .len = len, .cookie = id};
		if (e->cfg->impl == IMPL_NC2)
			rc = nc2_channel_send(e->ch, &p);
		else
			rc = e->fe ? nb_front_send(e->nf, &p) : nb_back_rx_send(e->nb, &p);
		if (rc == NC2_ERR_AGAIN) {
			e->blocked = 1;
			break;
		}
		if (rc == 1) { /* backend: no posted buffer, nothing written */
			e->out->drops++;
			e->blocked = 1;
			break;
		}
		if (rc < 0)
			nfail(e, rc, "send");
		if (e->fe)
			e->nfree--;
		e->seq++;
		e->out->sent++;
	}
	if (!e->fe && e->cfg->impl == IMPL_NC2)
		reap(e); /* backend completions are immediate */
	ep_flush(e);
	return k;
}

/* One receiver iteration. \return packets received. */
/* Give back the buffers a libnc2 poll of n packets lent. */
static void release_lent(struct ep *e, int n)
{
	uint32_t tok[BURST], k = 0;
	for (int i = 0; i < n; i++)
		if (e->rx[i].rx_flags & NC2_RXBUF_LENT)
			tok[k++] = e->rx[i].token;
	int rc = k ? nc2_channel_rx_release(e->ch, tok, k) : NC2_OK;
	if (rc < 0)
		nfail(e, rc, "rx_release");
}

static uint32_t recv_burst(struct ep *e)
{
	int n;
	if (e->cfg->impl == IMPL_NC2)
		n = nc2_channel_poll(e->ch, e->rx, BURST);
	else
		n = e->fe ? nb_front_rx_poll(e->nf, e->rx, BURST)
			  : nb_back_tx_poll(e->nb, e->rx, BURST);
	if (n < 0)
		nfail(e, n, "receive");
	for (int i = 0; i < n; i++)
		consume(e, e->cfg->impl == IMPL_NC2 ? e->rx[i].data : e->rx[i].buf, e->rx[i].len);
	release_lent(e, n);
	e->out->recv += (uint64_t)n;
	ep_flush(e);
	return (uint32_t)n;
}

/* Event mode: sleep on our eventfd after arming events. */
static void ep_wait(struct ep *e)
{
	int rc = e->cfg->impl == IMPL_NC2 ? nc2_channel_prepare_wait(e->ch)
		 : e->fe                  ? nb_front_prepare_wait(e->nf)
					  : nb_back_prepare_wait(e->nb);
	if (rc < 0)
		nfail(e, rc, "prepare_wait");
	if (rc > 0)
		return;
	struct pollfd pf = {.fd = nc2_shm_event_fd(e->shm), .events = POLLIN};
	rc = poll(&pf, 1, 10);
	if (rc > 0) {
		nc2_shm_ack_events(e->shm);
		e->out->wakeups++;
	} else if (rc == 0) {
		e->out->timeouts++;
	}
}

static void ep_service(struct ep *e)
{
	if (e->cfg->impl == IMPL_UNIX)
		return;
	if (e->sender)
		send_burst(e, 0);
	else
		recv_burst(e);
}

/* Service without sending (teardown): take what arrives, unread and
 * uncounted, reap completions, publish. */
static void ep_idle(struct ep *e)
{
	int n = 0;
	if (e->cfg->impl == IMPL_NC2) {
		n = nc2_channel_poll(e->ch, e->rx, BURST);
		if (n >= 0) {
			release_lent(e, n);
			reap(e);
		}
	} else if (e->fe) {
		reap(e);
		n = nb_front_rx_poll(e->nf, e->rx, BURST);
	} else {
		n = nb_back_tx_poll(e->nb, e->rx, BURST);
	}
	if (n < 0)
		nfail(e, n, "teardown poll");
	ep_flush(e);
}

static void carve_tx(struct ep *e, uint8_t *mem)
{
	e->txb = mem;
	e->ntxb = e->cfg->count ? V_NR_TXB : 2 * e->cfg->inflight;
	e->stride = e->cfg->count ? V_TXB_STRIDE : TXB_STRIDE;
	if (!e->fe)
		e->ntxb = BURST;
	e->nfree = 0;
	for (uint32_t i = 0; i < e->ntxb; i++) /* prefault, and the freelist */
		memset(e->txb + (size_t)i * e->stride, 0, e->stride);
	if (e->fe)
		for (uint32_t i = e->ntxb; i-- > 0;)
			e->freeids[e->nfree++] = i;
}

static uint32_t tx_pages(const struct tcfg *cfg)
{
	return cfg->count ? V_NR_TXB * V_TXB_STRIDE / PAGE : 2 * cfg->inflight * TXB_STRIDE / PAGE;
}

static void ep_connect(struct ep *e, const uint8_t uuid[16])
{
	nc2_shm_config sc;
	nc2_channel_config cc;
	nc2_shm_config_default(&sc, e->fe ? NC2_ROLE_FRONTEND : NC2_ROLE_BACKEND);
	memcpy(sc.uuid, uuid, 16);
	sc.run_dir = e->cfg->run_dir;
	int rc;
	if (e->fe) {
		nc2_cfg(e, &cc);
		size_t need = nc2_channel_grant_mem_size(&cc);
		sc.ring_order = e->cfg->ring_order;
		sc.grant_pages = (uint32_t)((need + PAGE - 1) / PAGE) + tx_pages(e->cfg) +
				 (e->cfg->impl == IMPL_NETIF ? NETIF_PAGES : 0);
		sc.grant_entries = 8192;
		rc = nc2_shm_connect(&sc, (int)(SETUP_LIMIT * 1000), &e->shm);
		if (rc < 0)
			nfail(e, rc, "nc2_shm_connect");
	} else {
		nc2_shm_listener *l;
		rc = nc2_shm_listen(&sc, &l);
		if (rc < 0)
			nfail(e, rc, "nc2_shm_listen");
		atomic_store(&e->c->listening, 1); /* the frontend may connect */
		rc = nc2_shm_accept(l, (int)(SETUP_LIMIT * 1000), &e->shm);
		nc2_shm_listener_close(l);
		if (rc < 0)
			nfail(e, rc, "nc2_shm_accept");
	}
	e->t = nc2_shm_transport(e->shm);
	e->gm = nc2_shm_grant_mem(e->shm, &e->gmlen);
	memset(e->gm, 0, e->gmlen); /* prefault our region */
}

static void nc2_attach(struct ep *e)
{
	nc2_channel_config cfg;
	nc2_cfg(e, &cfg);
	if (e->fe) {
		size_t need = nc2_channel_grant_mem_size(&cfg);
		size_t at = (need + PAGE - 1) & ~(size_t)(PAGE - 1);
		cfg.grant_mem = e->gm;
		cfg.grant_mem_len = need;
		carve_tx(e, e->gm + at);
		/* The sender's recycled buffers, granted once (sticky). */
		cfg.tx_mem = e->gm + at;
		cfg.tx_mem_len = (size_t)tx_pages(e->cfg) * PAGE;
	}
	size_t fp = nc2_channel_footprint(&cfg);
	e->chmem = aligned_alloc(64, (fp + 63) & ~(size_t)63);
	if (e->chmem == NULL)
		nfail(e, NC2_ERR_NOSPACE, "alloc");
	memset(e->chmem, 0, (fp + 63) & ~(size_t)63);
	int rc = nc2_channel_init(&e->ch, e->chmem, fp, &cfg, e->t, nc2_shm_rings(e->shm));
	if (rc == NC2_OK)
		rc = nc2_channel_connect(e->ch);
	if (rc < 0)
		nfail(e, rc, "channel init");
	/* Handshake: HELLO, settings, queues, buffer posts. */
	double t0 = sb_now();
	for (;;) {
		ep_service(e);
		if (nc2_channel_state(e->ch) == NC2_CH_CONNECTED) {
			nc2_channel_stats st;
			nc2_channel_get_stats(e->ch, &st);
			if (e->fe || st.buffers_posted >= e->cfg->inflight)
				break;
		}
		if (nc2_channel_state(e->ch) == NC2_CH_FAILED)
			nfail(e, nc2_channel_error(e->ch), "handshake");
		if (sb_now() - t0 > SETUP_LIMIT)
			nfail(e, NC2_ERR_STATE, "handshake timed out");
	}
}

static void netif_attach(struct ep *e)
{
	if (e->fe) {
		uint32_t gref[2];
		e->nf = aligned_alloc(64, (nb_front_size() + 63) & ~(size_t)63);
		if (e->nf == NULL)
			nfail(e, NC2_ERR_NOSPACE, "alloc");
		int rc = nb_front_init(e->nf, e->t, e->gm, e->gm + 2 * PAGE, gref);
		if (rc < 0)
			nfail(e, rc, "netif frontend init");
		carve_tx(e, e->gm + (size_t)NETIF_PAGES * PAGE);
		e->c->netif_gref[0] = gref[0];
		e->c->netif_gref[1] = gref[1];
		atomic_store(&e->c->netif_ready, 1);
		ep_flush(e); /* publish the posted rx requests */
	} else {
		double t0 = sb_now();
		while (!atomic_load(&e->c->netif_ready)) {
			if (sb_now() - t0 > SETUP_LIMIT)
				nfail(e, NC2_ERR_STATE, "netif rings never granted");
			sb_sleep(0.001);
		}
		e->nb = aligned_alloc(64, (nb_back_size() + 63) & ~(size_t)63);
		if (e->nb == NULL)
			nfail(e, NC2_ERR_NOSPACE, "alloc");
		int rc = nb_back_init(e->nb, e->t, e->c->netif_gref);
		if (rc < 0)
			nfail(e, rc, "netif backend init");
	}
}

/* Wait (servicing the channel) until \p flag of the peer is set. */
static void wait_peer(struct ep *e, _Atomic int *flag, const char *what)
{
	double t0 = sb_now();
	while (!atomic_load(flag)) {
		ep_idle(e);
		if (sb_now() - t0 > DRAIN_LIMIT)
			nfail(e, NC2_ERR_STATE, what);
	}
}

/* After the run: the sender stops, everything in flight completes, then
 * an orderly close; leaks are recorded. */
static void ep_teardown(struct ep *e)
{
	struct ctrl *c = e->c;
	int peer = !e->me;
	double t0 = sb_now();
	if (e->sender) {
		/* Everything we sent completes (frontend: cookies back). */
		while (e->fe && e->nfree != e->ntxb) {
			ep_idle(e);
			if (sb_now() - t0 > DRAIN_LIMIT)
				nfail(e, NC2_ERR_STATE, "TX buffers never completed");
		}
		atomic_store(&c->quiesced[e->me], 1);
		wait_peer(e, &c->quiesced[peer], "peer never quiesced");
	} else {
		wait_peer(e, &c->quiesced[peer], "sender never quiesced");
		uint32_t idle = 0;
		while (idle < 4) {
			uint64_t before = e->out->recv;
			recv_burst(e);
			idle = e->out->recv != before ? 0 : idle + 1;
		}
		atomic_store(&c->quiesced[e->me], 1);
	}
	int rc;
	if (e->cfg->impl == IMPL_NC2) {
		nc2_channel_shutdown(e->ch);
		t0 = sb_now();
		while (nc2_channel_state(e->ch) == NC2_CH_CLOSING) {
			ep_idle(e);
			if (sb_now() - t0 > DRAIN_LIMIT)
				nfail(e, NC2_ERR_STATE, "channel never closed");
		}
		if (nc2_channel_state(e->ch) != NC2_CH_CLOSED)
			nfail(e, nc2_channel_error(e->ch), "close");
		atomic_store(&c->closed[e->me], 1);
		/* Keep answering until the peer is closed too. */
		t0 = sb_now();
		while (!atomic_load(&c->closed[peer])) {
			if (nc2_channel_flush(e->ch) < 0 || nc2_channel_poll(e->ch, NULL, 0) < 0)
				break;
			if (sb_now() - t0 > DRAIN_LIMIT)
				nfail(e, NC2_ERR_STATE, "peer never closed");
		}
		if ((rc = nc2_channel_fini(e->ch)) < 0)
			nfail(e, rc, "fini");
	} else if (e->fe) {
		/* netfront revokes its grants once netback has unmapped. */
		wait_peer(e, &c->closed[peer], "netif backend never unmapped");
		if ((rc = nb_front_fini(e->nf)) < 0)
			nfail(e, rc, "netif fini");
		atomic_store(&c->closed[e->me], 1);
	} else {
		if ((rc = nb_back_fini(e->nb)) < 0)
			nfail(e, rc, "netif fini");
		atomic_store(&c->closed[e->me], 1);
	}
	e->out->grants_left = nc2_shm_grants_active(e->shm);
	e->out->maps_left = nc2_shm_maps_active(e->shm);
	atomic_store(&c->finished[e->me], 1);
	/* Close only when the peer is done with our memory. */
	t0 = sb_now();
	while (!atomic_load(&c->finished[peer]) && sb_now() - t0 < DRAIN_LIMIT)
		sb_sleep(0.001);
	nc2_shm_close(e->shm);
}

static int verbose;

/* --verbose: the channel's counters after the run (stderr). */
static void print_stats(const struct ep *e)
{
	nc2_channel_stats st;
	nc2_channel_get_stats(e->ch, &st);
	fprintf(stderr,
		"  [%s] tx %" PRIu64 " (small %" PRIu64 " granted %" PRIu64 " pre_posted %" PRIu64
		") rx %" PRIu64 " msgs %" PRIu64 "/%" PRIu64 " finish %" PRIu64 "/%" PRIu64
		" flushes %" PRIu64 " notify %" PRIu64 "\n"
		"        drops no_buffer %" PRIu64 " copy_failed %" PRIu64 " grants %" PRIu64
		" revokes %" PRIu64 " maps %" PRIu64 " copy %" PRIu64 "/%" PRIu64 " cache %" PRIu64
		"/%" PRIu64 "/%" PRIu64 " posted %" PRIu64 "/%" PRIu64 " bench: again %" PRIu64
		" drops %" PRIu64 "\n",
		e->fe ? "frontend" : "backend", st.tx_packets, st.tx_small, st.tx_granted,
		st.tx_pre_posted, st.rx_packets, st.msgs_sent, st.msgs_received, st.finish_sent,
		st.finish_received, st.flushes, st.notify_needed, st.drop_no_buffer,
		st.drop_copy_failed, st.grants, st.revokes, st.maps, st.copy_ops, st.copy_segs,
		st.cache_hits, st.cache_misses, st.cache_evictions, st.buffers_posted,
		st.buffers_returned, e->out->timeouts, e->out->drops);
}

/* ---- the measured loop --------------------------------------------------- */

struct meter {
	double next, last;
	uint64_t base;
	int started;
	uint32_t iter;
};

static void meter_start(struct ep *e, struct meter *m)
{
	memset(m, 0, sizeof(*m));
	m->next = sb_now() + e->cfg->warm;
	e->c->nwin = 0;
}

static void meter_tick(struct ep *e, struct meter *m, int force)
{
	if (!force && (++m->iter & 15u))
		return;
	double t = sb_now();
	if (t < m->next)
		return;
	uint64_t now_pkts = e->out->recv;
	if (m->started) {
		struct ctrl *c = e->c;
		c->win[c->nwin++] = (double)(now_pkts - m->base) / (t - m->last);
		c->win_pkts += now_pkts - m->base;
		if (c->nwin >= e->cfg->nwin) {
			atomic_store(&c->stop, 1);
			return;
		}
	}
	m->started = 1;
	m->base = now_pkts;
	m->last = t;
	m->next = t + e->cfg->wlen;
}

/* The start gate: a pipe the parent writes one octet per side into when
 * the round trip is measured (a blocked read takes no CPU; polling a flag
 * would disturb the measurement). */
static int gate_rd = -1, gate_wr = -1;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* From go to stop: how much of its CPU this side got. */
struct share {
	double t0, c0;
};

static void share_start(struct share *sh)
{
	sh->t0 = sb_now();
	sh->c0 = cpu_now();
}

static void share_end(struct ep *e, const struct share *sh)
{
	double dt = sb_now() - sh->t0;
	e->out->cpu_share = dt > 0 ? (cpu_now() - sh->c0) / dt : 0;
}

static void park(struct ep *e)
{
	char b;
	atomic_store(&e->c->parked[e->me], 1);
	while (!atomic_load(&e->c->go)) {
		ssize_t r = read(gate_rd, &b, 1);
		if (r < 0 && errno != EINTR)
			fail(e, -errno, "start gate");
		if (r == 0 && !atomic_load(&e->c->go))
			fail(e, -EPIPE, "start gate closed");
	}
}

static void run_channel(struct ep *e)
{
	struct ctrl *c = e->c;
	struct meter m;
	const struct tcfg *cfg = e->cfg;
	uint64_t limit = cfg->count ? cfg->count : UINT64_MAX;

	/* Service until both sides are set up, then block until go so that
	 * the parent measures the round trip on idle CPUs. */
	while (!atomic_load(&c->ready[0]) || !atomic_load(&c->ready[1]))
		ep_service(e);
	park(e);
	struct share sh;
	share_start(&sh);
	if (!e->sender)
		meter_start(e, &m);
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		uint32_t n;
		if (e->sender) {
			n = send_burst(e, limit);
		} else {
			n = recv_burst(e);
			if (cfg->count) {
				if (e->out->recv >= cfg->count)
					atomic_store(&c->stop, 1);
			} else {
				meter_tick(e, &m, 0);
			}
		}
		if (cfg->event && n == 0)
			ep_wait(e);
	}
	share_end(e, &sh);
}

static void run_unix(struct ep *e)
{
	struct ctrl *c = e->c;
	struct meter m;
	uint64_t limit = e->cfg->count ? e->cfg->count : UINT64_MAX;
	park(e);
	struct share sh;
	share_start(&sh);
	if (e->sender) {
		while (!atomic_load_explicit(&c->stop, memory_order_relaxed) && e->seq < limit) {
			uint32_t len = pkt_size(e->cfg, e->seq);
			uint8_t *buf = tx_buf(e, (uint32_t)(e->seq % e->ntxb));
			fill(e, buf, len, e->seq);
			ssize_t r = send(e->fd, buf, len, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				fail(e, -errno, "send");
			}
			e->seq++;
			e->out->sent++;
		}
		share_end(e, &sh);
		shutdown(e->fd, SHUT_WR);
	} else {
		meter_start(e, &m);
		for (;;) {
			ssize_t r = recv(e->fd, e->rxmem, RX_CAP, 0);
			if (r == 0)
				break;
			if (r < 0) {
				if (errno == EINTR)
					continue;
				fail(e, -errno, "recv");
			}
			if (atomic_load_explicit(&c->stop, memory_order_relaxed)) {
				if (sh.t0 > 0) {
					share_end(e, &sh);
					sh.t0 = 0;
				}
				continue; /* drain until the sender closes */
			}
			consume(e, e->rxmem, (uint32_t)r);
			e->out->recv++;
			if (e->cfg->count) {
				if (e->out->recv >= e->cfg->count)
					atomic_store(&c->stop, 1);
			} else {
				meter_tick(e, &m, 0);
			}
		}
	}
	close(e->fd);
}

static void side_main(struct ctrl *c, const struct tcfg *cfg, int fe, const uint8_t uuid[16],
		      int fd)
{
	struct ep e;
	memset(&e, 0, sizeof(e));
	e.cfg = cfg;
	e.c = c;
	e.fe = fe;
	e.me = fe ? 0 : 1;
	e.out = &c->out[e.me];
	e.sender = (cfg->dir == SB_FE2BE) == fe;
	e.fd = fd;
	alarm(CHILD_ALARM);
	signal(SIGPIPE, SIG_IGN);
	int rc = sb_pin(fe ? cfg->cpu_fe : cfg->cpu_be);
	if (rc < 0 && !cfg->count) /* integrity runs work on one CPU too */
		fail(&e, rc, "sched_setaffinity");
	uint32_t len = cfg->size ? cfg->size : 64;
	build_hdr(e.hdr, fe ? be_mac : fe_mac, fe ? fe_mac : be_mac, len);
	/* The receiver's buffers, staggered by a cache line (see tx_buf). */
	e.rxmem = aligned_alloc(64, (size_t)BURST * (RX_CAP + 64));
	if (e.rxmem == NULL)
		fail(&e, -ENOMEM, "alloc");
	memset(e.rxmem, 0, (size_t)BURST * (RX_CAP + 64));
	/* Like rxonly, which frees its mbufs unread, a libnc2 receiver of the
	 * hdr pattern takes its posted buffers on loan instead of a copy; the
	 * integrity runs (count) check the octets of lent buffers too. */
	uint32_t lend = cfg->impl == IMPL_NC2 && (cfg->pattern == SB_PAT_HDR || cfg->count)
			    ? NC2_RXBUF_LEND
			    : 0;
	for (uint32_t i = 0; i < BURST; i++)
		e.rx[i] = (nc2_rxbuf){
		    .buf = e.rxmem + (size_t)i * (RX_CAP + 64), .cap = RX_CAP, .rx_flags = lend};

	if (cfg->impl == IMPL_UNIX) {
		/* private buffers, round-robin */
		e.ntxb = BURST;
		e.stride = cfg->count ? RX_CAP : TXB_STRIDE;
		e.txb = aligned_alloc(PAGE, (size_t)BURST * RX_CAP);
		if (e.txb == NULL)
			fail(&e, -ENOMEM, "alloc");
		memset(e.txb, 0, (size_t)BURST * RX_CAP);
		atomic_store(&c->ready[e.me], 1);
		run_unix(&e);
		e.out->done = 1;
		_exit(0);
	}

	ep_connect(&e, uuid);
	if (!fe) {
		/* backend TX: private buffers */
		uint8_t *mem = aligned_alloc(PAGE, (size_t)BURST * V_TXB_STRIDE);
		if (mem == NULL)
			fail(&e, -ENOMEM, "alloc");
		carve_tx(&e, mem);
	}
	if (cfg->impl == IMPL_NC2)
		nc2_attach(&e);
	else
		netif_attach(&e);
	atomic_store(&c->ready[e.me], 1);
	run_channel(&e);
	if (verbose && cfg->impl == IMPL_NC2)
		print_stats(&e);
	ep_teardown(&e);
	e.out->done = 1;
	_exit(0);
}

/* ---- the parent: one trial ------------------------------------------------ */

static int run_local(const struct tcfg *cfg, struct sb_result *r)
{
	memset(r, 0, sizeof(*r));
	struct ctrl *c =
	    mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED) {
		snprintf(r->err, sizeof(r->err), "mmap: %s", strerror(errno));
		return -1;
	}
	memset(c, 0, sizeof(*c));
	uint8_t uuid[16];
	if (getrandom(uuid, sizeof(uuid), 0) != (ssize_t)sizeof(uuid))
		for (int i = 0; i < 16; i++)
			uuid[i] = (uint8_t)(rand() ^ (int)getpid());
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	int sv[2] = {-1, -1};
	if (cfg->impl == IMPL_UNIX && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
		snprintf(r->err, sizeof(r->err), "socketpair: %s", strerror(errno));
		munmap(c, sizeof(*c));
		return -1;
	}
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0) {
		snprintf(r->err, sizeof(r->err), "pipe: %s", strerror(errno));
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		munmap(c, sizeof(*c));
		return -1;
	}
	gate_rd = gate[0];
	gate_wr = gate[1];
	pid_t pid[2] = {0, 0};
	fflush(NULL);
	/* Backend first: it listens, then the frontend connects. */
	for (int k = 1; k >= 0; k--) {
		pid[k] = fork();
		if (pid[k] == 0) {
			if (sv[0] >= 0)
				close(sv[k ? 0 : 1]);
			close(gate_wr);
			side_main(c, cfg, k == 0, uuid, sv[k ? 1 : 0]);
		}
		if (pid[k] < 0) {
			snprintf(r->err, sizeof(r->err), "fork: %s", strerror(errno));
			break;
		}
		if (k == 1 && cfg->impl != IMPL_UNIX) {
			double t0 = sb_now();
			while (!atomic_load(&c->listening) && sb_now() - t0 < SETUP_LIMIT &&
			       waitpid(pid[1], NULL, WNOHANG) == 0)
				sb_sleep(0.001);
		}
	}
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	int status[2] = {0, 0}, alive[2] = {pid[0] > 0, pid[1] > 0};
	double t0 = sb_now();
	int go = 0, killed = 0;
	while (alive[0] || alive[1]) {
		for (int k = 0; k < 2; k++)
			if (alive[k] && waitpid(pid[k], &status[k], WNOHANG) == pid[k])
				alive[k] = 0;
		if (!go && atomic_load(&c->parked[0]) && atomic_load(&c->parked[1])) {
			if (!cfg->count)
				r->rtt0 = sb_rtt_ns(cfg->cpu_fe, cfg->cpu_be);
			go = 1;
			atomic_store(&c->go, 1);
			if (write(gate_wr, "gg", 2) != 2)
				atomic_store(&c->stop, 1);
		}
		if ((!alive[0] || !alive[1]) && (alive[0] || alive[1]) && !killed) {
			/* One side died: give the other a moment, then stop it
			 * (a side still parked sees the gate close). */
			atomic_store(&c->stop, 1);
			if (!go && gate_wr >= 0) {
				close(gate_wr);
				gate_wr = -1;
			}
			double t1 = sb_now();
			while ((alive[0] || alive[1]) && sb_now() - t1 < DRAIN_LIMIT + 1) {
				for (int k = 0; k < 2; k++)
					if (alive[k] &&
					    waitpid(pid[k], &status[k], WNOHANG) == pid[k])
						alive[k] = 0;
				sb_sleep(0.01);
			}
			for (int k = 0; k < 2; k++)
				if (alive[k]) {
					kill(pid[k], SIGKILL);
					waitpid(pid[k], &status[k], 0);
					alive[k] = 0;
				}
			killed = 1;
		}
		if (sb_now() - t0 > CHILD_ALARM + 5) {
			for (int k = 0; k < 2; k++)
				if (alive[k])
					kill(pid[k], SIGKILL);
		}
		sb_sleep(0.005);
	}
	int rc = 0;
	for (int k = 0; k < 2; k++) {
		struct side_out *o = &c->out[k];
		const char *who = k ? "backend" : "frontend";
		if (o->err) {
			snprintf(r->err, sizeof(r->err), "%s", o->msg);
			rc = -1;
			break;
		}
		if (!WIFEXITED(status[k]) || WEXITSTATUS(status[k]) != 0 || !o->done) {
			snprintf(r->err, sizeof(r->err), "%s process %s %d", who,
				 WIFSIGNALED(status[k]) ? "killed by signal" : "exited with",
				 WIFSIGNALED(status[k]) ? WTERMSIG(status[k])
							: WEXITSTATUS(status[k]));
			rc = -1;
			break;
		}
		if (o->grants_left || o->maps_left || o->bad) {
			snprintf(r->err, sizeof(r->err),
				 "%s: %u grants and %u maps left at teardown, %" PRIu64
				 " corrupt packets",
				 who, o->grants_left, o->maps_left, o->bad);
			rc = -1;
		}
	}
	if (rc == 0 && cfg->count) {
		uint64_t sent = c->out[cfg->dir == SB_FE2BE ? 0 : 1].sent;
		uint64_t got = c->out[cfg->dir == SB_FE2BE ? 1 : 0].recv;
		if (got != cfg->count || sent != cfg->count) {
			snprintf(r->err, sizeof(r->err),
				 "sent %" PRIu64 ", received %" PRIu64 ", expected %" PRIu64, sent,
				 got, cfg->count);
			rc = -1;
		}
	}
	if (rc == 0 && !cfg->count) {
		if (c->nwin < cfg->nwin) {
			snprintf(r->err, sizeof(r->err), "only %d windows", c->nwin);
			rc = -1;
		} else {
			r->nwin = c->nwin;
			memcpy(r->win, c->win, sizeof(double) * (size_t)c->nwin);
			r->pps = sb_median(r->win, r->nwin);
			r->pkts = c->win_pkts;
			r->ok = 1;
		}
	}
	close(gate_rd);
	if (gate_wr >= 0)
		close(gate_wr);
	if (!cfg->count)
		r->rtt1 = sb_rtt_ns(cfg->cpu_fe, cfg->cpu_be);
	r->total_pkts = c->out[cfg->dir == SB_FE2BE ? 1 : 0].recv;
	r->cpu[0] = c->out[0].cpu_share;
	r->cpu[1] = c->out[1].cpu_share;
	r->notifies = c->out[0].notifies + c->out[1].notifies;
	r->wakeups = c->out[0].wakeups + c->out[1].wakeups;
	r->sleeps_timed_out = c->out[0].timeouts + c->out[1].timeouts;
	munmap(c, sizeof(*c));
	return rc;
}

/* ---- options, checks ----------------------------------------------------- */

struct opts {
	int mode; /* 0 table, 1 smoke, 2 rtt, 3 trial */
	const char *trial;
	int dir, pattern, event;
	uint32_t size, ring_order, inflight;
	int pairs, nwin, cpu_fe, cpu_be, keep_logs, no_dpdk;
	const char *run_dir;
	const char *peers;
	struct sb_dpdk dpdk;
};

/* Exit 77 (SKIP) when the machinery is missing here. */
static int probe_skip(void)
{
	int fd = memfd_create("nc2-bench-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		printf("SKIP: memfd_create: %s\n", strerror(errno));
		return 77;
	}
	close(fd);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
		printf("SKIP: AF_UNIX SOCK_SEQPACKET: %s\n", strerror(errno));
		return 77;
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void base_cfg(const struct opts *o, struct tcfg *t, int impl, int dir, uint32_t size,
		     int pattern)
{
	memset(t, 0, sizeof(*t));
	t->impl = impl;
	t->dir = dir;
	t->size = size;
	t->pattern = pattern;
	t->event = o->event;
	t->warm = 0.3;
	t->wlen = 1.0;
	t->nwin = o->nwin;
	t->cpu_fe = o->cpu_fe;
	t->cpu_be = o->cpu_be;
	t->run_dir = o->run_dir;
	t->ring_order = o->ring_order;
	t->inflight = o->inflight;
}

static int mode_smoke(struct opts *o)
{
	int rc = probe_skip();
	if (rc)
		return rc;
	char dir[PATH_MAX];
	if (o->run_dir == NULL) {
		/* A private directory for the sockets under $TMPDIR, named by our
		 * pid and a counter: mkdir() creates it 0700 or fails, so a
		 * directory someone else made is never used. */
		const char *tmp = getenv("TMPDIR");
		int made = 0;
		for (unsigned k = 0; k < 100 && !made; k++) {
			int n = snprintf(dir, sizeof(dir), "%s/nc2-bench-shm-%ld-%u",
					 tmp && *tmp ? tmp : "/tmp", (long)getpid(), k);
			if (n < 0 || (size_t)n >= sizeof(dir)) {
				printf("SKIP: TMPDIR too long for a socket directory\n");
				return 77;
			}
			if (mkdir(dir, 0700) == 0)
				made = 1;
			else if (errno != EEXIST)
				break;
		}
		if (!made) {
			printf("SKIP: mkdir %s: %s\n", dir, strerror(errno));
			return 77;
		}
		o->run_dir = dir;
	}
	int fails = 0;
	for (int impl = 0; impl < NR_IMPL; impl++)
		for (int d = 0; d < SB_NR_DIR; d++) {
			if (impl == IMPL_UNIX && d == SB_BE2FE)
				continue;
			struct tcfg t;
			struct sb_result r;
			base_cfg(o, &t, impl, d, 0, SB_PAT_FULL);
			t.count = 20000;
			int x = run_local(&t, &r);
			printf("%-15s %s: %6" PRIu64 " packets of %zu sizes (14..9000 octets), "
			       "every octet checked: %s%s\n",
			       impl_name[impl], sb_dir_name[d], t.count, NR_MIXED,
			       x == 0 ? "OK" : "FAIL: ", x == 0 ? "" : r.err);
			fails += x != 0;
			/* Event mode: the same through sleeping endpoints. */
			if (impl == IMPL_NC2) {
				t.event = 1;
				t.count = 5000;
				x = run_local(&t, &r);
				printf("%-15s %s: %6" PRIu64 " packets, event mode: %s%s "
				       "(%" PRIu64 " notifications)\n",
				       impl_name[impl], sb_dir_name[d], t.count,
				       x == 0 ? "OK" : "FAIL: ", x == 0 ? "" : r.err, r.notifies);
				fails += x != 0;
			}
		}
	if (o->run_dir == dir)
		rmdir(dir);
	printf(fails ? "FAIL\n" : "OK: every octet verified, nothing leaked\n");
	return fails ? 1 : 0;
}

static int dpdk_peer_index(const char *s)
{
	if (!strcmp(s, "memif"))
		return SB_PEER_MEMIF_COPY;
	if (!strcmp(s, "memif-zc"))
		return SB_PEER_MEMIF_ZC;
	if (!strcmp(s, "vhost-packed"))
		return SB_PEER_VHOST_PACKED;
	if (!strcmp(s, "vhost-split"))
		return SB_PEER_VHOST_SPLIT;
	return -1;
}

static int impl_index(const char *s)
{
	if (!strcmp(s, "nc2"))
		return IMPL_NC2;
	if (!strcmp(s, "netif"))
		return IMPL_NETIF;
	if (!strcmp(s, "unix"))
		return IMPL_UNIX;
	return -1;
}

static void print_result(const char *name, int dir, uint32_t size, int pattern,
			 const struct sb_result *r)
{
	printf("  %-18s %s %5u B %-4s ", name, sb_dir_name[dir], size,
	       pattern == SB_PAT_HDR ? "hdr" : "full");
	if (!r->ok) {
		printf("FAILED: %s\n", r->err);
		return;
	}
	printf("%8.2f Mpps  rtt %4.0f/%4.0f ns (%c%c)  cpu %3.0f/%3.0f%%  windows", r->pps / 1e6,
	       r->rtt0, r->rtt1, sb_class(r->rtt0), sb_class(r->rtt1), 100 * r->cpu[0],
	       100 * r->cpu[1]);
	for (int i = 0; i < r->nwin; i++)
		printf(" %.2f", r->win[i] / 1e6);
	if ((r->notifies || r->wakeups) && r->total_pkts)
		printf("  notify/pkt %.5f wakeups/pkt %.5f",
		       (double)r->notifies / (double)r->total_pkts,
		       (double)r->wakeups / (double)r->total_pkts);
	printf("\n");
	fflush(stdout);
}

/* One local trial (libnc2, netif-style or unix), bracketed by round trips
 * measured while both processes sleep (run_local). */
static int trial(const struct opts *o, int impl, int dir, uint32_t size, int pattern, int event,
		 struct sb_result *r)
{
	struct tcfg t;
	base_cfg(o, &t, impl, dir, size, pattern);
	t.event = event;
	return run_local(&t, r);
}

static int mode_trial(struct opts *o)
{
	int impl = impl_index(o->trial), peer = dpdk_peer_index(o->trial);
	if (impl < 0 && peer < 0) {
		fprintf(stderr, "nc2-bench-shm: unknown --trial %s\n", o->trial);
		return 2;
	}
	if (impl >= 0 && probe_skip())
		return 77;
	struct sb_result r;
	uint32_t size = o->size ? o->size : 64;
	int dirs[2] = {o->dir >= 0 ? o->dir : SB_FE2BE, o->dir >= 0 ? -1 : SB_BE2FE};
	int rc = 0;
	for (int i = 0; i < 2; i++) {
		if (dirs[i] < 0)
			continue;
		if (peer >= 0)
			sb_testpmd_trial(&o->dpdk, peer, dirs[i], size, &r);
		else
			trial(o, impl, dirs[i], size, o->pattern, o->event, &r);
		print_result(impl >= 0 ? impl_name[impl] : sb_peer_name[peer], dirs[i], size,
			     o->pattern, &r);
		if (peer >= 0 && i == 0) {
			char cmd[8192];
			sb_testpmd_cmdline(&o->dpdk, peer, dirs[i], size, cmd, sizeof(cmd));
			printf("%s\n", cmd);
		}
		rc |= !r.ok;
	}
	return rc;
}

/* ---- the table ----------------------------------------------------------- */

#define MAX_PAIRS 32

struct cell {
	int impl, peer; /* the comparison: peer (DPDK) or impl (local) */
	int dir, pattern;
	uint32_t size;
	const char *name;
	double nc2[MAX_PAIRS], other[MAX_PAIRS], ratio[MAX_PAIRS];
	double rtt[MAX_PAIRS][4];
	int valid[MAX_PAIRS];
	int n, nvalid;
	char err[512];
};

static void run_cell(const struct opts *o, struct cell *c)
{
	int fails = 0;
	struct sb_tp *tp = NULL;
	c->n = c->nvalid = 0;
	/* The host flips the placement every few seconds, and a pair counts
	 * only if both halves ran in one: up to five tries per pair wanted
	 * (with three, 53 of 124 pairs of a full run were mixed, and one cell
	 * had two valid pairs instead of three). */
	for (int attempt = 0; c->nvalid < o->pairs && c->n < MAX_PAIRS && attempt < 5 * o->pairs;
	     attempt++) {
		struct sb_result a, b;
		int nc2_first = attempt % 2 == 0;
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		if (c->peer >= 0 && tp == NULL) {
			/* Start the peer first and keep it (stopped) for the cell:
			 * its seconds of startup must not sit between the two
			 * halves of a pair. */
			tp = sb_tp_start(&o->dpdk, c->peer, c->dir, c->size, b.err, sizeof(b.err));
			if (tp == NULL) {
				print_result(c->name, c->dir, c->size, c->pattern, &b);
				snprintf(c->err, sizeof(c->err), "%s", b.err);
				if (++fails >= 2)
					return;
				continue;
			}
		}
		for (int k = 0; k < 2; k++) {
			if ((k == 0) == nc2_first) {
				trial(o, IMPL_NC2, c->dir, c->size, c->pattern, 0, &a);
				print_result("libnc2", c->dir, c->size, c->pattern, &a);
			} else {
				if (tp)
					sb_tp_measure(tp, &b);
				else
					trial(o, c->impl, c->dir, c->size, c->pattern, 0, &b);
				print_result(c->name, c->dir, c->size, c->pattern, &b);
			}
		}
		if (!a.ok || !b.ok) {
			snprintf(c->err, sizeof(c->err), "%s", !a.ok ? a.err : b.err);
			if (!b.ok) { /* restart the peer */
				sb_tp_stop(tp);
				tp = NULL;
			}
			if (++fails >= 2)
				break;
			continue;
		}
		int i = c->n++;
		c->nc2[i] = a.pps;
		c->other[i] = b.pps;
		c->ratio[i] = a.pps / b.pps;
		const struct sb_result *first = nc2_first ? &a : &b, *second = nc2_first ? &b : &a;
		c->rtt[i][0] = first->rtt0;
		c->rtt[i][1] = first->rtt1;
		c->rtt[i][2] = second->rtt0;
		c->rtt[i][3] = second->rtt1;
		char k0 = sb_class(c->rtt[i][0]);
		c->valid[i] = k0 != '?';
		for (int k = 1; k < 4; k++)
			c->valid[i] &= sb_class(c->rtt[i][k]) == k0;
		int busy = 0;
		/* A socket's processes sleep in send/recv by design: only the
		 * busy-polling trials must have had their CPUs. */
		for (int k = 0; k < 2; k++)
			busy |= a.cpu[k] < SB_MIN_CPU_SHARE ||
				(c->impl != IMPL_UNIX && b.cpu[k] < SB_MIN_CPU_SHARE);
		c->valid[i] &= !busy;
		c->nvalid += c->valid[i];
		printf("    pair %d: ratio %.2f, round trips %.0f/%.0f, %.0f/%.0f ns -> %s\n",
		       i + 1, c->ratio[i], c->rtt[i][0], c->rtt[i][1], c->rtt[i][2], c->rtt[i][3],
		       c->valid[i] ? (k0 == 'F' ? "fast placement" : "slow placement")
		       : busy      ? "CPU taken by other jobs, not counted"
				   : "mixed placement, not counted");
		fflush(stdout);
	}
	sb_tp_stop(tp);
	if (c->n)
		c->err[0] = 0;
}

/* Median over the valid pairs (all pairs if none was valid). */
static void cell_stats(const struct cell *c, double *nc2, double *other, double *ratio, double *lo,
		       double *hi, char *cls, size_t clscap, char *rtts, size_t rttcap)
{
	double x[MAX_PAIRS] = {0}, y[MAX_PAIRS] = {0}, z[MAX_PAIRS] = {0};
	int n = 0, any = c->nvalid == 0;
	*lo = 1e300;
	*hi = 0;
	double rmin = 1e300, rmax = 0;
	for (int i = 0; i < c->n; i++) {
		if (!c->valid[i] && !any)
			continue;
		x[n] = c->nc2[i];
		y[n] = c->other[i];
		z[n] = c->ratio[i];
		if (z[n] < *lo)
			*lo = z[n];
		if (z[n] > *hi)
			*hi = z[n];
		for (int k = 0; k < 4; k++) {
			if (c->rtt[i][k] < rmin)
				rmin = c->rtt[i][k];
			if (c->rtt[i][k] > rmax)
				rmax = c->rtt[i][k];
		}
		n++;
	}
	*ratio = sb_median(z, n);
	/* The figures shown are those of the pair whose ratio is the median
	 * (the lower middle one for an even count), so the columns agree. */
	int best = 0;
	for (int i = 1; i < n; i++)
		if (fabs(z[i] - *ratio) < fabs(z[best] - *ratio) ||
		    (fabs(z[i] - *ratio) == fabs(z[best] - *ratio) && z[i] < z[best]))
			best = i;
	*nc2 = x[best];
	*other = y[best];
	/* The ratio in each placement on its own. */
	double zf[MAX_PAIRS], zs[MAX_PAIRS];
	int nf = 0, ns = 0;
	for (int i = 0; i < c->n; i++) {
		if (!c->valid[i])
			continue;
		if (sb_class(c->rtt[i][0]) == 'F')
			zf[nf++] = c->ratio[i];
		else
			zs[ns++] = c->ratio[i];
	}
	if (any) {
		snprintf(cls, clscap, "%d mixed-placement pairs", n);
	} else {
		char a[40] = "-", b[40] = "-";
		if (nf)
			snprintf(a, sizeof(a), "%.2f (%d)", sb_median(zf, nf), nf);
		if (ns)
			snprintf(b, sizeof(b), "%.2f (%d)", sb_median(zs, ns), ns);
		snprintf(cls, clscap, "%-11s %-11s", a, b);
	}
	snprintf(rtts, rttcap, "%.0f-%.0f", rmin, rmax);
}

static void print_cells(struct cell *cells, int n, const char *title)
{
	printf("\n%s\n", title);
	printf("%-13s %-17s %9s %9s %7s %13s %-11s %-11s %s\n", "case", "compared with", "libnc2",
	       "other", "ratio", "[min..max]", "fast: (n)", "slow: (n)", "rtt ns");
	printf("%-31s %19s %7s %13s %-23s %s\n", "", "(the median pair)", "median", "of pairs",
	       "ratio by placement", "range");
	for (int i = 0; i < n; i++) {
		struct cell *c = &cells[i];
		char cs[24], rt[32];
		snprintf(cs, sizeof(cs), "%s %4u B", sb_dir_name[c->dir], c->size);
		if (c->n == 0) {
			printf("%-13s %-17s n/a: %s\n", cs, c->name,
			       c->err[0] ? c->err : "not run");
			continue;
		}
		double a, b, r, lo, hi;
		char cls[64];
		cell_stats(c, &a, &b, &r, &lo, &hi, cls, sizeof(cls), rt, sizeof(rt));
		char mm[32];
		snprintf(mm, sizeof(mm), "[%.2f..%.2f]", lo, hi);
		printf("%-13s %-17s %9.2f %9.2f %7.2f %13s %-23s %s\n", cs, c->name, a / 1e6,
		       b / 1e6, r, mm, cls, rt);
	}
}

/* --peers LIST (comma-separated keys): which comparisons the table runs. */
static int wanted(const struct opts *o, const char *key)
{
	if (o->peers == NULL)
		return 1;
	size_t n = strlen(key);
	for (const char *p = o->peers; (p = strstr(p, key)) != NULL; p += n)
		if ((p == o->peers || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

static int mode_table(struct opts *o)
{
	if (probe_skip())
		return 77;
	static const uint32_t sizes[] = {64, 1500};
	static const int peers_a[] = {SB_PEER_MEMIF_COPY, SB_PEER_VHOST_PACKED, SB_PEER_MEMIF_ZC,
				      SB_PEER_VHOST_SPLIT};
	struct cell a[4 * 5], b[4];
	int na = 0, nb = 0;
	char load0[64], load1[64];
	sb_loadavg(load0, sizeof(load0));
	double t_start = sb_now();
	int have_dpdk = !o->no_dpdk && o->dpdk.testpmd && access(o->dpdk.testpmd, X_OK) == 0;

	printf("nc2-bench-shm: libnc2 over shm between two processes (CPUs %d = frontend, "
	       "%d = backend), polled\n",
	       o->cpu_fe, o->cpu_be);
	printf("load average at start: %s; %d one-second windows per trial, >= %d pairs per "
	       "ratio; placement: fast if the cache-line round trip < %.0f ns\n",
	       load0, o->nwin, o->pairs, SB_RTT_SLOW_NS);
	if (have_dpdk) {
		printf("DPDK peers: %s\n", o->dpdk.testpmd);
		char cmd[8192];
		sb_testpmd_cmdline(&o->dpdk, SB_PEER_MEMIF_COPY, SB_FE2BE, 64, cmd, sizeof(cmd));
		printf("  e.g. memif copy fe->be 64 B:\n%s\n", cmd);
		sb_testpmd_cmdline(&o->dpdk, SB_PEER_VHOST_PACKED, SB_BE2FE, 1500, cmd,
				   sizeof(cmd));
		printf("  e.g. vhost-user packed be->fe 1500 B:\n%s\n", cmd);
	}
	printf("\nTrials (Mpps = median of the windows; rtt = round trip before/after, F/S = "
	       "placement;\n cpu = share of a CPU the frontend/backend process got: a pair counts "
	       "only with both round trips in one class and every cpu >= %.0f%% (the socket's "
	       "processes sleep by design)):\n",
	       100 * SB_MIN_CPU_SHARE);
	fflush(stdout);

	static const char *const key_a[] = {"memif", "vhost-packed", "memif-zc", "vhost-split",
					    "unix"};
	for (int d = 0; d < SB_NR_DIR; d++)
		for (int si = 0; si < 2; si++) {
			if ((o->dir >= 0 && d != o->dir) || (o->size && o->size != sizes[si]))
				continue;
			for (int p = 0; p < 5; p++) {
				if (!wanted(o, key_a[p]))
					continue;
				struct cell *c = &a[na++];
				memset(c, 0, sizeof(*c));
				c->dir = d;
				c->size = sizes[si];
				c->pattern = SB_PAT_HDR;
				if (p < 4) {
					c->peer = peers_a[p];
					c->impl = -1;
					c->name = sb_peer_name[c->peer];
					if (!have_dpdk) {
						snprintf(c->err, sizeof(c->err), "%s",
							 o->no_dpdk ? "--no-dpdk"
								    : "dpdk-testpmd not available "
								      "(DPDK_TESTPMD)");
						continue;
					}
				} else {
					c->peer = -1;
					c->impl = IMPL_UNIX;
					c->name = "unix seqpacket";
				}
				run_cell(o, c);
			}
			if (!wanted(o, "netif"))
				continue;
			struct cell *c = &b[nb++];
			memset(c, 0, sizeof(*c));
			c->dir = d;
			c->size = sizes[si];
			c->pattern = SB_PAT_FULL;
			c->peer = -1;
			c->impl = IMPL_NETIF;
			c->name = "netif-style";
			run_cell(o, c);
		}

	/* Event mode: notifications per packet under load. */
	struct sb_result ev[4];
	int ne = 0;
	int evd[4];
	uint32_t evs[4];
	for (int d = 0; d < SB_NR_DIR; d++)
		for (int si = 0; si < 2; si++) {
			if ((o->dir >= 0 && d != o->dir) || (o->size && o->size != sizes[si]) ||
			    !wanted(o, "event"))
				continue;
			evd[ne] = d;
			evs[ne] = sizes[si];
			trial(o, IMPL_NC2, d, sizes[si], SB_PAT_HDR, 1, &ev[ne]);
			print_result("libnc2 event", d, sizes[si], SB_PAT_HDR, &ev[ne]);
			ne++;
		}

	sb_loadavg(load1, sizeof(load1));
	print_cells(a, na,
		    "== Same work as testpmd txonly -> rxonly (sender writes the 42 B of "
		    "Ethernet/IPv4/UDP headers, receiver does not read): Mpps");
	print_cells(b, nb,
		    "== Full touch (sender writes every octet, receiver reads every octet): Mpps");
	printf("\n== Event mode (libnc2, sleeping on the eventfd when idle), sender at full "
	       "load\n");
	printf("%-13s %9s %12s %12s %10s\n", "case", "Mpps", "notify/pkt", "wakeups/pkt",
	       "pkts/notify");
	double worst_ev = 0;
	for (int i = 0; i < ne; i++) {
		char cs[24];
		snprintf(cs, sizeof(cs), "%s %4u B", sb_dir_name[evd[i]], evs[i]);
		if (!ev[i].ok) {
			printf("%-13s FAILED: %s\n", cs, ev[i].err);
			continue;
		}
		double np =
		    ev[i].total_pkts ? (double)ev[i].notifies / (double)ev[i].total_pkts : 1;
		if (np > worst_ev)
			worst_ev = np;
		printf("%-13s %9.2f %12.5f %12.5f %10.0f\n", cs, ev[i].pps / 1e6, np,
		       (double)ev[i].wakeups / (double)ev[i].total_pkts, np > 0 ? 1 / np : 0);
	}
	if (ne)
		printf("target: at most 1 notification per 64 packets: %s (worst 1 per %.0f)\n",
		       worst_ev <= 1.0 / 64 ? "met" : "MISSED", worst_ev > 0 ? 1 / worst_ev : 0);

	/* Targets. */
	double rmin = 1e300, umin = 1e300;
	char rcase[128] = "none measured", ucase[64] = "";
	for (int i = 0; i < na; i++) {
		struct cell *c = &a[i];
		if (c->n == 0)
			continue;
		double x, y, r, lo, hi;
		char cls[64], rt[32];
		cell_stats(c, &x, &y, &r, &lo, &hi, cls, sizeof(cls), rt, sizeof(rt));
		if (c->peer == SB_PEER_MEMIF_COPY || c->peer == SB_PEER_VHOST_PACKED) {
			if (r < rmin) {
				rmin = r;
				snprintf(rcase, sizeof(rcase), "%s %u B vs %s", sb_dir_name[c->dir],
					 c->size, c->name);
			}
		}
		if (c->impl == IMPL_UNIX && r < umin) {
			umin = r;
			snprintf(ucase, sizeof(ucase), "%s %u B", sb_dir_name[c->dir], c->size);
		}
	}
	int missing = 0;
	for (int i = 0; i < na; i++)
		if ((a[i].peer == SB_PEER_MEMIF_COPY || a[i].peer == SB_PEER_VHOST_PACKED) &&
		    a[i].n == 0)
			missing++;
	printf("\n");
	if (umin < 1e300)
		printf("target: libnc2 >= 20x the Unix socket: %s (min %.1fx, %s)\n",
		       umin >= 20 ? "met" : "MISSED", umin, ucase);
	if (rmin < 1e300 || missing)
		printf("target: libnc2 >= memif copy and >= vhost-user packed, 64 and 1500 B, "
		       "both directions: %s%s\n",
		       rmin >= 1.0 && missing == 0 ? "met" : "MISSED",
		       missing ? " (some peers could not be measured, see above)" : "");
	printf("load average at end: %s; run took %.0f s\n", load1, sb_now() - t_start);
	if (rmin < 1e300)
		printf("shm-vs-peers: min ratio %.2f (%s)\n", rmin, rcase);
	else
		printf("shm-vs-peers: min ratio n/a (no memif/vhost pair measured)\n");
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nc2-bench-shm [--table] | --smoke | --rtt | --trial "
		"nc2|netif|unix|memif|memif-zc|vhost-packed|vhost-split\n"
		"       [--dir fe2be|be2fe] [--size S] [--pattern hdr|full] [--event]\n"
		"       [--pairs N] [--windows N] [--cpus FE,BE] [--run-dir DIR] [--peers LIST] "
		"[--ring-order K] [--inflight N] [--keep-logs] [--no-dpdk] [--verbose]\n"
		"DPDK peers: DPDK_TESTPMD, DPDK_LIBDIR, DPDK_PLUGINS (bench/fetch-dpdk.sh)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof(o));
	o.dir = -1;
	o.pairs = 3;
	o.nwin = 2;
	o.cpu_fe = 0;
	o.cpu_be = 1;
	o.ring_order = 17;
	o.inflight = 1024;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--smoke"))
			o.mode = 1;
		else if (!strcmp(a, "--rtt"))
			o.mode = 2;
		else if (!strcmp(a, "--table"))
			o.mode = 0;
		else if (!strcmp(a, "--event"))
			o.event = 1;
		else if (!strcmp(a, "--keep-logs"))
			o.keep_logs = 1;
		else if (!strcmp(a, "--verbose"))
			verbose = 1;
		else if (!strcmp(a, "--no-dpdk"))
			o.no_dpdk = 1;
		else if (v == NULL)
			usage();
		else if (!strcmp(a, "--trial"))
			o.mode = 3, o.trial = argv[++i];
		else if (!strcmp(a, "--dir")) {
			o.dir = !strcmp(v, "fe2be")   ? SB_FE2BE
				: !strcmp(v, "be2fe") ? SB_BE2FE
						      : -2;
			i++;
		} else if (!strcmp(a, "--size"))
			o.size = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--pattern")) {
			o.pattern = !strcmp(v, "hdr")    ? SB_PAT_HDR
				    : !strcmp(v, "full") ? SB_PAT_FULL
							 : -1;
			i++;
		} else if (!strcmp(a, "--pairs"))
			o.pairs = atoi(argv[++i]);
		else if (!strcmp(a, "--windows"))
			o.nwin = atoi(argv[++i]);
		else if (!strcmp(a, "--cpus")) {
			if (sscanf(v, "%d,%d", &o.cpu_fe, &o.cpu_be) != 2)
				usage();
			i++;
		} else if (!strcmp(a, "--peers"))
			o.peers = argv[++i];
		else if (!strcmp(a, "--run-dir"))
			o.run_dir = argv[++i];
		else if (!strcmp(a, "--ring-order"))
			o.ring_order = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--inflight"))
			o.inflight = (uint32_t)strtoul(argv[++i], NULL, 0);
		else
			usage();
	}
	if (o.dir == -2 || o.pattern < 0 || o.pairs < 1 || o.pairs > 10 || o.nwin < 1 ||
	    o.nwin > SB_MAX_WIN || o.size > 9000 || o.ring_order < 12 || o.ring_order > 20 ||
	    o.inflight < 64 || o.inflight > MAX_POSTED)
		usage();
	if (o.run_dir == NULL && o.mode != 1) {
		static char def[] = "nc2-bench-shm-run";
		o.run_dir = def;
	}
	if (o.run_dir && o.mode != 1 && mkdir(o.run_dir, 0700) < 0 && errno != EEXIST) {
		perror(o.run_dir);
		return 1;
	}
	/* Sockets handed to testpmd must be absolute paths. */
	static char abs_run_dir[4096];
	if (o.run_dir && o.mode != 1 && realpath(o.run_dir, abs_run_dir))
		o.run_dir = abs_run_dir;
	o.dpdk.testpmd = getenv("DPDK_TESTPMD");
	o.dpdk.libdir = getenv("DPDK_LIBDIR");
	o.dpdk.plugins = getenv("DPDK_PLUGINS");
	o.dpdk.run_dir = o.run_dir;
	o.dpdk.cpu_fe = o.cpu_fe;
	o.dpdk.cpu_be = o.cpu_be;
	o.dpdk.nwin = o.nwin;
	o.dpdk.keep_logs = o.keep_logs;
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (o.mode) {
	case 1:
		return mode_smoke(&o);
	case 2: {
		double r = sb_rtt_ns(o.cpu_fe, o.cpu_be);
		printf("cache-line round trip cpu %d <-> cpu %d: %.0f ns (%s placement)\n",
		       o.cpu_fe, o.cpu_be, r, sb_class(r) == 'F' ? "fast" : "slow");
		return r < 0;
	}
	case 3:
		return mode_trial(&o);
	default:
		return mode_table(&o);
	}
}
