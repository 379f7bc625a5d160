/* SPDX-License-Identifier: MIT */
/*
 * nc2-xen-back: a libnc2 backend daemon (dom0) and its toolstack stand-in.
 *
 *   nc2-xen-back add DOMID [HANDLE]     create the vif2 device directories
 *                                       (what libxl does for a vif)
 *   nc2-xen-back serve [-s SESSIONS]    watch backend/vif2, serve frontends
 *
 * serve: for each device directory under /local/domain/<self>/backend/vif2
 * (new, or Closed with its frontend back at Initialising: a reconnect) it
 * goes to InitWait, waits for the frontend's Initialised, maps the ring
 * and binds the event channel (Connected), then exchanges the test traffic
 * of traffic.h, verifying every octet. A frontend's Closing starts an
 * orderly close (Closed). A frontend whose directory or domain disappears
 * (xl destroy) fails the channel: everything is unmapped and released, the
 * device directory removed, and the daemon goes on serving. Exits after
 * SESSIONS sessions (default: never).
 */
#define _DEFAULT_SOURCE 1
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nc2/channel.h>
#include <nc2/xen.h>

#include "traffic.h"

#define MAX_SESS 8
#define BURST    32u

enum sstate { S_INITWAIT, S_RUN, S_CLOSING, S_DONE };

struct sess {
	int used;
	unsigned id;
	enum sstate st;
	nc2_xen_xs_dev dev;
	nc2_xen *x;
	nc2_transport t;
	nc2_channel *ch;
	void *chmem;
	const uint8_t *ctrl; /* the mapped ring control page, for reports */
	uint32_t want;
	uint32_t sent, got, bad, retries;
	uint64_t bytes_tx, bytes_rx, notifies;
	int flowing;
	int fe_closed;
	double t_conn;
};

static struct sess sess[MAX_SESS];
static unsigned next_id = 1, finished = 0;
static uint8_t txbuf[TR_MAX_SIZE];
static uint8_t rxmem[BURST][65536];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define say(s, ...)                                                                \
	do {                                                                       \
		printf("BACK: session %u domid %u: ", (s)->id, (s)->dev.fe_domid); \
		printf(__VA_ARGS__);                                               \
		printf("\n");                                                      \
		fflush(stdout);                                                    \
	} while (0)

static void sess_free(struct sess *s)
{
	free(s->chmem);
	memset(s, 0, sizeof(*s));
	finished++;
}

static void print_counters(struct sess *s)
{
	nc2_channel_stats c;
	nc2_xen_stats xs;
	nc2_channel_get_stats(s->ch, &c);
	nc2_xen_get_stats(s->x, &xs);
	say(s,
	    "counters: rx %u pkts %" PRIu64 " B (small %" PRIu64 ", granted %" PRIu64
	    "), tx %u pkts %" PRIu64 " B (pre_posted %" PRIu64 ", small %" PRIu64
	    ", retried after no-buffer %u), bad %u",
	    s->got, s->bytes_rx, c.rx_small, c.rx_granted, s->sent, s->bytes_tx, c.tx_pre_posted,
	    c.tx_small, s->retries, s->bad);
	say(s,
	    "counters: grant copy %" PRIu64 " calls %" PRIu64 " segs, cache hits %" PRIu64
	    " misses %" PRIu64 ", maps %" PRIu64 " unmaps %" PRIu64 " (pages mapped now %u), "
	    "notifies %" PRIu64 ", events %" PRIu64,
	    xs.copy_calls, xs.copy_segs, c.cache_hits, c.cache_misses, xs.map_pages, xs.unmap_pages,
	    xs.maps_active, s->notifies, xs.events);
}

/* Release everything of a session; \p gone: the frontend vanished. */
static void sess_end(struct sess *s, nc2_xen_xs *xs, int gone, const char *why)
{
	if (s->x == NULL) { /* never connected */
		if (gone)
			nc2_xen_xs_device_remove(xs, &s->dev);
		say(s, "ended before connecting (%s)", why);
		sess_free(s);
		return;
	}
	if (gone)
		nc2_xen_set_peer_gone(s->x);
	int cst = nc2_channel_state(s->ch), cerr = nc2_channel_error(s->ch);
	print_counters(s);
	char w[240];
	tr_ring_words(w, sizeof(w), s->ctrl);
	say(s, "ring words at the end: %s", w);
	int frc = nc2_channel_fini(s->ch); /* unmaps the grant cache */
	nc2_xen_stats before;
	nc2_xen_get_stats(s->x, &before);
	int drc = nc2_xen_disconnect(s->x); /* unmaps the ring, unbinds */
	nc2_xen_stats after;
	nc2_xen_get_stats(s->x, &after);
	nc2_xen_close(s->x);
	int released =
	    frc == NC2_OK && drc == NC2_OK && before.maps_active == 0 && after.ring_mapped == 0;
	if (gone) {
		nc2_xen_xs_device_remove(xs, &s->dev);
		say(s,
		    "PEER GONE (%s) after rx %u tx %u: channel %s%s%s, released: grant maps %u, "
		    "ring pages %u -> %u, fini %s, disconnect %s => %s",
		    why, s->got, s->sent, cst == NC2_CH_FAILED ? "failed: " : "abandoned in state ",
		    cst == NC2_CH_FAILED ? nc2_strerror(cerr) : "",
		    cst == NC2_CH_FAILED ? "" : (cst == NC2_CH_CONNECTED ? "connected" : "other"),
		    before.maps_active, before.ring_mapped, after.ring_mapped, nc2_strerror(frc),
		    nc2_strerror(drc), released ? "RELEASED" : "LEAKED");
	} else {
		nc2_xen_xs_set_state(xs, s->dev.be_path, NC2_XB_CLOSED);
		int ok = released && s->bad == 0 && cst == NC2_CH_CLOSED && s->want &&
			 s->got == s->want && s->sent == s->want;
		say(s,
		    "CLOSED %s: %u/%u packets each way verified, %" PRIu64 "+%" PRIu64
		    " B, bad %u, channel %s, released %s",
		    ok ? "CLEAN" : "UNCLEAN", s->got, s->want, s->bytes_rx, s->bytes_tx, s->bad,
		    cst == NC2_CH_CLOSED ? "closed" : "not closed", released ? "all" : "NOT all");
	}
	nc2_xen_xs_unwatch(xs, s->dev.fe_path);
	sess_free(s);
}

/* Frontend published its ring: map, bind, start the channel. */
static int sess_connect(struct sess *s, nc2_xen_xs *xs)
{
	nc2_xen_conn conn;
	nc2_ring_mem view;
	nc2_xen_config xc;
	int rc = nc2_xen_xs_back_read(xs, &s->dev, &conn);
	if (rc != NC2_OK) {
		say(s, "bad frontend keys: %s", nc2_xen_xs_last_error(xs));
		return rc;
	}
	if (nc2_xen_xs_read_u32(xs, s->dev.fe_path, "nc2-test-packets", &s->want) != NC2_OK)
		s->want = 0;
	nc2_xen_config_default(&xc, s->dev.fe_domid);
	if ((rc = nc2_xen_open(&xc, &s->x, &s->t)) != NC2_OK) {
		say(s, "nc2_xen_open: %s: %s", nc2_strerror(rc), nc2_xen_open_error());
		return rc;
	}
	if ((rc = nc2_xen_back_connect(s->x, &conn, &view)) != NC2_OK) {
		say(s, "back_connect: %s: %s", nc2_strerror(rc), nc2_xen_last_error(s->x));
		nc2_xen_close(s->x);
		s->x = NULL;
		return rc;
	}
	s->ctrl = view.ctrl;
	char w[240];
	tr_ring_words(w, sizeof(w), view.ctrl);
	say(s, "ring mapped; its words: %s", w);
	nc2_channel_config cfg;
	nc2_channel_config_default(&cfg, NC2_ROLE_BACKEND);
	cfg.max_ring_order = conn.order;
	if (getenv("NC2_BACK_GCACHE") != NULL)
		cfg.gcache_entries = (uint32_t)strtoul(getenv("NC2_BACK_GCACHE"), NULL, 0);
	size_t fp = nc2_channel_footprint(&cfg);
	s->chmem = aligned_alloc(64, (fp + 63) & ~(size_t)63);
	if (s->chmem == NULL ||
	    (rc = nc2_channel_init(&s->ch, s->chmem, fp, &cfg, &s->t, &view)) != NC2_OK ||
	    (rc = nc2_channel_connect(s->ch)) != NC2_OK) {
		say(s, "channel: %s", nc2_strerror(rc));
		nc2_xen_close(s->x);
		s->x = NULL;
		return rc < 0 ? rc : NC2_ERR_NOSPACE;
	}
	nc2_xen_xs_set_state(xs, s->dev.be_path, NC2_XB_CONNECTED);
	s->st = S_RUN;
	s->t_conn = now_s();
	say(s,
	    "Connected: ring order %u (%u refs mapped in one call), event channel %u, "
	    "unmap-notify %s, %u packets per direction%s",
	    conn.order, conn.nr_refs, conn.evtchn,
	    (nc2_xen_caps(s->x) & NC2_XEN_CAP_UNMAP_NOTIFY) ? "armed" : "unavailable", s->want,
	    s->want ? "" : " (until the frontend goes)");
	return NC2_OK;
}

/* One round of traffic. \return <0 when the channel failed. */
static int sess_run(struct sess *s)
{
	nc2_rxbuf rx[BURST];
	for (uint32_t i = 0; i < BURST; i++)
		rx[i] = (nc2_rxbuf){.buf = rxmem[i], .cap = sizeof(rxmem[i])};
	int rc = nc2_channel_poll(s->ch, rx, BURST);
	if (rc < 0)
		return rc;
	for (int i = 0; i < rc; i++) {
		if (!tr_check(rx[i].buf, rx[i].len, TR_FE_TO_BE, s->got) && s->bad++ < 4) {
			char d[200];
			tr_describe(d, sizeof(d), rx[i].buf, rx[i].len, TR_FE_TO_BE, s->got);
			say(s, "BAD packet from the frontend: %s (flags 0x%x)", d, rx[i].flags);
		}
		s->bytes_rx += rx[i].len;
		s->got++;
	}
	for (uint32_t k = 0; k < BURST && s->st == S_RUN && (s->want == 0 || s->sent < s->want);
	     k++) {
		tr_fill(txbuf, TR_BE_TO_FE, s->sent);
		nc2_pkt p = {.data = txbuf, .len = tr_len(s->sent), .cookie = s->sent};
		rc = nc2_channel_send(s->ch, &p);
		if (rc == NC2_ERR_AGAIN)
			break;
		if (rc == 1) { /* no posted buffer yet: send it again later */
			s->retries++;
			break;
		}
		if (rc < 0)
			return rc;
		s->bytes_tx += p.len;
		s->sent++;
	}
	uint64_t c[BURST];
	while (nc2_channel_tx_done(s->ch, c, BURST) > 0)
		;
	rc = nc2_channel_flush(s->ch);
	if (rc > 0) {
		s->notifies++;
		rc = nc2_tp_notify(&s->t);
	}
	if (rc < 0)
		return rc;
	if (!s->flowing && s->got >= 500 && s->sent >= 500) {
		s->flowing = 1;
		say(s, "traffic flowing both ways (rx %u tx %u, all verified so far: bad %u)",
		    s->got, s->sent, s->bad);
	}
	return 0;
}

static struct sess *sess_find(uint32_t fe, uint32_t handle)
{
	for (int i = 0; i < MAX_SESS; i++)
		if (sess[i].used && sess[i].dev.fe_domid == fe && sess[i].dev.handle == handle)
			return &sess[i];
	return NULL;
}

/* New device directories: take them to InitWait. */
static void scan(nc2_xen_xs *xs, uint32_t self)
{
	uint32_t fe[16], h[16];
	int n = nc2_xen_xs_back_list(xs, self, fe, h, 16);
	for (int i = 0; i < n && i < 16; i++) {
		if (sess_find(fe[i], h[i]) != NULL)
			continue;
		struct sess *s = NULL;
		for (int j = 0; j < MAX_SESS && s == NULL; j++)
			if (!sess[j].used)
				s = &sess[j];
		if (s == NULL)
			return;
		memset(s, 0, sizeof(*s));
		s->used = 1;
		s->id = next_id++;
		nc2_xen_xs_dev_init(&s->dev, fe[i], self, h[i]);
		enum nc2_xenbus_state st, fst;
		int fresh = nc2_xen_xs_state(xs, s->dev.be_path, &st) == NC2_OK &&
			    st == NC2_XB_INITIALISING;
		/* A frontend back to Initialising after Closed: reconnect. */
		int again = !fresh && nc2_xen_xs_state(xs, s->dev.be_path, &st) == NC2_OK &&
			    st == NC2_XB_CLOSED &&
			    nc2_xen_xs_state(xs, s->dev.fe_path, &fst) == NC2_OK &&
			    fst == NC2_XB_INITIALISING;
		if (!fresh && !again) {
			s->used = 0; /* busy elsewhere, closing, or stale */
			next_id--;
			continue;
		}
		nc2_xen_xs_write_u32(xs, s->dev.be_path, "max-ring-order", NC2_XEN_RING_ORDER_MAX);
		nc2_xen_xs_set_state(xs, s->dev.be_path, NC2_XB_INITWAIT);
		nc2_xen_xs_watch(xs, s->dev.fe_path);
		s->st = S_INITWAIT;
		say(s, "%s device %s: InitWait", fresh ? "new" : "reconnecting", s->dev.be_path);
	}
}

/* Whether domain domid is gone. xs_is_domain_introduced() also says no
 * when xenstored fails to answer, so a "no" is only believed when a second
 * look 100 ms later agrees (a session ended by one failed query never
 * comes back). */
static int domain_gone(nc2_xen_xs *xs, uint32_t domid)
{
	if (nc2_xen_xs_domain_exists(xs, domid))
		return 0;
	usleep(100 * 1000);
	return !nc2_xen_xs_domain_exists(xs, domid);
}

static int serve(uint32_t max_sessions)
{
	nc2_xen_xs *xs;
	uint32_t self;
	if (nc2_xen_xs_open(&xs) != NC2_OK || nc2_xen_xs_domid(xs, &self) != NC2_OK) {
		printf("BACK: cannot open xenstore\n");
		return 1;
	}
	char base[96];
	snprintf(base, sizeof(base), "/local/domain/%u/backend/vif2", self);
	if (nc2_xen_xs_watch(xs, base) != NC2_OK ||
	    nc2_xen_xs_watch(xs, "@releaseDomain") != NC2_OK) {
		printf("BACK: watch: %s\n", nc2_xen_xs_last_error(xs));
		return 1;
	}
	printf("BACK: serving %s (domid %u)\n", base, self);
	fflush(stdout);
	int xs_dirty = 1;
	double last_check = 0;
	while (max_sessions == 0 || finished < max_sessions) {
		if (xs_dirty || now_s() - last_check > 0.2) {
			xs_dirty = 0;
			last_check = now_s();
			scan(xs, self);
			for (int i = 0; i < MAX_SESS; i++) {
				struct sess *s = &sess[i];
				if (!s->used)
					continue;
				enum nc2_xenbus_state fst;
				int rc = nc2_xen_xs_state(xs, s->dev.fe_path, &fst);
				if (rc == NC2_ERR_PEER_GONE || domain_gone(xs, s->dev.fe_domid)) {
					sess_end(s, xs, 1,
						 rc == NC2_ERR_PEER_GONE
						     ? "frontend directory removed"
						     : "domain gone");
					continue;
				}
				if (rc != NC2_OK)
					continue;
				if (s->st == S_INITWAIT &&
				    (fst == NC2_XB_INITIALISED || fst == NC2_XB_CONNECTED)) {
					if (sess_connect(s, xs) != NC2_OK) {
						nc2_xen_xs_set_state(xs, s->dev.be_path,
								     NC2_XB_CLOSED);
						sess_end(s, xs, 0, "connect failed");
					}
				} else if (s->st == S_RUN && fst >= NC2_XB_CLOSING) {
					say(s, "frontend Closing: orderly shutdown");
					nc2_xen_xs_set_state(xs, s->dev.be_path, NC2_XB_CLOSING);
					nc2_channel_shutdown(s->ch);
					s->st = S_CLOSING;
				}
				/* The frontend says Closed once it has every UNGRANT_ACK:
				 * only then may the ring go. */
				if (s->st == S_CLOSING && fst == NC2_XB_CLOSED)
					s->fe_closed = 1;
			}
		}
		struct pollfd p[MAX_SESS + 1];
		int np = 0;
		p[np++] = (struct pollfd){.fd = nc2_xen_xs_fd(xs), .events = POLLIN};
		int busy = 0;
		for (int i = 0; i < MAX_SESS; i++) {
			struct sess *s = &sess[i];
			if (!s->used || s->x == NULL)
				continue;
			if (nc2_xen_peer_alive(s->x) != NC2_OK) {
				sess_end(s, xs, 1, "frontend process died (unmap-notify)");
				continue;
			}
			int rc = sess_run(s);
			if (rc < 0) {
				say(s, "channel error %s", nc2_strerror(rc));
				sess_end(s, xs, !nc2_xen_xs_domain_exists(xs, s->dev.fe_domid),
					 nc2_strerror(rc));
				continue;
			}
			if (s->st == S_CLOSING && s->fe_closed) {
				sess_end(s, xs, 0, "closed");
				continue;
			}
			if (nc2_channel_prepare_wait(s->ch) != 0)
				busy = 1;
			p[np++] = (struct pollfd){.fd = nc2_xen_fd(s->x), .events = POLLIN};
		}
		if (poll(p, (nfds_t)np, busy ? 0 : 10) > 0 && (p[0].revents & POLLIN)) {
			char path[160];
			while (nc2_xen_xs_next_event(xs, path, sizeof(path)) > 0)
				xs_dirty = 1;
		}
		for (int i = 0; i < MAX_SESS; i++)
			if (sess[i].used && sess[i].x != NULL)
				nc2_xen_ack(sess[i].x);
	}
	printf("BACK: %u sessions served, exiting\n", finished);
	nc2_xen_xs_close(xs);
	return 0;
}

static int add(uint32_t fe, uint32_t handle)
{
	nc2_xen_xs *xs;
	uint32_t self;
	nc2_xen_xs_dev dev;
	if (nc2_xen_xs_open(&xs) != NC2_OK || nc2_xen_xs_domid(xs, &self) != NC2_OK) {
		fprintf(stderr, "nc2-xen-back add: cannot open xenstore\n");
		return 1;
	}
	nc2_xen_xs_dev_init(&dev, fe, self, handle);
	int rc = nc2_xen_xs_device_add(xs, &dev);
	if (rc != NC2_OK)
		fprintf(stderr, "nc2-xen-back add: %s\n", nc2_xen_xs_last_error(xs));
	else
		printf("BACK: toolstack: added vif2 device %s <-> %s\n", dev.fe_path, dev.be_path);
	nc2_xen_xs_close(xs);
	return rc == NC2_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "add") == 0)
		return add((uint32_t)strtoul(argv[2], NULL, 0),
			   argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 0);
	if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
		uint32_t max = 0;
		if (argc >= 4 && strcmp(argv[2], "-s") == 0)
			max = (uint32_t)strtoul(argv[3], NULL, 0);
		return serve(max);
	}
	fprintf(stderr, "usage: nc2-xen-back add DOMID [HANDLE] | serve [-s SESSIONS]\n");
	return 2;
}
