// msinr encode / decode / info: the codec as people use it, in the manner of cjpeg and cwebp. They
// run on the public API (msinr/msinr.hpp), as apps do, so the tool people run exercises it.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "cli/image_output.hpp"
#include "cli/json.hpp"
#include "cli/models.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/setup.hpp"
#include "format/container.hpp"
#include "format/file_io.hpp"
#include "format/magic.hpp"
#include "imageio/image_io.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"  // lr_schedule_from_name
#include "msinr/msinr.hpp"

namespace msinr::cli {
namespace {

std::string display_name(const std::string& path, bool output) {
  return is_stdio(path) ? (output ? "(stdout)" : "(stdin)") : path;
}

// A folder names its images (.png, .jpg, .jpeg; not its subfolders), in name order.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (!is_stdio(in) && fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (fs::directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec))
        if (codec::is_image_file_name(it->path()) && it->is_regular_file(ec)) found.push_back(it->path().string());
      if (ec) throw Error(ErrorCode::kIo, "cannot list " + in + ": " + ec.message());
      if (found.empty()) throw Error(ErrorCode::kInvalidArgument, in + ": no .png, .jpg or .jpeg images in this folder");
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(in);
    }
  }
  return out;
}

bool names_a_folder(const std::string& path) {
  std::error_code ec;
  return !path.empty() && !is_stdio(path) && (path.back() == '/' || std::filesystem::is_directory(path, ec));
}

struct EncodeArgs {
  std::vector<std::string> files;  // inputs, and the output last when neither -o nor --out-dir is given
  std::string output, out_dir, model;
  // The options of the same meaning write into the API's struct (its defaults are theirs); what
  // needs the model or a conversion (-q, --lr-schedule, the engine's --device and --threads) and
  // the callbacks are set per image.
  msinr::EncodeOptions o;
  int quality = -1;
  std::string lr_schedule = "constant";
  std::string effort = "default";
  CLI::Option* steps_option = nullptr;           // to tell an explicit --steps from the preset's
  CLI::Option* pixel_fraction_option = nullptr;
  EngineArgs engine;
  bool quiet = false, json = false, force = false, best_effort = false;
  std::uint64_t max_pixels = codec::kDefaultMaxImagePixels;  // input images: refused beyond, from the header
};

// Exit status of an encode whose --bpp / --psnr target could not be met (without --best-effort).
constexpr int kExitTargetNotMet = 3;

struct Encoded {
  std::size_t bytes = 0;
  double pixels = 0.0, psnr = 0.0, seconds = 0.0;
  bool target_met = true, written = true;
  std::string report;  // the summary line or JSON object ("" with --quiet)
};

// What a --bpp / --psnr search is trying, for the progress line: "level 5, step scale 0.0123: 1.02 bpp".
std::string search_detail(const msinr::SearchStatus& s, double pixels) {
  char buf[160];
  const std::string phase = s.phase;
  if (phase == "fit") {
    std::snprintf(buf, sizeof buf, "fitting level %d (fit %d of at most %d)", s.level, s.fits_done + 1, s.fits_max);
  } else if (phase == "refit") {
    std::snprintf(buf, sizeof buf, "level %d, refit at step scale %.4g", s.level, s.step_scale);
  } else {
    int n = std::snprintf(buf, sizeof buf, "level %d, step scale %.4g", s.level, s.step_scale);
    if (s.bytes > 0) n += std::snprintf(buf + n, sizeof buf - n, ": %.3f bpp", static_cast<double>(s.bytes) * 8.0 / pixels);
    if (s.psnr > 0) std::snprintf(buf + n, sizeof buf - n, "%s %.2f dB", s.bytes > 0 ? "," : ":", s.psnr);
  }
  return buf;
}

// A line for stderr about one image (no newline): printed at once, or by rank 0 with the image's result.
using NoteSink = std::function<void(const std::string&)>;

// Encodes one image to `output` (a file, or "-" for standard output). `on_tiles(done, total, detail)`
// follows the tiles. A --bpp / --psnr search reports as one span of work: every level fit it may
// take counts its tiles (total = tiles x the most fits it can take, so the ETA is an upper bound),
// and `detail` says which level and quantizer step it is trying. `note` gets the lines about the
// image (alpha dropped, rate control, target missed).
Encoded encode_one(const EncodeArgs& a, const msinr::Model& model, const std::string& input, const std::string& output,
                   const std::function<void(std::size_t, std::size_t, const std::string&)>& on_tiles,
                   const NoteSink& note) {
  const std::string in_name = display_name(input, false), out_name = display_name(output, true);
  msinr::Image image;
  {
    // Read here rather than with msinr::read_image: standard input, the --max-pixels check from
    // the header, and what the file held (alpha) are the command line's.
    const auto file = read_input(input, codec::kMaxImageFileBytes);
    codec::Image read = codec::read_image_from_memory(file.data(), file.size(), in_name, a.max_pixels);
    if (!a.quiet && read.source.had_alpha())
      note("msinr: note: " + in_name + " has alpha; msinr stores colour only, alpha is dropped");
    image.width = read.width;
    image.height = read.height;
    image.channels = read.channels;
    image.pixels = std::move(read.pixels);
  }
  msinr::EncodeOptions o = a.o;
  if (a.quality >= 0) o.level = model.level_for_quality(a.quality);
  o.lr_schedule = lr_schedule_from_name(a.lr_schedule);
  o.device = parse_device(a.engine.device);
  o.threads = a.engine.threads;
  std::mutex search_mutex;  // tiles are reported from worker threads
  msinr::SearchStatus search;
  std::size_t fit_done = 0, fit_tiles = 0;
  std::string detail;
  auto show = [&] {  // with search_mutex held
    const std::size_t fits = static_cast<std::size_t>(std::max(search.fits_max, 1));
    on_tiles(static_cast<std::size_t>(search.fits_done) * fit_tiles + fit_done, fits * fit_tiles, detail);
  };
  if (on_tiles)
    o.progress = [&](std::size_t done, std::size_t total) {
      std::lock_guard<std::mutex> lock(search_mutex);
      fit_done = done;
      fit_tiles = total;
      show();
      return true;
    };
  const bool searching = o.target_bpp > 0 || o.target_psnr > 0;
  if (on_tiles && searching)
    o.search = [&](const msinr::SearchStatus& s) {
      std::lock_guard<std::mutex> lock(search_mutex);
      if (s.fits_done != search.fits_done) fit_done = 0;  // a fit finished: its tiles are in fits_done now
      search = s;
      detail = search_detail(s, static_cast<double>(image.width) * image.height);
      show();
    };
  if (!a.quiet && searching)
    o.log = [&](const std::string& line) { note("msinr: " + in_name + ": " + line); };
  const msinr::EncodeResult r = msinr::Encoder(model, o).encode(image);
  const bool keep = r.target_met || a.best_effort;
  if (!r.target_met) {
    const double got_bpp = static_cast<double>(r.bytes.size()) * 8.0 / (static_cast<double>(image.width) * image.height);
    char buf[256];
    std::snprintf(buf, sizeof buf, "target not met: %s; the closest is %.3f bpp at %.2f dB (level %d)%s",
                  o.target_bpp > 0 ? ("no file fits " + std::to_string(o.target_bpp).substr(0, 6) + " bpp").c_str()
                                   : ("no level reaches " + std::to_string(o.target_psnr).substr(0, 6) + " dB").c_str(),
                  got_bpp, r.psnr, r.level, keep ? ", written (--best-effort)" : "; nothing written (--best-effort keeps it)");
    note("msinr: " + in_name + ": " + buf);
    // A merged edge caps the densest level's quality a little (one network over more pixels).
    if (o.target_psnr > 0 && msinr::read_info(r.bytes.data(), r.bytes.size(), in_name).merged_edges)
      note("msinr: " + in_name + ": its thin edges were merged into their neighbours; --edge-tiles grid reaches "
           "higher quality, at many more bits");
  }
  if (!keep) {
  } else if (is_stdio(output)) {
    if (std::fwrite(r.bytes.data(), 1, r.bytes.size(), stdout) != r.bytes.size() || std::fflush(stdout) != 0)
      throw Error(ErrorCode::kIo, "cannot write to standard output: " + std::string(std::strerror(errno)));
  } else {
    msinr::write_file(output, r.bytes);
  }
  // Quality is measured on what a decoder will really produce from these bytes (at any size the
  // encoder took: no decode pixel limit).
  msinr::DecodeOptions native;
  native.max_pixels = 0;
  const msinr::Image back = msinr::Decoder(model).decode(r.bytes, native);
  const double psnr = msinr::psnr(back, image);
  const double ssim = std::min(image.width, image.height) >= 11 ? msinr::ssim(back, image) : -1.0;
  const double pixels = static_cast<double>(image.width) * image.height;
  const double bpp = static_cast<double>(r.bytes.size()) * 8.0 / pixels;
  Encoded e{r.bytes.size(), pixels, psnr, r.seconds, r.target_met, keep, {}};
  if (a.json) {
    JsonLine j;
    j.add("input", input).add("output", output).add("width", image.width).add("height", image.height);
    j.add("bytes", r.bytes.size()).add("bpp", bpp).add("psnr", psnr).add("ssim", ssim).add("fit_psnr", r.fit_psnr);
    j.add("lr", static_cast<double>(r.lr)).add("payload", r.payload).add("target_met", r.target_met).add("written", keep);
    j.add("level", r.level).add("tiles", r.tiles).add("values_per_tile", r.values_per_tile).add("steps", o.steps);
    j.add("seconds", r.seconds).add("device", r.device).add("model", model.id());
    e.report = j.str();
  } else if (!a.quiet) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%dx%d, %zu bytes, %.3f bpp, PSNR %.2f dB, SSIM %.4f (level %d, %zu tiles, %.1f s)",
                  image.width, image.height, r.bytes.size(), bpp, psnr, ssim, r.level, r.tiles, r.seconds);
    // A missed target without --best-effort writes nothing: say so rather than name the output.
    e.report = in_name + (keep ? " -> " + out_name : " (not written)") + ": " + buf;
  }
  return e;
}

void print_report(const std::string& report, std::FILE* to) {
  if (report.empty()) return;
  std::fprintf(to, "%s\n", report.c_str());
  std::fflush(to);
}

// A batch's messages between processes: fields as LENGTH:BYTES, so any text (an error message with
// newlines, a file name with colons) travels unchanged, and numbers as text, exact for doubles.
void put(std::string& to, const std::string& field) {
  to += std::to_string(field.size());
  to += ':';
  to += field;
}
void put(std::string& to, double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  put(to, std::string(buf));
}
std::string take(const std::string& from, std::size_t& at) {
  const std::size_t colon = from.find(':', at);
  if (colon == std::string::npos || colon == at) throw Error(ErrorCode::kIo, "garbled batch message between processes");
  const std::size_t len = std::stoull(from.substr(at, colon - at));
  if (len > from.size() - colon - 1) throw Error(ErrorCode::kIo, "garbled batch message between processes");
  at = colon + 1 + len;
  return from.substr(colon + 1, len);
}
double take_number(const std::string& from, std::size_t& at) { return std::stod(take(from, at)); }

// An image of a batch still to encode, and where it goes.
struct BatchJob {
  std::string input, output;
};

// What became of one image, as the process that encoded it saw it; rank 0 prints and counts these
// in input order, so N processes print what one does.
struct BatchResult {
  bool ok = false;    // encode_one returned (a missed target may still have left it unwritten)
  std::string error;  // else why not
  std::string notes;  // the image's stderr lines, each ending in a newline
  Encoded e;
};

std::string pack_result(std::size_t job, const BatchResult& r) {
  std::string m;
  put(m, static_cast<double>(job));
  put(m, r.ok ? 1.0 : 0.0);
  put(m, r.error);
  put(m, r.notes);
  put(m, static_cast<double>(r.e.bytes));
  put(m, r.e.pixels);
  put(m, r.e.psnr);
  put(m, r.e.seconds);
  put(m, r.e.target_met ? 1.0 : 0.0);
  put(m, r.e.written ? 1.0 : 0.0);
  put(m, r.e.report);
  return m;
}

BatchResult unpack_result(const std::string& m, std::size_t& job) {
  std::size_t at = 0;
  BatchResult r;
  job = static_cast<std::size_t>(take_number(m, at));
  r.ok = take_number(m, at) != 0.0;
  r.error = take(m, at);
  r.notes = take(m, at);
  r.e.bytes = static_cast<std::size_t>(take_number(m, at));
  r.e.pixels = take_number(m, at);
  r.e.psnr = take_number(m, at);
  r.e.seconds = take_number(m, at);
  r.e.target_met = take_number(m, at) != 0.0;
  r.e.written = take_number(m, at) != 0.0;
  r.e.report = take(m, at);
  return r;
}

// Whether an earlier run finished `output`: "" when it reads back as a whole container (every
// check of the format passes: sizes, the file's and the payload's CRC-32C), else what is wrong with
// it. Outputs are written atomically, so a killed batch leaves finished files and no partial ones;
// this also catches a file damaged or cut short some other way (a copy, a full disk elsewhere).
// A file that is not an msinr image at all is someone else's: refused, not replaced.
std::string damage_of(const std::string& output) {
  const auto bytes = format::read_msinr_file(output);
  if (bytes.size() < format::kContainerMagic.size() ||
      !std::equal(format::kContainerMagic.begin(), format::kContainerMagic.end(), bytes.begin()))
    throw Error(ErrorCode::kInvalidArgument, output + " exists and is not an msinr image; -f replaces it");
  try {
    (void)format::read_container(bytes);
  } catch (const format::FormatError& e) {
    return e.what();
  }
  return "";
}

// Several images into a folder: one line each and a total. Finished outputs are skipped unless -f,
// so a rerun completes an interrupted batch. Under mpirun/srun the processes share the images.
int run_encode_batch(EncodeArgs a, const msinr::Model& model, const std::vector<std::string>& inputs,
                     const std::string& out_dir) {
  namespace fs = std::filesystem;
  Distributed& job = Distributed::get();
  a.engine.threads = job.threads_for(a.engine.threads);
  const std::size_t ranks = static_cast<std::size_t>(job.size()), me = static_cast<std::size_t>(job.rank());
  // Rank 0 alone looks at the output folder and decides what is left to do, so every process
  // works from one list even when their views of the file system lag.
  Progress progress(progress_mode(!job.root() || a.quiet || a.json), "", static_cast<double>(inputs.size()), "images");
  std::vector<BatchJob> jobs;
  std::vector<std::size_t> input_of;  // jobs[k] encodes inputs[input_of[k]]
  std::size_t encoded = 0, skipped = 0, failed = 0, missed = 0, bytes = 0;
  double pixels = 0.0, psnr_sum = 0.0, seconds = 0.0;
  const auto start = std::chrono::steady_clock::now();
  if (job.root()) {
    for (const auto& in : inputs)
      if (is_stdio(in)) throw Error(ErrorCode::kInvalidArgument, "'-' (standard input) cannot be part of a batch");
    std::error_code ec;
    if (!fs::is_directory(out_dir, ec)) {
      fs::create_directories(out_dir, ec);
      if (ec) throw Error(ErrorCode::kIo, "cannot create the output folder " + out_dir + ": " + ec.message());
    }
    // Every output name, decided (and checked for clashes and inputs) before any work.
    std::vector<std::string> outputs;
    for (const auto& in : inputs) {
      const std::string out = (fs::path(out_dir) / fs::path(in).stem()).string() + ".msinr";
      for (std::size_t k = 0; k < outputs.size(); ++k)
        if (outputs[k] == out)
          throw Error(ErrorCode::kInvalidArgument, inputs[k] + " and " + in + " would both be written to " + out +
                                                       "; encode them into different folders");
      outputs.push_back(out);
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      try {
        bool replace = a.force;
        if (!a.force && file_exists(outputs[i])) {
          const std::string damage = damage_of(outputs[i]);
          if (damage.empty()) {
            ++skipped;
            if (!a.quiet && !a.json) progress.note(inputs[i] + ": " + outputs[i] + " exists, skipped (-f encodes it again)");
            continue;
          }
          if (!a.quiet) progress.note("msinr: note: " + outputs[i] + " is incomplete (" + damage + "); encoding it again");
          replace = true;
        }
        check_output(outputs[i], {inputs[i], a.model}, replace);
        jobs.push_back({inputs[i], outputs[i]});
        input_of.push_back(i);
      } catch (const Error& err) {
        progress.finish();
        ++failed;
        std::fprintf(stderr, "msinr: error: %s\n", err.what());
      }
    }
  }
  if (ranks > 1) {
    std::string list;
    for (const auto& j : jobs) {
      put(list, j.input);
      put(list, j.output);
    }
    list = job.broadcast(list);
    if (!job.root()) {
      for (std::size_t at = 0; at < list.size();) {
        BatchJob j;
        j.input = take(list, at);
        j.output = take(list, at);
        jobs.push_back(std::move(j));
      }
      std::error_code ec;
      if (!jobs.empty() && !fs::is_directory(out_dir, ec))
        throw Error(ErrorCode::kIo, "the output folder " + out_dir + " (made by rank 0) is not here: every process "
                                    "writes its images into it, so it must be on a shared file system");
    }
  }

  // Rank 0 keeps every result until those before it are in, then prints and counts them in order.
  std::vector<std::optional<BatchResult>> results(jobs.size());
  std::size_t arrived = 0, printed = 0;
  auto print_ready = [&] {
    for (; printed < jobs.size() && results[printed]; ++printed) {
      const BatchResult r = std::move(*results[printed]);
      results[printed].reset();
      progress.finish();  // the lines stand alone; the bar comes back with the next update
      std::fputs(r.notes.c_str(), stderr);
      if (!r.ok) {
        ++failed;
        std::fprintf(stderr, "msinr: error: %s\n", r.error.c_str());
        continue;
      }
      print_report(r.e.report, stdout);
      if (!r.e.target_met) ++missed;
      if (!r.e.written) continue;
      ++encoded;
      bytes += r.e.bytes;
      pixels += r.e.pixels;
      psnr_sum += r.e.psnr;
      seconds += r.e.seconds;
    }
  };
  auto receive = [&](bool wait) {
    while (auto m = job.receive_at_root(wait)) {
      std::size_t k = 0;
      BatchResult r = unpack_result(*m, k);
      if (k >= results.size() || results[k]) throw Error(ErrorCode::kIo, "a batch result came twice or out of range");
      results[k] = std::move(r);
      ++arrived;
      if (wait) break;
    }
    print_ready();
  };
  const double planned = static_cast<double>(inputs.size() - jobs.size());  // skipped or refused before the work
  // Rank r encodes jobs r, r + N, r + 2N, ...: images in a folder are usually of one size, and a
  // fixed share needs no talk but the results.
  for (std::size_t k = me; k < jobs.size(); k += ranks) {
    BatchResult r;
    const bool immediate = ranks == 1;  // one process: notes at once; several: with the result, in order
    const NoteSink note = [&](const std::string& line) {
      if (immediate) {
        progress.finish();
        std::fprintf(stderr, "%s\n", line.c_str());
      } else {
        r.notes += line + "\n";
      }
    };
    try {
      if (job.root()) {
        progress.set_label("[" + std::to_string(input_of[k] + 1) + "/" + std::to_string(inputs.size()) + "] " +
                           fs::path(jobs[k].input).filename().string());
        progress.update(planned + static_cast<double>(arrived));
      }
      r.e = encode_one(
          a, model, jobs[k].input, jobs[k].output,
          [&](std::size_t done, std::size_t total, const std::string& detail) {
            progress.update(planned + static_cast<double>(arrived) +
                                static_cast<double>(done) / static_cast<double>(std::max<std::size_t>(total, 1)),
                            detail);
          },
          note);
      r.ok = true;
    } catch (const Error& err) {
      r.error = err.what();
    }
    if (job.root()) {
      results[k] = std::move(r);
      ++arrived;
      receive(false);
      progress.update(planned + static_cast<double>(arrived));
    } else {
      job.send_to_root(pack_result(k, r));
    }
  }
  if (!job.root()) {
    job.complete_sends();
    return std::stoi(job.broadcast(""));
  }
  while (arrived < jobs.size()) {
    receive(true);
    progress.update(planned + static_cast<double>(arrived));
  }
  progress.finish();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.json) {
    JsonLine j;
    j.add("kind", "batch").add("images", inputs.size()).add("encoded", encoded).add("skipped", skipped);
    j.add("failed", failed).add("bytes", bytes).add("bpp", pixels > 0 ? bytes * 8.0 / pixels : 0.0);
    j.add("psnr_mean", encoded ? psnr_sum / static_cast<double>(encoded) : 0.0).add("seconds", wall);
    std::printf("%s\n", j.str().c_str());
  } else if (!a.quiet) {
    std::printf("%zu images: %zu encoded, %zu skipped, %zu failed", inputs.size(), encoded, skipped, failed);
    if (encoded)
      std::printf("; %zu bytes, %.3f bpp overall, mean PSNR %.2f dB, %.1f s", bytes, bytes * 8.0 / pixels,
                  psnr_sum / static_cast<double>(encoded), wall);
    std::printf("\n");
  }
  std::fflush(stdout);
  const int code = failed ? 1 : missed && !a.best_effort ? kExitTargetNotMet : 0;
  // Every process exits with rank 0's status, so mpirun's says what happened to the batch.
  if (ranks > 1) job.broadcast(std::to_string(code));
  return code;
}

// --effort sets --steps and --pixel-fraction where they were not given (chosen on validation:
// docs/results.md, "Effort").
void apply_effort(EncodeArgs& a) {
  int steps = 100;
  double fraction = 1.0;
  if (a.effort == "fast") fraction = 0.5;
  if (a.effort == "high") steps = 200, fraction = 0.5;
  if (a.steps_option == nullptr || a.steps_option->count() == 0) a.o.steps = steps;
  if (a.pixel_fraction_option == nullptr || a.pixel_fraction_option->count() == 0) a.o.pixel_fraction = fraction;
}

int run_encode(const EncodeArgs& a) {
  const int choices = (a.o.level >= 0) + (a.quality >= 0) + (a.o.target_bpp > 0) + (a.o.target_psnr > 0);
  if (choices > 1) throw Error(ErrorCode::kInvalidArgument, "choose at most one of --level, -q, --bpp, --psnr");
  // Which positionals are inputs: all of them when -o or --out-dir names the output, else all but the last.
  std::vector<std::string> inputs = a.files;
  std::string output = a.output, out_dir = a.out_dir;
  if (!out_dir.empty() && !output.empty()) throw Error(ErrorCode::kInvalidArgument, "give -o or --out-dir, not both");
  if (out_dir.empty() && output.empty()) {
    if (inputs.size() < 2)
      throw Error(ErrorCode::kInvalidArgument, "no output: give OUT.msinr, -o OUT.msinr (- for standard output) or -o DIR/");
    output = inputs.back();
    inputs.pop_back();
  }
  if (out_dir.empty() && names_a_folder(output)) out_dir = output;
  for (const auto& in : inputs)
    if (const std::string why = existing_path_or_stdin(in); !why.empty()) throw Error(ErrorCode::kIo, why);
  if (!out_dir.empty()) {
    const msinr::Model model = load_model_arg(a.model);
    return run_encode_batch(a, model, expand_inputs(inputs), out_dir);
  }
  // N processes would each encode the one image and race on its output.
  if (launched_processes() > 1)
    throw Error(ErrorCode::kUnsupported, "one image is encoded by one process: under mpirun/srun give a batch (-o DIR/ "
                                         "or --out-dir DIR), whose images the processes share");
  if (inputs.size() != 1)
    throw Error(ErrorCode::kInvalidArgument, std::to_string(inputs.size()) +
                                                 " inputs but one output file: encode several images with -o DIR/ or --out-dir DIR");
  const std::string& input = inputs.front();
  std::error_code ec;
  if (!is_stdio(input) && std::filesystem::is_directory(input, ec))
    throw Error(ErrorCode::kInvalidArgument, input + " is a folder: encode its images with -o DIR/ or --out-dir DIR");
  check_output(output, {input, a.model}, a.force);
  warn_extension(output, {".msinr"}, "an msinr container", a.quiet);
  const msinr::Model model = load_model_arg(a.model);
  Progress progress(progress_mode(a.quiet || a.json), "encode " + display_name(input, false), 0.0, "tiles");
  const Encoded e = encode_one(
      a, model, input, output,
      [&](std::size_t done, std::size_t total, const std::string& detail) {
        progress.set_total(static_cast<double>(total));
        progress.update(static_cast<double>(done), detail);
      },
      [&](const std::string& line) {
        progress.finish();
        std::fprintf(stderr, "%s\n", line.c_str());
      });
  progress.finish();
  print_report(e.report, is_stdio(output) ? stderr : stdout);
  return e.target_met || a.best_effort ? 0 : kExitTargetNotMet;
}

struct DecodeArgs {
  std::string input, output, model;
  int width = 0, height = 0, jpeg_quality = 95;
  double scale = 0.0;
  std::uint64_t max_pixels = msinr::DecodeOptions{}.max_pixels;
  EngineArgs engine;
  bool quiet = false, force = false, grey = false;
};

int run_decode(const DecodeArgs& a) {
  if (a.output.empty()) throw Error(ErrorCode::kInvalidArgument, "no output file (give OUT or -o OUT; - for PNG on standard output)");
  check_output(a.output, {a.input, a.model}, a.force);
  const ImageKind kind = image_kind_for(a.output);
  const bool grey = a.grey || extension_is_grey(a.output);
  if (grey && kind == ImageKind::kPnm && lower_extension(a.output) == ".ppm")
    warn_extension(a.output, {".pgm"}, "greyscale PGM (P5)", a.quiet);
  const std::string in_name = display_name(a.input, false), out_name = display_name(a.output, true);
  const auto bytes = read_msinr_input(a.input);
  const msinr::Info info = msinr::read_info(bytes.data(), bytes.size(), in_name);
  const msinr::Model model = model_for_file(info.model_id, a.model, in_name, a.quiet);
  msinr::DecodeOptions o;
  o.width = a.width;
  o.height = a.height;
  o.scale = a.scale;
  o.threads = a.engine.threads;
  o.max_pixels = a.max_pixels;
  const auto [width, height] = msinr::output_size(info.width, info.height, o);
  // The pixel limit before an output file is even created (decode_rows checks it again).
  if (a.max_pixels != 0 && static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height) > a.max_pixels)
    throw Error(ErrorCode::kLimit, "output size " + std::to_string(width) + "x" + std::to_string(height) +
                                       " is more than the decode limit of " + std::to_string(a.max_pixels) +
                                       " pixels; raise it with --max-pixels");
  // Rows stream to the output as the decoder renders them: memory stays at one tile row of output.
  ImageWriter out(a.output, width, height, grey ? 1 : 3, a.jpeg_quality);
  std::vector<std::uint8_t> grey_row(grey ? static_cast<std::size_t>(width) : 0);
  Progress progress(progress_mode(a.quiet), "decode " + in_name, static_cast<double>(height), "rows");
  msinr::Decoder(model).decode_rows(
      bytes.data(), bytes.size(), o,
      [&](int y, const std::uint8_t* row) {
        if (grey) {
          rgb_to_grey(row, grey_row.data(), static_cast<std::size_t>(width));
          out.write_row(grey_row.data());
        } else {
          out.write_row(row);
        }
        progress.update(y + 1);
      },
      {}, in_name);
  out.finish();
  progress.finish();
  if (!a.quiet)
    std::fprintf(is_stdio(a.output) ? stderr : stdout, "%s -> %s: %dx%d%s\n", in_name.c_str(), out_name.c_str(), width,
                 height, grey ? ", greyscale" : "");
  return 0;
}

struct InfoArgs {
  std::string input;
  bool json = false;
};

int run_info(const InfoArgs& a) {
  const std::string name = display_name(a.input, false);
  const auto bytes = read_msinr_input(a.input);
  if (bytes.size() >= 8 && std::equal(format::kModelMagic.begin(), format::kModelMagic.end(), bytes.begin())) {
    const msinr::ModelInfo m = msinr::Model::from_memory(bytes.data(), bytes.size(), name).info();
    if (a.json) {
      JsonLine j;
      j.add("file", name).add("kind", "model").add("model", m.id).add("tile_size", m.tile_size);
      j.add("network", m.network).add("architecture", m.architecture);
      j.add("width", m.width).add("layers", m.layers).add("w0", m.w0).add("w0_hidden", m.w0_hidden);
      j.add("frozen_biases", m.frozen_biases);
      j.add("levels", m.levels.size()).add("default_level", m.default_level).add("data", m.data);
      j.add("recipe", m.recipe).add("wall_seconds", m.wall_seconds);
      std::printf("%s\n", j.str().c_str());
    } else {
      std::printf("%s: msinr model %s\n  %s, tile %d%s, %zu levels (default %d)\n  data: %s\n  recipe: %s\n  trained %.0f s\n",
                  name.c_str(), m.id.c_str(), m.architecture.c_str(), m.tile_size,
                  m.frozen_biases ? ", biases frozen (tiles send weights only)" : "", m.levels.size(), m.default_level,
                  m.data.c_str(), m.recipe.c_str(), m.wall_seconds);
      for (const auto& l : m.levels)
        std::printf("  level %2d: %6zu weights (%.4f), %zu values per tile, validation PSNR %.2f dB, encoder lr %g\n",
                    l.index, l.weights, l.density, l.values_per_tile, l.val_psnr, l.lr);
    }
    return 0;
  }
  const msinr::Info h = msinr::read_info(bytes.data(), bytes.size(), name);
  if (a.json) {
    JsonLine j;
    j.add("file", name).add("kind", "image").add("width", h.width);
    j.add("height", h.height).add("bytes", h.file_bytes).add("bpp", h.bpp);
    j.add("model", h.model_id).add("level", h.level);
    j.add("tile_size", h.tile_size).add("tiles", h.tiles);
    j.add("tiles_across", h.tiles_across).add("tiles_down", h.tiles_down).add("merged_edges", h.merged_edges);
    j.add("values_per_tile", h.values_per_tile).add("precision", h.payload);
    j.add("steps", h.steps);
    if (!h.tile_levels.empty()) {
      std::string list;
      for (int l : h.tile_levels) list += (list.empty() ? "" : ",") + std::to_string(l);
      j.raw("tile_levels", "[" + list + "]");
    }
    std::printf("%s\n", j.str().c_str());
  } else {
    // Which model decode would use, so a missing one shows before a decode fails.
    std::string where = where_is_model(h.model_id);
    if (where.empty()) where = "not in the model search path: decode needs --model";
    std::string per_tile;
    for (int l : h.tile_levels) per_tile += (per_tile.empty() ? " (tiles at levels " : ", ") + std::to_string(l);
    if (!per_tile.empty()) per_tile += ")";
    std::printf("%s: msinr image %dx%d, %zu bytes, %.3f bpp\n  model %s (%s)\n  level %d%s, %d tiles (%dx%d%s) of %d, %s%d %s values per tile, %d steps\n",
                name.c_str(), h.width, h.height, h.file_bytes, h.bpp, h.model_id.c_str(), where.c_str(), h.level,
                per_tile.c_str(), h.tiles, h.tiles_across, h.tiles_down, h.merged_edges ? ", thin edges merged" : "",
                h.tile_size, h.tile_levels.empty() ? "" : "up to ", h.values_per_tile,
                h.payload.c_str(), h.steps);
  }
  return 0;
}

}  // namespace

Runner add_codec_commands(CLI::App& app, Runner& decode_runner, Runner& info_runner) {
  auto e = std::make_shared<EncodeArgs>();
  CLI::App* enc = app.add_subcommand("encode", "Encode images (PNG/JPEG) into .msinr files");
  enc->footer(
      "Cuts the image into the model's tiles and fits each from the chosen level's meta-learned\n"
      "sparse init (100 Adam steps by default), then quantizes each tile's change from the init with\n"
      "one step per tensor (the coarsest that costs at most --quant-loss dB) and entropy-codes the\n"
      "integers (--bits 16 stores fp16 instead). Prints bytes, bits per pixel, and PSNR/SSIM of the\n"
      "decoded image.\n"
      "Pick the level with one of: --level K, -q QUALITY (100 densest .. 0 sparsest), --bpp B (the\n"
      "densest level that fits), --psnr P (the sparsest level that reaches it; tries several).\n\n"
      "Files: '-' is standard input or output. An existing output is replaced only with -f; an input\n"
      "is never written over. Several inputs, or a folder (its .png/.jpg/.jpeg images), go into a\n"
      "folder given as -o DIR/ or --out-dir DIR as NAME.msinr, one line each and a total; outputs that\n"
      "already exist and read back complete (every checksum verified) are skipped, so a rerun\n"
      "finishes an interrupted batch (-f redoes them). Under mpirun/srun the processes share a\n"
      "batch's images (each writes its own outputs: a shared folder) and rank 0 prints, in input\n"
      "order (docs/distributed.md).\n"
      "On a terminal a progress bar follows the tiles (and the images of a batch); off one, a line\n"
      "every 10 s. A --bpp / --psnr search counts every level fit it may take, so its ETA is an upper\n"
      "bound, and the line says which level and quantizer step scale it is trying\n"
      "(\"level 5, step scale 0.61: 0.987 bpp\").\n\n"
      "Examples:\n  msinr encode photo.png photo.msinr\n  msinr encode photo.jpg -o photo.msinr --bpp 2\n"
      "  msinr encode photo.png photo.msinr -q 80 -f\n"
      "  msinr encode photo.png photo.msinr --psnr 28 --json\n"
      "  cat photo.png | msinr encode - - > photo.msinr\n"
      "  msinr encode *.png -o packed/\n  msinr encode photos/ --out-dir packed -f\n"
      "  mpirun -np 4 msinr encode photos/ -o packed/ --threads 4");
  enc->add_option("input", e->files,
                  "Images to encode ('-': standard input; a folder: its images), then the output when neither -o nor\n"
                  "--out-dir is given")
      ->required();
  enc->add_option("-o,--out", e->output, "Output .msinr file ('-': standard output), or a folder (ending in '/') for a batch");
  enc->add_option("--out-dir", e->out_dir, "Folder to encode every input into (created when missing)");
  enc->add_flag("-f,--force", e->force, "Overwrite existing outputs (never an input)");
  enc->add_option("--model", e->model,
                  "Model file, or the name of one in the model search path (default: the built-in model)");
  enc->add_option("--level", e->o.level, "Model level (pruning round) to use")->check(CLI::NonNegativeNumber);
  enc->add_option("-q,--quality", e->quality, "0..100: 100 the densest level, 0 the sparsest, evenly spaced in the levels' measured validation PSNR")->check(CLI::Range(0, 100));
  enc->add_option("--bpp", e->o.target_bpp, "Target bits per pixel")->check(CLI::PositiveNumber);
  enc->add_option("--psnr", e->o.target_psnr, "Target PSNR in dB")->check(CLI::PositiveNumber);
  e->steps_option = enc->add_option("--steps", e->o.steps, "Adam steps per tile")->capture_default_str()->check(CLI::Range(0, 100000));
  enc->add_option("--lr", e->o.lr, "Adam learning rate (default: the model's rate for the level, measured when it was trained)")
      ->check(CLI::PositiveNumber);
  enc->add_option("--lr-schedule", e->lr_schedule, "Learning rate over the steps: constant or cosine (decays to 0)")
      ->check(CLI::IsMember({"constant", "cosine"}))->capture_default_str();
  enc->add_option("--bits", e->o.bits,
                  "Payload: 0 = quantized, entropy-coded (default; steps chosen per tensor), 16 = fp16 + zstd "
                  "(the original format, version 1)")
      ->check(CLI::IsMember({0, 16}));
  add_tile_levels_option(*enc, e->o.tile_levels);
  add_edge_tiles_option(*enc, e->o.merge_edges);
  enc->add_option("--quant-loss", e->o.quant_loss_db,
                  "Quantized payload: largest PSNR loss in dB quantization may cost against the float fit")
      ->capture_default_str()->check(CLI::Range(0.0, 20.0));
  enc->add_option("--refit-steps", e->o.refit_steps,
                  "Quantized payload: Adam steps of quantization-aware refit after the steps are chosen (0: none)")
      ->capture_default_str()->check(CLI::Range(0, 100000));
  enc->add_option("--refit-lr", e->o.refit_lr, "Refit learning rate (default: the fit's / 300)")
      ->check(CLI::PositiveNumber);
  enc->add_option("--refit-pixel-fraction", e->o.refit_pixel_fraction,
                  "Each refit step on a fresh random subset of this fraction of a tile's pixels")
      ->capture_default_str()->check(CLI::Range(0.001, 1.0));
  e->pixel_fraction_option = enc->add_option("--pixel-fraction", e->o.pixel_fraction,
                  "Each Adam step on a fresh random subset of this fraction of a tile's pixels; a step then costs "
                  "about the fraction, so e.g. --pixel-fraction 0.5 --steps 200 takes the time of 100 full steps")
      ->capture_default_str()->check(CLI::Range(0.001, 1.0));
  add_engine_options(*enc, e->engine);
  enc->add_flag("--best-effort", e->best_effort,
                "When a --bpp / --psnr target cannot be met, write the closest file and exit 0 (default: write "
                "nothing and exit 3)");
  enc->add_option("--max-pixels", e->max_pixels,
                  "Refuse input images with more pixels than this, from their header (0: the format's limit, 2^28)")
      ->capture_default_str();
  enc->add_flag("--quiet", e->quiet, "Print nothing but errors (no progress)");
  enc->add_flag("--json", e->json, "Print one JSON object per image (a batch adds one of kind \"batch\")");

  auto d = std::make_shared<DecodeArgs>();
  CLI::App* dec = app.add_subcommand("decode", "Decode an .msinr file to PNG, PPM or JPEG, at any resolution");
  dec->footer(
      "Renders the stored networks on the output's pixel grid: the native size by default, or any\n"
      "other (--width/--height keep the aspect ratio when only one is given; --scale multiplies).\n"
      "Resizing evaluates the networks on the new grid, with no filter: enlarging is about as good as\n"
      "Lanczos after a native decode, reducing point-samples and aliases (2.4 dB under a native decode\n"
      "reduced by Lanczos: docs/image-io.md). For thumbnails, decode natively and resize.\n"
      "The output's extension picks its format: .png, .ppm (P6), .pgm (P5, grey), .jpg/.jpeg; '-' writes\n"
      "PNG to standard output. --grey writes one grey channel (BT.601 luma). An existing output is\n"
      "replaced only with -f. The model the file was made with is found by its id: the built-in model,\n"
      "else the .msm files in the model search path ($MSINR_MODEL_PATH, colon-separated, then the\n"
      "installed share/msinr/); --model names another.\n\n"
      "Examples:\n  msinr decode photo.msinr photo.png\n  msinr decode photo.msinr big.png --scale 2\n"
      "  msinr decode photo.msinr thumb.jpg --width 256\n  msinr decode scan.msinr scan.pgm\n"
      "  msinr decode - - --grey < photo.msinr > grey.png\n"
      "  MSINR_MODEL_PATH=~/models msinr decode face.msinr face.png");
  dec->add_option("input", d->input, ".msinr file ('-': standard input)")->required()->check(
      CLI::Validator(existing_file_or_stdin, "FILE"));
  dec->add_option("output", d->output, "Output .png, .ppm, .pgm or .jpg ('-': PNG on standard output)");
  dec->add_option("-o,--out", d->output, "Output (alternative to the positional)");
  dec->add_flag("-f,--force", d->force, "Overwrite an existing output (never the input)");
  dec->add_option("--model", d->model,
                  "Model file or name (default: the one the file cites, looked up in the built-in model and the search path)");
  dec->add_option("--width", d->width, "Output width")->check(CLI::Range(1, 32768));
  dec->add_option("--height", d->height, "Output height")->check(CLI::Range(1, 32768));
  dec->add_option("--scale", d->scale, "Output scale factor")->check(CLI::Range(1e-4, 64.0));
  dec->add_option("--max-pixels", d->max_pixels,
                  "Refuse to render more pixels than this (output, and the file's native size); 0: the format's limit, 2^28")
      ->capture_default_str();
  dec->add_flag("--grey,--gray", d->grey, "Write greyscale (one channel: BT.601 luma of the decoded colour)");
  dec->add_option("--jpeg-quality", d->jpeg_quality, "Quality of a .jpg output")->capture_default_str()->check(CLI::Range(1, 100));
  add_engine_options(*dec, d->engine);
  dec->add_flag("--quiet", d->quiet, "Print nothing but errors (no progress)");

  auto i = std::make_shared<InfoArgs>();
  CLI::App* inf = app.add_subcommand("info", "Describe an .msinr image or an .msm model file");
  inf->footer("For an image, also says which model decode would use.\n\n"
              "Examples:\n  msinr info photo.msinr\n  msinr info faces.msm --json\n  curl -s URL | msinr info -");
  inf->add_option("file", i->input, "File ('-': standard input)")->required()->check(CLI::Validator(existing_file_or_stdin, "FILE"));
  inf->add_flag("--json", i->json, "Print one JSON object");

  decode_runner = [d] { return run_decode(*d); };
  info_runner = [i] { return run_info(*i); };
  enc->add_option("--effort", e->effort,
                  "Encoder effort, a preset of --steps and --pixel-fraction (either given explicitly wins): "
                  "fast = 100 steps on half of each tile's pixels (about 0.65x the CPU time; -0.4 to -0.7 dB on "
                  "validation), default = 100 steps on every pixel, high = 200 steps on half the pixels (+0.7 dB "
                  "at about the same bits, about 1.07x the CPU time)")
      ->capture_default_str()->check(CLI::IsMember({"fast", "default", "high"}));
  return [e] {
    apply_effort(*e);
    return run_encode(*e);
  };
}

}  // namespace msinr::cli
