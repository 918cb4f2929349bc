// PNG through libpng.
// libpng reports fatal errors through a callback that must not return; we longjmp back to the
// function that called setjmp. To keep that well defined in C++, each setjmp lives in a small
// "*_impl" function whose frame holds no object with a non-trivial destructor: everything it fills
// (vectors, buffers, messages) belongs to the caller, and the caller turns the outcome into a typed
// msinr::Error. C++ exceptions never cross libpng frames: callbacks only use malloc and fixed-size
// char buffers.
#include "imageio/png.hpp"

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include <png.h>
#include <zlib.h>

#include "format/file_io.hpp"
#include "imageio/detail/common.hpp"
#include "imageio/image_io.hpp"
#include "msinr/error.hpp"

namespace msinr::codec {
using namespace detail;
namespace {

// ---------------------------------------------------------------------------------------------
// PNG decoding

struct PngReadState {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::size_t pos = 0;
  bool truncated = false;
  char error[256] = {};
  char warnings[512] = {};
};

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  int channels = 0;  // after expansion (palette -> RGB, tRNS -> alpha)
  int depth = 0;     // 8 or 16 after expansion
  int passes = 1;
  std::size_t rowbytes = 0;
  bool too_large = false;
  bool bad_layout = false;
  std::uint64_t max_pixels = 0;  // in: the caller's limit
};

void png_error_cb(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngReadState*>(png_get_error_ptr(png));
  if (st && st->error[0] == '\0') std::snprintf(st->error, sizeof st->error, "%s", msg ? msg : "error");
  png_longjmp(png, 1);
}

void png_warning_cb(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngReadState*>(png_get_error_ptr(png));
  if (st) append_message(st->warnings, sizeof st->warnings, msg ? msg : "warning");
}

void png_read_cb(png_structp png, png_bytep out, png_size_t length) {
  auto* st = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (length > st->size - st->pos) {
    st->truncated = true;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, st->data + st->pos, length);
  st->pos += length;
}

// 8-bit RGB from one decoded row (channels 1..4, 8 or 16 bits big-endian), per the channel policy.
void png_row_to_rgb(const std::uint8_t* src, int channels, int depth, png_uint_32 width, std::uint8_t* dst) {
  for (png_uint_32 x = 0; x < width; ++x) {
    for (int k = 0; k < 3; ++k) {
      const std::size_t i = static_cast<std::size_t>(x) * channels + (channels <= 2 ? 0 : k);
      if (depth == 8) {
        dst[3 * static_cast<std::size_t>(x) + k] = src[i];
      } else {
        const std::uint32_t v = (static_cast<std::uint32_t>(src[2 * i]) << 8) | src[2 * i + 1];
        dst[3 * static_cast<std::size_t>(x) + k] = static_cast<std::uint8_t>((v * 255u + 32767u) / 65535u);
      }
    }
  }
}

bool png_decode_impl(png_structp png, png_infop info, PngHeader& h, std::vector<std::uint8_t>& raw,
                     std::vector<png_bytep>& rows, Image& out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_get_IHDR(png, info, &h.width, &h.height, &h.bit_depth, &h.color_type, &h.interlace, nullptr, nullptr);
  if (!within_read_limits(h.width, h.height, h.max_pixels)) {
    h.too_large = true;
    return true;
  }
  if (h.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (h.color_type == PNG_COLOR_TYPE_GRAY && h.bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  h.passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  h.channels = png_get_channels(png, info);
  h.depth = png_get_bit_depth(png, info);
  h.rowbytes = png_get_rowbytes(png, info);
  if (h.channels < 1 || h.channels > 4 || (h.depth != 8 && h.depth != 16) ||
      h.rowbytes != static_cast<std::size_t>(h.width) * h.channels * (h.depth / 8)) {
    h.bad_layout = true;
    return true;
  }
  const std::size_t out_row = static_cast<std::size_t>(h.width) * 3;
  out.pixels.resize(out_row * h.height);
  if (h.passes == 1) {
    raw.resize(h.rowbytes);
    for (png_uint_32 y = 0; y < h.height; ++y) {
      png_read_row(png, raw.data(), nullptr);
      png_row_to_rgb(raw.data(), h.channels, h.depth, h.width, out.pixels.data() + y * out_row);
    }
  } else {
    raw.resize(h.rowbytes * h.height);
    rows.resize(h.height);
    for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = raw.data() + y * h.rowbytes;
    png_read_image(png, rows.data());
    for (png_uint_32 y = 0; y < h.height; ++y)
      png_row_to_rgb(rows[y], h.channels, h.depth, h.width, out.pixels.data() + y * out_row);
  }
  png_read_end(png, nullptr);  // checks the remaining chunks' CRCs and that the file reaches IEND
  return true;
}

struct PngReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadGuard() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

// ---------------------------------------------------------------------------------------------
// PNG encoding

struct PngWriteState {
  MallocBuffer out;
  bool out_of_memory = false;
  char error[256] = {};
};

void png_write_error_cb(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngWriteState*>(png_get_error_ptr(png));
  if (st && st->error[0] == '\0') std::snprintf(st->error, sizeof st->error, "%s", msg ? msg : "error");
  png_longjmp(png, 1);
}
void png_write_warning_cb(png_structp, png_const_charp) {}

void png_write_cb(png_structp png, png_bytep data, png_size_t length) {
  auto* st = static_cast<PngWriteState*>(png_get_io_ptr(png));
  if (!st->out.append(data, length)) {
    st->out_of_memory = true;
    png_error(png, "out of memory");
  }
}
void png_flush_cb(png_structp) {}

bool png_encode_impl(png_structp png, png_infop info, const Image& img) {
  if (setjmp(png_jmpbuf(png))) return false;
  static const int kColorType[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                    PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, static_cast<png_uint_32>(img.width), static_cast<png_uint_32>(img.height), 8,
               kColorType[img.channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const std::size_t row = static_cast<std::size_t>(img.width) * img.channels;
  for (int y = 0; y < img.height; ++y) {
    png_write_row(png, const_cast<png_bytep>(img.pixels.data() + y * row));
  }
  png_write_end(png, nullptr);
  return true;
}

struct PngWriteGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteGuard() {
    if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
  }
};

std::vector<std::uint8_t> encode_png_named(const Image& image, const std::string& name) {
  validate_image(image, name);
  PngWriteState st;
  PngWriteGuard guard;
  guard.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, png_write_error_cb, png_write_warning_cb);
  if (!guard.png) throw Error(ErrorCode::kInternal, name + ": libpng could not create a write struct");
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) throw Error(ErrorCode::kInternal, name + ": libpng could not create an info struct");
  png_set_write_fn(guard.png, &st, png_write_cb, png_flush_cb);
  if (!png_encode_impl(guard.png, guard.info, image)) {
    if (st.out_of_memory) throw std::bad_alloc();
    throw Error(ErrorCode::kInternal, name + ": PNG encoding failed (libpng: " + st.error + ")");
  }
  return st.out.to_vector();
}

}  // namespace

Image decode_png(const std::uint8_t* data, std::size_t size, const std::string& name, std::uint64_t max_pixels) {
  if (!starts_with(data, size, kPngSig, sizeof kPngSig)) {
    if (size > 0 && proper_prefix_of(data, size, kPngSig, sizeof kPngSig))
      throw Error(ErrorCode::kCorrupt, name + ": truncated PNG data (" + std::to_string(size) + " bytes)");
    throw Error(ErrorCode::kCorrupt, name + ": not PNG data (bad signature)");
  }
  // IHDR must be the first chunk; check the claimed size before libpng reads further (libpng's
  // png_read_info continues up to the first IDAT, so a header-only file would otherwise report
  // truncation rather than the limit). Values >= 2^31 are invalid PNG and left to libpng (kCorrupt).
  if (size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    auto be32 = [&](std::size_t off) {
      return (std::uint32_t{data[off]} << 24) | (std::uint32_t{data[off + 1]} << 16) |
             (std::uint32_t{data[off + 2]} << 8) | std::uint32_t{data[off + 3]};
    };
    const std::uint32_t w = be32(16), h = be32(20);
    if (w >= 1 && h >= 1 && w <= 0x7FFFFFFFu && h <= 0x7FFFFFFFu && !within_read_limits(w, h, max_pixels)) {
      throw_read_limit(name, w, h, max_pixels);
    }
  }
  PngReadState st;
  st.data = data;
  st.size = size;
  PngReadGuard guard;
  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, png_error_cb, png_warning_cb);
  if (!guard.png) throw Error(ErrorCode::kInternal, name + ": libpng could not create a read struct");
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) throw Error(ErrorCode::kInternal, name + ": libpng could not create an info struct");
  png_set_read_fn(guard.png, &st, png_read_cb);
  // Our own limits (kLimit) are stricter; libpng's defaults would turn some into kCorrupt.
  png_set_user_limits(guard.png, 0x7fffffffu, 0x7fffffffu);

  PngHeader h;
  h.max_pixels = max_pixels;
  std::vector<std::uint8_t> raw;
  std::vector<png_bytep> rows;
  Image out;
  const bool ok = png_decode_impl(guard.png, guard.info, h, raw, rows, out);
  if (!ok) {
    throw Error(ErrorCode::kCorrupt, name + (st.truncated ? ": truncated PNG data" : ": corrupt PNG data") +
                                         " (libpng: " + st.error + ")");
  }
  if (h.too_large) throw_read_limit(name, h.width, h.height, max_pixels);
  if (h.bad_layout) {
    throw Error(ErrorCode::kInternal, name + ": unexpected libpng row layout (" + std::to_string(h.channels) +
                                          " channels, " + std::to_string(h.depth) + " bits)");
  }
  out.width = static_cast<int>(h.width);
  out.height = static_cast<int>(h.height);
  out.channels = 3;
  out.source.format = ImageFormat::kPng;
  out.source.channels = h.channels;
  out.source.bit_depth = h.bit_depth;
  out.source.warnings = st.warnings;
  return out;
}

std::vector<std::uint8_t> encode_png(const Image& image) { return encode_png_named(image, "encode_png"); }

void write_png(const Image& image, const std::string& path) {
  const std::vector<std::uint8_t> bytes = encode_png_named(image, path);
  write_file_atomic(path, bytes.data(), bytes.size());
}

namespace {

// Where PngRowWriter's bytes go: an atomic file, or a stream such as standard output. libpng calls
// row_sink_write; an error becomes a message here and png_error there (no exception crosses libpng).
struct RowSink {
  std::unique_ptr<format::AtomicFile> file;
  std::FILE* stream = nullptr;
  char io_error[256] = {};
};

void row_sink_write(png_structp png, png_bytep data, png_size_t length) {
  auto* sink = static_cast<RowSink*>(png_get_io_ptr(png));
  bool ok = true;
  if (sink->file) {
    try {
      sink->file->write(data, length);
    } catch (const std::exception& e) {
      std::snprintf(sink->io_error, sizeof sink->io_error, "%s", e.what());
      ok = false;
    }
  } else if (std::fwrite(data, 1, length, sink->stream) != length) {
    std::snprintf(sink->io_error, sizeof sink->io_error, "%s", std::strerror(errno));
    ok = false;
  }
  if (!ok) png_error(png, "write failed");
}

void row_sink_flush(png_structp) {}

}  // namespace

struct PngRowWriter::State {
  std::string path;
  RowSink sink;
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngWriteState errors;
  int width = 0, height = 0, channels = 0, rows = 0;
  bool done = false;
  [[noreturn]] void fail(const std::string& what) {
    std::string why = sink.io_error[0] ? std::string(" (") + sink.io_error + ")"
                      : errors.error[0] ? std::string(" (libpng: ") + errors.error + ")"
                                        : std::string();
    throw Error(ErrorCode::kIo, path + ": " + what + why);
  }
};

PngRowWriter::PngRowWriter(const std::string& path, int width, int height, int channels)
    : PngRowWriter(path, nullptr, width, height, channels) {}

PngRowWriter::PngRowWriter(std::FILE* stream, const std::string& name, int width, int height, int channels)
    : PngRowWriter(name, stream, width, height, channels) {}

PngRowWriter::PngRowWriter(const std::string& path, std::FILE* stream, int width, int height, int channels)
    : state_(new State) {
  State& s = *state_;
  s.path = path;
  s.width = width;
  s.height = height;
  s.channels = channels;
  if (!dimensions_within_limits(width, height) || channels < 1 || channels > 4) {
    delete state_;
    state_ = nullptr;
    throw Error(ErrorCode::kInvalidArgument, path + ": bad PNG size or channel count");
  }
  if (stream) {
    s.sink.stream = stream;
  } else {
    try {
      s.sink.file = std::make_unique<format::AtomicFile>(path);
    } catch (...) {
      delete state_;
      state_ = nullptr;
      throw;
    }
  }
  s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s.errors, png_write_error_cb, png_write_warning_cb);
  if (s.png) s.info = png_create_info_struct(s.png);
  static const int kColorType[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                    PNG_COLOR_TYPE_RGB_ALPHA};
  bool ok = s.png && s.info;
  if (ok) {
    if (setjmp(png_jmpbuf(s.png))) {
      ok = false;
    } else {
      png_set_write_fn(s.png, &s.sink, row_sink_write, row_sink_flush);
      png_set_IHDR(s.png, s.info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
                   kColorType[channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
      // Run-length deflate after libpng's adaptive row filters: on decoded SIREN images (smooth, so
      // the filtered rows are mostly small repeating residuals) 2-7x less compression time than
      // zlib's default level for -2% to +1% bytes (docs/performance.md, "Decode").
      png_set_compression_strategy(s.png, Z_RLE);
      png_write_info(s.png, s.info);
    }
  }
  if (!ok) {
    const std::string msg = path + ": cannot start the PNG" + (s.errors.error[0] ? std::string(" (") + s.errors.error + ")" : "");
    cleanup();
    throw Error(ErrorCode::kIo, msg);
  }
}

PngRowWriter::~PngRowWriter() { cleanup(); }

void PngRowWriter::cleanup() noexcept {
  if (!state_) return;
  State& s = *state_;
  if (s.png) png_destroy_write_struct(&s.png, s.info ? &s.info : nullptr);
  s.sink.file.reset();  // an uncommitted file removes its temporary
  delete state_;
  state_ = nullptr;
}

void PngRowWriter::write_row(const std::uint8_t* pixels) {
  State& s = *state_;
  if (s.rows >= s.height) throw Error(ErrorCode::kInvalidArgument, s.path + ": more rows than the image has");
  if (setjmp(png_jmpbuf(s.png))) s.fail("writing a row failed");
  png_write_row(s.png, const_cast<png_bytep>(pixels));
  ++s.rows;
}

void PngRowWriter::finish() {
  State& s = *state_;
  if (s.rows != s.height) throw Error(ErrorCode::kInvalidArgument, s.path + ": not every row was written");
  if (setjmp(png_jmpbuf(s.png))) s.fail("finishing the PNG failed");
  png_write_end(s.png, nullptr);
  png_destroy_write_struct(&s.png, &s.info);
  s.png = nullptr;
  s.info = nullptr;
  if (s.sink.file) {
    s.sink.file->commit();
  } else if (std::fflush(s.sink.stream) != 0) {
    std::snprintf(s.sink.io_error, sizeof s.sink.io_error, "%s", std::strerror(errno));
    s.fail("writing failed");
  }
  s.done = true;
}

}  // namespace msinr::codec
