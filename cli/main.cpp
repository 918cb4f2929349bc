// msinr: the command line. The only place that prints for people and chooses exit codes:
// 0 success, 1 an error in the work (bad input, I/O, ...), 2 a usage error.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "format/file_io.hpp"
#include "msinr/error.hpp"
#include "msinr/version.h"

namespace msinr::cli {
namespace {

// SIGINT, SIGTERM, SIGHUP: remove the temporary files of unfinished outputs, then die of the same
// signal (the action is back to the default by then), so the parent sees what really happened.
extern "C" void remove_temporaries_and_reraise(int sig) {
  format::remove_temporary_files();
  ::raise(sig);
}

void remove_temporaries_on_signals() {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) continue;  // nohup, background jobs
    struct sigaction sa {};
    sa.sa_handler = remove_temporaries_and_reraise;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace

std::string data_dir() {
  if (const char* env = std::getenv("MSINR_DATA_DIR"); env && *env) return env;
  return MSINR_DATA_DIR;
}

}  // namespace msinr::cli

int main(int argc, char** argv) {
  msinr::cli::remove_temporaries_on_signals();
  CLI::App app{
      "msinr: an image codec built on meta-learned sparse implicit neural representations.\n"
      "An image becomes the weights of a small sine-activated network (a SIREN) that maps pixel\n"
      "coordinates to colour; fitting starts from a meta-learned sparse initialization.\n"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "msinr " MSINR_VERSION_STRING);
  app.footer("Run 'msinr COMMAND --help' for a command's options and examples.");
  msinr::cli::Runner decode, info;
  auto encode = msinr::cli::add_codec_commands(app, decode, info);
  auto fit = msinr::cli::add_fit_command(app);
  auto train = msinr::cli::add_train_command(app);
  auto eval = msinr::cli::add_eval_command(app);
  auto bench = msinr::cli::add_bench_command(app);
  auto rd = msinr::cli::add_rd_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Under mpirun a failed process ends the whole job (the others would wait for it forever):
  // MPI_Abort makes mpirun exit non-zero, and outputs are written atomically, so none is half-written.
  auto failed = [](const char* what) {
    msinr::cli::Distributed* job = msinr::cli::Distributed::running();
    if (job && job->size() > 1) {
      std::fprintf(stderr, "msinr: error: %s%s; ending the job\n", msinr::cli::rank_prefix().c_str(), what);
      std::fflush(stderr);
      job->abort(1);
    }
    std::fprintf(stderr, "msinr: error: %s\n", what);
    if (job) job->finalize();
    return 1;
  };
  int code = 2;
  try {
    // Only train, rd and a batch encode share their work between processes; any other command
    // started N times would do the whole job N times and race on its outputs (encode refuses a
    // single image itself, once it knows it has one).
    if (!app.got_subcommand("train") && !app.got_subcommand("rd") && !app.got_subcommand("encode") &&
        msinr::cli::launched_processes() > 1)
      throw msinr::Error(msinr::ErrorCode::kUnsupported,
                         "only 'msinr train', 'msinr rd' and a batch 'msinr encode ... -o DIR/' run as several "
                         "processes (mpirun -np N / srun); run this command as one process (docs/distributed.md)");
    if (app.got_subcommand("encode")) code = encode();
    else if (app.got_subcommand("decode")) code = decode();
    else if (app.got_subcommand("info")) code = info();
    else if (app.got_subcommand("fit")) code = fit();
    else if (app.got_subcommand("train")) code = train();
    else if (app.got_subcommand("eval")) code = eval();
    else if (app.got_subcommand("bench")) code = bench();
    else if (app.got_subcommand("rd")) code = rd();
  } catch (const msinr::Error& e) {
    return failed(e.what());
  } catch (const std::bad_alloc&) {
    return failed("out of memory");
  } catch (const std::exception& e) {
    return failed(e.what());
  }
  if (msinr::cli::Distributed* job = msinr::cli::Distributed::running()) job->finalize();
  return code;
}
