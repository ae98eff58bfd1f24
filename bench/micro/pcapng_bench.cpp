// pcapng hot path: ns per frame for EpbBuffer::append, and PcapngWriter throughput for the 4 MiB
// chunks pollers hand it. Output goes to /dev/shm so that the figure is our cost, not a disk's.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "pcapng/epb_buffer.hpp"
#include "pcapng/pcapng_writer.hpp"

namespace xesp {
namespace {

constexpr std::size_t kChunkBytes = std::size_t{4} << 20;
// Reopen (truncate) the output after this much, so a long run cannot fill /dev/shm.
constexpr uint64_t kFileLimitBytes = uint64_t{1} << 30;

std::vector<uint8_t> frame_of(std::size_t len) {
  std::vector<uint8_t> f(len);
  for (std::size_t i = 0; i < len; ++i) f[i] = static_cast<uint8_t>(i * 7 + 3);
  return f;
}

std::string shm_path(const char* what) {
  return "/dev/shm/xesp-pcapng-bench-" + std::to_string(::getpid()) + "-" + what + ".pcapng";
}

Result<PcapngWriter> open_writer(const std::string& path) {
  return PcapngWriter::open(path, {.user_appl = "pcapng_bench"}, {{.name = "bench0"}});
}

// Writes one chunk and, past kFileLimitBytes, starts the file over (untimed). False, with the
// benchmark marked failed, on an error.
template <class Chunk>
bool write_chunk(benchmark::State& state, Result<PcapngWriter>& writer, const std::string& path,
                 const Chunk& chunk) {
  if (auto s = writer->write_chunk(chunk); !s) {
    state.SkipWithError(s.error().message.c_str());
    return false;
  }
  if (writer->bytes_written() > kFileLimitBytes) {
    state.PauseTiming();
    writer = open_writer(path);
    state.ResumeTiming();
    if (!writer) {
      state.SkipWithError(writer.error().message.c_str());
      return false;
    }
  }
  return true;
}

// One EPB encoded per iteration; a full buffer is cleared (the flush is measured separately).
void BM_EpbBufferAppend(benchmark::State& state) {
  const auto len = static_cast<uint32_t>(state.range(0));
  const std::vector<uint8_t> frame = frame_of(len);
  EpbBuffer buf(0, kChunkBytes);
  uint64_t ts = 1'700'000'000'000'000'000ULL;
  for (auto _ : state) {
    if (!buf.append(ts, frame.data(), len, len)) {
      buf.clear();
      if (!buf.append(ts, frame.data(), len, len)) state.SkipWithError("frame larger than buffer");
    }
    ++ts;
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(buf.bytes().data());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * len);
}
BENCHMARK(BM_EpbBufferAppend)->Arg(64)->Arg(1500);

// write_chunk of a ready 4 MiB chunk of 1500-byte EPBs: mutex, write(2) loop, counters.
void BM_PcapngWriterChunk(benchmark::State& state) {
  const std::string path = shm_path("chunk");
  const std::vector<uint8_t> frame = frame_of(1500);
  EpbBuffer buf(0, kChunkBytes);
  while (buf.append(0, frame.data(), 1500, 1500)) {
  }
  auto writer = open_writer(path);
  if (!writer) {
    state.SkipWithError(writer.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    if (!write_chunk(state, writer, path, buf.bytes())) break;
  }
  if (writer) (void)writer->close();
  std::remove(path.c_str());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * buf.frames()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_PcapngWriterChunk)->UseRealTime();

// A poller's whole sink path for one queue: encode each frame, flush full 4 MiB chunks.
void BM_EncodeAndWrite(benchmark::State& state) {
  const auto len = static_cast<uint32_t>(state.range(0));
  const std::string path = shm_path("encode");
  const std::vector<uint8_t> frame = frame_of(len);
  EpbBuffer buf(0, kChunkBytes);
  auto writer = open_writer(path);
  if (!writer) {
    state.SkipWithError(writer.error().message.c_str());
    return;
  }
  uint64_t ts = 0;
  for (auto _ : state) {
    if (!buf.append(ts, frame.data(), len, len)) {
      if (!write_chunk(state, writer, path, buf.bytes())) break;
      buf.clear();
      (void)buf.append(ts, frame.data(), len, len);
    }
    ++ts;
  }
  if (writer) (void)writer->close();
  std::remove(path.c_str());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * len);
}
BENCHMARK(BM_EncodeAndWrite)->Arg(64)->Arg(1500)->UseRealTime();

}  // namespace
}  // namespace xesp

BENCHMARK_MAIN();
