/* SPDX-License-Identifier: MIT */
/* Relocation state record: golden vector, round trips, decode rules. */
#include <check.h>
#include <string.h>

#include <nc2/nc2.h>

#include "testutil.h"

#define E_SIZE  NC2_ERR_PEER_MSG_SIZE
#define E_VALUE NC2_ERR_PEER_BAD_VALUE
#define E_RSVD  NC2_ERR_PEER_RESERVED
#define E_VERS  NC2_ERR_PEER_VERSION

#define LEN_ZERO ((size_t)-1) /* decode with len 0 */

/* clang-format off */
/* 2 MACs, 3 multicast entries: 20 + 2*8 + 16 + 3*8 = 76 octets. */
static const uint8_t g_reloc[] = {
	0x4e, 0x43, 0x32, 0x53, 0x01, 0x00, 0x4c, 0x00, /* "NC2S", version 1, length 76 */
	0x48, 0xe8, 0x01, 0x00, 0xe8, 0x03, 0x00, 0x00, /* rate 125000 octets / 1000 us */
	0x0a, 0x00, 0x01, 0x02,                         /* vlan 10, filter_mac 1, nr_macs 2 */
	0x02, 0x16, 0x3e, 0x00, 0x00, 0x01, 0x00, 0x00, /* mac 0 (offset 20) */
	0x02, 0x16, 0x3e, 0x00, 0x00, 0x02, 0x00, 0x00, /* mac 1 (offset 28) */
	0x01, 0x00, 0x28, 0x23, 0x0b, 0x00, 0x00, 0x00, /* (36) promisc 1, rsvd, mtu 9000, offloads */
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* (44) nr_mcast 3, rsvd16, rsvd32 */
	0x01, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x00, 0x00, /* (52) mcast 0 */
	0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, /* (60) mcast 1 */
	0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e, 0x00, 0x00, /* (68) mcast 2 */
};
/* clang-format on */

static nc2_reloc_state golden_state(void)
{
	nc2_reloc_state s;
	memset(&s, 0, sizeof(s));
	s.rate_bytes = 125000;
	s.rate_usec = 1000;
	s.vlan = 10;
	s.filter_mac = 1;
	s.nr_macs = 2;
	memcpy(s.macs[0], (const uint8_t[6]){0x02, 0x16, 0x3e, 0x00, 0x00, 0x01}, 6);
	memcpy(s.macs[1], (const uint8_t[6]){0x02, 0x16, 0x3e, 0x00, 0x00, 0x02}, 6);
	s.promisc = 1;
	s.mtu = 9000;
	s.offloads = NC2_OFFLOAD_CSUM | NC2_OFFLOAD_TSO4 | NC2_OFFLOAD_LRO;
	s.nr_mcast = 3;
	memcpy(s.mcast[0], (const uint8_t[6]){0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, 6);
	memcpy(s.mcast[1], (const uint8_t[6]){0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, 6);
	memcpy(s.mcast[2], (const uint8_t[6]){0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}, 6);
	return s;
}

static void assert_state_eq(const nc2_reloc_state *a, const nc2_reloc_state *b, int iter)
{
	ck_assert_msg(a->rate_bytes == b->rate_bytes, "%d: rate_bytes", iter);
	ck_assert_msg(a->rate_usec == b->rate_usec, "%d: rate_usec", iter);
	ck_assert_msg(a->vlan == b->vlan, "%d: vlan %u", iter, a->vlan);
	ck_assert_msg(a->filter_mac == b->filter_mac, "%d: filter_mac", iter);
	ck_assert_msg(a->nr_macs == b->nr_macs, "%d: nr_macs %u", iter, a->nr_macs);
	for (unsigned i = 0; i < b->nr_macs && i < NC2_RELOC_MAX_MACS; i++)
		ck_assert_msg(memcmp(a->macs[i], b->macs[i], 6) == 0, "%d: mac %u", iter, i);
	ck_assert_msg(a->promisc == b->promisc, "%d: promisc", iter);
	ck_assert_msg(a->mtu == b->mtu, "%d: mtu %u", iter, a->mtu);
	ck_assert_msg(a->offloads == b->offloads, "%d: offloads 0x%x", iter, a->offloads);
	ck_assert_msg(a->nr_mcast == b->nr_mcast, "%d: nr_mcast %u", iter, a->nr_mcast);
	for (unsigned i = 0; i < b->nr_mcast && i < NC2_RELOC_MAX_MCAST; i++)
		ck_assert_msg(memcmp(a->mcast[i], b->mcast[i], 6) == 0, "%d: mcast %u", iter, i);
}

static uint8_t work[4096];

/* ---- golden ------------------------------------------------------------ */

START_TEST(test_golden_layout)
{
	/* The offsets in reloc.h agree with the hand-written vector. */
	ck_assert_uint_eq(sizeof(g_reloc), 76);
	ck_assert_uint_eq(tu_get32(g_reloc + NC2_RELOC_OFF_MAGIC), NC2_RELOC_MAGIC);
	ck_assert_uint_eq(memcmp(g_reloc, "NC2S", 4), 0);
	ck_assert_uint_eq(NC2_RELOC_MAX_SIZE, 20 + 8 * 8 + 16 + 64 * 8);
}
END_TEST

START_TEST(test_golden_decode)
{
	nc2_reloc_state s, want = golden_state();
	memset(&s, 0xa5, sizeof(s));
	memcpy(work, g_reloc, sizeof(g_reloc));
	ck_assert_int_eq(nc2_reloc_decode(&s, work, sizeof(g_reloc)), NC2_OK);
	assert_state_eq(&s, &want, -1);
}
END_TEST

START_TEST(test_golden_encode)
{
	nc2_reloc_state s = golden_state();
	uint8_t out[128];
	memset(out, 0xa5, sizeof(out));
	ck_assert_uint_eq(nc2_reloc_size(&s), sizeof(g_reloc));
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(out)), (int)sizeof(g_reloc));
	TU_ASSERT_BYTES(out, g_reloc, sizeof(g_reloc));
	ck_assert_uint_eq(out[sizeof(g_reloc)], 0xa5);
	/* exact capacity */
	memset(out, 0xa5, sizeof(out));
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(g_reloc)), (int)sizeof(g_reloc));
	TU_ASSERT_BYTES(out, g_reloc, sizeof(g_reloc));
	/* garbage in unused array slots is not encoded */
	memset(s.macs[2], 0xee, 6);
	memset(s.mcast[3], 0xee, 6);
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(out)), (int)sizeof(g_reloc));
	TU_ASSERT_BYTES(out, g_reloc, sizeof(g_reloc));
}
END_TEST

START_TEST(test_encode_nospace)
{
	nc2_reloc_state s = golden_state();
	uint8_t out[128];
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(g_reloc) - 1), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_reloc_encode(&s, out, 8), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_reloc_encode(&s, out, 0), NC2_ERR_NOSPACE);
}
END_TEST

START_TEST(test_encode_invalid)
{
	nc2_reloc_state s = golden_state();
	static uint8_t out[NC2_RELOC_MAX_SIZE + 64];
	ck_assert_int_eq(nc2_reloc_encode(NULL, out, sizeof(out)), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_reloc_encode(&s, NULL, 100), NC2_ERR_INVALID_ARG);
	s.nr_macs = NC2_RELOC_MAX_MACS + 1;
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(out)), NC2_ERR_INVALID_ARG);
	s.nr_macs = 255;
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(out)), NC2_ERR_INVALID_ARG);
	s = golden_state();
	s.nr_mcast = NC2_RELOC_MAX_MCAST + 1;
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(out)), NC2_ERR_INVALID_ARG);
	s.nr_mcast = 0xffff;
	ck_assert_int_eq(nc2_reloc_encode(&s, out, sizeof(out)), NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_size)
{
	nc2_reloc_state s;
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(nc2_reloc_size(&s), 36);
	s.nr_macs = 1;
	ck_assert_uint_eq(nc2_reloc_size(&s), 44);
	s.nr_mcast = 1;
	ck_assert_uint_eq(nc2_reloc_size(&s), 52);
	s.nr_macs = NC2_RELOC_MAX_MACS;
	s.nr_mcast = NC2_RELOC_MAX_MCAST;
	ck_assert_uint_eq(nc2_reloc_size(&s), NC2_RELOC_MAX_SIZE);
	s.nr_macs = NC2_RELOC_MAX_MACS + 1;
	ck_assert_uint_eq(nc2_reloc_size(&s), 0);
	s.nr_macs = 0;
	s.nr_mcast = NC2_RELOC_MAX_MCAST + 1;
	ck_assert_uint_eq(nc2_reloc_size(&s), 0);
}
END_TEST

START_TEST(test_decode_invalid_arg)
{
	nc2_reloc_state s;
	memcpy(work, g_reloc, sizeof(g_reloc));
	ck_assert_int_eq(nc2_reloc_decode(NULL, work, sizeof(g_reloc)), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_reloc_decode(&s, NULL, sizeof(g_reloc)), NC2_ERR_INVALID_ARG);
}
END_TEST

/* ---- decode rules: break exactly one thing ---------------------------- */

struct patch {
	uint16_t off;
	uint8_t val;
};

struct mut {
	const char *name;
	size_t len; /* octets given to decode; 0 = 76 (buffer zero-extended) */
	int expect;
	int np;
	struct patch p[6];
};

/* clang-format off */
static const struct mut muts[] = {
	/* sizes */
	{"len 0", LEN_ZERO, E_SIZE, 0, {{0, 0}}},
	{"len 7", 7, E_SIZE, 0, {{0, 0}}},
	{"len 8 < length", 8, E_SIZE, 0, {{0, 0}}},
	{"len 36 < length", 36, E_SIZE, 0, {{0, 0}}},
	{"len 75 < length", 75, E_SIZE, 0, {{0, 0}}},
	{"len 80 > length", 80, NC2_OK, 0, {{0, 0}}},
	{"length 75", 0, E_SIZE, 1, {{6, 75}}},
	{"length 77", 77, E_SIZE, 1, {{6, 77}}},
	{"length 84", 84, E_SIZE, 1, {{6, 84}}},
	{"length 0x14c", 0x14c, E_SIZE, 1, {{7, 1}}},
	{"length 0", 0, E_SIZE, 1, {{6, 0}}},
	{"nr_macs 3 vs length", 0, E_SIZE, 1, {{19, 3}}},
	{"nr_macs 1 vs length", 0, E_SIZE, 1, {{19, 1}}},
	{"nr_mcast 2 vs length", 0, E_SIZE, 1, {{44, 2}}},
	{"nr_mcast 4 vs length", 0, E_SIZE, 1, {{44, 4}}},
	/* header */
	{"magic octet 0", 0, E_VALUE, 1, {{0, 0x4f}}},
	{"magic octet 3", 0, E_VALUE, 1, {{3, 0x00}}},
	{"magic byte-swapped", 0, E_VALUE, 4, {{0, 0x53}, {1, 0x32}, {2, 0x43}, {3, 0x4e}}},
	{"version 0", 0, E_VERS, 1, {{4, 0}}},
	{"version 2", 0, E_VERS, 1, {{4, 2}}},
	{"version 0x101", 0, E_VERS, 1, {{5, 1}}},
	/* privileged */
	{"filter_mac 0", 0, NC2_OK, 1, {{18, 0}}},
	{"filter_mac 2", 0, E_VALUE, 1, {{18, 2}}},
	{"filter_mac 0xff", 0, E_VALUE, 1, {{18, 0xff}}},
	{"vlan 0", 0, NC2_OK, 1, {{16, 0}}},
	{"vlan 4094", 0, NC2_OK, 2, {{16, 0xfe}, {17, 0x0f}}},
	{"vlan 4095", 0, E_VALUE, 2, {{16, 0xff}, {17, 0x0f}}},
	{"vlan 0xffff", 0, E_VALUE, 2, {{16, 0xff}, {17, 0xff}}},
	{"rate_usec 0 with rate_bytes", 0, E_VALUE, 2, {{12, 0}, {13, 0}}},
	{"rate 0 / 0", 0, NC2_OK, 5, {{8, 0}, {9, 0}, {10, 0}, {12, 0}, {13, 0}}},
	{"rate_bytes 0, usec set", 0, NC2_OK, 3, {{8, 0}, {9, 0}, {10, 0}}},
	{"mac 0 multicast", 0, E_VALUE, 1, {{20, 0x03}}},
	{"mac 1 multicast 01", 0, E_VALUE, 1, {{28, 0x01}}},
	{"mac 1 broadcast", 0, E_VALUE, 4, {{28, 0xff}, {29, 0xff}, {30, 0xff}, {31, 0xff}}},
	{"mac 0 all-zero", 0, E_VALUE, 4, {{20, 0}, {21, 0}, {22, 0}, {25, 0}}},
	{"mac 0 pad 0", 0, E_RSVD, 1, {{26, 1}}},
	{"mac 0 pad 1", 0, E_RSVD, 1, {{27, 0x80}}},
	{"mac 1 pad 1", 0, E_RSVD, 1, {{35, 1}}},
	/* unprivileged */
	{"promisc 0", 0, NC2_OK, 1, {{36, 0}}},
	{"promisc 2", 0, E_VALUE, 1, {{36, 2}}},
	{"promisc 0x80", 0, E_VALUE, 1, {{36, 0x80}}},
	{"rsvd8", 0, E_RSVD, 1, {{37, 1}}},
	{"mtu 0", 0, NC2_OK, 2, {{38, 0}, {39, 0}}},
	{"mtu 68", 0, NC2_OK, 2, {{38, 68}, {39, 0}}},
	{"mtu 65535", 0, NC2_OK, 2, {{38, 0xff}, {39, 0xff}}},
	{"mtu 67", 0, E_VALUE, 2, {{38, 67}, {39, 0}}},
	{"mtu 1", 0, E_VALUE, 2, {{38, 1}, {39, 0}}},
	{"offloads all known", 0, NC2_OK, 1, {{40, 0x0f}}},
	{"offloads 0x10", 0, E_RSVD, 1, {{40, 0x1b}}},
	{"offloads 0x100", 0, E_RSVD, 1, {{41, 0x01}}},
	{"offloads 0x80000000", 0, E_RSVD, 1, {{43, 0x80}}},
	{"rsvd16 lo", 0, E_RSVD, 1, {{46, 1}}},
	{"rsvd16 hi", 0, E_RSVD, 1, {{47, 0x80}}},
	{"rsvd32 0", 0, E_RSVD, 1, {{48, 1}}},
	{"rsvd32 3", 0, E_RSVD, 1, {{51, 0x80}}},
	{"mcast 0 unicast", 0, E_VALUE, 1, {{52, 0x00}}},
	{"mcast 2 unicast 02", 0, E_VALUE, 1, {{68, 0x02}}},
	{"mcast 1 pad 0", 0, E_RSVD, 1, {{66, 1}}},
	{"mcast 0 pad 1", 0, E_RSVD, 1, {{59, 0x80}}},
	{"mcast 2 pad 1", 0, E_RSVD, 1, {{75, 1}}},
};
/* clang-format on */
#define N_MUTS ((int)(sizeof(muts) / sizeof(muts[0])))

START_TEST(test_decode_rule)
{
	const struct mut *c = &muts[_i];
	nc2_reloc_state s;
	memset(work, 0, 512);
	memcpy(work, g_reloc, sizeof(g_reloc));
	for (int k = 0; k < c->np; k++)
		work[c->p[k].off] = c->p[k].val;
	size_t len = c->len == LEN_ZERO ? 0 : c->len ? c->len : sizeof(g_reloc);
	int rc = nc2_reloc_decode(&s, work, len);
	ck_assert_msg(rc == c->expect, "%s: got %d (%s), want %d (%s)", c->name, rc,
		      nc2_strerror(rc), c->expect, nc2_strerror(c->expect));
}
END_TEST

/* Hand-built record with nr_macs MACs and nr_mcast multicast entries and a
 * consistent length (counts may exceed the maxima). Returns the length. */
static size_t build_record(uint8_t *b, unsigned nr_macs, unsigned nr_mcast)
{
	size_t u = 20 + 8 * (size_t)nr_macs;
	size_t len = u + 16 + 8 * (size_t)nr_mcast;
	memset(b, 0, len);
	memcpy(b, "NC2S", 4);
	tu_put16(b + 4, 1);
	tu_put16(b + 6, (uint16_t)len);
	b[19] = (uint8_t)nr_macs;
	for (unsigned i = 0; i < nr_macs; i++) {
		b[20 + 8 * i] = 0x02;
		b[20 + 8 * i + 5] = (uint8_t)(i + 1);
	}
	tu_put16(b + u + 8, (uint16_t)nr_mcast);
	for (unsigned i = 0; i < nr_mcast; i++) {
		b[u + 16 + 8 * i] = 0x01;
		b[u + 16 + 8 * i + 5] = (uint8_t)i;
	}
	return len;
}

START_TEST(test_decode_counts)
{
	nc2_reloc_state s;
	size_t len;

	len = build_record(work, 0, 0);
	ck_assert_uint_eq(len, 36);
	ck_assert_int_eq(nc2_reloc_decode(&s, work, len), NC2_OK);
	ck_assert_uint_eq(s.nr_macs, 0);
	ck_assert_uint_eq(s.nr_mcast, 0);

	len = build_record(work, NC2_RELOC_MAX_MACS, NC2_RELOC_MAX_MCAST);
	ck_assert_uint_eq(len, NC2_RELOC_MAX_SIZE);
	ck_assert_int_eq(nc2_reloc_decode(&s, work, len), NC2_OK);
	ck_assert_uint_eq(s.nr_macs, NC2_RELOC_MAX_MACS);
	ck_assert_uint_eq(s.nr_mcast, NC2_RELOC_MAX_MCAST);
	ck_assert_uint_eq(s.macs[7][5], 8);
	ck_assert_uint_eq(s.mcast[63][5], 63);

	/* too many MACs / multicast entries, with a length that matches */
	len = build_record(work, NC2_RELOC_MAX_MACS + 1, 0);
	ck_assert_int_eq(nc2_reloc_decode(&s, work, len), E_VALUE);
	len = build_record(work, 255, 0);
	ck_assert_int_eq(nc2_reloc_decode(&s, work, len), E_VALUE);
	len = build_record(work, 0, NC2_RELOC_MAX_MCAST + 1);
	ck_assert_int_eq(nc2_reloc_decode(&s, work, len), E_VALUE);
	len = build_record(work, 1, 300);
	ck_assert_int_eq(nc2_reloc_decode(&s, work, len), E_VALUE);
}
END_TEST

/* ---- round trips ------------------------------------------------------- */

START_TEST(test_roundtrip_random)
{
	tu_rng r;
	static uint8_t a[NC2_RELOC_MAX_SIZE], b[NC2_RELOC_MAX_SIZE];
	tu_rng_seed(&r, 0x72656c6f63217321ull);
	for (int iter = 0; iter < 10000; iter++) {
		nc2_reloc_state s, d;
		memset(&s, 0, sizeof(s));
		s.rate_bytes = (tu_u32(&r) & 1) ? tu_u32(&r) : 0;
		s.rate_usec = s.rate_bytes ? tu_range(&r, 1, 0xffffffffu) : tu_u32(&r);
		s.vlan = (uint16_t)tu_range(&r, 0, 4094);
		s.filter_mac = (uint8_t)(tu_u32(&r) & 1);
		s.nr_macs = (uint8_t)tu_range(&r, 0, NC2_RELOC_MAX_MACS);
		for (unsigned i = 0; i < s.nr_macs; i++) {
			tu_fill(&r, s.macs[i], 6);
			s.macs[i][0] &= 0xfe;
			s.macs[i][1] |= 0x01; /* never all-zero */
		}
		s.promisc = (uint8_t)(tu_u32(&r) & 1);
		s.mtu = (tu_u32(&r) & 3) ? (uint16_t)tu_range(&r, 68, 0xffff) : 0;
		s.offloads = tu_u32(&r) & NC2_OFFLOAD_ALL;
		s.nr_mcast = (uint16_t)tu_range(&r, 0, NC2_RELOC_MAX_MCAST);
		for (unsigned i = 0; i < s.nr_mcast; i++) {
			tu_fill(&r, s.mcast[i], 6);
			s.mcast[i][0] |= 0x01;
		}
		uint32_t size = nc2_reloc_size(&s);
		ck_assert_uint_eq(size, 36 + 8u * s.nr_macs + 8u * s.nr_mcast);
		int n = nc2_reloc_encode(&s, a, sizeof(a));
		ck_assert_msg(n == (int)size, "iter %d: encode %d", iter, n);
		memset(&d, 0xa5, sizeof(d));
		int rc = nc2_reloc_decode(&d, a, (size_t)n);
		ck_assert_msg(rc == NC2_OK, "iter %d: decode %d", iter, rc);
		assert_state_eq(&d, &s, iter);
		ck_assert_int_eq(nc2_reloc_encode(&d, b, sizeof(b)), n);
		TU_ASSERT_BYTES(b, a, (size_t)n);
	}
}
END_TEST

static Suite *reloc_suite(void)
{
	Suite *s = suite_create("reloc");
	TCase *tc = tcase_create("golden");
	tcase_add_test(tc, test_golden_layout);
	tcase_add_test(tc, test_golden_decode);
	tcase_add_test(tc, test_golden_encode);
	tcase_add_test(tc, test_encode_nospace);
	tcase_add_test(tc, test_encode_invalid);
	tcase_add_test(tc, test_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, test_decode_invalid_arg);
	tcase_add_loop_test(tc, test_decode_rule, 0, N_MUTS);
	tcase_add_test(tc, test_decode_counts);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip_random);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(reloc_suite());
}
