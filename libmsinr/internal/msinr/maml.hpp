#pragma once
// Meta-learning the initialization (Finn et al. 2017), as the paper uses it: each task is one
// image, fitted by a few full-batch SGD steps from the shared parameters; the outer loss is the
// loss after those steps on the same image.
#include <cstddef>
#include <vector>

#include "msinr/backend.hpp"

namespace msinr {

enum class MamlOrder {
  kSecond,   // exact: prod_k (I - a H(theta_k)) g(theta_t), by Hessian-vector products
  kFirst,    // first-order MAML: g(theta_t)
  kReptile,  // Reptile (Nichol et al. 2018): theta_0 - theta_t as the outer direction
};

struct MamlConfig {
  int inner_steps = 2;
  float inner_lr = 0.01f;
  MamlOrder order = MamlOrder::kSecond;
  // Parameters the inner steps leave at the shared init (msinr/mask.hpp); the outer gradient still
  // reaches them, so they are meta-learned as values every task shares. Empty: none.
  Frozen frozen;
};

struct MamlTaskLoss {
  double before = 0.0;  // loss at the shared parameters
  double after = 0.0;   // loss after the inner steps: the outer objective
};

// Reusable buffers for maml_outer_gradient (so a training loop allocates nothing per step).
struct MamlScratch {
  std::vector<std::vector<float>> theta;  // theta_0 .. theta_t
  std::vector<float> grad, u, hv, frozen_u;
};

// The outer gradient of one task at theta0 (param_count floats) into outer_grad. Masked
// parameters stay zero in every inner iterate and get a zero outer gradient.
MamlTaskLoss maml_outer_gradient(Evaluator& evaluator, const Mask& mask, const float* theta0, const float* target,
                                 const MamlConfig& config, float* outer_grad, MamlScratch& scratch);

}  // namespace msinr
