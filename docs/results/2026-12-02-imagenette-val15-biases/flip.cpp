// Throwaway experiment tool: the shipped natural model with frozen_biases set (no retraining).
#include "codec/model.hpp"
#include <cstdio>
int main(int argc, char** argv) {
  auto m = msinr::codec::load_model(argv[1]);
  m.frozen_biases = true;
  auto s = msinr::codec::save_model(m, argv[2]);
  std::printf("%s\n", s.id_hex().c_str());
}
