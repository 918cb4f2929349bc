#pragma once
// How an image is cut into tiles and where each tile's pixels sit in its network's coordinates.
//
// Tiles are tile x tile squares from the top-left; the last row and column hold what is left.
// - A grid edge (the last tile of an axis, at most `tile` long) keeps the full tile's pixel spacing:
//   its pixels take the coordinates they would have in a whole tile (linspace(-1, 1, tile) cut
//   short), and only those pixels are fitted. So every tile sees the pixel density the model was
//   meta-trained at, and no bits are spent on padding.
// - A merged edge (container version 4): a thin grid edge joins the tile before it, which is then
//   tile + 1 .. 2 tile - 1 long and spans [-1, 1] over its own length (a slightly denser grid of
//   the same square). A network per thin sliver costs far more bits than the sliver's pixels are
//   worth (docs/results.md, "Odd sizes"); one network stretched a little over them costs nothing.
// The format's rule for the counts is format::valid_tiles_along; the encoder's choice is
// merged_tiles_along.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "msinr/siren.hpp"

namespace msinr::codec {

struct TileRect {
  int x0 = 0, y0 = 0;  // top-left pixel in the image
  int width = 0, height = 0;
  // Pixels over which the tile's coordinates run from -1 to 1: the model's tile size, or for a
  // merged edge its own (longer) length.
  int span_x = 0, span_y = 0;
};

// The grid's tiles along an axis of `length` pixels: ceil(length / tile).
inline int grid_tiles_along(int length, int tile) { return (length + tile - 1) / tile; }

// The encoder's count along an axis: the grid's, less one when its last tile would hold fewer than
// a quarter of `tile` pixels, which then join the tile before it (stretching it by at most 1.25).
// Chosen on validation crops (docs/results.md, "Odd sizes").
inline int merged_tiles_along(int length, int tile) {
  const int n = grid_tiles_along(length, tile);
  const int last = length - (n - 1) * tile;
  return n > 1 && 4 * last < tile ? n - 1 : n;
}

// Length of tile i of n along an axis (the last takes the rest).
inline int tile_length(int i, int n, int length, int tile) { return i + 1 < n ? tile : length - (n - 1) * tile; }
// Its coordinate span: the model's tile, or its own length when longer (a merged edge).
inline int tile_span(int i, int n, int length, int tile) { return std::max(tile, tile_length(i, n, length, tile)); }

// Tiles in raster order. `across` / `down`: the counts (0: the grid's).
inline std::vector<TileRect> tile_rects(int width, int height, int tile, int across = 0, int down = 0) {
  if (across <= 0) across = grid_tiles_along(width, tile);
  if (down <= 0) down = grid_tiles_along(height, tile);
  std::vector<TileRect> r;
  for (int ty = 0; ty < down; ++ty)
    for (int tx = 0; tx < across; ++tx)
      r.push_back({tx * tile, ty * tile, tile_length(tx, across, width, tile), tile_length(ty, down, height, tile),
                   tile_span(tx, across, width, tile), tile_span(ty, down, height, tile)});
  return r;
}

// Coordinate of pixel i (0-based, possibly fractional) of a tile whose coordinates span `span` pixels.
inline double tile_coord(double i, int span) { return span <= 1 ? 0.0 : -1.0 + 2.0 * i / (span - 1); }

// The grid of a tile's real pixels at native resolution.
inline Grid tile_grid(const TileRect& t) {
  Grid g;
  g.rows = t.height;
  g.cols = t.width;
  g.row_lo = static_cast<float>(tile_coord(0, t.span_y));
  g.row_hi = static_cast<float>(tile_coord(t.height - 1, t.span_y));
  g.col_lo = static_cast<float>(tile_coord(0, t.span_x));
  g.col_hi = static_cast<float>(tile_coord(t.width - 1, t.span_x));
  return g;
}

}  // namespace msinr::codec
