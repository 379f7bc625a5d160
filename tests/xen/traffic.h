/* SPDX-License-Identifier: MIT */
/* Test traffic shared by nc2-xen-front and nc2-xen-back: frames of mixed
 * sizes whose every octet follows from (direction, sequence number). */
#ifndef NC2_XEN_TRAFFIC_H
#define NC2_XEN_TRAFFIC_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nc2/ring.h>

static const uint8_t tr_fe_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
static const uint8_t tr_be_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};

/* 64 .. 9000 octets: inline (<= small_max), header pool + granted pages,
 * one or several posted buffers. */
static const uint32_t tr_sizes[] = {64,   65,   100,  128,  256,  257,  512,  1000,
				    1024, 1500, 1514, 2048, 3000, 4000, 4096, 4097,
				    5000, 6000, 7000, 8192, 8999, 9000};
#define TR_NSIZES   (sizeof(tr_sizes) / sizeof(tr_sizes[0]))
#define TR_MAX_SIZE 9000u

enum { TR_FE_TO_BE = 1, TR_BE_TO_FE = 2 };

static inline uint32_t tr_len(uint32_t seq)
{
	return tr_sizes[seq % TR_NSIZES];
}

static inline uint8_t tr_byte(uint32_t dir, uint32_t seq, uint32_t i)
{
	uint32_t x = (seq * 2654435761u) ^ (i * 40503u) ^ (dir << 29);
	return (uint8_t)(x ^ (x >> 11) ^ (x >> 19));
}

static inline void tr_fill(uint8_t *p, uint32_t dir, uint32_t seq)
{
	uint32_t len = tr_len(seq);
	memcpy(p, dir == TR_FE_TO_BE ? tr_be_mac : tr_fe_mac, 6);
	memcpy(p + 6, dir == TR_FE_TO_BE ? tr_fe_mac : tr_be_mac, 6);
	p[12] = 0x88;
	p[13] = 0xb5;
	p[14] = (uint8_t)seq;
	p[15] = (uint8_t)(seq >> 8);
	p[16] = (uint8_t)(seq >> 16);
	p[17] = (uint8_t)(seq >> 24);
	for (uint32_t i = 18; i < len; i++)
		p[i] = tr_byte(dir, seq, i);
}

/* 1 when \p p (len octets) is exactly frame \p want of direction \p dir. */
static inline int tr_check(const uint8_t *p, uint32_t len, uint32_t dir, uint32_t want)
{
	if (len < 18 || len != tr_len(want))
		return 0;
	uint32_t seq = (uint32_t)p[14] | ((uint32_t)p[15] << 8) | ((uint32_t)p[16] << 16) |
		       ((uint32_t)p[17] << 24);
	if (seq != want || p[12] != 0x88 || p[13] != 0xb5)
		return 0;
	if (memcmp(p, dir == TR_FE_TO_BE ? tr_be_mac : tr_fe_mac, 6) != 0)
		return 0;
	for (uint32_t i = 18; i < len; i++)
		if (p[i] != tr_byte(dir, seq, i))
			return 0;
	return 1;
}

/* What is wrong with a frame that failed tr_check, for the log. */
static inline void tr_describe(char *out, size_t cap, const uint8_t *p, uint32_t len, uint32_t dir,
			       uint32_t want)
{
	uint32_t seq = len >= 18 ? (uint32_t)p[14] | ((uint32_t)p[15] << 8) |
				       ((uint32_t)p[16] << 16) | ((uint32_t)p[17] << 24)
				 : 0;
	long at = -1;
	uint8_t got = 0, exp = 0;
	uint8_t ref[TR_MAX_SIZE];
	if (want < UINT32_MAX) {
		tr_fill(ref, dir, want);
		uint32_t n = len < tr_len(want) ? len : tr_len(want);
		for (uint32_t i = 0; i < n; i++)
			if (p[i] != ref[i]) {
				at = (long)i;
				got = p[i];
				exp = ref[i];
				break;
			}
	}
	long run = 0;
	if (at >= 0)
		for (uint32_t i = (uint32_t)at; i < len && i < tr_len(want) && p[i] != ref[i]; i++)
			run++;
	snprintf(out, cap,
		 "expected seq %u len %u, got len %u seq field %u; first bad octet %ld "
		 "(got 0x%02x want 0x%02x), %ld bad in a row",
		 want, tr_len(want), len, seq, at, got, exp, run);
}

/* The index words of both rings as they are in shared memory now (ring.h
 * offsets; little-endian on the wire, x86 here), for a failure report. */
static inline void tr_ring_words(char *out, size_t cap, const uint8_t *ctrl)
{
	uint32_t w[8];
	static const uint32_t off[4] = {NC2_RING_OFF_PROD, NC2_RING_OFF_CONS_EVENT,
					NC2_RING_OFF_CONS, NC2_RING_OFF_PROD_EVENT};
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 4; i++)
			memcpy(&w[r * 4 + i], ctrl + r * NC2_RING_CTRL_STRIDE + off[i], 4);
	snprintf(out, cap,
		 "fe->be prod %u cons_event %u cons %u prod_event %u; "
		 "be->fe prod %u cons_event %u cons %u prod_event %u",
		 w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
}

#endif /* NC2_XEN_TRAFFIC_H */
