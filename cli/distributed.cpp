#include "cli/distributed.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <list>
#include <memory>
#include <thread>

#include "msinr/error.hpp"

#if MSINR_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: the deprecated C++ bindings need libmpi_cxx
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace msinr::cli {
namespace {

// Set by the launchers: Open MPI's mpirun, PMIx (srun --mpi=pmix, prterun), PMI/PMI2 (srun --mpi=pmi2, MPICH).
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (const char* e = std::getenv(v); e && *e) return true;
  return false;
}

}  // namespace

int launched_processes() {
  if (!launched_by_mpi() || std::getenv("MSINR_IGNORE_MPI")) return 1;
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
    if (const char* e = std::getenv(v); e && *e) return std::max(1, std::atoi(e));
  return 1;
}

namespace {

#if MSINR_HAVE_MPI
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(ErrorCode::kIo, std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

// Allgather of every task's gradient and losses: rank r's rows are one contiguous block.
class MpiTaskSharing final : public TaskSharing {
 public:
  MpiTaskSharing(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void share(std::span<float> grads, std::size_t row, std::span<MamlTaskLoss> losses) override {
    const int n = static_cast<int>(losses.size());
    counts_.resize(static_cast<std::size_t>(size_));
    displs_.resize(static_cast<std::size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      const int b = first_task(r, n, size_), e = first_task(r + 1, n, size_);
      counts_[static_cast<std::size_t>(r)] = static_cast<int>(static_cast<std::size_t>(e - b) * row);
      displs_[static_cast<std::size_t>(r)] = static_cast<int>(static_cast<std::size_t>(b) * row);
    }
    check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, grads.data(), counts_.data(), displs_.data(), MPI_FLOAT,
                         MPI_COMM_WORLD),
          "MPI_Allgatherv of the task gradients");
    static_assert(sizeof(MamlTaskLoss) == 2 * sizeof(double));
    for (int r = 0; r < size_; ++r) {
      const int b = first_task(r, n, size_), e = first_task(r + 1, n, size_);
      counts_[static_cast<std::size_t>(r)] = 2 * (e - b);
      displs_[static_cast<std::size_t>(r)] = 2 * b;
    }
    check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, losses.data(), counts_.data(), displs_.data(), MPI_DOUBLE,
                         MPI_COMM_WORLD),
          "MPI_Allgatherv of the task losses");
  }

 private:
  int rank_, size_;
  std::vector<int> counts_, displs_;
};

// send_to_root's messages: one tag, apart from everything else (collectives have their own space).
constexpr int kResultTag = 7301;

struct Outgoing {
  std::string bytes;
  MPI_Request request = MPI_REQUEST_NULL;
};
// Messages handed to MPI_Isend and not yet known to have left; a list, so the buffers never move.
std::list<Outgoing> g_outgoing;

void reap_sends(bool wait) {
  for (auto it = g_outgoing.begin(); it != g_outgoing.end();) {
    int done = 0;
    if (wait) {
      check(MPI_Wait(&it->request, MPI_STATUS_IGNORE), "MPI_Wait for a result sent to rank 0");
      done = 1;
    } else {
      check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test of a result sent to rank 0");
    }
    it = done ? g_outgoing.erase(it) : std::next(it);
  }
}
#endif

}  // namespace

Distributed::Distributed() {
#if MSINR_HAVE_MPI
  if (!launched_by_mpi()) return;
  int provided = 0;
  // Only the main thread calls MPI; the engines' worker threads never do.
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm node;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
  }
#else
  if (launched_by_mpi() && !std::getenv("MSINR_IGNORE_MPI"))
    throw Error(ErrorCode::kUnsupported,
                "started by an MPI launcher, but this msinr was built without MPI (configure with -DMSINR_MPI=ON); "
                "every process would do the whole job alone");
#endif
}

namespace {
Distributed* g_job = nullptr;
}

Distributed& Distributed::get() {
  static Distributed d;
  g_job = &d;
  return d;
}

int Distributed::threads_for(int threads) const {
  if (threads > 0 || local_size_ <= 1) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local_size_);
}

Distributed* Distributed::running() { return g_job != nullptr && g_job->mpi_ ? g_job : nullptr; }

TaskSharing* Distributed::task_sharing() {
#if MSINR_HAVE_MPI
  static std::unique_ptr<MpiTaskSharing> sharing;
  if (size_ <= 1) return nullptr;
  if (!sharing) sharing = std::make_unique<MpiTaskSharing>(rank_, size_);
  return sharing.get();
#else
  return nullptr;
#endif
}

std::vector<std::string> Distributed::gather(const std::string& mine) {
  if (size_ <= 1) return {mine};
#if MSINR_HAVE_MPI
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(root() ? static_cast<std::size_t>(size_) : 0), displs(lens.size());
  check(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::string all;
  if (root()) {
    int at = 0;
    for (std::size_t r = 0; r < lens.size(); ++r) {
      displs[r] = at;
      at += lens[r];
    }
    all.resize(static_cast<std::size_t>(at));
  }
  check(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, 0, MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> out;
  for (std::size_t r = 0; r < lens.size(); ++r)
    out.push_back(all.substr(static_cast<std::size_t>(displs[r]), static_cast<std::size_t>(lens[r])));
  return out;
#else
  return {mine};
#endif
}

std::string Distributed::broadcast(const std::string& from_root) {
  if (size_ <= 1) return from_root;
#if MSINR_HAVE_MPI
  unsigned long long len = from_root.size();
  check(MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
  std::string s = root() ? from_root : std::string(len, '\0');
  check(MPI_Bcast(s.data(), static_cast<int>(len), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return s;
#else
  return from_root;
#endif
}

void Distributed::barrier() {
#if MSINR_HAVE_MPI
  if (mpi_) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void Distributed::send_to_root(std::string message) {
  if (root()) throw Error(ErrorCode::kInvalidArgument, "send_to_root called on rank 0");
#if MSINR_HAVE_MPI
  reap_sends(false);
  Outgoing& out = g_outgoing.emplace_back();
  out.bytes = std::move(message);
  check(MPI_Isend(out.bytes.data(), static_cast<int>(out.bytes.size()), MPI_CHAR, 0, kResultTag, MPI_COMM_WORLD,
                  &out.request),
        "MPI_Isend of a result to rank 0");
#endif
}

std::optional<std::string> Distributed::receive_at_root(bool wait) {
  if (size_ <= 1) return std::nullopt;
#if MSINR_HAVE_MPI
  MPI_Status status;
  if (wait) {
    check(MPI_Probe(MPI_ANY_SOURCE, kResultTag, MPI_COMM_WORLD, &status), "MPI_Probe");
  } else {
    int arrived = 0;
    check(MPI_Iprobe(MPI_ANY_SOURCE, kResultTag, MPI_COMM_WORLD, &arrived, &status), "MPI_Iprobe");
    if (!arrived) return std::nullopt;
  }
  int len = 0;
  check(MPI_Get_count(&status, MPI_CHAR, &len), "MPI_Get_count");
  std::string s(static_cast<std::size_t>(len), '\0');
  // From the probed sender with the probed tag: only the main thread calls MPI, so this is the probed message.
  check(MPI_Recv(s.data(), len, MPI_CHAR, status.MPI_SOURCE, kResultTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv of a result");
  return s;
#else
  (void)wait;
  return std::nullopt;
#endif
}

void Distributed::complete_sends() {
#if MSINR_HAVE_MPI
  if (mpi_) reap_sends(true);
#endif
}

void Distributed::abort(int code) {
#if MSINR_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

void Distributed::finalize() {
#if MSINR_HAVE_MPI
  if (mpi_) {
    MPI_Finalize();
    mpi_ = false;
  }
#endif
}

std::string rank_prefix() {
  const Distributed& d = Distributed::get();
  return d.size() > 1 ? "rank " + std::to_string(d.rank()) + "/" + std::to_string(d.size()) + ": " : "";
}

}  // namespace msinr::cli
