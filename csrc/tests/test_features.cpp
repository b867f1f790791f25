// Feature extraction: hand-computed tables, row counts, smooth_n = 0, the
// running-sum order and parameter checks.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "../pyml/features.hpp"
#include "check.hpp"

namespace {

using pyml::FeatureParams;

std::vector<double> extract(const std::vector<double>& x, FeatureParams p) {
    std::vector<double> scratch(x.size()), out(pyml::feature_rows(x.size(), p) * pyml::feature_dims(p));
    pyml::extract_features(x.data(), x.size(), p, scratch.data(), out.data());
    return out;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

struct Case {
    const char* name;
    std::vector<double> x;
    FeatureParams p;
    std::vector<double> want;  // row-major
};

const Case kCases[] = {
    // Squares: diffs 1, 3, 5, ...; means of three diffs 3, 5, 7, ...
    {"defaults on squares", {0, 1, 4, 9, 16, 25, 36, 49, 64, 81}, {1, 3, 5},
     {13, 11, 9, 7, 5, 3, 15, 13, 11, 9, 7, 5}},
    {"no diff, no smoothing, no lag", {5, -3, 4}, {0, 1, 0}, {5, 3, 4}},
    {"absolute diffs, one lag", {5, 3, 4, 1, 1}, {1, 1, 1}, {1, 2, 3, 1, 0, 3}},
    {"smooth_n 0 behaves as 1", {5, 3, 4, 1, 1}, {1, 0, 1}, {1, 2, 3, 1, 0, 3}},
    {"mean of two without diff", {1, 3, 5, 9}, {0, 2, 0}, {2, 4, 7}},
    {"mean of two with two lags", {1, 3, 5, 9, 11}, {0, 2, 2}, {7, 4, 2, 10, 7, 4}},
};

}  // namespace

TEST_CASE("features: hand-computed table") {
    for (const Case& c : kCases) {
        const std::vector<double> got = extract(c.x, c.p);
        if (!same_bits(got, c.want)) check::fail(__FILE__, __LINE__, std::string("case: ") + c.name);
    }
}

TEST_CASE("features: row counts and dims") {
    struct Row {
        std::size_t n, d, s, l, rows;
    };
    const Row rows[] = {{0, 1, 3, 5, 0},  {8, 1, 3, 5, 0},   {9, 1, 3, 5, 1},   {14400, 1, 3, 5, 14392},
                        {1, 0, 1, 0, 1},  {1, 1, 1, 0, 0},   {5, 0, 5, 0, 1},   {4, 0, 5, 0, 0},
                        {6, 0, 0, 5, 1},  {10, 1, 5, 5, 0},  {11, 1, 5, 5, 1},  {3, 0, 2, 1, 1}};
    for (const Row& r : rows) {
        const FeatureParams p{r.d, r.s, r.l};
        CHECK_EQ(pyml::feature_rows(r.n, p), r.rows);
        CHECK_EQ(pyml::feature_dims(p), r.l + 1);
    }
    CHECK_EQ(pyml::feature_window(FeatureParams{}), std::size_t{9});
    CHECK_EQ(pyml::feature_window(FeatureParams{0, 0, 0}), std::size_t{1});
}

TEST_CASE("features: the running sum starts at the newest end") {
    // Older means carry the running sum's rounding; a direct mean differs.
    const std::vector<double> x = {0.1, 0.7, 0.2, 1e16, 0.3, 0.9, 0.4, 0.8, 0.6, 0.5};
    const std::vector<double> got = extract(x, FeatureParams{0, 3, 0});
    // Literal: T = x9 + x8 + x7, then T = (T - x[k-1]) + x[k-1-3] going down.
    std::vector<double> want(8);
    double total = 0.0;
    for (std::size_t i = 1; i <= 3; ++i) total += x[x.size() - i];
    const double f = 1.0 / 3.0;
    double mean = total * f;
    std::vector<double> y = x;
    for (std::size_t k = y.size(); k >= 3; --k) {
        const double c = y[k - 1];
        if (k >= 4) total = (total - c) + y[k - 4];
        y[k - 1] = mean;
        mean = total * f;
    }
    for (std::size_t j = 2; j < y.size(); ++j) want[j - 2] = std::fabs(y[j]);
    CHECK(same_bits(got, want));
    bool differs = false;
    for (std::size_t j = 2; j < x.size(); ++j) differs |= got[j - 2] != std::fabs((x[j - 2] + x[j - 1] + x[j]) * f);
    CHECK(differs);
}

TEST_CASE("features: input is not modified and rows are lagged views") {
    std::vector<double> x(40);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.3 * static_cast<double>(i)) * 10.0;
    const std::vector<double> before = x;
    const std::vector<double> lagged = extract(x, FeatureParams{1, 3, 5});
    const std::vector<double> flat = extract(x, FeatureParams{1, 3, 0});
    CHECK(same_bits(x, before));
    const std::size_t rows = lagged.size() / 6;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t e = 0; e < 6; ++e) CHECK_EQ(lagged[r * 6 + e], flat[r + 5 - e]);
}

TEST_CASE("features: parameter checks") {
    std::vector<double> x(20, 1.0), scratch(20), out(20 * 7);
    CHECK_THROWS(pyml::extract_features(x.data(), 20, FeatureParams{2, 3, 5}, scratch.data(), out.data()),
                 std::invalid_argument);
    CHECK_THROWS(pyml::extract_features(x.data(), 20, FeatureParams{1, 6, 5}, scratch.data(), out.data()),
                 std::invalid_argument);
    CHECK_THROWS(pyml::extract_features(x.data(), 20, FeatureParams{1, 3, 6}, scratch.data(), out.data()),
                 std::invalid_argument);
    CHECK_THROWS(pyml::validate_feature_params(FeatureParams{1, 3, 9}), std::invalid_argument);
    pyml::validate_feature_params(FeatureParams{1, 5, 5});
    pyml::validate_feature_params(FeatureParams{0, 0, 0});
    // Too short: nothing written.
    std::vector<double> small(8, 1.0), sink(1, -7.0);
    pyml::extract_features(small.data(), small.size(), FeatureParams{}, scratch.data(), sink.data());
    CHECK_EQ(sink[0], -7.0);
}

// ---------------------------------------------------------------- v2 (Netdata 2.x)

namespace {

std::vector<double> extract_v2(const std::vector<double>& x, FeatureParams p) {
    std::vector<double> scratch(x.size()), out(pyml::feature_rows(x.size(), p) * pyml::feature_dims(p));
    pyml::extract_features(x.data(), x.size(), p, pyml::FeatureVariant::v2, scratch.data(), out.data());
    return out;
}

const Case kV2Cases[] = {
    // SPEC-NETDATA-2 §3.3's worked example: oldest first, signed, sum / S.
    {"worked example", {1, 3, 6, 10, 15, 9, 9, 9, 9}, {1, 3, 5}, {3, 4, 1, -1.0 / 3.0, -2, 0}},
    // D = 0: the buffer's last S slots are zeroed, which is the last row's newest element.
    {"no diff: the newest element of the last row is 0", {1, 2, 4, 7, 11}, {0, 2, 1}, {1.5, 3, 3, 5.5, 5.5, 0}},
    {"no smoothing, signed", {5, 3, 8, 8}, {1, 1, 2}, {-2, 5, 0}},
    {"smooth_n 0 behaves as 1", {5, 3, 8, 8}, {1, 0, 2}, {-2, 5, 0}},
    {"no lag: one coordinate", {1, 4, 2, 2, 7}, {1, 2, 0}, {0.5, -1, 2.5}},
    {"too short: no rows", {1, 2, 3}, {1, 3, 5}, {}},
};

}  // namespace

TEST_CASE("features v2: hand-computed table (SPEC-NETDATA-2 §3.3)") {
    for (const Case& c : kV2Cases) {
        const auto got = extract_v2(c.x, c.p);
        if (!same_bits(got, c.want)) {
            std::fprintf(stderr, "case: %s\n", c.name);
            CHECK(same_bits(got, c.want));
        }
    }
}

TEST_CASE("features v2: the running sum moves forward and divides; v1 of the same window differs") {
    // Values whose running sums round differently forwards and backwards.
    const std::vector<double> x = {0.1, 0.7, 1e16, 0.3, -1e16, 0.9, 0.2, 0.4};
    const FeatureParams p{0, 3, 5};
    const auto got = extract_v2(x, p);
    CHECK_EQ(got.size(), 6u);
    double sum = 0.0;
    sum += x[0];
    sum += x[1];
    std::vector<double> want;
    for (std::size_t i = 2; i < x.size(); ++i) {
        sum += x[i];
        want.push_back(sum / 3.0);
        sum -= x[i - 2];
    }
    want.back() = 0.0;  // D = 0: the newest element is zeroed
    CHECK(same_bits(got, want));
    // The v1 row of the same window is newest first and absolute.
    const auto v1 = extract(x, p);
    CHECK(!same_bits(v1, got));
}

TEST_CASE("features v2: row count, smoothed series view, input untouched") {
    std::vector<double> x(50);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(double(i)) * 10.0 + double(i % 7);
    const auto copy = x;
    for (std::size_t d = 0; d <= 1; ++d) {
        for (std::size_t s = 0; s <= 5; ++s) {
            for (std::size_t l = 0; l <= 5; ++l) {
                const FeatureParams p{d, s, l};
                const auto rows = extract_v2(x, p);
                const std::size_t n = pyml::feature_rows(x.size(), p);
                CHECK_EQ(rows.size(), n * (l + 1));
                std::vector<double> series(n + l);
                pyml::smoothed_series_v2(x.data(), x.size(), p, series.data());
                bool views = true;
                for (std::size_t r = 0; r < n; ++r) {
                    for (std::size_t e = 0; e <= l; ++e) views &= same_bits({rows[r * (l + 1) + e]}, {series[r + e]});
                }
                CHECK(views);
                // Only D = 0 zeroes a smoothed value, the last one.
                CHECK_EQ(series.back() == 0.0, d == 0);
            }
        }
    }
    CHECK(same_bits(x, copy));
}
