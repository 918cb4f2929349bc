// End-to-end tests of the command line's habits: what it refuses to overwrite, how it treats
// links, devices, long names and signals, standard input and output, batches, flags, progress and
// the model search path. Real processes, real files, exit codes.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "codec/image.hpp"
#include "imageio/image_io.hpp"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;  // what the shell command wrote to its stdout
};

// Runs `msinr ARGS` through the shell, exactly as written (redirections included); stdout is
// captured. run() adds 2>&1 so errors are captured too.
Run shell(const std::string& cmd) {
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}
Run sh(const std::string& args) { return shell(std::string(MSINR_CLI) + " " + args); }
Run run(const std::string& args) { return sh(args + " 2>&1"); }

bool has(const Run& r, const std::string& s) { return r.out.find(s) != std::string::npos; }

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("msinr-cli-files-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  // Names in the folder (not recursive), sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(path)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
};

std::string make_png(const std::string& path, int w, int h, int seed = 0) {
  msinr::codec::Image im = msinr::codec::make_image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        im.pixels[(static_cast<std::size_t>(y) * w + x) * 3 + c] =
            static_cast<std::uint8_t>(127 + 100 * std::sin(0.2 * x * (seed + 1) + 0.3 * y + c));
  msinr::codec::write_png(im, path);
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

bool no_temporaries(const TempDir& dir) {
  for (const auto& name : dir.entries())
    if (name.find(".tmp.") != std::string::npos) return false;
  return true;
}

// Encodes quickly with the built-in model (1 Adam step per tile).
const char* kFast = " --steps 1 --quiet";

}  // namespace

TEST_CASE("never destroy a file by surprise: existing outputs need -f, inputs are never written over") {
  TempDir dir;
  const std::string in = make_png(dir / "a.png", 24, 20);
  const std::string other = make_png(dir / "b.png", 24, 20, 1);
  const std::string before = slurp(other);
  // encode a.png b.png: b.png exists, so nothing happens without -f.
  Run r = run("encode " + in + " " + other + kFast);
  CHECK(r.code == 1);
  CHECK(has(r, "b.png exists; pass -f (--force) to overwrite it"));
  CHECK(slurp(other) == before);
  // The same file as input and output is refused even with -f: by name, hard link or symbolic link.
  r = run("encode " + in + " " + in + " -f" + kFast);
  CHECK(r.code == 1);
  CHECK(has(r, "never writes over an input"));
  fs::create_hard_link(in, dir / "hard.msinr");
  r = run("encode " + in + " " + (dir / "hard.msinr") + " -f" + kFast);
  CHECK(r.code == 1);
  CHECK(has(r, "is the same file as the input"));
  fs::create_symlink("a.png", dir / "soft.msinr");
  r = run("encode " + in + " " + (dir / "soft.msinr") + " -f" + kFast);
  CHECK(r.code == 1);
  CHECK(has(r, "never writes over an input"));
  CHECK(msinr::codec::read_image(in).width == 24);  // still the image
  // A name that does not match what is written gets a warning (and is written: it did not exist).
  r = run("encode " + in + " " + (dir / "new.png") + " --steps 1");
  CHECK(r.code == 0);
  CHECK(has(r, "warning: " + (dir / "new.png") + ": writing an msinr container, but the name ends in .png"));
  // With -f an existing output is replaced.
  const std::string packed = dir / "a.msinr";
  REQUIRE(run("encode " + in + " " + packed + kFast).code == 0);
  r = run("encode " + in + " " + packed + kFast);
  CHECK(r.code == 1);
  CHECK(run("encode " + in + " " + packed + " -f" + kFast).code == 0);
  // decode: the model file and the input are inputs too.
  fs::create_hard_link(packed, dir / "same-as-packed.png");
  r = run("decode " + packed + " " + (dir / "same-as-packed.png") + " -f");
  CHECK(r.code == 1);
  CHECK(has(r, "never writes over an input"));
  const std::string png = dir / "a-decoded.png";
  REQUIRE(run("decode " + packed + " " + png).code == 0);
  r = run("decode " + packed + " " + png);
  CHECK(r.code == 1);
  CHECK(has(r, "exists; pass -f"));
  CHECK(run("decode " + packed + " " + png + " -f --quiet").code == 0);
  // fit and train refuse existing outputs the same way.
  r = run("fit " + in + " -o " + png + " --steps 1");
  CHECK(r.code == 1);
  CHECK(has(r, "exists; pass -f"));
  CHECK(run("fit " + in + " -o " + png + " --steps 1 -f --quiet").code == 0);
  r = run("fit " + in + " -o " + in + " --steps 1 -f");
  CHECK(r.code == 1);
  CHECK(has(r, "never writes over an input"));
  spit(dir / "m.msm", "not yet a model");
  r = run("train --data " + dir.path.string() + " --crop 16 --out " + (dir / "m.msm"));
  CHECK(r.code == 1);
  CHECK(has(r, "exists; pass -f"));
  CHECK(no_temporaries(dir));
}

TEST_CASE("output paths: devices and fifos refused, symbolic links written through, modes kept, long names work") {
  TempDir dir;
  const std::string in = make_png(dir / "a.png", 24, 20);
  const std::string packed = dir / "a.msinr";
  REQUIRE(run("encode " + in + " " + packed + kFast).code == 0);
  // A device node is never replaced by a regular file, even with -f (standard output is '-').
  Run r = run("encode " + in + " -o /dev/null -f" + kFast);
  CHECK(r.code == 1);
  CHECK(has(r, "it is a character device"));
  struct stat st {};
  REQUIRE(::stat("/dev/null", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  REQUIRE(::mkfifo((dir / "fifo.png").c_str(), 0600) == 0);
  r = run("decode " + packed + " " + (dir / "fifo.png") + " -f");
  CHECK(r.code == 1);
  CHECK(has(r, "it is a fifo"));
  REQUIRE(::lstat((dir / "fifo.png").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  fs::remove(dir / "fifo.png");

  // A symbolic link is written through: its target is replaced, the link stays a link.
  fs::create_directory(dir / "real");
  spit(dir / "real/out.png", "old");
  fs::create_symlink("real/out.png", dir / "link.png");
  r = run("decode " + packed + " " + (dir / "link.png"));
  CHECK(r.code == 1);  // the target exists: -f needed
  REQUIRE(run("decode " + packed + " " + (dir / "link.png") + " -f --quiet").code == 0);
  CHECK(fs::is_symlink(dir / "link.png"));
  CHECK(msinr::codec::read_image(dir / "real/out.png").width == 24);
  // A dangling link creates its target.
  fs::create_symlink("real/new.png", dir / "dangling.png");
  REQUIRE(run("decode " + packed + " " + (dir / "dangling.png") + " --quiet").code == 0);
  CHECK(fs::is_symlink(dir / "dangling.png"));
  CHECK(msinr::codec::read_image(dir / "real/new.png").height == 20);

  // The mode of a replaced file is kept; a new file gets 0666 & ~umask.
  const std::string secret = dir / "secret.png";
  spit(secret, "old");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  REQUIRE(run("decode " + packed + " " + secret + " -f --quiet").code == 0);
  CHECK(fs::status(secret).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(msinr::codec::read_image(secret).width == 24);
  spit(dir / "m.msinr", "");
  fs::permissions(dir / "m.msinr", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  REQUIRE(run("encode " + in + " " + (dir / "m.msinr") + " -f" + kFast).code == 0);
  CHECK(fs::status(dir / "m.msinr").permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));

  // A 246-character name (the temporary's name would pass NAME_MAX if it were not shortened).
  const std::string long_name = std::string(242, 'x') + ".png";
  REQUIRE(long_name.size() == 246);
  r = run("decode " + packed + " " + (dir / long_name));
  CHECK(r.code == 0);
  CHECK(msinr::codec::read_image(dir / long_name).width == 24);
  const std::string long_packed = std::string(240, 'y') + ".msinr";
  CHECK(run("encode " + in + " " + (dir / long_packed) + kFast).code == 0);
  CHECK(fs::file_size(dir / long_packed) > 0);
  CHECK(no_temporaries(dir));
}

TEST_CASE("'-' is standard input and output for encode, decode and info, and decode to standard output is PNG") {
  TempDir dir;
  const std::string in = make_png(dir / "a.png", 24, 20);
  Run r = sh("encode - - --steps 1 < " + in + " > " + (dir / "a.msinr") + " 2> " + (dir / "err.txt"));
  REQUIRE(r.code == 0);
  CHECK(slurp(dir / "a.msinr").substr(1, 5) == "MSINR");
  // The summary went to stderr, not into the data.
  CHECK(slurp(dir / "err.txt").find("(stdin) -> (stdout): 24x20") != std::string::npos);
  r = sh("info - < " + (dir / "a.msinr"));
  REQUIRE(r.code == 0);
  CHECK(has(r, "(stdin): msinr image 24x20"));
  CHECK(has(r, "the built-in model"));
  r = sh("decode - - < " + (dir / "a.msinr") + " > " + (dir / "out.png") + " 2>/dev/null");
  REQUIRE(r.code == 0);
  const auto back = msinr::codec::read_image(dir / "out.png");
  CHECK(back.width == 24);
  CHECK(back.source.format == msinr::codec::ImageFormat::kPng);
  // Through a pipe, end to end.
  r = sh("encode " + in + " - --steps 1 --quiet | " + std::string(MSINR_CLI) + " decode - - --grey --quiet > " + (dir / "grey.png"));
  REQUIRE(r.code == 0);
  CHECK(msinr::codec::read_image(dir / "grey.png").source.channels == 1);
  // Damaged data on standard input: an error, exit 1.
  r = sh("decode - " + (dir / "x.png") + " < " + in + " 2>&1");
  CHECK(r.code == 1);
  CHECK(has(r, "(stdin)"));
  CHECK_FALSE(fs::exists(dir / "x.png"));
}

TEST_CASE("decode writes PNG, PPM, PGM or JPEG by extension, and greyscale on request") {
  TempDir dir;
  const std::string in = make_png(dir / "a.png", 24, 20);
  const std::string packed = dir / "a.msinr";
  REQUIRE(run("encode " + in + " " + packed + kFast).code == 0);
  REQUIRE(run("decode " + packed + " " + (dir / "a.ppm") + " --quiet").code == 0);
  const std::string ppm = slurp(dir / "a.ppm");
  CHECK(ppm.rfind("P6\n24 20\n255\n", 0) == 0);
  CHECK(ppm.size() == 13 + 24 * 20 * 3);
  REQUIRE(run("decode " + packed + " " + (dir / "a.pgm") + " --quiet").code == 0);
  const std::string pgm = slurp(dir / "a.pgm");
  CHECK(pgm.rfind("P5\n24 20\n255\n", 0) == 0);
  CHECK(pgm.size() == 13 + 24 * 20);
  // The grey PNG is the luma of the colour one.
  REQUIRE(run("decode " + packed + " " + (dir / "c.png") + " --quiet").code == 0);
  Run r = run("decode " + packed + " " + (dir / "g.png") + " --grey");
  REQUIRE(r.code == 0);
  CHECK(has(r, "greyscale"));
  const auto colour = msinr::codec::read_image(dir / "c.png");
  const auto grey = msinr::codec::read_image(dir / "g.png");
  CHECK(grey.source.channels == 1);
  for (std::size_t i = 0; i < 24 * 20; ++i) {
    const unsigned y = (299u * colour.pixels[3 * i] + 587u * colour.pixels[3 * i + 1] + 114u * colour.pixels[3 * i + 2] + 500u) / 1000u;
    REQUIRE(grey.pixels[3 * i] == y);
  }
  CHECK(std::string(pgm.begin() + 13, pgm.end()) ==
        [&] { std::string s; for (std::size_t i = 0; i < 24 * 20; ++i) s += static_cast<char>(grey.pixels[3 * i]); return s; }());
  REQUIRE(run("decode " + packed + " " + (dir / "a.jpg") + " --quiet").code == 0);
  CHECK(msinr::codec::read_image(dir / "a.jpg").source.format == msinr::codec::ImageFormat::kJpeg);
  REQUIRE(run("decode " + packed + " " + (dir / "g.jpeg") + " --gray --quiet").code == 0);
  CHECK(msinr::codec::read_image(dir / "g.jpeg").source.channels == 1);
  r = run("decode " + packed + " " + (dir / "g.ppm") + " --grey");
  CHECK(r.code == 0);
  CHECK(has(r, "warning"));  // P5 data in a .ppm name
  r = run("decode " + packed + " " + (dir / "a.bmp"));
  CHECK(r.code == 1);
  CHECK(has(r, ".png, .ppm, .pgm, .jpg or .jpeg"));
  CHECK_FALSE(fs::exists(dir / "a.bmp"));
  CHECK(no_temporaries(dir));
}

TEST_CASE("batches: several inputs or a folder into -o DIR/ or --out-dir, one line each and a total, reruns skip") {
  TempDir dir;
  fs::create_directory(dir / "imgs");
  make_png(dir / "imgs/a.png", 20, 16, 0);
  make_png(dir / "imgs/b.png", 18, 22, 1);
  make_png(dir / "imgs/c.png", 16, 16, 2);
  spit(dir / "imgs/notes.txt", "not an image");
  Run r = run("encode " + (dir / "imgs/a.png") + " " + (dir / "imgs/b.png") + " -o " + (dir / "out") + "/ --steps 1");
  REQUIRE(r.code == 0);
  CHECK(has(r, "imgs/a.png -> " + (dir / "out/a.msinr") + ": 20x16"));
  CHECK(has(r, "imgs/b.png -> " + (dir / "out/b.msinr") + ": 18x22"));
  CHECK(has(r, "2 images: 2 encoded, 0 skipped, 0 failed;"));
  // A folder as input: its images (c.png is new; a and b are finished and skipped).
  r = run("encode " + (dir / "imgs") + " --out-dir " + (dir / "out") + " --steps 1");
  REQUIRE(r.code == 0);
  CHECK(has(r, "3 images: 1 encoded, 2 skipped, 0 failed;"));
  CHECK(has(r, "a.msinr exists, skipped"));
  CHECK(fs::exists(dir / "out/c.msinr"));
  // -f encodes them all again; JSON gives one object per image and a total.
  r = sh("encode " + (dir / "imgs") + " -o " + (dir / "out") + " -f --steps 1 --json");
  REQUIRE(r.code == 0);
  CHECK(has(r, "\"output\": \"" + (dir / "out/b.msinr") + "\""));
  CHECK(has(r, "\"kind\": \"batch\", \"images\": 3, \"encoded\": 3, \"skipped\": 0, \"failed\": 0"));
  // Batch outputs are atomic: nothing half-written, and every output decodes.
  for (const char* name : {"a", "b", "c"})
    CHECK(run("decode " + (dir / ("out/" + std::string(name) + ".msinr")) + " " + (dir / (std::string(name) + ".png")) + " --quiet").code == 0);
  // A rerun skips only outputs that read back complete: one cut short is encoded again; a file
  // there that is not an msinr image is someone else's and stays (that image fails).
  const auto whole = fs::file_size(dir / "out/b.msinr");
  fs::resize_file(dir / "out/b.msinr", whole - 7);
  spit(dir / "out/c.msinr", "not msinr");
  r = run("encode " + (dir / "imgs") + " -o " + (dir / "out") + "/ --steps 1");
  CHECK(r.code == 1);
  CHECK(has(r, "b.msinr is incomplete"));
  CHECK(has(r, "c.msinr exists and is not an msinr image; -f replaces it"));
  CHECK(has(r, "3 images: 1 encoded, 1 skipped, 1 failed"));
  CHECK(fs::file_size(dir / "out/b.msinr") == whole);
  CHECK(slurp(dir / "out/c.msinr") == "not msinr");
  fs::remove(dir / "out/c.msinr");
  REQUIRE(run("encode " + (dir / "imgs") + " -o " + (dir / "out") + "/ --steps 1").code == 0);
  // A failure does not stop the batch, but the exit code says it happened.
  spit(dir / "imgs/d.png", "not a png");
  r = run("encode " + (dir / "imgs") + " -o " + (dir / "out") + "/ --steps 1");
  CHECK(r.code == 1);
  CHECK(has(r, "4 images: 0 encoded, 3 skipped, 1 failed"));
  CHECK(has(r, "msinr: error: " + (dir / "imgs/d.png")));
  CHECK_FALSE(fs::exists(dir / "out/d.msinr"));
  // Two inputs that would land on one output are refused before any work.
  fs::create_directory(dir / "other");
  make_png(dir / "other/a.png", 16, 16);
  r = run("encode " + (dir / "imgs/a.png") + " " + (dir / "other/a.png") + " -o " + (dir / "out2") + "/ --steps 1");
  CHECK(r.code == 1);
  CHECK(has(r, "would both be written to"));
  // Several inputs need a folder; a folder needs -o DIR/.
  r = run("encode " + (dir / "imgs/a.png") + " " + (dir / "imgs/b.png") + " -o " + (dir / "x.msinr") + " --steps 1");
  CHECK(r.code == 1);
  CHECK(has(r, "-o DIR/ or --out-dir DIR"));
  r = run("encode " + (dir / "imgs") + " --steps 1");
  CHECK(r.code == 1);
  CHECK(no_temporaries(dir));
}

TEST_CASE("one meaning per flag: -q is quality, --quiet is quiet, and eval defaults to the built-in model") {
  TempDir dir;
  const std::string in = make_png(dir / "a.png", 24, 20);
  REQUIRE(run("encode " + in + " " + (dir / "dense.msinr") + " -q 100" + kFast).code == 0);
  REQUIRE(run("encode " + in + " " + (dir / "sparse.msinr") + " -q 0" + kFast).code == 0);
  // -q picks the level: 100 the densest, 0 the sparsest (on a 24x20 image the files' sizes need not
  // follow: the quantizer's step is chosen per file).
  const Run dense = run("info " + (dir / "dense.msinr") + " --json"), sparse = run("info " + (dir / "sparse.msinr") + " --json");
  CHECK(dense.out.find("\"level\": 0,") != std::string::npos);
  CHECK(sparse.out.find("\"level\": 0,") == std::string::npos);
  // fit and train have no quality: -q is a usage error there, not "quiet".
  Run r = run("fit " + in + " -o " + (dir / "r.png") + " -q");
  CHECK(r.code == 2);
  r = run("train --data " + dir.path.string() + " -o " + (dir / "m.msm") + " -q");
  CHECK(r.code == 2);
  r = run("fit " + in + " -o " + (dir / "r.png") + " --steps 2 --quiet");
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  // --quiet: nothing at all, not even progress.
  r = run("encode " + in + " " + (dir / "q.msinr") + " --steps 1 --quiet");
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  // Off a terminal there is no bar (no carriage returns), only the summary.
  r = run("encode " + in + " " + (dir / "p.msinr") + " --steps 1");
  CHECK(r.code == 0);
  CHECK(r.out.find('\r') == std::string::npos);
  CHECK(has(r, " -> "));
  // eval with no --model: the built-in one, as encode.
  fs::create_directory(dir / "data");
  make_png(dir / "data/x.png", 200, 200);
  r = run("eval --data " + (dir / "data") + " --count 1 --steps 1 --levels 0 --json");
  CHECK(r.code == 0);
  CHECK(has(r, "\"model\": \"built-in\""));
  CHECK(has(r, "\"level\": 0"));
}

TEST_CASE("errors say what to do: decode finds the model a file cites on the model search path") {
  TempDir dir;
  fs::create_directory(dir / "data");
  for (int k = 0; k < 3; ++k) make_png(dir / ("data/i" + std::to_string(k) + ".png"), 16, 16, k);
  fs::create_directory(dir / "models");
  const std::string model = dir / "models/tiny.msm";
  REQUIRE(run("train --data " + (dir / "data") + " --crop 16 --width 16 --layers 2 --w0 30 --dense-steps 2 --rounds 1 "
              "--round-steps 1 --outer-lr 1e-4 --quiet --out " + model).code == 0);
  const std::string in = make_png(dir / "a.png", 20, 18);
  const std::string packed = dir / "a.msinr";
  REQUIRE(run("encode " + in + " " + packed + " --model " + model + " --steps 2 --quiet").code == 0);
  // Not the built-in model, and not on the search path: the error names the id and where it looked.
  Run r = run("decode " + packed + " " + (dir / "x.png"));
  CHECK(r.code == 1);
  CHECK(has(r, "was encoded with model "));
  CHECK(has(r, "MSINR_MODEL_PATH"));
  CHECK(has(r, "--model FILE.msm"));
  CHECK_FALSE(fs::exists(dir / "x.png"));
  r = run("info " + packed);
  CHECK(has(r, "not in the model search path"));
  // On MSINR_MODEL_PATH it is found by id: no --model needed.
  const std::string env = "MSINR_MODEL_PATH=/nonexistent:" + (dir / "models") + " ";
  r = shell(env + std::string(MSINR_CLI) + " decode " + packed + " " + (dir / "x.png") + " 2>&1");
  CHECK(r.code == 0);
  CHECK(has(r, "using " + model));
  CHECK(msinr::codec::read_image(dir / "x.png").width == 20);
  r = shell(env + std::string(MSINR_CLI) + " info " + packed);
  CHECK(has(r, model));
  // --model takes a name from the search path too.
  r = shell(env + std::string(MSINR_CLI) + " encode " + in + " " + (dir / "b.msinr") + " --model tiny --steps 1 --quiet 2>&1");
  CHECK(r.code == 0);
  // The wrong model given: the error says which one the file needs, and where it is.
  r = shell(env + std::string(MSINR_CLI) + " decode " + packed + " " + (dir / "y.png") + " --model natural 2>&1");
  CHECK(r.code == 1);
  CHECK(has(r, "that model is " + model));
  r = run("decode " + packed + " " + (dir / "y.png") + " --model natural");
  CHECK(r.code == 1);
  CHECK(has(r, "no model with that id is in the model search path"));
  r = run("encode " + in + " " + (dir / "c.msinr") + " --model no-such-model");
  CHECK(r.code == 1);
  CHECK(has(r, "no model file no-such-model"));
}

namespace {

// Starts msinr ARGS (no shell) with default signal dispositions, stdout/stderr to /dev/null.
pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGINT, SIG_DFL);  // a background ctest may have SIGINT ignored; the child must not
    ::signal(SIGTERM, SIG_DFL);
    FILE* null = std::fopen("/dev/null", "w");
    if (null) {
      ::dup2(fileno(null), 1);
      ::dup2(fileno(null), 2);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(MSINR_CLI));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(MSINR_CLI, argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits up to `seconds` for a temporary file to appear in `dir`.
bool wait_for_temporary(const TempDir& dir, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (!no_temporaries(dir)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

TEST_CASE("SIGINT and SIGTERM remove the temporary file of an unfinished output, then kill as the signal does") {
  TempDir dir;
  const std::string in = make_png(dir / "a.png", 24, 24);
  const std::string packed = dir / "a.msinr";
  REQUIRE(run("encode " + in + " " + packed + kFast).code == 0);
  for (const int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    // A big render streams its rows into a temporary file for tens of seconds.
    const std::string out = dir / "big.png";
    // 12000x12000 is above the default decode limit of 2^27 pixels: raised explicitly.
    const pid_t pid = spawn({"decode", packed, out, "--width", "12000", "--max-pixels", "0"});
    const bool started = wait_for_temporary(dir, 60.0);
    CHECK(started);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // some rows are written
    REQUIRE(::kill(pid, sig) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == sig);
    CHECK(no_temporaries(dir));
    CHECK_FALSE(fs::exists(out));
  }
  // An interrupted encode leaves nothing either.
  const pid_t pid = spawn({"encode", in, dir / "b.msinr", "--steps", "100000"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(::kill(pid, SIGINT) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(no_temporaries(dir));
  CHECK_FALSE(fs::exists(dir / "b.msinr"));
}

TEST_CASE("endless and oversized inputs are refused early (issue 16)") {
  TempDir dir;
  // /dev/zero is read 14 bytes deep, not to 4 GiB: a quick clear error.
  for (const std::string& cmd : {std::string("info /dev/zero"), "decode /dev/zero " + (dir / "z.png"),
                                std::string("info - < /dev/zero")}) {
    CAPTURE(cmd);
    const auto t0 = std::chrono::steady_clock::now();
    Run r = run(cmd);
    CHECK(r.code != 0);
    CHECK(has(r, "not an msinr"));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
  }
  Run r = run("decode " + (dir / "x.msinr") + " " + (dir / "y.png") + " --model /dev/zero");
  CHECK(r.code != 0);
  const std::string in = make_png(dir / "a.png", 24, 24);
  const std::string packed = dir / "a.msinr";
  REQUIRE(run("encode " + in + " " + packed + kFast).code == 0);
  r = run("decode " + packed + " " + (dir / "big.png") + " --model /dev/zero");
  CHECK(r.code != 0);
  CHECK(has(r, "not an msinr model"));
  // The default pixel limit (2^27) for decode output, with the file named nowhere near it.
  r = run("decode " + packed + " " + (dir / "big.png") + " --width 16384 --height 16384");
  CHECK(r.code != 0);
  CHECK(has(r, "--max-pixels"));
  CHECK_FALSE(fs::exists(dir / "big.png"));
  CHECK(no_temporaries(dir));
  r = run("decode " + packed + " " + (dir / "small.png") + " --width 48 --max-pixels 2304");
  CHECK(r.code == 0);
  r = run("decode " + packed + " " + (dir / "small2.png") + " --width 48 --max-pixels 2303");
  CHECK(r.code != 0);
  // Encode: an image whose header declares more than the read limit.
  r = run("encode " + in + " " + (dir / "b.msinr") + " --max-pixels 100" + kFast);
  CHECK(r.code != 0);
  CHECK(has(r, "--max-pixels"));
}

TEST_CASE("--help teaches the new forms") {
  Run r = run("encode --help");
  CHECK(r.code == 0);
  CHECK(has(r, "-f,--force"));
  CHECK(has(r, "--out-dir"));
  CHECK(has(r, "msinr encode *.png -o packed/"));
  CHECK(has(r, "cat photo.png | msinr encode - - > photo.msinr"));
  r = run("decode --help");
  CHECK(has(r, "--grey"));
  CHECK(has(r, "MSINR_MODEL_PATH"));
  CHECK(has(r, ".ppm"));
  r = run("fit --help");
  CHECK_FALSE(has(r, "-q,"));
  CHECK(has(r, "--quiet"));
}

TEST_CASE("on a terminal: a progress bar with percent, rate and ETA, and binary data is not written to it") {
  // script(1) (util-linux) runs the command on a pseudo-terminal; without it there is no terminal to test.
  if (!fs::exists("/usr/bin/script")) {
    MESSAGE("skipped: /usr/bin/script is not installed");
    return;
  }
  TempDir dir;
  const std::string in = make_png(dir / "a.png", 200, 190);  // 4 tiles of the built-in model
  auto on_tty = [&](const std::string& args) {
    return shell("COLUMNS=100 /usr/bin/script -qec '" + std::string(MSINR_CLI) + " " + args + "' /dev/null");
  };
  // One level per tile, so the bar counts the 4 tiles (the default also counts the tiles that may
  // move to a neighbouring level: at most 8 here).
  Run r = on_tty("encode " + in + " " + (dir / "a.msinr") + " --steps 1 --tile-levels uniform");
  CHECK(r.code == 0);
  CHECK(has(r, "\rencode "));  // redrawn in place
  CHECK(has(r, "% ["));
  CHECK(has(r, "/4 tiles"));
  CHECK(has(r, "ETA "));
  CHECK(has(r, "a.msinr: 200x190"));
  r = on_tty("encode " + in + " " + (dir / "b.msinr") + " --steps 1 --quiet");
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  r = on_tty("encode " + in + " - --steps 1");
  CHECK(r.code == 1);
  CHECK(has(r, "refusing to write binary data to the terminal"));
  r = on_tty("decode " + (dir / "a.msinr") + " -");
  CHECK(r.code == 1);
  CHECK(has(r, "refusing to write binary data to the terminal"));
}
