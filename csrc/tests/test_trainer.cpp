// The batch trainer: same models as train_model on the gap-filled history,
// statuses, validation before any change, stale models dropped, the thread
// pool's exception forwarding, training while another thread ticks.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "pyml/bank.hpp"
#include "pyml/model.hpp"
#include "pyml/trainer.hpp"

namespace {

using pyml::Bank;
using pyml::TrainerParams;
using pyml::TrainRequest;
using pyml::TrainStatus;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> noisy_series(std::mt19937_64& rng, std::size_t n, double scale) {
    std::normal_distribution<double> normal;
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = 100.0 + scale * std::sin(double(i) * 0.05) + normal(rng);
    return x;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same_model(const pyml::Model& a, const pyml::Model& b) {
    if (a.k != b.k || a.dims != b.dims || a.centers.size() != b.centers.size()) return false;
    for (std::size_t i = 0; i < a.centers.size(); ++i) {
        if (!same_bits(a.centers[i], b.centers[i])) return false;
    }
    return same_bits(a.min_dist, b.min_dist) && same_bits(a.max_dist, b.max_dist);
}

void tick_once(Bank& bank) {
    std::vector<double> v(bank.size(), 1.0);
    std::vector<pyml::storage_word> w(bank.size());
    bank.tick(v.data(), v.size(), nullptr, 0, w.data(), nullptr, nullptr);
}

TEST_CASE("trained models equal train_model on the gap-filled history and apply at the next tick") {
    std::mt19937_64 rng(1);
    Bank bank;
    std::vector<std::vector<double>> histories;
    std::vector<TrainRequest> requests;
    for (std::size_t i = 0; i < 6; ++i) {
        bank.add_slot();
        auto h = noisy_series(rng, 300 + 17 * i, double(i));
        for (std::size_t j = 0; j < 5 * i; ++j) h[j] = kNaN;             // leading gaps, dropped
        for (std::size_t j = 100; j < 100 + 3 * i; ++j) h[j] = kNaN;     // later gaps, forward-filled
        histories.push_back(std::move(h));
    }
    for (std::size_t i = 0; i < 6; ++i) requests.push_back({i, histories[i].data(), histories[i].size()});
    TrainerParams tp;
    tp.min_samples = 100;
    tp.threads = 3;
    const auto outcomes = pyml::train_slots(bank, requests, tp);
    CHECK_EQ(outcomes.size(), 6u);
    CHECK_EQ(bank.pending_models(), 6u);
    CHECK_EQ(bank.training_in_progress(), 0u);
    for (std::size_t i = 0; i < 6; ++i) CHECK(!bank.trained(i));  // not before the tick
    tick_once(bank);
    CHECK_EQ(bank.pending_models(), 0u);
    for (std::size_t i = 0; i < 6; ++i) {
        CHECK_EQ(outcomes[i].slot, i);
        CHECK(outcomes[i].status == TrainStatus::trained);
        CHECK_EQ(outcomes[i].existing, histories[i].size() - 8 * i);
        CHECK(outcomes[i].seconds >= 0.0);
        std::vector<double> filled;
        pyml::fill_gaps(histories[i].data(), histories[i].size(), filled);
        CHECK_EQ(filled.size(), histories[i].size() - 5 * i);
        pyml::TrainParams p;
        const pyml::Model want = pyml::train_model(filled.data(), filled.size(), p);
        const auto got = bank.model(i);
        CHECK(got.has_value());
        CHECK(same_model(*got, want));
    }
}

TEST_CASE("calls one after another reuse their buffers and give the models of fresh ones") {
    // Long, short, long again, v1 and sampled v2 shapes: the kept buffers of
    // an earlier call (larger or smaller) must not leak into a later result.
    std::mt19937_64 rng(4);
    Bank bank;
    bank.add_slot();
    for (const std::size_t n : {std::size_t{21600}, std::size_t{400}, std::size_t{5000}, std::size_t{21600},
                                std::size_t{900}}) {
        for (const std::size_t max_vectors : {std::size_t{0}, std::size_t{1440}}) {
            const auto h = noisy_series(rng, n, double(n % 7));
            TrainerParams tp;
            tp.min_samples = 10;
            tp.threads = 2;
            tp.max_vectors = max_vectors;
            tp.seed = 12345;
            const auto outcomes = pyml::train_slots(bank, {TrainRequest{0, h.data(), h.size()}}, tp);
            CHECK(outcomes[0].status == TrainStatus::trained);
            tick_once(bank);
            pyml::TrainParams p;
            p.max_vectors = max_vectors;
            p.seed = 12345;
            const auto got = bank.model(0);
            CHECK(got.has_value());
            CHECK(same_model(*got, pyml::train_model(h.data(), h.size(), p)));
        }
    }
}

TEST_CASE("too few points or a failed training keep the slot's model; statuses say why") {
    std::mt19937_64 rng(2);
    Bank bank;
    bank.add_slot();
    bank.add_slot();
    bank.add_slot();
    const auto good = noisy_series(rng, 200, 1.0);
    TrainerParams tp;
    tp.min_samples = 150;
    pyml::train_slots(bank, {{0, good.data(), good.size()}, {1, good.data(), good.size()}}, tp);
    tick_once(bank);
    const pyml::Model before0 = *bank.model(0);
    const pyml::Model before1 = *bank.model(1);

    std::vector<double> sparse = noisy_series(rng, 300, 5.0);
    for (std::size_t j = 0; j < sparse.size(); j += 2) sparse[j] = kNaN;  // 150 points exist
    sparse[1] = kNaN;                                                      // now 149
    std::vector<double> tiny = {1.0, 2.0, 3.0};                            // enough points, too short
    std::vector<double> empty;
    tp.min_samples = 3;
    auto out = pyml::train_slots(bank,
                                 {{0, sparse.data(), sparse.size()}, {1, tiny.data(), tiny.size()},
                                  {2, empty.data(), 0}},
                                 tp);
    CHECK(out[0].status == TrainStatus::trained);
    CHECK(out[1].status == TrainStatus::error);
    CHECK(out[2].status == TrainStatus::too_few_points);
    tp.min_samples = 150;
    out = pyml::train_slots(bank, {{0, sparse.data(), sparse.size()}, {2, empty.data(), 0}}, tp);
    CHECK(out[0].status == TrainStatus::too_few_points);
    CHECK_EQ(out[0].existing, 149u);
    CHECK(out[1].status == TrainStatus::too_few_points);
    CHECK_EQ(out[1].existing, 0u);
    tp.min_samples = 3;
    out = pyml::train_slots(bank, {{1, tiny.data(), tiny.size()}}, tp);
    CHECK(out[0].status == TrainStatus::error);
    CHECK(out[0].message.find("too short") != std::string::npos);
    CHECK_EQ(std::string(pyml::train_status_name(out[0].status)), std::string("error"));
    // The call with min_samples 3 above trained slot 0 on `sparse`: apply it,
    // then check slot 1 kept its model through the failure.
    tick_once(bank);
    CHECK(!same_model(*bank.model(0), before0));
    CHECK(same_model(*bank.model(1), before1));
    CHECK(!bank.trained(2));
}

TEST_CASE("bad requests are rejected before anything is trained or queued") {
    Bank bank;
    bank.add_slot();
    bank.add_slot();
    std::vector<double> h(100, 1.0);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = double(i % 7);
    std::vector<double> with_inf = h;
    with_inf[42] = -std::numeric_limits<double>::infinity();
    TrainerParams tp;
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}, {1, with_inf.data(), with_inf.size()}}, tp),
                 std::invalid_argument);
    try {
        pyml::train_slots(bank, {{0, h.data(), h.size()}, {1, with_inf.data(), with_inf.size()}}, tp);
    } catch (const std::invalid_argument& e) {
        const std::string msg = e.what();
        CHECK(msg.find("slot 1") != std::string::npos);
        CHECK(msg.find("index 42") != std::string::npos);
        CHECK(msg.find("-inf") != std::string::npos);
    }
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}, {0, h.data(), h.size()}}, tp),
                 std::invalid_argument);
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}, {7, h.data(), h.size()}}, tp), std::out_of_range);
    bank.remove_slot(1);
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}, {1, h.data(), h.size()}}, tp), std::out_of_range);
    tp.min_samples = 0;
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}}, tp), std::invalid_argument);
    tp.min_samples = 1;
    tp.max_iterations = 0;
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}}, tp), std::invalid_argument);
    tp.max_iterations = 10;
    tp.threads = 0;
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}}, tp), std::invalid_argument);
    tp.threads = pyml::kMaxTrainThreads + 1;
    CHECK_THROWS(pyml::train_slots(bank, {{0, h.data(), h.size()}}, tp), std::invalid_argument);
    CHECK_EQ(bank.pending_models(), 0u);
    CHECK_EQ(bank.training_in_progress(), 0u);
    tp.threads = 2;
    CHECK_EQ(pyml::train_slots(bank, {}, tp).size(), 0u);
}

TEST_CASE("a model for a slot removed or reused during training is dropped by the tick") {
    std::mt19937_64 rng(4);
    Bank bank;
    for (int i = 0; i < 3; ++i) bank.add_slot();
    const auto h = noisy_series(rng, 200, 2.0);
    TrainerParams tp;
    pyml::train_slots(bank, {{0, h.data(), h.size()}, {1, h.data(), h.size()}, {2, h.data(), h.size()}}, tp);
    bank.remove_slot(1);                // removed
    bank.remove_slot(2);
    CHECK_EQ(bank.add_slot(), 1u);      // reused: generation 1
    CHECK_EQ(bank.pending_models(), 3u);
    tick_once(bank);
    CHECK(bank.trained(0));
    CHECK(!bank.trained(1));
    CHECK(!bank.contains(2));
    CHECK_EQ(bank.trained_count(), 1u);
}

TEST_CASE("parallel_for runs every item once and forwards the first exception") {
    for (std::size_t threads : {1u, 2u, 4u}) {
        std::vector<std::atomic<int>> hits(1000);
        pyml::parallel_for(hits.size(), threads, [&](std::size_t i, std::size_t w) {
            CHECK(w < threads);
            hits[i].fetch_add(1);
        });
        bool all_once = true;
        for (auto& h : hits) all_once = all_once && h.load() == 1;
        CHECK(all_once);
        std::atomic<int> ran{0};
        bool caught = false;
        try {
            // The other items take a millisecond each, so the hand-out stops
            // long before they are all done even when the failing thread is
            // descheduled for a while on a busy machine.
            pyml::parallel_for(1000, threads, [&](std::size_t i, std::size_t) {
                ran.fetch_add(1);
                if (i == 10) throw std::length_error("item 10 failed");
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            });
        } catch (const std::length_error& e) {
            caught = std::string(e.what()) == "item 10 failed";
        }
        CHECK(caught);
        CHECK(ran.load() < 1000);
    }
}

TEST_CASE("training on one thread while another ticks") {
    std::mt19937_64 rng(9);
    Bank bank;
    const std::size_t n = 64;
    for (std::size_t i = 0; i < n; ++i) bank.add_slot();
    std::vector<std::vector<double>> histories;
    for (std::size_t i = 0; i < n; ++i) histories.push_back(noisy_series(rng, 400, double(i % 5)));
    std::vector<TrainRequest> requests;
    for (std::size_t i = 0; i < n; ++i) requests.push_back({i, histories[i].data(), histories[i].size()});

    std::atomic<bool> done{false};
    std::size_t ticks = 0, bad_words = 0;
    std::thread ticker([&] {
        std::vector<double> v(n);
        std::vector<pyml::storage_word> w(n);
        while (!done.load()) {
            for (std::size_t i = 0; i < n; ++i) v[i] = 100.0 + double((ticks + i) % 11);
            bank.tick(v.data(), n, nullptr, 0, w.data(), nullptr, nullptr);
            for (std::size_t i = 0; i < n; ++i) bad_words += w[i] == 0;
            ++ticks;
        }
    });
    TrainerParams tp;
    tp.threads = 2;
    const auto outcomes = pyml::train_slots(bank, requests, tp);
    done.store(true);
    ticker.join();
    tick_once(bank);
    CHECK_EQ(bad_words, 0u);
    CHECK_EQ(bank.trained_count(), n);
    for (const auto& o : outcomes) CHECK(o.status == TrainStatus::trained);
    pyml::TrainParams p;
    CHECK(same_model(*bank.model(17), pyml::train_model(histories[17].data(), histories[17].size(), p)));
}

}  // namespace

// ---------------------------------------------------------------- Netdata 2.x training (SPEC-NETDATA-2 §3)

namespace {

TEST_CASE("v2 training: sub-sampled models equal train_model, outcomes and their queued effects") {
    std::mt19937_64 rng(12);
    pyml::BankParams bp;
    bp.variant = pyml::FeatureVariant::v2;
    bp.models = 3;
    bp.suppression_window = 5;
    bp.suppression_threshold = 2;
    Bank bank(bp);
    for (int i = 0; i < 5; ++i) bank.add_slot();
    // Slots 0-3 change value at predictions (VARIABLE); slot 4 stays constant.
    std::vector<double> v(5);
    std::vector<pyml::storage_word> w(5);
    for (int t = 0; t < 12; ++t) {
        for (int i = 0; i < 4; ++i) v[i] = double(t * (i + 1));
        v[4] = 7.0;
        bank.tick(v.data(), 5, nullptr, 0, w.data(), nullptr, nullptr);
    }
    const auto good = noisy_series(rng, 900, 10.0);
    std::vector<double> short_one(30, kNaN);
    short_one.insert(short_one.end(), good.begin(), good.begin() + 8);  // 8 values after the gaps; 9 needed
    const std::vector<double> one_vector(good.begin(), good.begin() + 9);
    std::vector<TrainRequest> requests = {{0, good.data(), good.size(), 100, 21700},
                                          {1, short_one.data(), short_one.size(), 0, 0},
                                          {2, one_vector.data(), one_vector.size(), 0, 0},
                                          {3, good.data(), 3, 0, 0},
                                          {4, good.data(), good.size(), 0, 0}};
    TrainerParams params;
    params.min_samples = 3;
    params.max_vectors = 100;
    params.seed = 77;
    params.skip_constant = true;
    const auto out = pyml::train_slots(bank, requests, params);
    CHECK(out[0].status == TrainStatus::trained);
    CHECK(out[1].status == TrainStatus::too_few_points);
    CHECK(out[2].status == TrainStatus::few_vectors);
    CHECK(out[3].status == TrainStatus::too_few_points);
    CHECK(out[4].status == TrainStatus::constant);
    CHECK_EQ(std::string(pyml::train_status_name(out[2].status)), std::string("few_vectors"));
    CHECK_EQ(std::string(pyml::train_status_name(out[4].status)), std::string("constant"));
    CHECK_EQ(bank.pending_models(), 1u);
    // The model is train_model's with the same sampling, centres stored as float32.
    pyml::TrainParams tp;
    tp.variant = pyml::FeatureVariant::v2;
    tp.max_vectors = 100;
    tp.seed = 77;
    const pyml::Model want = pyml::train_model(good.data(), good.size(), tp);
    std::vector<std::uint8_t> st(5);
    for (int i = 0; i < 5; ++i) v[i] = 7.0;  // no change at this tick for slot 4; changes for 0-3
    bank.tick(v.data(), 5, nullptr, 0, w.data(), nullptr, nullptr);
    bank.status(st.data(), 5);
    const auto ring = bank.models(0);
    CHECK_EQ(ring.size(), 1u);
    CHECK_EQ(ring[0].after, 100u);
    CHECK_EQ(ring[0].before, 21700u);
    bool same = same_bits(ring[0].model.min_dist, want.min_dist) && same_bits(ring[0].model.max_dist, want.max_dist);
    for (std::size_t e = 0; e < 12; ++e) same &= same_bits(ring[0].model.centers[e], double(float(want.centers[e])));
    CHECK(same);
    using pyml::kStatusActive;
    using pyml::kStatusTrained;
    using pyml::kStatusVariable;
    CHECK_EQ(int(st[0]), kStatusActive | kStatusTrained | kStatusVariable);  // VARIABLE again: 7 != 11
    CHECK_EQ(int(st[1]), kStatusActive | kStatusVariable);
    CHECK_EQ(int(st[2]), kStatusActive | kStatusTrained | kStatusVariable);  // trained, no model
    CHECK_EQ(int(st[4]), int(kStatusActive));
    CHECK(!bank.trained(2));
    // Sub-sampling to fewer vectors than the table entries: all kept.
    pyml::TrainScratch scratch;
    tp.max_vectors = 2000;
    CHECK_EQ(pyml::training_vector_count(good.size(), tp, scratch), good.size() - 8);
    tp.max_vectors = 1;
    CHECK_THROWS(pyml::validate_train_params(tp), std::invalid_argument);
}

}  // namespace
