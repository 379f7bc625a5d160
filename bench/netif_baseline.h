/* SPDX-License-Identifier: MIT */
/*
 * The "netif way" baseline for the loopback benchmark: Xen's classic
 * fixed-slot netif rings (public io/ring.h + io/netif.h from libxen-dev)
 * driven through the same nc2 transport as libnc2, so both do the same work
 * on the same loopback grant-table model.
 *
 * TX (frontend -> backend), as netfront/netback do it:
 *   frontend: one netif_tx_request per fragment, fragments split at page
 *     boundaries, the first carrying the whole packet size, NETTXF_more_data
 *     on all but the last; a read-only grant per fragment, revoked when its
 *     response comes back; RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
 *   backend: RING_COPY_REQUEST, netback's checks (slot count, sizes,
 *     offset + size within the page), one batched map of the packet's
 *     fragments, memcpy into the caller's buffer, one batched unmap (no
 *     mapping cache, as mainline netback), responses in slot order,
 *     RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
 * RX (backend -> frontend):
 *   frontend: keeps every rx slot posted with a writable grant of one page
 *     of its RAM; on a response it revokes the grant, copies the data out
 *     into the caller's buffer, re-grants the page and re-posts the slot.
 *   backend: one rx request per page-sized chunk, one batched grant copy
 *     per packet, responses in slot order (status = octets in the slot,
 *     NETRXF_more_data on all but the last).
 *
 * The shared rings live in two granted pages of the frontend's RAM, mapped
 * once by the backend. Packets and buffers use libnc2's nc2_pkt/nc2_rxbuf
 * so the benchmark drives both implementations the same way.
 */
#ifndef NC2_BENCH_NETIF_BASELINE_H
#define NC2_BENCH_NETIF_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include <nc2/channel.h>
#include <nc2/transport.h>

#define NB_RING_SLOTS 256u /* entries per netif ring in one 4 KiB page */
#define NB_MAX_SLOTS  18u  /* XEN_NETIF_NR_SLOTS_MIN: netback's per-packet limit */
#define NB_PAGE       4096u

typedef struct nb_stats {
	uint64_t tx_packets, rx_packets, tx_slots, rx_slots;
	uint64_t grants, revokes, maps, unmaps, copy_ops, copy_segs;
	uint64_t notify_needed, errors;
} nb_stats;

typedef struct nb_front nb_front;
typedef struct nb_back nb_back;

/** Bytes of private state per endpoint (the per-slot tables). */
size_t nb_front_size(void);
size_t nb_back_size(void);

/**
 * Frontend: set up both shared rings in the two pages at \p ring_pages and
 * grant them to the peer (their grefs are returned for the backend), carve
 * NB_RING_SLOTS rx pages from \p rx_pages and post them.
 * All memory must be grantable through \p t; \p f must hold nb_front_size().
 */
int nb_front_init(nb_front *f, nc2_transport *t, uint8_t *ring_pages, uint8_t *rx_pages,
		  uint32_t ring_gref[2]);
/** Backend: map the frontend's rings. \p b must hold nb_back_size(). */
int nb_back_init(nb_back *b, nc2_transport *t, const uint32_t ring_gref[2]);

/* ---- TX: frontend -> backend ------------------------------------------ */

/** Queue one packet (in grantable memory, untouched until its cookie
 * completes). \return NC2_OK, NC2_ERR_AGAIN (ring or ids full),
 * NC2_ERR_LIMIT (more than NB_MAX_SLOTS fragments), or a transport error. */
int nb_front_send(nb_front *f, const nc2_pkt *pkt);
/** Consume TX responses, revoke their grants; collect up to \p n cookies
 * of completed packets. Ends with RING_FINAL_CHECK_FOR_RESPONSES. */
int nb_front_tx_done(nb_front *f, uint64_t *cookies, uint32_t n);
/** Backend: take up to \p n packets off the TX ring into \p bufs.
 * \return packets delivered, or a negative error (fatal, as in netback). */
int nb_back_tx_poll(nb_back *b, nc2_rxbuf *bufs, uint32_t n);

/* ---- RX: backend -> frontend ------------------------------------------ */

/** Backend: copy one packet into posted rx slots. \return NC2_OK,
 * NC2_ERR_AGAIN (not enough rx requests; req_event is armed), or an error. */
int nb_back_rx_send(nb_back *b, const nc2_pkt *pkt);
/** Frontend: take up to \p n received packets into \p bufs, re-post the
 * slots. \return packets delivered or a negative error. */
int nb_front_rx_poll(nb_front *f, nc2_rxbuf *bufs, uint32_t n);

/* ---- events ------------------------------------------------------------ */

/** Publish requests (both rings). \return 1 if the peer must be notified. */
int nb_front_flush(nb_front *f);
/** Publish responses (both rings). \return 1 if the peer must be notified. */
int nb_back_flush(nb_back *b);
/** Before sleeping: arm the event indices. \return 1 if work is pending. */
int nb_front_prepare_wait(nb_front *f);
int nb_back_prepare_wait(nb_back *b);

/* ---- teardown ---------------------------------------------------------- */

/** Backend: unmap the rings. Frontend: revoke rx and ring grants (after the
 * backend is gone) and any TX grant still outstanding. */
int nb_back_fini(nb_back *b);
int nb_front_fini(nb_front *f);

void nb_front_stats(const nb_front *f, nb_stats *s);
void nb_back_stats(const nb_back *b, nb_stats *s);

#endif /* NC2_BENCH_NETIF_BASELINE_H */
