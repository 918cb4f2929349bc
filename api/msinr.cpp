// The public C++ API (msinr/msinr.hpp) over the internal codec: conversions and argument checks only.
#include "msinr/msinr.hpp"

#include <span>

#include "codec/codec.hpp"
#include "codec/default_model.hpp"
#include "imageio/image_io.hpp"
#include "codec/metrics.hpp"
#include "codec/model.hpp"
#include "msinr/mask.hpp"

namespace msinr {

struct Model::Impl {
  codec::Model model;  // owned copy, or a view of the built-in one
  const codec::Model* ptr = nullptr;
};

namespace {

codec::Image to_codec(const Image& image, const char* what) {
  codec::Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = image.channels;
  out.pixels = image.pixels;  // validate_image checks the size
  codec::validate_image(out, what);
  return out;
}

Image from_codec(codec::Image&& image) {
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = image.channels;
  out.pixels = std::move(image.pixels);
  return out;
}

void check_bytes(const std::uint8_t* data, std::size_t size) {
  if (data == nullptr && size != 0) throw Error(ErrorCode::kInvalidArgument, "null data with a non-zero size");
}

std::span<const std::uint8_t> span_of(const std::uint8_t* data, std::size_t size) {
  check_bytes(data, size);
  return size == 0 ? std::span<const std::uint8_t>() : std::span<const std::uint8_t>(data, size);
}

codec::DecodeOptions to_codec(const DecodeOptions& options) {
  if (options.width < 0 || options.height < 0 || !(options.scale >= 0.0) || options.threads < 0)
    throw Error(ErrorCode::kInvalidArgument, "decode options: sizes, scale and threads must be >= 0");
  codec::DecodeOptions o;
  o.width = options.width;
  o.height = options.height;
  o.scale = options.scale;
  o.threads = options.threads;
  o.max_pixels = options.max_pixels;
  return o;
}

const char* payload_name(format::Precision p) { return p == format::Precision::kQuantized ? "quantized" : "fp16"; }

}  // namespace

const char* version() noexcept { return MSINR_VERSION_STRING; }

Image read_image(const std::string& path) { return from_codec(codec::read_image(path)); }
void write_png(const Image& image, const std::string& path) { codec::write_png(to_codec(image, "write_png image"), path); }
std::vector<std::uint8_t> read_file(const std::string& path) { return codec::read_file(path); }
void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  codec::write_file_atomic(path, bytes.data(), bytes.size());
}
double psnr(const Image& a, const Image& b) {
  const codec::Image ca = codec::to_rgb(to_codec(a, "psnr image a"));
  const codec::Image cb = codec::to_rgb(to_codec(b, "psnr image b"));
  if (ca.width != cb.width || ca.height != cb.height)
    throw Error(ErrorCode::kInvalidArgument, "psnr: images differ in size");
  return codec::psnr_8bit(ca, cb);
}
double ssim(const Image& a, const Image& b) {
  const codec::Image ca = codec::to_rgb(to_codec(a, "ssim image a"));
  const codec::Image cb = codec::to_rgb(to_codec(b, "ssim image b"));
  if (ca.width != cb.width || ca.height != cb.height)
    throw Error(ErrorCode::kInvalidArgument, "ssim: images differ in size");
  return codec::ssim(ca, cb);
}

Model::Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {
  if (!impl_) throw Error(ErrorCode::kInvalidArgument, "null model");
}

Model Model::builtin() {
  auto impl = std::make_shared<Impl>();
  impl->ptr = &codec::default_model();  // shared, parsed once
  return Model(std::move(impl));
}
Model Model::load(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->model = codec::load_model(path);
  impl->ptr = &impl->model;
  return Model(std::move(impl));
}
Model Model::from_memory(const std::uint8_t* data, std::size_t size) { return from_memory(data, size, "<memory>"); }
Model Model::from_memory(const std::uint8_t* data, std::size_t size, const std::string& name) {
  check_bytes(data, size);
  auto impl = std::make_shared<Impl>();
  impl->model = codec::load_model_from_memory(data, size, name);
  impl->ptr = &impl->model;
  return Model(std::move(impl));
}
std::string Model::id() const { return impl_->ptr->id_hex(); }
int Model::tile_size() const { return impl_->ptr->tile_size; }
std::vector<int> Model::levels() const {
  std::vector<int> out;
  for (const auto& l : impl_->ptr->levels) out.push_back(l.index);
  return out;
}
int Model::default_level() const { return impl_->ptr->default_level(); }
int Model::level_for_quality(int quality) const { return impl_->ptr->level_for_quality(quality); }

ModelInfo Model::info() const {
  const codec::Model& m = *impl_->ptr;
  const ParamLayout layout(m.arch);
  ModelInfo out;
  out.id = m.id_hex();
  out.architecture = m.arch.describe();
  out.network = m.arch.network == Network::kFourier ? "ffn" : "siren";
  out.width = m.arch.hidden_width;
  out.layers = m.arch.hidden_layers;
  out.w0 = m.arch.w0;
  out.w0_hidden = m.arch.hidden_w0();
  out.tile_size = m.tile_size;
  out.default_level = m.default_level();
  out.frozen_biases = m.frozen_biases;
  for (std::size_t i = 0; i < m.levels.size(); ++i) {
    ModelInfo::Level l;
    l.index = m.levels[i].index;
    l.weights = kept_weights(layout, m.levels[i].mask);
    l.density = weight_density(layout, m.levels[i].mask);
    l.values_per_tile = codec::values_per_tile(m, m.levels[i]);
    l.val_psnr = i < m.val_psnr.size() ? m.val_psnr[i] : 0.0f;
    l.lr = m.fit_lr(l.index);
    out.levels.push_back(l);
  }
  out.data = m.provenance.data;
  out.recipe = m.provenance.recipe;
  out.wall_seconds = m.provenance.wall_seconds;
  return out;
}

Encoder::Encoder(Model model, EncodeOptions options) : model_(std::move(model)), options_(std::move(options)) {
  codec::check_encode_options(options_);
}

EncodeResult Encoder::encode(const Image& image) const {
  const codec::Image in = to_codec(image, "encode image");
  codec::EncodeOptions o;  // the public settings as they are; the codec-only ones keep their defaults
  static_cast<EncodeOptions&>(o) = options_;
  codec::EncodeResult r = codec::encode_image(in, *model_.impl().ptr, o);
  EncodeResult out;
  out.level = r.level;
  out.seconds = r.seconds;
  out.lr = r.lr;
  out.device = r.device;
  out.psnr = r.psnr;
  out.target_met = r.target_met;
  out.fit_psnr = r.fit_psnr;
  out.payload = std::move(r.payload);
  out.tiles = r.tiles;
  out.values_per_tile = r.values_per_tile;
  out.bpp = static_cast<double>(r.bytes.size()) * 8.0 / (static_cast<double>(in.width) * in.height);
  out.bytes = std::move(r.bytes);
  return out;
}

Decoder::Decoder(Model model) : model_(std::move(model)) {}

Image Decoder::decode(const std::uint8_t* data, std::size_t size, const DecodeOptions& options) const {
  const auto bytes = span_of(data, size);
  return from_codec(codec::decode_image(bytes, "<memory>", *model_.impl().ptr, to_codec(options)));
}

void Decoder::decode_rows(const std::uint8_t* data, std::size_t size, const DecodeOptions& options,
                          const std::function<void(int y, const std::uint8_t* rgb)>& row,
                          const std::function<void(int width, int height)>& on_size, const std::string& name) const {
  const auto bytes = span_of(data, size);
  if (!row) throw Error(ErrorCode::kInvalidArgument, "decode_rows: no row callback");
  codec::decode_rows(bytes, name, *model_.impl().ptr, to_codec(options), row, on_size);
}

OutputSize output_size(int width, int height, const DecodeOptions& options) {
  if (width < 1 || height < 1) throw Error(ErrorCode::kInvalidArgument, "output_size: the image's sides must be >= 1");
  OutputSize out;
  codec::output_size(to_codec(options), width, height, out.width, out.height);
  return out;
}

std::vector<std::uint8_t> encode(const Image& image, const EncodeOptions& options) {
  return Encoder(Model::builtin(), options).encode(image).bytes;
}

Image decode(const std::uint8_t* data, std::size_t size, int width, int height) {
  DecodeOptions o;
  o.width = width;
  o.height = height;
  return Decoder(Model::builtin()).decode(data, size, o);
}

Info read_info(const std::uint8_t* data, std::size_t size) { return read_info(data, size, "<memory>"); }
Info read_info(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const codec::ContainerInfo ci = codec::read_info(span_of(data, size), name);
  const format::ContainerHeader& h = ci.header;
  Info out;
  out.width = static_cast<int>(h.width);
  out.height = static_cast<int>(h.height);
  out.level = static_cast<int>(h.level);
  out.tile_size = static_cast<int>(h.tile_size);
  out.steps = static_cast<int>(h.steps);
  out.model_id = format::model_id_hex(h.model_id);
  out.file_bytes = ci.file_bytes;
  out.bpp = ci.bpp;
  out.tiles = static_cast<int>(h.tile_count);
  out.merged_edges = h.merged_edges();
  out.tiles_across = static_cast<int>(h.merged_edges() ? h.tiles_across : format::grid_tiles_along(h.width, h.tile_size));
  out.tiles_down = static_cast<int>(h.merged_edges() ? h.tiles_down : format::grid_tiles_along(h.height, h.tile_size));
  out.values_per_tile = static_cast<int>(h.values_per_tile);
  out.payload = payload_name(h.precision);
  out.tile_levels.assign(h.tile_level_set.begin(), h.tile_level_set.end());
  return out;
}

}  // namespace msinr
