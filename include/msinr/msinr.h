/* msinr's C API: opaque handles, status codes, caller-freed buffers. Usable from C and any FFI.
 * No function throws or aborts: each returns an msinr_status (MSINR_OK == 0) and, on failure, a
 * one-line message retrievable with msinr_last_error() on the calling thread.
 * Threads: every function may be called from many threads; a model handle may be shared once
 * loaded (it is read-only), an encoder per thread. Buffers returned through out-parameters are
 * owned by the caller and released with msinr_free(). */
#ifndef MSINR_H
#define MSINR_H

#include <stddef.h>
#include <stdint.h>

#include "msinr/export.h"
#include "msinr/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum msinr_status {
  MSINR_OK = 0,
  MSINR_INVALID_ARGUMENT = 1, /* out-of-contract argument (null pointer, bad option, size mismatch) */
  MSINR_IO = 2,               /* a file could not be opened, read or written */
  MSINR_CORRUPT = 3,          /* bytes that break their format's rules */
  MSINR_UNSUPPORTED = 4,      /* valid-looking input this build does not handle */
  MSINR_LIMIT = 5,            /* dimensions or sizes beyond the documented limits */
  MSINR_MODEL_MISMATCH = 6,   /* a file made with another model */
  MSINR_DEVICE = 7,           /* the requested compute device is missing or failed */
  MSINR_CANCELLED = 8,        /* the progress callback asked to stop */
  MSINR_INTERNAL = 9,         /* a bug in msinr (or out of memory) */
} msinr_status;

/* A static, never-null name for a status ("ok", "invalid argument", ...). */
MSINR_API const char* msinr_status_string(msinr_status status);
/* The message of the last failed call on this thread ("" when none); valid until the next call. */
MSINR_API const char* msinr_last_error(void);
/* Run-time version ("0.1.0"); compare with MSINR_VERSION_STRING from msinr/version.h. */
MSINR_API const char* msinr_version(void);

/* Releases a buffer (bytes or pixels) returned by this library. NULL is allowed. */
MSINR_API void msinr_free(void* p);

typedef struct msinr_model msinr_model; /* opaque, read-only once made */

/* The built-in model (path == NULL) or a .msm file. *out receives a handle to release with
 * msinr_model_release(). */
MSINR_API msinr_status msinr_model_load(const char* path, msinr_model** out);
/* A .msm file's bytes (copied). */
MSINR_API msinr_status msinr_model_from_memory(const uint8_t* data, size_t size, msinr_model** out);
MSINR_API void msinr_model_release(msinr_model* model); /* NULL is allowed */

/* Where fitting runs. REFERENCE is the scalar reference engine: slow, the oracle the others are tested
 * against. The values are msinr::Device's (msinr/encode_options.hpp). */
typedef enum msinr_device {
  MSINR_DEVICE_AUTO = 0,
  MSINR_DEVICE_CPU = 1,
  MSINR_DEVICE_CUDA = 2,
  MSINR_DEVICE_REFERENCE = 3
} msinr_device;

/* Returns 0 to cancel the encode (it then fails with MSINR_CANCELLED), non-zero to go on.
 * Called from worker threads, one call at a time. */
typedef int (*msinr_progress_fn)(size_t tiles_done, size_t tiles_total, void* user);

typedef struct msinr_encode_options {
  int level;             /* -1: from target_bpp / target_psnr, else the model's default */
  double target_bpp;     /* > 0: best PSNR at or under this many bits per pixel */
  double target_psnr;    /* > 0: smallest file reaching this PSNR */
  int steps;             /* Adam steps per tile, >= 0 (0: the level's meta-learned init, unfitted) */
  float lr;              /* Adam learning rate; 0: the rate the model measured for the level */
  int threads;           /* 0: all cores */
  /* An msinr_device value. An int, not the enum, so an out-of-range value from a caller is defined
   * behaviour: msinr_encode refuses it with MSINR_INVALID_ARGUMENT. Same size and offset as before. */
  int device;
  msinr_progress_fn progress; /* may be NULL */
  void* progress_user;
  int bits;              /* payload: 0 quantized + entropy-coded (default), 16 fp16 */
  double quant_loss_db;  /* quantized: largest PSNR loss in dB against the unquantized fit (0.5) */
} msinr_encode_options;

/* Fills *options with the defaults (level -1, steps 100, lr 0 = the model's, auto device, no callback). */
MSINR_API void msinr_encode_options_init(msinr_encode_options* options);

/* Encodes an 8-bit interleaved image (channels 1..4, stride = width * channels) with `model`
 * (NULL: the built-in one). *out_bytes (free with msinr_free) and *out_size receive the .msinr file. */
MSINR_API msinr_status msinr_encode(const msinr_model* model, const uint8_t* pixels, int width, int height,
                                    int channels, const msinr_encode_options* options, uint8_t** out_bytes,
                                    size_t* out_size);

/* Decodes a .msinr file with `model` (NULL: built-in) to RGB at width x height (0 and 0: native;
 * one 0: keep the aspect ratio), at most 2^27 pixels (see msinr_decode_ex). *out_pixels (free with msinr_free) receives out_width * out_height * 3 bytes. */
MSINR_API msinr_status msinr_decode(const msinr_model* model, const uint8_t* data, size_t size, int width, int height,
                                    uint8_t** out_pixels, int* out_width, int* out_height);

/* Options for msinr_decode_ex; fill with msinr_decode_options_init. Its layout is fixed for this
 * SONAME: a later field would come with a new entry point, never by growing this struct. */
typedef struct msinr_decode_options {
  int width, height;   /* output size (0 and 0: native; one 0: keep the aspect ratio) */
  int threads;         /* 0: all cores */
  /* Most pixels decoded (output, and the file's native size, which its payload grows with):
   * MSINR_LIMIT beyond. Default MSINR_DEFAULT_MAX_PIXELS (2^27); 0: only the format's limit (2^28). */
  uint64_t max_pixels;
} msinr_decode_options;

#define MSINR_DEFAULT_MAX_PIXELS (UINT64_C(1) << 27)

MSINR_API void msinr_decode_options_init(msinr_decode_options* options);

/* msinr_decode with options (options == NULL: the defaults). msinr_decode applies the default
 * max_pixels (2^27). */
MSINR_API msinr_status msinr_decode_ex(const msinr_model* model, const uint8_t* data, size_t size,
                                       const msinr_decode_options* options, uint8_t** out_pixels, int* out_width,
                                       int* out_height);

typedef struct msinr_info {
  int width, height, level, tile_size, steps;
  char model_id[65]; /* hex, NUL-terminated */
  size_t file_bytes;
  double bpp;
} msinr_info;

/* Reads a .msinr header (no model needed). */
MSINR_API msinr_status msinr_read_info(const uint8_t* data, size_t size, msinr_info* out);

#ifdef __cplusplus
}
#endif

#endif /* MSINR_H */
