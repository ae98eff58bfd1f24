// Where a run of pcapng blocks (a poller's chunk, as iovecs) may be cut between files: rotation
// by size or by time ends a file at a block boundary, never inside a block, so every file is
// complete on its own and no frame is in two files or none.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

namespace xesp::output {

struct BlockPrefix {
  uint64_t bytes = 0;   // length of the whole blocks taken
  uint64_t frames = 0;  // Enhanced Packet Blocks among them
  uint64_t wire_bytes = 0;  // their original lengths, summed
  uint64_t first_timestamp_ns = 0;  // of the first EPB (0 when the run has none)
};

// The longest run of whole blocks from the start of `pieces` that is at most max_bytes long and
// holds no Enhanced Packet Block timestamped at or after before_ns (ns timestamps: xesp's
// if_tsresol). `pieces` must hold whole blocks in host byte order (as EpbVector makes them).
BlockPrefix block_prefix(std::span<const iovec> pieces, uint64_t max_bytes, uint64_t before_ns);

// The first block's length and whether it is an EPB with its timestamp (for a run that may not
// fit anywhere: one block always goes to the file, whatever its size).
BlockPrefix first_block(std::span<const iovec> pieces);

// Cuts `pieces` after `bytes`: `head` receives the iovecs of the first part (the last one
// shortened if the cut falls inside it); the returned span is the rest, inside `pieces`, whose
// first iovec is advanced in place.
std::span<iovec> split_pieces(std::span<iovec> pieces, uint64_t bytes, std::vector<iovec>& head);

uint64_t total_length(std::span<const iovec> pieces) noexcept;

}  // namespace xesp::output
