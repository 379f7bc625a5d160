/* SPDX-License-Identifier: MIT */
/* Loopback transport: private data structures (loopback.c only). */
#ifndef NC2_LO_INTERNAL_H
#define NC2_LO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <nc2/loopback.h>

#include "../common/maptrack.h"

#define LO_PAGE_SHIFT 12u
#define LO_PAGE_SIZE  4096u

/* Limits: domids stay below Xen's DOMID_FIRST_RESERVED (0x7ff0). */
#define LO_MAX_DOMAINS     0x7ff0u
#define LO_MAX_PAGES       (1u << 20) /* 4 GiB of RAM per domain */
#define LO_MAX_GRANTS      (1u << 24)
#define LO_TRANS_DEPTH_MAX 8u /* longest chain of transitive grants followed */

/* Grant entry flags (internal). */
#define LO_GNT_INUSE      (1u << 0)
#define LO_GNT_READONLY   (1u << 1)
#define LO_GNT_STICKY     (1u << 2)
#define LO_GNT_TRANSITIVE (1u << 3)
#define LO_GNT_ENDED      (1u << 4) /* access ended, ref kept until revoke */

typedef struct lo_grant {
	uint32_t flags;     /* LO_GNT_* */
	uint16_t to;        /* domain the entry is granted to */
	uint16_t src_dom;   /* transitive: source domain */
	uint32_t frame;     /* page index in the granter's RAM (not transitive) */
	uint32_t src_gref;  /* transitive: source domain's grant */
	uint32_t map_ro;    /* read-only maps in use */
	uint32_t map_rw;    /* read-write maps in use */
	uint32_t next_free; /* free list link (0 ends the list) */
} lo_grant;

typedef struct lo_domain {
	uint8_t *ram; /* pages * LO_PAGE_SIZE, page-aligned */
	uint32_t pages;
	lo_grant *grants; /* [0] unused; refs 1..nr_grants */
	uint32_t nr_grants;
	uint32_t free_head; /* 0: table full */
	uint32_t grants_active;
	mt_table maps; /* grants this domain has mapped (tag: the granter) */
} lo_domain;

typedef struct lo_fail {
	uint64_t nth;  /* 0: disarmed */
	uint64_t seen; /* elements counted since armed */
	int err;
} lo_fail;

typedef struct lo_ep {
	nc2_lo_world *w;
	struct lo_ep *next;    /* world's list, in open order */
	struct lo_ep *partner; /* endpoint peer -> local, or NULL */
	uint16_t local, peer;
	uint32_t events; /* notifications received, not yet taken */
	lo_fail fail[NC2_TP_NR_OPS];
	uint32_t drop; /* notifications still to drop */
	int delay;     /* hold notifications */
	uint32_t held; /* notifications held */
} lo_ep;

typedef struct lo_ring_slot {
	uint32_t gref;   /* fe's grant (0: revoked) */
	uint64_t handle; /* be's map handle (0: unmapped) */
	void *addr;      /* be's mapping */
} lo_ring_slot;

typedef struct lo_ring {
	struct lo_ring *next;
	uint16_t fe, be;
	uint32_t fe_page, order, npages;
	lo_ring_slot slot[]; /* control page, ring 0 pages, ring 1 pages */
} lo_ring;

struct nc2_lo_world {
	lo_domain *domains;
	uint32_t max_domains;
	uint32_t nr_domains;
	uint64_t seed; /* for fault modes that draw random choices */
	lo_ep *eps;
	lo_ring *rings;
};

#endif /* NC2_LO_INTERNAL_H */
