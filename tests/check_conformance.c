/* SPDX-License-Identifier: MIT */
/*
 * The transport conformance suite (conformance.c) bound to the loopback
 * transport: each conformance test is one Check test over a fresh world
 * with a frontend domain (A, grants) and a backend domain (B, maps).
 *
 * tests/CMakeLists.txt builds every check_*.c as a single source, so the
 * suite is compiled in here; other bindings link conformance.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <nc2/loopback.h>

#include "conformance.c"

#define LO_PAGES  256u
#define LO_GRANTS 512u
#define LO_ORDER  12u
#define LO_RING   3u /* control page + one page per ring at order 12 */

struct lo_end {
	struct lo_pair *p;
	nc2_transport t;
	uint16_t dom;
	uint32_t next_page;
	nc2_ring_mem view;
	int closed;
};

struct lo_pair {
	nc2_lo_world *w;
	struct lo_end a, b;
	nc2_conf_hooks ha, hb;
};

static int lo_alloc(void *user, uint32_t pages, void **addr)
{
	struct lo_end *e = user;
	size_t len;
	uint8_t *ram = nc2_lo_domain_mem(e->p->w, e->dom, &len);
	if (pages == 0 || e->next_page + pages > len / 4096u)
		return NC2_ERR_NOSPACE;
	*addr = ram + (size_t)e->next_page * 4096u;
	memset(*addr, 0, (size_t)pages * 4096u);
	e->next_page += pages;
	return NC2_OK;
}

static int lo_wait(void *user, int timeout_ms)
{
	struct lo_end *e = user;
	(void)timeout_ms; /* delivery is synchronous: nothing more will come */
	uint32_t n = nc2_lo_events_take(&e->t);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int lo_ring(void *user, nc2_ring_mem *view)
{
	struct lo_end *e = user;
	*view = e->view;
	return NC2_OK;
}

/* Grants (A) or maps (B) the endpoint still holds beyond the ring's. */
static int lo_held(struct lo_end *e)
{
	if (e == &e->p->a)
		return (int)nc2_lo_grants_active(e->p->w, e->dom) - (int)LO_RING;
	return (int)nc2_lo_maps_active(e->p->w, e->dom) - (int)LO_RING;
}

static int lo_close(void *user, int crash)
{
	struct lo_end *e = user;
	if (crash)
		return NC2_ERR_UNSUPPORTED;
	int held = lo_held(e);
	nc2_lo_transport_close(&e->t);
	e->closed = 1;
	return held;
}

static struct lo_pair pair;

static int lo_open(void *user, nc2_conf_side *a, nc2_conf_side *b, uint32_t *a_dom, uint32_t *b_dom)
{
	struct lo_pair *p = user;
	int rc;
	memset(p, 0, sizeof(*p));
	p->w = nc2_lo_world_create(2, 7);
	if (p->w == NULL)
		return NC2_ERR_NOSPACE;
	p->a.p = p->b.p = p;
	if ((rc = nc2_lo_domain_create(p->w, LO_PAGES, LO_GRANTS, &p->a.dom)) < 0 ||
	    (rc = nc2_lo_domain_create(p->w, LO_PAGES, LO_GRANTS, &p->b.dom)) < 0 ||
	    (rc = nc2_lo_transport_open(p->w, p->a.dom, p->b.dom, &p->a.t)) < 0 ||
	    (rc = nc2_lo_transport_open(p->w, p->b.dom, p->a.dom, &p->b.t)) < 0 ||
	    (rc = nc2_lo_ring_setup(p->w, p->a.dom, p->b.dom, 0, LO_ORDER, &p->a.view,
				    &p->b.view)) < 0) {
		nc2_lo_world_destroy(p->w);
		return rc;
	}
	p->a.next_page = LO_RING;
	struct lo_end *ends[2] = {&p->a, &p->b};
	nc2_conf_hooks *hooks[2] = {&p->ha, &p->hb};
	for (int i = 0; i < 2; i++) {
		*hooks[i] = (nc2_conf_hooks){.t = &ends[i]->t,
					     .user = ends[i],
					     .alloc = lo_alloc,
					     .wait = lo_wait,
					     .ring = lo_ring,
					     .close = lo_close};
	}
	nc2_conf_local_side(a, &p->ha);
	nc2_conf_local_side(b, &p->hb);
	*a_dom = p->a.dom;
	*b_dom = p->b.dom;
	return NC2_OK;
}

static int lo_close_pair(void *user, nc2_conf_side *a, nc2_conf_side *b, int closed)
{
	struct lo_pair *p = user;
	(void)a;
	(void)b;
	(void)closed;
	if (!p->b.closed)
		nc2_lo_transport_close(&p->b.t);
	if (!p->a.closed)
		nc2_lo_transport_close(&p->a.t);
	int rc = nc2_lo_ring_teardown(p->w, p->a.dom, p->b.dom, 0, LO_ORDER);
	int leaks = nc2_lo_world_destroy(p->w);
	return rc < 0 ? rc : leaks;
}

static const nc2_conf_env lo_env = {
    .name = "loopback",
    .caps = NC2_CONF_CAP_REVOKE_BUSY | NC2_CONF_CAP_REVOKE_ENFORCED | NC2_CONF_CAP_READONLY |
	    NC2_CONF_CAP_GRANT_COPY,
    .user = &pair,
    .open = lo_open,
    .close = lo_close_pair,
    .why_not = "loopback has no fd and no process to kill",
};

/* What loopback cannot do, and so must report as skipped. */
static int expected_skip(const char *name)
{
	return strcmp(name, "poll_fd") == 0 || strcmp(name, "peer_crash") == 0 ||
	       strcmp(name, "granter_crash") == 0;
}

START_TEST(test_conformance)
{
	char msg[256];
	const char *name = nc2_conf_name((size_t)_i);
	enum nc2_conf_result r = nc2_conf_run(&lo_env, (size_t)_i, msg, sizeof(msg));
	if (r == NC2_CONF_FAIL)
		ck_abort_msg("conformance %s: %s", name, msg);
	if (r == NC2_CONF_SKIP) {
		printf("conformance loopback: SKIP %s: %s\n", name, msg);
		ck_assert_msg(expected_skip(name), "%s skipped unexpectedly: %s", name, msg);
	} else {
		ck_assert_msg(!expected_skip(name), "%s passed but should skip", name);
	}
}
END_TEST

START_TEST(test_names_unique)
{
	size_t n = nc2_conf_count();
	ck_assert_uint_ge(n, 20);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(nc2_conf_name(i), nc2_conf_name(j));
	ck_assert_ptr_null(nc2_conf_name(n));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conformance");
	TCase *tc = tcase_create("loopback");
	tcase_add_loop_test(tc, test_conformance, 0, (int)nc2_conf_count());
	tcase_add_test(tc, test_names_unique);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
