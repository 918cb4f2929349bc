#pragma once
// Checkpoints of the meta-trainer's state that a killed training run resumes from.
#include <string>

#include "msinr/meta_trainer.hpp"

namespace msinr::tools {

// Checkpoints: magic "MSINRCKP", u32 LE version, zstd frame of the state, u32 LE CRC-32C of all
// before it. `fingerprint` names the configuration; resuming under another one is refused.
void save_checkpoint(const std::string& path, const std::string& fingerprint, const MetaTrainingState& state);
MetaTrainingState load_checkpoint(const std::string& path, const std::string& expected_fingerprint);

}  // namespace msinr::tools
