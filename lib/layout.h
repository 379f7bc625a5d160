/* SPDX-License-Identifier: MIT */
/*
 * Private: size arithmetic for footprint queries (the structures the core
 * lays out in caller memory): a sum that would wrap yields 0, which every
 * footprint query reports as "invalid configuration".
 */
#ifndef NC2_LIB_LAYOUT_H
#define NC2_LIB_LAYOUT_H

#include <stddef.h>

/* a + b, or 0 (never a valid size here) on overflow. */
static inline size_t nc2_add_size(size_t a, size_t b)
{
	return a > (size_t)-1 - b ? 0 : a + b;
}

/* Round up to 8 octets; 0 on overflow. */
static inline size_t nc2_align8(size_t v)
{
	size_t r = nc2_add_size(v, 7);
	return r == 0 ? 0 : r & ~(size_t)7;
}

#endif /* NC2_LIB_LAYOUT_H */
