#include "pyml/features.hpp"

#include <algorithm>
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

const char* feature_variant_name(FeatureVariant v) noexcept { return v == FeatureVariant::v2 ? "v2" : "v1"; }

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

void smoothed_series(const double* x, std::size_t n, const FeatureParams& p, double* out) {
    validate_feature_params(p);
    const std::size_t d = p.diff_n, s = effective_smooth_n(p);
    if (d >= n || s > n - d) return;
    const std::size_t base = d + s - 1;  // out[i] is |y[base + i]|

    // y[i] = x[i] - x[i - d] for i >= d (raw below d), computed where used:
    // the same subtraction the reference does in place, newest first.
    const auto diffed = [x, d](std::size_t i) { return (d != 0 && i >= d) ? x[i] - x[i - d] : x[i]; };

    // Trailing mean of s values with a running sum from the newest end; each
    // mean is written (as its absolute value) before the sum moves on. Done
    // literally even for s == 1 (then a no-op on finite values) so non-finite
    // inputs propagate exactly as in the reference.
    const double f = 1.0 / static_cast<double>(s);
    double total = 0.0;
    for (std::size_t i = 1; i <= s; ++i) total += diffed(n - i);
    double mean = total * f;
    const std::size_t stop = std::max(d + s, s + 1);  // the sum moves while k >= s + 1
    std::size_t k = n;
    for (; k >= stop; --k) {
        total = (total - diffed(k - 1)) + diffed(k - 1 - s);
        out[k - 1 - base] = std::fabs(mean);
        mean = total * f;
    }
    if (k >= d + s) out[k - 1 - base] = std::fabs(mean);  // d == 0: the oldest mean, k == s
}

void extract_features(const double* x, std::size_t n, const FeatureParams& p, double* scratch, double* out) {
    validate_feature_params(p);
    const std::size_t rows = feature_rows(n, p);
    if (rows == 0) return;
    const std::size_t l = p.lag_n;

    // |y| from index d + s - 1 on, then the lag: row r is
    // [|y[j]|, |y[j-1]|, ..., |y[j-l]|] for j = d + s - 1 + l + r.
    smoothed_series(x, n, p, scratch);
    const std::size_t dims = l + 1;
    for (std::size_t r = 0; r < rows; ++r) {
        const double* src = scratch + l + r;
        double* row = out + r * dims;
        for (std::size_t c = 0; c < dims; ++c) row[c] = src[-static_cast<std::ptrdiff_t>(c)];
    }
}

void smoothed_series_v2(const double* x, std::size_t n, const FeatureParams& p, double* out) {
    validate_feature_params(p);
    const std::size_t d = p.diff_n, s = effective_smooth_n(p);
    if (d >= n || s > n - d) return;
    const std::size_t m = n - d;  // differences d[0..m)
    // d[i] = x[i + D] - x[i] (D = 1), or x[i] (D = 0).
    const auto diffed = [x, d](std::size_t i) { return d != 0 ? x[i + d] - x[i] : x[i]; };

    // Forward running sum: the first S - 1 differences from 0.0, then per
    // output add the newest difference, divide by S, subtract the oldest.
    const double sd = static_cast<double>(s);
    double sum = 0.0;
    for (std::size_t i = 0; i + 1 < s; ++i) sum += diffed(i);
    for (std::size_t i = s - 1; i < m; ++i) {
        sum += diffed(i);
        out[i - (s - 1)] = sum / sd;
        sum -= diffed(i - (s - 1));
    }
    // Netdata zeroes the buffer's last S slots (indices n - S .. n - 1); only
    // index n - S can hold a smoothed value, and only when D = 0.
    if (d == 0) out[n - s] = 0.0;
}

void extract_features_v2(const double* x, std::size_t n, const FeatureParams& p, double* scratch, double* out) {
    validate_feature_params(p);
    const std::size_t rows = feature_rows(n, p);
    if (rows == 0) return;
    smoothed_series_v2(x, n, p, scratch);
    const std::size_t dims = p.lag_n + 1;
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < dims; ++c) out[r * dims + c] = scratch[r + c];
    }
}

void extract_features(const double* x, std::size_t n, const FeatureParams& p, FeatureVariant variant,
                      double* scratch, double* out) {
    if (variant == FeatureVariant::v2) {
        extract_features_v2(x, n, p, scratch, out);
    } else {
        extract_features(x, n, p, scratch, out);
    }
}

}  // namespace pyml
