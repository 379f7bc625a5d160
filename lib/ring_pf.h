/* SPDX-License-Identifier: MIT */
/*
 * Private: the producer asks for the ring's next lines before it writes
 * them. Each line of the ring was last read by the consumer, so it sits in
 * the other core's cache; a store to it waits for the line to come over
 * (about 500 ns in the slow placement) and holds up every store behind it.
 * Asked for a few lines ahead, the transfers overlap with the work between.
 */
#ifndef NC2_LIB_RING_PF_H
#define NC2_LIB_RING_PF_H

#include <stdint.h>

#include <nc2/ring.h>

#include "compiler.h"

/* How far past what it writes the producer has its lines asked for: when
 * less than RING_PF_AHEAD is left, up to twice that (so a call in four
 * lines of writing asks for four lines at once). */
#define RING_PF_AHEAD 256u
#define RING_PF_LINE  64u

/* Ask for lines up to \p end (as prod_pvt), those the consumer is known to
 * be done with. Out of line: most calls need none. ring.c. */
void nc2_ring_prefetch_to(nc2_ring_prod *r, uint32_t end);

/* The producer is about to write up to \p upto octets past its committed
 * messages (prod_pvt). */
static inline void ring_prefetch(nc2_ring_prod *r, uint32_t upto)
{
	uint32_t end = r->prod_pvt + upto + RING_PF_AHEAD;
	if ((int32_t)(end - r->pf) > 0)
		nc2_ring_prefetch_to(r, end + RING_PF_AHEAD);
}

#endif /* NC2_LIB_RING_PF_H */
