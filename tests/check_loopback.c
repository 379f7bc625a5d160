/* SPDX-License-Identifier: MIT */
/* Loopback transport: grant table and event channel model, faults, rings. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <nc2/loopback.h>
#include <nc2/ring.h>
#include <nc2/transport.h>
#include <nc2/version.h>

#include "testutil.h"

#define PG 4096u

/* Three domains a, b, c (domids 0, 1, 2); ta: a -> b, tb: b -> a. */
typedef struct fx {
	nc2_lo_world *w;
	uint16_t a, b, c;
	uint8_t *ram_a, *ram_b, *ram_c;
	size_t len_a;
	nc2_transport ta, tb;
} fx;

static void fx_init(fx *f, uint32_t pages, uint32_t grants)
{
	memset(f, 0, sizeof(*f));
	f->w = nc2_lo_world_create(8, 42);
	ck_assert_ptr_nonnull(f->w);
	ck_assert_int_eq(nc2_lo_domain_create(f->w, pages, grants, &f->a), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(f->w, pages, grants, &f->b), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(f->w, pages, grants, &f->c), NC2_OK);
	f->ram_a = nc2_lo_domain_mem(f->w, f->a, &f->len_a);
	f->ram_b = nc2_lo_domain_mem(f->w, f->b, NULL);
	f->ram_c = nc2_lo_domain_mem(f->w, f->c, NULL);
	ck_assert_int_eq(nc2_lo_transport_open(f->w, f->a, f->b, &f->ta), NC2_OK);
	ck_assert_int_eq(nc2_lo_transport_open(f->w, f->b, f->a, &f->tb), NC2_OK);
}

/* Close both endpoints and destroy the world; returns the leak count. */
static int fx_fini(fx *f)
{
	nc2_lo_transport_close(&f->ta);
	nc2_lo_transport_close(&f->tb);
	return nc2_lo_world_destroy(f->w);
}

static int map1(nc2_transport *t, uint32_t gref, uint32_t flags, nc2_map_op *op)
{
	memset(op, 0, sizeof(*op));
	op->gref = gref;
	op->flags = flags;
	int rc = nc2_tp_map(t, op, 1);
	ck_assert_int_eq(rc, op->status);
	return rc;
}

static int unmap1(nc2_transport *t, nc2_map_op *op)
{
	int rc = nc2_tp_unmap(t, op, 1);
	ck_assert_int_eq(rc, op->status);
	return rc;
}

static nc2_copy_op cop_local_to_gref(void *src, uint32_t gref, uint16_t off, uint16_t len)
{
	nc2_copy_op c;
	memset(&c, 0, sizeof(c));
	c.src.local = src;
	c.dst.gref = gref;
	c.dst.offset = off;
	c.len = len;
	return c;
}

static nc2_copy_op cop_gref_to_local(uint32_t gref, uint16_t off, void *dst, uint16_t len)
{
	nc2_copy_op c;
	memset(&c, 0, sizeof(c));
	c.src.gref = gref;
	c.src.offset = off;
	c.dst.local = dst;
	c.len = len;
	return c;
}

static void info(fx *f, uint16_t dom, uint32_t gref, nc2_lo_grant_info *gi)
{
	ck_assert_int_eq(nc2_lo_grant_info_get(f->w, dom, gref, gi), NC2_OK);
}

/* ---- world, domains, endpoints ------------------------------------------ */

START_TEST(test_world_domains)
{
	ck_assert_ptr_null(nc2_lo_world_create(0, 1));
	nc2_lo_world *w = nc2_lo_world_create(2, 1);
	ck_assert_ptr_nonnull(w);
	uint16_t d0 = 99, d1 = 99, d2 = 99;
	ck_assert_int_eq(nc2_lo_domain_create(w, 0, 4, &d0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_domain_create(w, 4, 0, &d0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_domain_create(w, 4, 4, NULL), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_domain_create(w, 3, 4, &d0), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(w, 5, 4, &d1), NC2_OK);
	ck_assert_uint_eq(d0, 0);
	ck_assert_uint_eq(d1, 1);
	ck_assert_int_eq(nc2_lo_domain_create(w, 1, 1, &d2), NC2_ERR_NOSPACE);
	ck_assert_uint_eq(d2, 99);

	size_t len = 1;
	uint8_t *m0 = nc2_lo_domain_mem(w, d0, &len);
	ck_assert_ptr_nonnull(m0);
	ck_assert_uint_eq(len, 3 * PG);
	ck_assert_uint_eq((uintptr_t)m0 % PG, 0);
	for (size_t i = 0; i < len; i++)
		ck_assert_uint_eq(m0[i], 0);
	uint8_t *m1 = nc2_lo_domain_mem(w, d1, &len);
	ck_assert_uint_eq(len, 5 * PG);
	ck_assert_ptr_ne(m0, m1);
	ck_assert_ptr_null(nc2_lo_domain_mem(w, 2, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(nc2_lo_grants_active(w, d0), 0);
	ck_assert_uint_eq(nc2_lo_maps_active(w, d1), 0);
	ck_assert_uint_eq(nc2_lo_grants_active(w, 7), 0);
	ck_assert_int_eq(nc2_lo_world_destroy(w), 0);
	ck_assert_int_eq(nc2_lo_world_destroy(NULL), 0);
}
END_TEST

START_TEST(test_open_ops)
{
	fx f;
	fx_init(&f, 4, 8);
	const nc2_transport_ops *ops = f.ta.ops;
	ck_assert_ptr_nonnull(ops);
	ck_assert_uint_eq(ops->version, NC2_TRANSPORT_OPS_VERSION);
	ck_assert_uint_eq(ops->size, sizeof(nc2_transport_ops));
	ck_assert_int_eq(nc2_transport_check(&f.ta), NC2_OK);
	ck_assert_ptr_nonnull(ops->copy);
	ck_assert_ptr_null(ops->poll_fd);
	ck_assert_int_eq(nc2_tp_poll_fd(&f.ta), NC2_ERR_UNSUPPORTED);

	nc2_peer_id id;
	memset(&id, 0xa5, sizeof(id));
	ck_assert_int_eq(nc2_tp_peer(&f.ta, &id), NC2_OK);
	ck_assert_uint_eq(id.domid, f.b);
	for (size_t i = 0; i < sizeof(id.uuid); i++)
		ck_assert_uint_eq(id.uuid[i], 0);
	ck_assert_int_eq(nc2_tp_peer(&f.tb, &id), NC2_OK);
	ck_assert_uint_eq(id.domid, f.a);
	ck_assert_int_eq(ops->peer(f.ta.ctx, NULL), NC2_ERR_INVALID_ARG);

	/* open zeroes everything but ops and ctx */
	nc2_transport t;
	memset(&t, 0xff, sizeof(t));
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, f.c, &t), NC2_OK);
	ck_assert_ptr_eq(t.ops, ops);
	ck_assert_ptr_null(t.fault);
	ck_assert_ptr_null(t.fault_user);
	for (int i = 0; i < NC2_TP_NR_OPS; i++)
		ck_assert_uint_eq(t.calls[i], 0);
	nc2_lo_transport_close(&t);
	ck_assert_ptr_null(t.ops);
	ck_assert_ptr_null(t.ctx);
	nc2_lo_transport_close(&t); /* closing twice is harmless */

	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, f.a, &t), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, 7, &t), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_transport_open(f.w, 7, f.a, &t), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_transport_open(NULL, f.a, f.b, &t), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, f.b, NULL), NC2_ERR_INVALID_ARG);

	/* nc2_lo_* calls on a non-loopback transport are refused or ignored */
	nc2_transport other;
	memset(&other, 0, sizeof(other));
	uint32_t gref = 0;
	ck_assert_int_eq(nc2_lo_grant_transitive(&other, f.c, 1, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_uint_eq(nc2_lo_events_take(&other), 0);
	ck_assert_uint_eq(nc2_lo_release_notify(&other), 0);
	nc2_lo_fail_nth(&other, NC2_TP_MAP, 1, NC2_ERR_TRANSPORT);
	nc2_lo_drop_notify(&other, 1);
	nc2_lo_delay_notify(&other, 1);
	nc2_lo_transport_close(&other);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

/* ---- grant / map / unmap / revoke ---------------------------------------- */

START_TEST(test_grant_lifecycle)
{
	fx f;
	fx_init(&f, 4, 8);
	uint8_t *page = f.ram_a + 2 * PG;
	uint32_t gref = 0;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, page, 0, &gref), NC2_OK);
	ck_assert_uint_ne(gref, 0);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 1);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.b), 0);
	nc2_lo_grant_info gi;
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.flags, 0);
	ck_assert_uint_eq(gi.to, f.b);
	ck_assert_uint_eq(gi.map_ro + gi.map_rw, 0);

	nc2_map_op m;
	ck_assert_int_eq(map1(&f.tb, gref, 0, &m), NC2_OK);
	ck_assert_ptr_eq(m.addr, page); /* same process: the page itself */
	ck_assert_uint_ne(m.handle, 0);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 1);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.a), 0);
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_rw, 1);
	ck_assert_uint_eq(gi.map_ro, 0);
	((uint8_t *)m.addr)[17] = 0x5a;
	ck_assert_uint_eq(page[17], 0x5a);

	/* revoke refused while mapped, like gnttab_end_foreign_access */
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_ERR_AGAIN);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 1);
	/* only the granter can revoke, through its endpoint toward the grantee */
	ck_assert_int_eq(nc2_tp_revoke(&f.tb, gref), NC2_ERR_NOT_FOUND);

	ck_assert_int_eq(unmap1(&f.tb, &m), NC2_OK);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_rw, 0);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_OK);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 0);
	ck_assert_int_eq(nc2_lo_grant_info_get(f.w, f.a, gref, &gi), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_lo_grant_info_get(f.w, f.a, gref, NULL), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, 0), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, 12345), NC2_ERR_NOT_FOUND);

	/* a revoked grant cannot be mapped */
	ck_assert_int_eq(map1(&f.tb, gref, 0, &m), NC2_ERR_PEER_GRANT);
	ck_assert_ptr_null(m.addr);
	ck_assert_uint_eq(m.handle, 0);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_multiple_maps)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t gref;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &gref), NC2_OK);
	nc2_map_op m[3];
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++)
		m[i].gref = gref;
	m[2].flags = NC2_GNT_READONLY;
	ck_assert_int_eq(nc2_tp_map(&f.tb, m, 3), NC2_OK);
	ck_assert_uint_ne(m[0].handle, m[1].handle);
	ck_assert_uint_ne(m[1].handle, m[2].handle);
	ck_assert_uint_ne(m[0].handle, m[2].handle);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(m[i].status, NC2_OK);
		ck_assert_ptr_eq(m[i].addr, f.ram_a);
	}
	nc2_lo_grant_info gi;
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_rw, 2);
	ck_assert_uint_eq(gi.map_ro, 1);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 3);

	ck_assert_int_eq(unmap1(&f.tb, &m[0]), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_ERR_AGAIN);
	ck_assert_int_eq(unmap1(&f.tb, &m[2]), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_ERR_AGAIN);
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_rw, 1);
	ck_assert_uint_eq(gi.map_ro, 0);
	ck_assert_int_eq(unmap1(&f.tb, &m[1]), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_gref_allocation)
{
	fx f;
	fx_init(&f, 8, 6);
	uint32_t g[6];
	for (uint32_t i = 0; i < 6; i++) {
		ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + (i % 8) * PG, 0, &g[i]), NC2_OK);
		ck_assert_uint_ne(g[i], 0); /* ref 0 is never handed out */
		ck_assert_uint_le(g[i], 6);
		for (uint32_t j = 0; j < i; j++)
			ck_assert_uint_ne(g[i], g[j]);
	}
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 6);
	/* the table is full */
	uint32_t x = 777;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &x), NC2_ERR_NOSPACE);
	ck_assert_uint_eq(x, 777);
	ck_assert_int_eq(nc2_lo_grant_transitive(&f.ta, f.c, 1, &x), NC2_ERR_NOT_FOUND);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 6);
	/* the same page may be granted twice; b's table is separate */
	uint32_t gb;
	ck_assert_int_eq(nc2_tp_grant(&f.tb, f.ram_b, 0, &gb), NC2_OK);
	/* a freed entry is reused */
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[3]), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &x), NC2_OK);
	ck_assert_uint_eq(x, g[3]);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &x), NC2_ERR_NOSPACE);
	for (uint32_t i = 0; i < 6; i++)
		ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[i]), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.tb, gb), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_grant_bad_args)
{
	fx f;
	fx_init(&f, 4, 8);
	static uint8_t outside[2 * 4096];
	uint8_t *stack_page = (uint8_t *)(((uintptr_t)outside + PG - 1) & ~(uintptr_t)(PG - 1));
	uint32_t gref = 555;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + 1, 0, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + PG + 2048, 0, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + f.len_a, 0, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a - PG, 0, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_b, 0, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, stack_page, 0, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, NULL, 0, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, NULL), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 1u << 2, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0x80000000u, &gref), NC2_ERR_INVALID_ARG);
	ck_assert_uint_eq(gref, 555);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 0);
	/* the last page is fine */
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + f.len_a - PG, 0, &gref), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_sticky_readonly_flags)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t g1, g2;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, NC2_GNT_STICKY, &g1), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + PG, NC2_GNT_STICKY | NC2_GNT_READONLY, &g2),
			 NC2_OK);
	nc2_lo_grant_info gi;
	info(&f, f.a, g1, &gi);
	ck_assert_uint_eq(gi.flags, NC2_GNT_STICKY);
	info(&f, f.a, g2, &gi);
	ck_assert_uint_eq(gi.flags, NC2_GNT_STICKY | NC2_GNT_READONLY);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g1), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g2), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_readonly_grant)
{
	fx f;
	fx_init(&f, 4, 8);
	uint8_t *page = f.ram_a + PG;
	memset(page, 0x11, PG);
	uint32_t gref;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, page, NC2_GNT_READONLY, &gref), NC2_OK);

	nc2_map_op m;
	ck_assert_int_eq(map1(&f.tb, gref, 0, &m), NC2_ERR_PEER_GRANT);
	ck_assert_ptr_null(m.addr);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	nc2_lo_grant_info gi;
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_ro + gi.map_rw, 0);

	ck_assert_int_eq(map1(&f.tb, gref, NC2_GNT_READONLY, &m), NC2_OK);
	ck_assert_ptr_eq(m.addr, page);
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_ro, 1);
	ck_assert_uint_eq(gi.map_rw, 0);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_ERR_AGAIN);
	ck_assert_int_eq(unmap1(&f.tb, &m), NC2_OK);

	/* copy into a read-only grant is refused; copy out of it works */
	uint8_t buf[64];
	memset(buf, 0x22, sizeof(buf));
	nc2_copy_op c = cop_local_to_gref(buf, gref, 100, sizeof(buf));
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(c.status, NC2_ERR_PEER_GRANT);
	ck_assert_uint_eq(page[100], 0x11);
	c = cop_gref_to_local(gref, 100, buf, sizeof(buf));
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	ck_assert_int_eq(c.status, NC2_OK);
	ck_assert_uint_eq(buf[0], 0x11);
	ck_assert_uint_eq(buf[63], 0x11);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_map_permissions)
{
	fx f;
	fx_init(&f, 4, 8);
	nc2_transport tac, tca;
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, f.c, &tac), NC2_OK);
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.c, f.a, &tca), NC2_OK);
	uint32_t to_c;
	ck_assert_int_eq(nc2_tp_grant(&tac, f.ram_a, 0, &to_c), NC2_OK);
	nc2_map_op m;
	/* b may not map a grant a gave to c */
	ck_assert_int_eq(map1(&f.tb, to_c, 0, &m), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(map1(&f.tb, to_c, NC2_GNT_READONLY, &m), NC2_ERR_PEER_GRANT);
	/* nor revoke it through the a -> b endpoint */
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, to_c), NC2_ERR_NOT_FOUND);
	/* unknown refs */
	ck_assert_int_eq(map1(&f.tb, 0, 0, &m), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(map1(&f.tb, 9, 0, &m), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(map1(&f.tb, UINT32_MAX, 0, &m), NC2_ERR_PEER_GRANT);
	/* a grant for b, but from c: tb looks it up in a's table, where the same
	 * ref number is a's grant to c */
	uint32_t c_to_b, gref_ab;
	nc2_transport tcb;
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.c, f.b, &tcb), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&tcb, f.ram_c, 0, &c_to_b), NC2_OK);
	ck_assert_uint_eq(c_to_b, to_c);
	ck_assert_int_eq(map1(&f.tb, c_to_b, 0, &m), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &gref_ab), NC2_OK);
	/* unknown map flags */
	ck_assert_int_eq(map1(&f.tb, gref_ab, 1u << 5, &m), NC2_ERR_INVALID_ARG);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	/* c maps its grant from a */
	ck_assert_int_eq(map1(&tca, to_c, 0, &m), NC2_OK);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.c), 1);
	/* b's endpoint cannot unmap c's mapping */
	ck_assert_int_eq(unmap1(&f.tb, &m), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(unmap1(&tca, &m), NC2_OK);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.c), 0);

	ck_assert_int_eq(nc2_tp_revoke(&tac, to_c), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&tcb, c_to_b), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref_ab), NC2_OK);
	nc2_lo_transport_close(&tac);
	nc2_lo_transport_close(&tca);
	nc2_lo_transport_close(&tcb);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_bogus_unmap)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t gref;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &gref), NC2_OK);
	nc2_map_op m;
	ck_assert_int_eq(map1(&f.tb, gref, 0, &m), NC2_OK);
	nc2_map_op bad = m;

	bad.handle = 0;
	ck_assert_int_eq(unmap1(&f.tb, &bad), NC2_ERR_INVALID_ARG);
	bad.handle = m.handle ^ (1ull << 30); /* wrong generation */
	ck_assert_int_eq(unmap1(&f.tb, &bad), NC2_ERR_INVALID_ARG);
	bad.handle = m.handle ^ (1ull << 47); /* wrong access mode */
	ck_assert_int_eq(unmap1(&f.tb, &bad), NC2_ERR_INVALID_ARG);
	bad.handle = m.handle + 1; /* another slot */
	ck_assert_int_eq(unmap1(&f.tb, &bad), NC2_ERR_INVALID_ARG);
	bad.handle = ~0ull;
	ck_assert_int_eq(unmap1(&f.tb, &bad), NC2_ERR_INVALID_ARG);
	bad = m;
	bad.addr = f.ram_a + PG; /* wrong address */
	ck_assert_int_eq(unmap1(&f.tb, &bad), NC2_ERR_INVALID_ARG);
	bad = m;
	ck_assert_int_eq(unmap1(&f.ta, &bad), NC2_ERR_INVALID_ARG); /* a has no such map */

	nc2_lo_grant_info gi;
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_rw, 1);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 1);

	ck_assert_int_eq(unmap1(&f.tb, &m), NC2_OK);
	/* double unmap */
	ck_assert_int_eq(unmap1(&f.tb, &m), NC2_ERR_INVALID_ARG);
	info(&f, f.a, gref, &gi);
	ck_assert_uint_eq(gi.map_rw, 0);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);

	/* a stale handle stays invalid after the slot and the gref are reused */
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_OK);
	uint32_t gref2;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &gref2), NC2_OK);
	ck_assert_uint_eq(gref2, gref);
	nc2_map_op m2;
	ck_assert_int_eq(map1(&f.tb, gref2, 0, &m2), NC2_OK);
	ck_assert_uint_ne(m2.handle, m.handle);
	ck_assert_int_eq(unmap1(&f.tb, &m), NC2_ERR_INVALID_ARG);
	info(&f, f.a, gref2, &gi);
	ck_assert_uint_eq(gi.map_rw, 1);

	/* a batch with one bad element: the good ones are unmapped */
	nc2_map_op u[2] = {m, m2};
	ck_assert_int_eq(nc2_tp_unmap(&f.tb, u, 2), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(u[0].status, NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(u[1].status, NC2_OK);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref2), NC2_OK);
	ck_assert_int_eq(f.ta.ops->unmap(f.ta.ctx, NULL, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(f.ta.ops->map(f.ta.ctx, NULL, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(f.ta.ops->copy(f.ta.ctx, NULL, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(f.ta.ops->map(f.ta.ctx, NULL, 0), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

/* ---- grant copy --------------------------------------------------------- */

START_TEST(test_copy_bounds)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t gref;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &gref), NC2_OK);
	uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	f.ram_a[PG] = 0xee; /* the next page must stay untouched */
	nc2_copy_op c = cop_local_to_gref(buf, gref, 4095, 2);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(c.status, NC2_ERR_INVALID_ARG);
	ck_assert_uint_eq(f.ram_a[4095], 0);
	ck_assert_uint_eq(f.ram_a[PG], 0xee);
	c = cop_gref_to_local(gref, 4095, buf, 2);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_ERR_INVALID_ARG);
	ck_assert_uint_eq(buf[0], 1);
	c = cop_local_to_gref(buf, gref, 0, 4097 & 0xffff);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_ERR_INVALID_ARG);
	c = cop_local_to_gref(buf, gref, 65535, 1);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_ERR_INVALID_ARG);
	/* up to the last octet is fine */
	c = cop_local_to_gref(buf, gref, 4095, 1);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	ck_assert_uint_eq(f.ram_a[4095], 1);
	c = cop_local_to_gref(buf, gref, 4088, 8);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	ck_assert_uint_eq(f.ram_a[4095], 8);
	ck_assert_uint_eq(f.ram_a[PG], 0xee);
	/* zero length */
	c = cop_local_to_gref(buf, gref, 4096, 0);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gref), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_copy_directions)
{
	fx f;
	fx_init(&f, 4, 8);
	tu_rng rng;
	tu_rng_seed(&rng, 7);
	uint32_t g0, g1;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g0), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + 3 * PG, 0, &g1), NC2_OK);
	uint8_t src[PG], dst[PG];
	tu_fill(&rng, src, sizeof(src));

	/* local -> gref (the source is b's private memory, not its RAM) */
	nc2_copy_op c = cop_local_to_gref(src, g0, 0, (uint16_t)PG);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	TU_ASSERT_BYTES(f.ram_a, src, PG);
	/* gref -> local */
	memset(dst, 0, sizeof(dst));
	c = cop_gref_to_local(g0, 100, dst, 1000);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	TU_ASSERT_BYTES(dst, src + 100, 1000);
	/* gref -> gref */
	memset(&c, 0, sizeof(c));
	c.src.gref = g0;
	c.src.offset = 8;
	c.dst.gref = g1;
	c.dst.offset = 2000;
	c.len = 2096;
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	TU_ASSERT_BYTES(f.ram_a + 3 * PG + 2000, src + 8, 2096);
	/* gref -> same gref, overlapping */
	c.src.gref = g0;
	c.src.offset = 0;
	c.dst.gref = g0;
	c.dst.offset = 1;
	c.len = 100;
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	TU_ASSERT_BYTES(f.ram_a + 1, src, 100);
	/* local -> local */
	memset(&c, 0, sizeof(c));
	c.src.local = src;
	c.dst.local = dst;
	c.len = 16;
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_OK);
	TU_ASSERT_BYTES(dst, src, 16);
	/* copies map nothing */
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	/* a copy by the granter through its own endpoint finds no grant in b */
	c = cop_gref_to_local(g0, 0, dst, 8);
	ck_assert_int_eq(nc2_tp_copy(&f.ta, &c, 1), NC2_ERR_PEER_GRANT);

	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g0), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g1), NC2_OK);
	c = cop_gref_to_local(g0, 0, dst, 8);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, &c, 1), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_copy_batch_status)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t g;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g), NC2_OK);
	uint8_t s[3][8] = {{1}, {2}, {3}};
	nc2_copy_op c[3] = {cop_local_to_gref(s[0], g, 0, 8), cop_local_to_gref(s[1], 7, 8, 8),
			    cop_local_to_gref(s[2], g, 16, 8)};
	for (int i = 0; i < 3; i++)
		c[i].status = 12345;
	ck_assert_int_eq(nc2_tp_copy(&f.tb, c, 3), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(c[0].status, NC2_OK);
	ck_assert_int_eq(c[1].status, NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(c[2].status, NC2_OK);
	ck_assert_uint_eq(f.ram_a[0], 1);
	ck_assert_uint_eq(f.ram_a[8], 0);
	ck_assert_uint_eq(f.ram_a[16], 3);
	/* the first error is returned */
	c[0].dst.offset = 4090;
	ck_assert_int_eq(nc2_tp_copy(&f.tb, c, 3), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(c[0].status, NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(c[1].status, NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(c[2].status, NC2_OK);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, c, 0), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

/* Without a copy op the core maps, copies and unmaps: same result. */
START_TEST(test_copy_fallback)
{
	fx f;
	fx_init(&f, 4, 8);
	nc2_transport_ops nocopy = *f.tb.ops;
	nocopy.copy = NULL;
	nc2_transport t = f.tb;
	t.ops = &nocopy;
	uint32_t g, gro;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + PG, NC2_GNT_READONLY, &gro), NC2_OK);
	f.ram_a[PG + 5] = 0x77;
	uint8_t in[32], out[32];
	for (int i = 0; i < 32; i++)
		in[i] = (uint8_t)(i + 1);
	nc2_copy_op c[2] = {cop_local_to_gref(in, g, 4064, 32), cop_gref_to_local(gro, 5, out, 1)};
	ck_assert_int_eq(nc2_tp_copy(&t, c, 2), NC2_OK);
	TU_ASSERT_BYTES(f.ram_a + 4064, in, 32);
	ck_assert_uint_eq(out[0], 0x77);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	/* writing into the read-only grant fails at the map */
	c[0] = cop_local_to_gref(in, gro, 0, 1);
	ck_assert_int_eq(nc2_tp_copy(&t, c, 1), NC2_ERR_PEER_GRANT);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, gro), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

/* ---- transitive grants --------------------------------------------------- */

START_TEST(test_transitive)
{
	fx f;
	fx_init(&f, 4, 8);
	/* a grants a page to b; b passes access on to c transitively */
	nc2_transport tbc, tcb;
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.b, f.c, &tbc), NC2_OK);
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.c, f.b, &tcb), NC2_OK);
	uint32_t src, src_ro, tg, tg_ro;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + PG, 0, &src), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + 2 * PG, NC2_GNT_READONLY, &src_ro), NC2_OK);
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, f.a, src, &tg), NC2_OK);
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, f.a, src_ro, &tg_ro), NC2_OK);
	ck_assert_uint_ne(tg, 0);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.b), 2);
	nc2_lo_grant_info gi;
	info(&f, f.b, tg, &gi);
	ck_assert_uint_eq(gi.flags, NC2_LO_GNT_TRANSITIVE);
	ck_assert_uint_eq(gi.to, f.c);

	/* c copies through it, both ways */
	uint8_t buf[16];
	memset(buf, 0x3c, sizeof(buf));
	nc2_copy_op c = cop_local_to_gref(buf, tg, 10, sizeof(buf));
	ck_assert_int_eq(nc2_tp_copy(&tcb, &c, 1), NC2_OK);
	ck_assert_uint_eq(f.ram_a[PG + 10], 0x3c);
	ck_assert_uint_eq(f.ram_a[PG + 25], 0x3c);
	f.ram_a[2 * PG + 3] = 0x99;
	memset(buf, 0, sizeof(buf));
	c = cop_gref_to_local(tg_ro, 3, buf, 1);
	ck_assert_int_eq(nc2_tp_copy(&tcb, &c, 1), NC2_OK);
	ck_assert_uint_eq(buf[0], 0x99);
	/* the source's read-only flag holds through the transitive grant */
	c = cop_local_to_gref(buf, tg_ro, 0, 1);
	ck_assert_int_eq(nc2_tp_copy(&tcb, &c, 1), NC2_ERR_PEER_GRANT);
	/* a transitive grant cannot be mapped */
	nc2_map_op m;
	ck_assert_int_eq(map1(&tcb, tg, 0, &m), NC2_ERR_PEER_GRANT);
	ck_assert_int_eq(map1(&tcb, tg, NC2_GNT_READONLY, &m), NC2_ERR_PEER_GRANT);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.c), 0);
	/* a cannot use b's transitive grant to c */
	c = cop_gref_to_local(tg, 0, buf, 1);
	ck_assert_int_eq(nc2_tp_copy(&f.ta, &c, 1), NC2_ERR_PEER_GRANT);

	/* the intermediate must hold a grant from the source */
	uint32_t x = 4242;
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, f.a, 7, &x), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, f.a, 0, &x), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, 9, src, &x), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, f.b, tg, &x), NC2_ERR_NOT_FOUND);
	nc2_transport tac;
	uint32_t to_c;
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, f.c, &tac), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&tac, f.ram_a, 0, &to_c), NC2_OK);
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, f.a, to_c, &x), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_lo_grant_transitive(&tbc, f.a, src, NULL), NC2_ERR_INVALID_ARG);
	ck_assert_uint_eq(x, 4242);

	/* a chain: c passes b's transitive grant on to a (depth 2) */
	nc2_transport tca;
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.c, f.a, &tca), NC2_OK);
	uint32_t tg2;
	ck_assert_int_eq(nc2_lo_grant_transitive(&tca, f.b, tg, &tg2), NC2_OK);
	c = cop_gref_to_local(tg2, 12, buf, 2);
	ck_assert_int_eq(nc2_tp_copy(&tac, &c, 1), NC2_OK);
	ck_assert_uint_eq(buf[0], 0x3c);

	/* the source may be revoked; then copies through it fail */
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, src), NC2_OK);
	c = cop_gref_to_local(tg, 0, buf, 1);
	ck_assert_int_eq(nc2_tp_copy(&tcb, &c, 1), NC2_ERR_PEER_GRANT);
	c = cop_gref_to_local(tg2, 0, buf, 1);
	ck_assert_int_eq(nc2_tp_copy(&tac, &c, 1), NC2_ERR_PEER_GRANT);

	ck_assert_int_eq(nc2_tp_revoke(&tca, tg2), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&tbc, tg), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&tbc, tg_ro), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, src_ro), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&tac, to_c), NC2_OK);
	nc2_lo_transport_close(&tbc);
	nc2_lo_transport_close(&tcb);
	nc2_lo_transport_close(&tac);
	nc2_lo_transport_close(&tca);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

/* ---- notifications ------------------------------------------------------ */

START_TEST(test_notify)
{
	fx f;
	fx_init(&f, 4, 8);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 0);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.ta), 0);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 2);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 0);
	ck_assert_int_eq(nc2_tp_notify(&f.tb), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.ta), 1);

	/* dropped */
	nc2_lo_drop_notify(&f.ta, 2);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 1);

	/* delayed, then released */
	nc2_lo_delay_notify(&f.ta, 1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 0);
	ck_assert_int_eq(nc2_tp_notify(&f.tb), NC2_OK); /* the other way is not held */
	ck_assert_uint_eq(nc2_lo_events_take(&f.ta), 1);
	ck_assert_uint_eq(nc2_lo_release_notify(&f.ta), 3);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 3);
	ck_assert_uint_eq(nc2_lo_release_notify(&f.ta), 0);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 0);
	/* turning delay off does not release what is held */
	nc2_lo_delay_notify(&f.ta, 0);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 1);
	ck_assert_uint_eq(nc2_lo_release_notify(&f.ta), 1);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 1);

	/* drop wins over delay */
	nc2_lo_delay_notify(&f.ta, 1);
	nc2_lo_drop_notify(&f.ta, 1);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_release_notify(&f.ta), 1);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 1);
	nc2_lo_delay_notify(&f.ta, 0);

	/* no endpoint on the other side: the peer is gone */
	nc2_lo_transport_close(&f.tb);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_ERR_PEER_GONE);
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.b, f.a, &f.tb), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 1);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_notify_pairing)
{
	fx f;
	fx_init(&f, 4, 8);
	/* a second channel between a and b: endpoints pair in open order */
	nc2_transport a2, b2, a3;
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, f.b, &a2), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&a2), NC2_ERR_PEER_GONE);
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.b, f.a, &b2), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&a2), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&b2), 1);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 0);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 1);
	ck_assert_uint_eq(nc2_lo_events_take(&b2), 0);
	ck_assert_int_eq(nc2_tp_notify(&b2), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&a2), 1);
	ck_assert_uint_eq(nc2_lo_events_take(&f.ta), 0);
	/* a3 waits; when ta closes, tb pairs with a3 */
	ck_assert_int_eq(nc2_lo_transport_open(f.w, f.a, f.b, &a3), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&a3), NC2_ERR_PEER_GONE);
	nc2_lo_transport_close(&f.ta);
	ck_assert_int_eq(nc2_tp_notify(&a3), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 1);
	nc2_lo_transport_close(&a2);
	nc2_lo_transport_close(&b2);
	nc2_lo_transport_close(&a3);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

/* ---- faults ------------------------------------------------------------- */

START_TEST(test_fail_single_ops)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t g1, g2, g3;
	/* grant: the 2nd call fails, nothing is granted */
	nc2_lo_fail_nth(&f.ta, NC2_TP_GRANT, 2, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g1), NC2_OK);
	g2 = 999;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g2), NC2_ERR_TRANSPORT);
	ck_assert_uint_eq(g2, 999);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 1);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g2), NC2_OK); /* one-shot */
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g3), NC2_OK);

	/* revoke: the 1st call fails, the grant stays */
	nc2_lo_fail_nth(&f.ta, NC2_TP_REVOKE, 1, NC2_ERR_AGAIN);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g1), NC2_ERR_AGAIN);
	ck_assert_uint_eq(nc2_lo_grants_active(f.w, f.a), 3);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g1), NC2_OK);

	/* notify: calls are counted; the failed one is not delivered */
	nc2_lo_fail_nth(&f.ta, NC2_TP_NOTIFY, 3, NC2_ERR_PEER_GONE);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_ERR_PEER_GONE);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_uint_eq(nc2_lo_events_take(&f.tb), 3);

	/* 0 disarms; a non-negative error becomes NC2_ERR_TRANSPORT */
	nc2_lo_fail_nth(&f.ta, NC2_TP_REVOKE, 1, NC2_ERR_AGAIN);
	nc2_lo_fail_nth(&f.ta, NC2_TP_REVOKE, 0, NC2_ERR_AGAIN);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g2), NC2_OK);
	nc2_lo_fail_nth(&f.ta, NC2_TP_REVOKE, 1, 0);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g3), NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g3), NC2_OK);
	/* re-arming counts from now */
	nc2_lo_fail_nth(&f.ta, NC2_TP_NOTIFY, 5, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	nc2_lo_fail_nth(&f.ta, NC2_TP_NOTIFY, 1, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_ERR_TRANSPORT);
	/* faults are per endpoint */
	nc2_lo_fail_nth(&f.tb, NC2_TP_NOTIFY, 1, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_int_eq(nc2_tp_notify(&f.tb), NC2_ERR_TRANSPORT);
	/* out-of-range op kinds are ignored */
	nc2_lo_fail_nth(&f.ta, NC2_TP_NR_OPS, 1, NC2_ERR_TRANSPORT);
	nc2_lo_fail_nth(&f.ta, (enum nc2_tp_op) - 1, 1, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_notify(&f.ta), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_fail_map_batch)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t g[3];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + (size_t)i * PG, 0, &g[i]), NC2_OK);
	nc2_map_op m[3];
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++)
		m[i].gref = g[i];
	/* elements are counted across calls: 1 + 3, the 3rd element overall */
	nc2_lo_fail_nth(&f.tb, NC2_TP_MAP, 3, NC2_ERR_LIMIT);
	nc2_map_op one;
	ck_assert_int_eq(map1(&f.tb, g[0], 0, &one), NC2_OK);
	ck_assert_int_eq(nc2_tp_map(&f.tb, m, 3), NC2_ERR_LIMIT);
	ck_assert_int_eq(m[0].status, NC2_OK);
	ck_assert_int_eq(m[1].status, NC2_ERR_LIMIT);
	ck_assert_int_eq(m[2].status, NC2_OK);
	ck_assert_ptr_null(m[1].addr);
	ck_assert_uint_eq(m[1].handle, 0);
	ck_assert_ptr_eq(m[2].addr, f.ram_a + 2 * PG);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 3);
	nc2_lo_grant_info gi;
	info(&f, f.a, g[1], &gi);
	ck_assert_uint_eq(gi.map_rw, 0);
	/* unmap the batch: the failed element is refused, others unmapped */
	ck_assert_int_eq(nc2_tp_unmap(&f.tb, m, 3), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(m[0].status, NC2_OK);
	ck_assert_int_eq(m[1].status, NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(m[2].status, NC2_OK);
	ck_assert_int_eq(unmap1(&f.tb, &one), NC2_OK);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[i]), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_fail_unmap_batch)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t g[3];
	nc2_map_op m[3];
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + (size_t)i * PG, 0, &g[i]), NC2_OK);
		m[i].gref = g[i];
	}
	ck_assert_int_eq(nc2_tp_map(&f.tb, m, 3), NC2_OK);
	nc2_lo_fail_nth(&f.tb, NC2_TP_UNMAP, 2, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_unmap(&f.tb, m, 3), NC2_ERR_TRANSPORT);
	ck_assert_int_eq(m[0].status, NC2_OK);
	ck_assert_int_eq(m[1].status, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(m[2].status, NC2_OK);
	/* the failed unmap left its mapping in place */
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 1);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[1]), NC2_ERR_AGAIN);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[0]), NC2_OK);
	ck_assert_int_eq(unmap1(&f.tb, &m[1]), NC2_OK);
	ck_assert_uint_eq(nc2_lo_maps_active(f.w, f.b), 0);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[1]), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[2]), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

START_TEST(test_fail_copy_batch)
{
	fx f;
	fx_init(&f, 4, 8);
	uint32_t g;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g), NC2_OK);
	uint8_t s[4] = {1, 2, 3, 4};
	nc2_copy_op c[4];
	for (int i = 0; i < 4; i++)
		c[i] = cop_local_to_gref(&s[i], g, (uint16_t)i, 1);
	nc2_lo_fail_nth(&f.tb, NC2_TP_COPY, 3, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, c, 4), NC2_ERR_TRANSPORT);
	ck_assert_int_eq(c[0].status, NC2_OK);
	ck_assert_int_eq(c[1].status, NC2_OK);
	ck_assert_int_eq(c[2].status, NC2_ERR_TRANSPORT);
	ck_assert_int_eq(c[3].status, NC2_OK);
	ck_assert_uint_eq(f.ram_a[0], 1);
	ck_assert_uint_eq(f.ram_a[1], 2);
	ck_assert_uint_eq(f.ram_a[2], 0);
	ck_assert_uint_eq(f.ram_a[3], 4);
	ck_assert_int_eq(nc2_tp_copy(&f.tb, c, 4), NC2_OK);
	ck_assert_uint_eq(f.ram_a[2], 3);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g), NC2_OK);
	ck_assert_int_eq(fx_fini(&f), 0);
}
END_TEST

/* ---- ring setup ----------------------------------------------------------- */

static const uint32_t ring_orders[] = {8, 11, 12, 13, 16};
#define N_RING_ORDERS (int)(sizeof(ring_orders) / sizeof(ring_orders[0]))

START_TEST(test_ring_setup)
{
	uint32_t order = ring_orders[_i];
	uint32_t rp = order <= 12 ? 1 : 1u << (order - 12);
	uint32_t npages = 1 + 2 * rp;
	nc2_lo_world *w = nc2_lo_world_create(2, 1);
	uint16_t fe, be;
	ck_assert_int_eq(nc2_lo_domain_create(w, npages + 4, npages + 2, &fe), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(w, 2, 4, &be), NC2_OK);
	size_t len;
	uint8_t *ram = nc2_lo_domain_mem(w, fe, &len);
	memset(ram, 0xcd, len); /* stale data: the controls must be zeroed */

	nc2_ring_mem fv, bv;
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 2, order, &fv, &bv), NC2_OK);
	ck_assert_uint_eq(nc2_lo_grants_active(w, fe), npages);
	ck_assert_uint_eq(nc2_lo_maps_active(w, be), npages);
	ck_assert_uint_eq(nc2_lo_maps_active(w, fe), 0);
	ck_assert_ptr_eq(fv.ctrl, ram + 2 * PG);
	ck_assert_ptr_eq(fv.payload[0], ram + 3 * PG);
	ck_assert_ptr_eq(fv.payload[1], ram + (3 + rp) * PG);
	ck_assert_ptr_eq(bv.ctrl, fv.ctrl);
	ck_assert_ptr_eq(bv.payload[0], fv.payload[0]);
	ck_assert_ptr_eq(bv.payload[1], fv.payload[1]);
	for (int r = 0; r < 2; r++) {
		ck_assert_uint_eq(fv.order[r], order);
		ck_assert_uint_eq(bv.order[r], order);
	}
	for (uint32_t i = 0; i < NC2_RING_CTRL_SIZE; i++)
		ck_assert_uint_eq(fv.ctrl[i], 0);
	/* every page is granted read-write to be and mapped once by be */
	for (uint32_t r = 1; r <= npages + 2; r++) {
		nc2_lo_grant_info gi;
		if (nc2_lo_grant_info_get(w, fe, r, &gi) != NC2_OK)
			continue;
		ck_assert_uint_eq(gi.to, be);
		ck_assert_uint_eq(gi.flags, 0);
		ck_assert_uint_eq(gi.map_rw, 1);
	}
	/* the views work as ring memory */
	nc2_ring_prod p;
	nc2_ring_cons c;
	ck_assert_int_eq(nc2_ring_prod_init(&p, fv.ctrl, fv.payload[0], fv.order[0]), NC2_OK);
	ck_assert_int_eq(nc2_ring_cons_init(&c, bv.ctrl, bv.payload[0], bv.order[0]), NC2_OK);
	ck_assert_int_eq(
	    nc2_ring_prod_init(&p, bv.ctrl + NC2_RING_CTRL_STRIDE, bv.payload[1], bv.order[1]),
	    NC2_OK);
	ck_assert_int_eq(
	    nc2_ring_cons_init(&c, fv.ctrl + NC2_RING_CTRL_STRIDE, fv.payload[1], fv.order[1]),
	    NC2_OK);
	/* the be side writes, the fe side sees it; the areas do not overlap */
	size_t ring_bytes = (size_t)1 << order;
	memset(bv.payload[0], 0x01, ring_bytes);
	memset(bv.payload[1], 0x02, ring_bytes);
	ck_assert_uint_eq(fv.payload[0][ring_bytes - 1], 0x01);
	ck_assert_uint_eq(fv.payload[1][0], 0x02);
	ck_assert_uint_eq(fv.ctrl[0], 0);

	/* the same pages cannot be set up twice */
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 2, order, &fv, &bv), NC2_ERR_STATE);
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 1 + npages, 8, &fv, &bv), NC2_ERR_STATE);
	ck_assert_uint_eq(nc2_lo_grants_active(w, fe), npages);

	ck_assert_int_eq(nc2_lo_ring_teardown(w, fe, be, 2, order + 1), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_lo_ring_teardown(w, be, fe, 2, order), NC2_ERR_NOT_FOUND);
	ck_assert_int_eq(nc2_lo_ring_teardown(w, fe, be, 2, order), NC2_OK);
	ck_assert_uint_eq(nc2_lo_grants_active(w, fe), 0);
	ck_assert_uint_eq(nc2_lo_maps_active(w, be), 0);
	ck_assert_int_eq(nc2_lo_ring_teardown(w, fe, be, 2, order), NC2_ERR_NOT_FOUND);
	/* and again, now at page 0 */
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 0, order, NULL, &bv), NC2_OK);
	ck_assert_ptr_eq(bv.ctrl, ram);
	ck_assert_int_eq(nc2_lo_ring_teardown(w, fe, be, 0, order), NC2_OK);
	ck_assert_int_eq(nc2_lo_world_destroy(w), 0);
}
END_TEST

START_TEST(test_ring_setup_errors)
{
	nc2_lo_world *w = nc2_lo_world_create(3, 1);
	uint16_t fe, be, small;
	ck_assert_int_eq(nc2_lo_domain_create(w, 8, 16, &fe), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(w, 2, 4, &be), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(w, 8, 2, &small), NC2_OK);
	nc2_ring_mem fv, bv;
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 0, 7, &fv, &bv), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 0, 25, &fv, &bv), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, fe, 0, 12, &fv, &bv), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, 9, 0, 12, &fv, &bv), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_ring_setup(NULL, fe, be, 0, 12, &fv, &bv), NC2_ERR_INVALID_ARG);
	/* 1 + 2 * 2 pages from page 4 do not fit in 8 pages; from page 3 they do */
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 4, 13, &fv, &bv), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 8, 8, &fv, &bv), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, UINT32_MAX, 8, &fv, &bv),
			 NC2_ERR_INVALID_ARG);
	/* a grant table too small: nothing is left behind */
	ck_assert_int_eq(nc2_lo_ring_setup(w, small, be, 0, 12, &fv, &bv), NC2_ERR_NOSPACE);
	ck_assert_uint_eq(nc2_lo_grants_active(w, small), 0);
	ck_assert_uint_eq(nc2_lo_maps_active(w, be), 0);
	ck_assert_uint_eq(nc2_lo_grants_active(w, fe), 0);
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 3, 13, &fv, &bv), NC2_OK);
	ck_assert_int_eq(nc2_lo_ring_teardown(NULL, fe, be, 3, 13), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_lo_ring_teardown(w, fe, be, 3, 13), NC2_OK);
	ck_assert_int_eq(nc2_lo_world_destroy(w), 0);
}
END_TEST

/* Teardown while be still maps a ring page through its endpoint. */
START_TEST(test_ring_teardown_busy)
{
	nc2_lo_world *w = nc2_lo_world_create(2, 1);
	uint16_t fe, be;
	ck_assert_int_eq(nc2_lo_domain_create(w, 4, 8, &fe), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(w, 4, 8, &be), NC2_OK);
	nc2_ring_mem fv, bv;
	ck_assert_int_eq(nc2_lo_ring_setup(w, fe, be, 0, 12, &fv, &bv), NC2_OK);
	nc2_transport tb;
	ck_assert_int_eq(nc2_lo_transport_open(w, be, fe, &tb), NC2_OK);
	uint32_t ctrl_gref = 0;
	nc2_lo_grant_info gi;
	for (uint32_t r = 1; r <= 8; r++) {
		if (nc2_lo_grant_info_get(w, fe, r, &gi) == NC2_OK && ctrl_gref == 0)
			ctrl_gref = r;
	}
	nc2_map_op m;
	ck_assert_int_eq(map1(&tb, ctrl_gref, NC2_GNT_READONLY, &m), NC2_OK);
	ck_assert_uint_eq(nc2_lo_maps_active(w, be), 4);
	ck_assert_int_eq(nc2_lo_ring_teardown(w, fe, be, 0, 12), NC2_ERR_AGAIN);
	/* what could be released was released */
	ck_assert_uint_eq(nc2_lo_maps_active(w, be), 1);
	ck_assert_uint_eq(nc2_lo_grants_active(w, fe), 1);
	ck_assert_int_eq(unmap1(&tb, &m), NC2_OK);
	ck_assert_int_eq(nc2_lo_ring_teardown(w, fe, be, 0, 12), NC2_OK);
	ck_assert_uint_eq(nc2_lo_grants_active(w, fe), 0);
	ck_assert_uint_eq(nc2_lo_maps_active(w, be), 0);
	nc2_lo_transport_close(&tb);
	ck_assert_int_eq(nc2_lo_world_destroy(w), 0);
}
END_TEST

/* ---- leak reporting, determinism ------------------------------------------ */

START_TEST(test_leak_report)
{
	fx f;
	fx_init(&f, 8, 16);
	uint32_t g1, g2;
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g1), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + PG, 0, &g2), NC2_OK);
	nc2_map_op m;
	ck_assert_int_eq(map1(&f.tb, g1, 0, &m), NC2_OK);
	/* a ring set up and never torn down: 3 grants + 3 maps */
	nc2_ring_mem fv, bv;
	ck_assert_int_eq(nc2_lo_ring_setup(f.w, f.c, f.a, 0, 12, &fv, &bv), NC2_OK);
	/* 2 grants of a, 1 map by b, 3 grants of c, 3 maps by a */
	ck_assert_int_eq(fx_fini(&f), 9);

	/* endpoints left open are freed by world_destroy and do not count */
	nc2_lo_world *w = nc2_lo_world_create(2, 0);
	uint16_t d0, d1;
	ck_assert_int_eq(nc2_lo_domain_create(w, 1, 1, &d0), NC2_OK);
	ck_assert_int_eq(nc2_lo_domain_create(w, 1, 1, &d1), NC2_OK);
	nc2_transport t0, t1;
	ck_assert_int_eq(nc2_lo_transport_open(w, d0, d1, &t0), NC2_OK);
	ck_assert_int_eq(nc2_lo_transport_open(w, d1, d0, &t1), NC2_OK);
	ck_assert_int_eq(nc2_lo_world_destroy(w), 0);
}
END_TEST

/* The same sequence of calls gives the same grefs, handles and results. */
static void det_run(uint32_t *out, size_t n)
{
	fx f;
	fx_init(&f, 8, 16);
	size_t k = 0;
	uint32_t g[6];
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a + (size_t)i * PG, 0, &g[i]), NC2_OK);
		out[k++] = g[i];
	}
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[2]), NC2_OK);
	ck_assert_int_eq(nc2_tp_revoke(&f.ta, g[4]), NC2_OK);
	ck_assert_int_eq(nc2_tp_grant(&f.ta, f.ram_a, 0, &g[2]), NC2_OK);
	out[k++] = g[2];
	nc2_map_op m[3];
	memset(m, 0, sizeof(m));
	m[0].gref = g[0];
	m[1].gref = g[1];
	m[2].gref = g[0];
	ck_assert_int_eq(nc2_tp_map(&f.tb, m, 3), NC2_OK);
	ck_assert_int_eq(unmap1(&f.tb, &m[1]), NC2_OK);
	ck_assert_int_eq(map1(&f.tb, g[3], 0, &m[1]), NC2_OK);
	for (int i = 0; i < 3; i++) {
		out[k++] = (uint32_t)m[i].handle;
		out[k++] = (uint32_t)(m[i].handle >> 32);
	}
	ck_assert_uint_eq(k, n);
	ck_assert_int_eq(fx_fini(&f), 3 + 5);
}

START_TEST(test_determinism)
{
	uint32_t a[13], b[13];
	det_run(a, 13);
	det_run(b, 13);
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
}
END_TEST

static Suite *loopback_suite(void)
{
	Suite *s = suite_create("loopback");
	TCase *tc = tcase_create("world");
	tcase_add_test(tc, test_world_domains);
	tcase_add_test(tc, test_open_ops);
	suite_add_tcase(s, tc);

	tc = tcase_create("grant");
	tcase_add_test(tc, test_grant_lifecycle);
	tcase_add_test(tc, test_multiple_maps);
	tcase_add_test(tc, test_gref_allocation);
	tcase_add_test(tc, test_grant_bad_args);
	tcase_add_test(tc, test_sticky_readonly_flags);
	tcase_add_test(tc, test_readonly_grant);
	tcase_add_test(tc, test_map_permissions);
	tcase_add_test(tc, test_bogus_unmap);
	suite_add_tcase(s, tc);

	tc = tcase_create("copy");
	tcase_add_test(tc, test_copy_bounds);
	tcase_add_test(tc, test_copy_directions);
	tcase_add_test(tc, test_copy_batch_status);
	tcase_add_test(tc, test_copy_fallback);
	tcase_add_test(tc, test_transitive);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_notify_pairing);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_test(tc, test_fail_single_ops);
	tcase_add_test(tc, test_fail_map_batch);
	tcase_add_test(tc, test_fail_unmap_batch);
	tcase_add_test(tc, test_fail_copy_batch);
	suite_add_tcase(s, tc);

	tc = tcase_create("ring");
	tcase_add_loop_test(tc, test_ring_setup, 0, N_RING_ORDERS);
	tcase_add_test(tc, test_ring_setup_errors);
	tcase_add_test(tc, test_ring_teardown_busy);
	suite_add_tcase(s, tc);

	tc = tcase_create("leaks");
	tcase_add_test(tc, test_leak_report);
	tcase_add_test(tc, test_determinism);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(loopback_suite());
}
