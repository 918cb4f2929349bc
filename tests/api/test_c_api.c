/* The C API from C: encode a generated image, decode it at two sizes, check the sizes, that the
 * decode carries the image (PSNR above a flat grey guess and above a floor), and that bad input
 * gets an error status and a message. Exit 0 on success; prints what failed otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msinr/msinr.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

static double psnr(const uint8_t* a, const uint8_t* b, size_t n) {
  double se = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = (double)a[i] - (double)b[i];
    se += d * d;
  }
  if (se == 0.0) return INFINITY;
  return 10.0 * log10(255.0 * 255.0 / (se / (double)n));
}

static int cancel_at_first(size_t done, size_t total, void* user) {
  (void)done;
  (void)total;
  ++*(int*)user;
  return 0;
}

int main(void) {
  enum { W = 40, H = 24 };
  uint8_t pixels[W * H * 3];
  uint8_t grey[W * H * 3];
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      uint8_t* p = &pixels[(y * W + x) * 3];
      p[0] = (uint8_t)(40 + 4 * x);
      p[1] = (uint8_t)(30 + 6 * y);
      p[2] = (uint8_t)(200 - 2 * x - 3 * y);
    }
  memset(grey, 128, sizeof grey);

  CHECK(strcmp(msinr_version(), MSINR_VERSION_STRING) == 0);
  CHECK(strcmp(msinr_status_string(MSINR_OK), "ok") == 0);
  CHECK(strlen(msinr_status_string(MSINR_CORRUPT)) > 0);

  msinr_model* model = NULL;
  msinr_status s = msinr_model_load(NULL, &model);
  CHECK(s == MSINR_OK && model != NULL);

  msinr_encode_options opt;
  msinr_encode_options_init(&opt);
  CHECK(opt.steps == 100 && opt.level == -1);
  opt.steps = 100;
  opt.threads = 1;
  uint8_t* bytes = NULL;
  size_t size = 0;
  s = msinr_encode(model, pixels, W, H, 3, &opt, &bytes, &size);
  CHECK(s == MSINR_OK);
  CHECK(bytes != NULL && size > 16);

  msinr_info info;
  s = msinr_read_info(bytes, size, &info);
  CHECK(s == MSINR_OK && info.width == W && info.height == H && info.steps == 100);
  CHECK(info.file_bytes == size && strlen(info.model_id) == 64);

  uint8_t* out = NULL;
  int ow = 0, oh = 0;
  s = msinr_decode(model, bytes, size, 0, 0, &out, &ow, &oh);
  CHECK(s == MSINR_OK && ow == W && oh == H && out != NULL);
  if (s == MSINR_OK) {
    const double q = psnr(pixels, out, sizeof pixels);
    const double flat = psnr(pixels, grey, sizeof pixels);
    printf("c api: %zu bytes, PSNR %.2f dB (flat grey guess %.2f dB)\n", size, q, flat);
    CHECK(q > flat + 3.0);
    CHECK(q > 18.0);
  }
  msinr_free(out);

  /* Decoding at another size: only the width given keeps the aspect ratio. */
  s = msinr_decode(NULL, bytes, size, 2 * W, 0, &out, &ow, &oh);
  CHECK(s == MSINR_OK && ow == 2 * W && oh == 2 * H);
  msinr_free(out);

  /* The pixel limit: msinr_decode applies 2^27; msinr_decode_ex takes another (issue 16). */
  {
    msinr_decode_options dopt;
    msinr_decode_options_init(&dopt);
    CHECK(dopt.max_pixels == MSINR_DEFAULT_MAX_PIXELS && dopt.width == 0 && dopt.threads == 0);
    out = (uint8_t*)1;
    CHECK(msinr_decode(NULL, bytes, size, 16384, 16384, &out, &ow, &oh) == MSINR_LIMIT && out == NULL);
    dopt.max_pixels = (uint64_t)W * H - 1; /* below even the native size */
    CHECK(msinr_decode_ex(NULL, bytes, size, &dopt, &out, &ow, &oh) == MSINR_LIMIT);
    dopt.max_pixels = 4ull * W * H;
    dopt.width = 2 * W;
    CHECK(msinr_decode_ex(NULL, bytes, size, &dopt, &out, &ow, &oh) == MSINR_OK && ow == 2 * W && oh == 2 * H);
    msinr_free(out);
    CHECK(msinr_decode_ex(NULL, bytes, size, NULL, &out, &ow, &oh) == MSINR_OK && ow == W && oh == H);
    msinr_free(out);
  }

  /* Bad input: typed statuses, messages, outputs cleared, nothing aborts. */
  out = (uint8_t*)1;
  s = msinr_decode(model, bytes, size / 2, 0, 0, &out, &ow, &oh);
  CHECK(s == MSINR_CORRUPT && out == NULL && strlen(msinr_last_error()) > 0);
  bytes[size / 2] ^= 0x55; /* a flipped byte in the payload: the checksum catches it */
  s = msinr_decode(model, bytes, size, 0, 0, &out, &ow, &oh);
  CHECK(s == MSINR_CORRUPT);
  const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(msinr_read_info(junk, sizeof junk, &info) == MSINR_CORRUPT);
  uint8_t* b2 = (uint8_t*)1;
  size_t s2 = 7;
  CHECK(msinr_encode(model, NULL, W, H, 3, &opt, &b2, &s2) == MSINR_INVALID_ARGUMENT);
  CHECK(b2 == NULL && s2 == 0);
  CHECK(msinr_encode(model, pixels, 0, H, 3, &opt, &b2, &s2) == MSINR_INVALID_ARGUMENT);
  CHECK(msinr_encode(model, pixels, W, H, 5, &opt, &b2, &s2) == MSINR_INVALID_ARGUMENT);
  opt.steps = -1;
  CHECK(msinr_encode(model, pixels, W, H, 3, &opt, &b2, &s2) == MSINR_INVALID_ARGUMENT);
  opt.steps = 5;
  opt.device = 42; /* an int field: validated, not loaded as an enum (UBSan: issue 16) */
  CHECK(msinr_encode(model, pixels, W, H, 3, &opt, &b2, &s2) == MSINR_INVALID_ARGUMENT);
  opt.device = MSINR_DEVICE_REFERENCE + 1;
  CHECK(msinr_encode(model, pixels, W, H, 3, &opt, &b2, &s2) == MSINR_INVALID_ARGUMENT);
  opt.device = -1;
  CHECK(msinr_encode(model, pixels, W, H, 3, &opt, &b2, &s2) == MSINR_INVALID_ARGUMENT);
  opt.device = MSINR_DEVICE_CPU;
  msinr_model* m2 = (msinr_model*)1;
  CHECK(msinr_model_load("/nonexistent/model.msm", &m2) == MSINR_IO && m2 == NULL);
  CHECK(msinr_model_from_memory(junk, sizeof junk, &m2) == MSINR_CORRUPT && m2 == NULL);
  CHECK(msinr_decode(NULL, NULL, 10, 0, 0, &out, &ow, &oh) == MSINR_INVALID_ARGUMENT);

  /* Cancellation: the callback says stop at the first tile. */
  int calls = 0;
  opt.progress = cancel_at_first;
  opt.progress_user = &calls;
  CHECK(msinr_encode(model, pixels, W, H, 3, &opt, &b2, &s2) == MSINR_CANCELLED);
  CHECK(calls == 1 && b2 == NULL);

  msinr_free(bytes);
  msinr_model_release(model);
  msinr_model_release(NULL);
  msinr_free(NULL);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
