// msinr rd: rate-distortion of msinr against JPEG on a folder of images (tools/rd/, docs/rd.md).
#include <algorithm>
#include <cstdint>
#include <span>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "cli/json.hpp"
#include "cli/models.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/setup.hpp"
#include "codec/default_model.hpp"
#include "codec/metrics.hpp"
#include "codec/model.hpp"
#include "tools/rd/rd.hpp"
#include "format/file_io.hpp"
#include "msinr/error.hpp"

namespace msinr::cli {
namespace {

struct RdArgs {
  std::string images, model, levels, bits = "0,16", qualities = "10,20,30,40,50,60,70,80,90", out = "rd-out", compare, title,
      json_out;
  int crop = 0, count = 0, steps = 100, jobs = 0, compare_crop = 0;
  float lr = 0.0f;
  TileLevels tile_levels = TileLevels::kAuto;
  bool merge_edges = true;
  EngineArgs engine;
  bool log_rate = false, json = false, quiet = false, no_bd = false, force = false;
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The JSON lines of --json and --json-out: a "point" per curve point, a "bd" per Bjontegaard
// comparison (with the interval each figure was integrated over), a "compare" per comparison row,
// then one "run".
std::string json_lines(const tools::RdReport& r, const RdArgs& a, const codec::Model& model) {
  std::string out;
  auto line = [&out](const JsonLine& j) { out += j.str() + "\n"; };
  for (const auto& s : r.summary) {
    JsonLine j;
    j.add("kind", "point").add("codec", s.codec).add("setting", s.setting).add("count", s.count).add("bpp", s.bpp);
    j.add("psnr_mean", s.psnr_mean).add("psnr_of_mean_mse", s.psnr_of_mean_mse).add("ssim", s.ssim).add("ms_ssim", s.ms_ssim);
    j.add("encode_seconds", s.encode_seconds).add("decode_seconds", s.decode_seconds);
    line(j);
  }
  for (const auto& b : r.bd) {
    JsonLine j;
    j.add("kind", "bd").add("anchor", b.anchor).add("test", b.test).add("convention", b.convention);
    j.add("anchor_points", b.anchor_points).add("test_points", b.test_points);
    j.add("bd_rate_percent", b.rate.value).add("bd_rate_psnr_lo_db", b.rate.lo).add("bd_rate_psnr_hi_db", b.rate.hi);
    j.add("bd_psnr_db", b.psnr.value).add("bd_psnr_bpp_lo", b.psnr.lo).add("bd_psnr_bpp_hi", b.psnr.hi);
    if (!b.rate.ok() || !b.psnr.ok()) j.add("note", b.rate.ok() ? b.psnr.reason : b.rate.reason);
    line(j);
  }
  for (const auto& ci : r.compares)
    for (const auto& row : ci.rows) {
      JsonLine j;
      j.add("kind", "compare").add("image", ci.image).add("file", ci.file).add("msinr_setting", row.msinr_setting);
      j.add("msinr_bpp", row.msinr_bpp).add("msinr_psnr", row.msinr_psnr).add("jpeg_codec", row.jpeg_codec);
      j.add("jpeg_setting", row.jpeg_setting).add("jpeg_bpp", row.jpeg_bpp).add("jpeg_psnr", row.jpeg_psnr);
      line(j);
    }
  JsonLine j;
  j.add("kind", "run").add("out", a.out).add("model", model.id_hex()).add("images", r.images);
  j.add("skipped_small", r.skipped_small).add("rows", r.rows_total).add("rows_written", r.rows_written);
  j.add("rows_skipped", r.rows_skipped).add("jobs", r.jobs).add("threads_per_job", r.threads_per_job);
  line(j);
  return out;
}

int run_rd(const RdArgs& in) {
  // Under mpirun/srun the processes share the images; rank 0 writes the files and prints.
  Distributed& job = Distributed::get();
  RdArgs a = in;
  if (!job.root()) a.quiet = true;
  a.engine.threads = job.threads_for(a.engine.threads);
  tools::RdConfig c;
  if (job.size() > 1) {
    c.sharing.shard = job.rank();
    c.sharing.shards = job.size();
    c.sharing.broadcast = [&job](const std::string& s) { return job.broadcast(s); };
    c.sharing.gather = [&job](const std::string& s) { return job.gather(s); };
  }
  c.images = a.images;
  c.crop = a.crop;
  c.count = a.count;
  if (!a.levels.empty()) c.levels = tools::parse_int_list(a.levels, "--levels");
  c.payload_bits = tools::parse_int_list(a.bits, "--bits");
  c.jpeg_qualities = a.qualities == "none" ? std::vector<int>{} : tools::parse_int_list(a.qualities, "--jpeg-qualities");
  if (!a.compare.empty()) c.compare = tools::parse_name_list(a.compare, "--compare");
  c.compare_crop = a.compare_crop;
  c.encode.steps = a.steps;
  c.encode.lr = a.lr;
  c.encode.tile_levels = a.tile_levels;
  c.encode.merge_edges = a.merge_edges;
  c.encode.device = parse_device(a.engine.device);
  c.threads = a.engine.threads;
  c.jobs = a.jobs;
  c.out = a.out;
  c.log_rate = a.log_rate;
  c.title = a.title;
  c.require_bd = !a.no_bd;
  // Before the sweep, not after it: a --json-out that cannot be written is known now.
  if (job.root() && !a.json_out.empty()) check_output(a.json_out, {a.model}, a.force);
  const codec::Model model = load_codec_model_arg(a.model);
  // Rows measured now against rows left to measure (those already in rd.csv cost nothing).
  Progress progress(progress_mode(a.quiet || a.json || is_stdio(a.json_out)), "rd", 0.0, "rows");
  if (progress.mode() != ProgressMode::kQuiet)
    c.progress = [&](const tools::RdProgress& p) {
      progress.set_total(static_cast<double>(p.rows_total - std::min(p.rows_skipped, p.rows_total)));
      char detail[96];
      std::snprintf(detail, sizeof detail, "images %zu/%zu%s", p.images_done, p.images_total,
                    p.rows_skipped ? (", " + std::to_string(p.rows_skipped) + " rows already in rd.csv").c_str() : "");
      progress.update(static_cast<double>(p.rows_done), detail);
    };
  const tools::RdReport r = tools::run_rd(model, c);
  progress.finish();
  if (!job.root()) return 0;

  if (a.json || !a.json_out.empty()) {
    const std::string text = json_lines(r, a, model);
    if (a.json) std::fputs(text.c_str(), stdout);
    if (!a.json_out.empty()) {
      if (is_stdio(a.json_out)) {
        if (!a.json) std::fputs(text.c_str(), stdout);
      } else {
        format::write_file_atomic(a.json_out, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
      }
    }
    if (a.json || is_stdio(a.json_out)) return 0;
  }
  if (a.quiet) return 0;
  std::printf("rd: %zu images from %s (model %s), %zu rows: %zu measured now, %zu already in %s/rd.csv\n", r.images,
              a.images.c_str(), model.id_hex().substr(0, 12).c_str(), r.rows_total, r.rows_written, r.rows_skipped,
              a.out.c_str());
  if (r.skipped_small) std::printf("rd: %zu images smaller than --crop %d were skipped\n", r.skipped_small, a.crop);
  if (r.dropped_partial_row) std::printf("rd: rd.csv ended in a half-written row (an interrupted run); it was redone\n");
  std::printf("\n%-12s %-8s %6s %9s %10s %12s %7s %7s %9s %9s\n", "codec", "setting", "images", "bpp", "PSNR mean",
              "PSNR pooled", "SSIM", "MS-SSIM", "encode s", "decode s");
  for (const auto& s : r.summary)
    std::printf("%-12s %-8s %6zu %9.4f %10.3f %12.3f %7.4f %7.4f %9.4f %9.4f\n", s.codec.c_str(), s.setting.c_str(), s.count,
                s.bpp, s.psnr_mean, s.psnr_of_mean_mse, s.ssim, s.ms_ssim, s.encode_seconds, s.decode_seconds);
  std::printf("(PSNR mean: the mean over images of each image's PSNR; PSNR pooled: the PSNR of the mean MSE;\n"
              " MS-SSIM: nan for images under %d pixels on a side)\n\n", codec::kMsSsimMinSide);
  for (const auto& b : r.bd) {
    std::printf("%s vs %s (%s): ", b.test.c_str(), b.anchor.c_str(),
                b.convention == "psnr_mean" ? "mean PSNR" : "pooled PSNR");
    if (b.rate.ok() && b.psnr.ok())
      std::printf("BD-rate %s%% over %.2f-%.2f dB, BD-PSNR %s dB over %.3f-%.3f bpp\n", fmt("%+.2f", b.rate.value).c_str(),
                  b.rate.lo, b.rate.hi, fmt("%+.3f", b.psnr.value).c_str(), b.psnr.lo, b.psnr.hi);
    else
      std::printf("BD-rate %s, BD-PSNR %s (%s)\n", b.rate.ok() ? fmt("%+.2f%%", b.rate.value).c_str() : "n/a",
                  b.psnr.ok() ? fmt("%+.3f dB", b.psnr.value).c_str() : "n/a",
                  (b.rate.ok() ? b.psnr.reason : b.rate.reason).c_str());
  }
  if (!r.bd.empty())
    std::printf("(negative BD-rate: msinr needs fewer bits than JPEG for the same PSNR; each figure holds only over the\n"
                " interval where both curves have points, the PSNR range for BD-rate, the bpp range for BD-PSNR)\n");
  for (const auto& ci : r.compares) {
    std::printf("\n%s/%s: original | msinr | JPEG at the closest bpp, one row per level\n", a.out.c_str(), ci.file.c_str());
    for (const auto& row : ci.rows)
      std::printf("  %s %s: %.3f bpp %.2f dB | %s %s: %.3f bpp %.2f dB\n", row.msinr_codec.c_str(), row.msinr_setting.c_str(),
                  row.msinr_bpp, row.msinr_psnr, row.jpeg_codec.c_str(), row.jpeg_setting.c_str(), row.jpeg_bpp,
                  row.jpeg_psnr);
  }
  std::printf("\nwrote %s/: rd.csv, summary.csv, bd.csv, rd.svg%s\n", a.out.c_str(), r.compares.empty() ? "" : ", compare-*.png");
  if (!a.json_out.empty()) std::printf("wrote %s\n", a.json_out.c_str());
  return 0;
}

}  // namespace

Runner add_rd_command(CLI::App& app) {
  auto a = std::make_shared<RdArgs>();
  CLI::App* cmd = app.add_subcommand("rd", "Rate-distortion of msinr against JPEG on a folder of images");
  cmd->footer(
      "For each image (the first --count in name order, center-cropped to --crop when given) and each\n"
      "setting - msinr at every --levels level (quantized and fp16 payloads, --bits), JPEG (libjpeg-turbo) at every\n"
      "--jpeg-qualities quality with 4:2:0 and with 4:4:4 chroma - the image is encoded to bytes by the\n"
      "real encoder and decoded by the real decoder. Measured per row: file bytes, bpp = bytes * 8 /\n"
      "pixels, PSNR, SSIM and MS-SSIM (5 scales; nan for images under 161 pixels a side) of the decoded\n"
      "8-bit RGB against the original, encode and decode seconds (wall; --jobs images run at once, each\n"
      "on --threads / --jobs threads).\n\n"
      "Writes into --out: rd.csv (one row per image x codec x setting, appended as it goes), summary.csv\n"
      "(per codec x setting: mean bpp, mean of per-image PSNR, PSNR of the mean MSE, mean SSIM and\n"
      "MS-SSIM), bd.csv (Bjontegaard BD-rate and BD-PSNR of msinr against each JPEG curve, cubic fit in\n"
      "log-rate, each with the interval where both curves have points that it was integrated over: PSNR\n"
      "dB for BD-rate, bpp for BD-PSNR; a negative BD-rate means msinr needs fewer bits), rd.svg (PSNR\n"
      "against bpp), and for --compare images compare-NAME.png (original | msinr | JPEG at the closest\n"
      "bpp, a row per level). --json-out FILE writes the --json lines to a file as well.\n"
      "BD-rate needs 4 points per curve: fewer than 4 levels or JPEG qualities are refused before\n"
      "anything runs, unless --no-bd (or --jpeg-qualities none) is given.\n"
      "Run it again with the same --out to resume: rows already in rd.csv are skipped (an rd.csv from\n"
      "before the ms_ssim column is refused: start a new --out).\n"
      "Under mpirun/srun the processes share the images and rank 0 writes the files (docs/distributed.md).\n\n"
      "Examples:\n"
      "  msinr rd --images ../shared/data/kodak --levels 2,4,6,8 --out rd-kodak --compare kodim23\n"
      "  msinr rd --images ../shared/data/celeba178/val --crop 178 --count 20 --log-rate --json-out rd-celeba.jsonl\n"
      "  msinr rd --images photos --model faces.msm --jpeg-qualities 20,40,60,80 --device cuda");
  cmd->add_option("--images", a->images, "Folder of .png/.jpg/.jpeg images")->required();
  cmd->add_option("--crop", a->crop, "Center-crop each image to N x N (0: whole images; smaller ones are skipped)")
      ->capture_default_str()->check(CLI::Range(0, 32768));
  cmd->add_option("--count", a->count, "Use the first K images in name order (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--model", a->model, "Model file, or the name of one in the model search path (default: the built-in model)");
  cmd->add_option("--levels", a->levels, "msinr levels, comma-separated (default: every level of the model)");
  cmd->add_option("--bits", a->bits, "msinr payloads, comma-separated: 0 quantized (curve \"msinr\"), 16 fp16 (\"msinr-fp16\")")
      ->capture_default_str();
  cmd->add_option("--jpeg-qualities", a->qualities, "JPEG qualities 1..100, comma-separated, or 'none'")->capture_default_str();
  cmd->add_option("--out", a->out, "Output folder (created; an existing rd.csv there is resumed)")->capture_default_str();
  cmd->add_option("--compare", a->compare, "Images (file name or stem), comma-separated, to write compare-NAME.png for");
  cmd->add_option("--compare-crop", a->compare_crop,
                  "Side of the centred square each compare panel shows (0: whole images; a crop keeps the PNG small\n"
                  "and shows detail at 1:1)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--log-rate", a->log_rate, "Log-scale bpp axis in rd.svg");
  cmd->add_option("--title", a->title, "Title of rd.svg (default: from the folder name)");
  cmd->add_option("--steps", a->steps, "Adam steps per tile (msinr encoder)")->capture_default_str()->check(CLI::Range(0, 100000));
  add_tile_levels_option(*cmd, a->tile_levels);
  add_edge_tiles_option(*cmd, a->merge_edges);
  cmd->add_option("--lr", a->lr, "Adam learning rate of the msinr encoder (default: the model's rate per level)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--jobs", a->jobs, "Images measured at once (0: one per thread on the CPU, 1 on CUDA)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  add_engine_options(*cmd, a->engine);
  cmd->add_flag("--quiet", a->quiet, "Print nothing but errors");
  cmd->add_flag("--json", a->json, "Print the summary as JSON lines (kind: point, bd, compare, run)");
  cmd->add_option("--json-out", a->json_out,
                  "Also write those JSON lines to FILE (atomically; '-': standard output, as --json). An existing\n"
                  "FILE is replaced only with -f")
      ->type_name("FILE");
  cmd->add_flag("-f,--force", a->force, "Replace an existing --json-out file");
  cmd->add_flag("--no-bd", a->no_bd,
                "Measure even when a curve would have fewer than 4 points (BD-rate is then undefined and reported\n"
                "as n/a); without it such a run is refused before it starts");
  return [a] { return run_rd(*a); };
}

}  // namespace msinr::cli
