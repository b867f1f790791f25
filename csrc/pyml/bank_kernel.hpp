// The dimension bank's two kernels, internal to the bank (bank.cpp):
//
// 1. The block kernel scores one block of Bank::kLanes slots against each
//    slot's first (oldest) model, kept in the block's hot state: push the
//    value into the prediction window, build the feature vector (v1 or v2),
//    the distance to both centres, the min-max normalised score, the first
//    model's vote. It reports, as bit masks over the block's lanes, which
//    slots made a prediction, which were scored, which the first model did
//    not call normal (so the vote must go on), and which it newly flagged
//    VARIABLE (value changed since the previous one; lanes already flagged
//    are not compared again); and the feature vectors (lane-minor).
//    One instantiation per (variant, D, S, L), and a lean one per (D, S, L)
//    for v1 banks with one model and no suppression (no feature rows, no
//    undecided mask: v1.33's tick as it was); each is built for the x86-64
//    baseline (SSE2, two lanes per instruction) and, with GCC or Clang on
//    x86-64, for AVX2 (four). Both perform the same IEEE operations in the
//    same order, without contraction, so their results are identical.
//
// 2. The vote kernel continues the vote of one slot over its other models,
//    read from the slot's cold record (below), scoring several models at
//    once (SIMD across models, each model's arithmetic that of
//    Model::score), oldest to newest, stopping at the first model that calls
//    the vector normal.
//
// Cold record of a slot (banks with more than one model per slot): the
// models, oldest first, in tiles of four: per tile the two centres as float32,
// coordinate-major (centre j, coordinate e, model m of the tile at
// [(j * F + e) * 4 + m]), then min_dist[4] and max_dist[4] as doubles; after
// the tiles, after[N] and before[N] as uint32. Unused model positions are
// zeros. The hot state holds model 0's centres as the doubles of these
// floats, so both kernels score model 0 identically.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pyml/bank.hpp"
#include "pyml/features.hpp"

namespace pyml {
namespace bank_detail {

constexpr std::size_t W = Bank::kLanes;

// Per-lane flag byte: the public status bits, and whether the hot state holds
// a model (Netdata's "trained" may hold none: the "< 2 vectors" state).
constexpr std::uint8_t kActive = 0x01, kTrained = 0x02, kSilenced = 0x04, kVariable = 0x08, kHasModel = 0x10;
constexpr std::uint8_t kStatusBits = kActive | kTrained | kSilenced | kVariable;

// Block layout, in doubles, lane-minor (element e of lane l at e * W + l):
//   ring     N rows     the prediction windows; row r holds one tick for all lanes
//   center0  F rows     the first model's centres
//   center1  F rows
//   min_dist 1 row
//   max_dist 1 row
constexpr std::size_t block_doubles(std::size_t n, std::size_t f) { return (n + 2 * f + 2) * W; }

// What the block kernel reports for one block.
struct BlockOut {
    double* scores = nullptr;       // W: the first model's score; 0 for lanes not scored
    std::uint8_t* bits = nullptr;   // W: 1 iff scored and score >= 100 * threshold
    double* to_pack = nullptr;      // W: the value to pack (NaN for a free slot)
    double* features = nullptr;     // F * W: the feature vectors, lane-minor
    unsigned predicted = 0;  // full window, not silenced: a prediction (Netdata §5.1 step 8)
    unsigned scored = 0;     // predicted and holding a model
    unsigned undecided = 0;  // scored and the first model's score is not below the threshold (or NaN)
    unsigned changed = 0;    // lanes whose VARIABLE flag the kernel set (full window, value changed)
};

// BlockKernel (bank.hpp): blk: the block's state; count: consecutive values
// per lane (updated); flags: per lane; values: W values; rows: the ring rows
// oldest first (the newest is this tick's); prev_row: the row the previous
// tick wrote.

// The block kernel for these features (p validated) and kernel build
// (baseline or avx2). lean (v1 features only): a bank with one model per
// slot and no suppression, whose tick needs neither the feature rows nor the
// undecided mask (left 0).
BlockKernel block_kernel(const FeatureParams& p, FeatureVariant variant, BankKernel kind, bool lean);

// Cold record geometry for f coordinates and n models.
constexpr std::size_t kTileModels = 4;
constexpr std::size_t tile_bytes(std::size_t f) { return 2 * f * kTileModels * sizeof(float) + 2 * kTileModels * sizeof(double); }
constexpr std::size_t cold_tiles(std::size_t n) { return (n + kTileModels - 1) / kTileModels; }
constexpr std::size_t cold_record_bytes(std::size_t f, std::size_t n) {
    return (cold_tiles(n) * tile_bytes(f) + 2 * n * sizeof(std::uint32_t) + 63) / 64 * 64;
}

// The rest of one slot's vote, after its model 0 scored `first` (NaN or not
// below the threshold), on the feature vector (coordinate e at feature[e *
// stride]): models 1 .. held-1 of the record, oldest first; a NaN
// score is skipped; the first score below the threshold ends the vote as
// normal. anomalous iff no model ended it and at least one score was not NaN.
// score: the one that ended the vote, else the smallest non-NaN score of the
// consulted models (NaN if none). visited counts model 0 too.
struct VoteOut {
    double score;
    bool anomalous;
    bool ended_normal;
    std::uint32_t visited;
};
// (VoteKernel, bank.hpp.)

// The vote kernel for f coordinates (1..6) and kernel build.
VoteKernel vote_kernel(std::size_t f, BankKernel kind);

}  // namespace bank_detail
}  // namespace pyml
