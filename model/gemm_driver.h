// The loop nest every GEMM kernel shares (gemm_kernels.h): blocks of rows
// sized to stay in L2, then panels, then register tiles of up to
// Tiles::kMaxRows rows. Included only by the per-instruction-set kernel files.
// Everything here is a template over a Tiles type that each of those files
// defines in an anonymous namespace, so every instantiation is local to its
// file and compiled for that file's instruction set only.
#ifndef RNNSERVE_MODEL_GEMM_DRIVER_H_
#define RNNSERVE_MODEL_GEMM_DRIVER_H_

#include <cstdint>

#include "model/gemm_kernels.h"

namespace rnnserve::model::internal {

// Tiles provides kMaxRows, kMaxSingleTileRows and
//   static void Run(int rows, const float* panel, int64_t k, const float* x,
//                   int64_t ldx, const float* addend, int64_t ld_addend,
//                   float* c, int64_t ldc, int cols);
// computing `rows` rows of one panel, `cols` (1..64) of its columns valid.
// Blocks of up to kMaxSingleTileRows rows run as one tile (a single pass over
// the weights, which matter most when they come from L3 at small batches);
// bigger ones as tiles of up to kMaxRows rows.
template <typename Tiles>
void RunGemm(const GemmArgs& a) {
  constexpr int64_t kMaxRows = Tiles::kMaxRows;
  // A block of x rows is re-read once per panel: keep it within ~256 KiB so
  // it stays in L2 next to the panel being streamed.
  constexpr int64_t kBlockFloats = 64 * 1024;
  const int64_t k = a.k > 0 ? a.k : 1;
  int64_t block_rows = kBlockFloats / k / kMaxRows * kMaxRows;
  if (block_rows < kMaxRows) block_rows = kMaxRows;
  const int64_t panels = (a.n + kPanelWidth - 1) / kPanelWidth;
  for (int64_t r0 = 0; r0 < a.m; r0 += block_rows) {
    const int64_t rows = a.m - r0 < block_rows ? a.m - r0 : block_rows;
    const int64_t tiles =
        rows <= Tiles::kMaxSingleTileRows ? 1 : (rows + kMaxRows - 1) / kMaxRows;
    for (int64_t p = 0; p < panels; ++p) {
      const float* panel = a.packed + p * a.k * kPanelWidth;
      const int64_t col = p * kPanelWidth;
      const int cols = static_cast<int>(a.n - col < kPanelWidth ? a.n - col : kPanelWidth);
      int64_t r = r0;
      for (int64_t t = 0; t < tiles; ++t) {
        // Tiles as even as possible: 8 rows run as 4 + 4, not 6 + 2.
        const int tile_rows = static_cast<int>(rows / tiles + (t < rows % tiles ? 1 : 0));
        Tiles::Run(tile_rows, panel, a.k, a.x + r * a.ldx, a.ldx,
                   a.addend == nullptr ? nullptr : a.addend + r * a.ld_addend + col,
                   a.ld_addend, a.c + r * a.ldc + col, a.ldc, cols);
        r += tile_rows;
      }
    }
  }
}

}  // namespace rnnserve::model::internal

#endif  // RNNSERVE_MODEL_GEMM_DRIVER_H_
