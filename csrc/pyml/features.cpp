#include "pyml/features.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace pyml {

namespace {

void check_range(const char* name, std::size_t value, std::size_t max) {
    if (value > max) {
        throw std::invalid_argument(std::string(name) + " = " + std::to_string(value) + " is out of range [0, " +
                                    std::to_string(max) + "]");
    }
}

}  // namespace

void validate_feature_params(const FeatureParams& p) {
    check_range("diff_n", p.diff_n, kMaxDiffN);
    check_range("smooth_n", p.smooth_n, kMaxSmoothN);
    check_range("lag_n", p.lag_n, kMaxLagN);
}

std::size_t feature_rows(std::size_t n, const FeatureParams& p) noexcept {
    // The reference's stop conditions, in its order.
    const std::size_t d = p.diff_n, s = effective_smooth_n(p), l = p.lag_n;
    if (d >= n) return 0;
    const std::size_t n1 = n - d;
    if (s > n1) return 0;
    const std::size_t n2 = n1 - (s - 1);
    if (l >= n2) return 0;
    return n2 - l;
}

void extract_features(const double* x, std::size_t n, const FeatureParams& p, double* scratch, double* out) {
    validate_feature_params(p);
    const std::size_t rows = feature_rows(n, p);
    if (rows == 0) return;
    const std::size_t d = p.diff_n, s = effective_smooth_n(p), l = p.lag_n;
    double* y = scratch;

    // Differencing (skipped when d == 0), newest first so the subtrahend is
    // still raw; y[0..d) stay raw.
    if (d == 0) {
        for (std::size_t i = 0; i < n; ++i) y[i] = x[i];
    } else {
        for (std::size_t i = 0; i < d; ++i) y[i] = x[i];
        for (std::size_t i = n; i-- > d;) y[i] = x[i] - x[i - d];
    }

    // Trailing mean of s values with a running sum from the newest end. Done
    // literally even for s == 1 (then a no-op on finite values) so non-finite
    // inputs propagate exactly as in the reference.
    {
        const double f = 1.0 / static_cast<double>(s);
        double total = 0.0;
        for (std::size_t i = 1; i <= s; ++i) total += y[n - i];
        double mean = total * f;
        for (std::size_t k = n; k >= d + s; --k) {
            const double c = y[k - 1];
            if (k >= s + 1) total = (total - c) + y[k - 1 - s];
            y[k - 1] = mean;
            mean = total * f;
        }
    }

    // Lag and absolute value: row r is [|y[j]|, |y[j-1]|, ..., |y[j-l]|].
    const std::size_t dims = l + 1;
    const std::size_t first = n - rows;  // = d + s - 1 + l
    for (std::size_t r = 0; r < rows; ++r) {
        const double* src = y + first + r;
        double* row = out + r * dims;
        for (std::size_t c = 0; c < dims; ++c) row[c] = std::fabs(src[-static_cast<std::ptrdiff_t>(c)]);
    }
}

}  // namespace pyml
