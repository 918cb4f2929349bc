#include "cli/models.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "codec/default_model.hpp"
#include "format/file_io.hpp"
#include "format/model_file.hpp"
#include "msinr/error.hpp"

namespace msinr::cli {
namespace fs = std::filesystem;
namespace {

std::string exe_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return fs::path(std::string(buf, static_cast<std::size_t>(n))).parent_path().string();
}

}  // namespace

std::vector<std::string> model_search_path() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("MSINR_MODEL_PATH"); env && *env) {
    std::string s = env;
    std::size_t start = 0;
    while (start <= s.size()) {
      const std::size_t end = std::min(s.find(':', start), s.size());
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  const std::string bin = exe_dir();
  if (!bin.empty()) dirs.push_back((fs::path(bin).parent_path() / "share" / "msinr").string());
  dirs.push_back(MSINR_INSTALL_DATADIR "/msinr");
  std::error_code ec;
  if (!bin.empty() && fs::equivalent(bin, MSINR_BUILD_DIR, ec)) dirs.push_back(MSINR_SOURCE_MODEL_DIR);
  // Each folder once (the install prefix is often where the binary is).
  std::vector<std::string> unique;
  std::vector<fs::path> seen;
  for (const auto& d : dirs) {
    const fs::path canon = fs::weakly_canonical(d, ec);
    const fs::path key = ec ? fs::path(d) : canon;
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    unique.push_back(d);
  }
  return unique;
}

std::string describe_model_search_path() {
  const char* env = std::getenv("MSINR_MODEL_PATH");
  std::string s = (env && *env) ? std::string() : "MSINR_MODEL_PATH (unset)";
  for (const auto& d : model_search_path()) s += (s.empty() ? "" : ", ") + d;
  return s;
}

namespace {

// The path of the .msm in the search path whose header carries this id ("" when none).
std::string find_model_by_id(const std::string& id_hex) {
  for (const auto& dir : model_search_path()) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string ext = it->path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (ext == ".msm" && it->is_regular_file(ec)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        // The header names the id; loading the model then verifies the content really hashes to it.
        const auto bytes = format::read_msinr_file(f);
        if (format::model_id_hex(format::peek_model_file(bytes).model_id) == id_hex) return f.string();
      } catch (const format::FormatError&) {
        // Not a model (or damaged): not the one.
      }
    }
  }
  return {};
}

// --model's value as the file to load ("" for the built-in model).
std::string resolve_model_arg(const std::string& arg, std::string* name) {
  if (arg.empty()) {
    if (name) *name = "the built-in model";
    return {};
  }
  std::error_code ec;
  if (fs::is_regular_file(arg, ec) || arg.find('/') != std::string::npos) {
    if (name) *name = arg;
    return arg;
  }
  for (const auto& dir : model_search_path())
    for (const std::string& candidate : {arg, arg + ".msm"}) {
      const fs::path p = fs::path(dir) / candidate;
      if (fs::is_regular_file(p, ec)) {
        if (name) *name = p.string();
        return p.string();
      }
    }
  throw Error(ErrorCode::kIo, "no model file " + arg + " here or in the model search path (" +
                                  describe_model_search_path() + ")");
}

bool is_builtin(const std::string& id_hex) {
  return codec::has_default_model() && msinr::Model::builtin().id() == id_hex;
}

}  // namespace

msinr::Model load_model_arg(const std::string& arg, std::string* name) {
  const std::string path = resolve_model_arg(arg, name);
  return path.empty() ? msinr::Model::builtin() : msinr::Model::load(path);
}

codec::Model load_codec_model_arg(const std::string& arg, std::string* name) {
  const std::string path = resolve_model_arg(arg, name);
  return path.empty() ? codec::default_model() : codec::load_model(path);
}

std::string where_is_model(const std::string& id_hex) {
  return is_builtin(id_hex) ? "the built-in model" : find_model_by_id(id_hex);
}

msinr::Model model_for_file(const std::string& id_hex, const std::string& model_arg, const std::string& file_name,
                            bool quiet) {
  const std::string need = id_hex.substr(0, 16);
  if (!model_arg.empty()) {
    std::string name;
    msinr::Model m = load_model_arg(model_arg, &name);
    if (m.id() == id_hex) return m;
    const std::string found = find_model_by_id(id_hex);
    throw Error(ErrorCode::kModelMismatch,
                file_name + " was encoded with model " + need + ", not with " + name + " (model " + m.id().substr(0, 16) +
                    "); " +
                    (found.empty() ? "no model with that id is in the model search path (" + describe_model_search_path() +
                                         "): pass the model it was made with"
                                   : "that model is " + found + ": pass --model " + found + ", or leave --model out"));
  }
  if (is_builtin(id_hex)) return msinr::Model::builtin();
  const std::string found = find_model_by_id(id_hex);
  if (!found.empty()) {
    msinr::Model m = msinr::Model::load(found);
    if (!quiet) std::fprintf(stderr, "msinr: %s was encoded with model %s: using %s\n", file_name.c_str(), need.c_str(), found.c_str());
    return m;
  }
  throw Error(ErrorCode::kModelMismatch,
              file_name + " was encoded with model " + id_hex + ", which is not the built-in model (" +
                  (codec::has_default_model() ? msinr::Model::builtin().id().substr(0, 16) : std::string("none in this build")) +
                  ") and not in the model search path (" + describe_model_search_path() +
                  "): pass it with --model FILE.msm, or put it in a folder named by MSINR_MODEL_PATH");
}

}  // namespace msinr::cli
