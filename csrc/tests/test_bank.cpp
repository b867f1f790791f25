// The dimension bank: the tick against extract_features + Model::score +
// pack_sample on every parameter combination, gaps, saturation, slots and
// generations, the model queue.
#include <cmath>
#include <cstdint>
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
using pyml::Model;

using testutil::bits_of;
using testutil::kernels;
using testutil::kInf;
using testutil::kNaN;

// What one slot should produce: the last feature row of its window, scored by
// the model, the bit, the word. `window` holds the values since the last gap.
struct Reference {
    FeatureParams p;
    double threshold;
    const Model* model = nullptr;  // nullptr: untrained
    std::vector<double> window;

    struct Out {
        pyml::storage_word word;
        double score;
        bool bit;
    };

    Out push(double v, bool reset) {
        const bool good = std::fabs(v) <= pyml::kMaxStorableMagnitude;
        if (!good) {
            window.clear();
            return {pyml::pack_sample(v, false, reset), 0.0, false};
        }
        window.push_back(v);
        const std::size_t n = pyml::feature_window(p);
        if (window.size() > n) window.erase(window.begin());
        double score = 0.0;
        bool bit = false;  // without a score (no model, window not full) a slot is normal
        if (window.size() == n && model != nullptr) {
            std::vector<double> scratch(n), out(pyml::feature_dims(p));
            pyml::extract_features(window.data(), n, p, scratch.data(), out.data());
            score = model->score(out.data());
            bit = score >= 100.0 * threshold;
        }
        return {pyml::pack_sample(v, bit, reset), score, bit};
    }
};

// A series with some structure, then a model trained on it.
std::vector<double> make_series(std::mt19937_64& rng, std::size_t n, int kind) {
    std::normal_distribution<double> normal;
    std::uniform_int_distribution<int> small(0, 4);
    std::vector<double> x(n);
    double level = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        switch (kind % 4) {
            case 0: level += normal(rng); x[i] = level; break;           // random walk
            case 1: x[i] = small(rng); break;                             // small integers
            case 2: x[i] = 50.0 + 10.0 * std::sin(i * 0.1) + normal(rng); break;
            default: x[i] = (i % 97 == 0) ? 1e6 : normal(rng) * 1e-3; break;  // spikes
        }
    }
    return x;
}

// Every kernel build this processor runs: the baseline, and AVX2 if present.
Model trained_model(std::mt19937_64& rng, const FeatureParams& p, int kind) {
    const auto series = make_series(rng, 400, kind);
    pyml::TrainParams tp;
    tp.features = p;
    return pyml::train_model(series.data(), series.size(), tp);
}

// Ticks `bank` and a reference per slot over `values[t][slot]` and compares
// words, bits and scores bit for bit.
void run_and_compare(Bank& bank, std::vector<Reference>& refs, const std::vector<std::vector<double>>& values,
                     const std::vector<std::uint8_t>& reset) {
    const std::size_t n = refs.size();
    std::vector<pyml::storage_word> words(n);
    std::vector<std::uint8_t> bits(n);
    std::vector<double> scores(n);
    for (std::size_t t = 0; t < values.size(); ++t) {
        bank.tick(values[t].data(), n, reset.data(), 1, words.data(), bits.data(), scores.data());
        for (std::size_t s = 0; s < n; ++s) {
            const auto want = refs[s].push(values[t][s], reset[s] != 0);
            if (words[s] != want.word || bits_of(scores[s]) != bits_of(want.score) || (bits[s] != 0) != want.bit) {
                CHECK_EQ(words[s], want.word);
                CHECK_EQ(scores[s], want.score);
                CHECK_EQ(bits[s] != 0, want.bit);
                return;
            }
        }
    }
}

TEST_CASE("bank tick equals extract_features + Model::score + pack_sample for every parameter set") {
    for (const pyml::BankKernel kernel : kernels()) {
        std::mt19937_64 rng(7);
        std::normal_distribution<double> normal;
        for (std::size_t d = 0; d <= pyml::kMaxDiffN; ++d) {
            for (std::size_t s = 0; s <= pyml::kMaxSmoothN; ++s) {
                for (std::size_t l = 0; l <= pyml::kMaxLagN; ++l) {
                    BankParams bp;
                    bp.features = {d, s, l};
                    bp.threshold = 0.5;
                    bp.kernel = kernel;
                    Bank bank(bp);
                    CHECK(bank.kernel() == kernel);
                    const std::size_t slots = 19;  // two full blocks and a partial one
                    std::vector<Model> models;
                    for (std::size_t i = 0; i < slots; ++i) models.push_back(trained_model(rng, bp.features, int(i)));
                    std::vector<Reference> refs(slots, Reference{bp.features, bp.threshold, nullptr, {}});
                    for (std::size_t i = 0; i < slots; ++i) {
                        CHECK_EQ(bank.add_slot(), i);
                        if (i % 5 != 4) {  // every fifth slot stays untrained
                            bank.set_model(i, models[i]);
                            refs[i].model = &models[i];
                        }
                    }
                    std::vector<std::vector<double>> values(40, std::vector<double>(slots));
                    for (std::size_t t = 0; t < values.size(); ++t) {
                        for (std::size_t i = 0; i < slots; ++i) {
                            double v = 5.0 * normal(rng) + (i % 3 == 0 ? 1e4 : 0.0);
                            if ((t * 7 + i) % 23 == 0) v = kNaN;
                            if ((t * 5 + i) % 37 == 0) v = (i % 2) ? kInf : -3e21;
                            values[t][i] = v;
                        }
                    }
                    std::vector<std::uint8_t> reset(slots);
                    for (std::size_t i = 0; i < slots; ++i) reset[i] = i % 4 == 1;
                    run_and_compare(bank, refs, values, reset);
                }
            }
        }
    }
}

TEST_CASE("bank kernels: best resolves to AVX2 where available, AVX2 elsewhere is refused") {
    CHECK(Bank().kernel() == (pyml::bank_avx2_available() ? pyml::BankKernel::avx2 : pyml::BankKernel::baseline));
    BankParams bp;
    bp.kernel = pyml::BankKernel::baseline;
    CHECK(Bank(bp).kernel() == pyml::BankKernel::baseline);
    bp.kernel = pyml::BankKernel::avx2;
    if (pyml::bank_avx2_available()) {
        CHECK(Bank(bp).kernel() == pyml::BankKernel::avx2);
    } else {
        CHECK_THROWS(Bank{bp}, std::invalid_argument);
    }
}

TEST_CASE("the kernels agree bit for bit on many slots, every block position and partial blocks") {
    if (kernels().size() < 2) return;  // one kernel only on this processor
    std::mt19937_64 rng(21);
    std::vector<Model> models;
    for (int k = 0; k < 12; ++k) models.push_back(trained_model(rng, FeatureParams{}, k));
    const std::size_t n = 1000 + 5;  // blocks of 8, groups of 64, and a partial block
    BankParams a, b;
    a.kernel = pyml::BankKernel::baseline;
    b.kernel = pyml::BankKernel::avx2;
    b.threshold = a.threshold = 0.6;
    Bank base(a), wide(b);
    for (std::size_t i = 0; i < n; ++i) {
        base.add_slot();
        wide.add_slot();
        if (i % 11 != 3) {
            base.set_model(i, models[i % models.size()]);
            wide.set_model(i, models[i % models.size()]);
        }
    }
    base.remove_slot(17);
    wide.remove_slot(17);
    std::normal_distribution<double> normal;
    std::vector<double> v(n), s0(n), s1(n);
    std::vector<pyml::storage_word> w0(n), w1(n);
    std::vector<std::uint8_t> b0(n), b1(n), reset(n);
    std::size_t mismatches = 0, anomalous = 0;
    for (std::size_t t = 0; t < 60; ++t) {
        for (std::size_t i = 0; i < n; ++i) {
            v[i] = 40.0 * std::sin(0.1 * double(t + i)) + normal(rng) * (i % 7 == 0 ? 1e3 : 1.0);
            if ((t * 13 + i) % 97 == 0) v[i] = kNaN;
            if ((t * 3 + i) % 331 == 0) v[i] = kInf;
            reset[i] = (t + i) % 5 == 0;
        }
        const bool with_scores = t % 2 == 0;
        base.tick(v.data(), n, reset.data(), 1, w0.data(), b0.data(), with_scores ? s0.data() : nullptr);
        wide.tick(v.data(), n, reset.data(), 1, w1.data(), b1.data(), with_scores ? s1.data() : nullptr);
        for (std::size_t i = 0; i < n; ++i) {
            anomalous += b0[i];
            if (w0[i] != w1[i] || b0[i] != b1[i] || (with_scores && bits_of(s0[i]) != bits_of(s1[i]))) ++mismatches;
        }
    }
    CHECK_EQ(mismatches, 0u);
    CHECK(anomalous > 0);
}

TEST_CASE("bank scores match on data that makes the model score high and low") {
    for (const pyml::BankKernel kernel : kernels()) {
        std::mt19937_64 rng(11);
        BankParams bp;  // defaults
        bp.kernel = kernel;
        Bank bank(bp);
        const Model model = trained_model(rng, bp.features, 2);
        std::vector<Reference> refs(8, Reference{bp.features, bp.threshold, &model, {}});
        for (std::size_t i = 0; i < 8; ++i) {
            bank.add_slot();
            bank.set_model(i, model);
        }
        std::normal_distribution<double> normal;
        std::vector<std::vector<double>> values(300, std::vector<double>(8));
        for (std::size_t t = 0; t < values.size(); ++t) {
            for (std::size_t i = 0; i < 8; ++i) {
                const double spread = 1.0 + double(i) * (t > 150 ? 20.0 : 0.0);
                values[t][i] = 50.0 + 10.0 * std::sin(t * 0.1) + normal(rng) * spread;
            }
        }
        std::vector<std::uint8_t> reset(8, 0);
        run_and_compare(bank, refs, values, reset);
        // The data above must have produced both bits somewhere.
        std::vector<pyml::storage_word> words(8);
        std::vector<std::uint8_t> bits(8);
        std::vector<double> scores(8);
        std::size_t anomalous = 0;
        for (std::size_t t = 0; t < 30; ++t) {
            std::vector<double> v(8);
            for (std::size_t i = 0; i < 8; ++i) v[i] = (t % 2) ? 1e5 * double(i) : 0.0;
            bank.tick(v.data(), 8, nullptr, 0, words.data(), bits.data(), scores.data());
            for (std::size_t i = 0; i < 8; ++i) anomalous += bits[i];
        }
        CHECK(anomalous > 0);
    }
}

TEST_CASE("threshold 0: every scored slot is anomalous, slots without a score stay normal") {
    std::mt19937_64 rng(12);
    BankParams bp;
    bp.threshold = 0.0;
    Bank bank(bp);
    const Model model = trained_model(rng, bp.features, 0);
    std::vector<Reference> refs(10, Reference{bp.features, bp.threshold, &model, {}});
    for (std::size_t i = 0; i < 10; ++i) {
        bank.add_slot();
        if (i < 7) {
            bank.set_model(i, model);
        } else {
            refs[i].model = nullptr;
        }
    }
    std::normal_distribution<double> normal;
    std::vector<std::vector<double>> values(30, std::vector<double>(10));
    for (std::size_t t = 0; t < values.size(); ++t) {
        for (std::size_t i = 0; i < 10; ++i) values[t][i] = (t == 12 && i == 3) ? kInf : normal(rng);
    }
    std::vector<std::uint8_t> reset(10, 0);
    run_and_compare(bank, refs, values, reset);
    std::vector<pyml::storage_word> w(10);
    std::vector<std::uint8_t> b(10);
    bank.tick(values[0].data(), 10, nullptr, 0, w.data(), b.data(), nullptr);
    for (std::size_t i = 0; i < 10; ++i) CHECK_EQ(int(b[i]), i < 7 ? 1 : 0);
}

TEST_CASE("a gap empties the window: normal until D+S+L values arrived again") {
    BankParams bp;  // window 9
    Bank bank(bp);
    bank.add_slot();
    Model m;  // every distance far from the range: scores 100 once the window is full
    m.k = 2;
    m.dims = 6;
    m.centers.assign(12, 1e9);
    m.min_dist = 0.0;
    m.max_dist = 1.0;
    bank.set_model(0, m);
    pyml::storage_word w;
    std::uint8_t bit;
    double score;
    auto tick = [&](double v) { bank.tick(&v, 1, nullptr, 0, &w, &bit, &score); };
    for (int i = 0; i < 8; ++i) {
        tick(i);
        CHECK_EQ(score, 0.0);
        CHECK_EQ(w, pyml::pack_sample(i, false, false));
    }
    tick(8.0);
    CHECK_EQ(score, 100.0);
    CHECK_EQ(int(bit), 1);
    CHECK_EQ(w, pyml::pack_sample(8.0, true, false));
    tick(kNaN);
    CHECK_EQ(w, pyml::kEmptySlot);
    CHECK_EQ(int(bit), 0);
    for (int i = 0; i < 8; ++i) {
        tick(i);
        CHECK_EQ(int(bit), 0);
    }
    tick(1.0);
    CHECK_EQ(int(bit), 1);
    // inf: saturated word, normal, and the window is emptied too.
    tick(kInf);
    CHECK_EQ(w, pyml::pack_sample(kInf, false, false));
    CHECK_EQ(w, 0x7DFFFFFFu);
    CHECK_EQ(int(bit), 0);
    for (int i = 0; i < 8; ++i) {
        tick(i);
        CHECK_EQ(int(bit), 0);
    }
    tick(2.0);
    CHECK_EQ(int(bit), 1);
    tick(-2e21);  // beyond the storage word's range: saturated, a gap
    CHECK_EQ(w, pyml::pack_sample(-2e21, false, false));
    CHECK_EQ(int(bit), 0);
}

TEST_CASE("slots: add, remove, reuse with generations, free slots yield the empty word") {
    Bank bank;
    CHECK_EQ(bank.size(), 0u);
    CHECK_EQ(bank.add_slot(), 0u);
    CHECK_EQ(bank.add_slot(), 1u);
    CHECK_EQ(bank.add_slot(), 2u);
    CHECK_EQ(bank.generation(1), 0u);
    bank.remove_slot(1);
    CHECK(!bank.contains(1));
    CHECK_THROWS(bank.remove_slot(1), std::out_of_range);
    CHECK_THROWS(bank.generation(1), std::out_of_range);
    CHECK_THROWS(bank.generation(3), std::out_of_range);
    CHECK_EQ(bank.size(), 3u);
    CHECK_EQ(bank.active(), 2u);
    std::vector<double> v = {1.0, 2.0, 3.0};
    std::vector<pyml::storage_word> w(3);
    bank.tick(v.data(), 3, nullptr, 0, w.data(), nullptr, nullptr);
    CHECK_EQ(w[0], pyml::pack_sample(1.0, false, false));
    CHECK_EQ(w[1], pyml::kEmptySlot);
    CHECK_EQ(w[2], pyml::pack_sample(3.0, false, false));
    CHECK_THROWS(bank.tick(v.data(), 2, nullptr, 0, w.data(), nullptr, nullptr), std::invalid_argument);
    // Lowest free slot first, generation incremented.
    bank.remove_slot(0);
    CHECK_EQ(bank.add_slot(), 0u);
    CHECK_EQ(bank.generation(0), 1u);
    CHECK_EQ(bank.add_slot(), 1u);
    CHECK_EQ(bank.generation(1), 1u);
    CHECK_EQ(bank.add_slot(), 3u);
    CHECK_EQ(bank.generation(3), 0u);
}

TEST_CASE("removing a slot does not disturb the others") {
    std::mt19937_64 rng(3);
    BankParams bp;
    Bank bank(bp);
    const Model model = trained_model(rng, bp.features, 0);
    const std::size_t n = 20;
    std::vector<Reference> refs(n, Reference{bp.features, bp.threshold, &model, {}});
    for (std::size_t i = 0; i < n; ++i) {
        bank.add_slot();
        bank.set_model(i, model);
    }
    std::normal_distribution<double> normal;
    std::vector<pyml::storage_word> w(n);
    std::vector<double> s(n);
    std::vector<std::uint8_t> b(n);
    for (std::size_t t = 0; t < 60; ++t) {
        if (t == 20) bank.remove_slot(9);
        if (t == 30) {
            CHECK_EQ(bank.add_slot(), 9u);  // fresh: empty window, no model
            refs[9].window.clear();
            refs[9].model = nullptr;
        }
        std::vector<double> v(n);
        for (auto& x : v) x = normal(rng) * 3.0;
        bank.tick(v.data(), n, nullptr, 0, w.data(), b.data(), s.data());
        for (std::size_t i = 0; i < n; ++i) {
            if (i == 9 && t >= 20 && t < 30) {
                CHECK_EQ(w[i], pyml::kEmptySlot);
                continue;
            }
            const auto want = refs[i].push(v[i], false);
            CHECK_EQ(w[i], want.word);
            CHECK_EQ(bits_of(s[i]), bits_of(want.score));
        }
    }
}

TEST_CASE("queued models apply at the next tick; stale generations are dropped") {
    Bank bank;
    bank.add_slot();
    bank.add_slot();
    pyml::QueuedModel q[3];
    for (auto& m : q) {
        for (std::size_t e = 0; e < 12; ++e) m.centers[e] = double(e);
        m.min_dist = 1.0;
        m.max_dist = 2.0;
    }
    q[0].slot = 0;
    q[0].generation = 0;
    q[1].slot = 1;
    q[1].generation = 0;  // slot 1 will be reused: generation 1
    q[2].slot = 5;        // never existed
    bank.remove_slot(1);
    CHECK_EQ(bank.add_slot(), 1u);
    bank.enqueue_models(q, 3);
    CHECK_EQ(bank.pending_models(), 3u);
    CHECK(!bank.trained(0));
    double v[2] = {1.0, 1.0};
    pyml::storage_word w[2];
    bank.tick(v, 2, nullptr, 0, w, nullptr, nullptr);
    CHECK_EQ(bank.pending_models(), 0u);
    CHECK(bank.trained(0));
    CHECK(!bank.trained(1));
    const auto m = bank.model(0);
    CHECK(m.has_value());
    CHECK_EQ(m->centers.size(), 12u);
    CHECK_EQ(m->centers[11], 11.0);
    CHECK_EQ(m->min_dist, 1.0);
    CHECK_EQ(m->max_dist, 2.0);
    CHECK(!bank.model(1).has_value());
    CHECK_EQ(bank.trained_count(), 1u);
    // A removed (not reused) slot drops its model too.
    q[0].slot = 1;
    q[0].generation = 1;
    bank.enqueue_models(q, 1);
    bank.remove_slot(1);
    bank.tick(v, 2, nullptr, 0, w, nullptr, nullptr);
    CHECK_EQ(bank.pending_models(), 0u);
    CHECK_EQ(bank.active(), 1u);
    CHECK_EQ(bank.trained_count(), 1u);
    CHECK_EQ(bank.add_slot(), 1u);
    CHECK(!bank.trained(1));
}

TEST_CASE("set_model validates the model and the slot; clear_model forgets it") {
    Bank bank;
    bank.add_slot();
    Model m;
    m.k = 2;
    m.dims = 5;
    m.centers.assign(10, 0.0);
    CHECK_THROWS(bank.set_model(0, m), std::invalid_argument);
    m.dims = 6;
    m.k = 3;
    m.centers.assign(18, 0.0);
    CHECK_THROWS(bank.set_model(0, m), std::invalid_argument);
    m.k = 2;
    m.centers.assign(12, 0.5);
    CHECK_THROWS(bank.set_model(1, m), std::out_of_range);
    CHECK(!bank.trained(0));
    bank.set_model(0, m);
    CHECK(bank.trained(0));
    CHECK_EQ(bank.model(0)->centers[3], 0.5);
    bank.clear_model(0);
    CHECK(!bank.trained(0));
    CHECK(!bank.model(0).has_value());
}

TEST_CASE("bank parameters are validated") {
    BankParams bp;
    bp.threshold = -0.1;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
    bp.threshold = kNaN;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
    bp.threshold = 0.99;
    bp.features.lag_n = 6;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
    bp.features.lag_n = 5;
    bp.features.diff_n = 2;
    CHECK_THROWS(Bank{bp}, std::invalid_argument);
}

TEST_CASE("many slots churning reuse their storage") {
    Bank bank;
    std::vector<std::size_t> live;
    std::mt19937_64 rng(5);
    for (int round = 0; round < 2000; ++round) {
        if (live.size() < 600 || rng() % 2) {
            live.push_back(bank.add_slot());
        } else {
            const std::size_t k = rng() % live.size();
            bank.remove_slot(live[k]);
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
        }
    }
    CHECK_EQ(bank.active(), live.size());
    CHECK(bank.size() <= 2000u);
    const std::size_t before = bank.memory_bytes();
    for (int round = 0; round < 5000; ++round) {
        const std::size_t k = rng() % live.size();
        bank.remove_slot(live[k]);
        live[k] = bank.add_slot();
    }
    CHECK_EQ(bank.memory_bytes(), before);
    std::vector<double> v(bank.size(), 1.0);
    std::vector<pyml::storage_word> w(bank.size());
    bank.tick(v.data(), v.size(), nullptr, 0, w.data(), nullptr, nullptr);
    std::size_t nonempty = 0;
    for (auto x : w) nonempty += x != 0;
    CHECK_EQ(nonempty, live.size());
}

TEST_CASE("memory per slot of a full bank is at most 256 bytes") {
    Bank bank;
    for (int i = 0; i < 10000; ++i) bank.add_slot();
    const double per_slot = double(bank.memory_bytes()) / double(bank.size());
    CHECK(per_slot <= 256.0);
}

}  // namespace
