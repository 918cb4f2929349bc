// PNG and JPEG through libpng and libjpeg-turbo. Both libraries report fatal errors through a
// callback that must not return; we longjmp back to the function that called setjmp. To keep that
// well defined in C++, each setjmp lives in a small "*_impl" function whose frame holds no object
// with a non-trivial destructor: everything it fills (vectors, buffers, messages) belongs to the
// caller, and the caller turns the outcome into a typed msinr::Error. C++ exceptions never cross
// libpng/libjpeg frames: callbacks only use malloc and fixed-size char buffers.
#include "codec/image_io.hpp"

#include "codec/model.hpp"
#include "format/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include <png.h>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>

#include "msinr/error.hpp"

namespace msinr::codec {
namespace {


std::string size_text(std::int64_t w, std::int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

[[noreturn]] void throw_limit(const std::string& name, std::int64_t w, std::int64_t h) {
  throw Error(ErrorCode::kLimit, name + ": image size " + size_text(w, h) +
                                     " exceeds the limits (each side <= " + std::to_string(kMaxImageSide) +
                                     ", at most 2^28 pixels)");
}

// Within the side and format limits and within the caller's pixel limit (0: the format's).
bool within_read_limits(std::uint64_t w, std::uint64_t h, std::uint64_t max_pixels) {
  return w <= 0x7FFFFFFFu && h <= 0x7FFFFFFFu && dimensions_within_limits(static_cast<std::int64_t>(w), static_cast<std::int64_t>(h)) &&
         (max_pixels == 0 || w * h <= max_pixels);
}

[[noreturn]] void throw_read_limit(const std::string& name, std::int64_t w, std::int64_t h, std::uint64_t max_pixels) {
  if (dimensions_within_limits(w, h))
    throw Error(ErrorCode::kLimit, name + ": image size " + size_text(w, h) + " has " + std::to_string(w * h) +
                                       " pixels, more than the read limit of " + std::to_string(max_pixels) +
                                       " (raise it with --max-pixels)");
  throw_limit(name, w, h);
}

// Appends "; msg" to a fixed buffer, silently truncating (used from C callbacks: no allocation).
void append_message(char* buf, std::size_t cap, const char* msg) {
  std::size_t len = std::strlen(buf);
  if (len + 3 >= cap) return;
  if (len > 0) {
    std::memcpy(buf + len, "; ", 2);
    len += 2;
    buf[len] = '\0';
  }
  std::snprintf(buf + len, cap - len, "%s", msg);
}

// A malloc-backed growing byte buffer that C callbacks can append to without throwing.
struct MallocBuffer {
  unsigned char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
  MallocBuffer() = default;
  MallocBuffer(const MallocBuffer&) = delete;
  MallocBuffer& operator=(const MallocBuffer&) = delete;
  ~MallocBuffer() { std::free(data); }
  bool grow_to(std::size_t min_capacity) {
    if (min_capacity <= capacity) return true;
    std::size_t cap = capacity ? capacity : 65536;
    while (cap < min_capacity) cap *= 2;
    void* p = std::realloc(data, cap);
    if (!p) return false;
    data = static_cast<unsigned char*>(p);
    capacity = cap;
    return true;
  }
  bool append(const void* src, std::size_t n) {
    if (!grow_to(size + n)) return false;
    std::memcpy(data + size, src, n);
    size += n;
    return true;
  }
  std::vector<std::uint8_t> to_vector() const { return std::vector<std::uint8_t>(data, data + size); }
};

constexpr std::uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
constexpr std::uint8_t kJpegSig[3] = {0xFF, 0xD8, 0xFF};

bool starts_with(const std::uint8_t* data, std::size_t size, const void* magic, std::size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}
// True when the data is shorter than the magic and is a prefix of it.
bool proper_prefix_of(const std::uint8_t* data, std::size_t size, const std::uint8_t* magic, std::size_t n) {
  return size < n && std::memcmp(data, magic, size) == 0;
}

// Names formats we recognise but do not read, or nullptr.
const char* other_format_name(const std::uint8_t* d, std::size_t n) {
  auto has = [&](std::size_t off, const char* s) {
    const std::size_t len = std::strlen(s);
    return n >= off + len && std::memcmp(d + off, s, len) == 0;
  };
  if (has(0, "GIF87a") || has(0, "GIF89a")) return "GIF";
  if (has(0, "BM")) return "BMP";
  if (has(0, "RIFF") && has(8, "WEBP")) return "WebP";
  if (has(0, "II*") || has(0, "MM")) {
    if (n >= 4 && ((d[0] == 'I' && d[2] == 42 && d[3] == 0) || (d[0] == 'M' && d[2] == 0 && d[3] == 42)))
      return "TIFF";
  }
  if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7' &&
      (d[2] == '\n' || d[2] == '\r' || d[2] == ' ' || d[2] == '\t'))
    return "PNM";
  if (has(0, "qoif")) return "QOI";
  static const std::uint8_t jp2[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
  static const std::uint8_t j2k[4] = {0xFF, 0x4F, 0xFF, 0x51};
  static const std::uint8_t jxl_box[12] = {0, 0, 0, 0x0C, 'J', 'X', 'L', ' ', 0x0D, 0x0A, 0x87, 0x0A};
  if (starts_with(d, n, jp2, 12) || starts_with(d, n, j2k, 4)) return "JPEG 2000";
  if (starts_with(d, n, jxl_box, 12) || (n >= 2 && d[0] == 0xFF && d[1] == 0x0A)) return "JPEG XL";
  if (has(4, "ftyp")) return "HEIF/AVIF (ISO media)";
  return nullptr;
}

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

// ---------------------------------------------------------------------------------------------
// JPEG (both directions)

constexpr int kMaxJpegScans = 1000;  // progressive-scan bound: a cheap defence against scan bombs

struct JpegErrorState {
  jpeg_error_mgr pub;  // must be first: libjpeg hands us &pub
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64] = {};
  int code = 0;
  bool scan_limit = false;
  bool out_of_memory = false;
  char warnings[512] = {};
};

bool is_corruption_warning(int code) {
  switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_TOO_MUCH_DATA:
      return true;
    default:
      return false;
  }
}

void jpeg_error_exit_cb(j_common_ptr cinfo) {
  auto* st = reinterpret_cast<JpegErrorState*>(cinfo->err);
  st->code = cinfo->err->msg_code;
  (*cinfo->err->format_message)(cinfo, st->message);
  std::longjmp(st->jump, 1);
}

void jpeg_emit_message_cb(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  auto* st = reinterpret_cast<JpegErrorState*>(cinfo->err);
  cinfo->err->num_warnings++;
  char text[JMSG_LENGTH_MAX] = {};
  (*cinfo->err->format_message)(cinfo, text);
  if (is_corruption_warning(cinfo->err->msg_code)) {
    st->code = cinfo->err->msg_code;
    std::snprintf(st->message, sizeof st->message, "%s", text);
    std::longjmp(st->jump, 1);
  }
  append_message(st->warnings, sizeof st->warnings, text);
}

void jpeg_output_message_cb(j_common_ptr) {}  // never print

void jpeg_init_error_state(JpegErrorState& st) {
  jpeg_std_error(&st.pub);
  st.pub.error_exit = jpeg_error_exit_cb;
  st.pub.emit_message = jpeg_emit_message_cb;
  st.pub.output_message = jpeg_output_message_cb;
}

void jpeg_progress_cb(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxJpegScans) {
    auto* st = reinterpret_cast<JpegErrorState*>(cinfo->err);
    st->scan_limit = true;
    std::snprintf(st->message, sizeof st->message, "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(st->jump, 1);
  }
}

struct JpegHeader {
  JDIMENSION width = 0, height = 0;
  int components = 0;
  J_COLOR_SPACE color = JCS_UNKNOWN;
  bool too_large = false;
  bool unsupported_color = false;
  bool bad_layout = false;
  std::uint64_t max_pixels = 0;  // in: the caller's limit
};

bool jpeg_decode_impl(jpeg_decompress_struct& cinfo, JpegErrorState& err, jpeg_progress_mgr& progress,
                      const std::uint8_t* data, std::size_t size, JpegHeader& h, Image& out) {
  if (setjmp(err.jump)) return false;
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  h.width = cinfo.image_width;
  h.height = cinfo.image_height;
  h.components = cinfo.num_components;
  h.color = cinfo.jpeg_color_space;
  if (!within_read_limits(h.width, h.height, h.max_pixels)) {
    h.too_large = true;
    return true;
  }
  if (!(h.color == JCS_GRAYSCALE && h.components == 1) && !(h.color == JCS_YCbCr && h.components == 3) &&
      !(h.color == JCS_RGB && h.components == 3)) {
    h.unsupported_color = true;
    return true;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != 3 || cinfo.output_width != h.width || cinfo.output_height != h.height) {
    h.bad_layout = true;
    return true;
  }
  const std::size_t row = static_cast<std::size_t>(h.width) * 3;
  out.pixels.resize(row * h.height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rowp = out.pixels.data() + static_cast<std::size_t>(cinfo.output_scanline) * row;
    jpeg_read_scanlines(&cinfo, &rowp, 1);
  }
  jpeg_finish_decompress(&cinfo);  // reads on to EOI, so truncation after the last scan is caught
  return true;
}

// Destination manager into a MallocBuffer (libjpeg's jpeg_mem_dest leaves an ambiguous pointer to
// free when an error interrupts it, so we keep ownership ourselves).
struct JpegDest {
  jpeg_destination_mgr pub;  // first
  MallocBuffer buf;
};

void jpeg_dest_init(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDest*>(cinfo->dest);
  if (!d->buf.grow_to(65536)) {
    auto* st = reinterpret_cast<JpegErrorState*>(cinfo->err);
    st->out_of_memory = true;
    std::snprintf(st->message, sizeof st->message, "out of memory");
    std::longjmp(st->jump, 1);
  }
  d->buf.size = 0;
  d->pub.next_output_byte = d->buf.data;
  d->pub.free_in_buffer = d->buf.capacity;
}

boolean jpeg_dest_empty(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDest*>(cinfo->dest);
  const std::size_t used = d->buf.capacity;  // the whole buffer is full when this is called
  if (!d->buf.grow_to(d->buf.capacity * 2)) {
    auto* st = reinterpret_cast<JpegErrorState*>(cinfo->err);
    st->out_of_memory = true;
    std::snprintf(st->message, sizeof st->message, "out of memory");
    std::longjmp(st->jump, 1);
  }
  d->buf.size = used;
  d->pub.next_output_byte = d->buf.data + used;
  d->pub.free_in_buffer = d->buf.capacity - used;
  return TRUE;
}

void jpeg_dest_term(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDest*>(cinfo->dest);
  d->buf.size = d->buf.capacity - d->pub.free_in_buffer;
}

bool jpeg_encode_impl(jpeg_compress_struct& cinfo, JpegErrorState& err, JpegDest& dest, const Image& img,
                      int quality, bool subsample_420) {
  if (setjmp(err.jump)) return false;
  jpeg_create_compress(&cinfo);
  cinfo.dest = &dest.pub;
  cinfo.image_width = static_cast<JDIMENSION>(img.width);
  cinfo.image_height = static_cast<JDIMENSION>(img.height);
  cinfo.input_components = img.channels;
  cinfo.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.optimize_coding = TRUE;
  cinfo.dct_method = JDCT_ISLOW;
  if (img.channels == 3) {
    cinfo.comp_info[0].h_samp_factor = cinfo.comp_info[0].v_samp_factor = subsample_420 ? 2 : 1;
    for (int c = 1; c < 3; ++c) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  const std::size_t row = static_cast<std::size_t>(img.width) * img.channels;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW rowp = const_cast<JSAMPROW>(img.pixels.data() + cinfo.next_scanline * row);
    jpeg_write_scanlines(&cinfo, &rowp, 1);
  }
  jpeg_finish_compress(&cinfo);
  return true;
}

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

std::vector<std::uint8_t> encode_jpeg_named(const Image& image, int quality, bool subsample_420,
                                            const std::string& name) {
  validate_image(image, name);
  if (image.channels != 1 && image.channels != 3) {
    throw Error(ErrorCode::kInvalidArgument,
                name + ": JPEG stores 1 or 3 channels, the image has " + std::to_string(image.channels) +
                    " (JPEG has no alpha; convert with to_rgb first)");
  }
  if (quality < 1 || quality > 100) {
    throw Error(ErrorCode::kInvalidArgument,
                name + ": JPEG quality " + std::to_string(quality) + " is outside 1..100");
  }
  JpegErrorState err;
  jpeg_init_error_state(err);
  jpeg_compress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = &err.pub;
  JpegDest dest;
  std::memset(&dest.pub, 0, sizeof dest.pub);
  dest.pub.init_destination = jpeg_dest_init;
  dest.pub.empty_output_buffer = jpeg_dest_empty;
  dest.pub.term_destination = jpeg_dest_term;
  const bool ok = jpeg_encode_impl(cinfo, err, dest, image, quality, subsample_420);
  jpeg_destroy_compress(&cinfo);
  if (!ok) {
    if (err.out_of_memory) throw std::bad_alloc();
    throw Error(ErrorCode::kInternal, name + ": JPEG encoding failed (libjpeg: " + err.message + ")");
  }
  return dest.buf.to_vector();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

ImageFormat sniff_format(const std::uint8_t* data, std::size_t size) {
  if (starts_with(data, size, kPngSig, sizeof kPngSig)) return ImageFormat::kPng;
  if (starts_with(data, size, kJpegSig, sizeof kJpegSig)) return ImageFormat::kJpeg;
  return ImageFormat::kNone;
}

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

Image decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name, std::uint64_t max_pixels) {
  if (!starts_with(data, size, kJpegSig, sizeof kJpegSig)) {
    if (size > 0 && proper_prefix_of(data, size, kJpegSig, sizeof kJpegSig))
      throw Error(ErrorCode::kCorrupt, name + ": truncated JPEG data (" + std::to_string(size) + " bytes)");
    throw Error(ErrorCode::kCorrupt, name + ": not JPEG data (no SOI marker)");
  }
  if (size > 0xFFFFFFFFu) throw Error(ErrorCode::kLimit, name + ": JPEG data larger than 4 GiB");
  JpegErrorState err;
  jpeg_init_error_state(err);
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = &err.pub;
  jpeg_progress_mgr progress;
  std::memset(&progress, 0, sizeof progress);
  progress.progress_monitor = jpeg_progress_cb;
  JpegHeader h;
  h.max_pixels = max_pixels;
  Image out;
  const bool ok = jpeg_decode_impl(cinfo, err, progress, data, size, h, out);
  jpeg_destroy_decompress(&cinfo);
  if (!ok) {
    const std::string detail = std::string(" (libjpeg: ") + err.message + ")";
    if (err.scan_limit) throw Error(ErrorCode::kLimit, name + ": JPEG has " + err.message);
    if (err.out_of_memory) throw std::bad_alloc();
    switch (err.code) {
      case JWRN_JPEG_EOF:
        throw Error(ErrorCode::kCorrupt, name + ": truncated JPEG data" + detail);
      case JERR_BAD_PRECISION:
      case JERR_SOF_UNSUPPORTED:
      case JERR_CONVERSION_NOTIMPL:
      case JERR_NOT_COMPILED:
        throw Error(ErrorCode::kUnsupported, name + ": unsupported JPEG variant" + detail);
      case JERR_OUT_OF_MEMORY:
        throw std::bad_alloc();
      default:
        throw Error(ErrorCode::kCorrupt, name + ": corrupt JPEG data" + detail);
    }
  }
  if (h.too_large) throw_read_limit(name, h.width, h.height, max_pixels);
  if (h.unsupported_color) {
    throw Error(ErrorCode::kUnsupported, name + ": JPEG colour space with " + std::to_string(h.components) +
                                             " components (CMYK/YCCK?) is not supported; gray, YCbCr and "
                                             "RGB are");
  }
  if (h.bad_layout) throw Error(ErrorCode::kInternal, name + ": unexpected libjpeg output layout");
  out.width = static_cast<int>(h.width);
  out.height = static_cast<int>(h.height);
  out.channels = 3;
  out.source.format = ImageFormat::kJpeg;
  out.source.channels = h.components;
  out.source.bit_depth = 8;
  out.source.warnings = err.warnings;
  return out;
}

Image read_image_from_memory(const std::uint8_t* data, std::size_t size, const std::string& name, std::uint64_t max_pixels) {
  if (size == 0) throw Error(ErrorCode::kCorrupt, name + ": empty file");
  switch (sniff_format(data, size)) {
    case ImageFormat::kPng: return decode_png(data, size, name, max_pixels);
    case ImageFormat::kJpeg: return decode_jpeg(data, size, name, max_pixels);
    case ImageFormat::kNone: break;
  }
  if (proper_prefix_of(data, size, kPngSig, sizeof kPngSig))
    throw Error(ErrorCode::kCorrupt, name + ": truncated PNG data (" + std::to_string(size) + " bytes)");
  if (proper_prefix_of(data, size, kJpegSig, sizeof kJpegSig))
    throw Error(ErrorCode::kCorrupt, name + ": truncated JPEG data (" + std::to_string(size) + " bytes)");
  if (const char* other = other_format_name(data, size)) {
    throw Error(ErrorCode::kUnsupported,
                name + ": " + other + " images are not supported (only PNG and JPEG are read)");
  }
  throw Error(ErrorCode::kUnsupported, name + ": unrecognised image format (not PNG or JPEG)");
}

Image read_image(const std::string& path, std::uint64_t max_pixels) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  return read_image_from_memory(bytes.data(), bytes.size(), path, max_pixels);
}

std::vector<std::uint8_t> encode_png(const Image& image) { return encode_png_named(image, "encode_png"); }

void write_png(const Image& image, const std::string& path) {
  const std::vector<std::uint8_t> bytes = encode_png_named(image, path);
  write_file_atomic(path, bytes.data(), bytes.size());
}

std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality, bool subsample_420) {
  return encode_jpeg_named(image, quality, subsample_420, "encode_jpeg");
}

void write_jpeg(const Image& image, const std::string& path, int quality, bool subsample_420) {
  const std::vector<std::uint8_t> bytes = encode_jpeg_named(image, quality, subsample_420, path);
  write_file_atomic(path, bytes.data(), bytes.size());
}

std::string pnm_header(int width, int height, int channels) {
  if (channels != 1 && channels != 3)
    throw Error(ErrorCode::kInvalidArgument, "PNM holds 1 (PGM) or 3 (PPM) channels, not " + std::to_string(channels));
  return std::string(channels == 1 ? "P5\n" : "P6\n") + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
}

std::vector<std::uint8_t> encode_pnm(const Image& image) {
  validate_image(image, "encode_pnm");
  const std::string header = pnm_header(image.width, image.height, image.channels);
  std::vector<std::uint8_t> out(header.begin(), header.end());
  out.insert(out.end(), image.pixels.begin(), image.pixels.end());
  return out;
}

void write_pnm(const Image& image, const std::string& path) {
  validate_image(image, path);
  const std::vector<std::uint8_t> bytes = encode_pnm(image);
  write_file_atomic(path, bytes.data(), bytes.size());
}

// Files go through format/'s implementation (one place for temp-file-and-rename); its errors
// become msinr::Error with the same meaning.
std::vector<std::uint8_t> read_file(const std::string& path, std::size_t max_bytes) {
  try {
    return format::read_file(path, max_bytes);
  } catch (const format::FormatError& e) {
    rethrow_format_error(e, "");
  }
}

void write_file_atomic(const std::string& path, const std::uint8_t* data, std::size_t size) {
  try {
    format::write_file_atomic(path, std::span<const std::uint8_t>(data, size));
  } catch (const format::FormatError& e) {
    rethrow_format_error(e, "");
  }
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
    } catch (const format::FormatError& e) {
      delete state_;
      state_ = nullptr;
      rethrow_format_error(e, "");
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
    try {
      s.sink.file->commit();
    } catch (const format::FormatError& e) {
      rethrow_format_error(e, "");
    }
  } else if (std::fflush(s.sink.stream) != 0) {
    std::snprintf(s.sink.io_error, sizeof s.sink.io_error, "%s", std::strerror(errno));
    s.fail("writing failed");
  }
  s.done = true;
}

}  // namespace msinr::codec
