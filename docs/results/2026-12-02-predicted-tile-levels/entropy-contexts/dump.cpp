// Dumps a uniform quantized container: one line of group sizes, then each tile's symbols.
#include <cstdio>
#include "format/container.hpp"
#include "format/file_io.hpp"
int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    auto bytes = msinr::format::read_file(argv[a], 1u << 30);
    auto c = msinr::format::read_container(bytes);
    std::printf("file %s %zu %u\n", argv[a], bytes.size(), c.header.tile_count);
    for (auto g : c.header.group_sizes) std::printf("%u ", g);
    std::printf("\n");
    for (auto s : c.symbols) std::printf("%d ", s);
    std::printf("\n");
  }
}
