// msinr._msinr: the Python binding (nanobind) over the public C++ API (msinr/msinr.hpp) only.
// msinr/__init__.py wraps it with keyword arguments, docstrings and the exception classes.
//
// Rules kept here:
//  - The GIL is released while encoding and decoding; the progress callback re-acquires it.
//  - A Python exception raised in the progress callback cancels the encode and is re-raised as is.
//  - Every msinr::Error becomes an instance of the Python class registered for its code
//    (_set_error_classes), so nothing crosses into Python as a crash or a bare RuntimeError.
//  - Images come in as any uint8 array (HxW, HxWxC with C in 1..4), any strides; decodes return
//    C-contiguous HxWx3 numpy arrays that own their pixels (no copy).
// Extending: a new EncodeOptions / EncodeResult field is one def_rw / def_ro line below;
// msinr.encode() passes unknown keyword arguments through to EncodeOptions by name.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "msinr/msinr.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// code (int) -> Python exception class; set once by msinr/__init__.py. Never released: it must
// outlive every module object, and exceptions may be translated during interpreter shutdown.
PyObject* g_error_classes = nullptr;

void translate_error(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const msinr::Error& e) {
    const int code = static_cast<int>(e.code());
    if (g_error_classes != nullptr) {
      PyObject* cls = PyDict_GetItemWithError(g_error_classes, nb::int_(code).ptr());  // borrowed
      if (cls != nullptr) {
        PyObject* exc = PyObject_CallFunction(cls, "si", e.what(), code);
        if (exc != nullptr) {
          PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
          Py_DECREF(exc);
          return;
        }
      }
      if (PyErr_Occurred()) return;  // the class itself failed: report that
    }
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
}

// A read-only, C-contiguous view of any bytes-like object (bytes, bytearray, memoryview, mmap,
// numpy uint8 array), held for the duration of a call.
class Bytes {
 public:
  explicit Bytes(nb::handle obj) {
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      throw msinr::Error(msinr::ErrorCode::kInvalidArgument,
                         std::string("expected a bytes-like object (bytes, bytearray, memoryview), got ") +
                             Py_TYPE(obj.ptr())->tp_name);
    }
  }
  ~Bytes() { PyBuffer_Release(&view_); }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  const std::uint8_t* data() const { return static_cast<const std::uint8_t*>(view_.buf); }
  std::size_t size() const { return static_cast<std::size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

using AnyArray = nb::ndarray<nb::ro, nb::device::cpu>;

// uint8 HxW / HxWxC (C = 1..4) with any strides (negative too) -> msinr::Image (interleaved copy).
msinr::Image to_image(const AnyArray& a, const char* what) {
  const auto bad = [what](const std::string& why) {
    return msinr::Error(msinr::ErrorCode::kInvalidArgument, std::string(what) + ": " + why);
  };
  if (a.dtype() != nb::dtype<std::uint8_t>())
    throw bad("expected a uint8 array (convert with .astype(numpy.uint8) or Pillow's .convert('RGB'))");
  if (a.ndim() != 2 && a.ndim() != 3)
    throw bad("expected an HxW (grey) or HxWxC array, got " + std::to_string(a.ndim()) + " dimensions");
  const std::size_t h = a.shape(0), w = a.shape(1), c = a.ndim() == 3 ? a.shape(2) : 1;
  if (c < 1 || c > 4) throw bad("expected 1 to 4 channels (grey, grey+alpha, RGB, RGBA), got " + std::to_string(c));
  if (h == 0 || w == 0) throw bad("empty image (" + std::to_string(h) + "x" + std::to_string(w) + ")");
  // The library's limits, checked before the copy (a broadcast view may be huge yet take no memory).
  if (h > 32768 || w > 32768 || h * w > (std::size_t{1} << 28))
    throw msinr::Error(msinr::ErrorCode::kLimit, std::string(what) + ": " + std::to_string(w) + "x" +
                                                     std::to_string(h) + " is beyond 32768 per side or 2^28 pixels");
  const std::int64_t sy = a.stride(0), sx = a.stride(1), sc = a.ndim() == 3 ? a.stride(2) : 0;  // in elements (= bytes)
  const std::uint8_t* base = static_cast<const std::uint8_t*>(a.data());

  msinr::Image img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.channels = static_cast<int>(c);
  img.pixels.resize(h * w * c);
  std::uint8_t* out = img.pixels.data();
  const bool rows_contiguous = sx == static_cast<std::int64_t>(c) && (c == 1 || sc == 1);
  for (std::size_t y = 0; y < h; ++y) {
    const std::uint8_t* row = base + static_cast<std::int64_t>(y) * sy;
    if (rows_contiguous) {
      std::memcpy(out, row, w * c);
      out += w * c;
      continue;
    }
    for (std::size_t x = 0; x < w; ++x) {
      const std::uint8_t* px = row + static_cast<std::int64_t>(x) * sx;
      for (std::size_t k = 0; k < c; ++k) *out++ = px[static_cast<std::int64_t>(k) * sc];
    }
  }
  return img;
}

using RgbArray = nb::ndarray<nb::numpy, std::uint8_t, nb::shape<-1, -1, 3>, nb::c_contig>;

// msinr::Image (RGB) -> numpy HxWx3 that owns the pixel vector.
RgbArray to_array(msinr::Image&& img) {
  auto* pixels = new std::vector<std::uint8_t>(std::move(img.pixels));
  nb::capsule owner(pixels, [](void* p) noexcept { delete static_cast<std::vector<std::uint8_t>*>(p); });
  return RgbArray(pixels->data(), {static_cast<std::size_t>(img.height), static_cast<std::size_t>(img.width), 3},
                  owner);
}

msinr::Model model_or_builtin(const msinr::Model* model) { return model ? *model : msinr::Model::builtin(); }

// The progress callback as the library calls it (worker threads, one call at a time, GIL not held).
// A Python exception is kept and cancels the encode; encode_image re-raises it.
struct Progress {
  nb::object callback;
  std::exception_ptr error;
  std::mutex mutex;  // the library serialises calls, but `error` is read by the calling thread too

  bool operator()(std::size_t done, std::size_t total) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (error) return false;
    }
    nb::gil_scoped_acquire gil;
    try {
      nb::object r = callback(done, total);
      if (r.is_none()) return true;  // no return statement: go on
      const int truth = PyObject_IsTrue(r.ptr());  // False / 0 cancels
      if (truth < 0) throw nb::python_error();
      return truth != 0;
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      error = std::current_exception();
      return false;
    }
  }
};

msinr::EncodeResult encode_image(const AnyArray& array, msinr::EncodeOptions options, const msinr::Model* model,
                                 nb::object progress) {
  const msinr::Image image = to_image(array, "encode image");
  const msinr::Model m = model_or_builtin(model);
  std::shared_ptr<Progress> p;
  if (!progress.is_none()) {
    if (!PyCallable_Check(progress.ptr()))
      throw msinr::Error(msinr::ErrorCode::kInvalidArgument, "progress must be callable as progress(done, total)");
    p = std::make_shared<Progress>();
    p->callback = progress;
    options.progress = [p](std::size_t done, std::size_t total) { return (*p)(done, total); };
  }
  std::exception_ptr failure;
  msinr::EncodeResult result;
  {
    nb::gil_scoped_release release;
    try {
      result = msinr::Encoder(m, std::move(options)).encode(image);
    } catch (...) {
      failure = std::current_exception();
    }
  }
  // The callback's own exception wins over the kCancelled it caused.
  if (p && p->error) std::rethrow_exception(p->error);
  if (failure) std::rethrow_exception(failure);
  return result;
}

RgbArray decode_bytes(nb::handle data, const msinr::Model* model, int width, int height, double scale, int threads) {
  const Bytes bytes(data);
  const msinr::Model m = model_or_builtin(model);
  msinr::DecodeOptions o;
  o.width = width;
  o.height = height;
  o.scale = scale;
  o.threads = threads;
  msinr::Image img;
  {
    nb::gil_scoped_release release;
    img = msinr::Decoder(m).decode(bytes.data(), bytes.size(), o);
  }
  return to_array(std::move(img));
}

nb::dict read_info(nb::handle data) {
  const Bytes bytes(data);
  const msinr::Info i = msinr::read_info(bytes.data(), bytes.size());
  nb::dict d;
  d["width"] = i.width;
  d["height"] = i.height;
  d["level"] = i.level;
  d["tile_size"] = i.tile_size;
  d["steps"] = i.steps;
  d["model_id"] = i.model_id;
  d["file_bytes"] = i.file_bytes;
  d["bpp"] = i.bpp;
  d["tiles"] = i.tiles;
  d["tiles_across"] = i.tiles_across;
  d["tiles_down"] = i.tiles_down;
  d["merged_edges"] = i.merged_edges;
  d["values_per_tile"] = i.values_per_tile;
  d["payload"] = i.payload;
  return d;
}

}  // namespace

NB_MODULE(_msinr, m) {
  m.doc() = "msinr's C++ API (msinr/msinr.hpp) bound with nanobind; use the msinr package, not this module.";
  nb::register_exception_translator(translate_error);

  m.def("version", [] { return std::string(msinr::version()); }, "The C++ library's version string.");
  m.def(
      "_set_error_classes",
      [](nb::dict classes) {
        Py_XDECREF(g_error_classes);
        g_error_classes = classes.ptr();
        Py_INCREF(g_error_classes);
      },
      "classes"_a, "Registers {int(ErrorCode): exception class} (msinr/__init__.py does this once).");

  nb::enum_<msinr::ErrorCode>(m, "ErrorCode", nb::is_arithmetic(), "What went wrong (msinr::ErrorCode).")
      .value("INVALID_ARGUMENT", msinr::ErrorCode::kInvalidArgument, "a caller passed something out of contract")
      .value("IO", msinr::ErrorCode::kIo, "a file could not be opened, read or written")
      .value("CORRUPT", msinr::ErrorCode::kCorrupt, "bytes that claim a format but break its rules")
      .value("UNSUPPORTED", msinr::ErrorCode::kUnsupported, "a valid-looking input this build does not handle")
      .value("LIMIT", msinr::ErrorCode::kLimit, "dimensions or sizes beyond the documented limits")
      .value("MODEL_MISMATCH", msinr::ErrorCode::kModelMismatch, "a file made with another model")
      .value("DEVICE", msinr::ErrorCode::kDevice, "the requested compute device is missing or failed")
      .value("CANCELLED", msinr::ErrorCode::kCancelled, "the progress callback asked to stop")
      .value("INTERNAL", msinr::ErrorCode::kInternal, "a broken invariant: a bug in msinr");

  nb::enum_<msinr::Device>(m, "Device", "Where encode fits the networks.")
      .value("AUTO", msinr::Device::kAuto)
      .value("CPU", msinr::Device::kCpu)
      .value("CUDA", msinr::Device::kCuda)
      .value("REFERENCE", msinr::Device::kReference, "the scalar reference engine: slow, the tests' oracle");

  nb::enum_<msinr::LrSchedule>(m, "LrSchedule", "How the Adam rate moves over a fit's steps.")
      .value("CONSTANT", msinr::LrSchedule::kConstant, "the rate at every step")
      .value("COSINE", msinr::LrSchedule::kCosine, "full rate first, decaying to near 0 at the last step");
  nb::enum_<msinr::TileLevels>(m, "TileLevels", "Which level each tile is fitted from, at a fixed level.")
      .value("UNIFORM", msinr::TileLevels::kUniform, "every tile at the level (container version 2)")
      .value("ADAPTIVE", msinr::TileLevels::kAdaptive,
             "each tile at the level or a neighbour, for the most quality at the same bits (version 3; 1.4-1.9x the time)")
      .value("AUTO", msinr::TileLevels::kAuto,
             "the default: ADAPTIVE at a fixed level with the quantized payload, else UNIFORM");

  nb::class_<msinr::Model>(m, "Model",
                           "A trained model (architecture, tile size, sparsity levels). Immutable; share it "
                           "between threads.")
      .def(
          "__init__",
          [](msinr::Model* self, const std::filesystem::path& path) { new (self) msinr::Model(msinr::Model::load(path.string())); },
          "path"_a, "Loads a .msm model file (msinr.IoError, CorruptError, UnsupportedError, LimitError).")
      .def_static("builtin", &msinr::Model::builtin, "The model compiled into the library.")
      .def_static(
          "load", [](const std::filesystem::path& path) { return msinr::Model::load(path.string()); }, "path"_a,
          "Loads a .msm model file.")
      .def_static(
          "from_bytes",
          [](nb::handle data) {
            const Bytes b(data);
            return msinr::Model::from_memory(b.data(), b.size());
          },
          "data"_a, "A .msm file's bytes (copied).")
      .def_prop_ro("id", &msinr::Model::id, "Content hash (hex) that .msinr files cite.")
      .def_prop_ro("tile_size", &msinr::Model::tile_size, "Pixels per tile side.")
      .def_prop_ro("levels", &msinr::Model::levels, "Level indices (pruning rounds), densest first.")
      .def_prop_ro("default_level", &msinr::Model::default_level, "The level encode uses when none is asked for.")
      .def("__repr__", [](const msinr::Model& self) {
        return "msinr.Model(id='" + self.id().substr(0, 16) + "...', tile_size=" + std::to_string(self.tile_size()) +
               ", levels=" + std::to_string(self.levels().size()) +
               ", default_level=" + std::to_string(self.default_level()) + ")";
      });

  // One line per field; msinr.encode(**options) sets them by name.
  nb::class_<msinr::EncodeOptions>(m, "EncodeOptions", "msinr::EncodeOptions (the progress callback is separate).")
      .def(nb::init<>())
      .def_rw("level", &msinr::EncodeOptions::level, "-1: by target or the model's default")
      .def_rw("target_bpp", &msinr::EncodeOptions::target_bpp, "> 0: best PSNR at or under this many bits per pixel")
      .def_rw("target_psnr", &msinr::EncodeOptions::target_psnr, "> 0: smallest file reaching this PSNR")
      .def_rw("bits", &msinr::EncodeOptions::bits, "payload: 0 quantized (default), 16 fp16")
      .def_rw("quant_loss_db", &msinr::EncodeOptions::quant_loss_db, "quantized: largest PSNR loss against the fit")
      .def_rw("steps", &msinr::EncodeOptions::steps, "Adam steps per tile (>= 0; 0: the level's init, unfitted)")
      .def_rw("lr", &msinr::EncodeOptions::lr, "Adam learning rate; 0: the model's rate for the level")
      .def_rw("lr_schedule", &msinr::EncodeOptions::lr_schedule, "LrSchedule.CONSTANT (default) or COSINE")
      .def_rw("tile_levels", &msinr::EncodeOptions::tile_levels, "TileLevels.AUTO (default), UNIFORM or ADAPTIVE")
      .def_rw("merge_edges", &msinr::EncodeOptions::merge_edges,
              "True (default): a thin last row or column of tiles joins the tile before it; False: the grid")
      .def_rw("pixel_fraction", &msinr::EncodeOptions::pixel_fraction,
              "each Adam step on a fresh random subset of this fraction of a tile's pixels, (0, 1]")
      .def_rw("refit_steps", &msinr::EncodeOptions::refit_steps, "quantized: Adam steps of quantization-aware refit (0: none)")
      .def_rw("refit_lr", &msinr::EncodeOptions::refit_lr, "refit learning rate; 0: the fit's / 300")
      .def_rw("refit_pixel_fraction", &msinr::EncodeOptions::refit_pixel_fraction,
              "each refit step on a fresh random subset of this fraction of a tile's pixels, (0, 1]")
      .def_rw("threads", &msinr::EncodeOptions::threads, "worker threads; 0: all cores")
      .def_rw("device", &msinr::EncodeOptions::device, "Device.AUTO, CPU or CUDA");

  // One line per field.
  nb::class_<msinr::EncodeResult>(m, "EncodeResult", "What an encode made and how.")
      .def_prop_ro(
          "bytes",
          [](const msinr::EncodeResult& r) {
            return nb::bytes(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
          },
          "the complete .msinr file")
      .def_ro("level", &msinr::EncodeResult::level, "level used")
      .def_ro("bpp", &msinr::EncodeResult::bpp, "bits per pixel")
      .def_ro("seconds", &msinr::EncodeResult::seconds, "fitting time")
      .def_ro("lr", &msinr::EncodeResult::lr, "the Adam learning rate used")
      .def_ro("device", &msinr::EncodeResult::device, "what did the fitting (cpu, cuda)")
      .def_ro("psnr", &msinr::EncodeResult::psnr, "8-bit PSNR of the decoded image (0: not measured)")
      .def_ro("target_met", &msinr::EncodeResult::target_met, "False: the bpp / psnr target could not be reached")
      .def_ro("fit_psnr", &msinr::EncodeResult::fit_psnr, "8-bit PSNR of the float fit, before fp16 or quantization")
      .def_ro("payload", &msinr::EncodeResult::payload, "'quantized' or 'fp16'")
      .def_ro("tiles", &msinr::EncodeResult::tiles, "tiles the image was cut into")
      .def_ro("values_per_tile", &msinr::EncodeResult::values_per_tile, "values each tile stores")
      .def("__repr__", [](const msinr::EncodeResult& r) {
        return "msinr.EncodeResult(" + std::to_string(r.bytes.size()) + " bytes, level=" + std::to_string(r.level) +
               ", bpp=" + std::to_string(r.bpp) + ", seconds=" + std::to_string(r.seconds) + ", device='" + r.device +
               "')";
      });

  m.def(
      "check_encode_options",
      [](const msinr::EncodeOptions& options, const msinr::Model* model) {
        msinr::Encoder(model_or_builtin(model), options);  // checks the options, nothing else
      },
      "options"_a, "model"_a.none(), "Raises InvalidArgumentError for options out of range.");
  m.def("encode", &encode_image, "image"_a, "options"_a, "model"_a.none(), "progress"_a.none(),
        "Encodes a uint8 array; releases the GIL; progress(done, total) is called with it re-acquired.");
  m.def("decode", &decode_bytes, "data"_a, "model"_a.none(), "width"_a, "height"_a, "scale"_a, "threads"_a,
        "Decodes .msinr bytes to an HxWx3 uint8 array; releases the GIL.");
  m.def("read_info", &read_info, "data"_a, "What a .msinr file's header says (no model needed).");
  m.def(
      "psnr",
      [](const AnyArray& a, const AnyArray& b) { return msinr::psnr(to_image(a, "psnr a"), to_image(b, "psnr b")); },
      "a"_a, "b"_a, "PSNR (dB) of b against a over 8-bit RGB; inf when identical.");
}
