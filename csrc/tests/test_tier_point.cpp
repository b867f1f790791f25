// The first tier's open point, accumulated in one pass (pyml/tier_point.hpp).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "check.hpp"
#include "pyml/storage_number.hpp"
#include "pyml/tier_point.hpp"

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

struct Point {
    std::vector<double> sum, min, max;
    std::vector<std::uint16_t> count;
    std::vector<std::uint32_t> normal;
    explicit Point(std::size_t n) : sum(n, 0.0), min(n, kNaN), max(n, kNaN), count(n, 0), normal(n, 0) {}
    void add(const std::vector<double>& values, const std::vector<std::uint32_t>& words) {
        pyml::accumulate_tier_point(values.data(), words.data(), values.size(), sum.data(), min.data(), max.data(),
                                    count.data(), normal.data());
    }
};

TEST_CASE("tier point: sums, extremes and counts of the values, gaps left out") {
    Point p(3);
    const std::uint32_t normal = pyml::kAnomalyBit, anomalous = 0u;
    p.add({1.5, kNaN, -2.0}, {normal, pyml::kEmptySlot, anomalous});
    p.add({-0.5, kNaN, 4.0}, {normal, pyml::kEmptySlot, normal});
    p.add({3.0, 7.0, kNaN}, {anomalous, normal, pyml::kEmptySlot});
    CHECK_EQ(p.sum[0], 4.0);
    CHECK_EQ(p.min[0], -0.5);
    CHECK_EQ(p.max[0], 3.0);
    CHECK_EQ(p.count[0], 3u);
    CHECK_EQ(p.normal[0], 2u);
    CHECK_EQ(p.sum[1], 7.0);  // two gaps, then one value: it is the minimum and the maximum
    CHECK_EQ(p.min[1], 7.0);
    CHECK_EQ(p.max[1], 7.0);
    CHECK_EQ(p.count[1], 1u);
    CHECK_EQ(p.normal[1], 1u);
    CHECK_EQ(p.sum[2], 2.0);
    CHECK_EQ(p.min[2], -2.0);
    CHECK_EQ(p.max[2], 4.0);
    CHECK_EQ(p.count[2], 2u);
    CHECK_EQ(p.normal[2], 1u);
}

TEST_CASE("tier point: a slot with only gaps keeps NaN extremes; infinities reach the sum and the extremes") {
    Point p(2);
    p.add({kNaN, kInf}, {0u, 0u});
    p.add({kNaN, -kInf}, {0u, 0u});
    CHECK(std::isnan(p.min[0]) && std::isnan(p.max[0]));
    CHECK_EQ(p.sum[0], 0.0);
    CHECK_EQ(p.count[0], 0u);
    CHECK(std::isnan(p.sum[1]));  // inf + -inf: saturated when the point closes
    CHECK_EQ(p.min[1], -kInf);
    CHECK_EQ(p.max[1], kInf);
    CHECK_EQ(p.count[1], 2u);
}

TEST_CASE("tier point: between equal zeros the one held is kept; the count wraps as a uint16") {
    Point p(1);
    p.add({0.0}, {0u});
    p.add({-0.0}, {0u});
    CHECK(!std::signbit(p.min[0]) && !std::signbit(p.max[0]));
    p.count[0] = 65535;
    p.add({1.0}, {0u});
    CHECK_EQ(p.count[0], 0u);
    Point none(0);
    none.add({}, {});  // n = 0 touches nothing
}

}  // namespace
