/* SPDX-License-Identifier: MIT */
/*
 * nc2-tap: a NetChannel2 endpoint over the shm transport, bridged to a Linux
 * TAP device. The backend role listens for a frontend by UUID and bridges
 * the channel to its TAP (what a userspace vswitch port would do); the
 * frontend role connects and exposes the channel as its own TAP (what a
 * guest's vNIC would be). With IFF_VNET_HDR, checksum offload and TSO/GSO
 * metadata cross the channel as the peer negotiated them, the way QEMU and
 * vhost pass them.
 *
 *   nc2-tap --role backend|frontend --uuid UUID --tap NAME
 *           [--run-dir DIR] [--mtu N] [--no-offload] [--once]
 *
 * SIGUSR1 prints the channel counters; SIGINT/SIGTERM shut down cleanly
 * (buffers returned, grants revoked) and print them. A backend whose peer
 * dies or breaks the protocol releases everything and waits for a new peer
 * with the same UUID (unless --once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <nc2/channel.h>
#include <nc2/shm.h>

#define VHDR          sizeof(struct virtio_net_hdr)
#define MAX_FRAME     65550u /* a 64 KiB GSO frame and its vnet header */
#define BURST         32u
#define TX_SLOTS      128u
#define TX_SLOT_PAGES 18u /* vnet header at the end of page 0, then up to 65540 octets */
#define PAGE          4096u

static volatile sig_atomic_t stop_req, stats_req;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_req = 1;
	else
		stop_req = 1;
}

struct opts {
	int backend, offload, once;
	uint8_t uuid[16];
	const char *tap, *run_dir;
	unsigned mtu;
};

struct port {
	struct opts o;
	int tapfd;
	nc2_shm *shm;
	nc2_channel *ch;
	void *chmem;
	uint8_t *txmem; /* frontend: TX slots in grantable memory */
	uint32_t tx_busy;
	uint8_t tx_free[TX_SLOTS];
	uint32_t tap_offloads; /* what we told the TAP it may hand us */
	uint64_t tap_rx, tap_tx, tap_tx_err, send_again, send_dropped;
};

static void usage(void)
{
	fprintf(stderr, "usage: nc2-tap --role backend|frontend --uuid UUID --tap NAME "
			"[--run-dir DIR] [--mtu N] [--no-offload] [--once]\n");
	exit(2);
}

static int tap_open(const char *name, unsigned mtu)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		perror("nc2-tap: /dev/net/tun");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int hdr = (int)VHDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		perror("nc2-tap: TUNSETIFF");
		close(fd);
		return -1;
	}
	if (mtu) {
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ifr.ifr_mtu = (int)mtu;
		if (s < 0 || ioctl(s, SIOCSIFMTU, &ifr) < 0)
			perror("nc2-tap: SIOCSIFMTU");
		if (s >= 0)
			close(s);
	}
	return fd;
}

/* Tell the TAP which offloaded frames it may hand us: those the peer
 * accepts (we pass them on unchanged). */
static void tap_set_offloads(struct port *p)
{
	nc2_limits tx;
	unsigned f = 0;
	nc2_channel_limits(p->ch, NULL, &tx);
	if (p->o.offload && (tx.offloads & NC2_OFFLOAD_CSUM)) {
		f |= TUN_F_CSUM;
		if (tx.offloads & (NC2_OFFLOAD_TSO4 | NC2_OFFLOAD_LRO))
			f |= TUN_F_TSO4;
		if (tx.offloads & (NC2_OFFLOAD_TSO6 | NC2_OFFLOAD_LRO))
			f |= TUN_F_TSO6;
	}
	if (f == p->tap_offloads)
		return;
	if (ioctl(p->tapfd, TUNSETOFFLOAD, f) < 0)
		perror("nc2-tap: TUNSETOFFLOAD");
	p->tap_offloads = f;
	fprintf(stderr, "nc2-tap: TAP offloads csum=%d tso4=%d tso6=%d\n", !!(f & TUN_F_CSUM),
		!!(f & TUN_F_TSO4), !!(f & TUN_F_TSO6));
}

static void print_stats(struct port *p, const char *why)
{
	nc2_channel_stats s;
	if (p->ch == NULL)
		return;
	nc2_channel_get_stats(p->ch, &s);
	fprintf(stderr,
		"nc2-tap %s stats (%s):\n"
		"  tap: read %" PRIu64 ", written %" PRIu64 ", write errors %" PRIu64
		", send again %" PRIu64 ", dropped %" PRIu64 "\n"
		"  channel tx: packets %" PRIu64 " bytes %" PRIu64 " (small %" PRIu64
		", granted %" PRIu64 ", pre_posted %" PRIu64 ")\n"
		"  channel rx: packets %" PRIu64 " bytes %" PRIu64 " (small %" PRIu64
		", granted %" PRIu64 ", pre_posted %" PRIu64 ")\n"
		"  drops: no_buffer %" PRIu64 " too_big %" PRIu64 " copy_failed %" PRIu64
		" deferred_expired %" PRIu64 "\n"
		"  notifications: needed %" PRIu64 " suppressed %" PRIu64 "\n"
		"  grants %" PRIu64 " revokes %" PRIu64 " maps %" PRIu64 " unmaps %" PRIu64
		" copy calls %" PRIu64 " (segs %" PRIu64 ")\n"
		"  cache hits %" PRIu64 " misses %" PRIu64 " evictions %" PRIu64 "\n"
		"  buffers posted %" PRIu64 " returned %" PRIu64 " outstanding %u, tx in flight %u,"
		" rx lent %" PRIu64 "\n",
		p->o.backend ? "backend" : "frontend", why, p->tap_rx, p->tap_tx, p->tap_tx_err,
		p->send_again, p->send_dropped, s.tx_packets, s.tx_bytes, s.tx_small, s.tx_granted,
		s.tx_pre_posted, s.rx_packets, s.rx_bytes, s.rx_small, s.rx_granted,
		s.rx_pre_posted, s.drop_no_buffer, s.drop_too_big, s.drop_copy_failed,
		s.drop_deferred_expired, s.notify_needed, s.notify_suppressed, s.grants, s.revokes,
		s.maps, s.unmaps, s.copy_ops, s.copy_segs, s.cache_hits, s.cache_misses,
		s.cache_evictions, s.buffers_posted, s.buffers_returned, s.rx_buffers_posted,
		s.tx_in_flight, s.rx_lent);
}

/* vnet header <-> NetChannel2 packet metadata. */
static void vhdr_to_pkt(const struct virtio_net_hdr *h, nc2_pkt *pkt)
{
	pkt->flags = 0;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		pkt->flags |= NC2_PACKET_FLAG_csum_blank;
		pkt->csum_start = h->csum_start;
		pkt->csum_offset = h->csum_offset;
	}
	if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		pkt->flags |= NC2_PACKET_FLAG_data_validated;
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		pkt->seg_type = NC2_PACKET_SEGMENTATION_TYPE_tcpv4;
		pkt->mss = h->gso_size;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		pkt->seg_type = NC2_PACKET_SEGMENTATION_TYPE_tcpv6;
		pkt->mss = h->gso_size;
		break;
	default:
		pkt->seg_type = 0;
		pkt->mss = 0;
	}
}

static void rxbuf_to_vhdr(const nc2_rxbuf *rb, struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (rb->flags & NC2_PACKET_FLAG_csum_blank) {
		h->flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = rb->csum_start;
		h->csum_offset = rb->csum_offset;
	}
	if (rb->flags & NC2_PACKET_FLAG_data_validated)
		h->flags |= VIRTIO_NET_HDR_F_DATA_VALID;
	if (rb->seg_type == NC2_PACKET_SEGMENTATION_TYPE_tcpv4)
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	else if (rb->seg_type == NC2_PACKET_SEGMENTATION_TYPE_tcpv6)
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	h->gso_size = rb->mss;
	h->hdr_len = 0; /* the kernel works it out (as with virtio's GUEST_HDRLEN off) */
}

/* ---- channel over shm ---------------------------------------------------- */

static int attach(struct port *p)
{
	nc2_channel_config cfg;
	size_t glen;
	nc2_channel_config_default(&cfg, p->o.backend ? NC2_ROLE_BACKEND : NC2_ROLE_FRONTEND);
	cfg.offloads = p->o.offload ? NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO4 | NC2_OFFLOAD_TSO6 : 0;
	cfg.tx_slots = TX_SLOTS;
	if (!p->o.backend) {
		/* One default queue of page-size buffers: a 64 KiB frame is 16. */
		cfg.nr_rxq = 1;
		cfg.rxq[0] = (nc2_rxq_config){.buf_size = 4096, .nr_bufs = 1024, .is_default = 1};
	}
	uint8_t *gm = nc2_shm_grant_mem(p->shm, &glen);
	size_t need = nc2_channel_grant_mem_size(&cfg);
	if (!p->o.backend) {
		size_t txlen = (size_t)TX_SLOTS * TX_SLOT_PAGES * PAGE;
		if (glen < need + txlen) {
			fprintf(stderr, "nc2-tap: shm region too small (%zu < %zu)\n", glen,
				need + txlen);
			return NC2_ERR_NOSPACE;
		}
		cfg.grant_mem = gm;
		cfg.grant_mem_len = need;
		p->txmem = gm + need;
		/* The TX slots are recycled: registered, they are granted once
		 * (read-only, sticky) and no frame costs a grant or a revoke. */
		cfg.tx_mem = p->txmem;
		cfg.tx_mem_len = txlen;
		for (uint32_t i = 0; i < TX_SLOTS; i++)
			p->tx_free[i] = 1;
	}
	size_t fp = nc2_channel_footprint(&cfg);
	p->chmem = aligned_alloc(64, (fp + 63) & ~(size_t)63);
	if (p->chmem == NULL)
		return NC2_ERR_NOSPACE;
	int rc = nc2_channel_init(&p->ch, p->chmem, fp, &cfg, nc2_shm_transport(p->shm),
				  nc2_shm_rings(p->shm));
	if (rc == NC2_OK)
		rc = nc2_channel_connect(p->ch);
	return rc;
}

static void detach(struct port *p, const char *why)
{
	if (p->ch) {
		print_stats(p, why);
		int rc = nc2_channel_fini(p->ch);
		if (rc < 0)
			fprintf(stderr, "nc2-tap: fini: %s\n", nc2_strerror(rc));
		p->ch = NULL;
	}
	free(p->chmem);
	p->chmem = NULL;
	if (p->shm) {
		fprintf(stderr, "nc2-tap: released: grants active %u, peer maps active %u\n",
			nc2_shm_grants_active(p->shm), nc2_shm_maps_active(p->shm));
		nc2_shm_close(p->shm);
		p->shm = NULL;
	}
	p->tx_busy = 0;
}

static int flush(struct port *p)
{
	int rc = nc2_channel_flush(p->ch);
	if (rc > 0)
		rc = nc2_tp_notify(nc2_shm_transport(p->shm));
	return rc < 0 ? rc : NC2_OK;
}

static int take_tx_slot(struct port *p)
{
	for (uint32_t i = 0; i < TX_SLOTS; i++)
		if (p->tx_free[i]) {
			p->tx_free[i] = 0;
			p->tx_busy++;
			return (int)i;
		}
	return -1;
}

static void reap(struct port *p)
{
	uint64_t done[BURST];
	int n;
	while ((n = nc2_channel_tx_done(p->ch, done, BURST)) > 0)
		for (int i = 0; i < n; i++)
			if (!p->o.backend && done[i] < TX_SLOTS && !p->tx_free[done[i]]) {
				p->tx_free[done[i]] = 1;
				p->tx_busy--;
			}
}

/* TAP -> channel, up to BURST frames. */
static int from_tap(struct port *p)
{
	static uint8_t local[MAX_FRAME];
	for (uint32_t k = 0; k < BURST; k++) {
		int slot = -1;
		uint8_t *buf = local;
		if (!p->o.backend) {
			/* The frontend grants payload pages: read straight into them. */
			if ((slot = take_tx_slot(p)) < 0)
				return NC2_OK;
			buf = p->txmem + (size_t)slot * TX_SLOT_PAGES * PAGE + PAGE - VHDR;
		}
		ssize_t n = read(p->tapfd, buf, MAX_FRAME);
		if (n <= (ssize_t)VHDR) {
			if (slot >= 0) {
				p->tx_free[slot] = 1;
				p->tx_busy--;
			}
			return n < 0 && errno != EAGAIN ? NC2_ERR_TRANSPORT : NC2_OK;
		}
		p->tap_rx++;
		struct virtio_net_hdr h;
		memcpy(&h, buf, VHDR);
		nc2_pkt pkt = {.data = buf + VHDR,
			       .len = (uint32_t)((size_t)n - VHDR),
			       .cookie = (uint64_t)(slot < 0 ? 0 : slot)};
		vhdr_to_pkt(&h, &pkt);
		int rc = nc2_channel_send(p->ch, &pkt);
		for (int tries = 0; rc == NC2_ERR_AGAIN && tries < 1000 && !stop_req; tries++) {
			/* Ring or completions full: let the peer drain, then retry. */
			p->send_again++;
			if ((rc = flush(p)) < 0)
				return rc;
			nc2_rxbuf none;
			if ((rc = nc2_channel_poll(p->ch, &none, 0)) < 0)
				return rc;
			reap(p);
			usleep(50);
			rc = nc2_channel_send(p->ch, &pkt);
		}
		if (rc == 1 || rc < 0) {
			/* dropped (no posted buffer), or refused: the TAP frame is lost. */
			p->send_dropped++;
			if (slot >= 0 && rc < 0) {
				p->tx_free[slot] = 1;
				p->tx_busy--;
			}
			if (rc < 0 && nc2_channel_state(p->ch) == NC2_CH_FAILED)
				return rc;
		}
	}
	return NC2_OK;
}

/* channel -> TAP. A frame in one posted buffer is written to the TAP
 * straight from it (lent, then released); others are copied into bufs. */
static int to_tap(struct port *p)
{
	static uint8_t bufs[BURST][MAX_FRAME];
	nc2_rxbuf rb[BURST];
	uint32_t lent[BURST], nl = 0;
	for (uint32_t i = 0; i < BURST; i++)
		rb[i] = (nc2_rxbuf){
		    .buf = bufs[i], .cap = MAX_FRAME - VHDR, .rx_flags = NC2_RXBUF_LEND};
	int n = nc2_channel_poll(p->ch, rb, BURST);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct virtio_net_hdr h;
		rxbuf_to_vhdr(&rb[i], &h);
		struct iovec iov[2] = {
		    {.iov_base = &h, .iov_len = VHDR},
		    {.iov_base = (void *)(uintptr_t)rb[i].data, .iov_len = rb[i].len}};
		if (writev(p->tapfd, iov, 2) < 0)
			p->tap_tx_err++;
		else
			p->tap_tx++;
		if (rb[i].rx_flags & NC2_RXBUF_LENT)
			lent[nl++] = rb[i].token;
	}
	if (nl) {
		int rc = nc2_channel_rx_release(p->ch, lent, nl);
		if (rc < 0)
			return rc;
	}
	return n;
}

static int serve(struct port *p)
{
	int rc = NC2_OK;
	while (!stop_req) {
		if (stats_req) {
			stats_req = 0;
			print_stats(p, "SIGUSR1");
		}
		if ((rc = nc2_shm_peer_alive(p->shm)) < 0)
			return rc;
		nc2_shm_ack_events(p->shm);
		int got = to_tap(p);
		if (got < 0)
			return got;
		if (nc2_channel_state(p->ch) == NC2_CH_CONNECTED)
			tap_set_offloads(p);
		reap(p);
		if ((rc = from_tap(p)) < 0)
			return rc;
		if ((rc = flush(p)) < 0)
			return rc;
		if (got > 0)
			continue;
		/* Idle: arm events, then sleep on the TAP, the eventfd and the
		 * control socket (peer death). */
		if (nc2_channel_prepare_wait(p->ch) > 0)
			continue;
		struct pollfd pf[3] = {
		    {.fd = p->tapfd, .events = POLLIN},
		    {.fd = nc2_shm_event_fd(p->shm), .events = POLLIN},
		    {.fd = nc2_shm_ctrl_fd(p->shm), .events = POLLRDHUP},
		};
		if (p->tx_busy == TX_SLOTS)
			pf[0].events = 0; /* no TX slot: wait for completions */
		poll(pf, 3, 100);
	}
	/* Orderly shutdown: buffers come back, sticky grants are un-granted. */
	nc2_channel_shutdown(p->ch);
	for (int i = 0; i < 2000 && nc2_channel_state(p->ch) == NC2_CH_CLOSING; i++) {
		if (flush(p) < 0 || nc2_channel_poll(p->ch, NULL, 0) < 0)
			break;
		reap(p);
		usleep(1000);
	}
	return NC2_OK;
}

int main(int argc, char **argv)
{
	struct port p;
	memset(&p, 0, sizeof(p));
	p.o.offload = 1;
	int have_uuid = 0, have_role = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--role") && v) {
			p.o.backend = !strcmp(v, "backend");
			have_role = p.o.backend || !strcmp(v, "frontend");
			i++;
		} else if (!strcmp(a, "--uuid") && v) {
			have_uuid = nc2_shm_uuid_parse(v, p.o.uuid) == NC2_OK;
			i++;
		} else if (!strcmp(a, "--tap") && v) {
			p.o.tap = v;
			i++;
		} else if (!strcmp(a, "--run-dir") && v) {
			p.o.run_dir = v;
			i++;
		} else if (!strcmp(a, "--mtu") && v) {
			p.o.mtu = (unsigned)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--no-offload")) {
			p.o.offload = 0;
		} else if (!strcmp(a, "--once")) {
			p.o.once = 1;
		} else {
			usage();
		}
	}
	if (!have_role || !have_uuid || p.o.tap == NULL)
		usage();

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	p.tapfd = tap_open(p.o.tap, p.o.mtu);
	if (p.tapfd < 0)
		return 1;

	nc2_shm_config sc;
	nc2_shm_config_default(&sc, p.o.backend ? NC2_ROLE_BACKEND : NC2_ROLE_FRONTEND);
	memcpy(sc.uuid, p.o.uuid, 16);
	sc.run_dir = p.o.run_dir;
	if (!p.o.backend) {
		sc.grant_pages = 1100 + TX_SLOTS * TX_SLOT_PAGES; /* RX buffers, pool, TX */
		sc.grant_entries = 2u * sc.grant_pages;           /* tx_mem holds one per TX page */
	}
	int rc, status = 0;

	if (!p.o.backend) {
		rc = nc2_shm_connect(&sc, 10000, &p.shm);
		if (rc == NC2_OK)
			rc = attach(&p);
		if (rc == NC2_OK)
			rc = serve(&p);
		if (rc < 0) {
			fprintf(stderr, "nc2-tap: frontend: %s (%d)\n", nc2_strerror(rc), rc);
			status = 1;
		}
		detach(&p, rc < 0 ? nc2_strerror(rc) : "shutdown");
		return status;
	}

	nc2_shm_listener *l;
	if ((rc = nc2_shm_listen(&sc, &l)) < 0) {
		fprintf(stderr, "nc2-tap: listen: %s\n", nc2_strerror(rc));
		return 1;
	}
	fprintf(stderr, "nc2-tap: backend listening\n");
	while (!stop_req) {
		rc = nc2_shm_accept(l, 200, &p.shm);
		if (rc == NC2_ERR_AGAIN)
			continue;
		if (rc < 0) {
			fprintf(stderr, "nc2-tap: accept refused a peer: %s (%d)\n",
				nc2_strerror(rc), rc);
			continue;
		}
		fprintf(stderr, "nc2-tap: backend: peer connected\n");
		rc = attach(&p);
		if (rc == NC2_OK)
			rc = serve(&p);
		if (rc < 0) {
			/* The peer died or broke the protocol: release everything and
			 * wait for the next one. */
			fprintf(stderr, "nc2-tap: backend: channel failed: %s (%d)\n",
				nc2_strerror(rc), rc);
			status = 1;
		}
		detach(&p, rc < 0 ? nc2_strerror(rc) : "shutdown");
		if (p.o.once)
			break;
		status = 0;
	}
	nc2_shm_listener_close(l);
	close(p.tapfd);
	return status;
}
