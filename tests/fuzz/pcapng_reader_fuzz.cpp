// Fuzz target: PcapngReader::read_bytes over arbitrary bytes, checked against the block scan of
// `xesp repair` (scan_pcapng). Properties beyond "no crash":
// - a file the reader accepts is consistent: every packet holds captured_len bytes, and its
//   section, interface id and interface index agree with the sections' interface ranges;
// - a file the reader accepts is whole to the scan, with as many frames and sections (unless it
//   holds a block type the scan calls implausible: the reader skips any unknown type);
// - what the scan keeps scans whole again, with the same counts: `xesp repair` is idempotent.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/fuzz_check.hpp"
#include "pcapng/pcapng_format.hpp"
#include "pcapng/pcapng_reader.hpp"
#include "pcapng/pcapng_scan.hpp"

namespace {

void check_file(const xesp::PcapngFile& f, std::size_t size) {
  XESP_FUZZ_CHECK(!f.sections.empty());
  XESP_FUZZ_CHECK(f.shb.block_offset == f.sections.front().block_offset);
  XESP_FUZZ_CHECK(f.shb.major_version == xesp::pcapng::kVersionMajor);
  uint64_t described = 0;
  for (const auto& s : f.sections) {
    XESP_FUZZ_CHECK(s.first_interface == described);
    described += s.interface_count;
  }
  XESP_FUZZ_CHECK(described == f.interfaces.size());
  auto in_section = [&](uint32_t section, uint32_t id, uint32_t index) {
    XESP_FUZZ_CHECK(section < f.sections.size());
    XESP_FUZZ_CHECK(index < f.interfaces.size());
    XESP_FUZZ_CHECK(f.interfaces[index].section == section);
    XESP_FUZZ_CHECK(index == f.sections[section].first_interface + id);
  };
  for (const auto& p : f.packets) {
    XESP_FUZZ_CHECK(p.data.size() == p.captured_len);
    XESP_FUZZ_CHECK(p.block_offset < size);
    in_section(p.section, p.interface_id, p.interface_index);
  }
  for (const auto& s : f.stats) in_section(s.section, s.interface_id, s.interface_index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  const auto file = xesp::PcapngReader::read_bytes(bytes, "fuzz input");
  const auto scan = xesp::scan_pcapng(bytes, "fuzz input");
  if (file) {
    check_file(file.value(), size);
    bool plausible = true;
    for (uint32_t type : file->unknown_block_types)
      plausible = plausible && xesp::plausible_block_type(type);
    if (plausible) {
      XESP_FUZZ_CHECK(scan.ok());
      XESP_FUZZ_CHECK(scan->whole());
      XESP_FUZZ_CHECK(scan->frames == file->packets.size());
      XESP_FUZZ_CHECK(scan->sections == file->sections.size());
    }
  } else {
    XESP_FUZZ_CHECK(!file.error().message.empty());
  }
  if (!scan) {
    XESP_FUZZ_CHECK(!scan.error().message.empty());
    return 0;
  }
  XESP_FUZZ_CHECK(scan->size == size);
  XESP_FUZZ_CHECK(scan->whole_size <= size && scan->whole_size % 4 == 0);
  XESP_FUZZ_CHECK(scan->whole_size >= xesp::pcapng::kBlockMinSize && scan->sections >= 1);
  XESP_FUZZ_CHECK(scan->whole() == scan->stop_reason.empty());
  const auto again = xesp::scan_pcapng(bytes.first(scan->whole_size), "kept");
  XESP_FUZZ_CHECK(again.ok());
  XESP_FUZZ_CHECK(again->whole());
  XESP_FUZZ_CHECK(again->frames == scan->frames && again->sections == scan->sections &&
                  again->blocks == scan->blocks);
  return 0;
}
