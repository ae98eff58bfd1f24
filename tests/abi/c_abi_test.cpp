// The C ABI without privileges: layouts, codes, GUIDs, blobs, the factory, QueryInterface and
// reference counts, pointer checks before state checks, an unconnected provider, and the
// conversions (saturating STATISTICS, UPDATE_EVENT, STATIONQUERY).
#include "abi/c_abi.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "xesp/iesp.h"

namespace {

constexpr uint64_t kAbove32 = (1ULL << 32) + 5;

// ---- Layouts -------------------------------------------------------------------------------
TEST(CAbiLayout, StationQueryIsPackedLikeTheSdk) {
  EXPECT_EQ(sizeof(STATIONQUERY), 4u + 1 + 1 + 4 + 16 + 32 + 32 + 6 + 32 + 64);
  EXPECT_EQ(sizeof(STATIONQUERY), 192u);
  EXPECT_EQ(offsetof(STATIONQUERY, Flags), 0u);
  EXPECT_EQ(offsetof(STATIONQUERY, BCDVerMinor), 4u);
  EXPECT_EQ(offsetof(STATIONQUERY, BCDVerMajor), 5u);
  EXPECT_EQ(offsetof(STATIONQUERY, LicenseNumber), 6u);
  EXPECT_EQ(offsetof(STATIONQUERY, MachineName), 10u);
  EXPECT_EQ(offsetof(STATIONQUERY, UserName), 26u);
  EXPECT_EQ(offsetof(STATIONQUERY, Reserved), 58u);
  EXPECT_EQ(offsetof(STATIONQUERY, AdapterAddress), 90u);
  EXPECT_EQ(offsetof(STATIONQUERY, WMachineName), 96u);
  EXPECT_EQ(offsetof(STATIONQUERY, WUserName), 128u);
  EXPECT_EQ(offsetof(QUERYTABLE, StationQuery), 4u);
  EXPECT_EQ(sizeof(QUERYTABLE), 4u + 192u);
}

TEST(CAbiLayout, NetworkStatusAndStatistics) {
  EXPECT_EQ(sizeof(NETWORKSTATUS), 8u);
  EXPECT_EQ(offsetof(NETWORKSTATUS, Flags), 4u);
  EXPECT_EQ(sizeof(STATISTICS), 88u);
  EXPECT_EQ(offsetof(STATISTICS, TimeElapsed), 0u);
  EXPECT_EQ(offsetof(STATISTICS, TotalFramesCaptured), 8u);
  EXPECT_EQ(offsetof(STATISTICS, TotalBytesCaptured), 12u);
  EXPECT_EQ(offsetof(STATISTICS, TotalFramesFiltered), 16u);
  EXPECT_EQ(offsetof(STATISTICS, TotalBytesFiltered), 20u);
  EXPECT_EQ(offsetof(STATISTICS, TotalMulticastsFiltered), 24u);
  EXPECT_EQ(offsetof(STATISTICS, TotalBroadcastsFiltered), 28u);
  EXPECT_EQ(offsetof(STATISTICS, TotalFramesSeen), 32u);
  EXPECT_EQ(offsetof(STATISTICS, TotalBytesSeen), 36u);
  EXPECT_EQ(offsetof(STATISTICS, TotalMulticastsReceived), 40u);
  EXPECT_EQ(offsetof(STATISTICS, TotalBroadcastsReceived), 44u);
  EXPECT_EQ(offsetof(STATISTICS, TotalFramesDropped), 48u);
  EXPECT_EQ(offsetof(STATISTICS, TotalFramesDroppedFromBuffer), 52u);
  EXPECT_EQ(offsetof(STATISTICS, MacFramesReceived), 56u);
  EXPECT_EQ(offsetof(STATISTICS, MacCRCErrors), 60u);
  EXPECT_EQ(offsetof(STATISTICS, MacBytesReceivedEx), 64u);
  EXPECT_EQ(offsetof(STATISTICS, MacFramesDropped_NoBuffers), 72u);
  EXPECT_EQ(offsetof(STATISTICS, MacMulticastsReceived), 76u);
  EXPECT_EQ(offsetof(STATISTICS, MacBroadcastsReceived), 80u);
  EXPECT_EQ(offsetof(STATISTICS, MacFramesDropped_HwError), 84u);
}

TEST(CAbiLayout, UpdateEventFrameAndGuid) {
  EXPECT_EQ(offsetof(UPDATE_EVENT, Event), 0u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, Action), 4u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, Status), 8u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, Value), 12u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, TimeStamp), 16u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, lpUserContext), 24u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, lpReserved), 32u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, FramesDropped), 40u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, lpFrameTable), 48u);
  EXPECT_EQ(offsetof(UPDATE_EVENT, lpFinalStats), 56u);
  EXPECT_EQ(sizeof(UPDATE_EVENT), 64u);
  EXPECT_EQ(sizeof(XESP_FRAME), 32u);
  EXPECT_EQ(offsetof(XESP_FRAME, TimeStampNs), 16u);
  EXPECT_EQ(sizeof(GUID), 16u);
  EXPECT_EQ(sizeof(BOOL), 4u);
  EXPECT_EQ(sizeof(WCHAR), 2u);
  EXPECT_EQ(sizeof(HRESULT), 4u);
}

// ---- Codes and identifiers ----------------------------------------------------------------
TEST(CAbiCodes, HresultRoundTrip) {
  EXPECT_EQ(NMERR_TO_HRESULT(NMERR_SUCCESS), S_OK);
  EXPECT_EQ(static_cast<uint32_t>(NMERR_TO_HRESULT(NMERR_NOT_CONNECTED)), 0x80040066u);
  EXPECT_EQ(static_cast<uint32_t>(NMERR_TO_HRESULT(NMERR_BLOB_STRING_INVALID)), 0x800403F4u);
  for (DWORD code :
       {3u,    4u,    19u,   20u,   66u,   76u,   93u,   95u,   96u,   97u,   102u,  103u,
        106u,  107u,  108u,  110u,  116u,  126u,  127u,  138u,  139u,  1000u, 1001u, 1002u,
        1004u, 1006u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u, 1016u, 1017u}) {
    const HRESULT hr = NMERR_TO_HRESULT(code);
    EXPECT_TRUE(FAILED(hr)) << code;
    EXPECT_EQ(HRESULT_TO_NMERR(hr), code);
  }
  EXPECT_TRUE(SUCCEEDED(S_OK));
  EXPECT_TRUE(FAILED(E_NOINTERFACE));
  EXPECT_TRUE(FAILED(E_POINTER));
  EXPECT_EQ(static_cast<uint32_t>(E_NOINTERFACE), 0x80004002u);
  EXPECT_EQ(static_cast<uint32_t>(E_POINTER), 0x80004003u);
  EXPECT_EQ(xesp::abi::to_hresult({}), S_OK);
  EXPECT_EQ(xesp::abi::to_hresult(xesp::nmerr::not_esp), NMERR_TO_HRESULT(NMERR_NOT_ESP));
  EXPECT_EQ(xesp::abi::to_hresult(std::make_error_code(std::errc::not_enough_memory)),
            NMERR_TO_HRESULT(NMERR_OUT_OF_MEMORY));
  EXPECT_EQ(xesp::abi::to_hresult(std::make_error_code(std::errc::no_such_device)),
            NMERR_TO_HRESULT(NMERR_INVALID_PARAMETER));
}

void expect_guid(const IID& g, uint32_t d1, uint16_t d2, uint16_t d3,
                 std::initializer_list<uint8_t> d4) {
  EXPECT_EQ(g.Data1, d1);
  EXPECT_EQ(g.Data2, d2);
  EXPECT_EQ(g.Data3, d3);
  EXPECT_EQ(std::vector<uint8_t>(g.Data4, g.Data4 + 8), std::vector<uint8_t>(d4));
}

TEST(CAbiCodes, GuidsHaveTheSdkValues) {
  expect_guid(IID_IUnknown, 0x00000000, 0x0000, 0x0000, {0xC0, 0, 0, 0, 0, 0, 0, 0x46});
  expect_guid(IID_IESP, 0xE99A04AA, 0xAB95, 0x11D0,
              {0xBE, 0x96, 0x00, 0xA0, 0xC9, 0x49, 0x89, 0xDE});
  expect_guid(IID_IRTC, 0x4811EA40, 0xB582, 0x11CE,
              {0xB5, 0xAF, 0x00, 0xAA, 0x00, 0x6C, 0xB3, 0x7D});
}

TEST(CAbiCodes, Version) { EXPECT_STREQ(XespVersion(), "0.1.0"); }

// ---- Blobs ---------------------------------------------------------------------------------
class BlobHandle {
 public:
  BlobHandle() { EXPECT_EQ(CreateBlob(&h_), static_cast<DWORD>(NMERR_SUCCESS)); }
  ~BlobHandle() {
    if (h_) DestroyBlob(h_);
  }
  BlobHandle(const BlobHandle&) = delete;
  BlobHandle& operator=(const BlobHandle&) = delete;
  HBLOB get() const { return h_; }

 private:
  HBLOB h_ = nullptr;
};

constexpr DWORD kOk = NMERR_SUCCESS;

TEST(CAbiBlob, NullHandleIsNotInitialized) {
  const char* v = nullptr;
  DWORD n = 0;
  HBLOB dst = nullptr;
  char buf[8];
  EXPECT_EQ(CreateBlob(nullptr), static_cast<DWORD>(NMERR_INVALID_PARAMETER));
  EXPECT_EQ(DestroyBlob(nullptr), static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(DuplicateBlob(nullptr, &dst), static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(SetStringInBlob(nullptr, "NPP", "Config", "Interface", "eth0"),
            static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(GetStringFromBlob(nullptr, "NPP", "Config", "Interface", &v),
            static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(RemoveFromBlob(nullptr, "NPP", "Config", "Interface"),
            static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(ReadBlobFromString(nullptr, "NPP:Config:Interface=eth0"),
            static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(ReadBlobFromFile(nullptr, "/dev/null"), static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(WriteBlobToString(nullptr, buf, sizeof(buf), &n),
            static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(GetBlobEntry(nullptr, 0, &v, &v, &v, &v),
            static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_EQ(GetBlobEntryCount(nullptr, &n), static_cast<DWORD>(NMERR_BLOB_NOT_INITIALIZED));
  EXPECT_STRNE(XespLastErrorText(), "");
}

TEST(CAbiBlob, NullArgumentsAreInvalidParameters) {
  BlobHandle b;
  const char* v = nullptr;
  const DWORD bad = NMERR_INVALID_PARAMETER;
  EXPECT_EQ(DuplicateBlob(b.get(), nullptr), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), nullptr, "Config", "Interface", "eth0"), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), "NPP", nullptr, "Interface", "eth0"), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), "NPP", "Config", nullptr, "eth0"), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), "NPP", "Config", "Interface", nullptr), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), "", "Config", "Interface", "eth0"), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), "NPP", "Con:fig", "Interface", "eth0"), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), "NPP", "Config", "Inter=face", "eth0"), bad);
  EXPECT_EQ(SetStringInBlob(b.get(), "NPP", "Config", "Interface", "eth0\nNPP:Config:X=1"), bad);
  EXPECT_EQ(GetStringFromBlob(b.get(), nullptr, "Config", "Interface", &v), bad);
  EXPECT_EQ(GetStringFromBlob(b.get(), "NPP", nullptr, "Interface", &v), bad);
  EXPECT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", nullptr, &v), bad);
  EXPECT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", "Interface", nullptr), bad);
  EXPECT_EQ(RemoveFromBlob(b.get(), nullptr, "Config", "Interface"), bad);
  EXPECT_EQ(RemoveFromBlob(b.get(), "NPP", nullptr, "Interface"), bad);
  EXPECT_EQ(RemoveFromBlob(b.get(), "NPP", "Config", nullptr), bad);
  EXPECT_EQ(ReadBlobFromString(b.get(), nullptr), bad);
  EXPECT_EQ(ReadBlobFromFile(b.get(), nullptr), bad);
  EXPECT_EQ(WriteBlobToString(b.get(), nullptr, 16, nullptr), bad);
  EXPECT_EQ(GetBlobEntryCount(b.get(), nullptr), bad);
  DWORD count = 99;
  EXPECT_EQ(GetBlobEntryCount(b.get(), &count), kOk);
  EXPECT_EQ(count, 0u) << "a refused call must not change the blob";
}

TEST(CAbiBlob, SetGetRemove) {
  BlobHandle b;
  ASSERT_EQ(SetStringInBlob(b.get(), "NPP", "Config", "Interface", "eth0"), kOk);
  const char* v = nullptr;
  ASSERT_EQ(GetStringFromBlob(b.get(), "npp", "CONFIG", "interface", &v), kOk);
  EXPECT_STREQ(v, "eth0");
  // Replacing keeps one entry.
  ASSERT_EQ(SetStringInBlob(b.get(), "NPP", "Config", "Interface", "eth1"), kOk);
  DWORD count = 0;
  ASSERT_EQ(GetBlobEntryCount(b.get(), &count), kOk);
  EXPECT_EQ(count, 1u);
  ASSERT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", "Interface", &v), kOk);
  EXPECT_STREQ(v, "eth1");
  v = "sentinel";
  EXPECT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", "Queues", &v),
            static_cast<DWORD>(NMERR_BLOB_ENTRY_DOES_NOT_EXIST));
  EXPECT_EQ(v, nullptr);
  EXPECT_EQ(RemoveFromBlob(b.get(), "NPP", "Config", "Queues"),
            static_cast<DWORD>(NMERR_BLOB_ENTRY_DOES_NOT_EXIST));
  EXPECT_NE(std::string(XespLastErrorText()).find("NPP:Config:Queues"), std::string::npos);
  EXPECT_EQ(RemoveFromBlob(b.get(), "npp", "config", "INTERFACE"), kOk);
  EXPECT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", "Interface", &v),
            static_cast<DWORD>(NMERR_BLOB_ENTRY_DOES_NOT_EXIST));
}

TEST(CAbiBlob, ValuePointerStaysValidWhileTheEntryIsUnchanged) {
  BlobHandle b;
  ASSERT_EQ(SetStringInBlob(b.get(), "NPP", "Config", "Interface", "eth0"), kOk);
  const char* v = nullptr;
  ASSERT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", "Interface", &v), kOk);
  // Growing the blob moves its own strings; the pointer handed out must not move.
  for (int i = 0; i < 200; ++i) {
    // Not "T" + std::to_string(i): gcc 12 -O3 warns falsely there (-Wrestrict, GCC bug 105329).
    std::string tag = "T";
    tag += std::to_string(i);
    ASSERT_EQ(SetStringInBlob(b.get(), "NPP", "Trigger", tag.c_str(), "1"), kOk);
  }
  EXPECT_STREQ(v, "eth0");
  const char* again = nullptr;
  ASSERT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", "Interface", &again), kOk);
  EXPECT_EQ(again, v);
}

TEST(CAbiBlob, ReadFromStringAndFile) {
  BlobHandle b;
  EXPECT_EQ(ReadBlobFromString(b.get(),
                               "# comment\nNPP:Config:Interface=eth0\n\nNPP:Config:Queues=0-3\n"),
            kOk);
  DWORD count = 0;
  ASSERT_EQ(GetBlobEntryCount(b.get(), &count), kOk);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(ReadBlobFromString(b.get(), "NPP:Config:SnapLength=128\nthis line is wrong\n"),
            static_cast<DWORD>(NMERR_BLOB_STRING_INVALID));
  EXPECT_NE(std::string(XespLastErrorText()).find("line 2"), std::string::npos)
      << XespLastErrorText();
  ASSERT_EQ(GetBlobEntryCount(b.get(), &count), kOk);
  EXPECT_EQ(count, 2u) << "a malformed text adds nothing";

  char path[] = "/tmp/xesp-c-abi-blob-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "NPP:Config:SnapLength=256\nNPP:Trigger:StopAfterFrames=10\n";
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  BlobHandle f;
  EXPECT_EQ(ReadBlobFromFile(f.get(), path), kOk);
  const char* v = nullptr;
  ASSERT_EQ(GetStringFromBlob(f.get(), "NPP", "Trigger", "StopAfterFrames", &v), kOk);
  EXPECT_STREQ(v, "10");
  std::FILE* out = std::fopen(path, "w");
  ASSERT_NE(out, nullptr);
  std::fputs("broken\n", out);
  std::fclose(out);
  EXPECT_EQ(ReadBlobFromFile(f.get(), path), static_cast<DWORD>(NMERR_BLOB_STRING_INVALID));
  ::unlink(path);
  EXPECT_EQ(ReadBlobFromFile(f.get(), path), static_cast<DWORD>(NMERR_INVALID_BLOB));
  EXPECT_NE(std::string(XespLastErrorText()).find(path), std::string::npos);
}

TEST(CAbiBlob, WriteToStringTruncatesAndReportsTheSize) {
  BlobHandle b;
  ASSERT_EQ(SetStringInBlob(b.get(), "NPP", "Config", "Interface", "eth0"), kOk);
  const std::string full = "NPP:Config:Interface=eth0\n";
  DWORD needed = 0;
  char big[128];
  EXPECT_EQ(WriteBlobToString(b.get(), big, sizeof(big), &needed), kOk);
  EXPECT_EQ(needed, full.size() + 1);
  EXPECT_EQ(std::string(big), full);
  // Exactly the needed size fits.
  std::vector<char> exact(full.size() + 1, 'x');
  EXPECT_EQ(WriteBlobToString(b.get(), exact.data(), static_cast<DWORD>(exact.size()), &needed),
            kOk);
  EXPECT_EQ(std::string(exact.data()), full);
  // One byte short: truncated, NUL-terminated, OUT_OF_MEMORY, the size reported.
  char small[6];
  std::memset(small, 'x', sizeof(small));
  needed = 0;
  EXPECT_EQ(WriteBlobToString(b.get(), small, sizeof(small), &needed),
            static_cast<DWORD>(NMERR_OUT_OF_MEMORY));
  EXPECT_EQ(needed, full.size() + 1);
  EXPECT_STREQ(small, "NPP:C");
  // A size query.
  needed = 0;
  EXPECT_EQ(WriteBlobToString(b.get(), nullptr, 0, &needed),
            static_cast<DWORD>(NMERR_OUT_OF_MEMORY));
  EXPECT_EQ(needed, full.size() + 1);
  // An empty blob needs one byte.
  BlobHandle e;
  char one[1] = {'x'};
  EXPECT_EQ(WriteBlobToString(e.get(), one, 1, &needed), kOk);
  EXPECT_EQ(needed, 1u);
  EXPECT_EQ(one[0], '\0');
}

TEST(CAbiBlob, EntriesAndDuplicate) {
  BlobHandle b;
  ASSERT_EQ(ReadBlobFromString(b.get(), "NPP:Config:Interface=eth0\nNPP:Config:Bogus=1\n"), kOk);
  const char *o = nullptr, *c = nullptr, *t = nullptr, *v = nullptr;
  ASSERT_EQ(GetBlobEntry(b.get(), 1, &o, &c, &t, &v), kOk);
  EXPECT_STREQ(o, "NPP");
  EXPECT_STREQ(c, "Config");
  EXPECT_STREQ(t, "Bogus");
  EXPECT_STREQ(v, "1");
  EXPECT_EQ(GetBlobEntry(b.get(), 0, nullptr, nullptr, &t, nullptr), kOk);
  EXPECT_STREQ(t, "Interface");
  EXPECT_EQ(GetBlobEntry(b.get(), 2, &o, &c, &t, &v),
            static_cast<DWORD>(NMERR_BLOB_ENTRY_DOES_NOT_EXIST));
  EXPECT_EQ(o, nullptr);

  HBLOB copy = nullptr;
  ASSERT_EQ(DuplicateBlob(b.get(), &copy), kOk);
  ASSERT_NE(copy, nullptr);
  ASSERT_EQ(SetStringInBlob(copy, "NPP", "Config", "Interface", "eth9"), kOk);
  ASSERT_EQ(GetStringFromBlob(b.get(), "NPP", "Config", "Interface", &v), kOk);
  EXPECT_STREQ(v, "eth0") << "the duplicate is independent";
  ASSERT_EQ(GetStringFromBlob(copy, "NPP", "Config", "Interface", &v), kOk);
  EXPECT_STREQ(v, "eth9");
  EXPECT_EQ(DestroyBlob(copy), kOk);
}

TEST(CAbiBlob, ErrorTextIsPerThread) {
  BlobHandle b;
  EXPECT_EQ(ReadBlobFromString(b.get(), "garbage"), static_cast<DWORD>(NMERR_BLOB_STRING_INVALID));
  const std::string mine = XespLastErrorText();
  EXPECT_NE(mine, "");
  std::string theirs = "unset";
  std::thread([&] { theirs = XespLastErrorText(); }).join();
  EXPECT_EQ(theirs, "");
  EXPECT_EQ(std::string(XespLastErrorText()), mine);
}

// ---- The factory ---------------------------------------------------------------------------
// A blob naming an interface that does not exist: nothing here touches a NIC.
class ProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(SetStringInBlob(blob_.get(), "NPP", "Config", "Interface", "xesp-nonexistent0"), kOk);
  }
  IESP* make_esp() {
    void* p = nullptr;
    EXPECT_EQ(CreateNPPInterface(blob_.get(), &IID_IESP, &p), S_OK) << XespLastErrorText();
    return static_cast<IESP*>(p);
  }
  IRTC* make_rtc() {
    void* p = nullptr;
    EXPECT_EQ(CreateNPPInterface(blob_.get(), &IID_IRTC, &p), S_OK) << XespLastErrorText();
    return static_cast<IRTC*>(p);
  }
  BlobHandle blob_;
};

TEST_F(ProviderTest, FactoryChecksItsArguments) {
  void* p = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(CreateNPPInterface(blob_.get(), &IID_IESP, nullptr), E_POINTER);
  EXPECT_EQ(CreateNPPInterface(blob_.get(), nullptr, &p), E_POINTER);
  EXPECT_EQ(p, nullptr);
  p = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(CreateNPPInterface(nullptr, &IID_IESP, &p), NMERR_TO_HRESULT(NMERR_INVALID_PARAMETER));
  EXPECT_EQ(p, nullptr);
  const IID other = {0x12345678, 0x1234, 0x1234, {1, 2, 3, 4, 5, 6, 7, 8}};
  EXPECT_EQ(CreateNPPInterface(blob_.get(), &other, &p), E_NOINTERFACE);
  EXPECT_EQ(p, nullptr);

  BlobHandle empty;
  ASSERT_EQ(SetStringInBlob(empty.get(), "NPP", "Config", "Queues", "0"), kOk);
  EXPECT_EQ(CreateNPPInterface(empty.get(), &IID_IESP, &p),
            NMERR_TO_HRESULT(NMERR_BLOB_ENTRY_DOES_NOT_EXIST));
  EXPECT_NE(std::string(XespLastErrorText()).find("NPP:Config:Interface"), std::string::npos);

  ASSERT_EQ(SetStringInBlob(blob_.get(), "NPP", "Remote", "RemoteComputer", "capture-host-1"), kOk);
  EXPECT_EQ(CreateNPPInterface(blob_.get(), &IID_IESP, &p),
            NMERR_TO_HRESULT(NMERR_REMOTE_NOT_A_SERVER));
  EXPECT_EQ(p, nullptr);
  EXPECT_NE(std::string(XespLastErrorText()).find("remote capture agents are not available yet"),
            std::string::npos);
}

TEST_F(ProviderTest, QueryInterfaceIdentitiesAndReferenceCounts) {
  IESP* esp = make_esp();
  ASSERT_NE(esp, nullptr);
  void* p = nullptr;
  ASSERT_EQ(esp->lpVtbl->QueryInterface(esp, &IID_IUnknown, &p), S_OK);
  EXPECT_EQ(p, esp) << "the IESP pointer is the object's identity";
  ASSERT_EQ(esp->lpVtbl->QueryInterface(esp, &IID_IESP, &p), S_OK);
  EXPECT_EQ(p, esp);
  IRTC* rtc = nullptr;
  ASSERT_EQ(esp->lpVtbl->QueryInterface(esp, &IID_IRTC, reinterpret_cast<void**>(&rtc)), S_OK);
  ASSERT_NE(rtc, nullptr);
  EXPECT_NE(static_cast<void*>(rtc), static_cast<void*>(esp));
  ASSERT_EQ(rtc->lpVtbl->QueryInterface(rtc, &IID_IUnknown, &p), S_OK);
  EXPECT_EQ(p, esp);
  ASSERT_EQ(rtc->lpVtbl->QueryInterface(rtc, &IID_IRTC, &p), S_OK);
  EXPECT_EQ(p, rtc);
  // 1 (create) + 4 QueryInterface on esp/rtc faces so far: 1 + 2 + 1 + 2 = 6.
  EXPECT_EQ(esp->lpVtbl->AddRef(esp), 7u);
  EXPECT_EQ(rtc->lpVtbl->AddRef(rtc), 8u);
  const IID other = {0x12345678, 0x1234, 0x1234, {1, 2, 3, 4, 5, 6, 7, 8}};
  p = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(esp->lpVtbl->QueryInterface(esp, &other, &p), E_NOINTERFACE);
  EXPECT_EQ(p, nullptr);
  p = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(rtc->lpVtbl->QueryInterface(rtc, nullptr, &p), E_POINTER);
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(esp->lpVtbl->QueryInterface(esp, &IID_IESP, nullptr), E_POINTER);
  EXPECT_EQ(esp->lpVtbl->QueryInterface(nullptr, &IID_IESP, &p), E_POINTER);
  EXPECT_EQ(esp->lpVtbl->AddRef(nullptr), 0u);
  EXPECT_EQ(esp->lpVtbl->Release(nullptr), 0u);
  // Releases through either face count on the one object.
  for (ULONG left = 7; left >= 1; --left) {
    if (left % 2)
      EXPECT_EQ(esp->lpVtbl->Release(esp), left);
    else
      EXPECT_EQ(rtc->lpVtbl->Release(rtc), left);
  }
  EXPECT_EQ(esp->lpVtbl->Release(esp), 0u);  // destroys the provider
}

TEST_F(ProviderTest, FactoryAnswersEachInterface) {
  void* p = nullptr;
  ASSERT_EQ(CreateNPPInterface(blob_.get(), &IID_IUnknown, &p), S_OK);
  IESP* esp = static_cast<IESP*>(p);
  void* q = nullptr;
  ASSERT_EQ(esp->lpVtbl->QueryInterface(esp, &IID_IESP, &q), S_OK);
  EXPECT_EQ(q, p) << "IID_IUnknown is answered as IESP";
  EXPECT_EQ(esp->lpVtbl->Release(esp), 1u);
  EXPECT_EQ(esp->lpVtbl->Release(esp), 0u);

  IRTC* rtc = make_rtc();
  ASSERT_NE(rtc, nullptr);
  ASSERT_EQ(rtc->lpVtbl->QueryInterface(rtc, &IID_IRTC, &q), S_OK);
  EXPECT_EQ(q, rtc);
  EXPECT_EQ(rtc->lpVtbl->Release(rtc), 1u);
  EXPECT_EQ(rtc->lpVtbl->Release(rtc), 0u);
}

const HRESULT kInvalid = NMERR_TO_HRESULT(NMERR_INVALID_PARAMETER);
const HRESULT kNotConnected = NMERR_TO_HRESULT(NMERR_NOT_CONNECTED);

TEST_F(ProviderTest, EspNullPointersComeFirst) {
  IESP* esp = make_esp();
  ASSERT_NE(esp, nullptr);
  const IESPVtbl* v = esp->lpVtbl;
  NETWORKSTATUS ns;
  STATISTICS st;
  BOOL r = 0, pz = 0;
  QUERYTABLE table{};
  char name[XESP_MAX_PATH];
  // This is NULL (or not an IESP of ours).
  EXPECT_EQ(v->Connect(nullptr, blob_.get(), nullptr, nullptr, nullptr), kInvalid);
  EXPECT_EQ(v->Disconnect(nullptr), kInvalid);
  EXPECT_EQ(v->QueryStatus(nullptr, &ns), kInvalid);
  EXPECT_EQ(v->Configure(nullptr, blob_.get(), nullptr), kInvalid);
  EXPECT_EQ(v->Start(nullptr, name), kInvalid);
  EXPECT_EQ(v->Pause(nullptr, nullptr), kInvalid);
  EXPECT_EQ(v->Resume(nullptr), kInvalid);
  EXPECT_EQ(v->Stop(nullptr, &st), kInvalid);
  EXPECT_EQ(v->GetControlState(nullptr, &r, &pz), kInvalid);
  EXPECT_EQ(v->QueryStations(nullptr, &table), kInvalid);
  IESP* rtc_as_esp = nullptr;
  ASSERT_EQ(v->QueryInterface(esp, &IID_IRTC, reinterpret_cast<void**>(&rtc_as_esp)), S_OK);
  EXPECT_EQ(v->Disconnect(rtc_as_esp), kInvalid) << "an IRTC pointer is not an IESP";
  reinterpret_cast<IRTC*>(rtc_as_esp)->lpVtbl->Release(reinterpret_cast<IRTC*>(rtc_as_esp));
  // Null arguments: INVALID_PARAMETER before NOT_CONNECTED.
  EXPECT_EQ(v->Connect(esp, nullptr, nullptr, nullptr, nullptr), kInvalid);
  EXPECT_NE(std::string(XespLastErrorText()).find("hInputBlob"), std::string::npos);
  EXPECT_EQ(v->QueryStatus(esp, nullptr), kInvalid);
  EXPECT_EQ(v->Configure(esp, nullptr, nullptr), kInvalid);
  EXPECT_EQ(v->Start(esp, nullptr), kInvalid);
  EXPECT_EQ(v->Stop(esp, nullptr), kInvalid);
  EXPECT_EQ(v->GetControlState(esp, nullptr, &pz), kInvalid);
  EXPECT_EQ(v->GetControlState(esp, &r, nullptr), kInvalid);
  EXPECT_EQ(v->QueryStations(esp, nullptr), kInvalid);
  EXPECT_EQ(v->Release(esp), 0u);
}

TEST_F(ProviderTest, RtcNullPointersComeFirst) {
  IRTC* rtc = make_rtc();
  ASSERT_NE(rtc, nullptr);
  const IRTCVtbl* v = rtc->lpVtbl;
  NETWORKSTATUS ns;
  STATISTICS st;
  BOOL r = 0, pz = 0;
  DWORD n1 = 0, n2 = 0;
  QUERYTABLE table{};
  BYTE data[4] = {1, 2, 3, 4};
  EXPECT_EQ(v->Connect(nullptr, blob_.get(), nullptr, nullptr, nullptr, nullptr), kInvalid);
  EXPECT_EQ(v->Disconnect(nullptr), kInvalid);
  EXPECT_EQ(v->QueryStatus(nullptr, &ns), kInvalid);
  EXPECT_EQ(v->Configure(nullptr, blob_.get(), nullptr), kInvalid);
  EXPECT_EQ(v->Start(nullptr), kInvalid);
  EXPECT_EQ(v->Pause(nullptr), kInvalid);
  EXPECT_EQ(v->Resume(nullptr), kInvalid);
  EXPECT_EQ(v->Stop(nullptr), kInvalid);
  EXPECT_EQ(v->GetControlState(nullptr, &r, &pz), kInvalid);
  EXPECT_EQ(v->GetTotalStatistics(nullptr, &st, FALSE), kInvalid);
  EXPECT_EQ(v->GetConversationStatistics(nullptr, &n1, nullptr, &n2, nullptr, FALSE), kInvalid);
  EXPECT_EQ(v->InsertSpecialFrame(nullptr, 0, 0, data, sizeof(data)), kInvalid);
  EXPECT_EQ(v->QueryStations(nullptr, &table), kInvalid);

  EXPECT_EQ(v->Connect(rtc, nullptr, nullptr, nullptr, nullptr, nullptr), kInvalid);
  EXPECT_EQ(v->QueryStatus(rtc, nullptr), kInvalid);
  EXPECT_EQ(v->Configure(rtc, nullptr, nullptr), kInvalid);
  EXPECT_EQ(v->GetControlState(rtc, nullptr, &pz), kInvalid);
  EXPECT_EQ(v->GetControlState(rtc, &r, nullptr), kInvalid);
  EXPECT_EQ(v->GetTotalStatistics(rtc, nullptr, FALSE), kInvalid);
  EXPECT_EQ(v->GetConversationStatistics(rtc, nullptr, nullptr, &n2, nullptr, FALSE), kInvalid);
  EXPECT_EQ(v->GetConversationStatistics(rtc, &n1, nullptr, nullptr, nullptr, FALSE), kInvalid);
  EXPECT_EQ(v->InsertSpecialFrame(rtc, 0, 0, nullptr, 4), kInvalid);
  EXPECT_EQ(v->QueryStations(rtc, nullptr), kInvalid);
  EXPECT_EQ(v->Release(rtc), 0u);
}

TEST_F(ProviderTest, UnconnectedEsp) {
  IESP* esp = make_esp();
  ASSERT_NE(esp, nullptr);
  const IESPVtbl* v = esp->lpVtbl;
  NETWORKSTATUS ns{99, 99};
  EXPECT_EQ(v->QueryStatus(esp, &ns), S_OK);
  EXPECT_EQ(ns.State, static_cast<DWORD>(NETWORKSTATUS_STATE_VOID));
  EXPECT_EQ(ns.Flags, 0u);
  EXPECT_EQ(v->Disconnect(esp), kNotConnected);
  EXPECT_NE(std::string(XespLastErrorText()).find("NMERR_NOT_CONNECTED"), std::string::npos)
      << XespLastErrorText();
  EXPECT_EQ(v->Configure(esp, blob_.get(), nullptr), kNotConnected);
  char name[XESP_MAX_PATH];
  std::memset(name, 'x', sizeof(name));
  EXPECT_EQ(v->Start(esp, name), kNotConnected);
  EXPECT_EQ(name[0], '\0');
  STATISTICS stats;
  EXPECT_EQ(v->Pause(esp, nullptr), kNotConnected);
  EXPECT_EQ(v->Pause(esp, &stats), kNotConnected);
  EXPECT_EQ(v->Resume(esp), kNotConnected);
  std::memset(&stats, 0x5A, sizeof(stats));
  EXPECT_EQ(v->Stop(esp, &stats), kNotConnected);
  EXPECT_EQ(stats.TotalFramesCaptured, 0x5A5A5A5Au) << "a refused Stop leaves lpStats alone";
  BOOL running = TRUE, paused = TRUE;
  EXPECT_EQ(v->GetControlState(esp, &running, &paused), kNotConnected);
  EXPECT_EQ(running, FALSE);
  EXPECT_EQ(paused, FALSE);
  std::vector<unsigned char> storage(offsetof(QUERYTABLE, StationQuery) + 4 * sizeof(STATIONQUERY));
  auto* table = reinterpret_cast<QUERYTABLE*>(storage.data());
  table->nStationQueries = 4;
  EXPECT_EQ(v->QueryStations(esp, table), S_OK);
  EXPECT_EQ(table->nStationQueries, 0u);
  table->nStationQueries = 0;
  EXPECT_EQ(v->QueryStations(esp, table), S_OK);
  EXPECT_EQ(table->nStationQueries, 0u);
  EXPECT_EQ(v->Release(esp), 0u);
}

TEST_F(ProviderTest, UnconnectedRtc) {
  IRTC* rtc = make_rtc();
  ASSERT_NE(rtc, nullptr);
  const IRTCVtbl* v = rtc->lpVtbl;
  NETWORKSTATUS ns{99, 99};
  EXPECT_EQ(v->QueryStatus(rtc, &ns), S_OK);
  EXPECT_EQ(ns.State, static_cast<DWORD>(NETWORKSTATUS_STATE_VOID));
  EXPECT_EQ(v->Disconnect(rtc), kNotConnected);
  EXPECT_EQ(v->Configure(rtc, blob_.get(), nullptr), kNotConnected);
  EXPECT_EQ(v->Start(rtc), kNotConnected);
  EXPECT_EQ(v->Pause(rtc), kNotConnected);
  EXPECT_EQ(v->Resume(rtc), kNotConnected);
  EXPECT_EQ(v->Stop(rtc), kNotConnected);
  BOOL running = TRUE, paused = TRUE;
  EXPECT_EQ(v->GetControlState(rtc, &running, &paused), kNotConnected);
  STATISTICS st;
  EXPECT_EQ(v->GetTotalStatistics(rtc, &st, TRUE), kNotConnected);
  DWORD sessions = 7, stations = 7;
  EXPECT_EQ(v->GetConversationStatistics(rtc, &sessions, nullptr, &stations, nullptr, FALSE),
            kNotConnected);
  BYTE marker[] = {'m', 0, 'k'};  // binary is fine
  EXPECT_EQ(v->InsertSpecialFrame(rtc, 0, 0, marker, sizeof(marker)), kNotConnected);
  EXPECT_EQ(v->InsertSpecialFrame(rtc, 0, 0, nullptr, 0), kNotConnected);
  QUERYTABLE table{};
  table.nStationQueries = 1;
  EXPECT_EQ(v->QueryStations(rtc, &table), S_OK);
  EXPECT_EQ(table.nStationQueries, 0u);
  EXPECT_EQ(v->Release(rtc), 0u);
}

// Connect refusals that happen before any kernel object: configuration problems.
TEST_F(ProviderTest, ConnectReportsBlobProblemsInTheErrorBlob) {
  const char* saved = std::getenv("XESP_CAPTURE_DIR");
  const std::string saved_value = saved ? saved : "";
  ::unsetenv("XESP_CAPTURE_DIR");
  IESP* esp = make_esp();
  ASSERT_NE(esp, nullptr);
  BlobHandle errors;
  EXPECT_EQ(esp->lpVtbl->Connect(esp, blob_.get(), nullptr, nullptr, errors.get()),
            NMERR_TO_HRESULT(NMERR_NO_DEFAULT_CAPTURE_DIRECTORY));
  const char* v = nullptr;
  EXPECT_EQ(GetStringFromBlob(errors.get(), "NPP", "Config", "CaptureDirectory", &v), kOk);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(std::string(v).rfind("116 ", 0), 0u) << v;

  BlobHandle bad;
  ASSERT_EQ(ReadBlobFromString(bad.get(),
                               "NPP:Config:Interface=xesp-nonexistent0\n"
                               "NPP:Config:NoSuchTag=1\n"),
            kOk);
  BlobHandle errors2;
  EXPECT_EQ(esp->lpVtbl->Connect(esp, bad.get(), nullptr, nullptr, errors2.get()),
            NMERR_TO_HRESULT(NMERR_UNKNOWN_TAG));
  EXPECT_NE(std::string(XespLastErrorText()).find("NoSuchTag"), std::string::npos)
      << XespLastErrorText();
  EXPECT_EQ(GetStringFromBlob(errors2.get(), "NPP", "Config", "NoSuchTag", &v), kOk);
  // A null error blob is allowed.
  EXPECT_EQ(esp->lpVtbl->Connect(esp, bad.get(), nullptr, nullptr, nullptr),
            NMERR_TO_HRESULT(NMERR_UNKNOWN_TAG));
  BOOL running = 0, paused = 0;
  EXPECT_EQ(esp->lpVtbl->GetControlState(esp, &running, &paused), kNotConnected);
  EXPECT_EQ(esp->lpVtbl->Release(esp), 0u);
  if (saved) ::setenv("XESP_CAPTURE_DIR", saved_value.c_str(), 1);
}

// ---- Conversions ---------------------------------------------------------------------------
TEST(CAbiConversion, StatisticsSaturateAbove32Bits) {
  xesp::Statistics s;
  s.time_elapsed_us = kAbove32;
  s.frames_captured = kAbove32;
  s.bytes_captured = 1ULL << 40;
  s.frames_filtered = 7;
  s.bytes_filtered = kAbove32;
  s.frames_seen = std::numeric_limits<uint64_t>::max();
  s.bytes_seen = 0xFFFFFFFFULL;  // exactly the maximum still fits
  s.frames_dropped = 0x100000000ULL;
  s.frames_dropped_from_buffer = 3;
  s.nic.frames_received = kAbove32;
  s.nic.crc_errors = 11;
  s.nic.bytes_received = 1ULL << 40;
  s.nic.dropped_no_buffers = kAbove32;
  s.nic.multicasts_received = 13;
  s.nic.hw_errors = kAbove32;
  STATISTICS c;
  std::memset(&c, 0xAB, sizeof(c));
  xesp::abi::to_c_statistics(s, &c);
  EXPECT_EQ(c.TimeElapsed, static_cast<int64_t>(kAbove32));  // 64-bit: exact
  EXPECT_EQ(c.TotalFramesCaptured, UINT32_MAX);
  EXPECT_EQ(c.TotalBytesCaptured, UINT32_MAX);
  EXPECT_EQ(c.TotalFramesFiltered, 7u);
  EXPECT_EQ(c.TotalBytesFiltered, UINT32_MAX);
  EXPECT_EQ(c.TotalMulticastsFiltered, 0u);
  EXPECT_EQ(c.TotalBroadcastsFiltered, 0u);
  EXPECT_EQ(c.TotalFramesSeen, UINT32_MAX);
  EXPECT_EQ(c.TotalBytesSeen, UINT32_MAX);
  EXPECT_EQ(c.TotalMulticastsReceived, 0u);
  EXPECT_EQ(c.TotalBroadcastsReceived, 0u);
  EXPECT_EQ(c.TotalFramesDropped, UINT32_MAX);
  EXPECT_EQ(c.TotalFramesDroppedFromBuffer, 3u);
  EXPECT_EQ(c.MacFramesReceived, UINT32_MAX);
  EXPECT_EQ(c.MacCRCErrors, 11u);
  EXPECT_EQ(c.MacBytesReceivedEx, static_cast<int64_t>(1ULL << 40));
  EXPECT_EQ(c.MacFramesDropped_NoBuffers, UINT32_MAX);
  EXPECT_EQ(c.MacMulticastsReceived, 13u);
  EXPECT_EQ(c.MacBroadcastsReceived, 0u);
  EXPECT_EQ(c.MacFramesDropped_HwError, UINT32_MAX);

  s.time_elapsed_us = std::numeric_limits<uint64_t>::max();
  s.nic.bytes_received = std::numeric_limits<uint64_t>::max();
  s.frames_captured = 0xFFFFFFFEULL;
  xesp::abi::to_c_statistics(s, &c);
  EXPECT_EQ(c.TimeElapsed, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(c.MacBytesReceivedEx, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(c.TotalFramesCaptured, 0xFFFFFFFEu);
}

TEST(CAbiConversion, UpdateEventCarriesFinalStatsOnlyForStopAndPause) {
  int context = 0;
  xesp::UpdateEvent ev;
  ev.event = xesp::kEventNetworkStatus;
  ev.action = xesp::kActionNotify;
  ev.status = xesp::kStateCapturing;
  ev.timestamp_us = 1'700'000'000'000'000ULL;
  ev.context = &context;
  ev.frames_dropped = kAbove32;
  ev.statistics = xesp::Statistics{};
  ev.statistics->frames_captured = 42;
  UPDATE_EVENT c;
  STATISTICS storage;
  xesp::abi::to_c_update_event(ev, &c, &storage);
  EXPECT_EQ(c.Event, UPDATE_EVENT_NETWORK_STATUS);
  EXPECT_EQ(c.Action, static_cast<DWORD>(UPDATE_ACTION_NOTIFY));
  EXPECT_EQ(c.Status, static_cast<DWORD>(NETWORKSTATUS_STATE_CAPTURING));
  EXPECT_EQ(c.TimeStamp, 1'700'000'000'000'000LL);
  EXPECT_EQ(c.lpUserContext, &context);
  EXPECT_EQ(c.FramesDropped, UINT32_MAX);
  EXPECT_EQ(c.lpFinalStats, nullptr) << "running totals are not final statistics";

  ev.event = 5;
  ev.action = xesp::kActionStopCapture;
  ev.status = xesp::kStateVoid;
  ev.value = XESP_TRIGGER_STOP_AFTER_FRAMES;
  ev.frames_dropped = 3;
  xesp::abi::to_c_update_event(ev, &c, &storage);
  EXPECT_EQ(c.Event, UPDATE_EVENT_TRIGGER_BUFFER_CONTENT);
  EXPECT_EQ(c.Value, static_cast<DWORD>(XESP_TRIGGER_STOP_AFTER_FRAMES));
  EXPECT_EQ(c.FramesDropped, 3u);
  ASSERT_EQ(c.lpFinalStats, &storage);
  EXPECT_EQ(storage.TotalFramesCaptured, 42u);

  ev.action = xesp::kActionPauseCapture;
  xesp::abi::to_c_update_event(ev, &c, &storage);
  EXPECT_EQ(c.lpFinalStats, &storage);
  ev.statistics.reset();
  xesp::abi::to_c_update_event(ev, &c, &storage);
  EXPECT_EQ(c.lpFinalStats, nullptr);
}

TEST(CAbiConversion, StationQueryNamesAndVersion) {
  xesp::npp::Station s;
  s.flags = STATIONQUERY_FLAGS_LOADED | STATIONQUERY_FLAGS_CAPTURING;
  s.machine_name = "capture-host-with-a-long-name";  // 29 bytes: truncated to 15
  s.user_name = "r\xC3\xA9my \xF0\x9F\x98\x80";      // é (2 bytes), U+1F600 (surrogate pair)
  s.adapter_address = {0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};
  STATIONQUERY q;
  std::memset(&q, 0xAB, sizeof(q));
  xesp::abi::to_c_station(s, &q);
  EXPECT_EQ(q.Flags, static_cast<DWORD>(STATIONQUERY_FLAGS_LOADED | STATIONQUERY_FLAGS_CAPTURING));
  EXPECT_EQ(q.BCDVerMajor, 0);
  EXPECT_EQ(q.BCDVerMinor, 1);
  EXPECT_STREQ(reinterpret_cast<const char*>(q.MachineName), "capture-host-wi");
  EXPECT_STREQ(reinterpret_cast<const char*>(q.UserName), s.user_name.c_str());
  EXPECT_EQ(std::memcmp(q.AdapterAddress, s.adapter_address.data(), 6), 0);
  WCHAR wm[MACHINE_NAME_LENGTH], wu[USER_NAME_LENGTH];
  std::memcpy(wm, reinterpret_cast<const unsigned char*>(&q) + offsetof(STATIONQUERY, WMachineName),
              sizeof(wm));
  std::memcpy(wu, reinterpret_cast<const unsigned char*>(&q) + offsetof(STATIONQUERY, WUserName),
              sizeof(wu));
  EXPECT_EQ(wm[0], u'c');
  EXPECT_EQ(wm[13], u'w');
  EXPECT_EQ(wm[14], u'i');
  EXPECT_EQ(wm[15], 0);
  const std::vector<WCHAR> user(wu, wu + 8);
  EXPECT_EQ(user, (std::vector<WCHAR>{u'r', 0xE9, u'm', u'y', u' ', 0xD83D, 0xDE00, 0}));
}

}  // namespace
