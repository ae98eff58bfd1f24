/* A C host: capture 10 seconds on a NIC into a directory through the IESP plugin. */
#include <stdio.h>
#include <unistd.h>
#include <xesp/iesp.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IFACE DIRECTORY\n", argv[0]);
    return 2;
  }
  HBLOB config, errors;
  CreateBlob(&config);
  CreateBlob(&errors);
  SetStringInBlob(config, "NPP", "Config", "Interface", argv[1]);
  SetStringInBlob(config, "NPP", "Config", "CaptureDirectory", argv[2]);

  IESP *esp = NULL;
  HRESULT hr = CreateNPPInterface(config, &IID_IESP, (void **)&esp);
  if (SUCCEEDED(hr)) hr = esp->lpVtbl->Connect(esp, config, NULL, NULL, errors);
  if (FAILED(hr)) {
    fprintf(stderr, "connect: NMERR %u: %s\n", HRESULT_TO_NMERR(hr), XespLastErrorText());
    return 1;
  }
  char file[XESP_MAX_PATH];
  STATISTICS stats;
  if (SUCCEEDED(esp->lpVtbl->Start(esp, file))) {
    sleep(10);
    esp->lpVtbl->Stop(esp, &stats);
    printf("%s: %u frames captured, %u dropped\n", file, stats.TotalFramesCaptured,
           stats.TotalFramesDropped);
  }
  esp->lpVtbl->Disconnect(esp);
  esp->lpVtbl->Release(esp);
  DestroyBlob(errors);
  DestroyBlob(config);
  return 0;
}
