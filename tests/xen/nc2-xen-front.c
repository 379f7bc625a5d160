/* SPDX-License-Identifier: MIT */
/*
 * nc2-xen-front: a libnc2 frontend in a domU. Finds its vif2 device in
 * xenstore, shares the ring pair, publishes it, and exchanges test traffic
 * with nc2-xen-back in the backend domain: N packets each way of 64..9000
 * octets, every octet verified; then an orderly close through the xenbus
 * states, and its counters. With N = 0 it sends until the backend or the
 * domain goes away. Several counts run several sessions one after the other
 * on the same device (Closed -> Initialising: a xenbus reconnect).
 *
 *   nc2-xen-front [-n PACKETS[,PACKETS...]] [-h HANDLE] [-o RING_ORDER]
 *   (also reads nc2count=N[,N...] from /proc/cmdline)
 */
#define _DEFAULT_SOURCE 1
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nc2/channel.h>
#include <nc2/xen.h>

#include "traffic.h"

#define BURST      32u
#define TX_SLOTS   32u
#define SLOT_PAGES 4u /* 9000 octets at any 8-aligned offset below 512 */
#define PAGE       4096u

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define say(...)                               \
	do {                                   \
		printf("FRONT: " __VA_ARGS__); \
		printf("\n");                  \
		fflush(stdout);                \
	} while (0)

static unsigned session_no;

static int result(int ok, const char *why)
{
	say("RESULT %s session %u: %s", ok ? "PASS" : "FAIL", session_no, why);
	return ok ? 0 : 1;
}

#define MAX_SESSIONS 8

/* "N[,N...]" -> counts; \return how many. */
static int parse_counts(const char *s, uint32_t *counts)
{
	int n = 0;
	while (s != NULL && *s >= '0' && *s <= '9' && n < MAX_SESSIONS) {
		char *end;
		counts[n++] = (uint32_t)strtoul(s, &end, 0);
		s = *end == ',' ? end + 1 : NULL;
	}
	return n;
}

static int cmdline_has(const char *word)
{
	FILE *f = fopen("/proc/cmdline", "r");
	char buf[1024];
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, word) != NULL;
}

static int cmdline_counts(uint32_t *counts)
{
	FILE *f = fopen("/proc/cmdline", "r");
	char buf[1024];
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strstr(buf, "nc2count=");
	return p ? parse_counts(p + 9, counts) : 0;
}

/* Wait until the backend's state satisfies \p want (or the timeout). */
static int wait_be_state(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev, int want, double secs,
			 enum nc2_xenbus_state *st)
{
	double end = now_s() + secs;
	while (now_s() < end) {
		int rc = nc2_xen_xs_state(xs, dev->be_path, st);
		if (rc == NC2_OK && (int)*st >= want)
			return NC2_OK;
		struct pollfd p = {.fd = nc2_xen_xs_fd(xs), .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			while (nc2_xen_xs_next_event(xs, NULL, 0) > 0)
				;
	}
	return NC2_ERR_AGAIN;
}

static int session(nc2_xen_xs *xs, uint32_t handle, uint32_t want, uint32_t order)
{
	double t0 = now_s();
	nc2_xen_xs_dev dev;
	enum nc2_xenbus_state bst = NC2_XB_UNKNOWN;
	int rc = NC2_ERR_NOT_FOUND;
	/* The toolstack writes the device before unpausing us, but wait a bit. */
	for (int i = 0; i < 100 && (rc = nc2_xen_xs_front_find(xs, handle, &dev)) != NC2_OK; i++)
		nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
	if (rc != NC2_OK) {
		say("no vif2 device %u: %s", handle, nc2_xen_xs_last_error(xs));
		return result(0, "no device");
	}
	say("session %u: domid %u, device %s, backend domid %u, %u packets per direction%s",
	    session_no, dev.fe_domid, dev.fe_path, dev.be_domid, want,
	    want ? "" : " (until stopped)");
	nc2_xen_xs_set_state(xs, dev.fe_path, NC2_XB_INITIALISING);
	nc2_xen_xs_watch(xs, dev.be_path);
	/* InitWait (a backend still Closed from the last session re-inits). */
	double end = now_s() + 30;
	while ((rc = nc2_xen_xs_state(xs, dev.be_path, &bst)) != NC2_OK || bst != NC2_XB_INITWAIT) {
		if (now_s() > end)
			return result(0, "backend never reached InitWait");
		struct pollfd p = {.fd = nc2_xen_xs_fd(xs), .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			while (nc2_xen_xs_next_event(xs, NULL, 0) > 0)
				;
	}
	/* Channel configuration and the grantable memory it needs. */
	nc2_channel_config cfg;
	nc2_channel_config_default(&cfg, NC2_ROLE_FRONTEND);
	cfg.nr_rxq = 2;
	cfg.rxq[0] = (nc2_rxq_config){.buf_size = 2048, .nr_bufs = 256, .is_default = 1};
	cfg.rxq[1] = (nc2_rxq_config){.buf_size = 4096, .nr_bufs = 128};
	memcpy(cfg.rxq[0].mac, tr_fe_mac, 6);
	memcpy(cfg.rxq[1].mac, tr_fe_mac, 6);
	cfg.max_ring_order = order;
	size_t gm = nc2_channel_grant_mem_size(&cfg);
	uint32_t gm_pages = (uint32_t)((gm + PAGE - 1) / PAGE);

	nc2_xen *x;
	nc2_transport t;
	nc2_xen_config xc;
	nc2_xen_config_default(&xc, dev.be_domid);
	xc.grant_pages = gm_pages + TX_SLOTS * SLOT_PAGES;
	/* Direct grant-table mode (real revokes) unless nc2direct=0 is on the
	 * domU command line (bookkeeping mode: tests/xen/README.md). */
	if (cmdline_has("nc2direct=0"))
		xc.flags |= NC2_XEN_F_NO_DIRECT;
	if ((rc = nc2_xen_open(&xc, &x, &t)) != NC2_OK) {
		say("nc2_xen_open: %s: %s", nc2_strerror(rc), nc2_xen_open_error());
		return result(0, "transport open failed");
	}
	say("transport: %u grantable pages, grant mode %s%s%s", xc.grant_pages,
	    (nc2_xen_caps(x) & NC2_XEN_CAP_REVOKE) ? "direct" : "bookkeeping",
	    (nc2_xen_caps(x) & NC2_XEN_CAP_REVOKE) ? "" : ": ",
	    (nc2_xen_caps(x) & NC2_XEN_CAP_REVOKE) ? "" : nc2_xen_last_error(x));
	cfg.grant_mem = nc2_xen_alloc(x, gm_pages);
	cfg.grant_mem_len = (size_t)gm_pages * PAGE;
	uint8_t *txmem = nc2_xen_alloc(x, TX_SLOTS * SLOT_PAGES);
	if (cfg.grant_mem == NULL || txmem == NULL)
		return result(0, "grantable memory");

	nc2_xen_conn conn;
	nc2_ring_mem view;
	if ((rc = nc2_xen_front_connect(x, order, &conn, &view)) != NC2_OK) {
		say("front_connect: %s: %s", nc2_strerror(rc), nc2_xen_last_error(x));
		return result(0, "ring setup failed");
	}
	size_t fp = nc2_channel_footprint(&cfg);
	void *chmem = aligned_alloc(64, (fp + 63) & ~(size_t)63);
	nc2_channel *ch;
	if (chmem == NULL || (rc = nc2_channel_init(&ch, chmem, fp, &cfg, &t, &view)) != NC2_OK ||
	    (rc = nc2_channel_connect(ch)) != NC2_OK) {
		say("channel: %s", nc2_strerror(rc));
		return result(0, "channel init failed");
	}
	nc2_xen_xs_write_u32(xs, dev.fe_path, "nc2-test-packets", want);
	if ((rc = nc2_xen_xs_front_publish(xs, &dev, &conn)) != NC2_OK) {
		say("publish: %s", nc2_xen_xs_last_error(xs));
		return result(0, "xenstore publish failed");
	}
	say("published ring-order %u, %u ring refs, event channel %u (state Initialised)",
	    conn.order, conn.nr_refs, conn.evtchn);

	static uint8_t rxmem[BURST][65536];
	nc2_rxbuf rx[BURST];
	for (uint32_t i = 0; i < BURST; i++)
		rx[i] = (nc2_rxbuf){.buf = rxmem[i], .cap = sizeof(rxmem[i])};
	uint32_t busy = 0, sent = 0, got = 0, bad = 0, done_tx = 0;
	uint64_t bytes_tx = 0, bytes_rx = 0, notifies = 0;
	int connected = 0, closing = 0, stop = 0;
	const char *why = "done";
	double tc = 0, last_print = now_s();

	while (!stop) {
		/* xenbus: backend state changes */
		while (nc2_xen_xs_next_event(xs, NULL, 0) > 0)
			;
		rc = nc2_xen_xs_state(xs, dev.be_path, &bst);
		int be_gone = rc == NC2_ERR_PEER_GONE || nc2_xen_peer_alive(x) != NC2_OK;
		if (!closing && (be_gone || (rc == NC2_OK && bst >= NC2_XB_CLOSING))) {
			why = be_gone ? "backend went away" : "backend closed the device";
			nc2_xen_set_peer_gone(x);
			break;
		}
		if (closing && be_gone) {
			why = "backend went away while closing";
			break;
		}
		if (!connected && rc == NC2_OK && bst == NC2_XB_CONNECTED) {
			nc2_xen_xs_set_state(xs, dev.fe_path, NC2_XB_CONNECTED);
			connected = 1;
			tc = now_s();
			say("backend Connected after %.2f s; state Connected", tc - t0);
		}
		/* transmit */
		for (uint32_t k = 0; k < BURST && !closing && (want == 0 || sent < want); k++) {
			if (busy == 0xffffffffu)
				break;
			uint32_t slot = (uint32_t)__builtin_ctz(~busy);
			uint8_t *buf = txmem + (size_t)slot * SLOT_PAGES * PAGE + (sent % 64u) * 8u;
			tr_fill(buf, TR_FE_TO_BE, sent);
			nc2_pkt p = {.data = buf, .len = tr_len(sent), .cookie = slot};
			rc = nc2_channel_send(ch, &p);
			if (rc == NC2_ERR_AGAIN)
				break;
			if (rc < 0) {
				say("send: %s", nc2_strerror(rc));
				why = "send failed";
				stop = 1;
				break;
			}
			busy |= 1u << slot;
			bytes_tx += p.len;
			sent++;
		}
		/* receive */
		rc = nc2_channel_poll(ch, rx, BURST);
		if (rc < 0) {
			char w[240];
			tr_ring_words(w, sizeof(w), view.ctrl);
			say("poll: %s (channel %d); ring words: %s", nc2_strerror(rc),
			    nc2_channel_state(ch), w);
			why = "channel failed";
			break;
		}
		for (int i = 0; i < rc; i++) {
			if (!tr_check(rx[i].buf, rx[i].len, TR_BE_TO_FE, got)) {
				if (bad++ < 4) {
					char d[200];
					tr_describe(d, sizeof(d), rx[i].buf, rx[i].len, TR_BE_TO_FE,
						    got);
					say("BAD packet from the backend: %s (queue %u, flags "
					    "0x%x)",
					    d, rx[i].queue, rx[i].flags);
				}
			}
			bytes_rx += rx[i].len;
			got++;
		}
		uint64_t cookies[BURST];
		int nd;
		while ((nd = nc2_channel_tx_done(ch, cookies, BURST)) > 0) {
			for (int i = 0; i < nd; i++)
				busy &= ~(1u << cookies[i]);
			done_tx += (uint32_t)nd;
		}
		rc = nc2_channel_flush(ch);
		if (rc > 0) {
			notifies++;
			rc = nc2_tp_notify(&t);
		}
		if (rc < 0 && rc != NC2_ERR_PEER_GONE) {
			say("flush/notify: %s", nc2_strerror(rc));
			why = "flush failed";
			break;
		}
		if (want && !closing && got >= want && sent >= want && done_tx >= sent) {
			closing = 1;
			double dt = now_s() - tc;
			say("all %u packets each way verified in %.2f s (%.0f pkt/s each way); "
			    "state Closing",
			    want, dt, dt > 0 ? want / dt : 0.0);
			nc2_channel_shutdown(ch);
			nc2_xen_xs_set_state(xs, dev.fe_path, NC2_XB_CLOSING);
		}
		if (closing && nc2_channel_state(ch) == NC2_CH_CLOSED)
			break;
		if (!want && now_s() - last_print > 2.0) {
			last_print = now_s();
			say("running: tx %u rx %u packets, bad %u", sent, got, bad);
		}
		if (nc2_channel_prepare_wait(ch) == 0) {
			struct pollfd p[2] = {{.fd = nc2_xen_fd(x), .events = POLLIN},
					      {.fd = nc2_xen_xs_fd(xs), .events = POLLIN}};
			poll(p, 2, 10);
		}
		nc2_xen_ack(x);
	}

	nc2_channel_stats s;
	nc2_xen_stats xst;
	nc2_channel_get_stats(ch, &s);
	say("counters: tx %u pkts %" PRIu64 " B (small %" PRIu64 ", granted %" PRIu64
	    "), rx %u pkts %" PRIu64 " B (pre_posted %" PRIu64 ", small %" PRIu64
	    "), bad %u, notifies %" PRIu64 ", buffers posted %" PRIu64 " returned %" PRIu64,
	    sent, bytes_tx, s.tx_small, s.tx_granted, got, bytes_rx, s.rx_pre_posted, s.rx_small,
	    bad, notifies, s.buffers_posted, s.buffers_returned);
	int clean = closing && nc2_channel_state(ch) == NC2_CH_CLOSED;
	if (clean) {
		/* Our side is done (every UNGRANT acknowledged): Closed. The
		 * backend then unmaps the ring and says Closed; then revoke. */
		nc2_xen_xs_set_state(xs, dev.fe_path, NC2_XB_CLOSED);
		if (wait_be_state(xs, &dev, NC2_XB_CLOSED, 10, &bst) != NC2_OK)
			say("backend did not reach Closed");
	}
	int frc = nc2_channel_fini(ch);
	nc2_xen_get_stats(x, &xst);
	say("transport: grants %" PRIu64 " revokes %" PRIu64 " (active %u), copies %" PRIu64
	    ", events %" PRIu64 ", fini %s",
	    xst.grants, xst.revokes, xst.grants_active, xst.copy_segs, xst.events,
	    nc2_strerror(frc));
	nc2_xen_disconnect(x);
	nc2_xen_close(x);
	nc2_xen_xs_set_state(xs, dev.fe_path, NC2_XB_CLOSED);
	nc2_xen_xs_unwatch(xs, dev.be_path);
	free(chmem);
	if (!want)
		return result(0, why);
	char msg[160];
	snprintf(msg, sizeof(msg), "%u/%u packets each way, %" PRIu64 "+%" PRIu64 " B, bad %u, %s",
		 got, want, bytes_tx, bytes_rx, bad, clean ? "closed cleanly" : why);
	return result(clean && bad == 0 && got == want && frc == NC2_OK && xst.grants_active == 0,
		      msg);
}

int main(int argc, char **argv)
{
	uint32_t counts[MAX_SESSIONS] = {2000}, handle = 0, order = 15;
	int n = cmdline_counts(counts);
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-n") == 0)
			n = parse_counts(argv[i + 1], counts);
		else if (strcmp(argv[i], "-h") == 0)
			handle = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "-o") == 0)
			order = (uint32_t)strtoul(argv[i + 1], NULL, 0);
	}
	if (n <= 0)
		n = 1;
	nc2_xen_xs *xs;
	if (nc2_xen_xs_open(&xs) != NC2_OK)
		return result(0, "cannot open xenstore (/dev/xen/xenbus)");
	int failed = 0;
	for (int i = 0; i < n; i++) {
		session_no = (unsigned)i + 1;
		failed |= session(xs, handle, counts[i], order);
	}
	nc2_xen_xs_close(xs);
	return failed;
}
