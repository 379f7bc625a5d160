/* SPDX-License-Identifier: MIT */
/*
 * Packet and fragment validation against negotiated limits
 * (nc2_packet_validate, nc2_frag_validate, nc2_range_ok): one test per rule
 * with its exact error code, plus the positive cases.
 */
#include <check.h>
#include <string.h>

#include <nc2/nc2.h>

#include "testutil.h"

#define E_VALUE NC2_ERR_PEER_BAD_VALUE
#define E_RSVD  NC2_ERR_PEER_RESERVED
#define E_FRAG  NC2_ERR_PEER_BAD_FRAG
#define E_MANY  NC2_ERR_PEER_TOO_MANY_FRAGS
#define E_PSIZE NC2_ERR_PEER_PACKET_SIZE
#define E_CSUM  NC2_ERR_PEER_BAD_CSUM
#define E_OFFL  NC2_ERR_PEER_OFFLOAD

#define TYPES_ALL                                                                     \
	((1u << NC2_PACKET_TYPE_receiver_copy) | (1u << NC2_PACKET_TYPE_pre_posted) | \
	 (1u << NC2_PACKET_TYPE_receiver_map) | (1u << NC2_PACKET_TYPE_small))

/* Everything negotiated and enabled. */
static const nc2_limits lim_all = {
    .max_frags = NC2_MAX_FRAGS_LIMIT,
    .max_packet_bytes = NC2_MAX_PACKET_BYTES,
    .offloads = NC2_OFFLOAD_ALL,
    .features = NC2_FEATURE_ALL,
    .packet_types = TYPES_ALL,
};

/* Hand-written valid PACKETs (same as the golden vectors of check_wire.c). */
/* clang-format off */
/* small: data_validated, 14-octet prefix; total 14 */
static const uint8_t g_pkt_small[] = {
	0x02, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x04, 0x02, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
};
/* receiver_map: csum_blank|need_event, tcpv4 mss 1448, csum 34/16,
 * frag 0 64 octets at 0xabc STICKY, frag 1 3840 at 256; total 3904 */
static const uint8_t g_pkt_map[] = {
	0x02, 0x00, 0x28, 0x00, 0x02, 0x01, 0x00, 0x00,
	0x03, 0x09, 0x01, 0x00, 0x00, 0x00, 0xa8, 0x05,
	0x22, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x40, 0x00, 0xbc, 0x8a, 0x00, 0x05, 0x00, 0x00,
	0x00, 0x0f, 0x00, 0x01, 0x34, 0x12, 0x00, 0x00,
};
/* pre_posted: data_validated, 1514 octets at 64 in buffer 7; total 1514 */
static const uint8_t g_pkt_pre[] = {
	0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xea, 0x05, 0x40, 0x00, 0x07, 0x00, 0x00, 0x00,
};
/* receiver_copy: csum_blank|bypass_candidate, tcpv6 mss 1400, csum 54/16,
 * 256 octets at 3840, 5 prefix octets; total 261 */
static const uint8_t g_pkt_copy[] = {
	0x02, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x80,
	0x01, 0x05, 0x02, 0x00, 0x05, 0x00, 0x78, 0x05,
	0x36, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x0f, 0x98, 0xba, 0xdc, 0xfe,
	0xde, 0xad, 0xbe, 0xef, 0x01, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* Private copy the decoded message points into. */
static uint8_t buf[70000];
static nc2_msg m;

/* Copy, decode (must succeed) into the global m. */
static void load(const uint8_t *vec, size_t len)
{
	memset(buf, 0, sizeof(buf));
	memcpy(buf, vec, len);
	int rc = nc2_msg_decode(&m, buf, len);
	ck_assert_msg(rc == NC2_OK, "decode of base packet failed: %d", rc);
	ck_assert_uint_eq(m.type, NC2_MSG_PACKET);
}

/* Build with the independent reference encoder, then decode into m. */
static void build(uint32_t id, uint8_t ptype, uint8_t pflags, uint8_t seg, uint16_t prefix_size,
		  uint16_t mss, uint16_t cs, uint16_t co, const nc2_frag *frags, uint32_t nr)
{
	static uint8_t tmp[70000];
	static const uint8_t prefix[256] = {0x01, 0x02, 0x03};
	size_t len = tu_build_packet(tmp, id, ptype, pflags, seg, prefix_size, mss, cs, co, frags,
				     nr, prefix);
	load(tmp, len);
}

/* Rewrite fragment i of the loaded message in place (m.u.packet.frags
 * points into buf). */
static void set_frag(uint32_t i, uint16_t size, uint16_t off_flags, uint32_t ref)
{
	uint8_t *f = buf + 24 + 8 * (size_t)i;
	tu_put16(f, size);
	tu_put16(f + 2, off_flags);
	tu_put32(f + 4, ref);
}

#define CHECK_RC(expr, want)                                                              \
	do {                                                                              \
		int rc_ = (expr);                                                         \
		ck_assert_msg(rc_ == (want), "%s: got %d (%s), want %d (%s)", #expr, rc_, \
			      nc2_strerror(rc_), (int)(want), nc2_strerror(want));        \
	} while (0)

#define VALIDATE(lim) nc2_packet_validate(&m, (lim), NULL)

/* ---- positive cases ---------------------------------------------------- */

START_TEST(test_valid_goldens)
{
	static const struct {
		const uint8_t *v;
		size_t n;
		uint32_t total;
	} c[] = {
	    {g_pkt_small, sizeof(g_pkt_small), 14},
	    {g_pkt_map, sizeof(g_pkt_map), 64 + 3840},
	    {g_pkt_pre, sizeof(g_pkt_pre), 1514},
	    {g_pkt_copy, sizeof(g_pkt_copy), 5 + 256},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint32_t total = 0;
		load(c[i].v, c[i].n);
		CHECK_RC(nc2_packet_validate(&m, &lim_all, &total), NC2_OK);
		ck_assert_msg(total == c[i].total, "case %zu: total %u want %u", i, total,
			      c[i].total);
		/* total_len may be NULL */
		CHECK_RC(nc2_packet_validate(&m, &lim_all, NULL), NC2_OK);
	}
}
END_TEST

START_TEST(test_valid_exact_limits)
{
	/* Each golden packet under limits that grant exactly what it needs. */
	nc2_limits lim = {.max_frags = 1,
			  .max_packet_bytes = 14,
			  .offloads = 0,
			  .features = 0,
			  .packet_types = 1u << NC2_PACKET_TYPE_small};
	load(g_pkt_small, sizeof(g_pkt_small));
	CHECK_RC(VALIDATE(&lim), NC2_OK);

	lim = (nc2_limits){.max_frags = 2,
			   .max_packet_bytes = 3904,
			   .offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO4,
			   .features = NC2_FEATURE_STICKY,
			   .packet_types = 1u << NC2_PACKET_TYPE_receiver_map};
	load(g_pkt_map, sizeof(g_pkt_map));
	CHECK_RC(VALIDATE(&lim), NC2_OK);

	lim = (nc2_limits){.max_frags = 1,
			   .max_packet_bytes = 1514,
			   .packet_types = 1u << NC2_PACKET_TYPE_pre_posted};
	load(g_pkt_pre, sizeof(g_pkt_pre));
	CHECK_RC(VALIDATE(&lim), NC2_OK);

	lim = (nc2_limits){.max_frags = 1,
			   .max_packet_bytes = 261,
			   .offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO6,
			   .packet_types = 1u << NC2_PACKET_TYPE_receiver_copy};
	load(g_pkt_copy, sizeof(g_pkt_copy));
	CHECK_RC(VALIDATE(&lim), NC2_OK);
}
END_TEST

START_TEST(test_valid_total_len)
{
	nc2_frag f[3] = {
	    {.ref = 1, .off = 0, .size = 4096},
	    {.ref = 2, .off = 100, .size = 1},
	    {.ref = 3, .off = 4000, .size = 96, .flags = NC2_FRAG_STICKY},
	};
	uint32_t total = 0;
	build(7, NC2_PACKET_TYPE_receiver_map, 0, 0, 20, 0, 0, 0, f, 3);
	CHECK_RC(nc2_packet_validate(&m, &lim_all, &total), NC2_OK);
	ck_assert_uint_eq(total, 20 + 4096 + 1 + 96);

	/* largest packet: 16 full pages */
	nc2_frag pages[16];
	for (int i = 0; i < 16; i++)
		pages[i] = (nc2_frag){.ref = (uint32_t)i, .off = 0, .size = 4096};
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 0, 0, 0, 0, pages, 16);
	CHECK_RC(nc2_packet_validate(&m, &lim_all, &total), NC2_OK);
	ck_assert_uint_eq(total, NC2_MAX_PACKET_BYTES);

	/* small with the largest prefix */
	build(0, NC2_PACKET_TYPE_small, 0, 0, 256, 0, 0, 0, NULL, 0);
	CHECK_RC(nc2_packet_validate(&m, &lim_all, &total), NC2_OK);
	ck_assert_uint_eq(total, 256);
}
END_TEST

/* ---- type and flags ------------------------------------------------------ */

START_TEST(test_type_not_accepted)
{
	static const struct {
		const uint8_t *v;
		size_t n;
		uint8_t t;
	} c[] = {
	    {g_pkt_small, sizeof(g_pkt_small), NC2_PACKET_TYPE_small},
	    {g_pkt_map, sizeof(g_pkt_map), NC2_PACKET_TYPE_receiver_map},
	    {g_pkt_pre, sizeof(g_pkt_pre), NC2_PACKET_TYPE_pre_posted},
	    {g_pkt_copy, sizeof(g_pkt_copy), NC2_PACKET_TYPE_receiver_copy},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		nc2_limits lim = lim_all;
		load(c[i].v, c[i].n);
		lim.packet_types = TYPES_ALL & ~(1u << c[i].t);
		CHECK_RC(VALIDATE(&lim), E_VALUE);
		lim.packet_types = 0;
		CHECK_RC(VALIDATE(&lim), E_VALUE);
		lim.packet_types = 1u << c[i].t;
		CHECK_RC(VALIDATE(&lim), NC2_OK);
	}
}
END_TEST

START_TEST(test_type_out_of_range)
{
	/* Types outside 1..4 are refused even when their bit is "accepted". */
	static const uint8_t bad[] = {0, 5, 6, 31, 32, 64, 255};
	nc2_limits lim = lim_all;
	lim.packet_types = 0xffffffffu;
	for (size_t i = 0; i < sizeof(bad); i++) {
		load(g_pkt_map, sizeof(g_pkt_map));
		m.u.packet.type = bad[i];
		int rc = VALIDATE(&lim);
		ck_assert_msg(rc == E_VALUE, "ptype %u: %d", bad[i], rc);
	}
}
END_TEST

START_TEST(test_unknown_pflags)
{
	static const uint8_t bad[] = {0x10, 0x20, 0x40, 0x80, 0xf0};
	for (size_t i = 0; i < sizeof(bad); i++) {
		load(g_pkt_map, sizeof(g_pkt_map));
		m.u.packet.flags |= bad[i];
		int rc = VALIDATE(&lim_all);
		ck_assert_msg(rc == E_RSVD, "flags 0x%02x: %d", m.u.packet.flags, rc);
		load(g_pkt_small, sizeof(g_pkt_small));
		m.u.packet.flags |= bad[i];
		rc = VALIDATE(&lim_all);
		ck_assert_msg(rc == E_RSVD, "small flags 0x%02x: %d", m.u.packet.flags, rc);
	}
	/* all known flags together are fine (csum fields valid, no segmentation) */
	load(g_pkt_copy, sizeof(g_pkt_copy));
	m.u.packet.flags = NC2_PACKET_FLAGS_KNOWN;
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
}
END_TEST

/* ---- fragment count vs type ------------------------------------------- */

START_TEST(test_small_with_frags)
{
	nc2_frag f = {.ref = 1, .off = 0, .size = 10};
	build(0, NC2_PACKET_TYPE_small, 0, 0, 14, 0, 0, 0, &f, 1);
	CHECK_RC(VALIDATE(&lim_all), E_VALUE);
}
END_TEST

START_TEST(test_nonsmall_without_frags)
{
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 60, 0, 0, 0, NULL, 0);
	CHECK_RC(VALIDATE(&lim_all), E_VALUE);
	build(1, NC2_PACKET_TYPE_receiver_map, 0, 0, 60, 0, 0, 0, NULL, 0);
	CHECK_RC(VALIDATE(&lim_all), E_VALUE);
	build(0, NC2_PACKET_TYPE_pre_posted, 0, 0, 60, 0, 0, 0, NULL, 0);
	CHECK_RC(VALIDATE(&lim_all), E_VALUE);
}
END_TEST

START_TEST(test_id_small)
{
	load(g_pkt_small, sizeof(g_pkt_small));
	m.u.packet.id = 1;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
	m.u.packet.id = 0x80000000u;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
}
END_TEST

START_TEST(test_id_pre_posted)
{
	load(g_pkt_pre, sizeof(g_pkt_pre));
	m.u.packet.id = 1;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
	m.u.packet.id = 0xffffffffu;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
}
END_TEST

START_TEST(test_id_grant_types_any)
{
	/* receiver_copy / receiver_map ids are the sender's business */
	load(g_pkt_copy, sizeof(g_pkt_copy));
	m.u.packet.id = 0;
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	load(g_pkt_map, sizeof(g_pkt_map));
	m.u.packet.id = 0xffffffffu;
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
}
END_TEST

START_TEST(test_too_many_frags)
{
	static nc2_frag f[NC2_MAX_FRAGS_LIMIT + 1];
	nc2_limits lim = lim_all;
	load(g_pkt_map, sizeof(g_pkt_map));
	lim.max_frags = 1;
	CHECK_RC(VALIDATE(&lim), E_MANY);
	lim.max_frags = 2;
	CHECK_RC(VALIDATE(&lim), NC2_OK);

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		f[i] = (nc2_frag){.ref = (uint32_t)i, .off = 0, .size = 1};
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 0, 0, 0, 0, f, NC2_MAX_FRAGS_LIMIT);
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 0, 0, 0, 0, f, NC2_MAX_FRAGS_LIMIT + 1);
	CHECK_RC(VALIDATE(&lim_all), E_MANY);
	build(0, NC2_PACKET_TYPE_pre_posted, 0, 0, 0, 0, 0, 0, f, 20);
	lim.max_frags = 19;
	CHECK_RC(VALIDATE(&lim), E_MANY);
	lim.max_frags = 20;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
}
END_TEST

/* ---- fragments ------------------------------------------------------------ */

START_TEST(test_frag_size_zero)
{
	load(g_pkt_map, sizeof(g_pkt_map));
	set_frag(1, 0, 0x0100, 0x1234);
	CHECK_RC(VALIDATE(&lim_all), E_FRAG);
	load(g_pkt_map, sizeof(g_pkt_map));
	set_frag(0, 0, 0x8abc, 0x500);
	CHECK_RC(VALIDATE(&lim_all), E_FRAG);
	/* with a 14-octet prefix so that the total stays valid */
	nc2_frag f[2] = {{.ref = 7, .off = 64, .size = 0}, {.ref = 8, .off = 0, .size = 100}};
	build(0, NC2_PACKET_TYPE_pre_posted, 0, 0, 14, 0, 0, 0, f, 1);
	CHECK_RC(VALIDATE(&lim_all), E_FRAG);
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 14, 0, 0, 0, f, 1);
	CHECK_RC(VALIDATE(&lim_all), E_FRAG);
	f[0].size = 100;
	f[1].size = 0;
	build(0, NC2_PACKET_TYPE_pre_posted, 0, 0, 0, 0, 0, 0, f, 2);
	CHECK_RC(VALIDATE(&lim_all), E_FRAG);
}
END_TEST

static const struct {
	uint16_t off, size;
	int expect;
} bounds[] = {
    {0, 4096, NC2_OK},      {4095, 1, NC2_OK},   {2048, 2048, NC2_OK},   {4095, 2, E_FRAG},
    {0, 4097, E_FRAG},      {1, 4096, E_FRAG},   {2048, 2049, E_FRAG},   {4000, 97, E_FRAG},
    {4095, 0xffff, E_FRAG}, {1, 0xffff, E_FRAG}, {4095, 0xf002, E_FRAG}, {0, 0xffff, E_FRAG},
};
#define N_BOUNDS ((int)(sizeof(bounds) / sizeof(bounds[0])))

/* off + size <= 4096 for grant types, computed without u16 wrap-around. */
START_TEST(test_frag_bounds)
{
	nc2_frag f = {.ref = 9, .off = bounds[_i].off, .size = bounds[_i].size};
	/* keep total in [14, 65536] so only the fragment rule can fire */
	uint16_t pfx = f.size < 14 ? 14 : 0;
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, pfx, 0, 0, 0, &f, 1);
	int rc = VALIDATE(&lim_all);
	ck_assert_msg(rc == bounds[_i].expect, "copy off %u size %u: %d want %d", f.off, f.size, rc,
		      bounds[_i].expect);
	build(2, NC2_PACKET_TYPE_receiver_map, 0, 0, pfx, 0, 0, 0, &f, 1);
	rc = VALIDATE(&lim_all);
	ck_assert_msg(rc == bounds[_i].expect, "map off %u size %u: %d want %d", f.off, f.size, rc,
		      bounds[_i].expect);
	/* as the second fragment too */
	nc2_frag two[2] = {{.ref = 1, .off = 0, .size = 1}, f};
	build(3, NC2_PACKET_TYPE_receiver_map, 0, 0, pfx, 0, 0, 0, two, 2);
	rc = VALIDATE(&lim_all);
	ck_assert_msg(rc == bounds[_i].expect, "map frag 1 off %u size %u: %d want %d", f.off,
		      f.size, rc, bounds[_i].expect);
}
END_TEST

START_TEST(test_sticky_pre_posted)
{
	load(g_pkt_pre, sizeof(g_pkt_pre));
	set_frag(0, 1514, 0x8040, 7);
	CHECK_RC(VALIDATE(&lim_all), E_FRAG);
}
END_TEST

START_TEST(test_sticky_needs_feature)
{
	nc2_limits lim = lim_all;
	lim.features = NC2_FEATURE_ALL & ~NC2_FEATURE_STICKY;
	load(g_pkt_map, sizeof(g_pkt_map)); /* frag 0 is STICKY */
	CHECK_RC(VALIDATE(&lim), NC2_ERR_PEER_OFFLOAD);
	lim.features = NC2_FEATURE_STICKY;
	CHECK_RC(VALIDATE(&lim), NC2_OK);

	load(g_pkt_copy, sizeof(g_pkt_copy));
	set_frag(0, 256, 0x8f00, 0xfedcba98);
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	lim.features = 0;
	CHECK_RC(VALIDATE(&lim), NC2_ERR_PEER_OFFLOAD);
	/* without sticky fragments the feature is not needed */
	load(g_pkt_copy, sizeof(g_pkt_copy));
	CHECK_RC(VALIDATE(&lim), NC2_OK);
}
END_TEST

/* nc2_packet_validate() checks the fragments as nc2_frag_validate() does,
 * in order, returning the first violation: compare against that reference
 * for every pair of fragment variants, packet type and sticky feature. */
/* nc2_small_validate() agrees with nc2_packet_validate() on the small
 * PACKET an entry stands for, over lengths, flags, checksum fields and
 * offload settings (random, seeded). */
START_TEST(test_small_matches_packet)
{
	tu_rng r;
	tu_rng_seed(&r, 0x5a11);
	for (int i = 0; i < 20000; i++) {
		nc2_limits lim = lim_all;
		if (tu_u32(&r) & 1)
			lim.offloads = 0;
		if ((tu_u32(&r) & 7) == 0)
			lim.packet_types &= ~(1u << NC2_PACKET_TYPE_small);
		if (tu_u32(&r) & 1)
			lim.max_packet_bytes = tu_range(&r, 0, 300);
		uint16_t len = (uint16_t)tu_range(&r, 1, 256);
		uint8_t flags = (uint8_t)((tu_u32(&r) & 3) ? tu_u32(&r) & 3 : tu_u32(&r));
		uint16_t cs = (uint16_t)((tu_u32(&r) & 1) ? tu_range(&r, 0, 300) : 0);
		uint16_t co = (uint16_t)((tu_u32(&r) & 1) ? tu_range(&r, 0, 300) : 0);
		build(0, NC2_PACKET_TYPE_small, flags, 0, len, 0, cs, co, NULL, 0);
		int want = nc2_packet_validate(&m, &lim, NULL);
		nc2_small e = {.len = len,
			       .flags = flags,
			       .csum_start = cs,
			       .csum_offset = co,
			       .data = m.u.packet.prefix};
		int got = nc2_small_validate(&e, &lim);
		ck_assert_msg(got == want, "len %u flags 0x%x cs %u co %u: %d want %d", len, flags,
			      cs, co, got, want);
	}
	CHECK_RC(nc2_small_validate(NULL, &lim_all), NC2_ERR_INVALID_ARG);
}
END_TEST

/* nc2_posted_validate() agrees with nc2_packet_validate() on the pre_posted
 * PACKET of one fragment an entry stands for, over lengths, flags and
 * limits (random, seeded). */
START_TEST(test_posted_matches_packet)
{
	tu_rng r;
	tu_rng_seed(&r, 0x9057);
	for (int i = 0; i < 20000; i++) {
		nc2_limits lim = lim_all;
		if (tu_u32(&r) & 1)
			lim.offloads = 0;
		if ((tu_u32(&r) & 7) == 0)
			lim.packet_types &= ~(1u << NC2_PACKET_TYPE_pre_posted);
		if (tu_u32(&r) & 1)
			lim.max_packet_bytes = tu_range(&r, 0, 3000);
		uint16_t len = (uint16_t)((tu_u32(&r) & 1) ? tu_range(&r, 1, 40) : tu_u32(&r));
		if (len == 0)
			len = 1;
		uint8_t flags = (uint8_t)((tu_u32(&r) & 3) ? tu_u32(&r) & 3 : tu_u32(&r));
		const nc2_frag f = {.ref = 7, .size = len};
		build(0, NC2_PACKET_TYPE_pre_posted, flags, 0, 0, 0, 0, 0, &f, 1);
		int want = nc2_packet_validate(&m, &lim, NULL);
		nc2_posted e = {.buf_id = 7, .len = len, .flags = flags};
		int got = nc2_posted_validate(&e, &lim);
		ck_assert_msg(got == want, "len %u flags 0x%x: %d want %d", len, flags, got, want);
	}
	CHECK_RC(nc2_posted_validate(NULL, &lim_all), NC2_ERR_INVALID_ARG);
	CHECK_RC(nc2_posted_validate(&(nc2_posted){.buf_id = 1, .len = 60}, NULL),
		 NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_frags_match_frag_validate)
{
	/* size, wire offset|flags */
	static const uint16_t var[][2] = {
	    {100, 0x0000}, {0, 0x0000},    {100, 0x0fa0},  {96, 0x0fa0}, {100, 0x8000}, {0, 0x8000},
	    {100, 0x8fa0}, {4096, 0x0000}, {4097, 0x0000}, {1, 0x0fff},  {2, 0x0fff},
	};
	static const uint8_t types[] = {NC2_PACKET_TYPE_receiver_copy, NC2_PACKET_TYPE_receiver_map,
					NC2_PACKET_TYPE_pre_posted};
	const nc2_frag base[2] = {{.ref = 1, .size = 100}, {.ref = 2, .size = 100}};
	const size_t nv = sizeof(var) / sizeof(var[0]);

	for (size_t t = 0; t < sizeof(types); t++) {
		for (int feat = 0; feat <= 1; feat++) {
			nc2_limits lim = lim_all;
			lim.features =
			    feat ? NC2_FEATURE_ALL : NC2_FEATURE_ALL & ~NC2_FEATURE_STICKY;
			for (size_t a = 0; a < nv; a++) {
				for (size_t b = 0; b < nv; b++) {
					build(0, types[t], 0, 0, 0, 0, 0, 0, base, 2);
					set_frag(0, var[a][0], var[a][1], 1);
					set_frag(1, var[b][0], var[b][1], 2);
					int want = NC2_OK;
					uint32_t total = 0;
					for (uint32_t i = 0; i < 2 && want == NC2_OK; i++) {
						nc2_frag f;
						nc2_packet_frag(&m, i, &f);
						want = nc2_frag_validate(&f, types[t], &lim);
						total += f.size;
					}
					if (want == NC2_OK && total < NC2_MIN_PACKET_BYTES)
						want = NC2_ERR_PEER_PACKET_SIZE;
					uint32_t got_total = 0;
					int rc = nc2_packet_validate(&m, &lim, &got_total);
					ck_assert_msg(rc == want,
						      "type %u feat %d var %zu,%zu: %d want %d",
						      types[t], feat, a, b, rc, want);
					if (rc == NC2_OK)
						ck_assert_uint_eq(got_total, total);
				}
			}
		}
	}
}
END_TEST

/* ---- total length ------------------------------------------------------ */

START_TEST(test_total_min)
{
	nc2_frag f = {.ref = 1, .off = 0, .size = 13};
	build(0, NC2_PACKET_TYPE_small, 0, 0, 13, 0, 0, 0, NULL, 0);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
	build(0, NC2_PACKET_TYPE_small, 0, 0, 1, 0, 0, 0, NULL, 0);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
	build(0, NC2_PACKET_TYPE_small, 0, 0, 14, 0, 0, 0, NULL, 0);
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 0, 0, 0, 0, &f, 1);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 1, 0, 0, 0, &f, 1);
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	nc2_frag two[2] = {{.ref = 1, .size = 7}, {.ref = 2, .size = 6}};
	build(0, NC2_PACKET_TYPE_pre_posted, 0, 0, 0, 0, 0, 0, two, 2);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
	two[1].size = 7;
	build(0, NC2_PACKET_TYPE_pre_posted, 0, 0, 0, 0, 0, 0, two, 2);
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
}
END_TEST

START_TEST(test_total_max)
{
	static nc2_frag pages[NC2_MAX_FRAGS_LIMIT];
	nc2_limits lim = lim_all;

	load(g_pkt_pre, sizeof(g_pkt_pre)); /* 1514 */
	lim.max_packet_bytes = 1514;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
	lim.max_packet_bytes = 1513;
	CHECK_RC(VALIDATE(&lim), E_PSIZE);
	load(g_pkt_small, sizeof(g_pkt_small)); /* 14 */
	lim.max_packet_bytes = 14;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
	lim.max_packet_bytes = 13;
	CHECK_RC(VALIDATE(&lim), E_PSIZE);

	for (int i = 0; i < (int)NC2_MAX_FRAGS_LIMIT; i++)
		pages[i] = (nc2_frag){.ref = (uint32_t)i, .off = 0, .size = 4096};
	/* 16 pages = 65536: the absolute maximum */
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 0, 0, 0, 0, pages, 16);
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	lim.max_packet_bytes = 65535;
	CHECK_RC(VALIDATE(&lim), E_PSIZE);
	/* one more octet of prefix: 65537 */
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 1, 0, 0, 0, pages, 16);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
	/* 65536 + 14 wraps to 14 in 16 bits */
	build(1, NC2_PACKET_TYPE_receiver_copy, 0, 0, 14, 0, 0, 0, pages, 16);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
	/* 17 pages */
	build(1, NC2_PACKET_TYPE_receiver_map, 0, 0, 0, 0, 0, 0, pages, 17);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
	/* 256 pages = 1 MiB (0 in 16 bits) */
	build(1, NC2_PACKET_TYPE_receiver_map, 0, 0, 20, 0, 0, 0, pages, NC2_MAX_FRAGS_LIMIT);
	CHECK_RC(VALIDATE(&lim_all), E_PSIZE);
}
END_TEST

/* ---- checksum offload ----------------------------------------------------- */

START_TEST(test_csum_needs_offload)
{
	nc2_limits lim = lim_all;
	load(g_pkt_map, sizeof(g_pkt_map)); /* csum_blank, tcpv4 */
	lim.offloads = NC2_OFFLOAD_TSO4;
	CHECK_RC(VALIDATE(&lim), E_OFFL);
	load(g_pkt_copy, sizeof(g_pkt_copy)); /* csum_blank, tcpv6 */
	lim.offloads = NC2_OFFLOAD_TSO6 | NC2_OFFLOAD_LRO | NC2_OFFLOAD_TSO4;
	CHECK_RC(VALIDATE(&lim), E_OFFL);
	/* csum_blank without segmentation */
	load(g_pkt_pre, sizeof(g_pkt_pre));
	m.u.packet.flags |= NC2_PACKET_FLAG_csum_blank;
	m.u.packet.csum_start = 34;
	m.u.packet.csum_offset = 16;
	lim.offloads = 0;
	CHECK_RC(VALIDATE(&lim), E_OFFL);
	lim.offloads = NC2_OFFLOAD_CSUM;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
}
END_TEST

static const struct {
	uint16_t start, offset;
	int expect;
} csum_cases[] = {
    {0, 0, NC2_OK},           {3902, 0, NC2_OK},   {0, 3902, NC2_OK},        {3900, 2, NC2_OK},
    {1951, 1951, NC2_OK},     {3903, 0, E_CSUM},   {0, 3903, E_CSUM},        {3902, 1, E_CSUM},
    {1952, 1951, E_CSUM},     {3904, 0, E_CSUM},   {0xffff, 0xffff, E_CSUM}, /* 0x20000 */
    {0xfffe, 0, E_CSUM},                           /* 0x10000: 0 in 16 bits */
    {0, 0xfffe, E_CSUM},      {0xffff, 1, E_CSUM}, /* 0x10002: 2 in 16 bits */
    {0x8000, 0x8000, E_CSUM},                      /* 0x10002 */
    {0xffff, 0, E_CSUM},
};
#define N_CSUM ((int)(sizeof(csum_cases) / sizeof(csum_cases[0])))

/* csum_start + csum_offset + 2 <= total (3904 here), without overflow. */
START_TEST(test_csum_range)
{
	load(g_pkt_map, sizeof(g_pkt_map));
	m.u.packet.csum_start = csum_cases[_i].start;
	m.u.packet.csum_offset = csum_cases[_i].offset;
	int rc = VALIDATE(&lim_all);
	ck_assert_msg(rc == csum_cases[_i].expect, "start %u offset %u: %d want %d",
		      csum_cases[_i].start, csum_cases[_i].offset, rc, csum_cases[_i].expect);
}
END_TEST

START_TEST(test_csum_range_max_packet)
{
	/* total 65536: start + offset + 2 == 65536 is the last valid position,
	 * and is 0 in 16-bit arithmetic */
	nc2_frag pages[16];
	for (int i = 0; i < 16; i++)
		pages[i] = (nc2_frag){.ref = (uint32_t)i, .off = 0, .size = 4096};
	build(1, NC2_PACKET_TYPE_receiver_copy, NC2_PACKET_FLAG_csum_blank, 0, 0, 0, 65534, 0,
	      pages, 16);
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	m.u.packet.csum_start = 65533;
	m.u.packet.csum_offset = 1;
	CHECK_RC(VALIDATE(&lim_all), NC2_OK);
	m.u.packet.csum_offset = 2;
	CHECK_RC(VALIDATE(&lim_all), E_CSUM);
	m.u.packet.csum_start = 65535;
	m.u.packet.csum_offset = 0;
	CHECK_RC(VALIDATE(&lim_all), E_CSUM);
}
END_TEST

START_TEST(test_csum_fields_without_blank)
{
	load(g_pkt_small, sizeof(g_pkt_small));
	m.u.packet.csum_start = 1;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
	load(g_pkt_small, sizeof(g_pkt_small));
	m.u.packet.csum_offset = 1;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
	load(g_pkt_pre, sizeof(g_pkt_pre));
	m.u.packet.csum_start = 0xffff;
	m.u.packet.csum_offset = 0xffff;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
	/* valid offsets still need csum_blank */
	load(g_pkt_pre, sizeof(g_pkt_pre));
	m.u.packet.csum_start = 34;
	m.u.packet.csum_offset = 16;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
}
END_TEST

/* ---- segmentation ----------------------------------------------------- */

START_TEST(test_seg_type_range)
{
	static const uint8_t bad[] = {3, 4, 0x80, 0xff};
	for (size_t i = 0; i < sizeof(bad); i++) {
		load(g_pkt_map, sizeof(g_pkt_map));
		m.u.packet.seg_type = bad[i];
		int rc = VALIDATE(&lim_all);
		ck_assert_msg(rc == E_VALUE, "seg_type %u: %d", bad[i], rc);
	}
}
END_TEST

START_TEST(test_mss_without_seg)
{
	load(g_pkt_small, sizeof(g_pkt_small));
	m.u.packet.mss = 1;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
	load(g_pkt_pre, sizeof(g_pkt_pre));
	m.u.packet.mss = 0xffff;
	CHECK_RC(VALIDATE(&lim_all), E_RSVD);
}
END_TEST

START_TEST(test_tcpv4_offload)
{
	nc2_limits lim = lim_all;
	load(g_pkt_map, sizeof(g_pkt_map));
	lim.offloads = NC2_OFFLOAD_CSUM;
	CHECK_RC(VALIDATE(&lim), E_OFFL);
	lim.offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO6;
	CHECK_RC(VALIDATE(&lim), E_OFFL);
	lim.offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_LRO;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
	lim.offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO4;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
}
END_TEST

START_TEST(test_tcpv6_offload)
{
	nc2_limits lim = lim_all;
	load(g_pkt_copy, sizeof(g_pkt_copy));
	lim.offloads = NC2_OFFLOAD_CSUM;
	CHECK_RC(VALIDATE(&lim), E_OFFL);
	lim.offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO4;
	CHECK_RC(VALIDATE(&lim), E_OFFL);
	lim.offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_LRO;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
	lim.offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO6;
	CHECK_RC(VALIDATE(&lim), NC2_OK);
}
END_TEST

START_TEST(test_seg_mss_zero)
{
	load(g_pkt_map, sizeof(g_pkt_map));
	m.u.packet.mss = 0;
	CHECK_RC(VALIDATE(&lim_all), E_VALUE);
	load(g_pkt_copy, sizeof(g_pkt_copy));
	m.u.packet.mss = 0;
	CHECK_RC(VALIDATE(&lim_all), E_VALUE);
}
END_TEST

START_TEST(test_seg_without_csum_blank)
{
	load(g_pkt_map, sizeof(g_pkt_map));
	m.u.packet.flags &= (uint8_t)~NC2_PACKET_FLAG_csum_blank;
	m.u.packet.csum_start = 0;
	m.u.packet.csum_offset = 0;
	CHECK_RC(VALIDATE(&lim_all), E_CSUM);
	load(g_pkt_copy, sizeof(g_pkt_copy));
	m.u.packet.flags &= (uint8_t)~NC2_PACKET_FLAG_csum_blank;
	m.u.packet.csum_start = 0;
	m.u.packet.csum_offset = 0;
	CHECK_RC(VALIDATE(&lim_all), E_CSUM);
}
END_TEST

/* ---- API ---------------------------------------------------------------- */

START_TEST(test_validate_invalid_arg)
{
	static const uint8_t hello[] = {0x12, 0x00, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00,
					0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
	uint32_t total;
	load(g_pkt_map, sizeof(g_pkt_map));
	CHECK_RC(nc2_packet_validate(NULL, &lim_all, &total), NC2_ERR_INVALID_ARG);
	CHECK_RC(nc2_packet_validate(&m, NULL, &total), NC2_ERR_INVALID_ARG);
	/* not a PACKET */
	nc2_msg h;
	ck_assert_int_eq(nc2_msg_decode(&h, hello, sizeof(hello)), NC2_OK);
	CHECK_RC(nc2_packet_validate(&h, &lim_all, &total), NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_frag_validate)
{
	nc2_limits nost = lim_all;
	nost.features &= ~NC2_FEATURE_STICKY;
	static const uint8_t grant[] = {NC2_PACKET_TYPE_receiver_copy,
					NC2_PACKET_TYPE_receiver_map};
	for (size_t i = 0; i < sizeof(grant); i++) {
		uint8_t t = grant[i];
		nc2_frag f = {.ref = 1, .off = 0, .size = 1};
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), NC2_OK);
		f.size = 4096;
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), NC2_OK);
		f.size = 0;
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), E_FRAG);
		f = (nc2_frag){.ref = 1, .off = 4095, .size = 1};
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), NC2_OK);
		f.size = 2;
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), E_FRAG);
		f.size = 0xffff;
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), E_FRAG);
		f = (nc2_frag){.ref = 1, .off = 0xffff, .size = 2}; /* wraps to 1 in 16 bits */
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), E_FRAG);
		f = (nc2_frag){.ref = 1, .off = 5000, .size = 1};
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), E_FRAG);
		f = (nc2_frag){.ref = 1, .off = 100, .size = 100, .flags = NC2_FRAG_STICKY};
		CHECK_RC(nc2_frag_validate(&f, t, &lim_all), NC2_OK);
		CHECK_RC(nc2_frag_validate(&f, t, &nost), E_OFFL);
	}
	nc2_frag f = {.ref = 3, .off = 64, .size = 1514};
	CHECK_RC(nc2_frag_validate(&f, NC2_PACKET_TYPE_pre_posted, &lim_all), NC2_OK);
	f.size = 0;
	CHECK_RC(nc2_frag_validate(&f, NC2_PACKET_TYPE_pre_posted, &lim_all), E_FRAG);
	f.size = 1514;
	f.flags = NC2_FRAG_STICKY;
	CHECK_RC(nc2_frag_validate(&f, NC2_PACKET_TYPE_pre_posted, &lim_all), E_FRAG);
	CHECK_RC(nc2_frag_validate(&f, NC2_PACKET_TYPE_pre_posted, &nost), E_FRAG);
}
END_TEST

/* The offload checks on their own (also used by senders on their own packets). */
START_TEST(test_offload_validate)
{
	struct nc2_msg_packet p = {.id = 1, .type = NC2_PACKET_TYPE_receiver_copy, .nr_frags = 1};
	CHECK_RC(nc2_offload_validate(&p, 0, 14), NC2_OK);
	p.mss = 1;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_ALL, 14), E_RSVD);
	p.mss = 0;
	p.csum_start = 1;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_ALL, 14), E_RSVD);
	p.csum_start = 0;
	p.csum_offset = 1;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_ALL, 14), E_RSVD);

	p.flags = NC2_PACKET_FLAG_csum_blank;
	p.csum_start = 34;
	p.csum_offset = 16;
	CHECK_RC(nc2_offload_validate(&p, 0, 100), E_OFFL);
	CHECK_RC(
	    nc2_offload_validate(&p, NC2_OFFLOAD_TSO4 | NC2_OFFLOAD_TSO6 | NC2_OFFLOAD_LRO, 100),
	    E_OFFL);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM, 100), NC2_OK);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM, 52), NC2_OK);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM, 51), E_CSUM);
	p.csum_start = 0xffff;
	p.csum_offset = 0xffff;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM, 65536), E_CSUM);
	p.csum_start = 0xfffe;
	p.csum_offset = 0;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM, 65536), NC2_OK);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM, 65535), E_CSUM);

	p.csum_start = 34;
	p.csum_offset = 16;
	p.seg_type = NC2_PACKET_SEGMENTATION_TYPE_tcpv4;
	p.mss = 1448;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM, 3000), E_OFFL);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO6, 3000), E_OFFL);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO4, 3000), NC2_OK);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM | NC2_OFFLOAD_LRO, 3000), NC2_OK);
	p.seg_type = NC2_PACKET_SEGMENTATION_TYPE_tcpv6;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO4, 3000), E_OFFL);
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO6, 3000), NC2_OK);
	p.mss = 0;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_ALL, 3000), E_VALUE);
	p.mss = 1448;
	p.seg_type = 3;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_ALL, 3000), E_VALUE);
	p.seg_type = NC2_PACKET_SEGMENTATION_TYPE_tcpv4;
	p.flags = 0;
	p.csum_start = 0;
	p.csum_offset = 0;
	CHECK_RC(nc2_offload_validate(&p, NC2_OFFLOAD_ALL, 3000), E_CSUM);
}
END_TEST

START_TEST(test_range_ok)
{
	ck_assert(nc2_range_ok(0, 0, 0));
	ck_assert(!nc2_range_ok(0, 1, 0));
	ck_assert(!nc2_range_ok(1, 0, 0));
	ck_assert(nc2_range_ok(0, 4096, 4096));
	ck_assert(nc2_range_ok(4096, 0, 4096));
	ck_assert(!nc2_range_ok(4097, 0, 4096));
	ck_assert(nc2_range_ok(4095, 1, 4096));
	ck_assert(!nc2_range_ok(4095, 2, 4096));
	ck_assert(!nc2_range_ok(0, 4097, 4096));
	ck_assert(nc2_range_ok(0, 0xffffffffu, 0xffffffffu));
	ck_assert(nc2_range_ok(0xffffffffu, 0, 0xffffffffu));
	ck_assert(!nc2_range_ok(0xffffffffu, 1, 0xffffffffu));
	ck_assert(!nc2_range_ok(1, 0xffffffffu, 0xffffffffu));
	/* naive off + len would wrap to a small number and pass */
	ck_assert(!nc2_range_ok(2, 0xffffffffu, 4096));
	ck_assert(!nc2_range_ok(0x80000000u, 0x80000000u, 0xffffffffu));
	ck_assert(!nc2_range_ok(0xfffff000u, 0x2000u, 4096));
	ck_assert(!nc2_range_ok(4096, 0xfffff001u, 4096));
	ck_assert(nc2_range_ok(0x7fffffffu, 0x80000000u, 0xffffffffu));
}
END_TEST

static Suite *frag_suite(void)
{
	Suite *s = suite_create("frag");
	TCase *tc = tcase_create("valid");
	tcase_add_test(tc, test_valid_goldens);
	tcase_add_test(tc, test_valid_exact_limits);
	tcase_add_test(tc, test_valid_total_len);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, test_type_not_accepted);
	tcase_add_test(tc, test_type_out_of_range);
	tcase_add_test(tc, test_unknown_pflags);
	tcase_add_test(tc, test_small_with_frags);
	tcase_add_test(tc, test_nonsmall_without_frags);
	tcase_add_test(tc, test_id_small);
	tcase_add_test(tc, test_id_pre_posted);
	tcase_add_test(tc, test_id_grant_types_any);
	tcase_add_test(tc, test_too_many_frags);
	tcase_add_test(tc, test_frag_size_zero);
	tcase_add_loop_test(tc, test_frag_bounds, 0, N_BOUNDS);
	tcase_add_test(tc, test_sticky_pre_posted);
	tcase_add_test(tc, test_sticky_needs_feature);
	tcase_add_test(tc, test_frags_match_frag_validate);
	tcase_add_test(tc, test_small_matches_packet);
	tcase_add_test(tc, test_posted_matches_packet);
	tcase_add_test(tc, test_total_min);
	tcase_add_test(tc, test_total_max);
	tcase_add_test(tc, test_csum_needs_offload);
	tcase_add_loop_test(tc, test_csum_range, 0, N_CSUM);
	tcase_add_test(tc, test_csum_range_max_packet);
	tcase_add_test(tc, test_csum_fields_without_blank);
	tcase_add_test(tc, test_seg_type_range);
	tcase_add_test(tc, test_mss_without_seg);
	tcase_add_test(tc, test_tcpv4_offload);
	tcase_add_test(tc, test_tcpv6_offload);
	tcase_add_test(tc, test_seg_mss_zero);
	tcase_add_test(tc, test_seg_without_csum_blank);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_validate_invalid_arg);
	tcase_add_test(tc, test_frag_validate);
	tcase_add_test(tc, test_offload_validate);
	tcase_add_test(tc, test_range_ok);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(frag_suite());
}
