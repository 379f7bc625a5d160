/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/wire.h
 * NetChannel2 messages: numbers, octet layouts, host structs, encode/decode.
 *
 * docs/PROTOCOL.md is normative; this header mirrors it. All multi-octet
 * fields are little-endian. Decoding never casts a struct over a buffer and
 * must only be given a private copy of the message (never shared memory):
 * the decoded struct may point back into that copy for variable-length parts.
 *
 * Every message starts with a 4-octet header:
 *
 *      0     1     2     3
 *   +-----+-----+-----+-----+
 *   |type |flags|   size    |   size: whole message in octets, header
 *   +-----+-----+-----+-----+         included, multiple of 8, >= 8
 */
#ifndef NC2_WIRE_H
#define NC2_WIRE_H

#include <nc2/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- message header ---------------------------------------------------- */
#define NC2_HDR_OFF_TYPE  0
#define NC2_HDR_OFF_FLAGS 1
#define NC2_HDR_OFF_SIZE  2
#define NC2_HDR_SIZE      4
#define NC2_MSG_ALIGN     8
#define NC2_MSG_MIN_SIZE  8
#define NC2_MSG_MAX_SIZE  65528u /* largest multiple of 8 a u16 holds */

/* ---- message types (1-5, 9-17, 255 keep the original NetChannel2 numbers) */
#define NC2_MSG_SET_MAX_PACKETS              1
#define NC2_MSG_PACKET                       2
#define NC2_MSG_FINISH_PACKET                3
#define NC2_MSG_SET_OFFLOAD                  4
#define NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET 5
#define NC2_MSG_POST_BUFFERS                 6
#define NC2_MSG_RETURN_BUFFERS               7
#define NC2_MSG_CREATE_RX_QUEUE              8
#define NC2_MSG_BYPASS_FRONTEND              9
#define NC2_MSG_BYPASS_BACKEND               10
#define NC2_MSG_BYPASS_FRONTEND_READY        11
#define NC2_MSG_BYPASS_READY                 12
#define NC2_MSG_BYPASS_DISABLE               13
#define NC2_MSG_BYPASS_DISABLED              14
#define NC2_MSG_BYPASS_DETACH                15
#define NC2_MSG_BYPASS_DETACHED              16
#define NC2_MSG_SUGGEST_BYPASS               17
#define NC2_MSG_HELLO                        18
#define NC2_MSG_SET_GRANT_CACHE              19
#define NC2_MSG_UNGRANT                      20
#define NC2_MSG_UNGRANT_ACK                  21
#define NC2_MSG_MCAST                        22
#define NC2_MSG_RECLAIM_BUFFERS              23
#define NC2_MSG_FINISH_PACKETS               24
#define NC2_MSG_SMALL_PACKETS                25
#define NC2_MSG_POSTED_PACKETS               26
#define NC2_MSG_PAD                          255

/* ---- fixed sizes ------------------------------------------------------- */
#define NC2_U32_MSG_SIZE         8 /* header + one u32 (types 1,3,5,11-16,19-21,23) */
#define NC2_SET_OFFLOAD_SIZE     8
#define NC2_CREATE_RX_QUEUE_SIZE 24
#define NC2_SUGGEST_BYPASS_SIZE  16
#define NC2_HELLO_SIZE           16
#define NC2_MCAST_SIZE           16
#define NC2_U32_MSG_OFF_VALUE    4

/* ---- limits ------------------------------------------------------------ */
#define NC2_PAGE_SIZE             4096u  /* grant granularity */
#define NC2_MAX_PACKET_BYTES      65536u /* prefix + all fragments */
#define NC2_MIN_PACKET_BYTES      14u    /* an Ethernet header */
#define NC2_MAX_INLINE_BYTES      256u   /* PACKET prefix_size */
#define NC2_MAX_FRAGS_LIMIT       256u   /* largest SET_MAX_FRAGMENTS value */
#define NC2_MIN_RX_BUF_SIZE       64u    /* CREATE_RX_QUEUE buf_size bounds */
#define NC2_MAX_RX_QUEUES         64u    /* HELLO max_rx_queues bound */
#define NC2_BYPASS_MAX_RING_PAGES 16u

/*
 * HELLO (18), both directions, first message on each ring.
 *
 *      0     1     2     3     4     5     6     7
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |  18 |  0  |    16     | version_min | version_max |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |        features       | max_rx_queues|  rsvd(0)  |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 */
#define NC2_HELLO_OFF_VERSION_MIN   4
#define NC2_HELLO_OFF_VERSION_MAX   6
#define NC2_HELLO_OFF_FEATURES      8
#define NC2_HELLO_OFF_MAX_RX_QUEUES 12
#define NC2_HELLO_OFF_RSVD          14

/* Feature bits: what the sender implements. Unknown bits are ignored (not
 * an error) so that newer peers can advertise more. */
#define NC2_FEATURE_CSUM          (1u << 0)  /* checksum offload (csum_blank) */
#define NC2_FEATURE_TSO4          (1u << 1)  /* TCPv4 segmentation offload */
#define NC2_FEATURE_TSO6          (1u << 2)  /* TCPv6 segmentation offload */
#define NC2_FEATURE_LRO           (1u << 3)  /* coalesced delivery to frontend */
#define NC2_FEATURE_STICKY        (1u << 4)  /* sticky grants, grant cache */
#define NC2_FEATURE_DEFERRED_COPY (1u << 5)  /* receiver_copy to frontend */
#define NC2_FEATURE_MCAST         (1u << 6)  /* MCAST membership control */
#define NC2_FEATURE_BYPASS        (1u << 7)  /* BYPASS_* messages (9-17) */
#define NC2_FEATURE_FINISH_BATCH  (1u << 8)  /* FINISH_PACKETS (24) */
#define NC2_FEATURE_SMALL_BATCH   (1u << 9)  /* SMALL_PACKETS (25) */
#define NC2_FEATURE_LAZY_POSTS    (1u << 10) /* POST_BUFFERS wake only on wake_lazy */
#define NC2_FEATURE_POSTED_BATCH  (1u << 11) /* POSTED_PACKETS (26) */
#define NC2_FEATURE_ALL           0xfffu

/*
 * SET_OFFLOAD (4): receiver tells the sender which offloads it may use in
 * packets sent to the receiver. Each octet is 0 or 1.
 *
 *      0     1     2     3     4     5     6     7
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |  4  |  0  |     8     |csum |tso4 |tso6 | lro |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 */
#define NC2_SET_OFFLOAD_OFF_CSUM 4
#define NC2_SET_OFFLOAD_OFF_TSO4 5
#define NC2_SET_OFFLOAD_OFF_TSO6 6
#define NC2_SET_OFFLOAD_OFF_LRO  7

/* Host-side offload bitmask (also used by nc2_limits and the reloc record). */
#define NC2_OFFLOAD_CSUM (1u << 0)
#define NC2_OFFLOAD_TSO4 (1u << 1)
#define NC2_OFFLOAD_TSO6 (1u << 2)
#define NC2_OFFLOAD_LRO  (1u << 3)
#define NC2_OFFLOAD_ALL  0xfu

/*
 * PACKET (2): 24 fixed octets, nr_frags 8-octet fragment descriptors, then
 * prefix_size inline octets zero-padded to a multiple of 8. nr_frags is not
 * sent: it is (size - 24 - round8(prefix_size)) / 8.
 *
 *      0     1     2     3     4     5     6     7
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |  2  |  0  |   size    |          id           |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |ptype|pflag| seg |rsvd | prefix_size |    mss    |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   | csum_start| csum_off  |        rsvd(0)        |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   | fragment 0 ... fragment nr_frags-1            |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   | prefix (prefix_size octets) | zero pad to 8   |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 */
#define NC2_PACKET_OFF_ID          4
#define NC2_PACKET_OFF_TYPE        8
#define NC2_PACKET_OFF_FLAGS       9
#define NC2_PACKET_OFF_SEG_TYPE    10
#define NC2_PACKET_OFF_RSVD8       11
#define NC2_PACKET_OFF_PREFIX_SIZE 12
#define NC2_PACKET_OFF_MSS         14
#define NC2_PACKET_OFF_CSUM_START  16
#define NC2_PACKET_OFF_CSUM_OFFSET 18
#define NC2_PACKET_OFF_RSVD32      20
#define NC2_PACKET_OFF_FRAGS       24
#define NC2_PACKET_FIXED_SIZE      24

#define NC2_PACKET_TYPE_receiver_copy 1
#define NC2_PACKET_TYPE_pre_posted    2
#define NC2_PACKET_TYPE_receiver_map  3
#define NC2_PACKET_TYPE_small         4

#define NC2_PACKET_FLAG_csum_blank       (1u << 0)
#define NC2_PACKET_FLAG_data_validated   (1u << 1)
#define NC2_PACKET_FLAG_bypass_candidate (1u << 2)
#define NC2_PACKET_FLAG_need_event       (1u << 3)
#define NC2_PACKET_FLAGS_KNOWN           0x0fu

#define NC2_PACKET_SEGMENTATION_TYPE_none  0
#define NC2_PACKET_SEGMENTATION_TYPE_tcpv4 1
#define NC2_PACKET_SEGMENTATION_TYPE_tcpv6 2

/*
 * Fragment descriptor (8 octets). ref is a grant reference for
 * receiver_copy/receiver_map and a buffer id for pre_posted.
 *
 *      0     1     2     3     4     5     6     7
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |   size    | off_flags |          ref          |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   off_flags: bits 0-11 offset, bits 12-14 reserved (0), bit 15 STICKY
 */
#define NC2_FRAG_OFF_SIZE    0
#define NC2_FRAG_OFF_OFFSET  2
#define NC2_FRAG_OFF_REF     4
#define NC2_FRAG_SIZE        8
#define NC2_FRAG_OFFSET_MASK 0x0fffu
#define NC2_FRAG_RSVD_MASK   0x7000u
#define NC2_FRAG_WIRE_STICKY 0x8000u

#define NC2_FRAG_STICKY (1u << 0) /* nc2_frag.flags: grant may stay mapped */

/*
 * POST_BUFFERS (6), frontend -> backend: 8 octets, then count 16-octet
 * entries. size == 8 + 16 * count.
 *
 *      0     1     2     3     4     5     6     7
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |  6  |  0  |   size    |queue|rsvd |   count   |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   entry:
 *   |        buf_id         |         gref          |
 *   |  offset   |  length   |  bflags   |  rsvd(0)  |
 */
#define NC2_POST_OFF_QUEUE        4
#define NC2_POST_OFF_RSVD         5
#define NC2_POST_OFF_COUNT        6
#define NC2_POST_OFF_ENTRIES      8
#define NC2_POST_ENTRY_SIZE       16
#define NC2_POST_ENTRY_OFF_BUF_ID 0
#define NC2_POST_ENTRY_OFF_GREF   4
#define NC2_POST_ENTRY_OFF_OFFSET 8
#define NC2_POST_ENTRY_OFF_LENGTH 10
#define NC2_POST_ENTRY_OFF_FLAGS  12
#define NC2_POST_ENTRY_OFF_RSVD   14
#define NC2_POST_FLAG_STICKY      (1u << 0)
#define NC2_POST_FLAGS_KNOWN      0x1u
#define NC2_POST_MAX_COUNT        ((NC2_MSG_MAX_SIZE - NC2_POST_OFF_ENTRIES) / NC2_POST_ENTRY_SIZE)

/*
 * RETURN_BUFFERS (7), backend -> frontend: unused posted buffers come back.
 * size == round8(8 + 4 * count); a trailing pad word is zero.
 *
 *   |  7  |  0  |   size    |   count   |  rsvd(0)  |
 *   |        buf_id 0       |        buf_id 1       | ...
 */
#define NC2_RETURN_OFF_COUNT 4
#define NC2_RETURN_OFF_RSVD  6
#define NC2_RETURN_OFF_IDS   8
#define NC2_RETURN_MAX_COUNT ((NC2_MSG_MAX_SIZE - NC2_RETURN_OFF_IDS) / 4u)

/*
 * FINISH_PACKETS (24), both directions with FINISH_BATCH: FINISH_PACKET for
 * count ids. Laid out as RETURN_BUFFERS (decoded into nc2_msg.u.ret).
 */
#define NC2_FINISH_OFF_COUNT NC2_RETURN_OFF_COUNT
#define NC2_FINISH_OFF_RSVD  NC2_RETURN_OFF_RSVD
#define NC2_FINISH_OFF_IDS   NC2_RETURN_OFF_IDS
#define NC2_FINISH_MAX_COUNT NC2_RETURN_MAX_COUNT

/*
 * SMALL_PACKETS (25), both directions with SMALL_BATCH: count inline frames.
 * size == 8 + sum(NC2_SMALL_ENT_HDR + round8(len)); pads are zero.
 *
 *   | 25  |  0  |   size    |   count   |  rsvd(0)  |
 *   |    len    |pflag|rsvd | csum_start| csum_off  | data, pad | entry 1 ...
 */
#define NC2_SMALLS_OFF_COUNT          4
#define NC2_SMALLS_OFF_RSVD           6
#define NC2_SMALLS_OFF_ENTRIES        8
#define NC2_SMALL_ENT_OFF_LEN         0
#define NC2_SMALL_ENT_OFF_FLAGS       2
#define NC2_SMALL_ENT_OFF_RSVD        3
#define NC2_SMALL_ENT_OFF_CSUM_START  4
#define NC2_SMALL_ENT_OFF_CSUM_OFFSET 6
#define NC2_SMALL_ENT_HDR             8 /* data follows */

/*
 * POSTED_PACKETS (26), backend -> frontend with POSTED_BATCH: count frames,
 * each in one posted buffer from its first octet. size == 8 + 8 * count.
 *
 *   | 26  |  0  |   size    |   count   |  rsvd(0)  |
 *   |        buf_id         |    len    |pflag|rsvd |  entry 0, entry 1 ...
 */
#define NC2_POSTEDS_OFF_COUNT     NC2_SMALLS_OFF_COUNT /* one batch header */
#define NC2_POSTEDS_OFF_RSVD      NC2_SMALLS_OFF_RSVD
#define NC2_POSTEDS_OFF_ENTRIES   NC2_SMALLS_OFF_ENTRIES
#define NC2_POSTED_ENT_SIZE       8
#define NC2_POSTED_ENT_OFF_BUF_ID 0
#define NC2_POSTED_ENT_OFF_LEN    4
#define NC2_POSTED_ENT_OFF_FLAGS  6
#define NC2_POSTED_ENT_OFF_RSVD   7
#define NC2_POSTED_MAX_COUNT      ((NC2_MSG_MAX_SIZE - NC2_POSTEDS_OFF_ENTRIES) / NC2_POSTED_ENT_SIZE)

/*
 * CREATE_RX_QUEUE (8), frontend -> backend.
 *
 *      0     1     2     3     4     5     6     7
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |  8  |  0  |    24     |queue|qflag|   vlan    |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   |       buf_size        |      mac[0..3]        |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   | mac[4..5] |  rsvd(0)  |        rsvd(0)        |
 *   +-----+-----+-----+-----+-----+-----+-----+-----+
 *   vlan: 0 = any, 1..4094; mac all-zero = no MAC match.
 */
#define NC2_RXQ_OFF_QUEUE    4
#define NC2_RXQ_OFF_FLAGS    5
#define NC2_RXQ_OFF_VLAN     6
#define NC2_RXQ_OFF_BUF_SIZE 8
#define NC2_RXQ_OFF_MAC      12
#define NC2_RXQ_OFF_RSVD16   18
#define NC2_RXQ_OFF_RSVD32   20
#define NC2_RXQ_FLAG_DEFAULT (1u << 0) /* broadcast, multicast, unmatched */
#define NC2_RXQ_FLAGS_KNOWN  0x1u
#define NC2_VLAN_MAX         4094u

/*
 * BYPASS_FRONTEND (9) / BYPASS_BACKEND (10): octets 4-7 are a zero pad
 * (9) or the event channel port (10), then the common part, then
 * ring_pages producer grefs and ring_pages consumer grefs.
 * size == 32 + 8 * ring_pages.
 *
 *   |9 / 10|  0  |   size    |       pad / port       |
 *   | ring_domid| peer_domid|        handle          |
 *   |        remote_mac[0..5]           |trust|pages |
 *   |      control_gref     |        pad(0)          |
 *   | prod gref 0..pages-1 | cons gref 0..pages-1    |
 */
#define NC2_BYPASS_OFF_PORT         4
#define NC2_BYPASS_OFF_RING_DOMID   8
#define NC2_BYPASS_OFF_PEER_DOMID   10
#define NC2_BYPASS_OFF_HANDLE       12
#define NC2_BYPASS_OFF_MAC          16
#define NC2_BYPASS_OFF_TRUSTED      22
#define NC2_BYPASS_OFF_PAGES        23
#define NC2_BYPASS_OFF_CONTROL_GREF 24
#define NC2_BYPASS_OFF_PAD          28
#define NC2_BYPASS_OFF_GREFS        32

/* SUGGEST_BYPASS (17): | 17 | 0 | 16 | mac[6] | pad1 u16 (0) | pad2 u32 (0) | */
#define NC2_SUGGEST_OFF_MAC  4
#define NC2_SUGGEST_OFF_PAD1 10
#define NC2_SUGGEST_OFF_PAD2 12

/* MCAST (22), frontend -> backend: | 22 | 0 | 16 | mac[6] | op | rsvd | rsvd u32 | */
#define NC2_MCAST_OFF_MAC    4
#define NC2_MCAST_OFF_OP     10
#define NC2_MCAST_OFF_RSVD8  11
#define NC2_MCAST_OFF_RSVD32 12
#define NC2_MCAST_OP_ADD     1
#define NC2_MCAST_OP_DEL     2

/* RECLAIM_BUFFERS (23), frontend -> backend: u32 queue id, or ALL. The
 * backend stops using the queue's posted buffers and returns them all. */
#define NC2_RECLAIM_ALL 0xffffffffu

/* ---- host structs ------------------------------------------------------ */

typedef struct nc2_frag {
	uint32_t ref;  /**< grant reference, or buffer id for pre_posted */
	uint16_t off;  /**< offset in page (grant) or in posted buffer */
	uint16_t size; /**< octets, >= 1 */
	uint8_t flags; /**< NC2_FRAG_STICKY */
} nc2_frag;

typedef struct nc2_post_buf {
	uint32_t buf_id;
	uint32_t gref;
	uint16_t offset;
	uint16_t length;
	uint16_t flags; /**< NC2_POST_FLAG_* */
} nc2_post_buf;

struct nc2_msg_offload {
	uint8_t csum, tso4, tso6, lro; /**< each 0 or 1 */
};

struct nc2_msg_packet {
	uint32_t id;
	uint8_t type;     /**< NC2_PACKET_TYPE_* */
	uint8_t flags;    /**< NC2_PACKET_FLAG_* */
	uint8_t seg_type; /**< NC2_PACKET_SEGMENTATION_TYPE_* */
	uint16_t prefix_size;
	uint16_t mss;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t nr_frags;     /**< derived from size on decode */
	const uint8_t *frags;  /**< decode: wire fragments (use nc2_packet_frag) */
	const uint8_t *prefix; /**< decode: inline prefix */
};

struct nc2_msg_post {
	uint8_t queue;
	uint16_t count;
	const uint8_t *entries; /**< decode: wire entries (use nc2_post_entry) */
};

struct nc2_msg_return {
	uint16_t count;
	const uint8_t *ids; /**< decode: wire ids (use nc2_return_id) */
};

struct nc2_msg_smalls {
	uint16_t count;
	const uint8_t *entries; /**< decode: first entry (use nc2_small_entry) */
};

struct nc2_msg_posteds {
	uint16_t count;
	const uint8_t *entries; /**< decode: first entry (use nc2_posted_entry) */
};

/** One POSTED_PACKETS entry: a frame in the posted buffer buf_id. */
typedef struct nc2_posted {
	uint32_t buf_id;
	uint16_t len;  /**< NC2_MIN_PACKET_BYTES.. */
	uint8_t flags; /**< NC2_PACKET_FLAG_* */
} nc2_posted;

/** One SMALL_PACKETS entry: a frame and its packet metadata. */
typedef struct nc2_small {
	uint16_t len;  /**< 1..NC2_MAX_INLINE_BYTES */
	uint8_t flags; /**< NC2_PACKET_FLAG_* */
	uint16_t csum_start, csum_offset;
	const uint8_t *data;
} nc2_small;

struct nc2_msg_rxq {
	uint8_t queue;
	uint8_t flags; /**< NC2_RXQ_FLAG_* */
	uint16_t vlan;
	uint32_t buf_size;
	uint8_t mac[6];
};

struct nc2_msg_bypass {
	uint32_t port; /**< BYPASS_BACKEND only; 0 for BYPASS_FRONTEND */
	uint16_t ring_domid;
	uint16_t peer_domid;
	uint32_t handle;
	uint8_t remote_mac[6];
	uint8_t peer_trusted; /**< 0 or 1 */
	uint8_t ring_pages;   /**< 1..NC2_BYPASS_MAX_RING_PAGES */
	uint32_t control_gref;
	const uint8_t *grefs; /**< decode: prod then cons grefs (nc2_bypass_gref) */
};

struct nc2_msg_hello {
	uint16_t version_min;
	uint16_t version_max;
	uint32_t features; /**< NC2_FEATURE_*, unknown bits dropped on decode */
	uint16_t max_rx_queues;
};

struct nc2_msg_mcast {
	uint8_t mac[6];
	uint8_t op; /**< NC2_MCAST_OP_* */
};

/** One decoded message. Which union member is valid depends on type. */
typedef struct nc2_msg {
	uint8_t type;
	uint8_t flags; /**< header flags; no bits are defined, must be 0 */
	uint16_t size;
	union {
		uint32_t value; /**< single-u32 messages: max_packets, finish id,
				     max_frags, bypass port/handle, cache
				     entries, gref (see PROTOCOL.md) */
		struct nc2_msg_offload offload;
		struct nc2_msg_packet packet;
		struct nc2_msg_post post;
		struct nc2_msg_return ret; /**< RETURN_BUFFERS, FINISH_PACKETS */
		struct nc2_msg_smalls smalls;
		struct nc2_msg_posteds posteds;
		struct nc2_msg_rxq rxq;
		struct nc2_msg_bypass bypass;
		uint8_t suggest_mac[6];
		struct nc2_msg_hello hello;
		struct nc2_msg_mcast mcast;
	} u;
} nc2_msg;

/* ---- codec ------------------------------------------------------------- */

/**
 * Decode one message from a private copy at \p buf of \p len octets.
 * Checks everything the message itself can tell: known type, size valid for
 * the type (and consistent with counts), header flags and reserved fields
 * zero, enumerated values in range. Limits negotiated on a channel are
 * checked separately (nc2/frag.h). Pointers in \p m refer into \p buf.
 * PAD is accepted with any size >= 8 and its body is not examined.
 *
 * \return NC2_OK, NC2_ERR_INVALID_ARG (NULL, or len < NC2_HDR_SIZE), or a peer error:
 *  NC2_ERR_PEER_MSG_SIZE, NC2_ERR_PEER_MSG_TYPE, NC2_ERR_PEER_RESERVED,
 *  NC2_ERR_PEER_BAD_VALUE, NC2_ERR_PEER_PACKET_SIZE, NC2_ERR_PEER_BAD_FRAG.
 */
NC2_API int nc2_msg_decode(nc2_msg *m, const uint8_t *buf, size_t len);

/**
 * Encode a fixed-size message (every type except PACKET, POST_BUFFERS,
 * RETURN_BUFFERS, FINISH_PACKETS, SMALL_PACKETS, POSTED_PACKETS, BYPASS_FRONTEND and
 * BYPASS_BACKEND). For PAD, m->size
 * gives the length and the body is zero-filled.
 * \return octets written (> 0), NC2_ERR_NOSPACE, or NC2_ERR_INVALID_ARG when
 *  the message would not decode (bad value, variable type).
 */
NC2_API int nc2_msg_encode(const nc2_msg *m, uint8_t *buf, size_t cap);

/** Octets a PACKET with these parameters occupies, or 0 if out of range. */
NC2_API uint32_t nc2_packet_msg_size(uint32_t nr_frags, uint32_t prefix_size);

/**
 * Encode a PACKET: fixed fields from \p p (p->nr_frags and p->prefix_size
 * give the counts; p->frags and p->prefix are ignored), fragments from
 * \p frags and the inline prefix from \p prefix.
 * \return octets written, NC2_ERR_NOSPACE or NC2_ERR_INVALID_ARG.
 */
NC2_API int nc2_packet_encode(uint8_t *buf, size_t cap, const struct nc2_msg_packet *p,
			      const nc2_frag *frags, const uint8_t *prefix);

/** Fragment \p i (< nr_frags) of a decoded PACKET. */
NC2_API void nc2_packet_frag(const nc2_msg *m, uint32_t i, nc2_frag *f);

/** Encode POST_BUFFERS of \p n (1..NC2_POST_MAX_COUNT) entries. */
NC2_API int nc2_post_encode(uint8_t *buf, size_t cap, uint8_t queue, const nc2_post_buf *bufs,
			    uint32_t n);

/** Entry \p i (< count) of a decoded POST_BUFFERS. */
NC2_API void nc2_post_entry(const nc2_msg *m, uint32_t i, nc2_post_buf *b);

/** Encode RETURN_BUFFERS of \p n (1..NC2_RETURN_MAX_COUNT) ids. */
NC2_API int nc2_return_encode(uint8_t *buf, size_t cap, const uint32_t *ids, uint32_t n);

/** Id \p i (< count) of a decoded RETURN_BUFFERS or FINISH_PACKETS. */
NC2_API uint32_t nc2_return_id(const nc2_msg *m, uint32_t i);

/** Encode FINISH_PACKETS of \p n (1..NC2_FINISH_MAX_COUNT) ids. */
NC2_API int nc2_finish_encode(uint8_t *buf, size_t cap, const uint32_t *ids, uint32_t n);

/** Octets of a SMALL_PACKETS entry of \p len data octets. */
#define NC2_SMALL_ENT_SIZE(len) (NC2_SMALL_ENT_HDR + (((uint32_t)(len) + 7u) & ~7u))

/** Encode SMALL_PACKETS of \p n (>= 1) entries (len 1..256 each).
 * \return octets written, NC2_ERR_NOSPACE or NC2_ERR_INVALID_ARG. */
NC2_API int nc2_smalls_encode(uint8_t *buf, size_t cap, const nc2_small *e, uint32_t n);

/** Read the entry \p off octets after the first (0: the first) of a decoded
 * SMALL_PACKETS into \p e. \return the offset of the next entry. */
NC2_API uint32_t nc2_small_entry(const nc2_msg *m, uint32_t off, nc2_small *e);

/** Encode POSTED_PACKETS of \p n (1..NC2_POSTED_MAX_COUNT) entries.
 * \return octets written, NC2_ERR_NOSPACE or NC2_ERR_INVALID_ARG. */
NC2_API int nc2_posteds_encode(uint8_t *buf, size_t cap, const nc2_posted *e, uint32_t n);

/** Read entry \p i (< count) of a decoded POSTED_PACKETS into \p e. */
NC2_API void nc2_posted_entry(const nc2_msg *m, uint32_t i, nc2_posted *e);

/** Encode BYPASS_FRONTEND or BYPASS_BACKEND (\p type) with ring_pages grefs
 * each in \p prod and \p cons. */
NC2_API int nc2_bypass_encode(uint8_t *buf, size_t cap, uint8_t type,
			      const struct nc2_msg_bypass *b, const uint32_t *prod,
			      const uint32_t *cons);

/** Producer (\p cons == 0) or consumer gref \p i of a decoded bypass. */
NC2_API uint32_t nc2_bypass_gref(const nc2_msg *m, int cons, uint32_t i);

#ifdef __cplusplus
}
#endif

#endif /* NC2_WIRE_H */
