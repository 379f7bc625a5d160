/* SPDX-License-Identifier: MIT */
/* Transport conformance suite (see conformance.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nc2/common.h>

#include "conformance.h"

#define PG 4096u

/* ---- local side ---------------------------------------------------------- */

static int local_call(void *ctx, nc2_conf_req *r)
{
	nc2_conf_hooks *h = ctx;
	int rc;
	switch (r->op) {
	case NC2_CONF_ALLOC: {
		void *p = NULL;
		rc = h->alloc(h->user, r->n, &p);
		r->addr = (uint64_t)(uintptr_t)p;
		break;
	}
	case NC2_CONF_GRANT:
		rc = nc2_tp_grant(h->t, (void *)(uintptr_t)r->addr, r->flags, &r->gref);
		break;
	case NC2_CONF_REVOKE:
		rc = nc2_tp_revoke(h->t, r->gref);
		break;
	case NC2_CONF_END_ACCESS:
		rc = nc2_tp_end_access(h->t, r->gref);
		break;
	case NC2_CONF_MAP:
		rc = r->n > NC2_CONF_MAX_OPS ? NC2_ERR_INVALID_ARG : nc2_tp_map(h->t, r->map, r->n);
		break;
	case NC2_CONF_UNMAP:
		rc = r->n > NC2_CONF_MAX_OPS ? NC2_ERR_INVALID_ARG
					     : nc2_tp_unmap(h->t, r->map, r->n);
		break;
	case NC2_CONF_COPY:
		rc = r->n > NC2_CONF_MAX_OPS ? NC2_ERR_INVALID_ARG
					     : nc2_tp_copy(h->t, r->copy, r->n);
		break;
	case NC2_CONF_NOTIFY:
		rc = nc2_tp_notify(h->t);
		break;
	case NC2_CONF_WAIT:
		rc = h->wait(h->user, r->timeout_ms);
		break;
	case NC2_CONF_READ:
		if (r->n > NC2_CONF_MAX_DATA || r->addr == 0) {
			rc = NC2_ERR_INVALID_ARG;
			break;
		}
		memcpy(r->data, (const void *)(uintptr_t)r->addr, r->n);
		rc = NC2_OK;
		break;
	case NC2_CONF_WRITE:
		if (r->n > NC2_CONF_MAX_DATA || r->addr == 0) {
			rc = NC2_ERR_INVALID_ARG;
			break;
		}
		memcpy((void *)(uintptr_t)r->addr, r->data, r->n);
		rc = NC2_OK;
		break;
	case NC2_CONF_PEER:
		rc = nc2_tp_peer(h->t, &r->peer);
		break;
	case NC2_CONF_POLLFD:
		rc = nc2_tp_poll_fd(h->t);
		break;
	case NC2_CONF_RING: {
		nc2_ring_mem v;
		memset(&v, 0, sizeof(v));
		rc = h->ring != NULL ? h->ring(h->user, &v) : NC2_ERR_UNSUPPORTED;
		r->ring[0] = (uint64_t)(uintptr_t)v.ctrl;
		r->ring[1] = (uint64_t)(uintptr_t)v.payload[0];
		r->ring[2] = (uint64_t)(uintptr_t)v.payload[1];
		r->ring_order = v.order[0];
		break;
	}
	case NC2_CONF_CLOSE:
		rc = h->close(h->user, 0);
		break;
	case NC2_CONF_CRASH:
		rc = h->close(h->user, 1);
		break;
	default:
		rc = NC2_ERR_INVALID_ARG;
	}
	r->rc = rc;
	return rc;
}

void nc2_conf_local_side(nc2_conf_side *s, nc2_conf_hooks *h)
{
	s->call = local_call;
	s->ctx = h;
}

/* ---- remote side ---------------------------------------------------------- */

static int io_all(int fd, void *buf, size_t len, int wr)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 1 : -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int remote_call(void *ctx, nc2_conf_req *r)
{
	nc2_conf_remote *rm = ctx;
	if (rm->dead) {
		r->rc = NC2_ERR_PEER_GONE;
		return r->rc;
	}
	uint32_t op = r->op;
	if (io_all(rm->wfd, r, sizeof(*r), 1) != 0) {
		rm->dead = 1;
		r->rc = NC2_ERR_PEER_GONE;
		return r->rc;
	}
	if (op == NC2_CONF_CRASH) {
		/* The server dies without answering: wait for EOF. */
		uint8_t c;
		while (read(rm->rfd, &c, 1) > 0)
			;
		rm->dead = 1;
		r->rc = NC2_OK;
		return r->rc;
	}
	if (io_all(rm->rfd, r, sizeof(*r), 0) != 0) {
		rm->dead = 1;
		r->rc = NC2_ERR_PEER_GONE;
		return r->rc;
	}
	if (op == NC2_CONF_CLOSE)
		rm->dead = 1;
	return r->rc;
}

void nc2_conf_remote_side(nc2_conf_side *s, nc2_conf_remote *r)
{
	s->call = remote_call;
	s->ctx = r;
}

int nc2_conf_serve(const nc2_conf_side *local, int rfd, int wfd)
{
	nc2_conf_req *r = malloc(sizeof(*r));
	if (r == NULL)
		return -1;
	for (;;) {
		int rc = io_all(rfd, r, sizeof(*r), 0);
		if (rc != 0) {
			free(r);
			return rc > 0 ? 1 : -1;
		}
		uint32_t op = r->op;
		local->call(local->ctx, r);
		if (io_all(wfd, r, sizeof(*r), 1) != 0) {
			free(r);
			return -1;
		}
		if (op == NC2_CONF_CLOSE) {
			free(r);
			return 0;
		}
	}
}

/* ---- test plumbing ------------------------------------------------------- */

typedef struct T {
	const nc2_conf_env *env;
	nc2_conf_side a, b;
	uint32_t a_dom, b_dom;
	int a_closed, b_closed;
	nc2_conf_req *r;
	char *msg;
	size_t cap;
} T;

static enum nc2_conf_result failf(T *t, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(t->msg, t->cap, "line %d: ", line);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < t->cap)
		vsnprintf(t->msg + n, t->cap - (size_t)n, fmt, ap);
	va_end(ap);
	return NC2_CONF_FAIL;
}

static enum nc2_conf_result skip(T *t, const char *why)
{
	snprintf(t->msg, t->cap, "%s%s%s", why, t->env->why_not ? ": " : "",
		 t->env->why_not ? t->env->why_not : "");
	return NC2_CONF_SKIP;
}

#define REQUIRE(c)                                           \
	do {                                                 \
		if (!(c))                                    \
			return failf(t, __LINE__, "%s", #c); \
	} while (0)

#define EXPECT_RC(expr, want)                                                               \
	do {                                                                                \
		int rc_ = (expr), want_ = (want);                                           \
		if (rc_ != want_)                                                           \
			return failf(t, __LINE__, "%s = %d (%s), want %d (%s)", #expr, rc_, \
				     nc2_strerror(rc_), want_, nc2_strerror(want_));        \
	} while (0)

#define NEED(cap, why)                       \
	do {                                 \
		if (!(t->env->caps & (cap))) \
			return skip(t, why); \
	} while (0)

static nc2_conf_req *req(T *t, uint32_t op)
{
	memset(t->r, 0, offsetof(nc2_conf_req, map));
	t->r->op = op;
	return t->r;
}

static int s_call(nc2_conf_side *s, nc2_conf_req *r)
{
	return s->call(s->ctx, r);
}

static int s_alloc(T *t, nc2_conf_side *s, uint32_t pages, uint64_t *addr)
{
	nc2_conf_req *r = req(t, NC2_CONF_ALLOC);
	r->n = pages;
	int rc = s_call(s, r);
	*addr = r->addr;
	return rc;
}

static int s_grant(T *t, nc2_conf_side *s, uint64_t addr, uint32_t flags, uint32_t *gref)
{
	nc2_conf_req *r = req(t, NC2_CONF_GRANT);
	r->addr = addr;
	r->flags = flags;
	int rc = s_call(s, r);
	if (gref)
		*gref = r->gref;
	return rc;
}

static int s_revoke(T *t, nc2_conf_side *s, uint32_t gref)
{
	nc2_conf_req *r = req(t, NC2_CONF_REVOKE);
	r->gref = gref;
	return s_call(s, r);
}

static int s_map(T *t, nc2_conf_side *s, nc2_map_op *ops, uint32_t n, int unmap)
{
	nc2_conf_req *r = req(t, unmap ? NC2_CONF_UNMAP : NC2_CONF_MAP);
	r->n = n;
	memcpy(r->map, ops, n * sizeof(*ops));
	int rc = s_call(s, r);
	memcpy(ops, r->map, n * sizeof(*ops));
	return rc;
}

static int s_copy(T *t, nc2_conf_side *s, nc2_copy_op *ops, uint32_t n)
{
	nc2_conf_req *r = req(t, NC2_CONF_COPY);
	r->n = n;
	memcpy(r->copy, ops, n * sizeof(*ops));
	int rc = s_call(s, r);
	memcpy(ops, r->copy, n * sizeof(*ops));
	return rc;
}

static int s_simple(T *t, nc2_conf_side *s, uint32_t op)
{
	return s_call(s, req(t, op));
}

static int s_wait(T *t, nc2_conf_side *s, int ms)
{
	nc2_conf_req *r = req(t, NC2_CONF_WAIT);
	r->timeout_ms = ms;
	return s_call(s, r);
}

static int s_read(T *t, nc2_conf_side *s, uint64_t addr, void *buf, uint32_t len)
{
	nc2_conf_req *r = req(t, NC2_CONF_READ);
	r->addr = addr;
	r->n = len;
	int rc = s_call(s, r);
	if (rc == NC2_OK)
		memcpy(buf, r->data, len);
	return rc;
}

static int s_write(T *t, nc2_conf_side *s, uint64_t addr, const void *buf, uint32_t len)
{
	nc2_conf_req *r = req(t, NC2_CONF_WRITE);
	r->addr = addr;
	r->n = len;
	memcpy(r->data, buf, len);
	return s_call(s, r);
}

static int s_close(T *t, nc2_conf_side *s, int crash)
{
	int rc = s_simple(t, s, crash ? NC2_CONF_CRASH : NC2_CONF_CLOSE);
	if (s == &t->b)
		t->b_closed = 1;
	else
		t->a_closed = 1;
	return rc;
}

static uint8_t pat(uint32_t seed, uint32_t i)
{
	uint32_t x = seed * 2654435761u + i * 40503u;
	return (uint8_t)(x ^ (x >> 13) ^ (x >> 21));
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = pat(seed, i);
}

/* Index of the first octet of p[0..len) that differs from the pattern, or -1. */
static long check(const uint8_t *p, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != pat(seed, i))
			return (long)i;
	return -1;
}

/* Allocate \p n pages on A, fill page i with pattern seed+i, grant each. */
static int grant_pages(T *t, uint32_t n, uint32_t flags, uint32_t seed, uint64_t *base,
		       uint32_t *grefs)
{
	uint8_t buf[PG];
	int rc = s_alloc(t, &t->a, n, base);
	if (rc != NC2_OK)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		fill(buf, PG, seed + i);
		if ((rc = s_write(t, &t->a, *base + (uint64_t)i * PG, buf, PG)) != NC2_OK)
			return rc;
		if ((rc = s_grant(t, &t->a, *base + (uint64_t)i * PG, flags, &grefs[i])) != NC2_OK)
			return rc;
	}
	return NC2_OK;
}

static void map_ops(nc2_map_op *ops, const uint32_t *grefs, uint32_t n, uint32_t flags)
{
	memset(ops, 0, n * sizeof(*ops));
	for (uint32_t i = 0; i < n; i++) {
		ops[i].gref = grefs[i];
		ops[i].flags = flags;
	}
}

/* Revoke, retrying while the peer still maps the grant (its unmap may
 * complete asynchronously after a crash). */
static int revoke_retry(T *t, uint32_t gref)
{
	int rc = NC2_ERR_AGAIN;
	for (int i = 0; i < 200 && rc == NC2_ERR_AGAIN; i++) {
		rc = s_revoke(t, &t->a, gref);
		if (rc == NC2_ERR_AGAIN)
			(void)s_wait(t, &t->a, 10);
	}
	return rc;
}

/* ---- the tests ----------------------------------------------------------- */

/* Grant a page read-write; the peer maps it, sees the data, writes back. */
static enum nc2_conf_result t_grant_map_rw(T *t)
{
	uint64_t a;
	uint32_t g;
	uint8_t buf[PG];
	EXPECT_RC(grant_pages(t, 1, 0, 11, &a, &g), NC2_OK);
	nc2_map_op m;
	map_ops(&m, &g, 1, 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	REQUIRE(m.status == NC2_OK && m.addr != NULL && m.handle != 0);
	uint64_t ma = (uint64_t)(uintptr_t)m.addr;
	EXPECT_RC(s_read(t, &t->b, ma, buf, PG), NC2_OK);
	REQUIRE(check(buf, PG, 11) < 0);
	fill(buf, 100, 99);
	EXPECT_RC(s_write(t, &t->b, ma + 1000, buf, 100), NC2_OK);
	EXPECT_RC(s_read(t, &t->a, a + 1000, buf, 100), NC2_OK);
	REQUIRE(check(buf, 100, 99) < 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* Contract violations of grant are INVALID_ARG. */
static enum nc2_conf_result t_grant_args(T *t)
{
	uint64_t a;
	uint32_t g = 0;
	EXPECT_RC(s_alloc(t, &t->a, 1, &a), NC2_OK);
	EXPECT_RC(s_grant(t, &t->a, a, 0x80u, &g), NC2_ERR_INVALID_ARG);
	EXPECT_RC(s_grant(t, &t->a, a + 8, 0, &g), NC2_ERR_INVALID_ARG);
	EXPECT_RC(s_grant(t, &t->a, 0, 0, &g), NC2_ERR_INVALID_ARG);
	return NC2_CONF_PASS;
}

/* Revoking what is not granted is NOT_FOUND; a double revoke too. */
static enum nc2_conf_result t_revoke_unknown(T *t)
{
	uint64_t a;
	uint32_t g;
	EXPECT_RC(s_revoke(t, &t->a, 0xfffff0u), NC2_ERR_NOT_FOUND);
	EXPECT_RC(grant_pages(t, 1, 0, 1, &a, &g), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_ERR_NOT_FOUND);
	return NC2_CONF_PASS;
}

/* Revoke is refused while the peer maps the grant, and works after unmap. */
static enum nc2_conf_result t_revoke_busy(T *t)
{
	NEED(NC2_CONF_CAP_REVOKE_BUSY, "transport cannot see the peer's mappings");
	uint64_t a;
	uint32_t g;
	uint8_t buf[64];
	EXPECT_RC(grant_pages(t, 1, 0, 2, &a, &g), NC2_OK);
	nc2_map_op m;
	map_ops(&m, &g, 1, 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_ERR_AGAIN);
	EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m.addr, buf, sizeof(buf)), NC2_OK);
	REQUIRE(check(buf, sizeof(buf), 2) < 0);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_ERR_AGAIN);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* After revoke the peer can neither map nor copy the grant. */
static enum nc2_conf_result t_revoke_enforced(T *t)
{
	NEED(NC2_CONF_CAP_REVOKE_ENFORCED, "revoke does not end the peer's access");
	uint64_t a, lb;
	uint32_t g;
	EXPECT_RC(grant_pages(t, 1, 0, 3, &a, &g), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	nc2_map_op m;
	map_ops(&m, &g, 1, NC2_GNT_READONLY);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_ERR_PEER_GRANT);
	REQUIRE(m.status == NC2_ERR_PEER_GRANT && m.addr == NULL);
	EXPECT_RC(s_alloc(t, &t->b, 1, &lb), NC2_OK);
	nc2_copy_op c = {.src = {.gref = g}, .dst = {.local = (void *)(uintptr_t)lb}, .len = 64};
	EXPECT_RC(s_copy(t, &t->b, &c, 1), NC2_ERR_PEER_GRANT);
	return NC2_CONF_PASS;
}

static int s_end_access(T *t, nc2_conf_side *s, uint32_t gref)
{
	nc2_conf_req *r = req(t, NC2_CONF_END_ACCESS);
	r->gref = gref;
	return s_call(s, r);
}

/* end_access: the peer loses access at once, the reference stays until
 * revoke; unknown references are NOT_FOUND. */
static enum nc2_conf_result t_end_access(T *t)
{
	uint64_t a, lb;
	uint32_t g;
	int rc = s_end_access(t, &t->a, 0xfffff0u);
	if (rc == NC2_ERR_UNSUPPORTED)
		return skip(t, "transport has no end_access op (checked: UNSUPPORTED)");
	REQUIRE(rc == NC2_ERR_NOT_FOUND);
	EXPECT_RC(grant_pages(t, 1, NC2_GNT_READONLY, 18, &a, &g), NC2_OK);
	EXPECT_RC(s_end_access(t, &t->a, g), NC2_OK);
	if (t->env->caps & NC2_CONF_CAP_REVOKE_ENFORCED) {
		nc2_map_op m;
		map_ops(&m, &g, 1, NC2_GNT_READONLY);
		EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_ERR_PEER_GRANT);
		EXPECT_RC(s_alloc(t, &t->b, 1, &lb), NC2_OK);
		nc2_copy_op c = {
		    .src = {.gref = g}, .dst = {.local = (void *)(uintptr_t)lb}, .len = 8};
		EXPECT_RC(s_copy(t, &t->b, &c, 1), NC2_ERR_PEER_GRANT);
	}
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_ERR_NOT_FOUND);
	EXPECT_RC(s_end_access(t, &t->a, g), NC2_ERR_NOT_FOUND);
	if (!(t->env->caps & NC2_CONF_CAP_REVOKE_ENFORCED))
		return skip(t, "bookkeeping only: access is not really ended");
	return NC2_CONF_PASS;
}

/* end_access is refused while the peer maps the grant. */
static enum nc2_conf_result t_end_access_busy(T *t)
{
	NEED(NC2_CONF_CAP_REVOKE_BUSY, "transport cannot see the peer's mappings");
	uint64_t a;
	uint32_t g;
	nc2_map_op m;
	if (s_end_access(t, &t->a, 0xfffff0u) == NC2_ERR_UNSUPPORTED)
		return skip(t, "transport has no end_access op");
	EXPECT_RC(grant_pages(t, 1, 0, 19, &a, &g), NC2_OK);
	map_ops(&m, &g, 1, 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	EXPECT_RC(s_end_access(t, &t->a, g), NC2_ERR_AGAIN);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	EXPECT_RC(s_end_access(t, &t->a, g), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* Eight grants mapped in one batch and unmapped in one batch. */
static enum nc2_conf_result t_map_batch(T *t)
{
	enum { N = 8 };
	uint64_t a;
	uint32_t g[N];
	uint8_t buf[PG];
	nc2_map_op m[N];
	EXPECT_RC(grant_pages(t, N, 0, 100, &a, g), NC2_OK);
	map_ops(m, g, N, 0);
	EXPECT_RC(s_map(t, &t->b, m, N, 0), NC2_OK);
	for (uint32_t i = 0; i < N; i++) {
		REQUIRE(m[i].status == NC2_OK && m[i].addr != NULL);
		for (uint32_t j = 0; j < i; j++)
			REQUIRE(m[i].addr != m[j].addr && m[i].handle != m[j].handle);
		EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m[i].addr, buf, PG), NC2_OK);
		if (check(buf, PG, 100 + i) >= 0)
			return failf(t, __LINE__, "page %u of the batch has the wrong data", i);
	}
	EXPECT_RC(s_map(t, &t->b, m, N, 1), NC2_OK);
	for (uint32_t i = 0; i < N; i++)
		REQUIRE(m[i].status == NC2_OK);
	for (uint32_t i = 0; i < N; i++)
		EXPECT_RC(s_revoke(t, &t->a, g[i]), NC2_OK);
	return NC2_CONF_PASS;
}

/* A bad reference in a batch fails only its own op. */
static enum nc2_conf_result t_map_batch_partial(T *t)
{
	uint64_t a;
	uint32_t g[4], refs[5];
	uint8_t buf[PG];
	nc2_map_op m[5];
	EXPECT_RC(grant_pages(t, 4, 0, 200, &a, g), NC2_OK);
	refs[0] = g[0];
	refs[1] = g[1];
	refs[2] = 0xfffff0u; /* never granted */
	refs[3] = g[2];
	refs[4] = g[3];
	map_ops(m, refs, 5, 0);
	EXPECT_RC(s_map(t, &t->b, m, 5, 0), NC2_ERR_PEER_GRANT);
	REQUIRE(m[2].status == NC2_ERR_PEER_GRANT && m[2].addr == NULL);
	nc2_map_op ok[4] = {m[0], m[1], m[3], m[4]};
	for (uint32_t i = 0; i < 4; i++) {
		REQUIRE(ok[i].status == NC2_OK && ok[i].addr != NULL);
		EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)ok[i].addr, buf, PG), NC2_OK);
		REQUIRE(check(buf, PG, 200 + i) < 0);
	}
	EXPECT_RC(s_map(t, &t->b, ok, 4, 1), NC2_OK);
	for (uint32_t i = 0; i < 4; i++)
		EXPECT_RC(s_revoke(t, &t->a, g[i]), NC2_OK);
	return NC2_CONF_PASS;
}

/* Ops of one map batch are unmapped separately; each grant is released
 * by its own unmap. */
static enum nc2_conf_result t_unmap_subset(T *t)
{
	uint64_t a;
	uint32_t g[4];
	uint8_t buf[PG];
	nc2_map_op m[4];
	EXPECT_RC(grant_pages(t, 4, 0, 300, &a, g), NC2_OK);
	map_ops(m, g, 4, 0);
	EXPECT_RC(s_map(t, &t->b, m, 4, 0), NC2_OK);
	nc2_map_op odd[2] = {m[1], m[3]}, even[2] = {m[0], m[2]};
	EXPECT_RC(s_map(t, &t->b, odd, 2, 1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g[1]), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g[3]), NC2_OK);
	if (t->env->caps & NC2_CONF_CAP_REVOKE_BUSY)
		EXPECT_RC(s_revoke(t, &t->a, g[0]), NC2_ERR_AGAIN);
	for (uint32_t i = 0; i < 2; i++) {
		EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)even[i].addr, buf, PG), NC2_OK);
		REQUIRE(check(buf, PG, 300 + 2 * i) < 0);
	}
	EXPECT_RC(s_map(t, &t->b, even, 2, 1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g[0]), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g[2]), NC2_OK);
	return NC2_CONF_PASS;
}

/* Forged or stale handles and wrong addresses are refused without harm. */
static enum nc2_conf_result t_unmap_invalid(T *t)
{
	uint64_t a;
	uint32_t g;
	nc2_map_op m, bad;
	EXPECT_RC(grant_pages(t, 1, 0, 4, &a, &g), NC2_OK);
	map_ops(&m, &g, 1, 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	bad = m;
	bad.handle ^= 0x5a5a00000000ull;
	EXPECT_RC(s_map(t, &t->b, &bad, 1, 1), NC2_ERR_INVALID_ARG);
	REQUIRE(bad.status == NC2_ERR_INVALID_ARG);
	bad = m;
	bad.addr = (uint8_t *)bad.addr + PG;
	EXPECT_RC(s_map(t, &t->b, &bad, 1, 1), NC2_ERR_INVALID_ARG);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	bad = m;
	EXPECT_RC(s_map(t, &t->b, &bad, 1, 1), NC2_ERR_INVALID_ARG);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

static enum nc2_conf_result t_map_flags_invalid(T *t)
{
	uint64_t a;
	uint32_t g;
	nc2_map_op m;
	EXPECT_RC(grant_pages(t, 1, 0, 5, &a, &g), NC2_OK);
	map_ops(&m, &g, 1, 0x100u);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_ERR_INVALID_ARG);
	REQUIRE(m.status == NC2_ERR_INVALID_ARG && m.addr == NULL);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* A read-only grant refuses writable maps and maps read-only. */
static enum nc2_conf_result t_readonly_map(T *t)
{
	NEED(NC2_CONF_CAP_READONLY, "read-only grants are not enforced");
	uint64_t a;
	uint32_t g;
	uint8_t buf[PG];
	nc2_map_op m;
	EXPECT_RC(grant_pages(t, 1, NC2_GNT_READONLY, 6, &a, &g), NC2_OK);
	map_ops(&m, &g, 1, 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_ERR_PEER_GRANT);
	map_ops(&m, &g, 1, NC2_GNT_READONLY);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m.addr, buf, PG), NC2_OK);
	REQUIRE(check(buf, PG, 6) < 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* A read-only grant can be copied from, not into. */
static enum nc2_conf_result t_readonly_copy(T *t)
{
	NEED(NC2_CONF_CAP_READONLY, "read-only grants are not enforced");
	uint64_t a, lb;
	uint32_t g;
	uint8_t buf[PG];
	EXPECT_RC(grant_pages(t, 1, NC2_GNT_READONLY, 7, &a, &g), NC2_OK);
	EXPECT_RC(s_alloc(t, &t->b, 1, &lb), NC2_OK);
	nc2_copy_op c = {
	    .src = {.gref = g, .offset = 16}, .dst = {.local = (void *)(uintptr_t)lb}, .len = 256};
	EXPECT_RC(s_copy(t, &t->b, &c, 1), NC2_OK);
	EXPECT_RC(s_read(t, &t->b, lb, buf, 256), NC2_OK);
	for (uint32_t i = 0; i < 256; i++)
		REQUIRE(buf[i] == pat(7, 16 + i));
	c = (nc2_copy_op){.src = {.local = (void *)(uintptr_t)lb}, .dst = {.gref = g}, .len = 64};
	EXPECT_RC(s_copy(t, &t->b, &c, 1), NC2_ERR_PEER_GRANT);
	REQUIRE(c.status == NC2_ERR_PEER_GRANT);
	EXPECT_RC(s_read(t, &t->a, a, buf, PG), NC2_OK);
	REQUIRE(check(buf, PG, 7) < 0);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* Grant copy from the peer's page, at several offsets and lengths. */
static enum nc2_conf_result t_copy_from_peer(T *t)
{
	uint64_t a, lb;
	uint32_t g;
	uint8_t buf[2 * PG];
	EXPECT_RC(grant_pages(t, 1, NC2_GNT_READONLY, 8, &a, &g), NC2_OK);
	EXPECT_RC(s_alloc(t, &t->b, 2, &lb), NC2_OK);
	static const uint16_t off[4] = {0, 1, 4000, 2048}, len[4] = {4096, 100, 96, 1};
	static const uint32_t dst[4] = {0, 4097, 5000, 6000}; /* first crosses nothing, second
								 starts past a page */
	nc2_copy_op c[4];
	memset(c, 0, sizeof(c));
	for (uint32_t i = 0; i < 4; i++) {
		c[i].src.gref = g;
		c[i].src.offset = off[i];
		c[i].dst.local = (void *)(uintptr_t)(lb + dst[i]);
		c[i].len = len[i];
	}
	EXPECT_RC(s_copy(t, &t->b, c, 4), NC2_OK);
	EXPECT_RC(s_read(t, &t->b, lb, buf, 2 * PG), NC2_OK);
	for (uint32_t i = 0; i < 4; i++) {
		REQUIRE(c[i].status == NC2_OK);
		for (uint32_t k = 0; k < len[i]; k++)
			if (buf[dst[i] + k] != pat(8, off[i] + k))
				return failf(t, __LINE__, "segment %u octet %u wrong", i, k);
	}
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* Grant copy into the peer's page; octets outside the segments stay. */
static enum nc2_conf_result t_copy_to_peer(T *t)
{
	uint64_t a, lb;
	uint32_t g;
	uint8_t buf[PG], src[PG];
	EXPECT_RC(grant_pages(t, 1, 0, 9, &a, &g), NC2_OK);
	EXPECT_RC(s_alloc(t, &t->b, 2, &lb), NC2_OK);
	fill(src, PG, 77);
	/* Local source straddling a page boundary of B's memory. */
	EXPECT_RC(s_write(t, &t->b, lb + PG - 1000, src, PG), NC2_OK);
	nc2_copy_op c[2] = {
	    {.src = {.local = (void *)(uintptr_t)(lb + PG - 1000)},
	     .dst = {.gref = g, .offset = 10},
	     .len = 2000},
	    {.src = {.local = (void *)(uintptr_t)(lb + PG - 1000)},
	     .dst = {.gref = g, .offset = 4000},
	     .len = 96},
	};
	EXPECT_RC(s_copy(t, &t->b, c, 2), NC2_OK);
	EXPECT_RC(s_read(t, &t->a, a, buf, PG), NC2_OK);
	for (uint32_t i = 0; i < PG; i++) {
		uint8_t want = pat(9, i);
		if (i >= 10 && i < 2010)
			want = src[i - 10];
		else if (i >= 4000)
			want = src[i - 4000];
		if (buf[i] != want)
			return failf(t, __LINE__, "octet %u of the granted page is wrong", i);
	}
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* Offsets and lengths outside the page are refused per segment. */
static enum nc2_conf_result t_copy_bounds(T *t)
{
	uint64_t a, lb;
	uint32_t g;
	EXPECT_RC(grant_pages(t, 1, 0, 10, &a, &g), NC2_OK);
	EXPECT_RC(s_alloc(t, &t->b, 2, &lb), NC2_OK);
	void *l = (void *)(uintptr_t)lb;
	nc2_copy_op c[6] = {
	    {.src = {.gref = g, .offset = 4095}, .dst = {.local = l}, .len = 2},
	    {.src = {.gref = g, .offset = 0}, .dst = {.local = l}, .len = 4096},
	    {.src = {.local = l}, .dst = {.gref = g, .offset = 4096}, .len = 1},
	    {.src = {.gref = g, .offset = 100}, .dst = {.local = l}, .len = 0},
	    {.src = {.local = l}, .dst = {.gref = g, .offset = 1}, .len = 4096},
	    {.src = {.gref = g, .offset = 65535}, .dst = {.local = l}, .len = 65535},
	};
	EXPECT_RC(s_copy(t, &t->b, c, 6), NC2_ERR_INVALID_ARG);
	REQUIRE(c[0].status == NC2_ERR_INVALID_ARG);
	REQUIRE(c[1].status == NC2_OK);
	REQUIRE(c[2].status == NC2_ERR_INVALID_ARG);
	REQUIRE(c[3].status == NC2_OK);
	REQUIRE(c[4].status == NC2_ERR_INVALID_ARG);
	REQUIRE(c[5].status == NC2_ERR_INVALID_ARG);
	uint8_t buf[PG];
	EXPECT_RC(s_read(t, &t->a, a, buf, PG), NC2_OK);
	REQUIRE(check(buf, PG, 10) < 0);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* An unknown reference fails its segment; the others of the batch copy. */
static enum nc2_conf_result t_copy_bad_gref(T *t)
{
	uint64_t a, lb;
	uint32_t g;
	uint8_t buf[300];
	EXPECT_RC(grant_pages(t, 1, 0, 12, &a, &g), NC2_OK);
	EXPECT_RC(s_alloc(t, &t->b, 1, &lb), NC2_OK);
	nc2_copy_op c[3] = {
	    {.src = {.gref = g}, .dst = {.local = (void *)(uintptr_t)lb}, .len = 100},
	    {.src = {.gref = 0xfffff0u},
	     .dst = {.local = (void *)(uintptr_t)(lb + 100)},
	     .len = 100},
	    {.src = {.gref = g, .offset = 100},
	     .dst = {.local = (void *)(uintptr_t)(lb + 200)},
	     .len = 100},
	};
	EXPECT_RC(s_copy(t, &t->b, c, 3), NC2_ERR_PEER_GRANT);
	REQUIRE(c[0].status == NC2_OK && c[1].status == NC2_ERR_PEER_GRANT &&
		c[2].status == NC2_OK);
	EXPECT_RC(s_read(t, &t->b, lb, buf, 300), NC2_OK);
	for (uint32_t i = 0; i < 100; i++)
		REQUIRE(buf[i] == pat(12, i) && buf[200 + i] == pat(12, 100 + i) &&
			buf[100 + i] == 0);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* Copy between two of the peer's grants (both ends references). */
static enum nc2_conf_result t_copy_grant_to_grant(T *t)
{
	NEED(NC2_CONF_CAP_GRANT_COPY, "no grant-to-grant copy");
	uint64_t a;
	uint32_t g[2];
	uint8_t buf[PG];
	EXPECT_RC(grant_pages(t, 2, 0, 20, &a, g), NC2_OK);
	nc2_copy_op c = {
	    .src = {.gref = g[0], .offset = 10}, .dst = {.gref = g[1], .offset = 500}, .len = 100};
	EXPECT_RC(s_copy(t, &t->b, &c, 1), NC2_OK);
	EXPECT_RC(s_read(t, &t->a, a + PG, buf, PG), NC2_OK);
	for (uint32_t i = 0; i < PG; i++) {
		uint8_t want = i >= 500 && i < 600 ? pat(20, 10 + i - 500) : pat(21, i);
		REQUIRE(buf[i] == want);
	}
	EXPECT_RC(s_revoke(t, &t->a, g[0]), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g[1]), NC2_OK);
	return NC2_CONF_PASS;
}

/* Take events on \p s until none come for 20 ms; \return how many rounds
 * had events, or -1 if they never stop. */
static int drain(T *t, nc2_conf_side *s)
{
	for (int i = 0; i < 8; i++)
		if (s_wait(t, s, 20) <= 0)
			return i;
	return -1;
}

/* Notifications arrive both ways and coalesce: a burst of notifies gives at
 * least one event and at most a few (Xen: one pending bit, plus one more
 * if a notify lands between delivery and unmask), and none come unasked. */
static enum nc2_conf_result t_notify(T *t)
{
	(void)drain(t, &t->a); /* whatever connecting raised */
	(void)drain(t, &t->b);
	EXPECT_RC(s_wait(t, &t->b, 20), 0);
	for (int i = 0; i < 3; i++)
		EXPECT_RC(s_simple(t, &t->a, NC2_CONF_NOTIFY), NC2_OK);
	int n = s_wait(t, &t->b, 2000);
	if (n < 1)
		return failf(t, __LINE__, "backend saw %d events after 3 notifies", n);
	n = drain(t, &t->b);
	if (n < 0 || n > 2)
		return failf(t, __LINE__, "events kept coming after 3 notifies (%d rounds)", n);
	EXPECT_RC(s_simple(t, &t->b, NC2_CONF_NOTIFY), NC2_OK);
	n = s_wait(t, &t->a, 2000);
	if (n < 1)
		return failf(t, __LINE__, "frontend saw %d events after a notify", n);
	n = drain(t, &t->a);
	if (n < 0 || n > 1)
		return failf(t, __LINE__, "events kept coming after 1 notify (%d rounds)", n);
	EXPECT_RC(s_wait(t, &t->a, 20), 0);
	EXPECT_RC(s_wait(t, &t->b, 20), 0);
	return NC2_CONF_PASS;
}

/* poll_fd is available exactly when the transport says so. */
static enum nc2_conf_result t_poll_fd(T *t)
{
	int fa = s_simple(t, &t->a, NC2_CONF_POLLFD);
	int fb = s_simple(t, &t->b, NC2_CONF_POLLFD);
	if (!(t->env->caps & NC2_CONF_CAP_POLL_FD)) {
		REQUIRE(fa == NC2_ERR_UNSUPPORTED && fb == NC2_ERR_UNSUPPORTED);
		return skip(t, "no pollable fd (checked: UNSUPPORTED on both ends)");
	}
	REQUIRE(fa >= 0 && fb >= 0);
	return NC2_CONF_PASS;
}

static enum nc2_conf_result t_peer_id(T *t)
{
	nc2_conf_req *r = req(t, NC2_CONF_PEER);
	EXPECT_RC(s_call(&t->a, r), NC2_OK);
	REQUIRE(r->peer.domid == t->b_dom);
	r = req(t, NC2_CONF_PEER);
	EXPECT_RC(s_call(&t->b, r), NC2_OK);
	REQUIRE(r->peer.domid == t->a_dom);
	return NC2_CONF_PASS;
}

/* A sticky grant may be mapped twice at once. */
static enum nc2_conf_result t_sticky_double_map(T *t)
{
	uint64_t a;
	uint32_t g;
	uint8_t b1[64], b2[64];
	nc2_map_op m[2];
	EXPECT_RC(grant_pages(t, 1, NC2_GNT_READONLY | NC2_GNT_STICKY, 13, &a, &g), NC2_OK);
	map_ops(&m[0], &g, 1, NC2_GNT_READONLY);
	map_ops(&m[1], &g, 1, NC2_GNT_READONLY);
	EXPECT_RC(s_map(t, &t->b, &m[0], 1, 0), NC2_OK);
	EXPECT_RC(s_map(t, &t->b, &m[1], 1, 0), NC2_OK);
	REQUIRE(m[0].handle != m[1].handle);
	EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m[0].addr + 64, b1, 64), NC2_OK);
	EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m[1].addr + 64, b2, 64), NC2_OK);
	REQUIRE(memcmp(b1, b2, 64) == 0 && b1[0] == pat(13, 64));
	EXPECT_RC(s_map(t, &t->b, &m[0], 1, 1), NC2_OK);
	if (t->env->caps & NC2_CONF_CAP_REVOKE_BUSY)
		EXPECT_RC(s_revoke(t, &t->a, g), NC2_ERR_AGAIN);
	EXPECT_RC(s_map(t, &t->b, &m[1], 1, 1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* A page granted twice stays usable until both grants are revoked. */
static enum nc2_conf_result t_grant_twice(T *t)
{
	uint64_t a;
	uint32_t g1, g2;
	uint8_t buf[32];
	EXPECT_RC(grant_pages(t, 1, NC2_GNT_READONLY, 14, &a, &g1), NC2_OK);
	EXPECT_RC(s_grant(t, &t->a, a, NC2_GNT_READONLY, &g2), NC2_OK);
	nc2_map_op m;
	map_ops(&m, &g1, 1, NC2_GNT_READONLY);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g2), NC2_OK);
	EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m.addr, buf, sizeof(buf)), NC2_OK);
	REQUIRE(check(buf, sizeof(buf), 14) < 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g1), NC2_OK);
	EXPECT_RC(s_revoke(t, &t->a, g1), NC2_ERR_NOT_FOUND);
	return NC2_CONF_PASS;
}

/* 32 grants mapped in four batches, unmapped in one batch across them. */
static enum nc2_conf_result t_many_pages(T *t)
{
	enum { N = 32 };
	uint64_t a;
	uint32_t g[N];
	uint8_t buf[PG];
	nc2_map_op m[N];
	EXPECT_RC(grant_pages(t, N, 0, 400, &a, g), NC2_OK);
	map_ops(m, g, N, 0);
	for (uint32_t s = 0; s < N; s += 8)
		EXPECT_RC(s_map(t, &t->b, m + s, 8, 0), NC2_OK);
	for (uint32_t i = 0; i < N; i++) {
		EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m[i].addr, buf, PG), NC2_OK);
		if (check(buf, PG, 400 + i) >= 0)
			return failf(t, __LINE__, "page %u wrong", i);
	}
	/* Interleaved order across the four batches. */
	nc2_map_op u[N];
	for (uint32_t i = 0; i < N; i++)
		u[i] = m[(i % 4) * 8 + i / 4];
	EXPECT_RC(s_map(t, &t->b, u, N, 1), NC2_OK);
	for (uint32_t i = 0; i < N; i++)
		EXPECT_RC(s_revoke(t, &t->a, g[i]), NC2_OK);
	return NC2_CONF_PASS;
}

/* The ring pair is the same memory on both ends, control block zeroed. */
static enum nc2_conf_result t_ring_shared(T *t)
{
	nc2_conf_req *r = req(t, NC2_CONF_RING);
	EXPECT_RC(s_call(&t->a, r), NC2_OK);
	uint64_t ra[3] = {r->ring[0], r->ring[1], r->ring[2]};
	uint32_t order = r->ring_order;
	r = req(t, NC2_CONF_RING);
	EXPECT_RC(s_call(&t->b, r), NC2_OK);
	uint64_t rb[3] = {r->ring[0], r->ring[1], r->ring[2]};
	REQUIRE(order >= 8 && order <= 13 && r->ring_order == order);
	uint32_t sz = 1u << order;
	uint8_t buf[NC2_CONF_MAX_DATA];
	EXPECT_RC(s_read(t, &t->b, rb[0], buf, 256), NC2_OK);
	for (uint32_t i = 0; i < 256; i++)
		REQUIRE(buf[i] == 0);
	fill(buf, sz, 31);
	EXPECT_RC(s_write(t, &t->a, ra[1], buf, sz), NC2_OK);
	EXPECT_RC(s_read(t, &t->b, rb[1], buf, sz), NC2_OK);
	REQUIRE(check(buf, sz, 31) < 0);
	fill(buf, sz, 32);
	EXPECT_RC(s_write(t, &t->b, rb[2], buf, sz), NC2_OK);
	EXPECT_RC(s_read(t, &t->a, ra[2], buf, sz), NC2_OK);
	REQUIRE(check(buf, sz, 32) < 0);
	/* Leave the control block as the protocol expects it. */
	memset(buf, 0, 256);
	EXPECT_RC(s_write(t, &t->a, ra[0], buf, 256), NC2_OK);
	return NC2_CONF_PASS;
}

/* Wait until \p s's notify reports the peer gone. */
static enum nc2_conf_result wait_gone(T *t, nc2_conf_side *s, int line)
{
	int rc = NC2_OK;
	for (int i = 0; i < 300; i++) {
		rc = s_simple(t, s, NC2_CONF_NOTIFY);
		if (rc == NC2_ERR_PEER_GONE)
			return NC2_CONF_PASS;
		if (rc != NC2_OK)
			break;
		(void)s_wait(t, s, 10);
	}
	return failf(t, line, "notify = %d (%s) after the peer went, want PEER_GONE", rc,
		     nc2_strerror(rc));
}

/* Orderly teardown of the mapping end: the granting end sees the peer
 * gone and can revoke everything. */
static enum nc2_conf_result t_peer_teardown(T *t)
{
	uint64_t a;
	uint32_t g;
	nc2_map_op m;
	EXPECT_RC(grant_pages(t, 1, 0, 15, &a, &g), NC2_OK);
	map_ops(&m, &g, 1, 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	(void)s_wait(t, &t->a, 0);
	int leaks = s_close(t, &t->b, 0);
	if (leaks != 0)
		return failf(t, __LINE__, "closing the mapping end reported %d", leaks);
	if (t->env->caps & NC2_CONF_CAP_GONE_EVENT) {
		int n = s_wait(t, &t->a, 2000);
		if (n < 1)
			return failf(t, __LINE__, "no event on peer teardown (%d)", n);
	}
	enum nc2_conf_result res = wait_gone(t, &t->a, __LINE__);
	if (res != NC2_CONF_PASS)
		return res;
	EXPECT_RC(s_revoke(t, &t->a, g), NC2_OK);
	return NC2_CONF_PASS;
}

/* The mapping end dies holding a writable mapping: the granting end is
 * told, and the mapping is gone (revoke succeeds). */
static enum nc2_conf_result t_peer_crash(T *t)
{
	NEED(NC2_CONF_CAP_CRASH, "an endpoint cannot die on its own");
	uint64_t a;
	uint32_t g[2];
	nc2_map_op m[2];
	EXPECT_RC(grant_pages(t, 2, 0, 16, &a, g), NC2_OK);
	map_ops(m, g, 2, 0);
	EXPECT_RC(s_map(t, &t->b, m, 2, 0), NC2_OK);
	(void)s_wait(t, &t->a, 0);
	(void)s_close(t, &t->b, 1);
	if (t->env->caps & NC2_CONF_CAP_GONE_EVENT) {
		int n = s_wait(t, &t->a, 2000);
		if (n < 1)
			return failf(t, __LINE__, "no event when the peer died (%d)", n);
	}
	enum nc2_conf_result res = wait_gone(t, &t->a, __LINE__);
	if (res != NC2_CONF_PASS)
		return res;
	EXPECT_RC(revoke_retry(t, g[0]), NC2_OK);
	EXPECT_RC(revoke_retry(t, g[1]), NC2_OK);
	return NC2_CONF_PASS;
}

/* The granting end dies while the peer maps one of its pages: the mapping
 * end is told, its mapping stays valid (the hypervisor keeps the page) and
 * unmaps cleanly. */
static enum nc2_conf_result t_granter_crash(T *t)
{
	NEED(NC2_CONF_CAP_CRASH_A, "the granting end cannot die on its own");
	uint64_t a;
	uint32_t g;
	uint8_t buf[PG];
	nc2_map_op m;
	EXPECT_RC(grant_pages(t, 1, 0, 17, &a, &g), NC2_OK);
	map_ops(&m, &g, 1, 0);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 0), NC2_OK);
	(void)s_wait(t, &t->b, 0);
	(void)s_close(t, &t->a, 1);
	if (t->env->caps & NC2_CONF_CAP_GONE_EVENT) {
		int n = s_wait(t, &t->b, 2000);
		if (n < 1)
			return failf(t, __LINE__, "no event when the granting end died (%d)", n);
	}
	enum nc2_conf_result res = wait_gone(t, &t->b, __LINE__);
	if (res != NC2_CONF_PASS)
		return res;
	EXPECT_RC(s_read(t, &t->b, (uint64_t)(uintptr_t)m.addr, buf, PG), NC2_OK);
	REQUIRE(check(buf, PG, 17) < 0);
	fill(buf, 64, 5);
	EXPECT_RC(s_write(t, &t->b, (uint64_t)(uintptr_t)m.addr, buf, 64), NC2_OK);
	EXPECT_RC(s_map(t, &t->b, &m, 1, 1), NC2_OK);
	return NC2_CONF_PASS;
}

typedef enum nc2_conf_result (*test_fn)(T *t);

static const struct {
	const char *name;
	test_fn fn;
} tests[] = {
    {"grant_map_rw", t_grant_map_rw},
    {"grant_args", t_grant_args},
    {"revoke_unknown", t_revoke_unknown},
    {"revoke_busy", t_revoke_busy},
    {"revoke_enforced", t_revoke_enforced},
    {"end_access", t_end_access},
    {"end_access_busy", t_end_access_busy},
    {"map_batch", t_map_batch},
    {"map_batch_partial", t_map_batch_partial},
    {"unmap_subset", t_unmap_subset},
    {"unmap_invalid", t_unmap_invalid},
    {"map_flags_invalid", t_map_flags_invalid},
    {"readonly_map", t_readonly_map},
    {"readonly_copy", t_readonly_copy},
    {"copy_from_peer", t_copy_from_peer},
    {"copy_to_peer", t_copy_to_peer},
    {"copy_bounds", t_copy_bounds},
    {"copy_bad_gref", t_copy_bad_gref},
    {"copy_grant_to_grant", t_copy_grant_to_grant},
    {"notify", t_notify},
    {"poll_fd", t_poll_fd},
    {"peer_id", t_peer_id},
    {"sticky_double_map", t_sticky_double_map},
    {"grant_twice", t_grant_twice},
    {"many_pages", t_many_pages},
    {"ring_shared", t_ring_shared},
    {"peer_teardown", t_peer_teardown},
    {"peer_crash", t_peer_crash},
    {"granter_crash", t_granter_crash},
};

size_t nc2_conf_count(void)
{
	return sizeof(tests) / sizeof(tests[0]);
}

const char *nc2_conf_name(size_t i)
{
	return i < nc2_conf_count() ? tests[i].name : NULL;
}

enum nc2_conf_result nc2_conf_run(const nc2_conf_env *env, size_t i, char *msg, size_t cap)
{
	char dummy[8];
	if (msg == NULL || cap == 0) {
		msg = dummy;
		cap = sizeof(dummy);
	}
	msg[0] = '\0';
	if (i >= nc2_conf_count()) {
		snprintf(msg, cap, "no test %zu", i);
		return NC2_CONF_FAIL;
	}
	T t;
	memset(&t, 0, sizeof(t));
	t.env = env;
	t.msg = msg;
	t.cap = cap;
	t.r = calloc(1, sizeof(*t.r));
	if (t.r == NULL) {
		snprintf(msg, cap, "out of memory");
		return NC2_CONF_FAIL;
	}
	int rc = env->open(env->user, &t.a, &t.b, &t.a_dom, &t.b_dom);
	if (rc != NC2_OK) {
		snprintf(msg, cap, "opening the pair: %d (%s)", rc, nc2_strerror(rc));
		free(t.r);
		return NC2_CONF_FAIL;
	}
	enum nc2_conf_result res = tests[i].fn(&t);
	int leaks = env->close(env->user, &t.a, &t.b, t.a_closed | (t.b_closed << 1));
	if (res != NC2_CONF_FAIL && leaks != 0) {
		snprintf(msg, cap, "closing the pair reported %d (leaked grants or maps, or error)",
			 leaks);
		res = NC2_CONF_FAIL;
	}
	free(t.r);
	return res;
}

int nc2_conf_run_all(const nc2_conf_env *env, const char *filter)
{
	unsigned pass = 0, fail = 0, skipped = 0;
	for (size_t i = 0; i < nc2_conf_count(); i++) {
		if (filter != NULL && strstr(tests[i].name, filter) == NULL)
			continue;
		char msg[256];
		enum nc2_conf_result r = nc2_conf_run(env, i, msg, sizeof(msg));
		const char *word = r == NC2_CONF_PASS   ? "PASS"
				   : r == NC2_CONF_SKIP ? "SKIP"
							: "FAIL";
		printf("CONF %s: %s %s%s%s\n", env->name, word, tests[i].name, msg[0] ? ": " : "",
		       msg);
		fflush(stdout);
		if (r == NC2_CONF_PASS)
			pass++;
		else if (r == NC2_CONF_SKIP)
			skipped++;
		else
			fail++;
	}
	printf("conformance-%s: %u passed, %u failed, %u skipped\n", env->name, pass, fail,
	       skipped);
	fflush(stdout);
	return (int)fail;
}
