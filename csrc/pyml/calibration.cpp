#include "pyml/calibration.hpp"

#include "pyml/describe.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace pyml {
namespace {

constexpr double kScoreCap = 100.0;
constexpr double kMaxPeakWindow = 2147483648.0;  // 2^31 ticks
constexpr double kMaxMemory = 4294967296.0;      // 2^32 ticks
constexpr std::size_t kChunkAlign = 64;
constexpr double kMaxDaySlots = 1440.0;          // one a minute

void require(bool ok, const char* name, double value, const char* range) {
    if (!ok) {
        throw std::invalid_argument(std::string(name) + " = " + describe(value) + " must be " + range);
    }
}

std::uint32_t saturating_inc(std::uint32_t v) noexcept {
    return v + static_cast<std::uint32_t>(v != std::numeric_limits<std::uint32_t>::max());
}

}  // namespace

namespace {

// The constants of the daily profile's lane pass.
struct DayConstants {
    double warm_visits, memory_visits, inv_memory_visits, span, two_spans, long_memory, inv_long_memory;
};

// The daily profile over one block's lanes for a tick whose cell of the day is `cell`: every statistic
// taken in, branch-free (so that the compiler runs the lanes in vector registers: the divisions and
// square roots cost a fraction of the scalar ones); each operation is the scalar rule's, in its order
// (same IEEE results whatever the vector width). value[l]: the lane's value, NaN for a gap or a lane
// outside the range (nothing changes then). Returns the lanes whose likelihood may reach 3 standard
// deviations (far below, no bit), with above[l] = short mean - long mean and lvar[l] the long
// variance before the update, for the out-of-line tail.
template <class Block, class Cell, std::size_t Lanes>
inline unsigned day_lanes_body(const double* value, Block& d, Cell& cell, const DayConstants& k, double* above,
                               double* lvar_before) noexcept {
    unsigned maybe = 0;
    for (std::size_t l = 0; l < Lanes; ++l) {
        const double v = value[l];
        const bool has = v == v;
        const std::uint32_t visits_count = cell.visits[l];
        const double visits = static_cast<double>(visits_count);
        const double mu = cell.mean[l], var = cell.var[l];
        const bool warm = has & (visits >= k.warm_visits);
        const double sd = std::sqrt(var);
        const double z = (v - mu) / (sd < 1e-9 ? 1e-9 : sd);
        const double zz = z * z;
        const double short_mean = d.short_mean[l];
        const double short_next = short_mean + ((1e4 < zz ? 1e4 : zz) - short_mean) / k.span;
        const double s2 = warm ? short_next : short_mean;
        const std::uint32_t lseen_count = d.lseen[l];
        const double ls = static_cast<double>(lseen_count);
        const double lmean = d.lmean[l], lvar = d.lvar[l];
        const double dl = s2 - lmean;
        const bool judged = warm & (ls >= k.two_spans) & (dl > 0.0) & (dl * dl >= 8.9 * (lvar < 1e-18 ? 1e-18 : lvar));
        maybe |= static_cast<unsigned>(judged) << l;
        above[l] = dl;
        lvar_before[l] = lvar;
        const double inv_seen = 1.0 / (ls + 1.0);  // computed on every lane: a select, no branch
        const double al = ls + 1.0 < k.long_memory ? inv_seen : k.inv_long_memory;
        d.short_mean[l] = s2;
        const double lmean_next = lmean + al * dl, lvar_next = (1.0 - al) * (lvar + al * dl * dl);
        d.lmean[l] = warm ? lmean_next : lmean;
        d.lvar[l] = warm ? lvar_next : lvar;
        const std::uint32_t lseen_next = lseen_count + (lseen_count != 0xFFFFFFFFu ? 1u : 0u);
        d.lseen[l] = warm ? lseen_next : lseen_count;
        const double inv_visits = 1.0 / (visits + 1.0);
        const double a = visits + 1.0 < k.memory_visits ? inv_visits : k.inv_memory_visits;
        const double dv = v - mu;
        const double mean_next = mu + a * dv, var_next = (1.0 - a) * (var + a * dv * dv);
        cell.mean[l] = has ? mean_next : mu;
        cell.var[l] = has ? var_next : var;
        const std::uint32_t visits_next = visits_count + (visits_count != 0xFFFFFFFFu ? 1u : 0u);
        cell.visits[l] = has ? visits_next : visits_count;
    }
    return maybe;
}

// The same lane pass in AVX2 registers, four lanes at a time: each operation is the scalar one (the
// selects as blends, std::max(x, c) as max_pd(c, x) and std::min(x, c) as min_pd(c, x), which agree
// with them for NaN too), so the results are identical.
__attribute__((target("avx2"))) inline __m256d u32_to_double(__m128i v) noexcept {
    // signed conversion, plus 2^32 where the top bit is set: exact for every uint32
    const __m256d d = _mm256_cvtepi32_pd(v);
    const __m256d top = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm_srai_epi32(v, 31)));
    return _mm256_add_pd(d, _mm256_and_pd(top, _mm256_set1_pd(4294967296.0)));
}

__attribute__((target("avx2"))) inline __m128i saturating_inc4(__m128i v) noexcept {
    const __m128i all = _mm_set1_epi32(-1);
    return _mm_sub_epi32(v, _mm_andnot_si128(_mm_cmpeq_epi32(v, all), all));  // +1 unless at the top
}

template <class Block, class Cell, std::size_t Lanes>
__attribute__((target("avx2"))) unsigned day_lanes_avx2(const double* value, Block& d, Cell& cell,
                                                        const DayConstants& k, double* above,
                                                        double* lvar_before) noexcept {
    static_assert(Lanes % 4 == 0, "lanes in groups of four");
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd(), tiny = _mm256_set1_pd(1e-9),
                  cap = _mm256_set1_pd(1e4), tiny_var = _mm256_set1_pd(1e-18), margin = _mm256_set1_pd(8.9),
                  warm_visits = _mm256_set1_pd(k.warm_visits), span = _mm256_set1_pd(k.span),
                  two_spans = _mm256_set1_pd(k.two_spans), long_memory = _mm256_set1_pd(k.long_memory),
                  inv_long = _mm256_set1_pd(k.inv_long_memory), memory_visits = _mm256_set1_pd(k.memory_visits),
                  inv_memory = _mm256_set1_pd(k.inv_memory_visits);
    unsigned maybe = 0;
    for (std::size_t l = 0; l < Lanes; l += 4) {
        const __m256d v = _mm256_loadu_pd(value + l);
        const __m256d has = _mm256_cmp_pd(v, v, _CMP_EQ_OQ);
        const __m128i visits_count = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cell.visits + l));
        const __m256d visits = u32_to_double(visits_count);
        const __m256d mu = _mm256_loadu_pd(cell.mean + l), var = _mm256_loadu_pd(cell.var + l);
        const __m256d warm = _mm256_and_pd(has, _mm256_cmp_pd(visits, warm_visits, _CMP_GE_OQ));
        const __m256d z = _mm256_div_pd(_mm256_sub_pd(v, mu), _mm256_max_pd(tiny, _mm256_sqrt_pd(var)));
        const __m256d zz = _mm256_mul_pd(z, z);
        const __m256d short_mean = _mm256_loadu_pd(d.short_mean + l);
        const __m256d short_next =
            _mm256_add_pd(short_mean, _mm256_div_pd(_mm256_sub_pd(_mm256_min_pd(cap, zz), short_mean), span));
        const __m256d s2 = _mm256_blendv_pd(short_mean, short_next, warm);
        const __m128i lseen_count = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d.lseen + l));
        const __m256d ls = u32_to_double(lseen_count);
        const __m256d lmean = _mm256_loadu_pd(d.lmean + l), lvar = _mm256_loadu_pd(d.lvar + l);
        const __m256d dl = _mm256_sub_pd(s2, lmean);
        const __m256d far = _mm256_cmp_pd(_mm256_mul_pd(dl, dl), _mm256_mul_pd(margin, _mm256_max_pd(tiny_var, lvar)),
                                          _CMP_GE_OQ);
        const __m256d judged = _mm256_and_pd(_mm256_and_pd(warm, _mm256_cmp_pd(ls, two_spans, _CMP_GE_OQ)),
                                             _mm256_and_pd(_mm256_cmp_pd(dl, zero, _CMP_GT_OQ), far));
        maybe |= static_cast<unsigned>(_mm256_movemask_pd(judged)) << l;
        _mm256_storeu_pd(above + l, dl);
        _mm256_storeu_pd(lvar_before + l, lvar);
        const __m256d seen_plus = _mm256_add_pd(ls, one);
        const __m256d al = _mm256_blendv_pd(inv_long, _mm256_div_pd(one, seen_plus),
                                            _mm256_cmp_pd(seen_plus, long_memory, _CMP_LT_OQ));
        _mm256_storeu_pd(d.short_mean + l, s2);
        const __m256d lmean_next = _mm256_add_pd(lmean, _mm256_mul_pd(al, dl));
        const __m256d lvar_next = _mm256_mul_pd(_mm256_sub_pd(one, al),
                                                _mm256_add_pd(lvar, _mm256_mul_pd(_mm256_mul_pd(al, dl), dl)));
        _mm256_storeu_pd(d.lmean + l, _mm256_blendv_pd(lmean, lmean_next, warm));
        _mm256_storeu_pd(d.lvar + l, _mm256_blendv_pd(lvar, lvar_next, warm));
        const __m128i warm32 = _mm256_castsi256_si128(
            _mm256_permutevar8x32_epi32(_mm256_castpd_si256(warm), _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
        const __m128i has32 = _mm256_castsi256_si128(
            _mm256_permutevar8x32_epi32(_mm256_castpd_si256(has), _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d.lseen + l),
                         _mm_blendv_epi8(lseen_count, saturating_inc4(lseen_count), warm32));
        const __m256d visits_plus = _mm256_add_pd(visits, one);
        const __m256d a = _mm256_blendv_pd(inv_memory, _mm256_div_pd(one, visits_plus),
                                           _mm256_cmp_pd(visits_plus, memory_visits, _CMP_LT_OQ));
        const __m256d dv = _mm256_sub_pd(v, mu);
        const __m256d mean_next = _mm256_add_pd(mu, _mm256_mul_pd(a, dv));
        const __m256d var_next = _mm256_mul_pd(_mm256_sub_pd(one, a),
                                               _mm256_add_pd(var, _mm256_mul_pd(_mm256_mul_pd(a, dv), dv)));
        _mm256_storeu_pd(cell.mean + l, _mm256_blendv_pd(mu, mean_next, has));
        _mm256_storeu_pd(cell.var + l, _mm256_blendv_pd(var, var_next, has));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(cell.visits + l),
                         _mm_blendv_epi8(visits_count, saturating_inc4(visits_count), has32));
    }
    return maybe;
}

template <class Block, class Cell, std::size_t Lanes>
unsigned day_lanes_baseline(const double* value, Block& d, Cell& cell, const DayConstants& k, double* above,
                            double* lvar_before) noexcept {
    return day_lanes_body<Block, Cell, Lanes>(value, d, cell, k, above, lvar_before);
}

bool day_lanes_use_avx2() noexcept {
    static const bool avx2 = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    }();
    return avx2;
}

}  // namespace

const char* calibration_name(CalibrationKind kind) noexcept {
    switch (kind) {
        case CalibrationKind::none:
            return "none";
        case CalibrationKind::surprise:
            return "surprise";
    }
    return "?";
}

void validate_calibration_params(const CalibrationParams& p) {
    if (p.kind != CalibrationKind::none && p.kind != CalibrationKind::surprise) {
        throw std::invalid_argument("calibration kind " + std::to_string(static_cast<int>(p.kind)) +
                                    " is not none or surprise");
    }
    // Written so that NaN fails every check.
    require(p.peak_window >= 0.0 && p.peak_window <= kMaxPeakWindow, "peak_window", p.peak_window,
            "a number of ticks in [0, 2147483648]");
    require(p.memory >= 1.0 && p.memory <= kMaxMemory, "memory", p.memory, "a number of ticks in [1, 4294967296]");
    require(p.decades > 0.0 && std::isfinite(p.decades), "decades", p.decades, "a finite number > 0");
    require(p.bit_level > 0.0 && p.bit_level <= 1.0, "bit_level", p.bit_level, "in (0, 1]");
    require(p.saturation > 0.0 && p.saturation <= kScoreCap, "saturation", p.saturation, "in (0, 100]");
    require(p.prior_rate >= 0.0 && p.prior_rate <= 1.0, "prior_rate", p.prior_rate, "in [0, 1]");
    require(p.score_decades >= 0.0 && std::isfinite(p.score_decades), "score_decades", p.score_decades,
            "a finite number >= 0 (0: no score tail)");
    require(p.score_warmup >= 0.0 && p.score_warmup <= kMaxMemory, "score_warmup", p.score_warmup,
            "a number of predictions in [0, 4294967296]");
    require(p.day_decades >= 0.0 && std::isfinite(p.day_decades), "day_decades", p.day_decades,
            "a finite number >= 0 (0: no daily profile)");
    if (p.day_decades == 0.0) return;
    require(p.day_slots >= 1.0 && p.day_slots <= kMaxDaySlots && p.day_slots == std::floor(p.day_slots), "day_slots",
            p.day_slots, "an integer in [1, 1440]");
    require(p.day_ticks_per_slot > 0.0 && std::isfinite(p.day_ticks_per_slot), "day_ticks_per_slot",
            p.day_ticks_per_slot, "a finite number of ticks > 0");
    require(p.day_warmup >= 0.0 && p.day_warmup <= 1e6, "day_warmup", p.day_warmup, "a number of days in [0, 1e6]");
    require(p.day_memory > 0.0 && p.day_memory * p.day_ticks_per_slot >= 1.0 &&
                p.day_memory * p.day_ticks_per_slot <= kMaxMemory,
            "day_memory", p.day_memory, "a number of days > 0 with day_memory * day_ticks_per_slot in [1, 4294967296]");
    require(p.day_span >= 1.0 && p.day_span <= kMaxMemory, "day_span", p.day_span, "a number of ticks in [1, 4294967296]");
    require(p.day_long_memory >= 1.0 && p.day_long_memory <= kMaxMemory, "day_long_memory", p.day_long_memory,
            "a number of ticks in [1, 4294967296]");
}

void Calibration::ChunkDeleter::operator()(void* p) const noexcept {
    ::operator delete[](p, std::align_val_t(kChunkAlign));
}

Calibration::Calibration(const CalibrationParams& p, double gap_above, bool vector) : p_(p), gap_above_(gap_above) {
    validate_calibration_params(p);
    if (p.kind != CalibrationKind::surprise) {
        throw std::invalid_argument(std::string("a calibration stage needs kind surprise, got ") +
                                    calibration_name(p.kind));
    }
    if (!(gap_above >= 0.0)) throw std::invalid_argument("gap_above = " + describe(gap_above) + " must be >= 0");
    inv_memory_ = 1.0 / p.memory;  // 1 / min(seen + k, memory) once seen + k >= memory: the same division
    bit_cut_ = 100.0 * p.bit_level;
    rule_avx2_ = vector && p.score_decades == 0.0 && day_lanes_use_avx2();
    if (p.day_decades > 0.0) {
        day_slots_ = static_cast<std::size_t>(p.day_slots);
        day_avx2_ = vector && day_lanes_use_avx2();
        day_warm_visits_ = p.day_warmup * p.day_ticks_per_slot;
        day_memory_visits_ = p.day_memory * p.day_ticks_per_slot;
        inv_day_memory_visits_ = 1.0 / day_memory_visits_;
        inv_day_long_memory_ = 1.0 / p.day_long_memory;
    }
    prior_ = initial();
}

CalibrationState Calibration::initial() const {
    CalibrationState s;
    s.rate = p_.prior_rate;
    s.day_mean.assign(day_slots_, 0.0);
    s.day_var.assign(day_slots_, 0.0);
    s.day_visits.assign(day_slots_, 0u);
    return s;
}

void Calibration::grow_to(std::size_t slots) {
    const std::size_t per_chunk = kBlocksPerChunk * kLanes;
    const std::size_t chunks = (slots + per_chunk - 1) / per_chunk;
    if (chunks <= chunks_.size()) return;
    const bool score_tail = p_.score_decades > 0.0;
    const bool day = day_slots_ > 0;
    chunks_.reserve(chunks);  // may throw: nothing changed yet
    if (score_tail) tail_chunks_.reserve(chunks);
    if (day) {
        day_chunks_.reserve(chunks);
        day_cell_chunks_.reserve(chunks);
    }
    while (chunks_.size() < chunks) {
        Block* raw = static_cast<Block*>(::operator new[](kBlocksPerChunk * sizeof(Block), std::align_val_t(kChunkAlign)));
        Chunk chunk(raw);
        TailChunk tail;
        if (score_tail) {
            tail.reset(static_cast<TailBlock*>(
                ::operator new[](kBlocksPerChunk * sizeof(TailBlock), std::align_val_t(kChunkAlign))));
        }
        DayChunk day_chunk;
        DayCellChunk day_cells;
        if (day) {
            day_chunk.reset(static_cast<DayBlock*>(
                ::operator new[](kBlocksPerChunk * sizeof(DayBlock), std::align_val_t(kChunkAlign))));
            day_cells.reset(static_cast<DayCell*>(::operator new[](kBlocksPerChunk * day_slots_ * sizeof(DayCell),
                                                                    std::align_val_t(kChunkAlign))));
        }
        const std::size_t first = chunks_.size() * per_chunk;
        chunks_.push_back(std::move(chunk));  // capacity reserved: does not throw
        if (score_tail) tail_chunks_.push_back(std::move(tail));
        if (day) {
            day_chunks_.push_back(std::move(day_chunk));
            day_cell_chunks_.push_back(std::move(day_cells));
        }
        for (std::size_t s = first; s < first + per_chunk; ++s) reset(s);
    }
}

void Calibration::reset(std::size_t slot) noexcept { store(slot, prior_); }

void Calibration::check_state(const CalibrationState& s) const {
    require(s.rate >= 0.0 && s.rate <= 1.0, "rate", s.rate, "in [0, 1]");
    require(std::isfinite(s.mean), "mean", s.mean, "finite");
    require(s.var >= 0.0 && std::isfinite(s.var), "var", s.var, "finite and >= 0");
    require(s.top < std::numeric_limits<double>::infinity() && !std::isnan(s.top), "top", s.top,
            "finite or -inf");
    require(std::isfinite(s.smean), "smean", s.smean, "finite");
    require(s.svar >= 0.0 && std::isfinite(s.svar), "svar", s.svar, "finite and >= 0");
    require(std::isfinite(s.day_short) && s.day_short >= 0.0, "day_short", s.day_short, "finite and >= 0");
    require(std::isfinite(s.day_lmean), "day_lmean", s.day_lmean, "finite");
    require(s.day_lvar >= 0.0 && std::isfinite(s.day_lvar), "day_lvar", s.day_lvar, "finite and >= 0");
    if (s.day_mean.size() != day_slots_ || s.day_var.size() != day_slots_ || s.day_visits.size() != day_slots_) {
        throw std::invalid_argument("the daily profile's state holds " + std::to_string(s.day_mean.size()) + ", " +
                                    std::to_string(s.day_var.size()) + " and " + std::to_string(s.day_visits.size()) +
                                    " slots of the day; this stage has " + std::to_string(day_slots_));
    }
    for (std::size_t j = 0; j < day_slots_; ++j) {
        require(std::isfinite(s.day_mean[j]), "day_mean", s.day_mean[j], "finite");
        require(s.day_var[j] >= 0.0 && std::isfinite(s.day_var[j]), "day_var", s.day_var[j], "finite and >= 0");
    }
}

void Calibration::set_state(std::size_t slot, const CalibrationState& s) { set_states(&slot, &s, 1); }

void Calibration::set_states(const std::size_t* slots, const CalibrationState* states, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) check_state(states[i]);  // all of them before any changes
    for (std::size_t i = 0; i < n; ++i) store(slots[i], states[i]);
}

// Writes every field of `s` (day vectors of day_slots_ entries when the profile is on) into the slot.
void Calibration::store(std::size_t slot, const CalibrationState& s) noexcept {
    Block& b = block(slot / kLanes);
    const std::size_t l = slot % kLanes;
    b.rate[l] = s.rate;
    b.mean[l] = s.mean;
    b.var[l] = s.var;
    b.seen[l] = s.seen;
    b.top[l] = s.top;
    b.top_age[l] = s.top_age;
    b.prev[l] = s.prev;
    if (!tail_chunks_.empty()) {
        TailBlock& t = tail_block(slot / kLanes);
        t.smean[l] = s.smean;
        t.svar[l] = s.svar;
    }
    if (day_slots_ > 0) {
        DayBlock& d = day_block(slot / kLanes);
        d.short_mean[l] = s.day_short;
        d.lmean[l] = s.day_lmean;
        d.lvar[l] = s.day_lvar;
        d.lseen[l] = s.day_lseen;
        for (std::size_t j = 0; j < day_slots_; ++j) {
            DayCell& c = day_cell(slot / kLanes, j);
            c.mean[l] = s.day_mean[j];
            c.var[l] = s.day_var[j];
            c.visits[l] = s.day_visits[j];
        }
    }
}

CalibrationState Calibration::state(std::size_t slot) const {
    const Block& b = block(slot / kLanes);
    const std::size_t l = slot % kLanes;
    CalibrationState s;
    s.rate = b.rate[l];
    s.mean = b.mean[l];
    s.var = b.var[l];
    s.seen = b.seen[l];
    s.top = b.top[l];
    s.top_age = b.top_age[l];
    s.prev = b.prev[l];
    if (!tail_chunks_.empty()) {
        const TailBlock& t = tail_block(slot / kLanes);
        s.smean = t.smean[l];
        s.svar = t.svar[l];
    }
    if (day_slots_ > 0) {
        const DayBlock& d = day_block(slot / kLanes);
        s.day_short = d.short_mean[l];
        s.day_lmean = d.lmean[l];
        s.day_lvar = d.lvar[l];
        s.day_lseen = d.lseen[l];
        for (std::size_t j = 0; j < day_slots_; ++j) {
            const DayCell& c = day_cell(slot / kLanes, j);
            s.day_mean.push_back(c.mean[l]);
            s.day_var.push_back(c.var[l]);
            s.day_visits.push_back(c.visits[l]);
        }
    }
    return s;
}

// The level of a saturated tick (before the statistics take it in).
__attribute__((noinline)) double Calibration::saturated_level(const Block& s, std::size_t l,
                                                              double change) const noexcept {
    const double g_rate = std::min(1.0, -std::log10(std::max(s.rate[l], 1e-12)) / p_.decades);
    // g_change is in [0, 1] (NaN cannot pass max(0, .)), so with g_rate = 1
    // the level is 100 whatever it is: skip it.
    if (g_rate == 1.0) return 100.0;
    double g_change = 0.0;
    if (s.seen[l] >= 2) {
        const double sd = std::max(std::sqrt(s.var[l]), 1e-9);
        const double tail = 0.5 * std::erfc(std::fabs(change - s.mean[l]) / (sd * std::sqrt(2.0)));
        g_change = std::min(1.0, std::max(0.0, -std::log10(tail + 1e-10) / 10.0));
    }
    return 50.0 + 50.0 * std::max(g_rate, g_change);
}

// The level with the score tail of x = log(1 + capped score) taken in (seen >= score_warmup).
__attribute__((noinline)) double Calibration::score_tail_level(const TailBlock& s, std::size_t l, double x,
                                                               double level) const noexcept {
    const double sd = std::max(std::sqrt(s.svar[l]), 1e-6);
    const double z = (x - s.smean[l]) / (sd * std::sqrt(2.0));
    if (!(z >= 3.0 / std::sqrt(2.0))) return level;  // below 3 standard deviations: nothing to add
    const double tail = 0.5 * std::erfc(z);
    const double g_score = std::min(1.0, std::max(0.0, -std::log10(tail + 1e-300) / p_.score_decades));
    return std::max(level, 100.0 * g_score);
}


// g_day of a likelihood zl that may reach 3 standard deviations.
__attribute__((noinline)) double Calibration::day_tail(double zl) const noexcept {
    if (!(zl >= 3.0)) return 0.0;
    const double tail = 0.5 * std::erfc(zl / std::sqrt(2.0));
    return std::min(1.0, std::max(0.0, -std::log10(tail + 1e-300) / p_.day_decades));
}

// Lanes of a 4-lane group whose bit is set in `bits` (bit l for lane first + l), as an all-ones mask.
static __attribute__((target("avx2"))) inline __m256d lane_mask(unsigned bits, std::size_t first) noexcept {
    const __m256i which = _mm256_setr_epi64x(1, 2, 4, 8);
    const __m256i set = _mm256_set1_epi64x(static_cast<long long>((bits >> first) & 0xFu));
    return _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(set, which), which));
}

// The 32-bit halves of a 4-lane 64-bit mask, for the uint32 fields.
static __attribute__((target("avx2"))) inline __m128i mask32(__m256d m) noexcept {
    return _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(_mm256_castpd_si256(m), _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
}

// Each operation is apply()'s scalar one in its order (selects as blends; std::min(x, c) as
// min_pd(c, x), std::max(x, c) as max_pd(c, x), which agree with them for NaN too); a saturated lane's
// level comes from saturated_level() on the state before the update, as in the scalar path.
__attribute__((target("avx2"))) void Calibration::rule_block_avx2(Block& s, const double* values, unsigned trained,
                                                                  const double* g_day, double* scores,
                                                                  std::uint8_t* bits, double* levels) const noexcept {
    const __m256d one = _mm256_set1_pd(1.0), two = _mm256_set1_pd(2.0), zero = _mm256_setzero_pd(),
                  half = _mm256_set1_pd(0.5), hundred = _mm256_set1_pd(kScoreCap),
                  memory = _mm256_set1_pd(p_.memory), inv_memory = _mm256_set1_pd(inv_memory_),
                  saturation = _mm256_set1_pd(p_.saturation), window = _mm256_set1_pd(p_.peak_window),
                  bit_cut = _mm256_set1_pd(bit_cut_),
                  minus_inf = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
    for (std::size_t l = 0; l < kLanes; l += 4) {
        const __m256d v = _mm256_loadu_pd(values + l);
        const __m256d prev = _mm256_loadu_pd(s.prev + l);
        const __m256d change = _mm256_sub_pd(v, prev);
        _mm256_storeu_pd(s.prev + l, v);
        const __m256d active = _mm256_and_pd(lane_mask(trained, l), _mm256_cmp_pd(change, change, _CMP_EQ_OQ));
        const __m256d capped = _mm256_min_pd(hundred, _mm256_loadu_pd(scores + l));
        const __m256d saturated = _mm256_and_pd(active, _mm256_cmp_pd(capped, saturation, _CMP_GE_OQ));
        __m256d level = _mm256_mul_pd(half, capped);
        if (const unsigned sat = static_cast<unsigned>(_mm256_movemask_pd(saturated)); sat != 0) {
            alignas(32) double lanes[4], changes[4];
            _mm256_store_pd(lanes, level);
            _mm256_store_pd(changes, change);
            for (unsigned j = 0; j < 4; ++j) {
                if ((sat >> j) & 1u) lanes[j] = saturated_level(s, l + j, changes[j]);
            }
            level = _mm256_load_pd(lanes);
        }
        const __m128i seen_count = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.seen + l));
        const __m256d seen = u32_to_double(seen_count);
        const __m256d seen2 = _mm256_add_pd(seen, two), seen1 = _mm256_add_pd(seen, one);
        const __m256d a_rate = _mm256_blendv_pd(inv_memory, _mm256_div_pd(one, seen2),
                                                _mm256_cmp_pd(seen2, memory, _CMP_LT_OQ));
        const __m256d rate = _mm256_loadu_pd(s.rate + l);
        const __m256d hit = _mm256_and_pd(saturated, one);  // 1.0 where saturated, else 0.0
        const __m256d rate_next = _mm256_add_pd(rate, _mm256_mul_pd(a_rate, _mm256_sub_pd(hit, rate)));
        _mm256_storeu_pd(s.rate + l, _mm256_blendv_pd(rate, rate_next, active));
        const __m256d a = _mm256_blendv_pd(inv_memory, _mm256_div_pd(one, seen1),
                                           _mm256_cmp_pd(seen1, memory, _CMP_LT_OQ));
        const __m256d mean = _mm256_loadu_pd(s.mean + l), var = _mm256_loadu_pd(s.var + l);
        const __m256d d = _mm256_sub_pd(change, mean);
        const __m256d mean_next = _mm256_add_pd(mean, _mm256_mul_pd(a, d));
        const __m256d var_next =
            _mm256_mul_pd(_mm256_sub_pd(one, a), _mm256_add_pd(var, _mm256_mul_pd(_mm256_mul_pd(a, d), d)));
        _mm256_storeu_pd(s.mean + l, _mm256_blendv_pd(mean, mean_next, active));
        _mm256_storeu_pd(s.var + l, _mm256_blendv_pd(var, var_next, active));
        const __m128i active32 = mask32(active);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(s.seen + l),
                         _mm_blendv_epi8(seen_count, saturating_inc4(seen_count), active32));
        const __m256d lifted = _mm256_max_pd(_mm256_mul_pd(hundred, _mm256_loadu_pd(g_day + l)), level);
        level = _mm256_blendv_pd(zero, lifted, active);
        // once per incident
        const __m128i age = saturating_inc4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s.top_age + l)));
        const __m256d expired = _mm256_cmp_pd(u32_to_double(age), window, _CMP_GT_OQ);
        const __m256d top = _mm256_blendv_pd(_mm256_loadu_pd(s.top + l), minus_inf, expired);
        if (levels != nullptr) _mm256_storeu_pd(levels + l, level);
        const __m256d report = _mm256_cmp_pd(level, top, _CMP_GT_OQ);
        _mm256_storeu_pd(s.top + l, _mm256_blendv_pd(top, level, report));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(s.top_age + l), _mm_andnot_si128(mask32(report), age));
        _mm256_storeu_pd(scores + l, _mm256_blendv_pd(zero, level, report));
        const unsigned bit = static_cast<unsigned>(
            _mm256_movemask_pd(_mm256_and_pd(report, _mm256_cmp_pd(level, bit_cut, _CMP_GE_OQ))));
        for (unsigned j = 0; j < 4; ++j) bits[l + j] = static_cast<std::uint8_t>((bit >> j) & 1u);
    }
}

void Calibration::apply(std::size_t first, std::size_t n, const double* values, const std::uint8_t* trained,
                        double* scores, std::uint8_t* bits, double* levels, int day_slot) noexcept {
    const double memory = p_.memory, window = p_.peak_window, saturation = p_.saturation;
    const bool score_tail = p_.score_decades > 0.0;
    const double warmup = p_.score_warmup;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double minus_inf = -std::numeric_limits<double>::infinity();
    const bool day = day_slots_ > 0 && day_slot >= 0 && static_cast<std::size_t>(day_slot) < day_slots_;
    const DayConstants day_k{day_warm_visits_, day_memory_visits_, inv_day_memory_visits_, p_.day_span,
                             2.0 * p_.day_span, p_.day_long_memory, inv_day_long_memory_};
    const bool avx2 = day && day_avx2_;
    for (std::size_t i = 0; i < n; i += kLanes) {
        Block& s = block((first + i) / kLanes);
        TailBlock* tb = score_tail ? &tail_block((first + i) / kLanes) : nullptr;
        DayBlock* db = day ? &day_block((first + i) / kLanes) : nullptr;
        DayCell* dc = day ? &day_cell((first + i) / kLanes, static_cast<std::size_t>(day_slot)) : nullptr;
        const unsigned mask = trained[i / kLanes];
        const std::size_t lanes = std::min(kLanes, n - i);
        double g_days[kLanes] = {};
        double lane_values[kLanes];  // the block's values, a gap (NaN, inf, beyond storable) as NaN
        for (std::size_t l = 0; l < kLanes; ++l) {
            const double v = l < lanes ? values[i + l] : nan;
            lane_values[l] = std::fabs(v) <= gap_above_ ? v : nan;
        }
        if (day) {
            double above[kLanes], lvar_before[kLanes];
            unsigned maybe = avx2 ? day_lanes_avx2<DayBlock, DayCell, kLanes>(lane_values, *db, *dc, day_k, above,
                                                                            lvar_before)
                                  : day_lanes_baseline<DayBlock, DayCell, kLanes>(lane_values, *db, *dc, day_k,
                                                                                above, lvar_before);
            while (maybe != 0) {
                const unsigned l = static_cast<unsigned>(__builtin_ctz(maybe));
                maybe &= maybe - 1;
                g_days[l] = day_tail(above[l] / std::max(std::sqrt(lvar_before[l]), 1e-9));
            }
        }
        if (rule_avx2_ && lanes == kLanes) {
            rule_block_avx2(s, lane_values, mask, g_days, scores + i, bits + i, levels != nullptr ? levels + i : nullptr);
            continue;
        }
        for (std::size_t l = 0; l < lanes; ++l) {
            const std::size_t k = i + l;
            const double value = lane_values[l];
            const double change = value - s.prev[l];
            s.prev[l] = value;
            const double g_day = g_days[l];
            double level = 0.0;
            if (((mask >> l) & 1u) != 0 && !std::isnan(change)) {
                const double seen = static_cast<double>(s.seen[l]);
                const double capped = std::min(scores[k], kScoreCap);
                const bool saturated = capped >= saturation;
                level = saturated ? saturated_level(s, l, change) : 0.5 * capped;
                double x = 0.0;
                if (score_tail) {
                    x = capped == 0.0 ? 0.0 : std::log(1.0 + capped);  // log(1) is 0: no call
                    const double above = x - tb->smean[l];
                    // z >= 3 needs above^2 >= 9 sd^2: far below that (8.9, a margin no rounding
                    // of z can cross), the tail adds nothing and needs no sqrt or division.
                    if (seen >= warmup && above > 0.0 && above * above >= 8.9 * std::max(tb->svar[l], 1e-12)) {
                        level = score_tail_level(*tb, l, x, level);
                    }
                }
                // 1 / min(seen + 2, memory): the prior rate counts as one observation.
                const double a_rate = seen + 2.0 < memory ? 1.0 / (seen + 2.0) : inv_memory_;
                s.rate[l] += a_rate * ((saturated ? 1.0 : 0.0) - s.rate[l]);
                const double a = seen + 1.0 < memory ? 1.0 / (seen + 1.0) : inv_memory_;
                const double d = change - s.mean[l];
                s.mean[l] += a * d;
                s.var[l] = (1.0 - a) * (s.var[l] + a * d * d);
                if (score_tail) {
                    const double ds = x - tb->smean[l];
                    tb->smean[l] += a * ds;
                    tb->svar[l] = (1.0 - a) * (tb->svar[l] + a * ds * ds);
                }
                s.seen[l] = saturating_inc(s.seen[l]);
                level = std::max(level, 100.0 * g_day);
            }
            // Once per incident: only a level above those reported in the last peak_window ticks.
            s.top_age[l] = saturating_inc(s.top_age[l]);
            if (static_cast<double>(s.top_age[l]) > window) s.top[l] = minus_inf;
            if (levels != nullptr) levels[k] = level;
            if (level > s.top[l]) {
                s.top[l] = level;
                s.top_age[l] = 0;
                scores[k] = level;
                bits[k] = level >= bit_cut_ ? 1 : 0;
            } else {
                scores[k] = 0.0;
                bits[k] = 0;
            }
        }
    }
}

std::size_t Calibration::memory_bytes() const noexcept {
    return chunks_.size() * kBlocksPerChunk * sizeof(Block) + chunks_.capacity() * sizeof(Chunk) +
           tail_chunks_.size() * kBlocksPerChunk * sizeof(TailBlock) + tail_chunks_.capacity() * sizeof(TailChunk) +
           day_chunks_.size() * kBlocksPerChunk * sizeof(DayBlock) + day_chunks_.capacity() * sizeof(DayChunk) +
           day_cell_chunks_.size() * kBlocksPerChunk * day_slots_ * sizeof(DayCell) +
           day_cell_chunks_.capacity() * sizeof(DayCellChunk);
}

void calibrate_series(const CalibrationParams& p, std::size_t ticks, std::size_t slots, const double* values,
                      const double* scores, const std::uint8_t* trained, double* out_scores, std::uint8_t* out_bits,
                      double* out_levels, double gap_above, const std::int32_t* day_slots) {
    Calibration stage(p, gap_above);
    if (day_slots != nullptr && p.day_decades > 0.0) {
        for (std::size_t t = 0; t < ticks; ++t) {
            if (day_slots[t] >= 0 && static_cast<double>(day_slots[t]) >= p.day_slots) {
                throw std::invalid_argument("day slot " + std::to_string(day_slots[t]) + " at tick " +
                                            std::to_string(t) + " is not below day_slots = " + describe(p.day_slots));
            }
        }
    }
    stage.grow_to(slots);
    std::vector<std::uint8_t> masks((slots + Calibration::kLanes - 1) / Calibration::kLanes);
    for (std::size_t t = 0; t < ticks; ++t) {
        const std::size_t row = t * slots;
        std::fill(masks.begin(), masks.end(), std::uint8_t{0});
        for (std::size_t j = 0; j < slots; ++j) {
            if (trained[row + j] != 0) masks[j / Calibration::kLanes] |= static_cast<std::uint8_t>(1u << (j % Calibration::kLanes));
        }
        std::copy(scores + row, scores + row + slots, out_scores + row);
        stage.apply(0, slots, values + row, masks.data(), out_scores + row, out_bits + row,
                    out_levels != nullptr ? out_levels + row : nullptr, day_slots != nullptr ? day_slots[t] : -1);
    }
}

}  // namespace pyml
