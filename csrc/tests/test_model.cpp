// Model: distance and score by hand, serialisation round trip and corruption,
// gap filling, training checks.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../pyml/model.hpp"
#include "check.hpp"

namespace {

pyml::Model make(std::vector<double> centers, std::size_t dims, double lo, double hi) {
    pyml::Model m;
    m.dims = dims;
    m.k = centers.size() / dims;
    m.centers = std::move(centers);
    m.min_dist = lo;
    m.max_dist = hi;
    return m;
}

bool same_model(const pyml::Model& a, const pyml::Model& b) { return a.to_bytes() == b.to_bytes(); }

}  // namespace

TEST_CASE("model: distance and score by hand") {
    const pyml::Model m = make({0, 0, 6, 0}, 2, 1.0, 9.0);
    struct Row {
        double x, y, distance, score;
    };
    const Row rows[] = {{3, 0, 3, 25}, {3, 4, 5, 50}, {0, 8, 9, 100}, {0, 80, -1, 100}, {3, 0.0, 3, 25}};
    for (const Row& r : rows) {
        const double x[2] = {r.x, r.y};
        if (r.distance >= 0) CHECK_EQ(m.distance(x), r.distance);
        CHECK_EQ(m.score(x), r.score);
    }
    const pyml::Model below = make({0, 0}, 1, 2.0, 4.0);
    const double one[1] = {1.0};
    CHECK_EQ(below.score(one), 50.0);  // |(1 - 2) / 2|
    const pyml::Model flat = make({0, 1}, 1, 2.0, 2.0);
    CHECK_EQ(flat.score(one), 0.0);
}

TEST_CASE("model: constant training data") {
    const std::vector<double> series(500, 7.0);
    const pyml::Model m = pyml::train_model(series.data(), series.size(), pyml::TrainParams{});
    CHECK_EQ(m.min_dist, 0.0);
    CHECK_EQ(m.max_dist, DBL_MIN);
    for (double c : m.centers) CHECK_EQ(c, 0.0);
    const double zero[6] = {0, 0, 0, 0, 0, 0};
    const double tiny[6] = {0, 0, 0, 0, 0, 1e-100};
    CHECK_EQ(m.score(zero), 0.0);
    CHECK_EQ(m.score(tiny), 100.0);
}

TEST_CASE("model: bytes round trip and refusal of corruption") {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    std::vector<double> series(3000);
    double level = 0.0;
    for (double& v : series) v = (level += normal(rng));
    const pyml::Model m = pyml::train_model(series.data(), series.size(), pyml::TrainParams{});
    const std::string bytes = m.to_bytes();
    CHECK_EQ(bytes.size(), std::size_t{8 + 12 + 16 + 96 + 4});
    CHECK(same_model(pyml::Model::from_bytes(bytes), m));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ 0x10);
        CHECK_THROWS(pyml::Model::from_bytes(bad), std::invalid_argument);
    }
    for (std::size_t cut = 0; cut < bytes.size(); ++cut)
        CHECK_THROWS(pyml::Model::from_bytes(bytes.substr(0, cut)), std::invalid_argument);
    CHECK_THROWS(pyml::Model::from_bytes(bytes + "x"), std::invalid_argument);
    CHECK_THROWS(pyml::Model::from_bytes("PYMLMODL"), std::invalid_argument);
    pyml::Model broken = m;
    broken.centers.pop_back();
    CHECK_THROWS(broken.to_bytes(), std::invalid_argument);
}

TEST_CASE("model: fill_gaps") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::vector<double> h = {nan, nan, 1.0, nan, 3.0, nan, nan};
    std::vector<double> out = {99.0};
    CHECK_EQ(pyml::fill_gaps(h.data(), h.size(), out), std::size_t{2});
    CHECK(out == (std::vector<double>{1.0, 1.0, 3.0, 3.0, 3.0}));
    const std::vector<double> none = {nan, nan};
    CHECK_EQ(pyml::fill_gaps(none.data(), none.size(), out), std::size_t{0});
    CHECK(out.empty());
    const std::vector<double> inf = {1.0, std::numeric_limits<double>::infinity()};
    out = {5.0};
    CHECK_THROWS(pyml::fill_gaps(inf.data(), inf.size(), out), std::invalid_argument);
    CHECK(out == std::vector<double>{5.0});  // unchanged on error
}

TEST_CASE("model: training checks") {
    std::vector<double> s(9, 1.0);
    pyml::TrainParams p;
    CHECK_THROWS(pyml::train_model(s.data(), 8, p), std::invalid_argument);   // no feature vector
    CHECK_THROWS(pyml::train_model(s.data(), 9, p), std::invalid_argument);   // one vector < k
    s.push_back(2.0);
    pyml::train_model(s.data(), s.size(), p);                                  // two vectors: fine
    s[3] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS(pyml::train_model(s.data(), s.size(), p), std::invalid_argument);
    s[3] = 1.0;
    pyml::TrainParams bad = p;
    bad.max_iterations = 0;
    CHECK_THROWS(pyml::train_model(s.data(), s.size(), bad), std::invalid_argument);
    bad = p;
    bad.k = 0;
    CHECK_THROWS(pyml::train_model(s.data(), s.size(), bad), std::invalid_argument);
    bad = p;
    bad.features.lag_n = 6;
    CHECK_THROWS(pyml::train_model(s.data(), s.size(), bad), std::invalid_argument);
}

TEST_CASE("model: reused scratch gives the same models") {
    std::mt19937_64 rng(4);
    std::normal_distribution<double> normal;
    pyml::TrainScratch scratch;
    for (int i = 0; i < 5; ++i) {
        std::vector<double> s(500 + 300 * static_cast<std::size_t>(i));
        double level = 0.0;
        for (double& v : s) v = (level += normal(rng));
        pyml::TrainParams p;
        p.features.lag_n = static_cast<std::size_t>(i);
        CHECK(same_model(pyml::train_model(s.data(), s.size(), p, scratch), pyml::train_model(s.data(), s.size(), p)));
    }
}

TEST_CASE("model: all_finite finds inf and NaN anywhere") {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> x(37, 1.5);
    x[3] = DBL_MAX;
    x[4] = -DBL_MAX;
    x[5] = DBL_MIN / 4;  // subnormal
    x[6] = -0.0;
    CHECK(pyml::all_finite(x.data(), x.size()));
    CHECK(pyml::all_finite(x.data(), 0));
    for (const double bad : {inf, -inf, nan, -nan}) {
        for (std::size_t at : {0u, 1u, 17u, 36u}) {
            std::vector<double> y = x;
            y[at] = bad;
            CHECK(!pyml::all_finite(y.data(), y.size()));
            CHECK(pyml::all_finite(y.data(), at));  // the values before it
        }
    }
}
