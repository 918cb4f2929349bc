// msinr encode / decode / info: the codec as people use it, in the manner of cjpeg and cwebp.
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/commands.hpp"
#include "cli/json.hpp"
#include "cli/setup.hpp"
#include "codec/codec.hpp"
#include "codec/default_model.hpp"
#include "codec/image_io.hpp"
#include "codec/metrics.hpp"
#include "format/file_io.hpp"
#include "format/model_file.hpp"
#include "msinr/error.hpp"

namespace msinr::cli {
namespace {

codec::Model model_for(const std::string& path) {
  return path.empty() ? codec::default_model() : codec::load_model(path);
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  try {
    return format::read_file(path, 1ull << 32);
  } catch (const format::FormatError& e) {
    codec::rethrow_format_error(e, "");
  }
}

// Level from a cjpeg-like quality: 100 the densest level, 0 the sparsest.
int level_for_quality(const codec::Model& model, int quality) {
  ParamLayout layout(model.arch);
  std::vector<std::pair<std::size_t, int>> by_size;
  for (const auto& l : model.levels) by_size.push_back({kept_weights(layout, l.mask), l.index});
  std::sort(by_size.rbegin(), by_size.rend());  // densest first
  const double pos = (100.0 - quality) / 100.0 * static_cast<double>(by_size.size() - 1);
  return by_size[static_cast<std::size_t>(std::lround(pos))].second;
}

struct EncodeArgs {
  std::string input, output, model;
  int level = -1, quality = -1;
  double bpp = 0.0, psnr = 0.0;
  int steps = 100;
  float lr = 0.0f;
  int bits = 0;
  double quant_loss = 0.1;
  EngineArgs engine;
  bool quiet = false, json = false;
};

int run_encode(const EncodeArgs& a) {
  if (a.output.empty()) throw Error(ErrorCode::kInvalidArgument, "no output file (give OUT or -o OUT)");
  const int choices = (a.level >= 0) + (a.quality >= 0) + (a.bpp > 0) + (a.psnr > 0);
  if (choices > 1) throw Error(ErrorCode::kInvalidArgument, "choose at most one of --level, -q, --bpp, --psnr");
  const std::filesystem::path parent = std::filesystem::path(a.output).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    throw Error(ErrorCode::kIo, a.output + ": folder " + parent.string() + " does not exist");
  const codec::Model model = model_for(a.model);
  const codec::Image image = codec::read_image(a.input);
  if (!a.quiet && image.source.had_alpha())
    std::fprintf(stderr, "msinr: note: %s has alpha; msinr stores colour only, alpha is dropped\n", a.input.c_str());
  codec::EncodeOptions o;
  o.level = a.quality >= 0 ? level_for_quality(model, a.quality) : a.level;
  o.target_bpp = a.bpp;
  o.target_psnr = a.psnr;
  o.steps = a.steps;
  o.lr = a.lr;
  o.bits = a.bits;
  o.quant_loss_db = a.quant_loss;
  o.device = codec::parse_device(a.engine.device);
  o.threads = a.engine.threads;
  const bool tty = !a.quiet && stderr_is_terminal();
  if (tty)
    o.progress = [](std::size_t done, std::size_t total) {
      std::fprintf(stderr, "\rencoding: tile %zu/%zu", done, total);
      return true;
    };
  const codec::EncodeResult r = codec::encode_image(image, model, o);
  if (tty) std::fprintf(stderr, "\n");
  format::write_file_atomic(a.output, r.bytes);
  // Quality is measured on what a decoder will really produce from these bytes.
  const codec::Image rgb = codec::to_rgb(image);
  const codec::Image back = codec::decode_image(r.bytes, a.output, model, {});
  const double psnr = codec::psnr_8bit(back, rgb);
  const double ssim = std::min(rgb.width, rgb.height) >= 11 ? codec::ssim(back, rgb) : -1.0;
  const double bpp = static_cast<double>(r.bytes.size()) * 8.0 / (static_cast<double>(rgb.width) * rgb.height);
  if (a.json) {
    JsonLine j;
    j.add("input", a.input).add("output", a.output).add("width", rgb.width).add("height", rgb.height);
    j.add("bytes", r.bytes.size()).add("bpp", bpp).add("psnr", psnr).add("ssim", ssim).add("fit_psnr", r.fit_psnr);
    j.add("lr", static_cast<double>(r.lr)).add("payload", r.payload);
    j.add("level", r.level).add("tiles", r.tiles).add("values_per_tile", r.values_per_tile).add("steps", a.steps);
    j.add("seconds", r.seconds).add("device", r.device).add("model", model.id_hex());
    std::printf("%s\n", j.str().c_str());
  } else if (!a.quiet) {
    std::printf("%s -> %s: %dx%d, %zu bytes, %.3f bpp, PSNR %.2f dB, SSIM %.4f (level %d, %zu tiles, %.1f s)\n",
                a.input.c_str(), a.output.c_str(), rgb.width, rgb.height, r.bytes.size(), bpp, psnr, ssim, r.level,
                r.tiles, r.seconds);
  }
  return 0;
}

struct DecodeArgs {
  std::string input, output, model;
  int width = 0, height = 0, jpeg_quality = 95;
  double scale = 0.0;
  EngineArgs engine;
  bool quiet = false;
};

int run_decode(const DecodeArgs& a) {
  if (a.output.empty()) throw Error(ErrorCode::kInvalidArgument, "no output file (give OUT or -o OUT)");
  check_output_path(a.output);
  const auto bytes = read_bytes(a.input);
  const codec::Model model = model_for(a.model);
  codec::DecodeOptions o;
  o.width = a.width;
  o.height = a.height;
  o.scale = a.scale;
  o.threads = a.engine.threads;
  std::string ext = std::filesystem::path(a.output).extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  int width = 0, height = 0;
  const codec::ContainerInfo info = codec::read_info(bytes, a.input);
  codec::output_size(o, static_cast<int>(info.header.width), static_cast<int>(info.header.height), width, height);
  if (ext == ".png") {
    // Rows stream to disk as the decoder renders them: memory stays at one tile row of output.
    codec::PngRowWriter png(a.output, width, height, 3);
    codec::decode_rows(bytes, a.input, model, o, [&](int, const std::uint8_t* row) { png.write_row(row); });
    png.finish();
  } else {
    codec::write_jpeg(codec::decode_image(bytes, a.input, model, o), a.output, a.jpeg_quality, false);
  }
  if (!a.quiet) std::printf("%s -> %s: %dx%d\n", a.input.c_str(), a.output.c_str(), width, height);
  return 0;
}

struct InfoArgs {
  std::string input;
  bool json = false;
};

int run_info(const InfoArgs& a) {
  const auto bytes = read_bytes(a.input);
  if (bytes.size() >= 8 && std::equal(format::kModelMagic.begin(), format::kModelMagic.end(), bytes.begin())) {
    const codec::Model m = codec::load_model_from_memory(bytes.data(), bytes.size(), a.input);
    ParamLayout layout(m.arch);
    if (a.json) {
      JsonLine j;
      j.add("file", a.input).add("kind", "model").add("model", m.id_hex()).add("tile_size", m.tile_size);
      j.add("network", m.arch.network == Network::kFourier ? "ffn" : "siren").add("architecture", m.arch.describe());
      j.add("width", m.arch.hidden_width).add("layers", m.arch.hidden_layers).add("w0", static_cast<double>(m.arch.w0)).add("w0_hidden", static_cast<double>(m.arch.hidden_w0()));
      j.add("levels", m.levels.size()).add("default_level", m.default_level()).add("data", m.provenance.data);
      j.add("recipe", m.provenance.recipe).add("wall_seconds", m.provenance.wall_seconds);
      std::printf("%s\n", j.str().c_str());
    } else {
      std::printf("%s: msinr model %s\n  %s, tile %d, %zu levels (default %d)\n  data: %s\n  recipe: %s\n  trained %.0f s\n",
                  a.input.c_str(), m.id_hex().c_str(), m.arch.describe().c_str(), m.tile_size, m.levels.size(), m.default_level(), m.provenance.data.c_str(),
                  m.provenance.recipe.c_str(), m.provenance.wall_seconds);
      for (std::size_t i = 0; i < m.levels.size(); ++i)
        std::printf("  level %2d: %6zu weights (%.4f), validation PSNR %.2f dB, encoder lr %g\n", m.levels[i].index,
                    kept_weights(layout, m.levels[i].mask), weight_density(layout, m.levels[i].mask),
                    i < m.val_psnr.size() ? m.val_psnr[i] : 0.0f, static_cast<double>(m.fit_lr(m.levels[i].index)));
    }
    return 0;
  }
  const codec::ContainerInfo info = codec::read_info(bytes, a.input);
  const auto& h = info.header;
  if (a.json) {
    JsonLine j;
    j.add("file", a.input).add("kind", "image").add("width", static_cast<long long>(h.width));
    j.add("height", static_cast<long long>(h.height)).add("bytes", info.file_bytes).add("bpp", info.bpp);
    j.add("model", format::model_id_hex(h.model_id)).add("level", static_cast<long long>(h.level));
    j.add("tile_size", static_cast<long long>(h.tile_size)).add("tiles", static_cast<long long>(h.tile_count));
    j.add("values_per_tile", static_cast<long long>(h.values_per_tile)).add("precision", h.precision == format::Precision::kQuantized ? "quantized" : "fp16");
    j.add("steps", static_cast<long long>(h.steps));
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("%s: msinr image %ux%u, %zu bytes, %.3f bpp\n  model %s, level %u, %u tiles of %u, %u %s values per tile, %u steps\n",
                a.input.c_str(), h.width, h.height, info.file_bytes, info.bpp, format::model_id_hex(h.model_id).c_str(),
                h.level, h.tile_count, h.tile_size, h.values_per_tile,
                h.precision == format::Precision::kQuantized ? "quantized" : "fp16", h.steps);
  }
  return 0;
}

}  // namespace

Runner add_codec_commands(CLI::App& app, Runner& decode_runner, Runner& info_runner) {
  auto e = std::make_shared<EncodeArgs>();
  CLI::App* enc = app.add_subcommand("encode", "Encode an image (PNG/JPEG) into an .msinr file");
  enc->footer(
      "Cuts the image into the model's tiles and fits each from the chosen level's meta-learned\n"
      "sparse init (100 Adam steps by default), then quantizes each tile's change from the init with\n"
      "one step per tensor (the coarsest that costs at most --quant-loss dB) and entropy-codes the\n"
      "integers (--bits 16 stores fp16 instead). Prints bytes, bits per pixel, and PSNR/SSIM of the\n"
      "decoded image.\n"
      "Pick the level with one of: --level K, -q QUALITY (100 densest .. 0 sparsest), --bpp B (the\n"
      "densest level that fits), --psnr P (the sparsest level that reaches it; tries several).\n\n"
      "Examples:\n  msinr encode photo.png photo.msinr\n  msinr encode photo.jpg -o photo.msinr --bpp 2\n"
      "  msinr encode photo.png photo.msinr --psnr 28 --json");
  enc->add_option("input", e->input, "Image to encode")->required()->check(CLI::ExistingFile);
  enc->add_option("output", e->output, "Output .msinr file");
  enc->add_option("-o,--out", e->output, "Output .msinr file (alternative to the positional)");
  enc->add_option("--model", e->model, "Model file (default: the built-in model)")->check(CLI::ExistingFile);
  enc->add_option("--level", e->level, "Model level (pruning round) to use")->check(CLI::NonNegativeNumber);
  enc->add_option("-q,--quality", e->quality, "0..100: 100 the densest level, 0 the sparsest")->check(CLI::Range(0, 100));
  enc->add_option("--bpp", e->bpp, "Target bits per pixel")->check(CLI::PositiveNumber);
  enc->add_option("--psnr", e->psnr, "Target PSNR in dB")->check(CLI::PositiveNumber);
  enc->add_option("--steps", e->steps, "Adam steps per tile")->capture_default_str()->check(CLI::Range(0, 100000));
  enc->add_option("--lr", e->lr, "Adam learning rate (default: the model's rate for the level, measured when it was trained)")
      ->check(CLI::PositiveNumber);
  enc->add_option("--bits", e->bits,
                  "Payload: 0 = quantized, entropy-coded (default; steps chosen per tensor), 16 = fp16 + zstd "
                  "(the original format, version 1)")
      ->check(CLI::IsMember({0, 16}));
  enc->add_option("--quant-loss", e->quant_loss,
                  "Quantized payload: largest PSNR loss in dB quantization may cost against the float fit")
      ->capture_default_str()->check(CLI::Range(0.0, 20.0));
  add_engine_options(*enc, e->engine);
  enc->add_flag("--quiet", e->quiet, "Print nothing but errors");
  enc->add_flag("--json", e->json, "Print one JSON object with the results");

  auto d = std::make_shared<DecodeArgs>();
  CLI::App* dec = app.add_subcommand("decode", "Decode an .msinr file to PNG or JPEG, at any resolution");
  dec->footer(
      "Renders the stored networks on the output's pixel grid: the native size by default, or any\n"
      "other (--width/--height keep the aspect ratio when only one is given; --scale multiplies).\n\n"
      "Examples:\n  msinr decode photo.msinr photo.png\n  msinr decode photo.msinr big.png --scale 2\n"
      "  msinr decode photo.msinr thumb.jpg --width 256");
  dec->add_option("input", d->input, ".msinr file")->required()->check(CLI::ExistingFile);
  dec->add_option("output", d->output, "Output .png or .jpg");
  dec->add_option("-o,--out", d->output, "Output .png or .jpg (alternative to the positional)");
  dec->add_option("--model", d->model, "Model file (default: the built-in model)")->check(CLI::ExistingFile);
  dec->add_option("--width", d->width, "Output width")->check(CLI::Range(1, 32768));
  dec->add_option("--height", d->height, "Output height")->check(CLI::Range(1, 32768));
  dec->add_option("--scale", d->scale, "Output scale factor")->check(CLI::Range(1e-4, 64.0));
  dec->add_option("--jpeg-quality", d->jpeg_quality, "Quality of a .jpg output")->capture_default_str()->check(CLI::Range(1, 100));
  add_engine_options(*dec, d->engine);
  dec->add_flag("--quiet", d->quiet, "Print nothing but errors");

  auto i = std::make_shared<InfoArgs>();
  CLI::App* inf = app.add_subcommand("info", "Describe an .msinr image or an .msm model file");
  inf->add_option("file", i->input, "File")->required()->check(CLI::ExistingFile);
  inf->add_flag("--json", i->json, "Print one JSON object");

  decode_runner = [d] { return run_decode(*d); };
  info_runner = [i] { return run_info(*i); };
  return [e] { return run_encode(*e); };
}

}  // namespace msinr::cli
