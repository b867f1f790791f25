// k-means: hand-computed cases, the fast k = 2 path against the literal
// transcription on random and tie-heavy data, empty clusters, limits.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "../pyml/features.hpp"
#include "../pyml/kmeans.hpp"
#include "../pyml/sampling.hpp"
#include "check.hpp"

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

std::vector<double> reference_kmeans(const std::vector<double>& X, std::size_t dims, std::size_t k,
                                     std::size_t iters, std::size_t* runs = nullptr) {
    const std::size_t n = X.size() / dims;
    std::vector<double> c(k * dims);
    pyml::pick_initial_centers_reference(X.data(), n, dims, k, c.data());
    const std::size_t r = pyml::find_clusters_reference(X.data(), n, dims, k, iters, c.data());
    if (runs) *runs = r;
    return c;
}

std::vector<double> fast_kmeans(const std::vector<double>& X, std::size_t dims, std::size_t k, std::size_t iters,
                                std::size_t* runs = nullptr) {
    const std::size_t n = X.size() / dims;
    std::vector<double> c(k * dims);
    const std::size_t r = pyml::kmeans(X.data(), n, dims, k, iters, c.data());
    if (runs) *runs = r;
    return c;
}

// Feature rows of a generated series (kind: 0 walk, 1 small integers, 2 spiky,
// 3 constant, 4 percentages, 5 tiny).
std::vector<double> series(int kind, std::size_t n, std::mt19937_64& rng) {
    std::normal_distribution<double> normal;
    std::uniform_int_distribution<int> small(0, 3);
    std::vector<double> x(n);
    double level = 100.0;
    for (std::size_t i = 0; i < n; ++i) {
        switch (kind) {
            case 0: level += normal(rng); x[i] = level; break;
            case 1: x[i] = small(rng); break;
            case 2: x[i] = (rng() % 97 == 0 ? 1e3 : 0.0) + normal(rng); break;
            case 3: x[i] = 42.0; break;
            case 4: x[i] = std::round(std::fmin(100.0, std::fmax(0.0, 50.0 + 10.0 * normal(rng))) * 10.0) / 10.0; break;
            default: x[i] = std::sin(0.05 * static_cast<double>(i)) * 1e-6; break;
        }
    }
    return x;
}

std::vector<double> features(const std::vector<double>& x, pyml::FeatureParams p) {
    std::vector<double> scratch(x.size()), out(pyml::feature_rows(x.size(), p) * pyml::feature_dims(p));
    pyml::extract_features(x.data(), x.size(), p, scratch.data(), out.data());
    return out;
}

}  // namespace

TEST_CASE("kmeans: rank of the second centre") {
    const std::size_t table[][2] = {{1, 0}, {2, 0}, {5, 3}, {100, 98}, {101, 98}, {14392, 14247}, {3592, 3555}};
    for (const auto& row : table) CHECK_EQ(pyml::initial_center_rank(row[0]), row[1]);
}

TEST_CASE("kmeans: hand-computed two groups") {
    // Centre 0 = row 0; distances 0, 1, 100, 121, 144; rank 3 -> row 3 (11).
    const std::vector<double> X = {0, 1, 10, 11, 12};
    std::vector<double> c(2);
    pyml::pick_initial_centers(X.data(), 5, 1, 2, c.data());
    CHECK_EQ(c[0], 0.0);
    CHECK_EQ(c[1], 11.0);
    const std::size_t runs = pyml::find_clusters(X.data(), 5, 1, 2, 1000, c.data());
    CHECK_EQ(runs, std::size_t{2});
    CHECK_EQ(c[0], 0.5);
    CHECK_EQ(c[1], 33.0 * (1.0 / 3.0));
    std::vector<double> one(1);
    pyml::kmeans(X.data(), 5, 1, 1, 1000, one.data());
    CHECK_EQ(one[0], 34.0 * (1.0 / 5.0));  // reciprocal multiply, not 34 / 5
}

TEST_CASE("kmeans: empty cluster becomes the zero vector") {
    std::vector<double> X;
    for (int i = 0; i < 50; ++i) {
        X.push_back(3.0);
        X.push_back(4.0);
    }
    const std::vector<double> got = fast_kmeans(X, 2, 2, 1000);
    CHECK(same_bits(got, std::vector<double>{3.0, 4.0, 0.0, 0.0}));
    CHECK(same_bits(got, reference_kmeans(X, 2, 2, 1000)));
}

TEST_CASE("kmeans: fast path equals the literal transcription on feature rows") {
    std::mt19937_64 rng(2024);
    for (int kind = 0; kind < 6; ++kind) {
        for (std::size_t lag : {0, 1, 3, 5}) {
            const pyml::FeatureParams p{kind == 4 ? 0u : 1u, 3, lag};
            const std::vector<double> X = features(series(kind, 1200, rng), p);
            const std::size_t dims = lag + 1;
            std::size_t runs_fast = 0, runs_ref = 0;
            const std::vector<double> a = fast_kmeans(X, dims, 2, 1000, &runs_fast);
            const std::vector<double> b = reference_kmeans(X, dims, 2, 1000, &runs_ref);
            CHECK(same_bits(a, b));
            CHECK_EQ(runs_fast, runs_ref);
            // The lagged-column entry point (what training uses) agrees too.
            const std::vector<double> flat = features(series(kind, 1200, rng), pyml::FeatureParams{p.diff_n, 3, 0});
            std::vector<const double*> cols(dims);
            for (std::size_t e = 0; e < dims; ++e) cols[e] = flat.data() + lag - e;
            const std::size_t rows = flat.size() - lag;
            std::vector<double> viaColumns(2 * dims), rowMajor(rows * dims);
            for (std::size_t r = 0; r < rows; ++r)
                for (std::size_t e = 0; e < dims; ++e) rowMajor[r * dims + e] = cols[e][r];
            pyml::kmeans_columns(cols.data(), rows, dims, 2, 1000, viaColumns.data());
            CHECK(same_bits(viaColumns, reference_kmeans(rowMajor, dims, 2, 1000)));
        }
    }
}

TEST_CASE("kmeans: ties at the chosen rank follow std::sort") {
    std::mt19937_64 rng(77);
    for (int trial = 0; trial < 20; ++trial) {
        std::uniform_int_distribution<int> levels(2, 4), len(200, 2000);
        std::uniform_int_distribution<int> value(0, levels(rng) - 1);
        std::vector<double> x(static_cast<std::size_t>(len(rng)));
        for (double& v : x) v = value(rng);
        const std::vector<double> X = features(x, pyml::FeatureParams{});
        std::vector<double> a(12), b(12);
        pyml::pick_initial_centers(X.data(), X.size() / 6, 6, 2, a.data());
        pyml::pick_initial_centers_reference(X.data(), X.size() / 6, 6, 2, b.data());
        CHECK(same_bits(a, b));
        CHECK(same_bits(fast_kmeans(X, 6, 2, 1000), reference_kmeans(X, 6, 2, 1000)));
    }
}

TEST_CASE("kmeans: random matrices, other k and dims, iteration limits") {
    std::mt19937_64 rng(5);
    std::normal_distribution<double> normal;
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t n = 2 + rng() % 60, dims = 1 + rng() % 8, k = 1 + rng() % std::min<std::size_t>(n, 4);
        const std::size_t iters = 1 + rng() % 12;
        const bool integers = trial % 2 == 0;
        std::vector<double> X(n * dims);
        for (double& v : X) v = integers ? static_cast<double>(rng() % 3) : normal(rng) * 5.0;
        std::size_t ra = 0, rb = 0;
        const std::vector<double> a = fast_kmeans(X, dims, k, iters, &ra);
        const std::vector<double> b = reference_kmeans(X, dims, k, iters, &rb);
        CHECK(same_bits(a, b));
        CHECK_EQ(ra, rb);
    }
}

TEST_CASE("kmeans: magnitudes from 1e-300 to 1e300") {
    // Huge values overflow the squared distances (and float), tiny ones
    // underflow them: the bounds must then hand every decision to the
    // literal computation.
    for (double scale : {1e-300, 1e-200, 1e-160, 1e-40, 1e-30, 1e-20, 1e-12, 1e-6, 1.0, 1e6, 1e12, 1e17, 1e18, 1e19,
                         1e30, 1e40, 1e150, 1e200, 1e300}) {
        std::mt19937_64 rng(9);
        std::normal_distribution<double> normal;
        std::vector<double> X(300 * 3);
        for (double& v : X) v = std::fabs(normal(rng)) * scale;
        CHECK(same_bits(fast_kmeans(X, 3, 2, 100), reference_kmeans(X, 3, 2, 100)));
    }
}

TEST_CASE("kmeans: argument checks") {
    std::vector<double> X(12, 1.0), c(12);
    CHECK_THROWS(pyml::kmeans(X.data(), 0, 2, 2, 10, c.data()), std::invalid_argument);
    CHECK_THROWS(pyml::kmeans(X.data(), 6, 0, 2, 10, c.data()), std::invalid_argument);
    CHECK_THROWS(pyml::kmeans(X.data(), 6, 2, 0, 10, c.data()), std::invalid_argument);
    CHECK_THROWS(pyml::kmeans(X.data(), 6, 2, 7, 10, c.data()), std::invalid_argument);
    CHECK_THROWS(pyml::kmeans(X.data(), 6, 2, 2, 0, c.data()), std::invalid_argument);
    CHECK_THROWS(pyml::find_clusters(X.data(), 6, 2, 2, 0, c.data()), std::invalid_argument);
    CHECK_THROWS(pyml::pick_initial_centers(X.data(), 1, 2, 2, c.data()), std::invalid_argument);
}

TEST_CASE("kmeans: soak over series, lengths and parameters") {
    std::mt19937_64 rng(314159);
    for (int trial = 0; trial < 60; ++trial) {
        const int kind = static_cast<int>(rng() % 6);
        const std::size_t n = 50 + rng() % 4000;
        const pyml::FeatureParams p{rng() % 2, rng() % 6, rng() % 6};
        const std::vector<double> X = features(series(kind, n, rng), p);
        const std::size_t dims = p.lag_n + 1;
        if (X.size() / dims < 2) continue;
        const std::size_t iters = trial % 3 == 0 ? 1 + rng() % 5 : 1000;
        std::size_t ra = 0, rb = 0;
        CHECK(same_bits(fast_kmeans(X, dims, 2, iters, &ra), reference_kmeans(X, dims, 2, iters, &rb)));
        CHECK_EQ(ra, rb);
    }
}

TEST_CASE("kmeans: one position of std::sort without sorting") {
    using pyml::detail::ScoreRecord;
    std::mt19937_64 rng(99);
    const auto check_all = [](const std::vector<ScoreRecord>& v, bool every_rank) {
        std::vector<ScoreRecord> sorted = v;
        std::sort(sorted.begin(), sorted.end());
        for (std::size_t rank = 0; rank < v.size(); rank += every_rank ? 1 : 1 + v.size() / 37) {
            std::vector<ScoreRecord> work = v;
            if (pyml::detail::sorted_record_index(work, rank) != sorted[rank].idx) {
                check::fail(__FILE__, __LINE__, "rank " + std::to_string(rank) + " of " + std::to_string(v.size()));
                return;
            }
        }
    };
    for (int trial = 0; trial < 300; ++trial) {
        const std::size_t n = 1 + rng() % (trial < 200 ? 80 : 3000);
        const unsigned levels = 1 + static_cast<unsigned>(rng() % 6) * static_cast<unsigned>(rng() % 50);
        std::vector<ScoreRecord> v(n);
        for (std::size_t i = 0; i < n; ++i) {
            double d = static_cast<double>(rng() % levels);
            switch (trial % 5) {
                case 1: d = static_cast<double>(i % levels); break;                  // saw teeth
                case 2: d = static_cast<double>(i < n / 2 ? i : n - i); break;       // organ pipe
                case 3: d = static_cast<double>(n - i) + (i % 3 == 0 ? 0.5 : 0.0); break;  // descending
                case 4: d = i % 7 == 0 ? std::numeric_limits<double>::infinity() : d; break;
                default: break;
            }
            v[i] = ScoreRecord{static_cast<long>(i), d};
        }
        check_all(v, n <= 80);
    }
    // Inputs that exhaust the depth budget take the heap sort branch:
    // McIlroy's adversary freezes values lazily so every pivot is bad.
    for (std::size_t n : {64u, 257u, 1000u, 4096u}) {
        const long gas = static_cast<long>(n);
        std::vector<long> val(n, gas), order(n);
        long solid = 0, candidate = 0;
        for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<long>(i);
        std::sort(order.begin(), order.end(), [&](long x, long y) {
            if (val[x] == gas && val[y] == gas) val[x == candidate ? x : y] = solid++;
            if (val[x] == gas) candidate = x;
            else if (val[y] == gas) candidate = y;
            return val[x] < val[y];
        });
        std::vector<ScoreRecord> v(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (val[i] == gas) val[i] = solid++;
            v[i] = ScoreRecord{static_cast<long>(i), static_cast<double>(val[i])};
        }
        check_all(v, n <= 257);
    }
    std::vector<ScoreRecord> one = {{5, 1.0}};
    CHECK_EQ(pyml::detail::sorted_record_index(one, 0), 5L);
    CHECK_THROWS(pyml::detail::sorted_record_index(one, 1), std::out_of_range);
}

// Sampled Netdata 2.x training sets (signed, oldest-first vectors, about 1,440
// of a long window, gathered into columns as training does): both builds of
// the first looks, and one workspace reused across sizes, equal the literal
// transcription, iteration counts included.
TEST_CASE("kmeans: sampled v2 training sets, both kernels, one reused workspace") {
    std::mt19937_64 rng(20261207);
    std::vector<pyml::KmeansKernel> kernels = {pyml::KmeansKernel::baseline};
    if (pyml::kmeans_avx2_available()) kernels.push_back(pyml::KmeansKernel::avx2);
    pyml::KmeansWorkspace reused;
    for (int trial = 0; trial < 24; ++trial) {
        const int kind = trial % 6;
        const std::size_t n = trial % 4 == 0 ? 21600 : 300 + rng() % 9000;
        const pyml::FeatureParams p{trial % 5 == 4 ? 0u : 1u, 1 + rng() % 5, trial % 3 == 2 ? rng() % 6 : 5};
        const std::vector<double> x = series(kind, n, rng);
        const std::size_t rows = pyml::feature_rows(n, p), dims = p.lag_n + 1;
        std::vector<double> scratch(n), F(rows * dims);
        pyml::extract_features_v2(x.data(), n, p, scratch.data(), F.data());
        const std::size_t m = 2 + rng() % 2000;
        const auto table = pyml::sampling_table(m, static_cast<std::uint32_t>(rng()));
        const std::uint32_t cutoff = pyml::sampling_cutoff(rows, m);
        std::vector<double> X;
        for (std::size_t r = 0; r < rows; ++r)
            if (pyml::sample_kept(r, table.data(), m, cutoff)) X.insert(X.end(), F.begin() + r * dims, F.begin() + (r + 1) * dims);
        const std::size_t used = X.size() / dims;
        if (used < 2) continue;
        std::vector<double> colm(used * dims);
        std::vector<const double*> cols(dims);
        for (std::size_t e = 0; e < dims; ++e) {
            cols[e] = colm.data() + e * used;
            for (std::size_t r = 0; r < used; ++r) colm[e * used + r] = X[r * dims + e];
        }
        const std::size_t iters = trial % 5 == 3 ? 1 + rng() % 4 : 1000;
        std::size_t runs_ref = 0;
        const std::vector<double> want = reference_kmeans(X, dims, 2, iters, &runs_ref);
        for (const pyml::KmeansKernel kernel : kernels) {
            pyml::KmeansWorkspace fresh;
            fresh.kernel = kernel;
            reused.kernel = kernel;
            for (pyml::KmeansWorkspace* ws : {&fresh, &reused}) {
                std::vector<double> got(2 * dims);
                const std::size_t runs = pyml::kmeans_columns(cols.data(), used, dims, 2, iters, got.data(), *ws);
                CHECK(same_bits(got, want));
                CHECK_EQ(runs, runs_ref);
            }
        }
        std::size_t runs = 0;
        CHECK(same_bits(fast_kmeans(X, dims, 2, iters, &runs), want));  // the thread's own workspace
        CHECK_EQ(runs, runs_ref);
    }
}

TEST_CASE("kmeans: the AVX2 kernel is refused where it does not exist") {
    std::vector<double> X = {0.0, 1.0, 5.0, 6.0};
    const double* col = X.data();
    std::vector<double> c(2);
    pyml::KmeansWorkspace ws;
    ws.kernel = pyml::KmeansKernel::avx2;
    if (pyml::kmeans_avx2_available()) {
        pyml::kmeans_columns(&col, 4, 1, 2, 10, c.data(), ws);
        CHECK(c[0] == 0.5 && c[1] == 5.5);
    } else {
        CHECK_THROWS(pyml::kmeans_columns(&col, 4, 1, 2, 10, c.data(), ws), std::invalid_argument);
    }
}
