/* A C host linked against libxesp.so: IESP's lifecycle on a veth testbed of its own.
 * Usage: c_host_test XESP_GEN_BINARY. Exit 0 pass, 1 fail, 77 skip (not root). */
#include <stdio.h>
#include <string.h>

#include "c_host_common.h"
#include "xesp/iesp.h"

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 2) {
    fprintf(stderr, "usage: %s XESP_GEN_BINARY\n", argv[0]);
    return XESP_HOST_FAIL;
  }
  int ok = xesp_host_check_layouts();
  const char* version = XespVersion();
  printf("%s: XespVersion() = \"%s\"\n", strcmp(version, "0.1.0") == 0 ? "ok" : "FAIL", version);
  if (!ok || strcmp(version, "0.1.0") != 0) return XESP_HOST_FAIL;

  const xesp_host_api api = {
      .CreateNPPInterface = CreateNPPInterface,
      .CreateBlob = CreateBlob,
      .SetStringInBlob = SetStringInBlob,
      .DestroyBlob = DestroyBlob,
      .iid_iesp = &IID_IESP,
      .XespLastErrorText = XespLastErrorText,
  };
  return xesp_host_run("c_host_test", &api, argv[1]);
}
