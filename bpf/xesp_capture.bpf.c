// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xesp's capture program: while a capture runs, every frame gets a metadata header
 * (struct xesp_meta) and is redirected to the AF_XDP socket of its RX queue; otherwise, and
 * on queues without a socket, it passes to the stack untouched. Every outcome is counted.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xesp_shared.h"

/* Set before load: the NIC's RX queue count (maps are sized from it). */
const volatile __u32 queue_count = 1;

/* Flipped by userspace at Start/Pause/Resume/Stop without detaching the program. */
volatile struct xesp_control control;

/* RX queue index -> AF_XDP socket of that queue; empty slot = queue not captured. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 1); /* resized to queue_count before load */
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Per-queue outcome counters, one copy per CPU; slot queue_count = out-of-range queues. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2); /* resized to queue_count + 1 before load */
	__type(key, __u32);
	__type(value, struct xesp_queue_counters);
} queue_counters SEC(".maps");

SEC("xdp")
int xesp_capture(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	__u32 slot = queue < queue_count ? queue : queue_count;
	struct xesp_queue_counters *c = bpf_map_lookup_elem(&queue_counters, &slot);
	if (!c)
		return XDP_PASS;

	__u64 len = bpf_xdp_get_buff_len(ctx);
	if (!control.active) {
		c->idle_frames++;
		return XDP_PASS;
	}
	/* Seen counts from Start to Stop only: a frame that arrives once the stop flag is set is no
	 * capture's, and counted as seen it would be a frame the capture cannot account for. */
	c->seen_frames++;
	c->seen_bytes += len;
	if (control.paused) {
		c->paused_frames++;
		return XDP_PASS;
	}

	/* The header: receive time and length; none at all once no_meta is set (pollers stamp). */
	if (!control.no_meta) {
		__u64 now = bpf_ktime_get_tai_ns();
		if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xesp_meta)) == 0) {
			void *data = (void *)(long)ctx->data;
			struct xesp_meta *meta = (void *)(long)ctx->data_meta;
			if ((void *)(meta + 1) <= data) {
				meta->rx_tai_ns = now;
				meta->orig_len = (__u32)len;
				meta->magic = XESP_META_MAGIC;
			}
		} else {
			control.no_meta = 1;
			c->meta_failed++;
		}
	}

	long verdict = bpf_redirect_map(&xsks, queue, XDP_PASS);
	if (verdict == XDP_REDIRECT) {
		c->redirected_frames++;
		c->redirected_bytes += len;
	} else {
		c->no_socket_frames++;
	}
	return (int)verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
