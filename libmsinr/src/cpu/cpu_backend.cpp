// The optimized CPU backend.
//
// The image is cut into blocks of a few hundred pixels; one thread carries a block through the
// whole network forward and backward while its activations are still in cache, and adds the
// block's gradient into a per-thread accumulator (no locks; one reduction at the end). Inside a
// block each layer runs dense (OpenBLAS sgemm, single-threaded: the parallelism is over blocks)
// or sparse (CSR kernels and a sampled dense-dense product for the weight gradient), chosen per
// layer by its kept-weight density.
//
// Narrow dense layers (the codec's 48-wide networks) skip BLAS in the fit too: at that width
// OpenBLAS spent a quarter of its time zeroing outputs and packing operands. Their forward is one
// kernel (product, bias, sine and cosine, the tile of outputs in registers), their input gradient
// continues through the previous layer's sine in the same pass, and their weight gradient is kept
// per lane for the whole pass and summed once at its end (cpu/kernels.hpp, dense_*).
//
// Rendering (forward() alone: the decoder, and the encoder measuring what the decoder will show)
// takes another path: per 64-pixel block, each layer is one fused kernel (product in CSR order,
// bias, sine) with no BLAS call, no zeroed output and no separate activation pass, and rows run
// in pairs sharing their input loads. Its sums run in a fixed order, so a decoded pixel does not
// depend on the BLAS build, the block or the thread count.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cpu/kernels.hpp"
#include "kernels/elementwise.hpp"
#include "msinr/backend.hpp"
#include "msinr/error.hpp"

namespace msinr {
namespace {

// 64-byte aligned float storage: rows start on cache lines and vector loads never split one.
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(std::size_t n) { resize(n); }
  void resize(std::size_t n) {
    const std::size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes)));
    if (!data_) throw std::bad_alloc();
    size_ = n;
    std::fill(data_.get(), data_.get() + n, 0.0f);
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t size_ = 0;
};

// Sparsity structure of one layer's weight matrix (out x in), in both orientations: rows of W
// for the forward product, rows of W^T for the input gradient. Fixed by the mask; only the
// values are gathered again each call.
struct SparseStructure {
  std::vector<int> row_ptr, col, src;        // W:   row o, column i, flat parameter index
  std::vector<int> t_row_ptr, t_col, t_src;  // W^T: row i, column o, flat parameter index
  std::vector<float> val, t_val;             // W's values in both orders
  std::vector<float> vval, t_vval;           // the HVP direction's values, same structure
};

struct LayerPlan {
  LayerView view;
  bool sparse = false;
  bool fused = false;  // dense and narrow: the fit's fused kernels instead of sgemm
  double density = 1.0;
  SparseStructure s;
};

// A layer as rendering sees it. Every output row is its kept weights' products summed in
// ascending input order, one multiply-add after another from zero, then bias and activation, so a
// rendered pixel depends on the weights alone (never on the layer's dense/sparse plan, the block or
// the thread). Rows are stored in pairs that share most of their columns (pair_bias_sine: each
// input load feeds two rows) followed by single rows (csr_bias_sine); stored row s is output row
// order[s], and the next layer reads its inputs through that order.
struct RenderLayer {
  int pairs = 0, singles = 0;
  std::vector<int> order;                       // stored row -> output row
  std::vector<int> pair_ptr, pair_col, pair_src;  // per pair: the union of its columns; two parameter indices each, -1: none
  std::vector<int> row_ptr, col, src;           // the single rows, CSR
  std::vector<float> pair_val, val, bias;       // gathered from the parameters at each call
};

// Pairs pay when their union of columns is short enough: a pair step costs about the multiply-adds
// of both rows, a single row's step is bound by its loads instead, ~0.7 of a pair step (measured on
// the AVX2 kernels, 64-pixel blocks).
constexpr double kPairStepCost = 1.0, kSingleStepCost = 0.7;

// `in_order`: stored input row -> the previous layer's output row (identity for the first layer).
// `keep_order`: true for the output layer, whose rows must stay in order for the caller (it pairs
// rows 0 and 1, 2 and 3, ... while that saves, and the rest run single).
RenderLayer make_render_layer(const LayerView& v, const Mask& mask, const std::vector<int>& in_order, bool keep_order) {
  std::vector<int> stored_in(static_cast<std::size_t>(v.in));
  for (int s = 0; s < v.in; ++s) stored_in[static_cast<std::size_t>(in_order[static_cast<std::size_t>(s)])] = s;
  auto kept = [&](int o, int i) { return mask[v.weight_offset + static_cast<std::size_t>(o) * v.in + i] != 0; };
  auto param = [&](int o, int i) { return static_cast<int>(v.weight_offset + static_cast<std::size_t>(o) * v.in + i); };
  // Each row's kept columns as a bitset: the pairing below compares every two rows (a width-256
  // layer has 32,640 pairs), a popcount per 64 columns.
  const std::size_t words = (static_cast<std::size_t>(v.in) + 63) / 64;
  std::vector<std::uint64_t> bits(static_cast<std::size_t>(v.out) * words, 0);
  std::vector<int> count(static_cast<std::size_t>(v.out), 0);
  for (int o = 0; o < v.out; ++o)
    for (int i = 0; i < v.in; ++i)
      if (kept(o, i)) {
        bits[static_cast<std::size_t>(o) * words + static_cast<std::size_t>(i) / 64] |= std::uint64_t{1} << (i % 64);
        ++count[static_cast<std::size_t>(o)];
      }
  // Greedy pairing: each row in turn with the unpaired row that saves most over both running
  // single (a row with few weights saves nothing: it stays single rather than pad a pair).
  std::vector<char> taken(static_cast<std::size_t>(v.out), 0);
  std::vector<std::pair<int, int>> pairs;
  auto saving = [&](int a, int b) {
    int u = 0;
    for (std::size_t w = 0; w < words; ++w)
      u += std::popcount(bits[static_cast<std::size_t>(a) * words + w] | bits[static_cast<std::size_t>(b) * words + w]);
    return kSingleStepCost * (count[static_cast<std::size_t>(a)] + count[static_cast<std::size_t>(b)]) - kPairStepCost * u;
  };
  for (int a = 0; a < v.out; ++a) {
    if (taken[static_cast<std::size_t>(a)]) continue;
    int best = -1;
    double best_saving = 0.0;
    for (int b = a + 1; b < (keep_order ? std::min(a + 2, v.out) : v.out); ++b) {
      if (taken[static_cast<std::size_t>(b)]) continue;
      const double s = saving(a, b);
      if (s > best_saving) best = b, best_saving = s;
    }
    if (best < 0) {
      if (keep_order) break;
      continue;
    }
    taken[static_cast<std::size_t>(a)] = taken[static_cast<std::size_t>(best)] = 1;
    pairs.emplace_back(a, best);
  }
  RenderLayer r;
  r.pairs = static_cast<int>(pairs.size());
  r.pair_ptr.assign(1, 0);
  for (const auto& [a, b] : pairs) {
    r.order.push_back(a), r.order.push_back(b);
    for (int i = 0; i < v.in; ++i) {
      if (!kept(a, i) && !kept(b, i)) continue;
      r.pair_col.push_back(stored_in[static_cast<std::size_t>(i)]);
      r.pair_src.push_back(kept(a, i) ? param(a, i) : -1);
      r.pair_src.push_back(kept(b, i) ? param(b, i) : -1);
    }
    r.pair_ptr.push_back(static_cast<int>(r.pair_col.size()));
  }
  r.row_ptr.assign(1, 0);
  for (int o = 0; o < v.out; ++o) {
    if (taken[static_cast<std::size_t>(o)]) continue;
    r.order.push_back(o);
    ++r.singles;
    for (int i = 0; i < v.in; ++i)
      if (kept(o, i)) r.col.push_back(stored_in[static_cast<std::size_t>(i)]), r.src.push_back(param(o, i));
    r.row_ptr.push_back(static_cast<int>(r.col.size()));
  }
  r.pair_val.resize(r.pair_src.size());
  r.val.resize(r.src.size());
  r.bias.resize(static_cast<std::size_t>(v.out));
  return r;
}

// The widest layer (inputs or outputs) whose dense products go through the fused fit kernels; a
// wider one (the paper's 256) is where OpenBLAS's packing pays for itself.
constexpr int kFusedFitMaxWidth = 64;

// Pixels per rendering block: a 48-wide layer's block is 12 KB, so input and output stay in L1.
constexpr int kRenderBlock = 64;

struct Workspace {
  AlignedFloats x;                   // input_width x ld: coordinates, or an FFN's Fourier encoding
  std::vector<AlignedFloats> act;    // per layer: its output (sine layers: sin; last: network output)
  std::vector<AlignedFloats> cosv;   // per sine layer: cos of the same argument, for backward
  AlignedFloats d0, d1;              // gradient ping-pong buffers, max width x ld
  AlignedFloats grad;                // this thread's gradient accumulator
  std::vector<AlignedFloats> g8;     // per fused layer: its weight gradient, 8 lanes per weight, for the pass
  // R-operator (Hessian-vector product) companions, allocated on first use.
  std::vector<AlignedFloats> ract;   // per layer: R{output}
  std::vector<AlignedFloats> rs;     // per sine layer: R{w0 (z + b)}
  AlignedFloats r0, r1;              // R{gradient} ping-pong
  AlignedFloats hv;                  // this thread's H v accumulator
  double sse = 0.0;
};

class CpuEvaluator final : public Evaluator {
 public:
  CpuEvaluator(const Architecture& arch, const Mask& mask, const Grid& grid, const CpuBackendOptions& options,
               const cpu::KernelTable& kernels)
      : Evaluator(grid), layout_(arch), mask_(mask), options_(options), k_(kernels) {
    check_mask(layout_, mask_);
    if (grid.pixels() == 0) throw Error(ErrorCode::kInvalidArgument, "empty pixel grid");
    block_ = std::max(8, (std::max(8, options.block_pixels) + 7) / 8 * 8);
    threads_ = options.threads > 0 ? options.threads : omp_get_max_threads();
    for (const LayerView& v : layout_.layers()) plan_.push_back(plan_layer(v));
    render_fused_ = options.fused_forward;
    for (const LayerView& v : layout_.layers()) render_fused_ = render_fused_ && !v.is_relu();
    // Coordinates once per grid: blocks look them up instead of dividing per pixel.
    row_coord_.resize(static_cast<std::size_t>(grid.rows));
    col_coord_.resize(static_cast<std::size_t>(grid.cols));
    for (int r = 0; r < grid.rows; ++r) row_coord_[static_cast<std::size_t>(r)] = grid.row_coord(r);
    for (int c = 0; c < grid.cols; ++c) col_coord_[static_cast<std::size_t>(c)] = grid.col_coord(c);
    fourier_b_ = fourier_matrix(arch);
    const int m = arch.fourier_features;
    if (!fourier_b_.empty()) {  // sin rows: phase 0; cos rows: sin(x + pi/2)
      encoding_bias_.assign(2 * static_cast<std::size_t>(m), 0.0f);
      for (int k = 0; k < m; ++k) encoding_bias_[static_cast<std::size_t>(m + k)] = 0.5f;
    }
    eff_.resize(layout_.param_count());
    int max_width = arch.input_width();
    for (const auto& v : layout_.layers()) max_width = std::max({max_width, v.in, v.out});
    ws_.resize(static_cast<std::size_t>(threads_));
    for (Workspace& w : ws_) {
      w.x.resize(static_cast<std::size_t>(arch.input_width()) * block_);
      for (const auto& v : layout_.layers()) {
        w.act.emplace_back(static_cast<std::size_t>(v.out) * block_);
        w.cosv.emplace_back(v.is_sine() ? static_cast<std::size_t>(v.out) * block_ : 0);
      }
      w.d0.resize(static_cast<std::size_t>(max_width) * block_);
      w.d1.resize(static_cast<std::size_t>(max_width) * block_);
    }
  }

  void forward(const float* params, float* out) override {
    if (render_fused_) render(params, out);
    else run(params, nullptr, nullptr, nullptr, nullptr, out);
  }
  double loss_and_gradient(const float* params, const float* target, float* grad) override {
    return run(params, nullptr, target, grad, nullptr, nullptr);
  }
  double loss(const float* params, const float* target) override {
    return run(params, nullptr, target, nullptr, nullptr, nullptr);
  }
  double gradient_and_hvp(const float* params, const float* v, const float* target, float* grad, float* hv) override {
    return run(params, v, target, grad, hv, nullptr);
  }

  std::string plan_summary() const {
    std::string s;
    for (const auto& p : plan_) s += p.sparse ? "S" : "D";
    return s;
  }

 private:
  LayerPlan plan_layer(const LayerView& v) const {
    LayerPlan p;
    p.view = v;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < v.weight_count(); ++i) kept += mask_[v.weight_offset + i];
    p.density = static_cast<double>(kept) / static_cast<double>(v.weight_count());
    p.sparse = p.density < options_.sparse_below_density;
    p.fused = options_.fused_fit && !p.sparse && !v.is_relu() && std::max(v.in, v.out) <= kFusedFitMaxWidth;
    if (!p.sparse) return p;
    SparseStructure& s = p.s;
    s.row_ptr.assign(1, 0);
    for (int o = 0; o < v.out; ++o) {
      for (int i = 0; i < v.in; ++i) {
        const std::size_t k = v.weight_offset + static_cast<std::size_t>(o) * v.in + i;
        if (mask_[k]) s.col.push_back(i), s.src.push_back(static_cast<int>(k));
      }
      s.row_ptr.push_back(static_cast<int>(s.col.size()));
    }
    s.t_row_ptr.assign(1, 0);
    for (int i = 0; i < v.in; ++i) {
      for (int o = 0; o < v.out; ++o) {
        const std::size_t k = v.weight_offset + static_cast<std::size_t>(o) * v.in + i;
        if (mask_[k]) s.t_col.push_back(o), s.t_src.push_back(static_cast<int>(k));
      }
      s.t_row_ptr.push_back(static_cast<int>(s.t_col.size()));
    }
    s.val.resize(s.src.size());
    s.t_val.resize(s.t_src.size());
    s.vval.resize(s.src.size());
    s.t_vval.resize(s.t_src.size());
    return p;
  }

  // Forward only, every layer fused (product, bias and sine in one kernel per layer). The blocks
  // are independent and their pixels land in fixed places, so they are handed out dynamically: on
  // a machine shared with other work a stalled thread holds up one block, not half the grid.
  void render(const float* params, float* out) {
    const std::size_t n_params = layout_.param_count();
    for (std::size_t i = 0; i < n_params; ++i) eff_.data()[i] = mask_[i] ? params[i] : 0.0f;  // masked biases too
    const float* eff = eff_.data();
    if (render_.empty()) {  // planned at the first render: evaluators made for fitting never render
      std::vector<int> in_order(static_cast<std::size_t>(layout_.arch().input_width()));
      for (std::size_t i = 0; i < in_order.size(); ++i) in_order[i] = static_cast<int>(i);
      for (std::size_t l = 0; l < plan_.size(); ++l) {
        render_.push_back(make_render_layer(plan_[l].view, mask_, in_order, l + 1 == plan_.size()));
        in_order = render_.back().order;
      }
    }
    for (std::size_t l = 0; l < render_.size(); ++l) {
      RenderLayer& r = render_[l];
      for (std::size_t k = 0; k < r.pair_src.size(); ++k) r.pair_val[k] = r.pair_src[k] < 0 ? 0.0f : eff[r.pair_src[k]];
      for (std::size_t k = 0; k < r.src.size(); ++k) r.val[k] = eff[r.src[k]];
      for (std::size_t s = 0; s < r.order.size(); ++s) r.bias[s] = eff[plan_[l].view.bias_offset + static_cast<std::size_t>(r.order[s])];
    }
    active_subset_ = nullptr;  // rendering covers the whole grid
    const std::size_t n_pixels = grid_.pixels();
    const std::size_t block = static_cast<std::size_t>(std::min(block_, kRenderBlock));
    const std::size_t n_blocks = (n_pixels + block - 1) / block;
    const int threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads_), n_blocks));
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (std::size_t b = 0; b < n_blocks; ++b) {
      const std::size_t p0 = b * block;
      render_block(ws_[static_cast<std::size_t>(omp_get_thread_num())], p0, static_cast<int>(std::min(block, n_pixels - p0)),
                   out);
    }
  }

  void render_block(Workspace& w, std::size_t p0, int nb, float* out) {
    const int ld = (nb + 7) / 8 * 8;
    load_coordinates(w, p0, nb, ld);
    if (!fourier_b_.empty()) fourier_encode(w, ld);
    for (std::size_t l = 0; l < render_.size(); ++l) {
      const LayerView& v = plan_[l].view;
      const RenderLayer& r = render_[l];
      const float* A = l == 0 ? w.x.data() : w.act[l - 1].data();
      float* S = w.act[l].data();
      if (r.pairs > 0)
        k_.pair_bias_sine(r.pairs, r.pair_ptr.data(), r.pair_col.data(), r.pair_val.data(), r.bias.data(), v.w0,
                          v.is_sine(), A, S, ld);
      if (r.singles > 0)
        k_.csr_bias_sine(r.singles, r.row_ptr.data(), r.col.data(), r.val.data(), r.bias.data() + 2 * r.pairs, v.w0,
                         v.is_sine(), A, S + static_cast<std::size_t>(2 * r.pairs) * ld, ld);
    }
    write_output(w.act.back().data(), p0, nb, ld, out);
  }

  // The block's pixel coordinates into w.x's first two rows; padding lanes are zero.
  void load_coordinates(Workspace& w, std::size_t p0, int nb, int ld) const {
    float* xr = w.x.data();
    float* xc = w.x.data() + ld;
    const std::size_t cols = static_cast<std::size_t>(grid_.cols);
    for (int p = 0; p < ld; ++p) {
      if (p < nb) {
        const std::size_t idx = pixel_at(p0 + static_cast<std::size_t>(p));
        xr[p] = row_coord_[idx / cols];
        xc[p] = col_coord_[idx % cols];
      } else {
        xr[p] = xc[p] = 0.0f;
      }
    }
  }

  // Feature-major block rows y (out_features x ld) to the caller's interleaved pixels.
  void write_output(const float* y, std::size_t p0, int nb, int ld, float* out) const {
    const int n_out = layout_.arch().out_features;
    for (int p = 0; p < nb; ++p)
      for (int o = 0; o < n_out; ++o)
        out[(p0 + static_cast<std::size_t>(p)) * n_out + o] = y[static_cast<std::size_t>(o) * ld + p];
  }

  // One pass over all blocks. target == nullptr: forward only into `out`. grad == nullptr: loss only.
  // v != nullptr: also H v into hv (R-operator pass; needs target and grad).
  double run(const float* params, const float* v, const float* target, float* grad, float* hv, float* out) {
    const std::size_t n_params = layout_.param_count();
    for (std::size_t i = 0; i < n_params; ++i) eff_.data()[i] = mask_[i] ? params[i] : 0.0f;
    if (v) {
      if (eff_v_.size() != n_params) eff_v_.resize(n_params);
      for (std::size_t i = 0; i < n_params; ++i) eff_v_.data()[i] = mask_[i] ? v[i] : 0.0f;
    }
    for (LayerPlan& p : plan_) {
      if (!p.sparse) continue;
      for (std::size_t k = 0; k < p.s.src.size(); ++k) p.s.val[k] = eff_.data()[p.s.src[k]];
      for (std::size_t k = 0; k < p.s.t_src.size(); ++k) p.s.t_val[k] = eff_.data()[p.s.t_src[k]];
      if (!v) continue;
      for (std::size_t k = 0; k < p.s.src.size(); ++k) p.s.vval[k] = eff_v_.data()[p.s.src[k]];
      for (std::size_t k = 0; k < p.s.t_src.size(); ++k) p.s.t_vval[k] = eff_v_.data()[p.s.t_src[k]];
    }
    // Parallelism is over pixel blocks; OpenBLAS must not start threads of its own inside them.
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);

    // The loss runs over the pixel subset when one is set; rendering always covers the whole grid.
    active_subset_ = (target && !subset_.empty()) ? subset_.data() : nullptr;
    n_active_ = active_subset_ ? subset_.size() : grid_.pixels();
    const std::size_t n_pixels = n_active_;
    const std::size_t n_blocks = (n_pixels + block_ - 1) / block_;
    const int threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads_), n_blocks));
#pragma omp parallel num_threads(threads)
    {
      Workspace& w = ws_[static_cast<std::size_t>(omp_get_thread_num())];
      w.sse = 0.0;
      if (grad) {
        if (w.grad.size() != n_params) w.grad.resize(n_params);
        std::fill(w.grad.data(), w.grad.data() + n_params, 0.0f);
        if (!v) zero_lane_gradients(w);
      }
      if (v) {
        allocate_r_buffers(w);
        std::fill(w.hv.data(), w.hv.data() + n_params, 0.0f);
      }
#pragma omp for schedule(static)  // static: the same blocks on the same thread, so results repeat exactly
      for (std::size_t b = 0; b < n_blocks; ++b) {
        const std::size_t p0 = b * block_;
        const int nb = static_cast<int>(std::min<std::size_t>(block_, n_pixels - p0));
        process_block(w, p0, nb, target, grad != nullptr, v != nullptr, out);
      }
      if (grad && !v) reduce_lane_gradients(w);
    }
    double sse = 0.0;
    for (int t = 0; t < threads; ++t) sse += ws_[static_cast<std::size_t>(t)].sse;
    if (grad) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t i = 0; i < n_params; ++i) {
        float g = 0.0f;
        for (int t = 0; t < threads; ++t) g += ws_[static_cast<std::size_t>(t)].grad.data()[i];
        grad[i] = mask_[i] ? g : 0.0f;  // dense products also produce values at masked positions
      }
    }
    if (hv) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t i = 0; i < n_params; ++i) {
        float h = 0.0f;
        for (int t = 0; t < threads; ++t) h += ws_[static_cast<std::size_t>(t)].hv.data()[i];
        hv[i] = mask_[i] ? h : 0.0f;
      }
    }
    return sse / (static_cast<double>(n_pixels) * layout_.arch().out_features);
  }

  // The fused layers' per-lane weight gradients, zeroed at the start of a gradient pass and summed
  // into the thread's gradient at its end.
  void zero_lane_gradients(Workspace& w) const {
    if (w.g8.size() != plan_.size()) w.g8.resize(plan_.size());
    for (std::size_t l = 0; l < plan_.size(); ++l) {
      if (!plan_[l].fused) continue;
      const std::size_t n = plan_[l].view.weight_count() * 8;
      if (w.g8[l].size() != n) w.g8[l].resize(n);
      else std::fill(w.g8[l].data(), w.g8[l].data() + n, 0.0f);
    }
  }
  void reduce_lane_gradients(Workspace& w) const {
    for (std::size_t l = 0; l < plan_.size(); ++l)
      if (plan_[l].fused)
        k_.reduce_lanes(w.g8[l].data(), w.grad.data() + plan_[l].view.weight_offset, plan_[l].view.weight_count());
  }

  // Grid index of the q-th pixel of this pass.
  std::size_t pixel_at(std::size_t q) const { return active_subset_ ? active_subset_[q] : q; }

  void allocate_r_buffers(Workspace& w) {
    if (!w.ract.empty()) return;
    for (const auto& v : layout_.layers()) {
      w.ract.emplace_back(static_cast<std::size_t>(v.out) * block_);
      w.rs.emplace_back(v.is_sine() ? static_cast<std::size_t>(v.out) * block_ : 0);
    }
    w.r0.resize(w.d0.size());
    w.r1.resize(w.d1.size());
    w.hv.resize(layout_.param_count());
  }

  // dst (rows x ld) (+)= M (rows x cols, flat row-major at `m`, or sparse values) * src (cols x ld).
  void product(const LayerPlan& lp, bool transpose, const float* m_dense, const std::vector<float>& m_val,
               const std::vector<float>& m_tval, const float* src, float* dst, int ld, bool accumulate) const {
    const LayerView& v = lp.view;
    if (lp.sparse) {
      if (!transpose)
        k_.csr_rows(v.out, lp.s.row_ptr.data(), lp.s.col.data(), m_val.data(), src, dst, ld, accumulate);
      else
        k_.csr_rows(v.in, lp.s.t_row_ptr.data(), lp.s.t_col.data(), m_tval.data(), src, dst, ld, accumulate);
    } else if (!transpose) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, v.out, ld, v.in, 1.0f, m_dense + v.weight_offset, v.in,
                  src, ld, accumulate ? 1.0f : 0.0f, dst, ld);
    } else {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, v.in, ld, v.out, 1.0f, m_dense + v.weight_offset, v.in, src,
                  ld, accumulate ? 1.0f : 0.0f, dst, ld);
    }
  }

  // acc[weights of layer] += dZ (out x ld) * A^T (ld x in), at the mask's positions when sparse.
  void weight_gradient(const LayerPlan& lp, const float* dZ, const float* A, float* acc, int ld) const {
    const LayerView& v = lp.view;
    if (lp.sparse)
      k_.sddmm(v.out, lp.s.row_ptr.data(), lp.s.col.data(), lp.s.src.data(), dZ, A, ld, acc);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, v.out, v.in, ld, 1.0f, dZ, ld, A, ld, 1.0f,
                  acc + v.weight_offset, v.in);
  }

  // One block of pixels through the network: forward, loss, backward, and with `rmode` the
  // R-operator companions of each (Pearlmutter 1994) for H v.
  void process_block(Workspace& w, std::size_t p0, int nb, const float* target, bool want_grad, bool rmode,
                     float* out) {
    const int ld = (nb + 7) / 8 * 8;
    const Architecture& arch = layout_.arch();
    const float* eff = eff_.data();
    const float* effv = rmode ? eff_v_.data() : nullptr;
    load_coordinates(w, p0, nb, ld);  // padding lanes get zero gradient below
    if (!fourier_b_.empty()) fourier_encode(w, ld);
    const std::size_t n_layers = plan_.size();
    const bool need_cos = want_grad && target;
    for (std::size_t l = 0; l < n_layers; ++l) {
      const LayerPlan& lp = plan_[l];
      const LayerView& v = lp.view;
      const float* A = l == 0 ? w.x.data() : w.act[l - 1].data();
      float* Z = w.act[l].data();
      if (lp.fused && !rmode && !v.is_relu()) {  // product, bias and activation in one pass
        k_.dense_forward(v.out, v.in, eff + v.weight_offset, eff + v.bias_offset, v.w0, v.is_sine(), A, Z,
                         need_cos && v.is_sine() ? w.cosv[l].data() : nullptr, ld);
        continue;
      }
      product(lp, false, eff, lp.s.val, lp.s.t_val, A, Z, ld, false);
      if (rmode) {  // R{z} = V a + W R{a}; the coordinates' R{} is zero
        float* RZ = w.ract[l].data();
        product(lp, false, effv, lp.s.vval, lp.s.t_vval, A, RZ, ld, false);
        if (l > 0) product(lp, false, eff, lp.s.val, lp.s.t_val, w.ract[l - 1].data(), RZ, ld, true);
      }
      if (v.is_sine()) {
        k_.bias_sincos(v.out, eff + v.bias_offset, v.w0, Z, Z, need_cos ? w.cosv[l].data() : nullptr, ld);
        if (rmode) {
          // R{s} = w0 (R{z} + v_b) kept for backward; R{a} = cos(s) R{s}.
          float* RS = w.rs[l].data();
          k_.r_sine_forward(v.out, effv + v.bias_offset, v.w0, w.ract[l].data(), w.cosv[l].data(), RS, ld);
          std::swap(w.ract[l], w.rs[l]);
        }
      } else if (v.is_relu()) {
        // a = max(0, z + b); R{a} = 1[a > 0] (R{z} + v_b). a > 0 is also the mask backward uses.
        for (int o = 0; o < v.out; ++o) {
          const float b = eff[v.bias_offset + o];
          float* z = Z + static_cast<std::size_t>(o) * ld;
          for (int p = 0; p < ld; ++p) z[p] = kernels::relu_forward(z[p], b);
          if (rmode) {
            const float vb = effv[v.bias_offset + o];
            float* rz = w.ract[l].data() + static_cast<std::size_t>(o) * ld;
            for (int p = 0; p < ld; ++p) rz[p] = kernels::r_relu_forward(z[p], rz[p], vb);
          }
        }
      } else {
        for (int o = 0; o < v.out; ++o) {
          const float b = eff[v.bias_offset + o];
          float* z = Z + static_cast<std::size_t>(o) * ld;
          for (int p = 0; p < ld; ++p) z[p] += b;
          if (rmode) {
            const float vb = effv[v.bias_offset + o];
            float* rz = w.ract[l].data() + static_cast<std::size_t>(o) * ld;
            for (int p = 0; p < ld; ++p) rz[p] += vb;
          }
        }
      }
    }
    const float* y = w.act[n_layers - 1].data();
    const int n_out = arch.out_features;
    if (out) write_output(y, p0, nb, ld, out);
    if (!target) return;

    // Loss, and d(loss)/d(output) into d0 (zero on padding lanes); R{} of it into r0.
    const float inv_count = static_cast<float>(1.0 / (static_cast<double>(n_active_) * n_out));
    float* dcur = w.d0.data();
    float* dnext = w.d1.data();
    float* rcur = rmode ? w.r0.data() : nullptr;
    float* rnext = rmode ? w.r1.data() : nullptr;
    double sse = 0.0;
    const LayerView& last = plan_.back().view;
    for (int o = 0; o < n_out; ++o) {
      const std::size_t row = static_cast<std::size_t>(o) * ld;
      float db = 0.0f, rdb = 0.0f;
      for (int p = 0; p < ld; ++p) {
        if (p < nb) {
          const float t = target[pixel_at(p0 + static_cast<std::size_t>(p)) * n_out + o];
          const float diff = y[row + p] - t;
          sse += static_cast<double>(diff) * diff;
          dcur[row + p] = kernels::mse_gradient(y[row + p], t, inv_count);
          db += dcur[row + p];
          if (rmode) {
            rcur[row + p] = 2.0f * w.ract[n_layers - 1].data()[row + p] * inv_count;
            rdb += rcur[row + p];
          }
        } else {
          dcur[row + p] = 0.0f;
          if (rmode) rcur[row + p] = 0.0f;
        }
      }
      if (want_grad) w.grad.data()[last.bias_offset + o] += db;
      if (rmode) w.hv.data()[last.bias_offset + o] += rdb;
    }
    w.sse += sse;
    if (!want_grad) return;

    float* g = w.grad.data();
    float* h = rmode ? w.hv.data() : nullptr;
    bool through_sine = false;  // dcur already went back through layer l's sine (a fused input gradient)
    for (std::size_t l = n_layers; l-- > 0;) {
      const LayerPlan& lp = plan_[l];
      const LayerView& v = lp.view;
      const bool fused = lp.fused && !rmode;
      if (through_sine) {
        through_sine = false;
      } else if (v.is_sine()) {
        if (rmode)
          k_.r_sine_backward(v.out, v.w0, dcur, rcur, w.act[l].data(), w.cosv[l].data(), w.rs[l].data(),
                             g + v.bias_offset, h + v.bias_offset, ld);
        else
          k_.sine_backward(v.out, v.w0, dcur, w.cosv[l].data(), dcur, g + v.bias_offset, ld);
      } else if (v.is_relu()) {
        // ReLU is piecewise linear: the gradient and its R{} pass where a > 0, nothing else.
        for (int o = 0; o < v.out; ++o) {
          const std::size_t row = static_cast<std::size_t>(o) * ld;
          const float* a = w.act[l].data() + row;
          float db = 0.0f, rdb = 0.0f;
          for (int p = 0; p < ld; ++p) {
            dcur[row + p] = kernels::relu_backward(dcur[row + p], a[p]);
            db += dcur[row + p];
            if (rmode) {
              rcur[row + p] = kernels::relu_backward(rcur[row + p], a[p]);
              rdb += rcur[row + p];
            }
          }
          g[v.bias_offset + o] += db;
          if (rmode) h[v.bias_offset + o] += rdb;
        }
      }
      const float* A = l == 0 ? w.x.data() : w.act[l - 1].data();
      if (fused) {
        k_.dense_weight_grad(v.out, v.in, dcur, A, ld, w.g8[l].data());
        if (l == 0) break;
        const LayerView& prev = plan_[l - 1].view;
        through_sine = prev.is_sine();
        k_.dense_input_grad(v.out, v.in, eff + v.weight_offset, dcur, prev.w0, through_sine ? w.cosv[l - 1].data() : nullptr,
                            dnext, g + prev.bias_offset, ld);
        std::swap(dcur, dnext);
        continue;
      }
      weight_gradient(lp, dcur, A, g, ld);
      if (rmode) {  // R{dW} = R{dz} a^T + dz R{a}^T
        weight_gradient(lp, rcur, A, h, ld);
        if (l > 0) weight_gradient(lp, dcur, w.ract[l - 1].data(), h, ld);
      }
      if (l == 0) break;
      product(lp, true, eff, lp.s.val, lp.s.t_val, dcur, dnext, ld, false);
      if (rmode) {  // R{da} = V^T dz + W^T R{dz}
        product(lp, true, effv, lp.s.vval, lp.s.t_vval, dcur, rnext, ld, false);
        product(lp, true, eff, lp.s.val, lp.s.t_val, rcur, rnext, ld, true);
        std::swap(rcur, rnext);
      }
      std::swap(dcur, dnext);
    }
  }

  // An FFN's input: rows k and m + k of w.x get sin and cos of pi B_k . (v + 1) for this block's
  // coordinates (already in w.x's first two rows). The phase B_k . (v + 1) reaches a few hundred
  // for sigma 20, so it is formed in double and reduced modulo 2 (the period of sin(pi t)) before
  // the float sincos kernel sees it: the float argument then carries ~1e-7 rad of error, not ~1e-4.
  void fourier_encode(Workspace& w, int ld) const {
    const int m = layout_.arch().fourier_features;
    std::vector<float> coords(w.x.data(), w.x.data() + 2 * static_cast<std::size_t>(ld));
    float* x = w.x.data();
    for (int k = 0; k < m; ++k) {
      const float b0 = fourier_b_[2 * static_cast<std::size_t>(k)], b1 = fourier_b_[2 * static_cast<std::size_t>(k) + 1];
      float* sin_row = x + static_cast<std::size_t>(k) * ld;
      float* cos_row = x + static_cast<std::size_t>(m + k) * ld;
      for (int p = 0; p < ld; ++p) sin_row[p] = cos_row[p] = kernels::fourier_phase(b0, b1, coords[p], coords[ld + p]);
    }
    k_.bias_sincos(2 * m, encoding_bias_.data(), kPi, x, x, nullptr, ld);
  }
  static constexpr float kPi = 3.14159265358979323846f;

  ParamLayout layout_;
  Mask mask_;
  std::vector<float> fourier_b_;      // FFN: B (fourier_features x 2); empty for a SIREN
  std::vector<float> encoding_bias_;  // FFN: 0 for the sin rows, 0.5 (pi/2 after the factor pi) for cos
  CpuBackendOptions options_;
  const cpu::KernelTable& k_;
  int block_ = 256;
  int threads_ = 1;
  std::vector<LayerPlan> plan_;
  std::vector<RenderLayer> render_;
  bool render_fused_ = false;          // every layer sine or linear: forward() goes through render()
  std::vector<float> row_coord_, col_coord_;
  AlignedFloats eff_;    // params with masked entries forced to zero
  AlignedFloats eff_v_;  // the HVP direction, masked likewise
  std::vector<Workspace> ws_;
  const std::uint32_t* active_subset_ = nullptr;
  std::size_t n_active_ = 0;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options) : options_(options), k_(select(options)) {}
  Device device() const override { return Device::kCpu; }
  std::string description() const override {
    const int threads = options_.threads > 0 ? options_.threads : omp_get_max_threads();
    return std::string("cpu (") + k_.name + " kernels, " + (options_.fused_fit ? "fused narrow layers, " : "") +
           "OpenBLAS sgemm, " + std::to_string(threads) + " threads)";
  }
  std::unique_ptr<Evaluator> make_evaluator(const Architecture& arch, const Mask& mask, const Grid& grid) override {
    return std::make_unique<CpuEvaluator>(arch, mask, grid, options_, k_);
  }

 private:
  static const cpu::KernelTable& select(const CpuBackendOptions& o) {
    using K = CpuBackendOptions::Kernels;
    if (o.kernels == K::kGeneric) return cpu::generic_kernels();
    if (o.kernels == K::kAvx2 && !cpu::cpu_supports_avx2_fma())
      throw Error(ErrorCode::kDevice, "AVX2+FMA kernels requested but this CPU lacks AVX2 or FMA");
    if (o.kernels == K::kAvx512 && !cpu::cpu_supports_avx512())
      throw Error(ErrorCode::kDevice, "AVX-512 kernels requested but this CPU lacks AVX-512F/VL, AVX2 or FMA");
    if (o.kernels == K::kAvx2) return cpu::avx2_kernels();
    if (cpu::cpu_supports_avx512()) return cpu::avx512_kernels();
    return cpu::cpu_supports_avx2_fma() ? cpu::avx2_kernels() : cpu::generic_kernels();
  }
  CpuBackendOptions options_;
  const cpu::KernelTable& k_;
};

}  // namespace

namespace cpu {
bool cpu_supports_avx2_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
bool cpu_supports_avx512() {
  static const bool ok = cpu_supports_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  return ok;
}
}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  CpuBackendOptions o = options;
  // Measurement switches, for side-by-side runs of whole commands: MSINR_CPU_FIT=blas (the fit's
  // dense layers through OpenBLAS) and MSINR_CPU_KERNELS=generic|avx2|avx512 (the kernel table).
  if (const char* e = std::getenv("MSINR_CPU_FIT"); e && std::string(e) == "blas") o.fused_fit = false;
  if (const char* e = std::getenv("MSINR_CPU_KERNELS"); e && *e) {
    const std::string k(e);
    using K = CpuBackendOptions::Kernels;
    if (k == "generic") o.kernels = K::kGeneric;
    else if (k == "avx2") o.kernels = K::kAvx2;
    else if (k == "avx512") o.kernels = K::kAvx512;
    else throw Error(ErrorCode::kInvalidArgument, "MSINR_CPU_KERNELS must be generic, avx2 or avx512, not '" + k + "'");
  }
  return std::make_unique<CpuBackend>(o);
}

}  // namespace msinr
