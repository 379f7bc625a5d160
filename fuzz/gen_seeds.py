#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora under fuzz/corpus/ (run by hand, output committed).

    python3 fuzz/gen_seeds.py [OUTDIR]      # default: fuzz/corpus next to this file

Layouts follow include/nc2/wire.h, frag.h and reloc.h; all fields are
little-endian. File names say what a seed is: ok_* should be accepted,
bad_* breaks the rule named after it. Existing seed files of the same name
are overwritten; other files (e.g. crash reproducers added later) are kept.
"""
import os
import struct
import sys

# ---- wire.h -----------------------------------------------------------------

SET_MAX_PACKETS, PACKET, FINISH_PACKET, SET_OFFLOAD, SET_MAX_FRAGS = 1, 2, 3, 4, 5
POST_BUFFERS, RETURN_BUFFERS, CREATE_RX_QUEUE = 6, 7, 8
BYPASS_FRONTEND, BYPASS_BACKEND, BYPASS_FRONTEND_READY, BYPASS_READY = 9, 10, 11, 12
BYPASS_DISABLE, BYPASS_DISABLED, BYPASS_DETACH, BYPASS_DETACHED = 13, 14, 15, 16
SUGGEST_BYPASS, HELLO, SET_GRANT_CACHE, UNGRANT, UNGRANT_ACK, MCAST = 17, 18, 19, 20, 21, 22
RECLAIM_BUFFERS = 23
PAD = 255

PT_COPY, PT_POSTED, PT_MAP, PT_SMALL = 1, 2, 3, 4
F_CSUM_BLANK, F_VALIDATED, F_BYPASS, F_NEED_EVENT = 1, 2, 4, 8
SEG_NONE, SEG_TCP4, SEG_TCP6 = 0, 1, 2
STICKY = 0x8000

OFF_CSUM, OFF_TSO4, OFF_TSO6, OFF_LRO = 1, 2, 4, 8
FEAT_STICKY = 1 << 4

ETH = bytes.fromhex("00163e112233" "00163e445566" "0800")  # dst, src, IPv4


def hdr(t, size, flags=0):
    return struct.pack("<BBH", t, flags, size)


def u32msg(t, v, signed=False):
    return hdr(t, 8) + struct.pack("<i" if signed else "<I", v)


def round8(n):
    return (n + 7) & ~7


def packet(ptype, frags=(), prefix=b"", pid=0, flags=0, seg=SEG_NONE, mss=0,
           cs=0, co=0, rsvd8=0, rsvd32=0, prefix_size=None, pad=None, size=None):
    """frags: (size, off, ref[, sticky]) tuples."""
    psz = len(prefix) if prefix_size is None else prefix_size
    body = b"".join(struct.pack("<HHI", f[0], f[1] | (STICKY if len(f) > 3 and f[3] else 0),
                                f[2]) for f in frags)
    tail = prefix + (pad if pad is not None else bytes(round8(len(prefix)) - len(prefix)))
    total = 24 + len(body) + len(tail) if size is None else size
    return (hdr(PACKET, total) + struct.pack("<IBBBBHHHHI", pid, ptype, flags, seg, rsvd8, psz,
                                             mss, cs, co, rsvd32) + body + tail)


def post(queue, entries, rsvd=0, count=None, size=None):
    """entries: (buf_id, gref, offset, length, bflags[, rsvd])."""
    n = len(entries) if count is None else count
    body = b"".join(struct.pack("<IIHHHH", *(tuple(e) + (0,) * (6 - len(e)))) for e in entries)
    return hdr(POST_BUFFERS, 8 + len(body) if size is None else size) + \
        struct.pack("<BBH", queue, rsvd, n) + body


def ret(ids, pad=0, count=None):
    n = len(ids) if count is None else count
    body = b"".join(struct.pack("<I", i) for i in ids)
    if len(ids) % 2:
        body += struct.pack("<I", pad)
    return hdr(RETURN_BUFFERS, 8 + len(body)) + struct.pack("<HH", n, 0) + body


def rxq(queue, flags, vlan, buf_size, mac, rsvd16=0, rsvd32=0):
    return hdr(CREATE_RX_QUEUE, 24) + struct.pack("<BBHI6sHI", queue, flags, vlan, buf_size,
                                                  mac, rsvd16, rsvd32)


def bypass(t, pages, port=0, ring_domid=1, peer_domid=2, handle=0x1234,
           mac=bytes.fromhex("00163e0a0b0c"), trusted=1, control=0x100, pad=0,
           size=None, grefs=None):
    g = grefs if grefs is not None else list(range(0x200, 0x200 + 2 * pages))
    body = b"".join(struct.pack("<I", x) for x in g)
    total = 32 + len(body) if size is None else size
    return (hdr(t, total) + struct.pack("<IHHI6sBBII", port, ring_domid, peer_domid, handle,
                                        mac, trusted, pages, control, pad) + body)


def hello(vmin=1, vmax=1, features=0xff, queues=4, rsvd=0):
    return hdr(HELLO, 16) + struct.pack("<HHIHH", vmin, vmax, features, queues, rsvd)


def mcast(mac, op, rsvd8=0, rsvd32=0):
    return hdr(MCAST, 16) + struct.pack("<6sBBI", mac, op, rsvd8, rsvd32)


def suggest(mac, pad1=0, pad2=0):
    return hdr(SUGGEST_BYPASS, 16) + struct.pack("<6sHI", mac, pad1, pad2)


def offload(csum, tso4, tso6, lro):
    return hdr(SET_OFFLOAD, 8) + bytes([csum, tso4, tso6, lro])


UNICAST = bytes.fromhex("00163e5a5a01")
MCASTMAC = bytes.fromhex("01005e000001")

WIRE = {
    "ok_set_max_packets": u32msg(SET_MAX_PACKETS, 256),
    "ok_packet_small_prefix60": packet(PT_SMALL, prefix=ETH + bytes(range(46))),
    "ok_packet_copy_2frags_prefix14": packet(PT_COPY, [(1000, 96, 0x11), (400, 0, 0x12)],
                                             prefix=ETH, pid=7),
    "ok_packet_map_sticky_tso4": packet(PT_MAP, [(64, 0, 0x21, True), (4096, 0, 0x22)],
                                        pid=9, flags=F_CSUM_BLANK | F_NEED_EVENT,
                                        seg=SEG_TCP4, mss=1448, cs=34, co=16),
    "ok_packet_posted_1frag": packet(PT_POSTED, [(1514, 64, 5)], flags=F_VALIDATED),
    "ok_packet_copy_tcpv6_prefix256": packet(PT_COPY, [(2048, 2048, 0x31)],
                                             prefix=bytes(range(256)), pid=1,
                                             flags=F_CSUM_BLANK, seg=SEG_TCP6, mss=1440,
                                             cs=54, co=16),
    "ok_finish_packet": u32msg(FINISH_PACKET, 7),
    "ok_set_offload_all": offload(1, 1, 1, 1),
    "ok_set_max_frags_17": u32msg(SET_MAX_FRAGS, 17),
    "ok_post_buffers_3": post(0, [(1, 0x40, 0, 2048, 0), (2, 0x40, 2048, 2048, 0),
                                  (3, 0x41, 0, 4096, 1)]),
    "ok_return_buffers_1": ret([42]),
    "ok_return_buffers_2": ret([1, 2]),
    "ok_create_rx_queue_default": rxq(0, 1, 0, 2048, bytes(6)),
    "ok_create_rx_queue_mac_vlan": rxq(3, 0, 10, 4096, UNICAST),
    "ok_bypass_frontend_1page": bypass(BYPASS_FRONTEND, 1),
    "ok_bypass_backend_2pages": bypass(BYPASS_BACKEND, 2, port=17, trusted=0),
    "ok_bypass_frontend_ready": u32msg(BYPASS_FRONTEND_READY, -1, signed=True),
    "ok_bypass_ready": u32msg(BYPASS_READY, 0),
    "ok_bypass_disable": u32msg(BYPASS_DISABLE, 0x1234),
    "ok_bypass_disabled": u32msg(BYPASS_DISABLED, 0x1234),
    "ok_bypass_detach": u32msg(BYPASS_DETACH, 0x1234),
    "ok_bypass_detached": u32msg(BYPASS_DETACHED, 0x1234),
    "ok_suggest_bypass": suggest(UNICAST),
    "ok_hello": hello(),
    "ok_hello_unknown_features": hello(1, 3, features=0xdead00ff, queues=64),
    "ok_set_grant_cache": u32msg(SET_GRANT_CACHE, 512),
    "ok_ungrant": u32msg(UNGRANT, 0x40),
    "ok_ungrant_ack": u32msg(UNGRANT_ACK, 0x40),
    "ok_mcast_add": mcast(MCASTMAC, 1),
    "ok_mcast_del": mcast(MCASTMAC, 2),
    "ok_reclaim_buffers_queue_63": u32msg(RECLAIM_BUFFERS, 63),
    "ok_reclaim_buffers_all": u32msg(RECLAIM_BUFFERS, 0xffffffff),
    "ok_pad_8": hdr(PAD, 8) + bytes(4),
    "ok_pad_64_junk_body": hdr(PAD, 64) + bytes(range(1, 61)),
    "ok_hello_then_trailing_msg": hello() + u32msg(SET_MAX_PACKETS, 8),
    "bad_empty": b"",
    "bad_short_header": hdr(HELLO, 16),
    "bad_unknown_type_0": hdr(0, 8) + bytes(4),
    "bad_unknown_type_24": hdr(24, 8) + bytes(4),
    "bad_unknown_type_254": hdr(254, 16) + bytes(12),
    "bad_reclaim_buffers_queue_64": u32msg(RECLAIM_BUFFERS, 64),
    "bad_header_flags": hdr(SET_MAX_PACKETS, 8, flags=1) + bytes(4),
    "bad_size_unaligned": hdr(PAD, 12) + bytes(12),
    "bad_size_past_end": hdr(PAD, 32) + bytes(12),
    "bad_fixed_size": hdr(HELLO, 24) + hello()[4:] + bytes(8),
    "bad_hello_version_min_0": hello(0, 1),
    "bad_hello_queues_65": hello(queues=65),
    "bad_hello_rsvd": hello(rsvd=1),
    "bad_packet_rsvd8": packet(PT_SMALL, prefix=ETH, rsvd8=1),
    "bad_packet_rsvd32": packet(PT_SMALL, prefix=ETH, rsvd32=1),
    "bad_packet_prefix_257": packet(PT_SMALL, prefix=bytes(257)),
    "bad_packet_prefix_pad": packet(PT_SMALL, prefix=ETH, pad=b"\x00\x01"),
    "bad_packet_prefix_past_size": packet(PT_SMALL, prefix=ETH, prefix_size=40),
    "bad_packet_frag_rsvd_bits": packet(PT_COPY, [(100, 0x1000, 1)], prefix=ETH, pid=1),
    "bad_post_count_0": post(0, [], count=0),
    "bad_post_size_mismatch": post(0, [(1, 2, 0, 64, 0)], count=2),
    "bad_post_entry_past_page": post(0, [(1, 2, 4000, 200, 0)]),
    "bad_post_entry_flags": post(0, [(1, 2, 0, 64, 2)]),
    "bad_return_pad": ret([5], pad=1),
    "bad_return_count_0": hdr(RETURN_BUFFERS, 8) + bytes(4),
    "bad_rxq_multicast_mac": rxq(1, 0, 0, 2048, MCASTMAC),
    "bad_rxq_buf_size_63": rxq(1, 0, 0, 63, UNICAST),
    "bad_rxq_vlan_4095": rxq(1, 0, 4095, 2048, UNICAST),
    "bad_mcast_unicast": mcast(UNICAST, 1),
    "bad_mcast_op_3": mcast(MCASTMAC, 3),
    "bad_set_offload_2": offload(2, 0, 0, 0),
    "bad_set_max_frags_0": u32msg(SET_MAX_FRAGS, 0),
    "bad_set_max_frags_257": u32msg(SET_MAX_FRAGS, 257),
    "bad_bypass_pages_17": bypass(BYPASS_BACKEND, 17),
    "bad_bypass_frontend_port": bypass(BYPASS_FRONTEND, 1, port=5),
    "bad_bypass_ready_pad": u32msg(BYPASS_READY, 1),
    "bad_suggest_pad": suggest(UNICAST, pad2=1),
}

# ---- frag.h: 12 octets of limits, then a message -----------------------------

ALL_TYPES = (1 << PT_COPY) | (1 << PT_POSTED) | (1 << PT_MAP) | (1 << PT_SMALL)


def cfg(max_frags=18, max_bytes=65536, offloads=0xf, features=0xff, ptypes=ALL_TYPES,
        shift=0, no_total=False):
    return (bytes([max_frags - 1]) + struct.pack("<I", max_bytes)[:3] +
            bytes([offloads, features]) + struct.pack("<I", ptypes) +
            bytes([shift | (8 if no_total else 0), 0]))


COPY2 = [(1000, 96, 0x11), (400, 0, 0x12)]

FRAG = {
    "ok_small_60": cfg() + packet(PT_SMALL, prefix=ETH + bytes(46)),
    "ok_small_min_14": cfg() + packet(PT_SMALL, prefix=ETH),
    "ok_copy_2frags": cfg() + packet(PT_COPY, COPY2, prefix=ETH, pid=3),
    "ok_copy_csum_blank": cfg(offloads=OFF_CSUM) + packet(PT_COPY, COPY2, prefix=ETH, pid=3,
                                                           flags=F_CSUM_BLANK, cs=34, co=6),
    "ok_map_tso4": cfg(offloads=OFF_CSUM | OFF_TSO4) + packet(
        PT_MAP, [(4096, 0, i) for i in range(15)], prefix=ETH, pid=4,
        flags=F_CSUM_BLANK, seg=SEG_TCP4, mss=1448, cs=34, co=16),
    "ok_map_tcp6_via_lro": cfg(offloads=OFF_CSUM | OFF_LRO) + packet(
        PT_MAP, [(3000, 1096, 1)], prefix=ETH, pid=5, flags=F_CSUM_BLANK, seg=SEG_TCP6,
        mss=1440, cs=54, co=16),
    "ok_map_sticky": cfg(features=FEAT_STICKY) + packet(PT_MAP, [(64, 0, 9, True),
                                                                (1450, 0, 10)], pid=6),
    "ok_posted_2frags": cfg(ptypes=1 << PT_POSTED) + packet(PT_POSTED, [(1500, 0, 1),
                                                                        (14, 64, 2)]),
    "ok_max_bytes_exact": cfg(max_frags=1, max_bytes=1514) + packet(PT_COPY, [(1500, 0, 1)],
                                                                   prefix=ETH, pid=1),
    "ok_total_65536": cfg(max_frags=16) + packet(PT_COPY, [(4096, 0, i) for i in range(16)],
                                                 pid=1),
    "ok_misaligned_copy": cfg(shift=3) + packet(PT_COPY, COPY2, prefix=ETH, pid=3),
    "ok_no_total_ptr": cfg(no_total=True) + packet(PT_SMALL, prefix=ETH + bytes(50)),
    "ok_csum_at_end": cfg(offloads=OFF_CSUM) + packet(PT_SMALL, prefix=bytes(64),
                                                      flags=F_CSUM_BLANK, cs=60, co=2),
    "ok_256_frags": cfg(max_frags=256) + packet(PT_MAP, [(200, 0, i) for i in range(256)],
                                                prefix=ETH, pid=8),
    "bad_257_frags": cfg(max_frags=256) + packet(PT_MAP, [(200, 0, i) for i in range(257)],
                                                 prefix=ETH, pid=8),
    "bad_too_many_frags": cfg(max_frags=1) + packet(PT_COPY, COPY2, prefix=ETH, pid=3),
    "bad_total_13": cfg() + packet(PT_SMALL, prefix=bytes(13)),
    "bad_total_over_max": cfg(max_bytes=1513) + packet(PT_COPY, [(1500, 0, 1)], prefix=ETH,
                                                      pid=1),
    "bad_total_65537": cfg(max_frags=17) + packet(PT_COPY, [(4096, 0, i) for i in range(16)] +
                                                  [(1, 0, 99)], pid=1),
    "bad_frag_past_page": cfg() + packet(PT_COPY, [(100, 4000, 1)], prefix=ETH, pid=1),
    "bad_frag_empty": cfg() + packet(PT_COPY, [(0, 0, 1)], prefix=ETH, pid=1),
    "bad_sticky_without_feature": cfg(features=0) + packet(PT_MAP, [(64, 0, 9, True)],
                                                           prefix=ETH, pid=1),
    "bad_posted_sticky": cfg() + packet(PT_POSTED, [(64, 0, 9, True)], prefix=ETH),
    "bad_posted_id": cfg() + packet(PT_POSTED, [(64, 0, 9)], prefix=ETH, pid=2),
    "bad_small_id": cfg() + packet(PT_SMALL, prefix=ETH, pid=1),
    "bad_small_with_frag": cfg() + packet(PT_SMALL, [(64, 0, 9)], prefix=ETH),
    "bad_copy_no_frags": cfg() + packet(PT_COPY, prefix=ETH + bytes(50), pid=1),
    "bad_type_not_accepted": cfg(ptypes=1 << PT_SMALL) + packet(PT_COPY, COPY2, pid=3),
    "bad_type_0_bit0_set": cfg(ptypes=0xffffffff) + packet(0, COPY2, pid=3),
    "bad_type_5": cfg(ptypes=0xffffffff) + packet(5, COPY2, pid=3),
    "bad_type_200": cfg(ptypes=0xffffffff) + packet(200, COPY2, pid=3),
    "bad_flags_unknown": cfg() + packet(PT_SMALL, prefix=ETH, flags=0x10),
    "bad_csum_not_enabled": cfg(offloads=0) + packet(PT_SMALL, prefix=bytes(64),
                                                     flags=F_CSUM_BLANK, cs=34, co=16),
    "bad_csum_past_end": cfg() + packet(PT_SMALL, prefix=bytes(64), flags=F_CSUM_BLANK,
                                        cs=60, co=3),
    "bad_csum_overflow": cfg() + packet(PT_SMALL, prefix=bytes(64), flags=F_CSUM_BLANK,
                                        cs=0xffff, co=0xffff),
    "bad_csum_without_blank": cfg() + packet(PT_SMALL, prefix=bytes(64), cs=34),
    "bad_mss_without_seg": cfg() + packet(PT_SMALL, prefix=bytes(64), mss=1448),
    "bad_seg_type_3": cfg() + packet(PT_SMALL, prefix=bytes(64), flags=F_CSUM_BLANK,
                                     seg=3, mss=1448),
    "bad_tso4_not_enabled": cfg(offloads=OFF_CSUM | OFF_TSO6) + packet(
        PT_SMALL, prefix=bytes(64), flags=F_CSUM_BLANK, seg=SEG_TCP4, mss=1448, cs=34, co=16),
    "bad_tso_mss_0": cfg() + packet(PT_SMALL, prefix=bytes(64), flags=F_CSUM_BLANK,
                                    seg=SEG_TCP4, cs=34, co=16),
    "bad_tso_without_csum_blank": cfg() + packet(PT_SMALL, prefix=bytes(64), seg=SEG_TCP6,
                                                 mss=1440),
    "other_hello_not_packet": cfg() + hello(),
    "other_decode_fails": cfg() + packet(PT_SMALL, prefix=ETH, rsvd8=1),
}

# ---- reloc.h ------------------------------------------------------------------

MAGIC = 0x5332434E


def reloc(macs=(), mcast=(), rate_bytes=0, rate_usec=0, vlan=0, filter_mac=0, promisc=0,
          mtu=0, offloads=0, magic=MAGIC, version=1, length=None, nr_macs=None,
          nr_mcast=None, mac_pad=0, rsvd8=0, rsvd16=0, rsvd32=0, trailing=b""):
    priv = struct.pack("<IIHBB", rate_bytes, rate_usec, vlan, filter_mac,
                       len(macs) if nr_macs is None else nr_macs)
    priv += b"".join(m + struct.pack("<H", mac_pad) for m in macs)
    unpriv = struct.pack("<BBHIHHI", promisc, rsvd8, mtu, offloads,
                         len(mcast) if nr_mcast is None else nr_mcast, rsvd16, rsvd32)
    unpriv += b"".join(m + bytes(2) for m in mcast)
    total = 8 + len(priv) + len(unpriv)
    return (struct.pack("<IHH", magic, version, total if length is None else length) + priv +
            unpriv + trailing)


def mac(i, multicast=False):
    return bytes([0x01 if multicast else 0x02, 0, 0x5e if multicast else 0x16, 0, 0, i])


M2 = [mac(1), mac(2)]
G2 = [mac(1, True), mac(2, True)]

RELOC = {
    "ok_minimal": reloc(),
    "ok_typical": reloc([mac(1)], G2, rate_bytes=125000, rate_usec=1000, vlan=10,
                        filter_mac=1, promisc=0, mtu=1500, offloads=0xf),
    "ok_max_counts": reloc([mac(i) for i in range(8)], [mac(i, True) for i in range(64)],
                           vlan=4094, filter_mac=1, promisc=1, mtu=65535),
    "ok_mtu_68": reloc(M2, mtu=68),
    "ok_rate_usec_only": reloc(rate_usec=500),
    "ok_trailing_octets": reloc(M2, G2, trailing=b"\xff" * 8),
    "bad_empty": b"",
    "bad_short_7": reloc()[:7],
    "bad_truncated": reloc(M2, G2)[:40],
    "bad_magic": reloc(magic=0x5332434F),
    "bad_version_2": reloc(version=2),
    "bad_length_past_end": reloc(M2, length=200),
    "bad_length_mismatch": reloc(M2, length=44),
    "bad_length_too_small": reloc(length=12),
    "bad_nr_macs_9": reloc([mac(i) for i in range(9)]),
    "bad_nr_mcast_65": reloc(mcast=[mac(i, True) for i in range(65)]),
    "bad_filter_mac_2": reloc(M2, filter_mac=2),
    "bad_promisc_2": reloc(promisc=2),
    "bad_vlan_4095": reloc(vlan=4095),
    "bad_rate_without_window": reloc(rate_bytes=1000),
    "bad_mac_multicast": reloc([mac(1, True)]),
    "bad_mac_zero": reloc([bytes(6)]),
    "bad_mcast_unicast": reloc(mcast=[mac(1)]),
    "bad_mac_padding": reloc(M2, mac_pad=1),
    "bad_rsvd8": reloc(rsvd8=1),
    "bad_rsvd16": reloc(rsvd16=1),
    "bad_rsvd32": reloc(rsvd32=1),
    "bad_offload_unknown_bit": reloc(offloads=0x10),
    "bad_mtu_67": reloc(mtu=67),
}


def write(outdir, target, seeds):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    for name, blob in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(blob)
    print(f"{target}: {len(seeds)} seeds in {d}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    write(outdir, "fuzz_wire", WIRE)
    write(outdir, "fuzz_frag", FRAG)
    write(outdir, "fuzz_reloc", RELOC)


if __name__ == "__main__":
    main()
