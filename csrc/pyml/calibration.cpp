#include "pyml/calibration.hpp"

#include "pyml/describe.hpp"

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

Calibration::Calibration(const CalibrationParams& p, double gap_above) : p_(p), gap_above_(gap_above) {
    validate_calibration_params(p);
    if (p.kind != CalibrationKind::surprise) {
        throw std::invalid_argument(std::string("a calibration stage needs kind surprise, got ") +
                                    calibration_name(p.kind));
    }
    if (!(gap_above >= 0.0)) throw std::invalid_argument("gap_above = " + describe(gap_above) + " must be >= 0");
    inv_memory_ = 1.0 / p.memory;  // 1 / min(seen + k, memory) once seen + k >= memory: the same division
    bit_cut_ = 100.0 * p.bit_level;
    if (p.day_decades > 0.0) {
        day_slots_ = static_cast<std::size_t>(p.day_slots);
        day_warm_visits_ = p.day_warmup * p.day_ticks_per_slot;
        day_memory_visits_ = p.day_memory * p.day_ticks_per_slot;
        inv_day_memory_visits_ = 1.0 / day_memory_visits_;
        inv_day_long_memory_ = 1.0 / p.day_long_memory;
    }
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

void Calibration::reset(std::size_t slot) noexcept {
    Block& b = block(slot / kLanes);
    const std::size_t l = slot % kLanes;
    const CalibrationState s;  // the prior, but for its rate (no allocation: the daily profile is reset below)
    b.rate[l] = p_.prior_rate;
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
        d.short_mean[l] = 0.0;
        d.lmean[l] = 0.0;
        d.lvar[l] = 0.0;
        d.lseen[l] = 0;
        for (std::size_t j = 0; j < day_slots_; ++j) {
            DayCell& c = day_cell(slot / kLanes, j);
            c.mean[l] = 0.0;
            c.var[l] = 0.0;
            c.visits[l] = 0;
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

void Calibration::apply(std::size_t first, std::size_t n, const double* values, const std::uint8_t* trained,
                        double* scores, std::uint8_t* bits, double* levels, int day_slot) noexcept {
    const double memory = p_.memory, window = p_.peak_window, saturation = p_.saturation;
    const bool score_tail = p_.score_decades > 0.0;
    const double warmup = p_.score_warmup;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double minus_inf = -std::numeric_limits<double>::infinity();
    const bool day = day_slots_ > 0 && day_slot >= 0 && static_cast<std::size_t>(day_slot) < day_slots_;
    const double span = p_.day_span, long_memory = p_.day_long_memory, two_spans = 2.0 * p_.day_span;
    for (std::size_t i = 0; i < n; i += kLanes) {
        Block& s = block((first + i) / kLanes);
        TailBlock* tb = score_tail ? &tail_block((first + i) / kLanes) : nullptr;
        DayBlock* db = day ? &day_block((first + i) / kLanes) : nullptr;
        DayCell* dc = day ? &day_cell((first + i) / kLanes, static_cast<std::size_t>(day_slot)) : nullptr;
        const unsigned mask = trained[i / kLanes];
        const std::size_t lanes = std::min(kLanes, n - i);
        for (std::size_t l = 0; l < lanes; ++l) {
            const std::size_t k = i + l;
            double value = values[k];
            if (!(std::fabs(value) <= gap_above_)) value = nan;  // NaN, inf, beyond storable: a gap
            const double change = value - s.prev[l];
            s.prev[l] = value;
            double g_day = 0.0;
            if (day && !std::isnan(value)) {
                const double visits = static_cast<double>(dc->visits[l]);
                const double mu = dc->mean[l];
                if (visits >= day_warm_visits_) {
                    const double z = (value - mu) / std::max(std::sqrt(dc->var[l]), 1e-9);
                    db->short_mean[l] += (std::min(z * z, 1e4) - db->short_mean[l]) / span;
                    const double ls = static_cast<double>(db->lseen[l]);
                    if (ls >= two_spans) {
                        const double above = db->short_mean[l] - db->lmean[l];
                        // zl >= 3 needs above^2 >= 9 sd^2: far below that (8.9), nothing to add
                        if (above > 0.0 && above * above >= 8.9 * std::max(db->lvar[l], 1e-18)) {
                            g_day = day_tail(above / std::max(std::sqrt(db->lvar[l]), 1e-9));
                        }
                    }
                    const double al = ls + 1.0 < long_memory ? 1.0 / (ls + 1.0) : inv_day_long_memory_;
                    const double dl = db->short_mean[l] - db->lmean[l];
                    db->lmean[l] += al * dl;
                    db->lvar[l] = (1.0 - al) * (db->lvar[l] + al * dl * dl);
                    db->lseen[l] = saturating_inc(db->lseen[l]);
                }
                const double a = visits + 1.0 < day_memory_visits_ ? 1.0 / (visits + 1.0) : inv_day_memory_visits_;
                const double dv = value - mu;
                dc->mean[l] = mu + a * dv;
                dc->var[l] = (1.0 - a) * (dc->var[l] + a * dv * dv);
                dc->visits[l] = saturating_inc(dc->visits[l]);
            }
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
