#pragma once
// The reference SIREN: scalar loops, one pixel at a time, templated on the scalar type so tests
// can run it in double precision against finite differences. Obviously correct, deliberately slow.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/elementwise.hpp"
#include "msinr/architecture.hpp"
#include "msinr/siren.hpp"

namespace msinr::reference {

// What the first layer with parameters sees at grid pixel p: the (row, col) coordinate for a SIREN;
// for an FFN its Fourier encoding [sin(pi B (v + 1)), cos(pi B (v + 1))] (B from fourier_matrix).
template <class T>
void network_input(const Architecture& arch, const std::vector<float>& fourier_b, const Grid& grid, std::size_t p,
                   std::vector<T>& x) {
  const int r = static_cast<int>(p / static_cast<std::size_t>(grid.cols));
  const int c = static_cast<int>(p % static_cast<std::size_t>(grid.cols));
  const T row = static_cast<T>(grid.row_coord(r)), col = static_cast<T>(grid.col_coord(c));
  if (arch.network != Network::kFourier) {
    x = {row, col};
    return;
  }
  const int m = arch.fourier_features;
  x.assign(2 * static_cast<std::size_t>(m), T(0));
  const T pi = static_cast<T>(3.14159265358979323846);
  for (int k = 0; k < m; ++k) {
    const T a = pi * (static_cast<T>(fourier_b[2 * k]) * (row + 1) + static_cast<T>(fourier_b[2 * k + 1]) * (col + 1));
    x[k] = std::sin(a);
    x[m + k] = std::cos(a);
  }
}

// Returns the MSE; fills out (pixels x out, may be null) and grad (param_count, may be null).
// Masked weights are treated as zero and get zero gradient whatever `params` holds there.
// `subset`: grid pixels to take the loss over (null or empty: all).
template <class T>
T loss_and_gradient(const ParamLayout& layout, const std::uint8_t* mask, const T* params, const Grid& grid,
                    const T* target, T* grad, T* out, const std::vector<std::uint32_t>* subset = nullptr) {
  const auto& layers = layout.layers();
  const bool use_subset = subset && !subset->empty() && target;
  const std::size_t n_pixels = use_subset ? subset->size() : grid.pixels();
  const int n_out = layout.arch().out_features;
  auto weight = [&](const LayerView& v, int o, int i) -> T {
    const std::size_t k = v.weight_offset + static_cast<std::size_t>(o) * v.in + i;
    return mask[k] ? params[k] : T(0);
  };
  if (grad)
    for (std::size_t k = 0; k < layout.param_count(); ++k) grad[k] = T(0);

  std::vector<std::vector<T>> act(layers.size() + 1), cosv(layers.size());
  const std::vector<float> fourier_b = fourier_matrix(layout.arch());
  std::vector<T> delta, next_delta;
  const T inv_count = T(1) / static_cast<T>(n_pixels * n_out);
  T sse = 0;
  for (std::size_t q = 0; q < n_pixels; ++q) {
    {
      const std::size_t p = use_subset ? (*subset)[q] : q;
      network_input(layout.arch(), fourier_b, grid, p, act[0]);
      for (std::size_t l = 0; l < layers.size(); ++l) {
        const LayerView& v = layers[l];
        act[l + 1].assign(v.out, T(0));
        if (v.is_sine()) cosv[l].assign(v.out, T(0));
        for (int o = 0; o < v.out; ++o) {
          T z = 0;
          for (int i = 0; i < v.in; ++i) z += weight(v, o, i) * act[l][i];
          if (v.is_sine()) {
            const T a = kernels::sine_argument(z, params[v.bias_offset + o], static_cast<T>(v.w0));
            act[l + 1][o] = std::sin(a);
            cosv[l][o] = std::cos(a);
          } else if (v.is_relu()) {
            act[l + 1][o] = std::max(T(0), z + params[v.bias_offset + o]);
          } else {
            act[l + 1][o] = z + params[v.bias_offset + o];
          }
        }
      }
      const std::vector<T>& y = act[layers.size()];
      delta.assign(n_out, T(0));
      for (int o = 0; o < n_out; ++o) {
        if (out) out[p * n_out + o] = y[o];
        if (target) {
          const T d = y[o] - target[p * n_out + o];
          sse += d * d;
          delta[o] = kernels::mse_gradient(y[o], target[p * n_out + o], inv_count);
        }
      }
      if (!grad || !target) continue;
      // Backward: delta holds dL/d(pre-activation) of layer l.
      for (std::size_t l = layers.size(); l-- > 0;) {
        const LayerView& v = layers[l];
        if (v.is_sine())
          for (int o = 0; o < v.out; ++o) delta[o] = kernels::sine_backward(delta[o], cosv[l][o], static_cast<T>(v.w0));
        if (v.is_relu())
          for (int o = 0; o < v.out; ++o) delta[o] = act[l + 1][o] > T(0) ? delta[o] : T(0);
        for (int o = 0; o < v.out; ++o) {
          grad[v.bias_offset + o] += delta[o];
          for (int i = 0; i < v.in; ++i) {
            const std::size_t k = v.weight_offset + static_cast<std::size_t>(o) * v.in + i;
            if (mask[k]) grad[k] += delta[o] * act[l][i];
          }
        }
        if (l == 0) break;
        next_delta.assign(v.in, T(0));
        for (int o = 0; o < v.out; ++o)
          for (int i = 0; i < v.in; ++i) next_delta[i] += weight(v, o, i) * delta[o];
        delta.swap(next_delta);
      }
    }
  }
  return sse * inv_count;
}

}  // namespace msinr::reference

namespace msinr::reference {

// Gradient and Hessian-vector product H v of the MSE at `params`, by Pearlmutter's R-operator:
// every forward and backward quantity q gets a companion R{q} = d/dr q(params + r v) at r = 0,
// propagated alongside it. Exact (no finite differences), never materializes H.
// Masked weights: their entries of v are ignored and their entries of hv are zero.
template <class T>
T gradient_and_hvp(const ParamLayout& layout, const std::uint8_t* mask, const T* params, const T* v, const Grid& grid,
                   const T* target, T* grad, T* hv, const std::vector<std::uint32_t>* subset = nullptr) {
  const auto& layers = layout.layers();
  const std::size_t L = layers.size();
  const bool use_subset = subset && !subset->empty() && target;
  const std::size_t n_pixels = use_subset ? subset->size() : grid.pixels();
  const int n_out = layout.arch().out_features;
  auto at = [&](const T* vec, const LayerView& lv, int o, int i) -> T {
    const std::size_t k = lv.weight_offset + static_cast<std::size_t>(o) * lv.in + i;
    return mask[k] ? vec[k] : T(0);
  };
  for (std::size_t k = 0; k < layout.param_count(); ++k) grad[k] = hv[k] = T(0);
  const T inv_count = T(1) / static_cast<T>(n_pixels * n_out);
  // a[l]: input of layer l; ra[l] its R{}; z[l]: w0 (W a + b) for sine layers, W a + b for the last.
  std::vector<std::vector<T>> a(L + 1), ra(L + 1), s(L), rs(L);
  const std::vector<float> fourier_b = fourier_matrix(layout.arch());
  T sse = 0;
  for (std::size_t q = 0; q < n_pixels; ++q) {
    {
      const std::size_t p = use_subset ? (*subset)[q] : q;
      network_input(layout.arch(), fourier_b, grid, p, a[0]);
      ra[0].assign(a[0].size(), T(0));  // the input (coordinates or fixed encoding) does not depend on params
      for (std::size_t l = 0; l < L; ++l) {
        const LayerView& lv = layers[l];
        a[l + 1].assign(lv.out, T(0));
        ra[l + 1].assign(lv.out, T(0));
        s[l].assign(lv.out, T(0));
        rs[l].assign(lv.out, T(0));
        for (int o = 0; o < lv.out; ++o) {
          T z = params[lv.bias_offset + o], rz = v[lv.bias_offset + o];
          for (int i = 0; i < lv.in; ++i) {
            z += at(params, lv, o, i) * a[l][i];
            rz += at(v, lv, o, i) * a[l][i] + at(params, lv, o, i) * ra[l][i];
          }
          if (lv.is_sine()) {
            s[l][o] = static_cast<T>(lv.w0) * z;
            rs[l][o] = static_cast<T>(lv.w0) * rz;
            a[l + 1][o] = std::sin(s[l][o]);
            ra[l + 1][o] = std::cos(s[l][o]) * rs[l][o];
          } else if (lv.is_relu()) {
            // ReLU is piecewise linear: R{a} = 1[z > 0] R{z}, and no second-derivative term below.
            a[l + 1][o] = z > T(0) ? z : T(0);
            ra[l + 1][o] = z > T(0) ? rz : T(0);
          } else {
            a[l + 1][o] = z;
            ra[l + 1][o] = rz;
          }
        }
      }
      // Backward: d = dL/d(pre-activation), rd = R{d}.
      std::vector<T> d(n_out), rd(n_out);
      for (int o = 0; o < n_out; ++o) {
        const T y = a[L][o];
        const T diff = y - target[p * n_out + o];
        sse += diff * diff;
        d[o] = T(2) * diff * inv_count;
        rd[o] = T(2) * ra[L][o] * inv_count;
      }
      for (std::size_t l = L; l-- > 0;) {
        const LayerView& lv = layers[l];
        if (lv.is_sine()) {
          const T w0 = static_cast<T>(lv.w0);
          for (int o = 0; o < lv.out; ++o) {
            const T cs = std::cos(s[l][o]), sn = std::sin(s[l][o]);
            // d(pre) = dh * w0 cos(s);  R{d(pre)} = R{dh} w0 cos(s) - dh w0 sin(s) R{s}
            const T dpre = d[o] * w0 * cs;
            rd[o] = rd[o] * w0 * cs - d[o] * w0 * sn * rs[l][o];
            d[o] = dpre;
          }
        }
        if (lv.is_relu()) {
          for (int o = 0; o < lv.out; ++o) {
            const bool on = a[l + 1][o] > T(0);
            d[o] = on ? d[o] : T(0);
            rd[o] = on ? rd[o] : T(0);
          }
        }
        for (int o = 0; o < lv.out; ++o) {
          grad[lv.bias_offset + o] += d[o];
          hv[lv.bias_offset + o] += rd[o];
          for (int i = 0; i < lv.in; ++i) {
            const std::size_t k = lv.weight_offset + static_cast<std::size_t>(o) * lv.in + i;
            if (!mask[k]) continue;
            grad[k] += d[o] * a[l][i];
            hv[k] += rd[o] * a[l][i] + d[o] * ra[l][i];
          }
        }
        if (l == 0) break;
        std::vector<T> nd(lv.in, T(0)), nrd(lv.in, T(0));
        for (int o = 0; o < lv.out; ++o)
          for (int i = 0; i < lv.in; ++i) {
            nd[i] += at(params, lv, o, i) * d[o];
            nrd[i] += at(v, lv, o, i) * d[o] + at(params, lv, o, i) * rd[o];
          }
        d.swap(nd);
        rd.swap(nrd);
      }
    }
  }
  return sse * inv_count;
}

}  // namespace msinr::reference
