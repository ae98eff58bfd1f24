/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one header seen by both the XDP program (clang -target bpf) and the C++ side.
 * Every struct or constant both sides use lives here; the C++ side static_asserts the sizes.
 * Fixed-width kernel types only (__u32, __u64), no padding left to the compiler.
 */
#ifndef XESP_SHARED_H
#define XESP_SHARED_H

#include <linux/types.h>

/* Written by the XDP program in front of every redirected frame (bpf_xdp_adjust_meta); the
 * AF_XDP socket hands it over in the UMEM chunk right before the frame, in copy mode too. */
struct xesp_meta {
	__u64 rx_tai_ns; /* bpf_ktime_get_tai_ns() when the program saw the frame */
	__u32 orig_len;  /* length on the wire (all fragments of a multi-buffer frame) */
	__u32 magic;     /* XESP_META_MAGIC: tells a written header from leftover bytes */
};
#define XESP_META_MAGIC 0x58455350u /* "XESP" */
#define XESP_META_SIZE 16

/* Per RX queue and per CPU; userspace sums the CPUs. Slot `queue_count` (one past the NIC's
 * last queue) takes frames whose rx_queue_index is out of range. */
struct xesp_queue_counters {
	__u64 seen_frames;       /* every frame the program ran on while a capture was active */
	__u64 seen_bytes;
	__u64 idle_frames;       /* passed: no capture running (not in seen_frames) */
	__u64 paused_frames;     /* passed: capture paused */
	__u64 filtered_out;      /* passed: capture running, frame rejected by the filter */
	__u64 redirected_frames; /* handed to bpf_redirect_map with an XSK present */
	__u64 redirected_bytes;
	__u64 no_socket_frames;  /* passed: capture running but this queue has no socket */
	__u64 meta_failed;       /* bpf_xdp_adjust_meta refused (then no_meta is set) */
	__u64 reserved[7];       /* keeps the struct at two cache lines */
};
#define XESP_QUEUE_COUNTERS_SIZE 128

/* Run-time switches in .bss: userspace writes them through the skeleton's mmap while the
 * program stays attached (const volatile .rodata would be frozen at load). */
struct xesp_control {
	__u32 active;  /* a capture exists (Start .. Stop) */
	__u32 paused;  /* ... and is paused */
	__u32 no_meta; /* no header in front of frames: pollers stamp them when they dequeue them.
	                * Set by userspace at Start for Config:Timestamps=poller, or by the program
	                * when bpf_xdp_adjust_meta fails (a driver with no metadata room); from then
	                * on the program writes none, so no chunk keeps a stale header. */
	__u32 reserved;
};

#define XESP_MAX_QUEUES 1024

#endif /* XESP_SHARED_H */
