#include "pyml/bank.hpp"

#include "pyml/describe.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// On x86-64 with GCC or Clang the kernel also exists for AVX2, chosen at run
// time (same operations, four lanes per instruction: identical results).
#if defined(__x86_64__) && defined(__GNUC__)
#define PYML_BANK_AVX2 1
#include <immintrin.h>
#endif

namespace pyml {
namespace {

constexpr std::size_t W = Bank::kLanes;
constexpr std::uint8_t kActive = 1, kTrained = 2;
constexpr std::size_t kChunkAlign = 64;

std::string slot_error(std::size_t slot) {
    return "slot " + std::to_string(slot) + " is not a slot in use in this bank";
}

// Block layout, in doubles, lane-minor (element e of lane l at e * W + l):
//   ring     N rows     the prediction windows; row r holds one tick for all lanes
//   center0  F rows
//   center1  F rows
//   min_dist 1 row
//   max_dist 1 row
constexpr std::size_t block_doubles(std::size_t n, std::size_t f) { return (n + 2 * f + 2) * W; }

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

// Scores one block. The arithmetic follows extract_features (last row) and
// Model::score exactly, operation by operation, lane by lane; working on
// several lanes at once changes no result (no contraction, correctly rounded
// sqrt and division). The G lane groups of a block are independent: each
// step is written for all of them at once, so their long dependency chains
// (the running sum, then the distances) overlap in the pipeline.
template <class Sx, std::size_t D, std::size_t S, std::size_t L>
inline __attribute__((always_inline)) void score_block(double* blk, std::uint8_t* count, const std::uint8_t* flags,
                                                       const double* values, const std::size_t* ring_rows,
                                                       double threshold100, double* scores, std::uint8_t* bits,
                                                       double* to_pack) {
    using vdouble = typename Sx::vdouble;
    using vmask = typename Sx::vmask;
    constexpr std::size_t V = Sx::V;
    using Ops = VecOps<Sx>;
    constexpr std::size_t N = D + S + L;
    constexpr std::size_t F = L + 1;
    constexpr std::size_t G = W / V;
    const double* c0 = blk + N * W;
    const double* c1 = c0 + F * W;
    const double* mn = c1 + F * W;
    const double* mx = mn + W;

    // Push: the newest ring row gets this tick's values (0 for a gap, so the
    // arithmetic below stays finite); a gap empties the window. A free slot
    // packs NaN, the empty word. Branch-free (gaps come at random), and the
    // new row stays in registers: reading it back right after storing it
    // would wait for the stores.
    unsigned full = 0;  // bit l: lane l has a score (full window and a model)
    for (std::size_t l = 0; l < W; ++l) {
        const bool good = ((flags[l] & kActive) != 0) & (std::fabs(values[l]) <= kMaxStorableMagnitude);
        const unsigned c = count[l];
        const unsigned next = (c + (c < N ? 1u : 0u)) * static_cast<unsigned>(good);
        count[l] = static_cast<std::uint8_t>(next);
        full |= static_cast<unsigned>((next == N) & ((flags[l] & kTrained) != 0)) << l;
    }
    const vdouble zero = {};
    const vdouble nan = zero + std::numeric_limits<double>::quiet_NaN();
    double* newest = blk + ring_rows[N - 1] * W;
    vdouble pushed[G];
    for (std::size_t g = 0; g < G; ++g) {
        const std::size_t q = g * V;
        const vdouble x = Ops::load(values + q);
        vmask active;
        for (std::size_t l = 0; l < V; ++l) active[l] = (flags[q + l] & kActive) != 0 ? -1 : 0;
        pushed[g] = Ops::select(active & (Ops::vabs(x) <= kMaxStorableMagnitude), x, zero);
        Ops::store(newest + q, pushed[g]);
        Ops::store(to_pack + q, Ops::select(active, x, nan));
    }

    const double f = 1.0 / static_cast<double>(S);
    const double* row[N];
    for (std::size_t i = 0; i < N; ++i) row[i] = blk + ring_rows[i] * W;
    // Difference (x[i] - x[i - D]), oldest first; none when D == 0.
    vdouble d[N][G];
    for (std::size_t i = 0; i < N; ++i) {
        for (std::size_t g = 0; g < G; ++g) {
            const vdouble x = i == N - 1 ? pushed[g] : Ops::load(row[i] + g * V);
            d[i][g] = D > 0 && i >= D ? x - Ops::load(row[i - D] + g * V) : x;
        }
    }
    // Running sum from the newest end, times 1/S; lag; absolute value; and
    // the squared distances to both centres, coordinate by coordinate.
    vdouble total[G], sq0[G], sq1[G];
    for (std::size_t g = 0; g < G; ++g) {
        total[g] = zero;
        sq0[g] = zero;
        sq1[g] = zero;
    }
    for (std::size_t i = 1; i <= S; ++i) {
        for (std::size_t g = 0; g < G; ++g) total[g] += d[N - i][g];
    }
    for (std::size_t i = 0; i <= L; ++i) {
        for (std::size_t g = 0; g < G; ++g) {
            if (i > 0) total[g] = (total[g] - d[N - i][g]) + d[N - i - S][g];
            const vdouble feat = Ops::vabs(total[g] * f);
            const vdouble t0 = Ops::load(c0 + i * W + g * V) - feat;
            const vdouble t1 = Ops::load(c1 + i * W + g * V) - feat;
            sq0[g] += t0 * t0;
            sq1[g] += t1 * t1;
        }
    }
    // Mean distance, then the min-max normalised score, capped at 100.
    for (std::size_t g = 0; g < G; ++g) {
        const std::size_t q = g * V;
        const vdouble lo = Ops::load(mn + q), hi = Ops::load(mx + q);
        const vdouble dist = ((zero + vsqrt(sq0[g])) + vsqrt(sq1[g])) * 0.5;  // exact, like / 2.0
        const vdouble r = 100.0 * Ops::vabs((dist - lo) / (hi - lo));
        vmask has_score;
        for (std::size_t l = 0; l < V; ++l) has_score[l] = (full >> (q + l)) & 1u ? -1 : 0;
        vdouble score = Ops::select(r > 100.0, zero + 100.0, r);
        score = Ops::select(hi == lo, zero, score);
        score = Ops::select(has_score, score, zero);
        Ops::store(scores + q, score);
        const vmask bit = (score >= threshold100) & has_score;  // no score: normal, whatever the threshold
        for (std::size_t l = 0; l < V; ++l) bits[q + l] = bit[l] != 0;
    }
}

using KernelFn = void (*)(double*, std::uint8_t*, const std::uint8_t*, const double*, const std::size_t*, double,
                          double*, std::uint8_t*, double*);

template <std::size_t D, std::size_t S, std::size_t L>
void score_block_baseline(double* blk, std::uint8_t* count, const std::uint8_t* flags, const double* values,
                          const std::size_t* ring_rows, double threshold100, double* scores, std::uint8_t* bits,
                          double* to_pack) {
    score_block<Simd<2>, D, S, L>(blk, count, flags, values, ring_rows, threshold100, scores, bits, to_pack);
}

#if defined(PYML_BANK_AVX2)
template <std::size_t D, std::size_t S, std::size_t L>
__attribute__((target("avx2"), flatten)) void score_block_avx2(double* blk, std::uint8_t* count,
                                                               const std::uint8_t* flags, const double* values,
                                                               const std::size_t* ring_rows, double threshold100,
                                                               double* scores, std::uint8_t* bits, double* to_pack) {
    score_block<Simd<4>, D, S, L>(blk, count, flags, values, ring_rows, threshold100, scores, bits, to_pack);
}
#endif

// One kernel per (D, S, L): D in 0..1, S in 1..5 (0 behaves as 1), L in 0..5.
constexpr std::size_t kSmoothChoices = kMaxSmoothN;
constexpr std::size_t kLagChoices = kMaxLagN + 1;
constexpr std::size_t kKernels = (kMaxDiffN + 1) * kSmoothChoices * kLagChoices;

template <std::size_t I>
struct KernelOf {
    static constexpr std::size_t D = I / (kSmoothChoices * kLagChoices);
    static constexpr std::size_t S = (I / kLagChoices) % kSmoothChoices + 1;
    static constexpr std::size_t L = I % kLagChoices;
};

template <std::size_t... I>
constexpr std::array<KernelFn, sizeof...(I)> make_baseline_kernels(std::index_sequence<I...>) {
    return {{&score_block_baseline<KernelOf<I>::D, KernelOf<I>::S, KernelOf<I>::L>...}};
}

#if defined(PYML_BANK_AVX2)
template <std::size_t... I>
constexpr std::array<KernelFn, sizeof...(I)> make_avx2_kernels(std::index_sequence<I...>) {
    return {{&score_block_avx2<KernelOf<I>::D, KernelOf<I>::S, KernelOf<I>::L>...}};
}
#endif

KernelFn kernel_for(const FeatureParams& p, BankKernel kind) {
    static constexpr auto kBaseline = make_baseline_kernels(std::make_index_sequence<kKernels>{});
    const std::size_t s = effective_smooth_n(p);
    const std::size_t index = p.diff_n * kSmoothChoices * kLagChoices + (s - 1) * kLagChoices + p.lag_n;
#if defined(PYML_BANK_AVX2)
    static constexpr auto kAvx2 = make_avx2_kernels(std::make_index_sequence<kKernels>{});
    if (kind == BankKernel::avx2) return kAvx2[index];
#endif
    (void)kind;
    return kBaseline[index];
}

}  // namespace

bool bank_avx2_available() noexcept {
#if defined(PYML_BANK_AVX2)
    __builtin_cpu_init();  // idempotent; needed if called before constructors ran
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

void validate_bank_params(const BankParams& p) {
    validate_feature_params(p.features);
    if (p.kernel == BankKernel::avx2 && !bank_avx2_available()) {
        throw std::invalid_argument("kernel = avx2, but this processor (or build) has no AVX2");
    }
    if (!(p.threshold >= 0.0) || !std::isfinite(p.threshold)) {
        throw std::invalid_argument("threshold = " + describe(p.threshold) +
                                    " must be a finite number >= 0");
    }
}

void Bank::ChunkDeleter::operator()(double* p) const noexcept {
    ::operator delete[](p, std::align_val_t(kChunkAlign));
}

Bank::Bank(const BankParams& params, std::size_t capacity) : params_(params) {
    validate_bank_params(params);
    window_ = feature_window(params.features);
    dims_ = feature_dims(params.features);
    block_stride_ = block_doubles(window_, dims_);
    threshold100_ = 100.0 * params.threshold;
    kernel_kind_ = params.kernel == BankKernel::best
                       ? (bank_avx2_available() ? BankKernel::avx2 : BankKernel::baseline)
                       : params.kernel;
    kernel_ = kernel_for(params.features, kernel_kind_);
    if (capacity > 0) {
        std::lock_guard<std::mutex> lock(state_mutex_);
        grow_to(capacity);
        generation_.reserve(capacity);
    }
}

Bank::~Bank() = default;

std::size_t Bank::size() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return size_;
}

std::size_t Bank::active() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return active_;
}

// Makes room for `slots` slots: whole chunks, never moving existing ones.
void Bank::grow_to(std::size_t slots) {
    const std::size_t blocks = (slots + W - 1) / W;
    const std::size_t chunks = (blocks + kBlocksPerChunk - 1) / kBlocksPerChunk;
    if (chunks > chunks_.size()) chunks_.reserve(chunks);
    while (chunks_.size() < chunks) {
        const std::size_t n = kBlocksPerChunk * block_stride_;
        auto* p = static_cast<double*>(::operator new[](n * sizeof(double), std::align_val_t(kChunkAlign)));
        std::fill(p, p + n, 0.0);
        chunks_.emplace_back(p);
    }
    const std::size_t lanes = chunks_.size() * kBlocksPerChunk * W;
    if (count_.size() < lanes) {
        count_.resize(lanes, 0);
        flags_.resize(lanes, 0);
    }
}

void Bank::reset_lane(std::size_t slot) noexcept {
    double* blk = block(slot / W);
    const std::size_t lane = slot % W;
    for (std::size_t e = window_; e < window_ + 2 * dims_ + 2; ++e) blk[e * W + lane] = 0.0;
    count_[slot] = 0;
}

std::size_t Bank::add_slot() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    std::size_t slot;
    if (active_ < size_) {
        // The lowest free slot: none below the hint, so scan from there.
        slot = free_hint_;
        while (flags_[slot] & kActive) ++slot;
        ++generation_[slot];
    } else {
        grow_to(size_ + 1);
        generation_.push_back(0);  // may throw: nothing changed yet
        slot = size_++;
    }
    free_hint_ = slot + 1;
    reset_lane(slot);
    flags_[slot] = kActive;
    ++active_;
    return slot;
}

void Bank::check_slot(std::size_t slot) const {
    if (slot >= size_ || (flags_[slot] & kActive) == 0) throw std::out_of_range(slot_error(slot));
}

void Bank::remove_slot(std::size_t slot) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    if (flags_[slot] & kTrained) --trained_;
    reset_lane(slot);
    flags_[slot] = 0;
    --active_;
    free_hint_ = std::min(free_hint_, slot);
}

bool Bank::contains(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return slot < size_ && (flags_[slot] & kActive) != 0;
}

std::uint32_t Bank::generation(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    return generation_[slot];
}

bool Bank::trained(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    return (flags_[slot] & kTrained) != 0;
}

std::optional<Model> Bank::model(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    if ((flags_[slot] & kTrained) == 0) return std::nullopt;
    const double* blk = block(slot / W);
    const std::size_t lane = slot % W;
    Model m;
    m.k = 2;
    m.dims = dims_;
    m.centers.resize(2 * dims_);
    for (std::size_t e = 0; e < 2 * dims_; ++e) m.centers[e] = blk[(window_ + e) * W + lane];
    m.min_dist = blk[(window_ + 2 * dims_) * W + lane];
    m.max_dist = blk[(window_ + 2 * dims_ + 1) * W + lane];
    return m;
}

void Bank::write_model(std::size_t slot, const double* centers, double min_dist, double max_dist) noexcept {
    double* blk = block(slot / W);
    const std::size_t lane = slot % W;
    for (std::size_t e = 0; e < 2 * dims_; ++e) blk[(window_ + e) * W + lane] = centers[e];
    blk[(window_ + 2 * dims_) * W + lane] = min_dist;
    blk[(window_ + 2 * dims_ + 1) * W + lane] = max_dist;
    if ((flags_[slot] & kTrained) == 0) {
        flags_[slot] |= kTrained;
        ++trained_;
    }
}

void Bank::set_model(std::size_t slot, const Model& model) {
    if (model.k != 2 || model.dims != dims_ || model.centers.size() != 2 * dims_) {
        throw std::invalid_argument("model has k = " + std::to_string(model.k) + " centres of " +
                                    std::to_string(model.dims) + " coordinates (" +
                                    std::to_string(model.centers.size()) + " values); this bank needs k = 2 and " +
                                    std::to_string(dims_) + " coordinates (lag_n + 1)");
    }
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    write_model(slot, model.centers.data(), model.min_dist, model.max_dist);
}

void Bank::clear_model(std::size_t slot) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    if (flags_[slot] & kTrained) --trained_;
    const std::uint8_t count = count_[slot];
    reset_lane(slot);
    count_[slot] = count;  // the window stays
    flags_[slot] = kActive;
}

void Bank::trained_mask(std::uint8_t* out, std::size_t n) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    for (std::size_t s = 0; s < n; ++s) out[s] = s < size_ && (flags_[s] & kTrained) != 0;
}

std::size_t Bank::trained_count() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return trained_;
}

std::vector<std::uint32_t> Bank::generations_of(const std::vector<std::size_t>& slots) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    std::vector<std::uint32_t> out;
    out.reserve(slots.size());
    for (std::size_t slot : slots) {
        check_slot(slot);
        out.push_back(generation_[slot]);
    }
    return out;
}

void Bank::enqueue_models(const QueuedModel* models, std::size_t n) {
    if (n == 0) return;
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.insert(queue_.end(), models, models + n);
    pending_.store(true, std::memory_order_release);
}

std::size_t Bank::pending_models() const {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    return queue_.size();
}

// Called by the tick with the state lock held.
void Bank::apply_pending() noexcept {
    if (!pending_.load(std::memory_order_acquire)) return;
    {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        queue_.swap(applying_);  // both keep their capacity: no allocation
        pending_.store(false, std::memory_order_relaxed);
    }
    for (const QueuedModel& q : applying_) {
        if (q.slot < size_ && (flags_[q.slot] & kActive) != 0 && generation_[q.slot] == q.generation) {
            write_model(q.slot, q.centers, q.min_dist, q.max_dist);
        }
    }
    applying_.clear();
}

void Bank::tick(const double* values, std::size_t n, const std::uint8_t* reset, std::size_t reset_stride,
                storage_word* words, std::uint8_t* bits, double* scores) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (n != size_) {
        throw std::invalid_argument("values has " + std::to_string(n) + " elements; the bank has " +
                                    std::to_string(size_) + " slots");
    }
    apply_pending();
    if (size_ == 0) return;

    ring_head_ = ring_head_ + 1 == window_ ? 0 : ring_head_ + 1;
    std::size_t rows[kMaxDiffN + kMaxSmoothN + kMaxLagN];  // oldest first; the newest is ring_head_
    for (std::size_t i = 0; i < window_; ++i) rows[i] = (ring_head_ + 1 + i) % window_;

    // Blocks are scored in groups whose words are then packed at once, and
    // each block's state is requested kAhead blocks early: with many slots it
    // comes from the last-level cache or memory, not the nearer caches.
    constexpr std::size_t kGroup = 8;  // blocks
    constexpr std::size_t kAhead = 3;
    const std::size_t blocks = (size_ + W - 1) / W;
    double v[W], to_pack[kGroup * W], s[kGroup * W];
    storage_word flags[kGroup * W];
    std::uint8_t b[kGroup * W];
    for (std::size_t first = 0; first < blocks; first += kGroup) {
        const std::size_t group = std::min(kGroup, blocks - first);
        for (std::size_t g = 0; g < group; ++g) {
            const std::size_t blk = first + g, base = blk * W;
            const double* in = values + base;
            if (base + W > size_) {  // the last, partial block
                for (std::size_t l = 0; l < W; ++l) {
                    v[l] = base + l < size_ ? values[base + l] : std::numeric_limits<double>::quiet_NaN();
                }
                in = v;
            }
            if (blk + kAhead < blocks) {
                const char* next = reinterpret_cast<const char*>(block(blk + kAhead));
                for (std::size_t off = 0; off < block_stride_ * sizeof(double); off += 64) {
                    __builtin_prefetch(next + off);
                }
            }
            kernel_(block(blk), &count_[base], &flags_[base], in, rows, threshold100_, s + g * W, b + g * W,
                    to_pack + g * W);
        }
        const std::size_t base = first * W, lanes = std::min(group * W, size_ - base);
        for (std::size_t l = 0; l < lanes; ++l) {
            const bool reset_flag = reset != nullptr && reset[(base + l) * reset_stride] != 0;
            flags[l] = sample_flags(b[l] != 0, reset_flag);
        }
        pack_flagged(to_pack, flags, lanes, words + base);
        if (bits != nullptr) std::memcpy(bits + base, b, lanes);
        if (scores != nullptr) std::memcpy(scores + base, s, lanes * sizeof(double));
    }
}

std::size_t Bank::memory_bytes() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    std::size_t bytes = sizeof(*this);
    bytes += chunks_.size() * kBlocksPerChunk * block_stride_ * sizeof(double);
    bytes += chunks_.capacity() * sizeof(Chunk);
    bytes += count_.capacity() + flags_.capacity();
    bytes += generation_.capacity() * sizeof(std::uint32_t);
    {
        std::lock_guard<std::mutex> qlock(queue_mutex_);
        bytes += (queue_.capacity() + applying_.capacity()) * sizeof(QueuedModel);
    }
    return bytes;
}

}  // namespace pyml
