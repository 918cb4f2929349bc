#pragma once
// The processes of one msinr job. A plain run is one process; under mpirun or srun, in a build
// with MPI (-DMSINR_MPI), every process runs the same command and this says which one it is and
// moves data between them. The only place msinr touches MPI, so libmsinr stays free of it.
#include <optional>
#include <string>
#include <vector>

#include "msinr/meta_trainer.hpp"

namespace msinr::cli {

class Distributed {
 public:
  // The job this process belongs to. MPI is started only when an MPI launcher started the
  // process (its environment says so), so a plain run never pays for it.
  static Distributed& get();
  // The job if get() started MPI, else null (never starts it).
  static Distributed* running();
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  // Processes of this job on this machine (MPI_COMM_TYPE_SHARED).
  int local_size() const { return local_size_; }
  // `threads` as given, or for 0 ("all cores") this process's share of the machine's cores, so N
  // processes on one machine do not each start a thread per core.
  int threads_for(int threads) const;
  // For MetaTrainer::set_task_sharing: null on one process.
  TaskSharing* task_sharing();
  // Rank 0 gets every process's string, in rank order; the others get an empty vector.
  std::vector<std::string> gather(const std::string& mine);
  // Every process gets rank 0's string.
  std::string broadcast(const std::string& from_root);
  void barrier();
  // Results that rank 0 collects as they come, while it works too (batch encode). Any rank but 0:
  // hands `message` to MPI for rank 0 and returns at once (the send completes in the background;
  // small messages, a few KB, need nothing from rank 0 to leave).
  void send_to_root(std::string message);
  // Rank 0: the next message another rank sent (from each rank in the order sent), or nullopt when
  // none is there yet and `wait` is false.
  std::optional<std::string> receive_at_root(bool wait);
  // Waits until every send_to_root of this process has left: before the next collective call.
  void complete_sends();
  // Ends the whole job at once with `code` (after one process failed, the others would wait forever).
  [[noreturn]] void abort(int code);
  // At the end of main; harmless on one process.
  void finalize();

 private:
  Distributed();
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool mpi_ = false;
};

// Processes the launcher started, from its environment (1 without a launcher); starts nothing.
int launched_processes();

// "" on one process, else "rank R/N: " for messages that must say which process speaks.
std::string rank_prefix();

}  // namespace msinr::cli
