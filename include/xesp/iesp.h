/*
 * xesp C ABI: Network Monitor's packet-provider interfaces (IESP, IRTC) as COM-in-C objects,
 * with the SDK's names, re-made for Linux (XDP + AF_XDP). docs/IESP.md is the contract.
 *
 * Interface methods return HRESULTs: 0 on success, else NMERR_TO_HRESULT(code). Blob functions
 * return bare NMERR codes (DWORD), as in the SDK. No C++ exception crosses this boundary.
 *
 * A host creates a provider with CreateNPPInterface(blob, &IID_IESP, &ptr) (or &IID_IRTC),
 * calls through ptr->lpVtbl, and Release()s it; QueryInterface moves between IESP and IRTC on
 * the same provider. The last Release of a capturing provider stops the capture (the file is
 * completed) and detaches the program from the NIC.
 */
#ifndef XESP_IESP_H
#define XESP_IESP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define XESP_API __attribute__((visibility("default")))
#else
#define XESP_API
#endif

/* ---- Types: Windows widths on Linux ------------------------------------------------------ */
typedef uint32_t DWORD;
typedef uint32_t ULONG;
typedef int32_t LONG;
typedef uint16_t WORD;
typedef uint16_t USHORT;
typedef uint8_t BYTE;
typedef uint16_t WCHAR; /* UTF-16 code unit, not wchar_t */
typedef int32_t BOOL;
typedef uint32_t UINT;
typedef int32_t HRESULT;
typedef uintptr_t DWORD_PTR;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

typedef struct _GUID {
  uint32_t Data1;
  uint16_t Data2;
  uint16_t Data3;
  uint8_t Data4[8];
} GUID, IID;
typedef const IID *REFIID;

/* ---- Error codes (Netmon.h values) ------------------------------------------------------ */
#define NMERR_SUCCESS 0
#define NMERR_CAPTURING 3
#define NMERR_NOT_CAPTURING 4
#define NMERR_OUT_OF_MEMORY 19
#define NMERR_CAPTURE_PAUSED 20
#define NMERR_CAPTURE_NOT_PAUSED 66
#define NMERR_INVALID_PARAMETER 76
#define NMERR_LOST_CONNECTION 93
#define NMERR_AGENT_IN_USE 95
#define NMERR_TIMEOUT 96
#define NMERR_DISCONNECTED 97
#define NMERR_NOT_CONNECTED 102
#define NMERR_ALREADY_CONNECTED 103
#define NMERR_NOT_DELAYED 106
#define NMERR_REALTIME 107
#define NMERR_NOT_REALTIME 108
#define NMERR_NOT_STATS_ONLY 110
#define NMERR_NO_DEFAULT_CAPTURE_DIRECTORY 116
#define NMERR_REMOTE_NOT_A_SERVER 126
#define NMERR_REMOTE_VERSION_OUTOFSYNC 127
#define NMERR_ESP 138
#define NMERR_NOT_ESP 139
#define NMERR_BLOB_NOT_INITIALIZED 1000
#define NMERR_INVALID_BLOB 1001
#define NMERR_UPLEVEL_BLOB 1002
#define NMERR_BLOB_ENTRY_DOES_NOT_EXIST 1004
#define NMERR_BLOB_OWNER_NOT_FOUND 1006
#define NMERR_BLOB_CATEGORY_NOT_FOUND 1007
#define NMERR_UNKNOWN_CATEGORY 1008
#define NMERR_UNKNOWN_TAG 1009
#define NMERR_BLOB_CONVERSION_ERROR 1010
#define NMERR_ILLEGAL_TRIGGER 1011
#define NMERR_BLOB_STRING_INVALID 1012
#define NMERR_INVALID_REMOTE_COMPUTERNAME 1016
#define NMERR_RPC_REMOTE_FAILURE 1017

#define NMERR_TO_HRESULT(code) \
  ((HRESULT)((code) == 0 ? 0 : (int32_t)(0x80040000u | ((DWORD)(code) & 0xFFFFu))))
#define HRESULT_TO_NMERR(hr) ((DWORD)((DWORD)(hr) & 0xFFFFu))
#define S_OK ((HRESULT)0)
#define E_NOINTERFACE ((HRESULT)0x80004002u)
#define E_POINTER ((HRESULT)0x80004003u)
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)

/* ---- Data structures -------------------------------------------------------------------- */
typedef struct _NETWORKSTATUS {
  DWORD State;
  DWORD Flags;
} NETWORKSTATUS, *LPNETWORKSTATUS;

#define NETWORKSTATUS_STATE_VOID 0
#define NETWORKSTATUS_STATE_INIT 1 /* defined, not used: connected and idle reports VOID */
#define NETWORKSTATUS_STATE_CAPTURING 2
#define NETWORKSTATUS_STATE_PAUSED 3
#define NETWORKSTATUS_FLAGS_TRIGGER_PENDING 0x0001

/* The SDK layout with 32-bit counters; xesp counts in 64 bits and saturates into these. */
typedef struct _STATISTICS {
  int64_t TimeElapsed; /* µs */
  DWORD TotalFramesCaptured;
  DWORD TotalBytesCaptured;
  DWORD TotalFramesFiltered;
  DWORD TotalBytesFiltered;
  DWORD TotalMulticastsFiltered;
  DWORD TotalBroadcastsFiltered;
  DWORD TotalFramesSeen;
  DWORD TotalBytesSeen;
  DWORD TotalMulticastsReceived;
  DWORD TotalBroadcastsReceived;
  DWORD TotalFramesDropped;
  DWORD TotalFramesDroppedFromBuffer;
  DWORD MacFramesReceived;
  DWORD MacCRCErrors;
  int64_t MacBytesReceivedEx;
  DWORD MacFramesDropped_NoBuffers;
  DWORD MacMulticastsReceived;
  DWORD MacBroadcastsReceived;
  DWORD MacFramesDropped_HwError;
} STATISTICS, *LPSTATISTICS;

#define MACHINE_NAME_LENGTH 16
#define USER_NAME_LENGTH 32
#define STATIONQUERY_FLAGS_LOADED 0x0001
#define STATIONQUERY_FLAGS_RUNNING 0x0002
#define STATIONQUERY_FLAGS_CAPTURING 0x0004
#define STATIONQUERY_FLAGS_TRANSMITTING 0x0008

#pragma pack(push, 1)
typedef struct _STATIONQUERY {
  DWORD Flags;
  BYTE BCDVerMinor;
  BYTE BCDVerMajor;
  DWORD LicenseNumber;
  BYTE MachineName[MACHINE_NAME_LENGTH];
  BYTE UserName[USER_NAME_LENGTH];
  BYTE Reserved[32];
  BYTE AdapterAddress[6];
  WCHAR WMachineName[MACHINE_NAME_LENGTH];
  WCHAR WUserName[USER_NAME_LENGTH];
} STATIONQUERY, *LPSTATIONQUERY;
#pragma pack(pop)

/* nStationQueries: on input the entries StationQuery can hold; on output the count found. */
typedef struct _QUERYTABLE {
  DWORD nStationQueries;
  STATIONQUERY StationQuery[1];
} QUERYTABLE, *LPQUERYTABLE;

#define UPDATE_EVENT_TERMINATE_THREAD 0x0000
#define UPDATE_EVENT_NETWORK_STATUS 0x0001
#define UPDATE_EVENT_RTC_INTERVAL_ELAPSED 0x0002
#define UPDATE_EVENT_RTC_FRAME_TABLE_FULL 0x0003
#define UPDATE_EVENT_RTC_BUFFER_FULL 0x0004
#define UPDATE_EVENT_TRIGGER_BUFFER_CONTENT 0x0005
#define UPDATE_EVENT_TRIGGER_PATTERN_MATCH 0x0006
#define UPDATE_EVENT_TRIGGER_BUFFER_PATTERN 0x0007
#define UPDATE_EVENT_TRIGGER_PATTERN_BUFFER 0x0008
#define UPDATE_EVENT_TRANSMIT_STATUS 0x0009
#define UPDATE_EVENT_SECURITY_BREACH 0x000A
#define UPDATE_EVENT_REMOTE_FAILURE 0x000B
/* xesp's own: a rotating capture (NPP:Config:RotateBytes / RotateSeconds) opened a new file;
 * lpReserved points to its path (const char *, valid during the callback). */
#define UPDATE_EVENT_XESP_NEW_FILE 0x0100

#define UPDATE_ACTION_TERMINATE_THREAD 0x0000
#define UPDATE_ACTION_NOTIFY 0x0001
#define UPDATE_ACTION_STOP_CAPTURE 0x0002
#define UPDATE_ACTION_PAUSE_CAPTURE 0x0003
#define UPDATE_ACTION_RTC_BUFFER_SWITCH 0x0004

/* Which Trigger tag fired, in UPDATE_EVENT.Value of a trigger event (xesp's numbering). */
#define XESP_TRIGGER_STOP_AFTER_FRAMES 1
#define XESP_TRIGGER_STOP_AFTER_BYTES 2
#define XESP_TRIGGER_STOP_AFTER_SECONDS 3
#define XESP_TRIGGER_STOP_AFTER_FILE_SIZE 4
#define XESP_TRIGGER_PAUSE_AFTER_FRAMES 5
#define XESP_TRIGGER_PAUSE_AFTER_BYTES 6

typedef struct _UPDATE_EVENT {
  USHORT Event;
  DWORD Action;
  DWORD Status;        /* NETWORKSTATUS_STATE_* after the event */
  DWORD Value;         /* trigger events: XESP_TRIGGER_* */
  int64_t TimeStamp;   /* µs since the Unix epoch */
  void *lpUserContext; /* the UserContext given to Connect */
  void *lpReserved;    /* UPDATE_EVENT_XESP_NEW_FILE: the file's path (const char *) */
  UINT FramesDropped;
  union {
    DWORD Reserved;
    void *lpFrameTable;
    DWORD_PTR lpPacketQueue;
  };
  /* Final totals when a trigger stopped or paused the capture; NULL otherwise. Valid only
   * during the callback. */
  LPSTATISTICS lpFinalStats;
} UPDATE_EVENT, *PUPDATE_EVENT;

/* Runs on xesp's control thread; must not call Disconnect or Release. */
typedef DWORD (*LPNETWORKCALLBACKPROC)(UPDATE_EVENT);

/* IRTC frames: one batch per call, on the poller thread of the frames' queue; the memory is
 * valid only during the call; the callback must not block and must not call Disconnect or
 * Release (it may request Pause or Stop). */
#define XESP_FRAME_FLAG_SPECIAL 0x0001 /* an InsertSpecialFrame marker: Data holds its text */
typedef struct _XESP_FRAME {
  const BYTE *Data;
  DWORD CapturedLength;
  DWORD OriginalLength;
  int64_t TimeStampNs; /* ns since the Unix epoch */
  DWORD Queue;         /* NIC RX queue */
  DWORD Flags;
} XESP_FRAME;
typedef void (*XESP_FRAMES_CALLBACK)(const XESP_FRAME *frames, DWORD count, void *user_context);

/* ---- Blobs ------------------------------------------------------------------------------ */
typedef struct _XESP_BLOB *HBLOB;

XESP_API DWORD CreateBlob(HBLOB *phBlob);
XESP_API DWORD DestroyBlob(HBLOB hBlob);
XESP_API DWORD DuplicateBlob(HBLOB hSrc, HBLOB *phDst);
XESP_API DWORD SetStringInBlob(HBLOB hBlob, const char *owner, const char *category,
                               const char *tag, const char *value);
/* *value points into the blob: valid until the entry changes or the blob is destroyed. */
XESP_API DWORD GetStringFromBlob(HBLOB hBlob, const char *owner, const char *category,
                                 const char *tag, const char **value);
XESP_API DWORD RemoveFromBlob(HBLOB hBlob, const char *owner, const char *category,
                              const char *tag);
/* Lines "Owner:Category:Tag=Value"; '#' starts a comment line. */
XESP_API DWORD ReadBlobFromString(HBLOB hBlob, const char *text);
XESP_API DWORD ReadBlobFromFile(HBLOB hBlob, const char *path);
/* The blob as text into buffer (NUL-terminated); *needed receives the size required. */
XESP_API DWORD WriteBlobToString(HBLOB hBlob, char *buffer, DWORD size, DWORD *needed);
/* Entries, for walking an error blob: index 0.. ; NMERR_BLOB_ENTRY_DOES_NOT_EXIST past the end. */
XESP_API DWORD GetBlobEntry(HBLOB hBlob, DWORD index, const char **owner, const char **category,
                            const char **tag, const char **value);
XESP_API DWORD GetBlobEntryCount(HBLOB hBlob, DWORD *count);

/* ---- Interfaces ------------------------------------------------------------------------- */
extern XESP_API const IID IID_IUnknown; /* 00000000-0000-0000-C000-000000000046 */
extern XESP_API const IID IID_IESP;     /* E99A04AA-AB95-11d0-BE96-00A0C94989DE */
extern XESP_API const IID IID_IRTC;     /* 4811EA40-B582-11ce-B5AF-00AA006CB37D */

#define XESP_MAX_PATH 4096

typedef struct IESP IESP;
typedef struct IRTC IRTC;

typedef struct IESPVtbl {
  HRESULT (*QueryInterface)(IESP *This, REFIID riid, void **ppvObject);
  ULONG (*AddRef)(IESP *This);
  ULONG (*Release)(IESP *This);
  HRESULT (*Connect)(IESP *This, HBLOB hInputBlob, void *StatusCallbackProc, void *UserContext,
                     HBLOB hErrorBlob);
  HRESULT (*Disconnect)(IESP *This);
  HRESULT (*QueryStatus)(IESP *This, NETWORKSTATUS *pNetworkStatus);
  HRESULT (*Configure)(IESP *This, HBLOB hConfigurationBlob, HBLOB hErrorBlob);
  /* pFileName: a buffer of at least XESP_MAX_PATH bytes; receives the new file's path. */
  HRESULT (*Start)(IESP *This, char *pFileName);
  HRESULT (*Pause)(IESP *This, LPSTATISTICS lpStats); /* lpStats obsolete: NULL accepted */
  HRESULT (*Resume)(IESP *This);
  HRESULT (*Stop)(IESP *This, LPSTATISTICS lpStats);
  HRESULT (*GetControlState)(IESP *This, BOOL *IsRunnning, BOOL *IsPaused);
  HRESULT (*QueryStations)(IESP *This, QUERYTABLE *lpQueryTable);
} IESPVtbl;

struct IESP {
  const IESPVtbl *lpVtbl;
};

typedef struct IRTCVtbl {
  HRESULT (*QueryInterface)(IRTC *This, REFIID riid, void **ppvObject);
  ULONG (*AddRef)(IRTC *This);
  ULONG (*Release)(IRTC *This);
  /* FramesCallbackProc: an XESP_FRAMES_CALLBACK. */
  HRESULT (*Connect)(IRTC *This, HBLOB hInputBlob, void *StatusCallbackProc,
                     void *FramesCallbackProc, void *UserContext, HBLOB hErrorBlob);
  HRESULT (*Disconnect)(IRTC *This);
  HRESULT (*QueryStatus)(IRTC *This, NETWORKSTATUS *pNetworkStatus);
  HRESULT (*Configure)(IRTC *This, HBLOB hConfigurationBlob, HBLOB hErrorBlob);
  HRESULT (*Start)(IRTC *This);
  HRESULT (*Pause)(IRTC *This);
  HRESULT (*Resume)(IRTC *This);
  HRESULT (*Stop)(IRTC *This);
  HRESULT (*GetControlState)(IRTC *This, BOOL *IsRunnning, BOOL *IsPaused);
  HRESULT (*GetTotalStatistics)(IRTC *This, LPSTATISTICS lpStats, BOOL fClearAfterReading);
  /* Conversation tables arrive with the conversation-statistics issue: until then xesp sets
   * *nSessions and *nStations to 0 and writes nothing to the tables (which may be NULL).
   * nSessions and nStations must not be NULL. Totals come from GetTotalStatistics. */
  HRESULT (*GetConversationStatistics)(IRTC *This, DWORD *nSessions, void *lpSessionStats,
                                       DWORD *nStations, void *lpStationStats,
                                       BOOL fClearAfterReading);
  HRESULT (*InsertSpecialFrame)(IRTC *This, DWORD FrameType, DWORD Flags, BYTE *pUserData,
                                DWORD UserDataLength);
  HRESULT (*QueryStations)(IRTC *This, QUERYTABLE *lpQueryTable);
} IRTCVtbl;

struct IRTC {
  const IRTCVtbl *lpVtbl;
};

/* Creates a provider for the NIC the blob names (NPP:Config:Interface; the blob is read again
 * by Connect). riid: IID_IESP, IID_IRTC or IID_IUnknown (answered as IESP). */
XESP_API HRESULT CreateNPPInterface(HBLOB hBlob, REFIID riid, void **ppvObject);

/* The sentence behind the last failed call on this thread (names the input and the OS
 * reason); "" when there was none. */
XESP_API const char *XespLastErrorText(void);

/* "0.1.0" */
XESP_API const char *XespVersion(void);

#ifdef __cplusplus
}
#endif

#endif /* XESP_IESP_H */
