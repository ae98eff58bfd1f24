/* A C host that does not link libxesp: it dlopen()s the library (by its file name and by its
 * SONAME link next to it), finds the C API with dlsym(), then runs IESP's lifecycle on a veth
 * testbed of its own. Usage: dlopen_host_test XESP_GEN_BINARY LIBXESP_PATH.
 * Exit 0 pass, 1 fail, 77 skip (not root). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_host_common.h"

/* dlsym returns void *; a function pointer is taken from it through memcpy (ISO C has no
 * cast between the two). */
static int lookup(void* lib, const char* symbol, void* out, size_t size) {
  dlerror();
  void* p = dlsym(lib, symbol);
  const char* err = dlerror();
  if (!p || err) {
    printf("FAIL: dlsym(%s): %s\n", symbol, err ? err : "NULL");
    return 0;
  }
  memcpy(out, &p, size);
  printf("ok: dlsym(%s) = %p\n", symbol, p);
  return 1;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 3) {
    fprintf(stderr, "usage: %s XESP_GEN_BINARY LIBXESP_PATH\n", argv[0]);
    return XESP_HOST_FAIL;
  }
  if (!xesp_host_check_layouts()) return XESP_HOST_FAIL;

  void* lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    printf("FAIL: dlopen(%s): %s\n", argv[2], dlerror());
    return XESP_HOST_FAIL;
  }
  printf("ok: dlopen(%s)\n", argv[2]);
  /* The SONAME link beside it is the same library: the loader hands back the same handle. */
  char copy[4096];
  snprintf(copy, sizeof(copy), "%s", argv[2]);
  char soname_path[4200];
  snprintf(soname_path, sizeof(soname_path), "%s/libxesp.so.0", dirname(copy));
  void* by_soname = dlopen(soname_path, RTLD_NOW | RTLD_LOCAL);
  if (!by_soname) {
    printf("FAIL: dlopen(%s): %s\n", soname_path, dlerror());
    dlclose(lib);
    return XESP_HOST_FAIL;
  }
  printf("%s: dlopen(%s) is the same library\n", by_soname == lib ? "ok" : "FAIL", soname_path);
  int same = by_soname == lib;
  dlclose(by_soname);
  if (!same) {
    dlclose(lib);
    return XESP_HOST_FAIL;
  }

  xesp_host_api api;
  memset(&api, 0, sizeof(api));
  const IID* iid_iesp = NULL;
  const char* (*version)(void) = NULL;
  int ok =
      lookup(lib, "CreateNPPInterface", &api.CreateNPPInterface, sizeof(api.CreateNPPInterface)) &&
      lookup(lib, "CreateBlob", &api.CreateBlob, sizeof(api.CreateBlob)) &&
      lookup(lib, "SetStringInBlob", &api.SetStringInBlob, sizeof(api.SetStringInBlob)) &&
      lookup(lib, "DestroyBlob", &api.DestroyBlob, sizeof(api.DestroyBlob)) &&
      lookup(lib, "IID_IESP", &iid_iesp, sizeof(iid_iesp)) &&
      lookup(lib, "XespLastErrorText", &api.XespLastErrorText, sizeof(api.XespLastErrorText)) &&
      lookup(lib, "XespVersion", &version, sizeof(version));
  if (!ok) {
    dlclose(lib);
    return XESP_HOST_FAIL;
  }
  api.iid_iesp = iid_iesp;
  const int iid_ok = iid_iesp->Data1 == 0xE99A04AAu && iid_iesp->Data2 == 0xAB95 &&
                     iid_iesp->Data3 == 0x11D0 && iid_iesp->Data4[0] == 0xBE &&
                     iid_iesp->Data4[7] == 0xDE;
  printf("%s: IID_IESP is E99A04AA-AB95-11d0-BE96-00A0C94989DE\n", iid_ok ? "ok" : "FAIL");
  printf("%s: XespVersion() = \"%s\"\n", strcmp(version(), "0.1.0") == 0 ? "ok" : "FAIL",
         version());
  /* Internal symbols stay hidden. */
  dlerror();
  const int hidden = dlsym(lib, "_ZN4xesp3npp8ProviderC1Ev") == NULL;
  printf("%s: the C++ provider's symbols are not exported\n", hidden ? "ok" : "FAIL");
  if (!iid_ok || strcmp(version(), "0.1.0") != 0 || !hidden) {
    dlclose(lib);
    return XESP_HOST_FAIL;
  }

  int rc = xesp_host_run("dlopen_host_test", &api, argv[1]);
  /* Every provider is released by now: the library can go. */
  if (dlclose(lib) != 0) {
    printf("FAIL: dlclose: %s\n", dlerror());
    if (rc == XESP_HOST_PASS) rc = XESP_HOST_FAIL;
  }
  return rc;
}
