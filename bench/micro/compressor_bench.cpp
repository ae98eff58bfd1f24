// BlockCompressor::compress() of one poller's 512 KiB chunk of EPBs (EpbVector::iovecs()), per
// codec and level: input MB/s (bytes_per_second) and the ratio (input / unit bytes).
// Frames are the traffic generators' test frames (bench/gen/test_frame.hpp), 60 bytes (64 on
// the wire) or 1500, with the fill of either kind the generators send:
//   fill:seq  build_test_frame: a fill of its own per frame, which no LZ codec finds repeats in
//             (the AF_PACKET sender; close to encrypted traffic);
//   fill:tmpl build_live_test_frame: one template fill in every frame (the live generator), so
//             only the headers differ from frame to frame.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "output/block_compressor.hpp"
#include "pcapng/epb_vector.hpp"
#include "test_frame.hpp"

namespace xesp::output {
namespace {

constexpr std::size_t kChunkBytes = std::size_t{512} << 10;

enum class Fill { per_frame, template_fill };

// One chunk: the frames (large ones are referenced, not copied, by the vector) and the vector.
struct Chunk {
  std::vector<std::vector<uint8_t>> frames;
  EpbVector epbs{0, kChunkBytes + (std::size_t{64} << 10)};
};

// Fills the vector until the next frame would take it past kChunkBytes (or it is full).
void build_chunk(Chunk& chunk, uint32_t frame_size, Fill fill) {
  gen::FrameSpec spec;
  spec.frame_size = frame_size;
  uint64_t ts = 1'700'000'000'000'000'000ULL;
  for (uint64_t seq = 0;; ++seq, ts += 700) {
    if (chunk.epbs.bytes() + pcapng::kEpbFixedSize + frame_size > kChunkBytes) break;
    chunk.frames.push_back(fill == Fill::per_frame ? gen::build_test_frame(spec, seq)
                                                   : gen::build_live_test_frame(spec, seq, 0));
    const auto& f = chunk.frames.back();
    const auto len = static_cast<uint32_t>(f.size());
    if (!chunk.epbs.add(ts, f.data(), len, len)) break;
  }
}

void BM_Compress(benchmark::State& state, Compression codec, int level, uint32_t frame_size,
                 Fill fill) {
  auto compressor = BlockCompressor::create(codec, level);
  if (!compressor) {
    state.SkipWithError(compressor.error().message.c_str());
    return;
  }
  Chunk chunk;
  build_chunk(chunk, frame_size, fill);
  std::size_t out = 0;
  for (auto _ : state) {
    auto unit = compressor->compress(chunk.epbs.iovecs());
    if (!unit) {
      state.SkipWithError(unit.error().message.c_str());
      break;
    }
    out = unit->size();
    benchmark::DoNotOptimize(unit->data());
  }
  const auto in = static_cast<int64_t>(chunk.epbs.bytes());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * in);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * chunk.epbs.frames()));
  state.counters["ratio"] = out == 0 ? 0.0 : static_cast<double>(in) / static_cast<double>(out);
  state.counters["chunk_KiB"] = static_cast<double>(in) / 1024.0;
}

// The default levels, then the candidates they were chosen over (docs/DESIGN-NOTES.md).
// Names: BM_Compress/<codec>/level:<n>/frame:<bytes>/fill:<seq|tmpl>.
const bool kRegistered = [] {
  const std::pair<Compression, int> candidates[] = {
      {Compression::zstd, 1}, {Compression::zstd, 3}, {Compression::zstd, -1},
      {Compression::lz4, 0},  {Compression::gzip, 1}, {Compression::gzip, 6}};
  for (const auto& [codec, level] : candidates) {
    for (uint32_t frame_size : {60u, 1500u}) {
      for (Fill fill : {Fill::per_frame, Fill::template_fill}) {
        const std::string name = std::string("BM_Compress/") + to_string(codec) +
                                 "/level:" + std::to_string(level) +
                                 "/frame:" + std::to_string(frame_size) +
                                 (fill == Fill::per_frame ? "/fill:seq" : "/fill:tmpl");
        benchmark::RegisterBenchmark(name.c_str(), BM_Compress, codec, level, frame_size, fill);
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace xesp::output

BENCHMARK_MAIN();
