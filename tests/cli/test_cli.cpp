// End-to-end tests of the msinr command: real processes, real files, exit codes.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "codec/image.hpp"
#include "imageio/image_io.hpp"
#include "msinr/backend.hpp"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Run run_command(const std::string& command) {
  Run r;
  const std::string cmd = command + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) r.out += buf;
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// As run(), with environment assignments ("NAME=value ...") for the command alone.
Run run_env(const std::string& env, const std::string& args) {
  return run_command("env " + env + " " + std::string(MSINR_CLI) + " " + args);
}

Run run(const std::string& args) { return run_command(std::string(MSINR_CLI) + " " + args); }

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("msinr-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

// A small smooth RGB test image.
std::string make_png(const TempDir& dir, int w, int h) {
  msinr::codec::Image im = msinr::codec::make_image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        im.pixels[(static_cast<std::size_t>(y) * w + x) * 3 + c] =
            static_cast<std::uint8_t>(127 + 100 * std::sin(0.2 * x + 0.3 * y + c));
  const std::string path = dir / "in.png";
  msinr::codec::write_png(im, path);
  return path;
}

}  // namespace

TEST_CASE("msinr --help teaches and exits 0, and usage errors exit 2") {
  Run r = run("--help");
  CHECK(r.code == 0);
  CHECK(r.out.find("fit") != std::string::npos);
  CHECK(r.out.find("train") != std::string::npos);
  r = run("fit --help");
  CHECK(r.code == 0);
  CHECK(r.out.find("Examples") != std::string::npos);
  CHECK(run("").code == 2);
  CHECK(run("fit --no-such-option x").code == 2);
  CHECK(run("frobnicate").code == 2);
}

TEST_CASE("msinr fit writes the reconstruction and reports its PSNR as JSON") {
  TempDir dir;
  const std::string in = make_png(dir, 24, 20);
  const std::string out = dir / "recon.png";
  Run r = run("fit " + in + " --out " + out + " --steps 30 --density 0.3 --json");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"psnr_8bit\"") != std::string::npos);
  CHECK(r.out.find("\"steps\": 30") != std::string::npos);
  const auto recon = msinr::codec::read_image(out);
  CHECK(recon.width == 24);
  CHECK(recon.height == 20);
  // The reported 8-bit PSNR is the one of the written file.
  const auto pos = r.out.find("\"psnr_8bit\": ");
  REQUIRE(pos != std::string::npos);
  const double reported = std::stod(r.out.substr(pos + 13));
  // (recomputed independently of the CLI from the two files)
  double sse = 0;
  const auto orig = msinr::codec::read_image(in);
  for (std::size_t i = 0; i < orig.pixels.size(); ++i) {
    const double d = static_cast<double>(orig.pixels[i]) - recon.pixels[i];
    sse += d * d;
  }
  const double psnr = 10 * std::log10(255.0 * 255.0 / (sse / static_cast<double>(orig.pixels.size())));
  CHECK(reported == doctest::Approx(psnr).epsilon(1e-6));
}

TEST_CASE("bad input: a clear one-line error, exit 1, and no output file") {
  TempDir dir;
  const std::string out = dir / "out.png";
  {
    std::FILE* f = std::fopen((dir / "garbage.png").c_str(), "wb");
    std::fputs("this is not an image", f);
    std::fclose(f);
  }
  Run r = run("fit " + (dir / "garbage.png") + " --out " + out + " --steps 1");
  CHECK(r.code == 1);
  CHECK(r.out.find("msinr: error:") != std::string::npos);
  CHECK(r.out.find("garbage.png") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  const std::string in = make_png(dir, 8, 8);
  r = run("fit " + in + " --out " + (dir / "no/such/folder/x.png") + " --steps 1");
  CHECK(r.code == 1);
  r = run("fit " + in + " --out " + (dir / "x.bmp") + " --steps 1");
  CHECK(r.code == 1);
  CHECK(r.out.find(".png") != std::string::npos);
  r = run("fit " + in + " --out " + out + " --crop 100 --steps 1");  // crop larger than the image
  CHECK(r.code == 1);
  CHECK_FALSE(fs::exists(out));
  r = run("fit " + in + " --out " + out + " --device cuda --steps 1");
  if (msinr::cuda_backend_available()) {  // a GPU machine: the fit runs there and names the GPU
    CHECK(r.code == 0);
    CHECK(r.out.find("cuda (") != std::string::npos);
  } else {
    CHECK(r.code == 1);
    CHECK(r.out.find("CUDA") != std::string::npos);
  }
}

TEST_CASE("encode --effort presets --steps and --pixel-fraction, and an explicit --steps wins") {
  TempDir dir;
  const std::string in = make_png(dir, 20, 16);
  const std::string out = dir / "x.msinr";
  Run r = run("encode " + in + " -o " + out + " --level 8 --effort high --json");
  CHECK(r.code == 0);
  CHECK(r.out.find("\"steps\": 200") != std::string::npos);
  r = run("encode " + in + " -o " + out + " -f --level 8 --effort high --steps 7 --json");
  CHECK(r.code == 0);
  CHECK(r.out.find("\"steps\": 7") != std::string::npos);
  r = run("encode " + in + " -o " + out + " -f --level 8 --effort fast --json");
  CHECK(r.code == 0);
  CHECK(r.out.find("\"steps\": 100") != std::string::npos);
  // The presets differ only in their fits: fast (half the pixels) is not the default's file.
  const auto fast = msinr::codec::read_file(out);
  r = run("encode " + in + " -o " + out + " -f --level 8 --json");
  CHECK(r.code == 0);
  CHECK(msinr::codec::read_file(out) != fast);
  r = run("encode " + in + " -o " + out + " -f --effort extreme");
  CHECK(r.code == 2);
  r = run("encode " + in + " -o " + out + " -f --pixel-fraction 0");
  CHECK(r.code == 2);
}

TEST_CASE("encode --tile-levels adaptive: per-tile levels that info names and decode reads, and refused where it cannot apply") {
  TempDir dir;
  const std::string in = make_png(dir, 200, 170);  // 2 x 2 tiles of the built-in model's 128, three of them edge tiles
  const std::string out = dir / "x.msinr";
  Run r = run("encode " + in + " " + out + " --level 2 --tile-levels adaptive --steps 5 --json");
  REQUIRE(r.code == 0);
  const auto bytes = msinr::codec::read_file(out);
  REQUIRE(bytes.size() > 8);
  REQUIRE(bytes[8] == 3);  // tiles moved (a smooth pattern's tiles and smaller edge tiles): version 3
  r = run("info " + out);
  CHECK(r.code == 0);
  CHECK(r.out.find("(tiles at levels ") != std::string::npos);
  r = run("info " + out + " --json");
  CHECK(r.out.find("\"tile_levels\": [") != std::string::npos);
  r = run("decode " + out + " " + (dir / "x.png"));
  CHECK(r.code == 0);
  CHECK(fs::exists(dir / "x.png"));
  // Only at a fixed level with the quantized payload; elsewhere a clear error and no file.
  for (const std::string bad : {"--bpp 1", "--bits 16 --level 2"}) {
    r = run("encode " + in + " " + (dir / "y.msinr") + " --tile-levels adaptive " + bad);
    CHECK(r.code == 1);
    CHECK(r.out.find("tile_levels adaptive needs") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "y.msinr"));
  }
  r = run("encode " + in + " " + (dir / "y.msinr") + " --tile-levels diagonal");
  CHECK(r.code == 2);
  // The default (auto) is the adaptive file at a fixed level, and one level with --bpp or fp16.
  r = run("encode " + in + " " + (dir / "auto.msinr") + " --level 2 --steps 5");
  REQUIRE(r.code == 0);
  CHECK(msinr::codec::read_file(dir / "auto.msinr") == bytes);
  r = run("encode " + in + " " + (dir / "fp16.msinr") + " --level 2 --steps 5 --bits 16 --tile-levels auto");
  REQUIRE(r.code == 0);
  CHECK(msinr::codec::read_file(dir / "fp16.msinr")[8] == 1);
  r = run("encode --help");
  CHECK(r.out.find("--tile-levels") != std::string::npos);
  CHECK(r.out.find("auto (default)") != std::string::npos);
}

TEST_CASE("encode --edge-tiles: thin edges merge by default (version 4, named by info), and grid keeps every edge") {
  TempDir dir;
  const std::string in = make_png(dir, 140, 60);  // 140 = 128 + 12: the 12-pixel column joins the first tile
  Run r = run("encode " + in + " " + (dir / "m.msinr") + " --level 2 --steps 3 --json");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"tiles\": 1") != std::string::npos);
  const auto merged = msinr::codec::read_file(dir / "m.msinr");
  REQUIRE(merged.size() > 8);
  CHECK(merged[8] == 4);
  r = run("encode " + in + " " + (dir / "g.msinr") + " --level 2 --steps 3 --edge-tiles grid --json");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"tiles\": 2") != std::string::npos);
  const auto grid = msinr::codec::read_file(dir / "g.msinr");
  CHECK(grid[8] != 4);
  CHECK(merged.size() < grid.size());
  r = run("info " + (dir / "m.msinr"));
  CHECK(r.out.find("1 tiles (1x1, thin edges merged) of 128") != std::string::npos);
  r = run("info " + (dir / "m.msinr") + " --json");
  CHECK(r.out.find("\"merged_edges\": true") != std::string::npos);
  r = run("info " + (dir / "g.msinr"));
  CHECK(r.out.find("2 tiles (2x1) of 128") != std::string::npos);
  r = run("decode " + (dir / "m.msinr") + " " + (dir / "m.png"));
  CHECK(r.code == 0);
  CHECK(fs::exists(dir / "m.png"));
  r = run("encode " + in + " " + (dir / "x.msinr") + " --edge-tiles overlap");
  CHECK(r.code == 2);
  CHECK_FALSE(fs::exists(dir / "x.msinr"));
  r = run("encode --help");
  CHECK(r.out.find("--edge-tiles") != std::string::npos);
}

TEST_CASE("the CUDA runtime is loaded only when a GPU is asked for or present: the backend is a plugin") {
  // LD_DEBUG=files makes the dynamic loader name every library it maps, dlopen'ed ones included.
  TempDir dir;
  const std::string in = make_png(dir, 24, 20);
  const std::string out = dir / "x.msinr";
  Run r = run_env("LD_DEBUG=files", "--version");
  CHECK(r.code == 0);
  CHECK(r.out.find("libcudart") == std::string::npos);
  r = run_env("LD_DEBUG=files", "encode " + in + " -o " + out + " --steps 2 --device cpu");
  CHECK(r.code == 0);
  CHECK(r.out.find("libcudart") == std::string::npos);
  CHECK(r.out.find("libmsinr_cuda") == std::string::npos);
  if (!msinr::gpu_device_nodes_present()) {  // auto on a machine without a GPU loads nothing either
    r = run_env("LD_DEBUG=files", "encode " + in + " -o " + out + " -f --steps 2");
    CHECK(r.code == 0);
    CHECK(r.out.find("libmsinr_cuda") == std::string::npos);
  }
#if MSINR_TEST_CUDA_PLUGIN
  // Asked for, the plugin is found beside the binary and loaded, and with it the CUDA runtime.
  r = run_env("LD_DEBUG=files", "encode " + in + " -o " + out + " -f --steps 2 --device cuda");
  CHECK(r.out.find("libmsinr_cuda.so") != std::string::npos);
  CHECK(r.out.find("libcudart") != std::string::npos);
  if (!msinr::cuda_backend_available()) {
    CHECK(r.code != 0);
    CHECK(r.out.find("no usable CUDA device") != std::string::npos);  // thrown inside the plugin
  }
  // A plugin that is not there is a clear error naming the path, not a crash.
  r = run_env("MSINR_CUDA_PLUGIN=" + (dir / "missing.so"), "encode " + in + " -o " + out + " -f --steps 2 --device cuda");
  CHECK(r.code != 0);
  CHECK(r.out.find("missing.so (missing)") != std::string::npos);
  // Nor is a file that is no msinr plugin (here: the PNG).
  r = run_env("MSINR_CUDA_PLUGIN=" + in, "encode " + in + " -o " + out + " -f --steps 2 --device cuda");
  CHECK(r.code != 0);
  CHECK(r.out.find("MSINR_CUDA_PLUGIN") != std::string::npos);
#endif
}

namespace {

// A folder of small generated training images.
std::string make_image_folder(const TempDir& dir, int count, int size) {
  const std::string folder = dir / "train";
  fs::create_directories(folder);
  for (int k = 0; k < count; ++k) {
    msinr::codec::Image im = msinr::codec::make_image(size, size, 3);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        for (int c = 0; c < 3; ++c)
          im.pixels[(static_cast<std::size_t>(y) * size + x) * 3 + c] =
              static_cast<std::uint8_t>(127 + 100 * std::sin(0.3 * x * (k + 1) + 0.2 * y + c));
    msinr::codec::write_png(im, folder + "/img" + std::to_string(k) + ".png");
  }
  return folder;
}

}  // namespace

TEST_CASE("train, eval, encode, decode, info: the whole command line on a tiny model") {
  TempDir dir;
  const std::string data = make_image_folder(dir, 4, 16);
  const std::string model = dir / "m.msm";
  Run r = run("train --data " + data + " --crop 16 --width 16 --layers 2 --w0 30 --dense-steps 4 --rounds 2 "
              "--round-steps 2 --outer-lr 1e-4 --out " + model + " --val-data " + data + " --val-count 2 --fit-lrs 1e-4,1e-3");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("3 levels") != std::string::npos);
  CHECK(fs::exists(model));
  // --stop-after-round finishes early with the levels done so far.
  r = run("train --data " + data + " --crop 16 --width 16 --layers 2 --w0 30 --dense-steps 4 --rounds 2 "
          "--round-steps 2 --outer-lr 1e-4 --stop-after-round 0 --out " + (dir / "early.msm"));
  REQUIRE(r.code == 0);
  CHECK(r.out.find("1 levels") != std::string::npos);
  CHECK_FALSE(fs::exists(model + ".ckpt"));  // removed after a successful run

  r = run("eval --model " + model + " --data " + data + " --count 2 --steps 5 --json");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"level\": 2") != std::string::npos);
  CHECK(r.out.find("\"psnr_mean\"") != std::string::npos);

  r = run("info " + model + " --json");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"kind\": \"model\"") != std::string::npos);

  const std::string in = make_png(dir, 37, 21);
  const std::string packed = dir / "x.msinr";
  r = run("encode " + in + " " + packed + " --model " + model + " --level 1 --json");
  REQUIRE(r.code == 0);
  const auto bytes = fs::file_size(packed);
  // bpp is the whole file's bytes x 8 over the pixels.
  const auto pos = r.out.find("\"bpp\": ");
  REQUIRE(pos != std::string::npos);
  CHECK(std::stod(r.out.substr(pos + 7)) == doctest::Approx(bytes * 8.0 / (37 * 21)));

  r = run("info " + packed);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("37x21") != std::string::npos);
  CHECK(r.out.find("level 1") != std::string::npos);

  const std::string out = dir / "x.png";
  r = run("decode " + packed + " -o " + out + " --model " + model + " --scale 2");
  REQUIRE(r.code == 0);
  const auto img = msinr::codec::read_image(out);
  CHECK(img.width == 74);
  CHECK(img.height == 42);

  // Damaged input: one-line error, exit 1, no output written.
  {
    auto damaged = msinr::codec::read_file(packed);
    damaged[damaged.size() / 2] ^= 0x10;
    std::FILE* f = std::fopen((dir / "bad.msinr").c_str(), "wb");
    std::fwrite(damaged.data(), 1, damaged.size(), f);
    std::fclose(f);
  }
  const std::string out2 = dir / "y.png";
  r = run("decode " + (dir / "bad.msinr") + " " + out2 + " --model " + model);
  CHECK(r.code == 1);
  CHECK(r.out.find("msinr: error:") != std::string::npos);
  CHECK_FALSE(fs::exists(out2));
  // Conflicting level choices are a usage error of ours (exit 1 with a message).
  r = run("encode " + in + " " + (dir / "z.msinr") + " --model " + model + " --level 1 --bpp 3");
  CHECK(r.code == 1);
  CHECK_FALSE(fs::exists(dir / "z.msinr"));
  // A model file that is not one.
  r = run("encode " + in + " " + (dir / "z.msinr") + " --model " + in);
  CHECK(r.code == 1);
  CHECK_FALSE(fs::exists(dir / "z.msinr"));
  // An unreachable rate target: said on stderr, exit 3, target_met false, nothing written...
  r = run("encode " + in + " " + (dir / "t.msinr") + " --model " + model + " --bpp 0.01 --json");
  CHECK(r.code == 3);
  CHECK(r.out.find("target not met") != std::string::npos);
  CHECK(r.out.find("\"target_met\": false") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "t.msinr"));
  // The summary line does not name an output that was not written.
  r = run("encode " + in + " " + (dir / "t.msinr") + " --model " + model + " --bpp 0.01");
  CHECK(r.code == 3);
  CHECK(r.out.find("(not written)") != std::string::npos);
  CHECK(r.out.find("t.msinr:") == std::string::npos);
  // ...unless --best-effort, which keeps the closest file and exits 0.
  r = run("encode " + in + " " + (dir / "t.msinr") + " --model " + model + " --psnr 99 --best-effort --json");
  CHECK(r.code == 0);
  CHECK(r.out.find("\"target_met\": false") != std::string::npos);
  CHECK(fs::exists(dir / "t.msinr"));
  // fp16 on request: a version-1 file that says so.
  r = run("encode " + in + " " + (dir / "h.msinr") + " --model " + model + " --level 1 --bits 16");
  REQUIRE(r.code == 0);
  r = run("info " + (dir / "h.msinr") + " --json");
  CHECK(r.out.find("\"precision\": \"fp16\"") != std::string::npos);
  r = run("info " + packed + " --json");
  CHECK(r.out.find("\"precision\": \"quantized\"") != std::string::npos);
}

TEST_CASE("train --arch ffn: the Fourier-feature network from the command line to a decoded image") {
  TempDir dir;
  const std::string data = make_image_folder(dir, 3, 16);
  const std::string model = dir / "ffn.msm";
  Run r = run("train --data " + data + " --crop 16 --arch ffn --fourier-sigma 3 --width 12 --layers 3 --dense-steps 3 "
              "--rounds 1 --round-steps 2 --outer-lr 1e-4 --out " + model);
  REQUIRE(r.code == 0);
  r = run("info " + model);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("FFN 2-12x3-3, 6 Fourier features, sigma 3") != std::string::npos);
  const std::string packed = dir / "x.msinr", out = dir / "x.png";
  REQUIRE(run("encode " + make_png(dir, 20, 18) + " " + packed + " --model " + model + " --steps 5").code == 0);
  REQUIRE(run("decode " + packed + " " + out + " --model " + model).code == 0);
  CHECK(msinr::codec::read_image(out).width == 20);
  // The encoding is sin and cos of width/2 frequencies: an odd width is refused before any work.
  r = run("train --data " + data + " --crop 16 --arch ffn --width 11 --out " + (dir / "odd.msm"));
  CHECK(r.code == 1);
  CHECK(r.out.find("even --width") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "odd.msm"));
}

TEST_CASE("rd: refused before it runs when BD-rate would be undefined, and --json-out writes the JSON lines to a file") {
  TempDir dir;
  fs::create_directories(dir / "images");
  fs::rename(make_png(dir, 24, 20), dir / "images/a.png");
  const std::string images = dir / "images", out = dir / "out", json = dir / "rd.jsonl";
  // Two levels against nine JPEG qualities: no cubic through 2 points, so nothing is measured.
  Run r = run("rd --images " + images + " --levels 1,2 --out " + out + " --steps 1");
  CHECK(r.code == 1);
  CHECK(r.out.find("at least 4 points per curve") != std::string::npos);
  CHECK(r.out.find("--no-bd") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  // --no-bd measures anyway; the JSON goes to the file and the table to standard output.
  const std::string cheap = "rd --images " + images + " --levels 1 --bits 16 --jpeg-qualities 50 --steps 1 --no-bd --out " + out;
  r = run(cheap + " --json-out " + json);
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("MS-SSIM") != std::string::npos);
  CHECK(r.out.find("wrote " + json) != std::string::npos);
  auto text_of = [](const std::string& path) {
    std::string s;
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
      std::fclose(f);
    }
    return s;
  };
  const std::string lines = text_of(json);
  CHECK(lines.find("\"kind\": \"point\"") != std::string::npos);
  CHECK(lines.find("\"ms_ssim\": null") != std::string::npos);  // 24x20 is too small for five scales
  CHECK(lines.find("\"kind\": \"bd\"") != std::string::npos);
  CHECK(lines.find("\"bd_rate_psnr_lo_db\"") != std::string::npos);
  CHECK(lines.find("\"kind\": \"run\"") != std::string::npos);
  CHECK(text_of(out + "/summary.csv").find(",ssim,ms_ssim,") != std::string::npos);
  // An existing file is replaced only with -f, and that is known before the run.
  r = run(cheap + " --json-out " + json);
  CHECK(r.code == 1);
  CHECK(r.out.find("-f") != std::string::npos);
  CHECK(text_of(json) == lines);
  r = run(cheap + " --json-out " + json + " -f");
  CHECK(r.code == 0);
  CHECK(text_of(json).find("\"rows_skipped\": 3") != std::string::npos);  // resumed: nothing measured again
  // '-' is standard output, as --json.
  r = run(cheap + " --json-out -");
  CHECK(r.code == 0);
  CHECK(r.out.find("\"kind\": \"run\"") != std::string::npos);
  CHECK(r.out.find("PSNR pooled") == std::string::npos);  // no table
}
