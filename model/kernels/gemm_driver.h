// The loop nest every GEMM kernel shares (gemm_kernels.h): blocks of rows,
// blocks of panels, register tiles of up to Tiles::kMaxRows rows, panels.
// Included only by the per-instruction-set kernel files. Everything here is
// a template over a Tiles type that each of those files defines in an
// anonymous namespace, so every instantiation is local to its file and
// compiled for that file's instruction set only.
#ifndef RNNSERVE_MODEL_KERNELS_GEMM_DRIVER_H_
#define RNNSERVE_MODEL_KERNELS_GEMM_DRIVER_H_

#include <cstdint>

#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {

// Tiles provides kMaxRows, kMaxSingleTileRows, the packed element type
// Weight, PanelElements(k) (Weights per panel) and
//   template <bool kStream>
//   static void Run(int rows, const Weight* panel, int64_t k, const float* x,
//                   int64_t ldx, const float* addend, int64_t ld_addend,
//                   float* c, int64_t ldc, int cols, const float* scales);
// computing `rows` rows of one panel, `cols` (1..64) of its columns valid,
// `scales` the panel's (int8) or nullptr;
// Tiles whose kQuantisedInput is true (int8) instead take x quantised
// (gemm_kernels.h):
//   static void Run(int rows, const Weight* panel, int64_t k, const uint8_t* xq,
//                   int64_t ldxq, const float* x_scales, const float* addend,
//                   int64_t ld_addend, float* c, int64_t ldc, int cols,
//                   const float* scales, const int32_t* column_sums);
// kStream says the tile is the only one of its rows (the panel comes from
// L3 or memory, read once), where prefetching may pay.
// Blocks of up to kMaxSingleTileRows rows run as one tile (a single pass over
// the weights, which matter most when they come from L3 at small batches);
// bigger ones as tiles of up to kMaxRows rows.
template <typename Tiles>
constexpr bool QuantisedInput() {
  if constexpr (requires { Tiles::kQuantisedInput; }) {
    return Tiles::kQuantisedInput;
  } else {
    return false;
  }
}

template <typename Tiles>
void RunGemm(const GemmArgs& a) {
  if (a.m <= 0) return;
  constexpr int64_t kMaxRows = Tiles::kMaxRows;
  // Blocks sized for the caches: a tile's rows of x (6 x k floats) stay in
  // L1 while it runs across a block of panels that stays in L2 (~512 KiB),
  // streamed once per tile; a block of x rows (~256 KiB) is read once per
  // block of panels. (Panels outer and tiles inner instead leave both x and
  // the panel to come from L2 for every tile: as fast at 64 rows of depth
  // 256, 20% slower at 600 rows of depth 64.)
  constexpr int64_t kRowBlockFloats = 64 * 1024;
  constexpr int64_t kPanelBlockFloats = 128 * 1024;
  const int64_t k = a.k > 0 ? a.k : 1;
  int64_t block_rows = kRowBlockFloats / k / kMaxRows * kMaxRows;
  if (block_rows < kMaxRows) block_rows = kMaxRows;
  // Blocks as even as possible: 256 rows at depth 512 run as 3 x 86, not
  // 126 + 126 + 4 (a lone thin tile streaming every panel again).
  const int64_t blocks = (a.m + block_rows - 1) / block_rows;
  block_rows = (a.m + blocks - 1) / blocks;
  int64_t block_panels = kPanelBlockFloats / (k * kPanelWidth);
  if (block_panels < 1) block_panels = 1;
  const int64_t panels = (a.n + kPanelWidth - 1) / kPanelWidth;
  const bool backward = a.order == PanelOrder::kBackward;  // read once, not per panel
  const auto* packed = static_cast<const typename Tiles::Weight*>(a.packed);
  const int64_t panel_elements = Tiles::PanelElements(a.k);
  for (int64_t r0 = 0; r0 < a.m; r0 += block_rows) {
    const int64_t rows = a.m - r0 < block_rows ? a.m - r0 : block_rows;
    const int64_t tiles =
        rows <= Tiles::kMaxSingleTileRows ? 1 : (rows + kMaxRows - 1) / kMaxRows;
    const bool stream = tiles == 1;
    for (int64_t p0 = 0; p0 < panels; p0 += block_panels) {
      const int64_t p1 = p0 + block_panels < panels ? p0 + block_panels : panels;
      int64_t r = r0;
      for (int64_t t = 0; t < tiles; ++t) {
        // Tiles as even as possible: 8 rows run as 4 + 4, not 6 + 2.
        const int tile_rows = static_cast<int>(rows / tiles + (t < rows % tiles ? 1 : 0));
        for (int64_t q = p0; q < p1; ++q) {
          const int64_t p = backward ? panels - 1 - q : q;
          const int64_t col = p * kPanelWidth;
          const int cols =
              static_cast<int>(a.n - col < kPanelWidth ? a.n - col : kPanelWidth);
          const auto run = stream ? Tiles::template Run<true> : Tiles::template Run<false>;
          const float* addend = a.addend == nullptr ? nullptr : a.addend + r * a.ld_addend + col;
          if constexpr (QuantisedInput<Tiles>()) {
            run(tile_rows, packed + p * panel_elements, a.k, a.xq + r * a.ldxq, a.ldxq,
                a.x_scales + r, addend, a.ld_addend, a.c + r * a.ldc + col, a.ldc, cols,
                a.scales + col, a.column_sums + col);
          } else {
            run(tile_rows, packed + p * panel_elements, a.k, a.x + r * a.ldx, a.ldx, addend,
                a.ld_addend, a.c + r * a.ldc + col, a.ldc, cols,
                a.scales == nullptr ? nullptr : a.scales + col);
          }
        }
        r += tile_rows;
      }
    }
  }
}

}  // namespace rnnserve::model::internal

#endif  // RNNSERVE_MODEL_KERNELS_GEMM_DRIVER_H_
