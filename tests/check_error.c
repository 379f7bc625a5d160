/* SPDX-License-Identifier: MIT */
/* Status codes, nc2_strerror(), nc2_is_peer_error() and nc2_version(). */
#include <check.h>
#include <limits.h>
#include <string.h>

#include <nc2/nc2.h>

#include "testutil.h"

/* Every code in enum nc2_status (include/nc2/common.h). */
static const int all_codes[] = {
    NC2_OK,
    NC2_ERR_AGAIN,
    NC2_ERR_INVALID_ARG,
    NC2_ERR_NOSPACE,
    NC2_ERR_UNSUPPORTED,
    NC2_ERR_TRANSPORT,
    NC2_ERR_STATE,
    NC2_ERR_LIMIT,
    NC2_ERR_VERSION,
    NC2_ERR_NOT_FOUND,
    NC2_ERR_PEER_PROTO,
    NC2_ERR_PEER_RING_INDEX,
    NC2_ERR_PEER_MSG_SIZE,
    NC2_ERR_PEER_MSG_TYPE,
    NC2_ERR_PEER_RESERVED,
    NC2_ERR_PEER_BAD_VALUE,
    NC2_ERR_PEER_BAD_FRAG,
    NC2_ERR_PEER_TOO_MANY_FRAGS,
    NC2_ERR_PEER_PACKET_SIZE,
    NC2_ERR_PEER_BAD_CSUM,
    NC2_ERR_PEER_OFFLOAD,
    NC2_ERR_PEER_BAD_ID,
    NC2_ERR_PEER_LIMIT,
    NC2_ERR_PEER_VERSION,
    NC2_ERR_PEER_GRANT,
    NC2_ERR_PEER_GONE,
    NC2_ERR_PEER_SETUP,
};
#define N_CODES (sizeof(all_codes) / sizeof(all_codes[0]))

/* Values that are not status codes. */
static const int unknown_codes[] = {
    1, 2, 100, INT_MAX, -10, -50, -99, -117, -118, -200, -1000, INT_MIN,
};
#define N_UNKNOWN (sizeof(unknown_codes) / sizeof(unknown_codes[0]))

START_TEST(test_codes_values)
{
	/* The numbering is part of the ABI. */
	ck_assert_int_eq(NC2_OK, 0);
	for (int i = 1; i <= 9; i++)
		ck_assert_int_eq(all_codes[i], -i);
	for (int i = 10; i < (int)N_CODES; i++)
		ck_assert_int_eq(all_codes[i], -100 - (i - 10));
}
END_TEST

START_TEST(test_strerror_nonempty)
{
	const char *s = nc2_strerror(all_codes[_i]);
	ck_assert_msg(s != NULL, "code %d: NULL", all_codes[_i]);
	ck_assert_msg(s[0] != '\0', "code %d: empty string", all_codes[_i]);
	/* Stable: same pointer or at least same text on a second call. */
	ck_assert_str_eq(nc2_strerror(all_codes[_i]), s);
}
END_TEST

START_TEST(test_strerror_distinct)
{
	for (size_t i = 0; i < N_CODES; i++)
		for (size_t j = i + 1; j < N_CODES; j++)
			ck_assert_msg(
			    strcmp(nc2_strerror(all_codes[i]), nc2_strerror(all_codes[j])) != 0,
			    "codes %d and %d share the text \"%s\"", all_codes[i], all_codes[j],
			    nc2_strerror(all_codes[i]));
}
END_TEST

START_TEST(test_strerror_unknown)
{
	int c = unknown_codes[_i];
	const char *s = nc2_strerror(c);
	ck_assert_msg(s != NULL, "code %d: NULL", c);
	ck_assert_msg(s[0] != '\0', "code %d: empty string", c);
	for (size_t j = 0; j < N_CODES; j++)
		ck_assert_msg(strcmp(s, nc2_strerror(all_codes[j])) != 0,
			      "unknown code %d reads like code %d: \"%s\"", c, all_codes[j], s);
}
END_TEST

START_TEST(test_is_peer_error)
{
	ck_assert_int_eq(nc2_is_peer_error(NC2_OK), 0);
	for (int c = NC2_ERR_AGAIN; c >= NC2_ERR_NOT_FOUND; c--)
		ck_assert_msg(!nc2_is_peer_error(c), "code %d is caller-side", c);
	ck_assert_int_eq(nc2_is_peer_error(-99), 0);
	ck_assert_int_eq(nc2_is_peer_error(1), 0);
	for (int c = NC2_ERR_PEER_PROTO; c >= NC2_ERR_PEER_SETUP; c--)
		ck_assert_msg(nc2_is_peer_error(c), "code %d is a peer error", c);
	/* Everything at or below PEER_PROTO counts, even codes added later. */
	ck_assert(nc2_is_peer_error(-117));
	ck_assert(nc2_is_peer_error(INT_MIN));
}
END_TEST

START_TEST(test_version)
{
	const nc2_version_info *v = nc2_version();
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_eq(nc2_version(), v);
	ck_assert_uint_ge(v->age, 1);
	ck_assert_uint_eq(v->version_num, NC2_VERSION_NUM);
	ck_assert_ptr_nonnull(v->version);
	ck_assert_str_eq(v->version, NC2_VERSION);
	ck_assert_uint_eq(v->proto_min, NC2_PROTO_VERSION_MIN);
	ck_assert_uint_eq(v->proto_max, NC2_PROTO_VERSION);
	ck_assert_uint_le(v->proto_min, v->proto_max);
	ck_assert_uint_eq(v->transport_ops_version, NC2_TRANSPORT_OPS_VERSION);
}
END_TEST

START_TEST(test_version_macros)
{
	/* NC2_VERSION_NUM is 0xMMmmpp and agrees with the NC2_VERSION string. */
	unsigned maj = 0, min = 0, pat = 0;
	const char *p = NC2_VERSION;
	unsigned *parts[3] = {&maj, &min, &pat};
	for (int k = 0; k < 3; k++) {
		ck_assert_msg(*p >= '0' && *p <= '9', "NC2_VERSION \"%s\" malformed", NC2_VERSION);
		while (*p >= '0' && *p <= '9')
			*parts[k] = *parts[k] * 10 + (unsigned)(*p++ - '0');
		if (k < 2) {
			ck_assert_msg(*p == '.', "NC2_VERSION \"%s\" malformed", NC2_VERSION);
			p++;
		}
	}
	ck_assert_uint_eq(NC2_VERSION_NUM, (maj << 16) | (min << 8) | pat);
}
END_TEST

static Suite *error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("strerror");
	tcase_add_test(tc, test_codes_values);
	tcase_add_loop_test(tc, test_strerror_nonempty, 0, (int)N_CODES);
	tcase_add_test(tc, test_strerror_distinct);
	tcase_add_loop_test(tc, test_strerror_unknown, 0, (int)N_UNKNOWN);
	tcase_add_test(tc, test_is_peer_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("version");
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_version_macros);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(error_suite());
}
