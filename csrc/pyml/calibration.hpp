// Calibration: a per-slot rule after the vote that turns a slot's k-means
// score into the score it reports and the anomaly bit it stores.
//
// The k-means score says *that* a value lies beyond what the slot's model was
// trained on (it saturates at 100); it does not say how unusual that is for
// this dimension. CalibrationKind::surprise (the `pyml` profile; the lab's
// rule `pyml.lab.detectors.surprise_detector`, chosen on NAB's tuning half)
// keeps two running statistics per slot -- how often its score saturates, and
// the mean and variance of its value's change from one tick to the next --
// and per tick:
//
//   change = value - previous value          (NaN after a gap, and at first)
//   if trained and change is not NaN:
//     capped = min(score, 100); saturated = capped >= saturation
//     if saturated:
//       g_rate   = min(1, -log10(max(rate, 1e-12)) / decades)
//       g_change = seen >= 2 ? min(1, max(0, -log10(tail + 1e-10) / 10)) : 0,
//                  tail = erfc(|change - mean| / (max(sqrt(var), 1e-9) * sqrt 2)) / 2
//       level    = 50 + 50 * max(g_rate, g_change)
//     else:
//       level    = capped / 2
//     if score_decades > 0:                       (the score tail; 0 = off)
//       x = capped == 0 ? 0 : log(1 + capped)
//       if seen >= score_warmup:
//         z = (x - smean) / (max(sqrt(svar), 1e-6) * sqrt 2)
//         if z >= 3 / sqrt 2:                     (decided without sqrt when far below)
//           g_score = min(1, max(0, -log10(erfc(z) / 2 + 1e-300) / score_decades))
//           level   = max(level, 100 * g_score)
//     rate <- rate + a' * (saturated - rate),          a' = 1 / min(seen + 2, memory)
//     d = change - mean; mean <- mean + a * d;
//     var <- (1 - a) * (var + a * d * d),              a  = 1 / min(seen + 1, memory)
//     if score_decades > 0: the same update of smean, svar with x
//     seen <- seen + 1
//     if day_decades > 0: level = max(level, 100 * g_day)   (the daily profile, below)
//   else: level = 0 (no statistic changes)
//   top_age <- top_age + 1; if top_age > peak_window: top <- -inf
//   if level > top: top <- level, top_age <- 0, reported = level,
//                   bit = level >= 100 * bit_level
//   else:           reported = 0, bit = false
//
// The score tail (off unless asked for; measured on NAB, not in the pyml
// profile: README, "The score tail") says how far in
// the upper tail of the slot's usual k-means scores this one lies, on a log
// scale, so a slot whose model was trained on an outlier (every later score
// small) still reports what is unusual for it; below 3 standard deviations
// it contributes nothing, so per tick only a logarithm (none for a score of 0)
// and a comparison run; the tail itself is out of line.
//
// The daily profile (day_decades > 0; the `pyml` profile: README, "The daily
// profile") says how unusual the value is for this time of day. The caller
// gives each tick its slot of the day (`day_slot`, 0 .. day_slots - 1, from
// the tick's timestamp, so a restart or a gap keeps the phase; -1: none, the
// profile rests). Per slot of the day it keeps the running mean and variance
// of the value, and per dimension a short mean of the squared standardised
// value and that mean's long-run mean and variance (Numenta's likelihood over
// the profile's z). Per tick with a value (not a gap), before the rule:
//
//   k = day_ticks_per_slot (ticks per slot and day)
//   if visits[slot] >= day_warmup * k:                  (the slot holds day_warmup days)
//     z = (value - mu[slot]) / max(sqrt(var[slot]), 1e-9)
//     short <- short + (min(z * z, 1e4) - short) / day_span
//     if lseen >= 2 * day_span:
//       zl = (short - lmean) / max(sqrt(lvar), 1e-9)
//       if zl >= 3: g_day = min(1, max(0, -log10(erfc(zl / sqrt 2) / 2 + 1e-300) / day_decades))
//     lmean, lvar <- running mean and variance of short, a = 1 / min(lseen + 1, day_long_memory)
//     lseen <- lseen + 1
//   mu[slot], var[slot] <- running mean and variance of value, a = 1 / min(visits + 1, day_memory * k)
//   visits[slot] <- visits + 1
//
// g_day (0 otherwise) raises the level of a trained tick with a change, as
// above; the rule's reporting once per incident and its bit apply as they
// are. A profile below 3 standard deviations adds nothing, so the tail is out
// of line and, far below, decided without a square root.
//
// `level` is the calibrated score before the once-per-incident suppression
// (what a host-level detector reads), `reported` and `bit` what the slot
// reports and stores. The arithmetic is `_surprise_step`'s operation by
// operation (same order, min/max with the same argument order and NaN
// behaviour, glibc's log10/erfc as numba calls them, no contraction), so the
// results equal the lab's numba rule bit for bit.
//
// Inputs per slot and tick: the value (NaN, inf, or a magnitude above
// `gap_above`, the bank's largest storable value, is a gap: the rule's NaN
// change), the score (0-100; the bank's vote score), and `trained`: the slot
// made a prediction with a model this tick (a model, a full window, not
// silenced), one bit per slot.
//
// State per slot: rate, mean, var, top, prev as float64 (they take part in
// the arithmetic) and seen, top_age as uint32 counters (the rule's float64
// counters are exact integers; seen saturates at 2^32 - 1, which changes
// nothing for memory <= 2^32; top_age saturates at 2^32 - 1 and starts there,
// the rule's "never reported", which is above any accepted peak_window): 48
// bytes per slot; with the score tail, smean and svar (float64) in blocks of
// their own, allocated only then: 64 bytes; with the daily profile, 28 bytes
// more and 20 per slot of the day (268 bytes at 12 slots), in blocks of their
// own too. Slots are grouped in blocks of
// kLanes, each field lane-minor within its block (one block is six cache
// lines, a score-tail block two), blocks in
// fixed-size chunks that are never moved, so growing never copies state.
//
// apply() works on a range of slots starting at a block boundary, the same
// code for every bank kernel (so both kernels give identical results). Where
// the processor has AVX2 and the score tail is off, a whole block's rule runs
// in vector registers, four lanes at a time: the two divisions per slot are
// most of the rule's cost, and the vector ones cost a quarter each. Each of
// its operations is the scalar one in its order, so the results are the
// scalar path's bit for bit (the tests run both against a plain reference);
// the scalar path serves a last partial block, the score tail, and
// processors without AVX2. The saturated case (logarithms, erfc) is out of
// line in both. It allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace pyml {

enum class CalibrationKind : std::uint8_t { none = 0, surprise = 1 };

// "none" or "surprise".
const char* calibration_name(CalibrationKind kind) noexcept;

// The rule's parameters (ticks where they are durations); the defaults are
// the lab's, chosen on NAB's tuning half.
struct CalibrationParams {
    CalibrationKind kind = CalibrationKind::none;
    double peak_window = 120.0;  // ticks a reported level is remembered: [0, 2^31]
    double memory = 4000.0;      // ticks after which the running statistics forget exponentially: [1, 2^32]
    double decades = 4.0;        // a saturation rate of 10^-decades or below gives g_rate = 1: > 0
    double bit_level = 0.75;     // a reported level >= 100 * bit_level sets the bit: (0, 1]
    double saturation = 100.0;   // a capped score >= saturation saturates: (0, 100]
    double prior_rate = 0.01;    // the saturation rate a slot starts with: [0, 1]
    double score_decades = 0.0;  // score tail: an upper tail of 10^-score_decades gives level 100; 0 = off: >= 0
    double score_warmup = 100.0; // predictions a slot makes before its score tail counts: [0, 2^32]
    double day_decades = 0.0;    // daily profile: a likelihood tail of 10^-day_decades gives level 100; 0 = off: >= 0
    double day_slots = 12.0;     // slots of the day: an integer in [1, 1440]
    double day_ticks_per_slot = 7200.0;  // ticks in one slot of one day: > 0
    double day_warmup = 2.0;     // days a slot of the day observes before it judges: [0, 1e6]
    double day_memory = 7.0;     // days after which a slot's mean and variance forget: > 0, day_memory * k >= 1
    double day_span = 10.0;      // ticks of the short mean of z^2: [1, 2^32]
    double day_long_memory = 1209600.0;  // ticks after which the short mean's own statistics forget: [1, 2^32]
};

// Throws std::invalid_argument naming the parameter and its value when one is
// out of range or not finite (or the kind is unknown).
void validate_calibration_params(const CalibrationParams& p);

// top_age of a slot that has reported nothing yet (the rule's infinity).
inline constexpr std::uint32_t kNeverReported = std::numeric_limits<std::uint32_t>::max();

// One slot's state, as the rule keeps it.
struct CalibrationState {
    double rate = 0.0, mean = 0.0, var = 0.0;
    std::uint32_t seen = 0;
    double top = -std::numeric_limits<double>::infinity();
    std::uint32_t top_age = kNeverReported;
    double prev = std::numeric_limits<double>::quiet_NaN();
    double smean = 0.0, svar = 0.0;  // running mean and variance of log(1 + capped score)
    // the daily profile: the short mean of z^2 and its long-run statistics, and per slot of the day
    // (day_slots of them, empty without the profile) the value's running mean, variance and visits
    double day_short = 0.0, day_lmean = 0.0, day_lvar = 0.0;
    std::uint32_t day_lseen = 0;
    std::vector<double> day_mean, day_var;
    std::vector<std::uint32_t> day_visits;
};

// Per-slot surprise state for many slots, and the rule applied to them.
class Calibration {
public:
    static constexpr std::size_t kLanes = 8;            // slots per block
    static constexpr std::size_t kBlocksPerChunk = 64;  // 512 slots per chunk

    // p validated (throws like validate_calibration_params); kind must be
    // surprise. Values whose magnitude exceeds gap_above are gaps. vector:
    // run the daily profile's lanes and the rule's whole blocks in AVX2
    // registers when the processor has them (identical results; false: the
    // scalar path).
    explicit Calibration(const CalibrationParams& p,
                         double gap_above = std::numeric_limits<double>::infinity(), bool vector = true);

    const CalibrationParams& params() const noexcept { return p_; }
    // Slots with room (whole chunks).
    std::size_t capacity() const noexcept { return chunks_.size() * kBlocksPerChunk * kLanes; }
    // Makes room for `slots` slots; new slots start from the prior. Never
    // moves existing state.
    void grow_to(std::size_t slots);
    // The slot starts again from the prior (slot < capacity()).
    void reset(std::size_t slot) noexcept;
    // The slot's state (slot < capacity()).
    CalibrationState state(std::size_t slot) const;
    // The state a slot starts with.
    CalibrationState initial() const;
    // Throws std::invalid_argument naming the field and its value when `s` is not a state the rule
    // can be in with these parameters: a rate outside [0, 1], a variance below 0, a statistic that is
    // not finite (top may be -inf, prev NaN or inf for "none"), or daily-profile vectors that do not
    // hold day_slots entries each (none without the profile).
    void check_state(const CalibrationState& s) const;
    // Gives the slot this state (slot < capacity()), checked like check_state first: nothing changes
    // when it throws.
    void set_state(std::size_t slot, const CalibrationState& s);
    // set_state for slots[i] and states[i], i < n: every state is checked before any slot changes.
    void set_states(const std::size_t* slots, const CalibrationState* states, std::size_t n);

    // The rule for slots first .. first + n - 1 (first a multiple of kLanes,
    // first + n <= capacity()), one tick. values[i]: slot first + i's value;
    // trained: bit l of trained[b] is slot first + b * kLanes + l's;
    // scores[i]: in, the slot's score; out, the reported level; bits[i]: out,
    // the rule's bit (0/1); levels: nullptr, or out, the level before
    // suppression; day_slot: the tick's slot of the day for the daily
    // profile (-1: none; ignored without the profile; < day_slots).
    void apply(std::size_t first, std::size_t n, const double* values, const std::uint8_t* trained, double* scores,
               std::uint8_t* bits, double* levels, int day_slot = -1) noexcept;

    // Bytes held (the chunks and their table).
    std::size_t memory_bytes() const noexcept;

private:
    struct Block {
        double rate[kLanes], mean[kLanes], var[kLanes], top[kLanes], prev[kLanes];
        std::uint32_t seen[kLanes], top_age[kLanes];
    };
    struct TailBlock {  // the score tail's statistics (only with score_decades > 0)
        double smean[kLanes], svar[kLanes];
    };
    struct DayBlock {  // the daily profile's per-slot statistics (only with day_decades > 0)
        double short_mean[kLanes], lmean[kLanes], lvar[kLanes];
        std::uint32_t lseen[kLanes];
    };
    struct DayCell {  // one slot of the day of a block (day_slots per block)
        double mean[kLanes], var[kLanes];
        std::uint32_t visits[kLanes];
    };
    struct ChunkDeleter {
        void operator()(void* p) const noexcept;
    };
    using Chunk = std::unique_ptr<Block[], ChunkDeleter>;
    using TailChunk = std::unique_ptr<TailBlock[], ChunkDeleter>;
    using DayChunk = std::unique_ptr<DayBlock[], ChunkDeleter>;
    using DayCellChunk = std::unique_ptr<DayCell[], ChunkDeleter>;

    Block& block(std::size_t b) const noexcept { return chunks_[b / kBlocksPerChunk][b % kBlocksPerChunk]; }
    TailBlock& tail_block(std::size_t b) const noexcept {
        return tail_chunks_[b / kBlocksPerChunk][b % kBlocksPerChunk];
    }
    DayBlock& day_block(std::size_t b) const noexcept { return day_chunks_[b / kBlocksPerChunk][b % kBlocksPerChunk]; }
    // A chunk's cells are slot-of-day major: the blocks' cells of one slot of the day, the one a tick
    // reads, lie one after the other.
    DayCell& day_cell(std::size_t b, std::size_t slot) const noexcept {
        return day_cell_chunks_[b / kBlocksPerChunk][slot * kBlocksPerChunk + b % kBlocksPerChunk];
    }
    void store(std::size_t slot, const CalibrationState& s) noexcept;
    double saturated_level(const Block& s, std::size_t lane, double change) const noexcept;
    // The rule over one whole block without the score tail, in AVX2 registers (values: gaps as NaN;
    // scores: in, the vote's; out, the reported level); the scalar path's results, bit for bit.
    void rule_block_avx2(Block& s, const double* values, unsigned trained, const double* g_day, double* scores,
                         std::uint8_t* bits, double* levels) const noexcept;
    double day_tail(double zl) const noexcept;
    double score_tail_level(const TailBlock& s, std::size_t lane, double x, double level) const noexcept;

    CalibrationParams p_;
    double gap_above_, inv_memory_, bit_cut_;
    std::size_t day_slots_ = 0;                  // 0 without the daily profile
    bool day_avx2_ = false;                      // the daily profile's lanes in AVX2 registers
    bool rule_avx2_ = false;                     // the rule's whole blocks in AVX2 registers (no score tail)
    double day_warm_visits_ = 0.0, day_memory_visits_ = 1.0, inv_day_memory_visits_ = 1.0, inv_day_long_memory_ = 1.0;
    CalibrationState prior_;                     // the state a slot starts with (initial())
    std::vector<Chunk> chunks_;
    std::vector<TailChunk> tail_chunks_;  // as many as chunks_ with the score tail, else none
    std::vector<DayChunk> day_chunks_;    // as many as chunks_ with the daily profile, else none
    std::vector<DayCellChunk> day_cell_chunks_;
};

// The rule over ticks x slots of inputs, each slot from the prior (the stage
// a bank runs, without a bank): values, scores (float64) and trained (0/1
// bytes) are row-major (ticks, slots); out_scores, out_bits (0/1) and
// out_levels (or nullptr) likewise; day_slots: nullptr, or each tick's slot
// of the day (-1: none). Throws like validate_calibration_params, and
// std::invalid_argument for a day slot >= p.day_slots.
void calibrate_series(const CalibrationParams& p, std::size_t ticks, std::size_t slots, const double* values,
                      const double* scores, const std::uint8_t* trained, double* out_scores, std::uint8_t* out_bits,
                      double* out_levels, double gap_above = std::numeric_limits<double>::infinity(),
                      const std::int32_t* day_slots = nullptr);

}  // namespace pyml
