/* SPDX-License-Identifier: MIT */
/*
 * Private: explicit little-endian load/store on byte buffers. Alignment-free
 * and independent of host byte order; compilers fold these to single moves.
 */
#ifndef NC2_LIB_LE_H
#define NC2_LIB_LE_H

#include <stdint.h>
#include <string.h>

/* On a little-endian host the wire order is the host's: one unaligned move.
 * (The byte-by-byte forms are folded to moves too, but only while no load
 * that may alias the buffer sits between the bytes.) */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NC2_LE_HOST 1
#else
#define NC2_LE_HOST 0
#endif

static inline uint16_t nc2_get_le16(const uint8_t *p)
{
	if (NC2_LE_HOST) {
		uint16_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t nc2_get_le32(const uint8_t *p)
{
	if (NC2_LE_HOST) {
		uint32_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t nc2_get_le64(const uint8_t *p)
{
	return (uint64_t)nc2_get_le32(p) | (uint64_t)nc2_get_le32(p + 4) << 32;
}

static inline void nc2_put_le16(uint8_t *p, uint16_t v)
{
	if (NC2_LE_HOST) {
		memcpy(p, &v, sizeof(v));
		return;
	}
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void nc2_put_le32(uint8_t *p, uint32_t v)
{
	if (NC2_LE_HOST) {
		memcpy(p, &v, sizeof(v));
		return;
	}
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Round up to the 8-octet message alignment; v is at most 2^16 here. */
static inline uint32_t nc2_round8(uint32_t v)
{
	return (v + 7u) & ~7u;
}

#endif /* NC2_LIB_LE_H */
