/* A C host of libxesp, shared by c_host_test (linked) and dlopen_host_test (dlopen): a veth
 * testbed of its own, then IESP's whole lifecycle with traffic while capturing and while
 * paused, then the pcapng file and the statistics checked. C11, no libxesp symbol referenced:
 * every call goes through the function pointers in xesp_host_api. */
#ifndef XESP_TESTS_C_HOST_COMMON_H
#define XESP_TESTS_C_HOST_COMMON_H

#include "xesp/iesp.h"

/* Exit statuses (77: CTest's SKIP_RETURN_CODE). */
#define XESP_HOST_PASS 0
#define XESP_HOST_FAIL 1
#define XESP_HOST_SKIP 77

typedef struct xesp_host_api {
  HRESULT (*CreateNPPInterface)(HBLOB hBlob, REFIID riid, void** ppvObject);
  DWORD (*CreateBlob)(HBLOB* phBlob);
  DWORD (*SetStringInBlob)
  (HBLOB hBlob, const char* owner, const char* category, const char* tag, const char* value);
  DWORD (*DestroyBlob)(HBLOB hBlob);
  const IID* iid_iesp;
  const char* (*XespLastErrorText)(void); /* optional: NULL prints no reasons */
} xesp_host_api;

/* Checks the struct layouts the host compiles against (the C side of the ABI). Prints and
 * returns 0 when they are wrong. */
int xesp_host_check_layouts(void);

/* Why this process cannot run the capture (needs CAP_NET_ADMIN and CAP_BPF or CAP_SYS_ADMIN),
 * or NULL when it can. */
const char* xesp_host_skip_reason(void);

/* Makes the testbed, runs Connect, Start, Pause, Resume, Stop, Disconnect with traffic from
 * `gen_binary` (xesp-gen), checks the file and the totals, removes the testbed (also on
 * SIGINT/SIGTERM and at exit). Returns XESP_HOST_PASS / FAIL / SKIP. */
int xesp_host_run(const char* name, const xesp_host_api* api, const char* gen_binary);

#endif /* XESP_TESTS_C_HOST_COMMON_H */
