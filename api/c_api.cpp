// The C API (msinr/msinr.h) over the C++ one: every entry point catches everything.
#include "msinr/msinr.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "msinr/msinr.hpp"

struct msinr_model {
  msinr::Model model;
};

namespace {

thread_local std::string g_last_error;

msinr_status to_status(msinr::ErrorCode code) {
  switch (code) {
    case msinr::ErrorCode::kInvalidArgument: return MSINR_INVALID_ARGUMENT;
    case msinr::ErrorCode::kIo: return MSINR_IO;
    case msinr::ErrorCode::kCorrupt: return MSINR_CORRUPT;
    case msinr::ErrorCode::kUnsupported: return MSINR_UNSUPPORTED;
    case msinr::ErrorCode::kLimit: return MSINR_LIMIT;
    case msinr::ErrorCode::kModelMismatch: return MSINR_MODEL_MISMATCH;
    case msinr::ErrorCode::kDevice: return MSINR_DEVICE;
    case msinr::ErrorCode::kCancelled: return MSINR_CANCELLED;
    case msinr::ErrorCode::kInternal: return MSINR_INTERNAL;
  }
  return MSINR_INTERNAL;
}

msinr_status fail(msinr_status s, const char* message) {
  try {
    g_last_error = message;
  } catch (...) {
  }
  return s;
}

// Runs f, turning every exception into a status and a thread-local message.
template <class F>
msinr_status guarded(F&& f) noexcept {
  try {
    g_last_error.clear();
    f();
    return MSINR_OK;
  } catch (const msinr::Error& e) {
    return fail(to_status(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(MSINR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(MSINR_INTERNAL, e.what());
  } catch (...) {
    return fail(MSINR_INTERNAL, "unknown exception");
  }
}

void require(bool ok, const char* what) {
  if (!ok) throw msinr::Error(msinr::ErrorCode::kInvalidArgument, what);
}

template <class T>
T* copy_out(const std::vector<T>& v) {
  T* p = static_cast<T*>(std::malloc(v.empty() ? 1 : v.size() * sizeof(T)));
  if (!p) throw std::bad_alloc();
  if (!v.empty()) std::memcpy(p, v.data(), v.size() * sizeof(T));
  return p;
}


}  // namespace

extern "C" {

const char* msinr_status_string(msinr_status status) {
  switch (status) {
    case MSINR_OK: return "ok";
    case MSINR_INVALID_ARGUMENT: return msinr::error_code_name(msinr::ErrorCode::kInvalidArgument);
    case MSINR_IO: return msinr::error_code_name(msinr::ErrorCode::kIo);
    case MSINR_CORRUPT: return msinr::error_code_name(msinr::ErrorCode::kCorrupt);
    case MSINR_UNSUPPORTED: return msinr::error_code_name(msinr::ErrorCode::kUnsupported);
    case MSINR_LIMIT: return msinr::error_code_name(msinr::ErrorCode::kLimit);
    case MSINR_MODEL_MISMATCH: return msinr::error_code_name(msinr::ErrorCode::kModelMismatch);
    case MSINR_DEVICE: return msinr::error_code_name(msinr::ErrorCode::kDevice);
    case MSINR_CANCELLED: return msinr::error_code_name(msinr::ErrorCode::kCancelled);
    case MSINR_INTERNAL: return msinr::error_code_name(msinr::ErrorCode::kInternal);
  }
  return "unknown status";
}

const char* msinr_last_error(void) { return g_last_error.c_str(); }
const char* msinr_version(void) { return msinr::version(); }
void msinr_free(void* p) { std::free(p); }

msinr_status msinr_model_load(const char* path, msinr_model** out) {
  return guarded([&] {
    require(out != nullptr, "msinr_model_load: out is null");
    *out = nullptr;
    msinr::Model m = path ? msinr::Model::load(path) : msinr::Model::builtin();
    *out = new msinr_model{std::move(m)};
  });
}

msinr_status msinr_model_from_memory(const uint8_t* data, size_t size, msinr_model** out) {
  return guarded([&] {
    require(out != nullptr, "msinr_model_from_memory: out is null");
    *out = nullptr;
    require(data != nullptr, "msinr_model_from_memory: data is null");
    *out = new msinr_model{msinr::Model::from_memory(data, size)};
  });
}

void msinr_model_release(msinr_model* model) { delete model; }

static_assert(MSINR_DEVICE_AUTO == static_cast<int>(msinr::Device::kAuto) &&
                  MSINR_DEVICE_CPU == static_cast<int>(msinr::Device::kCpu) &&
                  MSINR_DEVICE_CUDA == static_cast<int>(msinr::Device::kCuda) &&
                  MSINR_DEVICE_REFERENCE == static_cast<int>(msinr::Device::kReference),
              "msinr_device and msinr::Device must agree value for value");

void msinr_encode_options_init(msinr_encode_options* options) {
  if (!options) return;
  const msinr::EncodeOptions d;
  options->level = d.level;
  options->target_bpp = d.target_bpp;
  options->target_psnr = d.target_psnr;
  options->steps = d.steps;
  options->lr = d.lr;
  options->threads = d.threads;
  options->device = static_cast<int>(d.device);
  options->progress = nullptr;
  options->progress_user = nullptr;
  options->bits = d.bits;
  options->quant_loss_db = d.quant_loss_db;
}

msinr_status msinr_encode(const msinr_model* model, const uint8_t* pixels, int width, int height, int channels,
                          const msinr_encode_options* options, uint8_t** out_bytes, size_t* out_size) {
  return guarded([&] {
    require(out_bytes != nullptr && out_size != nullptr, "msinr_encode: null output pointer");
    *out_bytes = nullptr;
    *out_size = 0;
    require(pixels != nullptr, "msinr_encode: pixels is null");
    require(width >= 1 && height >= 1 && channels >= 1 && channels <= 4,
            "msinr_encode: width and height must be >= 1, channels 1..4");
    msinr_encode_options c;
    msinr_encode_options_init(&c);
    if (options) c = *options;
    // The C struct's fields, one by one: the ABI boundary, whose layout is fixed for this SONAME.
    msinr::EncodeOptions o;
    o.level = c.level;
    o.target_bpp = c.target_bpp;
    o.target_psnr = c.target_psnr;
    o.steps = c.steps;
    o.lr = c.lr;
    o.bits = c.bits;
    o.quant_loss_db = c.quant_loss_db;
    o.threads = c.threads;
    // An int from the caller, checked before it becomes the enum (loading an out-of-range enum is UB).
    require(c.device >= MSINR_DEVICE_AUTO && c.device <= MSINR_DEVICE_REFERENCE, "msinr_encode: unknown device");
    o.device = static_cast<msinr::Device>(c.device);
    if (c.progress) {
      msinr_progress_fn fn = c.progress;
      void* user = c.progress_user;
      o.progress = [fn, user](std::size_t done, std::size_t total) { return fn(done, total, user) != 0; };
    }
    msinr::Model holder(nullptr == model ? msinr::Model::builtin() : model->model);
    msinr::Image img;
    img.width = width;
    img.height = height;
    img.channels = channels;
    // Within limits before the multiplication can overflow: the Encoder checks the rest.
    require(width <= 32768 && height <= 32768, "msinr_encode: image side beyond 32768");
    img.pixels.assign(pixels, pixels + static_cast<std::size_t>(width) * height * channels);
    const msinr::EncodeResult r = msinr::Encoder(holder, o).encode(img);
    *out_bytes = copy_out(r.bytes);
    *out_size = r.bytes.size();
  });
}

void msinr_decode_options_init(msinr_decode_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof *options);
  options->max_pixels = msinr::DecodeOptions{}.max_pixels;
}

msinr_status msinr_decode(const msinr_model* model, const uint8_t* data, size_t size, int width, int height,
                          uint8_t** out_pixels, int* out_width, int* out_height) {
  msinr_decode_options o;
  msinr_decode_options_init(&o);
  o.width = width;
  o.height = height;
  return msinr_decode_ex(model, data, size, &o, out_pixels, out_width, out_height);
}

msinr_status msinr_decode_ex(const msinr_model* model, const uint8_t* data, size_t size,
                             const msinr_decode_options* options, uint8_t** out_pixels, int* out_width,
                             int* out_height) {
  return guarded([&] {
    require(out_pixels != nullptr && out_width != nullptr && out_height != nullptr, "msinr_decode: null output pointer");
    *out_pixels = nullptr;
    *out_width = *out_height = 0;
    require(data != nullptr, "msinr_decode: data is null");
    msinr_decode_options c;
    msinr_decode_options_init(&c);
    if (options) c = *options;
    msinr::Model holder(nullptr == model ? msinr::Model::builtin() : model->model);
    msinr::DecodeOptions o;
    o.width = c.width;
    o.height = c.height;
    o.threads = c.threads;
    o.max_pixels = c.max_pixels;
    const msinr::Image img = msinr::Decoder(holder).decode(data, size, o);
    *out_pixels = copy_out(img.pixels);
    *out_width = img.width;
    *out_height = img.height;
  });
}

msinr_status msinr_read_info(const uint8_t* data, size_t size, msinr_info* out) {
  return guarded([&] {
    require(out != nullptr, "msinr_read_info: out is null");
    std::memset(out, 0, sizeof *out);
    require(data != nullptr, "msinr_read_info: data is null");
    const msinr::Info i = msinr::read_info(data, size);
    out->width = i.width;
    out->height = i.height;
    out->level = i.level;
    out->tile_size = i.tile_size;
    out->steps = i.steps;
    std::strncpy(out->model_id, i.model_id.c_str(), sizeof out->model_id - 1);
    out->file_bytes = i.file_bytes;
    out->bpp = i.bpp;
  });
}

}  // extern "C"
