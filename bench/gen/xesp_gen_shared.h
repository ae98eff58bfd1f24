/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one header seen by both xesp_gen.bpf.c (clang -target bpf) and the C++ generators: the
 * layout of a test frame's UDP payload header and the receiver's counters.
 * Fixed-width kernel types only; the C++ side static_asserts the sizes.
 */
#ifndef XESP_GEN_SHARED_H
#define XESP_GEN_SHARED_H

#include <linux/types.h>

/*
 * Test frame: Ethernet II (14) + IPv4 without options (20) + UDP (8) + this header (16) + fill.
 * The header has to fit into the smallest Ethernet frame (60 bytes without FCS leaves 18 bytes
 * of UDP payload), which is why the magic is 4 bytes and flow and length are 16 bits: a flow id
 * is a UDP port offset (< 65536) and frames stop at 9000 bytes. All fields are big-endian
 * (network order, readable in a hex dump). `seq` sits at frame offset 48, 8-byte aligned
 * relative to the frame start, for the XDP program's store.
 */
struct xesp_gen_header {
	__u8 magic[4];    /* XESP_GEN_MAGIC, no terminating NUL */
	__be16 flow;      /* seq % flows; the UDP source port is base port + flow */
	__be64 seq;       /* unique per frame within a run */
	__be16 frame_len; /* the whole frame as sent (Ethernet header .. last fill byte, no FCS) */
} __attribute__((packed));

#define XESP_GEN_MAGIC "XGN1"
#define XESP_GEN_MAGIC_LEN 4
#define XESP_GEN_HEADER_SIZE 16
#define XESP_GEN_ETH_LEN 14
#define XESP_GEN_IPV4_LEN 20
#define XESP_GEN_UDP_LEN 8
#define XESP_GEN_PAYLOAD_OFFSET 42 /* Ethernet + IPv4 + UDP */
#define XESP_GEN_FILL_OFFSET 58    /* ... + struct xesp_gen_header */
#define XESP_GEN_MIN_FRAME 60      /* Ethernet minimum without FCS */
#define XESP_GEN_MAX_FRAME 9000
#define XESP_GEN_MIXED_MAX_FRAME 1514 /* largest frame of the mixed size spread */

/* What the receiving side's counting program saw: the value of its per-CPU map rx_stats. */
struct xesp_gen_rx_stats {
	__u64 frames;        /* every frame the program ran on */
	__u64 bytes;
	__u64 test_frames;   /* frames with a well-formed test header */
	__u64 bad_header;    /* magic present, but length, flow or port disagree with the frame */
	__u64 out_of_window; /* test frames whose seq falls outside [seq_base, seq_base + window) */
	__u64 other_frames;  /* not a test frame at all (e.g. neighbour discovery) */
};
#define XESP_GEN_RX_STATS_SIZE 48

/* Settings of the receiving side's program, in its .bss, written by userspace before attach. */
struct xesp_gen_rx_config {
	__u64 seq_base;      /* first sequence number expected */
	__u32 window;        /* sequence numbers tracked one by one (entries of rx_seq_hits) */
	__u32 flows;         /* expected flow count; 0 = do not check flow/port */
	__u32 src_port_base; /* expected UDP source port of flow 0 */
	__u32 verdict;       /* XDP_DROP or XDP_PASS for every frame */
};

#endif /* XESP_GEN_SHARED_H */
