#pragma once
// A trained model in memory: the architecture, the tile size it was trained at, and every
// sparsity level's mask and initialization, with the identity (content hash) the container cites.
#include <string>
#include <vector>

#include "format/model_file.hpp"
#include "msinr/meta_trainer.hpp"

namespace msinr::codec {

struct ModelLevelInfo {
  int index = 0;
  std::size_t kept_weights = 0;
  double density = 1.0;
  float val_psnr = 0.0f;
};

struct Model {
  Architecture arch;
  int tile_size = 0;
  // Tiles keep the level's init biases and transmit only kept weights (model file version 3).
  bool frozen_biases = false;
  std::vector<MetaLevel> levels;
  std::vector<float> val_psnr;  // per level; 0 when not measured
  format::Provenance provenance;
  format::ModelId id{};
  std::string id_hex() const { return format::model_id_hex(id); }
  // The level with this index (its pruning round); throws kInvalidArgument listing those that exist.
  const MetaLevel& level(int index) const;
  // The level the encoder uses when none is asked for: the provenance note "default_level" when
  // the model has one, else the sparsest level.
  int default_level() const;
  // The level for a cjpeg-like quality, 100 the densest level and 0 the sparsest. When every level
  // has a measured validation PSNR, quality is a straight line in that PSNR (so equal quality steps
  // are equal steps in measured picture quality, wherever the levels happen to fall); otherwise a
  // straight line over the levels ordered by size.
  int level_for_quality(int quality) const;
  // The per-image Adam learning rate the encoder uses for a level when none is asked for: the one
  // the trainer's validation measured best for that level (provenance note "fit_lr", written as
  // "level:lr,level:lr,..."), else the density rule of fallback_fit_lr.
  float fit_lr(int level_index) const;
};

// SIRENs with w0 = 200 are sharp: measured on 178x178 crops, Adam at 1e-3 diverges from a dense
// init (4.7 dB where 1e-4 reaches 30 dB from scratch), while sparse inits (density <= ~0.1) fit
// best at 1e-3. The switch sits between, at density 0.25 (docs/training.md). The ReLU layers of a
// Fourier-feature network want ten times more: on celeba89 its dense meta-learned init fits best at
// 1e-3 (32.2 dB; 1e-2: 17.4) and its level 10 at 1e-2 (24.9 dB; 1e-3: 15.4).
// A SIREN with w0 < 100 gets 3e-3 at every density (measured by scripts/model-search).
float fallback_fit_lr(double density, Network network = Network::kSiren, float w0 = 200.0f);
// "level:lr,..." as stored in the "fit_lr" note.
std::string format_fit_lrs(const std::vector<std::pair<int, float>>& lrs);

// Which parameters a tile of `level` stores, in payload order: kept weights by ascending index,
// then every bias unless the model freezes them (then a tile's biases are the level's init).
std::vector<std::uint32_t> stored_indices(const Model& model, const MetaLevel& level);
std::size_t values_per_tile(const Model& model, const MetaLevel& level);
// The parameters an encoder's fits leave alone: the biases of a frozen-bias model, else none.
Frozen frozen_params(const Model& model);

// Format-level model <-> engine model. Errors from the format become msinr::Error.
format::ModelFile to_model_file(const Model& model);
Model from_model_file(const format::ModelFile& file);
Model load_model(const std::string& path);
Model load_model_from_memory(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors);
// Writes atomically; returns the model as read back (with its id).
Model save_model(const Model& model, const std::string& path);

}  // namespace msinr::codec
