/* SPDX-License-Identifier: MIT */
/* Shared-memory transport: private data structures (shm.c only). */
#ifndef NC2_SHM_INTERNAL_H
#define NC2_SHM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nc2/shm.h>

#include "../common/maptrack.h"

#define SHM_PAGE         NC2_SHM_PAGE_SIZE
#define SHM_GT_PAGE      1u  /* the grant table starts at page 1 */
#define SHM_MAX_RX_FDS   8u  /* fds one recvmsg takes; more is MSG_CTRUNC */
#define SHM_CAS_TRIES    64u /* compare-and-swap retries before giving up */
#define SHM_COUNT_MAX    0xffffu
#define SHM_RETRY_MS     10 /* connect retry period while nobody listens */
#define SHM_MAX_PATH     108u
#define SHM_EFD_PROC_LEN 64u

/* Map handles: rw [47], generation [46:24], slot+1 [23:0] (as loopback). */

/* A region geometry, validated; a private copy that is never re-read. */
typedef struct shm_geom {
	uint32_t role;       /* owner: NC2_ROLE_* */
	uint32_t pages;      /* whole region */
	uint32_t entries;    /* grant refs 1..entries */
	uint32_t gt_pages;   /* grant table pages, from page SHM_GT_PAGE */
	uint32_t order;      /* ring order (frontend), else 0 */
	uint32_t ring_page;  /* ring control page (frontend), else 0 */
	uint32_t area_pages; /* pages per ring payload area (frontend), else 0 */
	uint32_t gnt_page;   /* first grantable page */
	uint32_t gnt_pages;  /* grantable pages */
	size_t bytes;        /* pages * SHM_PAGE */
} shm_geom;

/* The 64-bit word at the start of a grant entry, decoded. */
typedef struct shm_gstate {
	uint16_t flags; /* NC2_SHM_GTF_* */
	uint16_t gen;
	uint16_t ro; /* read-only maps/copies in use */
	uint16_t rw; /* read-write maps/copies in use */
} shm_gstate;

/* Private flag of shm_gnt: access ended (end_access), ref kept until revoke. */
#define SHM_GNT_ENDED 0x8000u

/* The owner's private copy of one of its grant entries. */
typedef struct shm_gnt {
	uint32_t page;      /* index into the grantable pages */
	uint32_t next_free; /* free list link (0 ends the list) */
	uint16_t flags;     /* NC2_SHM_GTF_* (INUSE while allocated), SHM_GNT_ENDED */
	uint16_t gen;       /* generation of the current (or last) grant */
} shm_gnt;

/* One map of a peer grant (our maptrack). */
struct nc2_shm {
	nc2_transport tp;
	uint32_t role;
	uint8_t uuid[16];
	int sock;     /* control socket; after the handshake only for death */
	int efd;      /* our eventfd: the peer writes it, we poll it */
	int peer_efd; /* the peer's eventfd: notify writes it */
	int err;      /* sticky: NC2_ERR_PEER_GONE or _PEER_PROTO once seen */
	int dead;     /* the peer hung up: its in-use counts no longer count */
	shm_geom own, peer;
	uint8_t *own_base; /* our region, RW */
	uint8_t *peer_rw;  /* the peer's region, RW */
	uint8_t *peer_ro;  /* the peer's region, RO (read-only maps) */
	uint32_t peer_features;
	uint32_t peer_pid, peer_uid;
	nc2_ring_mem rings;
	/* our grant table (private copy) */
	shm_gnt *gnt; /* [0] unused */
	uint32_t free_head;
	uint32_t grants_active;
	/* our maps of the peer's grants */
	mt_table maps;
};

struct nc2_shm_listener {
	nc2_shm_config cfg; /* cfg.run_dir points to run_dir */
	char *run_dir;
	char path[SHM_MAX_PATH];
	int fd;
	dev_t dev;
	ino_t ino;
};

#endif /* NC2_SHM_INTERNAL_H */
