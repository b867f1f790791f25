// The calibration stage (calibration.hpp): the surprise rule (with and
// without its score tail) on hand-worked
// sequences (table), against a plain reference written from the rule's text
// on random slots and ranges, its state's life (reset, growth, memory), its
// parameters; and in the bank: equal to the reference fed with the bank's own
// values, vote scores and predictions (both kernels, one and several models,
// suppression), kept across model installs and clear_model, reset on reuse.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "numeric.hpp"
#include "pyml/bank.hpp"
#include "pyml/calibration.hpp"
#include "pyml/model.hpp"
#include "pyml/storage_number.hpp"

namespace {

using pyml::Bank;
using pyml::BankParams;
using pyml::Calibration;
using pyml::CalibrationKind;
using pyml::CalibrationParams;
using pyml::CalibrationState;
using pyml::Model;

using testutil::bits_of;
using testutil::kernels;
using testutil::kInf;
using testutil::kNaN;
using testutil::same;

CalibrationParams surprise(double window = 120, double memory = 4000, double decades = 4, double bit_level = 0.75,
                           double saturation = 100, double prior = 0.01, double score_decades = 0,
                           double score_warmup = 100) {
    CalibrationParams p;
    p.kind = CalibrationKind::surprise;
    p.peak_window = window;
    p.memory = memory;
    p.decades = decades;
    p.bit_level = bit_level;
    p.saturation = saturation;
    p.prior_rate = prior;
    p.score_decades = score_decades;
    p.score_warmup = score_warmup;
    return p;
}

// The pyml profile's rule: the surprise rule with its score tail.
CalibrationParams tailed(double window = 120, double memory = 4000, double score_decades = 12,
                         double score_warmup = 100) {
    return surprise(window, memory, 4, 0.75, 100, 0.01, score_decades, score_warmup);
}

// The rule for one slot, written plainly from its description (float64 state
// as the lab keeps it, infinity for "never reported").
struct Reference {
    CalibrationParams p;
    double rate, mean = 0, var = 0, seen = 0, top = -kInf, top_age = kInf, prev = kNaN, smean = 0, svar = 0;
    // the daily profile
    double day_short = 0, day_lmean = 0, day_lvar = 0, day_lseen = 0;
    std::vector<double> day_mean, day_var, day_visits;

    explicit Reference(const CalibrationParams& params)
        : p(params),
          rate(params.prior_rate),
          day_mean(params.day_decades > 0 ? static_cast<std::size_t>(params.day_slots) : 0, 0.0),
          day_var(day_mean.size(), 0.0),
          day_visits(day_mean.size(), 0.0) {}

    // g_day of a tick in slot of the day `slot` with this value; updates the profile.
    double day_step(double value, int slot) {
        if (p.day_decades <= 0 || slot < 0 || std::isnan(value)) return 0.0;
        const auto j = static_cast<std::size_t>(slot);
        const double k = p.day_ticks_per_slot;
        double g = 0.0;
        if (day_visits[j] >= p.day_warmup * k) {
            const double z = (value - day_mean[j]) / std::max(std::sqrt(day_var[j]), 1e-9);
            day_short += (std::min(z * z, 1e4) - day_short) / p.day_span;
            if (day_lseen >= 2.0 * p.day_span) {
                const double zl = (day_short - day_lmean) / std::max(std::sqrt(day_lvar), 1e-9);
                if (zl >= 3.0) {
                    const double tail = 0.5 * std::erfc(zl / std::sqrt(2.0));
                    g = std::min(1.0, std::max(0.0, -std::log10(tail + 1e-300) / p.day_decades));
                }
            }
            const double al = 1.0 / std::min(day_lseen + 1.0, p.day_long_memory);
            const double dl = day_short - day_lmean;
            day_lmean += al * dl;
            day_lvar = (1.0 - al) * (day_lvar + al * dl * dl);
            day_lseen += 1.0;
        }
        const double a = 1.0 / std::min(day_visits[j] + 1.0, p.day_memory * k);
        const double dv = value - day_mean[j];
        day_mean[j] += a * dv;
        day_var[j] = (1.0 - a) * (day_var[j] + a * dv * dv);
        day_visits[j] += 1.0;
        return g;
    }

    struct Out {
        double score;
        bool bit;
        double level;
    };

    Out step(double value, double score, bool trained, int day_slot = -1) {
        if (!(std::fabs(value) <= pyml::kMaxStorableMagnitude)) value = kNaN;
        const double change = value - prev;
        prev = value;
        const double g_day = day_step(value, day_slot);
        double report = 0.0;
        if (trained && !std::isnan(change)) {
            const double capped = std::min(score, 100.0);
            const bool saturated = capped >= p.saturation;
            if (saturated) {
                const double g_rate = std::min(1.0, -std::log10(std::max(rate, 1e-12)) / p.decades);
                double g_change = 0.0;
                if (seen >= 2.0) {
                    const double sd = std::max(std::sqrt(var), 1e-9);
                    const double tail = 0.5 * std::erfc(std::fabs(change - mean) / (sd * std::sqrt(2.0)));
                    g_change = std::min(1.0, std::max(0.0, -std::log10(tail + 1e-10) / 10.0));
                }
                report = 50.0 + 50.0 * std::max(g_rate, g_change);
            } else {
                report = 0.5 * capped;
            }
            // The score tail: the upper tail of log(1 + capped) from 3 standard deviations up.
            const double x = std::log(1.0 + capped);
            if (p.score_decades > 0.0 && seen >= p.score_warmup) {
                const double sd = std::max(std::sqrt(svar), 1e-6);
                const double z = (x - smean) / (sd * std::sqrt(2.0));
                if (z >= 3.0 / std::sqrt(2.0)) {
                    const double tail = 0.5 * std::erfc(z);
                    report = std::max(report, 100.0 * std::min(1.0, std::max(0.0, -std::log10(tail + 1e-300) /
                                                                                    p.score_decades)));
                }
            }
            const double a_rate = 1.0 / std::min(seen + 2.0, p.memory);
            rate += a_rate * ((saturated ? 1.0 : 0.0) - rate);
            const double a = 1.0 / std::min(seen + 1.0, p.memory);
            const double d = change - mean;
            mean += a * d;
            var = (1.0 - a) * (var + a * d * d);
            if (p.score_decades > 0.0) {
                const double ds = x - smean;
                smean += a * ds;
                svar = (1.0 - a) * (svar + a * ds * ds);
            }
            seen += 1.0;
            report = std::max(report, 100.0 * g_day);
        }
        top_age += 1.0;
        if (top_age > p.peak_window) top = -kInf;
        if (report > top) {
            top = report;
            top_age = 0.0;
            return {report, report >= 100.0 * p.bit_level, report};
        }
        return {0.0, false, report};
    }

    bool equals(const CalibrationState& s) const {
        const double age = s.top_age == pyml::kNeverReported ? kInf : static_cast<double>(s.top_age);
        return same(s.rate, rate) && same(s.mean, mean) && same(s.var, var) && static_cast<double>(s.seen) == seen &&
               same(s.top, top) && age == top_age && same(s.prev, prev) && same(s.smean, smean) &&
               same(s.svar, svar) && same(s.day_short, day_short) && same(s.day_lmean, day_lmean) &&
               same(s.day_lvar, day_lvar) && static_cast<double>(s.day_lseen) == day_lseen && day_equal(s);
    }

    bool day_equal(const CalibrationState& s) const {
        if (s.day_mean.size() != day_mean.size()) return false;
        for (std::size_t j = 0; j < day_mean.size(); ++j) {
            if (!same(s.day_mean[j], day_mean[j]) || !same(s.day_var[j], day_var[j]) ||
                static_cast<double>(s.day_visits[j]) != day_visits[j]) {
                return false;
            }
        }
        return true;
    }
};

// A stage that treats values as the bank does (beyond storable: a gap).
Calibration stage_of(const CalibrationParams& p) { return Calibration(p, pyml::kMaxStorableMagnitude); }

// One tick of one slot through a one-slot stage.
Reference::Out stage_step(Calibration& c, double value, double score, bool trained) {
    const std::uint8_t mask = trained ? 1 : 0;
    std::uint8_t bit = 7;
    double level = -1.0;
    c.apply(0, 1, &value, &mask, &score, &bit, &level);
    return {score, bit != 0, level};
}

// ---------------------------------------------------------------- the rule by hand

TEST_CASE("surprise rule: hand-worked sequences (table)") {
    struct Tick {
        double value, score;
        bool trained;
        double want_score;
        bool want_bit;
        double want_level;
    };
    struct Row {
        const char* name;
        CalibrationParams p;
        std::vector<Tick> ticks;
    };
    // At the prior rate 0.01 with 4 decades, a saturation is worth 50 + 50 * 2/4 = 75.
    // After one normal tick (a' = 1/2) the rate is 0.005: -log10(0.005) / 4 = 0.575257498915995;
    // after two (a' = 1/3) 0.01 / 3.
    const double g005 = -std::log10(0.005) / 4.0;
    const double g0033 = -std::log10(0.01 / 3.0) / 4.0;
    const Row rows[] = {
        {"the first value has no change: level 0, reported once as the first peak",
         surprise(),
         {{1, 100, true, 0, false, 0}}},
        {"a saturation at the prior rate: level 75, the bit at bit_level 0.75",
         surprise(),
         {{1, 0, true, 0, false, 0}, {2, 100, true, 75, true, 75}}},
        {"below saturation the level is half the capped score; a lower level is not reported",
         surprise(),
         {{1, 0, true, 0, false, 0}, {2, 40, true, 20, false, 20}, {3, 30, true, 0, false, 15},
          {4, 250, true, 50 + 50 * g0033, true, 50 + 50 * g0033}}},
        {"the remembered peak is forgotten after peak_window ticks",
         surprise(2),
         {{1, 0, true, 0, false, 0}, {2, 40, true, 20, false, 20}, {3, 20, true, 0, false, 10},
          {4, 20, true, 0, false, 10}, {5, 20, true, 10, false, 10}}},
        {"peak_window 0: every tick reports its level",
         surprise(0),
         {{1, 0, true, 0, false, 0}, {2, 40, true, 20, false, 20}, {3, 20, true, 10, false, 10}}},
        {"untrained: level 0 and no statistic changes (the previous value is kept)",
         surprise(),
         {{1, 100, false, 0, false, 0}, {2, 100, false, 0, false, 0}, {3, 0, true, 0, false, 0},
          {4, 100, true, 50 + 50 * g005, true, 50 + 50 * g005}}},
        {"a gap (NaN, inf, beyond storable) makes the next change NaN",
         surprise(),
         {{1, 0, true, 0, false, 0}, {kNaN, 100, true, 0, false, 0}, {2, 100, true, 0, false, 0},
          {kInf, 100, true, 0, false, 0}, {3, 100, true, 0, false, 0}, {2e21, 100, true, 0, false, 0},
          {4, 100, true, 0, false, 0}, {5, 100, true, 75, true, 75}}},
        {"a normal tick lowers the rate: the next saturation is rarer",
         surprise(),
         {{1, 0, true, 0, false, 0}, {2, 0, true, 0, false, 0}, {3, 100, true, 50 + 50 * g005, true, 50 + 50 * g005}}},
        {"prior rate 1 and no change history: level 50, no bit",
         surprise(120, 4000, 4, 0.75, 100, 1.0),
         {{1, 0, true, 0, false, 0}, {2, 100, true, 50, false, 50}}},
        {"a change far in the tail of identical changes: g_change 1, level 100",
         surprise(120, 4000, 4, 0.75, 100, 1.0),
         {{0, 0, true, 0, false, 0}, {1, 0, true, 0, false, 0}, {2, 0, true, 0, false, 0}, {3, 0, true, 0, false, 0},
          {13, 100, true, 50 + 50 * std::min(1.0, -std::log10(1e-10) / 10.0), true,
           50 + 50 * std::min(1.0, -std::log10(1e-10) / 10.0)}}},
        {"saturation 60: a capped score of 60 saturates, 59 does not",
         surprise(0, 4000, 4, 0.75, 60),
         {{1, 0, true, 0, false, 0}, {2, 59, true, 29.5, false, 29.5}, {3, 60, true, 50 + 50 * -std::log10(0.005) / 4,
                                                                        true, 50 + 50 * -std::log10(0.005) / 4}}},
    };
    for (const Row& r : rows) {
        Calibration c = stage_of(r.p);
        c.grow_to(1);
        std::size_t t = 0;
        for (const Tick& k : r.ticks) {
            const Reference::Out got = stage_step(c, k.value, k.score, k.trained);
            const bool ok = std::fabs(got.score - k.want_score) <= 1e-12 && got.bit == k.want_bit &&
                            std::fabs(got.level - k.want_level) <= 1e-12;
            if (!ok) {
                std::fprintf(stderr, "case '%s', tick %zu: got (%.17g, %d, %.17g), want (%.17g, %d, %.17g)\n", r.name,
                             t, got.score, got.bit, got.level, k.want_score, k.want_bit, k.want_level);
                CHECK(ok);
            }
            ++t;
        }
    }
}

TEST_CASE("surprise rule: memory 1 keeps only the last tick") {
    Calibration c = stage_of(surprise(0, 1.0, 4, 0.75, 100, 0.01));
    c.grow_to(1);
    stage_step(c, 0, 0, true);
    stage_step(c, 5, 100, true);  // change 5, saturated: rate 1, mean 5, var 0
    const CalibrationState s = c.state(0);
    CHECK_EQ(s.rate, 1.0);
    CHECK_EQ(s.mean, 5.0);
    CHECK_EQ(s.var, 0.0);
    CHECK_EQ(s.seen, 1u);
    // Rate 1 gives g_rate 0, and one change is too few for g_change: level 50.
    CHECK(same(stage_step(c, 10, 100, true).level, 50.0));
    // The same change again: |change - mean| = 0 gives tail 1/2.
    const Reference::Out got = stage_step(c, 15, 100, true);
    CHECK(same(got.level, 50.0 + 50.0 * std::min(1.0, std::max(0.0, -std::log10(0.5 + 1e-10) / 10.0))));
    CHECK(!got.bit);
}

TEST_CASE("surprise rule: the stage's state follows the reference step by step") {
    Calibration c = stage_of(surprise(5, 7));
    c.grow_to(1);
    Reference ref(surprise(5, 7));
    CHECK(ref.equals(c.state(0)));
    CHECK(ref.equals(c.initial()));
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int t = 0; t < 400; ++t) {
        const double value = u(rng) < 0.05 ? kNaN : (t > 200 ? 50.0 : 0.0) + u(rng);
        const double score = u(rng) < 0.1 ? 100.0 : 99.0 * u(rng);
        const bool trained = t > 20;
        const Reference::Out want = ref.step(value, score, trained);
        const Reference::Out got = stage_step(c, value, score, trained);
        CHECK(same(got.score, want.score));
        CHECK_EQ(got.bit, want.bit);
        CHECK(same(got.level, want.level));
        CHECK(ref.equals(c.state(0)));
    }
    CHECK_EQ(c.state(0).seen, static_cast<std::uint32_t>(ref.seen));
}

TEST_CASE("score tail: a score far above the slot's usual ones is an onset below saturation") {
    Calibration plain = stage_of(surprise()), tail = stage_of(tailed(120, 4000, 12, 100));
    plain.grow_to(1);
    tail.grow_to(1);
    for (int t = 0; t < 300; ++t) {
        const double score = t == 250 ? 40.0 : 1.0 + 0.25 * ((t * 7) % 5);  // usual scores 1..2
        const Reference::Out a = stage_step(plain, 0.01 * t, score, true);
        const Reference::Out b = stage_step(tail, 0.01 * t, score, true);
        CHECK(b.level >= a.level);
        if (t == 250) {
            CHECK(same(a.level, 20.0) && !a.bit);
            CHECK(same(b.level, 100.0) && b.bit);  // 20 standard deviations up: the tail is below 1e-12
        } else {
            CHECK(!b.bit);
        }
    }
    CHECK(same(plain.state(0).smean, 0.0) && same(plain.state(0).svar, 0.0));  // off: never touched
    CHECK(tail.state(0).smean > 0.0);
}

// ---------------------------------------------------------------- many slots

// Values with gaps, level shifts and spikes; scores that saturate now and then.
struct Inputs {
    std::vector<double> values, scores;
    std::vector<std::uint8_t> trained;
};

Inputs random_inputs(std::size_t ticks, std::size_t slots, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> z(0.0, 1.0);
    Inputs in;
    in.values.resize(ticks * slots);
    in.scores.resize(ticks * slots);
    in.trained.resize(ticks * slots);
    std::vector<double> level(slots, 0.0);
    std::vector<std::size_t> trained_from(slots);
    for (std::size_t j = 0; j < slots; ++j) trained_from[j] = static_cast<std::size_t>(u(rng) * double(ticks) / 3);
    for (std::size_t t = 0; t < ticks; ++t) {
        for (std::size_t j = 0; j < slots; ++j) {
            const std::size_t k = t * slots + j;
            if (u(rng) < 0.01) level[j] += 20.0 * z(rng);  // a level shift
            double v = level[j] + z(rng);
            const double r = u(rng);
            if (r < 0.02) v = kNaN;
            else if (r < 0.025) v += 1e3 * z(rng);  // a spike
            else if (r < 0.027) v = kInf;
            in.values[k] = v;
            const double s = u(rng);
            in.scores[k] = s < 0.05 ? 100.0 : s < 0.07 ? 100.0 + 50.0 * u(rng) : 100.0 * u(rng);
            in.trained[k] = t >= trained_from[j] && u(rng) > 0.01;
        }
    }
    return in;
}

TEST_CASE("surprise stage: many slots, every range shape, equal the reference bit for bit, both paths") {
    const std::size_t slots = 37, ticks = 600;
    const Inputs in = random_inputs(ticks, slots, 11);
    for (const bool vector : {false, true})  // scalar blocks and (where the processor has it) AVX2 ones
    for (const CalibrationParams& p : {surprise(), surprise(10, 50, 2, 0.6, 90, 0.2), surprise(0, 1), tailed(),
                                       tailed(10, 50, 1, 0), tailed(0, 1, 12, 5)}) {
        Calibration c(p, pyml::kMaxStorableMagnitude, vector);
        c.grow_to(slots);
        CHECK(c.capacity() >= slots);
        std::vector<Reference> refs(slots, Reference(p));
        std::vector<double> scores(slots), levels(slots);
        std::vector<std::uint8_t> bits(slots), masks((slots + 7) / 8);
        std::size_t reported = 0, set = 0;
        for (std::size_t t = 0; t < ticks; ++t) {
            const double* v = &in.values[t * slots];
            std::fill(masks.begin(), masks.end(), std::uint8_t{0});
            for (std::size_t j = 0; j < slots; ++j) {
                if (in.trained[t * slots + j]) masks[j / 8] |= static_cast<std::uint8_t>(1u << (j % 8));
            }
            std::copy(&in.scores[t * slots], &in.scores[t * slots] + slots, scores.begin());
            // Ranges starting at block boundaries: all at once, or split in two.
            const std::size_t split = 8 * (t % 5);
            if (split == 0 || split >= slots) {
                c.apply(0, slots, v, masks.data(), scores.data(), bits.data(), levels.data());
            } else {
                c.apply(0, split, v, masks.data(), scores.data(), bits.data(), levels.data());
                c.apply(split, slots - split, v + split, masks.data() + split / 8, scores.data() + split,
                        bits.data() + split, t % 2 ? nullptr : levels.data() + split);
            }
            for (std::size_t j = 0; j < slots; ++j) {
                const Reference::Out want = refs[j].step(v[j], in.scores[t * slots + j], in.trained[t * slots + j]);
                CHECK(same(scores[j], want.score));
                CHECK_EQ(bits[j] != 0, want.bit);
                if (t % 2 == 0 || j < split || split == 0 || split >= slots) CHECK(same(levels[j], want.level));
                reported += want.score > 0;
                set += want.bit;
            }
        }
        for (std::size_t j = 0; j < slots; ++j) CHECK(refs[j].equals(c.state(j)));
        CHECK(reported > 0);
        CHECK(set > 0);
    }
}

// The pyml profile's rule: the surprise rule with the daily profile (a day of `period` ticks).
CalibrationParams daily(double period, double slots = 12, double window = 30, double memory = 400) {
    CalibrationParams p = surprise(window, memory);
    p.day_decades = 10;
    p.day_slots = slots;
    p.day_ticks_per_slot = period / slots;
    p.day_warmup = 2;
    p.day_memory = 7;
    p.day_span = 10;
    p.day_long_memory = 500;
    return p;
}

TEST_CASE("daily profile: many slots, ranges and resting ticks equal the reference bit for bit, both paths") {
    const std::size_t slots = 21, ticks = 3000;
    for (const bool vector : {false, true})  // the scalar lanes and (where the processor has it) AVX2
    for (const double period : {48.0, 7.0}) {
        const CalibrationParams p = daily(period, std::min(12.0, period));
        std::mt19937_64 rng(static_cast<std::uint64_t>(period));
        std::normal_distribution<double> noise(0.0, 1.0);
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        Calibration c(p, pyml::kMaxStorableMagnitude, vector);
        c.grow_to(slots);
        std::vector<Reference> refs(slots, Reference(p));
        std::vector<double> values(slots), scores(slots), levels(slots);
        std::vector<std::uint8_t> bits(slots), masks((slots + 7) / 8);
        std::size_t lifted = 0;
        for (std::size_t t = 0; t < ticks; ++t) {
            const double phase = static_cast<double>((t + 5) % static_cast<std::size_t>(period));
            // -1 now and then: no slot of the day, the profile rests
            const int day_slot = t % 97 == 13 ? -1 : static_cast<int>(std::floor(phase * p.day_slots / period));
            std::fill(masks.begin(), masks.end(), std::uint8_t{0});
            std::vector<double> want_scores(slots);
            for (std::size_t j = 0; j < slots; ++j) {
                const double cycle = 5.0 * std::sin(2.0 * 3.141592653589793 * phase / period);
                values[j] = uniform(rng) < 0.01 ? kNaN : (t > 2500 && j == 3 ? -cycle : cycle) + noise(rng);
                scores[j] = want_scores[j] = uniform(rng) < 0.03 ? 100.0 : 99.0 * uniform(rng);
                if (uniform(rng) < 0.95) masks[j / 8] |= static_cast<std::uint8_t>(1u << (j % 8));
            }
            const std::size_t split = 8 * (t % 3);
            if (split == 0) {
                c.apply(0, slots, values.data(), masks.data(), scores.data(), bits.data(), levels.data(), day_slot);
            } else {
                c.apply(0, split, values.data(), masks.data(), scores.data(), bits.data(), levels.data(), day_slot);
                c.apply(split, slots - split, values.data() + split, masks.data() + split / 8, scores.data() + split,
                        bits.data() + split, levels.data() + split, day_slot);
            }
            for (std::size_t j = 0; j < slots; ++j) {
                const bool trained = ((masks[j / 8] >> (j % 8)) & 1u) != 0;
                Reference plain = refs[j];
                plain.p.day_decades = 0;  // what the level would be without the profile
                const Reference::Out without = plain.step(values[j], want_scores[j], trained);
                const Reference::Out want = refs[j].step(values[j], want_scores[j], trained, day_slot);
                CHECK(same(scores[j], want.score));
                CHECK_EQ(bits[j] != 0, want.bit);
                CHECK(same(levels[j], want.level));
                lifted += want.level > without.level;
            }
        }
        for (std::size_t j = 0; j < slots; ++j) CHECK(refs[j].equals(c.state(j)));
        CHECK(lifted > 0);
        // growth keeps the profile; a reset slot starts again
        c.grow_to(4 * slots + 600);
        for (std::size_t j = 0; j < slots; ++j) CHECK(refs[j].equals(c.state(j)));
        c.reset(2);
        CHECK(Reference(p).equals(c.state(2)));
    }
}

TEST_CASE("daily profile: parameters validated, memory per slot of the day") {
    CHECK_THROWS(stage_of(daily(48, 0)), std::invalid_argument);
    CHECK_THROWS(stage_of(daily(48, 2.5)), std::invalid_argument);
    CHECK_THROWS(stage_of(daily(48, 1441)), std::invalid_argument);
    CalibrationParams p = daily(48);
    p.day_ticks_per_slot = kNaN;
    CHECK_THROWS(stage_of(p), std::invalid_argument);
    p = daily(48);
    p.day_span = 0.5;
    CHECK_THROWS(stage_of(p), std::invalid_argument);
    p = daily(48);
    p.day_decades = 0;
    p.day_slots = 0;  // off: the rest is not looked at
    stage_of(p);
    Calibration plain = stage_of(surprise()), with_day = stage_of(daily(86400));
    plain.grow_to(4096);
    with_day.grow_to(4096);
    const double extra = double(with_day.memory_bytes() - plain.memory_bytes()) / 4096.0;
    CHECK(extra >= 28.0 + 20.0 * 12 && extra < 28.0 + 20.0 * 12 + 1.0);
}

TEST_CASE("calibrate_series equals the stage slot by slot") {
    const std::size_t slots = 9, ticks = 300;
    const Inputs in = random_inputs(ticks, slots, 5);
    std::vector<double> scores(ticks * slots), levels(ticks * slots);
    std::vector<std::uint8_t> bits(ticks * slots);
    pyml::calibrate_series(surprise(), ticks, slots, in.values.data(), in.scores.data(), in.trained.data(),
                           scores.data(), bits.data(), levels.data(), pyml::kMaxStorableMagnitude);
    std::vector<Reference> refs(slots, Reference(surprise()));
    for (std::size_t t = 0; t < ticks; ++t) {
        for (std::size_t j = 0; j < slots; ++j) {
            const std::size_t k = t * slots + j;
            const Reference::Out want = refs[j].step(in.values[k], in.scores[k], in.trained[k]);
            CHECK(same(scores[k], want.score));
            CHECK_EQ(bits[k] != 0, want.bit);
            CHECK(same(levels[k], want.level));
        }
    }
    CHECK_THROWS(pyml::calibrate_series(CalibrationParams{}, ticks, slots, in.values.data(), in.scores.data(),
                                        in.trained.data(), scores.data(), bits.data(), nullptr),
                 std::invalid_argument);
}

TEST_CASE("surprise stage: reset, growth that keeps state, memory per slot") {
    Calibration c = stage_of(surprise());
    c.grow_to(3);
    CHECK_EQ(c.capacity(), Calibration::kBlocksPerChunk * Calibration::kLanes);
    for (int t = 0; t < 10; ++t) {
        double v[3] = {double(t), double(2 * t), double(t % 3)};
        double s[3] = {t == 9 ? 100.0 : 10.0, 10.0, 100.0};
        std::uint8_t bits[3];
        const std::uint8_t mask = 0x7;
        c.apply(0, 3, v, &mask, s, bits, nullptr);
    }
    const CalibrationState before1 = c.state(1);
    CHECK_EQ(before1.seen, 9u);
    c.grow_to(5000);  // new chunks; existing state stays where it is
    CHECK(c.capacity() >= 5000);
    const CalibrationState after1 = c.state(1);
    CHECK(same(after1.mean, before1.mean) && same(after1.var, before1.var) && after1.seen == before1.seen);
    const CalibrationState fresh = c.state(4999);
    CHECK(Reference(surprise()).equals(fresh));
    c.reset(1);
    CHECK(Reference(surprise()).equals(c.state(1)));
    CHECK_EQ(c.state(0).seen, 9u);  // its neighbours keep theirs
    // 48 bytes per slot plus the chunk table; 64 with the score tail.
    const std::size_t per_slot = (c.memory_bytes() * 100) / c.capacity();
    CHECK(per_slot >= 4800 && per_slot < 4900);
    Calibration t = stage_of(tailed());
    t.grow_to(5000);
    const std::size_t tail_per_slot = (t.memory_bytes() * 100) / t.capacity();
    CHECK(tail_per_slot >= 6400 && tail_per_slot < 6500);
    CHECK(Reference(tailed()).equals(t.state(4999)));
}

TEST_CASE("set_state gives a slot a state another stage learnt; a state the rule cannot hold is refused") {
    const CalibrationParams p = daily(48.0);
    Calibration learnt(p, pyml::kMaxStorableMagnitude);
    learnt.grow_to(9);
    const Inputs in = random_inputs(200, 9, 5);
    std::vector<double> scores(9), levels(9);
    std::vector<std::uint8_t> bits(9);
    for (std::size_t t = 0; t < 200; ++t) {
        std::uint8_t masks[2] = {0, 0};
        for (std::size_t j = 0; j < 9; ++j) {
            if (in.trained[t * 9 + j]) masks[j / 8] |= static_cast<std::uint8_t>(1u << (j % 8));
        }
        std::copy(&in.scores[t * 9], &in.scores[t * 9] + 9, scores.begin());
        learnt.apply(0, 9, &in.values[t * 9], masks, scores.data(), bits.data(), levels.data(),
                     static_cast<int>((t / 4) % 12));
    }
    Calibration fresh(p, pyml::kMaxStorableMagnitude);
    fresh.grow_to(9);
    for (std::size_t j = 0; j < 9; ++j) fresh.set_state(j, learnt.state(j));
    for (std::size_t j = 0; j < 9; ++j) {
        const CalibrationState a = learnt.state(j), b = fresh.state(j);
        CHECK(same(a.rate, b.rate));
        CHECK(same(a.var, b.var));
        CHECK(same(a.prev, b.prev));
        CHECK_EQ(a.top_age, b.top_age);
        CHECK_EQ(a.day_lseen, b.day_lseen);
        CHECK(a.day_visits == b.day_visits);
        CHECK(a.day_mean == b.day_mean);
    }
    // the same ticks from here give the same results in both
    for (std::size_t t = 0; t < 50; ++t) {
        std::vector<double> s1(&in.scores[t * 9], &in.scores[t * 9] + 9), s2 = s1, l1(9), l2(9);
        std::vector<std::uint8_t> b1(9), b2(9);
        const std::uint8_t masks[2] = {0xFF, 0x01};
        learnt.apply(0, 9, &in.values[t * 9], masks, s1.data(), b1.data(), l1.data(), 5);
        fresh.apply(0, 9, &in.values[t * 9], masks, s2.data(), b2.data(), l2.data(), 5);
        for (std::size_t j = 0; j < 9; ++j) CHECK(same(l1[j], l2[j]));
        CHECK(b1 == b2);
    }
    const CalibrationState keep = fresh.state(2);
    auto refused = [&](CalibrationState bad, const char* field) {
        bool threw = false;
        try {
            fresh.set_state(2, bad);
        } catch (const std::invalid_argument& e) {
            threw = true;
            CHECK(std::string(e.what()).find(field) != std::string::npos);
        }
        CHECK(threw);
        CHECK(same(fresh.state(2).rate, keep.rate));
        CHECK(fresh.state(2).day_mean == keep.day_mean);
    };
    CalibrationState bad = keep;
    bad.rate = 1.5;
    refused(bad, "rate");
    bad = keep;
    bad.var = -1.0;
    refused(bad, "var");
    bad = keep;
    bad.top = kNaN;
    refused(bad, "top");
    bad = keep;
    bad.day_var.pop_back();
    refused(bad, "daily profile");
    bad = keep;
    bad.day_mean[3] = kInf;
    refused(bad, "day_mean");
    Calibration plain = stage_of(surprise());
    plain.grow_to(1);
    CHECK_THROWS(plain.set_state(0, keep), std::invalid_argument);  // day vectors for a stage without them
}

TEST_CASE("calibration parameters are validated, naming the value") {
    struct Bad {
        CalibrationParams p;
        const char* name;
    };
    const Bad bad[] = {
        {surprise(-1), "peak_window"},        {surprise(kNaN), "peak_window"},
        {surprise(3e9), "peak_window"},       {surprise(120, 0.5), "memory"},
        {surprise(120, 5e9), "memory"},       {surprise(120, kInf), "memory"},
        {surprise(120, 4000, 0), "decades"},  {surprise(120, 4000, kInf), "decades"},
        {surprise(120, 4000, 4, 0), "bit_level"}, {surprise(120, 4000, 4, 1.5), "bit_level"},
        {surprise(120, 4000, 4, 0.75, 0), "saturation"}, {surprise(120, 4000, 4, 0.75, 101), "saturation"},
        {surprise(120, 4000, 4, 0.75, 100, -0.1), "prior_rate"}, {surprise(120, 4000, 4, 0.75, 100, kNaN), "prior_rate"},
        {tailed(120, 4000, -1), "score_decades"}, {tailed(120, 4000, kInf), "score_decades"},
        {tailed(120, 4000, kNaN), "score_decades"}, {tailed(120, 4000, 12, -1), "score_warmup"},
        {tailed(120, 4000, 12, 5e9), "score_warmup"}, {tailed(120, 4000, 12, kNaN), "score_warmup"},
    };
    for (const Bad& b : bad) {
        bool thrown = false;
        try {
            pyml::validate_calibration_params(b.p);
        } catch (const std::invalid_argument& e) {
            thrown = std::string(e.what()).find(b.name) != std::string::npos;
            if (!thrown) std::fprintf(stderr, "message without %s: %s\n", b.name, e.what());
        }
        CHECK(thrown);
        BankParams bp;
        bp.calibration = b.p;
        CHECK_THROWS(Bank(bp), std::invalid_argument);
    }
    pyml::validate_calibration_params(surprise(0, 1, 1e-3, 1, 1e-9, 0));  // the edges are accepted
    pyml::validate_calibration_params(surprise(2147483648.0, 4294967296.0, 100, 0.01, 100, 1));
    pyml::validate_calibration_params(tailed(120, 4000, 0, 0));             // no score tail
    pyml::validate_calibration_params(tailed(120, 4000, 1e-3, 4294967296.0));
    CHECK_THROWS(Calibration(CalibrationParams{}), std::invalid_argument);  // kind none has no stage
    CHECK_EQ(std::string(pyml::calibration_name(CalibrationKind::surprise)), std::string("surprise"));
}

// ---------------------------------------------------------------- in the bank

Model level_model(double lo_centre, double hi_centre, double spread) {
    Model m;
    m.k = 2;
    m.dims = 1;
    m.centers = {lo_centre, hi_centre};
    m.min_dist = 0.0;
    m.max_dist = spread;
    return m;
}

// A calibrated bank and its uncalibrated twin, fed the same ticks: the
// calibrated one's bits, scores, levels and words equal the reference fed
// with the twin's values, vote scores and predictions.
void run_twins(BankParams base, std::size_t slots, std::size_t ticks, std::uint64_t seed,
               const CalibrationParams& rule = surprise(15, 200)) {
    BankParams cal = base;
    cal.calibration = rule;
    Bank plain(base), calibrated(cal);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> z(0.0, 1.0);
    for (std::size_t j = 0; j < slots; ++j) {
        plain.add_slot();
        calibrated.add_slot();
    }
    const std::size_t dims = plain.dims(), warm = plain.warmup();
    std::vector<Reference> refs(slots, Reference(cal.calibration));
    std::vector<std::size_t> run(slots, 0);  // consecutive storable values
    std::vector<double> level(slots, 10.0), values(slots);
    std::vector<double> s0(slots), s1(slots), lv(slots);
    std::vector<std::uint8_t> b0(slots), b1(slots);
    std::vector<pyml::storage_word> w0(slots), w1(slots);
    std::size_t reported = 0, set = 0;
    for (std::size_t t = 0; t < ticks; ++t) {
        // Models arrive at random ticks (a slot keeps its calibration state),
        // some are cleared, a few slots are removed and added again (reset).
        for (std::size_t j = 0; j < slots; ++j) {
            const double r = u(rng);
            if (r < 0.02) {
                Model m;
                m.k = 2;
                m.dims = dims;
                m.centers.assign(2 * dims, 0.0);
                for (std::size_t e = 0; e < dims; ++e) {
                    m.centers[e] = level[j] * (dims == 1 ? 1.0 : 0.01) - 1.0;
                    m.centers[dims + e] = level[j] * (dims == 1 ? 1.0 : 0.01) + 1.0;
                }
                m.min_dist = 0.0;
                m.max_dist = 2.0 + 3.0 * u(rng);
                const auto after = static_cast<std::uint32_t>(t), before = static_cast<std::uint32_t>(t + 10);
                plain.queue_model(j, m, after, before);
                calibrated.queue_model(j, m, after, before);
            } else if (r < 0.025) {
                plain.clear_model(j);
                calibrated.clear_model(j);
            } else if (r < 0.027) {
                plain.remove_slot(j);
                calibrated.remove_slot(j);
                CHECK_EQ(plain.add_slot(), j);
                CHECK_EQ(calibrated.add_slot(), j);
                refs[j] = Reference(cal.calibration);
                run[j] = 0;
            }
        }
        for (std::size_t j = 0; j < slots; ++j) {
            if (u(rng) < 0.01) level[j] += 30.0 * z(rng);
            double v = level[j] + z(rng);
            const double r = u(rng);
            if (r < 0.02) v = kNaN;
            else if (r < 0.05) v += 40.0 * z(rng);
            else if (r < 0.052) v = kInf;
            values[j] = v;
        }
        // Which slots predict with a model this tick: the model mask after the
        // tick (which applied the queued models first) and a full window.
        plain.tick(values.data(), slots, nullptr, 0, w0.data(), b0.data(), s0.data());
        calibrated.tick(values.data(), slots, nullptr, 0, w1.data(), b1.data(), s1.data(), lv.data());
        std::vector<std::uint8_t> has(slots);
        plain.trained_mask(has.data(), slots);
        for (std::size_t j = 0; j < slots; ++j) {
            const bool storable = std::fabs(values[j]) <= pyml::kMaxStorableMagnitude;
            run[j] = storable ? std::min(run[j] + 1, warm) : 0;
            const bool trained = has[j] != 0 && run[j] == warm;  // (no suppression here)
            const Reference::Out want = refs[j].step(values[j], s0[j], trained);
            const bool ok = same(s1[j], want.score) && (b1[j] != 0) == want.bit && same(lv[j], want.level) &&
                            w1[j] == pyml::pack_sample(values[j], want.bit, false);
            if (!ok) {
                std::fprintf(stderr, "tick %zu slot %zu: got (%.17g, %d, %.17g), want (%.17g, %d, %.17g)\n", t, j,
                             s1[j], b1[j], lv[j], want.score, want.bit, want.level);
                CHECK(ok);
                return;
            }
            // The twin's words carry the vote's bit: calibration changes only the bit.
            CHECK_EQ(w0[j] & ~pyml::kAnomalyBit, w1[j] & ~pyml::kAnomalyBit);
            reported += want.score > 0;
            set += want.bit;
        }
    }
    std::vector<CalibrationState> states(slots);
    calibrated.calibration_state(states.data(), slots);
    for (std::size_t j = 0; j < slots; ++j) CHECK(refs[j].equals(states[j]));
    CHECK(reported > 0);
    CHECK(set > 0);
}

TEST_CASE("bank with calibration equals the reference over the twin's vote (both kernels, features, models)") {
    for (const pyml::BankKernel kernel : kernels()) {
        BankParams level;  // the pyml configuration: the level itself, one model
        level.features = {0, 1, 0};
        level.kernel = kernel;
        run_twins(level, 21, 500, 1);
        run_twins(level, 21, 500, 4, tailed(15, 200, 12, 20));  // the pyml profile's rule
        BankParams v133;  // v1.33's features
        v133.kernel = kernel;
        run_twins(v133, 13, 400, 2);
        BankParams v2 = level;  // several models, v2 features
        v2.models = 3;
        v2.variant = pyml::FeatureVariant::v2;
        run_twins(v2, 11, 400, 3);
    }
}

TEST_CASE("bank with calibration and suppression: a silenced slot is not trained for the rule") {
    BankParams p;
    p.features = {0, 1, 0};
    p.suppression_window = 5;
    p.suppression_threshold = 2;
    p.calibration = surprise(0);
    Bank bank(p);
    bank.add_slot();
    bank.set_model(0, level_model(0.0, 1.0, 10.0));
    std::uint8_t bit = 0;
    double score = 0, level = 0;
    pyml::storage_word word = 0;
    std::uint8_t status = 0;
    int t = 0;
    for (; t < 50 && (status & pyml::kStatusSilenced) == 0; ++t) {
        const double v = t % 2 ? 100.0 : 0.5;  // every other value far from both centres
        bank.tick(&v, 1, nullptr, 0, &word, &bit, &score, &level);
        bank.status(&status, 1);
    }
    CHECK((status & pyml::kStatusSilenced) != 0);
    CalibrationState s;
    bank.calibration_state(&s, 1);
    const std::uint32_t seen = s.seen;
    for (int k = 0; k < 5; ++k) {
        const double v = 100.0 + k;
        bank.tick(&v, 1, nullptr, 0, &word, &bit, &score, &level);
        CHECK_EQ(level, 0.0);
        CHECK_EQ(bit, 0);
    }
    bank.calibration_state(&s, 1);
    CHECK_EQ(s.seen, seen);  // silenced: no statistic changed
}

TEST_CASE("bank calibration: installs keep the state, clear_model keeps it, reuse resets it") {
    BankParams p;
    p.features = {0, 1, 0};
    p.calibration = surprise();
    Bank bank(p);
    bank.add_slot();
    bank.add_slot();
    bank.set_model(0, level_model(0.0, 1.0, 10.0));
    bank.set_model(1, level_model(0.0, 1.0, 10.0));
    double v[2] = {0.2, 0.3};
    pyml::storage_word w[2];
    std::uint8_t b[2];
    double s[2], l[2];
    for (int t = 0; t < 20; ++t) {
        v[0] = 0.1 * (t % 3);
        v[1] = 0.2 * (t % 2);
        bank.tick(v, 2, nullptr, 0, w, b, s, l);
    }
    CalibrationState st[2];
    bank.calibration_state(st, 2);
    CHECK_EQ(st[0].seen, 19u);  // the first value has no change
    bank.set_model(0, level_model(5.0, 6.0, 10.0));  // an install
    pyml::QueuedModel q;
    q.slot = 1;
    q.generation = bank.generation(1);
    q.centers[0] = 7.0;
    q.centers[1] = 8.0;
    q.max_dist = 1.0;
    bank.enqueue_models(&q, 1);
    bank.tick(v, 2, nullptr, 0, w, b, s, l);  // applies the queued model, then calibrates
    bank.calibration_state(st, 2);
    CHECK_EQ(st[0].seen, 20u);
    CHECK_EQ(st[1].seen, 20u);
    bank.clear_model(0);
    bank.tick(v, 2, nullptr, 0, w, b, s, l);
    bank.calibration_state(st, 2);
    CHECK_EQ(st[0].seen, 20u);  // no model: untrained, state kept
    CHECK(same(st[0].prev, v[0]));
    CHECK_EQ(st[1].seen, 21u);
    bank.remove_slot(1);
    bank.calibration_state(st, 2);
    CHECK(Reference(p.calibration).equals(st[1]));
    bank.tick(v, 2, nullptr, 0, w, b, s, l);  // a free slot: empty word, bit 0, score 0, level 0
    CHECK_EQ(w[1], pyml::kEmptySlot);
    CHECK_EQ(b[1], 0);
    CHECK_EQ(s[1], 0.0);
    CHECK_EQ(l[1], 0.0);
    CHECK_EQ(bank.add_slot(), 1u);
    bank.calibration_state(st, 2);
    CHECK(Reference(p.calibration).equals(st[1]));
    CHECK_EQ(st[0].seen, 20u);
}

TEST_CASE("bank without calibration: levels are refused before anything changes, no calibration state") {
    BankParams p;
    p.features = {0, 1, 0};
    Bank bank(p);
    bank.add_slot();
    bank.set_model(0, level_model(0.0, 1.0, 10.0));
    const double v = 0.5;
    pyml::storage_word w = 0;
    double level = -1;
    CHECK_THROWS(bank.tick(&v, 1, nullptr, 0, &w, nullptr, nullptr, &level), std::invalid_argument);
    CHECK_EQ(w, 0u);
    CHECK_EQ(level, -1.0);
    CalibrationState s;
    CHECK_THROWS(bank.calibration_state(&s, 1), std::invalid_argument);
    // Memory: a calibrated bank holds 48 bytes per slot more (without the score tail).
    BankParams pc = p;
    pc.calibration = surprise();
    Bank plain(p, 4096), calibrated(pc, 4096);
    const double extra = double(calibrated.memory_bytes() - plain.memory_bytes()) / 4096.0;
    CHECK(extra >= 48.0 && extra < 49.0);
}

}  // namespace
