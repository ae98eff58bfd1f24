// A BlockCompressor as the ChunkTransform the capture output and the pcapng writer take: units
// of one codec, with the stream's header and trailer around a file's units.
#pragma once

#include <memory>

#include "output/block_compressor.hpp"
#include "pcapng/chunk_transform.hpp"

namespace xesp::output {

class CompressingTransform final : public ChunkTransform {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ChunkTransform>> create(Compression c,
                                                                     int level = 0) {
    auto compressor = BlockCompressor::create(c, level);
    if (!compressor) return std::move(compressor).error();
    return std::unique_ptr<ChunkTransform>(
        new CompressingTransform(std::move(compressor).value()));
  }

  Result<std::span<const std::byte>> apply(std::span<const iovec> pieces) override {
    return compressor_.compress(pieces);
  }
  std::span<const std::byte> stream_header() const override {
    return BlockCompressor::stream_header(compressor_.kind());
  }
  std::span<const std::byte> stream_trailer() const override {
    return BlockCompressor::stream_trailer(compressor_.kind());
  }

 private:
  explicit CompressingTransform(BlockCompressor c) : compressor_(std::move(c)) {}
  BlockCompressor compressor_;
};

}  // namespace xesp::output
