// The reference backend: the oracle every faster backend is tested against. It computes in
// double precision internally so its own rounding is far below any tolerance a test states.
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/error.hpp"
#include "reference_siren.hpp"

namespace msinr {
namespace {

class ReferenceEvaluator final : public Evaluator {
 public:
  ReferenceEvaluator(const Architecture& arch, const Mask& mask, const Grid& grid)
      : Evaluator(grid), layout_(arch), mask_(mask) {
    check_mask(layout_, mask_);
    if (grid.pixels() == 0) throw Error(ErrorCode::kInvalidArgument, "empty pixel grid");
  }

  void forward(const float* params, float* out) override {
    to_double(params);
    std::vector<double> y(grid_.pixels() * layout_.arch().out_features);
    reference::loss_and_gradient<double>(layout_, mask_.data(), p_.data(), grid_, nullptr, nullptr, y.data());
    for (std::size_t i = 0; i < y.size(); ++i) out[i] = static_cast<float>(y[i]);
  }

  double loss_and_gradient(const float* params, const float* target, float* grad) override {
    to_double(params);
    std::vector<double> t(target, target + grid_.pixels() * layout_.arch().out_features);
    std::vector<double> g(layout_.param_count());
    const double loss =
        reference::loss_and_gradient<double>(layout_, mask_.data(), p_.data(), grid_, t.data(), g.data(), nullptr,
                                             &subset_);
    for (std::size_t i = 0; i < g.size(); ++i) grad[i] = static_cast<float>(g[i]);
    return loss;
  }

  double gradient_and_hvp(const float* params, const float* v, const float* target, float* grad,
                          float* hv) override {
    to_double(params);
    const std::size_t n = layout_.param_count();
    std::vector<double> vd(v, v + n), t(target, target + grid_.pixels() * layout_.arch().out_features), g(n), h(n);
    const double loss = reference::gradient_and_hvp<double>(layout_, mask_.data(), p_.data(), vd.data(), grid_,
                                                            t.data(), g.data(), h.data(), &subset_);
    for (std::size_t i = 0; i < n; ++i) grad[i] = static_cast<float>(g[i]), hv[i] = static_cast<float>(h[i]);
    return loss;
  }

  double loss(const float* params, const float* target) override {
    to_double(params);
    std::vector<double> t(target, target + grid_.pixels() * layout_.arch().out_features);
    return reference::loss_and_gradient<double>(layout_, mask_.data(), p_.data(), grid_, t.data(), nullptr, nullptr,
                                                &subset_);
  }

 private:
  void to_double(const float* params) { p_.assign(params, params + layout_.param_count()); }

  ParamLayout layout_;
  Mask mask_;
  std::vector<double> p_;
};

class ReferenceBackend final : public Backend {
 public:
  Device device() const override { return Device::kReference; }
  std::string description() const override { return "reference (scalar, double precision)"; }
  std::unique_ptr<Evaluator> make_evaluator(const Architecture& arch, const Mask& mask, const Grid& grid) override {
    return std::make_unique<ReferenceEvaluator>(arch, mask, grid);
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace msinr
