// The dimension bank with several models per slot, v2 features and
// suppression: the ring rule (table), the v2 tick against extract_features_v2
// + Model::score, the vote, VARIABLE, the counters and silencing against a
// slot-by-slot reference on random sequences (both kernels), the effects of
// queued training results, set_models, and memory.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "numeric.hpp"
#include "pyml/bank.hpp"
#include "pyml/features.hpp"
#include "pyml/model.hpp"
#include "pyml/storage_number.hpp"

namespace {

using pyml::Bank;
using pyml::BankParams;
using pyml::FeatureParams;
using pyml::FeatureVariant;
using pyml::Model;
using pyml::QueuedKind;
using pyml::QueuedModel;
using pyml::RingAction;
using pyml::SlotModel;

using testutil::bits_of;
using testutil::kernels;
using testutil::kInf;
using testutil::kNaN;

// ---------------------------------------------------------------- the ring rule

TEST_CASE("ring rule: append, replace the newest, rotate (SPEC-NETDATA-2 §4.1)") {
    struct Row {
        const char* name;
        std::size_t held, capacity;
        std::vector<std::uint32_t> after, before;
        std::uint32_t new_after;
        RingAction want;
    };
    const Row rows[] = {
        {"empty", 0, 18, {}, {}, 5, RingAction::append},
        {"not full", 2, 3, {0, 10}, {100, 110}, 20, RingAction::append},
        {"one model: each new one replaces it", 1, 1, {0}, {100}, 200, RingAction::rotate},
        {"two: plain FIFO even when covered", 2, 2, {0, 10}, {100, 110}, 20, RingAction::rotate},
        {"covered: the second newest and the new one span the newest", 3, 3, {0, 10, 20}, {100, 110, 120}, 30,
         RingAction::replace_newest},
        {"new model starts at the second newest's end", 3, 3, {0, 10, 20}, {100, 110, 120}, 110,
         RingAction::rotate},
        {"new model starts after the second newest's end", 3, 3, {0, 10, 20}, {100, 110, 120}, 500,
         RingAction::rotate},
        {"second newest starts at the newest's end", 3, 3, {0, 120, 20}, {100, 130, 120}, 30, RingAction::rotate},
        {"eighteen, covered", 18, 18, std::vector<std::uint32_t>(18, 7), std::vector<std::uint32_t>(18, 9), 8,
         RingAction::replace_newest},
    };
    for (const Row& r : rows) {
        const RingAction got = pyml::ring_action(r.held, r.capacity, r.after.data(), r.before.data(), r.new_after);
        if (got != r.want) {
            std::fprintf(stderr, "ring rule case: %s\n", r.name);
            CHECK(got == r.want);
        }
    }
}

// ---------------------------------------------------------------- a slot by hand

Model make_model(std::size_t dims, double c0, double c1, double lo, double hi) {
    Model m;
    m.k = 2;
    m.dims = dims;
    m.centers.assign(2 * dims, 0.0);
    for (std::size_t e = 0; e < dims; ++e) {
        m.centers[e] = c0 + 0.1 * double(e);
        m.centers[dims + e] = c1 - 0.05 * double(e);
    }
    m.min_dist = lo;
    m.max_dist = hi;
    return m;
}

// What the bank stores: with more than one model, centres as float32.
Model stored(const Model& m, std::size_t models) {
    Model out = m;
    if (models > 1) {
        for (double& c : out.centers) c = static_cast<double>(static_cast<float>(c));
    }
    return out;
}

// One slot done the slow way, from SPEC-NETDATA-2 §4.1, §5 and §6.
struct RefSlot {
    FeatureParams p;
    FeatureVariant variant = FeatureVariant::v1;
    std::size_t capacity = 1;
    double threshold = 0.99;
    std::uint32_t window = 0, limit = 0;  // suppression
    std::vector<double> values;           // consecutive values since the last gap
    std::vector<SlotModel> ring;
    std::uint8_t status = pyml::kStatusActive;
    std::uint32_t wc = 0, ac = 0;
    std::uint64_t consulted = 0;

    struct Out {
        pyml::storage_word word;
        double score;
        bool bit;
    };

    std::size_t warm() const { return pyml::feature_window(p) + (variant == FeatureVariant::v2 ? 1 : 0); }

    void reset_counters() { wc = ac = 0; }

    void apply(QueuedKind kind, const Model& m, std::uint32_t after, std::uint32_t before) {
        if (kind == QueuedKind::model) {
            std::vector<std::uint32_t> a, b;
            for (const auto& s : ring) {
                a.push_back(s.after);
                b.push_back(s.before);
            }
            const SlotModel sm{stored(m, capacity), after, before};
            switch (pyml::ring_action(ring.size(), capacity, a.data(), b.data(), after)) {
                case RingAction::append: ring.push_back(sm); break;
                case RingAction::replace_newest: ring.back() = sm; break;
                case RingAction::rotate:
                    ring.erase(ring.begin());
                    ring.push_back(sm);
                    break;
            }
        }
        if (kind != QueuedKind::failed) {
            status |= pyml::kStatusTrained;
            status &= static_cast<std::uint8_t>(~pyml::kStatusSilenced);
        }
        status &= static_cast<std::uint8_t>(~pyml::kStatusVariable);
        reset_counters();
    }

    Out push(double v) {
        if (!(std::fabs(v) <= pyml::kMaxStorableMagnitude)) {
            values.clear();
            return {pyml::pack_sample(v, false, false), 0.0, false};
        }
        const bool had = !values.empty();
        const double prev = had ? values.back() : 0.0;
        values.push_back(v);
        if (values.size() > warm()) values.erase(values.begin());
        if (values.size() < warm()) return {pyml::pack_sample(v, false, false), 0.0, false};
        if (had && v != prev) status |= pyml::kStatusVariable;
        if (status & pyml::kStatusSilenced) return {pyml::pack_sample(v, false, false), 0.0, false};
        if (window > 0) ++wc;
        // The features of the last window() values.
        const std::size_t n = pyml::feature_window(p);
        std::vector<double> x(values.end() - static_cast<std::ptrdiff_t>(n), values.end());
        std::vector<double> scratch(n), feat(pyml::feature_dims(p));
        pyml::extract_features(x.data(), n, p, variant, scratch.data(), feat.data());
        // The vote, oldest first.
        double score = ring.empty() ? 0.0 : kNaN;
        std::size_t votes = 0;
        bool ended = false;
        for (const SlotModel& m : ring) {
            ++consulted;
            const double s = m.model.score(feat.data());
            if (std::isnan(s)) continue;
            if (s < 100.0 * threshold) {
                score = s;
                ended = true;
                break;
            }
            ++votes;
            if (std::isnan(score) || s < score) score = s;
        }
        const bool bit = !ended && votes > 0;
        if (!ended && window > 0) {
            if (bit) ++ac;
            if (ac >= limit && wc >= window) status |= pyml::kStatusSilenced;
        }
        return {pyml::pack_sample(v, bit, false), score, bit};
    }
};

BankParams params_of(FeatureParams p, FeatureVariant variant, std::size_t models, double threshold,
                     std::uint32_t window, std::uint32_t limit, pyml::BankKernel kernel) {
    BankParams bp;
    bp.features = p;
    bp.variant = variant;
    bp.models = models;
    bp.threshold = threshold;
    bp.suppression_window = window;
    bp.suppression_threshold = limit;
    bp.kernel = kernel;
    return bp;
}

RefSlot ref_of(const BankParams& bp) {
    RefSlot r;
    r.p = bp.features;
    r.variant = bp.variant;
    r.capacity = bp.models;
    r.threshold = bp.threshold;
    r.window = bp.suppression_window;
    r.limit = bp.suppression_threshold;
    return r;
}

// Runs a bank and one reference per slot over random values and random
// queued results, comparing words, bits, scores, status, counters, models
// held and models consulted after every tick. Returns how many anomalous bits
// and silenced slots were seen.
struct Seen {
    std::size_t anomalous = 0, silenced = 0, nan_scores = 0, replaced = 0;
};

Seen run_random(const BankParams& bp, std::size_t slots, std::size_t ticks, std::uint64_t seed) {
    Seen seen;
    Bank bank(bp);
    bank.keep_times();  // the results are queued directly, with times
    std::vector<RefSlot> refs(slots, ref_of(bp));
    for (std::size_t i = 0; i < slots; ++i) bank.add_slot();
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    const std::size_t dims = bank.dims();
    std::vector<double> level(slots, 0.0);
    std::vector<pyml::storage_word> w(slots);
    std::vector<std::uint8_t> b(slots), st(slots), held(slots);
    std::vector<double> s(slots);
    std::vector<std::uint32_t> wc(slots), ac(slots);
    std::uint32_t clock = 100000;
    for (std::size_t t = 0; t < ticks; ++t) {
        // Training results for some slots, applied by this tick.
        clock += 1 + static_cast<std::uint32_t>(uni(rng) * 50);
        for (std::size_t i = 0; i < slots; ++i) {
            if (uni(rng) > 0.08) continue;
            QueuedModel q;
            q.slot = i;
            q.generation = bank.generation(i);
            const double u = uni(rng);
            q.kind = u < 0.75 ? QueuedKind::model : (u < 0.87 ? QueuedKind::few_vectors : QueuedKind::failed);
            // Spans that make all three ring actions happen.
            q.before = clock;
            q.after = clock - static_cast<std::uint32_t>(uni(rng) < 0.5 ? 30 + uni(rng) * 60 : uni(rng) * 400);
            const double lo = uni(rng) * 0.5;
            Model m = make_model(dims, normal(rng), normal(rng), lo, lo + 0.2 + uni(rng) * 5.0);
            if (uni(rng) < 0.05) m.min_dist = kNaN;    // a model that scores NaN
            if (uni(rng) < 0.05) m.max_dist = m.min_dist;  // one that scores 0
            std::copy(m.centers.begin(), m.centers.end(), q.centers);
            q.min_dist = m.min_dist;
            q.max_dist = m.max_dist;
            bank.enqueue_models(&q, 1);
            const std::size_t before = refs[i].ring.size();
            refs[i].apply(q.kind, m, q.after, q.before);
            seen.replaced += q.kind == QueuedKind::model && before == refs[i].ring.size() && before == bp.models;
        }
        std::vector<double> v(slots);
        for (std::size_t i = 0; i < slots; ++i) {
            const double u = uni(rng);
            if (u < 0.02) {
                v[i] = kNaN;
            } else if (u < 0.025) {
                v[i] = kInf;
            } else if (i % 5 == 4 && u < 0.6) {
                v[i] = level[i];  // repeats: a constant stretch
            } else {
                level[i] += normal(rng) * (u > 0.93 ? 40.0 : 0.5);
                v[i] = level[i];
            }
        }
        bank.tick(v.data(), slots, nullptr, 0, w.data(), b.data(), s.data());
        bank.status(st.data(), slots);
        bank.model_counts(held.data(), slots);
        bank.suppression_counts(wc.data(), ac.data(), slots);
        std::uint64_t consulted = 0;
        for (std::size_t i = 0; i < slots; ++i) {
            const auto want = refs[i].push(v[i]);
            consulted += refs[i].consulted;
            const bool ok = w[i] == want.word && (b[i] != 0) == want.bit && bits_of(s[i]) == bits_of(want.score) &&
                            st[i] == refs[i].status && held[i] == refs[i].ring.size() &&
                            wc[i] == (bp.suppression_window ? refs[i].wc : 0) &&
                            ac[i] == (bp.suppression_window ? refs[i].ac : 0);
            if (!ok) {
                std::fprintf(stderr, "tick %zu slot %zu\n", t, i);
                CHECK_EQ(w[i], want.word);
                CHECK_EQ(int(b[i]), int(want.bit));
                CHECK_EQ(s[i], want.score);
                CHECK_EQ(int(st[i]), int(refs[i].status));
                CHECK_EQ(int(held[i]), int(refs[i].ring.size()));
                CHECK_EQ(wc[i], refs[i].wc);
                CHECK_EQ(ac[i], refs[i].ac);
                return seen;
            }
            seen.anomalous += b[i];
            seen.silenced += (st[i] & pyml::kStatusSilenced) != 0;
            seen.nan_scores += std::isnan(s[i]);
        }
        CHECK_EQ(bank.models_consulted(), consulted);
    }
    // The models as stored are the reference's, oldest first.
    for (std::size_t i = 0; i < slots; ++i) {
        const auto got = bank.models(i);
        CHECK_EQ(got.size(), refs[i].ring.size());
        for (std::size_t m = 0; m < got.size() && m < refs[i].ring.size(); ++m) {
            const auto& a = got[m];
            const auto& r = refs[i].ring[m];
            bool same = a.after == r.after && a.before == r.before &&
                        bits_of(a.model.min_dist) == bits_of(r.model.min_dist) &&
                        bits_of(a.model.max_dist) == bits_of(r.model.max_dist);
            for (std::size_t e = 0; e < 2 * dims; ++e) same &= bits_of(a.model.centers[e]) == bits_of(r.model.centers[e]);
            CHECK(same);
        }
    }
    return seen;
}

TEST_CASE("vote, VARIABLE, counters and silencing equal a slot-by-slot reference (both kernels)") {
    struct Setup {
        FeatureParams p;
        FeatureVariant variant;
        std::size_t models;
        double threshold;
        std::uint32_t window, limit;
    };
    const Setup setups[] = {
        {{1, 3, 5}, FeatureVariant::v2, 18, 0.99, 20, 8},
        {{1, 3, 5}, FeatureVariant::v2, 3, 0.5, 12, 3},
        {{0, 2, 3}, FeatureVariant::v2, 5, 0.7, 0, 0},
        {{1, 1, 0}, FeatureVariant::v2, 2, 0.6, 6, 6},
        {{1, 3, 5}, FeatureVariant::v1, 4, 0.8, 15, 5},
        {{1, 3, 5}, FeatureVariant::v1, 1, 0.5, 0, 0},
        {{0, 1, 0}, FeatureVariant::v1, 7, 0.5, 4, 1},
        {{1, 5, 2}, FeatureVariant::v2, 1, 0.9, 10, 4},
    };
    for (const pyml::BankKernel kernel : kernels()) {
        std::size_t anomalous = 0, silenced = 0, nan_scores = 0, replaced = 0;
        for (std::size_t k = 0; k < sizeof setups / sizeof setups[0]; ++k) {
            const Setup& u = setups[k];
            const BankParams bp = params_of(u.p, u.variant, u.models, u.threshold, u.window, u.limit, kernel);
            const Seen seen = run_random(bp, 21, 160, 1000 + k);
            anomalous += seen.anomalous;
            silenced += seen.silenced;
            nan_scores += seen.nan_scores;
            replaced += seen.replaced;
        }
        // The sequences exercised what they are for.
        CHECK(anomalous > 100);
        CHECK(silenced > 10);
        CHECK(nan_scores > 0);
        CHECK(replaced > 0);
    }
}

TEST_CASE("v2 tick equals extract_features_v2 + Model::score for every parameter set; first prediction on n+1") {
    for (const pyml::BankKernel kernel : kernels()) {
        std::mt19937_64 rng(31);
        std::normal_distribution<double> normal;
        for (std::size_t d = 0; d <= pyml::kMaxDiffN; ++d) {
            for (std::size_t s = 0; s <= pyml::kMaxSmoothN; ++s) {
                for (std::size_t l = 0; l <= pyml::kMaxLagN; ++l) {
                    const BankParams bp = params_of({d, s, l}, FeatureVariant::v2, 1, 0.5, 0, 0, kernel);
                    Bank bank(bp);
                    std::vector<RefSlot> refs(11, ref_of(bp));
                    for (std::size_t i = 0; i < 11; ++i) {
                        bank.add_slot();
                        if (i % 4 != 3) {
                            const Model m = make_model(l + 1, normal(rng), normal(rng), 0.1, 3.0 + double(i));
                            bank.set_model(i, m);
                            refs[i].ring.push_back({m, 0, 0});
                        }
                    }
                    // The first prediction: the (n+1)-th consecutive value.
                    const std::size_t n = bank.window();
                    CHECK_EQ(bank.warmup(), n + 1);
                    std::vector<pyml::storage_word> w(11);
                    std::vector<std::uint8_t> b(11);
                    std::vector<double> sc(11);
                    bool ok = true;
                    for (std::size_t t = 0; t < 40 && ok; ++t) {
                        std::vector<double> v(11);
                        for (std::size_t i = 0; i < 11; ++i) {
                            v[i] = normal(rng) * (t % 9 == 0 ? 30.0 : 1.0);
                            if ((t * 3 + i) % 29 == 0) v[i] = kNaN;
                        }
                        bank.tick(v.data(), 11, nullptr, 0, w.data(), b.data(), sc.data());
                        for (std::size_t i = 0; i < 11; ++i) {
                            const auto want = refs[i].push(v[i]);
                            if (t < n) ok &= sc[i] == 0.0 && b[i] == 0;  // no prediction before n + 1 values
                            ok &= w[i] == want.word && bits_of(sc[i]) == bits_of(want.score);
                        }
                    }
                    CHECK(ok);
                }
            }
        }
    }
}

TEST_CASE("v2 worked example in the tick: the window's vector scores as Model::score of (3, 4, 1, -1/3, -2, 0)") {
    BankParams bp;
    bp.variant = FeatureVariant::v2;
    Bank bank(bp);
    bank.add_slot();
    const Model m = make_model(6, 1.0, -2.0, 0.5, 9.0);
    bank.set_model(0, m);
    const double raw[] = {100, 1, 3, 6, 10, 15, 9, 9, 9, 9};  // the first value only fills the window
    pyml::storage_word w;
    std::uint8_t b;
    double s = -1.0;
    for (double v : raw) bank.tick(&v, 1, nullptr, 0, &w, &b, &s);
    const double vec[] = {3, 4, 1, -1.0 / 3.0, -2, 0};
    CHECK_EQ(bits_of(s), bits_of(m.score(vec)));
    CHECK(s > 0.0);
}

TEST_CASE("queued results: few_vectors and failed attempts change the status as SPEC-NETDATA-2 §3.5 says") {
    BankParams bp;
    bp.variant = FeatureVariant::v2;
    bp.models = 3;
    bp.suppression_window = 2;
    bp.suppression_threshold = 1;
    Bank bank(bp);
    bank.add_slot();
    // Always anomalous: centres far away, a tiny range.
    const Model loud = make_model(6, 1e6, -1e6, 0.0, 1e-9);
    bank.set_model(0, loud);
    pyml::storage_word w;
    std::uint8_t b = 0, st = 0;
    double s;
    std::uint32_t wc, ac;
    auto tick = [&](double v) {
        bank.tick(&v, 1, nullptr, 0, &w, &b, &s);
        bank.status(&st, 1);
        bank.suppression_counts(&wc, &ac, 1);
    };
    for (int i = 0; i < 10; ++i) tick(double(i));
    CHECK_EQ(int(b), 1);  // first predictions anomalous, then silenced
    for (int i = 0; i < 3; ++i) tick(double(i));
    CHECK_EQ(int(st), pyml::kStatusActive | pyml::kStatusTrained | pyml::kStatusSilenced | pyml::kStatusVariable);
    CHECK_EQ(int(b), 0);
    const std::uint32_t frozen = wc;
    tick(5.0);
    CHECK_EQ(wc, frozen);  // silenced: no counter moves
    // A failed attempt: counters reset, VARIABLE cleared, still silenced.
    QueuedModel q;
    q.kind = QueuedKind::failed;
    bank.enqueue_models(&q, 1);
    CHECK_EQ(bank.pending_models(), 0u);  // not a model
    tick(5.0);                            // same value: VARIABLE stays clear
    CHECK_EQ(int(st), pyml::kStatusActive | pyml::kStatusTrained | pyml::kStatusSilenced);
    CHECK_EQ(wc, 0u);
    CHECK_EQ(int(b), 0);
    // Too few vectors: TRAINED, no new model, leaves SILENCED.
    q.kind = QueuedKind::few_vectors;
    bank.enqueue_models(&q, 1);
    tick(6.0);
    CHECK_EQ(int(st), pyml::kStatusActive | pyml::kStatusTrained | pyml::kStatusVariable);
    CHECK_EQ(bank.models(0).size(), 1u);
    CHECK_EQ(int(b), 1);  // predicting again, with the old model
    CHECK_EQ(wc, 1u);
    CHECK_EQ(ac, 1u);
}

TEST_CASE("set_models restores a ring in order; validation changes nothing") {
    BankParams bp;
    bp.models = 4;
    Bank bank(bp);
    bank.add_slot();
    std::vector<SlotModel> ring;
    for (int i = 0; i < 3; ++i) ring.push_back({make_model(6, 0.3 * i, 1.7, 0.1, 2.0 + i), std::uint32_t(10 * i), std::uint32_t(100 + i)});
    bank.set_models(0, ring);
    const auto got = bank.models(0);
    CHECK_EQ(got.size(), 3u);
    for (std::size_t m = 0; m < got.size(); ++m) {
        CHECK_EQ(got[m].after, ring[m].after);
        CHECK_EQ(got[m].before, ring[m].before);
        CHECK_EQ(bits_of(got[m].model.centers[1]), bits_of(double(float(ring[m].model.centers[1]))));
        CHECK_EQ(got[m].model.max_dist, ring[m].model.max_dist);
    }
    CHECK_EQ(bits_of(bank.model(0)->centers[0]), bits_of(double(float(ring[2].model.centers[0]))));  // the newest
    std::uint8_t held = 0;
    bank.model_counts(&held, 1);
    CHECK_EQ(int(held), 3);
    std::vector<SlotModel> five(5, ring[0]);
    CHECK_THROWS(bank.set_models(0, five), std::invalid_argument);
    std::vector<SlotModel> bad = {ring[0]};
    bad[0].model.dims = 5;
    bad[0].model.centers.resize(10);
    CHECK_THROWS(bank.set_models(0, bad), std::invalid_argument);
    CHECK_THROWS(bank.set_models(1, ring), std::out_of_range);
    CHECK_EQ(bank.models(0).size(), 3u);
    bank.set_models(0, {});
    CHECK(!bank.trained(0));
    std::uint8_t st = 0;
    bank.status(&st, 1);
    CHECK_EQ(int(st), int(pyml::kStatusActive));
    // queue_model applies with the ring rule at the next tick.
    bank.queue_model(0, ring[1].model, 5, 50);
    CHECK_EQ(bank.pending_models(), 1u);
    double v = 1.0;
    pyml::storage_word word;
    bank.tick(&v, 1, nullptr, 0, &word, nullptr, nullptr);
    CHECK_EQ(bank.models(0).size(), 1u);
    CHECK_EQ(bank.models(0)[0].before, 50u);
}

TEST_CASE("one model keeps doubles and no times until a time arrives") {
    Bank bank;  // v1, one model
    bank.add_slot();
    const std::size_t before = bank.memory_bytes();
    Model m = make_model(6, 0.123456789012345, 2.0, 0.1, 2.0);
    bank.set_model(0, m);
    CHECK_EQ(bits_of(bank.model(0)->centers[0]), bits_of(m.centers[0]));  // not rounded
    CHECK_EQ(bank.models(0)[0].after, 0u);
    CHECK_EQ(bank.memory_bytes(), before);
    bank.set_models(0, {{m, 7, 9}});
    CHECK_EQ(bank.models(0)[0].after, 7u);
    CHECK_EQ(bank.models(0)[0].before, 9u);
    CHECK(bank.memory_bytes() > before);
}

TEST_CASE("bank parameters: models, suppression") {
    BankParams bp;
    bp.models = 0;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
    bp.models = 169;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
    bp.models = 168;
    Bank ok(bp);
    CHECK_EQ(ok.params().models, 168u);
    bp.suppression_window = 10;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
    bp.suppression_window = 0;
    bp.suppression_threshold = 3;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
}

TEST_CASE("the kernels agree bit for bit with 18 models, v2, all slots anomalous or mixed") {
    if (kernels().size() < 2) return;
    std::mt19937_64 rng(44);
    std::normal_distribution<double> normal;
    const std::size_t n = 517;
    BankParams a = params_of({1, 3, 5}, FeatureVariant::v2, 18, 0.99, 50, 20, pyml::BankKernel::baseline);
    BankParams b = a;
    b.kernel = pyml::BankKernel::avx2;
    Bank base(a), wide(b);
    for (std::size_t i = 0; i < n; ++i) {
        base.add_slot();
        wide.add_slot();
        std::vector<SlotModel> ring;
        const std::size_t count = i % 19;
        for (std::size_t m = 0; m < count; ++m) {
            const double lo = std::fabs(normal(rng));
            ring.push_back({make_model(6, normal(rng), normal(rng), lo, lo + (i % 3 == 0 ? 1e-6 : 3.0)),
                            std::uint32_t(m), std::uint32_t(m + 10)});
        }
        base.set_models(i, ring);
        wide.set_models(i, ring);
    }
    std::vector<double> v(n), s0(n), s1(n);
    std::vector<pyml::storage_word> w0(n), w1(n);
    std::vector<std::uint8_t> b0(n), b1(n);
    std::size_t mismatches = 0, anomalous = 0;
    for (std::size_t t = 0; t < 80; ++t) {
        for (std::size_t i = 0; i < n; ++i) v[i] = normal(rng) * (t % 7 == 0 ? 100.0 : 1.0);
        base.tick(v.data(), n, nullptr, 0, w0.data(), b0.data(), s0.data());
        wide.tick(v.data(), n, nullptr, 0, w1.data(), b1.data(), s1.data());
        for (std::size_t i = 0; i < n; ++i) {
            anomalous += b0[i];
            mismatches += w0[i] != w1[i] || b0[i] != b1[i] || bits_of(s0[i]) != bits_of(s1[i]);
        }
    }
    CHECK_EQ(mismatches, 0u);
    CHECK(anomalous > 1000);
    CHECK_EQ(base.models_consulted(), wide.models_consulted());
}

TEST_CASE("memory per slot: one model as today, 18 models within 2 KiB") {
    for (std::size_t models : {std::size_t{1}, std::size_t{18}}) {
        BankParams bp;
        bp.models = models;
        bp.variant = models > 1 ? FeatureVariant::v2 : FeatureVariant::v1;
        if (models > 1) {
            bp.suppression_window = 900;
            bp.suppression_threshold = 450;
        }
        Bank bank(bp);
        for (int i = 0; i < 10240; ++i) bank.add_slot();
        const double per_slot = double(bank.memory_bytes()) / double(bank.size());
        if (models == 1) {
            CHECK(per_slot <= 200.0);  // 184 of state, 6 per-slot bytes, vector growth
        } else {
            CHECK(per_slot <= 2048.0);
        }
    }
}

}  // namespace
