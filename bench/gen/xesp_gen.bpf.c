// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Two XDP programs of xesp's traffic generator:
 *  - xesp_gen_tx runs under BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on one template test
 *    frame: it stamps a fresh sequence number (and the flow and frame size that follow from it)
 *    into the frame and returns XDP_TX, so every repeat leaves the interface as a new frame.
 *  - xesp_gen_rx is attached to the receiving end of a test veth: it counts test frames (per CPU)
 *    and how often each sequence number arrived, then drops (or passes) them.
 * The frame layout lives in xesp_gen_shared.h; test_frame.cpp is the C++ twin of the
 * arithmetic here (mixed frame sizes, flows) and the unit tests pin both to the same numbers.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xesp_gen_shared.h"

/* ---- generator side ---- */

/* Set before load by LiveFrameGenerator: they shape every frame of the run. */
const volatile __u32 gen_flows = 1;
const volatile __u32 gen_src_port_base = 10000;
const volatile __u32 gen_mixed_sizes = 0; /* template is XESP_GEN_MIXED_MAX_FRAME long, shrunk */

/*
 * Next sequence number: one counter in .bss taken with an atomic fetch-add, not per-CPU counters
 * with a CPU prefix. A BPF_PROG_RUN call runs on the calling CPU only, so the add is
 * uncontended and cheap, yet numbers stay unique should two threads ever run this program at
 * once; and they are dense (start .. start + N - 1), which is what tests compare against.
 * Userspace reads it back to learn exactly how many frames a run produced, even one cut short
 * by a signal.
 */
__u64 gen_next_seq;
/* Frames the program refused (template too short, tail adjust failed): seq taken, no frame. */
__u64 gen_aborted;

/* Same spread as mixed_frame_size() in test_frame.cpp. */
static __always_inline __u32 mixed_frame_size(__u64 seq)
{
	if ((seq & 3) == 0)
		return XESP_GEN_MIN_FRAME;
	if ((seq & 3) == 1)
		return XESP_GEN_MIXED_MAX_FRAME;
	__u64 j = (seq >> 2) * 2 + (seq & 1);
	__u32 span = XESP_GEN_MIXED_MAX_FRAME - XESP_GEN_MIN_FRAME + 1;
	return XESP_GEN_MIN_FRAME + (__u32)(((j % span) * 1021) % span);
}

/* RFC 791 header checksum; ip->check must be zero on entry. */
static __always_inline __u16 ipv4_checksum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < XESP_GEN_IPV4_LEN / 2; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int xesp_gen_tx(struct xdp_md *ctx)
{
	__u64 seq = __sync_fetch_and_add(&gen_next_seq, 1);

	if (gen_mixed_sizes) {
		long len = (long)ctx->data_end - (long)ctx->data;
		int delta = (int)mixed_frame_size(seq) - (int)len;
		if (delta != 0 && bpf_xdp_adjust_tail(ctx, delta) != 0) {
			__sync_fetch_and_add(&gen_aborted, 1);
			return XDP_ABORTED;
		}
	}

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + XESP_GEN_FILL_OFFSET > data_end) {
		__sync_fetch_and_add(&gen_aborted, 1);
		return XDP_ABORTED;
	}
	struct iphdr *ip = data + XESP_GEN_ETH_LEN;
	struct udphdr *udp = data + XESP_GEN_ETH_LEN + XESP_GEN_IPV4_LEN;
	struct xesp_gen_header *h = data + XESP_GEN_PAYLOAD_OFFSET;

	__u32 flow = gen_flows > 1 ? (__u32)(seq % gen_flows) : 0;
	/* UDP checksum stays 0 (IPv4 allows it), so changing the port needs no fix-up. */
	udp->source = bpf_htons((__u16)(gen_src_port_base + flow));
	h->flow = bpf_htons((__u16)flow);
	h->seq = bpf_cpu_to_be64(seq);

	/*
	 * Live-frame pages are recycled without being re-copied from the template, so a field this
	 * program writes for one frame is still there for a later one: every length field is
	 * rewritten on every frame, never only when it differs from the template.
	 */
	if (gen_mixed_sizes) {
		__u16 len = (__u16)(data_end - data);
		ip->tot_len = bpf_htons(len - XESP_GEN_ETH_LEN);
		udp->len = bpf_htons(len - XESP_GEN_ETH_LEN - XESP_GEN_IPV4_LEN);
		h->frame_len = bpf_htons(len);
		ip->check = 0;
		ip->check = ipv4_checksum(ip);
	}
	return XDP_TX;
}

/* ---- receiving side ---- */

/* Written by SequenceCheckReceiver before attach. */
volatile struct xesp_gen_rx_config rx_config;
/*
 * What the program saw, one copy per CPU; SequenceCheckReceiver sums the copies. Per-CPU rather
 * than one struct in .bss: atomics from 8 RX queues on one shared cache line capped the
 * "XDP_DROP ceiling" at ~8 Mpps however many queues ran. XDP runs with preemption off, so each
 * CPU's copy takes plain adds.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xesp_gen_rx_stats);
} rx_stats SEC(".maps");

/* How many times each sequence number of the window arrived (index = seq - seq_base). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* resized to the window before load */
	__type(key, __u32);
	__type(value, __u32);
} rx_seq_hits SEC(".maps");

static __always_inline int rx_verdict(void)
{
	return rx_config.verdict == XDP_PASS ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xesp_gen_rx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	__u32 zero = 0;
	struct xesp_gen_rx_stats *st = bpf_map_lookup_elem(&rx_stats, &zero);

	if (!st)
		return rx_verdict(); /* cannot happen for key 0; the verifier wants the check */
	st->frames++;
	st->bytes += len;

	if (data + XESP_GEN_FILL_OFFSET > data_end)
		goto other;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + XESP_GEN_ETH_LEN;
	struct udphdr *udp = data + XESP_GEN_ETH_LEN + XESP_GEN_IPV4_LEN;
	struct xesp_gen_header *h = data + XESP_GEN_PAYLOAD_OFFSET;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		goto other;
	if (h->magic[0] != XESP_GEN_MAGIC[0] || h->magic[1] != XESP_GEN_MAGIC[1] ||
	    h->magic[2] != XESP_GEN_MAGIC[2] || h->magic[3] != XESP_GEN_MAGIC[3])
		goto other;
	st->test_frames++;

	__u64 seq = bpf_be64_to_cpu(h->seq);
	__u32 flow = bpf_ntohs(h->flow);
	int bad = bpf_ntohs(h->frame_len) != len ||
		  bpf_ntohs(ip->tot_len) != len - XESP_GEN_ETH_LEN ||
		  bpf_ntohs(udp->len) != len - XESP_GEN_ETH_LEN - XESP_GEN_IPV4_LEN;
	__u32 flows = rx_config.flows;
	if (flows != 0)
		bad = bad || flow != seq % flows ||
		      bpf_ntohs(udp->source) != (__u16)(rx_config.src_port_base + flow);
	if (bad)
		st->bad_header++;

	__u64 idx = seq - rx_config.seq_base;
	__u32 *hits = NULL;
	if (idx < rx_config.window) {
		__u32 key = (__u32)idx;
		hits = bpf_map_lookup_elem(&rx_seq_hits, &key);
	}
	if (hits)
		__sync_fetch_and_add(hits, 1);
	else
		st->out_of_window++;
	return rx_verdict();

other:
	st->other_frames++;
	return rx_verdict();
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
