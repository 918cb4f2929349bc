#include "tools/rd/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "codec/image.hpp"
#include "codec/metrics.hpp"
#include "imageio/image_io.hpp"
#include "msinr/backend.hpp"
#include "msinr/error.hpp"
#include "tools/rd/csv.hpp"
#include "tools/rd/detail/text.hpp"
#include "tools/rd/svg.hpp"

namespace msinr::tools {
using namespace codec;
using detail::num;
using detail::read_text;
using detail::write_text_atomic;
namespace fs = std::filesystem;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- The run --------------------------------------------------------------------------------------

struct Setting {
  std::string codec, setting;
  bool msinr = false;
  int level = 0;            // msinr
  int quality = 0;          // JPEG
  bool subsample_420 = false;
  int bits = 16;            // msinr payload: 0 quantized, 16 fp16
};

std::string key_of(const std::string& image, const std::string& codec, const std::string& setting) {
  return image + '\x1f' + codec + '\x1f' + setting;
}

// rd-config.txt: what rows depend on. Lines "key=value"; '#' lines are comments.
std::map<std::string, std::string> parse_config(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

}  // namespace

std::string payload_settings(const codec::EncodeOptions& d) {
  // Subset fits are named only when used, so folders measured before the option existed still resume.
  std::string sampling = d.pixel_fraction < 1.0 ? ",pixel_fraction=" + num(d.pixel_fraction, 4) : std::string();
  if (d.refit_pixel_fraction < 1.0) sampling += ",refit_pixel_fraction=" + num(d.refit_pixel_fraction, 4);
  if (codec::per_tile_levels(d)) sampling += ",tile_levels=adaptive";
  // Named since edges merge by default (2026-12-02), so folders measured with grid edges do not mix.
  if (d.merge_edges) sampling += ",edge_tiles=merge";
  return "quant_loss=" + num(d.quant_loss_db, 3) + ",refit_steps=" + std::to_string(d.refit_steps) +
         ",refit_lr=" + (d.refit_lr > 0.0f ? num(static_cast<double>(d.refit_lr), 7) : std::string("fit/300")) + sampling;
}

std::vector<std::string> parse_name_list(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  if (text.empty()) throw Error(ErrorCode::kInvalidArgument, what + ": empty list");
  while (true) {
    const std::size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.erase(item.begin());
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.pop_back();
    if (item.empty()) throw Error(ErrorCode::kInvalidArgument, what + ": empty item in '" + text + "'");
    out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int> out;
  for (const std::string& item : parse_name_list(text, what)) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (end != item.c_str() + item.size() || errno != 0 || v < -1000000 || v > 1000000)
      throw Error(ErrorCode::kInvalidArgument, what + ": '" + item + "' is not an integer");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

RdReport run_rd(const Model& model, const RdConfig& cfg) {
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };

  // Arguments.
  if (cfg.crop < 0 || cfg.count < 0) throw Error(ErrorCode::kInvalidArgument, "crop and count must be >= 0");
  if (cfg.encode.steps < 0 || !(cfg.encode.lr >= 0.0f)) throw Error(ErrorCode::kInvalidArgument, "steps must be >= 0 and lr >= 0");
  if (cfg.threads < 0 || cfg.jobs < 0) throw Error(ErrorCode::kInvalidArgument, "threads and jobs must be >= 0");
  if (cfg.out.empty()) throw Error(ErrorCode::kInvalidArgument, "no output folder");
  std::vector<int> levels;
  if (cfg.levels.empty()) {
    for (const auto& l : model.levels) levels.push_back(l.index);
    std::sort(levels.begin(), levels.end());
  }
  for (int l : cfg.levels) {
    model.level(l);  // kInvalidArgument listing the levels that exist
    if (std::find(levels.begin(), levels.end(), l) == levels.end()) levels.push_back(l);
  }
  std::vector<int> qualities;
  for (int q : cfg.jpeg_qualities) {
    if (q < 1 || q > 100)
      throw Error(ErrorCode::kInvalidArgument, "JPEG quality " + std::to_string(q) + " is outside 1..100");
    if (std::find(qualities.begin(), qualities.end(), q) == qualities.end()) qualities.push_back(q);
  }
  if (levels.empty() && qualities.empty()) throw Error(ErrorCode::kInvalidArgument, "nothing to measure: no levels and no JPEG qualities");
  if (cfg.require_bd && !qualities.empty() && (levels.size() < 4 || qualities.size() < 4)) {
    // Refused now, not after the whole sweep: a cubic through fewer than 4 points is undefined.
    throw Error(ErrorCode::kInvalidArgument,
                "BD-rate needs at least 4 points per curve, but each msinr curve would have " + std::to_string(levels.size()) +
                    " (levels) and each JPEG curve " + std::to_string(qualities.size()) +
                    " (qualities): give at least 4 distinct levels and 4 distinct JPEG qualities, or --no-bd to measure "
                    "without BD figures");
  }

  std::vector<Setting> settings;
  for (int bits : cfg.payload_bits) {
    if (bits != 0 && bits != 16) throw Error(ErrorCode::kInvalidArgument, "payload bits must be 0 (quantized) or 16 (fp16)");
    for (int l : levels)
      settings.push_back({bits == 16 ? "msinr-fp16" : "msinr", "level" + std::to_string(l), true, l, 0, false, bits});
  }
  for (int q : qualities) settings.push_back({"jpeg-420", "q" + std::to_string(q), false, 0, q, true});
  for (int q : qualities) settings.push_back({"jpeg-444", "q" + std::to_string(q), false, 0, q, false});

  // Images: the same rule as load_dataset (sorted by name, first `count`).
  std::error_code ec;
  if (!fs::is_directory(cfg.images, ec)) throw Error(ErrorCode::kIo, cfg.images + ": not a folder");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(cfg.images, ec))
    if (e.is_regular_file() && is_image_file_name(e.path())) files.push_back(e.path());
  if (ec) throw Error(ErrorCode::kIo, cfg.images + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  if (cfg.count > 0 && files.size() > static_cast<std::size_t>(cfg.count)) files.resize(static_cast<std::size_t>(cfg.count));
  if (files.empty()) throw Error(ErrorCode::kIo, cfg.images + ": no .png, .jpg or .jpeg images");

  std::vector<bool> compare(files.size(), false);
  for (const std::string& name : cfg.compare) {
    bool found = false;
    for (std::size_t i = 0; i < files.size(); ++i)
      if (files[i].filename().string() == name || files[i].stem().string() == name) compare[i] = found = true;
    if (!found)
      throw Error(ErrorCode::kInvalidArgument, "--compare: no image '" + name + "' among the " + std::to_string(files.size()) +
                                                   " selected from " + cfg.images);
  }

  const RdSharing& sh = cfg.sharing;
  const bool sharded = sh.shards > 1;
  if (sharded && (sh.shard < 0 || sh.shard >= sh.shards || !sh.broadcast || !sh.gather))
    throw Error(ErrorCode::kInvalidArgument, "bad rd sharing");
  if (sharded && !cfg.compare.empty())
    throw Error(ErrorCode::kUnsupported, "--compare needs a single process (its pictures are drawn where the image is measured)");
  const bool root = sh.shard == 0;
  // Output folder, run configuration, existing rows (rank 0's; the others learn the rows from it).
  RdReport report;
  std::vector<RdRow> existing;
  const std::string csv_path = (fs::path(cfg.out) / "rd.csv").string();
  const std::string config_path = (fs::path(cfg.out) / "rd-config.txt").string();
  if (!root) {
    std::size_t complete = 0;
    existing = parse_rd_csv(sh.broadcast(""), csv_path + " (from rank 0)", complete);
  } else {
  fs::create_directories(cfg.out, ec);
  if (!fs::is_directory(cfg.out)) throw Error(ErrorCode::kIo, cfg.out + ": cannot create the output folder");
  std::map<std::string, std::string> config = {
      {"images", fs::weakly_canonical(fs::absolute(cfg.images), ec).string()},
      {"crop", std::to_string(cfg.crop)},
      {"model", model.id_hex()},
      {"steps", std::to_string(cfg.encode.steps)},
      {"lr", num(static_cast<double>(cfg.encode.lr), 7)},
      // The quantized payload's encoder settings: rows made before they changed are not mixed
      // with new ones.
      {"payload", payload_settings(cfg.encode)},
  };
  const bool have_csv = fs::exists(csv_path);
  if (have_csv) {
    const std::string text = read_text(csv_path);
    std::size_t complete = 0;
    bool without_ms_ssim = false;
    existing = parse_rd_csv(text, csv_path, complete, &without_ms_ssim);
    if (without_ms_ssim)  // its rows have no MS-SSIM to give, and new rows would not fit its header
      throw Error(ErrorCode::kInvalidArgument,
                  csv_path + " was written by an older msinr, without the ms_ssim column: its rows cannot be resumed. "
                             "Use another --out folder, or delete rd.csv there to start over");
    if (complete < text.size()) {  // a half-written last line: a run was killed mid-row
      fs::resize_file(csv_path, complete, ec);
      if (ec) throw Error(ErrorCode::kIo, csv_path + ": cannot drop the half-written last line: " + ec.message());
      report.dropped_partial_row = true;
    }
    if (!existing.empty() && fs::exists(config_path)) {
      const auto old = parse_config(read_text(config_path));
      for (const auto& [k, v] : config) {
        const auto it = old.find(k);
        if (it != old.end() && it->second != v)
          throw Error(ErrorCode::kInvalidArgument,
                      csv_path + " holds rows measured with " + k + "=" + it->second + ", this run asks for " + k + "=" + v +
                          ": use another --out folder, or delete rd.csv there to start over");
      }
      if (!old.count("payload"))  // written before the payload settings were recorded (and before they changed)
        throw Error(ErrorCode::kInvalidArgument,
                    csv_path + " holds rows measured by an older msinr whose payload settings were not recorded (this run: " +
                        config["payload"] + "): use another --out folder, or delete rd.csv there to start over");
    }
  }
  {
    std::string text = "# msinr rd: what the rows of rd.csv depend on. A run that resumes into this folder must match.\n";
    for (const auto& [k, v] : config) text += k + "=" + v + "\n";
    write_text_atomic(config_path, text);
  }
  if (sharded) sh.broadcast(have_csv ? read_text(csv_path) : std::string());
  }
  std::map<std::string, RdRow> done;
  for (const RdRow& r : existing) done[key_of(r.image, r.codec, r.setting)] = r;

  const bool need_header = root && (!fs::exists(csv_path) || fs::file_size(csv_path, ec) == 0);
  FILE* csv = root ? std::fopen(csv_path.c_str(), "ab") : nullptr;
  if (root && !csv) throw Error(ErrorCode::kIo, csv_path + ": cannot open for appending");
  std::string shard_rows;  // the rows a process other than rank 0 measured, for rank 0
  struct CloseFile {
    FILE* f;
    ~CloseFile() {
      if (f) std::fclose(f);
    }
  } closer{csv};
  if (need_header) {
    std::fprintf(csv, "%s\n", kRdCsvHeader);
    std::fflush(csv);
  }

  // Threads: `jobs` images at once, each encode and decode on threads / jobs threads.
  const int threads = cfg.threads > 0 ? cfg.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const bool cuda = resolve_device(cfg.encode.device) == Device::kCuda;
  // This process's images: all of them, or every shards-th.
  std::vector<std::size_t> mine;
  for (std::size_t i = 0; i < files.size(); ++i)
    if (!sharded || static_cast<int>(i % static_cast<std::size_t>(sh.shards)) == sh.shard) mine.push_back(i);
  int jobs = cfg.jobs > 0 ? cfg.jobs : (cuda ? 1 : threads);
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(std::max<std::size_t>(mine.size(), 1))));
  const int per_job = std::max(1, threads / jobs);
  report.jobs = jobs;
  report.threads_per_job = per_job;

  std::mutex mu;  // guards the CSV, the report and progress
  RdProgress progress;
  progress.rows_total = mine.size() * settings.size();
  progress.images_total = mine.size();
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr first_error;
  std::set<std::string> measured_images;

  auto tick = [&](const std::string& image, bool computed, std::size_t n = 1) {
    // Called with `mu` held.
    (computed ? progress.rows_done : progress.rows_skipped) += n;
    progress.image = image;
    if (cfg.progress) cfg.progress(progress);
  };

  auto process = [&](std::size_t i) {
    const std::string name = files[i].filename().string();
    const std::string compare_file = "compare-" + files[i].stem().string() + ".png";
    const std::string compare_path = (fs::path(cfg.out) / compare_file).string();
    std::size_t missing = 0;
    bool missing_msinr = false;
    for (const Setting& s : settings)
      if (!done.count(key_of(name, s.codec, s.setting))) ++missing, missing_msinr |= s.msinr;
    const bool want_compare = compare[i] && (missing_msinr || !fs::exists(compare_path));
    if (missing == 0 && !want_compare) {
      std::lock_guard<std::mutex> lock(mu);
      measured_images.insert(name);
      ++progress.images_done;
      tick(name, false, settings.size());
      return;
    }
    Image img = to_rgb(read_image(files[i].string()));
    if (cfg.crop > 0) {
      if (img.width < cfg.crop || img.height < cfg.crop) {
        std::lock_guard<std::mutex> lock(mu);
        ++report.skipped_small;
        progress.rows_total -= settings.size();
        ++progress.images_done;
        tick(name, false, 0);
        return;
      }
      img = center_crop(img, cfg.crop);
    }
    const double pixels = static_cast<double>(img.width) * img.height;
    const bool can_ssim = std::min(img.width, img.height) >= kSsimWindow;
    const bool can_ms_ssim = std::min(img.width, img.height) >= kMsSsimMinSide;
    std::vector<ComparePanel> msinr_panels;
    std::vector<RdRow> jpeg_rows;
    for (const Setting& s : settings) {
      if (stop) return;
      const auto it = done.find(key_of(name, s.codec, s.setting));
      const bool have = it != done.end();
      if (have && !(want_compare && s.msinr)) {
        if (!s.msinr) jpeg_rows.push_back(it->second);
        std::lock_guard<std::mutex> lock(mu);
        tick(name, false);
        continue;
      }
      RdRow row;
      row.image = name;
      row.codec = s.codec;
      row.setting = s.setting;
      row.width = img.width;
      row.height = img.height;
      Image back;
      if (s.msinr) {
        codec::EncodeOptions eo = cfg.encode;
        eo.level = s.level;
        eo.bits = s.bits;
        eo.threads = per_job;
        eo.progress = [&](std::size_t, std::size_t) { return !stop.load(); };
        const auto t0 = Clock::now();
        const EncodeResult r = encode_image(img, model, eo);
        row.encode_seconds = seconds_since(t0);
        DecodeOptions dopt;
        dopt.threads = per_job;
        const auto t1 = Clock::now();
        back = decode_image(r.bytes, name, model, dopt);
        row.decode_seconds = seconds_since(t1);
        row.bytes = r.bytes.size();
      } else {
        const auto t0 = Clock::now();
        const std::vector<std::uint8_t> bytes = encode_jpeg(img, s.quality, s.subsample_420);
        row.encode_seconds = seconds_since(t0);
        const auto t1 = Clock::now();
        back = decode_jpeg(bytes, name);
        row.decode_seconds = seconds_since(t1);
        row.bytes = bytes.size();
      }
      row.bpp = static_cast<double>(row.bytes) * 8.0 / pixels;
      row.psnr = psnr_8bit(back, img);
      row.ssim = can_ssim ? ssim(back, img) : kNaN;
      row.ms_ssim = can_ms_ssim ? ms_ssim(back, img) : kNaN;
      // What is written is what is read back: later steps see the row as the CSV holds it.
      const std::string line = format_rd_row(row);
      std::size_t complete = 0;
      const auto reparsed = parse_rd_csv(std::string(kRdCsvHeader) + "\n" + line + "\n", "row", complete);
      if (!have) {
        std::lock_guard<std::mutex> lock(mu);
        if (!csv)
          shard_rows += "R" + line + "\n";
        else if (std::fprintf(csv, "%s\n", line.c_str()) < 0 || std::fflush(csv) != 0)
          throw Error(ErrorCode::kIo, csv_path + ": write failed");
        tick(name, true);
      } else {
        std::lock_guard<std::mutex> lock(mu);
        tick(name, false);
      }
      const RdRow& kept = have ? it->second : reparsed.at(0);
      if (s.msinr) {
        if (compare[i]) msinr_panels.push_back({kept, std::move(back)});
      } else {
        jpeg_rows.push_back(kept);
      }
    }
    if (compare[i] && want_compare && !msinr_panels.empty()) {
      CompareImage ci;
      ci.image = name;
      ci.file = compare_file;
      auto jpeg_decoded = [&](const RdRow& best) {
        const Setting* js = nullptr;
        for (const Setting& s : settings)
          if (!s.msinr && s.codec == best.codec && s.setting == best.setting) js = &s;
        return decode_jpeg(encode_jpeg(img, js->quality, js->subsample_420), name);
      };
      const Image canvas = draw_comparison(img, msinr_panels, jpeg_rows, jpeg_decoded, cfg.compare_crop, ci.rows);
      write_png(canvas, compare_path);
      std::lock_guard<std::mutex> lock(mu);
      report.compares.push_back(std::move(ci));
    }
    std::lock_guard<std::mutex> lock(mu);
    measured_images.insert(name);
    ++progress.images_done;
    if (cfg.progress) cfg.progress(progress);
  };

  auto worker = [&] {
    for (std::size_t k; !stop && (k = next++) < mine.size();) {
      try {
        process(mine[k]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error) first_error = std::current_exception();
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
  report.rows_total = progress.rows_total;
  report.rows_written = progress.rows_done;
  report.rows_skipped = progress.rows_skipped;
  if (sharded) {
    // Rank 0 appends the others' rows (lines "R<csv row>", "I<image measured>", "S<skipped>").
    std::string mine_text = root ? std::string() : shard_rows;
    if (!root) {
      for (const auto& name : measured_images) mine_text += "I" + name + "\n";
      mine_text += "S" + std::to_string(report.skipped_small) + "\n";
    }
    const std::vector<std::string> all = sh.gather(mine_text);
    if (!root) {
      report.images = measured_images.size();
      return report;  // rank 0 writes and reports the whole run
    }
    for (std::size_t r = 1; r < all.size(); ++r) {
      std::size_t at = 0;
      while (at < all[r].size()) {
        std::size_t end = all[r].find('\n', at);
        if (end == std::string::npos) end = all[r].size();
        const std::string item = all[r].substr(at + 1, end - at - 1);
        const char kind = all[r][at];
        at = end + 1;
        if (kind == 'R') {
          if (std::fprintf(csv, "%s\n", item.c_str()) < 0) throw Error(ErrorCode::kIo, csv_path + ": write failed");
          ++report.rows_written;
        } else if (kind == 'I') {
          measured_images.insert(item);
        } else if (kind == 'S') {
          report.skipped_small += static_cast<std::size_t>(std::stoull(item));
        }
      }
    }
  }
  if (std::fflush(csv) != 0 || ::fsync(fileno(csv)) != 0) throw Error(ErrorCode::kIo, csv_path + ": write failed");
  report.images = measured_images.size();
  if (sharded) {  // the others' skipped rows are not sent: the request's rows minus those measured now
    report.rows_total = measured_images.size() * settings.size();
    report.rows_skipped = report.rows_total - std::min(report.rows_total, report.rows_written);
  }

  // Summary, deltas and plot from the rows of this request, as rd.csv holds them.
  std::set<std::string> wanted_settings;
  for (const Setting& s : settings) wanted_settings.insert(s.codec + '\x1f' + s.setting);
  std::vector<RdRow> rows;
  for (RdRow& r : read_rd_csv(csv_path))
    if (measured_images.count(r.image) && wanted_settings.count(r.codec + '\x1f' + r.setting)) rows.push_back(std::move(r));
  report.summary = summarize_rd(rows);
  report.bd = compare_curves(report.summary);

  SvgOptions so;
  so.log_rate = cfg.log_rate;
  so.title = cfg.title;
  if (so.title.empty()) {
    fs::path dir = fs::path(cfg.images).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path();  // "a/b/" -> "a/b"
    std::string folder = dir.filename().string();
    if ((folder == "val" || folder == "test" || folder == "train") && !dir.parent_path().filename().empty())
      folder = dir.parent_path().filename().string() + "/" + folder;  // "celeba178/val" says more than "val"
    so.title = "msinr vs JPEG: " + folder + ", " + std::to_string(report.images) + " image" + (report.images == 1 ? "" : "s") +
               (cfg.crop > 0 ? ", center " + std::to_string(cfg.crop) + "x" + std::to_string(cfg.crop) : std::string());
  }
  write_text_atomic((fs::path(cfg.out) / "summary.csv").string(), format_summary_csv(report.summary));
  write_text_atomic((fs::path(cfg.out) / "bd.csv").string(), format_bd_csv(report.bd));
  write_text_atomic((fs::path(cfg.out) / "rd.svg").string(), render_rd_svg(report.summary, so));
  report.files = {"rd.csv", "rd-config.txt", "summary.csv", "bd.csv", "rd.svg"};
  std::sort(report.compares.begin(), report.compares.end(), [](const auto& a, const auto& b) { return a.image < b.image; });
  for (const auto& c : report.compares) report.files.push_back(c.file);
  return report;
}

}  // namespace msinr::tools
