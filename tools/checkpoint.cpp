#include "tools/checkpoint.hpp"

#include "format/checkpoint.hpp"
#include "format/file_io.hpp"
#include "msinr/error.hpp"

namespace msinr::tools {

// The bytes are format/checkpoint.hpp's; this is the engine state <-> file struct mapping.
void save_checkpoint(const std::string& path, const std::string& fingerprint, const MetaTrainingState& s) {
  format::Checkpoint c;
  c.fingerprint = fingerprint;
  c.round = s.round;
  c.step = s.step;
  c.params = s.params;
  c.mask = s.mask;
  c.adam_steps = s.adam_steps;
  c.adam_m = s.adam_m;
  c.adam_v = s.adam_v;
  c.rng_state = s.rng_state;
  c.train_seconds = s.train_seconds;
  for (const auto& l : s.levels) c.levels.push_back({l.index, l.mask, l.init});
  format::write_file_atomic(path, format::write_checkpoint(c));
}

MetaTrainingState load_checkpoint(const std::string& path, const std::string& expected_fingerprint) {
  const std::vector<std::uint8_t> file = format::read_file(path, format::kMaxCheckpointRawBytes);
  format::Checkpoint c;
  try {
    c = format::read_checkpoint(file);
  } catch (const format::FormatError& e) {
    format::rethrow_format_error(e, path);
  }
  if (c.fingerprint != expected_fingerprint)
    throw Error(ErrorCode::kInvalidArgument, path + ": checkpoint was made with other settings (" + c.fingerprint +
                                                 "); now: " + expected_fingerprint);
  MetaTrainingState s;
  s.round = c.round;
  s.step = c.step;
  s.params = std::move(c.params);
  s.mask = std::move(c.mask);
  s.adam_steps = c.adam_steps;
  s.adam_m = std::move(c.adam_m);
  s.adam_v = std::move(c.adam_v);
  s.rng_state = c.rng_state;
  s.train_seconds = c.train_seconds;
  for (auto& l : c.levels) {
    MetaLevel m;
    m.index = l.index;
    m.mask = std::move(l.mask);
    m.init = std::move(l.init);
    s.levels.push_back(std::move(m));
  }
  return s;
}

}  // namespace msinr::tools
