/* SPDX-License-Identifier: MIT */
/*
 * nc2-xen-conf: the transport conformance suite on the Xen transport, in
 * one domain with two processes (domid 0 as the peer when run in dom0).
 * For every test the parent forks the granting end A (frontend: shares the
 * ring, allocates an unbound event channel) and the mapping end B (backend:
 * maps the ring, binds the port); both serve the suite's requests over
 * pipes, so either may be killed by a test.
 *
 *   nc2-xen-conf [-p PEER_DOMID] [FILTER]
 */
#define _DEFAULT_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nc2/xen.h>

#include "conformance.h"

#define ORDER       12u
#define A_PAGES     64u
#define B_PAGES     16u
#define XEN_TIMEOUT 20 /* seconds a child may live */

struct xend {
	nc2_xen *x;
	nc2_transport t;
	nc2_ring_mem view;
	nc2_conf_hooks h;
	int closed;
};

struct xpair {
	uint32_t peer;
	nc2_conf_remote ra, rb;
	pid_t ca, cb;
};

static int x_alloc(void *user, uint32_t pages, void **addr)
{
	struct xend *e = user;
	*addr = nc2_xen_alloc(e->x, pages);
	return *addr != NULL ? NC2_OK : NC2_ERR_NOSPACE;
}

static int x_wait(void *user, int timeout_ms)
{
	struct xend *e = user;
	return nc2_xen_wait(e->x, timeout_ms);
}

static int x_ring(void *user, nc2_ring_mem *view)
{
	struct xend *e = user;
	*view = e->view;
	return NC2_OK;
}

static int x_held(const struct xend *e)
{
	nc2_xen_stats st;
	nc2_xen_get_stats(e->x, &st);
	return (int)(st.grants_active + st.maps_active);
}

static int x_close(void *user, int crash)
{
	struct xend *e = user;
	if (crash)
		_exit(0); /* the kernel cleans up: unmap-notify, gntdev release */
	int held = x_held(e);
	nc2_xen_close(e->x);
	e->x = NULL;
	e->closed = 1;
	return held;
}

static void hooks(struct xend *e)
{
	e->h = (nc2_conf_hooks){.t = &e->t,
				.user = e,
				.alloc = x_alloc,
				.wait = x_wait,
				.ring = x_ring,
				.close = x_close};
}

static int io(int fd, void *buf, size_t len, int wr)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One endpoint in a child process: A (role 'a') shares the ring and an
 * unbound port and sends the connection to the parent; B (role 'b') gets
 * it from the parent, maps and binds. Both then serve the suite.
 */
static _Noreturn void child_main(int role, uint32_t peer, int rfd, int wfd)
{
	struct xend e;
	nc2_xen_conn conn;
	nc2_xen_config cfg;
	int rc;
	memset(&e, 0, sizeof(e));
	memset(&conn, 0, sizeof(conn));
	alarm(XEN_TIMEOUT);
	nc2_xen_config_default(&cfg, peer);
	cfg.grant_pages = role == 'a' ? A_PAGES : B_PAGES;
	rc = nc2_xen_open(&cfg, &e.x, &e.t);
	if (rc != NC2_OK)
		fprintf(stderr, "[conf %c] nc2_xen_open: %s: %s\n", role, nc2_strerror(rc),
			nc2_xen_open_error());
	if (role == 'a') {
		if (rc == NC2_OK &&
		    (rc = nc2_xen_front_connect(e.x, ORDER, &conn, &e.view)) != NC2_OK)
			fprintf(stderr, "[conf a] front_connect: %s: %s\n", nc2_strerror(rc),
				nc2_xen_last_error(e.x));
		if (io(wfd, &rc, sizeof(rc), 1) != 0 || io(wfd, &conn, sizeof(conn), 1) != 0 ||
		    rc != NC2_OK)
			_exit(3);
	} else {
		if (io(rfd, &conn, sizeof(conn), 0) != 0)
			_exit(2);
		if (rc == NC2_OK && (rc = nc2_xen_back_connect(e.x, &conn, &e.view)) != NC2_OK)
			fprintf(stderr, "[conf b] back_connect: %s: %s\n", nc2_strerror(rc),
				nc2_xen_last_error(e.x));
		if (io(wfd, &rc, sizeof(rc), 1) != 0 || rc != NC2_OK)
			_exit(3);
	}
	hooks(&e);
	nc2_conf_side side;
	nc2_conf_local_side(&side, &e.h);
	int r = nc2_conf_serve(&side, rfd, wfd);
	if (!e.closed)
		nc2_xen_close(e.x);
	_exit(r < 0 ? 4 : 0);
}

static pid_t spawn(int role, uint32_t peer, nc2_conf_remote *rm)
{
	int p2c[2], c2p[2];
	if (pipe(p2c) != 0 || pipe(c2p) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Not the other child's pipes: only ours are open here. */
		close(p2c[1]);
		close(c2p[0]);
		child_main(role, peer, p2c[0], c2p[1]);
	}
	close(p2c[0]);
	close(c2p[1]);
	*rm = (nc2_conf_remote){.rfd = c2p[0], .wfd = p2c[1]};
	return pid;
}

static void reap(nc2_conf_remote *rm, pid_t pid, int *bad)
{
	int st = 0;
	close(rm->rfd);
	close(rm->wfd);
	if (pid > 0 && waitpid(pid, &st, 0) == pid && !WIFEXITED(st)) {
		fprintf(stderr, "[conf] an endpoint died (status 0x%x)\n", (unsigned)st);
		*bad = 1;
	}
}

static int xp_open(void *user, nc2_conf_side *a, nc2_conf_side *b, uint32_t *a_dom, uint32_t *b_dom)
{
	struct xpair *p = user;
	nc2_xen_conn conn;
	int rc = NC2_ERR_TRANSPORT, bad = 0;
	p->ca = spawn('a', p->peer, &p->ra);
	if (p->ca < 0)
		return NC2_ERR_TRANSPORT;
	if (io(p->ra.rfd, &rc, sizeof(rc), 0) != 0 || io(p->ra.rfd, &conn, sizeof(conn), 0) != 0 ||
	    rc != NC2_OK) {
		reap(&p->ra, p->ca, &bad);
		return rc != NC2_OK ? rc : NC2_ERR_TRANSPORT;
	}
	p->cb = spawn('b', p->peer, &p->rb);
	rc = NC2_ERR_TRANSPORT;
	if (p->cb < 0 || io(p->rb.wfd, &conn, sizeof(conn), 1) != 0 ||
	    io(p->rb.rfd, &rc, sizeof(rc), 0) != 0 || rc != NC2_OK) {
		if (p->cb >= 0)
			reap(&p->rb, p->cb, &bad);
		reap(&p->ra, p->ca, &bad);
		return rc != NC2_OK ? rc : NC2_ERR_TRANSPORT;
	}
	nc2_conf_remote_side(a, &p->ra);
	nc2_conf_remote_side(b, &p->rb);
	*a_dom = p->peer; /* both ends are this domain */
	*b_dom = p->peer;
	return NC2_OK;
}

static int close_end(nc2_conf_side *s)
{
	nc2_conf_req *r = calloc(1, sizeof(*r));
	int rc = 0;
	if (r != NULL) {
		r->op = NC2_CONF_CLOSE;
		rc = s->call(s->ctx, r);
		free(r);
	}
	return rc;
}

static int xp_close(void *user, nc2_conf_side *a, nc2_conf_side *b, int closed)
{
	struct xpair *p = user;
	int leaks = 0, bad = 0;
	/* The mapping end first: then nothing of A is mapped when A goes. */
	if (!(closed & 2))
		leaks += close_end(b);
	if (!(closed & 1))
		leaks += close_end(a);
	reap(&p->rb, p->cb, &bad);
	reap(&p->ra, p->ca, &bad);
	return leaks + (bad ? 1000 : 0);
}

int main(int argc, char **argv)
{
	struct xpair pair;
	const char *filter = NULL;
	memset(&pair, 0, sizeof(pair));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			pair.peer = (uint32_t)strtoul(argv[++i], NULL, 0);
		else
			filter = argv[i];
	}
	signal(SIGPIPE, SIG_IGN);

	/* Which mode does this domain give us? */
	nc2_xen *probe;
	nc2_transport t;
	nc2_xen_config cfg;
	nc2_xen_config_default(&cfg, pair.peer);
	cfg.grant_pages = 1;
	int rc = nc2_xen_open(&cfg, &probe, &t);
	if (rc != NC2_OK) {
		printf("conformance-xen: cannot open the Xen transport: %s: %s\n", nc2_strerror(rc),
		       nc2_xen_open_error());
		return 2;
	}
	uint32_t caps = nc2_xen_caps(probe);
	static char why[200];
	snprintf(why, sizeof(why), "%s", nc2_xen_last_error(probe));
	nc2_xen_close(probe);
	printf("conformance-xen: grant mode %s%s%s\n",
	       (caps & NC2_XEN_CAP_REVOKE) ? "direct (own grant table)" : "bookkeeping",
	       (caps & NC2_XEN_CAP_REVOKE) ? "" : ": ", (caps & NC2_XEN_CAP_REVOKE) ? "" : why);

	nc2_conf_env env = {
	    .name = "xen",
	    .caps = NC2_CONF_CAP_POLL_FD | NC2_CONF_CAP_CRASH | NC2_CONF_CAP_CRASH_A |
		    NC2_CONF_CAP_GRANT_COPY | NC2_CONF_CAP_GONE_EVENT,
	    .user = &pair,
	    .open = xp_open,
	    .close = xp_close,
	    .why_not = (caps & NC2_XEN_CAP_REVOKE) ? NULL : why,
	};
	if (caps & NC2_XEN_CAP_REVOKE)
		env.caps |= NC2_CONF_CAP_REVOKE_BUSY | NC2_CONF_CAP_REVOKE_ENFORCED;
	if (caps & NC2_XEN_CAP_READONLY)
		env.caps |= NC2_CONF_CAP_READONLY;
	return nc2_conf_run_all(&env, filter) == 0 ? 0 : 1;
}
