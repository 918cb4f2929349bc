#pragma once
// Each subcommand registers its options on the root app and returns the function that runs it.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace msinr::cli {

using Runner = std::function<int()>;

Runner add_fit_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);
Runner add_train_command(CLI::App& app);
Runner add_eval_command(CLI::App& app);
Runner add_rd_command(CLI::App& app);
// encode (returned), decode and info.
Runner add_codec_commands(CLI::App& app, Runner& decode, Runner& info);

// Default location of the shared image data (tests, benchmarks): MSINR_DATA_DIR env or build-time path.
std::string data_dir();

}  // namespace msinr::cli
