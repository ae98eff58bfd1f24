// Blob parsing and the provider configuration: pure code, no privileges.
#include <gtest/gtest.h>

#include "npp/capture_config.hpp"
#include "xesp/blob.hpp"

namespace xesp::npp {
namespace {

Blob blob_of(const char* text) {
  Blob b;
  std::string why;
  EXPECT_FALSE(b.parse(text, &why)) << why;
  return b;
}

// The codes an error blob holds, in order.
std::vector<int> codes(const Blob& errors) {
  std::vector<int> out;
  for (const auto& e : errors.entries()) out.push_back(Blob::error_code_of(e.value).value_or(-1));
  return out;
}

TEST(Blob, SetGetReplaceEraseCaseInsensitive) {
  Blob b;
  b.set("NPP", "Config", "Interface", "eth0");
  b.set("npp", "config", "interface", "eth1");
  ASSERT_EQ(b.entries().size(), 1u);
  EXPECT_EQ(b.get("NPP", "Config", "Interface"), "eth1");
  EXPECT_EQ(b.entries()[0].tag, "Interface");  // keeps the case it was first set with
  EXPECT_TRUE(b.has_category("NPP", "CONFIG"));
  EXPECT_TRUE(b.erase("NPP", "Config", "Interface"));
  EXPECT_FALSE(b.get("NPP", "Config", "Interface"));
  EXPECT_FALSE(b.erase("NPP", "Config", "Interface"));
}

TEST(Blob, TextRoundTripSkipsCommentsAndBlankLines) {
  Blob b = blob_of("# settings\n\nNPP:Config:Interface = eth0\r\nNPP:Trigger:StopAfterFrames=10\n");
  ASSERT_EQ(b.entries().size(), 2u);
  EXPECT_EQ(b.get("NPP", "Config", "Interface"), "eth0");
  EXPECT_EQ(b.to_text(), "NPP:Config:Interface=eth0\nNPP:Trigger:StopAfterFrames=10\n");
  Blob again = blob_of(b.to_text().c_str());
  EXPECT_EQ(again.to_text(), b.to_text());
}

TEST(Blob, MalformedLineIsRejectedWholeAndNamed) {
  Blob b;
  std::string why;
  auto ec = b.parse("NPP:Config:Interface=eth0\nNPP:Config=oops\n", &why);
  EXPECT_EQ(ec, make_error_code(nmerr::blob_string_invalid));
  EXPECT_NE(why.find("line 2"), std::string::npos) << why;
  EXPECT_TRUE(b.empty()) << "a failed parse must add nothing";
  EXPECT_EQ(b.parse("::Tag=1"), make_error_code(nmerr::blob_string_invalid));
}

TEST(Blob, ErrorEntriesCarryTheirCode) {
  Blob e;
  e.add_error("NPP", "Config", "Foo", make_error_code(nmerr::unknown_tag), "unknown tag 'Foo'");
  ASSERT_EQ(e.entries().size(), 1u);
  EXPECT_EQ(e.entries()[0].value, "1009 NMERR_UNKNOWN_TAG: unknown tag 'Foo'");
  EXPECT_EQ(Blob::error_code_of(e.entries()[0].value), 1009);
  EXPECT_FALSE(Blob::error_code_of("not a code"));
}

TEST(Config, DefaultsFromAMinimalBlob) {
  auto p = parse_config(blob_of("NPP:Config:Interface=eth0"), CaptureConfig{}, true);
  ASSERT_TRUE(p.config);
  const CaptureConfig& c = *p.config;
  EXPECT_EQ(c.interface, "eth0");
  EXPECT_FALSE(c.queues);
  EXPECT_EQ(c.frame_size, 4096u);
  EXPECT_EQ(c.snap_length, 262144u);
  EXPECT_TRUE(c.promiscuous);
  EXPECT_EQ(c.timestamps, Timestamps::kernel);
  EXPECT_EQ(c.file_io, FileIo::automatic);
  EXPECT_EQ(c.effective_frame_count(), c.fill_ring_size + c.rx_ring_size);
  EXPECT_FALSE(c.triggers.any());
}

TEST(Config, BusyPollAutoSpinsOnlyWhenEveryPollerHasACpu) {
  CaptureConfig c;
  EXPECT_FALSE(c.busy_poll_us);
  // Unpinned: one poller always gets its CPU; a thousand never do.
  EXPECT_EQ(busy_poll_for(c, 1), kDefaultBusyPollUs);
  EXPECT_EQ(busy_poll_for(c, 1000), 0u);
  // Pinned: the distinct CPUs named count.
  c.poller_cpus = {1};
  EXPECT_EQ(busy_poll_for(c, 1), kDefaultBusyPollUs);
  EXPECT_EQ(busy_poll_for(c, 2), 0u);
  c.poller_cpus = {0, 1, 1};
  EXPECT_EQ(busy_poll_for(c, 2), kDefaultBusyPollUs);
  EXPECT_EQ(busy_poll_for(c, 4), 0u);
  // A configured value wins either way; "auto" takes it back.
  auto p = parse_config(blob_of("NPP:Config:Interface=eth0\nNPP:Config:BusyPoll=30\n"), c, true);
  ASSERT_TRUE(p.config);
  EXPECT_EQ(busy_poll_for(*p.config, 4), 30u);
  p = parse_config(blob_of("NPP:Config:BusyPoll=AUTO\n"), *p.config, false);
  ASSERT_TRUE(p.config);
  EXPECT_FALSE(p.config->busy_poll_us);
}

TEST(Config, FileIoAutoMapsOnlyWhenSeveralPollersHaveCpusOfTheirOwn) {
  CaptureConfig c;
  // One poller: nothing to copy in parallel. A thousand unpinned: no CPU of their own.
  EXPECT_EQ(file_io_for(c, 1), FileIo::write);
  EXPECT_EQ(file_io_for(c, 1000), FileIo::write);
  c.poller_cpus = {2, 3};
  EXPECT_EQ(file_io_for(c, 2), FileIo::automatic) << "the writer then maps on tmpfs only";
  EXPECT_EQ(file_io_for(c, 3), FileIo::write);
  c.poller_cpus = {2};
  EXPECT_EQ(file_io_for(c, 2), FileIo::write);
  // A configured mode wins either way.
  auto p = parse_config(blob_of("NPP:Config:Interface=eth0\nNPP:Config:FileIo=MAP\n"),
                        CaptureConfig{}, true);
  ASSERT_TRUE(p.config);
  EXPECT_EQ(file_io_for(*p.config, 1), FileIo::map);
  p = parse_config(blob_of("NPP:Config:FileIo=write\n"), *p.config, false);
  ASSERT_TRUE(p.config);
  EXPECT_EQ(file_io_for(*p.config, 2), FileIo::write);
  p = parse_config(blob_of("NPP:Config:FileIo=auto\n"), *p.config, false);
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->file_io, FileIo::automatic);
}

TEST(Config, EveryTagParses) {
  auto p = parse_config(blob_of("NPP:Config:Interface=veth0\n"
                                "NPP:Config:Queues=0-2,5\n"
                                "NPP:Config:XdpMode=generic\n"
                                "NPP:Config:BindMode=copy\n"
                                "NPP:Config:FrameSize=2048\n"
                                "NPP:Config:FrameCount=16384\n"
                                "NPP:Config:RxRingSize=16384\n"
                                "NPP:Config:FillRingSize=2048\n"
                                "NPP:Config:BatchSize=64\n"
                                "NPP:Config:SnapLength=128\n"
                                "NPP:Config:CaptureDirectory=/tmp\n"
                                "NPP:Config:CaptureFile=/tmp/x.pcapng\n"
                                "NPP:Config:Promiscuous=no\n"
                                "NPP:Config:UpdateFreq=250\n"
                                "NPP:Config:BusyPoll=50\n"
                                "NPP:Config:HugePages=yes\n"
                                "NPP:Config:Timestamps=Poller\n"
                                "NPP:Config:FileIo=map\n"
                                "NPP:Config:PollerCpus=0-1\n"
                                "NPP:Trigger:StopAfterFrames=10\n"
                                "NPP:Trigger:StopAfterBytes=2k\n"
                                "NPP:Trigger:StopAfterSeconds=1.5\n"
                                "NPP:Trigger:StopAfterFileSize=1M\n"
                                "NPP:Trigger:PauseAfterFrames=5\n"
                                "NPP:Trigger:PauseAfterBytes=100\n"),
                        CaptureConfig{}, true);
  ASSERT_TRUE(p.config) << (p.problems.empty() ? "" : p.problems[0].reason);
  const CaptureConfig& c = *p.config;
  EXPECT_EQ(*c.queues, (std::vector<uint32_t>{0, 1, 2, 5}));
  EXPECT_EQ(c.xdp_mode, xdp::XdpMode::generic);
  EXPECT_EQ(c.bind_mode, xdp::BindMode::copy);
  EXPECT_EQ(c.frame_size, 2048u);
  EXPECT_EQ(c.frame_count, 16384u);
  EXPECT_EQ(c.rx_ring_size, 16384u);
  EXPECT_EQ(c.fill_ring_size, 2048u);
  EXPECT_EQ(c.batch_size, 64u);
  EXPECT_EQ(c.snap_length, 128u);
  EXPECT_EQ(c.capture_directory, "/tmp");
  EXPECT_EQ(c.capture_file, "/tmp/x.pcapng");
  EXPECT_FALSE(c.promiscuous);
  EXPECT_EQ(c.update_freq_ms, 250u);
  EXPECT_EQ(c.busy_poll_us, 50u);
  EXPECT_EQ(c.huge_pages, xdp::HugePages::yes);
  EXPECT_EQ(c.timestamps, Timestamps::poller);
  EXPECT_EQ(c.file_io, FileIo::map);
  EXPECT_EQ(c.poller_cpus, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(c.triggers.stop_after_frames, 10u);
  EXPECT_EQ(c.triggers.stop_after_bytes, 2048u);
  EXPECT_DOUBLE_EQ(*c.triggers.stop_after_seconds, 1.5);
  EXPECT_EQ(c.triggers.stop_after_file_size, 1u << 20);
  EXPECT_EQ(c.triggers.pause_after_frames, 5u);
  EXPECT_EQ(c.triggers.pause_after_bytes, 100u);
}

TEST(Config, FileTagsParse) {
  auto p = parse_config(blob_of("NPP:Config:Interface=veth0\n"
                                "NPP:Config:CaptureFile=/tmp/x-%H.pcapng\n"
                                "NPP:Config:RotateBytes=64M\n"
                                "NPP:Config:RotateSeconds=3600\n"
                                "NPP:Config:RotateFiles=24\n"
                                "NPP:Config:FileGroup=root\n"
                                "NPP:Config:Overwrite=yes\n"
                                "NPP:Config:MinFreeBytes=1G\n"),
                        CaptureConfig{}, true);
  ASSERT_TRUE(p.config) << (p.problems.empty() ? "" : p.problems[0].reason);
  const CaptureConfig& c = *p.config;
  EXPECT_EQ(c.rotation.max_bytes, 64u << 20);
  EXPECT_EQ(c.rotation.seconds, 3600u);
  EXPECT_EQ(c.rotation.files, 24u);
  EXPECT_EQ(c.file_safety.group, 0u);
  EXPECT_EQ(c.file_safety.mode, 0640u) << "a group to share with reads the files";
  EXPECT_TRUE(c.file_safety.overwrite);
  EXPECT_EQ(c.min_free_bytes, 1u << 30);
  // Defaults: private files, never replaced.
  auto d = parse_config(blob_of("NPP:Config:Interface=veth0\n"), CaptureConfig{}, true);
  ASSERT_TRUE(d.config);
  EXPECT_EQ(d.config->file_safety.mode, 0600u);
  EXPECT_FALSE(d.config->file_safety.overwrite);
  EXPECT_FALSE(d.config->rotation.rotating());
  // A mode given wins over the group's default.
  auto m = parse_config(blob_of("NPP:Config:Interface=veth0\nNPP:Config:FileGroup=0\n"
                                "NPP:Config:FileMode=0600\n"),
                        CaptureConfig{}, true);
  ASSERT_TRUE(m.config);
  EXPECT_EQ(m.config->file_safety.mode, 0600u);
}

TEST(Config, EachProblemIsNamedWithItsCode) {
  auto p = parse_config(blob_of("NPP:Config:Queues=3\n"
                                "NPP:Colour:Hue=red\n"
                                "NPP:Config:Turbo=yes\n"
                                "NPP:Config:SnapLength=lots\n"
                                "ACME:Config:Interface=eth0\n"),
                        CaptureConfig{}, true);
  EXPECT_FALSE(p.config);
  Blob errors;
  auto first = report_problems(p, &errors);
  EXPECT_EQ(first, make_error_code(nmerr::blob_owner_not_found));
  EXPECT_EQ(codes(errors), (std::vector<int>{1006, 1008, 1009, 1010, 1004}));
  EXPECT_EQ(errors.entries()[1].category, "Colour");
  EXPECT_EQ(errors.entries()[2].tag, "Turbo");
  EXPECT_EQ(errors.entries()[3].tag, "SnapLength");
  EXPECT_NE(errors.entries()[3].value.find("'lots'"), std::string::npos);
  EXPECT_EQ(errors.entries()[4].tag, "Interface");
}

TEST(Config, MissingInterfaceIsBlobEntryDoesNotExist) {
  auto p = parse_config(Blob{}, CaptureConfig{}, true);
  Blob errors;
  EXPECT_EQ(report_problems(p, &errors), make_error_code(nmerr::blob_entry_does_not_exist));
  ASSERT_EQ(errors.entries().size(), 1u);
  EXPECT_EQ(errors.entries()[0].tag, "Interface");
  // Configure does not need it (the interface is fixed at Connect).
  EXPECT_TRUE(parse_config(Blob{}, CaptureConfig{}, false).config);
}

TEST(Config, ConfigureStartsFromTheCurrentConfiguration) {
  CaptureConfig base;
  base.interface = "eth0";
  base.snap_length = 64;
  auto p = parse_config(blob_of("NPP:Config:BatchSize=32"), base, false);
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->snap_length, 64u);
  EXPECT_EQ(p.config->batch_size, 32u);
}

struct Invalid {
  const char* line;
  const char* tag;
  nmerr code;
};

class ConfigInvalid : public ::testing::TestWithParam<Invalid> {};

TEST_P(ConfigInvalid, IsRefusedWithTheTag) {
  const Invalid& c = GetParam();
  std::string text = std::string("NPP:Config:Interface=eth0\n") + c.line;
  auto p = parse_config(blob_of(text.c_str()), CaptureConfig{}, true);
  EXPECT_FALSE(p.config);
  ASSERT_FALSE(p.problems.empty());
  EXPECT_EQ(p.problems[0].tag, c.tag);
  EXPECT_EQ(p.problems[0].code, c.code);
}

INSTANTIATE_TEST_SUITE_P(
    Values, ConfigInvalid,
    ::testing::Values(Invalid{"NPP:Config:FrameSize=3000", "FrameSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:FrameSize=8192", "FrameSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:FrameSize=1024", "FrameSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:RxRingSize=1000", "RxRingSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:RxRingSize=32", "RxRingSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:FillRingSize=0", "FillRingSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:BatchSize=3", "BatchSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:BatchSize=8192", "BatchSize", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:FrameCount=100", "FrameCount", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:SnapLength=0", "SnapLength", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:SnapLength=262145", "SnapLength", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:SnapLength=-1", "SnapLength", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:Queues=3-1", "Queues", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:Queues=,", "Queues", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:Promiscuous=maybe", "Promiscuous", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:XdpMode=hw", "XdpMode", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:BusyPoll=2000000", "BusyPoll", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:BusyPoll=soon", "BusyPoll", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:HugePages=maybe", "HugePages", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:Timestamps=hardware", "Timestamps", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:FileIo=mmap", "FileIo", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:PollerCpus=9999", "PollerCpus", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:PollerCpus=all", "PollerCpus", nmerr::blob_conversion_error},
                      Invalid{"NPP:Trigger:StopAfterFrames=0", "StopAfterFrames", nmerr::illegal_trigger},
                      Invalid{"NPP:Trigger:StopAfterSeconds=-2", "StopAfterSeconds", nmerr::illegal_trigger},
                      Invalid{"NPP:Trigger:StopAfterSeconds=nan", "StopAfterSeconds",
                              nmerr::blob_conversion_error},
                      Invalid{"NPP:Trigger:StopAfterBytes=12Q", "StopAfterBytes",
                              nmerr::blob_conversion_error},
                      Invalid{"NPP:Trigger:PauseAfterBytes=0", "PauseAfterBytes", nmerr::illegal_trigger},
                      Invalid{"NPP:Config:RotateBytes=100", "RotateBytes", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:RotateBytes=big", "RotateBytes", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:RotateSeconds=-1", "RotateSeconds", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:RotateFiles=3", "RotateFiles", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:FileMode=0800", "FileMode", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:FileGroup=no-such-group-xesp", "FileGroup",
                              nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:Overwrite=perhaps", "Overwrite", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:MinFreeBytes=much", "MinFreeBytes", nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:CaptureFile=-\nNPP:Config:RotateSeconds=60", "RotateSeconds",
                              nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:CaptureFile=-\nNPP:Config:MinFreeBytes=1M", "MinFreeBytes",
                              nmerr::blob_conversion_error},
                      Invalid{"NPP:Config:RotateBytes=1M\nNPP:Trigger:StopAfterFileSize=10M",
                              "StopAfterFileSize", nmerr::illegal_trigger}));

TEST(QueueList, RangesSetsAndAll) {
  auto all = parse_queue_list("all");
  ASSERT_TRUE(all);
  EXPECT_FALSE(*all);
  auto some = parse_queue_list("6,0-2,2");
  ASSERT_TRUE(some);
  EXPECT_EQ(**some, (std::vector<uint32_t>{0, 1, 2, 6}));
  auto big = parse_queue_list("5000");
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("beyond"), std::string::npos);
}

}  // namespace
}  // namespace xesp::npp
