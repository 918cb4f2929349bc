// JPEG through libjpeg-turbo.
// libjpeg reports fatal errors through a callback that must not return; we longjmp back to the
// function that called setjmp. To keep that well defined in C++, each setjmp lives in a small
// "*_impl" function whose frame holds no object with a non-trivial destructor: everything it fills
// (vectors, buffers, messages) belongs to the caller, and the caller turns the outcome into a typed
// msinr::Error. C++ exceptions never cross libjpeg frames: callbacks only use malloc and fixed-size
// char buffers.
#include "imageio/jpeg.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>

#include "imageio/detail/common.hpp"
#include "imageio/image_io.hpp"
#include "msinr/error.hpp"

namespace msinr::codec {
using namespace detail;
namespace {

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

std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality, bool subsample_420) {
  return encode_jpeg_named(image, quality, subsample_420, "encode_jpeg");
}

void write_jpeg(const Image& image, const std::string& path, int quality, bool subsample_420) {
  const std::vector<std::uint8_t> bytes = encode_jpeg_named(image, quality, subsample_420, path);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace msinr::codec
