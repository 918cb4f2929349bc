/* Built with pkg-config against the installed msinr: the C API from C. */
#include <stdio.h>
#include <string.h>

#include "msinr/msinr.h"

int main(void) {
  uint8_t px[12 * 10 * 3];
  for (unsigned i = 0; i < sizeof px; ++i) px[i] = (uint8_t)(i * 5);
  msinr_encode_options o;
  msinr_encode_options_init(&o);
  o.steps = 3;
  o.threads = 1;
  uint8_t* bytes = NULL;
  size_t size = 0;
  if (msinr_encode(NULL, px, 12, 10, 3, &o, &bytes, &size) != MSINR_OK) {
    fprintf(stderr, "encode: %s\n", msinr_last_error());
    return 1;
  }
  msinr_info info;
  const msinr_status s = msinr_read_info(bytes, size, &info);
  msinr_free(bytes);
  if (s != MSINR_OK || info.width != 12 || info.height != 10) return 2;
  if (strcmp(msinr_version(), MSINR_VERSION_STRING) != 0) return 3;
  printf("c consumer: %zu bytes\n", size);
  return 0;
}
