/* SPDX-License-Identifier: MIT */
/*
 * Wire codec: hand-written golden vectors for every message type, decode
 * rules with their exact error codes, encoder argument checks and
 * randomized round trips.
 */
#include <check.h>
#include <string.h>

#include <nc2/nc2.h>

#include "testutil.h"

#define V(a) a, sizeof(a)

#define E_SIZE  NC2_ERR_PEER_MSG_SIZE
#define E_TYPE  NC2_ERR_PEER_MSG_TYPE
#define E_RSVD  NC2_ERR_PEER_RESERVED
#define E_VALUE NC2_ERR_PEER_BAD_VALUE
#define E_FRAG  NC2_ERR_PEER_BAD_FRAG
#define E_PSIZE NC2_ERR_PEER_PACKET_SIZE

/* ======================================================================
 * Golden vectors, written octet by octet from the layouts in nc2/wire.h.
 * ====================================================================== */

/* clang-format off */

/* 1 SET_MAX_PACKETS, 0x12345678 */
static const uint8_t g_set_max_packets[] = {0x01, 0x00, 0x08, 0x00, 0x78, 0x56, 0x34, 0x12};
/* 3 FINISH_PACKET, id 0xdeadbeef */
static const uint8_t g_finish_packet[] = {0x03, 0x00, 0x08, 0x00, 0xef, 0xbe, 0xad, 0xde};
/* 4 SET_OFFLOAD: one vector per octet so that swapped fields show up */
static const uint8_t g_offload_csum[] = {0x04, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00};
static const uint8_t g_offload_tso4[] = {0x04, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00};
static const uint8_t g_offload_tso6[] = {0x04, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00};
static const uint8_t g_offload_lro[]  = {0x04, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01};
/* 5 SET_MAX_FRAGMENTS_PER_PACKET, 256 and 1 */
static const uint8_t g_max_frags_256[] = {0x05, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00};
static const uint8_t g_max_frags_1[]   = {0x05, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00};
/* 8 CREATE_RX_QUEUE: queue 2, DEFAULT, vlan 4094, buf_size 1500, 02:11:22:33:44:55 */
static const uint8_t g_rxq[] = {
	0x08, 0x00, 0x18, 0x00, 0x02, 0x01, 0xfe, 0x0f,
	0xdc, 0x05, 0x00, 0x00, 0x02, 0x11, 0x22, 0x33,
	0x44, 0x55, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* 11 BYPASS_FRONTEND_READY, port 0x4321 */
static const uint8_t g_bypass_fe_ready[] = {0x0b, 0x00, 0x08, 0x00, 0x21, 0x43, 0x00, 0x00};
/* 12 BYPASS_READY, pad 0 */
static const uint8_t g_bypass_ready[] = {0x0c, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00};
/* 13..16 handles */
static const uint8_t g_bypass_disable[]   = {0x0d, 0x00, 0x08, 0x00, 0x01, 0x02, 0x03, 0x04};
static const uint8_t g_bypass_disabled[]  = {0x0e, 0x00, 0x08, 0x00, 0x05, 0x06, 0x07, 0x08};
static const uint8_t g_bypass_detach[]    = {0x0f, 0x00, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff};
static const uint8_t g_bypass_detached[]  = {0x10, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x80};
/* 17 SUGGEST_BYPASS, 02:aa:bb:cc:dd:ee */
static const uint8_t g_suggest[] = {
	0x11, 0x00, 0x10, 0x00, 0x02, 0xaa, 0xbb, 0xcc,
	0xdd, 0xee, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* 18 HELLO: versions 1..0x0203, features CSUM|TSO4|LRO|STICKY|MCAST, 64 queues */
static const uint8_t g_hello[] = {
	0x12, 0x00, 0x10, 0x00, 0x01, 0x00, 0x03, 0x02,
	0x5b, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00,
};
/* 19 SET_GRANT_CACHE 1024, 20 UNGRANT / 21 UNGRANT_ACK gref 0xabcdef */
static const uint8_t g_grant_cache[] = {0x13, 0x00, 0x08, 0x00, 0x00, 0x04, 0x00, 0x00};
static const uint8_t g_ungrant[]     = {0x14, 0x00, 0x08, 0x00, 0xef, 0xcd, 0xab, 0x00};
static const uint8_t g_ungrant_ack[] = {0x15, 0x00, 0x08, 0x00, 0xef, 0xcd, 0xab, 0x00};
/* 23 RECLAIM_BUFFERS: queue 5, and all queues */
static const uint8_t g_reclaim_5[]   = {0x17, 0x00, 0x08, 0x00, 0x05, 0x00, 0x00, 0x00};
static const uint8_t g_reclaim_all[] = {0x17, 0x00, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff};
/* 22 MCAST add 01:00:5e:00:00:fb, del 33:33:00:00:00:01 */
static const uint8_t g_mcast_add[] = {
	0x16, 0x00, 0x10, 0x00, 0x01, 0x00, 0x5e, 0x00,
	0x00, 0xfb, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t g_mcast_del[] = {
	0x16, 0x00, 0x10, 0x00, 0x33, 0x33, 0x00, 0x00,
	0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* 255 PAD of 8 and 16 octets */
static const uint8_t g_pad8[] = {0xff, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t g_pad16[] = {
	0xff, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* 2 PACKET small: id 0, data_validated, 14-octet inline Ethernet header, 2 pad octets */
static const uint8_t g_pkt_small[] = {
	0x02, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, /* hdr, id 0 */
	0x04, 0x02, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, /* small, flags, seg, rsvd, prefix 14, mss */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* csum_start, csum_offset, rsvd32 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, /* prefix */
	0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, /* prefix, 2 pad */
};
/* 2 PACKET receiver_map: id 0x102, csum_blank|need_event, tcpv4, mss 1448,
 * csum 34/16, frag 0 STICKY at 0xabc, frag 1 plain */
static const uint8_t g_pkt_map[] = {
	0x02, 0x00, 0x28, 0x00, 0x02, 0x01, 0x00, 0x00,
	0x03, 0x09, 0x01, 0x00, 0x00, 0x00, 0xa8, 0x05,
	0x22, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x40, 0x00, 0xbc, 0x8a, 0x00, 0x05, 0x00, 0x00, /* size 64, off 0xabc|STICKY, ref 0x500 */
	0x00, 0x0f, 0x00, 0x01, 0x34, 0x12, 0x00, 0x00, /* size 3840, off 256, ref 0x1234 */
};
/* 2 PACKET pre_posted: data_validated, one fragment of 1514 at 64 in buffer 7 */
static const uint8_t g_pkt_pre[] = {
	0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xea, 0x05, 0x40, 0x00, 0x07, 0x00, 0x00, 0x00,
};
/* 2 PACKET receiver_copy: id 0x80000001, csum_blank|bypass_candidate, tcpv6,
 * mss 1400, csum 54/16, one fragment ending at the page end, 5 prefix octets */
static const uint8_t g_pkt_copy[] = {
	0x02, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x80,
	0x01, 0x05, 0x02, 0x00, 0x05, 0x00, 0x78, 0x05,
	0x36, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x0f, 0x98, 0xba, 0xdc, 0xfe, /* size 256, off 3840, ref 0xfedcba98 */
	0xde, 0xad, 0xbe, 0xef, 0x01, 0x00, 0x00, 0x00, /* prefix, 3 pad */
};
/* 6 POST_BUFFERS: queue 3, 2 entries */
static const uint8_t g_post[] = {
	0x06, 0x00, 0x28, 0x00, 0x03, 0x00, 0x02, 0x00,
	0x11, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, /* buf_id 0x11, gref 0x01020304 */
	0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, /* offset 256, length 2048 */
	0xd4, 0xc3, 0xb2, 0xa1, 0xff, 0x0f, 0x00, 0x00, /* buf_id 0xa1b2c3d4, gref 0xfff */
	0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, /* offset 0, length 4096, STICKY */
};
/* 7 RETURN_BUFFERS: 3 ids (pad word), 2 ids (no pad), 1 id (pad word) */
static const uint8_t g_ret3[] = {
	0x07, 0x00, 0x18, 0x00, 0x03, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t g_ret2[] = {
	0x07, 0x00, 0x10, 0x00, 0x02, 0x00, 0x00, 0x00,
	0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t g_ret1[] = {
	0x07, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* 9 BYPASS_FRONTEND, ring_pages 2 */
static const uint8_t g_bypass_fe[] = {
	0x09, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, /* pad */
	0x07, 0x00, 0x02, 0x01, 0x0d, 0xf0, 0xfe, 0xca, /* ring 7, peer 0x102, handle 0xcafef00d */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, /* mac, trusted 1, pages 2 */
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* control_gref 0x100, pad */
	0x10, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, /* prod grefs */
	0x20, 0x00, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00, /* cons grefs */
};
/* 10 BYPASS_BACKEND, ring_pages 2, port 42 */
static const uint8_t g_bypass_be[] = {
	0x0a, 0x00, 0x30, 0x00, 0x2a, 0x00, 0x00, 0x00,
	0xf0, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00, 0x02,
	0xfe, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x0d, 0x0c, 0x0b, 0x0a, 0x11, 0x10, 0x0f, 0x0e,
};

/* clang-format on */

/* ---- expected host values ------------------------------------------------ */

struct fixed_golden {
	const char *name;
	const uint8_t *vec;
	size_t len;
	nc2_msg m;
};

static const struct fixed_golden fixed_goldens[] = {
    {"SET_MAX_PACKETS", V(g_set_max_packets), {.type = 1, .size = 8, .u.value = 0x12345678}},
    {"FINISH_PACKET", V(g_finish_packet), {.type = 3, .size = 8, .u.value = 0xdeadbeef}},
    {"SET_OFFLOAD csum", V(g_offload_csum), {.type = 4, .size = 8, .u.offload = {1, 0, 0, 0}}},
    {"SET_OFFLOAD tso4", V(g_offload_tso4), {.type = 4, .size = 8, .u.offload = {0, 1, 0, 0}}},
    {"SET_OFFLOAD tso6", V(g_offload_tso6), {.type = 4, .size = 8, .u.offload = {0, 0, 1, 0}}},
    {"SET_OFFLOAD lro", V(g_offload_lro), {.type = 4, .size = 8, .u.offload = {0, 0, 0, 1}}},
    {"SET_MAX_FRAGS 256", V(g_max_frags_256), {.type = 5, .size = 8, .u.value = 256}},
    {"SET_MAX_FRAGS 1", V(g_max_frags_1), {.type = 5, .size = 8, .u.value = 1}},
    {"CREATE_RX_QUEUE",
     V(g_rxq),
     {.type = 8,
      .size = 24,
      .u.rxq = {.queue = 2,
		.flags = NC2_RXQ_FLAG_DEFAULT,
		.vlan = 4094,
		.buf_size = 1500,
		.mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}}}},
    {"BYPASS_FRONTEND_READY", V(g_bypass_fe_ready), {.type = 11, .size = 8, .u.value = 0x4321}},
    {"BYPASS_READY", V(g_bypass_ready), {.type = 12, .size = 8, .u.value = 0}},
    {"BYPASS_DISABLE", V(g_bypass_disable), {.type = 13, .size = 8, .u.value = 0x04030201}},
    {"BYPASS_DISABLED", V(g_bypass_disabled), {.type = 14, .size = 8, .u.value = 0x08070605}},
    {"BYPASS_DETACH", V(g_bypass_detach), {.type = 15, .size = 8, .u.value = 0xffffffff}},
    {"BYPASS_DETACHED", V(g_bypass_detached), {.type = 16, .size = 8, .u.value = 0x80000000}},
    {"SUGGEST_BYPASS",
     V(g_suggest),
     {.type = 17, .size = 16, .u.suggest_mac = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}}},
    {"HELLO",
     V(g_hello),
     {.type = 18,
      .size = 16,
      .u.hello = {.version_min = 1,
		  .version_max = 0x0203,
		  .features = NC2_FEATURE_CSUM | NC2_FEATURE_TSO4 | NC2_FEATURE_LRO |
			      NC2_FEATURE_STICKY | NC2_FEATURE_MCAST,
		  .max_rx_queues = 64}}},
    {"SET_GRANT_CACHE", V(g_grant_cache), {.type = 19, .size = 8, .u.value = 1024}},
    {"UNGRANT", V(g_ungrant), {.type = 20, .size = 8, .u.value = 0xabcdef}},
    {"UNGRANT_ACK", V(g_ungrant_ack), {.type = 21, .size = 8, .u.value = 0xabcdef}},
    {"MCAST add",
     V(g_mcast_add),
     {.type = 22,
      .size = 16,
      .u.mcast = {.mac = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, .op = NC2_MCAST_OP_ADD}}},
    {"MCAST del",
     V(g_mcast_del),
     {.type = 22,
      .size = 16,
      .u.mcast = {.mac = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, .op = NC2_MCAST_OP_DEL}}},
    {"RECLAIM_BUFFERS 5", V(g_reclaim_5), {.type = 23, .size = 8, .u.value = 5}},
    {"RECLAIM_BUFFERS all", V(g_reclaim_all), {.type = 23, .size = 8, .u.value = NC2_RECLAIM_ALL}},
    {"PAD 8", V(g_pad8), {.type = 255, .size = 8}},
    {"PAD 16", V(g_pad16), {.type = 255, .size = 16}},
};
#define N_FIXED ((int)(sizeof(fixed_goldens) / sizeof(fixed_goldens[0])))

static const uint8_t pfx_small[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
				      0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06};
static const uint8_t pfx_copy[5] = {0xde, 0xad, 0xbe, 0xef, 0x01};
static const nc2_frag frags_map[2] = {
    {.ref = 0x500, .off = 0xabc, .size = 64, .flags = NC2_FRAG_STICKY},
    {.ref = 0x1234, .off = 256, .size = 3840, .flags = 0},
};
static const nc2_frag frags_pre[1] = {{.ref = 7, .off = 64, .size = 1514, .flags = 0}};
static const nc2_frag frags_copy[1] = {{.ref = 0xfedcba98, .off = 3840, .size = 256, .flags = 0}};

struct pkt_golden {
	const char *name;
	const uint8_t *vec;
	size_t len;
	struct nc2_msg_packet p;
	const nc2_frag *frags;
	const uint8_t *prefix;
};

static const struct pkt_golden pkt_goldens[] = {
    {"PACKET small",
     V(g_pkt_small),
     {.id = 0,
      .type = NC2_PACKET_TYPE_small,
      .flags = NC2_PACKET_FLAG_data_validated,
      .seg_type = NC2_PACKET_SEGMENTATION_TYPE_none,
      .prefix_size = 14,
      .nr_frags = 0},
     NULL,
     pfx_small},
    {"PACKET receiver_map",
     V(g_pkt_map),
     {.id = 0x102,
      .type = NC2_PACKET_TYPE_receiver_map,
      .flags = NC2_PACKET_FLAG_csum_blank | NC2_PACKET_FLAG_need_event,
      .seg_type = NC2_PACKET_SEGMENTATION_TYPE_tcpv4,
      .prefix_size = 0,
      .mss = 1448,
      .csum_start = 34,
      .csum_offset = 16,
      .nr_frags = 2},
     frags_map,
     NULL},
    {"PACKET pre_posted",
     V(g_pkt_pre),
     {.id = 0,
      .type = NC2_PACKET_TYPE_pre_posted,
      .flags = NC2_PACKET_FLAG_data_validated,
      .nr_frags = 1},
     frags_pre,
     NULL},
    {"PACKET receiver_copy",
     V(g_pkt_copy),
     {.id = 0x80000001,
      .type = NC2_PACKET_TYPE_receiver_copy,
      .flags = NC2_PACKET_FLAG_csum_blank | NC2_PACKET_FLAG_bypass_candidate,
      .seg_type = NC2_PACKET_SEGMENTATION_TYPE_tcpv6,
      .prefix_size = 5,
      .mss = 1400,
      .csum_start = 54,
      .csum_offset = 16,
      .nr_frags = 1},
     frags_copy,
     pfx_copy},
};
#define N_PKT ((int)(sizeof(pkt_goldens) / sizeof(pkt_goldens[0])))

static const nc2_post_buf post_bufs[2] = {
    {.buf_id = 0x11, .gref = 0x01020304, .offset = 256, .length = 2048, .flags = 0},
    {.buf_id = 0xa1b2c3d4,
     .gref = 0xfff,
     .offset = 0,
     .length = 4096,
     .flags = NC2_POST_FLAG_STICKY},
};

static const uint32_t ret_ids3[3] = {1, 0x44332211, 0xffffffff};
static const uint32_t ret_ids2[2] = {0x12345678, 0};
static const uint32_t ret_ids1[1] = {42};

struct ret_golden {
	const char *name;
	const uint8_t *vec;
	size_t len;
	const uint32_t *ids;
	uint32_t n;
};

static const struct ret_golden ret_goldens[] = {
    {"RETURN_BUFFERS 3", V(g_ret3), ret_ids3, 3},
    {"RETURN_BUFFERS 2", V(g_ret2), ret_ids2, 2},
    {"RETURN_BUFFERS 1", V(g_ret1), ret_ids1, 1},
};
#define N_RET ((int)(sizeof(ret_goldens) / sizeof(ret_goldens[0])))

static const uint32_t byp_fe_prod[2] = {0x10, 0x11}, byp_fe_cons[2] = {0x20, 0x21};
static const uint32_t byp_be_prod[2] = {0x01000000, 0x02000000};
static const uint32_t byp_be_cons[2] = {0x0a0b0c0d, 0x0e0f1011};

struct byp_golden {
	const char *name;
	const uint8_t *vec;
	size_t len;
	uint8_t type;
	struct nc2_msg_bypass b;
	const uint32_t *prod, *cons;
};

static const struct byp_golden byp_goldens[] = {
    {"BYPASS_FRONTEND",
     V(g_bypass_fe),
     NC2_MSG_BYPASS_FRONTEND,
     {.port = 0,
      .ring_domid = 7,
      .peer_domid = 0x102,
      .handle = 0xcafef00d,
      .remote_mac = {0x02, 0, 0, 0, 0, 0x01},
      .peer_trusted = 1,
      .ring_pages = 2,
      .control_gref = 0x100},
     byp_fe_prod,
     byp_fe_cons},
    {"BYPASS_BACKEND",
     V(g_bypass_be),
     NC2_MSG_BYPASS_BACKEND,
     {.port = 42,
      .ring_domid = 0x7ff0,
      .peer_domid = 0,
      .handle = 1,
      .remote_mac = {0x06, 0x05, 0x04, 0x03, 0x02, 0x01},
      .peer_trusted = 0,
      .ring_pages = 2,
      .control_gref = 0xfffffffe},
     byp_be_prod,
     byp_be_cons},
};
#define N_BYP ((int)(sizeof(byp_goldens) / sizeof(byp_goldens[0])))

/* ---- one index over all goldens ------------------------------------------ */

enum kind { K_FIXED, K_PKT, K_POST, K_RET, K_BYP };

#define N_GOLDEN (N_FIXED + N_PKT + 1 + N_RET + N_BYP)

struct golden {
	const char *name;
	const uint8_t *vec;
	size_t len;
	enum kind kind;
	int idx;
};

static struct golden golden_get(int i)
{
	struct golden g;
	if (i < N_FIXED) {
		g = (struct golden){fixed_goldens[i].name, fixed_goldens[i].vec,
				    fixed_goldens[i].len, K_FIXED, i};
		return g;
	}
	i -= N_FIXED;
	if (i < N_PKT) {
		g = (struct golden){pkt_goldens[i].name, pkt_goldens[i].vec, pkt_goldens[i].len,
				    K_PKT, i};
		return g;
	}
	i -= N_PKT;
	if (i < 1) {
		g = (struct golden){"POST_BUFFERS", V(g_post), K_POST, 0};
		return g;
	}
	i -= 1;
	if (i < N_RET) {
		g = (struct golden){ret_goldens[i].name, ret_goldens[i].vec, ret_goldens[i].len,
				    K_RET, i};
		return g;
	}
	i -= N_RET;
	g = (struct golden){byp_goldens[i].name, byp_goldens[i].vec, byp_goldens[i].len, K_BYP, i};
	return g;
}

/* Fixed-size types: every type except the variable ones and PAD. */
static int is_fixed_size_type(uint8_t t)
{
	switch (t) {
	case NC2_MSG_PACKET:
	case NC2_MSG_POST_BUFFERS:
	case NC2_MSG_RETURN_BUFFERS:
	case NC2_MSG_FINISH_PACKETS:
	case NC2_MSG_SMALL_PACKETS:
	case NC2_MSG_POSTED_PACKETS:
	case NC2_MSG_BYPASS_FRONTEND:
	case NC2_MSG_BYPASS_BACKEND:
	case NC2_MSG_PAD:
		return 0;
	default:
		return 1;
	}
}

static int encode_golden(const struct golden *g, uint8_t *buf, size_t cap)
{
	switch (g->kind) {
	case K_FIXED:
		return nc2_msg_encode(&fixed_goldens[g->idx].m, buf, cap);
	case K_PKT: {
		const struct pkt_golden *pg = &pkt_goldens[g->idx];
		return nc2_packet_encode(buf, cap, &pg->p, pg->frags, pg->prefix);
	}
	case K_POST:
		return nc2_post_encode(buf, cap, 3, post_bufs, 2);
	case K_RET:
		return nc2_return_encode(buf, cap, ret_goldens[g->idx].ids, ret_goldens[g->idx].n);
	case K_BYP: {
		const struct byp_golden *bg = &byp_goldens[g->idx];
		return nc2_bypass_encode(buf, cap, bg->type, &bg->b, bg->prod, bg->cons);
	}
	}
	return -1000;
}

/* ---- comparison helpers ------------------------------------------------- */

static void assert_fixed_eq(const nc2_msg *got, const nc2_msg *want, const char *name)
{
	ck_assert_msg(got->type == want->type, "%s: type %u", name, got->type);
	ck_assert_msg(got->flags == 0, "%s: flags %u", name, got->flags);
	ck_assert_msg(got->size == want->size, "%s: size %u want %u", name, got->size, want->size);
	switch (want->type) {
	case NC2_MSG_SET_OFFLOAD:
		ck_assert_msg(got->u.offload.csum == want->u.offload.csum &&
				  got->u.offload.tso4 == want->u.offload.tso4 &&
				  got->u.offload.tso6 == want->u.offload.tso6 &&
				  got->u.offload.lro == want->u.offload.lro,
			      "%s: offload %u %u %u %u", name, got->u.offload.csum,
			      got->u.offload.tso4, got->u.offload.tso6, got->u.offload.lro);
		break;
	case NC2_MSG_CREATE_RX_QUEUE:
		ck_assert_msg(got->u.rxq.queue == want->u.rxq.queue, "%s: queue", name);
		ck_assert_msg(got->u.rxq.flags == want->u.rxq.flags, "%s: flags", name);
		ck_assert_msg(got->u.rxq.vlan == want->u.rxq.vlan, "%s: vlan %u", name,
			      got->u.rxq.vlan);
		ck_assert_msg(got->u.rxq.buf_size == want->u.rxq.buf_size, "%s: buf_size %u", name,
			      got->u.rxq.buf_size);
		ck_assert_msg(memcmp(got->u.rxq.mac, want->u.rxq.mac, 6) == 0, "%s: mac", name);
		break;
	case NC2_MSG_SUGGEST_BYPASS:
		ck_assert_msg(memcmp(got->u.suggest_mac, want->u.suggest_mac, 6) == 0, "%s: mac",
			      name);
		break;
	case NC2_MSG_HELLO:
		ck_assert_msg(got->u.hello.version_min == want->u.hello.version_min, "%s: vmin",
			      name);
		ck_assert_msg(got->u.hello.version_max == want->u.hello.version_max, "%s: vmax",
			      name);
		ck_assert_msg(got->u.hello.features == want->u.hello.features, "%s: features 0x%x",
			      name, got->u.hello.features);
		ck_assert_msg(got->u.hello.max_rx_queues == want->u.hello.max_rx_queues,
			      "%s: max_rx_queues", name);
		break;
	case NC2_MSG_MCAST:
		ck_assert_msg(memcmp(got->u.mcast.mac, want->u.mcast.mac, 6) == 0, "%s: mac", name);
		ck_assert_msg(got->u.mcast.op == want->u.mcast.op, "%s: op", name);
		break;
	case NC2_MSG_PAD:
		break;
	default: /* single u32 */
		ck_assert_msg(got->u.value == want->u.value, "%s: value 0x%x want 0x%x", name,
			      got->u.value, want->u.value);
		break;
	}
}

static void assert_packet_eq(const nc2_msg *m, const struct nc2_msg_packet *p,
			     const nc2_frag *frags, const uint8_t *prefix, const char *name)
{
	const struct nc2_msg_packet *g = &m->u.packet;
	ck_assert_msg(m->type == NC2_MSG_PACKET && m->flags == 0, "%s: header", name);
	ck_assert_msg(g->id == p->id, "%s: id 0x%x", name, g->id);
	ck_assert_msg(g->type == p->type, "%s: type %u", name, g->type);
	ck_assert_msg(g->flags == p->flags, "%s: flags 0x%x", name, g->flags);
	ck_assert_msg(g->seg_type == p->seg_type, "%s: seg_type %u", name, g->seg_type);
	ck_assert_msg(g->prefix_size == p->prefix_size, "%s: prefix_size %u", name, g->prefix_size);
	ck_assert_msg(g->mss == p->mss, "%s: mss %u", name, g->mss);
	ck_assert_msg(g->csum_start == p->csum_start, "%s: csum_start %u", name, g->csum_start);
	ck_assert_msg(g->csum_offset == p->csum_offset, "%s: csum_offset %u", name, g->csum_offset);
	ck_assert_msg(g->nr_frags == p->nr_frags, "%s: nr_frags %u want %u", name, g->nr_frags,
		      p->nr_frags);
	for (uint32_t i = 0; i < p->nr_frags; i++) {
		nc2_frag f;
		memset(&f, 0xa5, sizeof(f));
		nc2_packet_frag(m, i, &f);
		ck_assert_msg(f.ref == frags[i].ref, "%s: frag %u ref 0x%x", name, i, f.ref);
		ck_assert_msg(f.off == frags[i].off, "%s: frag %u off %u", name, i, f.off);
		ck_assert_msg(f.size == frags[i].size, "%s: frag %u size %u", name, i, f.size);
		ck_assert_msg(f.flags == frags[i].flags, "%s: frag %u flags 0x%x", name, i,
			      f.flags);
	}
	if (p->prefix_size) {
		ck_assert_msg(g->prefix != NULL, "%s: prefix NULL", name);
		ck_assert_msg(memcmp(g->prefix, prefix, p->prefix_size) == 0, "%s: prefix", name);
	}
}

static void assert_post_eq(const nc2_msg *m, uint8_t queue, const nc2_post_buf *bufs, uint32_t n,
			   const char *name)
{
	ck_assert_msg(m->type == NC2_MSG_POST_BUFFERS && m->flags == 0, "%s: header", name);
	ck_assert_msg(m->u.post.queue == queue, "%s: queue %u", name, m->u.post.queue);
	ck_assert_msg(m->u.post.count == n, "%s: count %u", name, m->u.post.count);
	for (uint32_t i = 0; i < n; i++) {
		nc2_post_buf b;
		memset(&b, 0xa5, sizeof(b));
		nc2_post_entry(m, i, &b);
		ck_assert_msg(b.buf_id == bufs[i].buf_id, "%s: %u buf_id", name, i);
		ck_assert_msg(b.gref == bufs[i].gref, "%s: %u gref", name, i);
		ck_assert_msg(b.offset == bufs[i].offset, "%s: %u offset", name, i);
		ck_assert_msg(b.length == bufs[i].length, "%s: %u length", name, i);
		ck_assert_msg(b.flags == bufs[i].flags, "%s: %u flags", name, i);
	}
}

static void assert_ret_eq(const nc2_msg *m, const uint32_t *ids, uint32_t n, const char *name)
{
	ck_assert_msg(m->type == NC2_MSG_RETURN_BUFFERS && m->flags == 0, "%s: header", name);
	ck_assert_msg(m->u.ret.count == n, "%s: count %u", name, m->u.ret.count);
	for (uint32_t i = 0; i < n; i++)
		ck_assert_msg(nc2_return_id(m, i) == ids[i], "%s: id %u = 0x%x", name, i,
			      nc2_return_id(m, i));
}

static void assert_bypass_eq(const nc2_msg *m, uint8_t type, const struct nc2_msg_bypass *b,
			     const uint32_t *prod, const uint32_t *cons, const char *name)
{
	const struct nc2_msg_bypass *g = &m->u.bypass;
	ck_assert_msg(m->type == type && m->flags == 0, "%s: header", name);
	ck_assert_msg(g->port == b->port, "%s: port %u", name, g->port);
	ck_assert_msg(g->ring_domid == b->ring_domid, "%s: ring_domid", name);
	ck_assert_msg(g->peer_domid == b->peer_domid, "%s: peer_domid", name);
	ck_assert_msg(g->handle == b->handle, "%s: handle", name);
	ck_assert_msg(memcmp(g->remote_mac, b->remote_mac, 6) == 0, "%s: mac", name);
	ck_assert_msg(g->peer_trusted == b->peer_trusted, "%s: trusted", name);
	ck_assert_msg(g->ring_pages == b->ring_pages, "%s: ring_pages", name);
	ck_assert_msg(g->control_gref == b->control_gref, "%s: control_gref", name);
	for (uint32_t i = 0; i < b->ring_pages; i++) {
		ck_assert_msg(nc2_bypass_gref(m, 0, i) == prod[i], "%s: prod %u", name, i);
		ck_assert_msg(nc2_bypass_gref(m, 1, i) == cons[i], "%s: cons %u", name, i);
	}
}

static void assert_golden_decoded(const struct golden *g, const nc2_msg *m)
{
	ck_assert_msg(m->size == g->len, "%s: size %u", g->name, m->size);
	switch (g->kind) {
	case K_FIXED:
		assert_fixed_eq(m, &fixed_goldens[g->idx].m, g->name);
		break;
	case K_PKT: {
		const struct pkt_golden *pg = &pkt_goldens[g->idx];
		assert_packet_eq(m, &pg->p, pg->frags, pg->prefix, g->name);
		break;
	}
	case K_POST:
		assert_post_eq(m, 3, post_bufs, 2, g->name);
		break;
	case K_RET:
		assert_ret_eq(m, ret_goldens[g->idx].ids, ret_goldens[g->idx].n, g->name);
		break;
	case K_BYP: {
		const struct byp_golden *bg = &byp_goldens[g->idx];
		assert_bypass_eq(m, bg->type, &bg->b, bg->prod, bg->cons, g->name);
		break;
	}
	}
}

/* Private copy in a larger, zero-extended buffer (decode must see a copy). */
static uint8_t work[70000];

static const uint8_t *copy_vec(const uint8_t *vec, size_t len)
{
	memset(work, 0, 512);
	memcpy(work, vec, len);
	return work;
}

/* ======================================================================
 * Golden tests
 * ====================================================================== */

START_TEST(test_golden_decode)
{
	struct golden g = golden_get(_i);
	nc2_msg m;
	memset(&m, 0xa5, sizeof(m));
	int rc = nc2_msg_decode(&m, copy_vec(g.vec, g.len), g.len);
	ck_assert_msg(rc == NC2_OK, "%s: decode %d", g.name, rc);
	assert_golden_decoded(&g, &m);
}
END_TEST

START_TEST(test_golden_encode)
{
	struct golden g = golden_get(_i);
	uint8_t out[256];
	memset(out, 0xa5, sizeof(out));
	int rc = encode_golden(&g, out, sizeof(out));
	ck_assert_msg(rc == (int)g.len, "%s: encode returned %d, want %zu", g.name, rc, g.len);
	TU_ASSERT_BYTES(out, g.vec, g.len);
	/* Nothing written past the message. */
	ck_assert_msg(out[g.len] == 0xa5, "%s: wrote past the end", g.name);
}
END_TEST

START_TEST(test_golden_encode_exact_cap)
{
	struct golden g = golden_get(_i);
	uint8_t out[256];
	memset(out, 0xa5, sizeof(out));
	int rc = encode_golden(&g, out, g.len);
	ck_assert_msg(rc == (int)g.len, "%s: encode returned %d", g.name, rc);
	TU_ASSERT_BYTES(out, g.vec, g.len);
}
END_TEST

START_TEST(test_golden_encode_nospace)
{
	struct golden g = golden_get(_i);
	uint8_t out[256];
	int rc = encode_golden(&g, out, g.len - 1);
	ck_assert_msg(rc == NC2_ERR_NOSPACE, "%s: cap len-1 -> %d", g.name, rc);
	rc = encode_golden(&g, out, 0);
	ck_assert_msg(rc == NC2_ERR_NOSPACE, "%s: cap 0 -> %d", g.name, rc);
	rc = encode_golden(&g, out, 7);
	ck_assert_msg(rc == NC2_ERR_NOSPACE, "%s: cap 7 -> %d", g.name, rc);
}
END_TEST

/* Header flags: no flags are defined, any bit -> RESERVED (every type). */
START_TEST(test_golden_hdr_flags)
{
	struct golden g = golden_get(_i);
	static const uint8_t bits[] = {0x01, 0x02, 0x80, 0xff};
	for (size_t k = 0; k < sizeof(bits); k++) {
		nc2_msg m;
		copy_vec(g.vec, g.len);
		work[1] = bits[k];
		int rc = nc2_msg_decode(&m, work, g.len);
		ck_assert_msg(rc == E_RSVD, "%s: flags 0x%02x -> %d", g.name, bits[k], rc);
	}
}
END_TEST

/* size > bytes available -> MSG_SIZE. */
START_TEST(test_golden_truncated)
{
	struct golden g = golden_get(_i);
	nc2_msg m;
	int rc;
	copy_vec(g.vec, g.len);
	rc = nc2_msg_decode(&m, work, g.len - 1);
	if (g.len - 1 >= 8)
		ck_assert_msg(rc == E_SIZE, "%s: len %zu -> %d", g.name, g.len - 1, rc);
	if (g.len >= 16) {
		rc = nc2_msg_decode(&m, work, g.len - 8);
		ck_assert_msg(rc == E_SIZE, "%s: len %zu -> %d", g.name, g.len - 8, rc);
		rc = nc2_msg_decode(&m, work, 8);
		ck_assert_msg(rc == E_SIZE, "%s: len 8 -> %d", g.name, rc);
	} else {
		/* 8-octet message claiming 16 with only 8 available */
		tu_put16(work + 2, 16);
		rc = nc2_msg_decode(&m, work, 8);
		ck_assert_msg(rc == E_SIZE, "%s: size 16 len 8 -> %d", g.name, rc);
	}
}
END_TEST

/* size < 8 and size % 8 != 0 -> MSG_SIZE, whatever the type. */
START_TEST(test_golden_size_malformed)
{
	struct golden g = golden_get(_i);
	nc2_msg m;
	int rc;
	static const uint16_t small[] = {0, 1, 4, 7};
	for (size_t k = 0; k < sizeof(small) / sizeof(small[0]); k++) {
		copy_vec(g.vec, g.len);
		tu_put16(work + 2, small[k]);
		rc = nc2_msg_decode(&m, work, g.len);
		ck_assert_msg(rc == E_SIZE, "%s: size %u -> %d", g.name, small[k], rc);
	}
	/* not a multiple of 8, buffer long enough */
	copy_vec(g.vec, g.len);
	tu_put16(work + 2, (uint16_t)(g.len + 4));
	rc = nc2_msg_decode(&m, work, g.len + 4);
	ck_assert_msg(rc == E_SIZE, "%s: size len+4 -> %d", g.name, rc);
	copy_vec(g.vec, g.len);
	tu_put16(work + 2, (uint16_t)(g.len - 4));
	rc = nc2_msg_decode(&m, work, g.len);
	ck_assert_msg(rc == E_SIZE, "%s: size len-4 -> %d", g.name, rc);
	copy_vec(g.vec, g.len);
	tu_put16(work + 2, (uint16_t)(g.len + 1));
	rc = nc2_msg_decode(&m, work, g.len + 1);
	ck_assert_msg(rc == E_SIZE, "%s: size len+1 -> %d", g.name, rc);
}
END_TEST

/* Fixed-size types: any other (well-formed) size -> MSG_SIZE. */
START_TEST(test_golden_fixed_size)
{
	struct golden g = golden_get(_i);
	nc2_msg m;
	int rc;
	if (!is_fixed_size_type(g.vec[0]))
		return;
	copy_vec(g.vec, g.len);
	tu_put16(work + 2, (uint16_t)(g.len + 8));
	rc = nc2_msg_decode(&m, work, g.len + 8);
	ck_assert_msg(rc == E_SIZE, "%s: size +8 -> %d", g.name, rc);
	copy_vec(g.vec, g.len);
	tu_put16(work + 2, 64);
	rc = nc2_msg_decode(&m, work, 64);
	ck_assert_msg(rc == E_SIZE, "%s: size 64 -> %d", g.name, rc);
	if (g.len > 8) {
		copy_vec(g.vec, g.len);
		tu_put16(work + 2, (uint16_t)(g.len - 8));
		rc = nc2_msg_decode(&m, work, g.len - 8);
		ck_assert_msg(rc == E_SIZE, "%s: size -8 -> %d", g.name, rc);
	}
}
END_TEST

START_TEST(test_golden_decode_const_input)
{
	/* Decoding twice from the same private copy gives the same result and
	 * does not modify the copy. */
	struct golden g = golden_get(_i);
	uint8_t copy[256];
	nc2_msg m1, m2;
	memcpy(copy, g.vec, g.len);
	ck_assert_int_eq(nc2_msg_decode(&m1, copy, g.len), NC2_OK);
	ck_assert_int_eq(nc2_msg_decode(&m2, copy, g.len), NC2_OK);
	TU_ASSERT_BYTES(copy, g.vec, g.len);
	assert_golden_decoded(&g, &m2);
}
END_TEST

/* ======================================================================
 * Decode rules: start from a golden vector, break exactly one thing.
 * ====================================================================== */

struct patch {
	uint16_t off;
	uint8_t val;
};

struct mut {
	const char *name;
	const uint8_t *vec;
	size_t vlen;
	size_t dlen; /* octets given to decode; 0 = vlen (buffer is zero-extended) */
	int expect;
	int np;
	struct patch p[4];
};

/* clang-format off */
static const struct mut muts[] = {
	/* unknown types (size 8 is well-formed) */
	{"type 0", V(g_set_max_packets), 0, E_TYPE, 1, {{0, 0}}},
	{"type 27", V(g_set_max_packets), 0, E_TYPE, 1, {{0, 27}}},
	{"type 28", V(g_set_max_packets), 0, E_TYPE, 1, {{0, 28}}},
	{"type 128", V(g_set_max_packets), 0, E_TYPE, 1, {{0, 128}}},
	{"type 254", V(g_set_max_packets), 0, E_TYPE, 1, {{0, 254}}},
	{"type 27 size 16", V(g_hello), 0, E_TYPE, 1, {{0, 27}}},

	/* SET_OFFLOAD: each octet 0/1 */
	{"SET_OFFLOAD csum 2", V(g_offload_csum), 0, E_VALUE, 1, {{4, 2}}},
	{"SET_OFFLOAD tso4 2", V(g_offload_csum), 0, E_VALUE, 1, {{5, 2}}},
	{"SET_OFFLOAD tso6 2", V(g_offload_csum), 0, E_VALUE, 1, {{6, 2}}},
	{"SET_OFFLOAD lro 2", V(g_offload_csum), 0, E_VALUE, 1, {{7, 2}}},
	{"SET_OFFLOAD lro 0xff", V(g_offload_lro), 0, E_VALUE, 1, {{7, 0xff}}},
	{"SET_OFFLOAD all 1", V(g_offload_csum), 0, NC2_OK, 3, {{5, 1}, {6, 1}, {7, 1}}},

	/* SET_MAX_FRAGMENTS_PER_PACKET 1..256 */
	{"MAX_FRAGS 0", V(g_max_frags_1), 0, E_VALUE, 1, {{4, 0}}},
	{"MAX_FRAGS 257", V(g_max_frags_256), 0, E_VALUE, 1, {{4, 1}}},
	{"MAX_FRAGS 0x10001", V(g_max_frags_1), 0, E_VALUE, 1, {{6, 1}}},
	{"MAX_FRAGS 0x80000001", V(g_max_frags_1), 0, E_VALUE, 1, {{7, 0x80}}},
	{"MAX_FRAGS 255", V(g_max_frags_256), 0, NC2_OK, 2, {{4, 0xff}, {5, 0}}},

	/* BYPASS_READY pad */
	{"BYPASS_READY pad lo", V(g_bypass_ready), 0, E_RSVD, 1, {{4, 1}}},
	{"BYPASS_READY pad hi", V(g_bypass_ready), 0, E_RSVD, 1, {{7, 0x80}}},
	/* u32 messages with any value */
	{"BYPASS_FRONTEND_READY port -1", V(g_bypass_fe_ready), 0, NC2_OK, 4,
	 {{4, 0xff}, {5, 0xff}, {6, 0xff}, {7, 0xff}}},
	{"SET_MAX_PACKETS 0", V(g_set_max_packets), 0, NC2_OK, 4, {{4, 0}, {5, 0}, {6, 0}, {7, 0}}},

	/* RECLAIM_BUFFERS: queue < 64 or 0xffffffff */
	{"RECLAIM 63", V(g_reclaim_5), 0, NC2_OK, 1, {{4, 63}}},
	{"RECLAIM 0", V(g_reclaim_5), 0, NC2_OK, 1, {{4, 0}}},
	{"RECLAIM 64", V(g_reclaim_5), 0, E_VALUE, 1, {{4, 64}}},
	{"RECLAIM 0x105", V(g_reclaim_5), 0, E_VALUE, 1, {{5, 1}}},
	{"RECLAIM 0x80000005", V(g_reclaim_5), 0, E_VALUE, 1, {{7, 0x80}}},
	{"RECLAIM 0xfffffffe", V(g_reclaim_all), 0, E_VALUE, 1, {{4, 0xfe}}},
	{"RECLAIM 0x7fffffff", V(g_reclaim_all), 0, E_VALUE, 1, {{7, 0x7f}}},

	/* POST_BUFFERS */
	{"POST rsvd", V(g_post), 0, E_RSVD, 1, {{5, 1}}},
	{"POST rsvd 0x80", V(g_post), 0, E_RSVD, 1, {{5, 0x80}}},
	{"POST count 0 (size 8)", V(g_post), 8, E_VALUE, 2, {{2, 8}, {6, 0}}},
	{"POST count 3 size 40", V(g_post), 0, E_SIZE, 1, {{6, 3}}},
	{"POST count 1 size 40", V(g_post), 0, E_SIZE, 1, {{6, 1}}},
	{"POST count 0x0102 size 40", V(g_post), 0, E_SIZE, 1, {{7, 1}}},
	{"POST count 1 size 24", V(g_post), 24, NC2_OK, 2, {{2, 24}, {6, 1}}},
	{"POST entry0 length 0", V(g_post), 0, E_FRAG, 2, {{18, 0}, {19, 0}}},
	{"POST entry1 length 0", V(g_post), 0, E_FRAG, 2, {{34, 0}, {35, 0}}},
	{"POST entry0 off 256 len 3841", V(g_post), 0, E_FRAG, 2, {{18, 0x01}, {19, 0x0f}}},
	{"POST entry0 off 256 len 3840", V(g_post), 0, NC2_OK, 2, {{18, 0x00}, {19, 0x0f}}},
	{"POST entry1 off 1 len 4096", V(g_post), 0, E_FRAG, 1, {{32, 1}}},
	{"POST entry1 off 4096 len 4096", V(g_post), 0, E_FRAG, 1, {{33, 0x10}}},
	{"POST entry0 off 0xfff len 0xffff", V(g_post), 0, E_FRAG, 4,
	 {{16, 0xff}, {17, 0x0f}, {18, 0xff}, {19, 0xff}}},
	{"POST entry0 off 0xffff len 2", V(g_post), 0, E_FRAG, 4,
	 {{16, 0xff}, {17, 0xff}, {18, 0x02}, {19, 0x00}}},
	{"POST entry0 off 4095 len 1", V(g_post), 0, NC2_OK, 4,
	 {{16, 0xff}, {17, 0x0f}, {18, 0x01}, {19, 0x00}}},
	{"POST entry0 bflags 0x2", V(g_post), 0, E_RSVD, 1, {{20, 0x02}}},
	{"POST entry1 bflags 0x8001", V(g_post), 0, E_RSVD, 1, {{37, 0x80}}},
	{"POST entry0 bflags STICKY", V(g_post), 0, NC2_OK, 1, {{20, 0x01}}},
	{"POST entry0 rsvd lo", V(g_post), 0, E_RSVD, 1, {{22, 0x01}}},
	{"POST entry1 rsvd hi", V(g_post), 0, E_RSVD, 1, {{39, 0x80}}},

	/* RETURN_BUFFERS */
	{"RETURN count 0 (size 8)", V(g_ret3), 8, E_VALUE, 2, {{2, 8}, {4, 0}}},
	{"RETURN count 5 size 24", V(g_ret3), 0, E_SIZE, 1, {{4, 5}}},
	{"RETURN count 2 size 24", V(g_ret3), 0, E_SIZE, 1, {{4, 2}}},
	{"RETURN count 0x103 size 24", V(g_ret3), 0, E_SIZE, 1, {{5, 1}}},
	{"RETURN count 4 size 24", V(g_ret3), 0, NC2_OK, 1, {{4, 4}}},
	{"RETURN count 3 size 16", V(g_ret3), 16, E_SIZE, 1, {{2, 16}}},
	{"RETURN rsvd lo", V(g_ret3), 0, E_RSVD, 1, {{6, 1}}},
	{"RETURN rsvd hi", V(g_ret3), 0, E_RSVD, 1, {{7, 0x80}}},
	{"RETURN 3 pad word lo", V(g_ret3), 0, E_RSVD, 1, {{20, 1}}},
	{"RETURN 3 pad word hi", V(g_ret3), 0, E_RSVD, 1, {{23, 0x80}}},
	{"RETURN 1 pad word", V(g_ret1), 0, E_RSVD, 1, {{12, 0x01}}},
	{"RETURN 2 last id any", V(g_ret2), 0, NC2_OK, 1, {{15, 0x80}}},

	/* CREATE_RX_QUEUE */
	{"RXQ flags 0", V(g_rxq), 0, NC2_OK, 1, {{5, 0}}},
	{"RXQ flags 0x2", V(g_rxq), 0, E_RSVD, 1, {{5, 0x02}}},
	{"RXQ flags 0x81", V(g_rxq), 0, E_RSVD, 1, {{5, 0x81}}},
	{"RXQ vlan 0", V(g_rxq), 0, NC2_OK, 2, {{6, 0}, {7, 0}}},
	{"RXQ vlan 4095", V(g_rxq), 0, E_VALUE, 2, {{6, 0xff}, {7, 0x0f}}},
	{"RXQ vlan 0xffff", V(g_rxq), 0, E_VALUE, 2, {{6, 0xff}, {7, 0xff}}},
	{"RXQ vlan 0x1001", V(g_rxq), 0, E_VALUE, 2, {{6, 0x01}, {7, 0x10}}},
	{"RXQ buf_size 63", V(g_rxq), 0, E_VALUE, 2, {{8, 63}, {9, 0}}},
	{"RXQ buf_size 0", V(g_rxq), 0, E_VALUE, 2, {{8, 0}, {9, 0}}},
	{"RXQ buf_size 64", V(g_rxq), 0, NC2_OK, 2, {{8, 64}, {9, 0}}},
	{"RXQ buf_size 4096", V(g_rxq), 0, NC2_OK, 2, {{8, 0x00}, {9, 0x10}}},
	{"RXQ buf_size 4097", V(g_rxq), 0, E_VALUE, 2, {{8, 0x01}, {9, 0x10}}},
	{"RXQ buf_size 0x100005dc", V(g_rxq), 0, E_VALUE, 1, {{11, 0x10}}},
	{"RXQ buf_size 0x105dc", V(g_rxq), 0, E_VALUE, 1, {{10, 0x01}}},
	{"RXQ mac multicast", V(g_rxq), 0, E_VALUE, 1, {{12, 0x03}}},
	{"RXQ mac 01:..", V(g_rxq), 0, E_VALUE, 1, {{12, 0x01}}},
	{"RXQ mac broadcast", V(g_rxq), 0, E_VALUE, 4, {{12, 0xff}, {13, 0xff}, {14, 0xff}, {15, 0xff}}},
	{"RXQ mac zero", V(g_rxq), 0, NC2_OK, 4, {{12, 0}, {13, 0}, {14, 0}, {15, 0}}},
	{"RXQ rsvd16 lo", V(g_rxq), 0, E_RSVD, 1, {{18, 1}}},
	{"RXQ rsvd16 hi", V(g_rxq), 0, E_RSVD, 1, {{19, 0x80}}},
	{"RXQ rsvd32 0", V(g_rxq), 0, E_RSVD, 1, {{20, 1}}},
	{"RXQ rsvd32 1", V(g_rxq), 0, E_RSVD, 1, {{21, 1}}},
	{"RXQ rsvd32 2", V(g_rxq), 0, E_RSVD, 1, {{22, 1}}},
	{"RXQ rsvd32 3", V(g_rxq), 0, E_RSVD, 1, {{23, 0x80}}},
	{"RXQ queue 255", V(g_rxq), 0, NC2_OK, 1, {{4, 255}}},

	/* BYPASS_FRONTEND / BYPASS_BACKEND */
	{"BYPASS_FE pad 4", V(g_bypass_fe), 0, E_RSVD, 1, {{4, 1}}},
	{"BYPASS_FE pad 7", V(g_bypass_fe), 0, E_RSVD, 1, {{7, 0x80}}},
	{"BYPASS_FE pad 28", V(g_bypass_fe), 0, E_RSVD, 1, {{28, 1}}},
	{"BYPASS_FE pad 31", V(g_bypass_fe), 0, E_RSVD, 1, {{31, 0x80}}},
	{"BYPASS_BE pad 28", V(g_bypass_be), 0, E_RSVD, 1, {{28, 1}}},
	{"BYPASS_BE pad 30", V(g_bypass_be), 0, E_RSVD, 1, {{30, 0x10}}},
	{"BYPASS_BE port any", V(g_bypass_be), 0, NC2_OK, 4, {{4, 0xff}, {5, 0xff}, {6, 0xff}, {7, 0xff}}},
	{"BYPASS_FE trusted 2", V(g_bypass_fe), 0, E_VALUE, 1, {{22, 2}}},
	{"BYPASS_BE trusted 2", V(g_bypass_be), 0, E_VALUE, 1, {{22, 2}}},
	{"BYPASS_BE trusted 0xff", V(g_bypass_be), 0, E_VALUE, 1, {{22, 0xff}}},
	{"BYPASS_FE trusted 0", V(g_bypass_fe), 0, NC2_OK, 1, {{22, 0}}},
	{"BYPASS_FE pages 3 size 48", V(g_bypass_fe), 0, E_SIZE, 1, {{23, 3}}},
	{"BYPASS_FE pages 1 size 48", V(g_bypass_fe), 0, E_SIZE, 1, {{23, 1}}},
	{"BYPASS_BE pages 2 size 56", V(g_bypass_be), 56, E_SIZE, 1, {{2, 56}}},
	{"BYPASS_FE pages 1 size 40", V(g_bypass_fe), 40, NC2_OK, 2, {{2, 40}, {23, 1}}},
	{"BYPASS_FE pages 0 size 32", V(g_bypass_fe), 32, E_VALUE, 2, {{2, 32}, {23, 0}}},
	{"BYPASS_BE pages 0 size 32", V(g_bypass_be), 32, E_VALUE, 2, {{2, 32}, {23, 0}}},
	{"BYPASS_FE size 24", V(g_bypass_fe), 24, E_SIZE, 1, {{2, 24}}},

	/* SUGGEST_BYPASS */
	{"SUGGEST pad1 lo", V(g_suggest), 0, E_RSVD, 1, {{10, 1}}},
	{"SUGGEST pad1 hi", V(g_suggest), 0, E_RSVD, 1, {{11, 0x80}}},
	{"SUGGEST pad2 lo", V(g_suggest), 0, E_RSVD, 1, {{12, 1}}},
	{"SUGGEST pad2 hi", V(g_suggest), 0, E_RSVD, 1, {{15, 0x80}}},

	/* HELLO */
	{"HELLO version_min 0", V(g_hello), 0, E_VALUE, 1, {{4, 0}}},
	{"HELLO min 0x204 > max 0x203", V(g_hello), 0, E_VALUE, 2, {{4, 0x04}, {5, 0x02}}},
	{"HELLO min 2 > max 1", V(g_hello), 0, E_VALUE, 3, {{4, 2}, {6, 1}, {7, 0}}},
	{"HELLO min == max", V(g_hello), 0, NC2_OK, 2, {{4, 0x03}, {5, 0x02}}},
	{"HELLO max_rx_queues 0", V(g_hello), 0, E_VALUE, 1, {{12, 0}}},
	{"HELLO max_rx_queues 65", V(g_hello), 0, E_VALUE, 1, {{12, 65}}},
	{"HELLO max_rx_queues 0x140", V(g_hello), 0, E_VALUE, 1, {{13, 1}}},
	{"HELLO max_rx_queues 1", V(g_hello), 0, NC2_OK, 1, {{12, 1}}},
	{"HELLO rsvd lo", V(g_hello), 0, E_RSVD, 1, {{14, 1}}},
	{"HELLO rsvd hi", V(g_hello), 0, E_RSVD, 1, {{15, 0x80}}},
	{"HELLO unknown features", V(g_hello), 0, NC2_OK, 3, {{9, 0xff}, {10, 0x01}, {11, 0x80}}},

	/* MCAST */
	{"MCAST mac unicast 00", V(g_mcast_add), 0, E_VALUE, 1, {{4, 0x00}}},
	{"MCAST mac unicast 02", V(g_mcast_add), 0, E_VALUE, 1, {{4, 0x02}}},
	{"MCAST mac ff:ff:ff:ff:00:fb", V(g_mcast_add), 0, NC2_OK, 4,
	 {{4, 0xff}, {5, 0xff}, {6, 0xff}, {7, 0xff}}},
	{"MCAST op 0", V(g_mcast_add), 0, E_VALUE, 1, {{10, 0}}},
	{"MCAST op 3", V(g_mcast_add), 0, E_VALUE, 1, {{10, 3}}},
	{"MCAST op 0xff", V(g_mcast_del), 0, E_VALUE, 1, {{10, 0xff}}},
	{"MCAST rsvd8", V(g_mcast_add), 0, E_RSVD, 1, {{11, 1}}},
	{"MCAST rsvd32 lo", V(g_mcast_add), 0, E_RSVD, 1, {{12, 1}}},
	{"MCAST rsvd32 hi", V(g_mcast_del), 0, E_RSVD, 1, {{15, 0x80}}},

	/* PAD: body not examined */
	{"PAD body nonzero", V(g_pad16), 0, NC2_OK, 4, {{4, 0xff}, {8, 0x12}, {11, 0x80}, {15, 1}}},
	{"PAD size 24", V(g_pad16), 24, NC2_OK, 1, {{2, 24}}},

	/* PACKET decode rules */
	{"PACKET size 16", V(g_pkt_pre), 16, E_SIZE, 1, {{2, 16}}},
	{"PACKET size 8", V(g_pkt_pre), 8, E_SIZE, 1, {{2, 8}}},
	{"PACKET size 24 no frags/prefix", V(g_pkt_pre), 24, NC2_OK, 1, {{2, 24}}},
	{"PACKET rsvd8", V(g_pkt_small), 0, E_RSVD, 1, {{11, 1}}},
	{"PACKET rsvd8 0x80", V(g_pkt_map), 0, E_RSVD, 1, {{11, 0x80}}},
	{"PACKET rsvd32 0", V(g_pkt_small), 0, E_RSVD, 1, {{20, 1}}},
	{"PACKET rsvd32 1", V(g_pkt_map), 0, E_RSVD, 1, {{21, 1}}},
	{"PACKET rsvd32 2", V(g_pkt_pre), 0, E_RSVD, 1, {{22, 1}}},
	{"PACKET rsvd32 3", V(g_pkt_copy), 0, E_RSVD, 1, {{23, 0x80}}},
	{"PACKET prefix pad 0", V(g_pkt_small), 0, E_RSVD, 1, {{38, 1}}},
	{"PACKET prefix pad 1", V(g_pkt_small), 0, E_RSVD, 1, {{39, 0x80}}},
	{"PACKET copy prefix pad first", V(g_pkt_copy), 0, E_RSVD, 1, {{37, 1}}},
	{"PACKET copy prefix pad last", V(g_pkt_copy), 0, E_RSVD, 1, {{39, 0xff}}},
	{"PACKET prefix 17 in 16", V(g_pkt_small), 0, E_SIZE, 1, {{12, 17}}},
	{"PACKET prefix 24 in 16", V(g_pkt_small), 0, E_SIZE, 1, {{12, 24}}},
	{"PACKET prefix 256 in 16", V(g_pkt_small), 0, E_SIZE, 2, {{12, 0}, {13, 1}}},
	{"PACKET prefix 17 in 16", V(g_pkt_copy), 0, E_SIZE, 1, {{12, 17}}},
	{"PACKET prefix 9 swallows frag", V(g_pkt_copy), 0, E_RSVD, 1, {{12, 9}}},
	{"PACKET prefix 16 in 16", V(g_pkt_small), 0, NC2_OK, 1, {{12, 16}}},
	{"PACKET prefix 8 in 8", V(g_pkt_copy), 0, NC2_OK, 1, {{12, 8}}},
	{"PACKET frag0 off bit 12", V(g_pkt_map), 0, E_RSVD, 1, {{27, 0x9a}}},
	{"PACKET frag0 off bit 13", V(g_pkt_map), 0, E_RSVD, 1, {{27, 0xaa}}},
	{"PACKET frag0 off bit 14", V(g_pkt_map), 0, E_RSVD, 1, {{27, 0xca}}},
	{"PACKET frag1 off bits 12-14", V(g_pkt_map), 0, E_RSVD, 1, {{35, 0x71}}},
	{"PACKET pre frag off bit 12", V(g_pkt_pre), 0, E_RSVD, 1, {{27, 0x10}}},
	{"PACKET copy frag off bit 14", V(g_pkt_copy), 0, E_RSVD, 1, {{27, 0x4f}}},
};
/* clang-format on */
#define N_MUTS ((int)(sizeof(muts) / sizeof(muts[0])))

START_TEST(test_decode_rule)
{
	const struct mut *c = &muts[_i];
	size_t dlen = c->dlen ? c->dlen : c->vlen;
	nc2_msg m;
	copy_vec(c->vec, c->vlen);
	for (int k = 0; k < c->np; k++)
		work[c->p[k].off] = c->p[k].val;
	int rc = nc2_msg_decode(&m, work, dlen);
	ck_assert_msg(rc == c->expect, "%s: got %d (%s), want %d (%s)", c->name, rc,
		      nc2_strerror(rc), c->expect, nc2_strerror(c->expect));
}
END_TEST

START_TEST(test_decode_invalid_arg)
{
	nc2_msg m;
	uint8_t b[16];
	memcpy(b, g_hello, sizeof(g_hello));
	ck_assert_int_eq(nc2_msg_decode(NULL, b, sizeof(b)), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_msg_decode(&m, NULL, sizeof(b)), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_msg_decode(&m, b, 0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_msg_decode(&m, b, 3), NC2_ERR_INVALID_ARG);
	/* A readable header that claims more octets than given is the peer's. */
	ck_assert_int_eq(nc2_msg_decode(&m, b, 4), NC2_ERR_PEER_MSG_SIZE);
	ck_assert_int_eq(nc2_msg_decode(&m, b, 7), NC2_ERR_PEER_MSG_SIZE);
}
END_TEST

START_TEST(test_decode_hello_unknown_features)
{
	/* Unknown feature bits are ignored: decode succeeds and drops them. */
	static const uint8_t v[] = {0x12, 0x00, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00,
				    0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00};
	static const uint8_t w[] = {0x12, 0x00, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00,
				    0x00, 0x10, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00};
	nc2_msg m;
	ck_assert_int_eq(nc2_msg_decode(&m, copy_vec(v, sizeof(v)), sizeof(v)), NC2_OK);
	ck_assert_uint_eq(m.u.hello.features, NC2_FEATURE_ALL);
	ck_assert_uint_eq(m.u.hello.version_min, 1);
	ck_assert_uint_eq(m.u.hello.version_max, 1);
	ck_assert_uint_eq(m.u.hello.max_rx_queues, 1);
	ck_assert_int_eq(nc2_msg_decode(&m, copy_vec(w, sizeof(w)), sizeof(w)), NC2_OK);
	ck_assert_uint_eq(m.u.hello.features, 0);
}
END_TEST

START_TEST(test_decode_packet_prefix_257)
{
	/* prefix_size 257 with room for round8(257) = 264 octets: PACKET_SIZE. */
	size_t size = 24 + 264;
	nc2_msg m;
	memset(work, 0, size);
	work[0] = 2;
	tu_put16(work + 2, (uint16_t)size);
	work[8] = NC2_PACKET_TYPE_small;
	tu_put16(work + 12, 257);
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), E_PSIZE);
	/* prefix_size 256 with exactly room for it: fine, no fragments */
	size = 24 + 256;
	memset(work, 0, size);
	work[0] = 2;
	tu_put16(work + 2, (uint16_t)size);
	work[8] = NC2_PACKET_TYPE_small;
	tu_put16(work + 12, 256);
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), NC2_OK);
	ck_assert_uint_eq(m.u.packet.prefix_size, 256);
	ck_assert_uint_eq(m.u.packet.nr_frags, 0);
	/* prefix 0xffff in a maximal message: still PACKET_SIZE or MSG_SIZE,
	 * never accepted */
	size = NC2_MSG_MAX_SIZE;
	memset(work, 0, size);
	work[0] = 2;
	tu_put16(work + 2, (uint16_t)size);
	tu_put16(work + 12, 0xffff);
	int rc = nc2_msg_decode(&m, work, size);
	ck_assert_msg(rc == E_PSIZE || rc == E_SIZE, "prefix 0xffff -> %d", rc);
}
END_TEST

START_TEST(test_decode_packet_nr_frags_derived)
{
	/* nr_frags = (size - 24 - round8(prefix)) / 8, here with the largest size */
	size_t size = NC2_MSG_MAX_SIZE;
	nc2_msg m;
	memset(work, 0, size);
	work[0] = 2;
	tu_put16(work + 2, (uint16_t)size);
	work[8] = NC2_PACKET_TYPE_receiver_copy;
	tu_put16(work + 12, 13); /* 16 octets of prefix */
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), NC2_OK);
	ck_assert_uint_eq(m.u.packet.nr_frags, (NC2_MSG_MAX_SIZE - 24 - 16) / 8);
	ck_assert_uint_eq(m.size, NC2_MSG_MAX_SIZE);
	/* 40 octets, prefix 0: two (zero) fragments; prefix 1..8: one */
	memset(work, 0, 40);
	work[0] = 2;
	work[2] = 40;
	ck_assert_int_eq(nc2_msg_decode(&m, work, 40), NC2_OK);
	ck_assert_uint_eq(m.u.packet.nr_frags, 2);
	ck_assert_uint_eq(m.u.packet.prefix_size, 0);
	work[12] = 8;
	ck_assert_int_eq(nc2_msg_decode(&m, work, 40), NC2_OK);
	ck_assert_uint_eq(m.u.packet.nr_frags, 1);
	work[12] = 9;
	ck_assert_int_eq(nc2_msg_decode(&m, work, 40), NC2_OK);
	ck_assert_uint_eq(m.u.packet.nr_frags, 0);
}
END_TEST

/* Every prefix length 1..24 (pad 7..0) with 0..2 fragments: the encoder
 * zeroes exactly the pad over a dirty buffer and writes nothing past the
 * message; the decoder rejects a non-zero octet anywhere in the pad (and
 * only there: prefix octets may take any value). */
START_TEST(test_packet_prefix_pad_all_lengths)
{
	static const nc2_frag frags[2] = {{.ref = 7, .off = 0, .size = 100},
					  {.ref = 8, .off = 4000, .size = 96}};
	uint8_t prefix[24], out[128];
	nc2_msg m;

	for (uint32_t i = 0; i < sizeof(prefix); i++)
		prefix[i] = (uint8_t)(0xf0u | i);
	for (uint16_t nf = 0; nf <= 2; nf++) {
		for (uint16_t ps = 1; ps <= sizeof(prefix); ps++) {
			struct nc2_msg_packet p = {.type = NC2_PACKET_TYPE_receiver_copy,
						   .nr_frags = nf,
						   .prefix_size = ps};
			uint32_t size = nc2_packet_msg_size(nf, ps);
			uint32_t pfx = 24u + 8u * nf;
			memset(out, 0xa5, sizeof(out));
			ck_assert_int_eq(nc2_packet_encode(out, size, &p, frags, prefix),
					 (int)size);
			ck_assert_uint_eq(out[size], 0xa5);
			ck_assert_int_eq(memcmp(out + pfx, prefix, ps), 0);
			for (uint32_t o = pfx + ps; o < size; o++)
				ck_assert_msg(out[o] == 0, "nf %u ps %u: pad octet %u", nf, ps, o);
			ck_assert_int_eq(nc2_msg_decode(&m, out, size), NC2_OK);
			ck_assert_uint_eq(m.u.packet.nr_frags, nf);
			for (uint32_t o = pfx + ps; o < size; o++) {
				for (unsigned bit = 0; bit < 8; bit++) {
					out[o] = (uint8_t)(1u << bit);
					ck_assert_int_eq(nc2_msg_decode(&m, out, size), E_RSVD);
				}
				out[o] = 0;
			}
			/* The last prefix octet is data, whatever its value. */
			out[pfx + ps - 1u] = 0xff;
			ck_assert_int_eq(nc2_msg_decode(&m, out, size), NC2_OK);
		}
	}
}
END_TEST

START_TEST(test_decode_bypass_pages)
{
	/* ring_pages 17 with a consistent size (32 + 136): BAD_VALUE;
	 * ring_pages 16 (32 + 128): fine. */
	nc2_msg m;
	size_t size = 32 + 8 * 17;
	memset(work, 0, size);
	memcpy(work, g_bypass_fe, 32);
	tu_put16(work + 2, (uint16_t)size);
	work[23] = 17;
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), E_VALUE);
	work[0] = NC2_MSG_BYPASS_BACKEND;
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), E_VALUE);

	size = 32 + 8 * 16;
	memset(work, 0, size);
	memcpy(work, g_bypass_be, 32);
	tu_put16(work + 2, (uint16_t)size);
	work[23] = 16;
	for (uint32_t i = 0; i < 32; i++)
		tu_put32(work + 32 + 4 * i, 1000 + i);
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), NC2_OK);
	ck_assert_uint_eq(m.u.bypass.ring_pages, 16);
	for (uint32_t i = 0; i < 16; i++) {
		ck_assert_uint_eq(nc2_bypass_gref(&m, 0, i), 1000 + i);
		ck_assert_uint_eq(nc2_bypass_gref(&m, 1, i), 1016 + i);
	}
	/* 255 pages claimed, consistent size 32 + 2040 */
	size = 32 + 8 * 255;
	memset(work, 0, size);
	memcpy(work, g_bypass_be, 32);
	tu_put16(work + 2, (uint16_t)size);
	work[23] = 255;
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), E_VALUE);
}
END_TEST

START_TEST(test_decode_max_counts)
{
	nc2_msg m;
	/* POST_BUFFERS with NC2_POST_MAX_COUNT entries fills 65528 octets */
	size_t size = 8 + 16 * (size_t)NC2_POST_MAX_COUNT;
	ck_assert_uint_eq(size, NC2_MSG_MAX_SIZE);
	memset(work, 0, size);
	work[0] = 6;
	tu_put16(work + 2, (uint16_t)size);
	tu_put16(work + 6, (uint16_t)NC2_POST_MAX_COUNT);
	for (uint32_t i = 0; i < NC2_POST_MAX_COUNT; i++) {
		uint8_t *e = work + 8 + 16 * (size_t)i;
		tu_put32(e, i);
		tu_put16(e + 10, 1);
	}
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), NC2_OK);
	ck_assert_uint_eq(m.u.post.count, NC2_POST_MAX_COUNT);
	nc2_post_buf b;
	nc2_post_entry(&m, NC2_POST_MAX_COUNT - 1, &b);
	ck_assert_uint_eq(b.buf_id, NC2_POST_MAX_COUNT - 1);
	ck_assert_uint_eq(b.length, 1);

	/* RETURN_BUFFERS with NC2_RETURN_MAX_COUNT ids */
	size = 8 + 4 * (size_t)NC2_RETURN_MAX_COUNT;
	ck_assert_uint_eq(size, NC2_MSG_MAX_SIZE);
	memset(work, 0, size);
	work[0] = 7;
	tu_put16(work + 2, (uint16_t)size);
	tu_put16(work + 4, (uint16_t)NC2_RETURN_MAX_COUNT);
	for (uint32_t i = 0; i < NC2_RETURN_MAX_COUNT; i++)
		tu_put32(work + 8 + 4 * (size_t)i, ~i);
	ck_assert_int_eq(nc2_msg_decode(&m, work, size), NC2_OK);
	ck_assert_uint_eq(m.u.ret.count, NC2_RETURN_MAX_COUNT);
	ck_assert_uint_eq(nc2_return_id(&m, NC2_RETURN_MAX_COUNT - 1),
			  ~(uint32_t)(NC2_RETURN_MAX_COUNT - 1));

	/* PAD of the largest size */
	memset(work, 0xee, NC2_MSG_MAX_SIZE);
	work[0] = 0xff;
	work[1] = 0;
	tu_put16(work + 2, (uint16_t)NC2_MSG_MAX_SIZE);
	ck_assert_int_eq(nc2_msg_decode(&m, work, NC2_MSG_MAX_SIZE), NC2_OK);
	ck_assert_uint_eq(m.type, NC2_MSG_PAD);
	ck_assert_uint_eq(m.size, NC2_MSG_MAX_SIZE);
	/* 0xfff8 is the largest multiple of 8 in a u16 */
	ck_assert_uint_eq(NC2_MSG_MAX_SIZE, 0xfff8);
}
END_TEST

/* ======================================================================
 * Encoder argument checks
 * ====================================================================== */

/* clang-format off */
static const struct {
	const char *name;
	nc2_msg m;
} bad_fixed[] = {
	{"type 0", {.type = 0, .size = 8}},
	{"type 27", {.type = 27, .size = 8}},
	{"SMALL_PACKETS via msg_encode", {.type = NC2_MSG_SMALL_PACKETS, .size = 24}},
	{"POSTED_PACKETS via msg_encode", {.type = NC2_MSG_POSTED_PACKETS, .size = 16}},
	{"FINISH_PACKETS via msg_encode", {.type = NC2_MSG_FINISH_PACKETS, .size = 16}},
	{"type 254", {.type = 254, .size = 8}},
	{"PACKET via msg_encode", {.type = NC2_MSG_PACKET, .size = 24}},
	{"POST via msg_encode", {.type = NC2_MSG_POST_BUFFERS, .size = 24}},
	{"RETURN via msg_encode", {.type = NC2_MSG_RETURN_BUFFERS, .size = 16}},
	{"BYPASS_FE via msg_encode", {.type = NC2_MSG_BYPASS_FRONTEND, .size = 40}},
	{"BYPASS_BE via msg_encode", {.type = NC2_MSG_BYPASS_BACKEND, .size = 40}},
	{"header flags", {.type = NC2_MSG_SET_MAX_PACKETS, .flags = 1, .size = 8}},
	{"header flags on PAD", {.type = NC2_MSG_PAD, .flags = 0x80, .size = 8}},
	{"offload csum 2", {.type = 4, .size = 8, .u.offload = {2, 0, 0, 0}}},
	{"offload tso4 2", {.type = 4, .size = 8, .u.offload = {0, 2, 0, 0}}},
	{"offload tso6 2", {.type = 4, .size = 8, .u.offload = {0, 0, 2, 0}}},
	{"offload lro 0xff", {.type = 4, .size = 8, .u.offload = {0, 0, 0, 0xff}}},
	{"max frags 0", {.type = 5, .size = 8, .u.value = 0}},
	{"max frags 257", {.type = 5, .size = 8, .u.value = 257}},
	{"bypass ready pad", {.type = 12, .size = 8, .u.value = 1}},
	{"reclaim queue 64", {.type = 23, .size = 8, .u.value = 64}},
	{"reclaim 0xfffffffe", {.type = 23, .size = 8, .u.value = 0xfffffffe}},
	{"rxq flags 2", {.type = 8, .size = 24, .u.rxq = {.flags = 2, .buf_size = 2048}}},
	{"rxq vlan 4095", {.type = 8, .size = 24, .u.rxq = {.vlan = 4095, .buf_size = 2048}}},
	{"rxq buf_size 63", {.type = 8, .size = 24, .u.rxq = {.buf_size = 63}}},
	{"rxq buf_size 4097", {.type = 8, .size = 24, .u.rxq = {.buf_size = 4097}}},
	{"rxq mac multicast", {.type = 8, .size = 24, .u.rxq = {.buf_size = 2048, .mac = {1, 0, 0, 0, 0, 1}}}},
	{"hello min 0", {.type = 18, .size = 16, .u.hello = {0, 1, 0, 1}}},
	{"hello min > max", {.type = 18, .size = 16, .u.hello = {2, 1, 0, 1}}},
	{"hello queues 0", {.type = 18, .size = 16, .u.hello = {1, 1, 0, 0}}},
	{"hello queues 65", {.type = 18, .size = 16, .u.hello = {1, 1, 0, 65}}},
	{"mcast unicast", {.type = 22, .size = 16, .u.mcast = {{0x02, 0, 0, 0, 0, 1}, 1}}},
	{"mcast op 0", {.type = 22, .size = 16, .u.mcast = {{0x01, 0, 0x5e, 0, 0, 1}, 0}}},
	{"mcast op 3", {.type = 22, .size = 16, .u.mcast = {{0x01, 0, 0x5e, 0, 0, 1}, 3}}},
	{"PAD size 0", {.type = 255, .size = 0}},
	{"PAD size 4", {.type = 255, .size = 4}},
	{"PAD size 12", {.type = 255, .size = 12}},
	{"PAD size 0xffff", {.type = 255, .size = 0xffff}},
};
/* clang-format on */
#define N_BAD_FIXED ((int)(sizeof(bad_fixed) / sizeof(bad_fixed[0])))

START_TEST(test_encode_fixed_invalid)
{
	static uint8_t out[70000];
	int rc = nc2_msg_encode(&bad_fixed[_i].m, out, sizeof(out));
	ck_assert_msg(rc == NC2_ERR_INVALID_ARG, "%s: got %d", bad_fixed[_i].name, rc);
}
END_TEST

START_TEST(test_encode_fixed_null)
{
	uint8_t out[16];
	ck_assert_int_eq(nc2_msg_encode(NULL, out, sizeof(out)), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_msg_encode(&fixed_goldens[0].m, NULL, 16), NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_encode_pad)
{
	static uint8_t out[NC2_MSG_MAX_SIZE + 8];
	nc2_msg m = {.type = NC2_MSG_PAD, .size = NC2_MSG_MAX_SIZE};
	memset(out, 0xa5, sizeof(out));
	ck_assert_int_eq(nc2_msg_encode(&m, out, NC2_MSG_MAX_SIZE), (int)NC2_MSG_MAX_SIZE);
	ck_assert_uint_eq(out[0], 0xff);
	ck_assert_uint_eq(out[1], 0);
	ck_assert_uint_eq(tu_get16(out + 2), NC2_MSG_MAX_SIZE);
	for (size_t i = 4; i < NC2_MSG_MAX_SIZE; i++)
		ck_assert_msg(out[i] == 0, "PAD body octet %zu = 0x%02x", i, out[i]);
	ck_assert_uint_eq(out[NC2_MSG_MAX_SIZE], 0xa5);
	ck_assert_int_eq(nc2_msg_encode(&m, out, NC2_MSG_MAX_SIZE - 1), NC2_ERR_NOSPACE);
	m.size = 8;
	ck_assert_int_eq(nc2_msg_encode(&m, out, 8), 8);
	TU_ASSERT_BYTES(out, g_pad8, 8);
}
END_TEST

START_TEST(test_encode_packet_invalid)
{
	static uint8_t out[70000];
	static nc2_frag many[8200];
	uint8_t pfx[300] = {0};
	struct nc2_msg_packet p = {.type = NC2_PACKET_TYPE_small, .prefix_size = 14};
	nc2_frag f = {.ref = 1, .off = 0, .size = 100};

	/* baseline is fine */
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, NULL, pfx), 40);
	/* prefix > 256 */
	p.prefix_size = 257;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, NULL, pfx), NC2_ERR_INVALID_ARG);
	p.prefix_size = 256;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, NULL, pfx), 280);
	/* NULL prefix with a prefix size, NULL packet, NULL buffer */
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, NULL, NULL), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), NULL, NULL, pfx), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_packet_encode(NULL, 100, &p, NULL, pfx), NC2_ERR_INVALID_ARG);

	/* fragment offset must fit 12 bits */
	p = (struct nc2_msg_packet){.id = 1, .type = NC2_PACKET_TYPE_receiver_copy, .nr_frags = 1};
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, &f, NULL), 32);
	f.off = 4095;
	f.size = 1;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, &f, NULL), 32);
	f.off = 4096;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, &f, NULL), NC2_ERR_INVALID_ARG);
	f.off = 0xffff;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, &f, NULL), NC2_ERR_INVALID_ARG);
	/* NULL fragments with nr_frags > 0 */
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, NULL, NULL), NC2_ERR_INVALID_ARG);

	/* message larger than 65528 octets */
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = (nc2_frag){.ref = (uint32_t)i, .off = 0, .size = 1};
	p.nr_frags = (NC2_MSG_MAX_SIZE - 24) / 8; /* 8188: exactly fits */
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, many, NULL),
			 (int)NC2_MSG_MAX_SIZE);
	p.nr_frags++;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, many, NULL), NC2_ERR_INVALID_ARG);
	p.nr_frags = (NC2_MSG_MAX_SIZE - 24 - 256) / 8;
	p.prefix_size = 256;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, many, pfx), (int)NC2_MSG_MAX_SIZE);
	p.prefix_size = 249; /* round8 -> 256 still fits */
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, many, pfx), (int)NC2_MSG_MAX_SIZE);
	p.nr_frags++;
	ck_assert_int_eq(nc2_packet_encode(out, sizeof(out), &p, many, pfx), NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_encode_packet_nospace)
{
	uint8_t out[64];
	const struct pkt_golden *pg = &pkt_goldens[1];
	for (size_t cap = 0; cap < pg->len; cap++)
		ck_assert_int_eq(nc2_packet_encode(out, cap, &pg->p, pg->frags, pg->prefix),
				 NC2_ERR_NOSPACE);
}
END_TEST

START_TEST(test_encode_post_invalid)
{
	static uint8_t out[70000];
	static nc2_post_buf many[NC2_POST_MAX_COUNT + 1];
	nc2_post_buf b[2];
	memcpy(b, post_bufs, sizeof(b));

	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, b, 0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, NULL, 2), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_post_encode(NULL, 100, 3, b, 2), NC2_ERR_INVALID_ARG);
	b[0].length = 0;
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, b, 2), NC2_ERR_INVALID_ARG);
	b[0].length = 3841; /* offset 256 + 3841 = 4097 */
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, b, 2), NC2_ERR_INVALID_ARG);
	b[0].length = 3840;
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, b, 2), 40);
	b[0].offset = 0xffff; /* offset + length overflows a u16 */
	b[0].length = 2;
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, b, 2), NC2_ERR_INVALID_ARG);
	b[0] = post_bufs[0];
	b[1].flags = 0x2;
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, b, 2), NC2_ERR_INVALID_ARG);
	b[1].flags = 0x8000 | NC2_POST_FLAG_STICKY;
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 3, b, 2), NC2_ERR_INVALID_ARG);

	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = (nc2_post_buf){.buf_id = (uint32_t)i, .length = 64};
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 0, many, NC2_POST_MAX_COUNT),
			 (int)NC2_MSG_MAX_SIZE);
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 0, many, NC2_POST_MAX_COUNT + 1),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_post_encode(out, sizeof(out), 0, many, 0xffffffffu),
			 NC2_ERR_INVALID_ARG);
}
END_TEST

/* 24 FINISH_PACKETS: RETURN_BUFFERS' layout under its own type; every
 * decode rule of §5.24, and the encoder's argument checks. */
START_TEST(test_finish_packets)
{
	static const uint8_t g_fin3[] = {
	    0x18, 0x00, 0x18, 0x00, 0x03, 0x00, 0x00, 0x00, /* type 24, size 24, count 3 */
	    0x01, 0x00, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, /* 1, 0x44332211 */
	    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, /* 0xffffffff, pad */
	};
	uint8_t out[32], vec[32];
	memset(out, 0xa5, sizeof(out));
	ck_assert_int_eq(nc2_finish_encode(out, sizeof(out), ret_ids3, 3), 24);
	TU_ASSERT_BYTES(out, g_fin3, sizeof(g_fin3));
	ck_assert_uint_eq(out[24], 0xa5);
	nc2_msg m;
	ck_assert_int_eq(nc2_msg_decode(&m, copy_vec(g_fin3, 24), 24), NC2_OK);
	ck_assert_uint_eq(m.type, NC2_MSG_FINISH_PACKETS);
	ck_assert_uint_eq(m.u.ret.count, 3);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_uint_eq(nc2_return_id(&m, i), ret_ids3[i]);

	static const struct {
		uint32_t at;
		uint8_t v;
		int err;
	} rules[] = {
	    {4, 0, NC2_ERR_PEER_BAD_VALUE},   /* count 0 (size 24 too) */
	    {6, 1, NC2_ERR_PEER_RESERVED},    /* rsvd */
	    {7, 0x80, NC2_ERR_PEER_RESERVED}, /* rsvd */
	    {4, 2, NC2_ERR_PEER_MSG_SIZE},    /* count 2 in 24 octets */
	    {4, 5, NC2_ERR_PEER_MSG_SIZE},    /* count 5 in 24 octets */
	    {20, 1, NC2_ERR_PEER_RESERVED},   /* pad word */
	    {23, 0x80, NC2_ERR_PEER_RESERVED},
	    {1, 1, NC2_ERR_PEER_RESERVED}, /* header flags */
	    {4, 4, NC2_OK},                /* count 4: the pad is the 4th id */
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		memcpy(vec, g_fin3, 24);
		vec[rules[i].at] = rules[i].v;
		ck_assert_msg(nc2_msg_decode(&m, vec, 24) == rules[i].err, "rule %zu", i);
	}
	ck_assert_int_eq(nc2_finish_encode(out, 23, ret_ids3, 3), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_finish_encode(out, sizeof(out), ret_ids3, 0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_finish_encode(out, sizeof(out), NULL, 3), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_finish_encode(NULL, 32, ret_ids3, 3), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_finish_encode(out, sizeof(out), ret_ids3, NC2_FINISH_MAX_COUNT + 1),
			 NC2_ERR_INVALID_ARG);
}
END_TEST

/* Octet \p at of a golden message set to \p v (and the header's size octet
 * to \p size, 0: unchanged) decodes to \p err. */
struct byte_rule {
	uint32_t at;
	uint8_t v;
	uint32_t size;
	int err;
};

static void byte_rules(const uint8_t *g, size_t len, const struct byte_rule *r, size_t n)
{
	uint8_t vec[64];
	nc2_msg m;
	ck_assert_uint_le(len, sizeof(vec));
	for (size_t i = 0; i < n; i++) {
		memcpy(vec, g, len);
		vec[r[i].at] = r[i].v;
		uint32_t size = r[i].size ? r[i].size : (uint32_t)len;
		vec[2] = (uint8_t)size;
		int rc = nc2_msg_decode(&m, vec, size);
		ck_assert_msg(rc == r[i].err, "rule %zu: %d, want %d", i, rc, r[i].err);
	}
}

/* 25 SMALL_PACKETS: two entries (14 octets with a pad, 16 without);
 * every decode rule of §5.25, the accessor, the encoder's checks. */
START_TEST(test_small_packets)
{
	static const uint8_t g[] = {
	    0x19, 0x00, 0x38, 0x00, 0x02, 0x00, 0x00, 0x00, /* type 25, size 56, count 2 */
	    0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* len 14 */
	    'A',  'B',  'C',  'D',  'E',  'F',  'G',  'H',  /* data */
	    'I',  'J',  'K',  'L',  'M',  'N',  0x00, 0x00, /* data, pad */
	    0x10, 0x00, 0x01, 0x00, 0x22, 0x00, 0x10, 0x00, /* len 16, csum_blank 34/16 */
	    'a',  'b',  'c',  'd',  'e',  'f',  'g',  'h',  /* data */
	    'i',  'j',  'k',  'l',  'm',  'n',  'o',  'p',
	};
	const nc2_small e[2] = {
	    {.len = 14, .data = (const uint8_t *)"ABCDEFGHIJKLMN"},
	    {.len = 16,
	     .flags = NC2_PACKET_FLAG_csum_blank,
	     .csum_start = 34,
	     .csum_offset = 16,
	     .data = (const uint8_t *)"abcdefghijklmnop"},
	};
	uint8_t out[64];
	memset(out, 0xa5, sizeof(out));
	ck_assert_int_eq(nc2_smalls_encode(out, sizeof(out), e, 2), 56);
	TU_ASSERT_BYTES(out, g, sizeof(g));
	ck_assert_uint_eq(out[56], 0xa5);
	nc2_msg m;
	ck_assert_int_eq(nc2_msg_decode(&m, copy_vec(g, sizeof(g)), sizeof(g)), NC2_OK);
	ck_assert_uint_eq(m.type, NC2_MSG_SMALL_PACKETS);
	ck_assert_uint_eq(m.u.smalls.count, 2);
	nc2_small r;
	uint32_t off = nc2_small_entry(&m, 0, &r);
	ck_assert_uint_eq(off, 24);
	ck_assert_uint_eq(r.len, 14);
	ck_assert_int_eq(memcmp(r.data, "ABCDEFGHIJKLMN", 14), 0);
	ck_assert_uint_eq(nc2_small_entry(&m, off, &r), 48);
	ck_assert_uint_eq(r.len, 16);
	ck_assert_uint_eq(r.flags, NC2_PACKET_FLAG_csum_blank);
	ck_assert_uint_eq(r.csum_start, 34);
	ck_assert_uint_eq(r.csum_offset, 16);

	static const struct byte_rule rules[] = {
	    {4, 0, 0, NC2_ERR_PEER_BAD_VALUE},    /* count 0 */
	    {6, 1, 0, NC2_ERR_PEER_RESERVED},     /* rsvd */
	    {11, 1, 0, NC2_ERR_PEER_RESERVED},    /* entry 0 rsvd */
	    {35, 0x80, 0, NC2_ERR_PEER_RESERVED}, /* entry 1 rsvd */
	    {8, 0, 0, NC2_ERR_PEER_BAD_VALUE},    /* len 0 */
	    {9, 0x01, 0, NC2_ERR_PEER_BAD_VALUE}, /* len 270 */
	    {30, 1, 0, NC2_ERR_PEER_RESERVED},    /* pad octet */
	    {31, 0x80, 0, NC2_ERR_PEER_RESERVED}, /* pad octet */
	    {4, 3, 0, NC2_ERR_PEER_MSG_SIZE},     /* count 3: no room for a third */
	    {4, 1, 0, NC2_ERR_PEER_MSG_SIZE},     /* count 1: 24 octets left over */
	    {8, 0x28, 0, NC2_ERR_PEER_MSG_SIZE},  /* len 40: no room for entry 1 */
	    {4, 2, 40, NC2_ERR_PEER_MSG_SIZE},    /* entry 1 cut short */
	    {1, 1, 0, NC2_ERR_PEER_RESERVED},     /* header flags */
	    {16, 0xff, 0, NC2_OK},                /* data is anything */
	};
	byte_rules(g, sizeof(g), rules, sizeof(rules) / sizeof(rules[0]));
	nc2_small bad = e[0];
	ck_assert_int_eq(nc2_smalls_encode(out, 55, e, 2), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_smalls_encode(out, sizeof(out), e, 0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_smalls_encode(out, sizeof(out), NULL, 1), NC2_ERR_INVALID_ARG);
	bad.len = 0;
	ck_assert_int_eq(nc2_smalls_encode(out, sizeof(out), &bad, 1), NC2_ERR_INVALID_ARG);
	bad.len = 257;
	ck_assert_int_eq(nc2_smalls_encode(out, sizeof(out), &bad, 1), NC2_ERR_INVALID_ARG);
}
END_TEST

/* 26 POSTED_PACKETS: two entries; every decode rule of §5.26, the accessor,
 * the encoder's checks. */
START_TEST(test_posted_packets)
{
	static const uint8_t g[] = {
	    0x1a, 0x00, 0x18, 0x00, 0x02, 0x00, 0x00, 0x00, /* type 26, size 24, count 2 */
	    0x04, 0x03, 0x02, 0x01, 0xdc, 0x05, 0x00, 0x00, /* buf 0x01020304, len 1500 */
	    0x11, 0x00, 0x01, 0x00, 0x0e, 0x00, 0x02, 0x00, /* buf 0x10011, len 14, validated */
	};
	const nc2_posted e[2] = {
	    {.buf_id = 0x01020304, .len = 1500},
	    {.buf_id = 0x10011, .len = 14, .flags = NC2_PACKET_FLAG_data_validated},
	};
	uint8_t out[32];
	memset(out, 0xa5, sizeof(out));
	ck_assert_int_eq(nc2_posteds_encode(out, sizeof(out), e, 2), 24);
	TU_ASSERT_BYTES(out, g, sizeof(g));
	ck_assert_uint_eq(out[24], 0xa5);
	nc2_msg m;
	ck_assert_int_eq(nc2_msg_decode(&m, copy_vec(g, sizeof(g)), sizeof(g)), NC2_OK);
	ck_assert_uint_eq(m.type, NC2_MSG_POSTED_PACKETS);
	ck_assert_uint_eq(m.u.posteds.count, 2);
	for (uint32_t i = 0; i < 2; i++) {
		nc2_posted r;
		nc2_posted_entry(&m, i, &r);
		ck_assert_uint_eq(r.buf_id, e[i].buf_id);
		ck_assert_uint_eq(r.len, e[i].len);
		ck_assert_uint_eq(r.flags, e[i].flags);
	}

	static const struct byte_rule rules[] = {
	    {4, 0, 0, NC2_ERR_PEER_BAD_VALUE},    /* count 0 */
	    {6, 1, 0, NC2_ERR_PEER_RESERVED},     /* rsvd */
	    {15, 1, 0, NC2_ERR_PEER_RESERVED},    /* entry 0 rsvd */
	    {23, 0x80, 0, NC2_ERR_PEER_RESERVED}, /* entry 1 rsvd */
	    {4, 3, 0, NC2_ERR_PEER_MSG_SIZE},     /* count 3: no room for a third */
	    {4, 1, 0, NC2_ERR_PEER_MSG_SIZE},     /* count 1: 8 octets left over */
	    {4, 2, 16, NC2_ERR_PEER_MSG_SIZE},    /* entry 1 cut off */
	    {1, 1, 0, NC2_ERR_PEER_RESERVED},     /* header flags */
	    {12, 0, 0, NC2_OK},                   /* len 0x500: the channel checks it */
	    {14, 0xff, 0, NC2_OK},                /* flags: the channel checks them */
	};
	byte_rules(g, sizeof(g), rules, sizeof(rules) / sizeof(rules[0]));
	static uint8_t big[NC2_MSG_MAX_SIZE + 8];
	static nc2_posted many[NC2_POSTED_MAX_COUNT + 1];
	ck_assert_int_eq(nc2_posteds_encode(out, 23, e, 2), NC2_ERR_NOSPACE);
	ck_assert_int_eq(nc2_posteds_encode(out, sizeof(out), e, 0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_posteds_encode(out, sizeof(out), NULL, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_posteds_encode(NULL, sizeof(out), e, 1), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(
	    nc2_posteds_encode(big, sizeof(big), many, NC2_POSTED_MAX_COUNT),
	    (int)(NC2_POSTEDS_OFF_ENTRIES + NC2_POSTED_MAX_COUNT * NC2_POSTED_ENT_SIZE));
	ck_assert_int_eq(nc2_posteds_encode(big, sizeof(big), many, NC2_POSTED_MAX_COUNT + 1),
			 NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_encode_return_invalid)
{
	static uint8_t out[70000];
	static uint32_t many[NC2_RETURN_MAX_COUNT + 1];
	ck_assert_int_eq(nc2_return_encode(out, sizeof(out), ret_ids3, 0), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_return_encode(out, sizeof(out), NULL, 3), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_return_encode(NULL, 100, ret_ids3, 3), NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_return_encode(out, sizeof(out), many, NC2_RETURN_MAX_COUNT),
			 (int)NC2_MSG_MAX_SIZE);
	ck_assert_int_eq(nc2_return_encode(out, sizeof(out), many, NC2_RETURN_MAX_COUNT + 1),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_return_encode(out, sizeof(out), many, 0x40000002u),
			 NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_encode_bypass_invalid)
{
	uint8_t out[256];
	const struct byp_golden *bg = &byp_goldens[1];
	struct nc2_msg_bypass b = bg->b;
	uint32_t grefs[17] = {0};

	ck_assert_int_eq(
	    nc2_bypass_encode(out, sizeof(out), NC2_MSG_CREATE_RX_QUEUE, &b, bg->prod, bg->cons),
	    NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), NC2_MSG_BYPASS_FRONTEND_READY, &b,
					   bg->prod, bg->cons),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), 0, &b, bg->prod, bg->cons),
			 NC2_ERR_INVALID_ARG);
	b.ring_pages = 0;
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), bg->type, &b, grefs, grefs),
			 NC2_ERR_INVALID_ARG);
	b.ring_pages = 17;
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), bg->type, &b, grefs, grefs),
			 NC2_ERR_INVALID_ARG);
	b.ring_pages = 16;
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), bg->type, &b, grefs, grefs), 160);
	ck_assert_int_eq(nc2_bypass_encode(out, 159, bg->type, &b, grefs, grefs), NC2_ERR_NOSPACE);
	b.ring_pages = 2;
	b.peer_trusted = 2;
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), bg->type, &b, bg->prod, bg->cons),
			 NC2_ERR_INVALID_ARG);
	b.peer_trusted = 1;
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), bg->type, &b, NULL, bg->cons),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), bg->type, &b, bg->prod, NULL),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_bypass_encode(out, sizeof(out), bg->type, NULL, bg->prod, bg->cons),
			 NC2_ERR_INVALID_ARG);
	ck_assert_int_eq(nc2_bypass_encode(NULL, 100, bg->type, &b, bg->prod, bg->cons),
			 NC2_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_packet_msg_size)
{
	ck_assert_uint_eq(nc2_packet_msg_size(0, 0), 24);
	ck_assert_uint_eq(nc2_packet_msg_size(1, 0), 32);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 1), 32);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 8), 32);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 9), 40);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 14), 40);
	ck_assert_uint_eq(nc2_packet_msg_size(2, 0), 40);
	ck_assert_uint_eq(nc2_packet_msg_size(1, 5), 40);
	ck_assert_uint_eq(nc2_packet_msg_size(2, 14), 56);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 256), 280);
	ck_assert_uint_eq(nc2_packet_msg_size(256, 256), 24 + 2048 + 256);
	/* out of range */
	ck_assert_uint_eq(nc2_packet_msg_size(0, 257), 0);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 0xffff), 0);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 0xffffffffu), 0);
	ck_assert_uint_eq(nc2_packet_msg_size(0, 0xfffffff9u), 0); /* round8 would wrap to 0 */
	ck_assert_uint_eq(nc2_packet_msg_size((NC2_MSG_MAX_SIZE - 24) / 8 + 1, 0), 0);
	ck_assert_uint_eq(nc2_packet_msg_size(0xffffffffu, 0), 0);
	ck_assert_uint_eq(nc2_packet_msg_size(0x20000000u, 0), 0); /* 8 * n wraps to 0 */
	ck_assert_uint_eq(nc2_packet_msg_size(0x1fffffffu, 8), 0); /* sum wraps to 24 */
	/* agrees with the golden vectors */
	for (int i = 0; i < N_PKT; i++)
		ck_assert_uint_eq(
		    nc2_packet_msg_size(pkt_goldens[i].p.nr_frags, pkt_goldens[i].p.prefix_size),
		    pkt_goldens[i].len);
}
END_TEST

/* ======================================================================
 * Randomized round trips
 * ====================================================================== */

static const uint8_t all_types[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
				    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 255};
#define N_TYPES ((int)sizeof(all_types))

static const nc2_limits lim_all = {
    .max_frags = NC2_MAX_FRAGS_LIMIT,
    .max_packet_bytes = NC2_MAX_PACKET_BYTES,
    .offloads = NC2_OFFLOAD_ALL,
    .features = NC2_FEATURE_ALL,
    .packet_types = (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4),
};

static uint8_t rt_a[NC2_MSG_MAX_SIZE], rt_b[NC2_MSG_MAX_SIZE], rt_ref[NC2_MSG_MAX_SIZE];
static nc2_frag rt_frags[NC2_MAX_FRAGS_LIMIT], rt_frags2[NC2_MAX_FRAGS_LIMIT];
static nc2_post_buf rt_bufs[NC2_POST_MAX_COUNT], rt_bufs2[NC2_POST_MAX_COUNT];
static uint32_t rt_ids[NC2_RETURN_MAX_COUNT], rt_ids2[NC2_RETURN_MAX_COUNT];

static void rand_mac(tu_rng *r, uint8_t mac[6])
{
	tu_fill(r, mac, 6);
}

static uint32_t rand_count(tu_rng *r, uint32_t max)
{
	uint32_t k = tu_range(r, 0, 9);
	if (k < 7)
		return tu_range(r, 1, 8 < max ? 8 : max);
	if (k < 9)
		return tu_range(r, 1, 64 < max ? 64 : max);
	return tu_range(r, 1, max);
}

static void rt_packet(tu_rng *r, int iter)
{
	struct nc2_msg_packet p;
	uint8_t prefix[NC2_MAX_INLINE_BYTES];
	uint32_t total;

	memset(&p, 0, sizeof(p));
	p.type = (uint8_t)tu_range(r, 1, 4);
	if (p.type == NC2_PACKET_TYPE_small) {
		p.nr_frags = 0;
		p.prefix_size = (uint16_t)tu_range(r, NC2_MIN_PACKET_BYTES, NC2_MAX_INLINE_BYTES);
	} else {
		p.nr_frags = (uint16_t)rand_count(r, NC2_MAX_FRAGS_LIMIT);
		p.prefix_size = (uint16_t)tu_range(r, 0, NC2_MAX_INLINE_BYTES);
	}
	p.id = (p.type == NC2_PACKET_TYPE_small || p.type == NC2_PACKET_TYPE_pre_posted)
		   ? 0
		   : tu_u32(r);
	tu_fill(r, prefix, p.prefix_size);
	total = p.prefix_size;
	for (uint32_t i = 0; i < p.nr_frags; i++) {
		nc2_frag *f = &rt_frags[i];
		uint32_t budget = (NC2_MAX_PACKET_BYTES - NC2_MAX_INLINE_BYTES) / p.nr_frags;
		f->ref = tu_u32(r);
		f->off = (uint16_t)tu_range(r, 0, 4095);
		uint32_t maxsz = 4096u - f->off;
		if (maxsz > budget)
			maxsz = budget;
		f->size = (uint16_t)tu_range(r, 1, maxsz);
		f->flags =
		    (p.type != NC2_PACKET_TYPE_pre_posted && (tu_u32(r) & 1)) ? NC2_FRAG_STICKY : 0;
		total += f->size;
	}
	if (total < NC2_MIN_PACKET_BYTES) {
		total -= p.prefix_size;
		p.prefix_size = NC2_MIN_PACKET_BYTES;
		tu_fill(r, prefix, p.prefix_size);
		total += p.prefix_size;
	}
	p.flags = (uint8_t)(tu_u32(r) & NC2_PACKET_FLAGS_KNOWN);
	p.seg_type = (uint8_t)tu_range(r, 0, 2);
	if (p.seg_type) {
		p.flags |= NC2_PACKET_FLAG_csum_blank;
		p.mss = (uint16_t)tu_range(r, 1, 0xffff);
	}
	if (p.flags & NC2_PACKET_FLAG_csum_blank) {
		p.csum_start = (uint16_t)tu_range(r, 0, total - 2);
		p.csum_offset = (uint16_t)tu_range(r, 0, total - 2 - p.csum_start);
	}

	int n = nc2_packet_encode(rt_a, sizeof(rt_a), &p, rt_frags, prefix);
	size_t want =
	    tu_build_packet(rt_ref, p.id, p.type, p.flags, p.seg_type, p.prefix_size, p.mss,
			    p.csum_start, p.csum_offset, rt_frags, p.nr_frags, prefix);
	ck_assert_msg(n == (int)want, "iter %d: packet encode %d, want %zu", iter, n, want);
	ck_assert_uint_eq(nc2_packet_msg_size(p.nr_frags, p.prefix_size), want);
	TU_ASSERT_BYTES(rt_a, rt_ref, want);

	nc2_msg m;
	int rc = nc2_msg_decode(&m, rt_a, (size_t)n);
	ck_assert_msg(rc == NC2_OK, "iter %d: packet decode %d", iter, rc);
	ck_assert_uint_eq(m.size, (unsigned)n);
	assert_packet_eq(&m, &p, rt_frags, prefix, "random packet");

	uint32_t tl = 0;
	rc = nc2_packet_validate(&m, &lim_all, &tl);
	ck_assert_msg(rc == NC2_OK, "iter %d: validate %d", iter, rc);
	ck_assert_uint_eq(tl, total);

	for (uint32_t i = 0; i < m.u.packet.nr_frags; i++)
		nc2_packet_frag(&m, i, &rt_frags2[i]);
	int n2 = nc2_packet_encode(rt_b, sizeof(rt_b), &m.u.packet, rt_frags2, m.u.packet.prefix);
	ck_assert_int_eq(n2, n);
	TU_ASSERT_BYTES(rt_b, rt_a, (size_t)n);
}

static void rt_post(tu_rng *r, int iter)
{
	uint32_t n = rand_count(r, NC2_POST_MAX_COUNT);
	uint8_t queue = (uint8_t)tu_u32(r);
	for (uint32_t i = 0; i < n; i++) {
		nc2_post_buf *b = &rt_bufs[i];
		b->buf_id = tu_u32(r);
		b->gref = tu_u32(r);
		b->offset = (uint16_t)tu_range(r, 0, 4095);
		b->length = (uint16_t)tu_range(r, 1, 4096u - b->offset);
		b->flags = (uint16_t)(tu_u32(r) & NC2_POST_FLAG_STICKY);
	}
	int len = nc2_post_encode(rt_a, sizeof(rt_a), queue, rt_bufs, n);
	ck_assert_msg(len == (int)(8 + 16 * n), "iter %d: post encode %d", iter, len);
	nc2_msg m;
	ck_assert_int_eq(nc2_msg_decode(&m, rt_a, (size_t)len), NC2_OK);
	assert_post_eq(&m, queue, rt_bufs, n, "random post");
	for (uint32_t i = 0; i < n; i++)
		nc2_post_entry(&m, i, &rt_bufs2[i]);
	ck_assert_int_eq(
	    nc2_post_encode(rt_b, sizeof(rt_b), m.u.post.queue, rt_bufs2, m.u.post.count), len);
	TU_ASSERT_BYTES(rt_b, rt_a, (size_t)len);
}

static void rt_return(tu_rng *r, int iter)
{
	uint32_t n = rand_count(r, NC2_RETURN_MAX_COUNT);
	for (uint32_t i = 0; i < n; i++)
		rt_ids[i] = tu_u32(r);
	int len = nc2_return_encode(rt_a, sizeof(rt_a), rt_ids, n);
	ck_assert_msg(len == (int)((8 + 4 * n + 7) & ~7u), "iter %d: return encode %d", iter, len);
	nc2_msg m;
	ck_assert_int_eq(nc2_msg_decode(&m, rt_a, (size_t)len), NC2_OK);
	assert_ret_eq(&m, rt_ids, n, "random return");
	for (uint32_t i = 0; i < n; i++)
		rt_ids2[i] = nc2_return_id(&m, i);
	ck_assert_int_eq(nc2_return_encode(rt_b, sizeof(rt_b), rt_ids2, m.u.ret.count), len);
	TU_ASSERT_BYTES(rt_b, rt_a, (size_t)len);
}

static void rt_bypass(tu_rng *r, uint8_t type, int iter)
{
	struct nc2_msg_bypass b;
	uint32_t prod[16], cons[16], prod2[16], cons2[16];
	memset(&b, 0, sizeof(b));
	b.port = type == NC2_MSG_BYPASS_BACKEND ? tu_u32(r) : 0;
	b.ring_domid = (uint16_t)tu_u32(r);
	b.peer_domid = (uint16_t)tu_u32(r);
	b.handle = tu_u32(r);
	rand_mac(r, b.remote_mac);
	b.peer_trusted = (uint8_t)(tu_u32(r) & 1);
	b.ring_pages = (uint8_t)tu_range(r, 1, NC2_BYPASS_MAX_RING_PAGES);
	b.control_gref = tu_u32(r);
	for (int i = 0; i < 16; i++) {
		prod[i] = tu_u32(r);
		cons[i] = tu_u32(r);
	}
	int len = nc2_bypass_encode(rt_a, sizeof(rt_a), type, &b, prod, cons);
	ck_assert_msg(len == 32 + 8 * b.ring_pages, "iter %d: bypass encode %d", iter, len);
	nc2_msg m;
	ck_assert_int_eq(nc2_msg_decode(&m, rt_a, (size_t)len), NC2_OK);
	assert_bypass_eq(&m, type, &b, prod, cons, "random bypass");
	for (uint32_t i = 0; i < b.ring_pages; i++) {
		prod2[i] = nc2_bypass_gref(&m, 0, i);
		cons2[i] = nc2_bypass_gref(&m, 1, i);
	}
	ck_assert_int_eq(nc2_bypass_encode(rt_b, sizeof(rt_b), m.type, &m.u.bypass, prod2, cons2),
			 len);
	TU_ASSERT_BYTES(rt_b, rt_a, (size_t)len);
}

static void rt_fixed(tu_rng *r, uint8_t type, int iter)
{
	nc2_msg h;
	memset(&h, 0, sizeof(h));
	h.type = type;
	switch (type) {
	case NC2_MSG_SET_OFFLOAD:
		h.size = 8;
		h.u.offload.csum = (uint8_t)(tu_u32(r) & 1);
		h.u.offload.tso4 = (uint8_t)(tu_u32(r) & 1);
		h.u.offload.tso6 = (uint8_t)(tu_u32(r) & 1);
		h.u.offload.lro = (uint8_t)(tu_u32(r) & 1);
		break;
	case NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET:
		h.size = 8;
		h.u.value = tu_range(r, 1, NC2_MAX_FRAGS_LIMIT);
		break;
	case NC2_MSG_BYPASS_READY:
		h.size = 8;
		h.u.value = 0;
		break;
	case NC2_MSG_CREATE_RX_QUEUE:
		h.size = 24;
		h.u.rxq.queue = (uint8_t)tu_u32(r);
		h.u.rxq.flags = (uint8_t)(tu_u32(r) & NC2_RXQ_FLAG_DEFAULT);
		h.u.rxq.vlan = (uint16_t)tu_range(r, 0, NC2_VLAN_MAX);
		h.u.rxq.buf_size = tu_range(r, NC2_MIN_RX_BUF_SIZE, NC2_PAGE_SIZE);
		if (tu_u32(r) & 1) {
			rand_mac(r, h.u.rxq.mac);
			h.u.rxq.mac[0] &= 0xfe;
		}
		break;
	case NC2_MSG_SUGGEST_BYPASS:
		h.size = 16;
		rand_mac(r, h.u.suggest_mac);
		break;
	case NC2_MSG_HELLO:
		h.size = 16;
		h.u.hello.version_min = (uint16_t)tu_range(r, 1, 0xffff);
		h.u.hello.version_max = (uint16_t)tu_range(r, h.u.hello.version_min, 0xffff);
		h.u.hello.features = tu_u32(r) & NC2_FEATURE_ALL;
		h.u.hello.max_rx_queues = (uint16_t)tu_range(r, 1, NC2_MAX_RX_QUEUES);
		break;
	case NC2_MSG_MCAST:
		h.size = 16;
		rand_mac(r, h.u.mcast.mac);
		h.u.mcast.mac[0] |= 1;
		h.u.mcast.op = (uint8_t)tu_range(r, NC2_MCAST_OP_ADD, NC2_MCAST_OP_DEL);
		break;
	case NC2_MSG_RECLAIM_BUFFERS:
		h.size = 8;
		h.u.value =
		    (tu_u32(r) & 3) ? tu_range(r, 0, NC2_MAX_RX_QUEUES - 1) : NC2_RECLAIM_ALL;
		break;
	case NC2_MSG_PAD:
		h.size = (uint16_t)(8 * tu_range(r, 1, 512));
		break;
	default:
		h.size = 8;
		h.u.value = tu_u32(r);
		break;
	}
	int len = nc2_msg_encode(&h, rt_a, sizeof(rt_a));
	ck_assert_msg(len == h.size, "iter %d: type %u encode %d", iter, type, len);
	nc2_msg m;
	memset(&m, 0xa5, sizeof(m));
	ck_assert_int_eq(nc2_msg_decode(&m, rt_a, (size_t)len), NC2_OK);
	assert_fixed_eq(&m, &h, "random fixed");
	ck_assert_int_eq(nc2_msg_encode(&m, rt_b, sizeof(rt_b)), len);
	TU_ASSERT_BYTES(rt_b, rt_a, (size_t)len);
}

START_TEST(test_roundtrip_random)
{
	tu_rng r;
	tu_rng_seed(&r, 0x6e63325f77697265ull); /* "nc2_wire" */
	for (int iter = 0; iter < 10000; iter++) {
		uint8_t type = all_types[(iter + tu_range(&r, 0, 1)) % N_TYPES];
		switch (type) {
		case NC2_MSG_PACKET:
			rt_packet(&r, iter);
			break;
		case NC2_MSG_POST_BUFFERS:
			rt_post(&r, iter);
			break;
		case NC2_MSG_RETURN_BUFFERS:
			rt_return(&r, iter);
			break;
		case NC2_MSG_BYPASS_FRONTEND:
		case NC2_MSG_BYPASS_BACKEND:
			rt_bypass(&r, type, iter);
			break;
		default:
			rt_fixed(&r, type, iter);
			break;
		}
	}
}
END_TEST

START_TEST(test_roundtrip_packets_heavy)
{
	/* Extra PACKET coverage: the most complex encoder. */
	tu_rng r;
	tu_rng_seed(&r, 0x7061636b65747321ull);
	for (int iter = 0; iter < 5000; iter++)
		rt_packet(&r, iter);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("golden");
	tcase_add_loop_test(tc, test_golden_decode, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_golden_encode, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_golden_encode_exact_cap, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_golden_encode_nospace, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_golden_decode_const_input, 0, N_GOLDEN);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode_rules");
	tcase_add_loop_test(tc, test_golden_hdr_flags, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_golden_truncated, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_golden_size_malformed, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_golden_fixed_size, 0, N_GOLDEN);
	tcase_add_loop_test(tc, test_decode_rule, 0, N_MUTS);
	tcase_add_test(tc, test_decode_invalid_arg);
	tcase_add_test(tc, test_decode_hello_unknown_features);
	tcase_add_test(tc, test_decode_packet_prefix_257);
	tcase_add_test(tc, test_decode_packet_nr_frags_derived);
	tcase_add_test(tc, test_packet_prefix_pad_all_lengths);
	tcase_add_test(tc, test_decode_bypass_pages);
	tcase_add_test(tc, test_decode_max_counts);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode_args");
	tcase_add_loop_test(tc, test_encode_fixed_invalid, 0, N_BAD_FIXED);
	tcase_add_test(tc, test_encode_fixed_null);
	tcase_add_test(tc, test_encode_pad);
	tcase_add_test(tc, test_encode_packet_invalid);
	tcase_add_test(tc, test_encode_packet_nospace);
	tcase_add_test(tc, test_encode_post_invalid);
	tcase_add_test(tc, test_encode_return_invalid);
	tcase_add_test(tc, test_finish_packets);
	tcase_add_test(tc, test_small_packets);
	tcase_add_test(tc, test_posted_packets);
	tcase_add_test(tc, test_encode_bypass_invalid);
	tcase_add_test(tc, test_packet_msg_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip_random);
	tcase_add_test(tc, test_roundtrip_packets_heavy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(wire_suite());
}
