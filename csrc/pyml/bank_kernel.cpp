#include "pyml/bank_kernel.hpp"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// On x86-64 with GCC or Clang the kernels also exist for AVX2, chosen at run
// time (same operations, four lanes per instruction: identical results).
#if defined(__x86_64__) && defined(__GNUC__)
#define PYML_BANK_AVX2 1
#include <immintrin.h>
#endif

namespace pyml {
namespace bank_detail {
namespace {

// Lanes of doubles as one GCC/Clang vector: element-wise IEEE operations.
// Two lanes fill an SSE2 register (the x86-64 baseline), four an AVX one.
// The vector helpers are internal and inlined, so the calling convention GCC
// may warn about (-Wpsabi) never applies.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
template <std::size_t Lanes>
struct Simd {
    static constexpr std::size_t V = Lanes;
    typedef double vdouble __attribute__((vector_size(Lanes * sizeof(double))));
    typedef std::int64_t vmask __attribute__((vector_size(Lanes * sizeof(double))));
};

// Lane masks as bits, and float32 pairs or quads widened to doubles, per width.
__attribute__((always_inline)) inline unsigned lane_bits(const Simd<2>::vmask& m) noexcept {
#if defined(__SSE2__)
    return static_cast<unsigned>(_mm_movemask_pd(reinterpret_cast<__m128d>(m)));
#else
    return static_cast<unsigned>(m[0] != 0) | static_cast<unsigned>(m[1] != 0) << 1;
#endif
}

__attribute__((always_inline)) inline Simd<2>::vdouble widen_floats(const unsigned char* p, Simd<2>::vdouble) noexcept {
#if defined(__SSE2__)
    return reinterpret_cast<Simd<2>::vdouble>(
        _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))));
#else
    float f[2];
    std::memcpy(f, p, sizeof f);
    return Simd<2>::vdouble{f[0], f[1]};
#endif
}

#if defined(PYML_BANK_AVX2)
__attribute__((target("avx2"))) inline unsigned lane_bits(const Simd<4>::vmask& m) noexcept {
    return static_cast<unsigned>(_mm256_movemask_pd(reinterpret_cast<__m256d>(m)));
}

__attribute__((target("avx2"))) inline Simd<4>::vdouble widen_floats(const unsigned char* p,
                                                                    Simd<4>::vdouble) noexcept {
    return reinterpret_cast<Simd<4>::vdouble>(_mm256_cvtps_pd(_mm_loadu_ps(reinterpret_cast<const float*>(p))));
}
#endif

// Bit l of m moved to bit 3 (VARIABLE) of byte l, for the eight lanes of a block.
struct SpreadTable {
    std::uint64_t v[256];
    constexpr SpreadTable() : v() {
        for (unsigned m = 0; m < 256; ++m) {
            std::uint64_t out = 0;
            for (unsigned l = 0; l < 8; ++l) out |= static_cast<std::uint64_t>((m >> l) & 1u) << (8 * l + 3);
            v[m] = out;
        }
    }
};
constexpr SpreadTable kSpreadVariable{};

// Loads, stores, |x| and a lane-by-lane choice for one vector width.
template <class Sx>
struct VecOps {
    using vdouble = typename Sx::vdouble;
    using vmask = typename Sx::vmask;
    __attribute__((always_inline)) static vdouble load(const double* p) noexcept {
        vdouble v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    __attribute__((always_inline)) static vdouble load_bytes(const unsigned char* p) noexcept {
        vdouble v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    __attribute__((always_inline)) static void store(double* p, const vdouble& v) noexcept {
        std::memcpy(p, &v, sizeof v);
    }
    __attribute__((always_inline)) static vdouble vabs(const vdouble& x) noexcept {
        return reinterpret_cast<vdouble>(reinterpret_cast<vmask>(x) & 0x7FFFFFFFFFFFFFFFll);
    }
    // m ? a : b, lane by lane
    __attribute__((always_inline)) static vdouble select(const vmask& m, const vdouble& a, const vdouble& b) noexcept {
        return reinterpret_cast<vdouble>((reinterpret_cast<vmask>(a) & m) | (reinterpret_cast<vmask>(b) & ~m));
    }
    __attribute__((always_inline)) static vdouble splat(double x) noexcept {
        vdouble v;
        for (std::size_t l = 0; l < Sx::V; ++l) v[l] = x;
        return v;
    }
    // Bit l set iff lane l of m is set.
    __attribute__((always_inline)) static unsigned bits(const vmask& m) noexcept { return lane_bits(m); }
    // V floats widened to doubles (exact).
    __attribute__((always_inline)) static vdouble load_floats(const unsigned char* p) noexcept {
        return widen_floats(p, vdouble{});
    }
};

// Correctly rounded, like std::sqrt.
inline Simd<2>::vdouble vsqrt(const Simd<2>::vdouble& x) noexcept {
#if defined(__SSE2__)
    return reinterpret_cast<Simd<2>::vdouble>(_mm_sqrt_pd(reinterpret_cast<__m128d>(x)));
#else
    return Simd<2>::vdouble{std::sqrt(x[0]), std::sqrt(x[1])};
#endif
}

#if defined(PYML_BANK_AVX2)
__attribute__((target("avx2"))) inline Simd<4>::vdouble vsqrt(const Simd<4>::vdouble& x) noexcept {
    return reinterpret_cast<Simd<4>::vdouble>(_mm256_sqrt_pd(reinterpret_cast<__m256d>(x)));
}
#endif

// The score of Model::score from the two squared distances, lane by lane:
// mean distance (0.0 + sqrt(s0) + sqrt(s1)) / 2 (halving is exact), then 0 if
// hi == lo, else min(100, 100 * |(dist - lo) / (hi - lo)|).
template <class Sx>
__attribute__((always_inline)) inline typename Sx::vdouble score_of(const typename Sx::vdouble& sq0,
                                                                    const typename Sx::vdouble& sq1,
                                                                    const typename Sx::vdouble& lo,
                                                                    const typename Sx::vdouble& hi) {
    using Ops = VecOps<Sx>;
    const typename Sx::vdouble zero = {};
    const typename Sx::vdouble dist = ((zero + vsqrt(sq0)) + vsqrt(sq1)) * 0.5;
    const typename Sx::vdouble r = 100.0 * Ops::vabs((dist - lo) / (hi - lo));
    typename Sx::vdouble score = Ops::select(r > 100.0, zero + 100.0, r);
    return Ops::select(hi == lo, zero, score);
}

// Scores one block against each lane's first model. The arithmetic follows
// the features (v1: the last row of extract_features; v2: the one row of
// extract_features_v2 over the window) and Model::score exactly, operation by
// operation, lane by lane; working on several lanes at once changes no result
// (no contraction, correctly rounded sqrt and division). The G lane groups of
// a block are independent: each step is written for all of them at once, so
// their long dependency chains (the running sum, then the distances) overlap
// in the pipeline.
// Mode: kLean (v1 features, a bank with one model per slot and no
// suppression: neither feature rows nor the undecided mask are needed), kV1,
// kV2.
constexpr int kLean = 0, kV1 = 1, kV2 = 2;

template <class Sx, int Mode, std::size_t D, std::size_t S, std::size_t L>
inline __attribute__((always_inline)) void score_block(double* blk, std::uint8_t* count, std::uint8_t* flags,
                                                       const double* values, const std::size_t* ring_rows,
                                                       std::size_t prev_row, double threshold100, BlockOut& out) {
    using vdouble = typename Sx::vdouble;
    using vmask = typename Sx::vmask;
    constexpr std::size_t V = Sx::V;
    using Ops = VecOps<Sx>;
    constexpr std::size_t N = D + S + L;
    constexpr std::size_t F = L + 1;
    constexpr std::size_t G = W / V;
    constexpr bool V2 = Mode == kV2, Lean = Mode == kLean;
    // The outputs in locals: byte stores (count, bits) may alias anything in
    // memory, `out` included, but not these.
    double* const scores_out = out.scores;
    std::uint8_t* const bits_out = out.bits;
    double* const to_pack = out.to_pack;
    double* const feat_out = out.features;
    // v1 predicts on the N-th consecutive value, v2 on the (N+1)-th.
    constexpr unsigned Warm = V2 ? N + 1 : N;
    const double* c0 = blk + N * W;
    const double* c1 = c0 + F * W;
    const double* mn = c1 + F * W;
    const double* mx = mn + W;

    // Counts and masks. A gap (or a free slot) empties the window. A full
    // window holds a previous value, except v1's window of one value.
    constexpr bool kNeedHad = !V2 && N == 1;
    unsigned full = 0, had = kNeedHad ? 0u : ~0u;
    for (std::size_t l = 0; l < W; ++l) {
        const bool good = ((flags[l] & kActive) != 0) & (std::fabs(values[l]) <= kMaxStorableMagnitude);
        const unsigned c = count[l];
        const unsigned next = (c + (c < Warm ? 1u : 0u)) * static_cast<unsigned>(good);
        count[l] = static_cast<std::uint8_t>(next);
        full |= static_cast<unsigned>(next == Warm) << l;
        if constexpr (kNeedHad) had |= static_cast<unsigned>(c != 0) << l;
    }
    // Flag bits of the eight lanes as masks: bit b of every byte, gathered.
    static_assert(W == 8 && kSilenced == 1u << 2 && kVariable == 1u << 3 && kHasModel == 1u << 4, "flag layout");
    std::uint64_t f8;
    std::memcpy(&f8, flags, sizeof f8);
    constexpr std::uint64_t kLow = 0x0101010101010101ull, kGather = 0x0102040810204080ull;
    // (A bank on the lean kernel never silences.)
    const unsigned silenced = Lean ? 0u : static_cast<unsigned>((((f8 >> 2) & kLow) * kGather) >> 56);
    const unsigned variable = static_cast<unsigned>((((f8 >> 3) & kLow) * kGather) >> 56);
    const unsigned has_model = static_cast<unsigned>((((f8 >> 4) & kLow) * kGather) >> 56);
    const unsigned predicted = full & ~silenced;
    const unsigned scored = predicted & has_model;
    // Lanes whose VARIABLE flag this tick may set: a prediction's window (a
    // previous value) and the flag still clear. Once set, it stays until the
    // next training attempt, so most ticks have none to check.
    const unsigned unsettled = full & had & ~variable;

    // Push: the newest ring row gets this tick's values (0 for a gap, so the
    // arithmetic below stays finite). A free slot packs NaN, the empty word.
    // Branch-free (gaps come at random), and the new row stays in registers:
    // reading it back right after storing it would wait for the stores. With
    // a window of one value the previous value is in the row being written:
    // it is compared before the store.
    const vdouble zero = {};
    const vdouble nan = zero + std::numeric_limits<double>::quiet_NaN();
    double* newest = blk + ring_rows[N - 1] * W;
    const double* previous = blk + prev_row * W;
    vdouble pushed[G];
    unsigned same = 0;
    for (std::size_t g = 0; g < G; ++g) {
        const std::size_t q = g * V;
        const vdouble x = Ops::load(values + q);
        vmask active;
        for (std::size_t l = 0; l < V; ++l) active[l] = (flags[q + l] & kActive) != 0 ? -1 : 0;
        pushed[g] = Ops::select(active & (Ops::vabs(x) <= kMaxStorableMagnitude), x, zero);
        if constexpr (N == 1) same |= Ops::bits(pushed[g] == Ops::load(previous + q)) << q;
        Ops::store(newest + q, pushed[g]);
        Ops::store(to_pack + q, Ops::select(active, x, nan));
    }

    if constexpr (N > 1) {
        if (unsettled != 0) {
            for (std::size_t g = 0; g < G; ++g) same |= Ops::bits(pushed[g] == Ops::load(previous + g * V)) << (g * V);
        }
    }

    const double* row[N];
    for (std::size_t i = 0; i < N; ++i) row[i] = blk + ring_rows[i] * W;
    vdouble sq0[G], sq1[G];
    for (std::size_t g = 0; g < G; ++g) {
        sq0[g] = zero;
        sq1[g] = zero;
    }
    if constexpr (!V2) {
        // Difference (x[i] - x[i - D]), oldest first; none when D == 0.
        const double f = 1.0 / static_cast<double>(S);
        vdouble d[N][G];
        for (std::size_t i = 0; i < N; ++i) {
            for (std::size_t g = 0; g < G; ++g) {
                const vdouble x = i == N - 1 ? pushed[g] : Ops::load(row[i] + g * V);
                d[i][g] = D > 0 && i >= D ? x - Ops::load(row[i - D] + g * V) : x;
            }
        }
        // Running sum from the newest end, times 1/S; lag; absolute value; and
        // the squared distances to both centres, coordinate by coordinate.
        vdouble total[G];
        for (std::size_t g = 0; g < G; ++g) total[g] = zero;
        for (std::size_t i = 1; i <= S; ++i) {
            for (std::size_t g = 0; g < G; ++g) total[g] += d[N - i][g];
        }
        for (std::size_t i = 0; i <= L; ++i) {
            for (std::size_t g = 0; g < G; ++g) {
                if (i > 0) total[g] = (total[g] - d[N - i][g]) + d[N - i - S][g];
                const vdouble feat = Ops::vabs(total[g] * f);
                if constexpr (!Lean) Ops::store(feat_out + i * W + g * V, feat);
                const vdouble t0 = Ops::load(c0 + i * W + g * V) - feat;
                const vdouble t1 = Ops::load(c1 + i * W + g * V) - feat;
                sq0[g] += t0 * t0;
                sq1[g] += t1 * t1;
            }
        }
    } else {
        // Difference forward (x[i + D] - x[i]), oldest first; none when D == 0.
        constexpr std::size_t M = N - D;
        const double sd = static_cast<double>(S);
        vdouble d[M][G];
        for (std::size_t i = 0; i < M; ++i) {
            for (std::size_t g = 0; g < G; ++g) {
                const vdouble x = i == N - 1 ? pushed[g] : Ops::load(row[i] + g * V);
                if constexpr (D > 0) {
                    const vdouble y = i + D == N - 1 ? pushed[g] : Ops::load(row[i + D] + g * V);
                    d[i][g] = y - x;
                } else {
                    d[i][g] = x;
                }
            }
        }
        // Forward running sum from 0.0: add the newest difference, divide by
        // S, subtract the oldest; with D == 0 the newest element is 0
        // (Netdata zeroes the buffer's last S slots). Then the squared
        // distances to both centres, coordinate by coordinate.
        vdouble sum[G];
        for (std::size_t g = 0; g < G; ++g) sum[g] = zero;
        for (std::size_t i = 0; i + 1 < S; ++i) {
            for (std::size_t g = 0; g < G; ++g) sum[g] += d[i][g];
        }
        for (std::size_t e = 0; e <= L; ++e) {
            for (std::size_t g = 0; g < G; ++g) {
                sum[g] += d[e + S - 1][g];
                const vdouble feat = (D == 0 && e == L) ? zero : sum[g] / sd;
                sum[g] -= d[e][g];
                Ops::store(feat_out + e * W + g * V, feat);
                const vdouble t0 = Ops::load(c0 + e * W + g * V) - feat;
                const vdouble t1 = Ops::load(c1 + e * W + g * V) - feat;
                sq0[g] += t0 * t0;
                sq1[g] += t1 * t1;
            }
        }
    }
    // The score, then the first model's vote.
    unsigned undecided = 0;
    for (std::size_t g = 0; g < G; ++g) {
        const std::size_t q = g * V;
        vmask has_score;
        for (std::size_t l = 0; l < V; ++l) has_score[l] = (scored >> (q + l)) & 1u ? -1 : 0;
        vdouble score = score_of<Sx>(sq0[g], sq1[g], Ops::load(mn + q), Ops::load(mx + q));
        score = Ops::select(has_score, score, zero);
        Ops::store(scores_out + q, score);
        const vmask bit = (score >= threshold100) & has_score;  // no score: normal, whatever the threshold
        for (std::size_t l = 0; l < V; ++l) bits_out[q + l] = bit[l] != 0;
        if constexpr (!Lean) undecided |= Ops::bits(~(score < threshold100) & has_score) << q;
    }
    out.predicted = predicted;
    out.scored = scored;
    out.undecided = undecided;
    out.changed = unsettled & ~same;
    if (out.changed != 0) {  // VARIABLE: the value changed at a prediction (silenced or not)
        f8 |= kSpreadVariable.v[out.changed];
        std::memcpy(flags, &f8, sizeof f8);
    }
}


// The rest of a vote (see bank_kernel.hpp), V models at a time: a tile of
// four models is one AVX2 step or two SSE2 steps. Each model's score is
// Model::score's arithmetic on the model as stored (float32 centres widened
// exactly). The decisions of a chunk are taken together, as they would be one
// model at a time: the first score below the threshold (NaN compares false)
// ends the vote; before it, the non-NaN scores are votes, and their minimum
// is kept (min is exact and scores are never -0, so the order is irrelevant).
template <class Sx, std::size_t F>
inline __attribute__((always_inline)) VoteOut vote_rest(const unsigned char* record, std::size_t held,
                                                        const double* feature, std::size_t stride, double first,
                                                        double threshold100) {
    using vdouble = typename Sx::vdouble;
    using Ops = VecOps<Sx>;
    constexpr std::size_t V = Sx::V;
    constexpr std::size_t TB = tile_bytes(F);
    constexpr std::size_t kCentres = 2 * F * kTileModels * sizeof(float);
    constexpr unsigned kAll = (1u << V) - 1;
    vdouble x[F];
    for (std::size_t e = 0; e < F; ++e) x[e] = Ops::splat(feature[e * stride]);
    const vdouble zero = {};
    const vdouble inf = zero + std::numeric_limits<double>::infinity();
    typename Sx::vmask lane;  // 0, 1, ..., V - 1
    for (std::size_t l = 0; l < V; ++l) lane[l] = static_cast<std::int64_t>(l);

    std::size_t votes = std::isnan(first) ? 0 : 1;
    vdouble lowest = zero + (std::isnan(first) ? std::numeric_limits<double>::infinity() : first);
    // The scores of V models from model `base`.
    const auto chunk = [&](std::size_t base) {
        const unsigned char* tile = record + (base / kTileModels) * TB;
        const std::size_t m0 = base % kTileModels;  // first model of the chunk within its tile
        vdouble sq0 = zero, sq1 = zero;
        for (std::size_t e = 0; e < F; ++e) {
            const vdouble t0 = Ops::load_floats(tile + ((0 * F + e) * kTileModels + m0) * sizeof(float)) - x[e];
            const vdouble t1 = Ops::load_floats(tile + ((1 * F + e) * kTileModels + m0) * sizeof(float)) - x[e];
            sq0 += t0 * t0;
            sq1 += t1 * t1;
        }
        const vdouble lo = Ops::load_bytes(tile + kCentres + m0 * sizeof(double));
        const vdouble hi = Ops::load_bytes(tile + kCentres + kTileModels * sizeof(double) + m0 * sizeof(double));
        // A score that is certainly capped at 100 needs no square root: with
        // 0 <= lo < hi < inf, max(s0, s1) > (2 hi (1 + 2e-6))^2 gives, through
        // every rounding of the exact path, dist > hi (1 + 1e-6), so
        // (dist - lo) / (hi - lo) > 1 + 9e-7 and 100 times it exceeds 100.
        // (NaN and overflow fail the test and take the exact path.)
        const vdouble reach = (hi + hi) * (1.0 + 2e-6);
        const typename Sx::vmask capped = (lo >= 0.0) & (hi > lo) & (hi < inf) & (sq0 == sq0) & (sq1 == sq1) &
                                          (Ops::select(sq0 > sq1, sq0, sq1) > reach * reach);
        const unsigned stored = held - base >= V ? kAll : (1u << (held - base)) - 1;  // lanes beyond: ignored
        if (((Ops::bits(capped) | ~stored) & kAll) == kAll) return zero + 100.0;
        return score_of<Sx>(sq0, sq1, lo, hi);
    };
    // The decisions on the chunk from model `base`; the model that ends the
    // vote, or `held` when none does.
    const auto decide = [&](const vdouble& score, std::size_t base) -> std::size_t {
        unsigned valid = held - base >= V ? kAll : (1u << (held - base)) - 1;
        if (base == 0) valid &= ~1u;  // model 0 voted already
        const unsigned low = Ops::bits(score < threshold100) & valid;
        if (low != 0) return base + static_cast<std::size_t>(__builtin_ctz(low));
        // Votes: the valid lanes whose score is not NaN.
        const typename Sx::vmask keep = (score == score) & (lane >= static_cast<std::int64_t>(base == 0 ? 1 : 0)) &
                                        (lane < static_cast<std::int64_t>(held - base));
        for (unsigned m = Ops::bits(keep); m != 0; m &= m - 1) ++votes;
        const vdouble candidate = Ops::select(keep, score, inf);
        lowest = Ops::select(candidate < lowest, candidate, lowest);
        return held;
    };
    // Chunks from model 0, whose score equals `first` and is masked out
    // (recomputed only to keep the chunks aligned to the tiles); two chunks
    // per step, so their long chains (sums, square roots, division) overlap.
    for (std::size_t base = 0; base < held; base += 2 * V) {
        const vdouble a = chunk(base);
        const bool second = base + V < held;
        const vdouble b = second ? chunk(base + V) : zero;
        std::size_t at = decide(a, base);
        if (at == held && second) at = decide(b, base + V);
        if (at != held) {
            const vdouble& s = at < base + V ? a : b;
            return VoteOut{s[(at - base) % V], false, true, static_cast<std::uint32_t>(at + 1)};
        }
    }
    double least = lowest[0];
    for (std::size_t l = 1; l < V; ++l) least = lowest[l] < least ? lowest[l] : least;
    const bool anomalous = votes > 0;
    return VoteOut{anomalous ? least : std::numeric_limits<double>::quiet_NaN(), anomalous, false,
                   static_cast<std::uint32_t>(held)};
}

template <int Mode, std::size_t D, std::size_t S, std::size_t L>
void block_baseline(double* blk, std::uint8_t* count, std::uint8_t* flags, const double* values,
                    const std::size_t* rows, std::size_t prev_row, double threshold100, BlockOut& out) {
    score_block<Simd<2>, Mode, D, S, L>(blk, count, flags, values, rows, prev_row, threshold100, out);
}

template <std::size_t F>
VoteOut vote_baseline(const unsigned char* record, std::size_t held, const double* feature, std::size_t stride,
                      double first, double threshold100) {
    return vote_rest<Simd<2>, F>(record, held, feature, stride, first, threshold100);
}

#if defined(PYML_BANK_AVX2)
template <int Mode, std::size_t D, std::size_t S, std::size_t L>
__attribute__((target("avx2"), flatten)) void block_avx2(double* blk, std::uint8_t* count, std::uint8_t* flags,
                                                         const double* values, const std::size_t* rows,
                                                         std::size_t prev_row, double threshold100, BlockOut& out) {
    score_block<Simd<4>, Mode, D, S, L>(blk, count, flags, values, rows, prev_row, threshold100, out);
}

template <std::size_t F>
__attribute__((target("avx2"), flatten)) VoteOut vote_avx2(const unsigned char* record, std::size_t held,
                                                           const double* feature, std::size_t stride, double first,
                                                           double threshold100) {
    return vote_rest<Simd<4>, F>(record, held, feature, stride, first, threshold100);
}
#endif

// One block kernel per (mode, D, S, L): D in 0..1, S in 1..5 (0 behaves as
// 1), L in 0..5.
constexpr std::size_t kSmoothChoices = kMaxSmoothN;
constexpr std::size_t kLagChoices = kMaxLagN + 1;
constexpr std::size_t kPerVariant = (kMaxDiffN + 1) * kSmoothChoices * kLagChoices;

template <std::size_t I>
struct KernelOf {
    static constexpr int Mode = static_cast<int>(I / kPerVariant);
    static constexpr std::size_t J = I % kPerVariant;
    static constexpr std::size_t D = J / (kSmoothChoices * kLagChoices);
    static constexpr std::size_t S = (J / kLagChoices) % kSmoothChoices + 1;
    static constexpr std::size_t L = J % kLagChoices;
};

template <std::size_t... I>
constexpr std::array<BlockKernel, sizeof...(I)> make_baseline_kernels(std::index_sequence<I...>) {
    return {{&block_baseline<KernelOf<I>::Mode, KernelOf<I>::D, KernelOf<I>::S, KernelOf<I>::L>...}};
}

#if defined(PYML_BANK_AVX2)
template <std::size_t... I>
constexpr std::array<BlockKernel, sizeof...(I)> make_avx2_kernels(std::index_sequence<I...>) {
    return {{&block_avx2<KernelOf<I>::Mode, KernelOf<I>::D, KernelOf<I>::S, KernelOf<I>::L>...}};
}
#endif

constexpr VoteKernel kVoteBaseline[kMaxFeatureDims + 1] = {nullptr,          &vote_baseline<1>, &vote_baseline<2>,
                                                           &vote_baseline<3>, &vote_baseline<4>, &vote_baseline<5>,
                                                           &vote_baseline<6>};
#if defined(PYML_BANK_AVX2)
constexpr VoteKernel kVoteAvx2[kMaxFeatureDims + 1] = {nullptr,      &vote_avx2<1>, &vote_avx2<2>, &vote_avx2<3>,
                                                       &vote_avx2<4>, &vote_avx2<5>, &vote_avx2<6>};
#endif

}  // namespace

BlockKernel block_kernel(const FeatureParams& p, FeatureVariant variant, BankKernel kind, bool lean) {
    static constexpr auto kBaseline = make_baseline_kernels(std::make_index_sequence<3 * kPerVariant>{});
    const std::size_t s = effective_smooth_n(p);
    const int mode = variant == FeatureVariant::v2 ? kV2 : (lean ? kLean : kV1);
    const std::size_t index = static_cast<std::size_t>(mode) * kPerVariant +
                              p.diff_n * kSmoothChoices * kLagChoices + (s - 1) * kLagChoices + p.lag_n;
#if defined(PYML_BANK_AVX2)
    static constexpr auto kAvx2 = make_avx2_kernels(std::make_index_sequence<3 * kPerVariant>{});
    if (kind == BankKernel::avx2) return kAvx2[index];
#endif
    (void)kind;
    return kBaseline[index];
}

VoteKernel vote_kernel(std::size_t f, BankKernel kind) {
#if defined(PYML_BANK_AVX2)
    if (kind == BankKernel::avx2) return kVoteAvx2[f];
#endif
    (void)kind;
    return kVoteBaseline[f];
}

}  // namespace bank_detail
}  // namespace pyml
