#pragma once
// How an image is cut into tiles and where each tile's pixels sit in its network's coordinates.
//
// Tiles are tile x tile squares from the top-left; the last row and column may be smaller. An
// edge tile keeps the full tile's pixel spacing: its pixels take the coordinates they would have
// in a whole tile (linspace(-1, 1, tile) cut short), and only those pixels are fitted. So every
// tile sees the pixel density the model was meta-trained at, and no bits are spent on padding.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "msinr/siren.hpp"

namespace msinr::codec {

struct TileRect {
  int x0 = 0, y0 = 0;  // top-left pixel in the image
  int width = 0, height = 0;
};

inline std::vector<TileRect> tile_rects(int width, int height, int tile) {
  std::vector<TileRect> r;
  for (int y = 0; y < height; y += tile)
    for (int x = 0; x < width; x += tile) r.push_back({x, y, std::min(tile, width - x), std::min(tile, height - y)});
  return r;
}

// Coordinate of pixel i (0-based, possibly fractional) of a tile of `tile` pixels per side.
inline double tile_coord(double i, int tile) { return tile <= 1 ? 0.0 : -1.0 + 2.0 * i / (tile - 1); }

// The grid of a tile's real pixels at native resolution.
inline Grid tile_grid(const TileRect& t, int tile) {
  Grid g;
  g.rows = t.height;
  g.cols = t.width;
  g.row_lo = static_cast<float>(tile_coord(0, tile));
  g.row_hi = static_cast<float>(tile_coord(t.height - 1, tile));
  g.col_lo = static_cast<float>(tile_coord(0, tile));
  g.col_hi = static_cast<float>(tile_coord(t.width - 1, tile));
  if (t.height == 1) g.row_lo = g.row_hi = static_cast<float>(tile_coord(0, tile));
  if (t.width == 1) g.col_lo = g.col_hi = static_cast<float>(tile_coord(0, tile));
  return g;
}

}  // namespace msinr::codec
